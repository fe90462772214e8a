//! `twice execlog A B` and `--explain-misses`: two passes over each log.
//!
//! 1. Summarise both logs in parallel (`summary.rs`): per action a key, a
//!    digest of everything compared and a few flags.
//! 2. Pair on the keys; the pairs whose digests differ (and the actions the
//!    report must name) are what the second pass reads.
//! 3. Read those again in full (`detail.rs`): JSON and binary records by
//!    offset, compact logs' marked entries, Buck2's records by identity.
//! 4. Classify them (`judge.rs`), rank the roots by what they tainted,
//!    explain the cache misses (`misses.rs`), compare fetched outputs.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::assemble::{Analysis, compare_outputs, name};
use super::bazel_compact::{self, Dag, Need};
use super::error::{ExeclogError, LogFormat};
use super::judge::{self, Judge, Judgement, OutSide};
use super::model::{Detail, FastMap, Interner};
use super::pair::{Pairing, pair};
use super::report::{
    ActionRef, ExeclogReport, ExeclogSummary, Limitation, LogInput, LogInputs, NameCount,
};
use super::source::{Source, sniff};
use super::summary::{LogSummary, flag, summarize_flat};
use super::{bazel_binary, bazel_json, buck2, detail, misses};
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
    /// The most bytes a compact log may decompress to (default: the larger
    /// of 4 GiB and 256 times its compressed size).
    pub max_decompressed: Option<u64>,
}

/// The total number of inputs expanded from compact logs' input sets when
/// pairs are compared, and the most for one action: the time and memory
/// a log whose sets are shared by many differing actions may cost.
pub(crate) const EXPAND_BUDGET: u64 = 1 << 27;
pub(crate) const EXPAND_PER_ACTION: u64 = 1 << 23;

/// One log after the first pass.
struct Loaded {
    src: Option<Source>,
    summary: LogSummary,
    dag: Option<Dag>,
}

impl Loaded {
    fn none() -> Loaded {
        Loaded {
            src: None,
            summary: LogSummary::default(),
            dag: None,
        }
    }

    fn format(&self) -> LogFormat {
        self.src.as_ref().map_or(LogFormat::Empty, |s| s.format)
    }
}

fn limit(opts: &ExeclogOptions, bytes: u64) -> u64 {
    opts.max_decompressed
        .unwrap_or_else(|| bazel_compact::default_limit(bytes))
}

fn load(path: &Path, opts: &ExeclogOptions) -> Result<Loaded, ExeclogError> {
    let (src, reader) = Source::open(path)?;
    let (mut summary, dag) = summarize(path, src.format, reader, limit(opts, src.bytes))?;
    summary.notes.bytes = src.bytes;
    Ok(Loaded {
        src: Some(src),
        summary,
        dag,
    })
}

/// The first pass over any log.
fn summarize(
    path: &Path,
    format: LogFormat,
    reader: impl std::io::BufRead,
    limit: u64,
) -> Result<(LogSummary, Option<Dag>), ExeclogError> {
    let mut s = LogSummary::default();
    match format {
        LogFormat::BazelJson | LogFormat::BazelBinary => {
            let (mut actions, mut offsets, mut producers) = (Vec::new(), Vec::new(), Vec::new());
            let mut f =
                |v: &super::view::SpawnView<'_>, at: u64, notes: &mut super::summary::Notes| {
                    let i = actions.len() as u32;
                    actions.push(summarize_flat(v, notes, &mut producers, i));
                    offsets.push(at);
                };
            if format == LogFormat::BazelJson {
                bazel_json::read(path, reader, &mut s.notes, &mut f)?;
            } else {
                bazel_binary::read(path, reader, &mut s.notes, &mut f)?;
            }
            (s.actions, s.offsets, s.producers) = (actions, offsets, producers);
            s.finish();
            Ok((s, None))
        }
        LogFormat::BazelCompact => {
            let (s, dag) = bazel_compact::summarize(path, reader, limit)?;
            Ok((s, Some(dag)))
        }
        LogFormat::Buck2WhatRan => Ok((buck2::summarize(path, reader)?, None)),
        LogFormat::Empty => Ok((s, None)),
    }
}

