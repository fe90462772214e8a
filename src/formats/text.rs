//! Text comparator: a line diff (similar's Myers, whose bounded heuristics
//! keep the work in check on pathological inputs), order-only changes
//! recognised as ordering, and every other hunk explained by the detectors.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use super::{Comparator, Cx, changed_runs, json, manifest};
use crate::classify::Explained;
use crate::finding::{Cause, Decoded, Evidence, Excerpt, LineSpan, Location, Text};

pub(crate) struct TextComparator;

fn split_lines(data: &[u8]) -> Vec<&[u8]> {
    data.split(|&c| c == b'\n').collect()
}

impl Comparator for TextComparator {
    fn compare(&self, cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
        let la = split_lines(a);
        let lb = split_lines(b);
        let changes = changed_runs(&la, &lb);
        if let Some(records) = json::reordered_keys(a, b) {
            // The same JSON value, object keys in another order.
            let mut ordering = Ordering::default();
            for (ra, rb) in &changes {
                ordering.add(ra, rb, 0);
            }
            ordering.records = records;
            ordering.emit(cx, &la, &lb);
            return;
        }
        let moved = moved_lines(&la, &lb, &changes);
        let mut ordering = Ordering::default();
        for (ra, rb) in changes {
            let changed_a: Vec<usize> = ra.clone().filter(|i| !moved.0.contains(i)).collect();
            let changed_b: Vec<usize> = rb.clone().filter(|j| !moved.1.contains(j)).collect();
            let moved_here = (ra.len() - changed_a.len()) as u64;
            if moved_here > 0 || (changed_a.is_empty() && changed_b.is_empty()) {
                ordering.add(&ra, &rb, moved_here);
            }
            if changed_a.is_empty() && changed_b.is_empty() {
                continue;
            }
            explain_hunk(cx, &la, &lb, (&ra, &rb), &changed_a, &changed_b);
        }
        ordering.emit(cx, &la, &lb);
    }
}

/// Lines that moved (by index, in A and in B): deleted in one place and
/// inserted in another, so their balance over the file is zero. A line
/// counts as moved only where both its ends are in hunks that hold nothing
/// but moved lines: one line moved out of a rewritten block is part of
/// the rewrite, not evidence of ordering (issue 12, class 8).
fn moved_lines(
    la: &[&[u8]],
    lb: &[&[u8]],
    changes: &[(Range<usize>, Range<usize>)],
) -> (BTreeSet<usize>, BTreeSet<usize>) {
    let mut rewrites: BTreeSet<usize> = BTreeSet::new();
    loop {
        let mut balance: HashMap<&[u8], i64> = HashMap::new();
        for (k, (ra, rb)) in changes.iter().enumerate() {
            if rewrites.contains(&k) {
                continue;
            }
            for line in la.get(ra.clone()).unwrap_or_default() {
                *balance.entry(line).or_default() += 1;
            }
            for line in lb.get(rb.clone()).unwrap_or_default() {
                *balance.entry(line).or_default() -= 1;
            }
        }
        let moved = |line: &[u8]| balance.get(line) == Some(&0);
        let mut more = false;
        for (k, (ra, rb)) in changes.iter().enumerate() {
            if rewrites.contains(&k) {
                continue;
            }
            let lines = la
                .get(ra.clone())
                .unwrap_or_default()
                .iter()
                .chain(lb.get(rb.clone()).unwrap_or_default());
            let mut any_moved = false;
            let mut all_moved = true;
            for l in lines {
                if moved(l) {
                    any_moved = true;
                } else {
                    all_moved = false;
                }
            }
            if any_moved && !all_moved {
                rewrites.insert(k);
                more = true;
            }
        }
        if !more {
            let mut out = (BTreeSet::new(), BTreeSet::new());
            for (k, (ra, rb)) in changes.iter().enumerate() {
                if rewrites.contains(&k) {
                    continue;
                }
                out.0
                    .extend(ra.clone().filter(|&i| la.get(i).is_some_and(|l| moved(l))));
                out.1
                    .extend(rb.clone().filter(|&j| lb.get(j).is_some_and(|l| moved(l))));
            }
            return out;
        }
    }
}

