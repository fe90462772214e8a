//! Any two contents through the text comparator: findings, never a panic,
//! a hang or unbounded memory. Seeds: `fuzz/seed.sh` (pairs from `fixtures/`).
//!
//! cargo +nightly fuzz run text corpus/text

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    twice_fuzz::run(twice::finding::Format::Text, data);
});
