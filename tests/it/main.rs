//! Integration tests: the real `twice` binary over fixture pairs built by
//! `fixtures/make_fixtures.sh` and over trees made on the spot.

mod archives;
mod audit;
mod ci;
mod cli;
mod determinism;
mod elf;
mod execlog;
mod execlog_real;
mod fixtures;
mod gate;
mod hardening;
mod history;
mod limits;
mod precision;
mod problems;
/// The synthetic execution logs (test support) and the protobuf messages
/// they are written with.
#[path = "../../src/execlog/proto.rs"]
#[allow(dead_code, reason = "only some of the log messages are written here")]
mod proto;
mod remote;
#[path = "../../tests/support/execlog_synth.rs"]
#[allow(dead_code, reason = "each user writes only some of the formats")]
mod synth;
#[path = "../../tests/support/zip_synth.rs"]
mod zip_synth;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

pub fn twice() -> Command {
    let mut cmd = Command::cargo_bin("twice").expect("twice binary");
    cmd.env_remove("NO_COLOR");
    cmd
}

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// Every committed fixture pair: directories `a` and `b`, or `X-a` and
/// `X-b`, side by side, in path order.
pub fn fixture_pairs() -> Vec<(PathBuf, PathBuf)> {
    let mut pairs = Vec::new();
    let mut stack = vec![fixture("")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = e.path();
            if !e.file_type().unwrap().is_dir() {
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            let partner = match name.as_str() {
                "a" => Some(dir.join("b")),
                n if n.ends_with("-a") => Some(dir.join(format!("{}b", &n[..n.len() - 1]))),
                _ => None,
            };
            match partner {
                Some(b) if b.is_dir() => pairs.push((path, b)),
                _ => stack.push(path),
            }
        }
    }
    pairs.sort();
    pairs
}

/// Run `twice diff ARGS --format json` and return (exit code, report).
pub fn diff_json(args: &[&str]) -> (i32, Value) {
    let out = twice()
        .arg("diff")
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("run twice");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().expect("exit code"), report)
}

/// The findings of a report as (artifact, cause kind) pairs.
pub fn causes(report: &Value) -> Vec<(String, String)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["artifact"].as_str().expect("artifact").to_owned(),
                f["cause"]["kind"].as_str().expect("cause").to_owned(),
            )
        })
        .collect()
}

/// Findings of one artifact with one cause kind.
pub fn findings<'r>(report: &'r Value, artifact: &str, cause: &str) -> Vec<&'r Value> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["artifact"] == artifact && f["cause"]["kind"] == cause)
        .collect()
}

/// A field location as text: its path joined with `, `.
pub fn place(finding: &Value) -> String {
    finding["location"]["path"]
        .as_array()
        .map(|p| {
            p.iter()
                .map(|s| s.as_str().unwrap_or(""))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// The token text of one side of a finding.
pub fn token<'r>(finding: &'r Value, side: &str) -> &'r str {
    finding[side]["token"]["text"].as_str().unwrap_or("")
}

/// The absolute path of a program on PATH.
pub fn which(program: &str) -> PathBuf {
    try_which(program).unwrap_or_else(|| panic!("{program} not on PATH"))
}

pub fn try_which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}
