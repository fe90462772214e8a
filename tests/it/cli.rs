//! Exit codes, errors on bad input, and the file-system facts `twice diff`
//! compares (presence, type, executable bit, symlink target, metadata).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tempfile::TempDir;

use crate::{causes, diff_json, findings, twice};

fn tree(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn identical_trees_exit_zero() {
    let (a, b) = (
        tree(&[("x/y.txt", "same\n")]),
        tree(&[("x/y.txt", "same\n")]),
    );
    twice()
        .args(["diff", s(a.path()), s(b.path())])
        .assert()
        .code(0)
        .stdout(predicates::str::contains("identical: nothing differs"));
}

#[test]
fn missing_path_is_an_input_error() {
    let a = tree(&[]);
    let missing = a.path().join("no-such-dir");
    let out = twice()
        .args(["diff", s(a.path()), s(&missing)])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("no-such-dir") && stderr.contains("No such file"),
        "{stderr}"
    );
}

#[test]
fn directory_versus_file_is_an_input_error() {
    let a = tree(&[("f", "x")]);
    let out = twice()
        .args(["diff", s(a.path()), s(&a.path().join("f"))])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("the first is a directory, the second is a file"),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_two() {
    twice().args(["diff", "a"]).assert().code(2);
    twice()
        .args(["diff", "a", "b", "--root-a", "/x"])
        .assert()
        .code(2);
    let a = tree(&[]);
    twice()
        .args(["diff", s(a.path()), s(a.path()), "--jobs", "0"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--jobs"));
}

/// Run `twice` as an unprivileged user when the tests run as root (as CI
/// does), so that a mode-000 file is really unreadable.
fn unprivileged(dir: &Path) -> std::process::Command {
    let uid = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_default();
    let bin = assert_cmd::cargo::cargo_bin("twice");
    if uid != "0" {
        return std::process::Command::new(bin);
    }
    // The nobody user needs a copy of the binary it can reach.
    let copy = dir.join("twice");
    fs::copy(&bin, &copy).unwrap();
    let nobody = || {
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&copy);
        cmd
    };
    // Until every child forked by another test thread while the copy was
    // open for writing has exec'd, running it fails with ETXTBSY.
    for _ in 0..200 {
        if nobody()
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    nobody()
}

fn open_up(p: &Path) {
    fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn unreadable_file_is_reported_and_the_rest_still_compared() {
    let work = tempfile::tempdir().unwrap();
    open_up(work.path());
    let (a, b) = (work.path().join("a"), work.path().join("b"));
    for (dir, stamp) in [(&a, "2026-11-25T13:45:12Z"), (&b, "2026-11-26T09:00:01Z")] {
        fs::create_dir(dir).unwrap();
        open_up(dir);
        fs::write(dir.join("info.txt"), format!("built {stamp}\n")).unwrap();
        fs::write(dir.join("secret.bin"), "x").unwrap();
        fs::set_permissions(dir.join("info.txt"), fs::Permissions::from_mode(0o644)).unwrap();
    }
    fs::set_permissions(a.join("secret.bin"), fs::Permissions::from_mode(0o000)).unwrap();
    let out = unprivileged(work.path())
        .args(["diff", "--format", "json"])
        .args([&a, &b])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["verdict"], "incomplete");
    let problems = r["unreadable"].as_array().unwrap();
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0]["path"]["text"]
            .as_str()
            .unwrap()
            .ends_with("a/secret.bin")
    );
    assert!(
        problems[0]["reason"]
            .as_str()
            .unwrap()
            .contains("Permission denied")
    );
    assert_eq!(
        causes(&r),
        vec![("info.txt".to_owned(), "timestamp".to_owned())]
    );
}

#[test]
fn unreadable_top_level_file_is_an_input_error() {
    let work = tempfile::tempdir().unwrap();
    open_up(work.path());
    let (a, b) = (work.path().join("a.bin"), work.path().join("b.bin"));
    fs::write(&a, "x").unwrap();
    fs::write(&b, "y").unwrap();
    fs::set_permissions(&a, fs::Permissions::from_mode(0o000)).unwrap();
    let out = unprivileged(work.path())
        .args(["diff"])
        .args([&a, &b])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("a.bin") && stderr.contains("Permission denied"),
        "{stderr}"
    );
}

