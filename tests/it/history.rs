//! The history and the weekly report: audits recorded over faked dates and
//! commits, fleet import, the store's robustness (concurrent writers, a
//! newer schema, a truncated file, migrations), and the three renderings.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::{fixture, twice};

#[path = "../support/history_synth.rs"]
mod synth;

const DAY: i64 = 86_400;
/// 2026-01-01T00:00:00Z: day 0 of the recorded series.
const DAY0: i64 = 1_767_225_600;

fn at(day: i64) -> String {
    twice::store::time::format_time(DAY0 + day * DAY + 10 * 3600)
}

fn run(cwd: &Path, now: &str, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = twice();
    cmd.current_dir(cwd).env("TWICE_NOW", now).args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run twice")
}

fn ok(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn err(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `twice ARGS --history HISTORY`.
fn on(history: &Path, args: &[&str]) -> Output {
    twice()
        .args(args)
        .arg("--history")
        .arg(history)
        .output()
        .expect("run twice")
}

/// `out` is a refusal (exit 2) whose message holds `message`.
fn refused(out: &Output, message: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", err(out));
    assert!(err(out).contains(message), "{message}\n{}", err(out));
}

/// `twice history list --format json` of `history`, up to 100 runs.
fn listed(history: &Path) -> Vec<Value> {
    let out = on(
        history,
        &["history", "list", "--limit", "100", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    serde_json::from_slice::<Value>(&out.stdout)
        .expect("JSON")
        .as_array()
        .expect("a list")
        .clone()
}

fn git(repo: &Path, args: &[&str]) {
    let status = std::process::Command::new("git")
        .current_dir(repo)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .status()
        .expect("run git");
    assert!(status.success(), "git {args:?}");
}

fn commit(repo: &Path, message: &str) -> String {
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "--allow-empty", "-m", message]);
    let out = std::process::Command::new("git")
        .current_dir(repo)
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn copy_tree(from: &Path, to: &Path) {
    let _ = fs::remove_dir_all(to);
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            fs::copy(e.path(), &dest).unwrap();
        }
    }
}

fn script(dir: &Path, body: &str) {
    fs::create_dir_all(dir).unwrap();
    let build = dir.join("build.sh");
    fs::write(&build, format!("#!/bin/sh\nset -e\n{body}\n")).unwrap();
    fs::set_permissions(&build, fs::Permissions::from_mode(0o755)).unwrap();
}

/// `twice audit --record` of `dir` (relative to the repository) at `day`.
fn record(repo: &Path, dir: &str, day: i64, command: &[&str], envs: &[(&str, &str)]) -> Value {
    let mut args = vec![
        "audit", "--record", "-q", "-C", dir, "--format", "json", "--",
    ];
    args.extend_from_slice(command);
    let out = run(repo, &at(day), &args, envs);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "audit of {dir} on day {day}: {}",
        err(&out)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON report")
}

fn report_json(repo: &Path, now: &str, extra: &[&str]) -> Value {
    let mut args = vec!["report", "--since", "7d", "--format", "json"];
    args.extend_from_slice(extra);
    let out = run(repo, now, &args, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    serde_json::from_str(&ok(&out)).expect("JSON")
}

fn approx(v: &Value, want: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - want).abs() < 1e-9)
}

