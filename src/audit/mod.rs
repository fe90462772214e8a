//! `twice audit`: stage the source tree into sandboxes, build it under
//! deliberate variations, compare what the builds produced, and attribute
//! every difference to the variation that triggers it (canaries first,
//! then `--bisect` reruns).
//!
//! This file is the orchestration: choose the variations
//! ([`choose`]), run the builds through an [`build::Executor`], compare
//! each run with run A, attribute, bisect, and assemble the report. What
//! each run gets is in [`variation`], one build in [`build`].

mod attribute;
mod bisect;
pub(crate) mod build;
pub(crate) mod choose;
mod error;
mod exposure;
pub(crate) mod progress;
pub(crate) mod sandbox;
mod sources;
pub(crate) mod stage;
mod trace;
pub(crate) mod variation;

pub use choose::list_variations;
pub use error::{AuditError, Step};
pub use variation::parse_vary;

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::diff::{Comparison, DiffOptions, compare_trees};
use crate::finding::{Finding, Text, Variation};
use crate::report::{
    AuditInfo, AuditWarning, CommandKind, Extras, Inputs, Provenance, Report, RunInfo, SandboxKind,
    Timings, VariationState, VariationStatus,
};
use crate::tree::Glob;
use build::{BuildSettings, Executor, LocalBuilder, Run};
use progress::Progress;
use sandbox::{Tools, WorkDir};
use variation::{BWRAP, Plan, RunSpec, STRACE};

/// What `twice audit` was asked to do.
#[derive(Clone, Debug)]
pub struct AuditOptions {
    pub source: PathBuf,
    pub command: Vec<OsString>,
    pub runs: usize,
    pub vary: BTreeSet<Variation>,
    pub outputs: Vec<String>,
    pub bisect: bool,
    pub bisect_budget: usize,
    pub parallel: bool,
    pub keep: bool,
    pub timeout: Option<Duration>,
    pub network: bool,
    /// Host directories the sandbox shows read-only although they lie in a
    /// hidden directory (`/tmp`, `/home`, …).
    pub expose: Vec<PathBuf>,
    /// Record which process wrote each output (strace).
    pub trace: bool,
    /// Extra environment variables for the builds (`env` in twice.toml).
    pub env: Vec<(String, String)>,
    /// Bounds on the comparison of the outputs.
    pub limits: crate::Limits,
    /// The CI gate: baseline and ignore rules.
    pub gate: Option<crate::report::Gate>,
    /// The `twice.toml` target being audited.
    pub target: Option<String>,
    pub strict: bool,
    pub quiet: bool,
}

/// Run an audit and build its report.
pub fn audit(opts: AuditOptions) -> Result<Report, AuditError> {
    let globs = validate(&opts)?;
    crate::interrupt::install().map_err(|source| AuditError::Signals { source })?;
    let mut work = WorkDir::create(opts.keep).map_err(|source| AuditError::WorkDir {
        dir: std::env::temp_dir(),
        source,
    })?;
    let progress = Progress::new(opts.quiet);
    let tools = Tools::detect();
    let locale_dir = sandbox::locale_cache(&work.root);
    let mut warnings = Vec::new();
    if !tools.has(BWRAP) {
        sandbox::adopt_orphans();
        progress.warn(&AuditWarning::NoSandbox.to_string());
        warnings.push(AuditWarning::NoSandbox);
    }
    let request = choose::Request {
        vary: &opts.vary,
        runs: opts.runs,
        strict: opts.strict,
        rust: rust_build(&opts),
    };
    let (plan, statuses) = choose::choose(&request, &tools, &locale_dir)?;
    warn_skipped(&progress, &statuses);
    let real_home = std::env::var_os("HOME").map(PathBuf::from);
    let (exposure, user_namespace) = match tools.get(BWRAP) {
        Some(bwrap) => (
            exposure::Exposure::detect(real_home.as_deref(), &opts.expose),
            build::user_namespaces_work(bwrap),
        ),
        None => Default::default(),
    };
    let strace = if opts.trace {
        let found = tools.get(STRACE).map(Path::to_path_buf);
        if found.is_none() {
            let w = AuditWarning::TraceUnavailable;
            progress.warn(&w.to_string());
            warnings.push(w);
        }
        found
    } else {
        None
    };
    let settings = BuildSettings {
        source: opts.source.clone(),
        command: opts.command.clone(),
        timeout: opts.timeout,
        network: opts.network,
        keep: opts.keep,
        trace: strace,
        env: opts.env.clone(),
    };
    let builder = LocalBuilder {
        settings: &settings,
        plan: &plan,
        tools: &tools,
        work: &work,
        exposure: &exposure,
        interrupted: crate::interrupt::as_flag(),
        progress: &progress,
        locale_dir,
        real_home,
        user_namespace,
    };
    let sandbox = if tools.has(BWRAP) {
        SandboxKind::Bubblewrap
    } else {
        SandboxKind::None
    };
    let planned = Planned {
        plan: &plan,
        statuses,
        globs: &globs,
        sandbox,
    };
    let result = run_on(&opts, planned, &builder, &progress, warnings, &work);
    if !tools.has(BWRAP) {
        sandbox::kill_orphans();
    }
    if let Err(AuditError::BuildFailed { .. }) = &result {
        work.keep_logs();
    }
    result
}

