//! `twice audit`: stage the source tree into sandboxes, build it under
//! deliberate variations, compare what the builds produced, and attribute
//! every difference to the variation that triggers it (canaries first,
//! then `--bisect` reruns).

mod attribute;
mod bisect;
mod glob;
mod progress;
mod sandbox;
mod variation;

pub use variation::{Variation, parse_vary};

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::Error;
use crate::classify::{Canaries, CanaryValue};
use crate::diff::{DiffOptions, compare_trees};
use crate::finding::{Text, sort_findings};
use crate::report::{Inputs, Report};
use crate::tree::{Tree, walk};
use glob::Glob;
use progress::Progress;
use sandbox::{Disorder, Ended, Tools, WorkDir};
use variation::{BWRAP, DISORDERFS, LOCALEDEF, SETARCH, TASKSET};

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
    pub strict: bool,
    pub quiet: bool,
}

/// The audit part of a report: how the builds ran and what was varied.
#[derive(Clone, Debug, Serialize)]
pub struct AuditInfo {
    pub source: Text,
    pub command: Vec<Text>,
    /// `bubblewrap`, or `none` (plain temporary directories).
    pub sandbox: &'static str,
    pub variations: Vec<VariationStatus>,
    pub runs: Vec<RunInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bisect: Option<BisectInfo>,
    pub warnings: Vec<String>,
    /// Where the sandboxes were kept (`--keep`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<Text>,
    pub timings: Timings,
}

#[derive(Clone, Debug, Serialize)]
pub struct VariationStatus {
    pub name: &'static str,
    /// `varied`, or `skipped` with the reason.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RunInfo {
    pub label: String,
    /// The source tree's path as the build saw it.
    pub build_dir: Text,
    /// The variations set to their varied value in this run.
    pub varied: Vec<&'static str>,
    pub seconds: f64,
    /// Files the build created or changed.
    pub outputs: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct BisectInfo {
    /// Extra builds run by --bisect (the control rerun included).
    pub builds: usize,
    pub pinned: u64,
    pub inherent: u64,
    pub unresolved: u64,
}

/// Seconds spent per stage: the builds, and `twice`'s own overhead.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Timings {
    pub staging: f64,
    pub builds: f64,
    pub hashing: f64,
    pub comparing: f64,
    pub bisect: f64,
}

/// The values one run sets, per variation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value {
    /// Not varied in this audit: the user's environment as it is.
    Inherit,
    /// Run A's value.
    Control,
    /// Variant `k` (run B is 1).
    Variant(usize),
}

/// One build to run: which variations take their varied value.
#[derive(Clone, Debug)]
pub(crate) struct RunSpec {
    label: String,
    varied: BTreeSet<Variation>,
    variant: usize,
}

/// A staged tree waiting for its build.
pub(crate) struct Staged {
    spec: RunSpec,
    dir: PathBuf,
    src: PathBuf,
    before: std::collections::BTreeMap<Vec<u8>, sandbox::Stamp>,
    stage_seconds: f64,
}

/// What a finished build left behind.
pub(crate) struct Run {
    spec: RunSpec,
    /// The staged tree on the host.
    src: PathBuf,
    /// The tree's path as the build saw it.
    build_dir: PathBuf,
    home: PathBuf,
    /// Paths the build created or changed.
    changed: Vec<Vec<u8>>,
    /// Every path in the tree after the build.
    present: Vec<Vec<u8>>,
    /// Real start and end, epoch seconds.
    real: (i64, i64),
    /// The faked clock at the build's start, when `time` was varied.
    fake_start: Option<i64>,
    /// The offsets from UTC (seconds) the build's local time may have had:
    /// its time zone's, or the host's when the time zone was not varied.
    utc_offsets: Vec<i64>,
    seconds: f64,
    stage_seconds: f64,
}

/// Run B's clock starts this long after run A's: years apart, and every
/// field of a calendar date differs.
const CLOCK_SHIFT: i64 = (3 * 365 + 47) * 86_400 + 5 * 3600 + 13 * 60 + 7;
const TIMEZONES: [&str; 4] = [
    "UTC",
    "Pacific/Kiritimati",
    "America/St_Johns",
    "Asia/Kathmandu",
];
const LOCALES: [&str; 4] = ["C.UTF-8", "fr_FR.UTF-8", "tr_TR.UTF-8", "de_DE.UTF-8"];
/// Where compiled locales appear inside the sandbox.
const SANDBOX_LOCALES: &str = "/tmp/twice/locales";
const UMASKS: [u32; 4] = [0o022, 0o002, 0o077, 0o027];

