//! `twice execlog A B`: read both logs (in parallel), pair, classify, rank
//! the roots by what they tainted, and optionally compare the differing
//! outputs of the roots with the structural diff.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::error::{ExeclogError, LogFormat};
use super::judge::{self, Judgement, Producer, Producers, TaintGraph};
use super::model::{Action, Log, unify};
use super::report::{
    ActionDelta, ActionRef, Class, ExeclogReport, ExeclogSummary, Limitation, LogInput, LogInputs,
    OutputComparison, OutputDelta, ReasonCount, Root, Upstream,
};
use super::{bazel_compact, bazel_json, buck2};
use crate::diff::{DiffOptions, diff_paths};
use crate::finding::{Side, Text};
use crate::report::{CommandKind, Inputs, Report};

/// Options of `twice execlog`.
#[derive(Clone, Debug, Default)]
pub struct ExeclogOptions {
    /// How many of the worst roots get their taint chain.
    pub top: usize,
    /// The two builds' output trees, for comparing differing outputs.
    pub outputs: Option<(PathBuf, PathBuf)>,
    /// Seconds since the epoch, for the structural diff.
    pub now: i64,
}

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Recognise a log by its first bytes.
pub(crate) fn sniff(path: &Path, head: &[u8]) -> Result<LogFormat, ExeclogError> {
    if head.starts_with(&ZSTD_MAGIC) {
        return Ok(LogFormat::BazelCompact);
    }
    let text = head.trim_ascii_start();
    if text.is_empty() {
        return Err(ExeclogError::Empty {
            path: path.to_path_buf(),
        });
    }
    let Some(obj) = text.strip_prefix(b"{") else {
        return Err(ExeclogError::Unrecognized {
            path: path.to_path_buf(),
        });
    };
    let obj = obj.trim_ascii_start();
    // The first key: Buck2 records start with "reason" (or another of their
    // keys); a SpawnExec with any of its fields.
    let first_key = obj
        .strip_prefix(b"\"")
        .and_then(|k| k.iter().position(|&c| c == b'"').map(|end| &k[..end]));
    match first_key {
        Some(b"reason" | b"identity" | b"reproducer" | b"duration" | b"extra" | b"std_err") => {
            Ok(LogFormat::Buck2WhatRan)
        }
        Some(_) | None if obj.starts_with(b"\"") || obj.starts_with(b"}") => {
            Ok(LogFormat::BazelJson)
        }
        _ => Err(ExeclogError::Unrecognized {
            path: path.to_path_buf(),
        }),
    }
}