/// Audits of the demo fixtures and two small projects, recorded over
/// faked dates and commits: the demo regresses in the previous period and
/// is fixed in this one, `app` regresses in this one, `flaky` shows a
/// finding in one of two runs at the same commit. The report's numbers
/// follow.
#[test]
fn recorded_audits_give_the_reports_numbers() {
    let repo_dir = tempfile::tempdir().unwrap();
    let repo = repo_dir.path();
    git(repo, &["init", "-q", "-b", "main"]);
    copy_tree(&fixture("demo-fixed"), &repo.join("demo"));
    script(&repo.join("app"), "cat > out.txt <<EOF\nversion 1\nEOF");
    script(
        &repo.join("flaky"),
        "if [ -n \"$FLAKY\" ]; then pwd > out.txt; else echo same > out.txt; fi",
    );
    let c1 = commit(repo, "all reproducible");
    let make = ["make"];
    let sh = ["./build.sh"];
    assert_eq!(record(repo, "demo", 2, &make, &[])["verdict"], "identical");
    let r = record(repo, "app", 3, &sh, &[]);
    assert_eq!(r["verdict"], "identical");
    assert_eq!(r["context"]["git"]["commit"], c1.as_str());
    assert_eq!(r["context"]["target"], "app");
    assert_eq!(r["context"]["started_at"], at(3));

    copy_tree(&fixture("demo"), &repo.join("demo"));
    let c2 = commit(repo, "demo: regression");
    let broken_demo = record(repo, "demo", 4, &make, &[]);
    assert_eq!(broken_demo["verdict"], "differs");
    let demo_findings = broken_demo["findings"].as_array().unwrap().len() as u64;

    copy_tree(&fixture("demo-fixed"), &repo.join("demo"));
    let c3 = commit(repo, "demo: fixed");
    assert_eq!(record(repo, "demo", 9, &make, &[])["verdict"], "identical");

    script(&repo.join("app"), "pwd > out.txt");
    let c4 = commit(repo, "app: regression");
    assert_eq!(record(repo, "app", 10, &sh, &[])["verdict"], "differs");
    assert_eq!(record(repo, "app", 11, &sh, &[])["verdict"], "differs");
    assert_eq!(
        record(repo, "flaky", 12, &sh, &[("FLAKY", "1")])["verdict"],
        "differs"
    );
    assert_eq!(record(repo, "flaky", 13, &sh, &[])["verdict"], "identical");
    assert!(repo.join(".twice/history.db").is_file());
    assert!(
        repo.join(".twice/.gitignore").is_file(),
        "the history is not committed"
    );

    let now = twice::store::time::format_time(DAY0 + 15 * DAY);
    let r = report_json(repo, &now, &[]);
    assert_eq!(r["kind"], "determinism_report");
    assert_eq!(r["period"]["since"], "2026-01-09T00:00:00Z");
    let o = &r["overall"];
    assert_eq!(o["runs"], 5);
    assert_eq!(o["completed"], 5);
    assert_eq!(o["reproducible"], 2);
    assert!(approx(&o["rate"], 0.4), "{o}");
    assert!(approx(&o["previous_rate"], 2.0 / 3.0), "{o}");
    assert!(
        approx(&o["change_points"], (0.4 - 2.0 / 3.0) * 100.0),
        "{o}"
    );
    assert_eq!(o["targets"], 3);
    assert_eq!(o["targets_reproducible"], 2);

    let targets: Vec<(&str, u64, f64)> = r["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["target"].as_str().unwrap(),
                t["runs"].as_u64().unwrap(),
                t["rate"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        targets,
        [("app", 2, 0.0), ("flaky", 2, 0.5), ("demo", 1, 1.0)],
        "least reproducible first"
    );

    // app broke this period: last good at c1 (day 3), first bad at c4.
    let broken = r["broken"].as_array().unwrap();
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert_eq!(broken[0]["target"], "app");
    assert_eq!(broken[0]["in_period"], true);
    assert_eq!(broken[0]["last_good"]["commit"], c1.as_str());
    assert_eq!(broken[0]["last_good"]["started_at"], at(3));
    assert_eq!(broken[0]["first_bad"]["commit"], c4.as_str());
    assert_eq!(broken[0]["first_bad"]["started_at"], at(10));

    // New: app's build path and flaky's; the demo's were first seen before.
    let new = &r["new_findings"];
    assert_eq!(new["total"], 2, "{new}");
    let new_targets: Vec<&str> = new["shown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["target"].as_str().unwrap())
        .collect();
    assert_eq!(new_targets, ["app", "flaky"]);
    assert_eq!(new["shown"][0]["cause"], "build_path");
    assert_eq!(new["shown"][0]["variation"], "build_path");
    assert_eq!(new["shown"][0]["runs_in_period"], 2);
    assert_eq!(new["shown"][0]["first_run"]["commit"], c4.as_str());

    // Fixed: every finding of the broken demo, last bad c2, first good c3.
    let fixed = &r["fixed_findings"];
    assert_eq!(fixed["total"].as_u64(), Some(demo_findings), "{fixed}");
    for f in fixed["shown"].as_array().unwrap() {
        assert_eq!(f["target"], "demo");
        assert_eq!(f["last_bad"]["commit"], c2.as_str());
        assert_eq!(f["first_good"]["commit"], c3.as_str());
        assert_eq!(
            f["runs_in_period"], 1,
            "one run of the previous period had it"
        );
    }

    // Flaky: in one of the two runs at c4.
    let flaky = &r["flaky_findings"];
    assert_eq!(flaky["total"], 1, "{flaky}");
    assert_eq!(flaky["shown"][0]["target"], "flaky");
    assert_eq!(flaky["shown"][0]["flaky"]["commits"], 1);
    assert_eq!(flaky["shown"][0]["flaky"]["runs_with"], 1);
    assert_eq!(flaky["shown"][0]["flaky"]["runs_at_commits"], 2);

    // Causes: build paths in two targets (app, flaky), two artifacts.
    let causes = r["causes"].as_array().unwrap();
    assert_eq!(causes[0]["name"], "build_path", "{causes:?}");
    assert_eq!(causes[0]["targets"], 2);
    assert_eq!(causes[0]["artifacts"], 2);
    assert_eq!(causes[0]["occurrences"], 3);
    assert!(causes[0]["hint"].as_str().unwrap().contains("prefix-map"));
    assert_eq!(r["variations"][0]["name"], "build_path");

    // Failing: app twice, flaky once; cache cost: out.txt of B each time.
    let failing: Vec<(&str, u64)> = r["failing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["target"].as_str().unwrap(),
                f["not_reproducible"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(failing, [("app", 2), ("flaky", 1)]);
    assert!(r["cache_cost"]["total_bytes"].as_u64().unwrap() > 0);
    assert_eq!(r["slowest"].as_array().unwrap().len(), 5);

    // The trend: a point per day with audits.
    let series = r["trend"]["series"].as_array().unwrap();
    assert_eq!(series[0]["target"], "all targets");
    let days: Vec<u64> = series[0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["bucket"].as_u64().unwrap())
        .collect();
    assert_eq!(
        days,
        [1, 2, 3, 4, 5],
        "days 9 to 13, the period starting on day 8"
    );

    // A target filter narrows everything.
    let only = report_json(repo, &now, &["--target", "flaky"]);
    assert_eq!(only["overall"]["runs"], 2);
    assert_eq!(only["new_findings"]["total"], 1);
    assert_eq!(only["fixed_findings"]["total"], 0);

    // The history lists and shows the runs.
    let out = run(repo, &now, &["history", "list", "--target", "demo"], &[]);
    let list = ok(&out);
    assert_eq!(list.matches("demo").count(), 3, "{list}");
    let out = run(
        repo,
        &now,
        &["history", "list", "--format", "json", "--since", "3d"],
        &[],
    );
    let runs: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 2, "days 12 and 13");
    let id = runs[0]["id"].as_i64().unwrap();
    let out = run(repo, &now, &["history", "show", &id.to_string()], &[]);
    assert!(ok(&out).contains("flaky"), "{}", ok(&out));
    let out = run(
        repo,
        &now,
        &["history", "show", "3", "--format", "json"],
        &[],
    );
    let stored: Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(
        stored["findings"], broken_demo["findings"],
        "stored as recorded"
    );
}

/// A history of generated reports imported as a fleet would: 4 targets
/// over 21 days.
fn synth_history(dir: &Path) -> PathBuf {
    let end = DAY0 + 21 * DAY;
    let mut files = Vec::new();
    for (i, report) in synth::reports(160, 5, 21, end, 6, 11).enumerate() {
        let file = dir.join(format!("r{i:03}.json"));
        fs::write(&file, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
        files.push(file);
    }
    let history = dir.join("fleet.db");
    let mut args: Vec<String> = vec![
        "history".into(),
        "--history".into(),
        history.display().to_string(),
        "import".into(),
    ];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let out = twice().args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    assert!(ok(&out).contains("imported 160 report(s)"), "{}", ok(&out));
    history
}

fn fleet_report(history: &Path, format: &str) -> String {
    let out = twice()
        .env(
            "TWICE_NOW",
            twice::store::time::format_time(DAY0 + 21 * DAY),
        )
        .args(["report", "--history"])
        .arg(history)
        .args(["--since", "7d", "--format", format])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    ok(&out)
}

#[test]
fn markdown_report_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let history = synth_history(tmp.path());
    insta::assert_snapshot!("weekly_markdown", fleet_report(&history, "markdown"));
}

/// The page parses as HTML5, fetches nothing, and holds both charts with
/// a dot per charted trend point and a bar per charted cause.
#[test]
fn html_report_is_self_contained_with_both_charts() {
    use scraper::{Html, Selector};
    let tmp = tempfile::tempdir().unwrap();
    let history = synth_history(tmp.path());
    let page = fleet_report(&history, "html");
    let model: Value = serde_json::from_str(&fleet_report(&history, "json")).unwrap();
    let doc = Html::parse_document(&page);
    assert!(
        doc.errors.is_empty(),
        "HTML5 parse errors: {:?}",
        doc.errors
    );
    let sel = |s: &str| Selector::parse(s).unwrap();

    for el in doc.select(&sel("*")) {
        let v = el.value();
        for attr in ["src", "srcset", "data", "poster", "action", "formaction"] {
            assert!(v.attr(attr).is_none(), "<{} {attr}=…>", v.name());
        }
        if let Some(href) = v.attr("href").or_else(|| v.attr("xlink:href")) {
            assert!(href.starts_with('#'), "external href {href}");
        }
        assert!(
            !matches!(v.name(), "link" | "iframe" | "img" | "object" | "embed"),
            "<{}>",
            v.name()
        );
        if v.name() == "script" {
            assert!(v.attr("src").is_none());
        }
    }
    for style in doc.select(&sel("style")) {
        let css = style.text().collect::<String>();
        assert!(
            !css.contains("url(") && !css.contains("@import"),
            "CSS fetches"
        );
    }
    // The only address: the SVG namespace, which names, never fetches.
    let rest = page.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(
        !rest.contains("http://") && !rest.contains("https://"),
        "an address in the page"
    );

    // Trend: one circle per point of each charted series.
    let charted: Vec<&str> = model["trend"]["charted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        charted.len() >= 2,
        "all targets and at least one target: {charted:?}"
    );
    let points: usize = model["trend"]["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| charted.contains(&s["target"].as_str().unwrap()))
        .map(|s| s["points"].as_array().unwrap().len())
        .sum();
    let circles = doc.select(&sel("#trend-chart svg circle")).count();
    assert_eq!(circles, points, "a dot per trend point");
    // The series' lines (axes and ticks are thin polylines too).
    let lines: Vec<_> = doc
        .select(&sel("#trend-chart svg polyline"))
        .filter(|l| l.value().attr("stroke-width") != Some("1"))
        .collect();
    assert_eq!(lines.len(), charted.len());
    let vertices: usize = lines
        .iter()
        .map(|l| l.value().attr("points").unwrap().split_whitespace().count())
        .sum();
    assert_eq!(vertices, points, "a vertex per trend point");
    assert_eq!(doc.select(&sel("ul.legend li")).count(), charted.len());

    // Causes: one bar per charted cause (at most 10).
    let causes = model["causes"].as_array().unwrap().len().min(10);
    assert!(causes >= 3);
    let bars = doc.select(&sel("#causes-chart svg rect")).count();
    assert_eq!(bars, causes, "a bar per cause");
    for name in model["causes"].as_array().unwrap().iter().take(10) {
        let label = name["name"].as_str().unwrap().replace('_', " ");
        assert!(
            doc.select(&sel("#causes-chart svg text"))
                .any(|t| t.text().collect::<String>().trim() == label),
            "no label {label}"
        );
    }

    // Every number is in a table the page shows without its script.
    let rows = doc.select(&sel("#targets tbody tr")).count();
    assert_eq!(rows, model["targets"].as_array().unwrap().len());
    assert_eq!(
        doc.select(&sel("#new tbody tr")).count(),
        model["new_findings"]["shown"].as_array().unwrap().len()
    );
}

/// Text from the history reaches the page escaped.
#[test]
fn html_escapes_what_the_history_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let mut report = synth::reports(1, 1, 1, DAY0 + DAY, 3, 5).next().unwrap();
    report["context"]["target"] = "<script>alert(1)</script>".into();
    let file = tmp.path().join("evil.json");
    fs::write(&file, report.to_string()).unwrap();
    let history = tmp.path().join("h.db");
    let out = twice()
        .args(["history", "--history"])
        .arg(&history)
        .arg("import")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    let page = {
        let out = twice()
            .env("TWICE_NOW", twice::store::time::format_time(DAY0 + 2 * DAY))
            .args(["report", "--format", "html", "--history"])
            .arg(&history)
            .output()
            .unwrap();
        ok(&out)
    };
    assert!(!page.contains("<script>alert"), "unescaped");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
}

#[test]
fn import_is_idempotent_and_skips_what_it_cannot_read() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let reports: Vec<Value> = synth::reports(3, 2, 3, DAY0 + 3 * DAY, 4, 9).collect();
    let mut good = Vec::new();
    for (i, r) in reports.iter().enumerate() {
        let f = dir.join(format!("good{i}.json"));
        fs::write(&f, serde_json::to_vec_pretty(r).unwrap()).unwrap();
        good.push(f);
    }
    // The same report formatted otherwise is the same report.
    let compact = dir.join("compact.json");
    fs::write(&compact, reports[0].to_string()).unwrap();
    let mut old = reports[1].clone();
    old["schema_version"] = 1.into();
    let old_file = dir.join("old.json");
    fs::write(&old_file, old.to_string()).unwrap();
    let other = dir.join("other.json");
    fs::write(
        &other,
        r#"{"tool": {"name": "something-else"}, "schema_version": 2}"#,
    )
    .unwrap();
    let garbage = dir.join("garbage.json");
    fs::write(&garbage, "not json at all").unwrap();
    let mut diff = reports[2].clone();
    diff["command"] = "diff".into();
    let diff_file = dir.join("diff.json");
    fs::write(&diff_file, diff.to_string()).unwrap();
    let history = dir.join("h.db");

    let import = |files: &[&PathBuf]| {
        twice()
            .args(["history", "import", "--history"])
            .arg(&history)
            .args(files)
            .output()
            .unwrap()
    };
    let out = import(&[
        &good[0], &old_file, &other, &good[1], &garbage, &diff_file, &good[2], &compact,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", err(&out));
    assert!(ok(&out).contains("imported 3 report(s)"), "{}", ok(&out));
    assert!(ok(&out).contains("1 already there"), "{}", ok(&out));
    let stderr = err(&out);
    for (file, why) in [
        (&old_file, "report schema version 1 cannot be imported"),
        (&other, "not a twice report"),
        (&garbage, "not JSON"),
        (
            &diff_file,
            "a `twice diff` report: only audit reports can be imported",
        ),
    ] {
        let line = format!("twice: skipped {}: {why}", file.display());
        assert!(stderr.contains(&line), "{line}\n{stderr}");
    }
    assert!(stderr.contains("4 of 8 report(s) not imported"), "{stderr}");

    let out = import(&[&good[2], &good[0], &good[1]]);
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    assert!(ok(&out).contains("imported 0 report(s)"), "{}", ok(&out));
    let runs = Value::Array(listed(&history));
    assert_eq!(runs.as_array().unwrap().len(), 3);
    assert!(
        runs[0]["origin"]
            .as_str()
            .unwrap()
            .starts_with("imported good")
    );
}

/// Two audits recording at the same moment both land (WAL, busy timeout).
#[test]
fn concurrent_writers_both_land() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    script(&src, "pwd > where.txt; sleep 0.2");
    let history = tmp.path().join("h.db");
    let spawn = |target: &str| {
        twice()
            .env("TMPDIR", tmp.path())
            .args([
                "audit",
                "--record",
                "-q",
                "--vary",
                "build_path",
                "--name",
                target,
                "--history",
            ])
            .arg(&history)
            .arg("-C")
            .arg(&src)
            .args(["--", "./build.sh"])
            .output()
    };
    // Also a fleet import racing the audits.
    let reports: Vec<Value> = synth::reports(40, 4, 2, DAY0 + 2 * DAY, 30, 3).collect();
    let files: Vec<PathBuf> = reports
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let f = tmp.path().join(format!("r{i}.json"));
            fs::write(&f, r.to_string()).unwrap();
            f
        })
        .collect();
    std::thread::scope(|s| {
        let a = s.spawn(|| spawn("a"));
        let b = s.spawn(|| spawn("b"));
        let c = s.spawn(|| {
            twice()
                .args(["history", "import", "--history"])
                .arg(&history)
                .args(&files)
                .output()
        });
        for h in [a, b, c] {
            let out = h.join().unwrap().unwrap();
            assert!(matches!(out.status.code(), Some(0 | 1)), "{}", err(&out));
        }
    });
    let runs = Value::Array(listed(&history));
    let targets: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets.len(), 42, "{targets:?}");
    assert!(targets.contains(&"a") && targets.contains(&"b"));
}

