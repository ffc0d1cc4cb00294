//! Specs round-trip through JSON, and minimal JSON deserialises with defaults.

use std::time::Duration;

use proptest::prelude::*;
use tend_spec::{
    Backend, Backoff, CrashPolicy, Intensity, NotAvailable, OnExhausted, Restart, RestartBudget,
    Shutdown, Signal,
};

#[test]
fn config_aliases_map_to_otp_names() {
    for (text, want) in [
        ("\"always\"", Restart::Permanent),
        ("\"permanent\"", Restart::Permanent),
        ("\"on-failure\"", Restart::Transient),
        ("\"on_failure\"", Restart::Transient),
        ("\"transient\"", Restart::Transient),
        ("\"never\"", Restart::Temporary),
        ("\"temporary\"", Restart::Temporary),
    ] {
        assert_eq!(
            serde_json::from_str::<Restart>(text).unwrap(),
            want,
            "{text}"
        );
    }
    assert!(serde_json::from_str::<Restart>("\"sometimes\"").is_err());
}

#[test]
fn minimal_backoff_gets_defaults() {
    let b: Backoff = serde_json::from_str(r#"{"initial":"100ms","max":"30s"}"#).unwrap();
    assert_eq!(
        b,
        Backoff::exponential(Duration::from_millis(100), Duration::from_secs(30))
    );
    let err = serde_json::from_str::<Backoff>(r#"{"initial":"1s","max":"2s","bogus":1}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("bogus"), "{err}");
}

#[test]
fn budget_and_shutdown_forms() {
    let b: RestartBudget = serde_json::from_str(
        r#"{"max_restarts":5,"window":"5m","on_exhausted":{"crash_loop_back_off":"30s"}}"#,
    )
    .unwrap();
    assert_eq!(
        b.on_exhausted,
        OnExhausted::CrashLoopBackOff(Duration::from_secs(30))
    );
    let b: RestartBudget = serde_json::from_str(r#"{"max_restarts":1,"window":"1s"}"#).unwrap();
    assert_eq!(b.on_exhausted, OnExhausted::Escalate);
    assert_eq!(
        serde_json::from_str::<Shutdown>("\"brutal_kill\"").unwrap(),
        Shutdown::BrutalKill
    );
    assert_eq!(
        serde_json::from_str::<Shutdown>("\"infinity\"").unwrap(),
        Shutdown::Infinity
    );
}

#[test]
fn crash_policies_backends_and_not_available_round_trip() {
    for policy in [
        CrashPolicy::Restart,
        CrashPolicy::Shutdown,
        CrashPolicy::Isolate,
    ] {
        let text = serde_json::to_string(&policy).unwrap();
        assert_eq!(serde_json::from_str::<CrashPolicy>(&text).unwrap(), policy);
    }
    assert!(serde_json::from_str::<CrashPolicy>("\"ignore\"").is_err());
    let e = NotAvailable::new(Backend::Container, "neither podman nor docker is installed");
    let text = serde_json::to_string(&e).unwrap();
    assert_eq!(
        text,
        r#"{"backend":"container","reason":"neither podman nor docker is installed"}"#
    );
    assert_eq!(serde_json::from_str::<NotAvailable>(&text).unwrap(), e);
}

#[test]
fn signals_serialise_by_name_and_parse_leniently() {
    assert_eq!(serde_json::to_string(&Signal::Term).unwrap(), "\"SIGTERM\"");
    assert_eq!(
        serde_json::to_string(&Signal::Realtime(40)).unwrap(),
        "\"40\""
    );
    for text in ["\"SIGTERM\"", "\"TERM\"", "\"term\"", "\"15\""] {
        assert_eq!(
            serde_json::from_str::<Signal>(text).unwrap(),
            Signal::Term,
            "{text}"
        );
    }
    let err = serde_json::from_str::<Signal>("\"SIGNOPE\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown signal \"SIGNOPE\""), "{err}");
}

fn duration() -> impl Strategy<Value = Duration> {
    (0u64..10_000_000).prop_map(Duration::from_millis)
}

proptest! {
    #[test]
    fn intensity_round_trips(max in any::<u32>(), period in duration()) {
        let i = Intensity::new(max, period);
        let back: Intensity = serde_json::from_str(&serde_json::to_string(&i).unwrap()).unwrap();
        prop_assert_eq!(back, i);
    }

    #[test]
    fn shutdown_round_trips(d in duration(), which in 0u8..3) {
        let s = match which { 0 => Shutdown::BrutalKill, 1 => Shutdown::Infinity, _ => Shutdown::Timeout(d) };
        let back: Shutdown = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        prop_assert_eq!(back, s);
    }

    #[test]
    fn every_signal_round_trips(number in 1i32..=64) {
        let signal = Signal::from_number(number).unwrap();
        let back: Signal = serde_json::from_str(&serde_json::to_string(&signal).unwrap()).unwrap();
        prop_assert_eq!(back, signal);
        prop_assert_eq!(back.number(), number);
    }

    #[test]
    fn backoff_round_trips(initial in duration(), extra in duration(), jitter in 0.0f64..=1.0, reset in proptest::option::of(duration())) {
        let mut b = Backoff::exponential(initial, initial + extra).jitter(jitter);
        b.reset_after = reset;
        let back: Backoff = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
        prop_assert_eq!(back, b);
    }
}
