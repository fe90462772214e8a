//! The report assembled from the classified pairs: summary counts, the
//! roots ranked by what they tainted, one delta per differing action, and
//! the structural diff of fetched outputs.

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;

use super::buck2;
use super::judge::{self, Judgement, OutDiff, OutSide, Producer, TaintGraph};
use super::model::{Action, Detail, Interner, OutState, Sym};
use super::pair::Pairing;
use super::report::{
    ActionDelta, ActionRef, Class, ExeclogSummary, OutputComparison, OutputDelta, ReasonCount,
    Root, RunInfo, Upstream,
};
use crate::diff::{DiffOptions, diff_paths};
use crate::finding::{Side, Text};
use crate::report::{CommandKind, Inputs, Report};

/// The name of an action: target, mnemonic, the output that names it best.
/// A's, completed by B's where A's log does not say.
pub(crate) fn name(st: &Interner, x: Option<&Action>, y: Option<&Action>) -> ActionRef {
    let label = x.and_then(|x| x.label).or_else(|| y.and_then(|y| y.label));
    let primary = x
        .and_then(|x| x.primary)
        .or_else(|| y.and_then(|y| y.primary));
    let mnemonic = x.or(y).map_or("", |a| st.get(a.mnemonic));
    ActionRef {
        label: label.map(|l| st.get(l).to_owned()),
        mnemonic: mnemonic.to_owned(),
        primary_output: primary.map(|p| st.get(p).to_owned()),
    }
}

pub(crate) fn run_info(st: &Interner, a: Option<&Action>) -> RunInfo {
    let Some(a) = a else {
        return RunInfo::default();
    };
    let s = |x: Option<Sym>| x.map(|x| st.get(x).to_owned());
    RunInfo {
        runner: s(a.run.runner),
        cache_hit: a.run.hit,
        status: s(a.run.status),
        exit_code: a.run.exit_code,
        duration: s(a.run.duration),
        std_err: s(a.run.std_err),
        scheduling_mode: s(a.run.scheduling_mode),
    }
}

/// The reported pairs, classified: what the report is made of.
pub(crate) struct Analysis<'r> {
    pub(crate) strings: &'r Interner,
    pub(crate) da: &'r Detail,
    pub(crate) db: &'r Detail,
    pub(crate) pairing: &'r Pairing,
    /// Reported pairs (pair indices), in name order.
    pub(crate) rep: &'r [u32],
    pub(crate) names: &'r [ActionRef],
    pub(crate) verdicts: &'r [Judgement],
    /// Buck2 logs: runners by their report names.
    pub(crate) buck2: bool,
}