/// Read one log of any supported format.
pub(crate) fn load(path: &Path) -> Result<(LogFormat, Log), ExeclogError> {
    let open = |source| ExeclogError::Open {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(open)?;
    let mut reader = BufReader::with_capacity(256 << 10, file);
    let head = reader.fill_buf().map_err(open)?;
    let format = sniff(path, head)?;
    let log = match format {
        LogFormat::BazelJson => bazel_json::read(path, reader)?,
        LogFormat::BazelCompact => bazel_compact::read(path, reader)?,
        LogFormat::Buck2WhatRan => buck2::read(path, reader)?,
    };
    Ok((format, log))
}

/// Read a log held in memory (any supported format); the number of actions.
/// For fuzzing and tests.
#[doc(hidden)]
pub fn read_bytes(data: &[u8]) -> Result<usize, ExeclogError> {
    let path = Path::new("<memory>");
    let log = match sniff(path, data)? {
        LogFormat::BazelJson => bazel_json::read(path, data)?,
        LogFormat::BazelCompact => bazel_compact::read(path, data)?,
        LogFormat::Buck2WhatRan => buck2::read(path, data)?,
    };
    Ok(log.actions.len())
}

fn family(f: LogFormat) -> u8 {
    match f {
        LogFormat::BazelJson | LogFormat::BazelCompact => 0,
        LogFormat::Buck2WhatRan => 1,
    }
}

fn action_ref(log: &Log, a: &Action) -> ActionRef {
    ActionRef {
        label: log.str(a.label).to_owned(),
        mnemonic: log.str(a.mnemonic).to_owned(),
        primary_output: a.primary.map(|p| log.str(p).to_owned()),
    }
}

/// Compare two builds' logs.
pub fn analyze(a: &Path, b: &Path, opts: &ExeclogOptions) -> Result<ExeclogReport, ExeclogError> {
    let (ra, rb) = rayon::join(|| load(a), || load(b));
    let ((fa, mut la), (fb, mut lb)) = (ra?, rb?);
    if family(fa) != family(fb) {
        return Err(ExeclogError::Mixed { a: fa, b: fb });
    }
    unify(&mut la, &mut lb);
    let pairing = judge::pair(&la, &lb);
    let producers = Producers::new(&la, &lb, &pairing);
    let verdicts: Vec<Judgement> = pairing
        .pairs
        .par_iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            let (ax, by) = (&la.actions[x as usize], &lb.actions[y as usize]);
            judge::judge(&la, &lb, ax, by, &producers, i as u32)
        })
        .collect();
    let run = Analysis {
        a: &la,
        b: &lb,
        pairing: &pairing,
        verdicts: &verdicts,
    };
    let mut actions = run.deltas();
    if let Some((dir_a, dir_b)) = &opts.outputs {
        compare_outputs(&mut actions, dir_a, dir_b, opts.now);
    }
    let mut limitations = Vec::new();
    for (side, log, format) in [(Side::A, &la, fa), (Side::B, &lb, fb)] {
        if format == LogFormat::Buck2WhatRan {
            limitations.push(Limitation::NoInputsOrOutputs { side });
            let without = log.actions.iter().filter(|a| !a.has_command).count() as u64;
            if without > 0 {
                limitations.push(Limitation::NoCommandLines {
                    side,
                    actions: without,
                });
            }
        }
    }
    let input = |path: &Path, format, log: &Log| LogInput {
        path: Text::new(path.as_os_str().as_encoded_bytes()),
        format,
        actions: log.actions.len() as u64,
    };
    Ok(ExeclogReport::new(
        LogInputs {
            a: input(a, fa, &la),
            b: input(b, fb, &lb),
        },
        run.summary(),
        run.roots(opts.top),
        actions,
        (
            run.listed(&la, &pairing.only_a),
            run.listed(&lb, &pairing.only_b),
        ),
        limitations,
    ))
}

/// Two unified logs, paired and classified: what the report is made of.
/// Strings are looked up in A's log, whose interner holds both sides.
struct Analysis<'r> {
    a: &'r Log,
    b: &'r Log,
    pairing: &'r judge::Pairing,
    verdicts: &'r [Judgement],
}

