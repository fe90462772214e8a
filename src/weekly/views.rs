//! `twice history list` and `twice history show`: the stored runs for a
//! terminal, or as JSON.

use std::fmt::Write as _;
use std::io::Write;

use comfy_table::{ContentArrangement, Table, presets};
use serde::Serialize;
use serde_json::Value;

use super::{short, when};
use crate::finding::printable;
use crate::store::time::format_time;
use crate::store::{RunSummary, StoredRun};

fn table() -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    t
}

fn status(r: &RunSummary) -> String {
    match r.status.as_str() {
        "identical" => "reproducible".to_owned(),
        "differs" => format!("{} finding(s)", r.findings),
        other => other.to_owned(),
    }
}

fn commit(r: &RunSummary) -> String {
    let mut c = short(r.commit.as_deref());
    if r.dirty == Some(true) {
        c.push_str(" (dirty)");
    }
    c
}

pub fn render_run_list(runs: &[RunSummary], out: &mut dyn Write) -> std::io::Result<()> {
    if runs.is_empty() {
        return writeln!(out, "no runs");
    }
    let mut t = table();
    t.set_header([
        "run",
        "started (UTC)",
        "target",
        "result",
        "commit",
        "seconds",
        "from",
    ]);
    for r in runs {
        t.add_row([
            r.id.to_string(),
            when(&format_time(r.started_at)),
            printable(&r.target).into_owned(),
            status(r),
            commit(r),
            format!("{:.1}", r.seconds),
            printable(&r.origin).into_owned(),
        ]);
    }
    writeln!(out, "{t}")
}

#[derive(Serialize)]
struct RunJson<'r> {
    #[serde(flatten)]
    run: &'r RunSummary,
    started: String,
}

pub fn render_run_list_json(runs: &[RunSummary], out: &mut dyn Write) -> std::io::Result<()> {
    let rows: Vec<RunJson<'_>> = runs
        .iter()
        .map(|run| RunJson {
            run,
            started: format_time(run.started_at),
        })
        .collect();
    crate::report::render_json(&rows, out)
}

/// The stored report as it was recorded or imported.
pub fn render_run_json(run: &StoredRun, out: &mut dyn Write) -> std::io::Result<()> {
    match &run.report {
        Some(report) => crate::report::render_json(report, out),
        None => crate::report::render_json(
            &serde_json::json!({ "error": run.error, "exit_code": run.exit_code }),
            out,
        ),
    }
}

/// The run's facts, its variations, and its findings from the stored
/// report, grouped by artifact as a live report groups them.
pub fn render_run(run: &StoredRun, out: &mut dyn Write) -> std::io::Result<()> {
    let r = &run.summary;
    let mut s = String::new();
    let mut facts = table();
    let mut fact = |k: &str, v: String| {
        facts.add_row([k.to_owned(), printable(&v).into_owned()]);
    };
    fact("run", r.id.to_string());
    fact("target", r.target.clone());
    fact("started", format_time(r.started_at));
    fact("seconds", format!("{:.1}", r.seconds));
    fact("command", run.command.clone());
    if let Some(w) = &run.workdir {
        fact("directory", w.clone());
    }
    fact(
        "commit",
        match (&r.commit, &r.branch) {
            (Some(c), Some(b)) => format!("{c} on {b}"),
            (Some(c), None) => c.clone(),
            _ => "–".to_owned(),
        } + if r.dirty == Some(true) {
            " (dirty)"
        } else {
            ""
        },
    );
    if let Some(h) = &run.host {
        fact("host", h.clone());
    }
    fact("twice", run.twice_version.clone());
    fact("from", r.origin.clone());
    let varied: Vec<&str> = run
        .variations
        .iter()
        .filter(|(_, skipped)| skipped.is_none())
        .map(|(v, _)| v.as_str())
        .collect();
    if !varied.is_empty() {
        fact("varied", varied.join(", "));
    }
    for (v, why) in &run.variations {
        if let Some(why) = why {
            fact("skipped", format!("{v} ({why})"));
        }
    }
    if run.bisect_builds > 0 {
        fact("bisect builds", run.bisect_builds.to_string());
    }
    fact("result", format!("{} (exit {})", status(r), run.exit_code));
    let _ = writeln!(s, "{facts}");
    if let Some(e) = &run.error {
        let _ = writeln!(s, "\n{}", printable(e));
    }
    if let Some(report) = &run.report {
        findings(report, &mut s);
    }
    out.write_all(s.as_bytes())
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(m) => m
            .get("text")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                m.get("hex")
                    .and_then(Value::as_str)
                    .map(|h| format!("hex:{h}"))
            })
            .unwrap_or_default(),
        _ => String::new(),
    }
}

fn findings(report: &Value, s: &mut String) {
    let Some(list) = report.get("findings").and_then(Value::as_array) else {
        return;
    };
    if list.is_empty() {
        let _ = writeln!(s, "\nno findings: every output was identical");
        return;
    }
    let mut t = table();
    t.set_header(["artifact", "cause", "triggered by", "fingerprint"]);
    let mut hints = std::collections::BTreeMap::new();
    for f in list {
        let cause = f.get("cause").cloned().unwrap_or(Value::Null);
        let kind = cause
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        let attribution = f.get("variation").map_or_else(
            || "–".to_owned(),
            |v| {
                let names: Vec<&str> = v
                    .get("variations")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let by = v.get("by").and_then(Value::as_str).unwrap_or("");
                match names.is_empty() {
                    true => by.to_owned(),
                    false => format!("{} ({by})", names.join(" + ")),
                }
            },
        );
        t.add_row([
            printable(&text(f.get("artifact").unwrap_or(&Value::Null))).into_owned(),
            kind.replace('_', " "),
            attribution,
            f.get("fingerprint")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        ]);
        if let Some(h) = f.get("hint").and_then(Value::as_str) {
            hints.entry(kind.to_owned()).or_insert_with(|| h.to_owned());
        }
    }
    let _ = writeln!(s, "\n{t}");
    if !hints.is_empty() {
        let _ = writeln!(s, "\nFixes");
        for (kind, hint) in hints {
            let _ = writeln!(s, "  {}: {}", kind.replace('_', " "), printable(&hint));
        }
    }
}
