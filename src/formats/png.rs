//! PNG: chunks paired by type and occurrence and compared one by one
//! (issue 12, classes 3 and 4). `tIME` is decoded, text chunks (`tEXt`,
//! `zTXt`, `iTXt`) are read by the text detectors, the image data (all
//! `IDAT` chunks together) is inflated and compared by content, and a
//! chunk's CRC that changed with its data is a consequence of that change.
#![deny(clippy::indexing_slicing)]

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::archive::unknown;
use super::binary::excerpt;
use super::bytes::{Bytes, ParseError, Result};
use super::inflate::{Codec, Unpacked, unpack};
use super::{Comparator, Cx, Format, or_bytes};
use crate::classify::clock::png_time;
use crate::finding::{Cause, Decoded, Evidence, Location, TimestampEncoding};

pub(crate) struct PngComparator;

const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

#[derive(Clone, Debug)]
struct Chunk<'d> {
    kind: [u8; 4],
    data: &'d [u8],
    data_at: u64,
    crc: u32,
    crc_at: u64,
    /// The stored CRC is the CRC-32 of the type and data.
    crc_ok: bool,
}

impl Chunk<'_> {
    fn name(&self) -> String {
        String::from_utf8_lossy(&self.kind).into_owned()
    }
}

fn parse(data: &[u8]) -> Result<Vec<Chunk<'_>>> {
    let mut r = Bytes::new(data);
    if r.take(8)? != SIGNATURE {
        return Err(ParseError::new(0, "not a PNG signature"));
    }
    let mut out = Vec::new();
    while !r.at_end() {
        let len = r.u32_be()?;
        let kind = r.array::<4>()?;
        let data_at = r.offset();
        let body = r.take(len as usize).map_err(|e| {
            ParseError::new(
                e.at,
                format!(
                    "chunk {} of {len} bytes runs past the end (truncated?)",
                    String::from_utf8_lossy(&kind)
                ),
            )
        })?;
        let crc_at = r.offset();
        let crc = r.u32_be()?;
        let mut sum = flate2::Crc::new();
        sum.update(&kind);
        sum.update(body);
        out.push(Chunk {
            kind,
            data: body,
            data_at,
            crc,
            crc_at,
            crc_ok: sum.sum() == crc,
        });
        if &kind == b"IEND" {
            break;
        }
    }
    Ok(out)
}

impl Comparator for PngComparator {
    fn compare(&self, cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
        or_bytes(cx, a, b, |cx| compare(cx, a, b));
    }
}

/// Chunks keyed by type and occurrence; `IDAT` chunks are one stream.
fn keyed<'c, 'd>(chunks: &'c [Chunk<'d>]) -> BTreeMap<([u8; 4], usize), &'c Chunk<'d>> {
    let mut seen: BTreeMap<[u8; 4], usize> = BTreeMap::new();
    chunks
        .iter()
        .map(|c| {
            let n = seen.entry(c.kind).or_default();
            *n += 1;
            ((c.kind, *n), c)
        })
        .collect()
}

fn loc(c: &Chunk<'_>, field: Option<&str>, at: u64) -> Location {
    let mut path = vec![format!("chunk {}", c.name())];
    path.extend(field.map(str::to_owned));
    Location::Field { path, at: Some(at) }
}

fn compare(cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
    let (ca, cb) = match (parse(a), parse(b)) {
        (Ok(x), Ok(y)) => (x, y),
        (Err(e), _) | (_, Err(e)) => {
            cx.unparsed(Format::Png, e.to_string(), a, b);
            return;
        }
    };
    let (ka, kb) = (keyed(&ca), keyed(&cb));
    let limit = cx.limits.evidence_bytes;
    for (key, x) in &ka {
        let Some(y) = kb.get(key) else {
            cx.emit(
                loc(x, None, x.data_at),
                unknown(),
                Evidence::value("present"),
                Evidence::absent(),
                &x.kind,
            );
            continue;
        };
        if &x.kind == b"IDAT" {
            continue;
        }
        if x.data != y.data {
            cx.for_entry(|cx| chunk(cx, a, b, x, y));
        }
        if x.crc != y.crc {
            let cause = if x.data != y.data && x.crc_ok && y.crc_ok {
                Cause::Consequence {
                    of: format!("the change of the {} chunk", x.name()),
                }
            } else {
                unknown()
            };
            let span = x.crc_at as usize..x.crc_at as usize + 4;
            let span_b = y.crc_at as usize..y.crc_at as usize + 4;
            cx.emit(
                loc(x, Some("CRC"), x.crc_at),
                cause,
                Evidence::of(excerpt(a, span, limit)),
                Evidence::of(excerpt(b, span_b, limit)),
                b"CRC",
            );
        }
    }
    for (key, y) in &kb {
        if !ka.contains_key(key) {
            cx.emit(
                loc(y, None, y.data_at),
                unknown(),
                Evidence::absent(),
                Evidence::value("present"),
                &y.kind,
            );
        }
    }
    image_data(cx, &ca, &cb);
}

