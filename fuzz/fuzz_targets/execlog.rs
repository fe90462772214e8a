//! Any bytes as a build log (Bazel JSON or compact, Buck2 what-ran): an
//! error or a log, never a panic. Seed corpus: `fixtures/execlog/`.
//!
//! cargo +nightly fuzz run execlog ../fixtures/execlog

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = twice::execlog::read_bytes(data);
});
