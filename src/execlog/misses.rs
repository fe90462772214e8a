//! `--explain-misses B [--baseline A]`: for every action of build B that
//! executed instead of coming from the cache, why. With a baseline, by the
//! pair's classification: its inputs changed because of an upstream root
//! (named), its own key changed (the argument, variable or input named),
//! the key did not change and it still missed (an evicted or never
//! uploaded cache entry), it may not be cached, it failed, or it is new.
//! Without one, by the build's own graph: which executed actions fed it.

use std::collections::BTreeMap;

use super::analyze::{EXPAND_BUDGET, EXPAND_PER_ACTION};
use super::assemble::name;
use super::judge::{Judgement, Producer};
use super::model::{Action, Detail, FastMap, Inputs as ActionInputs, Interner};
use super::pair::{NONE, Pairing};
use super::report::{ActionRef, Class, Miss, MissReport, MissRoot, MissWhy, NameCount};
use super::summary::{LogSummary, flag, path_hash};
use super::view::runfiles_candidates;
use crate::finding::Side;

pub(crate) struct Inputs<'r> {
    pub(crate) da: &'r Detail,
    pub(crate) db: &'r Detail,
    pub(crate) sb: &'r LogSummary,
    pub(crate) pairing: &'r Pairing,
    pub(crate) reported: &'r FastMap<u32, u32>,
    pub(crate) names: &'r [ActionRef],
    pub(crate) verdicts: &'r [Judgement],
    pub(crate) baseline: bool,
}

/// A root behind misses: a reported pair, or an action of one build only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum RootId {
    Pair(u32),
    Only(Side, u32),
    /// Without a baseline: an executed action of B, by ordinal.
    Executed(u32),
}

fn not_cacheable(a: &Action) -> Option<MissWhy> {
    // Buck2 logs do not say; Bazel's flags reflect the no-cache,
    // no-remote-cache and no-remote tags.
    if matches!(a.inputs, ActionInputs::Unknown) || a.run.cacheable && a.run.remote_cacheable {
        return None;
    }
    Some(MissWhy::NotCacheable {
        cacheable: a.run.cacheable,
        remote_cacheable: a.run.remote_cacheable,
        remotable: a.run.remotable,
    })
}

fn failed(st: &Interner, a: &Action) -> Option<MissWhy> {
    a.run.failed().then(|| MissWhy::Failed {
        status: a.run.status.map(|s| st.get(s).to_owned()),
        exit_code: a.run.exit_code,
    })
}