/// What an audit applies, decided before any build: the variations and
/// their states, the output patterns, where the builds run.
pub(crate) struct Planned<'a> {
    pub plan: &'a Plan,
    pub statuses: Vec<VariationStatus>,
    pub globs: &'a [Glob],
    pub sandbox: SandboxKind,
}

/// Build, compare, attribute and report, whatever executes the builds:
/// the local sandbox, or a remote cluster (`crate::remote`).
pub(crate) fn run_on<E: Executor>(
    opts: &AuditOptions,
    planned: Planned<'_>,
    executor: &E,
    progress: &Progress,
    warnings: Vec<AuditWarning>,
    work: &WorkDir,
) -> Result<Report, AuditError> {
    let audit = Audit {
        opts,
        plan: planned.plan,
        globs: planned.globs,
        progress,
    };
    let (comparison, mut info, provenance) = audit.run(executor, warnings)?;
    info.variations = planned.statuses;
    info.sandbox = planned.sandbox;
    info.kept = opts
        .keep
        .then(|| Text::new(work.root.as_os_str().as_encoded_bytes()));
    let inputs = info_inputs(&info);
    let extras = Extras {
        audit: Some(&info),
        provenance: Some(&provenance),
        gate: opts.gate.as_ref(),
    };
    Ok(Report::new(CommandKind::Audit, inputs, comparison, extras))
}

/// One warning line per skipped variation.
pub(crate) fn warn_skipped(progress: &Progress, statuses: &[VariationStatus]) {
    for s in statuses {
        if let VariationState::Skipped { reasons } = &s.state {
            let reasons: Vec<String> = reasons.iter().map(ToString::to_string).collect();
            progress.warn(&format!(
                "variation {} skipped: {}",
                s.variation,
                reasons.join("; ")
            ));
        }
    }
}

