//! Format comparators: sniffing, the `Comparator` interface and the registry.
//!
//! A comparator parses both sides of one differing pair and emits findings
//! through a [`Cx`]. It never fails the run: what it cannot parse becomes a
//! finding or a fallback to a simpler comparator.

mod ar;
mod archive;
mod binary;
// The structural comparators (ELF, ar, zip, pyc, gzip, tar) read through it.
pub(crate) mod bytes;
mod compressed;
mod cpio;
mod cx;
mod elf;
mod gzip;
mod inflate;
mod json;
mod layout;
mod limits;
mod manifest;
mod png;
mod pyc;
mod regions;
mod rename;
mod tar;
#[cfg(test)]
mod testing;
mod text;
mod zip;

pub(crate) use cx::{Cx, Pending};
pub(crate) use inflate::compare_streams;
pub use limits::Limits;

pub(crate) use crate::finding::Format;

use std::hash::Hash;
use std::ops::Range;

use similar::{Algorithm, DiffTag, capture_diff_slices};

/// How many leading bytes sniffing looks at.
const SNIFF_LEN: usize = 8192;

/// Pick a format from content: magic bytes first, then a text test: no NUL
/// and valid UTF-8 in the first 8 KiB (a multi-byte character cut at the
/// boundary is fine).
pub(crate) fn sniff(data: &[u8]) -> Format {
    if let Some(format) = sniff_magic(data) {
        return format;
    }
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

fn sniff_magic(data: &[u8]) -> Option<Format> {
    let starts = |m: &[u8]| data.starts_with(m);
    if starts(b"\x7fELF") {
        Some(Format::Elf)
    } else if starts(b"!<arch>\n") || starts(b"!<thin>\n") {
        Some(Format::Ar)
    } else if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") || starts(b"PK\x01\x02") {
        // `PK\1\2`: a zip whose central directory comes first.
        Some(Format::Zip)
    } else if starts(b"\x1f\x8b") {
        Some(Format::Gzip)
    } else if starts(b"\xfd7zXZ\0") {
        Some(Format::Xz)
    } else if starts(b"\x28\xb5\x2f\xfd") {
        Some(Format::Zstd)
    } else if is_bzip2(data) {
        Some(Format::Bzip2)
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if data.get(257..262) == Some(b"ustar") {
        Some(Format::Tar)
    } else if cpio::is_cpio(data) {
        Some(Format::Cpio)
    } else if is_pyc_magic(data) {
        Some(Format::Pyc)
    } else if zip::has_prefix(data) {
        // A zip behind a prefix: a shebang line (zipapp), a `JM\1\0` jmod
        // header, a self-extractor stub.
        Some(Format::Zip)
    } else {
        None
    }
}

/// bzip2: `BZh`, the block size digit, then a block's or the end's magic.
fn is_bzip2(data: &[u8]) -> bool {
    matches!(data.get(..4), Some([b'B', b'Z', b'h', b'1'..=b'9']))
        && matches!(
            data.get(4..10),
            Some([0x31, 0x41, 0x59, 0x26, 0x53, 0x59] | [0x17, 0x72, 0x45, 0x38, 0x50, 0x90])
        )
}

/// A `.pyc` (PEP 552, CPython 3.7 and later) starts with a 16-bit
/// little-endian magic number and `\r\n`, then a 32-bit flags word that is
/// 0, 1 or 3. CPython 3 uses magic numbers 3000..4000 (3.8 is 3413, 3.14 is
/// in the 3600s); an unknown one inside that range still sniffs as pyc, and
/// the pyc comparator says it does not know that Python.
fn is_pyc_magic(data: &[u8]) -> bool {
    match data.get(..8) {
        Some([lo, hi, b'\r', b'\n', flags, 0, 0, 0]) => {
            (3000..4000).contains(&u16::from_le_bytes([*lo, *hi])) && matches!(flags, 0 | 1 | 3)
        }
        _ => false,
    }
}

/// Sniff both sides; formats that disagree fall back to a byte comparison.
pub(crate) fn sniff_pair(a: &[u8], b: &[u8]) -> Format {
    match (sniff(a), sniff(b)) {
        (x, y) if x == y => x,
        _ => Format::Binary,
    }
}

/// Is this a compressed stream format (gzip, xz, zstd, bzip2)?
pub(crate) fn is_compressed(format: Format) -> bool {
    inflate::Codec::of(format).is_some()
}

/// Compares two versions of one artifact.
pub(crate) trait Comparator: Sync {
    fn compare(&self, cx: &mut Cx<'_>, a: &[u8], b: &[u8]);
}

pub(crate) fn comparator(format: Format) -> &'static dyn Comparator {
    match format {
        Format::Text => &text::TextComparator,
        Format::Elf => &elf::ElfComparator,
        Format::Ar => &ar::ArComparator,
        Format::Zip => &zip::ZipComparator,
        Format::Pyc => &pyc::PycComparator,
        Format::Gzip => &gzip::GzipComparator,
        Format::Tar => &tar::TarComparator,
        Format::Cpio => &cpio::CpioComparator,
        Format::Png => &png::PngComparator,
        Format::Xz => &compressed::StreamComparator(Format::Xz),
        Format::Zstd => &compressed::StreamComparator(Format::Zstd),
        Format::Bzip2 => &compressed::StreamComparator(Format::Bzip2),
        Format::Binary => &binary::BinaryComparator,
    }
}

/// Sniff two differing contents and compare them with the comparator their
/// format calls for. The entry point for top-level files and archive
/// members alike. Two streams compressed with different codecs (a
/// `control.tar.gz` against a `control.tar.xz`) are decompressed each with
/// its own and compared by content.
pub(crate) fn compare_bytes(cx: &mut Cx<'_>, a: &[u8], b: &[u8]) -> Format {
    let format = sniff_pair(a, b);
    if format == Format::Binary {
        let (fa, fb) = (sniff(a), sniff(b));
        if fa != fb && is_compressed(fa) && is_compressed(fb) {
            or_bytes(cx, a, b, |cx| compressed::compare(cx, (fa, a), (fb, b)));
            return fa;
        }
    }
    comparator(format).compare(cx, a, b);
    format
}

/// The byte-level comparison, for comparators that give up on a structure.
pub(crate) fn compare_as_binary(cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
    binary::BinaryComparator.compare(cx, a, b);
}

/// Run a structural comparison of `a` and `b`; if it produced no finding
/// although the bytes differ (a field no comparator reads, a corrupt
/// stream that happens to decode), compare the bytes so the difference is
/// still located.
pub(crate) fn or_bytes(cx: &mut Cx<'_>, a: &[u8], b: &[u8], f: impl FnOnce(&mut Cx<'_>)) {
    let before = cx.produced();
    f(cx);
    if cx.produced() == before && a != b {
        compare_as_binary(cx, a, b);
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
        use super::testing::{compare_with, fixture};
        let limits = Limits::default();
        for name in ["hello.o", "libdemo.a", "hello.d", "build-info.txt"] {
            let a = fixture(&format!("diff-demo/a/{name}"));
            let b = fixture(&format!("diff-demo/b/{name}"));
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
                        let (findings, omitted) =
                            compare_with(comparator(format), name, &limits, x, y);
                        assert!(!findings.is_empty() || omitted > 0, "{name} cut at {cut}");
                    }
                }
            }
        }
    }

    #[test]
    fn sniffs_text_and_binary() {
        assert_eq!(sniff(b"hello\nworld\n"), Format::Text);
        assert_eq!(sniff(&[0xff, 0xfe, 0x41]), Format::Binary);
        assert_eq!(sniff(b""), Format::Text);
        assert_eq!(sniff_pair(b"text", b"bin\0"), Format::Binary);
    }

    #[test]
    fn sniffs_magic_numbers() {
        let mut tar = vec![0u8; 512];
        tar[257..263].copy_from_slice(b"ustar\0");
        assert_eq!(sniff(&tar), Format::Tar);
        assert_eq!(sniff(b"\x7fELF\x02\x01\x01\0"), Format::Elf);
        assert_eq!(sniff(b"!<arch>\n/   "), Format::Ar);
        assert_eq!(sniff(b"PK\x03\x04\x14\0"), Format::Zip);
        assert_eq!(sniff(b"\x1f\x8b\x08\0"), Format::Gzip);
        // CPython 3.11's magic number, 3495.
        assert_eq!(sniff(b"\xa7\x0d\r\n\0\0\0\0"), Format::Pyc);
        assert_eq!(sniff(b"\x01\x00\r\nxxxx"), Format::Binary);
        assert_eq!(sniff(b"x\r\r\nabcd"), Format::Text);
    }
}
