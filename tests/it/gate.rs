//! The CI gate: `twice.toml` targets, baselines (new / known / fixed),
//! exit codes, and baselines that do not depend on the checkout path, the
//! date or the thread count.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::twice;

/// A repository with a twice.toml and two small projects: `leaky` writes
/// the build path, the host name, the time zone's view of a fixed time and
/// the umask; `clean` writes what it reads.
fn repository(root: &Path) {
    let project = |name: &str, script: &str| {
        let dir = root.join(name);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("input.txt"), "input\n").unwrap();
        let build = dir.join("build.sh");
        fs::write(&build, format!("#!/bin/sh\nset -e\n{script}\n")).unwrap();
        fs::set_permissions(&build, fs::Permissions::from_mode(0o755)).unwrap();
    };
    project(
        "leaky",
        "pwd > where.txt\nhostname > host.txt\ndate -d @1700000000 > when.txt\numask > umask.txt",
    );
    project("clean", "cat input.txt > out.txt");
    project("broken", "echo failing >&2; exit 4");
    fs::write(
        root.join("twice.toml"),
        "baseline = \"baseline.txt\"\n\
         [defaults]\nvary = \"build_path,timezone,umask,hostname\"\n\
         [targets.leaky]\ndir = \"leaky\"\ncommand = [\"./build.sh\"]\n\
         [targets.clean]\ndir = \"clean\"\ncommand = [\"./build.sh\"]\n\
         [targets.broken]\ndir = \"broken\"\ncommand = \"./build.sh\"\n",
    )
    .unwrap();
}

fn run(root: &Path, tmp: &Path, args: &[&str]) -> Output {
    twice()
        .current_dir(root)
        .env("TMPDIR", tmp)
        .env_remove("GITHUB_ACTIONS")
        .args(args)
        .output()
        .unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

#[test]
fn exit_codes_follow_the_baseline() {
    let repo = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let root = repo.path();
    repository(root);
    // Clean: 0.
    let o = run(root, tmp.path(), &["audit", "clean", "-q"]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    // New findings without a baseline: 1.
    let o = run(
        root,
        tmp.path(),
        &["audit", "leaky", "-q", "--format", "json"],
    );
    assert_eq!(code(&o), 1);
    assert_eq!(json(&o)["audit"]["target"], "leaky");
    // Record them: only known findings, 0, all marked known.
    let o = run(root, tmp.path(), &["baseline", "update", "leaky", "-q"]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(
        root,
        tmp.path(),
        &["audit", "leaky", "-q", "--format", "json"],
    );
    assert_eq!(code(&o), 0);
    let r = json(&o);
    assert_eq!(r["verdict"], "accepted");
    assert_eq!(r["baseline"]["new"], 0);
    assert!(
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["baseline"] == "known")
    );
    // --no-baseline: every finding counts again.
    let o = run(root, tmp.path(), &["audit", "leaky", "-q", "--no-baseline"]);
    assert_eq!(code(&o), 1);
    // A fixed finding: 0, reported as fixed with the command that prunes it.
    let script = root.join("leaky/build.sh");
    let text = fs::read_to_string(&script)
        .unwrap()
        .replace("umask > umask.txt", "echo 0022 > umask.txt");
    fs::write(&script, text).unwrap();
    let o = run(
        root,
        tmp.path(),
        &["audit", "leaky", "-q", "--format", "json"],
    );
    assert_eq!(code(&o), 0);
    let fixed = &json(&o)["baseline"]["fixed"];
    assert_eq!(fixed.as_array().unwrap().len(), 1, "{fixed}");
    assert_eq!(fixed[0]["artifact"], "umask.txt");
    let o = run(
        root,
        tmp.path(),
        &["audit", "leaky", "-q", "--color", "never"],
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("twice baseline update leaky"), "{text}");
    // A new finding on top of known ones: 1, and only it is new.
    let text = fs::read_to_string(&script).unwrap() + "echo \"$TWICE_AUDIT_NOISE\" > noise.txt\n";
    fs::write(&script, text).unwrap();
    let o = run(
        root,
        tmp.path(),
        &[
            "audit",
            "leaky",
            "-q",
            "--format",
            "json",
            "--vary",
            "build_path,timezone,umask,hostname,env",
        ],
    );
    assert_eq!(code(&o), 1);
    let r = json(&o);
    let new: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["baseline"] == "new")
        .map(|f| f["artifact"].as_str().unwrap())
        .collect();
    assert!(
        new.iter().all(|a| *a == "noise.txt" || *a == "home.txt"),
        "{new:?}"
    );
    assert!(new.contains(&"noise.txt"));
    // A failing build: 3; the other targets of --all are still reported.
    let o = run(
        root,
        tmp.path(),
        &["audit", "--all", "-q", "--format", "json"],
    );
    assert_eq!(code(&o), 3, "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("target broken: build A failed"));
    let reports = json(&o);
    let targets: Vec<&str> = reports["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["audit"]["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["clean", "leaky"]);
    // A bad configuration: 2, with file, line and column.
    fs::write(
        root.join("twice.toml"),
        "[targets.x]\ncommand = \"true\"\nrunz = 3\n",
    )
    .unwrap();
    let o = run(root, tmp.path(), &["audit", "x"]);
    assert_eq!(code(&o), 2);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("twice.toml:3:1: unknown field `runz`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `runs`"), "{stderr}");
}

#[test]
fn targets_and_their_errors() {
    let repo = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    repository(repo.path());
    let o = run(repo.path(), tmp.path(), &["targets"]);
    assert_eq!(code(&o), 0);
    let out = String::from_utf8_lossy(&o.stdout);
    for t in ["broken", "clean", "leaky"] {
        assert!(out.contains(t), "{out}");
    }
    let o = run(repo.path(), tmp.path(), &["audit", "laeky"]);
    assert_eq!(code(&o), 2);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("no target `laeky`") && stderr.contains("did you mean `leaky`"),
        "{stderr}"
    );
    // Targets and a command together are refused.
    let o = run(repo.path(), tmp.path(), &["audit", "leaky", "--", "make"]);
    assert_eq!(code(&o), 2);
    // An ignore rule without a reason names its place.
    fs::write(
        repo.path().join("twice.toml"),
        "[[ignore]]\nartifact = \"*.txt\"\ncause = \"build_path\"\n",
    )
    .unwrap();
    let o = run(repo.path(), tmp.path(), &["targets"]);
    assert_eq!(code(&o), 2);
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("twice.toml:1:1: an ignore rule needs a `reason`")
    );
}