fn small_history(dir: &Path) -> PathBuf {
    let history = dir.join("h.db");
    let mut store = twice::store::Store::open(&history, twice::store::Mode::Write).unwrap();
    for r in synth::reports(30, 3, 5, DAY0 + 5 * DAY, 8, 1) {
        store.record(r).unwrap();
    }
    // The tests below read and cut the file: all of it in the file.
    store.checkpoint().unwrap();
    history
}

#[test]
fn a_history_from_a_newer_twice_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let history = small_history(tmp.path());
    rusqlite::Connection::open(&history)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let before = fs::read(&history).unwrap();
    for args in [
        vec!["report"],
        vec!["history", "list"],
        vec!["history", "gc", "--keep", "1d"],
    ] {
        let out = twice()
            .args(&args)
            .arg("--history")
            .arg(&history)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let e = err(&out);
        assert!(
            e.contains(
                "was written by a newer twice (history schema 99; this twice reads up to 1)"
            ) && e.contains("the file was not modified"),
            "{e}"
        );
    }
    let src = tmp.path().join("src");
    script(&src, "echo same > out.txt");
    let out = twice()
        .env("TMPDIR", tmp.path())
        .args(["audit", "--record", "-q", "--vary", "none", "--history"])
        .arg(&history)
        .arg("-C")
        .arg(&src)
        .args(["--", "./build.sh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", err(&out));
    assert!(err(&out).contains("newer twice"), "{}", err(&out));
    assert_eq!(fs::read(&history).unwrap(), before, "the file changed");
}