/// Order-only changes of one file, gathered into a single finding.
#[derive(Default)]
struct Ordering {
    records: u64,
    span_a: Option<Range<usize>>,
    span_b: Option<Range<usize>>,
}

fn widen(span: &mut Option<Range<usize>>, r: &Range<usize>) {
    *span = Some(match span.take() {
        None => r.clone(),
        Some(s) => s.start.min(r.start)..s.end.max(r.end),
    });
}

impl Ordering {
    fn add(&mut self, ra: &Range<usize>, rb: &Range<usize>, moved: u64) {
        self.records += moved;
        widen(&mut self.span_a, ra);
        widen(&mut self.span_b, rb);
    }

    fn emit(self, cx: &mut Cx<'_>, la: &[&[u8]], lb: &[&[u8]]) {
        let (Some(sa), Some(sb)) = (self.span_a, self.span_b) else {
            return;
        };
        if self.records == 0 {
            return;
        }
        let limit = cx.limits.evidence_lines;
        let location = Location::Lines {
            a: line_span(&sa),
            b: line_span(&sb),
        };
        let a = lines_excerpt(la, sa.clone(), limit, 0);
        let b = lines_excerpt(lb, sb.clone(), limit, 0);
        cx.emit(
            location,
            Cause::Ordering {
                records: self.records,
            },
            Evidence::of(a),
            Evidence::of(b),
            b"",
        );
    }
}

fn line_span(r: &Range<usize>) -> LineSpan {
    LineSpan {
        start: r.start as u64 + 1,
        count: r.len() as u64,
    }
}

/// Lines `r`, at most `limit` of them; long lines are cut around byte
/// `focus` (where the two sides start to differ).
fn lines_excerpt(lines: &[&[u8]], r: Range<usize>, limit: usize, focus: usize) -> Excerpt {
    let shown = r.len().min(limit);
    Excerpt::Lines {
        first: r.start as u64 + 1,
        lines: lines[r.start..r.start + shown]
            .iter()
            .map(|l| Text::new(clip(l, focus..l.len())))
            .collect(),
        omitted: (r.len() - shown) as u64,
    }
}

/// Longest line shown in evidence; longer ones are cut around the part that
/// matters.
const MAX_LINE: usize = 240;

fn clip(line: &[u8], focus: Range<usize>) -> Vec<u8> {
    if line.len() <= MAX_LINE {
        return line.to_vec();
    }
    let start = focus.start.saturating_sub(MAX_LINE / 3);
    let end = (start + MAX_LINE).min(line.len());
    line[start..end].to_vec()
}

/// The contiguous span of line indices `idx` covers (they are sorted).
fn span_of(idx: &[usize], fallback: usize) -> Range<usize> {
    match (idx.first(), idx.last()) {
        (Some(&s), Some(&e)) => s..e + 1,
        _ => fallback..fallback,
    }
}

fn explain_hunk(
    cx: &mut Cx<'_>,
    la: &[&[u8]],
    lb: &[&[u8]],
    (op_a, op_b): (&Range<usize>, &Range<usize>),
    ia: &[usize],
    ib: &[usize],
) {
    if ia.len() == ib.len() {
        // Line by line, so each cause points at its line; unexplained lines
        // that follow each other become one finding.
        let mut unknown: Option<(Range<usize>, Range<usize>)> = None;
        for (&i, &j) in ia.iter().zip(ib) {
            // A checksum manifest's line whose only change is the digest of
            // the file it names (issue 12, class 7).
            if let Some(target) = manifest::digest_target(la, i, lb, j) {
                if let Some(prev) = unknown.take() {
                    emit_unknown(cx, la, lb, prev);
                }
                emit_digest(cx, i, la[i], j, lb[j], &target);
                continue;
            }
            let e = cx.classifier.explain_text(la[i], lb[j]);
            for x in &e.found {
                emit_token(cx, i, la[i], j, lb[j], x);
            }
            if e.residual {
                unknown = match unknown {
                    Some((ra, rb)) if ra.end == i && rb.end == j => {
                        Some((ra.start..i + 1, rb.start..j + 1))
                    }
                    Some(prev) => {
                        emit_unknown(cx, la, lb, prev);
                        Some((i..i + 1, j..j + 1))
                    }
                    None => Some((i..i + 1, j..j + 1)),
                };
            }
        }
        if let Some(prev) = unknown {
            emit_unknown(cx, la, lb, prev);
        }
        return;
    }
    let ra = span_of(ia, op_a.start);
    let rb = span_of(ib, op_b.start);
    let join = |lines: &[&[u8]], r: &Range<usize>| lines[r.clone()].join(&b'\n');
    let (ta, tb) = (join(la, &ra), join(lb, &rb));
    let e = cx.classifier.explain_text(&ta, &tb);
    for x in &e.found {
        let (i, a_line, a_rel) = locate(la, ra.start, &ta, x.a.clone());
        let (j, b_line, b_rel) = locate(lb, rb.start, &tb, x.b.clone());
        let x = Explained {
            a: a_rel,
            b: b_rel,
            ..x.clone()
        };
        emit_token(cx, i, a_line, j, b_line, &x);
    }
    if e.residual {
        emit_unknown(cx, la, lb, (ra, rb));
    }
}

