//! Remote Execution against a real cluster: BuildGrid with the test bots
//! (tests/support/README.md), started by `scripts/reapi-cluster.sh`.
//!
//! With `TWICE_REAPI_ENV` set (a cluster someone keeps running), the tests
//! use it. Otherwise the first test starts one under the target directory
//! and the test process stops it, through the script, when it exits. Where
//! PostgreSQL is not installed (and cannot be: `scripts/setup.sh`), the
//! tests skip with a message saying so; any other failure to start fails.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{fixture, twice};

/// What the cluster's env file says.
struct Cluster {
    url: String,
    instance: String,
    /// What the bots can apply, as `--remote-variations` names them.
    variations: String,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/reapi-cluster.sh")
}

fn own_state() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("reapi-cluster")
}

extern "C" fn stop_own_cluster() {
    let _ = Command::new(script())
        .arg("stop")
        .arg(own_state())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn read_env(path: &Path) -> BTreeMap<String, String> {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect()
}

fn postgres_installed() -> bool {
    fs::read_dir("/usr/lib/postgresql").is_ok_and(|rd| {
        rd.flatten()
            .any(|e| e.path().join("bin/postgres").is_file())
    })
}

fn start() -> Option<Cluster> {
    let env_file = match std::env::var_os("TWICE_REAPI_ENV") {
        Some(p) => PathBuf::from(p),
        None => {
            let state = own_state();
            let out = Command::new(script())
                .arg("start")
                .arg(&state)
                .stdin(Stdio::null())
                .output()
                .expect("run scripts/reapi-cluster.sh");
            // atexit is the only teardown a test binary has. SAFETY: it
            // registers a plain extern "C" function that uses no state.
            unsafe {
                nix::libc::atexit(stop_own_cluster);
            }
            if !out.status.success() {
                let stderr = String::from_utf8_lossy(&out.stderr);
                if !postgres_installed() {
                    eprintln!(
                        "REAPI tests skipped: PostgreSQL is not installed (scripts/setup.sh \
                         installs it), so the BuildGrid test cluster cannot start:\n{stderr}"
                    );
                    return None;
                }
                panic!("the REAPI test cluster did not start:\n{stderr}");
            }
            state.join("env")
        }
    };
    let env = read_env(&env_file);
    let variations = env
        .get("TWICE_REAPI_VARIATIONS")
        .map(|v| {
            v.split(',')
                .filter_map(|x| match x.trim() {
                    "faketime" => Some("time"),
                    "file-order" => Some("file_order"),
                    "hostname" => Some("hostname"),
                    _ => None,
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    Some(Cluster {
        url: env["TWICE_REAPI_URL"].clone(),
        instance: env["TWICE_REAPI_INSTANCE"].clone(),
        variations,
    })
}

fn cluster() -> Option<&'static Cluster> {
    static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
    CLUSTER.get_or_init(start).as_ref()
}

/// Run `twice ARGS` in `tmp`; (exit code, JSON report or Null, stderr).
fn run(tmp: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = twice()
        .env("TMPDIR", tmp)
        .args(args)
        .output()
        .expect("run twice");
    (
        out.status.code().expect("exit code"),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn remote_audit(c: &Cluster, tmp: &Path, source: &Path, extra: &[&str]) -> (i32, Value, String) {
    let source = source.to_str().unwrap();
    let mut args = vec![
        "audit",
        "-C",
        source,
        "--format",
        "json",
        "--remote",
        &c.url,
        "--remote-instance",
        &c.instance,
    ];
    args.extend_from_slice(extra);
    run(tmp, &args)
}

/// (artifact, cause, variations, by) of each finding.
fn attributed(report: &Value) -> Vec<(String, String, String, String)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let vars: Vec<&str> = f["variation"]["variations"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            (
                f["artifact"].as_str().unwrap_or("").to_owned(),
                f["cause"]["kind"].as_str().unwrap_or("").to_owned(),
                vars.join("+"),
                f["variation"]["by"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn has(found: &[(String, String, String, String)], artifact: &str, cause: &str, v: &str) -> bool {
    found
        .iter()
        .any(|(a, c, x, by)| a == artifact && c == cause && x == v && by == "canary")
}

fn status<'r>(report: &'r Value, variation: &str) -> &'r Value {
    report["audit"]["variations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == variation)
        .unwrap_or(&Value::Null)
}

/// The numbers of the traffic line on standard error.
fn traffic(stderr: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.contains(" execution(s); uploaded "))
        .unwrap_or_else(|| panic!("no traffic line in: {stderr}"));
    let number_after = |key: &str| -> u64 {
        let rest = &line[line.find(key).expect(key) + key.len()..];
        rest.split_whitespace().next().unwrap().parse().unwrap()
    };
    (number_after("uploaded "), number_after("downloaded "))
}

#[test]
fn remote_audit_of_the_demo_attributes_build_path_and_time_zone() {
    let Some(c) = cluster() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (code, report, stderr) = remote_audit(c, tmp.path(), &fixture("demo"), &["--", "make"]);
    assert_eq!(code, 1, "{stderr}");
    let found = attributed(&report);
    for member in ["alpha", "beta", "gamma"] {
        assert!(
            has(
                &found,
                &format!("out/libdemo.a!{member}.o"),
                "build_path",
                "build_path"
            ),
            "{found:#?}"
        );
    }
    // The runs ran at the same time: __DATE__/__TIME__ and the generated
    // module's local time differ by the two time zones alone.
    assert!(
        has(&found, "out/hello", "timestamp", "timezone"),
        "{found:#?}"
    );
    assert!(has(
        &found,
        "out/pyc/_build_info.py",
        "timestamp",
        "timezone"
    ));
    assert!(has(
        &found,
        "out/pyc/_build_info.py",
        "build_path",
        "build_path"
    ));
    // The build directories are where the worker ran them, as the build
    // saw them.
    let runs = report["audit"]["runs"].as_array().unwrap();
    let dir = |k: usize| runs[k]["build_dir"]["text"].as_str().unwrap().to_owned();
    assert!(dir(0).ends_with("/build/src"), "{}", dir(0));
    assert!(dir(1).ends_with("/build-variant-1/src"), "{}", dir(1));
    // Worker-side variations not declared: skipped for this executor.
    for v in ["time", "hostname", "file_order"] {
        let s = status(&report, v);
        assert_eq!(s["status"], "skipped", "{s}");
        assert_eq!(s["reasons"][0]["kind"], "not_on_this_executor", "{s}");
    }
    assert_eq!(status(&report, "timezone")["status"], "varied");
    assert!(stderr.contains("--remote-variations"), "{stderr}");
    let left: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn worker_side_variations_are_applied_through_platform_properties() {
    let Some(c) = cluster() else { return };
    if !c.variations.contains("hostname") {
        eprintln!("skipped: the test bots cannot set host names here");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (code, report, stderr) = remote_audit(
        c,
        tmp.path(),
        &fixture("demo"),
        &["--remote-variations", &c.variations, "--", "make"],
    );
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(status(&report, "hostname")["status"], "varied");
    let host = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["artifact"] == "out/pyc/_build_info.py" && f["cause"]["kind"] == "environment")
        .unwrap_or_else(|| panic!("no host name finding: {report:#}"));
    assert_eq!(host["variation"]["variations"][0], "hostname");
    if c.variations.contains("file_order") {
        let found = attributed(&report);
        assert!(
            found
                .iter()
                .any(|(a, c, v, _)| a == "out/libdemo.a" && c == "ordering" && v == "file_order"),
            "{found:#?}"
        );
    }
}

#[test]
fn fixed_demo_is_reproducible_remotely_and_a_second_audit_moves_almost_nothing() {
    let Some(c) = cluster() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let args = [
        "--vary",
        "all",
        "--remote-variations",
        &c.variations,
        "--",
        "make",
    ];
    let (code, report, stderr) = remote_audit(c, tmp.path(), &fixture("demo-fixed"), &args);
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    assert_eq!(report["verdict"], "identical");
    // The domain name cannot be set by a remote worker.
    assert_eq!(status(&report, "domain")["status"], "skipped");
    // Identical outputs are never downloaded.
    assert_eq!(traffic(&stderr).1, 0, "{stderr}");
    // Again: the source tree is in the CAS; only the new Actions and
    // Commands (salted) go up.
    let (code, _, stderr) = remote_audit(c, tmp.path(), &fixture("demo-fixed"), &args);
    assert_eq!(code, 0, "{stderr}");
    let (uploaded, downloaded) = traffic(&stderr);
    assert!(uploaded < 8192, "{stderr}");
    assert_eq!(downloaded, 0, "{stderr}");
}

/// An exec root for the real Bazel logs: the one input their genrules
/// read, Bazel 4.2.3's genrule-setup.sh, byte for byte.
fn exec_root(dir: &Path) {
    let to = dir.join("external/bazel_tools/tools/genrule/genrule-setup.sh");
    fs::create_dir_all(to.parent().unwrap()).unwrap();
    fs::write(&to, GENRULE_SETUP).unwrap();
}

/// `tools/genrule/genrule-setup.sh` of Bazel 4.2.3 (Apache-2.0), whose
/// SHA-256 the logs record (bed43d0b…/858).
const GENRULE_SETUP: &str = r#"#!/bin/bash

# Copyright 2017 The Bazel Authors. All rights reserved.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#    http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

# exit immediately if a command or pipeline fails, unless it is in a test expression
set -e

# treat unset variables as errors
set -u

# exit code of a pipeline is 0, or the non-zero exit code of the rightmost failing command
set -o pipefail
"#;

/// `twice execlog LOGS --reexecute` on the cluster, JSON report.
fn reexecute(c: &Cluster, tmp: &Path, logs: &[&Path], extra: &[&str]) -> (i32, Value, String) {
    let mut args: Vec<&str> = vec!["execlog"];
    args.extend(logs.iter().map(|l| l.to_str().unwrap()));
    args.extend(["--reexecute", &c.url, "--remote-instance", &c.instance]);
    args.extend(["--format", "json"]);
    args.extend_from_slice(extra);
    run(tmp, &args)
}

fn outcome<'r>(report: &'r Value, label: &str) -> &'r Value {
    report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"]["label"] == label)
        .unwrap_or_else(|| panic!("{label} not in {report:#}"))
}

#[test]
fn reexecution_confirms_a_non_deterministic_genrule_and_clears_a_deterministic_one() {
    let Some(c) = cluster() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("execroot");
    exec_root(&root);
    let log = fixture("bazel/logs/a.exec.json");
    let (code, report, stderr) = reexecute(
        c,
        tmp.path(),
        &[&log],
        &[
            "--action",
            "//:stamp_h",
            "--action",
            "//:greeting",
            "--exec-root",
            root.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{report:#}\n{stderr}");
    assert_eq!(report["summary"]["actions"], 2);
    assert_eq!(outcome(&report, "//:greeting")["outcome"], "deterministic");
    let stamp = outcome(&report, "//:stamp_h");
    assert_eq!(stamp["outcome"], "non_deterministic", "{stamp:#}");
    let out = &stamp["outputs"][0];
    assert_eq!(out["path"], "bazel-out/k8-fastbuild/bin/stamp.h");
    assert_eq!(out["comparison"]["verdict"], "differs", "{out:#}");
    assert!(!out["comparison"]["findings"].as_array().unwrap().is_empty());
}

#[test]
fn without_a_list_the_roots_of_two_logs_are_reexecuted() {
    let Some(c) = cluster() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("execroot");
    exec_root(&root);
    let (a, b) = (
        fixture("bazel/logs/a.exec.json"),
        fixture("bazel/logs/b.exec.json"),
    );
    let (code, report, stderr) = reexecute(
        c,
        tmp.path(),
        &[&a, &b],
        &["--exec-root", root.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{stderr}");
    for nondet in ["//:stamp_h", "//:test_data", "//:tree"] {
        assert_eq!(outcome(&report, nondet)["outcome"], "non_deterministic");
    }
    // Non-hermetic in the logs (an argument, an environment variable), but
    // deterministic when re-run as logged.
    assert_eq!(outcome(&report, "//:greeting")["outcome"], "deterministic");
    assert_eq!(
        outcome(&report, "//:flavor_tool")["outcome"],
        "deterministic"
    );
    // It reads a file it does not declare, which the worker lacks.
    let conf = outcome(&report, "//:host_conf");
    assert_eq!(conf["outcome"], "failed", "{conf:#}");
}

/// A one-spawn Bazel JSON log whose input is a fresh blob no CAS has.
fn log_with_fresh_input(dir: &Path) -> (PathBuf, PathBuf) {
    let content = format!("fresh input {:?}\n", std::time::SystemTime::now());
    let input = dir.join("root/fresh.txt");
    fs::create_dir_all(input.parent().unwrap()).unwrap();
    fs::write(&input, &content).unwrap();
    let sha = Command::new("sha256sum").arg(&input).output().unwrap();
    let hash = String::from_utf8_lossy(&sha.stdout)[..64].to_owned();
    let log = dir.join("fresh.exec.json");
    fs::write(
        &log,
        format!(
            r#"{{"commandArgs": ["/bin/sh", "-c", "cat fresh.txt > out.txt"],
  "environmentVariables": [{{"name": "PATH", "value": "/bin:/usr/bin"}}],
  "inputs": [{{"path": "fresh.txt", "digest": {{"hash": "{hash}", "sizeBytes": "{}"}}}}],
  "listedOutputs": ["out.txt"], "mnemonic": "Genrule",
  "progressMessage": "Executing genrule //:fresh"}}"#,
            content.len()
        ),
    )
    .unwrap();
    (log, dir.join("root"))
}

#[test]
fn missing_input_blobs_are_named_and_uploaded_from_the_exec_root() {
    let Some(c) = cluster() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (log, root) = log_with_fresh_input(tmp.path());
    let base = [
        "execlog",
        log.to_str().unwrap(),
        "--reexecute",
        &c.url,
        "--remote-instance",
        &c.instance,
        "--action",
        "//:fresh",
    ];
    let out = twice().args(base).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("fresh.txt")
            && text.contains("not in the CAS")
            && text.contains("--exec-root"),
        "{text}"
    );
    let mut with_root = base.to_vec();
    with_root.extend(["--exec-root", root.to_str().unwrap()]);
    let out = twice().args(&with_root).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("deterministic"), "{text}");
}

#[test]
fn a_server_that_is_down_or_a_wrong_instance_is_a_clear_error() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("grpc://127.0.0.1:{port}");
    let tmp = tempfile::tempdir().unwrap();
    let audit_demo = |url: &str, instance: &str| {
        let demo = fixture("demo");
        run(
            tmp.path(),
            &[
                "audit",
                "-C",
                demo.to_str().unwrap(),
                "--remote",
                url,
                "--remote-instance",
                instance,
                "--",
                "make",
            ],
        )
    };
    let t = Instant::now();
    let (code, _, stderr) = audit_demo(&url, "");
    assert_eq!(code, 2, "{stderr}");
    for part in [
        url.as_str(),
        "GetCapabilities",
        "UNAVAILABLE",
        "Connection refused",
    ] {
        assert!(stderr.contains(part), "{part:?} not in {stderr}");
    }
    assert!(t.elapsed() < Duration::from_secs(30));
    let Some(c) = cluster() else { return };
    let (code, _, stderr) = audit_demo(&c.url, "no-such-instance");
    assert_eq!(code, 2, "{stderr}");
    for part in [
        c.url.as_str(),
        "no-such-instance",
        "GetCapabilities",
        "INVALID_ARGUMENT",
    ] {
        assert!(stderr.contains(part), "{part:?} not in {stderr}");
    }
}

#[test]
fn a_failing_remote_build_shows_its_output_and_worker() {
    let Some(c) = cluster() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("a.txt"), "a").unwrap();
    let (code, _, stderr) = remote_audit(
        c,
        tmp.path(),
        src.path(),
        &["--", "sh", "-c", "echo failing on purpose >&2; exit 3"],
    );
    assert_eq!(code, 3, "{stderr}");
    for part in ["exit code 3", "on worker", "failing on purpose"] {
        assert!(stderr.contains(part), "{part:?} not in {stderr}");
    }
}

/// Processes (but `except`) whose command line holds `marker`.
fn running(marker: &str, except: u32) -> Vec<u32> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != except)
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                String::from_utf8_lossy(&c)
                    .replace('\0', " ")
                    .contains(marker)
            })
        })
        .collect()
}

#[test]
fn ctrl_c_cancels_the_remote_builds_and_leaves_nothing_running() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let Some(c) = cluster() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("a.txt"), "a").unwrap();
    // A duration no other test sleeps, to find the build's processes.
    let marker = format!("sleep 97.{}", std::process::id() % 1000);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("twice"))
        .env("TMPDIR", tmp.path())
        .args(["audit", "-C", src.path().to_str().unwrap()])
        .args(["--remote", &c.url, "--remote-instance", &c.instance])
        .args(["--", "sh", "-c", &marker])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let me = child.id();
    while running(&marker, me).is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the build never started"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "twice did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    // The operations were cancelled: the workers kill the builds.
    let t = Instant::now();
    while !running(&marker, me).is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the remote build still runs after the cancel"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
