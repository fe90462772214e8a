//! gzip (RFC 1952): the member header's fields (MTIME, FNAME, FCOMMENT,
//! FEXTRA, XFL, OS) compared one by one, then the decompressed stream
//! compared as a member, `x.tar.gz!x.tar`, so a tarball inside recurses
//! into its members. Same decompressed content with other deflate bytes is
//! `compressor`.
#![deny(clippy::indexing_slicing)]

use super::archive::{epoch_evidence, text_field, unknown};

use super::bytes::{Bytes, Result};
use super::compressed::{decompressed, inner_name as inner_name_of};
use super::inflate::Codec;
use super::{Comparator, Cx, Format, or_bytes};
use crate::finding::{Cause, Evidence, Location, TimestampEncoding};

pub(crate) struct GzipComparator;

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Header<'d> {
    flags: u8,
    mtime: u32,
    xfl: u8,
    os: u8,
    extra: Option<&'d [u8]>,
    name: Option<&'d [u8]>,
    comment: Option<&'d [u8]>,
    /// Offset of the deflate stream.
    len: usize,
}

fn header(data: &[u8]) -> Result<Header<'_>> {
    let mut r = Bytes::new(data);
    if r.array::<2>()? != [0x1f, 0x8b] {
        return Err(r.error("not a gzip member"));
    }
    let cm = r.u8()?;
    if cm != 8 {
        return Err(r.error(format!("compression method {cm}, not deflate (8)")));
    }
    let flags = r.u8()?;
    if flags & 0xe0 != 0 {
        return Err(r.error(format!("reserved flag bits set ({flags:#04x})")));
    }
    let mtime = r.u32_le()?;
    let xfl = r.u8()?;
    let os = r.u8()?;
    let extra = if flags & FEXTRA != 0 {
        let n = usize::from(r.u16_le()?);
        Some(r.take(n)?)
    } else {
        None
    };
    let name = if flags & FNAME != 0 {
        Some(r.until(0)?)
    } else {
        None
    };
    let comment = if flags & FCOMMENT != 0 {
        Some(r.until(0)?)
    } else {
        None
    };
    if flags & FHCRC != 0 {
        r.skip(2)?;
    }
    Ok(Header {
        flags,
        mtime,
        xfl,
        os,
        extra,
        name,
        comment,
        len: r.pos(),
    })
}

fn os_name(os: u8) -> String {
    let name = match os {
        0 => "FAT",
        3 => "Unix",
        7 => "Macintosh",
        11 => "NTFS",
        255 => "unknown",
        _ => "other",
    };
    format!("{os} ({name})")
}

fn xfl_name(xfl: u8) -> String {
    let name = match xfl {
        2 => "maximum compression",
        4 => "fastest",
        _ => "unspecified",
    };
    format!("XFL {xfl} ({name})")
}

fn at(field: &str, off: u64) -> Location {
    Location::Field {
        path: vec!["header".into(), field.into()],
        at: Some(off),
    }
}

/// The name the decompressed stream is compared under: the stored FNAME,
/// else the artifact's own name without `.gz` (`.tgz` gives `.tar`).
fn inner_name(cx: &Cx<'_>, h: &Header<'_>) -> Vec<u8> {
    match h.name.filter(|n| !n.is_empty()) {
        Some(n) => n.to_vec(),
        None => inner_name_of(cx),
    }
}

fn optional(cx: &mut Cx<'_>, field: &str, off: u64, a: Option<&[u8]>, b: Option<&[u8]>) {
    match (a, b) {
        (Some(x), Some(y)) if x != y => text_field(cx, at(field, off), x, y),
        (Some(_), None) | (None, Some(_)) => {
            let ev = |v: Option<&[u8]>| {
                v.map_or_else(
                    || Evidence::value("(absent)"),
                    |v| Evidence::value(v.to_vec()),
                )
            };
            // A name stored by `gzip` and left out by `gzip -n`: the
            // compressor's options (issue 12, class 11).
            let cause = if field == "FNAME" {
                Cause::Compressor {
                    format: Format::Gzip,
                }
            } else {
                unknown()
            };
            cx.emit(at(field, off), cause, ev(a), ev(b), b"");
        }
        _ => {}
    }
}

impl Comparator for GzipComparator {
    fn compare(&self, cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
        or_bytes(cx, a, b, |cx| compare(cx, a, b));
    }
}

