//! zip archives, wheels among them: the central directory and local
//! headers read by hand (the zip crate re-serializes extra fields and loses
//! invalid DOS dates), compared field by field, members recursed.
//!
//! Where findings go: a header field of an entry (DOS time, external
//! attributes, extra fields, compression) is a byte of the archive, so it
//! is reported on the archive with a field location
//! `["entry pkg/a.py", "dos_time"]`; an entry's content is compared as the
//! member artifact `x.whl!pkg/a.py`, through whatever comparator its
//! format calls for. In a wheel, `RECORD` lines that differ only because
//! another member's hash changed are `consequence` findings; the rest of
//! `RECORD` is compared as text.
#![deny(clippy::indexing_slicing)]

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use super::archive::{
    epoch_evidence, field_loc, only_in, order, suspicious, text_field, unknown, unsafe_name,
};
use super::bytes::{Bytes, ParseError, Result};
use super::inflate::{Codec, Unpacked, unpack};
use super::{Comparator, Cx, Format};
use crate::classify::format_epoch;
use crate::classify::timestamp::dos_datetime;
use crate::finding::{
    Cause, Decoded, Evidence, LimitKind, LineSpan, Location, MetadataField, Side, TimestampEncoding,
};

pub(crate) struct ZipComparator;

const EOCD_SIG: &[u8; 4] = b"PK\x05\x06";
const EOCD_LEN: usize = 22;
const CD_SIG: u32 = 0x0201_4b50;
const LOCAL_SIG: u32 = 0x0403_4b50;
const CD_FIXED: u64 = 46;
const LOCAL_FIXED: u64 = 30;

/// A local file header.
#[derive(Clone, Debug)]
struct Local<'d> {
    at: u64,
    time: u16,
    date: u16,
    name: &'d [u8],
    extra: &'d [u8],
}

/// A central directory entry with its local header and data.
#[derive(Clone, Debug)]
struct Entry<'d> {
    /// Offset of the central directory record.
    cd_at: u64,
    made_by: u16,
    needed: u16,
    flags: u16,
    method: u16,
    time: u16,
    date: u16,
    crc: u32,
    internal_attr: u16,
    external_attr: u32,
    name: &'d [u8],
    extra: &'d [u8],
    comment: &'d [u8],
    local: Local<'d>,
    /// The compressed data.
    data: &'d [u8],
    data_at: u64,
}

#[derive(Debug)]
struct Archive<'d> {
    entries: Vec<Entry<'d>>,
    comment: &'d [u8],
    /// Entries the central directory declares beyond `max_members`.
    skipped: u64,
    /// Structures extractors mishandle: (entry or "archive", reason).
    suspicious: Vec<(Vec<u8>, String)>,
}

fn find_eocd(data: &[u8]) -> Result<usize> {
    let lo = data.len().saturating_sub(EOCD_LEN + 0xffff);
    let tail = data.get(lo..).unwrap_or_default();
    tail.windows(4)
        .rposition(|w| w == EOCD_SIG)
        .map(|p| lo + p)
        .filter(|&p| p + EOCD_LEN <= data.len())
        .ok_or_else(|| {
            ParseError::new(
                data.len() as u64,
                "no end of central directory record (truncated or not a zip)",
            )
        })
}

/// The zip64 extended information extra field (0x0001) supplies the values
/// the 32-bit fields mark with 0xffffffff, in order.
fn zip64_values(extra: &[u8], wanted: usize) -> Vec<u64> {
    let mut out = Vec::new();
    for (id, data) in extra_fields(extra) {
        if id == 0x0001 {
            let mut r = Bytes::new(data);
            for _ in 0..wanted {
                match r.u64_le() {
                    Ok(v) => out.push(v),
                    Err(_) => break,
                }
            }
        }
    }
    out
}

/// Extra fields as (header id, data); a malformed tail is ignored here and
/// compared as raw bytes with the rest of the field.
fn extra_fields(extra: &[u8]) -> Vec<(u16, &[u8])> {
    let mut r = Bytes::new(extra);
    let mut out = Vec::new();
    while r.remaining() >= 4 {
        let (Ok(id), Ok(len)) = (r.u16_le(), r.u16_le()) else {
            break;
        };
        match r.take(usize::from(len)) {
            Ok(d) => out.push((id, d)),
            Err(_) => break,
        }
    }
    out
}

