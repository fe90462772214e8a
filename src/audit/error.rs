//! What stops an audit, with the run, the step and the underlying error.

use std::path::PathBuf;

use crate::finding::Variation;
use crate::report::SkipReason;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The options contradict each other or are incomplete.
    #[error("{message}")]
    Usage { message: String },
    /// The source tree cannot be used.
    #[error("cannot audit {}: {source}", path.display())]
    Source {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The source tree is not a directory.
    #[error("cannot audit {}: not a directory (pass the source tree with -C DIR)", path.display())]
    NotADirectory { path: PathBuf },
    /// A file of the source tree could not be copied into a run's sandbox.
    #[error("run {run}: cannot stage {}: {source}", path.display())]
    Stage {
        run: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The audit's own work directory could not be created.
    #[error("cannot create a work directory in {}: {source}", dir.display())]
    WorkDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The signal handlers could not be installed.
    #[error("cannot install the Ctrl-C handler: {source}")]
    Signals {
        #[source]
        source: std::io::Error,
    },
    /// A step of preparing or running one build's sandbox failed.
    #[error("run {run}: cannot {step}: {source}")]
    Sandbox {
        run: String,
        step: Step,
        #[source]
        source: std::io::Error,
    },
    /// `--strict`: a requested variation cannot be applied.
    #[error("variation {variation} {} (--strict)", reasons_text(reasons))]
    Unavailable {
        variation: Variation,
        reasons: Vec<SkipReason>,
    },
    /// A build of the audit failed: exit code 3.
    #[error("build {run} failed ({status}); full log: {}\n--- last lines of the log ---\n{tail}", log.display())]
    BuildFailed {
        run: String,
        status: String,
        log: PathBuf,
        tail: String,
    },
    /// The user's source tree changed while it was audited: a build reached
    /// it, or something else wrote to it meanwhile. The report would not
    /// describe the tree as it is, so there is none.
    #[error(
        "the source tree {} changed during the audit: its content now differs from what was \
         staged for the builds; no report is written (check what wrote to it: a build must \
         never reach the source tree)",
        path.display()
    )]
    SourceChanged { path: PathBuf },
    /// The thread running a build panicked.
    #[error("run {run}: the thread running the build panicked")]
    BuildPanicked { run: String },
    /// Ctrl-C or SIGTERM: builds were killed and temporary files removed.
    #[error("interrupted; builds killed and sandboxes removed")]
    Interrupted,
}

fn reasons_text(reasons: &[SkipReason]) -> String {
    let parts: Vec<String> = reasons.iter().map(ToString::to_string).collect();
    parts.join("; ")
}

/// The step of a build that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    CreateDirectory,
    MountDisorderfs,
    PrepareSandbox,
    StartBuild,
    ReadOutputs,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::CreateDirectory => "create its directory",
            Step::MountDisorderfs => "mount disorderfs over the staged tree",
            Step::PrepareSandbox => "prepare the sandbox",
            Step::StartBuild => "start the build",
            Step::ReadOutputs => "read what the build produced",
        })
    }
}

impl AuditError {
    /// 3 for a failed build, 130 when interrupted, 2 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            AuditError::BuildFailed { .. } => 3,
            AuditError::Interrupted => 130,
            _ => 2,
        }
    }
}
