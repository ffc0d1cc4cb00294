//! Spawning with `clone3`: straight into a cgroup (`CLONE_INTO_CGROUP`)
//! when the child has one, its pidfd back atomically either way.
//!
//! Written by hand because neither `std` nor rustix nor nix offers it: it is
//! `fork` + `exec` with two differences that matter to a supervisor. The
//! child is born in its cgroup, so there is no migration (a migration takes a
//! kernel lock whose writer waits for an RCU grace period: milliseconds per
//! restart), and the pidfd comes back atomically with the pid
//! (`CLONE_PIDFD`). Everything the child needs is prepared before the call;
//! the child then makes only async-signal-safe system calls and `execve`s, or
//! reports its `errno` through a close-on-exec pipe and exits 127, as `std`
//! does.
//!
//! Kernels without `clone3` or `CLONE_INTO_CGROUP` answer `ENOSYS` or
//! `EINVAL`; the caller then falls back to `fork` with a pre-exec join.

#![allow(unsafe_code)]

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::process::Pid;
use tend_spec::ProcessSpec;

use crate::error::{SpawnError, Step};
use crate::pre_exec::before_exec;
use crate::prepare::{Identity, Prepared, Spawned};

/// The kernel's `struct clone_args` (version 2, with `cgroup`), as libc has
/// it.
type CloneArgs = libc::clone_args;

/// `CLONE_INTO_CGROUP` and `CLONE_CLEAR_SIGHAND` are the kernel's values:
/// libc declares both as `c_int`, which they overflow (deprecated there,
/// rust-lang/libc#3584), so they are written here as the `u64` flags field
/// takes them.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;

/// Everything the child will use, made before the clone (the child must not
/// allocate).
struct Plan {
    path: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    cwd: Option<CString>,
    /// The file a PATH search found (none for a path with a slash).
    found: Option<PathBuf>,
}

/// The steps a child reports a failure of, with its errno.
const SETUP: u32 = 0;
const CHDIR: u32 = 1;
const EXEC: u32 = 2;