fn parse(data: &[u8], max_members: u64) -> Result<Archive<'_>> {
    let file = Bytes::new(data);
    let eocd_at = find_eocd(data)?;
    let mut r = file.sub(eocd_at as u64, (data.len() - eocd_at) as u64)?;
    r.skip(4 + 2 + 2 + 2)?;
    let mut entries_total = u64::from(r.u16_le()?);
    let mut cd_size = u64::from(r.u32_le()?);
    let mut cd_offset = u64::from(r.u32_le()?);
    let comment_len = r.u16_le()?;
    let comment = r
        .take(usize::from(comment_len))
        .unwrap_or_else(|_| r.rest());
    if entries_total == 0xffff || cd_size == 0xffff_ffff || cd_offset == 0xffff_ffff {
        // ZIP64: the locator sits just before the end record.
        let loc_at = (eocd_at as u64)
            .checked_sub(20)
            .ok_or_else(|| ParseError::new(eocd_at as u64, "zip64 locator missing"))?;
        let mut loc = file.sub(loc_at, 20)?;
        if loc.u32_le()? == 0x0706_4b50 {
            loc.skip(4)?;
            let z_at = loc.u64_le()?;
            let mut z = file.sub(z_at, 56)?;
            if z.u32_le()? != 0x0606_4b50 {
                return Err(ParseError::new(z_at, "bad zip64 end of central directory"));
            }
            z.skip(8 + 2 + 2 + 4 + 4 + 8)?;
            entries_total = z.u64_le()?;
            cd_size = z.u64_le()?;
            cd_offset = z.u64_le()?;
        }
    }
    let cd = file.sub(cd_offset, cd_size).map_err(|_| {
        ParseError::new(
            cd_offset,
            format!(
                "central directory of {cd_size} bytes at {cd_offset:#x} runs past the end of the \
                 {} byte file (truncated?)",
                data.len()
            ),
        )
    })?;
    let mut cd = cd;
    if cd_offset.saturating_add(cd_size) > eocd_at as u64 {
        return Err(ParseError::new(
            cd_offset,
            format!(
                "the central directory ({cd_size} bytes at {cd_offset:#x}) runs into the end \
                 record at {eocd_at:#x}: truncated central directory"
            ),
        ));
    }
    cd.check_count(entries_total, CD_FIXED, "central directory entries")?;
    let read = entries_total.min(max_members);
    let mut archive = Archive {
        entries: Vec::new(),
        comment,
        skipped: entries_total - read,
        suspicious: Vec::new(),
    };
    for i in 0..read {
        let e = entry(&file, &mut cd).map_err(|e| {
            ParseError::new(
                e.at,
                format!(
                    "central directory entry {} of {entries_total}: {}",
                    i + 1,
                    e.what
                ),
            )
        })?;
        archive.entries.push(e);
    }
    check(&mut archive);
    Ok(archive)
}

fn entry<'d>(file: &Bytes<'d>, cd: &mut Bytes<'d>) -> Result<Entry<'d>> {
    let cd_at = cd.offset();
    if cd.u32_le()? != CD_SIG {
        return Err(ParseError::new(cd_at, "bad central directory signature"));
    }
    let made_by = cd.u16_le()?;
    let needed = cd.u16_le()?;
    let flags = cd.u16_le()?;
    let method = cd.u16_le()?;
    let time = cd.u16_le()?;
    let date = cd.u16_le()?;
    let crc = cd.u32_le()?;
    let mut csize = u64::from(cd.u32_le()?);
    let usize_ = u64::from(cd.u32_le()?);
    let name_len = cd.u16_le()?;
    let extra_len = cd.u16_le()?;
    let comment_len = cd.u16_le()?;
    cd.skip(2)?; // disk number start
    let internal_attr = cd.u16_le()?;
    let external_attr = cd.u32_le()?;
    let mut local_at = u64::from(cd.u32_le()?);
    let name = cd.take(usize::from(name_len))?;
    let extra = cd.take(usize::from(extra_len))?;
    let comment = cd.take(usize::from(comment_len))?;
    // ZIP64 values come in the order usize, csize, offset, for the fields
    // that are 0xffffffff.
    let marked = [usize_, csize, local_at]
        .iter()
        .filter(|&&v| v == 0xffff_ffff)
        .count();
    if marked > 0 {
        let mut vals = zip64_values(extra, 3).into_iter();
        if usize_ == 0xffff_ffff {
            vals.next();
        }
        if csize == 0xffff_ffff {
            csize = vals.next().unwrap_or(csize);
        }
        if local_at == 0xffff_ffff {
            local_at = vals.next().unwrap_or(local_at);
        }
    }
    let mut l = file.sub(local_at, LOCAL_FIXED).map_err(|_| {
        ParseError::new(
            local_at,
            format!(
                "local header of {} at {local_at:#x} is past the end of the file",
                String::from_utf8_lossy(name)
            ),
        )
    })?;
    if l.u32_le()? != LOCAL_SIG {
        return Err(ParseError::new(local_at, "bad local header signature"));
    }
    l.skip(2 + 2 + 2)?;
    let ltime = l.u16_le()?;
    let ldate = l.u16_le()?;
    l.skip(4 + 4 + 4)?;
    let lname_len = u64::from(l.u16_le()?);
    let lextra_len = u64::from(l.u16_le()?);
    let lname = file.read_at(local_at + LOCAL_FIXED, lname_len)?;
    let lextra = file.read_at(local_at + LOCAL_FIXED + lname_len, lextra_len)?;
    let data_at = local_at + LOCAL_FIXED + lname_len + lextra_len;
    let data = file.read_at(data_at, csize).map_err(|_| {
        ParseError::new(
            data_at,
            format!(
                "{} bytes of data of {} run past the end of the file",
                csize,
                String::from_utf8_lossy(name)
            ),
        )
    })?;
    Ok(Entry {
        cd_at,
        made_by,
        needed,
        flags,
        method,
        time,
        date,
        crc,
        internal_attr,
        external_attr,
        name,
        extra,
        comment,
        local: Local {
            at: local_at,
            time: ltime,
            date: ldate,
            name: lname,
            extra: lextra,
        },
        data,
        data_at,
    })
}

