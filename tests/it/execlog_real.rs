//! `twice execlog` on logs a real Bazel wrote (`fixtures/bazel/logs`, Bazel
//! 4.2.3 JSON and binary), on the same builds re-encoded in the layouts of
//! later Bazel versions (`fixtures/bazel/converted`: compact 7.1–7.3 and
//! 7.4+, current JSON) and on Buck2 records in the shape its serializer
//! writes (`fixtures/bazel/buck2`). The expected facts are those of
//! `fixtures/bazel/README.md`. Regression tests of issue 14 are named
//! `r14_*`, of issue 11 `r11_*`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::execlog::{execlog, roots_named};
use crate::synth::wire as pb;
use crate::{fixture, twice};

fn bazel(rel: &str) -> String {
    fixture(&format!("bazel/{rel}"))
        .to_str()
        .unwrap()
        .to_owned()
}

fn text(args: &[&str]) -> (i32, String) {
    let out = twice()
        .arg("execlog")
        .args(args)
        .args(["--color", "never"])
        .timeout(Duration::from_secs(120))
        .output()
        .expect("run twice");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The summary counts of the README's "Expected facts: A against B".
fn expected_ab() -> Value {
    json!({
        "paired": 30, "identical": 6, "non_deterministic": 6, "non_hermetic": 2,
        "tainted": 15, "unexplained": 0, "failed": 1, "not_compared": 0,
        "only_a": 1, "only_b": 0,
    })
}

fn counts(report: &Value) -> Value {
    let mut s = report["summary"].clone();
    s.as_object_mut().unwrap().remove("by_reason");
    s
}

/// (label, class, tainted) of each root, in rank order.
fn roots(report: &Value) -> Vec<(String, String, u64)> {
    roots_named(report, |a| a["label"].as_str().unwrap_or("").to_owned())
}

fn expected_roots() -> Vec<(String, String, u64)> {
    [
        ("//:stamp_h", "non_deterministic", 5),
        ("//:host_txt", "non_deterministic", 2),
        ("//:tree", "non_deterministic", 2),
        ("//:flavor_tool", "non_hermetic", 2),
        ("//:dangling", "non_deterministic", 1),
        ("//:host_conf", "non_deterministic", 1),
        ("//:test_data", "non_deterministic", 1),
        ("//:greeting", "non_hermetic", 1),
    ]
    .iter()
    .map(|(l, c, n)| ((*l).to_owned(), (*c).to_owned(), *n))
    .collect()
}

/// The reported action of this label and mnemonic.
fn action<'r>(report: &'r Value, label: &str, mnemonic: &str) -> &'r Value {
    report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"]["label"] == label && a["action"]["mnemonic"] == mnemonic)
        .unwrap_or_else(|| panic!("no action {label} {mnemonic}"))
}

const PAIRS: [(&str, &str); 6] = [
    ("logs/a.exec.json", "logs/b.exec.json"),
    ("logs/a.exec.bin", "logs/b.exec.bin"),
    ("converted/a.exec.v71.zst", "converted/b.exec.v71.zst"),
    ("converted/a.exec.v74.zst", "converted/b.exec.v74.zst"),
    ("converted/a.exec.ndjson", "converted/b.exec.ndjson"),
    ("converted/a.exec.v7.json", "converted/b.exec.v7.json"),
];

#[test]
fn every_bazel_layout_gives_the_readmes_facts() {
    for (a, b) in PAIRS {
        let (code, report, stderr) = execlog(&[&bazel(a), &bazel(b)]);
        assert_eq!(code, 1, "{a}: {stderr}");
        assert_eq!(counts(&report), expected_ab(), "{a}");
        assert_eq!(roots(&report), expected_roots(), "{a}");
        assert_eq!(report["only_a"][0]["label"], "//:after_fail", "{a}");
        // One argument (greeting; fails_in_b's is secondary to its
        // failure) and one variable.
        assert_eq!(
            report["summary"]["by_reason"],
            json!([
                {"kind": "arguments", "actions": 1},
                {"kind": "environment", "name": "BUILD_FLAVOR", "actions": 1},
            ]),
            "{a}"
        );
    }
}