/// Spawns `spec`, inside the cgroup whose directory is `cgroup` when given.
/// `Ok(None)` when the kernel does not support it.
pub(crate) fn spawn_with_clone3(
    spec: &ProcessSpec,
    prepared: &Prepared,
    cgroup: Option<BorrowedFd<'_>>,
    v1_procs: &[i32],
) -> Result<Option<Spawned>, SpawnError> {
    let exec_error = |error: io::Error| SpawnError::Exec {
        program: prepared.program.to_string_lossy().into_owned(),
        error,
    };
    let plan = plan(spec, prepared)?;
    let pipe =
        || rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(io::Error::from);
    let (out_read, out_write) = pipe().map_err(exec_error)?;
    let (err_read, err_write) = pipe().map_err(exec_error)?;
    let (report_read, report_write) = pipe().map_err(exec_error)?;
    // A file named for stdin is opened for this child; `/dev/null`, every
    // other child's, is opened once for all (two system calls less a
    // restart, issue 26).
    let opened;
    let null = match spec.stdin.as_deref() {
        Some(path) => {
            opened = rustix::fs::open(
                path,
                rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(|e| exec_error(e.into()))?;
            opened.as_fd()
        }
        None => dev_null().map_err(exec_error)?,
    };

    let nul_terminated = |strings: &[CString]| -> Vec<*const libc::c_char> {
        strings
            .iter()
            .map(|s| s.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect()
    };
    let argv = nul_terminated(&plan.argv);
    let envp = nul_terminated(&plan.envp);
    let mut pidfd: libc::c_int = -1;
    // SAFETY: `clone_args` is plain integers, for which zero is valid.
    let mut args: CloneArgs = unsafe { std::mem::zeroed() };
    // Handlers installed here (tokio's, say) must not run in the child: it
    // starts with every handled signal back at its default
    // (`CLONE_CLEAR_SIGHAND`, Linux 5.5, older than `CLONE_INTO_CGROUP`).
    args.flags = libc::CLONE_PIDFD as u64 | CLONE_CLEAR_SIGHAND;
    if let Some(cgroup) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = cgroup.as_raw_fd() as u64;
    }
    args.pidfd = std::ptr::addr_of_mut!(pidfd) as u64;
    args.exit_signal = libc::SIGCHLD as u64;
    let child = ChildSetup {
        plan: &plan,
        argv: &argv,
        envp: &envp,
        null: null.as_raw_fd(),
        stdout: out_write.as_raw_fd(),
        stderr: err_write.as_raw_fd(),
        report: report_write.as_raw_fd(),
        unshare_from: None,
        v1_procs,
        umask: spec.umask,
        rlimits: &prepared.rlimits,
        identity: prepared.identity.as_ref(),
    };

    // Where it can, the child starts with a table of a few descriptors, not
    // a copy of the supervisor's (see `slots`); else as `fork` does.
    #[cfg(target_arch = "x86_64")]
    let ret = match slots::Slots::take().filter(|_| v1_procs.is_empty()) {
        Some(slots) => {
            let own = [
                null.as_fd(),
                out_write.as_fd(),
                err_write.as_fd(),
                report_write.as_fd(),
            ];
            let ret = match slots.fill(own) {
                Ok([null, stdout, stderr, report]) => {
                    let lent = ChildSetup {
                        null,
                        stdout,
                        stderr,
                        report,
                        unshare_from: Some(slots.end()),
                        ..child
                    };
                    vfork::clone(&mut args, &lent, true)
                }
                Err(_) => -(libc::EINVAL as i64),
            };
            // The slots hold /dev/null again, whatever happened.
            slots.give_back();
            if ret == -(libc::EINVAL as i64) || ret == -(libc::ENOSYS as i64) {
                clone(&mut args, &child)
            } else {
                ret
            }
        }
        None => clone(&mut args, &child),
    };
    #[cfg(not(target_arch = "x86_64"))]
    let ret = clone(&mut args, &child);
    if ret < 0 {
        let error = io::Error::from_raw_os_error(-ret as i32);
        return match error.raw_os_error() {
            Some(libc::ENOSYS | libc::EINVAL | libc::E2BIG | libc::EOPNOTSUPP) => Ok(None),
            _ => Err(exec_error(error)),
        };
    }
    // SAFETY: CLONE_PIDFD stored a new, owned descriptor in `pidfd`.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };
    let pid = Pid::from_raw(ret as i32).expect("clone3 returns a positive pid");
    drop((out_write, err_write, report_write));

    // The child closes the report pipe by exec-ing; anything read is the
    // step that failed and its errno.
    let mut report = [0u8; 8];
    let read = rustix::io::read(&report_read, &mut report).unwrap_or(0);
    if read == 8 {
        // Reap the failed child (it has exited 127) before reporting.
        let _ = rustix::process::waitid(
            rustix::process::WaitId::PidFd(std::os::fd::AsFd::as_fd(&pidfd)),
            rustix::process::WaitIdOptions::EXITED,
        );
        let (step, errno) = report.split_at(4);
        let step = match u32::from_ne_bytes(step.try_into().expect("4 bytes")) {
            CHDIR => Some(Step::Chdir),
            EXEC => Some(Step::Exec),
            _ => None,
        };
        let errno = i32::from_ne_bytes(errno.try_into().expect("4 bytes"));
        let error = io::Error::from_raw_os_error(errno);
        return Err(match step {
            Some(step) => SpawnError::start(
                &prepared.program,
                plan.found.as_deref(),
                spec.cwd.as_deref(),
                Some(step),
                error,
            ),
            None => exec_error(error),
        });
    }
    Ok(Some(Spawned {
        pid,
        pidfd,
        stdout: out_read,
        stderr: err_read,
    }))
}

/// `/dev/null`, read-only and close-on-exec, opened on first use and kept
/// (the child gets it as its stdin through `dup2`).
fn dev_null() -> io::Result<BorrowedFd<'static>> {
    static NULL: std::sync::OnceLock<OwnedFd> = std::sync::OnceLock::new();
    if let Some(fd) = NULL.get() {
        return Ok(fd.as_fd());
    }
    let fd = rustix::fs::open(
        "/dev/null",
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    // Two first spawns at once: the loser's descriptor is closed here.
    Ok(NULL.get_or_init(|| fd).as_fd())
}

/// Clones the child: on x86-64, `posix_spawn`-like (`CLONE_VM | CLONE_VFORK`:
/// the child borrows this process's memory on a stack of its own until it
/// execs, so nothing is copied); elsewhere, or if the kernel refuses that,
/// `fork`-like. Returns the child's pid, or `-errno`. Never returns in the
/// child.
fn clone(args: &mut CloneArgs, child: &ChildSetup<'_>) -> i64 {
    #[cfg(target_arch = "x86_64")]
    {
        let ret = vfork::clone(args, child, false);
        if ret != -(libc::EINVAL as i64) && ret != -(libc::ENOSYS as i64) {
            return ret;
        }
    }
    // SAFETY: a clone3 without CLONE_VM gives the child a copy of this
    // process, like fork. In the child (ret == 0) only `ChildSetup::run`
    // executes, which never returns and makes only async-signal-safe calls
    // on memory prepared before.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            std::ptr::from_mut(args),
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if ret == 0 {
        child.run();
    }
    if ret < 0 {
        return -(io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO) as i64);
    }
    ret
}

