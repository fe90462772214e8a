//! What stops the history store: a database that cannot be opened, that a
//! newer `twice` wrote, that is corrupt, or a report that cannot be read.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No history file where one was expected (report, list, show).
    #[error(
        "no history at {}: record audits with `twice audit --record` or import reports with \
         `twice history import`",
        path.display()
    )]
    Missing { path: PathBuf },
    /// The default location needs a repository to live in.
    #[error(
        "no repository above {}: the history lives in .twice/history.db at the repository \
         root; pass --history FILE",
        dir.display()
    )]
    NoRepository { dir: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the history directory {}: {source}", dir.display())]
    CreateDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A newer `twice` wrote the database; it is left as it is.
    #[error(
        "{} was written by a newer twice (history schema {found}; this twice reads up to \
         {supported}): upgrade twice; the file was not modified",
        path.display()
    )]
    Newer {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// A file that is not a `twice` history (another SQLite database, or
    /// not SQLite at all).
    #[error("{} is not a twice history database ({what})", path.display())]
    Foreign { path: PathBuf, what: &'static str },
    /// SQLite found the file damaged (truncated, overwritten).
    #[error(
        "{} is corrupt ({source}): restore it from a backup or move it away to start a new history",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// Any other database error (locked for longer than the busy timeout,
    /// disk full, permissions).
    #[error("history {}: {source}", path.display())]
    Sql {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("history {}: run {id} does not exist", path.display())]
    NoSuchRun { path: PathBuf, id: i64 },
    /// A file given to `history import` that cannot be imported; the
    /// other files still are.
    #[error("{}: {kind}", path.display())]
    Import {
        path: PathBuf,
        kind: ImportErrorKind,
    },
    /// A stored report that cannot be decompressed or decoded.
    #[error("history {}: the stored report of run {id} is damaged: {reason}", path.display())]
    StoredReport {
        path: PathBuf,
        id: i64,
        reason: String,
    },
}

/// Why a report file was not imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportErrorKind {
    #[error("cannot read it: {0}")]
    Read(#[source] std::io::Error),
    #[error("not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("not a twice report (no `tool.name` \"twice\")")]
    NotTwice,
    #[error(
        "report schema version {found} cannot be imported (this twice imports version {supported})"
    )]
    SchemaVersion { found: u64, supported: u32 },
    #[error("a `twice {command}` report: only audit reports can be imported")]
    NotAnAudit { command: String },
    #[error("not a valid twice audit report: {0}")]
    Shape(#[source] serde_json::Error),
    #[error("bad `context.started_at` {value:?}: expected YYYY-MM-DDTHH:MM:SSZ")]
    BadDate { value: String },
}

impl StoreError {
    /// Wrap a SQLite error: damage and foreign files get their own message.
    pub(crate) fn sql(path: &std::path::Path, source: rusqlite::Error) -> StoreError {
        use rusqlite::ErrorCode;
        let path = path.to_path_buf();
        match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt { path, source },
            Some(ErrorCode::NotADatabase) => StoreError::Foreign {
                path,
                what: "not an SQLite database",
            },
            _ => StoreError::Sql { path, source },
        }
    }
}
