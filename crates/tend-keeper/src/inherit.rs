//! Descriptors a process inherits across `exec`: the one way tend's
//! processes hand them on (the keeper's channel and the state directory's
//! lock by an environment variable, an upgrade's sockets by number).

use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// The inherited descriptor `number`, taken if it is open and `is_it`
/// holds for it (a number that names something else is left alone).
/// Its flags are left as they are.
#[must_use]
pub fn fd(number: RawFd, is_it: impl FnOnce(BorrowedFd<'_>) -> bool) -> Option<OwnedFd> {
    if number < 0 {
        return None;
    }
    // SAFETY: only borrowed to ask for its flags and `is_it`'s checks; the
    // number is not closed or kept through the borrow.
    #[allow(unsafe_code)]
    let borrowed = unsafe { BorrowedFd::borrow_raw(number) };
    rustix::io::fcntl_getfd(borrowed).ok()?;
    if !is_it(borrowed) {
        return None;
    }
    // SAFETY: the number was inherited for this purpose, is open (checked
    // above) and is what the caller expects; the caller takes it once.
    #[allow(unsafe_code)]
    Some(unsafe { OwnedFd::from_raw_fd(number) })
}

/// The inherited descriptor the environment variable `name` names (see
/// [`fd`]). With `forget`, the variable is removed, so that nothing this
/// process starts sees a number that is no longer meant for it.
#[must_use]
pub fn from_env(
    name: &str,
    forget: bool,
    is_it: impl FnOnce(BorrowedFd<'_>) -> bool,
) -> Option<OwnedFd> {
    let number = std::env::var_os(name)?;
    if forget {
        std::env::remove_var(name);
    }
    fd(number.to_str()?.parse().ok()?, is_it)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, IntoRawFd};

    #[test]
    fn an_open_descriptor_is_taken_and_a_closed_or_wrong_one_is_not() {
        let (read, write) = rustix::pipe::pipe().unwrap();
        let number = read.into_raw_fd();
        assert!(fd(number, |_| false).is_none(), "not what was expected");
        let taken = fd(number, |_| true).expect("open");
        assert_eq!(taken.as_raw_fd(), number);
        drop(taken);
        assert!(fd(number, |_| true).is_none(), "closed");
        assert!(fd(-1, |_| true).is_none());
        drop(write);
    }

    #[test]
    fn a_variable_forgotten_is_gone() {
        let (read, _write) = rustix::pipe::pipe().unwrap();
        let number = read.into_raw_fd();
        std::env::set_var("TEND_TEST_INHERIT_FD", number.to_string());
        let taken = from_env("TEND_TEST_INHERIT_FD", true, |_| true).expect("named and open");
        assert_eq!(taken.as_raw_fd(), number);
        assert!(std::env::var_os("TEND_TEST_INHERIT_FD").is_none());
        std::env::set_var("TEND_TEST_INHERIT_FD", "not a number");
        assert!(from_env("TEND_TEST_INHERIT_FD", false, |_| true).is_none());
        assert!(std::env::var_os("TEND_TEST_INHERIT_FD").is_some());
    }
}
