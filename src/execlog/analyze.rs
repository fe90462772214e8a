//! `twice execlog A B`: read both logs (in parallel), pair, classify, rank
//! the roots by what they tainted, and optionally compare the differing
//! outputs of the roots with the structural diff.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::classify::{self, Producer, Producers, TaintGraph, Verdict};
use super::error::{ExeclogError, LogFormat};
use super::model::{Action, Log, unify};
use super::report::{
    ActionDelta, ActionRef, Class, ExeclogReport, ExeclogSummary, Limitation, LogInput, LogInputs,
    OutputComparison, OutputDelta, Root, Upstream,
};
use super::{bazel_compact, bazel_json, buck2};
use crate::diff::{DiffOptions, diff_paths};
use crate::finding::{Side, Text};

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
    let log_a = &la;
    let log_b = &lb;
    // Strings are looked up in A's interner, which now holds both sides.
    let strings = log_a;

    let pairing = classify::pair(log_a, log_b);
    let producers = Producers::new(log_a, log_b, &pairing);
    let verdicts: Vec<Verdict> = pairing
        .pairs
        .par_iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            classify::classify(
                log_a,
                log_b,
                &log_a.actions[x as usize],
                &log_b.actions[y as usize],
                &producers,
                i as u32,
            )
        })
        .collect();

    let refs = |i: usize| action_ref(strings, &log_a.actions[pairing.pairs[i].0 as usize]);
    let graph = TaintGraph::new(pairing.pairs.len(), &verdicts);
    let mut summary = ExeclogSummary {
        paired: pairing.pairs.len() as u64,
        only_a: pairing.only_a.len() as u64,
        only_b: pairing.only_b.len() as u64,
        ..ExeclogSummary::default()
    };
    for v in &verdicts {
        *match v.class {
            Class::Identical => &mut summary.identical,
            Class::NonDeterministic => &mut summary.non_deterministic,
            Class::NonHermetic => &mut summary.non_hermetic,
            Class::Tainted => &mut summary.tainted,
            Class::Unexplained => &mut summary.unexplained,
        } += 1;
    }

    // Rank the roots: count first (cheap), chains for the worst only.
    let root_ids: Vec<u32> = (0..verdicts.len() as u32)
        .filter(|&i| verdicts[i as usize].class.is_root())
        .collect();
    let mut stamp = vec![u32::MAX; verdicts.len()];
    let mut parent = vec![0u32; verdicts.len()];
    let mut ranked: Vec<(u32, classify::Reach)> = root_ids
        .iter()
        .enumerate()
        .map(|(n, &r)| (r, graph.reach(r, &mut stamp, n as u32, &mut parent, false)))
        .collect();
    // Pairs are in name order, so the index breaks ties by name.
    ranked.sort_by(|x, y| {
        y.1.tainted
            .cmp(&x.1.tainted)
            .then(
                verdicts[x.0 as usize]
                    .class
                    .cmp(&verdicts[y.0 as usize].class),
            )
            .then(x.0.cmp(&y.0))
    });
    let base = ranked.len() as u32;
    let roots: Vec<Root> = ranked
        .iter()
        .enumerate()
        .map(|(n, (r, reach))| {
            let chain = if n < opts.top && reach.tainted > 0 {
                graph
                    .reach(*r, &mut stamp, base + n as u32, &mut parent, true)
                    .chain
                    .iter()
                    .map(|&i| refs(i as usize))
                    .collect()
            } else {
                Vec::new()
            };
            Root {
                action: refs(*r as usize),
                class: verdicts[*r as usize].class,
                tainted: reach.tainted,
                direct: reach.direct,
                chain,
            }
        })
        .collect();

    let upstream_ref = |p: Producer| match p {
        Producer::Pair(i) => (refs(i as usize), None),
        Producer::Only(Side::A, i) => (
            action_ref(strings, &log_a.actions[i as usize]),
            Some(Side::A),
        ),
        Producer::Only(Side::B, i) => (
            action_ref(strings, &log_b.actions[i as usize]),
            Some(Side::B),
        ),
    };
    let mut actions: Vec<ActionDelta> = verdicts
        .iter()
        .enumerate()
        .filter(|(_, v)| v.class != Class::Identical)
        .map(|(i, v)| {
            let (x, y) = pairing.pairs[i];
            let (xa, yb) = (&log_a.actions[x as usize], &log_b.actions[y as usize]);
            let mut tainted_by: Vec<Upstream> = Vec::new();
            for (p, path) in &v.upstream {
                let path = strings.str(*path).to_owned();
                match tainted_by.last_mut() {
                    Some(last) if upstream_ref(*p).0 == last.action => last.paths.push(path),
                    _ => {
                        let (action, only) = upstream_ref(*p);
                        tainted_by.push(Upstream {
                            action,
                            only,
                            paths: vec![path],
                        });
                    }
                }
            }
            tainted_by.sort();
            ActionDelta {
                action: refs(i),
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

    if let Some((dir_a, dir_b)) = &opts.outputs {
        compare_outputs(&mut actions, dir_a, dir_b, opts.now);
    }

    let mut limitations = Vec::new();
    for (side, log, format) in [(Side::A, log_a, fa), (Side::B, log_b, fb)] {
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
    let only = |log: &Log, ids: &[u32]| -> Vec<ActionRef> {
        ids.iter()
            .map(|&i| action_ref(strings, &log.actions[i as usize]))
            .collect()
    };
    let inputs = LogInputs {
        a: LogInput {
            path: Text::new(a.as_os_str().as_encoded_bytes()),
            format: fa,
            actions: log_a.actions.len() as u64,
        },
        b: LogInput {
            path: Text::new(b.as_os_str().as_encoded_bytes()),
            format: fb,
            actions: log_b.actions.len() as u64,
        },
    };
    Ok(ExeclogReport::new(
        inputs,
        summary,
        roots,
        actions,
        (only(log_a, &pairing.only_a), only(log_b, &pairing.only_b)),
        limitations,
    ))
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
                Ok(report) => OutputComparison::Compared {
                    verdict: report.verdict,
                    findings: report.findings.clone(),
                    report: Box::new(report),
                },
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