/// Read a log held in memory (any supported format), both passes, every
/// action in full; the number of actions. For fuzzing and tests.
#[doc(hidden)]
pub fn read_bytes(data: &[u8]) -> Result<usize, ExeclogError> {
    let path = Path::new("<memory>");
    let format = sniff(path, data)?;
    let (summary, dag) = summarize(path, format, data, 64 << 20)?;
    let needs = vec![Need::Full; summary.actions.len()];
    let strings = Mutex::new(Interner::default());
    let mut m = detail::Materializer::new(&strings, summary.notes.function());
    match format {
        LogFormat::BazelJson => {
            for (i, &at) in summary.offsets.iter().enumerate() {
                let end = summary
                    .offsets
                    .get(i + 1)
                    .map_or(data.len(), |&e| e as usize);
                if let Some(bytes) = data.get(at as usize..end)
                    && let Ok(rec) = bazel_json::parse_one(bytes)
                {
                    m.spawn(&rec.view, i as u32, Need::Full);
                }
            }
        }
        LogFormat::BazelBinary => {
            for (i, &at) in summary.offsets.iter().enumerate() {
                if let Some(msg) = data.get(at as usize..).and_then(bazel_binary::record)
                    && let Ok(v) = bazel_binary::decode(path, msg, at, &mut Default::default())
                {
                    m.spawn(&v, i as u32, Need::Full);
                }
            }
        }
        LogFormat::BazelCompact => {
            let marks = dag
                .as_ref()
                .map(|d| d.mark(|_| Need::Full))
                .unwrap_or_default();
            let m = RefCell::new(&mut m);
            bazel_compact::details(
                path,
                data,
                64 << 20,
                &marks,
                |i| needs.get(i as usize).copied().unwrap_or(Need::Nothing),
                |id, e, _| m.borrow_mut().entry(id, e),
                |i, v, _| m.borrow_mut().spawn(v, i, Need::Full),
            )?;
        }
        LogFormat::Buck2WhatRan => {
            let wanted = summary
                .actions
                .iter()
                .enumerate()
                .map(|(i, a)| (a.key(), (i as u32, Need::Full)))
                .collect();
            buck2::details(path, data, &wanted, &strings)?;
        }
        LogFormat::Empty => {}
    }
    let d = m.finish();
    let mut st = strings
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut budget = EXPAND_BUDGET;
    let mut scratch = Vec::new();
    for a in &d.actions {
        d.expand(a, &mut st, &mut budget, &mut scratch);
    }
    Ok(summary.actions.len())
}

/// The second pass over one log: the actions `needs` asks for.
fn details(
    l: &Loaded,
    needs: &[Need],
    marks: Option<&bazel_compact::Marks>,
    strings: &Mutex<Interner>,
    opts: &ExeclogOptions,
) -> Result<Detail, ExeclogError> {
    let Some(src) = &l.src else {
        return Ok(Detail::default());
    };
    let need = |i: u32| needs.get(i as usize).copied().unwrap_or(Need::Nothing);
    if needs.iter().all(|&n| n == Need::Nothing) {
        return Ok(Detail::default());
    }
    let s = &l.summary;
    let mut m = detail::Materializer::new(strings, s.notes.function());
    match src.format {
        LogFormat::BazelJson | LogFormat::BazelBinary => {
            let mut file = src.reopen()?;
            let mut buf = Vec::new();
            for (i, &at) in s.offsets.iter().enumerate() {
                let n = need(i as u32);
                if n == Need::Nothing {
                    continue;
                }
                let end = s.offsets.get(i + 1).copied().unwrap_or(src.bytes);
                src.read_at(&mut file, at, end, &mut buf)?;
                if src.format == LogFormat::BazelJson {
                    let rec = bazel_json::parse_one(&buf).map_err(|e| ExeclogError::Corrupt {
                        path: src.path.clone(),
                        format: LogFormat::BazelJson,
                        stream: super::error::Stream::File,
                        offset: at,
                        kind: e.into(),
                    })?;
                    m.spawn(&rec.view, i as u32, n);
                } else {
                    let msg = bazel_binary::record(&buf).ok_or_else(|| {
                        bazel_binary::corrupt(
                            &src.path,
                            at,
                            super::error::ExeclogErrorKind::Truncated,
                        )
                    })?;
                    let v = bazel_binary::decode(&src.path, msg, at, &mut Default::default())?;
                    m.spawn(&v, i as u32, n);
                }
            }
        }
        LogFormat::BazelCompact => {
            let file = BufReader::with_capacity(256 << 10, src.reopen()?);
            let empty = bazel_compact::Marks::default();
            let mm = RefCell::new(&mut m);
            bazel_compact::details(
                &src.path,
                file,
                limit(opts, src.bytes),
                marks.unwrap_or(&empty),
                need,
                |id, e, _| mm.borrow_mut().entry(id, e),
                |i, v, _| mm.borrow_mut().spawn(v, i, need(i)),
            )?;
        }
        LogFormat::Buck2WhatRan => {
            let wanted: FastMap<[u64; 2], (u32, Need)> = s
                .actions
                .iter()
                .enumerate()
                .filter(|(i, _)| need(*i as u32) != Need::Nothing)
                .map(|(i, a)| (a.key(), (i as u32, need(i as u32))))
                .collect();
            return buck2::details(&src.path, BufReader::new(src.reopen()?), &wanted, strings);
        }
        LogFormat::Empty => {}
    }
    Ok(m.finish())
}

