//! Any two contents through sniffing and whichever comparator it picks
//! (nested archives included): the way `twice diff` reaches every format.
//!
//! cargo +nightly fuzz run sniff corpus/sniff

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (a, b) = twice_fuzz::sides(data);
    let _ = twice::compare_bytes(b"fuzz", a, b, &twice_fuzz::options());
});
