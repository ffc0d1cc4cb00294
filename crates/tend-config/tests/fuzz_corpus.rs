//! The config fuzz target's corpus (`fuzz/corpus/config`, with every
//! crasher it ever found) as a regression test on stable Rust: each input
//! parses to a config or to diagnostics that name a place, never a panic.

use std::path::Path;

#[test]
fn every_input_of_the_config_fuzz_corpus_parses_or_is_diagnosed() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/config");
    let mut seen = 0;
    for entry in std::fs::read_dir(&corpus).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        seen += 1;
        match tend_config::parse_str("tend.toml", text) {
            Ok(config) => assert!(config.services.iter().all(|s| !s.instances().is_empty())),
            Err(error) => {
                let shown = error.to_string();
                assert!(shown.contains("tend.toml:"), "{}: {shown}", path.display());
            }
        }
    }
    assert!(seen >= 4, "the corpus is missing: {}", corpus.display());
}
