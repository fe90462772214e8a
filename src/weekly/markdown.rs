//! The compact report for chat or a wiki: the headline, what needs a look,
//! per-target numbers, and the top of each list.

use std::fmt::Write as _;
use std::io::Write;

use super::model::{FindingEntry, Listed, WeeklyReport};
use super::{bytes, percent, points, short, status_word, when};

/// Rows per list in Markdown (the HTML shows more, the JSON all it has).
const ROWS: usize = 10;

pub fn render_markdown(r: &WeeklyReport, out: &mut dyn Write) -> std::io::Result<()> {
    let mut s = String::new();
    let o = &r.overall.counts;
    let _ = writeln!(
        s,
        "# Determinism report {} – {}\n",
        &r.period.since[..10.min(r.period.since.len())],
        &r.period.until[..10.min(r.period.until.len())]
    );
    if !r.targets_filter.is_empty() {
        let _ = writeln!(s, "Targets: {}\n", cell(&r.targets_filter.join(", ")));
    }
    let _ = writeln!(
        s,
        "**{} of audits reproducible** ({} of {}; {} vs the previous {:.0} days) · \
         {} of {} targets reproducible now · {} audits failed · \
         {} new, {} fixed, {} flaky findings · {} re-stored by caches\n",
        percent(o.rate),
        o.reproducible,
        o.completed,
        points(o.change_points),
        r.previous.days,
        r.overall.targets_reproducible,
        r.overall.targets,
        o.failed,
        r.new_findings.total,
        r.fixed_findings.total,
        r.flaky_findings.total,
        bytes(r.cache_cost.total_bytes),
    );
    if !r.broken.is_empty() {
        let _ = writeln!(s, "## Needs a look\n");
        let _ = writeln!(s, "| target | broken since | last good → first bad |");
        let _ = writeln!(s, "|---|---|---|");
        for b in r.broken.iter().take(ROWS) {
            let good = b.last_good.as_ref().map_or_else(
                || "never reproducible".to_owned(),
                |g| format!("`{}`", short(g.commit.as_deref())),
            );
            let _ = writeln!(
                s,
                "| {}{} | {} (run {}) | {good} → `{}` |",
                cell(&b.target),
                if b.in_period { " (new)" } else { "" },
                when(&b.first_bad.started_at),
                b.first_bad.run,
                short(b.first_bad.commit.as_deref()),
            );
        }
        s.push('\n');
    }
    let _ = writeln!(s, "## Targets\n");
    let _ = writeln!(
        s,
        "| target | audits | reproducible | change | latest | cache cost |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---|---:|");
    for t in r.targets.iter().take(ROWS * 2) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&t.target),
            t.counts.runs,
            percent(t.counts.rate),
            points(t.counts.change_points),
            t.latest.as_deref().map_or("–", status_word),
            bytes(t.bytes_changed),
        );
    }
    if r.targets.len() > ROWS * 2 {
        let _ = writeln!(s, "\n…and {} more targets.", r.targets.len() - ROWS * 2);
    }
    s.push('\n');
    findings(&mut s, "New findings", &r.new_findings, |f| {
        f.first_run.as_ref().map_or_else(String::new, |p| {
            format!("first in run {} (`{}`)", p.run, short(p.commit.as_deref()))
        })
    });
    findings(&mut s, "Fixed findings", &r.fixed_findings, |f| {
        match (&f.last_bad, &f.first_good) {
            (Some(bad), Some(good)) => format!(
                "`{}` → `{}`",
                short(bad.commit.as_deref()),
                short(good.commit.as_deref())
            ),
            _ => String::new(),
        }
    });
    findings(&mut s, "Flaky findings", &r.flaky_findings, |f| {
        f.flaky.map_or_else(String::new, |k| {
            format!(
                "in {} of {} runs at {} commit(s)",
                k.runs_with, k.runs_at_commits, k.commits
            )
        })
    });
    if !r.causes.is_empty() {
        let _ = writeln!(s, "## Top causes\n");
        let _ = writeln!(s, "| cause | targets | artifacts | fix |");
        let _ = writeln!(s, "|---|---:|---:|---|");
        for c in r.causes.iter().take(ROWS) {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                cell(&c.name),
                c.targets,
                c.artifacts,
                cell(&c.hint)
            );
        }
        s.push('\n');
    }
    if !r.variations.is_empty() {
        let _ = writeln!(s, "## Triggered by\n");
        let _ = writeln!(s, "| variation | targets | artifacts |");
        let _ = writeln!(s, "|---|---:|---:|");
        for v in r.variations.iter().take(ROWS) {
            let _ = writeln!(s, "| {} | {} | {} |", cell(&v.name), v.targets, v.artifacts);
        }
        s.push('\n');
    }
    if !r.slowest.is_empty() {
        let _ = writeln!(s, "## Slowest audits\n");
        let _ = writeln!(s, "| run | target | started | seconds | status |");
        let _ = writeln!(s, "|---:|---|---|---:|---|");
        for a in r.slowest.iter().take(5) {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.1} | {} |",
                a.run,
                cell(&a.target),
                when(&a.started_at),
                a.seconds,
                status_word(&a.status)
            );
        }
        s.push('\n');
    }
    if !r.failing.is_empty() {
        let _ = writeln!(s, "## Most often failing\n");
        let _ = writeln!(s, "| target | audits | not reproducible | failed |");
        let _ = writeln!(s, "|---|---:|---:|---:|");
        for f in r.failing.iter().take(5) {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                cell(&f.target),
                f.runs,
                f.not_reproducible,
                f.failed
            );
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "_{} {} · period {} – {}_",
        r.tool.name, r.tool.version, r.period.since, r.period.until
    );
    out.write_all(s.as_bytes())
}

fn findings(
    s: &mut String,
    title: &str,
    list: &Listed<FindingEntry>,
    detail: impl Fn(&FindingEntry) -> String,
) {
    if list.total == 0 {
        return;
    }
    let _ = writeln!(s, "## {title} ({})\n", list.total);
    for f in list.shown.iter().take(ROWS) {
        let extra = detail(f);
        let _ = writeln!(
            s,
            "- **{}** `{}`: {}{}{}",
            cell(&f.target),
            f.artifact.replace('`', "'"),
            cell(&f.cause_text),
            f.variation
                .as_deref()
                .map_or_else(String::new, |v| format!(" ({})", cell(v))),
            if extra.is_empty() {
                String::new()
            } else {
                format!(" — {extra}")
            },
        );
    }
    let shown = list.shown.len().min(ROWS) as u64;
    if list.total > shown {
        let _ = writeln!(s, "- …and {} more", list.total - shown);
    }
    s.push('\n');
}

/// Text safe inside a Markdown table cell or list item.
fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' | '*' | '_' | '`' | '<' | '>' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
