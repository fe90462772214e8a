//! Pairing the actions of two logs and classifying each pair: identical,
//! non-deterministic (a root), non-hermetic (command, environment, platform
//! or a source/tool input differs), tainted (only upstream outputs differ),
//! or unexplained. Then the taint graph: which root tainted which actions,
//! transitively.
//!
//! Both logs share one interner by now, so symbols compare across sides.
//! Every list that reaches the report is sorted by strings, never by log
//! order or hash order.

use std::cmp::Ordering;
use std::collections::VecDeque;

use super::model::{Action, ContentDigest, FastMap, Input, Log, Output, Sym};
use super::report::{ARGS_SHOWN, Class, Reason};
use crate::finding::Side;

/// Actions are paired on label + mnemonic + primary output; without
/// outputs, on the action digest; without either, on label + mnemonic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    Output(Sym, Sym, Sym),
    Digest(ContentDigest),
    Target(Sym, Sym),
}

fn key(a: &Action) -> Key {
    match (a.primary, a.digest) {
        (Some(p), _) => Key::Output(a.label, a.mnemonic, p),
        (None, Some(d)) => Key::Digest(d),
        (None, None) => Key::Target(a.label, a.mnemonic),
    }
}

/// A source of a differing input: a paired action, or one that ran in one
/// build only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Producer {
    Pair(u32),
    Only(Side, u32),
}

pub(crate) struct Pairing {
    /// (index in A, index in B), sorted by label, mnemonic, primary output.
    pub(crate) pairs: Vec<(u32, u32)>,
    pub(crate) only_a: Vec<u32>,
    pub(crate) only_b: Vec<u32>,
}

/// Compare two actions of `log` by the strings a person sees, looked up in
/// `strings` (A's log, which holds both logs' strings once they share an
/// interner).
pub(crate) fn by_name(strings: &Log, log: &Log, x: u32, y: u32) -> Ordering {
    let (x, y) = (&log.actions[x as usize], &log.actions[y as usize]);
    let s = |a: &Action| {
        (
            strings.str(a.label),
            strings.str(a.mnemonic),
            a.primary.map(|p| strings.str(p)),
        )
    };
    s(x).cmp(&s(y)).then_with(|| {
        let args = |a: &Action| log.args(a).iter().map(|&s| strings.str(s));
        args(x).cmp(args(y))
    })
}

/// Pair the actions of two logs that share A's interner.
pub(crate) fn pair(a: &Log, b: &Log) -> Pairing {
    let mut groups: FastMap<Key, (Vec<u32>, Vec<u32>)> = FastMap::default();
    for (i, act) in a.actions.iter().enumerate() {
        groups.entry(key(act)).or_default().0.push(i as u32);
    }
    for (i, act) in b.actions.iter().enumerate() {
        groups.entry(key(act)).or_default().1.push(i as u32);
    }
    let mut p = Pairing {
        pairs: Vec::new(),
        only_a: Vec::new(),
        only_b: Vec::new(),
    };
    for (_, (mut xs, mut ys)) in groups {
        // Several actions under one key (rare): pair them in command-line
        // order, which does not depend on the order of the log.
        if xs.len() > 1 {
            xs.sort_by(|&i, &j| by_name(a, a, i, j));
        }
        if ys.len() > 1 {
            ys.sort_by(|&i, &j| by_name(a, b, i, j));
        }
        let n = xs.len().min(ys.len());
        p.pairs.extend(xs.iter().copied().zip(ys.iter().copied()));
        p.only_a.extend_from_slice(&xs[n..]);
        p.only_b.extend_from_slice(&ys[n..]);
    }
    // Sort on the key strings, looked up once; full names break the rare
    // ties (several actions under one key).
    let mut keyed: Vec<_> = p
        .pairs
        .iter()
        .map(|&(x, y)| {
            let act = &a.actions[x as usize];
            let k = (
                a.str(act.label),
                a.str(act.mnemonic),
                act.primary.map(|s| a.str(s)),
            );
            (k, (x, y))
        })
        .collect();
    keyed.sort_unstable_by(|(kx, x), (ky, y)| {
        kx.cmp(ky)
            .then_with(|| by_name(a, a, x.0, y.0))
            .then_with(|| by_name(a, b, x.1, y.1))
    });
    p.pairs = keyed.into_iter().map(|(_, pair)| pair).collect();
    p.only_a.sort_by(|&i, &j| by_name(a, a, i, j));
    p.only_b.sort_by(|&i, &j| by_name(a, b, i, j));
    p
}

