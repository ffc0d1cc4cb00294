//! Any text as a `tend.toml`: a config or a list of diagnostics, never a
//! panic; every diagnostic points inside the text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match tend_config::parse_str("tend.toml", text) {
        Ok(config) => {
            // A config that parsed describes itself consistently.
            for service in &config.services {
                assert!(!service.instances().is_empty());
            }
        }
        Err(tend_config::ConfigError::Invalid(diagnostics)) => {
            assert!(!diagnostics.is_empty(), "an error without a diagnostic");
            let shown = tend_config::ConfigError::Invalid(diagnostics).to_string();
            assert!(
                shown.contains("tend.toml:"),
                "a diagnostic without a place: {shown}"
            );
        }
        Err(other) => panic!("parsing text cannot fail to read: {other}"),
    }
});