fn pick<T: Copy>(values: &[T], k: usize) -> T {
    values[k % values.len()]
}

pub(crate) struct Auditor {
    opts: AuditOptions,
    tools: Tools,
    work: WorkDir,
    active: BTreeSet<Variation>,
    statuses: Vec<VariationStatus>,
    warnings: Vec<String>,
    locale_dir: PathBuf,
    interrupted: Arc<AtomicBool>,
    progress: Progress,
    /// Epoch seconds when the audit started.
    started: i64,
    real_home: Option<PathBuf>,
    /// The host's offset from UTC now (`date +%z`), for builds that keep
    /// the user's time zone.
    host_offset: i64,
    globs: Vec<Glob>,
}

/// The listing printed by `--list-variations`.
pub fn list_variations() -> String {
    let tools = Tools::detect();
    let mut out =
        String::from("Variations (* in the default set; `--vary all` adds the rest):\n\n");
    for v in Variation::ALL {
        let needs: Vec<String> = v
            .needs()
            .iter()
            .map(|t| {
                let state = if tools.has(*t) { "found" } else { "missing" };
                format!("{} ({}, package {})", t.program, state, t.package)
            })
            .collect();
        out.push_str(&format!(
            "{} {:<11} {}\n",
            if v.in_default() { "*" } else { " " },
            v.name(),
            v.describe()
        ));
        if !needs.is_empty() {
            out.push_str(&format!("              needs: {}\n", needs.join(", ")));
        }
    }
    let sandbox = if tools.has(BWRAP) {
        "found"
    } else {
        "missing: builds run in plain temporary directories (apt install bubblewrap)"
    };
    out.push_str(&format!(
        "\nSandbox: bubblewrap ({sandbox}); without it hostname and domain are skipped, \
         the network stays reachable and the build path cannot be held equal.\n"
    ));
    out
}

/// Run an audit and build its report.
pub fn audit(opts: AuditOptions) -> Result<Report, Error> {
    let mut auditor = Auditor::new(opts)?;
    let result = auditor.run();
    if let Err(Error::BuildFailed { .. }) = &result {
        auditor.work.keep_logs();
    }
    result
}

impl Auditor {
    fn new(opts: AuditOptions) -> Result<Auditor, Error> {
        let meta = fs::metadata(&opts.source).map_err(|source| Error::Input {
            path: opts.source.clone(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(Error::Usage {
                message: format!(
                    "cannot audit {}: not a directory (pass the source tree with -C DIR)",
                    opts.source.display()
                ),
            });
        }
        if opts.command.is_empty() {
            return Err(Error::Usage {
                message: "no build command: give it after `--`, e.g. `twice audit -- make`"
                    .to_owned(),
            });
        }
        if opts.runs < 2 {
            return Err(Error::Usage {
                message: format!("--runs {}: an audit needs at least 2 runs", opts.runs),
            });
        }
        if opts.timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::Usage {
                message: "--timeout must be more than 0 seconds".to_owned(),
            });
        }
        let globs = opts
            .outputs
            .iter()
            .map(|p| Glob::new(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|message| Error::Usage { message })?;
        let interrupted = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(signal, Arc::clone(&interrupted)).map_err(|e| {
                Error::Sandbox {
                    message: format!("cannot install the Ctrl-C handler: {e}"),
                }
            })?;
        }
        let work = WorkDir::create(opts.keep).map_err(|e| Error::Sandbox {
            message: format!(
                "cannot create a work directory in {}: {e}",
                std::env::temp_dir().display()
            ),
        })?;
        let progress = Progress::new(opts.quiet);
        let mut auditor = Auditor {
            tools: Tools::detect(),
            locale_dir: sandbox::locale_cache(&work.root),
            work,
            active: BTreeSet::new(),
            statuses: Vec::new(),
            warnings: Vec::new(),
            interrupted,
            progress,
            started: crate::now(),
            real_home: std::env::var_os("HOME").map(PathBuf::from),
            host_offset: host_utc_offset(),
            globs,
            opts,
        };
        auditor.choose_variations()?;
        Ok(auditor)
    }

