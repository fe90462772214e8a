//! tar (ustar, GNU and pax): member headers read by hand through the
//! checked reader (the `tar` crate hides which header a value came from and
//! stops at the first bad header), compared member by member, contents
//! recursed as `x.tar!path`.
//!
//! Header fields (mtime, uid/gid, uname/gname, mode, pax records) are
//! reported on the archive with a field location `["member src/a.txt",
//! "mtime"]`; contents on the member. GNU long names (`L`/`K`) and pax
//! `path`/`linkpath` give the member its real name.
#![deny(clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};

use super::archive::{
    epoch_evidence, field_loc, one_sided, order, parse_both, suspicious, text_field, unknown,
    unsafe_name,
};
use super::bytes::{Bytes, ParseError, Result};
use super::{Comparator, Cx, Format, or_bytes};
use crate::classify::format_epoch;
use crate::finding::{Cause, Decoded, Evidence, LimitKind, MetadataField, TimestampEncoding};

pub(crate) struct TarComparator;

const BLOCK: u64 = 512;

#[derive(Clone, Debug)]
struct Member<'d> {
    header_at: u64,
    name: Vec<u8>,
    mode: u64,
    uid: u64,
    gid: u64,
    mtime: u64,
    typeflag: u8,
    linkname: Vec<u8>,
    uname: &'d [u8],
    gname: &'d [u8],
    /// pax extended-header records that apply to this member.
    pax: BTreeMap<Vec<u8>, Vec<u8>>,
    data: &'d [u8],
}

#[derive(Debug, Default)]
struct Archive<'d> {
    members: Vec<Member<'d>>,
    global: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Members beyond `max_members` were not read.
    capped: bool,
    suspicious: Vec<(Vec<u8>, String)>,
}

/// Up to the first NUL.
fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&c| c == 0).unwrap_or(field.len());
    field.get(..end).unwrap_or_default()
}

/// A numeric header field: octal text, or GNU base-256 when the high bit of
/// the first byte is set (negative when the first byte is 0xff).
fn number(field: &[u8], at: u64, what: &str) -> Result<u64> {
    match field.first() {
        Some(&first) if first & 0x80 != 0 => {
            if first & 0x40 != 0 {
                return Err(ParseError::new(
                    at,
                    format!(
                        "{what} field is negative (base-256 {})",
                        crate::finding::hex(field)
                    ),
                ));
            }
            let rest = field.get(1..).unwrap_or_default();
            let mut v = u64::from(first & 0x3f);
            for &c in rest {
                v = v
                    .checked_mul(256)
                    .and_then(|v| v.checked_add(u64::from(c)))
                    .ok_or_else(|| ParseError::new(at, format!("{what} field overflows")))?;
            }
            Ok(v)
        }
        _ => {
            let text = cstr(field);
            let digits = text.trim_ascii();
            let mut v: u64 = 0;
            for &c in digits {
                if !(b'0'..=b'7').contains(&c) {
                    return Err(ParseError::new(
                        at,
                        format!(
                            "{what} field is not octal: {:?}",
                            String::from_utf8_lossy(field)
                        ),
                    ));
                }
                v = v
                    .checked_mul(8)
                    .and_then(|v| v.checked_add(u64::from(c - b'0')))
                    .ok_or_else(|| ParseError::new(at, format!("{what} field overflows")))?;
            }
            Ok(v)
        }
    }
}

fn field<'d>(h: &Bytes<'d>, off: u64, len: u64) -> Result<&'d [u8]> {
    h.read_at(off, len)
}

/// pax records: `LEN KEY=VALUE\n`, LEN counting the whole record.
fn pax_records(data: &[u8], at: u64) -> Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut r = Bytes::new(data);
    while !r.at_end() {
        let start = r.pos();
        let len_text = r
            .until(b' ')
            .map_err(|_| ParseError::new(at, "pax record without a length"))?;
        let len: usize = std::str::from_utf8(len_text)
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| ParseError::new(at, "pax record length is not a number"))?;
        let body_len = len
            .checked_sub(r.pos() - start)
            .ok_or_else(|| ParseError::new(at, "pax record shorter than its length field"))?;
        let body = r.take(body_len)?;
        let body = body.strip_suffix(b"\n").unwrap_or(body);
        let eq = body
            .iter()
            .position(|&c| c == b'=')
            .ok_or_else(|| ParseError::new(at, "pax record without '='"))?;
        out.insert(
            body.get(..eq).unwrap_or_default().to_vec(),
            body.get(eq + 1..).unwrap_or_default().to_vec(),
        );
    }
    Ok(out)
}

