//! Strings inside ELF sections: `__FILE__` paths and `__DATE__`/`__TIME__`
//! text in `.rodata`, Rust panic locations, `.comment`, the DWARF string
//! tables. Both sides' printable runs are aligned, each changed pair is
//! explained by the classifier, and what is left is reported as unknown
//! text. The bytes between the strings are compared separately: when only
//! they differ, the caller decides whether that is a consequence.
#![deny(clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::ops::Range;

use super::super::Cx;
use super::super::binary::{self, printable};
use crate::finding::{Cause, Decoded, Evidence, Location, ToolchainPart};

/// A printable run: where it starts in its section, and its bytes.
pub(super) type Run<'d> = (usize, &'d [u8]);

/// A printable run this long is a string wherever it is; shorter ones
/// (down to the caller's minimum) only as whole NUL-terminated strings.
const PLAIN_STRING: usize = 4;

/// The printable runs of `data` of at least `min` bytes. A run shorter
/// than four bytes counts only when it is a whole C string (a NUL before
/// and after it): a lone `A` between the bytes of a jump table is no
/// string, and pairing it with another lone byte would invent a
/// difference (issue 12, class 6).
pub(super) fn runs(data: &[u8], min: usize) -> Vec<Run<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    let whole = |s: usize, end: usize| {
        (s == 0 || data.get(s - 1) == Some(&0)) && data.get(end).is_none_or(|&c| c == 0)
    };
    let keep = |s: usize, end: usize| {
        let n = end - s;
        n >= PLAIN_STRING.max(min) || (n >= min && whole(s, end))
    };
    for (i, &c) in data.iter().enumerate() {
        match (printable(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                if keep(s, i) {
                    out.push((s, data.get(s..i).unwrap_or_default()));
                }
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start
        && keep(s, data.len())
    {
        out.push((s, data.get(s..).unwrap_or_default()));
    }
    out
}

/// Where a section's strings are compared: its label for locations, and
/// the file offsets of the section on each side.
pub(super) struct Place<'a> {
    pub path: &'a [String],
    pub a_file: &'a [u8],
    pub b_file: &'a [u8],
    pub a_at: usize,
    pub b_at: usize,
    /// The location's offset, when it is not the string's (a DWARF
    /// attribute names the DIE).
    pub at: Option<u64>,
}

impl<'a> Place<'a> {
    /// Strings at file offsets `a_at` and `b_at` of the two files.
    pub fn in_file(
        path: &'a [String],
        a_file: &'a [u8],
        b_file: &'a [u8],
        a_at: u64,
        b_at: u64,
    ) -> Place<'a> {
        Place {
            path,
            a_file,
            b_file,
            a_at: a_at as usize,
            b_at: b_at as usize,
            at: None,
        }
    }

    /// Two values with no file offset of their own (a DWARF attribute's
    /// string, a symbol name), located at `at`.
    pub fn value(path: &'a [String], a: &'a [u8], b: &'a [u8], at: Option<u64>) -> Place<'a> {
        Place {
            path,
            a_file: a,
            b_file: b,
            a_at: 0,
            b_at: 0,
            at,
        }
    }
}

/// What comparing the strings of one section found.
#[derive(Default)]
pub(super) struct Outcome {
    /// Findings emitted for strings that differ.
    pub roots: u64,
    /// The bytes between the strings differ too.
    pub between: bool,
}

/// Compare the strings of section data `a` and `b`. `fallback` is the
/// cause for a changed string no detector explains (`None`: unknown).
/// Strings whose A text is in `seen` were reported already (through a DWARF
/// attribute) and are skipped.
pub(super) fn compare(
    cx: &mut Cx<'_>,
    place: &Place<'_>,
    a: &[u8],
    b: &[u8],
    min: usize,
    fallback: Option<&Cause>,
    seen: &BTreeSet<Vec<u8>>,
) -> Outcome {
    let ra = runs(a, min);
    let rb = runs(b, min);
    let mut out = Outcome {
        between: skeleton(a, &ra) != skeleton(b, &rb),
        ..Outcome::default()
    };
    let ta: Vec<&[u8]> = ra.iter().map(|r| r.1).collect();
    let tb: Vec<&[u8]> = rb.iter().map(|r| r.1).collect();
    if ta == tb {
        return out;
    }

    let mut sa = ta.clone();
    let mut sb = tb.clone();
    sa.sort_unstable();
    sb.sort_unstable();
    if sa == sb {
        // The same strings in another order (a string table filled in
        // link order).
        let changed = super::align(&ta, &tb);
        let moved: usize = changed.iter().map(|(x, _)| x.len()).sum();
        let at = changed.first().map_or(0, |(x, _)| x.start);
        let (p, q) = (
            ra.get(at).map_or(&b""[..], |r| r.1),
            rb.get(changed.first().map_or(0, |(_, y)| y.start))
                .map_or(&b""[..], |r| r.1),
        );
        cx.emit(
            Location::Field {
                path: place.path.to_vec(),
                at: Some((place.a_at + ra.get(at).map_or(0, |r| r.0)) as u64),
            },
            Cause::Ordering {
                records: moved as u64,
            },
            Evidence::value(p),
            Evidence::value(q),
            b"string order",
        );
        out.roots += 1;
        return out;
    }
    // Strings present on both sides are set aside, wherever they are (a
    // string table is laid out in hash order, so one changed path can move
    // the others); what is left on each side pairs up in order, in linear
    // time however many differ.
    let mut budget = Budget::default();
    let mut hashes: Option<(&[u8], &[u8], usize)> = None;
    let mut hashed = 0u64;
    let roots = cx.classifier.roots().map(|(x, y)| (x.to_vec(), y.to_vec()));
    let pairable = |p: &[u8], q: &[u8]| explained_alike(cx, p, q);
    for (p, q) in unmatched_pairs(&ra, &rb, roots, &pairable) {
        if cx.full() {
            cx.omit(1);
            continue;
        }
        if p.is_some_and(|p| seen.contains(p.1)) {
            continue;
        }
        if let (Some(p), Some(q)) = (p, q)
            && super::names::rust_hash_only(p.1, q.1)
        {
            hashed += 1;
            hashes.get_or_insert((p.1, q.1, p.0));
            continue;
        }
        let cause = first_cause(
            cx,
            p.map_or(&b""[..], |r| r.1),
            q.map_or(&b""[..], |r| r.1),
            fallback,
        );
        if budget.take(place.path, &cause) {
            out.roots += emit_pair(cx, place, p, q, fallback);
        }
    }
    out.roots += budget.flush(cx);
    if let Some((p, q, at)) = hashes {
        out.roots += 1;
        cx.emit(
            Location::Field {
                path: place.path.to_vec(),
                at: Some((place.a_at + at) as u64),
            },
            Cause::Toolchain {
                part: ToolchainPart::RustMetadataHash,
                differences: hashed,
            },
            Evidence::value(p),
            Evidence::value(q),
            b"rust metadata hash",
        );
    }
    out
}

/// The runs of each side that the other side lacks (as multisets),
/// paired: first by substitution of the build roots (known, or inferred
/// from the paths of these strings), then in order where two strings are
/// alike; a string with no counterpart pairs with nothing. Evidence never
/// pairs two different strings, such as two file names (issue 12, class 6).
fn unmatched_pairs<'r, 'd>(
    ra: &'r [Run<'d>],
    rb: &'r [Run<'d>],
    roots: Option<(Vec<u8>, Vec<u8>)>,
    pairable: &dyn Fn(&[u8], &[u8]) -> bool,
) -> Vec<(Option<&'r Run<'d>>, Option<&'r Run<'d>>)> {
    use std::collections::HashMap;
    let only = |x: &'r [Run<'d>], y: &'r [Run<'d>]| -> Vec<&'r Run<'d>> {
        let mut left: HashMap<&[u8], usize> = HashMap::new();
        for r in y {
            *left.entry(r.1).or_default() += 1;
        }
        x.iter()
            .filter(|r| match left.get_mut(r.1) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    false
                }
                _ => true,
            })
            .collect()
    };
    let (oa, ob) = (only(ra, rb), only(rb, ra));
    let roots = roots.or_else(|| {
        let paths = |runs: &[&'r Run<'d>]| -> Vec<&'d [u8]> {
            runs.iter()
                .flat_map(|r| {
                    crate::classify::path::scan(r.1)
                        .into_iter()
                        .filter_map(|(s, e)| r.1.get(s..e))
                })
                .collect()
        };
        crate::classify::roots::infer(&paths(&oa), &paths(&ob))
    });
    let mut out = Vec::new();
    let mut used_a = vec![false; oa.len()];
    let mut used_b = vec![false; ob.len()];
    if let Some((root_a, root_b)) = &roots {
        // Keyed with hash-like runs masked: a codegen-unit name carries the
        // crate's metadata hash next to the root (`…/src/x.rs/@/x.<hash>-cgu.0`).
        let mut by_text: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        for (j, r) in ob.iter().enumerate().rev() {
            by_text
                .entry(super::names::mask_hex(r.1))
                .or_default()
                .push(j);
        }
        for (i, r) in oa.iter().enumerate() {
            let Some(t) = crate::classify::roots::substitute(r.1, root_a, root_b) else {
                continue;
            };
            if let Some(j) = by_text
                .get_mut(&super::names::mask_hex(&t))
                .and_then(Vec::pop)
            {
                for (used, k) in [(&mut used_a, i), (&mut used_b, j)] {
                    if let Some(u) = used.get_mut(k) {
                        *u = true;
                    }
                }
                out.push((oa.get(i).copied(), ob.get(j).copied()));
            }
        }
    }
    let rest_a: Vec<&'r Run<'d>> = oa
        .iter()
        .zip(&used_a)
        .filter(|(_, u)| !**u)
        .map(|(r, _)| *r)
        .collect();
    let rest_b: Vec<&'r Run<'d>> = ob
        .iter()
        .zip(&used_b)
        .filter(|(_, u)| !**u)
        .map(|(r, _)| *r)
        .collect();
    for k in 0..rest_a.len().max(rest_b.len()) {
        match (rest_a.get(k).copied(), rest_b.get(k).copied()) {
            (Some(p), Some(q)) if alike(p.1, q.1) || pairable(p.1, q.1) => {
                out.push((Some(p), Some(q)));
            }
            (p, q) => {
                out.extend(p.map(|p| (Some(p), None)));
                out.extend(q.map(|q| (None, Some(q))));
            }
        }
    }
    out
}

