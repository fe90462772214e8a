//! Hostile builds and unlucky users: no capability and no host socket
//! reaches a build, the source tree is checked unchanged, signals stop
//! every stage, files changing under `twice` are reported instead of
//! killing it, nothing is left behind, terminal controls are escaped.
//! Regression tests for the hardening issue (r11).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::twice;

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A directory the sandbox shows read-only (inside the checkout, not under
/// the hidden /tmp).
fn visible_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

/// A source tree whose `build.sh` runs `script`.
fn project_in(dir: &Path, script: &str) -> PathBuf {
    let src = dir.join("src");
    fs::create_dir_all(&src).unwrap();
    let build = src.join("build.sh");
    fs::write(&build, format!("#!/bin/sh\n{script}\n")).unwrap();
    fs::set_permissions(&build, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(src.join("input.txt"), "input\n").unwrap();
    src
}

fn run_audit(tmp: &Path, src: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = twice()
        .env("TMPDIR", tmp)
        .arg("audit")
        .arg("-C")
        .arg(src)
        .args(["--format", "json"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn kept_file(tmp: &Path, run: &str, name: &str) -> String {
    let work = fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("twice-audit-")
        })
        .expect("kept work directory");
    fs::read_to_string(work.join(format!("run-{run}/src/{name}"))).unwrap_or_default()
}

/// A build run as root tries exactly the escape that used to work: drop
/// the private /tmp, remount / read-write, write to the host and to the
/// user's source tree. It holds no capability and changes nothing.
#[test]
fn r11_a_root_build_cannot_escape_the_sandbox() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = visible_dir();
    let marker = dir.path().join("host-marker");
    fs::write(&marker, "untouched\n").unwrap();
    let src = project_in(dir.path(), "");
    let script = format!(
        "grep CapEff /proc/self/status > caps.txt\n\
         umount -l /tmp 2> umount.txt; mount -o remount,rw,bind / 2> remount.txt\n\
         (echo escaped >> {marker}) 2> write.txt\n\
         (echo escaped >> {source}/input.txt) 2> source.txt\n\
         echo built > out.txt\n",
        marker = marker.display(),
        source = src.display()
    );
    fs::write(src.join("build.sh"), format!("#!/bin/sh\n{script}")).unwrap();
    let (code, report, stderr) = run_audit(
        tmp.path(),
        &src,
        &[
            "--keep",
            "--vary",
            "build_path,hostname",
            "--",
            "./build.sh",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(report["verdict"], "identical");
    assert_eq!(
        kept_file(tmp.path(), "A", "caps.txt"),
        "CapEff:\t0000000000000000\n"
    );
    assert_eq!(fs::read_to_string(&marker).unwrap(), "untouched\n");
    assert_eq!(
        fs::read_to_string(src.join("input.txt")).unwrap(),
        "input\n"
    );
    assert!(!kept_file(tmp.path(), "A", "write.txt").is_empty());
    if is_root() {
        // The attempts were made, as root, and refused.
        assert!(!kept_file(tmp.path(), "A", "remount.txt").is_empty());
    }
}

/// Without a sandbox a build can write anywhere: if it writes to the
/// user's source tree the audit says so loudly instead of reporting.
#[test]
fn r11_a_changed_source_tree_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = visible_dir();
    let src = project_in(dir.path(), "");
    fs::write(
        src.join("build.sh"),
        format!(
            "#!/bin/sh\necho more >> {}/input.txt\necho built > out.txt\n",
            src.display()
        ),
    )
    .unwrap();
    let bin = visible_dir();
    for tool in ["sh", "cat"] {
        std::os::unix::fs::symlink(crate::which(tool), bin.path().join(tool)).unwrap();
    }
    let out = twice()
        .env("TMPDIR", tmp.path())
        .env("PATH", bin.path())
        .arg("audit")
        .arg("-C")
        .arg(&src)
        .args(["--vary", "build_path", "--", "./build.sh"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("changed during the audit"), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// A listener on a host Unix socket, in a directory the sandbox shows:
/// the build cannot connect to it.
#[test]
fn r11_host_unix_sockets_are_unreachable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = visible_dir();
    let socket = dir.path().join("host.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    listener.set_nonblocking(true).unwrap();
    let src = project_in(
        dir.path(),
        &format!(
            "python3 -c \"import socket\ns = socket.socket(socket.AF_UNIX)\n\
             try:\n    s.connect('{}'); print('connected')\n\
             except OSError as e:\n    print('refused')\" > result.txt\n",
            socket.display()
        ),
    );
    let (code, _, stderr) = run_audit(
        tmp.path(),
        &src,
        &["--keep", "--vary", "build_path", "--", "./build.sh"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(kept_file(tmp.path(), "A", "result.txt"), "refused\n");
    assert!(
        listener.accept().is_err(),
        "a build reached the host socket"
    );
}

/// Poll `pred` until it holds (or fail after `secs`).
fn wait_for(secs: u64, what: &str, mut pred: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !pred() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn files_below(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

/// Two trees of huge sparse files: hashing them takes far longer than a
/// signal may.
fn sparse_trees(size: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for side in ["a", "b"] {
        fs::create_dir(d.path().join(side)).unwrap();
        for i in 0..4 {
            let f = d.path().join(format!("{side}/big{i}.bin"));
            let ok = Command::new("truncate")
                .args(["-s", size])
                .arg(&f)
                .status()
                .unwrap()
                .success();
            assert!(ok);
        }
    }
    d
}

/// Ctrl-C while hashing: `twice diff` stops early with 130, not when the
/// hashing is done.
#[test]
fn r11_ctrl_c_stops_hashing() {
    let trees = sparse_trees("64G");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("twice"))
        .arg("diff")
        .arg(trees.path().join("a"))
        .arg(trees.path().join("b"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let sent = Instant::now();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    // 512 GiB of zeros take minutes to hash; stopping took a fraction.
    assert!(sent.elapsed() < Duration::from_secs(60));
}

/// A file truncated while it is hashed is reported for that file; no
/// SIGBUS, the rest is compared.
#[test]
fn r11_a_file_shrinking_while_hashed_is_a_problem_not_a_crash() {
    let trees = sparse_trees("16G");
    fs::write(trees.path().join("a/small.txt"), "a\n").unwrap();
    fs::write(trees.path().join("b/small.txt"), "b\n").unwrap();
    let child = Command::new(assert_cmd::cargo::cargo_bin("twice"))
        .arg("diff")
        .arg(trees.path().join("a"))
        .arg(trees.path().join("b"))
        .args(["--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..4 {
        fs::File::options()
            .write(true)
            .open(trees.path().join(format!("a/big{i}.bin")))
            .unwrap()
            .set_len(4096)
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), None, "killed by a signal");
    let report: Value = serde_json::from_slice(&out.stdout).expect("a report");
    assert!(
        report["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["artifact"] == "small.txt"),
        "{report}"
    );
}

/// SIGKILL leaves the disorderfs mount, its daemon and the work
/// directory; the next audit removes them.
#[test]
fn r11_a_killed_audit_is_cleaned_up_by_the_next() {
    if !Path::new("/dev/fuse").exists() || crate::try_which("disorderfs").is_none() {
        eprintln!("skipped: needs disorderfs and /dev/fuse");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = visible_dir();
    let src = project_in(dir.path(), "touch started; sleep 60");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("twice"))
        .env("TMPDIR", tmp.path())
        .arg("audit")
        .arg("-C")
        .arg(&src)
        .args(["--parallel", "--vary", "file_order", "--", "./build.sh"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Run B mounts disorderfs; wait until its build runs.
    wait_for(60, "run B's build", || {
        files_below(tmp.path())
            .iter()
            .any(|p| p.ends_with("run-B/src/started"))
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let mounted = || {
        fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(tmp.path().to_str().unwrap())
    };
    assert!(mounted(), "the killed audit's mount should still be there");
    // The next audit, in the same temporary directory, cleans up.
    let fresh_dir = visible_dir();
    let fresh = project_in(fresh_dir.path(), "echo ok > out.txt");
    let (code, _, stderr) = run_audit(tmp.path(), &fresh, &["--vary", "none", "--", "./build.sh"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!mounted(), "stale mount left");
    let left: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A closed terminal (SIGHUP) is an interruption like Ctrl-C.
#[test]
fn r11_sighup_interrupts_and_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = visible_dir();
    let src = project_in(dir.path(), "touch started; sleep 60");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("twice"))
        .env("TMPDIR", tmp.path())
        .arg("audit")
        .arg("-C")
        .arg(&src)
        .args(["--vary", "none", "--", "./build.sh"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(60, "the build", || {
        files_below(tmp.path())
            .iter()
            .any(|p| p.ends_with("started"))
    });
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let left: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn processes_with(marker: &str) -> Vec<String> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(marker))
        .collect()
}

/// Without bubblewrap, processes a build leaves in the background (in its
/// process group, or detached with setsid) end with the audit.
#[test]
fn r11_background_processes_of_a_build_end_with_the_audit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = visible_dir();
    let src = project_in(
        dir.path(),
        "sleep 86401 &\nsetsid sleep 86402 &\necho built > out.txt\n",
    );
    let bin = visible_dir();
    for tool in ["sh", "sleep", "setsid"] {
        std::os::unix::fs::symlink(crate::which(tool), bin.path().join(tool)).unwrap();
    }
    let out = twice()
        .env("TMPDIR", tmp.path())
        .env("PATH", bin.path())
        .arg("audit")
        .arg("-C")
        .arg(&src)
        .args(["--vary", "build_path", "--", "./build.sh"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(10, "the background sleeps to end", || {
        processes_with("sleep 8640").is_empty()
    });
}

/// File names and contents cannot rewrite the terminal or forge report
/// lines.
#[test]
fn r11_terminal_controls_are_escaped_in_text() {
    let d = tempfile::tempdir().unwrap();
    for (side, content) in [("a", "x\x1b[2J\x1b]0;pwned\x07\n"), ("b", "y\n")] {
        let root = d.path().join(side);
        fs::create_dir(&root).unwrap();
        fs::write(root.join("evil\x1b[31m\nfindings: 0"), content).unwrap();
    }
    let out = twice()
        .arg("diff")
        .arg(d.path().join("a"))
        .arg(d.path().join("b"))
        .args(["--color", "never"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('\x1b'), "{text:?}");
    assert!(!text.contains('\x07'), "{text:?}");
    assert!(text.contains("evil\\x1b[31m\\nfindings: 0"), "{text}");
    assert!(!text.lines().any(|l| l == "findings: 0"));
}

/// A non-root user without access to /dev/fuse gets `file_order` skipped
/// with the reason, not an error.
#[test]
fn r11_no_fuse_skips_file_order() {
    if !is_root() {
        eprintln!("skipped: needs root to run the audit as another user");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let src = project_in(dir.path(), "echo ok > out.txt");
    for p in [
        dir.path().join("src"),
        src.join("build.sh"),
        src.join("input.txt"),
    ] {
        let mode = if p.is_dir() || p.ends_with("build.sh") {
            0o777
        } else {
            0o666
        };
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    }
    let tmp = dir.path().join("tmp");
    fs::create_dir(&tmp).unwrap();
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o777)).unwrap();
    let out = Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "--",
        ])
        .arg(assert_cmd::cargo::cargo_bin("twice"))
        .env("TMPDIR", &tmp)
        .env("HOME", &tmp)
        .arg("audit")
        .arg("-C")
        .arg(&src)
        .args([
            "--format",
            "json",
            "--vary",
            "file_order",
            "--",
            "./build.sh",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let v = &report["audit"]["variations"][0];
    assert_eq!(v["status"], "skipped", "{v}");
    assert_eq!(v["reasons"][0]["kind"], "no_fuse", "{v}");
}