/// Reserves, while the table is small, a set of low slots for each thread
/// that may spawn at once (see `slots`); the first spawns would otherwise
/// take them, after a daemon has opened its log files, say.
#[cfg(target_arch = "x86_64")]
pub(crate) fn reserve_slots() {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(8));
    let sets: Vec<_> = (0..threads).filter_map(|_| slots::Slots::take()).collect();
    for set in sets {
        set.give_back();
    }
}

/// The `posix_spawn`-like clone, as glibc and musl do it: the raw system
/// call cannot return into Rust on a new stack, so the child side is a few
/// instructions of assembly that call `child_entry` there.
#[cfg(target_arch = "x86_64")]
mod vfork {
    use super::{ChildSetup, CloneArgs};

    const CLONE_VM: u64 = libc::CLONE_VM as u64;
    const CLONE_VFORK: u64 = libc::CLONE_VFORK as u64;
    const CLONE_FILES: u64 = libc::CLONE_FILES as u64;
    /// Room for the child's few frames before it execs.
    const STACK_BYTES: usize = 64 * 1024;

    /// With `share_files`, the child starts on this process's descriptor
    /// table, which it leaves at once for a small copy of its own
    /// (`ChildSetup::unshare_from`): the parent is suspended meanwhile.
    pub(super) fn clone(args: &mut CloneArgs, child: &ChildSetup<'_>, share_files: bool) -> i64 {
        // 16-byte aligned, as the ABI wants the stack at a call.
        let mut stack = vec![0u128; STACK_BYTES / 16];
        args.flags |= CLONE_VM | CLONE_VFORK;
        if share_files {
            args.flags |= CLONE_FILES;
        }
        args.stack = stack.as_mut_ptr() as u64;
        args.stack_size = (stack.len() * 16) as u64;
        // No signal may reach the child before it runs on its own: block
        // everything around the clone (its handlers are the defaults from
        // birth, `CLONE_CLEAR_SIGHAND`, and it restores an empty mask
        // before exec).
        // SAFETY: plain libc calls on a local, initialised signal set.
        let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
        let mut saved: libc::sigset_t = unsafe { std::mem::zeroed() };
        unsafe {
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut saved);
        }
        let ret: i64;
        // SAFETY: clone3 with CLONE_VM | CLONE_VFORK suspends this thread
        // until the child execs or exits. The child starts on `stack` (top
        // set by the kernel from `stack` and `stack_size`) and runs only
        // `child_entry`, which never returns. rcx and r11 are clobbered by
        // `syscall`; the parent path uses no stack.
        unsafe {
            std::arch::asm!(
                "syscall",
                "test rax, rax",
                "jnz 2f",
                "xor ebp, ebp",
                "mov rdi, r12",
                "call r13",
                "ud2",
                "2:",
                inlateout("rax") libc::SYS_clone3 => ret,
                in("rdi") std::ptr::from_mut(args),
                in("rsi") std::mem::size_of::<CloneArgs>(),
                in("r12") std::ptr::from_ref(child),
                in("r13") child_entry as extern "C" fn(*const ChildSetup<'static>) -> !,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        // SAFETY: restores the mask saved above.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &saved, std::ptr::null_mut());
        }
        drop(stack);
        if ret < 0 {
            // Leave the arguments as they came for a fallback clone.
            args.flags &= !(CLONE_VM | CLONE_VFORK | CLONE_FILES);
            args.stack = 0;
            args.stack_size = 0;
        }
        ret
    }

    /// The child's first Rust frame, on its own stack.
    extern "C" fn child_entry(setup: *const ChildSetup<'static>) -> ! {
        // SAFETY: the parent is suspended (CLONE_VFORK) with `setup` alive.
        let setup = unsafe { &*setup };
        setup.run()
    }
}

/// Resolves the program on the child's `PATH` and builds argv, envp and cwd.
fn plan(spec: &ProcessSpec, prepared: &Prepared) -> Result<Plan, SpawnError> {
    let exec_error = |error: io::Error| SpawnError::Exec {
        program: prepared.program.to_string_lossy().into_owned(),
        error,
    };
    let env = &prepared.env;
    let path_var = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_os_str());
    let path = resolve(&prepared.program, path_var, spec.cwd.as_deref()).map_err(|why| {
        SpawnError::Program {
            program: prepared.program.to_string_lossy().into_owned(),
            why,
        }
    })?;
    let found = (!prepared.program.as_bytes().contains(&b'/')).then(|| PathBuf::from(&path));
    // One allocation a string, sized whole (a restart builds every
    // variable of the environment: `CString::new` of a copy grew each
    // twice, and a `KEY=value` pair took three).
    let c = |parts: &[&[u8]]| {
        let mut bytes = Vec::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>() + 1);
        for part in parts {
            bytes.extend_from_slice(part);
        }
        bytes.push(0);
        CString::from_vec_with_nul(bytes).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "a NUL byte in the command or environment",
            )
        })
    };
    let mut argv = Vec::with_capacity(prepared.args.len() + 1);
    argv.push(c(&[prepared.program.as_bytes()]).map_err(exec_error)?);
    for arg in &prepared.args {
        argv.push(c(&[arg.as_bytes()]).map_err(exec_error)?);
    }
    let envp = env
        .iter()
        .map(|(k, v)| c(&[k.as_bytes(), b"=", v.as_bytes()]))
        .collect::<io::Result<_>>()
        .map_err(exec_error)?;
    let cwd = spec
        .cwd
        .as_deref()
        .map(|d| c(&[d.as_os_str().as_bytes()]))
        .transpose()
        .map_err(exec_error)?;
    Ok(Plan {
        path: CString::new(path.into_vec())
            .map_err(|_| exec_error(io::Error::from(io::ErrorKind::InvalidInput)))?,
        argv,
        envp,
        cwd,
        found,
    })
}