fn input(l: &Loaded) -> Option<LogInput> {
    let src = l.src.as_ref()?;
    Some(LogInput {
        path: Text::new(src.path.as_os_str().as_encoded_bytes()),
        format: src.format,
        layout: l.summary.notes.layout,
        bytes: src.bytes,
        actions: l.summary.actions.len() as u64,
    })
}

/// Compare two builds' logs.
pub fn analyze(a: &Path, b: &Path, opts: &ExeclogOptions) -> Result<ExeclogReport, ExeclogError> {
    run(Some(a), b, opts, false)
}

/// Explain why the actions of build `b` that executed did not come from
/// the cache; with a baseline build, by comparing with it.
pub fn explain_misses(
    b: &Path,
    baseline: Option<&Path>,
    opts: &ExeclogOptions,
) -> Result<ExeclogReport, ExeclogError> {
    run(baseline, b, opts, true)
}

fn run(
    a: Option<&Path>,
    b: &Path,
    opts: &ExeclogOptions,
    explain: bool,
) -> Result<ExeclogReport, ExeclogError> {
    let (la, lb) = rayon::join(
        || a.map_or_else(|| Ok(Loaded::none()), |a| load(a, opts)),
        || load(b, opts),
    );
    let (mut la, mut lb) = (la?, lb?);
    let (fa, fb) = (la.format(), lb.format());
    if let (Some(x), Some(y)) = (fa.family(), fb.family())
        && x != y
    {
        return Err(ExeclogError::Mixed { a: fa, b: fb });
    }
    if std::env::var_os("TWICE_DEBUG_MEM").is_some() {
        for l in [&la, &lb] {
            let s = &l.summary;
            eprintln!(
                "actions {} producers {} offsets {} dag {:?}",
                s.actions.len(),
                s.producers.len(),
                s.offsets.len(),
                l.dag.as_ref().map(|d| d.sizes())
            );
        }
    }
    let baseline = a.is_some();
    let pairing = pair(&la.summary.actions, &lb.summary.actions);
    let (needs_a, needs_b) = needs(&la.summary, &lb.summary, &pairing, explain, baseline);
    let marks_a = la.dag.take().map(|d| d.mark(|i| needs_a[i as usize]));
    let marks_b = lb.dag.take().map(|d| d.mark(|i| needs_b[i as usize]));
    let strings = Mutex::new(Interner::default());
    let (da, db) = rayon::join(
        || details(&la, &needs_a, marks_a.as_ref(), &strings, opts),
        || details(&lb, &needs_b, marks_b.as_ref(), &strings, opts),
    );
    let (da, db) = (da?, db?);
    let mut strings = strings
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);

    // The pairs the report is about, in name order.
    let mut rep: Vec<u32> = (0..pairing.pairs.len() as u32)
        .filter(|&p| {
            let (x, y) = pairing.pairs[p as usize];
            needs_a[x as usize] != Need::Nothing && needs_b[y as usize] != Need::Nothing
        })
        .collect();
    let pair_actions = |p: u32| {
        let (x, y) = pairing.pairs[p as usize];
        (da.action(x), db.action(y))
    };
    rep.sort_by_cached_key(|&p| {
        let (x, y) = pair_actions(p);
        let r = name(&strings, x, y);
        let args: Vec<String> = x
            .map(|x| {
                da.args(x)
                    .iter()
                    .map(|&s| strings.get(s).to_owned())
                    .collect()
            })
            .unwrap_or_default();
        // Pairs alike in name and command line: by contents, not log order.
        let (i, j) = pairing.pairs[p as usize];
        let contents = (
            la.summary.actions[i as usize].content,
            lb.summary.actions[j as usize].content,
        );
        (r, args, contents)
    });
    let reported: FastMap<u32, u32> = rep
        .iter()
        .enumerate()
        .map(|(r, &p)| (p, r as u32))
        .collect();

    let mut judge = Judge::new(
        &da,
        &db,
        &la.summary,
        &lb.summary,
        &pairing,
        &reported,
        &mut strings,
        EXPAND_BUDGET,
    );
    let mut verdicts: Vec<Judgement> = rep
        .iter()
        .enumerate()
        .map(|(r, &p)| match pair_actions(p) {
            (Some(x), Some(y)) => judge.judge(r as u32, x, y),
            _ => Judgement::identical(),
        })
        .collect();
    let over_budget = judge.over_budget;
    let functions = judge.functions.clone();
    drop(judge);
    judge::infer_unlisted(&mut verdicts);

    let names: Vec<ActionRef> = rep
        .iter()
        .map(|&p| {
            let (x, y) = pair_actions(p);
            name(&strings, x, y)
        })
        .collect();
    let mut over_budget = over_budget;
    let misses = explain.then(|| {
        let (report, over) = misses::explain(
            &misses::Inputs {
                da: &da,
                db: &db,
                sb: &lb.summary,
                pairing: &pairing,
                reported: &reported,
                names: &names,
                verdicts: &verdicts,
                baseline,
            },
            &mut strings,
        );
        over_budget += over;
        report
    });
    let run = Analysis {
        strings: &strings,
        da: &da,
        db: &db,
        pairing: &pairing,
        rep: &rep,
        names: &names,
        verdicts: &verdicts,
        buck2: fb == LogFormat::Buck2WhatRan || fa == LogFormat::Buck2WhatRan,
    };
    let inferred = verdicts
        .iter()
        .any(|v| v.outputs.iter().any(|o| matches!(o.a, OutSide::Seen(_))));
    let limitations = limitations(&la, &lb, functions, over_budget, inferred);
    if !baseline {
        // Nothing to compare: the misses are the report.
        return Ok(ExeclogReport::new(
            LogInputs {
                a: None,
                b: input(&lb),
            },
            ExeclogSummary::default(),
            Vec::new(),
            Vec::new(),
            (Vec::new(), Vec::new()),
            limitations,
            misses,
        ));
    }
    let mut actions = run.deltas();
    if let Some((dir_a, dir_b)) = &opts.outputs {
        compare_outputs(&mut actions, dir_a, dir_b, opts.now);
    }
    let only = (
        pairing
            .only_a
            .iter()
            .map(|&i| run.only_name(Side::A, i))
            .collect(),
        pairing
            .only_b
            .iter()
            .map(|&i| run.only_name(Side::B, i))
            .collect(),
    );
    let mut only: (Vec<ActionRef>, Vec<ActionRef>) = only;
    only.0.sort();
    only.1.sort();
    Ok(ExeclogReport::new(
        LogInputs {
            a: input(&la),
            b: input(&lb),
        },
        run.summary(),
        run.roots(opts.top),
        actions,
        only,
        limitations,
        misses,
    ))
}

