//! The report model from the store: each section is one or a few indexed
//! queries; lists are cut to a length while their totals are counted.

use std::collections::BTreeMap;

use super::model::*;
use crate::report::ToolInfo;
use crate::store::time::{DAY, format_date, format_time};
use crate::store::{Filter, Identities, RankRow, RunRef, Seek, SeriesRow, Store, StoreError};

/// What `twice report` covers.
#[derive(Clone, Debug)]
pub struct WeeklyOptions {
    /// The period `[since, until)`, seconds since the epoch.
    pub since: i64,
    pub until: i64,
    /// Only these targets (empty: all).
    pub targets: Vec<String>,
    /// Longest list of findings shown (totals are always counted).
    pub list_limit: usize,
    /// Most targets drawn in the trend chart besides `all targets`.
    pub charted_targets: usize,
    /// Rows of the slowest and the most failing audits.
    pub top: usize,
}

impl WeeklyOptions {
    pub fn new(since: i64, until: i64, targets: Vec<String>) -> WeeklyOptions {
        WeeklyOptions {
            since,
            until,
            targets,
            list_limit: 50,
            charted_targets: 6,
            top: 10,
        }
    }
}

/// The name of the trend series over every target.
pub const ALL_TARGETS: &str = "all targets";

#[derive(Default)]
struct Tally {
    runs: u64,
    completed: u64,
    reproducible: u64,
    failed: u64,
    bytes: f64,
    seconds: f64,
}

impl Tally {
    fn rate(&self) -> Option<f64> {
        (self.completed > 0).then(|| self.reproducible as f64 / self.completed as f64)
    }

    fn add(&mut self, other: &Tally) {
        self.runs += other.runs;
        self.completed += other.completed;
        self.reproducible += other.reproducible;
        self.failed += other.failed;
    }

    /// The counts of this period, against `previous` of the period before.
    fn counts(&self, previous: Option<&Tally>) -> Counts {
        let previous_rate = previous.and_then(Tally::rate);
        Counts {
            runs: self.runs,
            completed: self.completed,
            reproducible: self.reproducible,
            failed: self.failed,
            rate: self.rate(),
            previous_rate,
            change_points: change(self.rate(), previous_rate),
        }
    }
}

fn tallies(rows: Vec<crate::store::StatusCount>) -> BTreeMap<String, Tally> {
    let mut out: BTreeMap<String, Tally> = BTreeMap::new();
    for r in rows {
        let t = out.entry(r.target).or_default();
        t.runs += r.runs;
        t.bytes += r.bytes_changed;
        t.seconds += r.seconds;
        match r.status.as_str() {
            "identical" => {
                t.completed += r.runs;
                t.reproducible += r.runs;
            }
            "differs" => t.completed += r.runs,
            _ => t.failed += r.runs,
        }
    }
    out
}

fn change(now: Option<f64>, before: Option<f64>) -> Option<f64> {
    Some((now? - before?) * 100.0)
}

fn point(r: RunRef) -> RunPoint {
    RunPoint {
        run: r.id,
        started_at: format_time(r.started_at),
        commit: r.commit,
    }
}

