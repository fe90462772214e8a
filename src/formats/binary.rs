//! Binary comparator: differing byte ranges, merged and capped, each
//! explained where a detector can (strings embedded in the bytes, fields of
//! a known binary layout, integer and DOS timestamps), with hex+ASCII
//! context as evidence.
//!
//! The regions come from [`Regions`], one at a time with bounded memory.
//! A file of a format [`layout`] knows has its dates decoded in the
//! format's own encoding and its checksums reported as consequences of
//! what they cover. Everything else is read by the detectors: strings by
//! the text classifier, changed runs by [`clock::cover`] (every differing
//! byte of a run in a plausible clock reading, or nothing).
#![deny(clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::ops::Range;

use super::layout::{self, FieldKind, Layout};
use super::regions::{Regions, offsets, record_count, records};
use super::{Comparator, Cx, changed_runs};
use crate::classify::clock;
use crate::finding::{ByteSpan, Cause, Decoded, Evidence, Excerpt, Location, Text};

pub(crate) use super::regions::Region;

pub(crate) struct BinaryComparator;

/// How far a string is followed beyond a differing range, each way.
const STRING_REACH: usize = 1024;
/// A printable run shorter than this is not read as a string.
const MIN_STRING: usize = 4;

impl Comparator for BinaryComparator {
    fn compare(&self, cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
        if reordered(cx, a, b) {
            return;
        }
        let layout = layout::read(a, b);
        let mut scan = Scan::new(layout.as_ref());
        let mut skipped = 0u64;
        for r in Regions::new(a, b, cx.limits.align_records) {
            if cx.full() {
                skipped += 1;
                continue;
            }
            scan.region(cx, a, b, &r);
        }
        scan.finish(cx, a, b);
        cx.omit(skipped);
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

/// The state of one pass over the regions.
struct Scan<'l> {
    layout: Option<&'l Layout>,
    /// Layout fields already handled.
    done: BTreeSet<usize>,
    /// Checksum fields that differ, and whether the bytes they cover hold
    /// an explained difference and an unexplained one.
    checksums: BTreeMap<usize, (bool, bool)>,
    /// Unexplained regions since the last explained one.
    run: Option<UnknownRun>,
    last_string: Option<Range<usize>>,
}

impl<'l> Scan<'l> {
    fn new(layout: Option<&'l Layout>) -> Scan<'l> {
        Scan {
            layout,
            done: BTreeSet::new(),
            checksums: BTreeMap::new(),
            run: None,
            last_string: None,
        }
    }

    fn region(&mut self, cx: &mut Cx<'_>, a: &[u8], b: &[u8], r: &Region) {
        let Some(layout) = self.layout.filter(|_| r.a == r.b) else {
            self.generic(cx, a, b, r);
            return;
        };
        // Split the region at the layout's fields: each field is handled
        // as a whole, the bytes between them as before.
        let mut at = r.a.start;
        for i in layout.overlapping(&r.a).collect::<Vec<_>>() {
            let Some(f) = layout.fields.get(i) else {
                continue;
            };
            if at < f.at {
                let gap = Region {
                    a: at..f.at,
                    b: at..f.at,
                };
                self.generic(cx, a, b, &gap);
            }
            self.field(cx, a, b, layout, i);
            at = at.max(f.at + f.len);
        }
        if at < r.a.end {
            let rest = Region {
                a: at..r.a.end,
                b: at..r.a.end,
            };
            self.generic(cx, a, b, &rest);
        }
    }

    /// A differing field of the layout: a date decoded in its encoding, a
    /// checksum kept for the end.
    fn field(&mut self, cx: &mut Cx<'_>, a: &[u8], b: &[u8], layout: &Layout, i: usize) {
        if !self.done.insert(i) {
            return;
        }
        let Some(f) = layout.fields.get(i) else {
            return;
        };
        let range = f.range();
        match &f.kind {
            FieldKind::Checksum { .. } => {
                self.checksums.entry(i).or_default();
            }
            FieldKind::Time(encoding) => {
                let location = Location::Field {
                    path: vec![f.place.clone(), f.name.clone()],
                    at: Some(f.at as u64),
                };
                let limit = cx.limits.evidence_bytes;
                let (ta, tb) = (f.decode(a), f.decode(b));
                let ev = |d: &[u8], t: Option<i64>| {
                    Evidence::of(excerpt(d, range.clone(), limit)).with_token(
                        d.get(range.clone()).unwrap_or_default(),
                        t.map(Decoded::Time),
                    )
                };
                let cause = match (ta, tb) {
                    (Some(x), Some(y)) if x != y => Cause::Timestamp {
                        encoding: *encoding,
                    },
                    _ => Cause::Unknown { differences: 1 },
                };
                let explained = matches!(cause, Cause::Timestamp { .. });
                self.flush_if(cx, a, b, explained);
                cx.emit(location, cause, ev(a, ta), ev(b, tb), f.name.as_bytes());
                self.note(&range, explained);
            }
        }
    }

    /// The bytes no layout field covers.
    fn generic(&mut self, cx: &mut Cx<'_>, a: &[u8], b: &[u8], r: &Region) {
        match explain_region(cx, a, b, r, &mut self.last_string) {
            Verdict::Explained => {
                self.flush_if(cx, a, b, true);
                self.note(&r.a, true);
            }
            Verdict::Covered => {}
            Verdict::Unknown => {
                self.note(&r.a, false);
                match &mut self.run {
                    Some(run) => run.extend(r),
                    None => self.run = Some(UnknownRun::new(r.clone())),
                }
            }
        }
    }

    /// Something was explained: the unexplained regions before it are one
    /// finding.
    fn flush_if(&mut self, cx: &mut Cx<'_>, a: &[u8], b: &[u8], explained: bool) {
        if explained && let Some(run) = self.run.take() {
            run.emit(cx, a, b);
        }
    }

    /// Record an explained (or unexplained) difference at `r` for the
    /// checksums that cover it.
    fn note(&mut self, r: &Range<usize>, explained: bool) {
        let Some(layout) = self.layout else { return };
        for (i, f) in layout.fields.iter().enumerate() {
            if let FieldKind::Checksum { covers, .. } = &f.kind
                && covers.iter().any(|c| c.start < r.end && r.start < c.end)
            {
                let e = self.checksums.entry(i).or_default();
                if explained {
                    e.0 = true;
                } else {
                    e.1 = true;
                }
            }
        }
    }

    fn finish(mut self, cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
        if let Some(run) = self.run.take() {
            run.emit(cx, a, b);
        }
        let Some(layout) = self.layout else { return };
        let limit = cx.limits.evidence_bytes;
        for (i, (explained, unknown)) in std::mem::take(&mut self.checksums) {
            let Some(f) = layout.fields.get(i) else {
                continue;
            };
            let FieldKind::Checksum { what, .. } = &f.kind else {
                continue;
            };
            if !self.done.contains(&i) {
                continue;
            }
            // A checksum follows from what it covers when that changed
            // for a reason found, and for no unexplained one.
            let cause = if explained && !unknown {
                Cause::Consequence {
                    of: format!("the change of {what}"),
                }
            } else {
                Cause::Unknown { differences: 1 }
            };
            cx.emit(
                Location::Field {
                    path: vec![f.place.clone(), f.name.clone()],
                    at: Some(f.at as u64),
                },
                cause,
                Evidence::of(excerpt(a, f.range(), limit)),
                Evidence::of(excerpt(b, f.range(), limit)),
                f.name.as_bytes(),
            );
        }
    }
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
        self.a.end = self.a.end.max(r.a.end);
        self.b.end = self.b.end.max(r.b.end);
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

/// An order-independent hash of the NUL-terminated records of `data`:
/// equal for two buffers holding the same records in any order.
fn multiset_hash(data: &[u8]) -> u64 {
    data.split_inclusive(|&c| c == 0)
        .map(|r| {
            let mut h = rustc_hash::FxHasher::default();
            r.hash(&mut h);
            h.finish()
        })
        .fold(0u64, u64::wrapping_add)
}

/// The same NUL-terminated records in another order: one `ordering`
/// finding. Checked without allocating (an order-independent hash) before
/// the records are collected, and only up to `align_records`.
fn reordered(cx: &mut Cx<'_>, a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() || a == b {
        return false;
    }
    let n = record_count(a);
    if n < 2 || n.saturating_mul(2) > cx.limits.align_records {
        return false;
    }
    if record_count(b) != n || multiset_hash(a) != multiset_hash(b) {
        return false;
    }
    let (ra, rb) = (records(a), records(b));
    let (mut x, mut y) = (ra.clone(), rb.clone());
    x.sort_unstable();
    y.sort_unstable();
    if x != y {
        return false;
    }
    emit_ordering(cx, a, b, &ra, &rb);
    true
}

fn emit_ordering(cx: &mut Cx<'_>, a: &[u8], b: &[u8], ra: &[&[u8]], rb: &[&[u8]]) {
    let (oa, ob) = (offsets(ra), offsets(rb));
    let changed = changed_runs(ra, rb);
    let records: usize = changed.iter().map(|(x, _)| x.len()).sum();
    let (Some((fa, fb)), Some((la, lb))) = (changed.first(), changed.last()) else {
        return;
    };
    let at = |o: &[usize], i: usize| o.get(i).copied().unwrap_or(0);
    let (first_a, last_a) = (at(&oa, fa.start), at(&oa, la.end));
    let (first_b, last_b) = (at(&ob, fb.start), at(&ob, lb.end));
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
    if !data.get(r.clone())?.iter().all(|&c| printable(c)) {
        return None;
    }
    let lo = r.start.saturating_sub(STRING_REACH);
    let start = data
        .get(lo..r.start)?
        .iter()
        .rposition(|&c| !printable(c))
        .map_or(lo, |p| lo + p + 1);
    let hi = (r.end + STRING_REACH).min(data.len());
    let end = data
        .get(r.end..hi)?
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
        bytes: Text::new(data.get(from..to).unwrap_or_default()),
        mark: ByteSpan {
            at: shown.start.saturating_sub(from) as u64,
            len: shown.len() as u64,
        },
    }
}

/// The bytes just around a region on side A: its identity across runs.
fn anchor(data: &[u8], r: &Range<usize>) -> Vec<u8> {
    let before = data
        .get(r.start.saturating_sub(16)..r.start)
        .unwrap_or_default();
    let after = data
        .get(r.end..(r.end + 16).min(data.len()))
        .unwrap_or_default();
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
    let at = |d: &'_ [u8], r: &Range<usize>| d.get(r.clone()).unwrap_or_default().to_vec();
    // A string that holds the difference: read it as text.
    if let (Some(sa), Some(sb)) = (string_around(a, &r.a), string_around(b, &r.b)) {
        if last_string.as_ref() == Some(&sa) {
            return Verdict::Covered;
        }
        *last_string = Some(sa.clone());
        let e = cx.classifier.explain_text(&at(a, &sa), &at(b, &sb));
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
                    .with_token(&at(a, &ta), x.a_time.map(Decoded::Time)),
                Evidence::of(string_excerpt(b, &sb, tb.clone()))
                    .with_token(&at(b, &tb), x.b_time.map(Decoded::Time)),
                &at(a, &sa),
            );
        }
        if !e.residual {
            return Verdict::Explained;
        }
        // A changed string is no integer field.
        return Verdict::Unknown;
    }
    // Clock readings at the same offset on both sides, covering every
    // differing byte of the region.
    if r.a == r.b
        && let Some(times) = clock::cover(a, b, r.a.clone(), &cx.times)
    {
        for t in times {
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
                    .with_token(&at(a, &w), Some(Decoded::Time(t.a))),
                Evidence::of(excerpt(b, w.clone(), limit))
                    .with_token(&at(b, &w), Some(Decoded::Time(t.b))),
                &anchor(a, &w),
            );
        }
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
        bytes: Text::new(data.get(from..to).unwrap_or_default()),
        mark: ByteSpan {
            at: t.start.saturating_sub(from) as u64,
            len: t.end.min(to).saturating_sub(t.start) as u64,
        },
    }
}