fn check(archive: &mut Archive<'_>) {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for e in &archive.entries {
        if let Some(why) = unsafe_name(e.name) {
            out.push((e.name.to_vec(), why.to_owned()));
        }
        if !seen.insert(e.name) {
            out.push((
                e.name.to_vec(),
                "the name appears twice in the central directory".to_owned(),
            ));
        }
        if e.local.name != e.name {
            out.push((
                e.name.to_vec(),
                format!(
                    "the local header names it {}",
                    String::from_utf8_lossy(e.local.name)
                ),
            ));
        }
    }
    // Entries whose header-plus-data ranges overlap (the "overlapping
    // files" bomb construction, or a corrupt directory).
    let mut spans: Vec<(u64, u64, &[u8])> = archive
        .entries
        .iter()
        .map(|e| (e.local.at, e.data_at + e.data.len() as u64, e.name))
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        if let [(_, end, x), (start, _, y)] = pair
            && start < end
        {
            out.push((
                y.to_vec(),
                format!(
                    "its bytes overlap those of {} (from {start:#x} to {end:#x})",
                    String::from_utf8_lossy(x)
                ),
            ));
        }
    }
    archive.suspicious = out;
}

fn loc(name: &[u8], field: &str, at: u64) -> Location {
    field_loc("entry", name, field, at)
}

fn dos_evidence(time: u16, date: u16) -> Evidence {
    match dos_datetime(time, date) {
        Some(t) => {
            let iso = format_epoch(t);
            Evidence::value(iso.clone()).with_token(iso.as_bytes(), Some(Decoded::Time(t)))
        }
        None => Evidence::value(format!("invalid DOS date {date:#06x} time {time:#06x}")),
    }
}

fn method_name(m: u16) -> String {
    match m {
        0 => "stored".into(),
        8 => "deflated".into(),
        9 => "deflate64".into(),
        12 => "bzip2".into(),
        14 => "lzma".into(),
        93 => "zstd".into(),
        other => format!("method {other}"),
    }
}

fn system_name(made_by: u16) -> String {
    let sys = match made_by >> 8 {
        0 => "MS-DOS/FAT",
        3 => "Unix",
        10 => "Windows NTFS",
        19 => "macOS",
        _ => "other",
    };
    format!(
        "{sys} ({}), zip {}.{}",
        made_by >> 8,
        (made_by & 0xff) / 10,
        (made_by & 0xff) % 10
    )
}