#[test]
fn ignore_rules_leave_findings_out_until_they_expire() {
    let repo = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let root = repo.path();
    repository(root);
    let mut config = fs::read_to_string(root.join("twice.toml")).unwrap();
    config.push_str(
        "[[ignore]]\nartifact = \"where.txt\"\ncause = \"build_path\"\nreason = \"the path is printed for humans\"\n\
         [[ignore]]\nartifact = \"host.txt\"\ncause = \"*\"\nreason = \"until the release\"\nexpires = 2000-01-01\n",
    );
    fs::write(root.join("twice.toml"), config).unwrap();
    let o = run(root, tmp.path(), &["audit", "leaky", "--format", "json"]);
    let r = json(&o);
    let artifacts: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["artifact"].as_str().unwrap())
        .collect();
    assert!(!artifacts.contains(&"where.txt"), "{artifacts:?}");
    assert!(
        artifacts.contains(&"host.txt"),
        "an expired rule still applied"
    );
    assert_eq!(r["summary"]["ignored"], 1);
    assert!(String::from_utf8_lossy(&o.stderr).contains("expired on 2000-01-01"));
}

/// The same project from two checkout paths, under the clock of two dates
/// a year apart, with one thread and four: byte-identical baselines.
#[test]
fn baselines_do_not_depend_on_path_date_or_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let short = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let long = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let long_root = long.path().join("a/much/longer/checkout/path");
    fs::create_dir_all(&long_root).unwrap();
    let faketime = crate::try_which("faketime");
    let mut baselines = Vec::new();
    for (root, date, jobs) in [
        (short.path(), None, "1"),
        (long_root.as_path(), Some("2027-03-01 12:00:00"), "4"),
        (short.path(), Some("2028-03-01 12:00:00"), "4"),
    ] {
        repository(root);
        let mut cmd = match (&faketime, date) {
            (Some(f), Some(d)) => {
                let mut c = std::process::Command::new(f);
                c.arg(d).arg(assert_cmd::cargo::cargo_bin("twice"));
                c
            }
            _ => std::process::Command::new(assert_cmd::cargo::cargo_bin("twice")),
        };
        let o = cmd
            .current_dir(root)
            .env("TMPDIR", tmp.path())
            .args(["baseline", "update", "leaky", "clean", "-q", "-j", jobs])
            .output()
            .unwrap();
        assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
        baselines.push(fs::read_to_string(root.join("baseline.txt")).unwrap());
        fs::remove_file(root.join("baseline.txt")).unwrap();
    }
    assert!(baselines[0].lines().count() > 4, "{}", baselines[0]);
    assert_eq!(baselines[0], baselines[1]);
    assert_eq!(baselines[0], baselines[2]);
}
