//! `ar` comparator (static libraries): member order, the header fields
//! deterministic mode zeroes (date, uid, gid, mode), the symbol index, and
//! every member recursed into the comparator its content calls for, so a
//! finding reads `lib/libfoo.a!foo.o: DW_AT_comp_dir ...`.
//!
//! Reads GNU archives (`/` and `/SYM64/` symbol tables, `//` long names,
//! `name/` terminators), BSD archives (`#1/<len>` names stored before the
//! data, `__.SYMDEF` tables) and GNU thin archives (`!<thin>`, whose
//! members live outside: only their headers are compared). Every header is
//! read through the checked reader; a size larger than what is left, a bad
//! number or a long-name offset outside the table is a parse error with its
//! offset.
#![deny(clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};

use super::archive::one_sided;
use super::bytes::{Bytes, ParseError, Result};
use super::{Comparator, Cx, Format, changed_runs};
use crate::finding::{Cause, Decoded, Evidence, LimitKind, Location, MetadataField, Text};

pub(crate) struct ArComparator;

const HEADER: usize = 60;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Regular,
    /// GNU `/` or `/SYM64/`, BSD `__.SYMDEF`.
    SymbolIndex,
    /// GNU `//`.
    LongNames,
}

#[derive(Clone, Debug)]
struct Member<'d> {
    name: Vec<u8>,
    kind: Kind,
    /// Offset of the 60-byte header.
    header_at: u64,
    date: &'d [u8],
    uid: &'d [u8],
    gid: &'d [u8],
    mode: &'d [u8],
    /// The content (for a BSD long name, after the name).
    data: &'d [u8],
}

#[derive(Debug)]
struct Archive<'d> {
    members: Vec<Member<'d>>,
    /// The symbols of the index, in order, each with the header offset of
    /// the member that defines it.
    symbols: Vec<(&'d [u8], u64)>,
    /// The member count limit stopped the parse.
    truncated: bool,
}

fn trim(field: &[u8]) -> &[u8] {
    let end = field.iter().rposition(|&c| c != b' ').map_or(0, |p| p + 1);
    field.get(..end).unwrap_or_default()
}

/// A decimal (or octal) header number; spaces pad it on the right.
fn number(field: &[u8], radix: u32, at: u64, what: &str) -> Result<u64> {
    let t = trim(field);
    let text = std::str::from_utf8(t).ok();
    text.filter(|s| !s.is_empty())
        .and_then(|s| u64::from_str_radix(s, radix).ok())
        .ok_or_else(|| {
            ParseError::new(
                at,
                format!("bad {what} field {:?}", String::from_utf8_lossy(field)),
            )
        })
}

