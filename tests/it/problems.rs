//! Problems: reports lead with root causes, consequences link to their
//! roots, `--trace` names the action and the script line behind each.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::{diff_json, fixture, twice};

fn problems(report: &Value) -> &Vec<Value> {
    report["problems"].as_array().expect("problems")
}

fn has_artifact(problem: &Value, name: &str) -> bool {
    problem["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == name)
}

/// Every consequence names a root in the same top-level file, or belongs
/// to a problem of its own (a consequence of an unknown root).
fn check_roots(report: &Value) {
    let findings = report["findings"].as_array().unwrap();
    let top = |f: &Value| {
        f["artifact"]
            .as_str()
            .unwrap()
            .split('!')
            .next()
            .unwrap()
            .to_owned()
    };
    for f in findings
        .iter()
        .filter(|f| f["cause"]["kind"] == "consequence")
    {
        match f["root"].as_str() {
            Some(root) => {
                let r = findings
                    .iter()
                    .find(|g| g["fingerprint"] == root)
                    .unwrap_or_else(|| panic!("root {root} of {f} is not a finding"));
                assert_ne!(r["cause"]["kind"], "consequence", "{f}");
                assert_eq!(top(r), top(f), "{f}");
            }
            None => assert!(
                problems(report)
                    .iter()
                    .any(|p| p["cause"]["kind"] == "consequence"
                        && p["members"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|m| *m == f["fingerprint"])),
                "a rootless consequence outside a problem: {f}"
            ),
        }
    }
    // Every root finding is in exactly one problem.
    let mut members = BTreeSet::new();
    for p in problems(report) {
        for m in p["members"].as_array().unwrap() {
            assert!(members.insert(m.as_str().unwrap().to_owned()), "{m} twice");
        }
    }
    let roots = findings
        .iter()
        .filter(|f| f["cause"]["kind"] != "consequence" || f["root"].is_null())
        .count();
    assert_eq!(members.len(), roots);
}

#[test]
fn consequences_link_to_roots_in_every_fixture_pair() {
    for pair in [
        "diff-demo",
        "elf/c",
        "elf/build-id",
        "archives/wheel",
        "archives/pyc/refs",
    ] {
        let (a, b) = if pair.ends_with("refs") {
            (fixture(&format!("{pair}-a")), fixture(&format!("{pair}-b")))
        } else {
            (fixture(&format!("{pair}/a")), fixture(&format!("{pair}/b")))
        };
        let (_, report) = diff_json(&[a.to_str().unwrap(), b.to_str().unwrap()]);
        check_roots(&report);
    }
}

/// One build root in DW_AT_comp_dir across objects and archive members is
/// one problem; `__DATE__` in a program is another, with its source line.
#[test]
fn the_demo_audit_leads_with_its_problems() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = fixture("demo");
    let run = |args: &[&str]| {
        twice()
            .env("TMPDIR", tmp.path())
            .arg("audit")
            .arg("-C")
            .arg(&demo)
            .args(args)
            .args(["--", "make"])
            .output()
            .unwrap()
    };
    let out = run(&["--trace", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    check_roots(&report);
    let ps = problems(&report);
    let debug: Vec<&Value> = ps
        .iter()
        .filter(|p| p["cause"]["kind"] == "build_path" && p["scope"] == "debug_info")
        .collect();
    assert_eq!(debug.len(), 1, "{ps:#?}");
    let debug = debug[0];
    for a in ["lib/alpha.o", "out/libdemo.a!alpha.o", "out/hello"] {
        assert!(has_artifact(debug, a), "{a} in {debug}");
    }
    assert!(debug["consequences"].as_u64().unwrap() > 0);
    assert!(
        debug["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["note"]["kind"] == "no_prefix_map"
                && a["argv"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|w| w["text"] == "lib/alpha.c")),
        "{debug}"
    );
    let macros = ps
        .iter()
        .find(|p| p["scope"] == "compile_time_macro")
        .expect("a __DATE__ problem");
    assert_eq!(macros["sources"][0]["file"]["text"], "src/hello.c");
    assert_eq!(macros["sources"][0]["line"], 4);
    // The generator writes a time, a host name and the directory: three
    // problems, each traced to its line of the script.
    for (kind, key) in [
        ("timestamp", "BUILD_TIME"),
        ("environment", "BUILD_HOST"),
        ("build_path", "BUILD_DIR"),
    ] {
        let p = ps
            .iter()
            .find(|p| p["cause"]["kind"] == kind && p["scope"] == "content")
            .unwrap_or_else(|| panic!("{kind} in content"));
        let src = &p["sources"][0];
        assert_eq!(src["file"]["text"], "python/gen_build_info.py", "{p}");
        assert!(src["text"]["text"].as_str().unwrap().contains(key), "{p}");
        let first = &p["actions"][0]["argv"];
        assert!(first.to_string().contains("gen_build_info.py"), "{p}");
    }
    let ar = ps
        .iter()
        .find(|p| p["cause"]["kind"] == "ordering")
        .unwrap();
    assert_eq!(ar["actions"][0]["note"]["kind"], "non_deterministic_ar");

    let out = run(&["--color", "never"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let headline = lines
        .iter()
        .position(|l| l.contains("problems explain"))
        .expect("a headline");
    assert!(headline < 12, "the problems come first:\n{text}");
    assert!(lines.len() <= 140, "{} lines:\n{text}", lines.len());
}

/// Without strace, `--trace` warns and the report comes without actions.
#[test]
fn trace_without_strace_warns() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    for tool in ["bwrap", "sh", "date"] {
        std::os::unix::fs::symlink(crate::which(tool), bin.path().join(tool)).unwrap();
    }
    let src = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    std::fs::write(src.path().join("build.sh"), "#!/bin/sh\npwd > where.txt\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        src.path().join("build.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let out = twice()
        .env("TMPDIR", tmp.path())
        .env("PATH", bin.path())
        .arg("audit")
        .arg("-C")
        .arg(src.path())
        .args([
            "--trace",
            "--vary",
            "build_path",
            "--format",
            "json",
            "--",
            "./build.sh",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--trace needs strace"), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["audit"]["warnings"][0]["kind"], "trace_unavailable");
    assert!(problems(&report)[0].get("actions").is_none());
}