impl Analysis<'_> {
    /// The action of pair `i`.
    fn pair_ref(&self, i: usize) -> ActionRef {
        action_ref(self.a, &self.a.actions[self.pairing.pairs[i].0 as usize])
    }

    fn listed(&self, log: &Log, ids: &[u32]) -> Vec<ActionRef> {
        ids.iter()
            .map(|&i| action_ref(self.a, &log.actions[i as usize]))
            .collect()
    }

    fn summary(&self) -> ExeclogSummary {
        let mut summary = ExeclogSummary {
            paired: self.pairing.pairs.len() as u64,
            only_a: self.pairing.only_a.len() as u64,
            only_b: self.pairing.only_b.len() as u64,
            ..ExeclogSummary::default()
        };
        let mut by_reason: std::collections::BTreeMap<(&str, Option<&str>), u64> =
            std::collections::BTreeMap::new();
        for v in self.verdicts {
            for r in &v.reasons {
                *by_reason.entry(r.key()).or_default() += 1;
            }
            *match v.class {
                Class::Identical => &mut summary.identical,
                Class::NonDeterministic => &mut summary.non_deterministic,
                Class::NonHermetic => &mut summary.non_hermetic,
                Class::Tainted => &mut summary.tainted,
                Class::Unexplained => &mut summary.unexplained,
            } += 1;
        }
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
    fn roots(&self, top: usize) -> Vec<Root> {
        let verdicts = self.verdicts;
        let graph = TaintGraph::new(verdicts.len(), verdicts);
        let mut stamp = vec![u32::MAX; verdicts.len()];
        let mut parent = vec![0u32; verdicts.len()];
        // Count first (cheap), chains for the worst only.
        let mut ranked: Vec<(u32, judge::Reach)> = (0..verdicts.len() as u32)
            .filter(|&i| verdicts[i as usize].class.is_root())
            .enumerate()
            .map(|(n, r)| (r, graph.reach(r, &mut stamp, n as u32, &mut parent, false)))
            .collect();
        // Pairs are in name order, so the index breaks ties by name.
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
                        .map(|&i| self.pair_ref(i as usize))
                        .collect()
                } else {
                    Vec::new()
                };
                Root {
                    action: self.pair_ref(*r as usize),
                    class: class(*r),
                    tainted: reach.tainted,
                    direct: reach.direct,
                    chain,
                }
            })
            .collect()
    }

    fn upstream(&self, p: Producer) -> (ActionRef, Option<Side>) {
        match p {
            Producer::Pair(i) => (self.pair_ref(i as usize), None),
            Producer::Only(side, i) => {
                let log = if side == Side::A { self.a } else { self.b };
                (action_ref(self.a, &log.actions[i as usize]), Some(side))
            }
        }
    }

    /// Every paired action that is not identical: roots first, by class,
    /// then by name.
    fn deltas(&self) -> Vec<ActionDelta> {
        let strings = self.a;
        let mut actions: Vec<ActionDelta> = self
            .verdicts
            .iter()
            .enumerate()
            .filter(|(_, v)| v.class != Class::Identical)
            .map(|(i, v)| {
                let (x, y) = self.pairing.pairs[i];
                let (xa, yb) = (&self.a.actions[x as usize], &self.b.actions[y as usize]);
                // Upstream is sorted by producer: group its paths.
                let mut tainted_by: Vec<Upstream> = Vec::new();
                for (p, path) in &v.upstream {
                    let path = strings.str(*path).to_owned();
                    let (action, only) = self.upstream(*p);
                    match tainted_by.last_mut() {
                        Some(last) if last.action == action => last.paths.push(path),
                        _ => tainted_by.push(Upstream {
                            action,
                            only,
                            paths: vec![path],
                        }),
                    }
                }
                tainted_by.sort();
                ActionDelta {
                    action: self.pair_ref(i),
                    class: v.class,
                    runner_a: strings.str(xa.runner).to_owned(),
                    runner_b: strings.str(yb.runner).to_owned(),
                    reasons: v.reasons.clone(),
                    tainted_by,
                    outputs: v
                        .outputs
                        .iter()
                        .map(|(p, da, db)| OutputDelta {
                            path: strings.str(*p).to_owned(),
                            a: da.map(|d| d.to_string()),
                            b: db.map(|d| d.to_string()),
                            comparison: None,
                        })
                        .collect(),
                }
            })
            .collect();
        // Stable sort: pairs are already in name order.
        actions.sort_by_key(|d| d.class);
        actions
    }
}

/// Run the structural diff on every differing output of every root whose
/// two versions are present in the output trees.
fn compare_outputs(actions: &mut [ActionDelta], dir_a: &Path, dir_b: &Path, now: i64) {
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
        o.comparison = Some(if !pa.exists() {
            OutputComparison::Missing { side: Side::A }
        } else if !pb.exists() {
            OutputComparison::Missing { side: Side::B }
        } else {
            match diff_paths(&pa, &pb, &opts) {
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
            }
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_each_format() {
        let p = Path::new("x");
        assert_eq!(
            sniff(p, &[0x28, 0xb5, 0x2f, 0xfd, 0]).unwrap(),
            LogFormat::BazelCompact
        );
        assert_eq!(
            sniff(p, b"\n{\n  \"commandArgs\": []").unwrap(),
            LogFormat::BazelJson
        );
        assert_eq!(
            sniff(p, b"{\"reason\":\"build\"").unwrap(),
            LogFormat::Buck2WhatRan
        );
        assert!(matches!(sniff(p, b"  \n"), Err(ExeclogError::Empty { .. })));
        assert!(matches!(
            sniff(p, b"\x7fELF"),
            Err(ExeclogError::Unrecognized { .. })
        ));
    }
}
