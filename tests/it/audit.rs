//! `twice audit`: real builds in sandboxes, attribution, bisect, failures,
//! missing tools, interruption, and the untouched source tree.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{fixture, twice};

/// Run `twice audit ARGS` with its temporary files under `tmp`; return
/// (exit code, report or Null, stderr).
fn audit_in(tmp: &Path, source: &Path, args: &[&str]) -> (i32, Value, String) {
    // Run where no twice.toml lies above (not in this repository, which has
    // one with a baseline).
    let out = twice()
        .current_dir(std::env::temp_dir())
        .env("TMPDIR", tmp)
        .arg("audit")
        .arg("-C")
        .arg(source)
        .args(["--format", "json"])
        .args(args)
        .output()
        .expect("run twice");
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code().expect("exit code"),
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A source tree with a `build.sh` holding `script`.
fn project(script: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let build = dir.path().join("build.sh");
    fs::write(&build, format!("#!/bin/sh\nset -e\n{script}\n")).unwrap();
    fs::set_permissions(&build, fs::Permissions::from_mode(0o755)).unwrap();
    for name in ["one.txt", "two.txt", "three.txt", "four.txt"] {
        fs::write(dir.path().join(name), name).unwrap();
    }
    dir
}

/// Every file under `root` with its BLAKE3 hash, mode and mtime.
fn fingerprint_tree(root: &Path) -> BTreeMap<String, (String, u32, i64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let m = fs::symlink_metadata(e.path()).unwrap();
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            let hash = if m.is_file() {
                blake3::hash(&fs::read(e.path()).unwrap())
                    .to_hex()
                    .to_string()
            } else {
                String::new()
            };
            out.insert(rel, (hash, m.mode(), m.mtime()));
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

/// (artifact, cause kind, variations, by) of every finding.
fn attributed(report: &Value) -> Vec<(String, String, Vec<String>, String)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let v = &f["variation"];
            (
                f["artifact"].as_str().unwrap().to_owned(),
                f["cause"]["kind"].as_str().unwrap().to_owned(),
                v["variations"]
                    .as_array()
                    .map(|a| a.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
                    .unwrap_or_default(),
                v["by"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn has(
    found: &[(String, String, Vec<String>, String)],
    artifact: &str,
    cause: &str,
    variation: &str,
    by: &str,
) -> bool {
    found.iter().any(|(a, c, v, b)| {
        a == artifact && c == cause && v.iter().any(|x| x == variation) && b == by
    })
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn no_leftovers(tmp: &Path) {
    let left: Vec<_> = fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind in TMPDIR: {left:?}");
}

#[test]
fn demo_findings_are_attributed_and_the_source_is_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = fixture("demo");
    let before = fingerprint_tree(&demo);
    let (code, report, stderr) = audit_in(tmp.path(), &demo, &["--", "make"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        fingerprint_tree(&demo),
        before,
        "the source tree was written"
    );
    no_leftovers(tmp.path());
    assert_eq!(report["command"], "audit");
    assert_eq!(report["audit"]["sandbox"], "bubblewrap");
    let found = attributed(&report);
    // __DATE__ and __TIME__ in the C program, each on its run's clock in
    // its run's time zone.
    let hello_times: Vec<_> = found
        .iter()
        .filter(|f| f.0 == "out/hello" && f.1 == "timestamp")
        .collect();
    assert_eq!(hello_times.len(), 2, "{hello_times:#?}");
    assert!(
        hello_times
            .iter()
            .all(|f| f.2 == ["time"] && f.3 == "canary")
    );
    // __DATE__ in the C program, the build time in the generated module.
    assert!(
        has(&found, "out/hello", "timestamp", "time", "canary"),
        "{found:#?}"
    );
    assert!(has(
        &found,
        "out/pyc/_build_info.py",
        "timestamp",
        "time",
        "canary"
    ));
    // The build directory in the generated module and in the archive's DWARF.
    assert!(has(
        &found,
        "out/pyc/_build_info.py",
        "build_path",
        "build_path",
        "canary"
    ));
    assert!(has(
        &found,
        "out/libdemo.a!alpha.o",
        "build_path",
        "build_path",
        "canary"
    ));
    // Members in `find` order, reordered by the reversed directory listing.
    assert!(has(
        &found,
        "out/libdemo.a",
        "ordering",
        "file_order",
        "likely"
    ));
    // The generated module's .pyc: its constants are the roots; the header's
    // source size and the line table's columns follow from them.
    let pyc = "out/pyc/__pycache__/_build_info.cpython-311.pyc";
    assert!(
        has(&found, pyc, "build_path", "build_path", "canary"),
        "{found:#?}"
    );
    let pyc_causes: Vec<&str> = found
        .iter()
        .filter(|f| f.0 == pyc)
        .map(|f| f.1.as_str())
        .collect();
    assert!(!pyc_causes.contains(&"unknown"), "{pyc_causes:?}");
    assert_eq!(
        pyc_causes.iter().filter(|c| **c == "consequence").count(),
        2
    );
    // The wheel: zip times from the clock, modes from the umask.
    let wheel = "out/dist/twice_demo-1.0-py3-none-any.whl";
    assert!(
        has(&found, wheel, "timestamp", "time", "canary"),
        "{found:#?}"
    );
    assert!(has(&found, wheel, "permissions", "umask", "canary"));
    // The host name, recorded by the generator.
    let host = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["artifact"] == "out/pyc/_build_info.py" && f["cause"]["kind"] == "environment")
        .expect("hostname finding");
    assert_eq!(host["cause"]["what"], "hostname");
    assert_eq!(host["variation"]["variations"][0], "hostname");
    // Every run is described.
    let runs = report["audit"]["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_ne!(runs[0]["build_dir"], runs[1]["build_dir"]);
    assert!(runs[1]["varied"].as_array().unwrap().len() >= 9);
}

#[test]
fn fixed_demo_is_reproducible_under_every_variation() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, report, stderr) = audit_in(
        tmp.path(),
        &fixture("demo-fixed"),
        &["--vary", "all", "--", "make"],
    );
    assert_eq!(code, 0, "{report:#}\n{stderr}");
    assert_eq!(report["verdict"], "identical");
    assert_eq!(report["findings"].as_array().unwrap().len(), 0);
    // Every variation applied (the domain name needs root).
    let root = is_root();
    let variations = report["audit"]["variations"].as_array().unwrap();
    assert_eq!(variations.len(), 11);
    for v in variations {
        let expected = if v["name"] == "domain" && !root {
            "skipped"
        } else {
            "varied"
        };
        assert_eq!(v["status"], expected, "{v}");
    }
    no_leftovers(tmp.path());
}

#[test]
fn canaries_name_each_variation() {
    let tmp = tempfile::tempdir().unwrap();
    let src = project(
        "date -R > date.txt\n\
         hostname > host.txt\n\
         domainname > domain.txt\n\
         echo \"$USER $HOME\" > user.txt\n\
         ls -U > listing.txt\n\
         pwd > where.txt",
    );
    let (code, report, stderr) = audit_in(tmp.path(), src.path(), &["--", "./build.sh"]);
    assert_eq!(code, 1, "{stderr}");
    let found = attributed(&report);
    assert!(
        has(&found, "date.txt", "timestamp", "time", "canary"),
        "{found:#?}"
    );
    assert!(has(&found, "host.txt", "environment", "hostname", "canary"));
    if is_root() {
        assert!(has(&found, "domain.txt", "environment", "domain", "canary"));
    }
    assert!(has(&found, "user.txt", "environment", "env", "canary"));
    assert!(has(
        &found,
        "where.txt",
        "build_path",
        "build_path",
        "canary"
    ));
    assert!(has(
        &found,
        "listing.txt",
        "ordering",
        "file_order",
        "likely"
    ));
}

#[test]
fn bisect_pins_what_no_canary_sees() {
    let tmp = tempfile::tempdir().unwrap();
    // Random bytes only under the French locale, only when umask and time
    // zone both differ, and always (inherent randomness).
    let src = project(
        "case \"$LANG\" in fr*) od -An -N8 -tx1 /dev/urandom > locale.txt;; *) echo same > locale.txt;; esac\n\
         if [ \"$(umask)\" = 0002 ] && [ \"$TZ\" != UTC ]; then od -An -N8 -tx1 /dev/urandom > pair.txt; else echo same > pair.txt; fi\n\
         od -An -N8 -tx1 /dev/urandom > random.txt\n\
         ls -U > listing.txt",
    );
    let (code, report, stderr) =
        audit_in(tmp.path(), src.path(), &["--bisect", "--", "./build.sh"]);
    assert_eq!(code, 1, "{stderr}");
    let found = attributed(&report);
    let of = |artifact: &str| {
        found
            .iter()
            .find(|f| f.0 == artifact)
            .map(|f| (f.2.clone(), f.3.clone()))
            .unwrap_or_else(|| panic!("no finding for {artifact}: {found:#?}"))
    };
    assert_eq!(
        of("locale.txt"),
        (vec!["locale".to_owned()], "bisect".to_owned())
    );
    assert_eq!(
        of("pair.txt"),
        (
            vec!["timezone".to_owned(), "umask".to_owned()],
            "bisect".to_owned()
        )
    );
    assert_eq!(of("random.txt"), (vec![], "inherent".to_owned()));
    // Reordered records are `likely` file order by canary; reruns prove it.
    assert_eq!(
        of("listing.txt"),
        (vec!["file_order".to_owned()], "bisect".to_owned())
    );
    let bisect = &report["audit"]["bisect"];
    assert_eq!(bisect["pinned"], 3);
    assert_eq!(bisect["inherent"], 1);
    assert_eq!(bisect["unresolved"], 0);
    // reprotest needs 3 + N builds for N variations, and pins nothing.
    let varied = report["audit"]["runs"][1]["varied"]
        .as_array()
        .unwrap()
        .len() as u64;
    let builds = bisect["builds"].as_u64().unwrap();
    assert!(
        builds < 3 + varied,
        "{builds} extra builds for {varied} variations"
    );
}

#[test]
fn a_failing_build_exits_3_with_its_log() {
    let tmp = tempfile::tempdir().unwrap();
    let src = project("echo compiling; echo 'error: no such file' >&2; exit 7");
    let (code, _, stderr) = audit_in(tmp.path(), src.path(), &["--", "./build.sh"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("build A failed (exit code 7)"), "{stderr}");
    assert!(stderr.contains("error: no such file"), "{stderr}");
    // The log is kept and named; nothing else is.
    let log = stderr
        .split("full log: ")
        .nth(1)
        .and_then(|s| s.lines().next())
        .expect("log path");
    assert!(fs::read_to_string(log).unwrap().contains("compiling"));
    let kept: Vec<_> = walk_files(tmp.path());
    assert!(kept.iter().all(|p| p.contains("/logs/")), "{kept:?}");
}

fn walk_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path().display().to_string());
            }
        }
    }
    out
}