impl Analysis<'_> {
    fn runner(&self, r: &RunInfo) -> String {
        let name = r.runner.as_deref().unwrap_or_default();
        if self.buck2 {
            buck2::runner_name(name).to_owned()
        } else {
            name.to_owned()
        }
    }

    pub(crate) fn only_name(&self, side: Side, i: u32) -> ActionRef {
        let a = if side == Side::A {
            self.da.action(i)
        } else {
            self.db.action(i)
        };
        name(self.strings, a, None)
    }

    pub(crate) fn summary(&self) -> ExeclogSummary {
        let mut summary = ExeclogSummary {
            paired: self.pairing.pairs.len() as u64,
            only_a: self.pairing.only_a.len() as u64,
            only_b: self.pairing.only_b.len() as u64,
            ..ExeclogSummary::default()
        };
        let mut by_reason: BTreeMap<(&str, Option<&str>), u64> = BTreeMap::new();
        let mut differing = 0;
        for v in self.verdicts {
            if v.class != Class::Failed {
                for r in &v.reasons {
                    *by_reason.entry(r.key()).or_default() += 1;
                }
            }
            let slot = match v.class {
                Class::Identical => continue,
                Class::NonDeterministic => &mut summary.non_deterministic,
                Class::NonHermetic => &mut summary.non_hermetic,
                Class::Tainted => &mut summary.tainted,
                Class::Unexplained => &mut summary.unexplained,
                Class::Failed => &mut summary.failed,
                Class::NotCompared => &mut summary.not_compared,
            };
            *slot += 1;
            differing += 1;
        }
        summary.identical = summary.paired - differing;
        summary.by_reason = by_reason
            .into_iter()
            .map(|((kind, name), actions)| ReasonCount {
                kind,
                name: name.map(str::to_owned),
                actions,
            })
            .collect();
        // Stable: ties stay in kind and name order.
        summary
            .by_reason
            .sort_by_key(|c| std::cmp::Reverse(c.actions));
        summary
    }

    /// The roots, worst first; the `top` worst with their taint chains.
    pub(crate) fn roots(&self, top: usize) -> Vec<Root> {
        let verdicts = self.verdicts;
        let graph = TaintGraph::new(verdicts);
        let mut stamp = vec![u32::MAX; verdicts.len()];
        let mut parent = vec![0u32; verdicts.len()];
        // Count first (cheap), chains for the worst only.
        let mut ranked: Vec<(u32, judge::Reach)> = (0..verdicts.len() as u32)
            .filter(|&i| verdicts[i as usize].class.is_root())
            .enumerate()
            .map(|(n, r)| (r, graph.reach(r, &mut stamp, n as u32, &mut parent, false)))
            .collect();
        // Reported pairs are in name order, so the index breaks ties by name.
        let class = |i: u32| verdicts[i as usize].class;
        ranked.sort_by(|x, y| (y.1.tainted, class(x.0), x.0).cmp(&(x.1.tainted, class(y.0), y.0)));
        let base = ranked.len() as u32;
        ranked
            .iter()
            .enumerate()
            .map(|(n, (r, reach))| {
                let chain = if n < top && reach.tainted > 0 {
                    graph
                        .reach(*r, &mut stamp, base + n as u32, &mut parent, true)
                        .chain
                        .iter()
                        .map(|&i| self.names[i as usize].clone())
                        .collect()
                } else {
                    Vec::new()
                };
                Root {
                    action: self.names[*r as usize].clone(),
                    class: class(*r),
                    tainted: reach.tainted,
                    direct: reach.direct,
                    chain,
                }
            })
            .collect()
    }

    fn producer_name(&self, p: Producer) -> (ActionRef, Option<Side>) {
        match p {
            Producer::Pair(r) => (self.names[r as usize].clone(), None),
            Producer::Only(side, i) => (self.only_name(side, i), Some(side)),
        }
    }

    fn output_side(&self, s: OutSide) -> (Option<String>, Option<String>) {
        match s {
            OutSide::State(OutState::File(Some(d))) => (Some(d.to_string()), None),
            OutSide::State(OutState::File(None)) => (Some("empty/0".to_owned()), None),
            OutSide::State(OutState::Symlink { target, .. }) => {
                (None, Some(self.strings.get(target).to_owned()))
            }
            OutSide::State(OutState::Dir | OutState::Missing) | OutSide::Absent => (None, None),
            OutSide::Seen(fp) => (Some(format!("{fp:016x}")), None),
        }
    }

    fn output_delta(&self, o: &OutDiff) -> OutputDelta {
        let (a, symlink_a) = self.output_side(o.a);
        let (b, symlink_b) = self.output_side(o.b);
        OutputDelta {
            path: self.strings.get(o.path).to_owned(),
            a,
            b,
            symlink_a,
            symlink_b,
            inferred: matches!(o.a, OutSide::Seen(_)) || matches!(o.b, OutSide::Seen(_)),
            comparison: None,
        }
    }

    /// Every reported pair that is not identical: roots first, by class,
    /// then by name.
    pub(crate) fn deltas(&self) -> Vec<ActionDelta> {
        let mut actions: Vec<ActionDelta> = self
            .verdicts
            .iter()
            .enumerate()
            .filter(|(_, v)| v.class != Class::Identical)
            .map(|(r, v)| {
                let (x, y) = self.pairing.pairs[self.rep[r] as usize];
                let (xa, yb) = (self.da.action(x), self.db.action(y));
                let mut tainted_by: Vec<Upstream> = Vec::new();
                for t in &v.upstream {
                    let path = self.strings.get(t.path).to_owned();
                    let (action, only) = self.producer_name(t.producer);
                    match tainted_by
                        .iter_mut()
                        .find(|u| u.action == action && u.only == only)
                    {
                        Some(u) => u.paths.push(path),
                        None => tainted_by.push(Upstream {
                            action,
                            only,
                            paths: vec![path],
                        }),
                    }
                }
                for u in &mut tainted_by {
                    u.paths.sort();
                }
                tainted_by.sort();
                let (run_a, run_b) = (run_info(self.strings, xa), run_info(self.strings, yb));
                ActionDelta {
                    action: self.names[r].clone(),
                    class: v.class,
                    runner_a: self.runner(&run_a),
                    runner_b: self.runner(&run_b),
                    run_a,
                    run_b,
                    failure: v.failure.clone(),
                    reasons: v.reasons.clone(),
                    tainted_by,
                    outputs: v.outputs.iter().map(|o| self.output_delta(o)).collect(),
                }
            })
            .collect();
        // Stable sort: reported pairs are already in name order.
        actions.sort_by_key(|d| d.class);
        actions
    }
}

