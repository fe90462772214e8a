//! Binary comparator: differing byte ranges, merged and capped, each
//! explained where a detector can (strings embedded in the bytes, integer and
//! DOS timestamps), with hex+ASCII context as evidence.
//!
//! Equal lengths are compared position by position. When the lengths differ
//! (a longer path shifts everything after it) both sides are cut into
//! NUL-terminated records and aligned, so one inserted byte does not turn the
//! rest of the file into a difference.

use std::ops::Range;

use super::{Comparator, Cx, changed_runs};
use crate::finding::{ByteSpan, Cause, Decoded, Evidence, Excerpt, Location, Text};

pub(crate) struct BinaryComparator;

/// Differences closer than this many equal bytes are one range.
const MERGE_GAP: usize = 3;
/// How far a string is followed beyond a differing range, each way.
const STRING_REACH: usize = 1024;
/// A printable run shorter than this is not read as a string.
const MIN_STRING: usize = 4;

/// One differing region: `a` in side A, `b` in side B.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Region {
    a: Range<usize>,
    b: Range<usize>,
}

impl Comparator for BinaryComparator {
    fn compare(&self, cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
        let ra = records(a);
        let rb = records(b);
        let small = ra.len() + rb.len() <= cx.limits.align_records;
        if small && ra.len() > 1 && ra != rb && same_multiset(&ra, &rb) {
            emit_ordering(cx, a, b, &ra, &rb);
            return;
        }
        let regions = if a.len() == b.len() {
            positional(a, b, 0, 0..a.len())
        } else {
            aligned(a, b, &ra, &rb, cx.limits.align_records)
        };
        let total = regions.len();
        let mut run: Option<UnknownRun> = None;
        let mut last_string: Option<Range<usize>> = None;
        for (n, r) in regions.into_iter().enumerate() {
            if cx.full() {
                cx.omit((total - n) as u64);
                break;
            }
            match explain_region(cx, a, b, &r, &mut last_string) {
                Verdict::Explained => {
                    if let Some(run) = run.take() {
                        run.emit(cx, a, b);
                    }
                }
                Verdict::Covered => {}
                Verdict::Unknown => match &mut run {
                    Some(run) => run.extend(&r),
                    None => run = Some(UnknownRun::new(r)),
                },
            }
        }
        if let Some(run) = run {
            run.emit(cx, a, b);
        }
    }
}

enum Verdict {
    /// Fully explained; findings emitted.
    Explained,
    /// Inside a string already explained by an earlier region.
    Covered,
    /// Nothing (or not everything) explains it.
    Unknown,
}

/// Unexplained regions with nothing explained between them: one finding, so
/// that offsets shifted by one root cause do not bury it under hundreds of
/// byte findings.
struct UnknownRun {
    first: Region,
    a: Range<usize>,
    b: Range<usize>,
    count: u64,
}

impl UnknownRun {
    fn new(r: Region) -> UnknownRun {
        UnknownRun {
            a: r.a.clone(),
            b: r.b.clone(),
            first: r,
            count: 1,
        }
    }

    fn extend(&mut self, r: &Region) {
        self.a.end = r.a.end;
        self.b.end = r.b.end;
        self.count += 1;
    }

    fn emit(self, cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
        let limit = cx.limits.evidence_bytes;
        cx.emit(
            Location::Bytes {
                a: span(self.a),
                b: span(self.b),
            },
            Cause::Unknown {
                differences: self.count,
            },
            Evidence::of(excerpt(a, self.first.a.clone(), limit)),
            Evidence::of(excerpt(b, self.first.b.clone(), limit)),
            &anchor(a, &self.first.a),
        );
    }
}

/// NUL-terminated records (the last one may lack its NUL).
fn records(data: &[u8]) -> Vec<&[u8]> {
    data.split_inclusive(|&c| c == 0).collect()
}

fn same_multiset(a: &[&[u8]], b: &[&[u8]]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut x = a.to_vec();
    let mut y = b.to_vec();
    x.sort_unstable();
    y.sort_unstable();
    x == y
}

/// Byte offsets of each record's start, plus the end.
fn offsets(records: &[&[u8]]) -> Vec<usize> {
    let mut out = Vec::with_capacity(records.len() + 1);
    let mut at = 0;
    out.push(0);
    for r in records {
        at += r.len();
        out.push(at);
    }
    out
}

fn emit_ordering(cx: &mut Cx<'_>, a: &[u8], b: &[u8], ra: &[&[u8]], rb: &[&[u8]]) {
    let (oa, ob) = (offsets(ra), offsets(rb));
    let changed = changed_runs(ra, rb);
    let records: usize = changed.iter().map(|(x, _)| x.len()).sum();
    let (Some((fa, fb)), Some((la, lb))) = (changed.first(), changed.last()) else {
        return;
    };
    let (first_a, last_a) = (oa[fa.start], oa[la.end]);
    let (first_b, last_b) = (ob[fb.start], ob[lb.end]);
    let limit = cx.limits.evidence_bytes;
    cx.emit(
        Location::Bytes {
            a: span(first_a..last_a),
            b: span(first_b..last_b),
        },
        Cause::Ordering {
            records: records as u64,
        },
        Evidence::of(excerpt(a, first_a..last_a, limit)),
        Evidence::of(excerpt(b, first_b..last_b, limit)),
        b"",
    );
}