    fn warn(&mut self, message: String) {
        self.progress.warn(&message);
        self.warnings.push(message);
    }

    fn bwrap(&self) -> bool {
        self.tools.has(BWRAP)
    }

    /// Keep the requested variations whose tools are present; skip the rest
    /// with a warning naming the package (or fail with --strict).
    fn choose_variations(&mut self) -> Result<(), Error> {
        if !self.bwrap() {
            self.warn(
                "bubblewrap not found: builds run in plain temporary directories, the network \
                 stays reachable and the build path cannot be held equal (apt install bubblewrap)"
                    .to_owned(),
            );
        }
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        for v in self.opts.vary.clone() {
            let mut missing: Vec<String> = v
                .needs()
                .iter()
                .filter(|t| !self.tools.has(**t))
                .map(|t| format!("{} (package {})", t.program, t.package))
                .collect();
            if v == Variation::NumCpus && cpus < 2 {
                missing.push("a second CPU".to_owned());
            }
            if v == Variation::Domain && !is_root() {
                // setdomainname needs CAP_SYS_ADMIN, which bubblewrap keeps
                // only for root.
                missing.push("root (to set the domain name in the sandbox)".to_owned());
            }
            // libfaketime deadlocks rustc at start-up (its allocator reads
            // the clock before libfaketime is ready): a faked clock would
            // hang every Rust build.
            let rust = v == Variation::Time && self.rust_build();
            if v == Variation::Locale && missing.is_empty() {
                let localedef = self.tools.get(LOCALEDEF).map(Path::to_path_buf);
                for k in 1..self.opts.runs {
                    let name = pick(&LOCALES, k);
                    if let Some(l) = &localedef
                        && let Err(e) = sandbox::compile_locale(l, &self.locale_dir, name)
                    {
                        missing.push(format!("the {name} locale ({e})"));
                    }
                }
            }
            if missing.is_empty() && !rust {
                self.active.insert(v);
                self.statuses.push(VariationStatus {
                    name: v.name(),
                    status: "varied",
                    reason: None,
                });
                continue;
            }
            if rust {
                let reason = "not applied to Rust builds: libfaketime hangs rustc at start-up \
                              (the two runs' real clocks still differ)"
                    .to_owned();
                self.warn(format!("variation {v} skipped: {reason}"));
                self.statuses.push(VariationStatus {
                    name: v.name(),
                    status: "skipped",
                    reason: Some(reason),
                });
                continue;
            }
            let reason = format!("needs {}", missing.join(", "));
            if self.opts.strict {
                return Err(Error::Sandbox {
                    message: format!("variation {v} {reason} (--strict)"),
                });
            }
            self.warn(format!("variation {v} skipped: it {reason}"));
            self.statuses.push(VariationStatus {
                name: v.name(),
                status: "skipped",
                reason: Some(reason),
            });
        }
        Ok(())
    }

    /// A Cargo project, or a build run by cargo or rustc.
    fn rust_build(&self) -> bool {
        let program = self
            .opts
            .command
            .first()
            .and_then(|c| Path::new(c).file_name())
            .and_then(|n| n.to_str())
            .unwrap_or("");
        matches!(program, "cargo" | "rustc" | "cargo-build")
            || self.opts.source.join("Cargo.toml").is_file()
    }

    /// Where the build's local clock stood relative to UTC.
    fn utc_offsets(&self, spec: &RunSpec) -> Vec<i64> {
        let zone = match self.value(spec, Variation::Timezone) {
            Value::Inherit => return vec![self.host_offset],
            Value::Control => TIMEZONES[0],
            Value::Variant(k) => pick(&TIMEZONES, k),
        };
        match zone {
            "Pacific/Kiritimati" => vec![14 * 3600],
            // Newfoundland: standard and daylight time.
            "America/St_Johns" => vec![-(3 * 3600 + 1800), -(2 * 3600 + 1800)],
            "Asia/Kathmandu" => vec![5 * 3600 + 2700],
            _ => vec![0],
        }
    }

    fn value(&self, spec: &RunSpec, v: Variation) -> Value {
        if !self.active.contains(&v) {
            Value::Inherit
        } else if spec.varied.contains(&v) {
            Value::Variant(spec.variant)
        } else {
            Value::Control
        }
    }

