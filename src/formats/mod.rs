//! Format comparators: sniffing, the `Comparator` interface and the registry.
//!
//! A comparator parses both sides of one differing pair and emits findings
//! through a [`Cx`]. It never fails the run: what it cannot parse becomes a
//! finding or a fallback to a simpler comparator.

mod binary;
mod cx;
mod text;

pub(crate) use cx::Cx;

use std::hash::Hash;
use std::ops::Range;

use serde::Serialize;
use similar::{Algorithm, DiffTag, capture_diff_slices};

/// The formats `twice` recognises. Later comparators (ELF, ar, zip, pyc,
/// gzip, tar) add variants here and in [`comparator`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Text,
    Binary,
}

/// How many leading bytes sniffing looks at.
const SNIFF_LEN: usize = 8192;

/// Pick a format from content: magic bytes first (none are handled yet
/// beyond text/binary), then a text test: no NUL and valid UTF-8 in the first
/// 8 KiB (a multi-byte character cut at the boundary is fine).
pub(crate) fn sniff(data: &[u8]) -> Format {
    let head = &data[..data.len().min(SNIFF_LEN)];
    if head.contains(&0) {
        return Format::Binary;
    }
    match std::str::from_utf8(head) {
        Ok(_) => Format::Text,
        Err(e) if e.error_len().is_none() && data.len() > SNIFF_LEN => Format::Text,
        Err(_) => Format::Binary,
    }
}

/// Sniff both sides; formats that disagree fall back to a byte comparison.
pub(crate) fn sniff_pair(a: &[u8], b: &[u8]) -> Format {
    match (sniff(a), sniff(b)) {
        (x, y) if x == y => x,
        _ => Format::Binary,
    }
}

/// Compares two versions of one artifact.
pub(crate) trait Comparator: Sync {
    fn compare(&self, cx: &mut Cx<'_>, a: &[u8], b: &[u8]);
}

pub(crate) fn comparator(format: Format) -> &'static dyn Comparator {
    match format {
        Format::Text => &text::TextComparator,
        Format::Binary => &binary::BinaryComparator,
    }
}

/// The changed runs between two sequences, in order: `(range in a, range in
/// b)` for every insertion, deletion and replacement. similar's Myers keeps
/// its work bounded with deterministic heuristics on pathological inputs.
pub(crate) fn changed_runs<T: Eq + Hash>(a: &[T], b: &[T]) -> Vec<(Range<usize>, Range<usize>)> {
    capture_diff_slices(Algorithm::Myers, a, b)
        .iter()
        .map(|op| op.as_tag_tuple())
        .filter(|(tag, _, _)| *tag != DiffTag::Equal)
        .map(|(_, x, y)| (x, y))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every comparator survives any cut and corruption of real artifacts:
    /// no panic, and a difference always yields at least one finding.
    #[test]
    fn truncation_and_corruption_sweep() {
        use crate::classify::{Canaries, Classifier};
        use crate::diff::Limits;
        use crate::finding::Artifact;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/diff-demo");
        let classifier = Classifier::new(Canaries::default(), 1_795_614_312);
        let limits = Limits::default();
        for name in ["hello.o", "libdemo.a", "hello.d", "build-info.txt"] {
            let a = std::fs::read(dir.join("a").join(name)).unwrap();
            let b = std::fs::read(dir.join("b").join(name)).unwrap();
            let step = (a.len() / 41).max(1);
            for cut in (0..a.len()).step_by(step) {
                let mut flipped = b.clone();
                if let Some(x) = flipped.get_mut(cut) {
                    *x ^= 0x5a;
                }
                for (x, y) in [(&a[..cut], &b[..]), (&a[..], &flipped[..])] {
                    if x == y {
                        continue;
                    }
                    for format in [Format::Text, Format::Binary, sniff_pair(x, y)] {
                        let mut cx = Cx::new(Artifact::new(name), &classifier, &limits);
                        comparator(format).compare(&mut cx, x, y);
                        let (findings, omitted) = cx.finish();
                        assert!(!findings.is_empty() || omitted > 0, "{name} cut at {cut}");
                    }
                }
            }
        }
    }

    #[test]
    fn sniffs_text_and_binary() {
        assert_eq!(sniff(b"hello\nworld\n"), Format::Text);
        assert_eq!(sniff(b"\x7fELF\x02\x01\x01\0"), Format::Binary);
        assert_eq!(sniff(&[0xff, 0xfe, 0x41]), Format::Binary);
        assert_eq!(sniff(b""), Format::Text);
        assert_eq!(sniff_pair(b"text", b"bin\0"), Format::Binary);
    }
}