#[test]
fn a_build_over_the_timeout_is_killed() {
    let tmp = tempfile::tempdir().unwrap();
    let src = project("sleep 60");
    let t = Instant::now();
    let (code, _, stderr) = audit_in(
        tmp.path(),
        src.path(),
        &["--timeout", "0.5", "--vary", "none", "--", "./build.sh"],
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains("killed after 0.5 s (--timeout)"),
        "{stderr}"
    );
    assert!(t.elapsed() < Duration::from_secs(50));
}

#[test]
fn missing_tools_skip_their_variation_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    // A PATH with bubblewrap and a shell but no faketime or disorderfs,
    // deliberately under /tmp: the sandbox replaces /tmp with its own and
    // must show the PATH directories inside it again.
    let bin = tempfile::tempdir_in("/tmp").unwrap();
    for tool in ["bwrap", "sh", "cat", "date"] {
        let real = crate::which(tool);
        std::os::unix::fs::symlink(real, bin.path().join(tool)).unwrap();
    }
    let src = project("date > date.txt");
    let run = |strict: bool| {
        let mut cmd = twice();
        cmd.env("TMPDIR", tmp.path())
            .env("PATH", bin.path())
            .arg("audit")
            .arg("-C")
            .arg(src.path())
            .args(["--format", "json", "--vary", "time,file_order,timezone"]);
        if strict {
            cmd.arg("--strict");
        }
        cmd.args(["--", "./build.sh"]).output().unwrap()
    };
    let out = run(false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("variation time skipped: needs faketime (package faketime)"),
        "{stderr}"
    );
    assert!(stderr.contains("variation file_order skipped: needs disorderfs (package disorderfs)"));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let statuses: Vec<(&str, &str)> = report["audit"]["variations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap(), v["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("time", "skipped"),
            ("timezone", "varied"),
            ("file_order", "skipped")
        ]
    );
    let out = run(true);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("variation time needs faketime"));
}

