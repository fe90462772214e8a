//! The top-level error: what stops a command, and the exit code it maps to.
//! Each module has its own error type; this one wraps them.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A contradictory or incomplete set of options.
    #[error("{message}")]
    Usage { message: String },
    /// The report could not be written.
    #[error("cannot write the report to {}: {source}", path.display())]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start {threads} worker threads: {source}")]
    Threads {
        threads: usize,
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
    /// Ctrl-C, SIGTERM or SIGHUP.
    #[error("interrupted")]
    Interrupted,
    #[error("cannot install the signal handlers: {source}")]
    Signals {
        #[source]
        source: std::io::Error,
    },
    /// Errors already printed (targets that failed while others were
    /// reported); the exit code of the worst.
    #[error("{code}")]
    Reported { code: u8 },
    /// A bad twice.toml.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A bad or unwritable baseline file.
    #[error(transparent)]
    Baseline(#[from] crate::baseline::BaselineError),
    /// Two paths that cannot be compared.
    #[error(transparent)]
    Diff(#[from] crate::diff::DiffError),
    /// An audit that could not run to its end.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    /// A build log that cannot be read or decoded.
    #[error(transparent)]
    Execlog(#[from] crate::execlog::ExeclogError),
    /// A remote cluster that cannot be used, or a remote audit that could
    /// not run to its end.
    #[error(transparent)]
    Remote(#[from] crate::remote::RemoteAuditError),
    /// Re-executing logged actions could not run to its end.
    #[error(transparent)]
    Reexec(#[from] crate::remote::ReexecError),
    /// The history database cannot be used, or a report not imported.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// `history import`: some files were refused (each was named); the
    /// others were imported.
    #[error("{refused} of {files} report(s) not imported")]
    ImportIncomplete { refused: usize, files: usize },
}

impl Error {
    /// 2 for usage and input errors, 3 for a failed build, 130 when
    /// interrupted.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Audit(e) => e.exit_code(),
            Error::Remote(e) => e.exit_code(),
            Error::Reexec(e) => e.exit_code(),
            Error::Interrupted => 130,
            Error::Reported { code } => *code,
            Error::Usage { .. }
            | Error::Output { .. }
            | Error::Threads { .. }
            | Error::Signals { .. }
            | Error::Config(_)
            | Error::Baseline(_)
            | Error::Diff(_)
            | Error::Execlog(_)
            | Error::Store(_)
            | Error::ImportIncomplete { .. } => 2,
        }
    }
}