/// Run the structural diff on every differing output of every root whose
/// two versions are present in the output trees. Symlinks are compared as
/// links, never followed.
pub(crate) fn compare_outputs(actions: &mut [ActionDelta], dir_a: &Path, dir_b: &Path, now: i64) {
    let opts = DiffOptions {
        now,
        ..DiffOptions::default()
    };
    let jobs: Vec<&mut OutputDelta> = actions
        .iter_mut()
        .filter(|d| d.class.is_root())
        .flat_map(|d| d.outputs.iter_mut())
        .collect();
    jobs.into_par_iter().for_each(|o| {
        let rel = Path::new(&o.path);
        if rel.is_absolute()
            || rel
                .components()
                .any(|c| c == std::path::Component::ParentDir)
        {
            return;
        }
        let (pa, pb) = (dir_a.join(rel), dir_b.join(rel));
        let (ma, mb) = (pa.symlink_metadata(), pb.symlink_metadata());
        o.comparison = Some(match (&ma, &mb) {
            (Err(_), _) => OutputComparison::Missing { side: Side::A },
            (_, Err(_)) => OutputComparison::Missing { side: Side::B },
            (Ok(x), Ok(y)) if x.file_type().is_symlink() || y.file_type().is_symlink() => {
                match (std::fs::read_link(&pa), std::fs::read_link(&pb)) {
                    (Ok(ta), Ok(tb)) => OutputComparison::Symlink {
                        a: ta.to_string_lossy().into_owned(),
                        b: tb.to_string_lossy().into_owned(),
                    },
                    _ => OutputComparison::Failed {
                        error: format!(
                            "{} is a symlink in one output tree and not in the other",
                            o.path
                        ),
                    },
                }
            }
            _ => match diff_paths(&pa, &pb, &opts) {
                Ok(comparison) => {
                    let inputs = Inputs {
                        a: Text::new(pa.as_os_str().as_encoded_bytes()),
                        b: Text::new(pb.as_os_str().as_encoded_bytes()),
                    };
                    let report =
                        Report::new(CommandKind::Diff, inputs, comparison, Default::default());
                    OutputComparison::Compared {
                        verdict: report.verdict(),
                        findings: report.findings.clone(),
                        report: Box::new(report),
                    }
                }
                Err(e) => OutputComparison::Failed {
                    error: e.to_string(),
                },
            },
        });
    });
}
