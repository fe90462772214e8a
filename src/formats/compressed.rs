//! Compressed streams without headers worth comparing field by field (xz,
//! zstd, bzip2), and streams of two different codecs: both sides are
//! decompressed within the limits and what they hold is compared as the
//! member `x.tar.xz!x.tar`, so a tarball inside recurses into its members
//! (issue 12, class 11). The same content under other compressed bytes
//! (another level, dictionary size, codec) is `compressor`. gzip, whose
//! header has fields of its own, has its own comparator and comes here
//! for its content.
#![deny(clippy::indexing_slicing)]

use std::borrow::Cow;

use super::inflate::{Codec, Pair, report_streamed, unpack_pair};
use super::{Comparator, Cx, Format, or_bytes};
use crate::finding::{Cause, Evidence, Location};

pub(crate) struct StreamComparator(pub Format);

impl Comparator for StreamComparator {
    fn compare(&self, cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
        or_bytes(cx, a, b, |cx| compare(cx, (self.0, a), (self.0, b)));
    }
}

/// File-name suffixes of compressed streams, and what they stand for once
/// decompressed (`.tgz` holds a `.tar`).
const SUFFIXES: [(&str, &str); 9] = [
    (".gz", ""),
    (".tgz", ".tar"),
    (".xz", ""),
    (".txz", ".tar"),
    (".zst", ""),
    (".zstd", ""),
    (".tzst", ".tar"),
    (".bz2", ""),
    (".tbz2", ".tar"),
];

/// A name without its compression suffix (`data.tar.xz` gives
/// `data.tar`, `x.tgz` gives `x.tar`); `None` when it has none.
pub(crate) fn stem(name: &[u8]) -> Option<Vec<u8>> {
    SUFFIXES.iter().find_map(|(suffix, then)| {
        let s = name.strip_suffix(suffix.as_bytes())?;
        (!s.is_empty() && !s.ends_with(b"/")).then(|| [s, then.as_bytes()].concat())
    })
}

/// The name a decompressed stream is compared under: the artifact's own
/// name without its compression suffix, else `(decompressed)`.
pub(crate) fn inner_name(cx: &Cx<'_>) -> Vec<u8> {
    let last = cx.artifact.last_segment();
    let base = last.rsplit(|&c| c == b'/').next().unwrap_or(last);
    stem(base).unwrap_or_else(|| b"(decompressed)".to_vec())
}

/// The decompressed contents of side A and side B.
pub(crate) type Both<'d> = (Cow<'d, [u8]>, Cow<'d, [u8]>);

/// Both sides of stream `name` decompressed (each with its own codec),
/// or `None` once what happened instead is reported: a limit, a corrupt
/// side (`unparsed`, then the bytes compared), or two members too large to
/// hold (compared as streams). Equal streams too large to hold come back
/// as two empty contents: equal, which is all the callers need.
pub(crate) fn decompressed<'d>(
    cx: &mut Cx<'_>,
    name: &[u8],
    (fa, ca, a): (Format, Codec, &'d [u8]),
    (fb, cb, b): (Format, Codec, &'d [u8]),
) -> Option<Both<'d>> {
    match unpack_pair(cx, name, (ca, a), (cb, b)) {
        Pair::Both(x, y) => Some((x, y)),
        Pair::Streamed(s) if s.same() => Some((Cow::Borrowed(&[][..]), Cow::Borrowed(&[][..]))),
        Pair::Streamed(s) => {
            report_streamed(cx, name, &s);
            None
        }
        Pair::Limit => None,
        Pair::Corrupt(side_a, why) => {
            let (side, format) = if side_a { ("A", fa) } else { ("B", fb) };
            cx.unparsed(format, format!("{side} does not decompress: {why}"), a, b);
            None
        }
    }
}

/// Decompress both sides (each with its own codec) and compare what they
/// hold.
pub(crate) fn compare(cx: &mut Cx<'_>, (fa, a): (Format, &[u8]), (fb, b): (Format, &[u8])) {
    let (Some(ca), Some(cb)) = (Codec::of(fa), Codec::of(fb)) else {
        return;
    };
    let name = inner_name(cx);
    let Some((ua, ub)) = decompressed(cx, &name, (fa, ca, a), (fb, cb, b)) else {
        return;
    };
    let same = ua == ub;
    if same || fa != fb {
        // The same content under other compressed bytes, or another codec
        // (which is a compressor change whatever the content).
        let ev = |f: Format, d: &[u8]| {
            Evidence::value(format!("{}, {} bytes compressed", f.name(), d.len()))
        };
        cx.emit(
            Location::Field {
                path: vec!["compressed stream".to_owned()],
                at: Some(0),
            },
            Cause::Compressor { format: fa },
            ev(fa, a),
            ev(fb, b),
            b"compressed stream",
        );
    }
    if !same {
        cx.member(&name, &ua, &ub);
    }
}

#[cfg(test)]
#[expect(clippy::indexing_slicing, reason = "tests index what they built")]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::formats::Limits;
    use crate::formats::testing::with_cx;

    #[test]
    fn stems_drop_compression_suffixes() {
        assert_eq!(stem(b"control.tar.gz").unwrap(), b"control.tar");
        assert_eq!(stem(b"src.tgz").unwrap(), b"src.tar");
        assert_eq!(stem(b"pkg.tar.zst").unwrap(), b"pkg.tar");
        assert!(stem(b"notes.txt").is_none());
        assert!(stem(b".gz").is_none());
    }

    #[test]
    fn bzip2_content_is_compared_and_another_level_is_the_compressor() {
        let bz = |level: u32, data: &[u8]| {
            let mut w = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(level));
            w.write_all(data).unwrap();
            w.finish().unwrap()
        };
        let text = b"line one\nline two\n".repeat(40);
        let mut other = text.clone();
        other[9] = b'X';
        let (f, _) = with_cx("notes.txt.bz2", &Limits::default(), |cx| {
            crate::formats::compare_bytes(cx, &bz(9, &text), &bz(9, &other));
        });
        assert!(
            f.iter()
                .any(|f| f.artifact.to_string() == "notes.txt.bz2!notes.txt"),
            "{f:#?}"
        );
        let (f, _) = with_cx("notes.txt.bz2", &Limits::default(), |cx| {
            crate::formats::compare_bytes(cx, &bz(1, &text), &bz(9, &text));
        });
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(
            f[0].cause,
            Cause::Compressor {
                format: Format::Bzip2
            }
        );
    }
}
