//! cpio archives (initramfs images, RPM payloads, `find | cpio -o`): the
//! old binary format (`-H bin`, 16-bit words in the writer's byte order,
//! the mtime as two words, high first), the POSIX odc format (octal text)
//! and the SVR4 newc/crc formats (hexadecimal text). Headers are read
//! through the checked reader and compared field by field like tar's
//! (issue 12, class 4); contents are compared as members `x.cpio!path`.
#![deny(clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};

use super::archive::{
    epoch_evidence, field_loc, one_sided, order, parse_both, suspicious, unknown, unsafe_name,
};
use super::bytes::{Bytes, ParseError, Result};
use super::{Comparator, Cx, Format, or_bytes};
use crate::finding::{Cause, Decoded, Evidence, LimitKind, MetadataField, TimestampEncoding};

pub(crate) struct CpioComparator;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Old binary, little-endian words.
    BinLe,
    /// Old binary, big-endian words.
    BinBe,
    /// POSIX.1 portable format (`070707` in octal text).
    Odc,
    /// SVR4 `070701`, and `070702` with a data checksum.
    Newc { crc: bool },
}

impl Kind {
    fn of(data: &[u8]) -> Option<Kind> {
        match data.get(..6)? {
            b"070707" => Some(Kind::Odc),
            b"070701" => Some(Kind::Newc { crc: false }),
            b"070702" => Some(Kind::Newc { crc: true }),
            [0xc7, 0x71, ..] => Some(Kind::BinLe),
            [0x71, 0xc7, ..] => Some(Kind::BinBe),
            _ => None,
        }
    }
}

/// Does `data` start with a cpio header? The binary formats' 2-byte magic
/// is weak, so their header must also hold a plausible name.
pub(crate) fn is_cpio(data: &[u8]) -> bool {
    match Kind::of(data) {
        Some(Kind::BinLe | Kind::BinBe) => parse(data, 1).is_ok(),
        Some(_) => true,
        None => false,
    }
}

/// One field of a member header: name, offset in the header, width, value.
#[derive(Clone, Copy, Debug)]
struct HeaderField {
    name: &'static str,
    at: u64,
    value: u64,
}

#[derive(Clone, Debug)]
struct Member<'d> {
    header_at: u64,
    name: Vec<u8>,
    /// Every numeric header field, in header order.
    fields: Vec<HeaderField>,
    data: &'d [u8],
}

impl Member<'_> {
    fn field(&self, name: &str) -> Option<HeaderField> {
        self.fields.iter().copied().find(|f| f.name == name)
    }
}

#[derive(Debug, Default)]
struct Archive<'d> {
    members: Vec<Member<'d>>,
    capped: bool,
    suspicious: Vec<(Vec<u8>, String)>,
}

/// Field names and widths of the text headers, after the 6-byte magic.
const ODC: [(&str, u64); 10] = [
    ("c_dev", 6),
    ("c_ino", 6),
    ("c_mode", 6),
    ("c_uid", 6),
    ("c_gid", 6),
    ("c_nlink", 6),
    ("c_rdev", 6),
    ("c_mtime", 11),
    ("c_namesize", 6),
    ("c_filesize", 11),
];
const NEWC: [(&str, u64); 13] = [
    ("c_ino", 8),
    ("c_mode", 8),
    ("c_uid", 8),
    ("c_gid", 8),
    ("c_nlink", 8),
    ("c_mtime", 8),
    ("c_filesize", 8),
    ("c_devmajor", 8),
    ("c_devminor", 8),
    ("c_rdevmajor", 8),
    ("c_rdevminor", 8),
    ("c_namesize", 8),
    ("c_check", 8),
];
/// The old binary header: 16-bit words; `c_mtime` and `c_filesize` are
/// two words each, the high one first.
const BIN: [(&str, u64); 10] = [
    ("c_dev", 2),
    ("c_ino", 2),
    ("c_mode", 2),
    ("c_uid", 2),
    ("c_gid", 2),
    ("c_nlink", 2),
    ("c_rdev", 2),
    ("c_mtime", 4),
    ("c_namesize", 2),
    ("c_filesize", 4),
];

fn text_number(field: &[u8], radix: u32, at: u64, name: &str) -> Result<u64> {
    std::str::from_utf8(field)
        .ok()
        .and_then(|t| u64::from_str_radix(t, radix).ok())
        .ok_or_else(|| {
            ParseError::new(
                at,
                format!(
                    "{name} is not a number: {:?}",
                    String::from_utf8_lossy(field)
                ),
            )
        })
}