#[test]
fn output_globs_select_what_is_compared() {
    let tmp = tempfile::tempdir().unwrap();
    let src = project("mkdir -p out; date > out/a.stamp; date > out/b.txt; pwd > where.log");
    let (code, report, stderr) = audit_in(
        tmp.path(),
        src.path(),
        &["--output", "out/*.txt", "--", "./build.sh"],
    );
    assert_eq!(code, 1, "{stderr}");
    let artifacts: Vec<&str> = report["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["artifact"].as_str().unwrap())
        .collect();
    assert_eq!(artifacts, ["out/b.txt"]);
}

#[test]
fn the_same_build_gives_the_same_findings() {
    let src = project("date > date.txt; pwd > where.txt; hostname > host.txt; ls -U > listing.txt");
    let keys = |jobs: &str| {
        let tmp = tempfile::tempdir().unwrap();
        let (code, report, stderr) = audit_in(
            tmp.path(),
            src.path(),
            &["-j", jobs, "--parallel", "--", "./build.sh"],
        );
        assert_eq!(code, 1, "{stderr}");
        let mut keys: Vec<String> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| format!("{} {} {}", f["fingerprint"], f["cause"], f["variation"]))
            .collect();
        keys.sort();
        assert!(!keys.is_empty());
        keys
    };
    assert_eq!(keys("1"), keys("4"));
}