/// Position-by-position comparison of `a[r]` with the equally long
/// `b[b_base..]`; offsets in the regions are absolute.
fn positional(a: &[u8], b: &[u8], b_base: usize, r: Range<usize>) -> Vec<Region> {
    let mut out: Vec<Region> = Vec::new();
    let a_base = r.start;
    let xa = &a[r.clone()];
    let xb = &b[b_base..b_base + r.len()];
    let mut i = 0;
    const CHUNK: usize = 64;
    while i < xa.len() {
        let end = (i + CHUNK).min(xa.len());
        if xa[i..end] == xb[i..end] {
            i = end;
            continue;
        }
        for k in i..end {
            if xa[k] == xb[k] {
                continue;
            }
            let (at_a, at_b) = (a_base + k, b_base + k);
            match out.last_mut() {
                Some(last) if at_a - last.a.end <= MERGE_GAP => {
                    last.a.end = at_a + 1;
                    last.b.end = at_b + 1;
                }
                _ => out.push(Region {
                    a: at_a..at_a + 1,
                    b: at_b..at_b + 1,
                }),
            }
        }
        i = end;
    }
    out
}

/// Align NUL-terminated records, then narrow each changed run to the bytes
/// that differ.
fn aligned(a: &[u8], b: &[u8], ra: &[&[u8]], rb: &[&[u8]], max_records: usize) -> Vec<Region> {
    if ra.len() + rb.len() > max_records {
        return narrow(a, b, 0..a.len(), 0..b.len());
    }
    let (oa, ob) = (offsets(ra), offsets(rb));
    changed_runs(ra, rb)
        .into_iter()
        .flat_map(|(x, y)| {
            // As many records on each side: compare them pair by pair.
            let pieces: Vec<(Range<usize>, Range<usize>)> = if x.len() == y.len() {
                x.zip(y)
                    .map(|(i, j)| (oa[i]..oa[i + 1], ob[j]..ob[j + 1]))
                    .collect()
            } else {
                vec![(oa[x.start]..oa[x.end], ob[y.start]..ob[y.end])]
            };
            pieces.into_iter().flat_map(|(p, q)| narrow(a, b, p, q))
        })
        .collect()
}

/// Trim the common prefix and suffix of `a[x]` and `b[y]`; what is left is
/// compared position by position when equally long, or is one region.
fn narrow(a: &[u8], b: &[u8], x: Range<usize>, y: Range<usize>) -> Vec<Region> {
    let (sa, sb) = (&a[x.clone()], &b[y.clone()]);
    let prefix = sa.iter().zip(sb).take_while(|(p, q)| p == q).count();
    let (ta, tb) = (&sa[prefix..], &sb[prefix..]);
    let suffix = ta
        .iter()
        .rev()
        .zip(tb.iter().rev())
        .take_while(|(p, q)| p == q)
        .count();
    let ra = x.start + prefix..x.end - suffix;
    let rb = y.start + prefix..y.end - suffix;
    if ra.is_empty() && rb.is_empty() {
        return Vec::new();
    }
    if ra.len() == rb.len() {
        return positional(a, b, rb.start, ra);
    }
    vec![Region { a: ra, b: rb }]
}

fn span(r: Range<usize>) -> ByteSpan {
    ByteSpan {
        at: r.start as u64,
        len: r.len() as u64,
    }
}

/// A byte of text as binary comparators read strings: printable ASCII or
/// a tab.
pub(crate) fn printable(c: u8) -> bool {
    (0x20..0x7f).contains(&c) || c == b'\t'
}

/// The printable run around `r` (which must itself be printable), reaching at
/// most `STRING_REACH` bytes beyond it on each side.
fn string_around(data: &[u8], r: &Range<usize>) -> Option<Range<usize>> {
    if !data[r.clone()].iter().all(|&c| printable(c)) {
        return None;
    }
    let lo = r.start.saturating_sub(STRING_REACH);
    let start = data[lo..r.start]
        .iter()
        .rposition(|&c| !printable(c))
        .map_or(lo, |p| lo + p + 1);
    let hi = (r.end + STRING_REACH).min(data.len());
    let end = data[r.end..hi]
        .iter()
        .position(|&c| !printable(c))
        .map_or(hi, |p| r.end + p);
    (end - start >= MIN_STRING).then_some(start..end)
}

/// Hex-dump context around `r`: from the 16-byte line before it to 16 bytes
/// after it, with the differing part capped at `limit` bytes.
pub(crate) fn excerpt(data: &[u8], r: Range<usize>, limit: usize) -> Excerpt {
    let shown = r.start..r.end.min(r.start + limit);
    let from = (shown.start.saturating_sub(16)) & !15;
    let to = (shown.end + 16).min(data.len());
    Excerpt::Bytes {
        at: from as u64,
        bytes: Text::new(&data[from..to]),
        mark: ByteSpan {
            at: (shown.start - from) as u64,
            len: shown.len() as u64,
        },
    }
}