fn checksum_ok(h: &[u8], stored: u64) -> bool {
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &c) in h.iter().enumerate() {
        let c = if (148..156).contains(&i) { b' ' } else { c };
        unsigned += u64::from(c);
        signed += i64::from(c as i8);
    }
    unsigned == stored || u64::try_from(signed).ok() == Some(stored)
}

fn parse(data: &[u8], max_members: u64) -> Result<Archive<'_>> {
    let file = Bytes::new(data);
    let mut pos: u64 = 0;
    let mut out = Archive::default();
    let mut long_name: Option<Vec<u8>> = None;
    let mut long_link: Option<Vec<u8>> = None;
    let mut pax: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let len = data.len() as u64;
    let mut ended = false;
    while pos < len {
        let h = file.sub(pos, BLOCK).map_err(|_| {
            ParseError::new(
                pos,
                format!("truncated header block ({} bytes left)", len - pos),
            )
        })?;
        let raw = h.data();
        if raw.iter().all(|&c| c == 0) {
            ended = true;
            break;
        }
        let chk = number(field(&h, 148, 8)?, pos + 148, "checksum")?;
        if !checksum_ok(raw, chk) {
            return Err(ParseError::new(
                pos,
                "header checksum mismatch (corrupt or not tar)",
            ));
        }
        let mut size = number(field(&h, 124, 12)?, pos + 124, "size")?;
        // A pax `size` record overrides the header (files of 8 GiB and more).
        if let Some(v) = pax.get(&b"size"[..]) {
            size = std::str::from_utf8(v)
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| ParseError::new(pos, "pax size record is not a number"))?;
        }
        let typeflag = field(&h, 156, 1)?.first().copied().unwrap_or(b'0');
        let data_at = pos + BLOCK;
        let body = file.read_at(data_at, size).map_err(|_| {
            ParseError::new(
                data_at,
                format!(
                    "member data of {size} bytes runs past the end of the archive (truncated?)"
                ),
            )
        })?;
        let next = size
            .checked_add(BLOCK - 1)
            .map(|s| s / BLOCK * BLOCK)
            .and_then(|s| data_at.checked_add(s))
            .ok_or_else(|| ParseError::new(pos + 124, "size field overflows"))?;
        if next > len {
            return Err(ParseError::new(
                len,
                "archive ends inside a member's padding (truncated?)",
            ));
        }
        match typeflag {
            b'L' => long_name = Some(cstr(body).to_vec()),
            b'K' => long_link = Some(cstr(body).to_vec()),
            b'x' => pax.extend(pax_records(body, data_at)?),
            b'g' => out.global.extend(pax_records(body, data_at)?),
            _ => {
                if out.members.len() as u64 >= max_members {
                    out.capped = true;
                    ended = true;
                    break;
                }
                let magic = field(&h, 257, 6)?;
                let mut name = cstr(field(&h, 0, 100)?).to_vec();
                let prefix = cstr(field(&h, 345, 155)?);
                if magic == b"ustar\0" && !prefix.is_empty() {
                    name = [prefix, b"/", &name].concat();
                }
                if let Some(n) = long_name.take() {
                    name = n;
                }
                let mut linkname = cstr(field(&h, 157, 100)?).to_vec();
                if let Some(l) = long_link.take() {
                    linkname = l;
                }
                let records = std::mem::take(&mut pax);
                if let Some(p) = records.get(&b"path"[..]) {
                    name.clone_from(p);
                }
                if let Some(l) = records.get(&b"linkpath"[..]) {
                    linkname.clone_from(l);
                }
                out.members.push(Member {
                    header_at: pos,
                    name,
                    mode: number(field(&h, 100, 8)?, pos + 100, "mode")?,
                    uid: number(field(&h, 108, 8)?, pos + 108, "uid")?,
                    gid: number(field(&h, 116, 8)?, pos + 116, "gid")?,
                    mtime: number(field(&h, 136, 12)?, pos + 136, "mtime")?,
                    typeflag,
                    linkname,
                    uname: cstr(field(&h, 265, 32)?),
                    gname: cstr(field(&h, 297, 32)?),
                    pax: records,
                    data: body,
                });
            }
        }
        pos = next;
    }
    if !ended {
        return Err(ParseError::new(len, "no end-of-archive block (truncated?)"));
    }
    let mut seen = BTreeSet::new();
    for m in &out.members {
        if let Some(why) = unsafe_name(&m.name) {
            out.suspicious.push((m.name.clone(), why.to_owned()));
        }
        if (m.typeflag == b'1' || m.typeflag == b'2')
            && let Some(why) = unsafe_name(&m.linkname)
        {
            out.suspicious
                .push((m.name.clone(), format!("a link target that is {why}")));
        }
        if !seen.insert(&m.name) {
            out.suspicious.push((
                m.name.clone(),
                "the name appears twice (the later member wins on extraction)".to_owned(),
            ));
        }
    }
    Ok(out)
}