fn compare(cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
    let (ha, hb) = match (header(a), header(b)) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(e), _) | (_, Err(e)) => {
            cx.unparsed(Format::Gzip, e.to_string(), a, b);
            return;
        }
    };
    if ha.mtime != hb.mtime {
        let ev = |t: u32| {
            if t == 0 {
                Evidence::value("0 (no time stored)")
            } else {
                epoch_evidence(i64::from(t), &t.to_string())
            }
        };
        cx.emit(
            at("MTIME", 4),
            Cause::Timestamp {
                encoding: TimestampEncoding::GzipMtime,
            },
            ev(ha.mtime),
            ev(hb.mtime),
            b"",
        );
    }
    if ha.os != hb.os {
        cx.emit(
            at("OS", 9),
            unknown(),
            Evidence::value(os_name(ha.os)),
            Evidence::value(os_name(hb.os)),
            b"",
        );
    }
    if ha.xfl != hb.xfl {
        // The compression level the compressor recorded: reported whether
        // or not the content differs too.
        cx.emit(
            at("XFL", 8),
            Cause::Compressor {
                format: Format::Gzip,
            },
            Evidence::value(xfl_name(ha.xfl)),
            Evidence::value(xfl_name(hb.xfl)),
            b"",
        );
    }
    let varying = FEXTRA | FNAME | FCOMMENT;
    if ha.flags & !varying != hb.flags & !varying {
        cx.emit(
            at("FLG", 3),
            unknown(),
            Evidence::value(format!("{:#04x}", ha.flags)),
            Evidence::value(format!("{:#04x}", hb.flags)),
            b"",
        );
    }
    optional(cx, "FEXTRA", 10, ha.extra, hb.extra);
    let name_at = 10 + ha.extra.map_or(0, |e| e.len() as u64 + 2);
    optional(cx, "FNAME", name_at, ha.name, hb.name);
    let comment_at = name_at + ha.name.map_or(0, |n| n.len() as u64 + 1);
    optional(cx, "FCOMMENT", comment_at, ha.comment, hb.comment);

    let (sa, sb) = (
        a.get(ha.len..).unwrap_or_default(),
        b.get(hb.len..).unwrap_or_default(),
    );
    if sa == sb {
        return;
    }
    let name = inner_name(cx, &ha);
    let gz = |d| (Format::Gzip, Codec::Gzip, d);
    let Some((ua, ub)) = decompressed(cx, &name, gz(a), gz(b)) else {
        return;
    };
    if ua == ub {
        if ha.xfl != hb.xfl {
            // Said above, by the XFL field.
            return;
        }
        let ev = |h: &Header<'_>, s: &[u8]| {
            Evidence::value(format!("{}, {} bytes compressed", xfl_name(h.xfl), s.len()))
        };
        cx.emit(
            at("deflate stream", ha.len as u64),
            Cause::Compressor {
                format: Format::Gzip,
            },
            ev(&ha, sa),
            ev(&hb, sb),
            b"",
        );
        return;
    }
    cx.member(&name, &ua, &ub);
}

#[cfg(test)]
#[expect(
    clippy::indexing_slicing,
    reason = "tests index fixtures they just built"
)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::finding::Finding;
    use crate::formats::Limits;
    use crate::formats::testing::compare_with;

    fn gz(mtime: u32, name: Option<&str>, level: u32, data: &[u8]) -> Vec<u8> {
        let mut b = flate2::GzBuilder::new().mtime(mtime);
        if let Some(n) = name {
            b = b.filename(n);
        }
        let mut w = b.write(Vec::new(), flate2::Compression::new(level));
        w.write_all(data).unwrap();
        w.finish().unwrap()
    }

    fn compare(artifact: &str, a: &[u8], b: &[u8]) -> Vec<Finding> {
        compare_with(&GzipComparator, artifact, &Limits::default(), a, b).0
    }

    #[test]
    fn header_fields_and_content_are_told_apart() {
        let text = b"hello\n".repeat(50);
        let f = compare(
            "x.txt.gz",
            &gz(1_764_078_312, Some("x.txt"), 9, &text),
            &gz(1_764_164_713, Some("y.txt"), 9, &b"hello\n".repeat(51)),
        );
        let got: Vec<_> = f
            .iter()
            .map(|f| (f.artifact.to_string(), f.cause.name()))
            .collect();
        assert_eq!(got[0], ("x.txt.gz".into(), "timestamp"));
        assert!(
            got.iter().any(|(a, c)| a == "x.txt.gz" && *c == "unknown"),
            "{got:?}"
        );
        assert!(got.iter().any(|(a, _)| a == "x.txt.gz!x.txt"), "{got:?}");
    }

    #[test]
    fn same_content_other_level_is_the_compressor() {
        let text = b"abcabcabd".repeat(500);
        let f = compare("data.gz", &gz(0, None, 1, &text), &gz(0, None, 9, &text));
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(
            f[0].cause,
            Cause::Compressor {
                format: Format::Gzip
            }
        );
    }

    #[test]
    fn every_truncation_is_a_finding_not_a_panic() {
        let a = gz(1, Some("n"), 6, &b"some text\n".repeat(20));
        let b = gz(2, Some("n"), 6, &b"some text!\n".repeat(20));
        for cut in 0..b.len() {
            let f = compare("t.gz", &a, &b[..cut]);
            assert!(!f.is_empty(), "cut {cut}");
        }
    }
}
