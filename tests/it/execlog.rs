//! `twice execlog`: the synthetic build logs in `fixtures/execlog/` (made by
//! `cargo run --example make_execlog_fixtures`), in every format: roots,
//! taint counts, non-hermetic reasons, output comparison, bad input.

use std::fs;
use std::path::Path;

use crate::synth::{
    Build, spawns, write_bazel_compact, write_bazel_json, write_buck2, write_outputs,
};
use serde_json::Value;

use crate::{fixture, twice};

const OUT: &str = "bazel-out/k8-fastbuild/bin/src";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Run `twice execlog ARGS --format json`: (exit code, report, stderr).
pub(crate) fn execlog(args: &[&str]) -> (i32, Value, String) {
    let out = twice()
        .arg("execlog")
        .args(args)
        .args(["--format", "json"])
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .expect("run twice");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report, stderr)
}

fn pair(ext: &str) -> (String, String) {
    let p = |side: &str| {
        fixture(&format!("execlog/{side}.{ext}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    (p("a"), p("b"))
}

/// (name, class, tainted) of each root, in rank order, `name` naming its
/// action.
pub(crate) fn roots_named(
    report: &Value,
    name: impl Fn(&Value) -> String,
) -> Vec<(String, String, u64)> {
    report["roots"]
        .as_array()
        .expect("roots")
        .iter()
        .map(|r| {
            (
                name(&r["action"]),
                r["class"].as_str().unwrap().to_owned(),
                r["tainted"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// (primary output file name, class, tainted) of each root, in rank order.
fn roots(report: &Value) -> Vec<(String, String, u64)> {
    roots_named(report, |a| {
        let out = a["primary_output"].as_str().unwrap_or("");
        out.rsplit('/').next().unwrap().to_owned()
    })
}

fn action<'r>(report: &'r Value, output: &str) -> &'r Value {
    report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"]["primary_output"] == format!("{OUT}/{output}"))
        .unwrap_or_else(|| panic!("no action for {output}"))
}

#[test]
fn committed_fixtures_are_what_the_generator_writes() {
    for (build, side) in [(Build::A, "a"), (Build::B, "b")] {
        let mut json = Vec::new();
        write_bazel_json(spawns(build, 0), &mut json).unwrap();
        let mut compact = Vec::new();
        write_bazel_compact(spawns(build, 0), &mut compact).unwrap();
        let mut buck2 = Vec::new();
        write_buck2(spawns(build, 0), &mut buck2).unwrap();
        for (ext, bytes) in [
            ("exec.json", json),
            ("exec.zst", compact),
            ("what-ran.jsonl", buck2),
        ] {
            let path = fixture(&format!("execlog/{side}.{ext}"));
            assert!(
                fs::read(&path).unwrap() == bytes,
                "{} is stale: cargo run --example make_execlog_fixtures",
                path.display()
            );
        }
    }
}

fn assert_bazel_report(report: &Value) {
    assert_eq!(
        roots(report),
        [
            ("b.o".to_owned(), "non_deterministic".to_owned(), 4),
            ("c.o".to_owned(), "non_hermetic".to_owned(), 3),
            ("version.h".to_owned(), "non_hermetic".to_owned(), 1),
        ]
    );
    let sum = &report["summary"];
    assert_eq!(sum["paired"], 11);
    assert_eq!(sum["identical"], 2);
    assert_eq!(sum["non_deterministic"], 1);
    assert_eq!(sum["non_hermetic"], 2);
    assert_eq!(sum["tainted"], 6);
    assert_eq!(sum["only_b"], 1);
    assert_eq!(report["only_b"][0]["label"], "//src:docs");
    // The worst root's chain runs down to the test.
    let chain: Vec<&str> = report["roots"][0]["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["mnemonic"].as_str().unwrap())
        .collect();
    assert_eq!(
        chain,
        [
            "CppCompile",
            "CppArchive",
            "CppLink",
            "CppLink",
            "TestRunner"
        ]
    );
    // Non-hermetic reasons name the variable and the argument.
    assert_eq!(
        action(report, "c.o")["reasons"],
        serde_json::json!([{"kind": "environment", "name": "LANG", "a": "C", "b": "en_US.UTF-8"}])
    );
    let stamp = &action(report, "version.h")["reasons"][0];
    assert_eq!(stamp["kind"], "arguments");
    assert_eq!(stamp["at"], 3);
    assert_eq!(stamp["a"], serde_json::json!(["--stamp=1764064800"]));
    assert_eq!(stamp["b"], serde_json::json!(["--stamp=1764070200"]));
    // The root itself has no reasons: same command, env and inputs.
    assert!(action(report, "b.o").get("reasons").is_none());
    // The app is tainted through both of its differing libraries.
    let app = action(report, "app");
    assert_eq!(app["class"], "tainted");
    let by: Vec<&str> = app["tainted_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["paths"][0].as_str().unwrap())
        .collect();
    assert_eq!(by, [format!("{OUT}/libab.so"), format!("{OUT}/libc.so")]);
}

#[test]
fn bazel_json_logs_name_roots_taint_and_reasons() {
    let (a, b) = pair("exec.json");
    let (code, report, stderr) = execlog(&[&a, &b]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(report["command"], "execlog");
    assert_eq!(report["inputs"]["a"]["format"], "bazel_json");
    assert_bazel_report(&report);
}

#[test]
fn bazel_compact_logs_give_the_same_answer() {
    let (a, b) = pair("exec.zst");
    let (code, compact, stderr) = execlog(&[&a, &b]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(compact["inputs"]["b"]["format"], "bazel_compact");
    assert_bazel_report(&compact);
    let (ja, jb) = pair("exec.json");
    let (_, json, _) = execlog(&[&ja, &jb]);
    for key in ["summary", "roots", "actions", "only_a", "only_b"] {
        assert_eq!(compact[key], json[key], "{key}");
    }
}

#[test]
fn the_same_log_twice_is_identical() {
    for ext in ["exec.json", "exec.zst", "what-ran.jsonl"] {
        let (a, _) = pair(ext);
        let (code, report, stderr) = execlog(&[&a, &a]);
        assert_eq!(code, 0, "{ext}: {stderr}");
        assert_eq!(report["verdict"], "identical");
        assert_eq!(report["summary"]["identical"], 11);
        assert!(report["roots"].as_array().unwrap().is_empty());
    }
}

#[test]
fn log_order_does_not_change_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let reversed = dir.path().join("b-reversed.json");
    let mut list: Vec<_> = spawns(Build::B, 0).collect();
    list.reverse();
    let mut out = Vec::new();
    write_bazel_json(list.into_iter(), &mut out).unwrap();
    fs::write(&reversed, out).unwrap();
    let (a, b) = pair("exec.json");
    let (_, straight, _) = execlog(&[&a, &b]);
    let (_, shuffled, _) = execlog(&[&a, s(&reversed)]);
    for key in ["summary", "roots", "actions", "only_a", "only_b"] {
        assert_eq!(straight[key], shuffled[key], "{key}");
    }
}

#[test]
fn buck2_logs_name_local_reasons_and_differing_keys() {
    let (a, b) = pair("what-ran.jsonl");
    let (code, report, stderr) = execlog(&[&a, &b]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(report["inputs"]["a"]["format"], "buck2_what_ran");
    let sum = &report["summary"];
    assert_eq!(sum["paired"], 11);
    // Local actions log argv and env: the reasons are named.
    assert_eq!(sum["non_hermetic"], 2);
    // Remote ones log only the digest, which differs downstream.
    assert_eq!(sum["unexplained"], 6);
    // The non-deterministic compile keeps its key: what-ran has no outputs.
    assert_eq!(sum["identical"], 3);
    let reasons: Vec<&Value> = report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["class"] == "non_hermetic")
        .map(|a| &a["reasons"][0])
        .collect();
    assert_eq!(reasons[0]["name"], "LANG");
    assert_eq!(reasons[1]["b"][0], "--stamp=1764070200");
    assert_eq!(
        report["summary"]["by_reason"],
        serde_json::json!([
            {"kind": "action_key", "actions": 6},
            {"kind": "arguments", "actions": 1},
            {"kind": "environment", "name": "LANG", "actions": 1},
        ])
    );
    assert_eq!(
        report["limitations"][0],
        serde_json::json!({"kind": "no_inputs_or_outputs", "side": "a"})
    );
}

#[test]
fn fetched_outputs_are_compared_structurally() {
    let dir = tempfile::tempdir().unwrap();
    let (oa, ob) = (dir.path().join("a"), dir.path().join("b"));
    write_outputs(spawns(Build::A, 0), &oa).unwrap();
    write_outputs(spawns(Build::B, 0), &ob).unwrap();
    fs::remove_file(ob.join(OUT).join("version.h")).unwrap();
    let (a, b) = pair("exec.json");
    let (code, report, stderr) = execlog(&[&a, &b, "--fetch-outputs", s(&oa), s(&ob)]);
    assert_eq!(code, 1, "{stderr}");
    let cmp = &action(&report, "b.o")["outputs"][0]["comparison"];
    assert_eq!(cmp["status"], "compared");
    assert_eq!(cmp["verdict"], "differs");
    let causes: Vec<&str> = cmp["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["cause"]["kind"].as_str().unwrap())
        .collect();
    assert!(causes.contains(&"timestamp"), "{causes:?}");
    assert_eq!(
        action(&report, "version.h")["outputs"][0]["comparison"],
        serde_json::json!({"status": "missing", "side": "b"})
    );
    // Tainted actions are not compared: their roots explain them.
    assert!(
        action(&report, "app")["outputs"][0]
            .get("comparison")
            .is_none()
    );
    // The text report shows the findings under the root.
    let text = twice()
        .args([
            "execlog",
            &a,
            &b,
            "--color",
            "never",
            "--fetch-outputs",
            s(&oa),
            s(&ob),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("not in the output tree of B"), "{text}");
    assert!(text.contains("timestamp"), "{text}");
}

#[test]
fn text_report_ranks_roots_and_shows_chains() {
    let (a, b) = pair("exec.zst");
    let out = twice()
        .args(["execlog", &a, &b, "--color", "never", "--top", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text
        .find("1. //src:b CppCompile")
        .expect("b.o ranked first");
    let second = text.find("2. //src:c CppCompile").expect("c.o second");
    assert!(first < second, "{text}");
    assert!(
        text.contains("environment LANG: A \"C\", B \"en_US.UTF-8\""),
        "{text}"
    );
    // --top 1: only the worst root shows its chain.
    assert_eq!(text.matches("chain:").count(), 1, "{text}");
    assert!(
        text.contains("differs: 3 roots, 6 tainted actions"),
        "{text}"
    );
}

fn bad_input(a: &Path, b: &Path) -> String {
    let out = twice()
        .args(["execlog", s(a), s(b)])
        .output()
        .expect("run twice");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr
}

#[test]
fn truncated_logs_are_input_errors_naming_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (good, _) = pair("exec.json");
    let json = fs::read(&good).unwrap();
    let cut = dir.path().join("cut.json");
    fs::write(&cut, &json[..json.len() / 2]).unwrap();
    let err = bad_input(Path::new(&good), &cut);
    assert!(
        err.contains("cut.json: Bazel JSON execution log at byte offset"),
        "{err}"
    );
    assert!(err.contains("ends inside a record"), "{err}");

    let (good, _) = pair("exec.zst");
    let zst = fs::read(&good).unwrap();
    let cut = dir.path().join("cut.zst");
    fs::write(&cut, &zst[..zst.len() - 7]).unwrap();
    let err = bad_input(Path::new(&good), &cut);
    assert!(
        err.contains("cut.zst: Bazel compact execution log at"),
        "{err}"
    );
    assert!(err.contains("byte offset"), "{err}");

    let (good, _) = pair("what-ran.jsonl");
    let text = fs::read(&good).unwrap();
    let cut = dir.path().join("cut.jsonl");
    fs::write(&cut, &text[..text.len() - 20]).unwrap();
    let err = bad_input(Path::new(&good), &cut);
    assert!(
        err.contains("Buck2 what-ran JSON log at byte offset"),
        "{err}"
    );
}

#[test]
fn corrupt_unknown_empty_and_mixed_logs_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (good, _) = pair("exec.zst");
    let mut zst = fs::read(&good).unwrap();
    let mid = zst.len() / 2;
    zst[mid..mid + 16].fill(0xff);
    let bad = dir.path().join("bad.zst");
    fs::write(&bad, &zst).unwrap();
    let err = bad_input(Path::new(&good), &bad);
    assert!(
        err.contains("bad.zst: Bazel compact execution log at"),
        "{err}"
    );

    let json = dir.path().join("bad.json");
    fs::write(&json, "{\"commandArgs\": [1, 2]}").unwrap();
    let err = bad_input(&json, &json);
    assert!(
        err.contains("invalid JSON") && err.contains("byte offset 0"),
        "{err}"
    );

    let elf = dir.path().join("a.out");
    fs::write(&elf, b"\x7fELF\x02\x01\x01").unwrap();
    let err = bad_input(&elf, &elf);
    assert!(err.contains("not a Bazel execution log"), "{err}");

    // White space only: an empty log, read as no actions (with a note).
    let empty = dir.path().join("empty.json");
    fs::write(&empty, "\n").unwrap();
    let (code, report, _) = execlog(&[s(&empty), s(&empty)]);
    assert_eq!(code, 0);
    assert_eq!(report["limitations"][0]["kind"], "empty_log");

    let (buck, _) = pair("what-ran.jsonl");
    let err = bad_input(Path::new(&good), Path::new(&buck));
    assert!(
        err.contains("cannot compare a Bazel compact execution log with a Buck2"),
        "{err}"
    );

    let missing = dir.path().join("missing.json");
    assert!(bad_input(&missing, Path::new(&good)).contains("missing.json"));
}

#[test]
fn text_report_snapshot() {
    // Relative paths keep the snapshot independent of the checkout.
    let out = twice()
        .args([
            "execlog",
            "fixtures/execlog/a.exec.zst",
            "fixtures/execlog/b.exec.zst",
            "--color",
            "never",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    insta::assert_snapshot!("execlog_text_report", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn json_report_snapshot() {
    let out = twice()
        .args([
            "execlog",
            "fixtures/execlog/a.exec.json",
            "fixtures/execlog/b.exec.json",
            "--format",
            "json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    insta::assert_json_snapshot!("execlog_json_report", report, {
        ".tool.version" => "[version]",
    });
}

#[test]
fn thread_count_does_not_change_the_report() {
    let (a, b) = pair("exec.zst");
    let (_, one, _) = execlog(&[&a, &b, "-j", "1"]);
    let (_, four, _) = execlog(&[&a, &b, "-j", "4"]);
    assert_eq!(one, four);
}