/// `execvp`'s search, done in the parent: a name with a slash is used as
/// given; otherwise the first executable file on `PATH`, or why there is
/// none.
fn resolve(program: &OsStr, path: Option<&OsStr>, cwd: Option<&Path>) -> Result<OsString, String> {
    if program.as_bytes().contains(&b'/') {
        return Ok(program.to_os_string());
    }
    let path = path.unwrap_or(OsStr::new("/usr/local/bin:/usr/bin:/bin"));
    let mut denied = None;
    for dir in std::env::split_paths(path) {
        let dir = if dir.is_relative() {
            cwd.map_or(dir.clone(), |c| c.join(&dir))
        } else {
            dir
        };
        let candidate = dir.join(program);
        if !candidate.is_file() {
            continue;
        }
        match rustix::fs::access(&candidate, rustix::fs::Access::EXEC_OK) {
            Ok(()) => return Ok(candidate.into_os_string()),
            Err(_) => {
                denied.get_or_insert(candidate);
            }
        }
    }
    Err(match denied {
        Some(file) => format!(
            "it is found on PATH but is not executable ({})",
            file.display()
        ),
        None => format!(
            "it is not found on PATH ({})",
            String::from_utf8_lossy(path.as_bytes())
        ),
    })
}

/// What the child does between clone and exec.
struct ChildSetup<'a> {
    plan: &'a Plan,
    argv: &'a [*const libc::c_char],
    envp: &'a [*const libc::c_char],
    null: i32,
    stdout: i32,
    stderr: i32,
    report: i32,
    /// Set when the child was cloned on this process's descriptor table
    /// (`CLONE_FILES`): it first takes a copy of the descriptors below this
    /// one only, where its four are (`slots`), before touching any.
    unshare_from: Option<i32>,
    /// v1 `cgroup.procs` files to join (limits on a hybrid layout).
    v1_procs: &'a [i32],
    umask: Option<u32>,
    rlimits: &'a [(rustix::process::Resource, rustix::process::Rlimit)],
    identity: Option<&'a Identity>,
}