fn type_name(t: u8) -> String {
    let name = match t {
        b'0' | 0 => "file",
        b'1' => "hard link",
        b'2' => "symlink",
        b'3' => "character device",
        b'4' => "block device",
        b'5' => "directory",
        b'6' => "FIFO",
        _ => "other",
    };
    format!("{name} ('{}')", char::from(t))
}

fn loc(name: &[u8], field: &str, at: u64) -> crate::finding::Location {
    field_loc("member", name, field, at)
}

impl Comparator for TarComparator {
    fn compare(&self, cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
        or_bytes(cx, a, b, |cx| compare(cx, a, b));
    }
}

fn compare(cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
    let Some((ta, tb)) = parse_both(cx, Format::Tar, a, b, parse) else {
        return;
    };
    suspicious(cx, Format::Tar, "member", &ta.suspicious, &tb.suspicious);
    if ta.capped || tb.capped {
        cx.limit(LimitKind::Members, cx.limits.max_members);
    }
    pax_fields(cx, &["global pax header"], 0, &ta.global, &tb.global);
    let na: Vec<&[u8]> = ta.members.iter().map(|m| m.name.as_slice()).collect();
    let nb: Vec<&[u8]> = tb.members.iter().map(|m| m.name.as_slice()).collect();
    order(cx, &["members", "order"], &na, &nb);
    let by_name_b: BTreeMap<&[u8], &Member<'_>> = tb
        .members
        .iter()
        .rev()
        .map(|m| (m.name.as_slice(), m))
        .collect();
    let by_name_a: BTreeMap<&[u8], &Member<'_>> = ta
        .members
        .iter()
        .rev()
        .map(|m| (m.name.as_slice(), m))
        .collect();
    let mut done = BTreeSet::new();
    let mut only_a = Vec::new();
    for ma in &ta.members {
        if !done.insert(ma.name.as_slice()) {
            continue;
        }
        match by_name_b.get(ma.name.as_slice()) {
            Some(mb) => member(cx, ma, mb),
            None => only_a.push(ma.name.as_slice()),
        }
    }
    let mut only_b = Vec::new();
    for mb in &tb.members {
        if !by_name_a.contains_key(mb.name.as_slice()) && done.insert(mb.name.as_slice()) {
            only_b.push(mb.name.as_slice());
        }
    }
    one_sided(cx, "member", &only_a, &only_b, |cx, x, y| {
        if let (Some(ma), Some(mb)) = (by_name_a.get(x), by_name_b.get(y)) {
            member(cx, ma, mb);
        }
    });
}

/// An owner field: name, header offset, what it is, side A, side B.
type Owner<'n> = (&'n str, u64, MetadataField, Vec<u8>, Vec<u8>);

fn member(cx: &mut Cx<'_>, a: &Member<'_>, b: &Member<'_>) {
    cx.for_entry(|cx| header_fields(cx, a, b));
    if a.data != b.data {
        cx.member(&a.name, a.data, b.data);
    }
}

