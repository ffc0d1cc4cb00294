//! The keeper of [tend](https://github.com/tend-rs/tend): the small process
//! above the daemon that outlives it.
//!
//! `tend up -d` starts the keeper, and the keeper starts the daemon as its
//! child. The keeper is a child subreaper, so when the daemon dies (`kill
//! -9`, an OOM kill, a bug) its services are re-parented to the keeper and
//! go on running. The daemon sends the keeper a duplicate of each
//! service's pidfd, output pipes and notify socket as it starts it
//! ([`wire::ToKeeper::Hold`]): while no daemon reads, a service that writes
//! fills its pipe (64 KiB, the kernel's default) and waits, and nothing it
//! wrote is lost with the pipe. The keeper records the exit of a service
//! that ends meanwhile, with its time, starts the daemon again, and hands
//! everything back to it ([`wire::ToDaemon::Kept`], [`wire::ToDaemon::Exited`]);
//! the new daemon re-adopts each process by its pidfd rather than
//! starting it again.
//!
//! One thread, one `epoll` loop, no async runtime: [`keeper`] is the
//! process, [`wire`] what it and the daemon say to each other, and
//! [`inherit`] how descriptors cross an `exec` (the daemon's too).
//!
//! If the keeper is killed, the daemon starts a new one (named by
//! [`wire::KEEPER_OF`]) that takes the running daemon as its own; after
//! `tend upgrade` the keeper executes the daemon's new program in its own
//! place ([`wire::ToKeeper::Upgrade`]).
//!
//! ```no_run
//! // What `tend up -d`'s keeper does: run the daemon, keep it running.
//! let code = tend_keeper::keeper::run(tend_keeper::keeper::Options {
//!     program: "/usr/bin/tend".into(),
//!     args: vec!["up".into(), "--detached-child".into()],
//! }, |pid| eprintln!("started the daemon, pid {pid}"));
//! std::process::exit(code);
//! ```

// Modules from the bottom up: each uses only those before it on this
// line (checked by .ci/layers).
// layers: inherit wire keeper
pub mod inherit;
pub mod keeper;
pub mod wire;