fn parse(data: &[u8], max_members: u64) -> Result<Archive<'_>> {
    let mut r = Bytes::new(data);
    let magic = r.take(8)?;
    let thin = magic == b"!<thin>\n";
    if !thin && magic != b"!<arch>\n" {
        return Err(ParseError::new(0, "not an ar archive (bad magic)"));
    }
    let mut members = Vec::new();
    let mut long_names: &[u8] = &[];
    let mut symbols = Vec::new();
    let mut truncated = false;
    while !r.at_end() {
        // Members start on even offsets; a lone padding byte may end it.
        if r.pos() % 2 == 1 {
            r.skip(1)?;
            if r.at_end() {
                break;
            }
        }
        if members.len() as u64 >= max_members {
            truncated = true;
            break;
        }
        let header_at = r.offset();
        let mut h = r.take_reader(HEADER)?;
        let raw_name = h.take(16)?;
        let date = h.take(12)?;
        let uid = h.take(6)?;
        let gid = h.take(6)?;
        let mode = h.take(8)?;
        let size_field = h.take(10)?;
        if h.take(2)? != b"`\n" {
            return Err(ParseError::new(
                header_at + 58,
                "bad member header terminator (want \"`\\n\")",
            ));
        }
        let size = number(size_field, 10, header_at + 48, "ar_size")?;
        let name_field = trim(raw_name);
        let kind = match name_field {
            b"/" | b"/SYM64/" => Kind::SymbolIndex,
            b"//" => Kind::LongNames,
            _ => Kind::Regular,
        };
        // Thin archives store only the index and long names inside.
        let stored = if thin && kind == Kind::Regular {
            0
        } else {
            size
        };
        if stored > r.remaining() as u64 {
            return Err(ParseError::new(
                header_at + 48,
                format!(
                    "member size {size} is larger than the {} bytes left",
                    r.remaining()
                ),
            ));
        }
        let mut body = r.take(stored as usize)?;
        let data_at = header_at + HEADER as u64;
        let name: Vec<u8> = if let Some(len) = name_field.strip_prefix(b"#1/") {
            // BSD: the name is the first `len` bytes of the data.
            let len = number(len, 10, header_at, "BSD name length")?;
            let mut d = Bytes::new(body);
            let n = d
                .take(usize::try_from(len).unwrap_or(usize::MAX))
                .map_err(|_| {
                    ParseError::new(
                        data_at,
                        format!("BSD name of {len} bytes overruns the member"),
                    )
                })?;
            body = d.rest();
            let end = n.iter().position(|&c| c == 0).unwrap_or(n.len());
            n.get(..end).unwrap_or_default().to_vec()
        } else if kind == Kind::Regular && name_field.first() == Some(&b'/') {
            // GNU: `/<offset>` into the long-name table, ended by `/\n`.
            let off = number(
                name_field.get(1..).unwrap_or_default(),
                10,
                header_at,
                "long name offset",
            )?;
            let t = Bytes::new(long_names);
            let rest = t.read_at(off, 0).and_then(|_| {
                let start = usize::try_from(off).unwrap_or(usize::MAX);
                long_names
                    .get(start..)
                    .ok_or_else(|| ParseError::new(header_at, "long name offset"))
            });
            let rest = rest.map_err(|_| {
                ParseError::new(
                    header_at,
                    format!(
                        "long name offset {off} outside the {}-byte name table",
                        long_names.len()
                    ),
                )
            })?;
            let end = rest
                .iter()
                .position(|&c| c == b'\n' || c == 0)
                .unwrap_or(rest.len());
            let n = rest.get(..end).unwrap_or_default();
            n.strip_suffix(b"/").unwrap_or(n).to_vec()
        } else {
            name_field.strip_suffix(b"/").unwrap_or(name_field).to_vec()
        };
        let kind = if name.starts_with(b"__.SYMDEF") {
            Kind::SymbolIndex
        } else {
            kind
        };
        match kind {
            Kind::LongNames => long_names = body,
            Kind::SymbolIndex if symbols.is_empty() => {
                symbols = symbol_index(&name, body, data_at)?;
            }
            _ => {}
        }
        members.push(Member {
            name,
            kind,
            header_at,
            date,
            uid,
            gid,
            mode,
            data: body,
        });
    }
    Ok(Archive {
        members,
        symbols,
        truncated,
    })
}

/// The symbols of an archive index, in order, with the header offset of
/// the member defining each.
fn symbol_index<'d>(name: &[u8], body: &'d [u8], at: u64) -> Result<Vec<(&'d [u8], u64)>> {
    let mut r = Bytes::new(body);
    let mut out = Vec::new();
    if name.starts_with(b"__.SYMDEF") {
        // BSD: ranlib array size, entries (strx, offset), strings size, strings.
        let size = r.u32_le()? as usize;
        let count = r.check_count((size / 8) as u64, 8, "BSD symbol index")?;
        let mut strx = Vec::new();
        for _ in 0..count {
            let x = r.u32_le()?;
            strx.push((x, u64::from(r.u32_le()?)));
        }
        let str_size = r.u32_le()? as usize;
        let strings = r
            .take(str_size)
            .map_err(|e| ParseError::new(at + e.at, e.what))?;
        for (x, member) in strx {
            let s = strings.get(x as usize..).unwrap_or_default();
            let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
            out.push((s.get(..end).unwrap_or_default(), member));
        }
        return Ok(out);
    }
    let wide = name == b"/SYM64";
    let count = if wide {
        r.u64_be()?
    } else {
        u64::from(r.u32_be()?)
    };
    let width = if wide { 8 } else { 4 };
    let count = r
        .check_count(count, width, "symbol index")
        .map_err(|e| ParseError::new(at + e.at, e.what))?;
    let mut offsets = Vec::new();
    for _ in 0..count {
        offsets.push(if wide {
            r.u64_be()?
        } else {
            u64::from(r.u32_be()?)
        });
    }
    for member in offsets {
        let s = r
            .until(0)
            .map_err(|e| ParseError::new(at + e.at, format!("symbol index name: {}", e.what)))?;
        out.push((s, member));
    }
    Ok(out)
}