/// The header fields of one member, reported on the archive.
fn header_fields(cx: &mut Cx<'_>, a: &Member<'_>, b: &Member<'_>) {
    let n = &a.name;
    let at = a.header_at;
    if a.mtime != b.mtime {
        let ev = |t: u64| epoch_evidence(i64::try_from(t).unwrap_or(i64::MAX), &format!("{t:o}"));
        cx.emit(
            loc(n, "mtime", at + 136),
            Cause::Timestamp {
                encoding: TimestampEncoding::FileMtime,
            },
            ev(a.mtime),
            ev(b.mtime),
            b"",
        );
    }
    // Owners, numeric and by name: metadata of the build machine.
    let owners: [Owner; 4] = [
        (
            "uid",
            108,
            MetadataField::Uid,
            a.uid.to_string().into(),
            b.uid.to_string().into(),
        ),
        (
            "gid",
            116,
            MetadataField::Gid,
            a.gid.to_string().into(),
            b.gid.to_string().into(),
        ),
        (
            "uname",
            265,
            MetadataField::Uid,
            a.uname.to_vec(),
            b.uname.to_vec(),
        ),
        (
            "gname",
            297,
            MetadataField::Gid,
            a.gname.to_vec(),
            b.gname.to_vec(),
        ),
    ];
    for (name, off, field, x, y) in owners {
        if x != y {
            cx.emit(
                loc(n, name, at + off),
                Cause::Metadata { field },
                Evidence::value(x),
                Evidence::value(y),
                b"",
            );
        }
    }
    if a.mode != b.mode {
        let mode = |m: u64| {
            let text = format!("{:04o}", m & 0o7777);
            Evidence::value(text.clone()).with_token(
                text.as_bytes(),
                Some(Decoded::Mode(u32::try_from(m).unwrap_or(u32::MAX))),
            )
        };
        let cause = if a.mode & !0o7777 == b.mode & !0o7777 {
            Cause::Permissions
        } else {
            unknown()
        };
        cx.emit(
            loc(n, "mode", at + 100),
            cause,
            mode(a.mode),
            mode(b.mode),
            b"",
        );
    }
    let typed = |m: &Member<'_>| if m.typeflag == 0 { b'0' } else { m.typeflag };
    if typed(a) != typed(b) {
        cx.emit(
            loc(n, "typeflag", at + 156),
            unknown(),
            Evidence::value(type_name(a.typeflag)),
            Evidence::value(type_name(b.typeflag)),
            b"",
        );
    }
    if a.linkname != b.linkname {
        text_field(cx, loc(n, "linkname", at + 157), &a.linkname, &b.linkname);
    }
    let path = format!("member {}", String::from_utf8_lossy(n));
    pax_fields(cx, &[&path, "pax"], at, &a.pax, &b.pax);
}

/// pax records: times as timestamps, owners as metadata, the rest as
/// text. `path`, `linkpath` and `size` are already part of the member.
fn pax_fields(
    cx: &mut Cx<'_>,
    path: &[&str],
    at: u64,
    a: &BTreeMap<Vec<u8>, Vec<u8>>,
    b: &BTreeMap<Vec<u8>, Vec<u8>>,
) {
    if a == b {
        return;
    }
    let keys: BTreeSet<&Vec<u8>> = a.keys().chain(b.keys()).collect();
    for key in keys {
        let (va, vb) = (a.get(key), b.get(key));
        if va == vb || matches!(key.as_slice(), b"path" | b"linkpath" | b"size") {
            continue;
        }
        let mut p: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
        p.push(String::from_utf8_lossy(key).into_owned());
        let location = crate::finding::Location::Field {
            path: p,
            at: Some(at),
        };
        let ev =
            |v: Option<&Vec<u8>>| v.map_or_else(Evidence::absent, |v| Evidence::value(v.clone()));
        let cause = match key.as_slice() {
            b"mtime" | b"atime" | b"ctime" => {
                let secs = |v: Option<&Vec<u8>>| {
                    v.and_then(|v| std::str::from_utf8(v).ok())
                        .and_then(|t| t.split('.').next()?.parse::<i64>().ok())
                };
                if let (Some(x), Some(y)) = (secs(va), secs(vb)) {
                    // pax times carry fractions: show the raw value too.
                    let ev = |t: i64, v: Option<&Vec<u8>>| {
                        let raw = String::from_utf8_lossy(v.map_or(&[][..], |v| v)).into_owned();
                        let mut e = epoch_evidence(t, &raw);
                        e.excerpt = crate::finding::Excerpt::Value {
                            value: crate::finding::Text::new(format!(
                                "{} ({raw})",
                                format_epoch(t)
                            )),
                        };
                        e
                    };
                    cx.emit(
                        location,
                        Cause::Timestamp {
                            encoding: TimestampEncoding::FileMtime,
                        },
                        ev(x, va),
                        ev(y, vb),
                        b"",
                    );
                    continue;
                }
                unknown()
            }
            b"uid" | b"uname" => Cause::Metadata {
                field: MetadataField::Uid,
            },
            b"gid" | b"gname" => Cause::Metadata {
                field: MetadataField::Gid,
            },
            _ => {
                if let (Some(x), Some(y)) = (va, vb) {
                    text_field(cx, location, x, y);
                    continue;
                }
                unknown()
            }
        };
        cx.emit(location, cause, ev(va), ev(vb), b"");
    }
}

