//! Classifying the pairs the second pass read in full: identical,
//! non-deterministic (a root), non-hermetic (command, environment,
//! platform, timeout or a source/tool input differs), failed, tainted (only
//! upstream outputs differ), unexplained or not comparable. Then the taint
//! graph: which root tainted which actions, transitively.
//!
//! Both logs share one interner, so symbols compare across sides. Every
//! list that reaches the report is sorted by strings, never by log order,
//! hash order or symbol order.

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::rc::Rc;

use super::analyze::EXPAND_PER_ACTION;
use super::model::{
    Action, ContentDigest, Detail, FastMap, Input, Inputs, Interner, OutState, Output, Sym,
};
use super::pair::{NONE, Pairing};
use super::report::{ARGS_SHOWN, Class, Failure, Reason};
use super::summary::{LogSummary, path_hash};
use super::view::runfiles_candidates;
use crate::finding::Side;

/// A source of a differing input: a reported pair, or an action that ran in
/// one build only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Producer {
    Pair(u32),
    Only(Side, u32),
}

/// A differing input explained by an upstream action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Tainted {
    pub(crate) producer: Producer,
    pub(crate) path: Sym,
    /// What the consumer read on each side.
    pub(crate) a: Option<u64>,
    pub(crate) b: Option<u64>,
}

/// One side of a differing output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutSide {
    State(OutState),
    Absent,
    /// Not listed; what consumers read.
    Seen(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OutDiff {
    pub(crate) path: Sym,
    pub(crate) a: OutSide,
    pub(crate) b: OutSide,
}

/// One paired action, classified.
#[derive(Debug, Clone)]
pub(crate) struct Judgement {
    pub(crate) class: Class,
    pub(crate) reasons: Vec<Reason>,
    pub(crate) upstream: Vec<Tainted>,
    pub(crate) outputs: Vec<OutDiff>,
    pub(crate) failure: Option<Failure>,
}

impl Judgement {
    pub(crate) fn identical() -> Judgement {
        Judgement {
            class: Class::Identical,
            reasons: Vec::new(),
            upstream: Vec::new(),
            outputs: Vec::new(),
            failure: None,
        }
    }
}

/// What judging needs besides the two actions.
pub(crate) struct Judge<'r> {
    pub(crate) a: &'r Detail,
    pub(crate) b: &'r Detail,
    pub(crate) sa: &'r LogSummary,
    pub(crate) sb: &'r LogSummary,
    pub(crate) pairing: &'r Pairing,
    /// The report index of each reported pair, by pair index.
    pub(crate) reported: &'r FastMap<u32, u32>,
    pub(crate) strings: &'r mut Interner,
    /// Whether each log records unresolved symlinks among outputs.
    pub(crate) symlinks: (bool, bool),
    /// Different digest functions: files cannot be compared.
    pub(crate) functions: Option<(String, String)>,
    /// Inputs left to expand.
    pub(crate) budget: u64,
    pub(crate) over_budget: u64,
    scratch: (Vec<Input>, Vec<Input>),
    memo: FastMap<(u32, u32, u32, u32), Rc<[InputDiff]>>,
}

/// An input that differs: its path and what each side read.
type InputDiff = (Sym, Option<Input>, Option<Input>);

/// Walk two sorted lists together; `f` gets each key with its items.
pub(crate) fn merge<'x, T, K: Ord + Copy>(
    xs: &'x [T],
    ys: &'x [T],
    key: impl Fn(&T) -> K,
    mut f: impl FnMut(K, Option<&'x T>, Option<&'x T>),
) {
    let (mut i, mut j) = (0, 0);
    loop {
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
fn arguments(st: &Interner, xa: &[Sym], xb: &[Sym]) -> Option<Reason> {
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
            .map(|&s| st.get(s).to_owned())
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
    st: &Interner,
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
                let v = |e: Option<&(Sym, Sym)>| e.map(|e| st.get(e.1).to_owned());
                found.push((st.get(name), make(st.get(name).to_owned(), v(x), v(y))));
            }
        },
    );
    // Symbol order is interning order: sort by name for the report.
    found.sort_by(|x, y| x.0.cmp(y.0));
    out.extend(found.into_iter().map(|(_, r)| r));
}