/// One paired action, classified.
#[derive(Debug)]
pub(crate) struct Judgement {
    pub(crate) class: Class,
    pub(crate) reasons: Vec<Reason>,
    /// Differing inputs explained by upstream actions: (producer, path).
    pub(crate) upstream: Vec<(Producer, Sym)>,
    pub(crate) outputs: Vec<(Sym, Option<ContentDigest>, Option<ContentDigest>)>,
}

/// Who produced each path, in either build.
pub(crate) struct Producers {
    map: FastMap<Sym, Producer>,
    aliases: FastMap<Sym, Sym>,
}

impl Producers {
    pub(crate) fn new(a: &Log, b: &Log, p: &Pairing) -> Producers {
        let mut map = FastMap::default();
        for (i, &(x, y)) in p.pairs.iter().enumerate() {
            let i = i as u32;
            for log_act in [(a, x), (b, y)] {
                let (log, idx) = log_act;
                for o in log.outputs(&log.actions[idx as usize]) {
                    map.entry(o.path).or_insert(Producer::Pair(i));
                }
            }
        }
        for (side, log, only) in [(Side::A, a, &p.only_a), (Side::B, b, &p.only_b)] {
            for &idx in only {
                for o in log.outputs(&log.actions[idx as usize]) {
                    map.entry(o.path).or_insert(Producer::Only(side, idx));
                }
            }
        }
        let mut aliases = a.aliases.clone();
        for (k, v) in &b.aliases {
            aliases.entry(*k).or_insert(*v);
        }
        Producers { map, aliases }
    }

    /// The action that produced `path`, following symlink actions.
    pub(crate) fn of(&self, mut path: Sym) -> Option<Producer> {
        for _ in 0..32 {
            if let Some(&p) = self.map.get(&path) {
                return Some(p);
            }
            path = *self.aliases.get(&path)?;
        }
        None
    }
}

/// Walk two sorted lists together; `f` gets each key with its items.
fn merge<'x, T, K: Ord + Copy>(
    xs: &'x [T],
    ys: &'x [T],
    key: impl Fn(&T) -> K,
    mut f: impl FnMut(K, Option<&'x T>, Option<&'x T>),
) {
    let (mut i, mut j) = (0, 0);
    while i < xs.len() || j < ys.len() {
        match (xs.get(i), ys.get(j)) {
            (Some(x), Some(y)) => match key(x).cmp(&key(y)) {
                Ordering::Less => {
                    f(key(x), Some(x), None);
                    i += 1;
                }
                Ordering::Greater => {
                    f(key(y), None, Some(y));
                    j += 1;
                }
                Ordering::Equal => {
                    f(key(x), Some(x), Some(y));
                    i += 1;
                    j += 1;
                }
            },
            (Some(x), None) => {
                f(key(x), Some(x), None);
                i += 1;
            }
            (None, Some(y)) => {
                f(key(y), None, Some(y));
                j += 1;
            }
            (None, None) => break,
        }
    }
}