/// What the second pass must read of each action.
fn needs(
    a: &LogSummary,
    b: &LogSummary,
    p: &Pairing,
    explain: bool,
    baseline: bool,
) -> (Vec<Need>, Vec<Need>) {
    let mut na = vec![Need::Nothing; a.actions.len()];
    let mut nb = vec![Need::Nothing; b.actions.len()];
    for &(x, y) in &p.pairs {
        let (sx, sy) = (&a.actions[x as usize], &b.actions[y as usize]);
        let n = if sx.content != sy.content {
            Need::Full
        } else if sx.has(flag::UNPRODUCED)
            || sy.has(flag::UNPRODUCED)
            || explain && !sy.has(flag::HIT)
        {
            // Names only: an output its consumers may show differed, or a
            // cache miss to name.
            Need::Name
        } else {
            Need::Nothing
        };
        na[x as usize] = n;
        nb[y as usize] = n;
    }
    if baseline {
        for &x in &p.only_a {
            na[x as usize] = Need::Name;
        }
        for &y in &p.only_b {
            nb[y as usize] = Need::Name;
        }
    } else if explain {
        // Without a baseline, an executed action's inputs say which
        // executed actions came before it.
        for (n, s) in nb.iter_mut().zip(&b.actions) {
            if !s.has(flag::HIT) {
                *n = Need::Full;
            }
        }
    }
    (na, nb)
}

