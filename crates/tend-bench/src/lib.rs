//! Benchmarks only: see `benches/` and the repository's `BENCHMARKS.md`.
