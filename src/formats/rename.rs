//! Members present on one side only that are one member under two names:
//! the same name with another compression suffix (`control.tar.gz`
//! against `control.tar.xz`), or a path one of whose components is a
//! random token on each side (`tmp.TyCgZ2/…` against `tmp.b0DMbr/…`, a
//! GUID file name). They are paired and compared instead of being
//! reported as two `only_in` (issue 12, classes 5, 11 and 12). Used by
//! the archive comparators and by the tree comparison.
#![deny(clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::compressed::stem;
use crate::classify::path::random_pair;

/// Why two names were paired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Rename {
    /// The same name with other compression suffixes.
    Compression,
    /// Component `component` (0-based) is a random token on each side;
    /// `prefix_a`/`prefix_b` are the paths up to and including it.
    Random {
        component: usize,
        prefix_a: Vec<u8>,
        prefix_b: Vec<u8>,
    },
}

/// One member under two names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Renamed {
    pub a: Vec<u8>,
    pub b: Vec<u8>,
    pub why: Rename,
}

/// At most this many names per side take part (the work grows with names
/// times depth).
const MAX_NAMES: usize = 100_000;

/// Pair the names present only in A with those only in B. Deterministic:
/// compression suffixes first, then random components by the number of
/// names each pairing explains (most first), then by the names.
pub(crate) fn pair_renamed(only_a: &[&[u8]], only_b: &[&[u8]]) -> Vec<Renamed> {
    let mut out = Vec::new();
    if only_a.is_empty() || only_b.is_empty() {
        return out;
    }
    let mut used_a: BTreeSet<&[u8]> = BTreeSet::new();
    let mut used_b: BTreeSet<&[u8]> = BTreeSet::new();
    // The same stem under two compression suffixes.
    let mut stems_b: BTreeMap<Vec<u8>, &[u8]> = BTreeMap::new();
    for &n in only_b {
        stems_b
            .entry(stem(n).unwrap_or_else(|| n.to_vec()))
            .or_insert(n);
    }
    for &n in only_a {
        let s = stem(n).unwrap_or_else(|| n.to_vec());
        if let Some(&m) = stems_b.get(&s)
            && (stem(n).is_some() || stem(m).is_some())
            && !used_b.contains(m)
        {
            used_a.insert(n);
            used_b.insert(m);
            out.push(Renamed {
                a: n.to_vec(),
                b: m.to_vec(),
                why: Rename::Compression,
            });
        }
    }
    // One component that is a random token on each side: index B's names by
    // every component masked in turn.
    let split =
        |n: &[u8]| -> Vec<Vec<u8>> { n.split(|&c| c == b'/').map(<[u8]>::to_vec).collect() };
    let key = |parts: &[Vec<u8>], k: usize| -> Vec<u8> {
        let mut key = k.to_le_bytes().to_vec();
        for (i, p) in parts.iter().enumerate() {
            key.push(0);
            if i != k {
                key.extend_from_slice(p);
            }
        }
        key
    };
    let mut index: HashMap<Vec<u8>, Vec<&[u8]>> = HashMap::new();
    for &n in only_b
        .iter()
        .filter(|n| !used_b.contains(*n))
        .take(MAX_NAMES)
    {
        let parts = split(n);
        for k in 0..parts.len() {
            index.entry(key(&parts, k)).or_default().push(n);
        }
    }
    // (component, prefix in A, prefix in B) -> the pairs it explains.
    type Group<'n> = Vec<(&'n [u8], &'n [u8])>;
    let mut groups: BTreeMap<(usize, Vec<u8>, Vec<u8>), Group<'_>> = BTreeMap::new();
    for &n in only_a
        .iter()
        .filter(|n| !used_a.contains(*n))
        .take(MAX_NAMES)
    {
        let parts = split(n);
        for k in 0..parts.len() {
            let Some(candidates) = index.get(&key(&parts, k)) else {
                continue;
            };
            let Some(ca) = parts.get(k) else { continue };
            for &m in candidates {
                let pb = split(m);
                let Some(cb) = pb.get(k) else { continue };
                if random_pair(ca, cb) {
                    let prefix = |p: &[Vec<u8>]| p.get(..=k).unwrap_or_default().join(&b'/');
                    groups
                        .entry((k, prefix(&parts), prefix(&pb)))
                        .or_default()
                        .push((n, m));
                }
            }
        }
    }
    let mut ranked: Vec<_> = groups.into_iter().collect();
    ranked.sort_by(|x, y| y.1.len().cmp(&x.1.len()).then_with(|| x.0.cmp(&y.0)));
    for ((component, prefix_a, prefix_b), pairs) in ranked {
        for (n, m) in pairs {
            if used_a.contains(n) || used_b.contains(m) {
                continue;
            }
            used_a.insert(n);
            used_b.insert(m);
            out.push(Renamed {
                a: n.to_vec(),
                b: m.to_vec(),
                why: Rename::Random {
                    component,
                    prefix_a: prefix_a.clone(),
                    prefix_b: prefix_b.clone(),
                },
            });
        }
    }
    out.sort_by(|x, y| x.a.cmp(&y.a));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&'static str]) -> Vec<&'static [u8]> {
        v.iter().map(|s| s.as_bytes()).collect()
    }

    #[test]
    fn compression_suffixes_pair() {
        let p = pair_renamed(
            &names(&["control.tar.gz", "data.tar.gz", "x"]),
            &names(&["data.tar.xz", "control.tar.xz", "y"]),
        );
        let got: Vec<(&[u8], &[u8])> = p.iter().map(|r| (&r.a[..], &r.b[..])).collect();
        assert_eq!(
            got,
            [
                (&b"control.tar.gz"[..], &b"control.tar.xz"[..]),
                (b"data.tar.gz", b"data.tar.xz")
            ]
        );
    }

    #[test]
    fn a_random_top_directory_pairs_every_member_under_it() {
        let p = pair_renamed(
            &names(&[
                "tmp.TyCgZ2/",
                "tmp.TyCgZ2/bin/x",
                "tmp.TyCgZ2/share/info.txt",
            ]),
            &names(&[
                "tmp.b0DMbr/share/info.txt",
                "tmp.b0DMbr/",
                "tmp.b0DMbr/bin/x",
            ]),
        );
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p.iter().all(|r| matches!(
            &r.why,
            Rename::Random { component: 0, prefix_a, .. } if prefix_a == b"tmp.TyCgZ2"
        )));
    }

    #[test]
    fn words_and_versions_are_not_random() {
        assert!(pair_renamed(&names(&["foo-1.0/a"]), &names(&["foo-1.1/a"])).is_empty());
        assert!(pair_renamed(&names(&["alpha/a"]), &names(&["gamma/a"])).is_empty());
    }
}
