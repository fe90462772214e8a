//! The history database: every recorded or imported audit, its differing
//! artifacts and its findings, in one SQLite file, and the queries
//! `twice history` and `twice report` run over it.
//!
//! One file, no server: `.twice/history.db` at the repository root by
//! default. The schema is versioned (`PRAGMA user_version`) and migrated
//! forward on open; a file a newer `twice` wrote is refused and left
//! untouched. WAL mode and a busy timeout let audits that finish at the
//! same moment both land. The latest runs may sit in `history.db-wal`
//! beside the file until SQLite's next checkpoint: copy or move the
//! `.twice` directory, not the file alone.

mod context;
mod error;
mod ingest;
mod queries;
mod read;
pub(crate) mod schema;
pub mod time;
mod wire;

pub use context::{GitFacts, RunContext, repository_root};
pub use error::{ImportErrorKind, StoreError};
pub use read::{
    Filter, Identities, RankRow, RunRef, RunSummary, Seek, SeriesRow, StatusCount, StoredRun,
    TrendCount,
};
pub use schema::{MIGRATIONS, Mode};

use std::path::{Path, PathBuf};

use rusqlite::{Connection, TransactionBehavior};
use serde_json::Value;

use ingest::{Fallback, Incoming};

/// Where the history lives unless told otherwise, relative to the
/// repository root.
pub const DEFAULT_PATH: &str = ".twice/history.db";

/// An open history.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// What `import` did with its files.
#[derive(Debug, Default)]
pub struct ImportOutcome {
    /// Runs added.
    pub imported: usize,
    /// Reports already in the history.
    pub duplicates: usize,
    /// Files that could not be imported, each with why.
    pub refused: Vec<StoreError>,
}

/// What `gc` removed.
#[derive(Clone, Copy, Debug, Default)]
pub struct GcOutcome {
    pub runs: usize,
    pub series: usize,
}

impl Store {
    /// Open (or, in [`Mode::Write`], create) the history at `path`.
    pub fn open(path: &Path, mode: Mode) -> Result<Store, StoreError> {
        Store::open_with(path, mode, schema::MIGRATIONS)
    }

    /// Open with another list of migrations (tests of future versions).
    #[doc(hidden)]
    pub fn open_with(path: &Path, mode: Mode, migrations: &[&str]) -> Result<Store, StoreError> {
        let conn = schema::open(path, mode, migrations)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version this `twice` writes.
    pub fn schema_version() -> i64 {
        schema::current_version()
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |e| StoreError::sql(&self.path, e)
    }

    /// Record a finished audit: `report` is its JSON report with its
    /// `context`. Returns the new run's id (`None`: already recorded).
    pub fn record(&mut self, report: Value) -> Result<Option<i64>, StoreError> {
        let fallback = Fallback {
            started_at: crate::clock::now(),
        };
        let incoming = ingest::parse_report(report, "recorded", &fallback).map_err(|kind| {
            StoreError::Import {
                path: "the audit's report".into(),
                kind,
            }
        })?;
        self.insert(&incoming)
    }

    /// Record an audit whose build failed (exit code 3) or that stopped
    /// with another error: no report, the error instead.
    pub fn record_failure(
        &mut self,
        context: &RunContext,
        command: Vec<String>,
        error: String,
        exit_code: u8,
    ) -> Result<Option<i64>, StoreError> {
        let incoming = ingest::failed_run(
            context,
            ingest::shell_join(command.into_iter()),
            error,
            exit_code,
        );
        self.insert(&incoming)
    }

    fn insert(&mut self, incoming: &Incoming) -> Result<Option<i64>, StoreError> {
        self.write(|tx, path| ingest::insert(tx, path, incoming))
    }

    /// Run `f` in one immediate transaction (the write lock taken at once,
    /// so two writers wait for each other instead of failing to upgrade).
    fn write<T>(
        &mut self,
        f: impl FnOnce(&rusqlite::Transaction<'_>, &Path) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        let sql = |e| StoreError::sql(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let out = f(&tx, &path)?;
        tx.commit().map_err(sql)?;
        Ok(out)
    }

    /// Import JSON audit reports written elsewhere (CI runners). Each file
    /// is one transaction; a file that is not a `twice` audit report of
    /// this schema version is refused and the others are still imported.
    pub fn import(&mut self, files: &[PathBuf]) -> Result<ImportOutcome, StoreError> {
        let mut outcome = ImportOutcome::default();
        for file in files {
            let refuse = |kind| StoreError::Import {
                path: file.clone(),
                kind,
            };
            let parsed = std::fs::read(file)
                .map_err(ImportErrorKind::Read)
                .and_then(|bytes| {
                    serde_json::from_slice::<Value>(&bytes).map_err(ImportErrorKind::NotJson)
                })
                .and_then(|value| {
                    let fallback = Fallback {
                        started_at: modified(file).unwrap_or_else(crate::clock::now),
                    };
                    let name = file.file_name().map_or_else(
                        || file.to_string_lossy().into_owned(),
                        |n| n.to_string_lossy().into_owned(),
                    );
                    ingest::parse_report(value, &format!("imported {name}"), &fallback)
                });
            match parsed {
                Err(kind) => outcome.refused.push(refuse(kind)),
                Ok(incoming) => match self.insert(&incoming)? {
                    Some(_) => outcome.imported += 1,
                    None => outcome.duplicates += 1,
                },
            }
        }
        Ok(outcome)
    }

    /// Remove runs that started before `cutoff`, and finding identities
    /// not seen since.
    pub fn gc(&mut self, cutoff: i64) -> Result<GcOutcome, StoreError> {
        self.write(|tx, path| {
            let sql = |e| StoreError::sql(path, e);
            let runs = tx.execute(queries::GC_RUNS, [cutoff]).map_err(sql)?;
            let series = tx.execute(queries::GC_SERIES, [cutoff]).map_err(sql)?;
            Ok(GcOutcome { runs, series })
        })
        .and_then(|gone| self.checkpoint().map(|()| gone))
    }

    /// Fold the write-ahead log into the file and empty it: afterwards the
    /// file alone holds the whole history (to copy it, say).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .map_err(self.sql())
    }
}

fn modified(path: &Path) -> Option<i64> {
    let t = std::fs::metadata(path).ok()?.modified().ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

/// The history file: `explicit` (`--history`) when given, else the
/// default location at the root of the repository around `dir`.
pub fn locate(explicit: Option<&Path>, dir: &Path) -> Result<PathBuf, StoreError> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    repository_root(&dir)
        .map(|root| root.join(DEFAULT_PATH))
        .ok_or(StoreError::NoRepository { dir })
}