impl Comparator for ZipComparator {
    fn compare(&self, cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
        let max = cx.limits.max_members;
        let (za, zb) = match (parse(a, max), parse(b, max)) {
            (Ok(x), Ok(y)) => (x, y),
            (Err(e), _) | (_, Err(e)) => {
                cx.unparsed(Format::Zip, e.to_string(), a, b);
                return;
            }
        };
        suspicious(cx, "zip", "entry", &za.suspicious, &zb.suspicious);
        for z in [&za, &zb] {
            if z.skipped > 0 {
                let detail = format!(
                    "the central directory lists {} more entries than max_members ({max}); \
                     they were not compared",
                    z.skipped
                );
                cx.limit(LimitKind::Members, detail);
                break;
            }
        }
        if za.comment != zb.comment {
            text_field(
                cx,
                Location::Field {
                    path: vec!["archive comment".into()],
                    at: None,
                },
                za.comment,
                zb.comment,
            );
        }
        let na: Vec<&[u8]> = za.entries.iter().map(|e| e.name).collect();
        let nb: Vec<&[u8]> = zb.entries.iter().map(|e| e.name).collect();
        order(cx, &["central directory", "entry order"], &na, &nb);
        let by_name_b: BTreeMap<&[u8], &Entry<'_>> =
            zb.entries.iter().map(|e| (e.name, e)).collect();
        let names_a: BTreeSet<&[u8]> = za.entries.iter().map(|e| e.name).collect();
        let mut changed: BTreeSet<Vec<u8>> = BTreeSet::new();
        let mut records: Vec<(&Entry<'_>, &Entry<'_>)> = Vec::new();
        let mut done = BTreeSet::new();
        for ea in &za.entries {
            if cx.full() {
                cx.omit(1);
                continue;
            }
            if !done.insert(ea.name) {
                continue;
            }
            let Some(eb) = by_name_b.get(ea.name) else {
                only_in(cx, ea.name, Side::A);
                changed.insert(ea.name.to_vec());
                continue;
            };
            headers(cx, ea, eb);
            if is_record(ea.name) {
                records.push((ea, eb));
                continue;
            }
            if content(cx, ea, eb) {
                changed.insert(ea.name.to_vec());
            }
        }
        for eb in &zb.entries {
            if !names_a.contains(eb.name) && done.insert(eb.name) {
                only_in(cx, eb.name, Side::B);
                changed.insert(eb.name.to_vec());
            }
        }
        for (ea, eb) in records {
            record(cx, ea, eb, &changed);
        }
    }
}

fn is_record(name: &[u8]) -> bool {
    name.ends_with(b".dist-info/RECORD")
}

/// Header fields of one entry present on both sides.
fn headers(cx: &mut Cx<'_>, ea: &Entry<'_>, eb: &Entry<'_>) {
    let n = ea.name;
    let num = |v: u64| Evidence::value(v.to_string());
    if ea.made_by != eb.made_by {
        cx.emit(
            loc(n, "version_made_by", ea.cd_at + 4),
            unknown(),
            Evidence::value(system_name(ea.made_by)),
            Evidence::value(system_name(eb.made_by)),
            b"",
        );
    }
    // Fields no detector explains: shown as numbers.
    let plain = [
        ("version_needed", 6, ea.needed, eb.needed),
        ("general_purpose_flags", 8, ea.flags, eb.flags),
        ("internal_attr", 36, ea.internal_attr, eb.internal_attr),
    ];
    for (field, off, x, y) in plain {
        if x != y {
            cx.emit(
                loc(n, field, ea.cd_at + off),
                unknown(),
                num(x.into()),
                num(y.into()),
                b"",
            );
        }
    }
    let dos = Cause::Timestamp {
        encoding: TimestampEncoding::DosDateTime,
    };
    if (ea.time, ea.date) != (eb.time, eb.date) {
        cx.emit(
            loc(n, "dos_date_time", ea.cd_at + 12),
            dos.clone(),
            dos_evidence(ea.time, ea.date),
            dos_evidence(eb.time, eb.date),
            b"",
        );
    } else if (ea.local.time, ea.local.date) != (eb.local.time, eb.local.date) {
        cx.emit(
            loc(n, "local dos_date_time", ea.local.at + 10),
            dos,
            dos_evidence(ea.local.time, ea.local.date),
            dos_evidence(eb.local.time, eb.local.date),
            b"",
        );
    }
    external_attr(cx, ea, eb);
    extras(
        cx,
        n,
        "extra",
        ea.cd_at + CD_FIXED + ea.name.len() as u64,
        ea.extra,
        eb.extra,
    );
    extras(
        cx,
        n,
        "local extra",
        ea.local.at + LOCAL_FIXED + ea.local.name.len() as u64,
        ea.local.extra,
        eb.local.extra,
    );
    if ea.comment != eb.comment {
        let at = ea.cd_at + CD_FIXED + (ea.name.len() + ea.extra.len()) as u64;
        text_field(cx, loc(n, "comment", at), ea.comment, eb.comment);
    }
}

/// Unix mode bits live in the high 16 bits of the external attributes
/// when the entry was made on Unix; `wheel` stores the whole `st_mode`.
fn external_attr(cx: &mut Cx<'_>, ea: &Entry<'_>, eb: &Entry<'_>) {
    if ea.external_attr == eb.external_attr {
        return;
    }
    let at = ea.cd_at + 38;
    let (ma, mb) = (ea.external_attr >> 16, eb.external_attr >> 16);
    let mode = |m: u32| {
        Evidence::value(format!("{:04o}", m & 0o7777)).with_token(
            format!("{:04o}", m & 0o7777).as_bytes(),
            Some(Decoded::Mode(m)),
        )
    };
    if ma != mb && ma & !0o7777 == mb & !0o7777 {
        cx.emit(
            loc(ea.name, "external_attr", at),
            Cause::Permissions,
            mode(ma),
            mode(mb),
            b"",
        );
    } else {
        cx.emit(
            loc(ea.name, "external_attr", at),
            unknown(),
            Evidence::value(format!("{:#010x}", ea.external_attr)),
            Evidence::value(format!("{:#010x}", eb.external_attr)),
            b"",
        );
    }
}

