//! The fault signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP)
//! survived when another process sends them, for a daemon that must not
//! die of a `kill`; a real fault still ends the process as it would have.
//!
//! Written by hand on `sigaction` rather than through tokio or
//! signal-hook: signal-hook-registry refuses SIGSEGV, SIGILL and SIGFPE,
//! and for the others runs its handler and then always the previous one,
//! so it cannot both ignore a sent signal and let a fault through; and
//! for SIGSEGV and SIGBUS the previous handler is std's stack-overflow
//! one, which resets the default on any signal that is not a guard-page
//! hit (so the second `kill -SEGV` kills). What tells them apart is
//! `si_code`: at most 0 (SI_USER, SI_QUEUE, SI_TKILL) for a signal a
//! process sent, above 0 for one the kernel raised for an instruction.

// A signal handler is foreign-function code throughout.
#![allow(unsafe_code)]

use std::ffi::c_int;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// The signals handled, each with its name for the line said when one is
/// ignored.
const FAULTS: [(c_int, &str); 6] = [
    (libc::SIGSEGV, "SIGSEGV"),
    (libc::SIGBUS, "SIGBUS"),
    (libc::SIGILL, "SIGILL"),
    (libc::SIGFPE, "SIGFPE"),
    (libc::SIGABRT, "SIGABRT"),
    (libc::SIGTRAP, "SIGTRAP"),
];

/// The disposition each signal had before ours (std's stack-overflow
/// handler for SIGSEGV and SIGBUS, the default for the rest), put back for
/// a real fault. Set once, before our handler is installed; read in the
/// handler (an atomic load).
static PREVIOUS: [OnceLock<libc::sigaction>; FAULTS.len()] =
    [const { OnceLock::new() }; FAULTS.len()];

/// How many were sent and ignored (a count the tests wait on).
static IGNORED: AtomicUsize = AtomicUsize::new(0);

