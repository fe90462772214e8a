//! What the CI renderers (SARIF, JUnit XML, GitHub annotations, Markdown)
//! share: which findings stand on their own (root findings; consequences
//! fold into the root they follow from), the order of importance in which
//! they are shown when only some fit, where an artifact lives relative to
//! the repository, and what a report is called.
//!
//! Nothing here computes a finding: it indexes and orders the model.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use super::text::one_line;
use super::{BaselineEntry, Problem, Report};
use crate::finding::{Artifact, BaselineState, Cause, Finding, Fingerprint, Text};

/// One report, indexed for the CI renderers.
pub(super) struct Indexed<'r> {
    pub report: &'r Report,
    problem_of: BTreeMap<Fingerprint, usize>,
    fingerprints: BTreeSet<Fingerprint>,
    consequences: BTreeMap<Fingerprint, Vec<&'r Finding>>,
    /// Size of each differing top-level file (the larger side).
    sizes: BTreeMap<&'r Artifact, u64>,
    /// Prepended to artifact paths: where this report's source tree lies
    /// under the sources of all the reports rendered together.
    prefix: Vec<u8>,
}

/// Index every report; artifact paths get the prefixes that make them
/// relative to the common directory of the audited sources.
pub(super) fn index(reports: &[Report]) -> Vec<Indexed<'_>> {
    let prefixes = prefixes(reports);
    reports
        .iter()
        .zip(prefixes)
        .map(|(report, prefix)| {
            let mut problem_of = BTreeMap::new();
            for (i, pr) in report.problems.iter().enumerate() {
                for fp in &pr.members {
                    problem_of.insert(*fp, i);
                }
            }
            let fingerprints: BTreeSet<Fingerprint> =
                report.findings.iter().map(|f| f.fingerprint).collect();
            let mut consequences: BTreeMap<Fingerprint, Vec<&Finding>> = BTreeMap::new();
            for f in &report.findings {
                if let Some(root) = folded_into(f).filter(|r| fingerprints.contains(r)) {
                    consequences.entry(root).or_default().push(f);
                }
            }
            let sizes = report
                .artifacts
                .iter()
                .filter_map(|d| {
                    let size = |x: &Option<crate::diff::FileFacts>| x.as_ref().and_then(|x| x.size);
                    Some((&d.artifact, size(&d.a).max(size(&d.b))?))
                })
                .collect();
            Indexed {
                report,
                problem_of,
                fingerprints,
                consequences,
                sizes,
                prefix,
            }
        })
        .collect()
}

/// The root a consequence folds into, when it has one.
fn folded_into(f: &Finding) -> Option<Fingerprint> {
    match f.cause {
        Cause::Consequence { .. } => f.root,
        _ => None,
    }
}

impl<'r> Indexed<'r> {
    /// The findings that stand on their own, in report order: every root
    /// finding, and the consequences no root was found for.
    pub fn roots(&self) -> impl Iterator<Item = &'r Finding> + '_ {
        self.report
            .findings
            .iter()
            .filter(|f| folded_into(f).is_none_or(|r| !self.fingerprints.contains(&r)))
    }

    /// The consequences folded into a root finding.
    pub fn consequences(&self, root: &Finding) -> &[&'r Finding] {
        self.consequences
            .get(&root.fingerprint)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The problem a root finding belongs to, and its rank (0 = most
    /// expensive).
    pub fn problem(&self, f: &Finding) -> Option<(usize, &'r Problem)> {
        let i = *self.problem_of.get(&f.fingerprint)?;
        self.report.problems.get(i).map(|p| (i, p))
    }

    /// The size of a differing top-level file, where it is known.
    pub fn size(&self, top: &Artifact) -> Option<u64> {
        self.sizes.get(top).copied()
    }

    /// The `twice.toml` target, when one was named.
    pub fn target(&self) -> Option<&'r str> {
        self.report.audit.as_ref().and_then(|a| a.target.as_deref())
    }

    /// What to call the report: its target, else the audited source tree,
    /// else the two compared paths.
    pub fn label(&self) -> String {
        match (&self.report.audit, self.target()) {
            (_, Some(t)) => t.to_owned(),
            (Some(info), None) => info.source.lossy().into_owned(),
            (None, None) => {
                let i = &self.report.envelope.inputs;
                format!("{} vs {}", i.a.lossy(), i.b.lossy())
            }
        }
    }

    /// A short name for grouping (JUnit `classname`): the target, else the
    /// last component of the audited source tree, else the command.
    pub fn group(&self) -> String {
        if let Some(t) = self.target() {
            return t.to_owned();
        }
        match &self.report.audit {
            Some(info) => {
                let comps = components(&info.source.0);
                match comps.last() {
                    Some(last) => Text::new(*last).lossy().into_owned(),
                    None => "twice".to_owned(),
                }
            }
            None => self.report.envelope.command.name().to_owned(),
        }
    }

    /// The repository-relative path (raw bytes) of a top-level artifact
    /// path, relative to this report's source tree.
    pub fn path(&self, rel: &[u8]) -> Vec<u8> {
        let mut p = self.prefix.clone();
        p.extend_from_slice(rel.strip_prefix(b"./").unwrap_or(rel));
        p
    }

    /// The repository-relative name of a finding's artifact, members and
    /// all (`lib/libdemo.a!add.o`), for humans.
    pub fn name_of(&self, f: &Finding) -> String {
        Text::new(self.path(&f.artifact.joined()))
            .lossy()
            .into_owned()
    }

    /// The repository-relative path of the top-level file an artifact is
    /// or is inside of, for humans.
    pub fn path_of(&self, f: &Finding) -> String {
        Text::new(self.path(&f.artifact.first().0))
            .lossy()
            .into_owned()
    }

    /// Fixed entries: accepted findings of this report's target that no
    /// longer occur.
    pub fn fixed(&self) -> &'r [BaselineEntry] {
        self.report
            .baseline
            .as_ref()
            .map(|b| b.fixed.as_slice())
            .unwrap_or(&[])
    }
}