/// Build the report of `opts` from `store`.
pub fn build(store: &Store, opts: &WeeklyOptions) -> Result<WeeklyReport, StoreError> {
    let (since, until) = (opts.since, opts.until);
    let len = until - since;
    let before = since - len;
    let filter = Filter::targets(&opts.targets);
    let now = tallies(store.period_stats(since, until, &filter)?);
    let prev = tallies(store.period_stats(before, since, &filter)?);

    let mut overall = Overall::default();
    let mut all_now = Tally::default();
    let mut all_prev = Tally::default();
    for t in prev.values() {
        all_prev.add(t);
    }
    let mut targets = Vec::new();
    let mut broken = Vec::new();
    for (name, t) in &now {
        all_now.add(t);
        let latest = store.latest_completed(name, until)?;
        if let Some((run, status)) = &latest {
            overall.targets += 1;
            if status == "identical" {
                overall.targets_reproducible += 1;
            } else if let Some(b) = breakage(store, name, run, since)? {
                broken.push(b);
            }
        }
        targets.push(TargetStats {
            target: name.clone(),
            counts: t.counts(prev.get(name)),
            latest: latest.map(|(_, s)| s),
            bytes_changed: t.bytes as u64,
            seconds: t.seconds,
        });
    }
    overall.counts = all_now.counts(Some(&all_prev));
    targets.sort_by(|a, b| {
        let key = |t: &TargetStats| t.counts.rate.unwrap_or(2.0);
        key(a)
            .total_cmp(&key(b))
            .then_with(|| a.target.cmp(&b.target))
    });
    broken.sort_by(|a, b| {
        (b.in_period, &b.first_bad.started_at, &a.target).cmp(&(
            a.in_period,
            &a.first_bad.started_at,
            &b.target,
        ))
    });

    let trend = trend(store, opts, &filter, &targets)?;
    let limit = opts.list_limit;
    let new_findings = listed(
        store.identities(Identities::New, since, until, &filter, limit)?,
        |s| {
            let mut e = entry(store, s, since, until)?;
            e.first_run = store.series_first_run(s.id)?.map(point);
            Ok(e)
        },
    )?;
    let fixed_findings = listed(
        store.identities(
            Identities::Fixed { since: before },
            since,
            until,
            &filter,
            limit,
        )?,
        |s| {
            let mut e = entry(store, s, before, since)?;
            let last_bad = store.series_last_run_before(s.id, since)?;
            if let Some(bad) = &last_bad {
                e.first_good = store
                    .first_completed_after(&s.target, bad.started_at)?
                    .map(point);
            }
            e.last_bad = last_bad.map(point);
            Ok(e)
        },
    )?;
    let flaky_findings = listed(
        store.identities(Identities::Flaky, since, until, &filter, limit)?,
        |s| {
            let mut e = entry(store, s, since, until)?;
            e.flaky = s
                .flaky
                .map(|(commits, runs_with, runs_at_commits)| Flakiness {
                    commits,
                    runs_with,
                    runs_at_commits,
                });
            Ok(e)
        },
    )?;

    let slowest = store
        .slowest(since, until, &filter, opts.top)?
        .into_iter()
        .map(|r| SlowRun {
            run: r.id,
            target: r.target,
            started_at: format_time(r.started_at),
            seconds: r.seconds,
            status: r.status,
            commit: r.commit,
        })
        .collect();
    let mut failing: Vec<Failing> = now
        .iter()
        .map(|(name, t)| Failing {
            target: name.clone(),
            runs: t.runs,
            not_reproducible: t.completed - t.reproducible,
            failed: t.failed,
        })
        .filter(|f| f.not_reproducible + f.failed > 0)
        .collect();
    failing.sort_by(|a, b| {
        (b.not_reproducible + b.failed, &a.target).cmp(&(a.not_reproducible + a.failed, &b.target))
    });
    failing.truncate(opts.top);
    let mut costs: Vec<TargetCost> = now
        .iter()
        .filter(|(_, t)| t.bytes > 0.0)
        .map(|(name, t)| TargetCost {
            target: name.clone(),
            bytes: t.bytes as u64,
            runs: t.completed,
            bytes_per_run: (t.bytes / t.completed.max(1) as f64) as u64,
        })
        .collect();
    costs.sort_by(|a, b| (b.bytes, &a.target).cmp(&(a.bytes, &b.target)));

    Ok(WeeklyReport {
        schema_version: WEEKLY_SCHEMA_VERSION,
        tool: ToolInfo::this(),
        kind: "determinism_report",
        period: period(since, until),
        previous: period(before, since),
        targets_filter: opts.targets.clone(),
        overall,
        targets,
        trend,
        new_findings,
        fixed_findings,
        flaky_findings,
        causes: ranked(store.causes(since, until, &filter)?),
        variations: ranked(store.variations(since, until, &filter)?),
        broken,
        slowest,
        failing,
        cache_cost: CacheCost {
            total_bytes: costs.iter().map(|c| c.bytes).sum(),
            targets: costs,
        },
    })
}

fn period(since: i64, until: i64) -> Period {
    Period {
        since: format_time(since),
        until: format_time(until),
        days: (until - since) as f64 / DAY as f64,
    }
}

/// Where a target whose latest completed run `latest` is not reproducible
/// broke: its last reproducible run and the first bad one after it.
fn breakage(
    store: &Store,
    target: &str,
    latest: &RunRef,
    since: i64,
) -> Result<Option<Breakage>, StoreError> {
    let last_good =
        store.run_with_status(target, "identical", Seek::LastBefore(latest.started_at))?;
    let after = last_good.as_ref().map_or(i64::MIN, |g| g.started_at);
    let Some(first_bad) = store.run_with_status(target, "differs", Seek::FirstAfter(after))? else {
        return Ok(None);
    };
    Ok(Some(Breakage {
        target: target.to_owned(),
        in_period: first_bad.started_at >= since,
        first_bad: point(first_bad),
        last_good: last_good.map(point),
    }))
}

