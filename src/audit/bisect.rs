//! `--bisect`: pin the findings no canary explains (or only makes likely) to
//! the variation that triggers them, by rerunning with subsets of the variations (adaptive
//! group testing shared by all findings, not one build per variation).
//!
//! 1. A control rerun with nothing varied: what still differs from run A is
//!    inherent (randomness or scheduling inside the build).
//! 2. Findings are grouped by their candidate variations. Each round runs
//!    one build varying the first half of every group's candidates (the
//!    groups' candidates are disjoint, so one build tests them all) and
//!    splits each group by which findings reappeared: ⌈log2 N⌉ builds for N
//!    variations, however many findings.
//! 3. One confirming build varies every pinned variation together; a
//!    finding that does not reappear needs two variations at once, and a
//!    prefix search finds the pair.

use std::collections::{BTreeMap, BTreeSet};

use super::error::AuditError;
use crate::finding::{AttributedBy, Attribution, Cause, Finding, Location, Variation};
use crate::report::BisectInfo;

/// Builds varying a set of variations and compares each with run A: the
/// findings, or `None` when that build failed (its subset tells nothing).
pub(super) type Probe<'p> =
    dyn FnMut(&BTreeSet<Variation>, usize) -> Result<Option<Vec<Finding>>, AuditError> + 'p;

struct Prober<'a, 'p> {
    probe: &'a mut Probe<'p>,
    budget: usize,
    /// Findings of each varied set against run A; `None`: that build failed.
    cache: BTreeMap<BTreeSet<Variation>, Option<Vec<Finding>>>,
    builds: usize,
}

impl Prober<'_, '_> {
    /// The findings of a build varying `set`, against run A. `None` when the
    /// build failed or the budget is spent.
    fn probe(&mut self, set: &BTreeSet<Variation>) -> Result<Option<&[Finding]>, AuditError> {
        if !self.cache.contains_key(set) {
            if self.builds >= self.budget {
                return Ok(None);
            }
            self.builds += 1;
            let result = (self.probe)(set, self.builds)?;
            self.cache.insert(set.clone(), result);
        }
        Ok(self.cache.get(set).and_then(|r| r.as_deref()))
    }
}

/// Does `g` (from a rerun) show the same difference as `f`? Same artifact,
/// and the same place in run A's file (runs share run A as side A).
fn same_place(f: &Finding, g: &Finding) -> bool {
    if f.artifact != g.artifact {
        return false;
    }
    let overlap = |x: (u64, u64), y: (u64, u64)| x.0 < y.0 + y.1.max(1) && y.0 < x.0 + x.1.max(1);
    match (&f.location, &g.location) {
        (Location::Lines { a: x, .. }, Location::Lines { a: y, .. }) => {
            overlap((x.start, x.count), (y.start, y.count))
        }
        (Location::Bytes { a: x, .. }, Location::Bytes { a: y, .. }) => {
            overlap((x.at, x.len), (y.at, y.len))
        }
        (Location::Field { path: x, .. }, Location::Field { path: y, .. }) => x == y,
        (x, y) => x == y,
    }
}

fn present(f: &Finding, results: &[Finding]) -> bool {
    results.iter().any(|g| same_place(f, g))
}