fn header(r: &Bytes<'_>, at: u64, kind: Kind) -> Result<(Vec<HeaderField>, u64)> {
    let mut fields = Vec::new();
    let mut off = match kind {
        Kind::BinLe | Kind::BinBe => 2,
        _ => 6,
    };
    let layout: &[(&str, u64)] = match kind {
        Kind::Odc => &ODC,
        Kind::Newc { .. } => &NEWC,
        Kind::BinLe | Kind::BinBe => &BIN,
    };
    let word = |b: &[u8]| -> u64 {
        let (x, y) = (
            u64::from(b.first().copied().unwrap_or(0)),
            u64::from(b.get(1).copied().unwrap_or(0)),
        );
        if kind == Kind::BinLe {
            x | (y << 8)
        } else {
            (x << 8) | y
        }
    };
    for &(name, width) in layout {
        let raw = r.read_at(at + off, width)?;
        let value = match kind {
            Kind::Odc => text_number(raw, 8, at + off, name)?,
            Kind::Newc { .. } => text_number(raw, 16, at + off, name)?,
            _ if width == 4 => {
                (word(raw.get(..2).unwrap_or_default()) << 16)
                    | word(raw.get(2..).unwrap_or_default())
            }
            _ => word(raw),
        };
        fields.push(HeaderField {
            name,
            at: off,
            value,
        });
        off += width;
    }
    Ok((fields, off))
}

fn parse(data: &[u8], max_members: u64) -> Result<Archive<'_>> {
    let r = Bytes::new(data);
    let mut out = Archive::default();
    let mut at: u64 = 0;
    let len = data.len() as u64;
    loop {
        let kind = Kind::of(data.get(at as usize..).unwrap_or_default())
            .ok_or_else(|| ParseError::new(at, "no cpio header (truncated?)"))?;
        let (fields, fixed) = header(&r, at, kind)?;
        let get = |n: &str| fields.iter().find(|f| f.name == n).map_or(0, |f| f.value);
        let (namesize, filesize) = (get("c_namesize"), get("c_filesize"));
        let name_at = at + fixed;
        let raw_name = r.read_at(name_at, namesize).map_err(|_| {
            ParseError::new(
                name_at,
                format!("name of {namesize} bytes runs past the end"),
            )
        })?;
        let name = raw_name.strip_suffix(b"\0").unwrap_or(raw_name).to_vec();
        if name.is_empty() || name.contains(&0) {
            return Err(ParseError::new(
                name_at,
                "member name is empty or holds a NUL",
            ));
        }
        let align = |x: u64| match kind {
            Kind::Newc { .. } => x.div_ceil(4) * 4,
            Kind::BinLe | Kind::BinBe => x.div_ceil(2) * 2,
            Kind::Odc => x,
        };
        let data_at = align(name_at + namesize);
        let body = r.read_at(data_at, filesize).map_err(|_| {
            ParseError::new(
                data_at,
                format!("member data of {filesize} bytes runs past the end (truncated?)"),
            )
        })?;
        if name == b"TRAILER!!!" {
            break;
        }
        if out.members.len() as u64 >= max_members {
            out.capped = true;
            break;
        }
        if let Some(why) = unsafe_name(&name) {
            out.suspicious.push((name.clone(), why.to_owned()));
        }
        out.members.push(Member {
            header_at: at,
            name,
            fields,
            data: body,
        });
        at = align(data_at + filesize);
        if at >= len {
            return Err(ParseError::new(len, "no TRAILER!!! member (truncated?)"));
        }
    }
    Ok(out)
}

impl Comparator for CpioComparator {
    fn compare(&self, cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
        or_bytes(cx, a, b, |cx| compare(cx, a, b));
    }
}

fn compare(cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
    let Some((ta, tb)) = parse_both(cx, Format::Cpio, a, b, parse) else {
        return;
    };
    suspicious(cx, Format::Cpio, "member", &ta.suspicious, &tb.suspicious);
    if ta.capped || tb.capped {
        cx.limit(LimitKind::Members, cx.limits.max_members);
    }
    let na: Vec<&[u8]> = ta.members.iter().map(|m| m.name.as_slice()).collect();
    let nb: Vec<&[u8]> = tb.members.iter().map(|m| m.name.as_slice()).collect();
    order(cx, &["members", "order"], &na, &nb);
    let by_a: BTreeMap<&[u8], &Member<'_>> =
        ta.members.iter().rev().map(|m| (&m.name[..], m)).collect();
    let by_b: BTreeMap<&[u8], &Member<'_>> =
        tb.members.iter().rev().map(|m| (&m.name[..], m)).collect();
    let mut done = BTreeSet::new();
    for ma in &ta.members {
        if !done.insert(ma.name.as_slice()) {
            continue;
        }
        if let Some(mb) = by_b.get(ma.name.as_slice()) {
            member(cx, ma, mb);
        }
    }
    let only_a: Vec<&[u8]> = na
        .iter()
        .copied()
        .filter(|n| !by_b.contains_key(n))
        .collect();
    let only_b: Vec<&[u8]> = nb
        .iter()
        .copied()
        .filter(|n| !by_a.contains_key(n))
        .collect();
    one_sided(cx, "member", &only_a, &only_b, |cx, x, y| {
        if let (Some(ma), Some(mb)) = (by_a.get(x), by_b.get(y)) {
            member(cx, ma, mb);
        }
    });
}

