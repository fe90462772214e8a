//! Any two contents through the pyc comparator: findings, never a panic,
//! a hang or unbounded memory. Seeds: `fuzz/seed.sh` (pairs from `fixtures/`).
//!
//! cargo +nightly fuzz run pyc corpus/pyc

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    twice_fuzz::run(twice::finding::Format::Pyc, data);
});
