//! The differing regions of two byte strings, produced one at a time with
//! memory bounded by the limits, never by the input (issue 11, item 3).
//!
//! Equal lengths are compared position by position. Different lengths (a
//! longer path shifts everything after it) are first cut into
//! NUL-terminated records and aligned, so one inserted byte does not turn
//! the rest of the file into a difference; records are only collected
//! after counting them, and past `align_records` the files are compared
//! as one range between their common prefix and suffix instead.
#![deny(clippy::indexing_slicing)]

use std::ops::Range;

use super::changed_runs;

/// Differences closer than this many equal bytes are one region.
pub(crate) const MERGE_GAP: usize = 3;
/// Bytes compared at once while skipping equal stretches.
const CHUNK: usize = 64;

/// One differing region: `a` in side A, `b` in side B.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Region {
    pub a: Range<usize>,
    pub b: Range<usize>,
}

/// A part of the comparison: a range of A compared in place with the
/// equally long range of B starting at `b_at`, or a region already known
/// to differ as a whole.
#[derive(Clone, Debug)]
enum Piece {
    Scan { a: Range<usize>, b_at: usize },
    Whole(Region),
}

/// The differing regions of `a` and `b`, in order.
pub(crate) struct Regions<'d> {
    a: &'d [u8],
    b: &'d [u8],
    pieces: std::vec::IntoIter<Piece>,
    /// The piece being scanned: (A range left, B offset of its start).
    scan: Option<(Range<usize>, usize)>,
}

/// How many NUL-terminated records `data` holds (a last one without NUL
/// counts too).
pub(crate) fn record_count(data: &[u8]) -> usize {
    let nuls = data.iter().filter(|&&c| c == 0).count();
    nuls + usize::from(data.last().is_some_and(|&c| c != 0))
}

/// NUL-terminated records (the last one may lack its NUL). Callers count
/// them first: this allocates one slice per record.
pub(crate) fn records(data: &[u8]) -> Vec<&[u8]> {
    data.split_inclusive(|&c| c == 0).collect()
}

/// Byte offsets of each record's start, plus the end.
pub(crate) fn offsets(records: &[&[u8]]) -> Vec<usize> {
    let mut out = Vec::with_capacity(records.len() + 1);
    let mut at = 0;
    out.push(0);
    for r in records {
        at += r.len();
        out.push(at);
    }
    out
}

impl<'d> Regions<'d> {
    /// The regions of two buffers; `max_records` bounds the record
    /// alignment of buffers of different lengths (both sides together).
    pub fn new(a: &'d [u8], b: &'d [u8], max_records: usize) -> Regions<'d> {
        let pieces = if a.len() == b.len() {
            vec![Piece::Scan {
                a: 0..a.len(),
                b_at: 0,
            }]
        } else if record_count(a).saturating_add(record_count(b)) > max_records {
            narrow(a, b, 0..a.len(), 0..b.len()).into_iter().collect()
        } else {
            aligned(a, b)
        };
        Regions {
            a,
            b,
            pieces: pieces.into_iter(),
            scan: None,
        }
    }

    /// The first position at or after `from` (and before `end`) where A and
    /// B differ, B shifted by `b_at - start`.
    fn next_diff(&self, from: usize, end: usize, shift: isize) -> Option<usize> {
        let mut i = from;
        while i < end {
            let e = (i + CHUNK).min(end);
            let (x, y) = (
                self.a.get(i..e)?,
                self.b.get(add(i, shift)?..add(e, shift)?)?,
            );
            if x != y {
                return x.iter().zip(y).position(|(p, q)| p != q).map(|k| i + k);
            }
            i = e;
        }
        None
    }
}

fn add(i: usize, shift: isize) -> Option<usize> {
    i.checked_add_signed(shift)
}