/// Pin the open findings of run A against a run that varied `varied`.
/// `probe` runs and compares one more build; at most `budget` are run.
pub(super) fn run(
    varied: &BTreeSet<Variation>,
    budget: usize,
    probe: &mut Probe<'_>,
    findings: &mut [Finding],
) -> Result<BisectInfo, AuditError> {
    let targets: Vec<usize> = findings
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            // Unattributed, or only `likely`: reruns can prove it.
            let open = f
                .variation
                .as_ref()
                .is_none_or(|v| v.by == AttributedBy::Likely);
            open && !matches!(f.cause, Cause::Consequence { .. })
        })
        .map(|(i, _)| i)
        .collect();
    let mut info = BisectInfo::default();
    if targets.is_empty() {
        return Ok(info);
    }
    let all: Vec<Variation> = varied.iter().copied().collect();
    let mut p = Prober {
        probe,
        budget,
        cache: BTreeMap::new(),
        builds: 0,
    };
    // The full set reproduces every target by definition.
    p.cache.insert(varied.clone(), Some(findings.to_vec()));
    let mut result: BTreeMap<usize, Attribution> = BTreeMap::new();

    // 1. Nothing varied.
    let mut remaining = Vec::new();
    match p.probe(&BTreeSet::new())? {
        Some(control) => {
            for &i in &targets {
                if present(&findings[i], control) {
                    result.insert(i, Attribution::inherent());
                } else {
                    remaining.push(i);
                }
            }
        }
        None => remaining = targets.clone(),
    }

    // 2. Split candidate sets, all groups in one build per round.
    let mut groups: BTreeMap<Vec<Variation>, Vec<usize>> = BTreeMap::new();
    if !remaining.is_empty() && !all.is_empty() {
        groups.insert(all.clone(), remaining.clone());
    }
    loop {
        let splitting: Vec<&Vec<Variation>> = groups.keys().filter(|c| c.len() > 1).collect();
        if splitting.is_empty() {
            break;
        }
        let set: BTreeSet<Variation> = splitting
            .iter()
            .flat_map(|c| c[..c.len().div_ceil(2)].iter().copied())
            .collect();
        let Some(results) = p.probe(&set)? else { break };
        let mut next: BTreeMap<Vec<Variation>, Vec<usize>> = BTreeMap::new();
        for (cands, members) in &groups {
            if cands.len() <= 1 {
                next.entry(cands.clone()).or_default().extend(members);
                continue;
            }
            let (h1, h2) = cands.split_at(cands.len().div_ceil(2));
            for &m in members {
                let half = if present(&findings[m], results) {
                    h1
                } else {
                    h2
                };
                next.entry(half.to_vec()).or_default().push(m);
            }
        }
        groups = next;
    }

    // 3. Confirm the singletons together; search pairs for the rest.
    let singles: BTreeSet<Variation> = groups
        .keys()
        .filter(|c| c.len() == 1)
        .flat_map(|c| c.iter().copied())
        .collect();
    let confirmed: Vec<(usize, Variation)> = match p.probe(&singles)? {
        Some(results) if !singles.is_empty() => groups
            .iter()
            .filter(|(c, _)| c.len() == 1)
            .flat_map(|(c, ms)| ms.iter().map(move |&m| (m, c[0])))
            .filter(|&(m, _)| present(&findings[m], results))
            .collect(),
        _ => Vec::new(),
    };
    for &(m, v) in &confirmed {
        result.insert(m, Attribution::one(v, AttributedBy::Bisect));
    }
    for &m in &remaining {
        if result.contains_key(&m) {
            continue;
        }
        if let Some(pair) = pair_search(&mut p, &all, &findings[m])? {
            result.insert(
                m,
                Attribution {
                    variations: pair,
                    by: AttributedBy::Bisect,
                },
            );
        }
    }

    info.builds = p.builds;
    for &i in &targets {
        match result.remove(&i) {
            Some(attr) => {
                if attr.by == AttributedBy::Inherent {
                    info.inherent += 1;
                } else {
                    info.pinned += 1;
                }
                findings[i].variation = Some(attr);
            }
            // A `likely` attribution stands when reruns cannot improve it.
            None if findings[i].variation.is_some() => {}
            None => info.unresolved += 1,
        }
    }
    Ok(info)
}

/// The smallest prefix of `all` that reproduces `f` ends with one trigger;
/// the smallest prefix that reproduces it together with that one ends with
/// the other. Returns one or two variations, or `None` when the budget runs
/// out or builds fail.
fn pair_search(
    p: &mut Prober<'_, '_>,
    all: &[Variation],
    f: &Finding,
) -> Result<Option<Vec<Variation>>, AuditError> {
    let reproduces =
        |p: &mut Prober<'_, '_>, set: BTreeSet<Variation>| -> Result<Option<bool>, AuditError> {
            Ok(p.probe(&set)?.map(|r| present(f, r)))
        };
    // Smallest k with all[..k] reproducing (k = len is known to).
    let (mut lo, mut hi) = (1, all.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        match reproduces(p, all[..mid].iter().copied().collect())? {
            Some(true) => hi = mid,
            Some(false) => lo = mid + 1,
            None => return Ok(None),
        }
    }
    let last = all[lo - 1];
    // Smallest j with all[..j] + last reproducing.
    let (mut lo2, mut hi2) = (0, lo - 1);
    while lo2 < hi2 {
        let mid = (lo2 + hi2) / 2;
        let mut set: BTreeSet<Variation> = all[..mid].iter().copied().collect();
        set.insert(last);
        match reproduces(p, set)? {
            Some(true) => hi2 = mid,
            Some(false) => lo2 = mid + 1,
            None => return Ok(None),
        }
    }
    let mut pair = vec![last];
    if lo2 > 0 {
        pair.insert(0, all[lo2 - 1]);
    }
    // Verify: the pair alone must reproduce it.
    match reproduces(p, pair.iter().copied().collect())? {
        Some(true) => Ok(Some(pair)),
        _ => Ok(None),
    }
}