    fn check_interrupt(&self) -> Result<(), Error> {
        if self.interrupted.load(std::sync::atomic::Ordering::SeqCst) {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }

    fn run(&mut self) -> Result<Report, Error> {
        let all: BTreeSet<Variation> = self.active.clone();
        let specs: Vec<RunSpec> = (0..self.opts.runs)
            .map(|k| RunSpec {
                label: run_label(k),
                varied: if k == 0 { BTreeSet::new() } else { all.clone() },
                variant: k.max(1),
            })
            .collect();
        let mut timings = Timings::default();
        let runs: Vec<Run> = if self.opts.parallel {
            let staged = specs
                .iter()
                .map(|spec| self.stage(spec))
                .collect::<Result<Vec<Staged>, Error>>()?;
            let this = &*self;
            std::thread::scope(|scope| {
                let handles: Vec<_> = staged
                    .into_iter()
                    .map(|staged| scope.spawn(move || this.execute(staged)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or(Err(Error::Interrupted)))
                    .collect::<Result<Vec<Run>, Error>>()
            })?
        } else {
            specs
                .iter()
                .map(|spec| self.build(spec))
                .collect::<Result<Vec<Run>, Error>>()?
        };
        for r in &runs {
            timings.builds += r.seconds;
            timings.staging += r.stage_seconds;
        }

        let outputs = self.outputs(&runs);
        if outputs.is_empty() {
            let what = if self.globs.is_empty() {
                "the build created or changed no files in the source tree"
            } else {
                "no file matches the --output patterns"
            };
            self.warn(format!("nothing to compare: {what}"));
        }
        self.progress.stage("hashing outputs");
        let t = Instant::now();
        let trees: Vec<Tree> = runs.iter().map(|r| output_tree(r, &outputs)).collect();
        timings.hashing = t.elapsed().as_secs_f64();
        self.check_interrupt()?;

        self.progress.stage("comparing");
        let t = Instant::now();
        let (a, rest) = runs.split_first().ok_or(Error::Interrupted)?;
        let mut report: Option<Report> = None;
        for (b, tb) in rest.iter().zip(&trees[1..]) {
            let mut r = self.compare(a, &trees[0], b, tb);
            attribute::by_canary(&mut r.findings, a, b, &self.active);
            report = Some(match report {
                None => r,
                Some(first) => merge(first, r),
            });
        }
        let mut report = report.ok_or(Error::Interrupted)?;
        timings.comparing = t.elapsed().as_secs_f64();

        let mut bisect_info = None;
        if self.opts.bisect {
            let t = Instant::now();
            let b = runs.get(1).ok_or(Error::Interrupted)?;
            bisect_info = Some(bisect::run(
                self,
                a,
                &trees[0],
                b,
                &outputs,
                &mut report.findings,
            )?);
            timings.bisect = t.elapsed().as_secs_f64();
        }
        let kept = self
            .opts
            .keep
            .then(|| Text::new(self.work.root.as_os_str().as_encoded_bytes()));
        report.command = "audit";
        report.audit = Some(AuditInfo {
            source: Text::new(self.opts.source.as_os_str().as_encoded_bytes()),
            command: self
                .opts
                .command
                .iter()
                .map(|c| Text::new(c.as_encoded_bytes()))
                .collect(),
            sandbox: if self.bwrap() { "bubblewrap" } else { "none" },
            variations: self.statuses.clone(),
            runs: runs
                .iter()
                .map(|r| RunInfo {
                    label: r.spec.label.clone(),
                    build_dir: Text::new(r.build_dir.as_os_str().as_encoded_bytes()),
                    varied: r.spec.varied.iter().map(|v| v.name()).collect(),
                    seconds: r.seconds,
                    outputs: r.changed.len() as u64,
                })
                .collect(),
            bisect: bisect_info,
            warnings: self.warnings.clone(),
            kept,
            timings,
        });
        Ok(report)
    }
}

fn timezone_name(v: Value) -> String {
    match v {
        Value::Variant(k) => pick(&TIMEZONES, k),
        _ => TIMEZONES[0],
    }
    .to_owned()
}

fn locale_name(v: Value) -> String {
    match v {
        Value::Variant(k) => pick(&LOCALES, k),
        _ => LOCALES[0],
    }
    .to_owned()
}

/// The umask as `umask` prints it.
fn umask_text(v: Value) -> String {
    let mask = match v {
        Value::Variant(k) => pick(&UMASKS, k),
        _ => UMASKS[0],
    };
    format!("{mask:04o}")
}

/// The local offset from UTC in seconds, as `date +%z` prints it (`+0100`).
fn host_utc_offset() -> i64 {
    let out = Command::new("date").arg("+%z").output();
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    parse_utc_offset(&text.unwrap_or_default()).unwrap_or(0)
}

fn parse_utc_offset(text: &str) -> Option<i64> {
    let (sign, digits) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = digits[2..].parse().ok()?;
    Some(sign * (hours * 3600 + minutes * 60))
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A run's sandbox could not be set up.
fn run_error(spec: &RunSpec, what: &str, e: std::io::Error) -> Error {
    Error::Sandbox {
        message: format!("run {}: cannot {what}: {e}", spec.label),
    }
}

fn run_label(k: usize) -> String {
    match u8::try_from(k) {
        Ok(k) if k < 26 => char::from(b'A' + k).to_string(),
        _ => format!("R{k}"),
    }
}

/// The walked and hashed outputs of one run.
fn output_tree(run: &Run, outputs: &BTreeSet<Vec<u8>>) -> Tree {
    let mut tree = walk(&run.src);
    tree.entries.retain(|k, _| outputs.contains(k));
    let root = run.src.clone();
    tree.problems.retain(|p| {
        p.path
            .strip_prefix(&root)
            .is_ok_and(|rel| outputs.contains(rel.as_os_str().as_encoded_bytes()))
    });
    tree.hash();
    tree
}

/// Fold the comparison of run A with a further run into the first report.
fn merge(mut first: Report, other: Report) -> Report {
    let known: BTreeSet<String> = first
        .artifacts
        .iter()
        .map(|a| a.artifact.to_string())
        .collect();
    let added: Vec<_> = other
        .artifacts
        .into_iter()
        .filter(|a| !known.contains(&a.artifact.to_string()))
        .collect();
    // Identical between A and B, different between A and this run.
    let no_longer_identical = added
        .iter()
        .filter(|a| a.a.is_some() && a.b.is_some())
        .count();
    first.summary.identical = first
        .summary
        .identical
        .saturating_sub(no_longer_identical as u64);
    first.artifacts.extend(added);
    first.artifacts.sort_by_key(|a| a.artifact.to_string());
    let seen: BTreeSet<_> = first.findings.iter().map(|f| f.fingerprint).collect();
    first.findings.extend(
        other
            .findings
            .into_iter()
            .filter(|f| !seen.contains(&f.fingerprint)),
    );
    sort_findings(&mut first.findings);
    first.problems.extend(other.problems);
    first.problems.sort();
    first.problems.dedup();
    first.summary.recount(&first.artifacts, &first.findings);
    first.refresh_verdict();
    first
}

impl Auditor {
    /// Stage, build and snapshot one run.
    fn build(&self, spec: &RunSpec) -> Result<Run, Error> {
        let staged = self.stage(spec)?;
        self.execute(staged)
    }

    /// Copy the source tree for `spec`. Every tree is staged before any
    /// build runs in parallel: a file still open for writing in this process
    /// cannot be executed by a child forked meanwhile (ETXTBSY).
    fn stage(&self, spec: &RunSpec) -> Result<Staged, Error> {
        self.check_interrupt()?;
        let dir = self.work.root.join(format!("run-{}", spec.label));
        let src = dir.join("src");
        let sandbox_err = |what: &str, e| run_error(spec, what, e);
        fs::create_dir_all(&dir).map_err(|e| sandbox_err("create its directory", e))?;
        self.progress.stage(format!("run {}: staging", spec.label));
        let t = Instant::now();
        let skipped = sandbox::stage(&self.opts.source, &src)
            .map_err(|(path, source)| Error::Input { path, source })?;
        if spec.label == "A" && !skipped.is_empty() {
            self.progress.warn(&format!(
                "{} special file(s) in the source tree not staged (first: {})",
                skipped.len(),
                skipped[0].display()
            ));
        }
        let stage_seconds = t.elapsed().as_secs_f64();
        let before = sandbox::snapshot(&src);
        Ok(Staged {
            spec: spec.clone(),
            dir,
            src,
            before,
            stage_seconds,
        })
    }

    /// Run the build of a staged tree and snapshot what it changed.
    fn execute(&self, staged: Staged) -> Result<Run, Error> {
        let Staged {
            spec,
            dir,
            src,
            before,
            stage_seconds,
        } = staged;
        let spec = &spec;
        let sandbox_err = |what: &str, e| run_error(spec, what, e);
        self.check_interrupt()?;
        let disorder = match self.value(spec, Variation::FileOrder) {
            Value::Inherit => None,
            value => {
                let disorderfs = self.tools.get(DISORDERFS).ok_or_else(|| {
                    sandbox_err("mount disorderfs", std::io::ErrorKind::NotFound.into())
                })?;
                let (reverse, shuffle) = match value {
                    Value::Variant(1) => (true, false),
                    Value::Variant(_) => (false, true),
                    _ => (false, false),
                };
                Some(
                    Disorder::mount(
                        disorderfs,
                        self.tools.unmount.as_deref(),
                        &src,
                        &dir.join("mnt"),
                        reverse,
                        shuffle,
                    )
                    .map_err(|e| sandbox_err("mount disorderfs over the staged tree", e))?,
                )
            }
        };
        let visible = disorder.as_ref().map_or(src.as_path(), Disorder::path);
        let (cmd, build_dir, home, clock_shift) = self
            .command(spec, &dir, visible)
            .map_err(|e| sandbox_err("prepare the sandbox", e))?;
        self.progress.stage(format!("run {}: building", spec.label));
        let log = self.work.logs().join(format!("run-{}.log", spec.label));
        let real_start = crate::now();
        let t = Instant::now();
        let ended = sandbox::run_logged(cmd, &log, self.opts.timeout, &self.interrupted)
            .map_err(|e| sandbox_err("start the build", e))?;
        let seconds = t.elapsed().as_secs_f64();
        let real_end = crate::now();
        drop(disorder);
        let failed = |status: String| Error::BuildFailed {
            run: spec.label.clone(),
            status,
            tail: sandbox::tail(&log, 20),
            log: log.clone(),
        };
        match ended {
            Ended::Exited(s) if s.success() => {}
            Ended::Exited(s) => return Err(failed(sandbox::describe_status(s))),
            Ended::TimedOut(d) => {
                return Err(failed(format!(
                    "killed after {} s (--timeout)",
                    d.as_secs_f64()
                )));
            }
            Ended::Interrupted => return Err(Error::Interrupted),
        }
        let after = sandbox::snapshot(&src);
        let present = after.keys().cloned().collect();
        Ok(Run {
            spec: spec.clone(),
            changed: sandbox::changed(&before, &after),
            present,
            src,
            build_dir,
            home,
            real: (real_start, real_end),
            fake_start: clock_shift.map(|shift| real_start + shift),
            utc_offsets: self.utc_offsets(spec),
            seconds,
            stage_seconds,
        })
    }

    /// The command line that runs the build for `spec`, with the tree
    /// visible at `visible` on the host; and the tree's and HOME's paths as
    /// the build sees them, and how far its clock is shifted.
    fn command(
        &self,
        spec: &RunSpec,
        dir: &Path,
        visible: &Path,
    ) -> std::io::Result<(Command, PathBuf, PathBuf, Option<i64>)> {
        let bwrap = self.tools.get(BWRAP);
        let value = |v| self.value(spec, v);
        let suffix = |v: Variation, name: &str| match value(v) {
            Value::Variant(k) => format!("{name}-variant-{k}"),
            _ => name.to_owned(),
        };
        let (build_dir, home) = match bwrap {
            Some(_) => (
                PathBuf::from("/tmp/twice")
                    .join(suffix(Variation::BuildPath, "build"))
                    .join("src"),
                PathBuf::from("/tmp/twice").join(suffix(Variation::Env, "home")),
            ),
            None => {
                let home = dir.join(suffix(Variation::Env, "home"));
                fs::create_dir_all(&home)?;
                (visible.to_path_buf(), home)
            }
        };
        let mut env: Vec<(&str, Option<OsString>)> = vec![
            ("HOME", Some(home.clone().into())),
            ("PWD", Some(build_dir.clone().into())),
        ];
        if bwrap.is_none() {
            let tmp = dir.join("tmp");
            fs::create_dir_all(&tmp)?;
            env.push(("TMPDIR", Some(tmp.into())));
        }
        // Toolchains found through HOME keep working with a private HOME.
        if let Some(real) = &self.real_home {
            for (var, sub) in [
                ("CARGO_HOME", ".cargo"),
                ("RUSTUP_HOME", ".rustup"),
                ("PYENV_ROOT", ".pyenv"),
            ] {
                if std::env::var_os(var).is_none() && real.join(sub).is_dir() {
                    env.push((var, Some(real.join(sub).into())));
                }
            }
        }
        let mut clock_shift = None;
        if let Value::Variant(k) = value(Variation::Time)
            && let Some(lib) = &self.tools.libfaketime
        {
            // A relative offset: an absolute start would be read in the
            // build's time zone, which another variation changes.
            let shift = CLOCK_SHIFT * i64::try_from(k).unwrap_or(1);
            clock_shift = Some(shift);
            let mut preload: OsString = lib.clone().into();
            if let Some(old) = std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
                preload.push(" ");
                preload.push(old);
            }
            env.push(("LD_PRELOAD", Some(preload)));
            env.push(("FAKETIME", Some(format!("+{shift}").into())));
            env.push(("NO_FAKE_STAT", Some("1".into())));
            env.push(("FAKETIME_DONT_FAKE_MONOTONIC", Some("1".into())));
        }
        match value(Variation::Timezone) {
            Value::Inherit => {}
            Value::Control => env.push(("TZ", Some(TIMEZONES[0].into()))),
            Value::Variant(k) => env.push(("TZ", Some(pick(&TIMEZONES, k).into()))),
        }
        match value(Variation::Locale) {
            Value::Inherit => {}
            Value::Control => {
                env.push(("LC_ALL", Some(LOCALES[0].into())));
                env.push(("LANG", Some(LOCALES[0].into())));
                env.push(("LANGUAGE", None));
            }
            Value::Variant(k) => {
                let name = pick(&LOCALES, k);
                env.push(("LC_ALL", Some(name.into())));
                env.push(("LANG", Some(name.into())));
                env.push(("LANGUAGE", Some(name[..2].into())));
                let locpath = if bwrap.is_some() {
                    PathBuf::from(SANDBOX_LOCALES)
                } else {
                    self.locale_dir.clone()
                };
                env.push(("LOCPATH", Some(locpath.into())));
            }
        }
        match value(Variation::Env) {
            Value::Inherit => {}
            v => {
                let user = attribute::user_name(v);
                env.push(("USER", Some(user.clone().into())));
                env.push(("LOGNAME", Some(user.into())));
                if let Value::Variant(k) = v {
                    env.push(("TWICE_AUDIT_NOISE", Some(attribute::noise(k).into())));
                }
            }
        }
        // The program run inside the sandbox.
        let mut argv: Vec<OsString> = Vec::new();
        let umask = match value(Variation::Umask) {
            Value::Inherit => None,
            Value::Control => Some(UMASKS[0]),
            Value::Variant(k) => Some(pick(&UMASKS, k)),
        };
        let domain = match value(Variation::Domain) {
            Value::Inherit => None,
            v => Some(attribute::domain_name(v)),
        };
        if umask.is_some() || domain.is_some() {
            let mut script = String::new();
            if let Some(u) = umask {
                script.push_str(&format!("umask {u:04o} && "));
            }
            if let (Some(d), Some(tool)) = (&domain, self.tools.get(variation::DOMAINNAME)) {
                script.push_str(&format!("{} {d} && ", tool.display()));
            }
            script.push_str("exec \"$@\"");
            argv.extend([
                "/bin/sh".into(),
                "-c".into(),
                script.into(),
                "twice-build".into(),
            ]);
        }
        if let (Value::Variant(_), Some(taskset)) =
            (value(Variation::NumCpus), self.tools.get(TASKSET))
        {
            argv.extend([taskset.into(), "-c".into(), "0".into()]);
        }
        if let (Value::Control, Some(setarch)) = (value(Variation::Aslr), self.tools.get(SETARCH)) {
            argv.extend([setarch.into(), "-R".into()]);
        }
        argv.extend(self.opts.command.iter().cloned());

        let cmd = match bwrap {
            Some(bwrap) => {
                let mut c = Command::new(bwrap);
                c.args(["--die-with-parent", "--unshare-pid"]);
                if !self.opts.network {
                    c.arg("--unshare-net");
                }
                let hostname = value(Variation::Hostname);
                if hostname != Value::Inherit || domain.is_some() {
                    c.arg("--unshare-uts");
                }
                if hostname != Value::Inherit {
                    c.arg("--hostname").arg(attribute::host_name(hostname));
                }
                c.args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]);
                c.args(["--tmpfs", "/tmp", "--tmpfs", "/dev/shm"]);
                c.arg("--bind").arg(visible).arg(&build_dir);
                if value(Variation::Locale) != Value::Inherit {
                    // The cache may live under the host's /tmp, which the
                    // sandbox replaces.
                    c.arg("--ro-bind")
                        .arg(&self.locale_dir)
                        .arg(SANDBOX_LOCALES);
                }
                c.arg("--dir").arg(&home);
                c.arg("--chdir").arg(&build_dir);
                for (k, v) in &env {
                    match v {
                        Some(v) => c.arg("--setenv").arg(k).arg(v),
                        None => c.arg("--unsetenv").arg(k),
                    };
                }
                c.arg("--").args(&argv);
                c
            }
            None => {
                let mut c = Command::new(&argv[0]);
                c.args(&argv[1..]).current_dir(&build_dir);
                for (k, v) in &env {
                    match v {
                        Some(v) => c.env(k, v),
                        None => c.env_remove(k),
                    };
                }
                c
            }
        };
        Ok((cmd, build_dir, home, clock_shift))
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
        let mut out = BTreeSet::new();
        for r in runs {
            for rel in &r.present {
                if self.globs.iter().any(|g| g.matches(rel)) {
                    out.insert(rel.clone());
                }
            }
        }
        out
    }

