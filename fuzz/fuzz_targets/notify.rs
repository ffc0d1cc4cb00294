//! Any datagram on a service's notify socket: notices or nothing, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let notices = tend_process::fuzzing::notify_datagram(data);
    // At most one notice per line.
    assert!(notices <= data.split(|&b| b == b'\n').count());
});
