//! Typed reads over the history: what `twice history` lists and shows, and
//! the facts `twice report` builds its model from. Each method runs one
//! statement of [`super::queries`].

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::ingest::inflate;
use super::queries as q;
use super::{Store, StoreError};

/// Which targets a read covers: all, or those named.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    names: Option<String>,
}

impl Filter {
    pub fn targets(names: &[String]) -> Filter {
        Filter {
            names: (!names.is_empty())
                .then(|| serde_json::to_string(names).expect("a list of strings serializes")),
        }
    }
}

/// One line of `history list`.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    pub id: i64,
    pub started_at: i64,
    pub target: String,
    pub status: String,
    pub findings: u64,
    pub commit: Option<String>,
    pub branch: Option<String>,
    pub dirty: Option<bool>,
    pub seconds: f64,
    pub origin: String,
}

/// `history show`: the run and its stored report.
#[derive(Clone, Debug)]
pub struct StoredRun {
    pub summary: RunSummary,
    pub command: String,
    pub workdir: Option<String>,
    pub host: Option<String>,
    pub twice_version: String,
    pub exit_code: u8,
    pub bisect_builds: u64,
    pub bytes_changed: u64,
    pub error: Option<String>,
    /// Each requested variation and why it was skipped (`None`: varied).
    pub variations: Vec<(String, Option<String>)>,
    /// The JSON report as recorded or imported (`None` for a failed build).
    pub report: Option<serde_json::Value>,
}

/// A run, by id, time and commit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunRef {
    pub id: i64,
    pub started_at: i64,
    pub commit: Option<String>,
}

/// Which finding identities of a period to list.
#[derive(Clone, Copy, Debug)]
pub enum Identities {
    /// First seen in the period, by first sighting.
    New,
    /// Seen in `[since, from)` (the previous period) and in no run of the
    /// period, of targets with a completed run in it.
    Fixed { since: i64 },
    /// Present in some and absent in other completed runs of one target at
    /// one clean commit, most commits first.
    Flaky,
}

/// Which run of a target to find, from a time.
#[derive(Clone, Copy, Debug)]
pub enum Seek {
    LastBefore(i64),
    FirstAfter(i64),
}

/// Runs of one target with one status in a period.
#[derive(Clone, Debug)]
pub struct StatusCount {
    pub target: String,
    pub status: String,
    pub runs: u64,
    pub bytes_changed: f64,
    pub seconds: f64,
}

/// Completed and reproducible runs of one target in one time bucket.
#[derive(Clone, Debug)]
pub struct TrendCount {
    pub target: String,
    pub bucket: i64,
    pub completed: u64,
    pub reproducible: u64,
}

/// A finding identity (one fingerprint of one target).
#[derive(Clone, Debug)]
pub struct SeriesRow {
    pub id: i64,
    pub target: String,
    pub artifact: String,
    pub cause: String,
    /// The cause with its details, as JSON.
    pub detail: String,
    pub hint: String,
    pub first_at: i64,
    /// Last seen (for fixed findings: last seen before the period).
    pub last_at: i64,
    /// Flaky findings: commits where it came and went, runs that showed
    /// it and runs at those commits.
    pub flaky: Option<(u64, u64, u64)>,
}

/// A cause or attribution ranked by what it touches.
#[derive(Clone, Debug)]
pub struct RankRow {
    pub name: String,
    pub targets: u64,
    pub artifacts: u64,
    pub occurrences: u64,
    pub hint: String,
}

/// A count: SQLite integers are signed.
fn nat(r: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(u64::try_from(r.get::<_, i64>(i)?).unwrap_or(0))
}

fn summary(r: &Row<'_>) -> rusqlite::Result<RunSummary> {
    Ok(RunSummary {
        id: r.get(0)?,
        started_at: r.get(1)?,
        target: r.get(2)?,
        status: r.get(3)?,
        findings: nat(r, 4)?,
        commit: r.get(5)?,
        branch: r.get(6)?,
        dirty: r.get(7)?,
        seconds: r.get(8)?,
        origin: r.get(9)?,
    })
}

fn run_ref(r: &Row<'_>) -> rusqlite::Result<RunRef> {
    Ok(RunRef {
        id: r.get(0)?,
        started_at: r.get(1)?,
        commit: r.get(2)?,
    })
}