/// The bytes just around a region on side A: its identity across runs.
fn anchor(data: &[u8], r: &Range<usize>) -> Vec<u8> {
    let before = &data[r.start.saturating_sub(16)..r.start];
    let after = &data[r.end..(r.end + 16).min(data.len())];
    let mut out = before.to_vec();
    out.push(0);
    out.extend_from_slice(after);
    out
}

fn explain_region(
    cx: &mut Cx<'_>,
    a: &[u8],
    b: &[u8],
    r: &Region,
    last_string: &mut Option<Range<usize>>,
) -> Verdict {
    let limit = cx.limits.evidence_bytes;
    // A string that holds the difference: read it as text.
    if let (Some(sa), Some(sb)) = (string_around(a, &r.a), string_around(b, &r.b)) {
        if last_string.as_ref() == Some(&sa) {
            return Verdict::Covered;
        }
        *last_string = Some(sa.clone());
        let e = cx.classifier.explain_text(&a[sa.clone()], &b[sb.clone()]);
        for x in &e.found {
            let ta = sa.start + x.a.start..sa.start + x.a.end;
            let tb = sb.start + x.b.start..sb.start + x.b.end;
            cx.emit(
                Location::Bytes {
                    a: span(ta.clone()),
                    b: span(tb.clone()),
                },
                x.cause.clone(),
                Evidence::of(string_excerpt(a, &sa, ta.clone()))
                    .with_token(&a[ta.clone()], x.a_time.map(Decoded::Time)),
                Evidence::of(string_excerpt(b, &sb, tb.clone()))
                    .with_token(&b[tb], x.b_time.map(Decoded::Time)),
                &a[sa.clone()],
            );
        }
        if !e.residual {
            return Verdict::Explained;
        }
        // A changed string is no integer field.
        return Verdict::Unknown;
    }
    // An integer or DOS timestamp at the same offset on both sides.
    if r.a.len() == r.b.len()
        && r.a.start == r.b.start
        && let Some(t) = cx.classifier.binary_time(a, b, r.a.start, r.a.len())
    {
        let w = t.at..t.at + t.width;
        cx.emit(
            Location::Bytes {
                a: span(w.clone()),
                b: span(w.clone()),
            },
            Cause::Timestamp {
                encoding: t.encoding,
            },
            Evidence::of(excerpt(a, w.clone(), limit))
                .with_token(&a[w.clone()], Some(Decoded::Time(t.a))),
            Evidence::of(excerpt(b, w.clone(), limit))
                .with_token(&b[w.clone()], Some(Decoded::Time(t.b))),
            &anchor(a, &w),
        );
        return Verdict::Explained;
    }
    Verdict::Unknown
}

/// Longest string excerpt shown around a token.
const STRING_EXCERPT: usize = 160;

/// The string `s` (cut to at most `STRING_EXCERPT` bytes around the token
/// `t`), with the token marked.
pub(crate) fn string_excerpt(data: &[u8], s: &Range<usize>, t: Range<usize>) -> Excerpt {
    let from = if s.len() <= STRING_EXCERPT {
        s.start
    } else {
        t.start.saturating_sub(STRING_EXCERPT / 3).max(s.start)
    };
    let to = (from + STRING_EXCERPT).min(s.end).max(t.end.min(s.end));
    Excerpt::Bytes {
        at: from as u64,
        bytes: Text::new(&data[from..to]),
        mark: ByteSpan {
            at: (t.start - from) as u64,
            len: (t.end.min(to) - t.start) as u64,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positional_merges_close_differences() {
        let a = b"abcdefghijklmnop";
        let b = b"aXcdXfghijklmnoZ";
        let r = positional(a, b, 0, 0..a.len());
        assert_eq!(
            r,
            vec![
                Region { a: 1..5, b: 1..5 },
                Region {
                    a: 15..16,
                    b: 15..16
                }
            ]
        );
    }

    #[test]
    fn alignment_survives_a_longer_string() {
        let a = b"\x01\x02head\0/tmp/a/src/x.c\0tail\0\x03\x04";
        let b = b"\x01\x02head\0/tmp/bbbb/src/x.c\0tail\0\x03\x04";
        let (ra, rb) = (records(a), records(b));
        let r = aligned(a, b, &ra, &rb, 1000);
        assert_eq!(r.len(), 1);
        assert_eq!(&a[r[0].a.clone()], b"a");
        assert_eq!(&b[r[0].b.clone()], b"bbbb");
    }

    #[test]
    fn reordered_records_are_ordering() {
        use crate::formats::Limits;
        use crate::formats::testing::compare_with;
        let a = b"add.o\0greet.o\0mul.o\0";
        let b = b"mul.o\0add.o\0greet.o\0";
        let (findings, _) = compare_with(&BinaryComparator, "list.bin", &Limits::default(), a, b);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].cause, Cause::Ordering { records: 1 });
    }

    #[test]
    fn string_around_stops_at_nul() {
        let data = b"\0\0/tmp/a/b.c\0\xff";
        assert_eq!(string_around(data, &(7..8)), Some(2..12));
        assert_eq!(string_around(data, &(13..14)), None);
    }
}