fn le_u32(d: &[u8], at: usize) -> Option<u32> {
    let w = d.get(at..at + 4)?;
    Some(u32::from_le_bytes([
        *w.first()?,
        *w.get(1)?,
        *w.get(2)?,
        *w.get(3)?,
    ]))
}

/// Extra fields by header id: known ones decoded (0x5455 extended
/// timestamp, 0x7875 Info-ZIP Unix uid/gid), others as bytes.
fn extras(cx: &mut Cx<'_>, name: &[u8], which: &str, at: u64, a: &[u8], b: &[u8]) {
    if a == b {
        return;
    }
    let (fa, fb) = (extra_fields(a), extra_fields(b));
    let ids: BTreeSet<u16> = fa.iter().chain(&fb).map(|(id, _)| *id).collect();
    let get =
        |f: &[(u16, &'_ [u8])], id: u16| f.iter().find(|(i, _)| *i == id).map(|(_, d)| d.to_vec());
    let mut explained = false;
    for id in ids {
        let (da, db) = (get(&fa, id), get(&fb, id));
        if da == db {
            continue;
        }
        explained = true;
        let place = |field: &str| loc(name, &format!("{which} {id:#06x} {field}"), at);
        match (id, &da, &db) {
            (0x5455, Some(x), Some(y)) => {
                // Flags byte, then mtime, atime, ctime as present.
                let names = ["mtime", "atime", "ctime"];
                for (i, field) in names.iter().enumerate() {
                    let off = 1 + 4 * i;
                    let (ta, tb) = (le_u32(x, off), le_u32(y, off));
                    if ta != tb {
                        let ev = |t: Option<u32>| match t {
                            Some(t) => epoch_evidence(i64::from(t), &t.to_string()),
                            None => Evidence::absent(),
                        };
                        cx.emit(
                            place(field),
                            Cause::Timestamp {
                                encoding: TimestampEncoding::EpochLe32,
                            },
                            ev(ta),
                            ev(tb),
                            b"",
                        );
                    }
                }
            }
            (0x7875, Some(x), Some(y)) => {
                // version, uid size, uid, gid size, gid (little-endian).
                let ids_of = |d: &[u8]| -> Option<(Vec<u8>, Vec<u8>)> {
                    let mut r = Bytes::new(d);
                    r.u8().ok()?;
                    let n = usize::from(r.u8().ok()?);
                    let uid = r.take(n).ok()?.to_vec();
                    let m = usize::from(r.u8().ok()?);
                    let gid = r.take(m).ok()?.to_vec();
                    Some((uid, gid))
                };
                let num = |v: &[u8]| {
                    let n = v
                        .iter()
                        .rev()
                        .fold(0u64, |acc, &c| acc.wrapping_shl(8) | u64::from(c));
                    Evidence::value(n.to_string())
                };
                match (ids_of(x), ids_of(y)) {
                    (Some((ua, ga)), Some((ub, gb))) => {
                        if ua != ub {
                            cx.emit(
                                place("uid"),
                                Cause::Metadata {
                                    field: MetadataField::Uid,
                                },
                                num(&ua),
                                num(&ub),
                                b"",
                            );
                        }
                        if ga != gb {
                            cx.emit(
                                place("gid"),
                                Cause::Metadata {
                                    field: MetadataField::Gid,
                                },
                                num(&ga),
                                num(&gb),
                                b"",
                            );
                        }
                    }
                    _ => cx.emit(place("data"), unknown(), hex_ev(&da), hex_ev(&db), b""),
                }
            }
            _ => cx.emit(place("data"), unknown(), hex_ev(&da), hex_ev(&db), b""),
        }
    }
    if !explained {
        // Same fields, different bytes (order or a malformed tail).
        cx.emit(
            loc(name, which, at),
            unknown(),
            Evidence::value(crate::finding::hex(a)),
            Evidence::value(crate::finding::hex(b)),
            b"",
        );
    }
}

fn hex_ev(d: &Option<Vec<u8>>) -> Evidence {
    match d {
        Some(d) => Evidence::value(crate::finding::hex(d)),
        None => Evidence::absent(),
    }
}

fn codec(method: u16) -> Option<Codec> {
    match method {
        0 => Some(Codec::Stored),
        8 => Some(Codec::Deflate),
        _ => None,
    }
}

/// The decompressed contents of one entry, side A and side B.
type Both<'d> = (Cow<'d, [u8]>, Cow<'d, [u8]>);

/// Decompress both sides of one entry. `None` when a limit was reached or
/// a side could not be decompressed (its finding has been emitted).
fn unpack_pair<'d>(cx: &mut Cx<'_>, ea: &Entry<'d>, eb: &Entry<'d>) -> Option<Both<'d>> {
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
    let mut out = Vec::new();
    for (e, c) in [(ea, ca), (eb, cb)] {
        match unpack(cx, e.name, c, e.data) {
            Unpacked::Data(d) => out.push(d),
            Unpacked::Limit => return None,
            Unpacked::Corrupt(why) => {
                cx.emit(
                    loc(e.name, "data", e.data_at),
                    Cause::Unparsed {
                        format: "zip".into(),
                        reason: format!(
                            "{} does not decompress: {why}",
                            String::from_utf8_lossy(e.name)
                        ),
                    },
                    Evidence::absent(),
                    Evidence::absent(),
                    b"",
                );
                return None;
            }
        }
    }
    let b = out.pop()?;
    let a = out.pop()?;
    Some((a, b))
}