fn member(cx: &mut Cx<'_>, a: &Member<'_>, b: &Member<'_>) {
    let n = &a.name;
    cx.for_entry(|cx| {
        for fa in &a.fields {
            let Some(fb) = b.field(fa.name) else { continue };
            if fa.value == fb.value || matches!(fa.name, "c_namesize" | "c_filesize") {
                continue;
            }
            let location = field_loc("member", n, fa.name, a.header_at + fa.at);
            let num = |v: u64| Evidence::value(v.to_string());
            match fa.name {
                "c_mtime" => {
                    let ev = |t: u64| {
                        epoch_evidence(i64::try_from(t).unwrap_or(i64::MAX), &t.to_string())
                    };
                    cx.emit(
                        location,
                        Cause::Timestamp {
                            encoding: TimestampEncoding::FileMtime,
                        },
                        ev(fa.value),
                        ev(fb.value),
                        b"",
                    );
                }
                "c_uid" | "c_gid" => {
                    let field = if fa.name == "c_uid" {
                        MetadataField::Uid
                    } else {
                        MetadataField::Gid
                    };
                    cx.emit(
                        location,
                        Cause::Metadata { field },
                        num(fa.value),
                        num(fb.value),
                        b"",
                    );
                }
                "c_mode" => {
                    let mode = |m: u64| {
                        let text = format!("{:04o}", m & 0o7777);
                        Evidence::value(text.clone()).with_token(
                            text.as_bytes(),
                            Some(Decoded::Mode(u32::try_from(m).unwrap_or(u32::MAX))),
                        )
                    };
                    let cause = if fa.value & !0o7777 == fb.value & !0o7777 {
                        Cause::Permissions
                    } else {
                        unknown()
                    };
                    cx.emit(location, cause, mode(fa.value), mode(fb.value), b"");
                }
                // The newc `crc` format's sum of the data bytes.
                "c_check" if a.data != b.data => {
                    let of = format!("the content of {}", String::from_utf8_lossy(n));
                    cx.emit(
                        location,
                        Cause::Consequence { of },
                        num(fa.value),
                        num(fb.value),
                        b"",
                    );
                }
                _ => cx.emit(location, unknown(), num(fa.value), num(fb.value), b""),
            }
        }
    });
    if a.data != b.data {
        cx.member(n, a.data, b.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::Limits;
    use crate::formats::testing::{compare_with, fixture};

    #[test]
    fn every_header_format_is_read() {
        for kind in ["bin", "odc", "newc"] {
            let data = fixture(&format!("precision/c04-cpio-{kind}/a/archive.cpio"));
            assert!(is_cpio(&data), "{kind}");
            let ar = parse(&data, 10).unwrap_or_else(|e| panic!("{kind}: {e}"));
            let names: Vec<&[u8]> = ar.members.iter().map(|m| m.name.as_slice()).collect();
            assert_eq!(names, [&b"member.txt"[..]], "{kind}");
            let mtime = ar.members.first().and_then(|m| m.field("c_mtime"));
            assert_eq!(mtime.map(|f| f.value), Some(1_500_000_000), "{kind}");
        }
    }

    #[test]
    fn mtimes_are_timestamps_at_their_field() {
        for (kind, at) in [("bin", 16), ("odc", 48), ("newc", 46)] {
            let a = fixture(&format!("precision/c04-cpio-{kind}/a/archive.cpio"));
            let b = fixture(&format!("precision/c04-cpio-{kind}/b/archive.cpio"));
            let (f, _) = compare_with(&CpioComparator, "archive.cpio", &Limits::default(), &a, &b);
            assert_eq!(f.len(), 1, "{kind}: {f:#?}");
            assert_eq!(f.first().map(|f| f.cause.name()), Some("timestamp"));
            assert_eq!(
                f.first().map(|f| f.location.order_key().1),
                Some(at),
                "{kind}"
            );
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let data = fixture("precision/c04-cpio-newc/a/archive.cpio");
        for cut in 0..data.len() {
            let _ = parse(data.get(..cut).unwrap_or_default(), 10);
        }
    }
}
