//! The zip comparator: archive-level differences (comment, entry order,
//! suspicious structures, the member limit), then each entry's header
//! fields on the archive and its content as a member.
#![deny(clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};

use super::member::{content, loc};
use super::read::{CD_FIXED, Entry, LOCAL_FIXED, extra_fields, parse};
use super::record::record;
use crate::classify::clock::ntfs_filetime;
use crate::classify::format_epoch;
use crate::classify::timestamp::dos_datetime;
use crate::finding::{
    Cause, Decoded, Evidence, LimitKind, Location, MetadataField, TimestampEncoding,
};
use crate::formats::archive::{
    epoch_evidence, one_sided, order, parse_both, suspicious, text_field, unknown,
};
use crate::formats::bytes::Bytes;
use crate::formats::{Comparator, Cx, Format, or_bytes};

pub(crate) struct ZipComparator;

fn dos_evidence(time: u16, date: u16) -> Evidence {
    match dos_datetime(time, date) {
        Some(t) => {
            let iso = format_epoch(t);
            Evidence::value(iso.clone()).with_token(iso.as_bytes(), Some(Decoded::Time(t)))
        }
        None => Evidence::value(format!("invalid DOS date {date:#06x} time {time:#06x}")),
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
        or_bytes(cx, a, b, |cx| compare(cx, a, b));
    }
}

