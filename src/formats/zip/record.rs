//! A wheel's `RECORD`: lines that changed only because another member
//! changed are consequences; the rest is compared as text.
#![deny(clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};

use super::member::{content, unpack_pair};
use super::read::Entry;
use crate::finding::{Cause, Evidence, LineSpan, Location};
use crate::formats::Cx;

/// A wheel's RECORD: `path,sha256=…,size` per member. Lines whose hash and
/// size changed because that member's content changed are consequences;
/// the rest is compared as text with those fields masked, so an order
/// change or an unexplained line still shows.
pub(super) fn record(cx: &mut Cx<'_>, ea: &Entry<'_>, eb: &Entry<'_>, changed: &BTreeSet<Vec<u8>>) {
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