/// Two strings the detectors explain completely (a `__DATE__` against
/// another date, one path against the same path under another root), and
/// whose paths name the same files.
fn explained_alike(cx: &Cx<'_>, p: &[u8], q: &[u8]) -> bool {
    let e = cx.classifier.explain_text(p, q);
    let names = |s: &[u8]| -> Vec<Vec<u8>> {
        crate::classify::path::scan(s)
            .into_iter()
            .filter_map(|(a, b)| s.get(a..b))
            .map(|t| super::names::mask_hex(t.rsplit(|&c| c == b'/').next().unwrap_or(t)))
            .collect()
    };
    !e.residual && names(p) == names(q)
}

/// Two strings that are versions of one another: what they share at both
/// ends is at least half of the shorter.
fn alike(a: &[u8], b: &[u8]) -> bool {
    let (prefix, suffix) = crate::classify::common_ends(a, b);
    2 * (prefix + suffix) >= a.len().min(b.len())
}

/// How many strings with one cause at one place are reported one by one;
/// the rest are counted in one more finding (a build path in 200,000
/// `__FILE__` strings must not hide the causes elsewhere in the file).
const PER_CAUSE: u64 = 5;

/// Findings per place and cause: the first `PER_CAUSE` are emitted, the
/// rest counted.
#[derive(Default)]
pub(super) struct Budget {
    over: std::collections::BTreeMap<(Vec<String>, String), (u64, Cause)>,
    used: std::collections::BTreeMap<(Vec<String>, String), u64>,
}