/// Compare the contents of one entry; true when they differ once
/// decompressed.
fn content(cx: &mut Cx<'_>, ea: &Entry<'_>, eb: &Entry<'_>) -> bool {
    if ea.method == eb.method && ea.data == eb.data {
        return false;
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
                format: "zip".into(),
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

/// A wheel's RECORD: `path,sha256=…,size` per member. Lines whose hash and
/// size changed because that member's content changed are consequences;
/// the rest is compared as text with those fields masked, so an order
/// change or an unexplained line still shows.
fn record(cx: &mut Cx<'_>, ea: &Entry<'_>, eb: &Entry<'_>, changed: &BTreeSet<Vec<u8>>) {
    if ea.method == eb.method && ea.data == eb.data {
        return;
    }
    let Some((ua, ub)) = unpack_pair(cx, ea, eb) else {
        return;
    };
    if ua == ub {
        content(cx, ea, eb);
        return;
    }
    let lines_a: Vec<&[u8]> = ua.split(|&c| c == b'\n').collect();
    let lines_b: Vec<&[u8]> = ub.split(|&c| c == b'\n').collect();
    let index = |lines: &[&[u8]]| -> BTreeMap<Vec<u8>, usize> {
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| (record_path(l).to_vec(), i))
            .collect()
    };
    let (index_a, index_b) = (index(&lines_a), index(&lines_b));
    let span = |n: usize| LineSpan {
        start: n as u64 + 1,
        count: 1,
    };
    cx.in_member(ea.name, |cx| {
        for (path, &i) in &index_a {
            if !changed.contains(path) {
                continue;
            }
            let la = lines_a.get(i).copied().unwrap_or_default();
            let (location, eb) = match index_b.get(path) {
                Some(&j) => {
                    let lb = lines_b.get(j).copied().unwrap_or_default();
                    if la == lb {
                        continue;
                    }
                    let loc = Location::Lines {
                        a: span(i),
                        b: span(j),
                    };
                    (loc, Evidence::value(lb.to_vec()))
                }
                None => (
                    Location::Lines {
                        a: span(i),
                        b: LineSpan { start: 0, count: 0 },
                    },
                    Evidence::absent(),
                ),
            };
            let of = format!("the content of {}", String::from_utf8_lossy(path));
            cx.emit(
                location,
                Cause::Consequence { of },
                Evidence::value(la.to_vec()),
                eb,
                path,
            );
        }
        for (path, &j) in &index_b {
            if changed.contains(path) && !index_a.contains_key(path) {
                let lb = lines_b.get(j).copied().unwrap_or_default();
                let of = format!("the content of {}", String::from_utf8_lossy(path));
                cx.emit(
                    Location::Lines {
                        a: LineSpan { start: 0, count: 0 },
                        b: span(j),
                    },
                    Cause::Consequence { of },
                    Evidence::absent(),
                    Evidence::value(lb.to_vec()),
                    path,
                );
            }
        }
    });
    // The rest of RECORD as text: hash and size of changed members masked,
    // lines of members on one side only left out (reported above).
    let mask = |lines: &[&[u8]], other: &BTreeMap<Vec<u8>, usize>| -> Vec<u8> {
        let mut kept: Vec<Vec<u8>> = Vec::new();
        for l in lines {
            let p = record_path(l);
            if !changed.contains(p) {
                kept.push(l.to_vec());
            } else if other.contains_key(p) {
                kept.push([p, b",<hash of changed member>,<size>".as_slice()].concat());
            }
        }
        kept.join(&b'\n')
    };
    let (ma, mb) = (mask(&lines_a, &index_b), mask(&lines_b, &index_a));
    cx.member(ea.name, &ma, &mb);
}

/// The path field of a RECORD line: everything before the last two commas
/// (a path may itself contain commas, and is then CSV-quoted).
fn record_path(line: &[u8]) -> &[u8] {
    let mut cut = line.len();
    for _ in 0..2 {
        cut = line
            .get(..cut)
            .and_then(|l| l.iter().rposition(|&c| c == b','))
            .unwrap_or(0);
    }
    let p = line.get(..cut).unwrap_or_default();
    p.strip_prefix(b"\"")
        .and_then(|p| p.strip_suffix(b"\""))
        .unwrap_or(p)
}

#[cfg(test)]
#[expect(
    clippy::indexing_slicing,
    reason = "tests index fixtures they just built"
)]
mod tests {
    use super::*;
    use crate::classify::{Canaries, Classifier};
    use crate::diff::Limits;
    use crate::finding::{Artifact, Finding};
    use crate::formats::archive::fixture;