/// r14 defect 1: Bazel 7.1–7.3 compact logs (`InputSet.file_ids = 1`, …)
/// lost every input and output; a log against itself was "identical".
#[test]
fn r14_compact_7_1_layout_keeps_inputs_and_outputs() {
    let (a, b) = (
        bazel("converted/a.exec.v71.zst"),
        bazel("converted/b.exec.v71.zst"),
    );
    let (code, report, _) = execlog(&[&a, &b]);
    assert_eq!(code, 1);
    assert_eq!(report["inputs"]["a"]["layout"], "compact 7.1–7.3");
    assert_eq!(
        action(&report, "//:stamp_h", "Genrule")["class"],
        "non_deterministic"
    );
    assert_eq!(
        action(&report, "//:hello", "CppCompile")["tainted_by"][0]["paths"],
        json!(["bazel-out/k8-fastbuild/bin/stamp.h"])
    );
    let (code, report, _) = execlog(&[&a, &a]);
    assert_eq!((code, &report["verdict"]), (0, &json!("identical")));
    assert!(
        report["limitations"].as_array().unwrap().is_empty(),
        "{report}"
    );
}

/// r14 defect 1, in general: a layout whose fields `twice` does not know
/// (here a future `InputSet` and `Output` numbering) gives a warning and
/// never a silent "identical".
#[test]
fn r14_unknown_fields_and_actions_without_files_are_never_silently_identical() {
    let dir = tempfile::tempdir().unwrap();
    let mut set = Vec::new();
    pb::uint(9, 1, &mut set); // a future input_ids field
    let mut out = Vec::new();
    pb::uint(9, 2, &mut out); // a future output_id field
    let mut spawn = Vec::new();
    pb::bytes(1, b"cc", &mut spawn);
    pb::uint(4, 3, &mut spawn);
    pb::bytes(6, &out, &mut spawn);
    pb::bytes(8, b"CppCompile", &mut spawn);
    let log = pb::log(&[
        pb::entry(1, 3, &pb::file("a.c", "aa00aa00aa00aa00aa00")),
        pb::entry(2, 3, &pb::file("a.o", "bb00bb00bb00bb00bb00")),
        pb::entry(3, 6, &set),
        pb::entry(0, 7, &spawn),
    ]);
    let path = dir.path().join("future.zst");
    fs::write(&path, log).unwrap();
    let p = path.to_str().unwrap();
    let (code, report, stderr) = execlog(&[p, p]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(report["verdict"], "incomplete");
    let kinds: Vec<&str> = report["limitations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"unknown_fields"), "{kinds:?}");
    assert!(kinds.contains(&"no_files_at_all"), "{kinds:?}");
    let fields = &report["limitations"][0]["fields"];
    assert_eq!(
        fields,
        &json!([{"name": "InputSet.9", "count": 1}, {"name": "Output.9", "count": 1}])
    );
    let (_, text) = text(&[p, p]);
    assert!(
        text.contains("does not read (InputSet.9 ×1, Output.9 ×1)"),
        "{text}"
    );
    assert!(text.contains("incomplete:"), "{text}");

    // The same in a JSON log: an unknown key of SpawnExec.
    let json = fs::read_to_string(bazel("converted/a.exec.ndjson")).unwrap();
    let json = json.replace("{\"commandArgs\"", "{\"futureField\":1,\"commandArgs\"");
    let path = dir.path().join("future.json");
    fs::write(&path, json).unwrap();
    let p = path.to_str().unwrap();
    let (code, report, _) = execlog(&[p, p]);
    assert_eq!(code, 2);
    assert_eq!(
        report["limitations"][0],
        json!({"kind": "unknown_fields", "side": "a", "fields": [{"name": "SpawnExec.futureField", "count": 31}]})
    );
}

/// r14 defect 2: current Bazel names runfiles inputs by display path; the
/// test whose data file is non-deterministic is tainted by that root.
#[test]
fn r14_runfiles_inputs_are_traced_to_their_producer() {
    let (code, report, _) = execlog(&[
        &bazel("converted/a.exec.ndjson"),
        &bazel("converted/b.exec.ndjson"),
    ]);
    assert_eq!(code, 1);
    let test = action(&report, "//:data_test", "TestRunner");
    assert_eq!(test["class"], "tainted");
    assert_eq!(test["tainted_by"][0]["action"]["label"], "//:test_data");
    assert_eq!(
        test["tainted_by"][0]["paths"],
        json!(["bazel-out/k8-fastbuild/bin/data_test.runfiles/twice_fixture/test_data.txt"])
    );
    assert_eq!(report["summary"]["non_hermetic"], 2);
}

/// r14 defect 3: a failed action is "failed in B (exit 3)", not
/// non-hermetic.
#[test]
fn r14_failed_actions_get_their_own_class() {
    for (a, b) in PAIRS {
        let (_, report, _) = execlog(&[&bazel(a), &bazel(b)]);
        let f = action(&report, "//:fails_in_b", "Genrule");
        assert_eq!(f["class"], "failed", "{a}");
        assert_eq!(f["failure"], json!({"side": "b"}), "{a}");
        assert_eq!(f["run_b"]["exit_code"], 3, "{a}");
        assert_eq!(f["run_b"]["status"], "NON_ZERO_EXIT", "{a}");
        assert_eq!(f["reasons"][0]["kind"], "arguments", "{a}");
    }
    let (_, text) = text(&[&bazel("logs/a.exec.json"), &bazel("logs/b.exec.json")]);
    assert!(
        text.contains("//:fails_in_b Genrule bazel-out/k8-fastbuild/bin/fails_in_b.txt  failed in B (exit 3, NON_ZERO_EXIT), passed in A"),
        "{text}"
    );
}

/// r14 defect 4: `ReWorker`, `LocalDepFileCache` (no details) and an
/// unknown executor aborted the run; `duration`, `std_err`,
/// `scheduling_mode` were ignored; changed actions were not paired.
#[test]
fn r14_buck2_records_of_every_executor_are_read() {
    let (code, report, stderr) = execlog(&[
        &bazel("buck2/a.what-ran.jsonl"),
        &bazel("buck2/b.what-ran.jsonl"),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        counts(&report),
        json!({
            "paired": 28, "identical": 14, "non_deterministic": 0, "non_hermetic": 3,
            "tainted": 0, "unexplained": 10, "failed": 0, "not_compared": 1,
            "only_a": 1, "only_b": 0,
        })
    );
    let cfg = "(prelude//platforms:default#2a1c6ab9fa4fb4c2)";
    let greet = action(&report, &format!("root//:greet {cfg}"), "cxx_compile");
    assert_eq!(greet["class"], "not_compared");
    assert_eq!(greet["action"]["primary_output"], "greet.cc (pic)");
    assert_eq!(greet["run_b"]["runner"], "LocalDepFileCache");
    let fails = action(&report, &format!("root//:fails_in_b {cfg}"), "genrule");
    assert_eq!(fails["run_b"]["std_err"], "failing on purpose\n");
    assert_eq!(fails["run_b"]["scheduling_mode"], "LocalOnly");
    assert_eq!(fails["run_b"]["duration"], "0.1s");
    let tree = action(&report, &format!("root//:tree_listing {cfg}"), "genrule");
    assert_eq!(tree["run_a"]["runner"], "ReWorker");
    assert_eq!(tree["class"], "unexplained");
    assert!(report["limitations"].as_array().unwrap().contains(&json!({
        "kind": "unknown_executors", "side": "b",
        "executors": [{"name": "LocalActionCache", "count": 1}],
    })));
    assert_eq!(
        report["only_a"][0]["label"],
        format!("root//:after_fail {cfg}")
    );
}

/// r14 defect 5 (and 6): one build's log in two formats compares
/// identical: tree artifacts, runfiles, omitted empty-file digests,
/// unresolved symlinks and labels normalised.
#[test]
fn r14_one_build_in_two_formats_is_identical() {
    for (a, b) in [
        ("logs/a.exec.json", "converted/a.exec.v74.zst"),
        ("converted/a.exec.v74.zst", "logs/a.exec.json"),
        ("logs/a.exec.json", "converted/a.exec.ndjson"),
        ("converted/a.exec.ndjson", "converted/a.exec.v74.zst"),
        ("converted/a.exec.v71.zst", "converted/a.exec.v74.zst"),
        ("converted/a.exec.v71.zst", "converted/a.exec.ndjson"),
        ("logs/a.exec.bin", "logs/a.exec.json"),
        ("logs/a.exec.bin", "converted/a.exec.v71.zst"),
        ("logs/warm-b.exec.json", "converted/warm-b.exec.v74.zst"),
    ] {
        let (code, report, stderr) = execlog(&[&bazel(a), &bazel(b)]);
        assert_eq!(code, 0, "{a} {b}: {stderr} {}", report["actions"]);
        assert_eq!(report["verdict"], "identical", "{a} {b}");
        assert!(
            report["summary"]["paired"].as_u64().unwrap() >= 29,
            "{a} {b}"
        );
    }
}

/// r14 defect 6: an omitted digest of an empty file equals e3b0…/0.
#[test]
fn r14_an_omitted_empty_digest_equals_the_empty_digest() {
    let json = fs::read_to_string(bazel("converted/a.exec.ndjson")).unwrap();
    assert!(json.contains("\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\""));
    let (code, report, _) = execlog(&[
        &bazel("converted/a.exec.ndjson"),
        &bazel("converted/a.exec.v74.zst"),
    ]);
    assert_eq!(code, 0, "{}", report["actions"]);
}

/// r14 defect 7: a dangling symlink output is compared as a link.
#[test]
fn r14_dangling_symlink_outputs_are_compared_as_links() {
    let outs = [bazel("outputs/a"), bazel("outputs/b")];
    let (code, report, _) = execlog(&[
        &bazel("converted/a.exec.v74.zst"),
        &bazel("converted/b.exec.v74.zst"),
        "--fetch-outputs",
        &outs[0],
        &outs[1],
    ]);
    assert_eq!(code, 1);
    let d = action(&report, "//:dangling", "DanglingSymlink");
    let out = &d["outputs"][0];
    assert!(
        out["symlink_a"]
            .as_str()
            .unwrap()
            .starts_with("/nonexistent/twice-fixture/")
    );
    assert_eq!(out["comparison"]["status"], "symlink");
    assert_ne!(out["comparison"]["a"], out["comparison"]["b"]);
    // Bazel 4 does not list the link: its consumer's input is the evidence.
    let (_, report, _) = execlog(&[
        &bazel("logs/a.exec.json"),
        &bazel("logs/b.exec.json"),
        "--fetch-outputs",
        &outs[0],
        &outs[1],
    ]);
    let d = action(&report, "//:dangling", "DanglingSymlink");
    assert_eq!(d["class"], "non_deterministic");
    assert_eq!(d["outputs"][0]["inferred"], true);
    assert_eq!(d["outputs"][0]["a"], "5fb2e9d9de28c609");
    assert_eq!(d["outputs"][0]["comparison"]["status"], "symlink");
    // A file that exists on one side only is still "missing".
    let f = action(&report, "//:fails_in_b", "Genrule");
    assert!(
        f["outputs"][0].get("comparison").is_none(),
        "failed: not a root"
    );
}

/// r14 defect 8: a 0-byte log (a no-op build) is zero actions with a note.
#[test]
fn r14_an_empty_log_is_zero_actions_with_a_note() {
    for (a, b) in [
        ("logs/noop.exec.json", "logs/noop.exec.json"),
        ("converted/noop.exec.ndjson", "converted/noop.exec.v74.zst"),
    ] {
        let (code, report, stderr) = execlog(&[&bazel(a), &bazel(b)]);
        assert_eq!(code, 0, "{stderr}");
        assert_eq!(report["summary"]["paired"], 0);
        assert_eq!(report["limitations"][0]["kind"], "empty_log");
    }
    let (code, text) = text(&[&bazel("logs/noop.exec.json"), &bazel("logs/a.exec.json")]);
    assert_eq!(code, 1);
    assert!(text.contains("log A holds no actions (0 bytes)"), "{text}");
    assert!(text.contains("bazel clean"), "{text}");
    assert!(text.contains("--noremote_accept_cached"), "{text}");
    assert!(text.contains("Only in B (31)"), "{text}");
}

/// r14 defect 9: `--execution_log_binary_file` was refused.
#[test]
fn r14_binary_logs_are_read() {
    let (code, report, stderr) = execlog(&[&bazel("logs/a.exec.bin"), &bazel("logs/b.exec.bin")]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(report["inputs"]["a"]["format"], "bazel_binary");
    assert_eq!(counts(&report), expected_ab());
}

/// r14 defect 10: Bazel 4 logs name the target only in the progress
/// message; C++ compiles are named by their object file; an unknown label
/// is null.
#[test]
fn r14_actions_are_named_by_target_and_best_output() {
    let (_, report, _) = execlog(&[&bazel("logs/a.exec.json"), &bazel("logs/b.exec.json")]);
    assert_eq!(report["roots"][0]["action"]["label"], "//:stamp_h");
    let cc = &report["roots"][0]["chain"][1];
    assert_eq!(
        cc,
        &json!({"label": null, "mnemonic": "CppCompile",
                "primary_output": "bazel-out/k8-fastbuild/bin/_objs/hello/hello.pic.o"})
    );
    // The test spawn produced none of its outputs: no name from them.
    let test = action(&report, "//:data_test", "TestRunner");
    assert!(test["action"].get("primary_output").is_none(), "{test}");
    let all = report.to_string();
    assert!(!all.contains("\"label\":\"\""), "an empty label");
    assert!(!all.contains("test.exited_prematurely"));
    assert!(!all.contains("hello.pic.d\"}"));
    let (_, report, _) = execlog(&[
        &bazel("converted/a.exec.v74.zst"),
        &bazel("converted/b.exec.v74.zst"),
    ]);
    assert_eq!(report["roots"][0]["chain"][1]["label"], "//:hello");
}

fn edit(from: &str, to: &Path, f: impl Fn(String) -> String) -> String {
    fs::write(to, f(fs::read_to_string(bazel(from)).unwrap())).unwrap();
    to.to_str().unwrap().to_owned()
}

/// r14 defect 11: the timeout, the platform and the digest function are
/// part of the action key and are named when they differ.
#[test]
fn r14_timeout_platform_and_digest_function_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let a = bazel("logs/a.exec.json");
    let b = edit("logs/a.exec.json", &dir.path().join("b.json"), |s| {
        s.replace(
            "\"timeoutMillis\": \"60000\"",
            "\"timeoutMillis\": \"300000\"",
        )
        .replacen(
            "\"properties\": []",
            "\"properties\": [{\"name\": \"OSFamily\", \"value\": \"Linux\"}]",
            1,
        )
    });
    let (code, report, _) = execlog(&[&a, &b]);
    assert_eq!(code, 1);
    let reasons: Vec<&Value> = report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["reasons"].as_array().into_iter().flatten())
        .collect();
    assert!(
        reasons.contains(&&json!({"kind": "timeout", "a": 60000, "b": 300000})),
        "{reasons:?}"
    );
    assert!(
        reasons
            .contains(&&json!({"kind": "platform", "name": "OSFamily", "a": null, "b": "Linux"})),
        "{reasons:?}"
    );
    // Another --digest_function: every hash differs; named once, not as
    // every input and output differing.
    let b = edit("logs/a.exec.json", &dir.path().join("blake3.json"), |s| {
        let mut out = String::new();
        let mut rest = s.as_str();
        while let Some(at) = rest.find("\"hash\": \"") {
            let (head, tail) = rest.split_at(at + 9);
            out.push_str(head);
            let end = tail.find('"').unwrap();
            out.extend(tail[..end].chars().rev());
            rest = &tail[end..];
        }
        out.push_str(rest);
        out.replace("\"SHA-256\"", "\"BLAKE3\"")
    });
    let (code, report, _) = execlog(&[&a, &b]);
    assert_eq!(code, 1);
    assert!(
        report["limitations"]
            .as_array()
            .unwrap()
            .contains(&json!({"kind": "digest_functions", "a": "SHA-256", "b": "BLAKE3"}))
    );
    // Every action with a digest (`//:dangling` has none).
    assert_eq!(
        report["summary"]["by_reason"],
        json!([{"kind": "digest_function", "actions": 30}])
    );
}

fn miss<'r>(report: &'r Value, label: &str) -> &'r Value {
    report["misses"]["misses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["action"]["label"] == label)
        .unwrap_or_else(|| panic!("no miss of {label}"))
}

/// r14 item 12 on the real warm-cache pair: `//:stamp_h`'s entry was
/// evicted; it ran with an unchanged key and wrote another time, so the
/// five actions downstream missed too; 23 hit.
#[test]
fn r14_explain_misses_on_the_warm_cache_pair() {
    for (a, b) in [
        ("logs/warm-a.exec.json", "logs/warm-b.exec.json"),
        ("logs/warm-a.exec.bin", "logs/warm-b.exec.bin"),
        (
            "converted/warm-a.exec.ndjson",
            "converted/warm-b.exec.ndjson",
        ),
        (
            "converted/warm-a.exec.v74.zst",
            "converted/warm-b.exec.v74.zst",
        ),
        (
            "converted/warm-a.exec.v71.zst",
            "converted/warm-b.exec.v71.zst",
        ),
    ] {
        let (code, report, stderr) =
            execlog(&["--explain-misses", &bazel(b), "--baseline", &bazel(a)]);
        assert_eq!(code, 1, "{a}: {stderr}");
        let m = &report["misses"];
        assert_eq!(
            (
                &m["spawns"],
                &m["hits"],
                &m["executed"],
                &m["would_have_hit"],
                &m["nondeterministic_roots"]
            ),
            (&json!(29), &json!(23), &json!(6), &json!(5), &json!(1)),
            "{a}"
        );
        assert_eq!(
            miss(&report, "//:stamp_h")["why"],
            json!({"kind": "same_key"}),
            "{a}"
        );
        for label in ["//:hello_out", "//:hello_out_sha", "//:hello_out_len"] {
            let why = &miss(&report, label)["why"];
            assert_eq!(why["kind"], "upstream", "{a} {label}");
            assert_eq!(why["roots"][0]["label"], "//:stamp_h", "{a} {label}");
        }
        assert_eq!(
            m["by_root"],
            json!([{"action": {"label": "//:stamp_h", "mnemonic": "Genrule",
                    "primary_output": "bazel-out/k8-fastbuild/bin/stamp.h"},
                    "class": "non_deterministic", "misses": 5}]),
            "{a}"
        );
        assert_eq!(
            m["by_kind"],
            json!([{"name": "upstream", "count": 5}, {"name": "same_key", "count": 1}]),
            "{a}"
        );
        // The comparison itself: one root, five tainted, 23 identical.
        assert_eq!(report["summary"]["identical"], 23, "{a}");
    }
    let (_, text) = text(&[
        "--explain-misses",
        &bazel("logs/warm-b.exec.json"),
        "--baseline",
        &bazel("logs/warm-a.exec.json"),
    ]);
    assert!(
        text.contains(
            "5 of 6 executed actions would have hit the cache but for 1 non-deterministic action"
        ),
        "{text}"
    );
    assert!(text.contains("evicted or never uploaded"), "{text}");
}

/// Without a baseline, the build's own graph: five executed actions read
/// outputs of executed actions, all downstream of `//:stamp_h`.
#[test]
fn r14_explain_misses_without_a_baseline() {
    let (code, report, stderr) = execlog(&["--explain-misses", &bazel("logs/warm-b.exec.json")]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(report["inputs"]["a"], Value::Null);
    let m = &report["misses"];
    assert_eq!((&m["executed"], &m["hits"]), (&json!(6), &json!(23)));
    assert_eq!(miss(&report, "//:stamp_h")["why"]["kind"], "not_in_cache");
    assert_eq!(
        miss(&report, "//:hello_out")["why"]["kind"],
        "after_upstream"
    );
    assert_eq!(m["by_root"][0]["action"]["label"], "//:stamp_h");
    assert_eq!(m["by_root"][0]["misses"], 5);
    // A cold build: everything executed, every root a first miss.
    let (_, report, _) = execlog(&["--explain-misses", &bazel("logs/warm-a.exec.json")]);
    assert_eq!(report["misses"]["executed"], 29);
}

#[test]
fn explain_misses_needs_its_log_and_refuses_two_positionals() {
    let out = twice()
        .args(["execlog", "--baseline", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = twice()
        .args(["execlog", "a", "b", "--explain-misses", "c"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn reports_do_not_depend_on_threads_or_runs() {
    for (a, b) in PAIRS.iter().take(4) {
        let (_, one, _) = execlog(&[&bazel(a), &bazel(b), "-j", "1"]);
        let (_, two, _) = execlog(&[&bazel(a), &bazel(b), "-j", "4"]);
        let (_, three, _) = execlog(&[&bazel(a), &bazel(b)]);
        assert_eq!(one, two, "{a}");
        assert_eq!(one, three, "{a}");
    }
}

#[test]
fn every_truncation_of_a_real_log_is_an_error_naming_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    for log in [
        "logs/a.exec.json",
        "logs/a.exec.bin",
        "converted/a.exec.v74.zst",
        "buck2/a.what-ran.jsonl",
    ] {
        let data = fs::read(bazel(log)).unwrap();
        let cut = dir.path().join("cut");
        // A few cuts per file: every cut is exercised by the unit tests.
        for at in [data.len() / 3, data.len() / 2, data.len() - 3] {
            fs::write(&cut, &data[..at]).unwrap();
            let out = twice()
                .args(["execlog", cut.to_str().unwrap(), cut.to_str().unwrap()])
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{log} at {at}: {err}");
            assert!(
                err.contains("cut:") && err.contains("byte offset"),
                "{log}: {err}"
            );
            assert!(!err.contains("panicked"), "{err}");
        }
    }
}

/// r11 item 9: a 135 KB zstd log of zeros decompressing to 4.4 GB took
/// 232 s and was accepted as a valid empty log.
#[test]
fn r11_a_zstd_log_of_zeros_is_refused_at_once() {
    // A zstd frame of RLE blocks, 128 KiB of zeros per 4 bytes.
    let mut z = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38];
    let blocks = 34_000;
    for i in 0..blocks {
        let last = u32::from(i == blocks - 1);
        let header = last | 1 << 1 | (128 * 1024) << 3;
        z.extend_from_slice(&header.to_le_bytes()[..3]);
        z.push(0);
    }
    assert!(z.len() < 140_000);
    let dir = tempfile::tempdir().unwrap();
    let zeros = dir.path().join("zeros.zst");
    fs::write(&zeros, &z).unwrap();
    let start = Instant::now();
    let out = twice()
        .args([
            "execlog",
            zeros.to_str().unwrap(),
            &bazel("converted/a.exec.v74.zst"),
        ])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("zeros.zst: Bazel compact execution log at decompressed byte offset 0: an entry of length 0"),
        "{err}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

/// r11 item 9: a decompressed-bytes limit for compact logs.
#[test]
fn r11_the_decompressed_size_of_a_compact_log_is_limited() {
    let log = bazel("converted/a.exec.v74.zst");
    let out = twice()
        .args(["execlog", &log, &log, "--max-decompressed", "4K"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("a.exec.v74.zst: Bazel compact execution log at decompressed byte offset"),
        "{err}"
    );
    assert!(
        err.contains("decompresses to more than 4096 bytes (--max-decompressed"),
        "{err}"
    );
    let out = twice()
        .args(["execlog", &log, &log, "--max-decompressed", "lots"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// r11 item 9: memory grew with files × spawns (a 74 KB compact log used
/// 3.2 GB). Here 3,000 files in one input set read by 100,000 spawns (300
/// million inputs if flattened), and in build B one of the files differs,
/// so every spawn is compared; under a 1.5 GB address-space limit.
#[test]
fn r11_a_shared_input_set_costs_files_plus_spawns() {
    let dir = tempfile::tempdir().unwrap();
    let build = |changed: &str| {
        let mut entries = Vec::new();
        let mut set = Vec::new();
        for i in 1..=3000u32 {
            let hash = if i == 7 {
                changed
            } else {
                "aa00aa00aa00aa00aa00"
            };
            entries.push(pb::entry(i, 3, &pb::file(&format!("src/f{i}.h"), hash)));
            pb::uint(5, u64::from(i), &mut set);
        }
        entries.push(pb::entry(3001, 6, &set));
        for s in 0..100_000u32 {
            entries.push(pb::entry(
                3002 + s,
                3,
                &pb::file(&format!("out/o{s}"), "cc00cc00cc00cc00cc00"),
            ));
            let mut out = Vec::new();
            pb::uint(5, u64::from(3002 + s), &mut out);
            let mut spawn = Vec::new();
            pb::bytes(1, b"cc", &mut spawn);
            pb::uint(4, 3001, &mut spawn);
            pb::bytes(6, &out, &mut spawn);
            pb::bytes(8, b"CppCompile", &mut spawn);
            entries.push(pb::entry(0, 7, &spawn));
        }
        pb::log(&entries)
    };
    let (a, b) = (dir.path().join("a.zst"), dir.path().join("b.zst"));
    fs::write(&a, build("aa00aa00aa00aa00aa00")).unwrap();
    fs::write(&b, build("bb00bb00bb00bb00bb00")).unwrap();
    let start = Instant::now();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 1500000; exec {} execlog {} {} --format json",
            assert_cmd::cargo::cargo_bin("twice").display(),
            a.display(),
            b.display()
        ))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["non_hermetic"], 100_000);
    assert_eq!(report["summary"]["by_reason"][0]["name"], "src/f7.h");
    assert!(
        start.elapsed() < Duration::from_secs(120),
        "{:?}",
        start.elapsed()
    );
}

/// r11 item 9: a FIFO given as a log hung; special files are refused.
#[test]
fn r11_fifos_devices_and_directories_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("log.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let good = bazel("logs/a.exec.json");
    let dirp: PathBuf = dir.path().to_path_buf();
    for (bad, what) in [
        (fifo.to_str().unwrap(), "a FIFO"),
        ("/dev/null", "a character device"),
        (dirp.to_str().unwrap(), "a directory"),
    ] {
        for args in [[bad, good.as_str()], [good.as_str(), bad]] {
            let out = twice()
                .arg("execlog")
                .args(args)
                .timeout(Duration::from_secs(30))
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
            assert!(
                err.contains(&format!("{bad}: {what}, not a log file")),
                "{err}"
            );
        }
    }
    let out = twice()
        .args(["execlog", "--explain-misses", fifo.to_str().unwrap()])
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A compact log's `SymlinkAction` (a symlink made without a spawn)
/// carries taint from the spawn that wrote its target to the one that reads
/// the link.
#[test]
fn symlink_actions_carry_taint_in_compact_logs() {
    let build = |obj: &str| {
        let mut out = Vec::new();
        pb::uint(5, 1, &mut out);
        let mut producer = Vec::new();
        pb::bytes(1, b"cc", &mut producer);
        pb::bytes(6, &out, &mut producer);
        pb::bytes(7, b"//:gen", &mut producer);
        pb::bytes(8, b"CppCompile", &mut producer);
        let mut link = Vec::new();
        pb::bytes(1, b"out/g.o", &mut link);
        pb::bytes(2, b"out/link.o", &mut link);
        let mut set = Vec::new();
        pb::uint(5, 2, &mut set);
        let mut out = Vec::new();
        pb::uint(5, 4, &mut out);
        let mut use_ = Vec::new();
        pb::bytes(1, b"ld", &mut use_);
        pb::uint(4, 3, &mut use_);
        pb::bytes(6, &out, &mut use_);
        pb::bytes(7, b"//:use", &mut use_);
        pb::bytes(8, b"CppLink", &mut use_);
        pb::log(&[
            pb::entry(1, 3, &pb::file("out/g.o", obj)),
            pb::entry(0, 7, &producer),
            pb::entry(0, 8, &link),
            pb::entry(2, 3, &pb::file("out/link.o", obj)),
            pb::entry(3, 6, &set),
            pb::entry(4, 3, &pb::file("out/app", obj)),
            pb::entry(0, 7, &use_),
        ])
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.zst"), dir.path().join("b.zst"));
    fs::write(&a, build("0100010001000100")).unwrap();
    fs::write(&b, build("0200020002000200")).unwrap();
    let (code, report, stderr) = execlog(&[a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        roots(&report),
        [("//:gen".to_owned(), "non_deterministic".to_owned(), 1)]
    );
    let use_ = action(&report, "//:use", "CppLink");
    assert_eq!(use_["class"], "tainted");
    assert_eq!(use_["tainted_by"][0]["paths"], json!(["out/link.o"]));
}