/// The report, and how many actions' inputs were not expanded (budget).
pub(crate) fn explain(i: &Inputs<'_>, strings: &mut Interner) -> (MissReport, u64) {
    let mut r = MissReport {
        spawns: i.sb.actions.len() as u64,
        hits: i.sb.count(flag::HIT),
        ..MissReport::default()
    };
    r.executed = r.spawns - r.hits;
    let mut misses: Vec<(Miss, Vec<RootId>, u32)> = Vec::new();
    let mut memo: FastMap<u32, Vec<RootId>> = FastMap::default();
    let mut budget = EXPAND_BUDGET;
    let mut over_budget = 0u64;
    let mut scratch = Vec::new();
    for (y, s) in i.sb.actions.iter().enumerate() {
        if s.has(flag::HIT) {
            continue;
        }
        let y = y as u32;
        let action = i.db.action(y);
        let runner = action
            .and_then(|a| a.run.runner)
            .map(|s| strings.get(s).to_owned());
        let early = action.and_then(|a| failed(strings, a).or_else(|| not_cacheable(a)));
        let (action_ref, why, roots) = if i.baseline {
            let p = i.pairing.of_b.get(y as usize).copied().unwrap_or(NONE);
            match (p, i.reported.get(&p)) {
                (NONE, _) | (_, None) => (name(strings, action, None), MissWhy::New, Vec::new()),
                (_, Some(&rep)) => {
                    let v = &i.verdicts[rep as usize];
                    let (why, roots) = match (early, v.class) {
                        (Some(w), _) => (w, Vec::new()),
                        (None, Class::Tainted) => {
                            let roots = roots_of(rep, i.verdicts, &mut memo);
                            let mut paths: Vec<String> = v
                                .upstream
                                .iter()
                                .map(|t| strings.get(t.path).to_owned())
                                .collect();
                            paths.sort();
                            paths.dedup();
                            (
                                MissWhy::Upstream {
                                    roots: Vec::new(),
                                    paths,
                                },
                                roots,
                            )
                        }
                        (None, Class::NonHermetic | Class::Unexplained) => (
                            MissWhy::KeyChanged {
                                reasons: v.reasons.clone(),
                            },
                            Vec::new(),
                        ),
                        (None, _) => (MissWhy::SameKey, Vec::new()),
                    };
                    (i.names[rep as usize].clone(), why, roots)
                }
            }
        } else {
            let why = match (early, action) {
                (Some(w), _) => w,
                (None, Some(a)) => {
                    let Some(up) = executed_upstream(i, a, y, strings, &mut budget, &mut scratch)
                    else {
                        over_budget += 1;
                        misses.push((
                            Miss {
                                action: name(strings, Some(a), None),
                                runner,
                                why: MissWhy::NotInCache,
                            },
                            Vec::new(),
                            y,
                        ));
                        continue;
                    };
                    if up.is_empty() {
                        MissWhy::NotInCache
                    } else {
                        misses.push((
                            Miss {
                                action: name(strings, Some(a), None),
                                runner,
                                why: MissWhy::AfterUpstream {
                                    upstream: up
                                        .iter()
                                        .map(|&z| executed_name(i, z, strings))
                                        .collect(),
                                },
                            },
                            up.into_iter().map(RootId::Executed).collect(),
                            y,
                        ));
                        continue;
                    }
                }
                (None, None) => MissWhy::NotInCache,
            };
            (name(strings, action, None), why, Vec::new())
        };
        misses.push((
            Miss {
                action: action_ref,
                runner,
                why,
            },
            roots,
            y,
        ));
    }
    // Without a baseline the roots are the executed actions at the top of
    // each chain of executed actions.
    if !i.baseline {
        let upstream_of: FastMap<u32, Vec<u32>> = misses
            .iter()
            .filter(|(m, _, _)| matches!(m.why, MissWhy::AfterUpstream { .. }))
            .map(|(_, ids, y)| {
                let up = ids
                    .iter()
                    .filter_map(|r| match r {
                        RootId::Executed(z) => Some(*z),
                        _ => None,
                    })
                    .collect();
                (*y, up)
            })
            .collect();
        for (_, ids, _) in &mut misses {
            let mut tops = Vec::new();
            let mut stack: Vec<u32> = ids
                .iter()
                .filter_map(|r| match r {
                    RootId::Executed(z) => Some(*z),
                    _ => None,
                })
                .collect();
            let mut seen = rustc_hash::FxHashSet::default();
            while let Some(z) = stack.pop() {
                if !seen.insert(z) {
                    continue;
                }
                match upstream_of.get(&z) {
                    Some(up) => stack.extend(up),
                    None => tops.push(RootId::Executed(z)),
                }
            }
            tops.sort();
            *ids = tops;
        }
    }
    // Name the roots, count what they caused.
    let root_name = |id: RootId, strings: &Interner| -> (ActionRef, Option<Class>) {
        match id {
            RootId::Pair(rep) => (
                i.names[rep as usize].clone(),
                Some(i.verdicts[rep as usize].class),
            ),
            RootId::Only(Side::A, x) => (name(strings, i.da.action(x), None), None),
            RootId::Only(Side::B, y) | RootId::Executed(y) => (executed_name(i, y, strings), None),
        }
    };
    let mut by_root: BTreeMap<RootId, u64> = BTreeMap::new();
    let mut nondet = rustc_hash::FxHashSet::default();
    for (m, ids, _) in &mut misses {
        for id in ids.iter() {
            *by_root.entry(*id).or_default() += 1;
        }
        let named: Vec<(ActionRef, Option<Class>)> =
            ids.iter().map(|&id| root_name(id, strings)).collect();
        if let MissWhy::Upstream { roots, .. } = &mut m.why {
            if !named.is_empty() && named.iter().all(|n| n.1 == Some(Class::NonDeterministic)) {
                r.would_have_hit += 1;
                nondet.extend(ids.iter().copied());
            }
            *roots = named.into_iter().map(|n| n.0).collect();
            roots.sort();
        }
    }
    r.nondeterministic_roots = nondet.len() as u64;
    r.by_root = by_root
        .into_iter()
        .map(|(id, n)| {
            let (action, class) = root_name(id, strings);
            MissRoot {
                action,
                class,
                misses: n,
            }
        })
        .collect();
    r.by_root.sort_by(|x, y| {
        y.misses
            .cmp(&x.misses)
            .then_with(|| x.action.cmp(&y.action))
    });
    let mut by_kind: BTreeMap<&'static str, u64> = BTreeMap::new();
    for (m, _, _) in &misses {
        *by_kind.entry(m.why.kind()).or_default() += 1;
    }
    r.by_kind = by_kind
        .into_iter()
        .map(|(name, count)| NameCount {
            name: name.to_owned(),
            count,
        })
        .collect();
    r.by_kind
        .sort_by(|x, y| y.count.cmp(&x.count).then_with(|| x.name.cmp(&y.name)));
    r.misses = misses.into_iter().map(|(m, _, _)| m).collect();
    r.misses
        .sort_by(|x, y| (x.why.kind(), &x.action).cmp(&(y.why.kind(), &y.action)));
    (r, over_budget)
}

