//! Issue 12, findings that are right on artifacts nobody here built: every
//! pair of `fixtures/precision/` (made by real tools, see its README) is
//! compared by the `twice` binary and checked against `expected.json` with
//! the rules `check_expected.py` applies (`matching` in expected.json);
//! the same comparisons under `faketime` at three dates years apart give
//! byte-identical JSON (class 1); and a Rust release and debug binary built
//! from two source roots by `make_rust_pair.sh` (cached under the target
//! directory, keyed by the script's hash) come out with no `unknown`
//! finding (class 6).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use crate::twice;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn expected() -> Value {
    let path = repo().join("fixtures/precision/expected.json");
    serde_json::from_slice(&std::fs::read(&path).expect("expected.json")).expect("JSON")
}

/// `twice diff A B --format json` run from the repository (the pairs'
/// paths are relative to it), under `faketime DATE` when given.
fn diff(a: &str, b: &str, extra: &[&str], date: Option<&str>) -> Vec<u8> {
    let out = match date {
        Some(date) => std::process::Command::new(crate::which("faketime"))
            .arg(date)
            .arg(assert_cmd::cargo::cargo_bin("twice"))
            .current_dir(repo())
            .args(["diff", a, b, "--format", "json"])
            .args(extra)
            .output(),
        None => twice()
            .current_dir(repo())
            .args(["diff", a, b, "--format", "json"])
            .args(extra)
            .output(),
    }
    .expect("run twice");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{a} {b}: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The finding's range in side A: `(kind, start, end)`, as
/// check_expected.py's `a_range`.
fn a_range(f: &Value) -> (String, Option<i64>, Option<i64>) {
    let loc = &f["location"];
    let kind = loc["kind"].as_str().unwrap_or("").to_owned();
    let num = |v: &Value| v.as_i64();
    match kind.as_str() {
        "bytes" => {
            let at = num(&loc["a"]["at"]);
            let len = num(&loc["a"]["len"]).unwrap_or(0).max(1);
            ("bytes".into(), at, at.map(|s| s + len))
        }
        "field" if loc["at"].is_i64() => (
            "bytes".into(),
            num(&loc["at"]),
            num(&loc["at"]).map(|s| s + 1),
        ),
        "lines" => {
            let start = num(&loc["a"]["start"]);
            let count = num(&loc["a"]["count"]).unwrap_or(0).max(1);
            ("lines".into(), start, start.map(|s| s + count))
        }
        _ => (kind, None, None),
    }
}

/// Does finding `f` meet matcher `m` (expected.json, `matching.keys`)?
fn meets(f: &Value, m: &Value) -> bool {
    if let Some(any) = m["any_of"].as_array() {
        return any.iter().any(|x| meets(f, x));
    }
    let art = match f["artifact"].as_str() {
        Some(s) => s.to_owned(),
        None => f["artifact"].to_string(),
    };
    let s = |k: &str| m[k].as_str();
    let cause = &f["cause"];
    let kind = cause["kind"].as_str().unwrap_or("");
    let path = f["location"]["path"]
        .as_array()
        .map(|p| {
            p.iter()
                .map(|x| x.as_str().unwrap_or(""))
                .collect::<Vec<_>>()
                .join(" / ")
        })
        .unwrap_or_default();
    let overlaps =
        |(k, s0, e0): (String, Option<i64>, Option<i64>), want: &str, at: i64, len: i64| {
            k == want && s0.zip(e0).is_some_and(|(s0, e0)| s0 < at + len && at < e0)
        };
    s("artifact").is_none_or(|x| art == x)
        && s("artifact_suffix").is_none_or(|x| art.ends_with(x))
        && s("artifact_prefix").is_none_or(|x| art.starts_with(x))
        && s("artifact_contains").is_none_or(|x| art.contains(x))
        && s("cause").is_none_or(|x| kind == x)
        && m["cause_any"]
            .as_array()
            .is_none_or(|v| v.iter().any(|c| c.as_str() == Some(kind)))
        && s("encoding").is_none_or(|x| cause["encoding"].as_str() == Some(x))
        && s("reason_contains").is_none_or(|x| {
            cause["reason"]
                .as_str()
                .is_none_or(|r| r.to_lowercase().contains(x))
        })
        && s("location_kind").is_none_or(|x| f["location"]["kind"].as_str() == Some(x))
        && m["path_contains"]
            .as_array()
            .is_none_or(|v| v.iter().all(|x| path.contains(x.as_str().unwrap_or(""))))
        && m["at"]
            .as_i64()
            .is_none_or(|at| overlaps(a_range(f), "bytes", at, m["len"].as_i64().unwrap_or(1)))
        && m["lines_a"].as_array().is_none_or(|v| {
            let start = v.first().and_then(Value::as_i64).unwrap_or(0);
            let count = v.get(1).and_then(Value::as_i64).unwrap_or(1).max(1);
            overlaps(a_range(f), "lines", start, count)
        })
        && ["a", "b"].iter().all(|side| {
            let key = format!("time_{side}");
            m.get(&key)
                .is_none_or(|want| &f[*side]["decoded"]["time"] == want)
        })
}

/// What is wrong with a case's report (empty: it is right).
fn problems(case: &Value, report: &Value) -> Vec<String> {
    let findings = report["findings"].as_array().expect("findings");
    let mut out = Vec::new();
    for m in case["expect"].as_array().into_iter().flatten() {
        if !findings.iter().any(|f| meets(f, m)) {
            out.push(format!(
                "missing: {}",
                m["field"].as_str().unwrap_or(&m.to_string())
            ));
        }
    }
    for m in case["must_not"].as_array().into_iter().flatten() {
        let n = findings.iter().filter(|f| meets(f, m)).count();
        if n > 0 {
            out.push(format!(
                "must not: {} ({n})",
                m["why"].as_str().unwrap_or(&m.to_string())
            ));
        }
    }
    for c in case["forbid_causes"].as_array().into_iter().flatten() {
        let n = findings.iter().filter(|f| &f["cause"]["kind"] == c).count();
        if n > 0 {
            out.push(format!("forbidden cause {c} x{n}"));
        }
    }
    out
}

/// The committed pairs: (id, a, b).
fn committed() -> Vec<(String, String, String)> {
    expected()["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .filter(|c| !c["a"].as_str().unwrap_or("").starts_with("$RUST_PAIR"))
        .map(|c| {
            let s = |k: &str| c[k].as_str().expect(k).to_owned();
            (s("id"), s("a"), s("b"))
        })
        .collect()
}

/// Every committed pair is reported as expected.json says: causes, fields,
/// decoded times, and none of the labels it forbids.
#[test]
fn r12_every_precision_pair_is_labelled_right() {
    let doc = expected();
    let mut failed = Vec::new();
    let mut checked = 0;
    for case in doc["cases"].as_array().expect("cases") {
        let (a, b) = (case["a"].as_str().unwrap(), case["b"].as_str().unwrap());
        if a.starts_with("$RUST_PAIR") {
            continue;
        }
        let report: Value = serde_json::from_slice(&diff(a, b, &[], None)).expect("JSON");
        let p = problems(case, &report);
        if !p.is_empty() {
            failed.push(format!("{}: {}", case["id"], p.join("; ")));
        }
        checked += 1;
    }
    assert_eq!(checked, 49);
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// The report does not depend on the date `twice` runs (issue 12, class
/// 1): every pair under faketime at 2018, 2021 and 2029 gives the same
/// bytes as without.
#[test]
fn r12_reports_are_the_same_on_any_date() {
    for (id, a, b) in committed() {
        let today = diff(&a, &b, &[], None);
        for date in [
            "2018-03-01 12:00:00",
            "2021-06-15 08:30:00",
            "2029-11-30 23:00:00",
        ] {
            assert!(
                diff(&a, &b, &[], Some(date)) == today,
                "{id}: the report under faketime {date} differs"
            );
        }
    }
}

/// The Rust pair, built once per script version under the target
/// directory: `(dir, root A, root B)`.
fn rust_pair() -> &'static (PathBuf, String, String) {
    static PAIR: OnceLock<(PathBuf, String, String)> = OnceLock::new();
    PAIR.get_or_init(|| {
        let script = repo().join("fixtures/precision/make_rust_pair.sh");
        let text = std::fs::read(&script).expect("script");
        let hash = blake3::hash(&text).to_hex();
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("rust-pair-{}", &hash[..16]));
        let stamp = dir.join("done");
        if !stamp.exists() {
            let status = std::process::Command::new("bash")
                .arg(&script)
                .arg(&dir)
                .env_remove("CARGO_TARGET_DIR")
                .env_remove("RUSTFLAGS")
                .env_remove("CARGO_ENCODED_RUSTFLAGS")
                .status()
                .expect("run make_rust_pair.sh");
            assert!(status.success(), "make_rust_pair.sh failed");
            std::fs::write(&stamp, b"").unwrap();
        }
        let roots = std::fs::read_to_string(dir.join("roots.txt")).expect("roots.txt");
        let root = |side: &str| {
            roots
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{side} ")))
                .expect("root")
                .to_owned()
        };
        (dir.clone(), root("a"), root("b"))
    })
}

/// A Rust release and debug binary built in two directories: every
/// difference is a build path or its consequence, with and without the
/// roots given (issue 12, class 6).
#[test]
fn r12_rust_release_and_debug_have_no_unknown() {
    let (dir, root_a, root_b) = rust_pair();
    let doc = expected();
    for profile in ["release", "debug"] {
        let a = dir.join(profile).join("a");
        let b = dir.join(profile).join("b");
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        for extra in [vec![], vec!["--root-a", root_a, "--root-b", root_b]] {
            let report: Value = serde_json::from_slice(&diff(a, b, &extra, None)).unwrap();
            let by_cause = &report["summary"]["by_cause"];
            assert!(
                by_cause.get("unknown").is_none(),
                "{profile} {extra:?}: {by_cause}"
            );
            assert!(
                by_cause.get("build_path").is_some(),
                "{profile}: {by_cause}"
            );
            let case = doc["cases"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == format!("c06-rust-{profile}"))
                .unwrap();
            assert_eq!(
                problems(case, &report),
                Vec::<String>::new(),
                "{profile} {extra:?}"
            );
            // Evidence never pairs two different file names.
            for f in report["findings"].as_array().unwrap() {
                let file = |side: &str| {
                    let text = f[side]["token"]["text"].as_str().unwrap_or("");
                    text.rsplit('/').next().unwrap_or("").to_owned()
                };
                if f["cause"]["kind"] == "build_path" {
                    assert_eq!(file("a"), file("b"), "{f}");
                }
            }
        }
    }
}