impl ChildSetup<'_> {
    /// Runs in the child: never returns.
    fn run(&self) -> ! {
        let (step, errno) = match self.steps() {
            Ok(()) => (SETUP, 0),
            Err(failed) => failed,
        };
        // SAFETY: write and _exit are async-signal-safe; `report` is open.
        // One write of 8 bytes to a pipe is atomic.
        unsafe {
            let mut bytes = [0u8; 8];
            bytes[..4].copy_from_slice(&step.to_ne_bytes());
            bytes[4..].copy_from_slice(&errno.to_ne_bytes());
            libc::write(self.report, bytes.as_ptr().cast(), bytes.len());
            libc::_exit(127)
        }
    }

    /// Every step to `execve`; the step that failed and its errno.
    fn steps(&self) -> Result<(), (u32, i32)> {
        let check = |ret: libc::c_int| {
            if ret < 0 {
                Err((SETUP, last_errno()))
            } else {
                Ok(())
            }
        };
        // SAFETY: each call is async-signal-safe and uses only memory
        // prepared before the clone.
        unsafe {
            if let Some(first) = self.unshare_from {
                // A table of its own with the descriptors below `first`
                // only: not a copy of the supervisor's thousands, which
                // `execve` would then close one by one (issue 26). Nothing
                // is changed in the shared table before this.
                const CLOSE_RANGE_UNSHARE: libc::c_uint = 1 << 1;
                check(libc::syscall(
                    libc::SYS_close_range,
                    first as libc::c_uint,
                    libc::c_uint::MAX,
                    CLOSE_RANGE_UNSHARE,
                ) as libc::c_int)?;
            }
            // A clean signal state, as std gives its children.
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            check(libc::pthread_sigmask(
                libc::SIG_SETMASK,
                &empty,
                std::ptr::null_mut(),
            ))?;
            check(libc::dup2(self.null, 0))?;
            check(libc::dup2(self.stdout, 1))?;
            check(libc::dup2(self.stderr, 2))?;
            if let Some(cwd) = &self.plan.cwd {
                check(libc::chdir(cwd.as_ptr())).map_err(|(_, errno)| (CHDIR, errno))?;
            }
        }
        before_exec(self.umask, self.rlimits, self.v1_procs, self.identity)
            .map_err(|e| (SETUP, e.raw_os_error()))?;
        // SAFETY: the arrays are NUL-terminated arrays of C strings that
        // live in the parent's copy of memory, which the child shares until
        // exec (copy-on-write).
        unsafe {
            libc::execve(
                self.plan.path.as_ptr(),
                self.argv.as_ptr(),
                self.envp.as_ptr(),
            );
        }
        Err((EXEC, last_errno()))
    }
}