impl Iterator for Regions<'_> {
    type Item = Region;

    fn next(&mut self) -> Option<Region> {
        loop {
            if let Some((range, b_at)) = self.scan.take() {
                let shift = b_at as isize - range.start as isize;
                if let Some(first) = self.next_diff(range.start, range.end, shift) {
                    let mut last = first;
                    while let Some(k) =
                        self.next_diff(last + 1, (last + 2 + MERGE_GAP).min(range.end), shift)
                    {
                        last = k;
                    }
                    let end = last + 1;
                    let (bs, be) = (add(first, shift)?, add(end, shift)?);
                    self.scan = Some((end..range.end, be));
                    return Some(Region {
                        a: first..end,
                        b: bs..be,
                    });
                }
                continue;
            }
            match self.pieces.next()? {
                Piece::Whole(r) => return Some(r),
                Piece::Scan { a, b_at } => self.scan = Some((a, b_at)),
            }
        }
    }
}

/// Align NUL-terminated records, then narrow each changed run to the bytes
/// that differ. Records are counted before this is called.
fn aligned(a: &[u8], b: &[u8]) -> Vec<Piece> {
    let (ra, rb) = (records(a), records(b));
    let (oa, ob) = (offsets(&ra), offsets(&rb));
    let at = |o: &[usize], i: usize| o.get(i).copied().unwrap_or(0);
    let mut out = Vec::new();
    for (x, y) in changed_runs(&ra, &rb) {
        // As many records on each side: compare them pair by pair.
        if x.len() == y.len() {
            for (i, j) in x.zip(y) {
                out.extend(narrow(
                    a,
                    b,
                    at(&oa, i)..at(&oa, i + 1),
                    at(&ob, j)..at(&ob, j + 1),
                ));
            }
        } else {
            out.extend(narrow(
                a,
                b,
                at(&oa, x.start)..at(&oa, x.end),
                at(&ob, y.start)..at(&ob, y.end),
            ));
        }
    }
    out
}

/// Trim the common prefix and suffix of `a[x]` and `b[y]`; what is left is
/// compared position by position when equally long, or is one region.
fn narrow(a: &[u8], b: &[u8], x: Range<usize>, y: Range<usize>) -> Option<Piece> {
    let (sa, sb) = (a.get(x.clone())?, b.get(y.clone())?);
    let (prefix, suffix) = crate::classify::common_ends(sa, sb);
    let ra = x.start + prefix..x.end - suffix;
    let rb = y.start + prefix..y.end - suffix;
    if ra.is_empty() && rb.is_empty() {
        return None;
    }
    if ra.len() == rb.len() {
        return Some(Piece::Scan {
            a: ra,
            b_at: rb.start,
        });
    }
    Some(Piece::Whole(Region { a: ra, b: rb }))
}

#[cfg(test)]
#[expect(clippy::indexing_slicing, reason = "tests index what they built")]
mod tests {
    use super::*;

    fn all(a: &[u8], b: &[u8]) -> Vec<Region> {
        Regions::new(a, b, 1000).collect()
    }

    #[test]
    fn positional_merges_close_differences() {
        let a = b"abcdefghijklmnop";
        let b = b"aXcdXfghijklmnoZ";
        assert_eq!(
            all(a, b),
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
        let r = all(a, b);
        assert_eq!(r.len(), 1);
        assert_eq!(&a[r[0].a.clone()], b"a");
        assert_eq!(&b[r[0].b.clone()], b"bbbb");
    }

    #[test]
    fn too_many_records_fall_back_to_one_range() {
        let mut a = vec![0u8; 10_000];
        let mut b = vec![0u8; 10_001];
        a[5000] = 1;
        b[5000] = 2;
        let r: Vec<Region> = Regions::new(&a, &b, 100).collect();
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].a.start, 5000);
    }

    /// A megabyte of zeros against a megabyte with one byte changed: one
    /// region, found without collecting a record per NUL.
    #[test]
    fn r11_zeros_are_scanned_not_collected() {
        let a = vec![0u8; 1 << 20];
        let mut b = a.clone();
        b[777_777] = 1;
        let r: Vec<Region> = Regions::new(&a, &b, 10).collect();
        assert_eq!(
            r,
            [Region {
                a: 777_777..777_778,
                b: 777_777..777_778
            }]
        );
    }
}