/// The roots upstream of reported pair `rep`, through tainted pairs.
fn roots_of(rep: u32, verdicts: &[Judgement], memo: &mut FastMap<u32, Vec<RootId>>) -> Vec<RootId> {
    if let Some(r) = memo.get(&rep) {
        return r.clone();
    }
    let mut out = Vec::new();
    let mut stack = vec![rep];
    let mut seen = rustc_hash::FxHashSet::default();
    while let Some(u) = stack.pop() {
        if !seen.insert(u) {
            continue;
        }
        for t in &verdicts[u as usize].upstream {
            match t.producer {
                Producer::Pair(p) if verdicts[p as usize].class.is_root() => {
                    out.push(RootId::Pair(p))
                }
                Producer::Pair(p) => stack.push(p),
                Producer::Only(side, x) => out.push(RootId::Only(side, x)),
            }
        }
    }
    out.sort();
    out.dedup();
    memo.insert(rep, out.clone());
    out
}

fn executed_name(i: &Inputs<'_>, y: u32, strings: &Interner) -> ActionRef {
    name(strings, i.db.action(y), None)
}

/// The executed actions of B whose outputs `a` (ordinal `y`) read; `None`
/// when the expansion budget ran out.
fn executed_upstream(
    i: &Inputs<'_>,
    a: &Action,
    y: u32,
    strings: &mut Interner,
    budget: &mut u64,
    scratch: &mut Vec<super::model::Input>,
) -> Option<Vec<u32>> {
    let mut local = EXPAND_PER_ACTION.min(*budget);
    let before = local;
    let ok = i.db.expand(a, strings, &mut local, scratch);
    *budget -= before - local;
    if !ok {
        return None;
    }
    let mut up = Vec::new();
    for input in scratch.iter() {
        let path = strings.get(input.path);
        let mut candidates = vec![path.to_owned()];
        candidates.extend(runfiles_candidates(path));
        let mut dir = path;
        while let Some(at) = dir.rfind('/') {
            dir = &dir[..at];
            candidates.push(dir.to_owned());
        }
        for c in candidates {
            let mut h = path_hash(&c);
            let mut found = None;
            for _ in 0..32 {
                if let Some(z) = i.sb.producer(h) {
                    found = Some(z);
                    break;
                }
                match i.sb.alias(h) {
                    Some(next) => h = next,
                    None => break,
                }
            }
            if let Some(z) = found {
                if z != y && !i.sb.actions[z as usize].has(flag::HIT) {
                    up.push(z);
                }
                break;
            }
        }
    }
    up.sort_unstable();
    up.dedup();
    Some(up)
}