    fn canaries(&self, a: &Run, b: &Run) -> Canaries {
        let bytes = |p: &Path| p.as_os_str().as_encoded_bytes().to_vec();
        let roots =
            (a.build_dir != b.build_dir).then(|| (bytes(&a.build_dir), bytes(&b.build_dir)));
        let mut values = Vec::new();
        let mut push = |what: &'static str, x: Vec<u8>, y: Vec<u8>| {
            if x != y && !x.is_empty() && !y.is_empty() {
                values.push(CanaryValue { what, a: x, b: y });
            }
        };
        push("home", bytes(&a.home), bytes(&b.home));
        for (v, what, f) in [
            (
                Variation::Hostname,
                "hostname",
                attribute::host_name as fn(Value) -> String,
            ),
            (Variation::Domain, "domain", attribute::domain_name),
            (Variation::Env, "user", attribute::user_name),
            (Variation::Timezone, "time zone", timezone_name),
            (Variation::Locale, "locale", locale_name),
            (Variation::Umask, "umask", umask_text),
        ] {
            let (x, y) = (self.value(&a.spec, v), self.value(&b.spec, v));
            if x != Value::Inherit {
                push(what, f(x).into_bytes(), f(y).into_bytes());
            }
        }
        Canaries { roots, values }
    }

    /// Compare two runs' output trees.
    fn compare(&self, a: &Run, ta: &Tree, b: &Run, tb: &Tree) -> Report {
        let latest = [a.real.1, b.real.1]
            .into_iter()
            .chain(b.fake_start.map(|s| s + (b.real.1 - b.real.0)))
            .max()
            .unwrap_or(self.started);
        let opts = DiffOptions {
            metadata: false,
            canaries: self.canaries(a, b),
            now: latest,
            ..DiffOptions::default()
        };
        let side = |r: &Run| {
            let mut t = format!("run {}: ", r.spec.label).into_bytes();
            t.extend_from_slice(r.build_dir.as_os_str().as_encoded_bytes());
            Text::new(t)
        };
        let inputs = Inputs {
            a: side(a),
            b: side(b),
        };
        compare_trees(inputs, ta, tb, &opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_offsets_parse() {
        assert_eq!(parse_utc_offset("+0000"), Some(0));
        assert_eq!(parse_utc_offset("+1400"), Some(50_400));
        assert_eq!(parse_utc_offset("-0330"), Some(-12_600));
        assert_eq!(parse_utc_offset("UTC"), None);
        assert_eq!(parse_utc_offset("+14"), None);
    }
}
