//! One zip entry's content: decompressing both sides within the budget,
//! and comparing them as a member (or as a compressor difference when they
//! decompress to the same bytes). Shared by the archive comparison and the
//! wheel `RECORD` reader.
#![deny(clippy::indexing_slicing)]

use std::borrow::Cow;

use super::read::Entry;
use crate::finding::{Cause, Evidence, Format, Location};
use crate::formats::Cx;
use crate::formats::archive::{field_loc, unknown};
use crate::formats::compressed::Both;
use crate::formats::inflate::{self, Codec, Pair, report_streamed};

pub(super) fn loc(name: &[u8], field: &str, at: u64) -> Location {
    field_loc("entry", name, field, at)
}

pub(super) fn method_name(m: u16) -> String {
    match m {
        0 => "stored".into(),
        8 => "deflated".into(),
        9 => "deflate64".into(),
        12 => "bzip2".into(),
        14 => "lzma".into(),
        93 => "zstd".into(),
        95 => "xz".into(),
        other => format!("method {other}"),
    }
}

fn codec(method: u16) -> Option<Codec> {
    match method {
        0 => Some(Codec::Stored),
        8 => Some(Codec::Deflate),
        12 => Some(Codec::Bzip2),
        93 => Some(Codec::Zstd),
        95 => Some(Codec::Xz),
        _ => None,
    }
}

/// General-purpose flag bit 0: the entry is encrypted (APPNOTE 4.4.4).
const ENCRYPTED: u16 = 1;

/// Decompress both sides of one entry. `None` when a limit was reached or
/// a side could not be decompressed (its finding has been emitted).
pub(super) fn unpack_pair<'d>(cx: &mut Cx<'_>, ea: &Entry<'d>, eb: &Entry<'d>) -> Option<Both<'d>> {
    let (Some(ca), Some(cb)) = (codec(ea.method), codec(eb.method)) else {
        cx.emit(
            loc(ea.name, "data", ea.data_at),
            unknown(),
            Evidence::value(format!(
                "{}, {} bytes (not decompressed)",
                method_name(ea.method),
                ea.data.len()
            )),
            Evidence::value(format!(
                "{}, {} bytes (not decompressed)",
                method_name(eb.method),
                eb.data.len()
            )),
            b"",
        );
        return None;
    };
    match inflate::unpack_pair(cx, ea.name, (ca, ea.data), (cb, eb.data)) {
        Pair::Both(a, b) => Some((a, b)),
        Pair::Streamed(s) if s.same() => Some((Cow::Borrowed(&[][..]), Cow::Borrowed(&[][..]))),
        Pair::Streamed(s) => {
            report_streamed(cx, ea.name, &s);
            None
        }
        Pair::Limit => None,
        Pair::Corrupt(side_a, why) => {
            let e = if side_a { ea } else { eb };
            cx.emit(
                loc(e.name, "data", e.data_at),
                Cause::Unparsed {
                    format: Format::Zip,
                    reason: format!(
                        "{} does not decompress: {why}",
                        String::from_utf8_lossy(e.name)
                    ),
                },
                Evidence::absent(),
                Evidence::absent(),
                b"",
            );
            None
        }
    }
}

/// Compare the contents of one entry; true when they differ once
/// decompressed.
pub(super) fn content(cx: &mut Cx<'_>, ea: &Entry<'_>, eb: &Entry<'_>) -> bool {
    if ea.method == eb.method && ea.data == eb.data {
        return false;
    }
    if (ea.flags | eb.flags) & ENCRYPTED != 0 {
        // Ciphertext: a random header (salt) makes every run differ, and
        // what it hides cannot be compared (issue 12, class 10).
        let ev = |e: &Entry<'_>| {
            let state = if e.flags & ENCRYPTED != 0 {
                "encrypted"
            } else {
                "not encrypted"
            };
            Evidence::value(format!("{state}, {} bytes", e.data.len()))
        };
        cx.emit(
            loc(ea.name, "data", ea.data_at),
            Cause::Encrypted {
                format: Format::Zip,
            },
            ev(ea),
            ev(eb),
            b"encrypted",
        );
        return ea.crc != eb.crc;
    }
    let Some((ua, ub)) = unpack_pair(cx, ea, eb) else {
        return ea.crc != eb.crc;
    };
    if ua == ub {
        let ev = |e: &Entry<'_>| {
            Evidence::value(format!(
                "{}, {} bytes compressed",
                method_name(e.method),
                e.data.len()
            ))
        };
        cx.emit(
            loc(ea.name, "compressed data", ea.data_at),
            Cause::Compressor {
                format: Format::Zip,
            },
            ev(ea),
            ev(eb),
            b"",
        );
        return false;
    }
    cx.member(ea.name, &ua, &ub);
    true
}