impl Budget {
    /// May one more finding of `cause` at `place` be emitted?
    pub fn take(&mut self, place: &[String], cause: &Cause) -> bool {
        let key = (place.to_vec(), cause.to_string());
        let used = self.used.entry(key.clone()).or_insert(0);
        if *used < PER_CAUSE {
            *used += 1;
            return true;
        }
        self.over.entry(key).or_insert((0, cause.clone())).0 += 1;
        false
    }

    /// One finding per place and cause that went over: how many more.
    pub fn flush(self, cx: &mut Cx<'_>) -> u64 {
        let mut n = 0;
        for ((place, _), (more, cause)) in self.over {
            let mut path = place;
            path.push("more strings".to_owned());
            let text = format!("{more} more strings with this cause here");
            cx.emit(
                Location::Field { path, at: None },
                cause,
                Evidence::value(text.clone()),
                Evidence::value(text),
                b"more strings",
            );
            n += 1;
        }
        n
    }
}

/// The cause the first finding for a changed string will have.
pub(super) fn first_cause(cx: &Cx<'_>, a: &[u8], b: &[u8], fallback: Option<&Cause>) -> Cause {
    let e = cx.classifier.explain_text(a, b);
    match e.found.first() {
        Some(x) => x.cause.clone(),
        None => fallback
            .cloned()
            .unwrap_or(Cause::Unknown { differences: 1 }),
    }
}