#[test]
fn a_truncated_or_foreign_history_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let history = small_history(tmp.path());
    let full = fs::read(&history).unwrap();
    assert!(full.len() > 64 * 1024, "{}", full.len());
    for cut in [
        100,
        4096,
        5000,
        full.len() / 3,
        full.len() / 2,
        full.len() - 4096,
    ] {
        fs::write(&history, &full[..cut]).unwrap();
        let _ = fs::remove_file(history.with_extension("db-wal"));
        let _ = fs::remove_file(history.with_extension("db-shm"));
        for args in [vec!["report", "--since", "30d"], vec!["history", "list"]] {
            let out = twice()
                .env("TWICE_NOW", twice::store::time::format_time(DAY0 + 5 * DAY))
                .args(&args)
                .arg("--history")
                .arg(&history)
                .output()
                .unwrap();
            let code = out.status.code();
            let e = err(&out);
            assert!(
                code == Some(2)
                    && (e.contains("is corrupt") || e.contains("is not a twice history")),
                "cut at {cut}, {args:?}: {code:?} {e}"
            );
            assert!(!e.contains("panicked"), "{e}");
        }
    }
    fs::write(
        &history,
        b"hello, this is not a database at all, just text\n",
    )
    .unwrap();
    refused(
        &on(&history, &["history", "list"]),
        "is not a twice history database (not an SQLite database)",
    );
}