    const WHEEL: &str = "archives/wheel/a/demo_pkg-1.0-cp311-cp311-linux_x86_64.whl";
    const WHEEL_B: &str = "archives/wheel/b/demo_pkg-1.0-cp311-cp311-linux_x86_64.whl";

    fn compare(limits: &Limits, a: &[u8], b: &[u8]) -> Vec<Finding> {
        let classifier = Classifier::new(Canaries::default(), 1_795_614_312);
        let mut cx = Cx::new(Artifact::new("x.whl"), &classifier, limits);
        ZipComparator.compare(&mut cx, a, b);
        cx.finish().0
    }

    #[test]
    fn reads_a_real_wheel() {
        let data = fixture(WHEEL);
        let z = parse(&data, 1000).unwrap();
        let names: Vec<_> = z
            .entries
            .iter()
            .map(|e| String::from_utf8_lossy(e.name))
            .collect();
        assert_eq!(
            names.first().map(|n| n.as_ref()),
            Some("demo_pkg/__init__.py")
        );
        assert_eq!(
            names.last().map(|n| n.as_ref()),
            Some("demo_pkg-1.0.dist-info/RECORD")
        );
        assert!(z.suspicious.is_empty());
        assert!(z.entries.iter().all(|e| e.method == 8));
    }

    #[test]
    fn every_truncation_of_a_wheel_is_an_error_not_a_panic() {
        // Every length in the tail (end record, central directory, last
        // local headers), every third before it: the end-record search
        // dominates the cost in debug builds.
        let data = fixture(WHEEL);
        let tail = data.len() - 1024;
        for cut in (0..tail).step_by(3).chain(tail..data.len()) {
            assert!(parse(&data[..cut], 1000).is_err(), "cut {cut}");
        }
    }

    #[test]
    fn every_truncation_of_a_small_zip_gives_a_finding() {
        let a = fixture("pairs/zip-dos/a/pkg.zip");
        let b = fixture("pairs/zip-dos/b/pkg.zip");
        for cut in 0..b.len() {
            let f = compare(&Limits::default(), &a, &b[..cut]);
            assert!(!f.is_empty(), "cut {cut}");
            assert_eq!(f[0].cause.name(), "unparsed", "cut {cut}");
        }
    }

    #[test]
    fn member_count_limit_is_a_finding() {
        let limits = Limits {
            max_members: 2,
            ..Limits::default()
        };
        let f = compare(&limits, &fixture(WHEEL), &fixture(WHEEL_B));
        assert!(
            f.iter().any(|f| matches!(
                f.cause,
                Cause::Limit {
                    limit: LimitKind::Members,
                    ..
                }
            )),
            "{f:#?}"
        );
        // Only the first two entries were compared.
        assert!(
            f.iter()
                .all(|f| !f.location.to_string().contains("METADATA"))
        );
    }

    #[test]
    fn same_content_recompressed_is_the_compressor() {
        let text = b"print('hello')\n".repeat(40);
        let make = |method: zip_method::M| {
            let mut w = zip_method::Writer::default();
            w.add("pkg/a.py", &text, method);
            w.finish()
        };
        let (a, b) = (make(zip_method::M::Stored), make(zip_method::M::Deflated));
        let f = compare(&Limits::default(), &a, &b);
        let causes: Vec<_> = f.iter().map(|f| f.cause.name()).collect();
        assert_eq!(causes, ["compressor"], "{f:#?}");
    }