/// A finding's standing against the baseline: without a baseline every
/// finding counts as new (it fails the gate).
pub(super) fn is_known(f: &Finding) -> bool {
    f.baseline == Some(BaselineState::Known)
}

/// The top-level path of a baseline entry's artifact (`outer!member`).
pub(super) fn entry_top(entry: &BaselineEntry) -> &str {
    entry
        .artifact
        .split_once('!')
        .map_or(entry.artifact.as_str(), |(top, _)| top)
}

/// One root finding of one report, with its problem.
pub(super) struct Item<'i, 'r> {
    pub at: &'i Indexed<'r>,
    pub finding: &'r Finding,
    pub problem: Option<(usize, &'r Problem)>,
}

/// Every root finding of every report, most important first: new before
/// known; then breadth before depth (the first finding of each problem,
/// then the second of each, …) so a short list names as many problems as
/// it can; within a round, the problems that change the most files and
/// bytes first; then report order.
pub(super) fn ranked<'i, 'r>(reports: &'i [Indexed<'r>]) -> Vec<Item<'i, 'r>> {
    let mut items: Vec<(RankKey, Item<'i, 'r>)> = Vec::new();
    for (ri, at) in reports.iter().enumerate() {
        let mut seen: BTreeMap<(bool, Option<usize>), usize> = BTreeMap::new();
        for (fi, f) in at.roots().enumerate() {
            let problem = at.problem(f);
            let known = is_known(f);
            let round = seen.entry((known, problem.map(|p| p.0))).or_default();
            let cost = problem.map_or((Reverse(0), Reverse(0)), |(_, p)| {
                (Reverse(p.files), Reverse(p.bytes))
            });
            let key = (
                known,
                *round,
                cost,
                ri,
                problem.map_or(usize::MAX, |p| p.0),
                fi,
            );
            *round += 1;
            items.push((
                key,
                Item {
                    at,
                    finding: f,
                    problem,
                },
            ));
        }
    }
    items.sort_by_key(|(key, _)| *key);
    items.into_iter().map(|(_, item)| item).collect()
}

type RankKey = (
    bool,
    usize,
    (Reverse<u64>, Reverse<u64>),
    usize,
    usize,
    usize,
);

/// A finding on one line: place, cause, and the change where it reads
/// well on one line (`line 3: build path: /a → /b`).
pub(super) fn describe(f: &Finding) -> String {
    let change = match (one_line(&f.a), one_line(&f.b)) {
        (Some(a), Some(b)) => format!(": {a} → {b}"),
        _ => String::new(),
    };
    format!("{}: {}{change}", f.location, f.cause)
}

/// The artifact and the finding on one line.
pub(super) fn describe_at(f: &Finding) -> String {
    format!("{}, {}", f.artifact, describe(f))
}

/// `1 consequence follows from it` / `N consequences follow from it`.
pub(super) fn follow(n: usize) -> String {
    if n == 1 {
        "1 consequence follows from it".to_owned()
    } else {
        format!("{n} consequences follow from it")
    }
}

/// `n thing`/`n things`.
pub(super) fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The path components of `p`, without empty and `.` ones.
fn components(p: &[u8]) -> Vec<&[u8]> {
    p.split(|&c| c == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect()
}

/// Per report, the path of its source tree relative to the deepest
/// directory all the reports' sources share (`lib/` for `lib` beside `.`).
/// Empty for a single report, for diffs, and when absolute and relative
/// sources are mixed (then paths stay relative to each source tree).
fn prefixes(reports: &[Report]) -> Vec<Vec<u8>> {
    let sources: Option<Vec<&[u8]>> = reports
        .iter()
        .map(|r| r.audit.as_ref().map(|a| a.source.0.as_slice()))
        .collect();
    let none = vec![Vec::new(); reports.len()];
    let Some(sources) = sources.filter(|s| s.len() > 1) else {
        return none;
    };
    let absolute = sources.first().is_some_and(|s| s.starts_with(b"/"));
    if sources.iter().any(|s| s.starts_with(b"/") != absolute) {
        return none;
    }
    let comps: Vec<Vec<&[u8]>> = sources.iter().map(|s| components(s)).collect();
    let shared = comps
        .iter()
        .map(|c| {
            let first = comps.first().expect("more than one report");
            c.iter().zip(first).take_while(|(x, y)| x == y).count()
        })
        .min()
        .unwrap_or(0);
    comps
        .iter()
        .map(|c| {
            let mut p = Vec::new();
            for comp in c.iter().skip(shared) {
                p.extend_from_slice(comp);
                p.push(b'/');
            }
            p
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_skip_dots_and_empty_parts() {
        assert_eq!(components(b"./a//b/./c/"), vec![&b"a"[..], b"b", b"c"]);
        assert!(components(b".").is_empty());
    }
}