#[cfg(test)]
#[expect(clippy::indexing_slicing, reason = "tests patch buffers they built")]
mod tests {
    use super::*;
    use crate::formats::Limits;
    use crate::formats::testing::compare_with;

    #[test]
    fn reordered_records_are_ordering() {
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

    /// A uImage header: the time decoded at its field, the header CRC
    /// that covers it a consequence (issue 12, class 3).
    #[test]
    fn r12_a_checksum_over_a_time_is_a_consequence() {
        let header = |t: u32, crc: u32| {
            let mut h = vec![0u8; 64 + 8];
            h[..4].copy_from_slice(&[0x27, 0x05, 0x19, 0x56]);
            h[4..8].copy_from_slice(&crc.to_be_bytes());
            h[8..12].copy_from_slice(&t.to_be_bytes());
            h[12..16].copy_from_slice(&8u32.to_be_bytes());
            h
        };
        let a = header(1_500_000_000, 0x1234_5678);
        let b = header(1_500_086_461, 0x9abc_def0);
        let (f, _) = compare_with(&BinaryComparator, "uImage", &Limits::default(), &a, &b);
        let causes: Vec<&str> = f.iter().map(|f| f.cause.name()).collect();
        assert_eq!(causes, ["timestamp", "consequence"], "{f:#?}");
        assert_eq!(f[0].a.decoded, Some(Decoded::Time(1_500_000_000)));
    }

    /// 16 MiB of zeros against the same with one byte changed: one finding,
    /// without a record per NUL (issue 11, item 3).
    #[test]
    fn r11_zeros_cost_no_records() {
        let a = vec![0u8; 16 << 20];
        let mut b = a.clone();
        b[10 << 20] = 7;
        let (f, _) = compare_with(&BinaryComparator, "zeros", &Limits::default(), &a, &b);
        assert_eq!(f.len(), 1);
        let mut c = b.clone();
        c.push(0);
        let (f, _) = compare_with(&BinaryComparator, "zeros", &Limits::default(), &a, &c);
        assert!(!f.is_empty());
    }
}