impl Comparator for ArComparator {
    fn compare(&self, cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
        let max = cx.limits.max_members;
        match (parse(a, max), parse(b, max)) {
            (Ok(x), Ok(y)) => compare(cx, &x, &y),
            (Err(e), _) => cx.unparsed(Format::Ar, format!("side A: {e}"), a, b),
            (_, Err(e)) => cx.unparsed(Format::Ar, format!("side B: {e}"), a, b),
        }
    }
}

/// Regular members keyed by name and occurrence (an archive may hold two
/// members of one name).
fn keyed<'a, 'd>(ar: &'a Archive<'d>) -> Vec<((&'a [u8], usize), &'a Member<'d>)> {
    let mut count: BTreeMap<&[u8], usize> = BTreeMap::new();
    ar.members
        .iter()
        .filter(|m| m.kind == Kind::Regular)
        .map(|m| {
            let n = count.entry(&m.name).or_insert(0);
            *n += 1;
            ((m.name.as_slice(), *n), m)
        })
        .collect()
}

fn compare(cx: &mut Cx<'_>, a: &Archive<'_>, b: &Archive<'_>) {
    if a.truncated || b.truncated {
        cx.limit(LimitKind::Members, cx.limits.max_members);
    }
    let (ka, kb) = (keyed(a), keyed(b));
    let na: Vec<&[u8]> = ka.iter().map(|((n, _), _)| *n).collect();
    let nb: Vec<&[u8]> = kb.iter().map(|((n, _), _)| *n).collect();
    let mut reordered = false;
    if na != nb {
        let mut sa = na.clone();
        let mut sb = nb.clone();
        sa.sort_unstable();
        sb.sort_unstable();
        if sa == sb {
            reordered = true;
            let moved: usize = changed_runs(&na, &nb).iter().map(|(x, _)| x.len()).sum();
            cx.emit(
                Location::Field {
                    path: vec!["member order".to_owned()],
                    at: Some(8),
                },
                Cause::Ordering {
                    records: moved as u64,
                },
                Evidence::value(na.join(&b' ')),
                Evidence::value(nb.join(&b' ')),
                b"member order",
            );
        }
    }
    // The symbol index's own header: `ar D` zeroes its date too (issue
    // 12, class 9).
    if let (Some(ia), Some(ib)) = (index_member(a), index_member(b)) {
        // GNU's index is the member `/` (its name is empty once the
        // terminating slash is gone), BSD's `__.SYMDEF`.
        let name = if ia.name.is_empty() {
            &b"/"[..]
        } else {
            &ia.name[..]
        };
        let place = format!("symbol index {}", String::from_utf8_lossy(name));
        headers(cx, &place, ia, ib);
    }
    let index_b: BTreeMap<_, _> = kb.iter().map(|(k, m)| (*k, *m)).collect();
    let index_a: BTreeMap<_, _> = ka.iter().map(|(k, m)| (*k, *m)).collect();
    let mut sizes_differ = false;
    // Members whose content differs, or on one side only, by name.
    let mut changed: BTreeSet<&[u8]> = BTreeSet::new();
    for (k, ma) in &ka {
        match index_b.get(k) {
            Some(mb) => {
                sizes_differ |= ma.data.len() != mb.data.len();
                if ma.data != mb.data {
                    changed.insert(&ma.name);
                }
                cx.in_member(&ma.name, |cx| headers(cx, "ar header", ma, mb));
                cx.member(&ma.name, ma.data, mb.data);
            }
            None => {
                changed.insert(&ma.name);
            }
        }
    }
    let only_a: Vec<&[u8]> = ka
        .iter()
        .filter(|(k, _)| !index_b.contains_key(k))
        .map(|(_, m)| m.name.as_slice())
        .collect();
    let only_b: Vec<&[u8]> = kb
        .iter()
        .filter(|(k, _)| !index_a.contains_key(k))
        .map(|(_, m)| m.name.as_slice())
        .collect();
    for n in &only_b {
        changed.insert(n);
    }
    let by_name = |ar: &'_ Archive<'_>, n: &[u8]| -> Option<usize> {
        ar.members
            .iter()
            .position(|m| m.kind == Kind::Regular && m.name == n)
    };
    one_sided(cx, "member", &only_a, &only_b, |cx, x, y| {
        if let (Some(i), Some(j)) = (by_name(a, x), by_name(b, y))
            && let (Some(ma), Some(mb)) = (a.members.get(i), b.members.get(j))
        {
            cx.member(&ma.name, ma.data, mb.data);
        }
    });
    symbol_index_differs(cx, a, b, reordered, sizes_differ, &changed);
}

/// The archive's symbol index member.
fn index_member<'a, 'd>(ar: &'a Archive<'d>) -> Option<&'a Member<'d>> {
    ar.members.iter().find(|m| m.kind == Kind::SymbolIndex)
}

/// The header fields deterministic mode zeroes, located at `place`.
fn headers(cx: &mut Cx<'_>, place: &str, a: &Member<'_>, b: &Member<'_>) {
    for (field, name, offset, x, y) in [
        (MetadataField::Mtime, "ar_date", 16, a.date, b.date),
        (MetadataField::Uid, "ar_uid", 28, a.uid, b.uid),
        (MetadataField::Gid, "ar_gid", 34, a.gid, b.gid),
        (MetadataField::Mode, "ar_mode", 40, a.mode, b.mode),
    ] {
        if trim(x) == trim(y) {
            continue;
        }
        let evidence = |v: &[u8]| {
            let mut e = Evidence::value(trim(v));
            let n = number(
                v,
                if field == MetadataField::Mode { 8 } else { 10 },
                0,
                name,
            )
            .ok();
            e.decoded = match (field, n) {
                (MetadataField::Mtime, Some(t)) => i64::try_from(t).ok().map(Decoded::Time),
                (MetadataField::Mode, Some(m)) => u32::try_from(m).ok().map(Decoded::Mode),
                _ => None,
            };
            if field == MetadataField::Mtime {
                e.token = Some(Text::new(trim(v)));
            }
            e
        };
        cx.emit(
            Location::Field {
                path: vec![place.to_owned(), name.to_owned()],
                at: Some(a.header_at + offset),
            },
            Cause::ArchiveHeader { field },
            evidence(x),
            evidence(y),
            name.as_bytes(),
        );
    }
}

/// The symbol index lists each defined symbol with its member's offset:
/// it follows the members' order and sizes, and the symbols the members
/// define. A changed symbol is a consequence only when the member defining
/// it changed; otherwise the index is reported with the names that differ.
fn symbol_index_differs(
    cx: &mut Cx<'_>,
    a: &Archive<'_>,
    b: &Archive<'_>,
    reordered: bool,
    sizes_differ: bool,
    changed: &BTreeSet<&[u8]>,
) {
    let (Some(ia), Some(ib)) = (index_member(a), index_member(b)) else {
        return;
    };
    if ia.data == ib.data {
        return;
    }
    // Symbols (with their defining member's name) on one side only.
    fn defined<'d>(ar: &Archive<'d>) -> BTreeMap<&'d [u8], Vec<u8>> {
        ar.symbols
            .iter()
            .map(|(s, at)| {
                let member = ar
                    .members
                    .iter()
                    .find(|m| m.header_at == *at)
                    .map(|m| m.name.clone())
                    .unwrap_or_default();
                (*s, member)
            })
            .collect()
    }
    let (da, db) = (defined(a), defined(b));
    let only =
        |x: &BTreeMap<&[u8], Vec<u8>>, y: &BTreeMap<&[u8], Vec<u8>>| -> Vec<(Vec<u8>, Vec<u8>)> {
            x.iter()
                .filter(|(s, _)| !y.contains_key(*s))
                .map(|(s, m)| (s.to_vec(), m.clone()))
                .collect()
        };
    let (oa, ob) = (only(&da, &db), only(&db, &da));
    let unexplained: Vec<&[u8]> = oa
        .iter()
        .chain(&ob)
        .filter(|(_, m)| !changed.contains(m.as_slice()))
        .map(|(s, _)| s.as_slice())
        .collect();
    let names_differ = !oa.is_empty() || !ob.is_empty();
    let of = if !unexplained.is_empty() {
        None
    } else if names_differ {
        let mut members: Vec<String> = oa
            .iter()
            .chain(&ob)
            .map(|(_, m)| String::from_utf8_lossy(m).into_owned())
            .collect();
        members.sort();
        members.dedup();
        Some(format!("the symbols defined by {}", members.join(", ")))
    } else if reordered {
        Some("the member order change".to_owned())
    } else if sizes_differ {
        Some("the member size changes: symbol offsets shifted".to_owned())
    } else {
        None
    };
    let list = |v: &[(Vec<u8>, Vec<u8>)]| -> Evidence {
        let names: Vec<String> = v
            .iter()
            .take(8)
            .map(|(s, _)| String::from_utf8_lossy(s).into_owned())
            .collect();
        let more = v.len().saturating_sub(8);
        let text = match (names.is_empty(), more) {
            (true, _) => "no symbol of its own".to_owned(),
            (false, 0) => names.join(", "),
            (false, n) => format!("{}, … ({n} more)", names.join(", ")),
        };
        Evidence::value(text)
    };
    let (ea, eb) = if names_differ {
        (list(&oa), list(&ob))
    } else {
        (
            Evidence::value(format!("{} symbols", a.symbols.len())),
            Evidence::value(format!("{} symbols", b.symbols.len())),
        )
    };
    let cause = match of {
        Some(of) => Cause::Consequence { of },
        None => Cause::Unknown { differences: 1 },
    };
    cx.emit(
        Location::Field {
            path: vec!["symbol index".to_owned()],
            at: Some(ia.header_at),
        },
        cause,
        ea,
        eb,
        b"symbol index",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, date: &str, size: usize) -> Vec<u8> {
        let mut h = format!(
            "{name:<16}{date:<12}{:<6}{:<6}{:<8}{size:<10}`\n",
            0, 0, 644
        )
        .into_bytes();
        assert_eq!(h.len(), 60);
        h.shrink_to_fit();
        h
    }

    fn archive(members: &[(&str, &str, &[u8])]) -> Vec<u8> {
        let mut out = b"!<arch>\n".to_vec();
        for (name, date, data) in members {
            out.extend(header(name, date, data.len()));
            out.extend_from_slice(data);
            if data.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    #[test]
    fn reads_gnu_long_names_and_symbol_index() {
        let names = b"a_very_long_member_name.o/\n";
        let mut index = 1u32.to_be_bytes().to_vec();
        index.extend(0u32.to_be_bytes());
        index.extend(b"main\0");
        let data = archive(&[
            ("/", "0", &index),
            ("//", "", names),
            ("/0", "0", b"x"),
            ("short.o/", "0", b"yy"),
        ]);
        let ar = parse(&data, 100).unwrap();
        let regular: Vec<_> = ar
            .members
            .iter()
            .filter(|m| m.kind == Kind::Regular)
            .map(|m| m.name.clone())
            .collect();
        assert_eq!(
            regular,
            [b"a_very_long_member_name.o".to_vec(), b"short.o".to_vec()]
        );
        assert_eq!(ar.symbols, [(&b"main"[..], 0)]);
    }

    #[test]
    fn reads_bsd_names() {
        let data = archive(&[("#1/12", "0", b"long_name.o\0body")]);
        let ar = parse(&data, 100).unwrap();
        let m = ar.members.first().unwrap();
        assert_eq!(m.name, b"long_name.o");
        assert_eq!(m.data, b"body");
    }

    #[test]
    fn absurd_sizes_and_offsets_are_errors_with_offsets() {
        let mut data = archive(&[("x.o/", "0", b"ab")]);
        data.splice(8 + 48..8 + 58, *b"9999999999");
        let e = parse(&data, 100).unwrap_err();
        assert_eq!(e.at, 8 + 48);
        assert!(e.what.contains("larger than"), "{e}");
        let data = archive(&[("/99", "0", b"ab")]);
        assert!(
            parse(&data, 100)
                .unwrap_err()
                .to_string()
                .contains("long name offset")
        );
        let mut index = u32::MAX.to_be_bytes().to_vec();
        index.extend(b"xx");
        let data = archive(&[("/", "0", &index)]);
        assert!(parse(&data, 100).unwrap_err().what.contains("cannot fit"));
    }

    #[test]
    fn reads_sym64_index_and_thin_archives() {
        let mut index = 2u64.to_be_bytes().to_vec();
        index.extend(8u64.to_be_bytes());
        index.extend(8u64.to_be_bytes());
        index.extend(b"alpha\0beta\0");
        let data = archive(&[("/SYM64/", "0", &index), ("x.o/", "0", b"zz")]);
        let ar = parse(&data, 100).unwrap();
        assert_eq!(ar.symbols, [(&b"alpha"[..], 8), (&b"beta"[..], 8)]);
        // Thin: the member's size names a file outside; nothing is stored.
        let mut thin = b"!<thin>\n".to_vec();
        thin.extend(header("x.o/", "0", 123456));
        let ar = parse(&thin, 100).unwrap();
        let m = ar.members.first().unwrap();
        assert_eq!((m.name.as_slice(), m.data), (&b"x.o"[..], &b""[..]));
    }

    #[test]
    fn member_limit_stops_parsing() {
        let data = archive(&[("a.o/", "0", b"1"), ("b.o/", "0", b"2")]);
        let ar = parse(&data, 1).unwrap();
        assert!(ar.truncated);
        assert_eq!(ar.members.len(), 1);
    }
}

#[cfg(test)]
mod sweep {
    use super::*;
    use crate::finding::Finding;
    use crate::formats::Limits;
    use crate::formats::testing::compare_with;

    fn run(limits: &Limits, a: &[u8], b: &[u8]) -> Vec<Finding> {
        let (findings, omitted) = compare_with(&ArComparator, "lib.a", limits, a, b);
        assert!(!findings.is_empty() || omitted > 0 || a == b);
        findings
    }

    /// Every truncation of a real static library: a parse error with its
    /// offset, or (cut at a member boundary) a shorter archive whose
    /// comparison reports the missing members; through the comparator, never
    /// a panic (findings capped at 8 to keep the sweep quick).
    #[test]
    fn every_truncation_of_a_static_library() {
        let a = crate::formats::testing::fixture("elf/c/a/libutil.a");
        let b = crate::formats::testing::fixture("elf/c/b/libutil.a");
        let limits = Limits {
            max_findings: 8,
            ..Limits::default()
        };
        let mut parsed = 0;
        for cut in 0..a.len() {
            let cut_a = a.get(..cut).unwrap();
            let findings = run(&limits, cut_a, &b);
            let unparsed = findings.iter().any(|f| f.cause.name() == "unparsed");
            match parse(cut_a, 1000) {
                Ok(_) => {
                    parsed += 1;
                    assert!(!unparsed, "cut at {cut}");
                }
                Err(e) => {
                    assert!(e.at <= cut as u64 + 60, "cut at {cut}: {e}");
                    assert!(unparsed, "cut at {cut}");
                }
            }
        }
        // Only cuts at member boundaries parse.
        assert!(parsed < 8, "{parsed}");
    }

    /// An archive holding an archive holding ... stops at `max_depth` with
    /// a `limit` finding.
    #[test]
    fn nested_archives_stop_at_the_depth_limit() {
        fn wrap(inner: &[u8]) -> Vec<u8> {
            let mut out = b"!<arch>\n".to_vec();
            out.extend(
                format!(
                    "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                    "in.a/",
                    0,
                    0,
                    0,
                    644,
                    inner.len()
                )
                .into_bytes(),
            );
            out.extend_from_slice(inner);
            if inner.len() % 2 == 1 {
                out.push(b'\n');
            }
            out
        }
        let (mut a, mut b) = (b"deep a\n".to_vec(), b"deep b\n".to_vec());
        for _ in 0..20 {
            a = wrap(&a);
            b = wrap(&b);
        }
        let limits = Limits {
            max_depth: 5,
            ..Limits::default()
        };
        let findings = run(&limits, &a, &b);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(matches!(
            findings.first().map(|f| &f.cause),
            Some(Cause::Limit {
                limit: LimitKind::Depth,
                ..
            })
        ));
        // Reported on the member that was not opened.
        assert_eq!(findings.first().unwrap().artifact.depth(), 6);
    }

    #[test]
    fn header_fields_and_order_are_reported() {
        fn ar(members: &[(&str, u64, &[u8])]) -> Vec<u8> {
            let mut out = b"!<arch>\n".to_vec();
            for (name, date, data) in members {
                out.extend(
                    format!(
                        "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                        name,
                        date,
                        1000,
                        1000,
                        100644,
                        data.len()
                    )
                    .into_bytes(),
                );
                out.extend_from_slice(data);
                if data.len() % 2 == 1 {
                    out.push(b'\n');
                }
            }
            out
        }
        let a = ar(&[("x.txt/", 1_795_614_312, b"same\n"), ("y.txt/", 0, b"y\n")]);
        let b = ar(&[("y.txt/", 0, b"y\n"), ("x.txt/", 1_795_683_601, b"same\n")]);
        let findings = run(&Limits::default(), &a, &b);
        let causes: Vec<_> = findings
            .iter()
            .map(|f| (f.artifact.to_string(), f.cause.clone()))
            .collect();
        assert_eq!(
            causes,
            [
                ("lib.a".to_owned(), Cause::Ordering { records: 1 }),
                (
                    "lib.a!x.txt".to_owned(),
                    Cause::ArchiveHeader {
                        field: MetadataField::Mtime
                    }
                ),
            ]
        );
    }
}
