//! Pairing two logs' actions on their first-pass keys: sort both sides by
//! (key, content), merge. Several actions under one key (rare: a test run
//! more than once) pair equal contents first, then the rest in content
//! order, which does not depend on the order of the log.

use std::cmp::Ordering;

use super::summary::ActSum;

pub(crate) const NONE: u32 = u32::MAX;

#[derive(Debug, Default)]
pub(crate) struct Pairing {
    /// (ordinal in A, ordinal in B).
    pub(crate) pairs: Vec<(u32, u32)>,
    /// The pair of each action of A and B (`NONE` when unpaired).
    pub(crate) of_a: Vec<u32>,
    pub(crate) of_b: Vec<u32>,
    pub(crate) only_a: Vec<u32>,
    pub(crate) only_b: Vec<u32>,
}

fn order(acts: &[ActSum]) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..acts.len() as u32).collect();
    idx.sort_unstable_by_key(|&i| {
        let a = &acts[i as usize];
        (a.key(), a.content, i)
    });
    idx
}

pub(crate) fn pair(a: &[ActSum], b: &[ActSum]) -> Pairing {
    let (xa, xb) = (order(a), order(b));
    let mut p = Pairing {
        of_a: vec![NONE; a.len()],
        of_b: vec![NONE; b.len()],
        ..Pairing::default()
    };
    let (mut i, mut j) = (0, 0);
    let key_a = |i: usize| a[xa[i] as usize].key();
    let key_b = |j: usize| b[xb[j] as usize].key();
    while i < xa.len() || j < xb.len() {
        let ord = match (i < xa.len(), j < xb.len()) {
            (true, true) => key_a(i).cmp(&key_b(j)),
            (true, false) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match ord {
            Ordering::Less => {
                p.only_a.push(xa[i]);
                i += 1;
            }
            Ordering::Greater => {
                p.only_b.push(xb[j]);
                j += 1;
            }
            Ordering::Equal => {
                let k = key_a(i);
                let gi = i + xa[i..]
                    .iter()
                    .take_while(|&&x| a[x as usize].key() == k)
                    .count();
                let gj = j + xb[j..]
                    .iter()
                    .take_while(|&&x| b[x as usize].key() == k)
                    .count();
                group(a, b, &xa[i..gi], &xb[j..gj], &mut p);
                (i, j) = (gi, gj);
            }
        }
    }
    for (n, &(x, y)) in p.pairs.iter().enumerate() {
        p.of_a[x as usize] = n as u32;
        p.of_b[y as usize] = n as u32;
    }
    p
}

/// Pair the actions of one key: equal contents first.
fn group(a: &[ActSum], b: &[ActSum], xs: &[u32], ys: &[u32], p: &mut Pairing) {
    if xs.len() == 1 && ys.len() == 1 {
        p.pairs.push((xs[0], ys[0]));
        return;
    }
    let mut used_b = vec![false; ys.len()];
    let mut rest_a = Vec::new();
    let mut j = 0;
    for &x in xs {
        let c = a[x as usize].content;
        while j < ys.len() && b[ys[j] as usize].content < c {
            j += 1;
        }
        match (j..ys.len()).find(|&k| !used_b[k] && b[ys[k] as usize].content == c) {
            Some(k) => {
                used_b[k] = true;
                p.pairs.push((x, ys[k]));
            }
            None => rest_a.push(x),
        }
    }
    let mut rest_b = ys
        .iter()
        .zip(&used_b)
        .filter(|(_, u)| !**u)
        .map(|(y, _)| *y);
    for x in rest_a {
        match rest_b.next() {
            Some(y) => p.pairs.push((x, y)),
            None => p.only_a.push(x),
        }
    }
    p.only_b.extend(rest_b);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(key: u64, content: u64) -> ActSum {
        ActSum::new([key, 0], content, 0)
    }

    #[test]
    fn pairs_by_key_whatever_the_order() {
        let a = [act(1, 10), act(2, 20), act(3, 30)];
        let b = [act(3, 31), act(4, 40), act(1, 10)];
        let p = pair(&a, &b);
        let mut pairs = p.pairs.clone();
        pairs.sort();
        assert_eq!(pairs, [(0, 2), (2, 0)]);
        assert_eq!((p.only_a, p.only_b), (vec![1], vec![1]));
        assert_eq!(p.of_b[2], p.of_a[0]);
    }

    #[test]
    fn duplicates_pair_equal_contents_first() {
        let a = [act(1, 7), act(1, 5)];
        let b = [act(1, 9), act(1, 7), act(1, 6)];
        let p = pair(&a, &b);
        assert!(p.pairs.contains(&(0, 1)), "{:?}", p.pairs);
        assert_eq!(p.pairs.len(), 2);
        assert_eq!(p.only_b.len(), 1);
    }
}