/// A history written at schema version 1 opens in a `twice` with a
/// second version: migrated once, data kept, the version raised.
#[test]
fn migration_from_schema_1_keeps_the_runs() {
    use twice::store::{MIGRATIONS, Mode, Store};
    let tmp = tempfile::tempdir().unwrap();
    let history = small_history(tmp.path());
    let before = Store::open(&history, Mode::Read)
        .unwrap()
        .list(i64::MIN, i64::MAX, &Default::default(), 1000)
        .unwrap();
    let mut next: Vec<&str> = MIGRATIONS.to_vec();
    next.push("ALTER TABLE runs ADD COLUMN note TEXT; CREATE INDEX runs_by_note ON runs (note);");
    let store = Store::open_with(&history, Mode::Read, &next).unwrap();
    let after = store
        .list(i64::MIN, i64::MAX, &Default::default(), 1000)
        .unwrap();
    assert_eq!(before.len(), 30);
    assert_eq!(
        before.iter().map(|r| r.id).collect::<Vec<_>>(),
        after.iter().map(|r| r.id).collect::<Vec<_>>()
    );
    drop(store);
    let version: i64 = rusqlite::Connection::open(&history)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    // This twice (version 1) now refuses it.
    refused(
        &on(&history, &["history", "list"]),
        "history schema 2; this twice reads up to 1",
    );
}

