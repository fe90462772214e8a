//! The database layout, its versions and how a file is opened: refused
//! when a newer `twice` wrote it or it is not a history, migrated
//! forward otherwise, in WAL mode with a busy timeout so that audits
//! recording at the same moment wait for each other instead of failing.

use std::path::Path;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::StoreError;

/// `PRAGMA application_id` of a history: "twiH".
pub const APPLICATION_ID: i64 = 0x7477_6948;

/// How long a writer waits for another one before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Migration `i` takes a database from version `i` to `i + 1`; the
/// version is `PRAGMA user_version`. Append, never edit: a file written by
/// this release must open in every later one.
pub const MIGRATIONS: &[&str] = &[SCHEMA_1];

/// The schema version this `twice` writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Version 1.
///
/// `runs`: one row per audit (recorded or imported); `key` is the digest of
/// the canonical report, so importing a report twice adds nothing.
/// `series`: one row per finding identity per target (its fingerprint), with
/// the first and last time it was seen; `occurrences`: which runs showed it
/// and what its attribution was there. Findings are stored once per
/// identity, not once per run: the history holds millions of occurrences.
const SCHEMA_1: &str = "
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    key           BLOB    NOT NULL UNIQUE,
    started_at    INTEGER NOT NULL,
    seconds       REAL    NOT NULL,
    target        TEXT    NOT NULL,
    command       TEXT    NOT NULL,
    workdir       TEXT,
    git_commit    TEXT,
    git_branch    TEXT,
    git_dirty     INTEGER,
    host          TEXT,
    twice_version TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    exit_code     INTEGER NOT NULL,
    bisect_builds INTEGER NOT NULL,
    findings      INTEGER NOT NULL,
    bytes_changed INTEGER NOT NULL,
    origin        TEXT    NOT NULL,
    error         TEXT,
    report        BLOB
);
CREATE INDEX runs_by_time ON runs (started_at);
CREATE INDEX runs_by_target ON runs (target, started_at);
CREATE INDEX runs_by_status ON runs (target, status, started_at);

CREATE TABLE run_variations (
    run       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    variation TEXT    NOT NULL,
    skipped   TEXT,
    PRIMARY KEY (run, variation)
) WITHOUT ROWID;

CREATE TABLE artifacts (
    run      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    path     TEXT    NOT NULL,
    format   TEXT,
    digest_a TEXT,
    digest_b TEXT,
    size_a   INTEGER,
    size_b   INTEGER,
    PRIMARY KEY (run, path)
) WITHOUT ROWID;

CREATE TABLE series (
    id          INTEGER PRIMARY KEY,
    target      TEXT    NOT NULL,
    fingerprint BLOB    NOT NULL,
    artifact    TEXT    NOT NULL,
    cause       TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    hint        TEXT    NOT NULL,
    first_at    INTEGER NOT NULL,
    last_at     INTEGER NOT NULL,
    UNIQUE (target, fingerprint)
);
CREATE INDEX series_by_first ON series (first_at);
CREATE INDEX series_by_last ON series (last_at);

CREATE TABLE occurrences (
    run           INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    series        INTEGER NOT NULL REFERENCES series (id) ON DELETE CASCADE,
    variation     TEXT    NOT NULL,
    attributed_by TEXT,
    PRIMARY KEY (run, series)
) WITHOUT ROWID;
CREATE INDEX occurrences_by_series ON occurrences (series, run);
";

/// How to open a history file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Create it (and its directory) when missing; migrate it forward.
    Write,
    /// It must exist; it is migrated forward when older.
    Read,
}

/// Open `path` and bring it to the current schema with `migrations`.
pub(crate) fn open(path: &Path, mode: Mode, migrations: &[&str]) -> Result<Connection, StoreError> {
    let sql = |e| StoreError::sql(path, e);
    let exists = path.exists();
    if mode == Mode::Read && !exists {
        return Err(StoreError::Missing {
            path: path.to_path_buf(),
        });
    }
    if exists {
        check_header(path)?;
    } else if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_dir(dir)?;
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(sql)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
    // Read before anything writes: a newer file is never touched.
    let (version, app) = identity(&conn).map_err(sql)?;
    check_identity(path, &conn, version, app, migrations.len() as i64)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sql)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sql)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(sql)?;
    // Closing would copy the log into the database and sync it: tens of
    // milliseconds added to every recorded audit. SQLite checkpoints by
    // itself once the log holds 1,000 pages, and `gc` does; until then the
    // latest runs live in `history.db-wal` beside the file.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
        .map_err(sql)?;
    if version < migrations.len() as i64 {
        migrate(&mut conn, path, migrations)?;
    }
    Ok(conn)
}

fn identity(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    let version = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let app = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    Ok((version, app))
}

fn check_identity(
    path: &Path,
    conn: &Connection,
    version: i64,
    app: i64,
    supported: i64,
) -> Result<(), StoreError> {
    let foreign = |what| {
        Err(StoreError::Foreign {
            path: path.to_path_buf(),
            what,
        })
    };
    if app != 0 && app != APPLICATION_ID {
        return foreign("an SQLite database of another application");
    }
    if version > supported {
        return Err(StoreError::Newer {
            path: path.to_path_buf(),
            found: version,
            supported,
        });
    }
    if version == 0 {
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| StoreError::sql(path, e))?;
        if tables > 0 {
            return foreign("an SQLite database with other tables");
        }
    }
    Ok(())
}

/// Create the history's directory. A new `.twice` directory gets a
/// `.gitignore` that keeps it out of version control: a committed history
/// would make every recorded tree dirty.
fn create_dir(dir: &Path) -> Result<(), StoreError> {
    let err = |source| StoreError::CreateDir {
        dir: dir.to_path_buf(),
        source,
    };
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(err)?;
    if dir.file_name().is_some_and(|n| n == ".twice") {
        std::fs::write(
            dir.join(".gitignore"),
            "# Written by twice: the history stays out of version control.\n*\n",
        )
        .map_err(err)?;
    }
    Ok(())
}

/// The first bytes of an SQLite file; anything else is not opened at all.
fn check_header(path: &Path) -> Result<(), StoreError> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let read_err = |source| StoreError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_err(e)),
        }
    }
    match n {
        // An empty file is a new database to SQLite.
        0 => Ok(()),
        16 if &head == b"SQLite format 3\0" => Ok(()),
        _ => Err(StoreError::Foreign {
            path: path.to_path_buf(),
            what: "not an SQLite database",
        }),
    }
}

/// Apply the missing migrations in one immediate transaction. Another
/// process may have migrated meanwhile: the version is read again inside.
fn migrate(conn: &mut Connection, path: &Path, migrations: &[&str]) -> Result<(), StoreError> {
    let sql = |e| StoreError::sql(path, e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql)?;
    let (version, app) = identity(&tx).map_err(sql)?;
    check_identity(path, &tx, version, app, migrations.len() as i64)?;
    let from = usize::try_from(version).unwrap_or(0);
    for step in migrations.iter().skip(from) {
        tx.execute_batch(step).map_err(sql)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(sql)?;
    tx.pragma_update(None, "user_version", migrations.len() as i64)
        .map_err(sql)?;
    tx.commit().map_err(sql)
}