/// The bytes outside the printable runs, with each run replaced by one
/// marker byte and each run of NULs by one NUL (so a longer string, and
/// the alignment padding after it, do not count as a difference here).
fn skeleton(data: &[u8], runs: &[Run<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    let push = |out: &mut Vec<u8>, bytes: &[u8]| {
        for &c in bytes {
            if !(c == 0 && out.last() == Some(&0)) {
                out.push(c);
            }
        }
    };
    for &(start, text) in runs {
        push(&mut out, data.get(at..start).unwrap_or_default());
        out.push(0xff);
        at = start + text.len();
    }
    push(&mut out, data.get(at..).unwrap_or_default());
    out
}

/// Explain one changed string (either side may be missing). Returns the
/// number of findings emitted.
pub(super) fn emit_pair(
    cx: &mut Cx<'_>,
    place: &Place<'_>,
    p: Option<&Run<'_>>,
    q: Option<&Run<'_>>,
    fallback: Option<&Cause>,
) -> u64 {
    let empty: &[u8] = b"";
    let (pa, sa) = p.map_or((0, empty), |r| (r.0, r.1));
    let (pb, sb) = q.map_or((0, empty), |r| (r.0, r.1));
    let (fa, fb) = (place.a_at + pa, place.b_at + pb);
    let e = cx.classifier.explain_text(sa, sb);
    let mut n = 0;
    let location = || Location::Field {
        path: place.path.to_vec(),
        at: place.at.or(Some(fa as u64)),
    };
    for x in &e.found {
        let (ea, eb) = if place.at.is_some() {
            // Not a string in the file (a DWARF attribute value): the
            // value itself, with the token.
            let token = |s: &[u8], r: &Range<usize>, t: Option<i64>| {
                Evidence::value(s)
                    .with_token(s.get(r.clone()).unwrap_or_default(), t.map(Decoded::Time))
            };
            (token(sa, &x.a, x.a_time), token(sb, &x.b, x.b_time))
        } else {
            let ta = fa + x.a.start..fa + x.a.end;
            let tb = fb + x.b.start..fb + x.b.end;
            (
                evidence(place.a_file, fa..fa + sa.len(), ta, x.a_time),
                evidence(place.b_file, fb..fb + sb.len(), tb, x.b_time),
            )
        };
        cx.emit(location(), x.cause.clone(), ea, eb, sa);
        n += 1;
    }
    // Something no detector explains is left (a changed flag next to a
    // path in DW_AT_producer): say so too.
    if e.residual {
        let cause = fallback
            .cloned()
            .unwrap_or(Cause::Unknown { differences: 1 });
        cx.emit(
            location(),
            cause,
            Evidence::value(sa),
            Evidence::value(sb),
            sa,
        );
        n += 1;
    }
    n
}

/// A string excerpt with the token marked, in file offsets.
pub(super) fn evidence(
    file: &[u8],
    string: Range<usize>,
    token: Range<usize>,
    time: Option<i64>,
) -> Evidence {
    let bytes = file.get(token.clone()).unwrap_or_default();
    if file.get(string.clone()).is_none() || file.get(token.clone()).is_none() {
        return Evidence::value(bytes);
    }
    Evidence::of(binary::string_excerpt(file, &string, token))
        .with_token(bytes, time.map(Decoded::Time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_tables_in_hash_order_pair_the_changed_strings() {
        // gcc's .debug_line_str of one object built in two directories: the
        // longer path moved to second place.
        let a: Vec<Run<'_>> = [&b"/b/src"[..], b"lib/a.c", b"/b/src", b"lib", b"a.c"]
            .into_iter()
            .enumerate()
            .collect();
        let b: Vec<Run<'_>> = [
            &b"lib/a.c"[..],
            b"/b-variant/src",
            b"/b-variant/src",
            b"lib",
            b"a.c",
        ]
        .into_iter()
        .enumerate()
        .collect();
        let pairs: Vec<(&[u8], &[u8])> = unmatched_pairs(&a, &b, None, &|_, _| false)
            .into_iter()
            .map(|(p, q)| (p.map_or(&b""[..], |r| r.1), q.map_or(&b""[..], |r| r.1)))
            .collect();
        assert_eq!(
            pairs,
            [
                (&b"/b/src"[..], &b"/b-variant/src"[..]),
                (b"/b/src", b"/b-variant/src")
            ]
        );
    }

    #[test]
    fn runs_split_on_unprintable_bytes() {
        let data = b"\0ab\0/tmp/x.c\x01\x02Nov 25 2026";
        let r: Vec<_> = runs(data, 4).into_iter().map(|r| r.1).collect();
        assert_eq!(r, [&b"/tmp/x.c"[..], b"Nov 25 2026"]);
        assert_eq!(runs(data, 1).len(), 3);
        // A lone printable byte in binary data is no string.
        assert!(runs(b"\x41\xd9\0\0\x4d\xd9\0\0", 1).is_empty());
    }

    #[test]
    fn moved_paths_pair_by_their_roots_not_by_order() {
        // A Rust `.rodata`: two panic-location paths in another order.
        let a: Vec<Run<'_>> = [
            &b"/ci/a/src/vendor/av/src/array_string.rs"[..],
            b"/ci/a/src/vendor/av/src/arrayvec.rs",
        ]
        .into_iter()
        .enumerate()
        .collect();
        let b: Vec<Run<'_>> = [
            &b"/ci/runner-two/b/src/vendor/av/src/arrayvec.rs"[..],
            b"/ci/runner-two/b/src/vendor/av/src/array_string.rs",
        ]
        .into_iter()
        .enumerate()
        .collect();
        for (p, q) in unmatched_pairs(&a, &b, None, &|_, _| false) {
            let (p, q) = (p.unwrap().1, q.unwrap().1);
            assert_eq!(
                p.rsplit(|&c| c == b'/').next(),
                q.rsplit(|&c| c == b'/').next()
            );
        }
        // Unrelated strings are not paired.
        let x: Vec<Run<'_>> = vec![(0, &b"completely different"[..])];
        let y: Vec<Run<'_>> = vec![(0, &b"/some/other/path.rs"[..])];
        assert_eq!(unmatched_pairs(&x, &y, None, &|_, _| false).len(), 2);
    }

    #[test]
    fn skeleton_ignores_string_lengths() {
        let a = b"\x01/tmp/a/x.c\0\x02";
        let b = b"\x01/tmp/longer/x.c\0\x02";
        assert_eq!(skeleton(a, &runs(a, 4)), skeleton(b, &runs(b, 4)));
        let c = b"\x03/tmp/a/x.c\0\x02";
        assert_ne!(skeleton(a, &runs(a, 4)), skeleton(c, &runs(c, 4)));
    }
}