#[cfg(test)]
#[expect(
    clippy::indexing_slicing,
    reason = "tests index fixtures they just built"
)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_octal_and_base_256() {
        assert_eq!(number(b"0000644\0", 0, "mode").unwrap(), 0o644);
        assert_eq!(number(b"  17 \0", 0, "x").unwrap(), 0o17);
        assert_eq!(
            number(b"\x80\0\0\0\0\0\0\0\0\0\x01\x00", 0, "size").unwrap(),
            256
        );
        let e = number(&[0xff; 12], 124, "size").unwrap_err();
        assert!(e.what.contains("negative"), "{e}");
        assert_eq!(e.at, 124);
        assert!(number(b"12x\0", 0, "x").is_err());
        assert!(number(b"77777777777777777777777", 0, "x").is_err());
    }

    /// A ustar header block with a valid checksum.
    fn header(name: &str, typeflag: u8, size: usize) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        h[136..148].copy_from_slice(b"15111331350\0");
        h[156] = typeflag;
        h[257..265].copy_from_slice(b"ustar\x0000");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&c| u32::from(c)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        h
    }

    fn padded(mut v: Vec<u8>) -> Vec<u8> {
        v.resize(v.len().div_ceil(512) * 512, 0);
        v
    }

    #[test]
    fn pax_path_and_size_override_the_header() {
        let records = b"18 path=long/name\n10 size=3\n".to_vec();
        let tar = [
            header("PaxHeaders/x", b'x', records.len()),
            padded(records),
            // The header claims 0 bytes; the pax record says 3.
            header("x", b'0', 0),
            padded(b"abc".to_vec()),
            vec![0u8; 1024],
        ]
        .concat();
        let t = parse(&tar, 10).unwrap();
        assert_eq!(t.members.len(), 1);
        assert_eq!(t.members[0].name, b"long/name");
        assert_eq!(t.members[0].data, b"abc");
    }

    #[test]
    fn pax_records_parse_and_reject_nonsense() {
        let r = pax_records(b"30 mtime=1764078312.123456789\n", 0).unwrap();
        assert_eq!(r[&b"mtime"[..]], b"1764078312.123456789");
        assert!(pax_records(b"99 mtime=1\n", 0).is_err());
        assert!(pax_records(b"3 x", 0).is_err());
        assert!(pax_records(b"abc", 0).is_err());
    }
}

#[cfg(test)]
#[expect(
    clippy::indexing_slicing,
    reason = "tests index fixtures they just built"
)]
mod sweep {
    use super::*;
    use crate::formats::Limits;
    use crate::formats::testing::{compare_with, fixture};

    #[test]
    fn reads_gnu_long_names() {
        let data = fixture("archives/tar/a/src.tar");
        let t = parse(&data, 100).unwrap();
        assert!(
            t.members.iter().any(|m| m.name.len() > 100),
            "{:?}",
            t.members
                .iter()
                .map(|m| String::from_utf8_lossy(&m.name))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            t.members.first().map(|m| m.name.as_slice()),
            Some(&b"src/"[..])
        );
    }

    #[test]
    fn every_truncation_is_an_error_or_a_shorter_archive() {
        let data = fixture("archives/tar/a/src.tar");
        let full = parse(&data, 100).unwrap().members.len();
        for cut in 0..data.len() {
            // Up to the end-of-archive block every cut is an error; after
            // it, the same archive.
            match parse(&data[..cut], 100) {
                Ok(t) => assert_eq!(t.members.len(), full, "cut {cut}"),
                Err(e) => assert!(e.what.contains("truncated"), "cut {cut}: {e}"),
            }
        }
    }

    #[test]
    fn truncated_and_capped_archives_give_findings() {
        let a = fixture("archives/tar/a/src.tar");
        let b = fixture("archives/tar/b/src.tar");
        let limits = Limits::default();
        for cut in (0..b.len()).step_by(97) {
            let (f, _) = compare_with(&TarComparator, "src.tar", &limits, &a, &b[..cut]);
            assert!(!f.is_empty(), "cut {cut}");
        }
        let limits = Limits {
            max_members: 1,
            ..Limits::default()
        };
        let (f, _) = compare_with(&TarComparator, "src.tar", &limits, &a, &b);
        assert!(f.iter().any(|f| matches!(
            f.cause,
            Cause::Limit {
                limit: LimitKind::Members,
                ..
            }
        )));
    }
}