/// One chunk whose data differ.
fn chunk(cx: &mut Cx<'_>, a: &[u8], b: &[u8], x: &Chunk<'_>, y: &Chunk<'_>) {
    let limit = cx.limits.evidence_bytes;
    match &x.kind {
        b"tIME" => {
            let (ta, tb) = (png_time(x.data), png_time(y.data));
            let cause = match (ta, tb) {
                (Some(p), Some(q)) if p != q => Cause::Timestamp {
                    encoding: TimestampEncoding::PngTime,
                },
                _ => unknown(),
            };
            let ev = |file: &[u8], c: &Chunk<'_>, t: Option<i64>| {
                let r = c.data_at as usize..c.data_at as usize + c.data.len();
                Evidence::of(excerpt(file, r, limit)).with_token(c.data, t.map(Decoded::Time))
            };
            cx.emit(
                loc(x, None, x.data_at),
                cause,
                ev(a, x, ta),
                ev(b, y, tb),
                b"tIME",
            );
        }
        b"tEXt" | b"zTXt" | b"iTXt" => text(cx, x, y),
        _ => {
            let first = x
                .data
                .iter()
                .zip(y.data)
                .take_while(|(p, q)| p == q)
                .count();
            let at = |c: &Chunk<'_>| c.data_at as usize + first;
            cx.emit(
                loc(x, None, at(x) as u64),
                unknown(),
                Evidence::of(excerpt(a, at(x)..at(x) + 1, limit)),
                Evidence::of(excerpt(b, at(y)..at(y) + 1, limit)),
                &x.kind,
            );
        }
    }
}

/// A text chunk's keyword, its text, and the text's offset in the file
/// when it is stored plainly.
type TextChunk<'d> = (&'d [u8], Cow<'d, [u8]>, Option<u64>);

/// A text chunk's keyword and text (inflated for `zTXt`, and for `iTXt`
/// with its compression flag set), with the text's offset in the file
/// when it is stored plainly.
fn text_of<'d>(cx: &mut Cx<'_>, c: &Chunk<'d>) -> Option<TextChunk<'d>> {
    let nul = c.data.iter().position(|&v| v == 0)?;
    let keyword = c.data.get(..nul)?;
    let rest = c.data.get(nul + 1..)?;
    let rest_at = c.data_at + nul as u64 + 1;
    let (compressed, body, body_at) = match &c.kind {
        b"tEXt" => (false, rest, rest_at),
        b"zTXt" => (true, rest.get(1..)?, rest_at + 1),
        _ => {
            // iTXt: compression flag, method, language\0, translated keyword\0, text.
            let flag = *rest.first()?;
            let after = rest.get(2..)?;
            let lang = after.iter().position(|&v| v == 0)?;
            let after_lang = after.get(lang + 1..)?;
            let tk = after_lang.iter().position(|&v| v == 0)?;
            let skip = 2 + lang + 1 + tk + 1;
            (flag == 1, rest.get(skip..)?, rest_at + skip as u64)
        }
    };
    if !compressed {
        return Some((keyword, Cow::Borrowed(body), Some(body_at)));
    }
    match unpack(cx, Codec::Zlib, body) {
        Unpacked::Data(d) => Some((keyword, Cow::Owned(d.into_owned()), None)),
        _ => None,
    }
}

