//! The API fuzz target's corpus (`fuzz/corpus/api_request`, with every
//! crasher it ever found) as a regression test on stable Rust, through the
//! real program: each input, sent raw on the control socket, gets an answer
//! below 500 (or none, for what is not HTTP), and tend keeps answering.

mod common;

#[path = "common/raw.rs"]
mod raw;

use std::path::Path;

use common::Project;
use raw::{asks_to_shut_down, exchange, Outcome};

/// The same config as the fuzz target's.
const CONFIG: &str = include_str!("../../../fuzz/api.toml");

#[test]
fn every_request_of_the_api_fuzz_corpus_gets_an_answer_below_500() {
    let mut p = Project::new(CONFIG);
    p.up();
    let socket = p.path(".tend/tend.sock");
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/api_request");
    let mut inputs: Vec<_> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    inputs.sort();
    assert!(
        inputs.len() >= 10,
        "the corpus is missing: {}",
        corpus.display()
    );
    let mut answered = 0;
    for input in &inputs {
        let request = std::fs::read(input).unwrap();
        // Shutting tend down is no parsing matter (the fuzz target runs
        // such inputs and starts tend again); here it would end the test.
        if asks_to_shut_down(&request) {
            continue;
        }
        match exchange(&socket, &request) {
            Outcome::Answered(status) => {
                assert!(status < 500, "{} answered {status}", input.display());
                answered += 1;
            }
            Outcome::Unanswered => panic!("{}: a whole request, no answer", input.display()),
            Outcome::Partial(status) => {
                assert!(
                    status.is_none_or(|s| s < 500),
                    "{}: {status:?}",
                    input.display()
                );
            }
        }
        assert_eq!(
            exchange(&socket, b"GET /v1/daemon HTTP/1.1\r\nHost: tend\r\n\r\n"),
            Outcome::Answered(200),
            "tend stopped answering after {}",
            input.display()
        );
    }
    assert!(answered >= 15, "{answered} of {} answered", inputs.len());
    assert_eq!(p.down(), 0);
}
