//! The determinism report of a period, built once from the history. Every
//! number the HTML and Markdown show is here, and the JSON is this model
//! as is.

use serde::Serialize;

use crate::report::ToolInfo;

/// Bumped whenever a field changes meaning or disappears.
pub const WEEKLY_SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize)]
pub struct WeeklyReport {
    pub schema_version: u32,
    pub tool: ToolInfo,
    /// `determinism_report`.
    pub kind: &'static str,
    pub period: Period,
    /// The period of the same length just before, for the changes.
    pub previous: Period,
    /// The targets the report is limited to (empty: all).
    pub targets_filter: Vec<String>,
    pub overall: Overall,
    /// Targets with runs in the period, least reproducible first.
    pub targets: Vec<TargetStats>,
    pub trend: Trend,
    /// Findings first seen in the period.
    pub new_findings: Listed<FindingEntry>,
    /// Findings seen in the previous period and in no run of this one.
    pub fixed_findings: Listed<FindingEntry>,
    /// Findings present in some runs and absent in others of one target at
    /// one clean commit.
    pub flaky_findings: Listed<FindingEntry>,
    /// Causes ranked by the targets, then artifacts, they affect.
    pub causes: Vec<Ranked>,
    /// Attributions (the variation that triggers a finding) ranked the
    /// same way.
    pub variations: Vec<Ranked>,
    /// Targets whose latest completed run is not reproducible: since when,
    /// and the commit range to look at.
    pub broken: Vec<Breakage>,
    pub slowest: Vec<SlowRun>,
    /// Targets by runs that were not reproducible or did not complete.
    pub failing: Vec<Failing>,
    pub cache_cost: CacheCost,
}

#[derive(Clone, Debug, Serialize)]
pub struct Period {
    /// UTC, `2026-01-05T00:00:00Z`; `until` is excluded.
    pub since: String,
    pub until: String,
    pub days: f64,
}

/// Audits of a period and how many came out reproducible.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Counts {
    pub runs: u64,
    /// Runs that completed (reproducible or not): the denominator.
    pub completed: u64,
    pub reproducible: u64,
    /// Runs whose build failed or whose outputs could not all be read.
    pub failed: u64,
    /// `reproducible / completed`, 0 to 1; absent without completed runs.
    pub rate: Option<f64>,
    pub previous_rate: Option<f64>,
    /// Percentage points, this period minus the previous one.
    pub change_points: Option<f64>,
}

/// Reproducibility over the runs of all targets.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Overall {
    #[serde(flatten)]
    pub counts: Counts,
    pub targets: u64,
    /// Targets whose latest completed run is reproducible.
    pub targets_reproducible: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct TargetStats {
    pub target: String,
    #[serde(flatten)]
    pub counts: Counts,
    /// Status of the latest completed run up to the end of the period.
    pub latest: Option<String>,
    pub bytes_changed: u64,
    pub seconds: f64,
}

/// Reproducibility per time bucket (days, or weeks for long periods).
#[derive(Clone, Debug, Serialize)]
pub struct Trend {
    pub bucket_seconds: i64,
    /// The start of each bucket, `2026-01-05`.
    pub buckets: Vec<String>,
    /// `all targets` first, then each target.
    pub series: Vec<TrendSeries>,
    /// The series the chart draws: all targets, and the targets whose
    /// reproducibility moved most within the period.
    pub charted: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TrendSeries {
    pub target: String,
    /// Buckets with at least one completed run.
    pub points: Vec<TrendPoint>,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct TrendPoint {
    pub bucket: usize,
    pub completed: u64,
    pub reproducible: u64,
    pub rate: f64,
}

/// A list cut to a length, and how long it was.
#[derive(Clone, Debug, Serialize)]
pub struct Listed<T> {
    pub total: u64,
    pub shown: Vec<T>,
}

/// One finding identity (its fingerprint, in one target).
#[derive(Clone, Debug, Serialize)]
pub struct FindingEntry {
    pub target: String,
    pub artifact: String,
    /// The cause's short name (`timestamp`).
    pub cause: String,
    /// The cause with its details (`timestamp, encoding iso8601`).
    pub cause_text: String,
    /// The attribution in its latest run of the period looked at.
    pub variation: Option<String>,
    pub hint: String,
    pub first_seen: String,
    pub last_seen: String,
    /// Runs of the period that showed it.
    pub runs_in_period: u64,
    /// New findings: the run where it first showed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_run: Option<RunPoint>,
    /// Fixed findings: the last run that showed it and the target's next
    /// completed run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_bad: Option<RunPoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_good: Option<RunPoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flaky: Option<Flakiness>,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Flakiness {
    /// Commits at which it came and went.
    pub commits: u64,
    /// Runs at those commits that showed it, of all runs at them.
    pub runs_with: u64,
    pub runs_at_commits: u64,
}

/// A run of the history, by id (`twice history show ID`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunPoint {
    pub run: i64,
    pub started_at: String,
    pub commit: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Ranked {
    pub name: String,
    pub targets: u64,
    pub artifacts: u64,
    /// Findings in runs of the period.
    pub occurrences: u64,
    /// The fix hint of its most frequent finding.
    pub hint: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Breakage {
    pub target: String,
    /// The first non-reproducible run after the last reproducible one.
    pub first_bad: RunPoint,
    /// The last reproducible run (absent: never reproducible).
    pub last_good: Option<RunPoint>,
    /// It broke during the period (a regression of this period).
    pub in_period: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct SlowRun {
    pub run: i64,
    pub target: String,
    pub started_at: String,
    pub seconds: f64,
    pub status: String,
    pub commit: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Failing {
    pub target: String,
    pub runs: u64,
    /// Completed, not reproducible.
    pub not_reproducible: u64,
    /// Build failed or outputs unreadable.
    pub failed: u64,
}

/// Output bytes that differed between builds that should have been
/// identical: what a content-addressed cache stored and shipped again.
#[derive(Clone, Debug, Serialize)]
pub struct CacheCost {
    pub total_bytes: u64,
    /// Targets with a cost, highest first.
    pub targets: Vec<TargetCost>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TargetCost {
    pub target: String,
    pub bytes: u64,
    /// Completed runs in the period.
    pub runs: u64,
    pub bytes_per_run: u64,
}
