//! The 64-bit hashes of the first pass: what an action is keyed on and a
//! digest of everything compared, so that two logs' actions can be paired
//! and told equal without keeping their strings. Unordered lists (inputs,
//! environment, outputs) are summed, so log order does not matter.
//! Deterministic: no random seed, the same in every process.

use std::hash::{BuildHasher, Hasher};

/// A finaliser with full avalanche (splitmix64), so sums of mixed values
/// do not cancel.
pub(crate) fn finish(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A string's hash (the same for `&str` and `String`).
pub(crate) fn h(s: &str) -> u64 {
    finish(rustc_hash::FxBuildHasher.hash_one(s))
}

/// A second, independent hash of a string, for 128-bit keys.
pub(crate) fn h2(s: &str) -> u64 {
    let mut x = rustc_hash::FxHasher::default();
    x.write_u64(0x5851_f42d_4c95_7f2d);
    x.write(s.as_bytes());
    finish(x.finish() ^ 0xa076_1d64_78bd_642f)
}

/// Two values combined, order-sensitive.
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    finish(a ^ finish(b).rotate_left(17))
}

/// Tags kept apart from any file fingerprint: what an output path holds
/// when it is not a file.
pub(crate) const DIR: u64 = 0x6469_7265_6374_6f72;
pub(crate) const MISSING: u64 = 0x6d69_7373_696e_6721;

/// A 128-bit key built from parts.
#[derive(Default)]
pub(crate) struct Key2(u64, u64);

impl Key2 {
    pub(crate) fn str(mut self, s: &str) -> Key2 {
        self.0 = mix(self.0, h(s));
        self.1 = mix(self.1 ^ 0x1f, h2(s));
        self
    }
    pub(crate) fn num(mut self, n: u64) -> Key2 {
        self.0 = mix(self.0, n);
        self.1 = mix(self.1 ^ 0x2f, finish(n ^ 0x3c6e_f372_fe94_f82b));
        self
    }
    /// The key: 112 bits (the low 16 bits are left for flags).
    pub(crate) fn done(self) -> [u64; 2] {
        [self.0, self.1 & !0xffff]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_ignore_order_and_keys_do_not() {
        let a = mix(h("x"), 1).wrapping_add(mix(h("y"), 2));
        let b = mix(h("y"), 2).wrapping_add(mix(h("x"), 1));
        assert_eq!(a, b);
        assert_ne!(mix(h("x"), 2).wrapping_add(mix(h("y"), 1)), a);
        assert_ne!(
            Key2::default().str("a").str("b").done(),
            Key2::default().str("b").str("a").done()
        );
        assert_ne!(h("a"), h2("a"));
    }
}