    #[test]
    fn entry_order_is_ordering() {
        let make = |names: &[&str]| {
            let mut w = zip_method::Writer::default();
            for n in names {
                w.add(n, b"same\n", zip_method::M::Stored);
            }
            w.finish()
        };
        let f = compare(
            &Limits::default(),
            &make(&["a.txt", "b.txt", "c.txt"]),
            &make(&["c.txt", "a.txt", "b.txt"]),
        );
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].cause, Cause::Ordering { records: 1 });
        assert_eq!(f[0].location.to_string(), "central directory, entry order");
    }

    #[test]
    fn record_lines_of_changed_and_added_members_are_consequences() {
        let record = "pkg-1.0.dist-info/RECORD";
        let make = |files: &[(&str, &str)]| {
            let mut w = zip_method::Writer::default();
            let mut rec = String::new();
            for (name, text) in files {
                w.add(name, text.as_bytes(), zip_method::M::Deflated);
                rec.push_str(&format!(
                    "{name},sha256={},{}\n",
                    text.len() * 7,
                    text.len()
                ));
            }
            rec.push_str(&format!("{record},,\n"));
            w.add(record, rec.as_bytes(), zip_method::M::Deflated);
            w.finish()
        };
        let a = make(&[("pkg/a.py", "x = 1\n"), ("pkg/same.py", "y = 2\n")]);
        let b = make(&[
            ("pkg/a.py", "x = 22\n"),
            ("pkg/same.py", "y = 2\n"),
            ("pkg/new.py", "z = 3\n"),
        ]);
        let f = compare(&Limits::default(), &a, &b);
        let on_record: Vec<_> = f
            .iter()
            .filter(|f| f.artifact.to_string() == format!("x.whl!{record}"))
            .map(|f| f.cause.to_string())
            .collect();
        assert_eq!(
            on_record,
            [
                "consequence of the content of pkg/a.py",
                "consequence of the content of pkg/new.py"
            ],
            "{f:#?}"
        );
        assert!(
            f.iter().any(
                |f| f.artifact.to_string() == "x.whl!pkg/new.py" && f.cause.name() == "only_in"
            )
        );
    }

    /// A minimal zip writer for tests (stored or deflated entries).
    mod zip_method {
        use std::io::Write;

        pub enum M {
            Stored,
            Deflated,
        }

        #[derive(Default)]
        pub struct Writer {
            out: Vec<u8>,
            cd: Vec<u8>,
            n: u16,
        }

        impl Writer {
            pub fn add(&mut self, name: &str, data: &[u8], m: M) {
                let (method, body) = match m {
                    M::Stored => (0u16, data.to_vec()),
                    M::Deflated => {
                        let mut e = flate2::write::DeflateEncoder::new(
                            Vec::new(),
                            flate2::Compression::best(),
                        );
                        e.write_all(data).unwrap();
                        (8, e.finish().unwrap())
                    }
                };
                let crc = {
                    let mut h = flate2::Crc::new();
                    h.update(data);
                    h.sum()
                };
                let at = self.out.len() as u32;
                let common = |v: &mut Vec<u8>| {
                    v.extend_from_slice(&20u16.to_le_bytes());
                    v.extend_from_slice(&0u16.to_le_bytes());
                    v.extend_from_slice(&method.to_le_bytes());
                    v.extend_from_slice(&0u16.to_le_bytes());
                    v.extend_from_slice(&0x21u16.to_le_bytes());
                    v.extend_from_slice(&crc.to_le_bytes());
                    v.extend_from_slice(&(body.len() as u32).to_le_bytes());
                    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
                    v.extend_from_slice(&(name.len() as u16).to_le_bytes());
                    v.extend_from_slice(&0u16.to_le_bytes());
                };
                self.out.extend_from_slice(b"PK\x03\x04");
                common(&mut self.out);
                self.out.extend_from_slice(name.as_bytes());
                self.out.extend_from_slice(&body);
                self.cd.extend_from_slice(b"PK\x01\x02\x14\x03");
                common(&mut self.cd);
                self.cd.extend_from_slice(&[0u8; 6]); // comment length, disk, internal attributes
                self.cd
                    .extend_from_slice(&(0o100644u32 << 16).to_le_bytes());
                self.cd.extend_from_slice(&at.to_le_bytes());
                self.cd.extend_from_slice(name.as_bytes());
                self.n += 1;
            }

            pub fn finish(mut self) -> Vec<u8> {
                let cd_at = self.out.len() as u32;
                self.out.extend_from_slice(&self.cd);
                self.out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
                self.out.extend_from_slice(&self.n.to_le_bytes());
                self.out.extend_from_slice(&self.n.to_le_bytes());
                self.out
                    .extend_from_slice(&(self.cd.len() as u32).to_le_bytes());
                self.out.extend_from_slice(&cd_at.to_le_bytes());
                self.out.extend_from_slice(&0u16.to_le_bytes());
                self.out
            }
        }
    }
}