fn text(cx: &mut Cx<'_>, x: &Chunk<'_>, y: &Chunk<'_>) {
    let (Some((kx, tx, at_x)), Some((ky, ty, _))) = (text_of(cx, x), text_of(cx, y)) else {
        cx.emit(
            loc(x, None, x.data_at),
            unknown(),
            hex(x.data),
            hex(y.data),
            &x.kind,
        );
        return;
    };
    let keyword = String::from_utf8_lossy(kx).into_owned();
    if kx != ky {
        cx.emit(
            loc(x, Some("keyword"), x.data_at),
            unknown(),
            Evidence::value(kx),
            Evidence::value(ky),
            &x.kind,
        );
        return;
    }
    let e = cx.classifier.explain_text(&tx, &ty);
    let base = at_x.unwrap_or(x.data_at);
    let place = |at: u64| loc(x, Some(&keyword), at);
    if !e.residual {
        for found in e.found {
            let at = at_x.map_or(base, |v| v + found.a.start as u64);
            let ea = Evidence::value(tx.to_vec()).with_token(
                tx.get(found.a.clone()).unwrap_or_default(),
                found.a_time.map(Decoded::Time),
            );
            let eb = Evidence::value(ty.to_vec()).with_token(
                ty.get(found.b.clone()).unwrap_or_default(),
                found.b_time.map(Decoded::Time),
            );
            cx.emit(place(at), found.cause, ea, eb, kx);
        }
        return;
    }
    cx.emit(
        place(base),
        unknown(),
        Evidence::value(tx.to_vec()),
        Evidence::value(ty.to_vec()),
        kx,
    );
}

fn hex(d: &[u8]) -> Evidence {
    Evidence::value(crate::finding::hex(d))
}

/// The image data: all `IDAT` chunks as one zlib stream. The same pixels
/// compressed differently are the compressor.
fn image_data(cx: &mut Cx<'_>, ca: &[Chunk<'_>], cb: &[Chunk<'_>]) {
    let joined = |c: &[Chunk<'_>]| -> Vec<u8> {
        c.iter()
            .filter(|c| &c.kind == b"IDAT")
            .flat_map(|c| c.data.iter().copied())
            .collect()
    };
    let (ja, jb) = (joined(ca), joined(cb));
    if ja == jb {
        return;
    }
    let first_at = |c: &[Chunk<'_>]| {
        c.iter()
            .find(|c| &c.kind == b"IDAT")
            .map_or(0, |c| c.data_at)
    };
    let at = first_at(ca);
    let (ua, ub) = match (unpack(cx, Codec::Zlib, &ja), unpack(cx, Codec::Zlib, &jb)) {
        (Unpacked::Data(x), Unpacked::Data(y)) => (x, y),
        (Unpacked::Limit, _) | (_, Unpacked::Limit) => return,
        _ => (Cow::Borrowed(&ja[..]), Cow::Borrowed(&jb[..])),
    };
    let cause = if ua == ub {
        Cause::Compressor {
            format: Format::Png,
        }
    } else {
        unknown()
    };
    let ev = |raw: &[u8], inflated: &[u8]| {
        Evidence::value(format!(
            "{} bytes of image data ({} inflated)",
            raw.len(),
            inflated.len()
        ))
    };
    cx.emit(
        Location::Field {
            path: vec!["chunk IDAT".to_owned(), "image data".to_owned()],
            at: Some(at),
        },
        cause,
        ev(&ja, &ua),
        ev(&jb, &ub),
        b"IDAT",
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::Limits;
    use crate::formats::testing::{compare_with, fixture};

    fn run(case: &str) -> Vec<crate::finding::Finding> {
        let a = fixture(&format!("precision/{case}/a/image.png"));
        let b = fixture(&format!("precision/{case}/b/image.png"));
        compare_with(&PngComparator, "image.png", &Limits::default(), &a, &b).0
    }

    #[test]
    fn time_chunk_and_its_crc() {
        let f = run("c04-png-time");
        let got: Vec<(&str, u64)> = f
            .iter()
            .map(|f| (f.cause.name(), f.location.order_key().1))
            .collect();
        assert_eq!(got, [("timestamp", 0x84), ("consequence", 0x8b)], "{f:#?}");
        assert_eq!(
            f.first().map(|f| f.a.decoded.clone()),
            Some(Some(Decoded::Time(1_500_000_000)))
        );
    }

    #[test]
    fn a_date_in_a_text_chunk_and_its_crc() {
        let f = run("c03-png-text");
        let got: Vec<&str> = f.iter().map(|f| f.cause.name()).collect();
        assert_eq!(got, ["timestamp", "consequence"], "{f:#?}");
    }

    #[test]
    fn every_truncation_is_unparsed_not_a_panic() {
        let a = fixture("precision/c04-png-time/a/image.png");
        for cut in 0..a.len() {
            let (f, _) = compare_with(
                &PngComparator,
                "x.png",
                &Limits::default(),
                &a,
                a.get(..cut).unwrap_or_default(),
            );
            assert!(!f.is_empty(), "cut {cut}");
        }
    }
}