fn last_errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Low descriptor numbers through which a child gets its four (stdin,
/// stdout, stderr, the report pipe): each spawn `dup3`s them there, the
/// child is cloned on the supervisor's table (`CLONE_FILES`, suspended as
/// by `vfork`) and leaves it for a copy of the descriptors below the slots
/// only (`close_range(CLOSE_RANGE_UNSHARE)`). A spawn then costs no copy
/// of the supervisor's table at `clone3` and no close of each of its
/// descriptors at `execve`: with thousands of children, those were most of
/// a spawn's time, and grew with every child (issue 26).
///
/// The slots are taken while the table is small (at the first spawns), one
/// set per spawn under way (as many as threads that spawn at once); each
/// holds `/dev/null` when not lent.
#[cfg(target_arch = "x86_64")]
mod slots {
    use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
    use std::sync::Mutex;

    /// Free sets; `None` once they proved unusable here (a kernel without
    /// `close_range`'s unshare, before Linux 5.9).
    static FREE: Mutex<Option<Vec<Slots>>> = Mutex::new(Some(Vec::new()));

    pub(super) struct Slots {
        fds: [OwnedFd; 4],
    }

    /// `/dev/null`, put back in each slot once the child has its own.
    static BLANK: std::sync::OnceLock<Option<OwnedFd>> = std::sync::OnceLock::new();

    impl Slots {
        /// A free set, or a new one; `None` where they cannot be used.
        pub(super) fn take() -> Option<Slots> {
            let mut free = FREE.lock().unwrap_or_else(|e| e.into_inner());
            let list = free.as_mut()?;
            if let Some(slots) = list.pop() {
                return Some(slots);
            }
            if !unshare_works() {
                *free = None;
                return None;
            }
            drop(free);
            let open = || {
                rustix::fs::open(
                    "/dev/null",
                    rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
                    rustix::fs::Mode::empty(),
                )
                .ok()
            };
            BLANK.get_or_init(open).as_ref()?;
            Some(Slots {
                fds: [open()?, open()?, open()?, open()?],
            })
        }

        /// Puts `fds` in the slots (close-on-exec); their numbers.
        pub(super) fn fill(&self, fds: [BorrowedFd<'_>; 4]) -> std::io::Result<[i32; 4]> {
            let mut numbers = [0; 4];
            for ((fd, slot), number) in fds.iter().zip(&self.fds).zip(&mut numbers) {
                dup_into(fd.as_raw_fd(), slot)?;
                *number = slot.as_raw_fd();
            }
            Ok(numbers)
        }

        /// The first number past the slots: a child copies the table below
        /// it.
        pub(super) fn end(&self) -> i32 {
            self.fds.iter().map(AsRawFd::as_raw_fd).max().unwrap_or(2) + 1
        }

        /// Empties the slots, so that nothing lent stays open here (a
        /// pipe's write end kept would hide its end of stream), and
        /// returns the set; a set that cannot be emptied is closed.
        pub(super) fn give_back(self) {
            let Some(blank) = BLANK.get().and_then(Option::as_ref) else {
                return;
            };
            let blank = blank.as_raw_fd();
            if self.fds.iter().all(|slot| dup_into(blank, slot).is_ok()) {
                if let Some(list) = FREE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                    list.push(self);
                }
            }
        }
    }

    /// `dup3(fd, slot)`: the slot's number now refers to `fd`'s file,
    /// close-on-exec, replacing what it held in one step.
    fn dup_into(fd: i32, slot: &OwnedFd) -> std::io::Result<()> {
        // SAFETY: both are open descriptors, and the slot's number is ours
        // (owned by the set) for as long as the set lives.
        #[allow(unsafe_code)]
        let ret = unsafe { libc::dup3(fd, slot.as_raw_fd(), libc::O_CLOEXEC) };
        if ret < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Whether `close_range` can unshare here (Linux 5.9): asked once, on
    /// a range that holds nothing.
    fn unshare_works() -> bool {
        // SAFETY: closes nothing: no descriptor is that high.
        #[allow(unsafe_code)]
        let ret = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                libc::c_uint::MAX,
                libc::c_uint::MAX,
                0 as libc::c_uint,
            )
        };
        ret == 0
    }
}