#[test]
fn gc_forgets_old_runs_and_their_findings() {
    let tmp = tempfile::tempdir().unwrap();
    let history = small_history(tmp.path());
    let now = twice::store::time::format_time(DAY0 + 5 * DAY);
    let out = twice()
        .env("TWICE_NOW", &now)
        .args(["history", "gc", "--keep", "2d", "--history"])
        .arg(&history)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    let said = ok(&out);
    assert!(
        said.starts_with("removed 18 run(s) started before 2026-01-04T00:00:00Z"),
        "{said}"
    );
    let runs = Value::Array(listed(&history));
    assert_eq!(runs.as_array().unwrap().len(), 12);
}

/// A build that fails is recorded with its error; the audit still exits 3.
#[test]
fn a_failed_build_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    script(&src, "echo broken >&2; exit 4");
    let history = tmp.path().join("h.db");
    let out = twice()
        .env("TMPDIR", tmp.path())
        .env("TWICE_NOW", "2026-01-02T03:04:05Z")
        .args(["audit", "--record", "-q", "--name", "t", "--history"])
        .arg(&history)
        .arg("-C")
        .arg(&src)
        .args(["--", "./build.sh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", err(&out));
    let out = twice()
        .args(["history", "show", "1", "--history"])
        .arg(&history)
        .output()
        .unwrap();
    let shown = ok(&out);
    assert!(shown.contains("failed (exit 3)"), "{shown}");
    assert!(shown.contains("2026-01-02T03:04:05Z"), "{shown}");
    assert!(shown.contains("broken"), "{shown}");
}

#[test]
fn without_a_repository_the_history_needs_a_path() {
    let tmp = tempfile::tempdir().unwrap();
    let out = twice()
        .current_dir(tmp.path())
        .args(["report"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(err(&out).contains("no repository above"), "{}", err(&out));
    let out = twice()
        .current_dir(tmp.path())
        .args(["report", "--history", "none.db"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(err(&out).contains("no history at none.db"), "{}", err(&out));
}