fn fp_text(fp: Option<u64>) -> Option<String> {
    fp.map(|fp| format!("{fp:016x}"))
}

fn same_file(a: Option<ContentDigest>, b: Option<ContentDigest>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => x.same(&y),
        (None, None) => true,
        (Some(x), None) | (None, Some(x)) => x.is_empty(),
    }
}

impl<'r> Judge<'r> {
    #[expect(clippy::too_many_arguments, reason = "the parts of one comparison")]
    pub(crate) fn new(
        a: &'r Detail,
        b: &'r Detail,
        sa: &'r LogSummary,
        sb: &'r LogSummary,
        pairing: &'r Pairing,
        reported: &'r FastMap<u32, u32>,
        strings: &'r mut Interner,
        budget: u64,
    ) -> Judge<'r> {
        let (fa, fb) = (&sa.notes.hash_function, &sb.notes.hash_function);
        let functions = (!fa.is_empty() && !fb.is_empty() && !fa.eq_ignore_ascii_case(fb))
            .then(|| (fa.clone(), fb.clone()));
        Judge {
            a,
            b,
            sa,
            sb,
            pairing,
            reported,
            strings,
            symlinks: (sa.notes.symlinks_recorded, sb.notes.symlinks_recorded),
            functions,
            budget,
            over_budget: 0,
            scratch: (Vec::new(), Vec::new()),
            memo: FastMap::default(),
        }
    }

    /// The reported pair or one-sided action that wrote the path with this
    /// hash, following symlink actions.
    fn producer_hash(&self, mut h: u64) -> Option<Producer> {
        for _ in 0..32 {
            for (side, s) in [(Side::A, self.sa), (Side::B, self.sb)] {
                if let Some(ord) = s.producer(h) {
                    let of = if side == Side::A {
                        &self.pairing.of_a
                    } else {
                        &self.pairing.of_b
                    };
                    return match of.get(ord as usize).copied() {
                        Some(NONE) => Some(Producer::Only(side, ord)),
                        Some(pair) => self.reported.get(&pair).map(|&r| Producer::Pair(r)),
                        None => None,
                    };
                }
            }
            h = self.sa.alias(h).or_else(|| self.sb.alias(h))?;
        }
        None
    }

    /// Who produced `path`: itself, the exec path of a runfiles path, or a
    /// directory above it (a tree artifact's file).
    pub(crate) fn producer(&self, path: &str) -> Option<Producer> {
        if let Some(p) = self.producer_hash(path_hash(path)) {
            return Some(p);
        }
        for c in runfiles_candidates(path) {
            if let Some(p) = self.producer_hash(path_hash(&c)) {
                return Some(p);
            }
        }
        let mut dir = path;
        while let Some(at) = dir.rfind('/') {
            dir = &dir[..at];
            if let Some(p) = self.producer_hash(path_hash(dir)) {
                return Some(p);
            }
        }
        None
    }

    /// Classify one pair (report index `me`).
    pub(crate) fn judge(&mut self, me: u32, x: &Action, y: &Action) -> Judgement {
        if !(x.full && y.full) {
            return Judgement::identical();
        }
        let (a, b) = (self.a, self.b);
        let mut reasons = Vec::new();
        let buck2 = matches!(x.inputs, Inputs::Unknown);
        let commands = x.has_command && y.has_command;
        if commands {
            reasons.extend(arguments(self.strings, a.args(x), b.args(y)));
            pairs_differ(
                self.strings,
                a.env(x),
                b.env(y),
                |name, a, b| Reason::Environment { name, a, b },
                &mut reasons,
            );
        }
        pairs_differ(
            self.strings,
            a.platform(x),
            b.platform(y),
            |name, a, b| Reason::Platform { name, a, b },
            &mut reasons,
        );
        if x.run.timeout_millis != y.run.timeout_millis {
            reasons.push(Reason::Timeout {
                a: x.run.timeout_millis,
                b: y.run.timeout_millis,
            });
        }
        let mut upstream = Vec::new();
        let mut outputs = Vec::new();
        if let Some((fa, fb)) = &self.functions {
            reasons.push(Reason::DigestFunction {
                a: fa.clone(),
                b: fb.clone(),
            });
        } else if !buck2 {
            if self.inputs(me, x, y, &mut reasons, &mut upstream) {
                outputs = self.outputs(a.outputs(x), b.outputs(y));
            } else {
                reasons.push(Reason::InputsNotCompared);
                self.over_budget += 1;
            }
        }
        let failure = match (x.run.failed(), y.run.failed()) {
            (true, false) => Some(Failure {
                side: Some(Side::A),
            }),
            (false, true) => Some(Failure {
                side: Some(Side::B),
            }),
            (true, true)
                if (x.run.status.map(|s| self.strings.get(s)), x.run.exit_code)
                    != (y.run.status.map(|s| self.strings.get(s)), y.run.exit_code) =>
            {
                Some(Failure { side: None })
            }
            _ => None,
        };
        let keys_differ = matches!((x.digest, y.digest), (Some(p), Some(q)) if p != q);
        let comparable = !buck2 || commands || (x.digest.is_some() && y.digest.is_some());
        let class = if failure.is_some() {
            Class::Failed
        } else if reasons.iter().any(|r| *r != Reason::InputsNotCompared) {
            Class::NonHermetic
        } else if !upstream.is_empty() {
            Class::Tainted
        } else if !reasons.is_empty() {
            Class::Unexplained
        } else if keys_differ {
            let (p, q) = (x.digest.expect("matched"), y.digest.expect("matched"));
            reasons.push(Reason::ActionKey {
                a: p.to_string(),
                b: q.to_string(),
            });
            Class::Unexplained
        } else if !comparable {
            Class::NotCompared
        } else if !outputs.is_empty() {
            Class::NonDeterministic
        } else {
            Class::Identical
        };
        upstream.sort_unstable();
        upstream.dedup_by_key(|t| (t.producer, t.path));
        Judgement {
            class,
            reasons,
            upstream,
            outputs,
            failure,
        }
    }

    /// The inputs that differ between `x` and `y`; `None` when the
    /// expansion budget ran out. Pairs of the same input sets (many spawns
    /// share theirs) are expanded once.
    fn input_diff(&mut self, x: &Action, y: &Action) -> Option<Rc<[InputDiff]>> {
        let key = match (&x.inputs, &y.inputs) {
            (
                Inputs::Sets {
                    input_set: a,
                    tool_set: b,
                },
                Inputs::Sets {
                    input_set: c,
                    tool_set: d,
                },
            ) => Some((*a, *b, *c, *d)),
            _ => None,
        };
        if let Some(hit) = key.and_then(|k| self.memo.get(&k)) {
            return Some(Rc::clone(hit));
        }
        let (mut ia, mut ib) = std::mem::take(&mut self.scratch);
        let mut local = self.budget.min(EXPAND_PER_ACTION);
        let before = local;
        let ok = self.a.expand(x, self.strings, &mut local, &mut ia)
            && self.b.expand(y, self.strings, &mut local, &mut ib);
        self.budget -= before - local;
        let result = ok.then(|| {
            let mut differing: Vec<(Sym, Option<&Input>, Option<&Input>)> = Vec::new();
            let (mut only_a, mut only_b) = (Vec::new(), Vec::new());
            merge(
                &ia,
                &ib,
                |i| i.path,
                |path, p, q| match (p, q) {
                    (Some(p), Some(q)) if p.fp != q.fp => differing.push((path, Some(p), Some(q))),
                    (Some(p), None) => only_a.push(p),
                    (None, Some(q)) => only_b.push(q),
                    _ => {}
                },
            );
            self.match_runfiles(&mut only_a, &mut only_b, &mut differing);
            differing.extend(only_a.into_iter().map(|p| (p.path, Some(p), None)));
            differing.extend(only_b.into_iter().map(|q| (q.path, None, Some(q))));
            differing
                .into_iter()
                .map(|(path, p, q)| (path, p.copied(), q.copied()))
                .collect::<Rc<[InputDiff]>>()
        });
        self.scratch = (ia, ib);
        if let (Some(k), Some(r)) = (key, &result) {
            self.memo.insert(k, Rc::clone(r));
        }
        result
    }

    /// Compare inputs; false when the expansion budget ran out.
    fn inputs(
        &mut self,
        me: u32,
        x: &Action,
        y: &Action,
        reasons: &mut Vec<Reason>,
        upstream: &mut Vec<Tainted>,
    ) -> bool {
        let Some(differing) = self.input_diff(x, y) else {
            return false;
        };
        let mut named: Vec<(String, Reason)> = Vec::new();
        for &(path, p, q) in differing.iter() {
            let text = self.strings.get(path).to_owned();
            match self.producer(&text) {
                Some(prod) if prod != Producer::Pair(me) => upstream.push(Tainted {
                    producer: prod,
                    path,
                    a: p.map(|i| i.fp),
                    b: q.map(|i| i.fp),
                }),
                _ => named.push((
                    text.clone(),
                    Reason::Input {
                        path: text,
                        tool: p.or(q).is_some_and(|i| i.tool),
                        a: fp_text(p.map(|i| i.fp)),
                        b: fp_text(q.map(|i| i.fp)),
                    },
                )),
            }
        }
        named.sort_by(|p, q| p.0.cmp(&q.0));
        reasons.extend(named.into_iter().map(|(_, r)| r));
        true
    }

    /// Current Bazel names runfiles inputs by their place in the runfiles
    /// tree, Bazel 4 and compact logs by exec path: pair the two names of
    /// one file. The pair keeps the exec path.
    fn match_runfiles<'i>(
        &self,
        only_a: &mut Vec<&'i Input>,
        only_b: &mut Vec<&'i Input>,
        differing: &mut Vec<(Sym, Option<&'i Input>, Option<&'i Input>)>,
    ) {
        self.pair_off(only_a, only_b, true, differing);
        self.pair_off(only_b, only_a, false, differing);
    }

    fn pair_off<'i>(
        &self,
        runfiles: &mut Vec<&'i Input>,
        exec: &mut Vec<&'i Input>,
        runfiles_in_a: bool,
        differing: &mut Vec<(Sym, Option<&'i Input>, Option<&'i Input>)>,
    ) {
        let mut k = 0;
        while k < runfiles.len() && !exec.is_empty() {
            let r = runfiles[k];
            let hit = runfiles_candidates(self.strings.get(r.path))
                .iter()
                .find_map(|c| {
                    let sym = self.strings.find(c)?;
                    exec.iter().position(|e| e.path == sym)
                });
            let Some(at) = hit else {
                k += 1;
                continue;
            };
            let e = exec.swap_remove(at);
            runfiles.swap_remove(k);
            if r.fp != e.fp {
                let (p, q) = if runfiles_in_a { (r, e) } else { (e, r) };
                differing.push((e.path, Some(p), Some(q)));
            }
        }
    }

    /// Differing outputs. An output one log cannot record (an unresolved
    /// symlink in a Bazel 4 log) is not a difference.
    fn outputs(&self, oa: &[Output], ob: &[Output]) -> Vec<OutDiff> {
        let mut out = Vec::new();
        let (links_a, links_b) = self.symlinks;
        merge(
            oa,
            ob,
            |o| o.path,
            |path, p, q| {
                let (sa, sb) = (p.map(|o| o.state), q.map(|o| o.state));
                let missing = |s: Option<OutState>| matches!(s, None | Some(OutState::Missing));
                let link = |s: Option<OutState>| matches!(s, Some(OutState::Symlink { .. }));
                let equal = match (sa, sb) {
                    (Some(OutState::File(x)), Some(OutState::File(y))) => same_file(x, y),
                    (
                        Some(OutState::Symlink { fp: x, .. }),
                        Some(OutState::Symlink { fp: y, .. }),
                    ) => x == y,
                    (Some(OutState::Dir), Some(OutState::Dir)) => true,
                    (x, y) if missing(x) && missing(y) => true,
                    (x, y) if missing(x) && link(y) && !links_a => true,
                    (x, y) if link(x) && missing(y) && !links_b => true,
                    _ => false,
                };
                if !equal {
                    let side = |s: Option<OutState>| s.map_or(OutSide::Absent, OutSide::State);
                    out.push(OutDiff {
                        path,
                        a: side(sa),
                        b: side(sb),
                    });
                }
            },
        );
        out.sort_by(|p, q| self.strings.get(p.path).cmp(self.strings.get(q.path)));
        out
    }
}

