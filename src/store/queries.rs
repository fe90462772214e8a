//! Every statement the store runs, by name. Each one that reads or
//! deletes rows is answered through an index: `tests::every_query_uses_an_index`
//! checks the plan of each against the schema.
//!
//! A target filter is `?N`: `NULL` for all targets, or a JSON array of
//! names (`json_each`), so the statements stay fixed text.

pub const INSERT_RUN: &str = "
INSERT INTO runs (key, started_at, seconds, target, command, workdir, git_commit, git_branch,
                  git_dirty, host, twice_version, status, exit_code, bisect_builds, findings,
                  bytes_changed, origin, error, report)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
ON CONFLICT (key) DO NOTHING
RETURNING id";

pub const INSERT_VARIATION: &str =
    "INSERT OR IGNORE INTO run_variations (run, variation, skipped) VALUES (?1, ?2, ?3)";

pub const INSERT_ARTIFACT: &str = "
INSERT OR IGNORE INTO artifacts (run, path, format, digest_a, digest_b, size_a, size_b)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// One identity per target and fingerprint; first and last seen widen to
/// include this run (imports arrive in any order).
pub const UPSERT_SERIES: &str = "
INSERT INTO series (target, fingerprint, artifact, cause, detail, hint, first_at, last_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
ON CONFLICT (target, fingerprint) DO UPDATE
    SET first_at = min(first_at, excluded.first_at), last_at = max(last_at, excluded.last_at)
RETURNING id";

pub const INSERT_OCCURRENCE: &str = "
INSERT OR IGNORE INTO occurrences (run, series, variation, attributed_by) VALUES (?1, ?2, ?3, ?4)";

/// `history list`: newest first.
pub const LIST_RUNS: &str = "
SELECT id, started_at, target, status, findings, git_commit, git_branch, git_dirty, seconds, origin
FROM runs
WHERE started_at >= ?1 AND started_at < ?2
  AND (?3 IS NULL OR target IN (SELECT value FROM json_each(?3)))
ORDER BY started_at DESC, id DESC
LIMIT ?4";

/// `history show`.
pub const SHOW_RUN: &str = "
SELECT id, started_at, target, status, findings, git_commit, git_branch, git_dirty, seconds, origin,
       command, workdir, host, twice_version, exit_code, bisect_builds, bytes_changed, error, report
FROM runs WHERE id = ?1";

pub const SHOW_VARIATIONS: &str =
    "SELECT variation, skipped FROM run_variations WHERE run = ?1 ORDER BY variation";

/// `history gc`: runs before the cut-off (their artifacts, variations and
/// occurrences go with them), then identities last seen before it.
pub const GC_RUNS: &str = "DELETE FROM runs WHERE started_at < ?1";
pub const GC_SERIES: &str = "DELETE FROM series WHERE last_at < ?1";

/// Runs, reproducible runs, bytes changed and seconds per target and status
/// in `[?1, ?2)`.
pub const PERIOD_STATS: &str = "
SELECT target, status, count(*), total(bytes_changed), total(seconds)
FROM runs
WHERE started_at >= ?1 AND started_at < ?2
  AND (?3 IS NULL OR target IN (SELECT value FROM json_each(?3)))
GROUP BY target, status";

/// Completed and reproducible runs per target and bucket of `?4` seconds.
pub const TREND: &str = "
SELECT target, (started_at - ?1) / ?4 AS bucket,
       sum(status IN ('identical', 'differs')), sum(status = 'identical')
FROM runs
WHERE started_at >= ?1 AND started_at < ?2
  AND (?3 IS NULL OR target IN (SELECT value FROM json_each(?3)))
GROUP BY target, bucket";

/// A target's latest completed run before `?2`.
pub const LATEST_COMPLETED: &str = "
SELECT id, started_at, status, git_commit
FROM runs
WHERE target = ?1 AND started_at < ?2 AND status IN ('identical', 'differs')
ORDER BY started_at DESC, id DESC
LIMIT 1";

/// A target's latest run with status `?2` before `?3`.
pub const LAST_WITH_STATUS: &str = "
SELECT id, started_at, git_commit
FROM runs
WHERE target = ?1 AND status = ?2 AND started_at < ?3
ORDER BY started_at DESC, id DESC
LIMIT 1";

/// A target's first run with status `?2` after `?3`.
pub const FIRST_WITH_STATUS_AFTER: &str = "
SELECT id, started_at, git_commit
FROM runs
WHERE target = ?1 AND status = ?2 AND started_at > ?3
ORDER BY started_at, id
LIMIT 1";

/// A target's first completed run after `?2`.
pub const FIRST_COMPLETED_AFTER: &str = "
SELECT id, started_at, git_commit
FROM runs
WHERE target = ?1 AND started_at > ?2 AND status IN ('identical', 'differs')
ORDER BY started_at, id
LIMIT 1";

/// Identities first seen in `[?1, ?2)`.
pub const NEW_SERIES: &str = "
SELECT id, target, artifact, cause, detail, hint, first_at, last_at
FROM series
WHERE first_at >= ?1 AND first_at < ?2
  AND (?3 IS NULL OR target IN (SELECT value FROM json_each(?3)))
ORDER BY first_at, id";

/// Identities seen in the previous period `[?1, ?2)`, in no run of the
/// period `[?2, ?3)`, of targets with a completed run in the period, with
/// when each was last seen. Driven by the previous period's runs (`CROSS
/// JOIN` keeps that order): never by all the history of a target.
pub const FIXED_SERIES: &str = "
WITH before AS MATERIALIZED (
    SELECT o.series AS id, max(r.started_at) AS last
    FROM runs r JOIN occurrences o ON o.run = r.id
    WHERE r.started_at >= ?1 AND r.started_at < ?2
    GROUP BY o.series
), now AS MATERIALIZED (
    SELECT DISTINCT o.series AS id
    FROM runs r JOIN occurrences o ON o.run = r.id
    WHERE r.started_at >= ?2 AND r.started_at < ?3
), active AS MATERIALIZED (
    SELECT DISTINCT target
    FROM runs
    WHERE started_at >= ?2 AND started_at < ?3 AND status IN ('identical', 'differs')
)
SELECT s.id, s.target, s.artifact, s.cause, s.detail, s.hint, s.first_at, b.last
FROM before b CROSS JOIN series s ON s.id = b.id
WHERE s.target IN active
  AND b.id NOT IN now
  AND (?4 IS NULL OR s.target IN (SELECT value FROM json_each(?4)))
ORDER BY s.target, s.artifact, s.id";

/// Identities present in some and absent in other completed runs of one
/// target at one clean commit, in `[?1, ?2)`: how many such commits, and
/// the runs with it out of the runs at those commits.
pub const FLAKY_SERIES: &str = "
WITH p AS MATERIALIZED (
    SELECT id, target, git_commit
    FROM runs
    WHERE started_at >= ?1 AND started_at < ?2
      AND git_commit IS NOT NULL AND git_dirty = 0
      AND status IN ('identical', 'differs')
      AND (?3 IS NULL OR target IN (SELECT value FROM json_each(?3)))
), per_commit AS (
    SELECT target, git_commit, count(*) AS n FROM p GROUP BY target, git_commit HAVING count(*) > 1
), hits AS (
    SELECT p.target, p.git_commit, o.series, count(*) AS k
    FROM p JOIN occurrences o ON o.run = p.id
    GROUP BY p.target, p.git_commit, o.series
)
SELECT s.id, s.target, s.artifact, s.cause, s.detail, s.hint, s.first_at, s.last_at,
       count(*), sum(h.k), sum(c.n)
FROM hits h
JOIN per_commit c ON c.target = h.target AND c.git_commit = h.git_commit
JOIN series s ON s.id = h.series
WHERE h.k < c.n
GROUP BY s.id
ORDER BY count(*) DESC, s.target, s.artifact, s.id";

/// Occurrences of one identity in `[?2, ?3)`: how many, and the
/// attribution of the latest.
pub const SERIES_IN_PERIOD: &str = "
SELECT count(*), o.variation, max(r.started_at)
FROM occurrences o JOIN runs r ON r.id = o.run
WHERE o.series = ?1 AND r.started_at >= ?2 AND r.started_at < ?3";

/// The first run that showed an identity.
pub const SERIES_FIRST_RUN: &str = "
SELECT r.id, r.started_at, r.git_commit
FROM occurrences o JOIN runs r ON r.id = o.run
WHERE o.series = ?1
ORDER BY r.started_at, r.id
LIMIT 1";

/// The last run before `?2` that showed an identity.
pub const SERIES_LAST_RUN_BEFORE: &str = "
SELECT r.id, r.started_at, r.git_commit
FROM occurrences o JOIN runs r ON r.id = o.run
WHERE o.series = ?1 AND r.started_at < ?2
ORDER BY r.started_at DESC, r.id DESC
LIMIT 1";

/// Causes in `[?1, ?2)` by the targets and artifacts they touch, with the
/// hint of their most frequent identity.
pub const CAUSES: &str = "
WITH seen AS (
    SELECT o.series AS id, count(*) AS n
    FROM runs r JOIN occurrences o ON o.run = r.id
    WHERE r.started_at >= ?1 AND r.started_at < ?2
      AND (?3 IS NULL OR r.target IN (SELECT value FROM json_each(?3)))
    GROUP BY o.series
)
SELECT s.cause, count(DISTINCT s.target), count(DISTINCT s.target || char(0) || s.artifact),
       total(seen.n), s.hint, max(seen.n)
FROM seen JOIN series s ON s.id = seen.id
GROUP BY s.cause";

/// Attributions in `[?1, ?2)`, the same way.
pub const VARIATIONS: &str = "
WITH seen AS (
    SELECT o.series AS id, o.variation AS variation, count(*) AS n
    FROM runs r JOIN occurrences o ON o.run = r.id
    WHERE r.started_at >= ?1 AND r.started_at < ?2
      AND (?3 IS NULL OR r.target IN (SELECT value FROM json_each(?3)))
    GROUP BY o.series, o.variation
)
SELECT seen.variation, count(DISTINCT s.target), count(DISTINCT s.target || char(0) || s.artifact),
       total(seen.n), s.hint, max(seen.n)
FROM seen JOIN series s ON s.id = seen.id
GROUP BY seen.variation";

/// The longest audits in `[?1, ?2)`.
pub const SLOWEST: &str = "
SELECT id, started_at, target, status, findings, git_commit, git_branch, git_dirty, seconds, origin
FROM runs
WHERE started_at >= ?1 AND started_at < ?2
  AND (?3 IS NULL OR target IN (SELECT value FROM json_each(?3)))
ORDER BY seconds DESC, id
LIMIT ?4";

/// Every statement, by name, for the plan check.
#[cfg(test)]
pub const ALL: &[(&str, &str)] = &[
    ("INSERT_RUN", INSERT_RUN),
    ("INSERT_VARIATION", INSERT_VARIATION),
    ("INSERT_ARTIFACT", INSERT_ARTIFACT),
    ("UPSERT_SERIES", UPSERT_SERIES),
    ("INSERT_OCCURRENCE", INSERT_OCCURRENCE),
    ("LIST_RUNS", LIST_RUNS),
    ("SHOW_RUN", SHOW_RUN),
    ("SHOW_VARIATIONS", SHOW_VARIATIONS),
    ("GC_RUNS", GC_RUNS),
    ("GC_SERIES", GC_SERIES),
    ("PERIOD_STATS", PERIOD_STATS),
    ("TREND", TREND),
    ("LATEST_COMPLETED", LATEST_COMPLETED),
    ("LAST_WITH_STATUS", LAST_WITH_STATUS),
    ("FIRST_WITH_STATUS_AFTER", FIRST_WITH_STATUS_AFTER),
    ("FIRST_COMPLETED_AFTER", FIRST_COMPLETED_AFTER),
    ("NEW_SERIES", NEW_SERIES),
    ("FIXED_SERIES", FIXED_SERIES),
    ("FLAKY_SERIES", FLAKY_SERIES),
    ("SERIES_IN_PERIOD", SERIES_IN_PERIOD),
    ("SERIES_FIRST_RUN", SERIES_FIRST_RUN),
    ("SERIES_LAST_RUN_BEFORE", SERIES_LAST_RUN_BEFORE),
    ("CAUSES", CAUSES),
    ("VARIATIONS", VARIATIONS),
    ("SLOWEST", SLOWEST),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The tables of the schema and the aliases the statements give them
    /// (`r` runs, `o` occurrences, `s` series): a plan step over one of them
    /// must search (`SEARCH r USING INDEX …`), never scan it whole. Scans
    /// of intermediate results (`SCAN seen`, `SCAN h`, `SCAN json_each`)
    /// are fine: they hold what an index already selected.
    const SEARCH_ONLY: [&str; 8] = [
        "runs",
        "run_variations",
        "artifacts",
        "series",
        "occurrences",
        "r",
        "o",
        "s",
    ];

    #[test]
    fn every_query_uses_an_index() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for step in crate::store::schema::MIGRATIONS {
            conn.execute_batch(step).unwrap();
        }
        let mut failures = Vec::new();
        for (name, sql) in ALL {
            let mut stmt = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let count = stmt.parameter_count();
            let params: Vec<rusqlite::types::Value> =
                (0..count).map(|_| rusqlite::types::Value::Null).collect();
            let details: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(params), |r| {
                    r.get::<_, String>(3)
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            for d in &details {
                let scanned = d
                    .strip_prefix("SCAN ")
                    .map(|rest| rest.split_whitespace().next().unwrap_or(""));
                if scanned.is_some_and(|t| SEARCH_ONLY.contains(&t)) {
                    failures.push(format!("{name}: {d}"));
                }
            }
        }
        assert!(failures.is_empty(), "full scans:\n{}", failures.join("\n"));
    }
}