fn compare(cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
    let Some((za, zb)) = parse_both(cx, Format::Zip, a, b, parse) else {
        return;
    };
    suspicious(cx, Format::Zip, "entry", &za.suspicious, &zb.suspicious);
    if za.skipped > 0 || zb.skipped > 0 {
        cx.limit(LimitKind::Members, cx.limits.max_members);
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
    let by_name_b: BTreeMap<&[u8], &Entry<'_>> = zb.entries.iter().map(|e| (e.name, e)).collect();
    let names_a: BTreeSet<&[u8]> = za.entries.iter().map(|e| e.name).collect();
    let mut changed: BTreeSet<Vec<u8>> = BTreeSet::new();
    let mut records: Vec<(&Entry<'_>, &Entry<'_>)> = Vec::new();
    let by_name_a: BTreeMap<&[u8], &Entry<'_>> = za.entries.iter().map(|e| (e.name, e)).collect();
    let mut done = BTreeSet::new();
    let mut only_a = Vec::new();
    for ea in &za.entries {
        if !done.insert(ea.name) {
            continue;
        }
        let Some(eb) = by_name_b.get(ea.name) else {
            only_a.push(ea.name);
            changed.insert(ea.name.to_vec());
            continue;
        };
        if is_record(ea.name) {
            cx.for_entry(|cx| headers(cx, ea, eb));
            records.push((ea, eb));
            continue;
        }
        if entry(cx, ea, eb) {
            changed.insert(ea.name.to_vec());
        }
    }
    let mut only_b = Vec::new();
    for eb in &zb.entries {
        if !names_a.contains(eb.name) && done.insert(eb.name) {
            only_b.push(eb.name);
            changed.insert(eb.name.to_vec());
        }
    }
    one_sided(cx, "entry", &only_a, &only_b, |cx, x, y| {
        if let (Some(ea), Some(eb)) = (by_name_a.get(x), by_name_b.get(y)) {
            entry(cx, ea, eb);
        }
    });
    for (ea, eb) in records {
        record(cx, ea, eb, &changed);
    }
}

/// One entry on both sides: its header fields (on the archive, with a cap
/// of their own) and its content; true when the content differs.
fn entry(cx: &mut Cx<'_>, ea: &Entry<'_>, eb: &Entry<'_>) -> bool {
    cx.for_entry(|cx| headers(cx, ea, eb));
    content(cx, ea, eb)
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
    local_fields(cx, ea, eb);
    external_attr(cx, ea, eb);
    // The local header repeats most of the central extra fields (and adds
    // atime/ctime to UT): what the central directory showed is not
    // reported twice.
    let mut reported = BTreeSet::new();
    let central_at = ea.cd_at + CD_FIXED + ea.name.len() as u64;
    extras(
        cx,
        n,
        "extra",
        central_at,
        (ea.extra, eb.extra),
        &mut reported,
    );
    let local_at = ea.local.at + LOCAL_FIXED + ea.local.name.len() as u64;
    let local = (ea.local.extra, eb.local.extra);
    extras(cx, n, "local extra", local_at, local, &mut reported);
    if ea.comment != eb.comment {
        let at = ea.cd_at + CD_FIXED + (ea.name.len() + ea.extra.len()) as u64;
        text_field(cx, loc(n, "comment", at), ea.comment, eb.comment);
    }
}

/// Fields of the local header that differ between the sides while their
/// central-directory copies agree (a writer that fills them differently,
/// or a corrupt header): reported raw, each with its offset.
fn local_fields(cx: &mut Cx<'_>, ea: &Entry<'_>, eb: &Entry<'_>) {
    // (name, offset in the local header, offset in the central record, width)
    const FIELDS: [(&str, usize, usize, usize); 6] = [
        ("version_needed", 4, 6, 2),
        ("general_purpose_flags", 6, 8, 2),
        ("compression_method", 8, 10, 2),
        ("crc32", 14, 16, 4),
        ("compressed_size", 18, 20, 4),
        ("uncompressed_size", 22, 24, 4),
    ];
    let (la, lb) = (ea.local.fixed, eb.local.fixed);
    if la == lb {
        return;
    }
    let (ca, cb) = (ea.central, eb.central);
    for (name, lo, co, w) in FIELDS {
        let (x, y) = (la.get(lo..lo + w), lb.get(lo..lo + w));
        if x != y && ca.get(co..co + w) == cb.get(co..co + w) {
            let hex =
                |v: Option<&[u8]>| Evidence::value(crate::finding::hex(v.unwrap_or_default()));
            cx.emit(
                loc(ea.name, &format!("local {name}"), ea.local.at + lo as u64),
                unknown(),
                hex(x),
                hex(y),
                b"",
            );
        }
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

/// The times an extended-timestamp field (0x5455) holds: a flags byte,
/// then mtime, atime and ctime for the flags set, as far as the field goes
/// (the central directory's copy holds the mtime only).
fn ut_times(d: &[u8]) -> Vec<(&'static str, u32)> {
    let mut r = Bytes::new(d);
    let Ok(flags) = r.u8() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (bit, name) in ["mtime", "atime", "ctime"].into_iter().enumerate() {
        if flags & (1 << bit) != 0 {
            match r.u32_le() {
                Ok(t) => out.push((name, t)),
                Err(_) => break,
            }
        }
    }
    out
}

/// The times of an NTFS extra field (0x000a): four reserved bytes, then
/// attributes (tag, size, data); tag 1 holds Mtime, Atime and Ctime as
/// FILETIMEs (APPNOTE 4.5.5).
fn ntfs_times(d: &[u8]) -> Vec<(&'static str, u64)> {
    let mut r = Bytes::new(d);
    let mut out = Vec::new();
    if r.skip(4).is_err() {
        return out;
    }
    while r.remaining() >= 4 {
        let (Ok(tag), Ok(size)) = (r.u16_le(), r.u16_le()) else {
            break;
        };
        let Ok(mut attr) = r.take_reader(usize::from(size)) else {
            break;
        };
        if tag == 1 {
            for name in ["Mtime", "Atime", "Ctime"] {
                match attr.u64_le() {
                    Ok(t) => out.push((name, t)),
                    Err(_) => break,
                }
            }
        }
    }
    out
}

/// The uid and gid of an Info-ZIP Unix field (0x7875): version, uid size,
/// uid, gid size, gid, little-endian.
fn ux_ids(d: &[u8]) -> Option<(u64, u64)> {
    let mut r = Bytes::new(d);
    r.u8().ok()?;
    let mut id = || -> Option<u64> {
        let n = usize::from(r.u8().ok()?);
        let v = r.take(n).ok()?;
        Some(
            v.iter()
                .rev()
                .fold(0u64, |acc, &c| acc.wrapping_shl(8) | u64::from(c)),
        )
    };
    Some((id()?, id()?))
}

/// Extra fields by header id: known ones decoded (0x5455 extended
/// timestamp, 0x7875 Info-ZIP Unix uid/gid), others as bytes. `reported`
/// holds the (id, field) pairs already reported for this entry.
fn extras(
    cx: &mut Cx<'_>,
    name: &[u8],
    which: &str,
    at: u64,
    (a, b): (&[u8], &[u8]),
    reported: &mut BTreeSet<(u16, &'static str)>,
) {
    if a == b {
        return;
    }
    let (fa, fb) = (extra_fields(a), extra_fields(b));
    let ids: BTreeSet<u16> = fa.iter().chain(&fb).map(|(id, _)| *id).collect();
    let get =
        |f: &[(u16, &'_ [u8])], id: u16| f.iter().find(|(i, _)| *i == id).map(|(_, d)| d.to_vec());
    let mut any = false;
    for id in ids {
        let (da, db) = (get(&fa, id), get(&fb, id));
        if da == db {
            continue;
        }
        any = true;
        let mut out: Vec<(&'static str, Cause, Evidence, Evidence)> = Vec::new();
        match (id, &da, &db) {
            (0x5455, Some(x), Some(y)) => {
                let (ta, tb) = (ut_times(x), ut_times(y));
                let time =
                    |v: &[(&str, u32)], f: &str| v.iter().find(|(n, _)| *n == f).map(|(_, t)| *t);
                for field in ["mtime", "atime", "ctime"] {
                    let (p, q) = (time(&ta, field), time(&tb, field));
                    if p != q {
                        let ev = |t: Option<u32>| {
                            t.map_or_else(Evidence::absent, |t| {
                                epoch_evidence(i64::from(t), &t.to_string())
                            })
                        };
                        let cause = Cause::Timestamp {
                            encoding: TimestampEncoding::EpochLe32,
                        };
                        out.push((field, cause, ev(p), ev(q)));
                    }
                }
            }
            (0x000a, Some(x), Some(y)) => {
                let (ta, tb) = (ntfs_times(x), ntfs_times(y));
                if ta.is_empty() && tb.is_empty() {
                    out.push(("data", unknown(), hex_ev(&da), hex_ev(&db)));
                }
                for field in ["Mtime", "Atime", "Ctime"] {
                    let get =
                        |v: &[(&str, u64)]| v.iter().find(|(n, _)| *n == field).map(|(_, t)| *t);
                    let (p, q) = (get(&ta), get(&tb));
                    if p != q {
                        let ev = |t: Option<u64>| {
                            t.map_or_else(Evidence::absent, |t| {
                                epoch_evidence(ntfs_filetime(t), &t.to_string())
                            })
                        };
                        let cause = Cause::Timestamp {
                            encoding: TimestampEncoding::NtfsFiletime,
                        };
                        out.push((field, cause, ev(p), ev(q)));
                    }
                }
            }
            (0x7875, Some(x), Some(y)) => match (ux_ids(x), ux_ids(y)) {
                (Some((ua, ga)), Some((ub, gb))) => {
                    let num = |v: u64| Evidence::value(v.to_string());
                    for (field, p, q, f) in [
                        ("uid", ua, ub, MetadataField::Uid),
                        ("gid", ga, gb, MetadataField::Gid),
                    ] {
                        if p != q {
                            out.push((field, Cause::Metadata { field: f }, num(p), num(q)));
                        }
                    }
                }
                _ => out.push(("data", unknown(), hex_ev(&da), hex_ev(&db))),
            },
            _ => out.push(("data", unknown(), hex_ev(&da), hex_ev(&db))),
        }
        for (field, cause, ea, eb) in out {
            if reported.insert((id, field)) {
                let place = loc(name, &format!("{which} {id:#06x} {field}"), at);
                cx.emit(place, cause, ea, eb, b"");
            }
        }
    }
    if !any {
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

#[cfg(test)]
#[expect(
    clippy::indexing_slicing,
    reason = "tests index fixtures they just built"
)]
mod tests {
    use super::*;
    use crate::finding::Finding;
    use crate::formats::Limits;
    use crate::formats::testing::{compare_with, fixture};

    const WHEEL: &str = "archives/wheel/a/demo_pkg-1.0-cp311-cp311-linux_x86_64.whl";
    const WHEEL_B: &str = "archives/wheel/b/demo_pkg-1.0-cp311-cp311-linux_x86_64.whl";

    fn compare(limits: &Limits, a: &[u8], b: &[u8]) -> Vec<Finding> {
        compare_with(&ZipComparator, "x.whl", limits, a, b).0
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
    fn archive_comment_is_explained() {
        let make = |comment: &str| {
            let mut w = zip_method::Writer::default();
            w.add("a.txt", b"same\n", zip_method::M::Stored);
            let mut z = w.finish();
            let n = z.len();
            z[n - 2..].copy_from_slice(&(comment.len() as u16).to_le_bytes());
            z.extend_from_slice(comment.as_bytes());
            z
        };
        let f = compare(
            &Limits::default(),
            &make("built 2026-11-25T13:45:12Z"),
            &make("built 2026-11-26T09:00:01Z"),
        );
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!(f[0].cause.name(), "timestamp");
        assert_eq!(f[0].location.to_string(), "archive comment");
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
