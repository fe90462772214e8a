//! The top-level error: what stops a command, and the exit code it maps to.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input path that cannot be used at all.
    #[error("cannot read {}: {source}", path.display())]
    Input {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A top-level input that is neither a directory nor a regular file.
    #[error("cannot compare {}: not a regular file or directory (special files are never read)", path.display())]
    NotRegular { path: PathBuf },
    /// One input is a directory and the other a file.
    #[error("cannot compare {} with {}: the first is {a_is}, the second is {b_is}", a.display(), b.display())]
    Mismatch {
        a: PathBuf,
        b: PathBuf,
        a_is: &'static str,
        b_is: &'static str,
    },
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
    /// A build of an audit failed: exit code 3.
    #[error("build {run} failed ({status}); full log: {}\n--- last lines of the log ---\n{tail}", log.display())]
    BuildFailed {
        run: String,
        status: String,
        log: PathBuf,
        tail: String,
    },
    /// The sandbox or a tool it needs could not be set up.
    #[error("{message}")]
    Sandbox { message: String },
    /// Ctrl-C or SIGTERM: builds were killed and temporary files removed.
    #[error("interrupted; builds killed and sandboxes removed")]
    Interrupted,
    #[error("cannot start {threads} worker threads: {source}")]
    Threads {
        threads: usize,
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
    /// A build log that cannot be read or decoded.
    #[error(transparent)]
    Execlog(#[from] crate::execlog::ExeclogError),
}

impl Error {
    /// 2 for usage and input errors, 3 for a failed build, 130 when
    /// interrupted.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::BuildFailed { .. } => 3,
            Error::Interrupted => 130,
            Error::Input { .. }
            | Error::NotRegular { .. }
            | Error::Mismatch { .. }
            | Error::Usage { .. }
            | Error::Output { .. }
            | Error::Sandbox { .. }
            | Error::Threads { .. }
            | Error::Execlog(_) => 2,
        }
    }
}