/// Check the options before anything is created.
pub(crate) fn validate(opts: &AuditOptions) -> Result<Vec<Glob>, AuditError> {
    let meta = std::fs::metadata(&opts.source).map_err(|source| AuditError::Source {
        path: opts.source.clone(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(AuditError::NotADirectory {
            path: opts.source.clone(),
        });
    }
    let usage = |message: String| AuditError::Usage { message };
    if opts.command.is_empty() {
        return Err(usage(
            "no build command: give it after `--`, e.g. `twice audit -- make`".to_owned(),
        ));
    }
    if opts.runs < 2 {
        return Err(usage(format!(
            "--runs {}: an audit needs at least 2 runs",
            opts.runs
        )));
    }
    if opts.timeout.is_some_and(|t| t.is_zero()) {
        return Err(usage("--timeout must be more than 0 seconds".to_owned()));
    }
    opts.outputs
        .iter()
        .map(|p| Glob::new(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| usage(format!("--output {e}")))
}

/// A Cargo project, or a build run by cargo or rustc.
pub(crate) fn rust_build(opts: &AuditOptions) -> bool {
    let program = opts
        .command
        .first()
        .and_then(|c| Path::new(c).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("");
    matches!(program, "cargo" | "rustc" | "cargo-build") || opts.source.join("Cargo.toml").is_file()
}

/// The orchestration of one audit, whatever executes its builds.
struct Audit<'a> {
    opts: &'a AuditOptions,
    plan: &'a Plan,
    globs: &'a [Glob],
    progress: &'a Progress,
}

impl Audit<'_> {
    fn run<E: Executor>(
        &self,
        executor: &E,
        mut warnings: Vec<AuditWarning>,
    ) -> Result<(Comparison, AuditInfo, Provenance), AuditError> {
        let specs: Vec<RunSpec> = (0..self.opts.runs)
            .map(|k| RunSpec::nth(k, &self.plan.active))
            .collect();
        let mut timings = Timings::default();
        let mut runs = self.build_all(executor, &specs)?;
        for r in &runs {
            timings.builds += r.seconds;
            timings.staging += r.stage_seconds;
        }
        if let Some(first) = runs[0].skipped.first() {
            let w = AuditWarning::SpecialFilesSkipped {
                count: runs[0].skipped.len() as u64,
                first: Text::new(first.as_os_str().as_encoded_bytes()),
            };
            self.progress.warn(&w.to_string());
            warnings.push(w);
        }
        let outputs = self.outputs(&runs);
        if outputs.is_empty() {
            let w = AuditWarning::NothingToCompare {
                globs: !self.globs.is_empty(),
            };
            self.progress.warn(&w.to_string());
            warnings.push(w);
        }
        self.progress.stage("hashing outputs");
        let t = Instant::now();
        for r in &mut runs {
            keep_outputs(r, &outputs);
        }
        timings.hashing = t.elapsed().as_secs_f64();
        check_interrupt()?;

        self.progress.stage("comparing");
        let t = Instant::now();
        let (a, rest) = runs.split_first().expect("an audit has at least two runs");
        let mut comparison: Option<Comparison> = None;
        for b in rest {
            executor.fetch(a, b)?;
            let c = self.compare(a, b);
            match &mut comparison {
                None => comparison = Some(c),
                Some(first) => first.absorb(c),
            }
        }
        let mut comparison = comparison.expect("an audit has at least two runs");
        timings.comparing = t.elapsed().as_secs_f64();
        check_interrupt()?;

        let bisect = match (self.opts.bisect, rest.first()) {
            (true, Some(b)) => {
                let t = Instant::now();
                let mut probe = |set: &BTreeSet<Variation>, n: usize| {
                    self.probe(executor, a, &outputs, set, n, &mut warnings)
                };
                let info = bisect::run(
                    &b.spec.varied,
                    self.opts.bisect_budget,
                    &mut probe,
                    &mut comparison.findings,
                )?;
                timings.bisect = t.elapsed().as_secs_f64();
                Some(info)
            }
            _ => None,
        };
        check_interrupt()?;
        self.check_source_unchanged(&runs)?;
        let provenance = self.provenance(&runs[0], &comparison.findings, &mut warnings);
        let info = AuditInfo {
            target: self.opts.target.clone(),
            source: Text::new(self.opts.source.as_os_str().as_encoded_bytes()),
            command: self
                .opts
                .command
                .iter()
                .map(|c| Text::new(c.as_encoded_bytes()))
                .collect(),
            sandbox: SandboxKind::None,
            variations: Vec::<VariationStatus>::new(),
            runs: runs.iter().map(run_info).collect(),
            bisect,
            warnings,
            kept: None,
            timings,
        };
        Ok((comparison, info, provenance))
    }

    /// What wrote the outputs (from run A's trace) and where in the
    /// sources the findings come from.
    fn provenance(
        &self,
        a: &Run,
        findings: &[Finding],
        warnings: &mut Vec<AuditWarning>,
    ) -> Provenance {
        let writers = match &a.trace {
            Some(dir) => match trace::read(dir, &a.build_dir) {
                Ok(w) => w,
                Err(e) => {
                    let w = AuditWarning::TraceUnreadable {
                        error: e.to_string(),
                    };
                    self.progress.warn(&w.to_string());
                    warnings.push(w);
                    Default::default()
                }
            },
            None => Default::default(),
        };
        let sources = sources::locate(findings, &a.tree, &a.build_dir, &self.opts.source, &writers);
        Provenance { writers, sources }
    }

    /// Build every run: one after the other, or all at once with
    /// `--parallel`. Every tree is staged before any build starts: a file
    /// still open for writing in this process cannot be executed by a child
    /// forked meanwhile (ETXTBSY).
    fn build_all<E: Executor>(
        &self,
        executor: &E,
        specs: &[RunSpec],
    ) -> Result<Vec<Run>, AuditError> {
        if !self.opts.parallel {
            return specs.iter().map(|spec| executor.build(spec)).collect();
        }
        let staged = specs
            .iter()
            .map(|spec| executor.stage(spec))
            .collect::<Result<Vec<_>, AuditError>>()?;
        std::thread::scope(|scope| {
            let handles: Vec<_> = staged
                .into_iter()
                .zip(specs)
                .map(|(staged, spec)| (spec, scope.spawn(move || executor.execute(staged))))
                .collect();
            handles
                .into_iter()
                .map(|(spec, h)| {
                    h.join().unwrap_or_else(|_| {
                        Err(AuditError::BuildPanicked {
                            run: spec.label.clone(),
                        })
                    })
                })
                .collect()
        })
    }

    /// What to compare: every path a build created or changed, or, with
    /// `--output`, the paths matching the patterns in any run.
    fn outputs(&self, runs: &[Run]) -> BTreeSet<Vec<u8>> {
        if self.globs.is_empty() {
            return runs
                .iter()
                .flat_map(|r| r.changed.iter().cloned())
                .collect();
        }
        runs.iter()
            .flat_map(|r| r.tree.entries.keys())
            .filter(|rel| self.globs.iter().any(|g| g.matches(rel)))
            .cloned()
            .collect()
    }

    /// Compare run A's outputs with run B's and attribute what differs.
    fn compare(&self, a: &Run, b: &Run) -> Comparison {
        let latest = [a.real.1, b.real.1]
            .into_iter()
            .chain(b.fake_start.map(|s| s + (b.real.1 - b.real.0)))
            .max()
            .unwrap_or(a.real.1);
        let opts = DiffOptions {
            metadata: false,
            canaries: attribute::canaries(self.plan, a, b),
            now: latest,
            limits: self.opts.limits.clone(),
            ..DiffOptions::default()
        };
        let mut c = compare_trees(&a.tree, &b.tree, &opts);
        attribute::by_canary(&mut c.findings, self.plan, a, b);
        c
    }

    /// One bisect build varying `set`, compared with run A; `None` when it
    /// failed (a warning says so).
    fn probe<E: Executor>(
        &self,
        executor: &E,
        a: &Run,
        outputs: &BTreeSet<Vec<u8>>,
        set: &BTreeSet<Variation>,
        n: usize,
        warnings: &mut Vec<AuditWarning>,
    ) -> Result<Option<Vec<Finding>>, AuditError> {
        let spec = RunSpec {
            label: format!("bisect-{n}"),
            varied: set.clone(),
            variant: 1,
        };
        let names: Vec<&str> = set.iter().map(|v| v.name()).collect();
        self.progress.stage(format!(
            "bisecting: build {n} varies {{{}}}",
            names.join(", ")
        ));
        match executor.build(&spec) {
            Ok(mut run) => {
                let mut outputs = outputs.clone();
                outputs.extend(run.changed.iter().cloned());
                keep_outputs(&mut run, &outputs);
                executor.fetch(a, &run)?;
                let findings = self.compare(a, &run).findings;
                executor.discard(&run);
                Ok(Some(findings))
            }
            Err(AuditError::BuildFailed {
                run, status, log, ..
            }) => {
                let w = AuditWarning::BisectBuildFailed {
                    run,
                    status,
                    log: Text::new(log.as_os_str().as_encoded_bytes()),
                };
                self.progress.warn(&w.to_string());
                warnings.push(w);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The user's source tree must be exactly what was staged: a build that
    /// reached it through the sandbox is a loud error, not a report.
    fn check_source_unchanged(&self, runs: &[Run]) -> Result<(), AuditError> {
        let staged = runs[0].source_digest;
        let now = stage::source_digest(&self.opts.source).map_err(|source| AuditError::Source {
            path: self.opts.source.clone(),
            source,
        })?;
        if now != staged || runs.iter().any(|r| r.source_digest != staged) {
            return Err(AuditError::SourceChanged {
                path: self.opts.source.clone(),
            });
        }
        Ok(())
    }
}

fn check_interrupt() -> Result<(), AuditError> {
    if crate::interrupt::interrupted() {
        Err(AuditError::Interrupted)
    } else {
        Ok(())
    }
}

/// Keep only the outputs in a run's tree, and hash them.
fn keep_outputs(run: &mut Run, outputs: &BTreeSet<Vec<u8>>) {
    run.tree.entries.retain(|k, _| outputs.contains(k));
    let root = run.tree.root.clone();
    run.tree.unreadable.retain(|p| {
        p.path
            .strip_prefix(&root)
            .is_ok_and(|rel| outputs.contains(rel.as_os_str().as_encoded_bytes()))
    });
    run.tree.hash();
}

fn run_info(r: &Run) -> RunInfo {
    RunInfo {
        label: r.spec.label.clone(),
        build_dir: Text::new(r.build_dir.as_os_str().as_encoded_bytes()),
        varied: r.spec.varied.iter().copied().collect(),
        seconds: r.seconds,
        outputs: r.changed.len() as u64,
    }
}

/// `run A: /tmp/twice/build/src` and the same for run B.
fn info_inputs(info: &AuditInfo) -> Inputs<Text> {
    let side = |k: usize| {
        let r = &info.runs[k];
        let mut t = format!("run {}: ", r.label).into_bytes();
        t.extend_from_slice(&r.build_dir.0);
        Text::new(t)
    };
    Inputs {
        a: side(0),
        b: side(1),
    }
}
