//! The audit part of a report: how the builds ran, what was varied or
//! skipped and why, what bisecting cost, and where the time went.

use std::fmt;

use serde::Serialize;

use crate::finding::{Text, Variation};

/// How an audit's builds ran.
#[derive(Clone, Debug, Serialize)]
pub struct AuditInfo {
    /// The `twice.toml` target audited, when one was named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub source: Text,
    pub command: Vec<Text>,
    pub sandbox: SandboxKind,
    pub variations: Vec<VariationStatus>,
    pub runs: Vec<RunInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bisect: Option<BisectInfo>,
    /// What the user should know besides the skipped variations.
    pub warnings: Vec<AuditWarning>,
    /// Where the sandboxes were kept (`--keep`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<Text>,
    pub timings: Timings,
}

impl AuditInfo {
    /// The variations applied in this audit.
    pub fn varied(&self) -> impl Iterator<Item = Variation> + '_ {
        self.variations
            .iter()
            .filter(|v| v.state == VariationState::Varied)
            .map(|v| v.variation)
    }
}

/// Where the builds ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxKind {
    Bubblewrap,
    /// Plain temporary directories.
    None,
}

impl fmt::Display for SandboxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SandboxKind::Bubblewrap => "bubblewrap",
            SandboxKind::None => "none",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VariationStatus {
    #[serde(rename = "name")]
    pub variation: Variation,
    #[serde(flatten)]
    pub state: VariationState,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum VariationState {
    Varied,
    Skipped { reasons: Vec<SkipReason> },
}

/// Why a requested variation was not applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SkipReason {
    /// Programs it needs are not installed.
    MissingTools { tools: Vec<MissingTool> },
    /// Setting it in the sandbox needs root.
    NeedsRoot,
    /// Only one CPU is available, so there is nothing to take away.
    SingleCpu,
    /// A locale could not be compiled.
    LocaleUnavailable { locale: String, error: String },
    /// libfaketime hangs rustc at start-up.
    RustBuild,
    /// FUSE (`/dev/fuse`) is missing or not usable by this user.
    NoFuse { error: String },
    /// The executor cannot apply it: remote workers would have to, and
    /// were not declared able to (`--remote-variations`); or no remote
    /// worker can (`declarable` false).
    NotOnThisExecutor { declarable: bool },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MissingTool {
    pub program: &'static str,
    pub package: &'static str,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::MissingTools { tools } => {
                f.write_str("needs ")?;
                for (i, t) in tools.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{} (package {})", t.program, t.package)?;
                }
                Ok(())
            }
            SkipReason::NeedsRoot => f.write_str("needs root (to set it inside the sandbox)"),
            SkipReason::SingleCpu => f.write_str("needs a second CPU"),
            SkipReason::LocaleUnavailable { locale, error } => {
                write!(f, "needs the {locale} locale ({error})")
            }
            SkipReason::NoFuse { error } => {
                write!(f, "needs FUSE: /dev/fuse cannot be opened ({error})")
            }
            SkipReason::NotOnThisExecutor { declarable: true } => f.write_str(
                "the remote workers must apply it: declare that they can with \
                 --remote-variations (see docs/remote.md)",
            ),
            SkipReason::NotOnThisExecutor { declarable: false } => {
                f.write_str("cannot be applied on a remote worker")
            }
            SkipReason::RustBuild => f.write_str(
                "not applied to Rust builds: libfaketime hangs rustc at start-up (the two runs' \
                 real clocks still differ)",
            ),
        }
    }
}

/// Something about the audit the user should know.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuditWarning {
    /// bubblewrap is missing: plain directories, network reachable.
    NoSandbox,
    /// No output to compare.
    NothingToCompare { globs: bool },
    /// Special files in the source tree were not staged.
    SpecialFilesSkipped { count: u64, first: Text },
    /// `--trace` was asked for and strace is not installed.
    TraceUnavailable,
    /// The trace could not be read.
    TraceUnreadable { error: String },
    /// A bisect build failed; its subset of variations tells nothing.
    BisectBuildFailed {
        run: String,
        status: String,
        log: Text,
    },
}

impl fmt::Display for AuditWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditWarning::NoSandbox => f.write_str(
                "bubblewrap not found: builds run in plain temporary directories, the network \
                 stays reachable and the build path cannot be held equal (apt install bubblewrap)",
            ),
            AuditWarning::NothingToCompare { globs: false } => f.write_str(
                "nothing to compare: the build created or changed no files in the source tree",
            ),
            AuditWarning::NothingToCompare { globs: true } => {
                f.write_str("nothing to compare: no file matches the --output patterns")
            }
            AuditWarning::TraceUnavailable => f.write_str(
                "--trace needs strace (apt install strace): the report names no actions",
            ),
            AuditWarning::TraceUnreadable { error } => {
                write!(f, "the trace of run A could not be read ({error})")
            }
            AuditWarning::SpecialFilesSkipped { count, first } => write!(
                f,
                "{count} special file(s) in the source tree not staged (first: {})",
                first.lossy()
            ),
            AuditWarning::BisectBuildFailed { run, status, log } => write!(
                f,
                "bisect build {run} failed ({status}, log {}); its subset tells nothing",
                log.lossy()
            ),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct RunInfo {
    pub label: String,
    /// The source tree's path as the build saw it.
    pub build_dir: Text,
    /// The variations set to their varied value in this run.
    pub varied: Vec<Variation>,
    pub seconds: f64,
    /// Files the build created or changed.
    pub outputs: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
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
