//! Build roots: inferred from the absolute paths of two sides when they
//! are not known, and substituted to explain by replacement what a longer
//! or shorter root moved (issue 12, class 6).
//!
//! Two builds in `/ci/a/src` and `/ci/runner-two/b/src` leave paths that
//! agree after their roots (`…/vendor/x/src/lib.rs`). The pair of prefixes
//! most paths agree on is the pair of roots; replacing A's root with B's in
//! A's bytes then shows what else differs.

use std::collections::{BTreeMap, HashMap};

use super::path;

/// At most this many distinct paths per side take part in the inference.
const MAX_PATHS: usize = 20_000;

/// The pair of build roots the paths of two sides agree on: for each path
/// of side A, the B path sharing its longest suffix of at least two whole
/// components votes for the two prefixes before that suffix. `None` when
/// no pair of differing prefixes gets a vote. Deterministic: ties go to
/// the smallest pair.
pub(crate) fn infer(a: &[&[u8]], b: &[&[u8]]) -> Option<(Vec<u8>, Vec<u8>)> {
    let distinct = |paths: &[&[u8]]| -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = paths.iter().map(|p| p.to_vec()).collect();
        v.sort_unstable();
        v.dedup();
        v.truncate(MAX_PATHS);
        v
    };
    let (pa, pb) = (distinct(a), distinct(b));
    // Every suffix of a B path that starts at a `/`, with the prefix before it.
    let mut by_suffix: HashMap<&[u8], Vec<&[u8]>> = HashMap::new();
    for p in &pb {
        for cut in slashes(p) {
            by_suffix.entry(&p[cut..]).or_default().push(&p[..cut]);
        }
    }
    let mut votes: BTreeMap<(&[u8], &[u8]), u64> = BTreeMap::new();
    for p in &pa {
        if pb.binary_search(p).is_ok() {
            continue;
        }
        // The longest shared suffix (the first cut) of two components or more.
        for cut in slashes(p) {
            let suffix = &p[cut..];
            if suffix.iter().filter(|&&c| c == b'/').count() < 2 {
                break;
            }
            if let Some(prefixes) = by_suffix.get(suffix) {
                let prefix_a = &p[..cut];
                if let Some(prefix_b) = prefixes.iter().copied().filter(|q| *q != prefix_a).min() {
                    *votes.entry((prefix_a, prefix_b)).or_default() += 1;
                }
                break;
            }
        }
    }
    let best = votes
        .iter()
        .map(|(k, v)| (*v, *k))
        .max_by(|x, y| x.0.cmp(&y.0).then_with(|| y.1.cmp(&x.1)))?;
    let (ra, rb) = best.1;
    (ra.starts_with(b"/") && rb.starts_with(b"/")).then(|| (ra.to_vec(), rb.to_vec()))
}

/// Offsets of the `/` bytes of `p` after the first, in order: the cut
/// points between a prefix and a suffix.
fn slashes(p: &[u8]) -> impl Iterator<Item = usize> + '_ {
    p.iter()
        .enumerate()
        .skip(1)
        .filter(|(_, c)| **c == b'/')
        .map(|(i, _)| i)
}

/// `text` with every whole-prefix occurrence of `from` replaced by `to`;
/// `None` when it has none.
pub(crate) fn substitute(text: &[u8], from: &[u8], to: &[u8]) -> Option<Vec<u8>> {
    let hits = path::find_root(text, from);
    if hits.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() + hits.len() * to.len());
    let mut at = 0;
    for (start, end) in hits {
        out.extend_from_slice(text.get(at..start)?);
        out.extend_from_slice(to);
        at = end;
    }
    out.extend_from_slice(text.get(at..)?);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_the_prefixes_most_paths_agree_after() {
        let a: Vec<&[u8]> = vec![
            b"/dev/shm/p/a/src/vendor/arrayvec-0.7.8/src/arrayvec.rs",
            b"/dev/shm/p/a/src/vendor/arrayvec-0.7.8/src/array_string.rs",
            b"/rustc/1234/library/core/src/fmt/mod.rs",
        ];
        let b: Vec<&[u8]> = vec![
            b"/rustc/1234/library/core/src/fmt/mod.rs",
            b"/dev/shm/p/runner-two/b/src/vendor/arrayvec-0.7.8/src/array_string.rs",
            b"/dev/shm/p/runner-two/b/src/vendor/arrayvec-0.7.8/src/arrayvec.rs",
        ];
        let (ra, rb) = infer(&a, &b).expect("roots");
        assert_eq!(ra, b"/dev/shm/p/a");
        assert_eq!(rb, b"/dev/shm/p/runner-two/b");
        assert!(infer(&a[2..], &b[..1]).is_none());
    }

    #[test]
    fn substitution_replaces_whole_prefixes() {
        assert_eq!(
            substitute(b"x /r/a/f.c /r/ab/g.c", b"/r/a", b"/r/bbb").unwrap(),
            b"x /r/bbb/f.c /r/ab/g.c"
        );
        assert!(substitute(b"nothing", b"/r/a", b"/r/b").is_none());
    }
}