fn trend(
    store: &Store,
    opts: &WeeklyOptions,
    filter: &Filter,
    targets: &[TargetStats],
) -> Result<Trend, StoreError> {
    let len = opts.until - opts.since;
    let bucket = if len <= 62 * DAY { DAY } else { 7 * DAY };
    let buckets = usize::try_from((len + bucket - 1) / bucket).unwrap_or(0);
    let mut per: BTreeMap<String, BTreeMap<usize, (u64, u64)>> = BTreeMap::new();
    let mut all: BTreeMap<usize, (u64, u64)> = BTreeMap::new();
    for c in store.trend(opts.since, opts.until, filter, bucket)? {
        let Ok(b) = usize::try_from(c.bucket) else {
            continue;
        };
        let slot = per.entry(c.target).or_default().entry(b).or_default();
        slot.0 += c.completed;
        slot.1 += c.reproducible;
        let total = all.entry(b).or_default();
        total.0 += c.completed;
        total.1 += c.reproducible;
    }
    let points = |counts: &BTreeMap<usize, (u64, u64)>| -> Vec<TrendPoint> {
        counts
            .iter()
            .filter(|(_, (completed, _))| *completed > 0)
            .map(|(&bucket, &(completed, reproducible))| TrendPoint {
                bucket,
                completed,
                reproducible,
                rate: reproducible as f64 / completed as f64,
            })
            .collect()
    };
    let mut series = vec![TrendSeries {
        target: ALL_TARGETS.to_owned(),
        points: points(&all),
    }];
    // Chart the targets whose reproducibility moved most in the period (a
    // regression, a fix, flakiness); a flat line at 0 % or 100 % says
    // nothing the targets table does not.
    let mut moved: Vec<(f64, f64, &str)> = Vec::new();
    for t in targets {
        let Some(counts) = per.get(&t.target) else {
            continue;
        };
        let pts = points(counts);
        if pts.is_empty() {
            continue;
        }
        let (lo, hi) = pts.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
            (lo.min(p.rate), hi.max(p.rate))
        });
        if hi > lo {
            moved.push((hi - lo, t.counts.rate.unwrap_or(1.0), &t.target));
        }
        series.push(TrendSeries {
            target: t.target.clone(),
            points: pts,
        });
    }
    moved.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(a.1.total_cmp(&b.1))
            .then(a.2.cmp(b.2))
    });
    let charted = std::iter::once(ALL_TARGETS.to_owned())
        .chain(
            moved
                .iter()
                .take(opts.charted_targets)
                .map(|m| m.2.to_owned()),
        )
        .collect();
    Ok(Trend {
        bucket_seconds: bucket,
        buckets: (0..buckets)
            .map(|i| format_date(opts.since + i as i64 * bucket))
            .collect(),
        series,
        charted,
    })
}

fn listed(
    (total, rows): (u64, Vec<SeriesRow>),
    f: impl Fn(&SeriesRow) -> Result<FindingEntry, StoreError>,
) -> Result<Listed<FindingEntry>, StoreError> {
    Ok(Listed {
        total,
        shown: rows.iter().map(f).collect::<Result<_, _>>()?,
    })
}

/// A finding identity, with its occurrences and attribution in `[from, to)`.
fn entry(store: &Store, s: &SeriesRow, from: i64, to: i64) -> Result<FindingEntry, StoreError> {
    let (runs, variation) = store.series_in_period(s.id, from, to)?;
    Ok(FindingEntry {
        target: s.target.clone(),
        artifact: s.artifact.clone(),
        cause: s.cause.clone(),
        cause_text: cause_text(&s.detail, &s.cause),
        variation,
        hint: s.hint.clone(),
        first_seen: format_time(s.first_at),
        last_seen: format_time(s.last_at),
        runs_in_period: runs,
        first_run: None,
        last_bad: None,
        first_good: None,
        flaky: None,
    })
}

/// `timestamp, encoding iso8601` from `{"kind":"timestamp","encoding":"iso8601"}`.
fn cause_text(detail: &str, kind: &str) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(detail) else {
        return kind.to_owned();
    };
    let mut out = kind.replace('_', " ");
    for (k, v) in map.iter().filter(|(k, _)| k.as_str() != "kind") {
        let k = k.replace('_', " ");
        match v {
            serde_json::Value::Bool(true) => out.push_str(&format!(", {k}")),
            serde_json::Value::Bool(false) => out.push_str(&format!(", not {k}")),
            serde_json::Value::String(s) => out.push_str(&format!(", {k} {}", s.replace('_', " "))),
            other => out.push_str(&format!(", {k} {other}")),
        }
    }
    out
}

fn ranked(rows: Vec<RankRow>) -> Vec<Ranked> {
    let mut out: Vec<Ranked> = rows
        .into_iter()
        .map(|r| Ranked {
            name: r.name,
            targets: r.targets,
            artifacts: r.artifacts,
            occurrences: r.occurrences,
            hint: r.hint,
        })
        .collect();
    out.sort_by(|a, b| {
        (b.targets, b.artifacts, b.occurrences, &a.name).cmp(&(
            a.targets,
            a.artifacts,
            a.occurrences,
            &b.name,
        ))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_read_as_words() {
        assert_eq!(
            cause_text(
                r#"{"kind":"timestamp","encoding":"epoch_decimal"}"#,
                "timestamp"
            ),
            "timestamp, encoding epoch decimal"
        );
        assert_eq!(
            cause_text(r#"{"kind":"file_type"}"#, "file_type"),
            "file type"
        );
        assert_eq!(cause_text("not json", "unknown"), "unknown");
    }
}