#[test]
fn bad_audit_input_is_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let src = project("true");
    let cases: [(&[&str], &str); 5] = [
        (
            &["--vary", "time,hostnmae", "--", "true"],
            "unknown variation \"hostnmae\"",
        ),
        (&["--"], "no build command"),
        (&["--runs", "1", "--", "true"], "at least 2 runs"),
        (&["--timeout=-1", "--", "true"], "--timeout"),
        (
            &["--output", "/abs/*", "--", "true"],
            "relative to the source tree",
        ),
    ];
    for (args, message) in cases {
        let (code, _, stderr) = audit_in(tmp.path(), src.path(), args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    let missing = tmp.path().join("no-such-dir");
    let (code, _, stderr) = audit_in(tmp.path(), &missing, &["--", "true"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no-such-dir"), "{stderr}");
    let file = src.path().join("one.txt");
    let (code, _, stderr) = audit_in(tmp.path(), &file, &["--", "true"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not a directory"), "{stderr}");
    // Nowhere to stage: the temporary directory is named.
    let nowhere = tmp.path().join("no-tmp");
    let (code, _, stderr) = audit_in(&nowhere, src.path(), &["--", "true"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("cannot create a work directory in") && stderr.contains("no-tmp"),
        "{stderr}"
    );
    no_leftovers(tmp.path());
}

#[test]
fn list_variations_names_every_variation_and_its_tools() {
    let out = twice()
        .args(["audit", "--list-variations"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for name in [
        "build_path",
        "time",
        "timezone",
        "locale",
        "umask",
        "env",
        "hostname",
        "domain",
        "file_order",
        "num_cpus",
        "aslr",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    assert!(text.contains("package disorderfs"));
}

#[test]
fn ctrl_c_kills_the_build_and_removes_the_sandboxes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = project("touch started; sleep 60");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("twice"))
        .env("TMPDIR", tmp.path())
        .arg("audit")
        .arg("-C")
        .arg(src.path())
        .args(["--vary", "none", "--", "./build.sh"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the build runs.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !walk_files(tmp.path())
        .iter()
        .any(|p| p.ends_with("/started"))
    {
        assert!(Instant::now() < deadline, "build never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    no_leftovers(tmp.path());
}

#[test]
fn without_bubblewrap_builds_run_in_plain_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    for tool in ["sh", "cat", "date"] {
        std::os::unix::fs::symlink(crate::which(tool), bin.path().join(tool)).unwrap();
    }
    let src = project("pwd > where.txt; echo \"$HOME\" > home.txt; cat one.txt > copy.txt");
    let out = twice()
        .env("TMPDIR", tmp.path())
        .env("PATH", bin.path())
        .arg("audit")
        .arg("-C")
        .arg(src.path())
        .args([
            "--format",
            "json",
            "--vary",
            "build_path,env,hostname",
            "--",
            "./build.sh",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("bubblewrap not found"), "{stderr}");
    assert!(stderr.contains("variation hostname skipped: needs bwrap (package bubblewrap)"));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["audit"]["sandbox"], "none");
    let found = attributed(&report);
    assert!(
        has(&found, "where.txt", "build_path", "build_path", "canary"),
        "{found:#?}"
    );
    assert!(
        has(&found, "home.txt", "environment", "env", "canary"),
        "{found:#?}"
    );
    assert!(!found.iter().any(|f| f.0 == "copy.txt"));
    // The text report keeps the warning too (stderr is silenced by -q).
    let out = twice()
        .env("TMPDIR", tmp.path())
        .env("PATH", bin.path())
        .arg("audit")
        .arg("-C")
        .arg(src.path())
        .args([
            "-q",
            "--color",
            "never",
            "--vary",
            "build_path",
            "--",
            "./build.sh",
        ])
        .output()
        .unwrap();
    assert!(out.stderr.is_empty());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("warning: bubblewrap not found"), "{text}");
    no_leftovers(tmp.path());
}

#[test]
fn more_runs_compare_each_with_run_a() {
    let tmp = tempfile::tempdir().unwrap();
    let src = project(
        "echo \"$TZ\" > tz.txt; echo same > same.txt\n\
         case \"$TZ\" in America/*) echo c > run-c.txt;; *) echo ab > run-c.txt;; esac",
    );
    let (code, report, stderr) = audit_in(
        tmp.path(),
        src.path(),
        &["--runs", "3", "--vary", "timezone", "--", "./build.sh"],
    );
    assert_eq!(code, 1, "{stderr}");
    let runs = report["audit"]["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[2]["varied"][0], "timezone");
    // Runs B and C differ from A at the same place for the same reason:
    // one finding (the first comparison's evidence), one artifact.
    let tz: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["artifact"] == "tz.txt")
        .collect();
    assert_eq!(tz.len(), 1, "{report:#}");
    assert_eq!(
        tz[0]["b"]["excerpt"]["lines"][0]["text"],
        "Pacific/Kiritimati"
    );
    // run-c.txt is identical in runs A and B and differs in run C: the
    // summary counts it once, as differing, no longer as identical.
    let artifacts: Vec<&str> = report["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["artifact"].as_str().unwrap())
        .collect();
    assert_eq!(artifacts, ["run-c.txt", "tz.txt"]);
    assert_eq!(report["summary"]["differing"], 2);
    assert_eq!(report["summary"]["identical"], 1);
    assert_eq!(report["summary"]["findings"], 2);
}

#[test]
fn keep_leaves_the_sandboxes_and_says_where() {
    let tmp = tempfile::tempdir().unwrap();
    let src = project("pwd > where.txt");
    let out = twice()
        .env("TMPDIR", tmp.path())
        .arg("audit")
        .arg("-C")
        .arg(src.path())
        .args([
            "--keep",
            "--vary",
            "build_path",
            "--color",
            "never",
            "--",
            "./build.sh",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let kept = text
        .lines()
        .find_map(|l| l.strip_prefix("sandboxes and logs kept in "))
        .unwrap_or_else(|| panic!("no kept path in:\n{text}"));
    let kept = Path::new(kept);
    assert!(kept.starts_with(tmp.path()));
    for run in ["run-A", "run-B"] {
        assert!(kept.join(run).join("src/where.txt").is_file(), "{run}");
        assert!(kept.join("logs").join(format!("{run}.log")).is_file());
    }
}

#[test]
fn special_files_in_the_source_are_skipped_with_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let src = project("cat one.txt > out.txt");
    let fifo = src.path().join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let (code, report, stderr) = audit_in(
        tmp.path(),
        src.path(),
        &["--vary", "build_path", "--", "./build.sh"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("1 special file(s) in the source tree not staged (first: pipe)"),
        "{stderr}"
    );
    assert_eq!(report["verdict"], "identical");
    no_leftovers(tmp.path());
}

/// A build whose outputs depend only on the variations' values, so the whole
/// report (minus durations and the temporary source path) is a snapshot.
#[test]
fn audit_report_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    let src = project(
        "pwd > where.txt\n\
         hostname > host.txt\n\
         echo \"$TZ\" > tz.txt\n\
         umask > umask.txt\n\
         cat one.txt two.txt > same.txt",
    );
    let args = [
        "--vary",
        "build_path,timezone,umask,hostname",
        "--color",
        "never",
        "--",
        "./build.sh",
    ];
    let (code, report, stderr) = audit_in(tmp.path(), src.path(), &args);
    assert_eq!(code, 1, "{stderr}");
    insta::assert_json_snapshot!("audit_report", report, {
        ".audit.source" => "[source]",
        ".context" => "[context]",
        ".audit.runs[].seconds" => "[seconds]",
        ".audit.timings.staging" => "[seconds]",
        ".audit.timings.builds" => "[seconds]",
        ".audit.timings.hashing" => "[seconds]",
        ".audit.timings.comparing" => "[seconds]",
        ".audit.timings.bisect" => "[seconds]",
        ".artifacts[].a.mode" => "[mode]",
        ".artifacts[].b.mode" => "[mode]",
    });
    let out = twice()
        .env("TMPDIR", tmp.path())
        .arg("audit")
        .arg("-C")
        .arg(src.path())
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).replace(&src.path().display().to_string(), "[source]");
    // Build times: `0.0 s` and the like, padded to the column.
    let text: String = text
        .lines()
        .map(|l| {
            let mut cells: Vec<String> = l.split('┆').map(str::to_owned).collect();
            if cells.len() == 5 && cells[3].trim().ends_with(" s") {
                cells[3] = " [time] ".to_owned();
            }
            cells.join("┆") + "\n"
        })
        .collect();
    insta::assert_snapshot!("audit_report_text", text);
}

#[test]
fn progress_shows_on_a_terminal_only() {
    let tmp = tempfile::tempdir().unwrap();
    let src = project("sleep 0.3; echo done > out.txt");
    let bin = assert_cmd::cargo::cargo_bin("twice");
    let line = format!(
        "{} audit -C {} --vary build_path -- ./build.sh",
        bin.display(),
        src.path().display()
    );
    // `script` gives the command a pseudo-terminal and copies what it
    // writes there to its own standard output.
    let on_tty = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&on_tty.stdout);
    // Stages long enough to be drawn whatever the redraw rate, and the
    // elapsed time.
    for stage in ["run A: building", "run B: building", "[00:00:0"] {
        assert!(shown.contains(stage), "{stage} missing from:\n{shown}");
    }
    let piped = twice()
        .env("TMPDIR", tmp.path())
        .args(["audit", "-C"])
        .arg(src.path())
        .args(["--vary", "build_path", "--", "./build.sh"])
        .output()
        .unwrap();
    assert!(
        piped.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
}

#[test]
fn rust_builds_keep_the_real_clock() {
    let tmp = tempfile::tempdir().unwrap();
    let src = project("date -u +%Y > year.txt");
    fs::write(src.path().join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
    let (code, report, stderr) = audit_in(
        tmp.path(),
        src.path(),
        &["--vary", "time,umask", "--", "./build.sh"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("variation time skipped: not applied to Rust builds"),
        "{stderr}"
    );
    assert_eq!(report["audit"]["variations"][0]["status"], "skipped");
    assert_eq!(report["audit"]["variations"][1]["status"], "varied");
}
