//! Pairing two walked trees by relative path.

use std::cmp::Ordering;

use super::{Entry, Tree};

/// The entries at one relative path on each side.
#[derive(Clone, Copy, Debug)]
pub struct Pair<'t> {
    pub rel: &'t [u8],
    pub a: Option<&'t Entry>,
    pub b: Option<&'t Entry>,
}

/// Merge two trees' entries in path order.
pub fn pair<'t>(a: &'t Tree, b: &'t Tree) -> Vec<Pair<'t>> {
    let mut out = Vec::with_capacity(a.entries.len().max(b.entries.len()));
    let mut ia = a.entries.iter().peekable();
    let mut ib = b.entries.iter().peekable();
    loop {
        let order = match (ia.peek(), ib.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((ka, _)), Some((kb, _))) => ka.cmp(kb),
        };
        let p = match order {
            Ordering::Less => ia.next().map(|(k, e)| Pair {
                rel: k,
                a: Some(e),
                b: None,
            }),
            Ordering::Greater => ib.next().map(|(k, e)| Pair {
                rel: k,
                a: None,
                b: Some(e),
            }),
            Ordering::Equal => ia.next().zip(ib.next()).map(|((k, ea), (_, eb))| Pair {
                rel: k,
                a: Some(ea),
                b: Some(eb),
            }),
        };
        out.extend(p);
    }
    out
}