/// The differing middle of two command lines.
fn arguments(log: &Log, xa: &[Sym], xb: &[Sym]) -> Option<Reason> {
    if xa == xb {
        return None;
    }
    let prefix = xa.iter().zip(xb).take_while(|(x, y)| x == y).count();
    let suffix = xa[prefix..]
        .iter()
        .rev()
        .zip(xb[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let mid = |xs: &[Sym]| {
        xs[prefix..xs.len() - suffix]
            .iter()
            .take(ARGS_SHOWN)
            .map(|&s| log.str(s).to_owned())
            .collect()
    };
    Some(Reason::Arguments {
        at: prefix,
        a: mid(xa),
        b: mid(xb),
        a_len: xa.len(),
        b_len: xb.len(),
    })
}

fn pairs_differ(
    log: &Log,
    xa: &[(Sym, Sym)],
    xb: &[(Sym, Sym)],
    make: impl Fn(String, Option<String>, Option<String>) -> Reason,
    out: &mut Vec<Reason>,
) {
    let mut found: Vec<(&str, Reason)> = Vec::new();
    merge(
        xa,
        xb,
        |e| e.0,
        |name, x, y| {
            if x.map(|e| e.1) != y.map(|e| e.1) {
                let v = |e: Option<&(Sym, Sym)>| e.map(|e| log.str(e.1).to_owned());
                found.push((log.str(name), make(log.str(name).to_owned(), v(x), v(y))));
            }
        },
    );
    // Symbol order is interning order: sort by name for the report.
    found.sort_by(|x, y| x.0.cmp(y.0));
    out.extend(found.into_iter().map(|(_, r)| r));
}

fn fp(i: Option<&Input>) -> Option<String> {
    i.map(|i| format!("{:016x}", i.fp))
}

/// Classify one pair; `a` holds the strings of both logs by now.
pub(crate) fn judge(
    a: &Log,
    b: &Log,
    x: &Action,
    y: &Action,
    producers: &Producers,
    me: u32,
) -> Judgement {
    let mut reasons = Vec::new();
    if x.has_command && y.has_command {
        reasons.extend(arguments(a, a.args(x), b.args(y)));
        pairs_differ(
            a,
            a.env(x),
            b.env(y),
            |name, a, b| Reason::Environment { name, a, b },
            &mut reasons,
        );
    }
    pairs_differ(
        a,
        a.platform(x),
        b.platform(y),
        |name, a, b| Reason::Platform { name, a, b },
        &mut reasons,
    );
    let mut upstream = Vec::new();
    let mut outputs = Vec::new();
    let files = x.has_files && y.has_files;
    if files {
        let mut inputs = Vec::new();
        merge(
            a.inputs(x),
            b.inputs(y),
            |i| i.path,
            |path, ia, ib| {
                if ia.map(|i| i.fp) != ib.map(|i| i.fp) {
                    match producers.of(path) {
                        Some(p) if p != Producer::Pair(me) => upstream.push((p, path)),
                        _ => inputs.push((
                            a.str(path),
                            Reason::Input {
                                path: a.str(path).to_owned(),
                                tool: ia.or(ib).is_some_and(|i| i.tool),
                                a: fp(ia),
                                b: fp(ib),
                            },
                        )),
                    }
                }
            },
        );
        inputs.sort_by(|p, q| p.0.cmp(q.0));
        reasons.extend(inputs.into_iter().map(|(_, r)| r));
        merge(
            a.outputs(x),
            b.outputs(y),
            |o: &Output| o.path,
            |path, oa, ob| {
                let (da, db) = (oa.and_then(|o| o.digest), ob.and_then(|o| o.digest));
                if da != db || oa.is_none() || ob.is_none() {
                    outputs.push((path, da, db));
                }
            },
        );
        outputs.sort_by(|p, q| a.str(p.0).cmp(a.str(q.0)));
    }
    let keys_differ = matches!((x.digest, y.digest), (Some(p), Some(q)) if p != q);
    let class = if !reasons.is_empty() {
        Class::NonHermetic
    } else if !upstream.is_empty() {
        Class::Tainted
    } else if keys_differ {
        let (p, q) = (x.digest.expect("matched"), y.digest.expect("matched"));
        reasons.push(Reason::ActionKey {
            a: p.to_string(),
            b: q.to_string(),
        });
        Class::Unexplained
    } else if !outputs.is_empty() {
        Class::NonDeterministic
    } else {
        Class::Identical
    };
    upstream.sort_unstable();
    upstream.dedup();
    Judgement {
        class,
        reasons,
        upstream,
        outputs,
    }
}

/// The taint graph over pairs: an edge from each upstream pair to each
/// tainted pair that consumed its differing outputs.
pub(crate) struct TaintGraph {
    /// Compressed adjacency: `edges[start[u]..start[u+1]]`.
    start: Vec<u32>,
    edges: Vec<u32>,
}

/// What a root tainted.
#[derive(Debug, Default)]
pub(crate) struct Reach {
    pub(crate) tainted: u64,
    pub(crate) direct: u64,
    /// The longest chain (by BFS depth), root first.
    pub(crate) chain: Vec<u32>,
}

impl TaintGraph {
    pub(crate) fn new(pairs: usize, verdicts: &[Judgement]) -> TaintGraph {
        let mut list: Vec<(u32, u32)> = Vec::new();
        for (d, v) in verdicts.iter().enumerate() {
            if v.class != Class::Tainted {
                continue;
            }
            for (p, _) in &v.upstream {
                if let Producer::Pair(u) = p {
                    list.push((*u, d as u32));
                }
            }
        }
        list.sort_unstable();
        list.dedup();
        let mut start = vec![0u32; pairs + 1];
        for &(u, _) in &list {
            start[u as usize + 1] += 1;
        }
        for i in 0..pairs {
            start[i + 1] += start[i];
        }
        TaintGraph {
            start,
            edges: list.into_iter().map(|(_, d)| d).collect(),
        }
    }

    fn next(&self, u: u32) -> &[u32] {
        let (s, e) = (self.start[u as usize], self.start[u as usize + 1]);
        &self.edges[s as usize..e as usize]
    }

    /// Breadth-first from `root`. `stamp` and `parent` are scratch space of
    /// one entry per pair, `mark` a value not used in `stamp` before. Edges
    /// are visited in pair order (name order), so the chain, which ends at
    /// the last action reached, does not depend on the log.
    pub(crate) fn reach(
        &self,
        root: u32,
        stamp: &mut [u32],
        mark: u32,
        parent: &mut [u32],
        chain: bool,
    ) -> Reach {
        let mut queue = VecDeque::from([root]);
        stamp[root as usize] = mark;
        let mut last = root;
        let mut tainted = 0u64;
        while let Some(u) = queue.pop_front() {
            last = u;
            for &d in self.next(u) {
                if stamp[d as usize] != mark {
                    stamp[d as usize] = mark;
                    parent[d as usize] = u;
                    tainted += 1;
                    queue.push_back(d);
                }
            }
        }
        let mut path = Vec::new();
        if chain {
            let mut at = last;
            path.push(at);
            while at != root {
                at = parent[at as usize];
                path.push(at);
            }
            path.reverse();
        }
        Reach {
            tainted,
            direct: self.next(root).len() as u64,
            chain: path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execlog::model::{ActionDraft, LogBuilder, unify};

    struct S<'a> {
        label: &'a str,
        args: &'a [&'a str],
        /// (path, hash, tool)
        inputs: &'a [(&'a str, &'a str, bool)],
        outputs: &'a [(&'a str, &'a str)],
        digest: Option<&'a str>,
    }

    fn s<'a>(
        label: &'a str,
        inputs: &'a [(&'a str, &'a str, bool)],
        outputs: &'a [(&'a str, &'a str)],
    ) -> S<'a> {
        S {
            label,
            args: &["run"],
            inputs,
            outputs,
            digest: None,
        }
    }

    fn log(spawns: &[S<'_>], aliases: &[(&str, &str)]) -> Log {
        let mut b = LogBuilder::default();
        for sp in spawns {
            for a in sp.args {
                b.arg(a);
            }
            for (path, hash, tool) in sp.inputs {
                let path = b.intern(path);
                let fp = ContentDigest::parse(hash, 1).fingerprint();
                b.input(Input {
                    path,
                    fp,
                    tool: *tool,
                });
            }
            for (path, hash) in sp.outputs {
                let path = b.intern(path);
                b.output(path, Some(ContentDigest::parse(hash, 1)));
            }
            b.finish_action(&ActionDraft {
                label: sp.label.to_owned(),
                mnemonic: "M".to_owned(),
                digest: sp.digest.map(|d| ContentDigest::parse(d, 1)),
                has_command: true,
                has_files: true,
                ..ActionDraft::default()
            });
        }
        for (link, target) in aliases {
            b.alias(link, target);
        }
        b.finish()
    }

    /// (label, class, reasons) of each pair.
    fn run(mut a: Log, mut b: Log) -> Vec<(String, Class, Vec<Reason>)> {
        unify(&mut a, &mut b);
        let p = pair(&a, &b);
        let producers = Producers::new(&a, &b, &p);
        p.pairs
            .iter()
            .enumerate()
            .map(|(i, &(x, y))| {
                let (ax, by) = (&a.actions[x as usize], &b.actions[y as usize]);
                let v = judge(&a, &b, ax, by, &producers, i as u32);
                (a.str(ax.label).to_owned(), v.class, v.reasons)
            })
            .collect()
    }

    #[test]
    fn a_differing_source_or_tool_is_named() {
        let a = log(
            &[s(
                "//:x",
                &[("x.c", "aa", false), ("cc", "01", true)],
                &[("x.o", "10")],
            )],
            &[],
        );
        let b = log(
            &[s(
                "//:x",
                &[("x.c", "aa", false), ("cc", "02", true)],
                &[("x.o", "11")],
            )],
            &[],
        );
        let got = run(a, b);
        assert_eq!(got[0].1, Class::NonHermetic);
        match &got[0].2[..] {
            [
                Reason::Input {
                    path,
                    tool: true,
                    a: Some(_),
                    b: Some(_),
                },
            ] => assert_eq!(path, "cc"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn symlink_actions_carry_taint_to_their_consumers() {
        let spawns = |obj: &'static str| {
            log(
                &[
                    s("//:gen", &[("g.c", "aa", false)], &[("out/g.o", obj)]),
                    s(
                        "//:use",
                        &[("out/link.o", obj, false)],
                        &[("out/use", "33")],
                    ),
                ],
                &[("out/link.o", "out/g.o")],
            )
        };
        let got = run(spawns("01"), spawns("02"));
        assert_eq!(
            got[0],
            ("//:gen".to_owned(), Class::NonDeterministic, vec![])
        );
        assert_eq!(got[1].1, Class::Tainted);
    }

    #[test]
    fn an_upstream_action_in_one_build_only_still_taints() {
        let a = log(
            &[
                s("//:gen", &[], &[("g.h", "01")]),
                s("//:use", &[("g.h", "01", false)], &[("u", "5")]),
            ],
            &[],
        );
        let mut other = s("//:gen2", &[], &[("g.h", "02")]);
        other.args = &["other"];
        let b = log(
            &[other, s("//:use", &[("g.h", "02", false)], &[("u", "6")])],
            &[],
        );
        let got = run(a, b);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].1, Class::Tainted);
    }

    #[test]
    fn a_key_that_differs_for_no_logged_reason_is_unexplained() {
        let mut x = s("//:x", &[("x.c", "aa", false)], &[("x.o", "10")]);
        x.digest = Some("01");
        let mut y = s("//:x", &[("x.c", "aa", false)], &[("x.o", "10")]);
        y.digest = Some("02");
        let got = run(log(&[x], &[]), log(&[y], &[]));
        assert_eq!(got[0].1, Class::Unexplained);
        assert!(matches!(got[0].2[..], [Reason::ActionKey { .. }]));
    }

    #[test]
    fn command_lines_differ_in_their_middle() {
        let mut x = s("//:x", &[], &[("x.o", "10")]);
        x.args = &["cc", "-O2", "-DA=1", "-c", "x.c"];
        let mut y = s("//:x", &[], &[("x.o", "10")]);
        y.args = &["cc", "-O2", "-DA=2", "-g", "-c", "x.c"];
        let got = run(log(&[x], &[]), log(&[y], &[]));
        assert_eq!(
            got[0].2,
            [Reason::Arguments {
                at: 2,
                a: vec!["-DA=1".to_owned()],
                b: vec!["-DA=2".to_owned(), "-g".to_owned()],
                a_len: 5,
                b_len: 6,
            }]
        );
    }

    #[test]
    fn actions_sharing_a_key_pair_by_command_line_not_log_order() {
        let mut p = s("//:x", &[], &[("same.o", "1")]);
        p.args = &["p"];
        let mut q = s("//:x", &[], &[("same.o", "2")]);
        q.args = &["q"];
        let (p2, q2) = (
            S {
                args: &["p"],
                ..s("//:x", &[], &[("same.o", "1")])
            },
            S {
                args: &["q"],
                ..s("//:x", &[], &[("same.o", "2")])
            },
        );
        let got = run(log(&[p, q], &[]), log(&[q2, p2], &[]));
        assert!(got.iter().all(|g| g.1 == Class::Identical), "{got:?}");
    }

    #[test]
    fn taint_counts_are_transitive_and_chains_follow_the_longest_path() {
        // r → t1 → t2 → t3, and r → t4: four tainted, chain of four.
        let mut verdicts: Vec<Judgement> = (0..5)
            .map(|_| Judgement {
                class: Class::Tainted,
                reasons: vec![],
                upstream: vec![],
                outputs: vec![],
            })
            .collect();
        verdicts[0].class = Class::NonDeterministic;
        for (d, u) in [(1, 0), (2, 1), (3, 2), (4, 0)] {
            verdicts[d].upstream.push((Producer::Pair(u), Sym(0)));
        }
        let g = TaintGraph::new(5, &verdicts);
        let (mut stamp, mut parent) = (vec![u32::MAX; 5], vec![0; 5]);
        let r = g.reach(0, &mut stamp, 0, &mut parent, true);
        assert_eq!((r.tainted, r.direct), (4, 2));
        assert_eq!(r.chain, [0, 1, 2, 3]);
        let r = g.reach(2, &mut stamp, 1, &mut parent, true);
        assert_eq!((r.tainted, r.direct, r.chain), (1, 1, vec![2, 3]));
    }
}