/// Installs the handler for the fault signals, in this whole process (for
/// the `tend` daemon; a library embedding tend calls it only if it wants
/// the same). From then on, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT and
/// SIGTRAP sent by another process are said on standard error and
/// ignored; the same raised by a fault of this process (a bad address, a
/// bad instruction, a stack overflow, which still prints Rust's message)
/// or sent by this process itself (`abort()`, a `panic = "abort"`, a
/// panic while panicking) still end it with their usual action (and a
/// core, where enabled). Calling it again does nothing.
///
/// # Errors
///
/// `sigaction` failed (it does not, for these signals).
pub fn survive_sent_faults() -> std::io::Result<()> {
    for (slot, (signal, _)) in FAULTS.iter().enumerate() {
        if PREVIOUS[slot].get().is_some() {
            continue;
        }
        // SAFETY: plain data, zero is a valid (empty) value of each field.
        let mut ours: libc::sigaction = unsafe { std::mem::zeroed() };
        ours.sa_sigaction = on_fault as *const () as libc::sighandler_t;
        // On the alternate stack std sets up for each thread: a stack
        // overflow must still reach std's handler. Restarted: an ignored
        // signal interrupts no system call.
        ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
        // Every fault signal blocked while the handler runs: signals sent
        // together (`kill -SEGV` then `kill -BUS` at once) are handled one
        // after the other, not nested. Nested, each pushed another signal
        // frame (some 3 KiB with AVX-512 state) onto std's 8 KiB alternate
        // stack, and the third overflowed it: the process died of SIGSEGV.
        // SAFETY: a mask in a struct we own, signal numbers that exist.
        unsafe {
            libc::sigemptyset(&raw mut ours.sa_mask);
            for (blocked, _) in FAULTS {
                libc::sigaddset(&raw mut ours.sa_mask, blocked);
            }
        }
        // SAFETY: plain data.
        let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
        // Read first, kept, then replaced: the handler never runs without
        // the previous disposition at hand.
        // SAFETY: valid pointers; reading a disposition changes nothing.
        if unsafe { libc::sigaction(*signal, std::ptr::null(), &raw mut previous) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let _ = PREVIOUS[slot].set(previous);
        // SAFETY: `on_fault` does only async-signal-safe things.
        if unsafe { libc::sigaction(*signal, &raw const ours, std::ptr::null_mut()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The handler. Only async-signal-safe calls: `getpid`, `write`,
/// `sigaction`, `raise`, and an atomic load.
extern "C" fn on_fault(signal: c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let Some(slot) = FAULTS.iter().position(|(s, _)| *s == signal) else {
        return;
    };
    // SAFETY: with SA_SIGINFO the kernel passes a valid siginfo; the
    // sender's pid is read only for the codes that carry one.
    let code = unsafe { (*info).si_code };
    let sent = matches!(code, libc::SI_USER | libc::SI_QUEUE | libc::SI_TKILL);
    // SAFETY: as above; getpid cannot fail.
    let (sender, own) = if sent {
        (unsafe { (*info).si_pid() }, unsafe { libc::getpid() })
    } else {
        (0, 0)
    };
    if sent && sender != own {
        IGNORED.fetch_add(1, Ordering::Relaxed);
        say_ignored(FAULTS[slot].1, sender);
        return;
    }
    match PREVIOUS[slot].get() {
        // A fault (or a signal this process sent itself) with a handler
        // before ours: that handler back, and called as it would have been
        // (std's finds a stack overflow by the faulting address in `info`,
        // and otherwise resets the default, which the fault, run again on
        // return, then meets).
        Some(previous)
            if code > 0
                && previous.sa_sigaction != libc::SIG_DFL
                && previous.sa_sigaction != libc::SIG_IGN =>
        {
            // SAFETY: putting back what was there; async-signal-safe.
            unsafe { libc::sigaction(signal, previous, std::ptr::null_mut()) };
            // The process ends either way (std's handler aborts on a stack
            // overflow, or resets the default and returns to the fault), so
            // SIGABRT gets its default first: the abort then pushes no
            // second signal frame onto the alternate stack the overflow is
            // handled on. With AVX-512 state two frames and std's message
            // overflowed std's 8 KiB alternate stack, and the process died
            // of SIGSEGV instead of SIGABRT.
            reset_to_default(libc::SIGABRT);
            if previous.sa_flags & libc::SA_SIGINFO != 0 {
                // SAFETY: the previous handler takes these three arguments.
                let call: extern "C" fn(c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    unsafe { std::mem::transmute(previous.sa_sigaction) };
                call(signal, info, context);
            } else {
                // SAFETY: the previous handler takes the signal number.
                let call: extern "C" fn(c_int) =
                    unsafe { std::mem::transmute(previous.sa_sigaction) };
                call(signal);
            }
        }
        // Sent by this process (`abort()`, `raise`), or a fault with no
        // handler before ours: the default action, now. The signal is
        // blocked while this handler runs, so the one raised waits and is
        // delivered, with the default, on return.
        _ => {
            reset_to_default(signal);
            // SAFETY: async-signal-safe.
            unsafe { libc::raise(signal) };
        }
    }
}

/// `signal` back to its default action (async-signal-safe).
fn reset_to_default(signal: c_int) {
    // SAFETY: plain data, zero is a valid (empty) value of each field; an
    // async-signal-safe call with valid pointers.
    unsafe {
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(signal, &raw const default, std::ptr::null_mut());
    }
}

/// `tend: SIGSEGV from pid 1234 ignored` on standard error, through
/// `write` (no allocation, no lock).
fn say_ignored(name: &str, sender: libc::pid_t) {
    let mut line = [0u8; 96];
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        let end = (len + bytes.len()).min(line.len());
        line[len..end].copy_from_slice(&bytes[..end - len]);
        len = end;
    };
    put(b"tend: ");
    put(name.as_bytes());
    put(b" from pid ");
    let mut digits = [0u8; 12];
    let mut at = digits.len();
    let mut rest = sender.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    put(&digits[at..]);
    put(b" ignored (a signal sent, not a fault)\n");
    // SAFETY: a buffer we own; a failed write is nothing to act on here.
    unsafe { libc::write(libc::STDERR_FILENO, line.as_ptr().cast(), len) };
}

#[cfg(test)]
mod tests {
    //! Each case in a child: this test binary run again with the test's
    //! name and `TEND_FAULT` set, which installs the handler, then does
    //! what the test asks; the test looks at how the child ended.

    use std::os::unix::process::ExitStatusExt as _;
    use std::process::{Command, Output};
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    /// `TEND_FAULT` in the child, `None` in the test.
    fn child_case() -> Option<String> {
        let case = std::env::var("TEND_FAULT").ok()?;
        // No core file from a test.
        rustix::process::setrlimit(
            rustix::process::Resource::Core,
            rustix::process::Rlimit {
                current: Some(0),
                maximum: Some(0),
            },
        )
        .expect("no core");
        super::survive_sent_faults().expect("installed");
        Some(case)
    }

    /// Runs `test` (this module's) as a child with `TEND_FAULT=case`.
    fn run_child(test: &str, case: &str) -> Output {
        Command::new(std::env::current_exe().unwrap())
            .args([&format!("faults::tests::{test}"), "--exact", "--nocapture"])
            .env("TEND_FAULT", case)
            .output()
            .unwrap()
    }

    #[test]
    fn a_bad_address_still_kills_with_sigsegv() {
        if child_case().is_some() {
            // SAFETY: none: the fault is the point.
            unsafe { std::ptr::null_mut::<u64>().write_volatile(1) };
            std::process::exit(0);
        }
        let out = run_child("a_bad_address_still_kills_with_sigsegv", "segv");
        assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "{out:?}");
    }

    /// The path of a fault with no handler before ours (SIGILL, SIGFPE,
    /// SIGTRAP, SIGABRT): the default action.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_bad_instruction_still_kills_with_sigill() {
        if child_case().is_some() {
            // SAFETY: none: the fault is the point.
            unsafe { std::arch::asm!("ud2") };
            std::process::exit(0);
        }
        let out = run_child("a_bad_instruction_still_kills_with_sigill", "ill");
        assert_eq!(out.status.signal(), Some(libc::SIGILL), "{out:?}");
    }

    #[test]
    fn a_stack_overflow_still_says_so_and_aborts() {
        #[allow(unconditional_recursion)]
        fn deeper(n: u64) -> u64 {
            let here = std::hint::black_box([n; 64]);
            deeper(here[0] + 1) + here[1]
        }
        if child_case().is_some() {
            let _ = std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(|| deeper(0))
                .unwrap()
                .join();
            std::process::exit(0);
        }
        let out = run_child("a_stack_overflow_still_says_so_and_aborts", "overflow");
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{said}");
        assert!(said.contains("has overflowed its stack"), "{said}");
    }

    #[test]
    fn abort_still_kills_with_sigabrt() {
        if child_case().is_some() {
            std::process::abort();
        }
        let out = run_child("abort_still_kills_with_sigabrt", "abort");
        assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{out:?}");
    }

    #[test]
    fn a_signal_raised_by_the_process_itself_still_kills() {
        if let Some(name) = child_case() {
            let (signal, _) = super::FAULTS.iter().find(|(_, n)| *n == name).unwrap();
            // SAFETY: raising a signal.
            unsafe { libc::raise(*signal) };
            std::process::exit(0);
        }
        for (signal, name) in super::FAULTS {
            let out = run_child("a_signal_raised_by_the_process_itself_still_kills", name);
            assert_eq!(out.status.signal(), Some(signal), "{name}: {out:?}");
        }
    }

    /// Fault signals sent together, as fast as a shell sends them: each
    /// handled in turn (nested, their frames overflowed the alternate
    /// stack and the process died of SIGSEGV).
    #[test]
    fn fault_signals_sent_together_are_all_survived() {
        if child_case().is_some() {
            let pid = std::process::id();
            let sent = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "for i in $(seq 50); do for s in SEGV BUS ILL FPE ABRT TRAP; do kill -$s {pid}; done; done"
                ))
                .status()
                .unwrap();
            assert!(sent.success());
            // Every one delivered: none changes the count for a while.
            let mut last = super::IGNORED.load(Ordering::Relaxed);
            let mut still = Instant::now();
            while still.elapsed() < Duration::from_millis(300) {
                std::thread::sleep(Duration::from_millis(10));
                let now = super::IGNORED.load(Ordering::Relaxed);
                if now != last {
                    (last, still) = (now, Instant::now());
                }
            }
            std::process::exit(0);
        }
        let out = run_child("fault_signals_sent_together_are_all_survived", "together");
        assert_eq!(out.status.code(), Some(0), "{out:?}");
    }

    #[test]
    fn a_fault_signal_sent_by_another_process_is_ignored() {
        if child_case().is_some() {
            // Twice each: the second SIGSEGV is the one std's handler let
            // through.
            for _ in 0..2 {
                for (signal, _) in super::FAULTS {
                    let before = super::IGNORED.load(Ordering::Relaxed);
                    let sent = Command::new("kill")
                        .args([format!("-{signal}"), std::process::id().to_string()])
                        .status()
                        .unwrap();
                    assert!(sent.success());
                    let deadline = Instant::now() + Duration::from_secs(30);
                    while super::IGNORED.load(Ordering::Relaxed) == before {
                        assert!(Instant::now() < deadline, "signal {signal} never came");
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            }
            std::process::exit(0);
        }
        let out = run_child("a_fault_signal_sent_by_another_process_is_ignored", "sent");
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        assert!(said.contains("tend: SIGSEGV from pid "), "{said}");
        assert_eq!(
            said.matches("ignored (a signal sent, not a fault)").count(),
            12,
            "{said}"
        );
    }
}