#[test]
fn presence_type_and_executable_bit() {
    let a = tree(&[("only-a", "1"), ("kind", "file"), ("tool", "#!/bin/sh\n")]);
    let b = tree(&[
        ("only-b", "2"),
        ("kind/inner", "now a dir"),
        ("tool", "#!/bin/sh\n"),
    ]);
    fs::set_permissions(a.path().join("tool"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(b.path().join("tool"), fs::Permissions::from_mode(0o644)).unwrap();
    let (code, r) = diff_json(&[s(a.path()), s(b.path())]);
    assert_eq!(code, 1);
    let got = causes(&r);
    for want in [
        ("kind", "file_type"),
        ("kind/inner", "only_in"),
        ("only-a", "only_in"),
        ("only-b", "only_in"),
        ("tool", "executable_bit"),
    ] {
        assert!(
            got.contains(&(want.0.to_owned(), want.1.to_owned())),
            "{want:?} in {got:?}"
        );
    }
    assert_eq!(findings(&r, "only-a", "only_in")[0]["cause"]["side"], "a");
    assert_eq!(
        findings(&r, "tool", "executable_bit")[0]["a"]["excerpt"]["value"]["text"],
        "0755"
    );
}

#[test]
fn metadata_only_with_the_flag() {
    let (a, b) = (tree(&[("f", "same")]), tree(&[("f", "same")]));
    fs::set_permissions(a.path().join("f"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(b.path().join("f"), fs::Permissions::from_mode(0o600)).unwrap();
    let file = fs::File::options()
        .write(true)
        .open(b.path().join("f"))
        .unwrap();
    file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000))
        .unwrap();
    let (code, _) = diff_json(&[s(a.path()), s(b.path())]);
    assert_eq!(
        code, 0,
        "a umask or a clock is not non-determinism of the content"
    );
    let (code, r) = diff_json(&[s(a.path()), s(b.path()), "--metadata"]);
    assert_eq!(code, 1);
    let fields: Vec<_> = findings(&r, "f", "metadata")
        .iter()
        .map(|f| f["cause"]["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["mode", "mtime"]);
}

#[test]
fn symlinks_compare_by_target_and_are_not_followed() {
    let (a, b) = (tree(&[("t", "1")]), tree(&[("t", "1")]));
    std::os::unix::fs::symlink("/etc", a.path().join("out")).unwrap();
    std::os::unix::fs::symlink("/usr", b.path().join("out")).unwrap();
    std::os::unix::fs::symlink("t", a.path().join("rel")).unwrap();
    std::os::unix::fs::symlink("t", b.path().join("rel")).unwrap();
    let (code, r) = diff_json(&[s(a.path()), s(b.path())]);
    assert_eq!(code, 1);
    assert_eq!(
        causes(&r),
        vec![("out".to_owned(), "symlink_target".to_owned())]
    );
    // /etc was not walked: only the three entries of each side count.
    assert_eq!(r["summary"]["files_a"], 3);
}

#[test]
fn special_files_are_reported_not_read() {
    let (a, b) = (tree(&[]), tree(&[]));
    for d in [a.path(), b.path()] {
        let status = std::process::Command::new("mkfifo")
            .arg(d.join("pipe"))
            .status()
            .unwrap();
        assert!(status.success());
    }
    let (code, r) = diff_json(&[s(a.path()), s(b.path())]);
    assert_eq!(code, 0);
    assert_eq!(r["summary"]["special"], 1);
}

#[test]
fn top_level_special_file_is_an_input_error_not_a_hang() {
    let dir = tree(&[("f", "x")]);
    let fifo = dir.path().join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    twice()
        .args(["diff", s(&fifo), s(&dir.path().join("f"))])
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("pipe: not a regular file"));
}

#[test]
fn report_goes_to_the_output_file() {
    let (a, b) = (tree(&[("f", "1\n")]), tree(&[("f", "2\n")]));
    let out = tempfile::tempdir().unwrap();
    let report = out.path().join("report.json");
    twice()
        .args([
            "diff",
            s(a.path()),
            s(b.path()),
            "--format",
            "json",
            "-o",
            s(&report),
        ])
        .assert()
        .code(1)
        .stdout("");
    let r: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["schema_version"], 2);
    assert_eq!(causes(&r), vec![("f".to_owned(), "unknown".to_owned())]);

    let bad = out.path().join("no-such-dir/report.json");
    twice()
        .args(["diff", s(a.path()), s(b.path()), "-o", s(&bad)])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no-such-dir/report.json"));
}

#[test]
fn color_follows_the_flag() {
    let (a, b) = (tree(&[("f", "1\n")]), tree(&[("f", "2\n")]));
    let run = |color: &str| {
        let out = twice()
            .args(["diff", s(a.path()), s(b.path()), "--color", color])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(run("always").contains("\x1b["));
    assert!(!run("never").contains("\x1b["));
    // Not a terminal: auto means no colour.
    assert!(!run("auto").contains("\x1b["));
}

#[test]
fn non_utf8_names_reach_json_as_hex() {
    use std::os::unix::ffi::OsStrExt;
    let (a, b) = (tree(&[]), tree(&[]));
    let name = std::ffi::OsStr::from_bytes(b"n\xffme");
    fs::write(a.path().join(name), "1\n").unwrap();
    fs::write(b.path().join(name), "2\n").unwrap();
    let (code, r) = diff_json(&[s(a.path()), s(b.path())]);
    assert_eq!(code, 1);
    assert_eq!(
        r["findings"][0]["artifact"],
        serde_json::json!({"hex": "6eff6d65"})
    );
}