fn limitations(
    la: &Loaded,
    lb: &Loaded,
    functions: Option<(String, String)>,
    over_budget: u64,
    inferred: bool,
) -> Vec<Limitation> {
    // A log that cannot list unresolved symlinks matters when an output was
    // inferred from its consumers or the other log lists symlinks.
    let links = |l: &Loaded| l.summary.notes.symlinks_recorded;
    let mixed = la.src.is_some() && links(la) != links(lb);
    let mut out = Vec::new();
    for (side, l) in [(Side::A, la), (Side::B, lb)] {
        let Some(src) = &l.src else { continue };
        let s = &l.summary;
        let n = s.actions.len() as u64;
        if n == 0 {
            out.push(Limitation::EmptyLog {
                side,
                bytes: src.bytes,
            });
        }
        if !s.notes.unknown_fields.is_empty() {
            out.push(Limitation::UnknownFields {
                side,
                fields: counts(&s.notes.unknown_fields),
            });
        }
        if !s.notes.unknown_executors.is_empty() {
            out.push(Limitation::UnknownExecutors {
                side,
                executors: counts(&s.notes.unknown_executors),
            });
        }
        match src.format {
            LogFormat::Buck2WhatRan => {
                out.push(Limitation::NoInputsOrOutputs { side });
                let without = s.count(flag::NO_COMMAND);
                if without > 0 {
                    out.push(Limitation::NoCommandLines {
                        side,
                        actions: without,
                    });
                }
            }
            LogFormat::BazelJson | LogFormat::BazelBinary | LogFormat::BazelCompact => {
                if n > 0 && s.count(flag::NO_IO) == n {
                    out.push(Limitation::NoFilesAtAll { side, actions: n });
                }
                if !s.notes.symlinks_recorded
                    && s.count(flag::UNPRODUCED) > 0
                    && (inferred || mixed)
                {
                    out.push(Limitation::SymlinksNotRecorded { side });
                }
            }
            LogFormat::Empty => {}
        }
    }
    if let Some((a, b)) = functions {
        out.push(Limitation::DigestFunctions { a, b });
    }
    if over_budget > 0 {
        out.push(Limitation::InputBudget {
            actions: over_budget,
        });
    }
    out
}

fn counts(m: &BTreeMap<String, u64>) -> Vec<NameCount> {
    m.iter()
        .map(|(name, &count)| NameCount {
            name: name.clone(),
            count,
        })
        .collect()
}

/// Parse a size: bytes, or with a `K`, `M`, `G` or `T` suffix (powers of
/// 1024; `KiB`, `MB` and the like are read the same way).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (bytes, or a number with K, M, G or T)"))?;
    let shift = match unit
        .trim()
        .to_ascii_uppercase()
        .trim_end_matches(['B', 'I'])
    {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (K, M, G or T)")),
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real logs of every format, cut and corrupted: an error or a log,
    /// never a panic (`read_bytes` runs both passes, every action in full).
    #[test]
    fn corrupt_real_logs_never_panic() {
        let logs: [&[u8]; 5] = [
            include_bytes!("../../fixtures/bazel/logs/a.exec.json"),
            include_bytes!("../../fixtures/bazel/logs/a.exec.bin"),
            include_bytes!("../../fixtures/bazel/converted/a.exec.v74.zst"),
            include_bytes!("../../fixtures/bazel/converted/a.exec.v71.zst"),
            include_bytes!("../../fixtures/bazel/buck2/b.what-ran.jsonl"),
        ];
        for log in logs {
            assert!(read_bytes(log).unwrap() >= 28);
            let step = (log.len() / 300).max(1);
            for at in (0..log.len()).step_by(step) {
                let _ = read_bytes(&log[..at]);
                let mut bad = log.to_vec();
                bad[at] ^= 0x5a;
                let _ = read_bytes(&bad);
            }
        }
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("2MiB"), Ok(2 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("x").is_err());
        assert!(parse_size("5Q").is_err());
    }
}