/// Map a byte range of lines joined with `\n` back to (line index, line,
/// range within the line).
fn locate<'d>(
    lines: &[&'d [u8]],
    first: usize,
    joined: &[u8],
    r: Range<usize>,
) -> (usize, &'d [u8], Range<usize>) {
    let line_no = joined[..r.start].iter().filter(|&&c| c == b'\n').count();
    let line_start = joined[..r.start]
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |p| p + 1);
    let idx = first + line_no;
    let line = lines.get(idx).copied().unwrap_or_default();
    let start = r.start - line_start;
    let end = (r.end - line_start).min(line.len());
    (idx, line, start.min(end)..end)
}

fn emit_token(cx: &mut Cx<'_>, i: usize, a: &[u8], j: usize, b: &[u8], x: &Explained) {
    let one = |n: usize| LineSpan {
        start: n as u64 + 1,
        count: 1,
    };
    let evidence = |n: usize, line: &[u8], r: &Range<usize>, time: Option<i64>| {
        Evidence::of(Excerpt::Lines {
            first: n as u64 + 1,
            lines: vec![Text::new(clip(line, r.clone()))],
            omitted: 0,
        })
        .with_token(&line[r.clone()], time.map(Decoded::Time))
    };
    cx.emit(
        Location::Lines {
            a: one(i),
            b: one(j),
        },
        x.cause.clone(),
        evidence(i, a, &x.a, x.a_time),
        evidence(j, b, &x.b, x.b_time),
        a,
    );
}

fn emit_digest(cx: &mut Cx<'_>, i: usize, a: &[u8], j: usize, b: &[u8], target: &[u8]) {
    let one = |n: usize, line: &[u8]| {
        Evidence::of(Excerpt::Lines {
            first: n as u64 + 1,
            lines: vec![Text::new(clip(line, 0..line.len()))],
            omitted: 0,
        })
    };
    cx.emit_digest(
        Location::Lines {
            a: LineSpan {
                start: i as u64 + 1,
                count: 1,
            },
            b: LineSpan {
                start: j as u64 + 1,
                count: 1,
            },
        },
        one(i, a),
        one(j, b),
        target,
    );
}

fn emit_unknown(
    cx: &mut Cx<'_>,
    la: &[&[u8]],
    lb: &[&[u8]],
    (ra, rb): (Range<usize>, Range<usize>),
) {
    let limit = cx.limits.evidence_lines;
    let first_a = la[ra.clone()].first().copied();
    let first_b = lb[rb.clone()].first().copied();
    let anchor = first_a.or(first_b).unwrap_or_default();
    // Where the first lines start to differ: long lines are shown from there.
    let focus = match (first_a, first_b) {
        (Some(x), Some(y)) => x.iter().zip(y).take_while(|(p, q)| p == q).count(),
        _ => 0,
    };
    cx.emit(
        Location::Lines {
            a: line_span(&ra),
            b: line_span(&rb),
        },
        Cause::Unknown {
            differences: ra.len().max(rb.len()) as u64,
        },
        Evidence::of(lines_excerpt(la, ra.clone(), limit, focus)),
        Evidence::of(lines_excerpt(lb, rb, limit, focus)),
        anchor,
    );
}
