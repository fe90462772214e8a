//! A tool that audits determinism must itself be deterministic: the same
//! comparison gives byte-identical JSON whatever the thread count, and the
//! report's shape is pinned by a snapshot.

use crate::{fixture, fixture_pairs, twice};

fn json(jobs: &str) -> Vec<u8> {
    let out = twice()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "diff",
            "fixtures/diff-demo/a",
            "fixtures/diff-demo/b",
            "--format",
            "json",
            "-j",
            jobs,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    out.stdout
}

#[test]
fn same_comparison_gives_identical_json() {
    let first = json("1");
    assert_eq!(first, json("2"));
    assert_eq!(first, json("4"));
}

#[test]
fn fingerprints_do_not_depend_on_where_the_trees_live() {
    let copy = tempfile::tempdir().unwrap();
    for side in ["a", "b"] {
        let to = copy.path().join(format!("elsewhere-{side}"));
        std::fs::create_dir(&to).unwrap();
        for e in std::fs::read_dir(fixture(&format!("diff-demo/{side}"))).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
    let fps = |a: &std::path::Path, b: &std::path::Path| {
        let (_, r) = crate::diff_json(&[a.to_str().unwrap(), b.to_str().unwrap()]);
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["fingerprint"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let here = fps(&fixture("diff-demo/a"), &fixture("diff-demo/b"));
    let there = fps(
        &copy.path().join("elsewhere-a"),
        &copy.path().join("elsewhere-b"),
    );
    assert_eq!(here, there);
    let unique: std::collections::BTreeSet<_> = here.iter().collect();
    assert_eq!(
        unique.len(),
        here.len(),
        "fingerprints are unique within a report"
    );
}

#[test]
fn demo_report_snapshot() {
    let report: serde_json::Value = serde_json::from_slice(&json("2")).unwrap();
    // Modes come from the checkout's umask, not from the fixtures.
    insta::assert_json_snapshot!("diff_demo_report", report, {
        ".artifacts[].a.mode" => "[mode]",
        ".artifacts[].b.mode" => "[mode]",
    });
}

/// Every fixture pair (ELF, ar, archives, pyc, the diff demo): the same
/// JSON on one thread and on four.
#[test]
fn every_fixture_pair_is_thread_count_independent() {
    let pairs = fixture_pairs();
    assert!(
        pairs.len() >= 20,
        "found only {} fixture pairs",
        pairs.len()
    );
    for (a, b) in pairs {
        let run = |jobs: &str| {
            twice()
                .args(["diff", "--format", "json", "-j", jobs])
                .arg(&a)
                .arg(&b)
                .output()
                .unwrap()
                .stdout
        };
        let one = run("1");
        assert!(!one.is_empty(), "{}", a.display());
        assert!(
            one == run("4"),
            "{} differs with the thread count",
            a.display()
        );
    }
}