fn series(r: &Row<'_>) -> rusqlite::Result<SeriesRow> {
    Ok(SeriesRow {
        id: r.get(0)?,
        target: r.get(1)?,
        artifact: r.get(2)?,
        cause: r.get(3)?,
        detail: r.get(4)?,
        hint: r.get(5)?,
        first_at: r.get(6)?,
        last_at: r.get(7)?,
        flaky: None,
    })
}

fn rank(r: &Row<'_>) -> rusqlite::Result<RankRow> {
    Ok(RankRow {
        name: r.get(0)?,
        targets: nat(r, 1)?,
        artifacts: nat(r, 2)?,
        occurrences: r.get::<_, f64>(3)? as u64,
        hint: r.get(4)?,
    })
}

impl Store {
    /// Every row of `sql`.
    fn rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(self.sql())?;
        stmt.query_map(params, map)
            .and_then(Iterator::collect)
            .map_err(self.sql())
    }

    /// The first row of `sql`, if any.
    fn row<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        map: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>, StoreError> {
        self.conn
            .query_row(sql, params, map)
            .optional()
            .map_err(self.sql())
    }

    /// Runs in `[from, to)`, newest first, at most `limit`.
    pub fn list(
        &self,
        from: i64,
        to: i64,
        filter: &Filter,
        limit: u64,
    ) -> Result<Vec<RunSummary>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.rows(
            q::LIST_RUNS,
            params![from, to, filter.names, limit],
            summary,
        )
    }

    /// One run with its stored report.
    pub fn show(&self, id: i64) -> Result<StoredRun, StoreError> {
        let found = self.row(q::SHOW_RUN, [id], |r| {
            let run = StoredRun {
                summary: summary(r)?,
                command: r.get(10)?,
                workdir: r.get(11)?,
                host: r.get(12)?,
                twice_version: r.get(13)?,
                exit_code: r.get(14)?,
                bisect_builds: nat(r, 15)?,
                bytes_changed: nat(r, 16)?,
                error: r.get(17)?,
                variations: Vec::new(),
                report: None,
            };
            Ok((run, r.get::<_, Option<Vec<u8>>>(18)?))
        })?;
        let Some((mut run, blob)) = found else {
            return Err(StoreError::NoSuchRun {
                path: self.path.clone(),
                id,
            });
        };
        let damaged = |reason: String| StoreError::StoredReport {
            path: self.path.clone(),
            id,
            reason,
        };
        if let Some(blob) = blob {
            let json = inflate(&blob).map_err(|e| damaged(e.to_string()))?;
            run.report = Some(serde_json::from_slice(&json).map_err(|e| damaged(e.to_string()))?);
        }
        run.variations = self.rows(q::SHOW_VARIATIONS, [id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(run)
    }

    /// Runs per target and status in `[from, to)`.
    pub fn period_stats(
        &self,
        from: i64,
        to: i64,
        filter: &Filter,
    ) -> Result<Vec<StatusCount>, StoreError> {
        self.rows(q::PERIOD_STATS, params![from, to, filter.names], |r| {
            Ok(StatusCount {
                target: r.get(0)?,
                status: r.get(1)?,
                runs: nat(r, 2)?,
                bytes_changed: r.get(3)?,
                seconds: r.get(4)?,
            })
        })
    }

    /// Completed and reproducible runs per target and bucket of `bucket`
    /// seconds from `from`.
    pub fn trend(
        &self,
        from: i64,
        to: i64,
        filter: &Filter,
        bucket: i64,
    ) -> Result<Vec<TrendCount>, StoreError> {
        self.rows(q::TREND, params![from, to, filter.names, bucket], |r| {
            Ok(TrendCount {
                target: r.get(0)?,
                bucket: r.get(1)?,
                completed: nat(r, 2)?,
                reproducible: nat(r, 3)?,
            })
        })
    }

    /// A target's latest completed run before `before`, with its status.
    pub fn latest_completed(
        &self,
        target: &str,
        before: i64,
    ) -> Result<Option<(RunRef, String)>, StoreError> {
        self.row(q::LATEST_COMPLETED, params![target, before], |r| {
            Ok((
                RunRef {
                    id: r.get(0)?,
                    started_at: r.get(1)?,
                    commit: r.get(3)?,
                },
                r.get(2)?,
            ))
        })
    }

    /// A target's run with `status`: the last before, or the first after,
    /// a time.
    pub fn run_with_status(
        &self,
        target: &str,
        status: &str,
        seek: Seek,
    ) -> Result<Option<RunRef>, StoreError> {
        let (sql, at) = match seek {
            Seek::LastBefore(at) => (q::LAST_WITH_STATUS, at),
            Seek::FirstAfter(at) => (q::FIRST_WITH_STATUS_AFTER, at),
        };
        self.row(sql, params![target, status, at], run_ref)
    }

    /// A target's first completed run after `after`.
    pub fn first_completed_after(
        &self,
        target: &str,
        after: i64,
    ) -> Result<Option<RunRef>, StoreError> {
        self.row(q::FIRST_COMPLETED_AFTER, params![target, after], run_ref)
    }

    /// Finding identities of `[from, to)` of one kind (see [`Identities`]):
    /// how many, and the first `limit`.
    pub fn identities(
        &self,
        which: Identities,
        from: i64,
        to: i64,
        filter: &Filter,
        limit: usize,
    ) -> Result<(u64, Vec<SeriesRow>), StoreError> {
        let f = &filter.names;
        match which {
            Identities::New => self.capped(q::NEW_SERIES, params![from, to, f], limit, series),
            Identities::Fixed { since } => {
                self.capped(q::FIXED_SERIES, params![since, from, to, f], limit, series)
            }
            Identities::Flaky => self.capped(q::FLAKY_SERIES, params![from, to, f], limit, |r| {
                let mut s = series(r)?;
                s.flaky = Some((nat(r, 8)?, nat(r, 9)?, nat(r, 10)?));
                Ok(s)
            }),
        }
    }

    /// How often an identity showed in `[from, to)`, and its latest
    /// attribution there.
    pub fn series_in_period(
        &self,
        id: i64,
        from: i64,
        to: i64,
    ) -> Result<(u64, Option<String>), StoreError> {
        // An aggregate without GROUP BY: always one row.
        self.row(q::SERIES_IN_PERIOD, params![id, from, to], |r| {
            Ok((nat(r, 0)?, r.get(1)?))
        })
        .map(Option::unwrap_or_default)
    }

    /// The first run that showed an identity.
    pub fn series_first_run(&self, id: i64) -> Result<Option<RunRef>, StoreError> {
        self.row(q::SERIES_FIRST_RUN, [id], run_ref)
    }

    /// The last run before `before` that showed an identity.
    pub fn series_last_run_before(
        &self,
        id: i64,
        before: i64,
    ) -> Result<Option<RunRef>, StoreError> {
        self.row(q::SERIES_LAST_RUN_BEFORE, params![id, before], run_ref)
    }

    /// Causes in `[from, to)` with what they touch.
    pub fn causes(&self, from: i64, to: i64, filter: &Filter) -> Result<Vec<RankRow>, StoreError> {
        self.rows(q::CAUSES, params![from, to, filter.names], rank)
    }

    /// Attributions in `[from, to)` with what they touch.
    pub fn variations(
        &self,
        from: i64,
        to: i64,
        filter: &Filter,
    ) -> Result<Vec<RankRow>, StoreError> {
        self.rows(q::VARIATIONS, params![from, to, filter.names], rank)
    }

    /// The `limit` longest audits in `[from, to)`.
    pub fn slowest(
        &self,
        from: i64,
        to: i64,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<RunSummary>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.rows(q::SLOWEST, params![from, to, filter.names, limit], summary)
    }

    /// Every row of `sql` counted, the first `limit` kept: memory stays
    /// bounded however many match.
    fn capped<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        limit: usize,
        map: impl Fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<(u64, Vec<T>), StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(self.sql())?;
        let mut rows = stmt.query(params).map_err(self.sql())?;
        let mut total = 0;
        let mut kept = Vec::new();
        while let Some(row) = rows.next().map_err(self.sql())? {
            total += 1;
            if kept.len() < limit {
                kept.push(map(row).map_err(self.sql())?);
            }
        }
        Ok((total, kept))
    }
}