/// An action whose outputs the log does not list (Bazel 4 leaves dangling
/// symlinks out) but whose consumers read different content from it is
/// non-deterministic: the consumers' inputs are the evidence.
pub(crate) fn infer_unlisted(verdicts: &mut [Judgement]) {
    let mut found: Vec<(u32, OutDiff)> = Vec::new();
    for v in verdicts.iter() {
        for t in &v.upstream {
            if let Producer::Pair(u) = t.producer
                && verdicts[u as usize].class == Class::Identical
            {
                found.push((
                    u,
                    OutDiff {
                        path: t.path,
                        a: t.a.map_or(OutSide::Absent, OutSide::Seen),
                        b: t.b.map_or(OutSide::Absent, OutSide::Seen),
                    },
                ));
            }
        }
    }
    for (u, d) in found {
        let v = &mut verdicts[u as usize];
        v.class = Class::NonDeterministic;
        if !v.outputs.iter().any(|o| o.path == d.path) {
            v.outputs.push(d);
        }
    }
}

/// The taint graph over reported pairs: an edge from each upstream pair to
/// each tainted pair that consumed its differing outputs.
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
    pub(crate) fn new(verdicts: &[Judgement]) -> TaintGraph {
        let pairs = verdicts.len();
        let mut list: Vec<(u32, u32)> = Vec::new();
        for (d, v) in verdicts.iter().enumerate() {
            if v.class != Class::Tainted {
                continue;
            }
            for t in &v.upstream {
                if let Producer::Pair(u) = t.producer {
                    list.push((u, d as u32));
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

    pub(crate) fn next(&self, u: u32) -> &[u32] {
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

    #[test]
    fn taint_counts_are_transitive_and_chains_follow_the_longest_path() {
        // r → t1 → t2 → t3, and r → t4: four tainted, chain of four.
        let mut verdicts: Vec<Judgement> = (0..5)
            .map(|_| Judgement {
                class: Class::Tainted,
                ..Judgement::identical()
            })
            .collect();
        verdicts[0].class = Class::NonDeterministic;
        for (d, u) in [(1, 0), (2, 1), (3, 2), (4, 0)] {
            verdicts[d].upstream.push(Tainted {
                producer: Producer::Pair(u),
                path: Sym(0),
                a: None,
                b: None,
            });
        }
        let g = TaintGraph::new(&verdicts);
        let (mut stamp, mut parent) = (vec![u32::MAX; 5], vec![0; 5]);
        let r = g.reach(0, &mut stamp, 0, &mut parent, true);
        assert_eq!((r.tainted, r.direct), (4, 2));
        assert_eq!(r.chain, [0, 1, 2, 3]);
        let r = g.reach(2, &mut stamp, 1, &mut parent, true);
        assert_eq!((r.tainted, r.direct, r.chain), (1, 1, vec![2, 3]));
    }

    #[test]
    fn an_unlisted_output_read_differently_makes_its_producer_a_root() {
        let mut v = vec![Judgement::identical(), Judgement::identical()];
        v[1].class = Class::Tainted;
        v[1].upstream.push(Tainted {
            producer: Producer::Pair(0),
            path: Sym(3),
            a: Some(1),
            b: Some(2),
        });
        infer_unlisted(&mut v);
        assert_eq!(v[0].class, Class::NonDeterministic);
        assert_eq!(v[0].outputs[0].a, OutSide::Seen(1));
    }
}
