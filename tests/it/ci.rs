//! The CI renderers (SARIF, JUnit XML, GitHub workflow commands, Markdown)
//! over reports built from committed fixture pairs: golden snapshots,
//! Microsoft's SARIF validator, PyPI's junitparser reading the JUnit back,
//! GitHub's limits, escaping of hostile names.
//!
//! The validators are installed by `scripts/sarif-validator.sh` and
//! `scripts/junitparser.sh` (idempotent; the tests call them). Where they
//! cannot be installed (no node or python, offline) the tests say so and
//! pass, unless `TWICE_REQUIRE_VALIDATORS=1` (as in CI) makes that a
//! failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use twice::classify::Canaries;
use twice::diff::{Comparison, DiffOptions, diff_paths};
use twice::finding::{
    AttributedBy, Attribution, BaselineState, Cause, Fingerprint, Text, TimestampEncoding,
    Variation,
};
use twice::report::{
    Action, ActionNote, AuditInfo, BaselineEntry, BaselineInfo, Certainty, CommandKind, Extras,
    Inputs, Provenance, Report, RunInfo, SandboxKind, SourceRef, Timings, VariationState,
    VariationStatus, Verdict, render_annotations, render_junit, render_markdown, render_sarif,
};

use crate::{fixture, fixture_pairs};

/// Timestamps in the fixtures are read as seen on 2026-12-01.
const NOW: i64 = 1_796_083_200;

type Render = fn(&[Report], &mut dyn std::io::Write) -> std::io::Result<()>;

fn render(f: Render, reports: &[Report]) -> String {
    let mut out = Vec::new();
    f(reports, &mut out).expect("render to memory");
    String::from_utf8(out).expect("renderers write UTF-8")
}

fn compare(a: &Path, b: &Path) -> Comparison {
    let roots = std::fs::read_to_string(a.parent().expect("a pair").join("roots.txt"))
        .ok()
        .and_then(|r| {
            let mut lines = r.lines().map(|l| l.as_bytes().to_vec());
            Some((lines.next()?, lines.next()?))
        });
    let opts = DiffOptions {
        canaries: Canaries {
            roots,
            values: Vec::new(),
        },
        now: NOW,
        ..DiffOptions::default()
    };
    diff_paths(a, b, &opts).expect("compare the fixture pair")
}

/// What an audit would have attributed each finding of the demo pairs to.
fn attribute(c: &mut Comparison) {
    for f in &mut c.findings {
        f.variation = match f.cause {
            Cause::BuildPath { .. } => {
                Some(Attribution::one(Variation::BuildPath, AttributedBy::Canary))
            }
            Cause::Timestamp { .. } => {
                Some(Attribution::one(Variation::Time, AttributedBy::Canary))
            }
            Cause::ArchiveHeader { .. } => {
                Some(Attribution::one(Variation::Time, AttributedBy::Bisect))
            }
            Cause::Ordering { .. } => {
                Some(Attribution::one(Variation::FileOrder, AttributedBy::Likely))
            }
            Cause::Permissions => Some(Attribution::one(Variation::Umask, AttributedBy::Canary)),
            _ => None,
        };
    }
}

fn audit_info(target: &str, source: &str) -> AuditInfo {
    let varied = [
        Variation::BuildPath,
        Variation::Time,
        Variation::Umask,
        Variation::FileOrder,
    ];
    let run = |label: &str, dir: &str, varied: &[Variation]| RunInfo {
        label: label.to_owned(),
        build_dir: Text::new(dir),
        varied: varied.to_vec(),
        seconds: 1.25,
        outputs: 5,
    };
    AuditInfo {
        target: Some(target.to_owned()),
        source: Text::new(source),
        command: vec![Text::new("make")],
        sandbox: SandboxKind::Bubblewrap,
        variations: varied
            .iter()
            .map(|v| VariationStatus {
                variation: *v,
                state: VariationState::Varied,
            })
            .collect(),
        runs: vec![
            run("A", "/dev/shm/twice-fixture/build/a", &[]),
            run("B", "/dev/shm/twice-fixture/build/second-run-b", &varied),
        ],
        bisect: None,
        warnings: Vec::new(),
        kept: None,
        timings: Timings {
            staging: 0.125,
            builds: 2.5,
            hashing: 0.0625,
            comparing: 0.25,
            bisect: 0.0,
        },
    }
}

fn action(argv: &[&str], wrote: &str, note: Option<ActionNote>, seq: u64) -> Action {
    Action {
        argv: argv.iter().map(|a| Text::new(*a)).collect(),
        cwd: Text::new("."),
        wrote: vec![Text::new(wrote)],
        note,
        seq,
    }
}

/// An audit-like report of a fixture pair: attributed findings, traced
/// actions and source lines, a target, and a baseline in which `known`
/// causes are accepted (plus one accepted finding that no longer occurs).
fn audit_report(
    target: &str,
    source: &str,
    (a, b): (&str, &str),
    known: fn(&Cause) -> bool,
    fixed: Vec<BaselineEntry>,
) -> Report {
    let mut c = compare(&fixture(a), &fixture(b));
    attribute(&mut c);
    let mut provenance = Provenance::default();
    let writers = [
        action(
            &["gcc", "-g", "-MD", "-c", "hello.c", "-o", "hello.o"],
            "hello.o",
            Some(ActionNote::NoPrefixMap),
            1,
        ),
        action(
            &["ar", "rcs", "libdemo.a", "mul.o", "greet.o", "add.o"],
            "libdemo.a",
            Some(ActionNote::NonDeterministicAr),
            2,
        ),
        action(&["sh", "stamp.sh"], "build-info.txt", None, 3),
    ];
    for w in writers {
        provenance
            .writers
            .insert(w.wrote[0].0.clone(), vec![w.clone()]);
    }
    for f in &c.findings {
        let source = match (&f.cause, f.artifact.to_string().as_str()) {
            (
                Cause::Timestamp {
                    encoding: TimestampEncoding::CDate | TimestampEncoding::CTime,
                },
                "hello.o",
            ) => SourceRef {
                file: Text::new("hello.c"),
                line: 6,
                certainty: Certainty::Certain,
                text: Text::new(
                    r#"static const char build_stamp[] = "hello built " __DATE__ " " __TIME__;"#,
                ),
            },
            (Cause::Timestamp { .. }, "build-info.txt") => SourceRef {
                file: Text::new("stamp.sh"),
                line: 3,
                certainty: Certainty::Likely,
                text: Text::new(r#"echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ)""#),
            },
            _ => continue,
        };
        provenance.sources.insert(f.fingerprint, vec![source]);
    }
    let info = audit_info(target, source);
    let inputs = Inputs {
        a: Text::new("run A: /dev/shm/twice-fixture/build/a"),
        b: Text::new("run B: /dev/shm/twice-fixture/build/second-run-b"),
    };
    let extras = Extras {
        audit: Some(&info),
        provenance: Some(&provenance),
        gate: None,
    };
    let mut report = Report::new(CommandKind::Audit, inputs, c, extras);
    let root_known: Vec<(Fingerprint, bool)> = report
        .findings
        .iter()
        .map(|f| (f.fingerprint, known(&f.cause)))
        .collect();
    for f in &mut report.findings {
        let is_known = match f.cause {
            // A consequence stands or falls with its root.
            Cause::Consequence { .. } => f
                .root
                .and_then(|r| root_known.iter().find(|(fp, _)| *fp == r))
                .is_some_and(|(_, k)| *k),
            ref cause => known(cause),
        };
        f.baseline = Some(if is_known {
            BaselineState::Known
        } else {
            BaselineState::New
        });
    }
    let count = |state| {
        report
            .findings
            .iter()
            .filter(|f| f.baseline == Some(state))
            .count() as u64
    };
    let (new, known) = (count(BaselineState::New), count(BaselineState::Known));
    if new == 0 && !report.findings.is_empty() {
        report.envelope.verdict = Verdict::Accepted;
    }
    report.baseline = Some(BaselineInfo {
        path: Text::new("twice.baseline"),
        new,
        known,
        fixed,
    });
    report
}

fn fixed_entry(target: &str) -> BaselineEntry {
    BaselineEntry {
        fingerprint: "5f0c1e2d3c4b5a69788796a5b4c3d2e1".to_owned(),
        target: target.to_owned(),
        artifact: "dist/demo-1.0.tar.gz!demo-1.0/PKG-INFO".to_owned(),
        cause: "timestamp".to_owned(),
        evidence: "gzip header MTIME 1795618511".to_owned(),
    }
}

/// The demo target: new build paths and times, accepted archive order and
/// headers, one accepted finding fixed.
fn demo() -> Report {
    audit_report(
        "demo",
        "/src/repo",
        ("diff-demo/a", "diff-demo/b"),
        |c| matches!(c, Cause::Ordering { .. } | Cause::ArchiveHeader { .. }),
        vec![fixed_entry("demo")],
    )
}

/// Three targets in one run: the demo (fails), a wheel whose findings are
/// all accepted, a clean build.
fn three_targets() -> Vec<Report> {
    vec![
        demo(),
        audit_report(
            "wheel",
            "/src/repo/python",
            ("archives/wheel/a", "archives/wheel/b"),
            |_| true,
            Vec::new(),
        ),
        audit_report(
            "clean",
            "/src/repo/clean",
            ("diff-demo/fixed-a", "diff-demo/fixed-b"),
            |_| true,
            Vec::new(),
        ),
    ]
}

fn sarif_value(reports: &[Report]) -> Value {
    serde_json::from_str(&render(render_sarif, reports)).expect("SARIF is JSON")
}

#[test]
fn snapshots_of_one_audit() {
    let reports = [demo()];
    assert_eq!(reports[0].verdict(), Verdict::Differs);
    insta::assert_json_snapshot!("ci_sarif", sarif_value(&reports), {
        ".runs[].tool.driver.version" => "[version]",
        ".runs[].tool.driver.semanticVersion" => "[version]",
    });
    insta::assert_snapshot!("ci_junit", render(render_junit, &reports));
    insta::assert_snapshot!("ci_annotations", render(render_annotations, &reports));
    insta::assert_snapshot!("ci_markdown", render(render_markdown, &reports));
}

#[test]
fn snapshots_of_several_targets() {
    let reports = three_targets();
    let verdicts: Vec<Verdict> = reports.iter().map(Report::verdict).collect();
    assert_eq!(
        verdicts,
        [Verdict::Differs, Verdict::Accepted, Verdict::Identical]
    );
    insta::assert_json_snapshot!("ci_sarif_targets", sarif_value(&reports), {
        ".runs[].tool.driver.version" => "[version]",
        ".runs[].tool.driver.semanticVersion" => "[version]",
    });
    insta::assert_snapshot!("ci_junit_targets", render(render_junit, &reports));
    insta::assert_snapshot!(
        "ci_annotations_targets",
        render(render_annotations, &reports)
    );
    insta::assert_snapshot!("ci_markdown_targets", render(render_markdown, &reports));
}

#[test]
fn renderers_are_deterministic() {
    for f in [
        render_sarif,
        render_junit,
        render_annotations,
        render_markdown,
    ] as [Render; 4]
    {
        assert_eq!(render(f, &three_targets()), render(f, &three_targets()));
    }
}

/// Set-up scripts print the tool's path on success and nothing when it
/// cannot be had.
fn tool(script: &str, what: &str) -> Option<PathBuf> {
    let out = Command::new("bash")
        .arg(fixture("../scripts").join(script))
        .output()
        .ok()
        .filter(|o| o.status.success());
    let path = out
        .as_ref()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    if path.is_none() {
        let why = out
            .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
            .unwrap_or_else(|| format!("scripts/{script} did not run"));
        if std::env::var_os("TWICE_REQUIRE_VALIDATORS").is_some_and(|v| v == "1") {
            panic!("{what} is required (TWICE_REQUIRE_VALIDATORS=1) but unavailable: {why}");
        }
        eprintln!("SKIPPED: {what} unavailable, check not run: {why}");
    }
    path
}

/// A tree whose one file has a name that needs escaping everywhere: `|`,
/// backticks, `,`, `:`, `%`, `<`, `&`, a space and a newline.
fn odd_names() -> (tempfile::TempDir, Report) {
    diff_of(&[(
        "we|ird `n`, x:y%25 <&>\nline.txt",
        "built: 2026-11-25T13:45:12Z\n",
        "built: 2026-11-26T09:00:01Z\n",
    )])
}

/// `twice diff` of two trees made of `(name, content in a, content in b)`.
fn diff_of(files: &[(&str, &str, &str)]) -> (tempfile::TempDir, Report) {
    let tmp = tempfile::tempdir().unwrap();
    for side in ["a", "b"] {
        std::fs::create_dir(tmp.path().join(side)).unwrap();
    }
    for (name, a, b) in files {
        std::fs::write(tmp.path().join("a").join(name), a).unwrap();
        std::fs::write(tmp.path().join("b").join(name), b).unwrap();
    }
    let c = compare(&tmp.path().join("a"), &tmp.path().join("b"));
    let inputs = Inputs {
        a: Text::new("a"),
        b: Text::new("b"),
    };
    (
        tmp,
        Report::new(CommandKind::Diff, inputs, c, Extras::default()),
    )
}

/// Every fixture pair as `twice diff` reports it, the audit-like reports,
/// and the odd names: all pass Microsoft's SARIF validator without errors.
#[test]
fn sarif_passes_microsofts_validator() {
    let Some(multitool) = tool("sarif-validator.sh", "Microsoft's SARIF validator") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let pairs: Vec<Report> = fixture_pairs()
        .iter()
        .map(|(a, b)| {
            let inputs = Inputs {
                a: Text::new(a.as_os_str().as_encoded_bytes()),
                b: Text::new(b.as_os_str().as_encoded_bytes()),
            };
            Report::new(CommandKind::Diff, inputs, compare(a, b), Extras::default())
        })
        .collect();
    // Every pair's report in one log, one invocation each: the validator
    // takes its time per result, not per file.
    let mut files = vec![("fixture-pairs".to_owned(), pairs)];
    files.push(("demo-audit".to_owned(), vec![demo()]));
    files.push(("three-targets".to_owned(), three_targets()));
    let (_odd_dir, odd) = odd_names();
    files.push(("odd-names".to_owned(), vec![odd]));
    for (name, reports) in &files {
        let file = tmp.path().join(format!("{name}.sarif"));
        std::fs::write(&file, render(render_sarif, reports)).unwrap();
    }
    // One run for all files: the tool takes seconds to start. The npm
    // wrapper runs it through a shell: quote the rule-kind list (the
    // `Gh` rules are GitHub's ingestion requirements).
    let out = Command::new(&multitool)
        .current_dir(tmp.path())
        .args(["validate", "--rule-kind", "\"Sarif;Gh\"", "*.sarif"])
        .args(["-o", "validation.json", "--log", "ForceOverwrite"])
        .output()
        .expect("run sarif-multitool");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = format!(
        "{}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let errors: Vec<&str> = stdout.lines().filter(|l| l.contains(": error ")).collect();
    assert!(errors.is_empty(), "the validator found errors:\n{report}");
    assert!(
        stdout.contains(&format!("Done. {} files scanned.", files.len()))
            && stdout.contains("Analysis completed successfully"),
        "the validator did not check every file:\n{report}"
    );
}

/// The odd-names report with an unreadable input besides: an `<error>`.
fn odd_and_unreadable() -> (tempfile::TempDir, Report) {
    let (tmp, mut odd) = odd_names();
    odd.unreadable.push(twice::diff::Unreadable {
        side: twice::finding::Side::B,
        path: Text::new("out/secret.bin"),
        reason: "permission denied (os error 13)".to_owned(),
    });
    odd.envelope.verdict = Verdict::Incomplete;
    (tmp, odd)
}

const JUNIT_READER: &str = r#"
import json, sys
from junitparser import JUnitXml
suites = []
for suite in JUnitXml.fromfile(sys.argv[1]):
    cases = []
    for case in suite:
        results = [{"kind": type(r).__name__, "message": r.message, "type": r.type, "text": r.text}
                   for r in case.result]
        cases.append({"classname": case.classname, "name": case.name, "results": results,
                      "out": case.system_out})
    suites.append({"name": suite.name, "tests": suite.tests, "failures": suite.failures,
                   "errors": suite.errors, "time": suite.time, "cases": cases})
print(json.dumps(suites))
"#;

/// PyPI's junitparser reads the JUnit back: one suite per target, one case
/// per differing output, failures with their message, baselined outputs
/// passing with a note, fixed entries noted, an unreadable input an error.
#[test]
fn junit_reads_back_with_junitparser() {
    let Some(python) = tool("junitparser.sh", "PyPI's junitparser") else {
        return;
    };
    let (_odd_dir, odd) = odd_and_unreadable();
    let mut reports = three_targets();
    reports.push(odd);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("twice.xml");
    std::fs::write(&file, render(render_junit, &reports)).unwrap();
    let out = Command::new(python)
        .args(["-c", JUNIT_READER])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let suites: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = suites
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["demo", "wheel", "clean", "a vs b"]);
    let counts = |s: &Value| {
        (
            s["tests"].as_u64().unwrap(),
            s["failures"].as_u64().unwrap(),
            s["errors"].as_u64().unwrap(),
        )
    };
    // Each suite's counts agree with its cases.
    for s in suites.as_array().unwrap() {
        let cases = s["cases"].as_array().unwrap();
        let kind = |k: &str| {
            cases
                .iter()
                .filter(|c| {
                    c["results"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|r| r["kind"] == k)
                })
                .count() as u64
        };
        assert_eq!(
            counts(s),
            (cases.len() as u64, kind("Failure"), kind("Error")),
            "{}",
            s["name"]
        );
    }
    let [demo, wheel, clean, odd] = suites.as_array().unwrap().as_slice() else {
        panic!("four suites");
    };
    assert_eq!(counts(demo), (6, 4, 0));
    assert_eq!(demo["time"].as_f64(), Some(2.938));
    let case = |suite: &Value, name: &str| -> Value {
        suite["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no case {name} in {}", suite["name"]))
            .clone()
    };
    let hello = case(demo, "hello.o");
    assert_eq!(hello["classname"], "demo");
    let failure = &hello["results"][0];
    assert_eq!(failure["kind"], "Failure");
    assert_eq!(failure["type"], "build_path,timestamp");
    assert!(
        failure["message"].as_str().unwrap().starts_with(
            "hello.o differs between the builds: section .rodata at 0xa0: timestamp (__DATE__)"
        ),
        "{failure}"
    );
    assert!(
        failure["text"]
            .as_str()
            .unwrap()
            .contains("[new] hello.o, section .debug_info")
    );
    let sources = case(demo, "sources.txt");
    assert!(sources["results"].as_array().unwrap().is_empty());
    assert!(
        sources["out"]
            .as_str()
            .unwrap()
            .starts_with("accepted in the baseline twice.baseline: 1 known finding")
    );
    let fixed = case(demo, "dist/demo-1.0.tar.gz");
    assert!(
        fixed["out"]
            .as_str()
            .unwrap()
            .starts_with("fixed: dist/demo-1.0.tar.gz!demo-1.0/PKG-INFO")
    );
    // All of the wheel's findings are accepted: it passes.
    assert_eq!(counts(wheel).1, 0);
    assert_eq!(counts(wheel).0, 1);
    assert_eq!(counts(clean), (1, 0, 0));
    assert_eq!(
        case(clean, "identical outputs")["out"],
        "5 outputs are identical in both builds"
    );
    // Markup and controls in names come back as written (controls escaped).
    assert_eq!(counts(odd), (2, 1, 1));
    let weird = case(odd, "we|ird `n`, x:y%25 <&>\\nline.txt");
    assert_eq!(weird["classname"], "diff");
    assert!(
        weird["results"][0]["message"]
            .as_str()
            .unwrap()
            .contains("<&>")
    );
    let unreadable = case(odd, "out/secret.bin");
    assert_eq!(unreadable["results"][0]["kind"], "Error");
    assert_eq!(
        unreadable["results"][0]["message"],
        "could not read on side B: permission denied (os error 13)"
    );
}

/// A tree of `n` text files whose build time differs, compared.
fn many_findings(n: usize) -> (tempfile::TempDir, Report) {
    let files: Vec<(String, &str, &str)> = (0..n)
        .map(|i| {
            (
                format!("out-{i:03}.txt"),
                "built: 2026-11-25T13:45:12Z\n",
                "built: 2026-11-26T13:45:12Z\n",
            )
        })
        .collect();
    let files: Vec<(&str, &str, &str)> =
        files.iter().map(|(n, a, b)| (n.as_str(), *a, *b)).collect();
    diff_of(&files)
}

/// 15 new, 15 known and 15 fixed: 10 errors, 10 warnings, 9 notices and a
/// last notice that counts the rest.
#[test]
fn annotations_stay_within_github_limits() {
    let (_tmp, mut report) = many_findings(30);
    assert_eq!(report.findings.len(), 30);
    for (i, f) in report.findings.iter_mut().enumerate() {
        f.baseline = Some(if i % 2 == 0 {
            BaselineState::New
        } else {
            BaselineState::Known
        });
    }
    report.baseline = Some(BaselineInfo {
        path: Text::new("twice.baseline"),
        new: 15,
        known: 15,
        fixed: (0..15)
            .map(|i| BaselineEntry {
                artifact: format!("gone-{i:02}.txt"),
                ..fixed_entry("-")
            })
            .collect(),
    });
    let out = render(render_annotations, &[report]);
    let lines: Vec<&str> = out.lines().collect();
    let count = |kind: &str| lines.iter().filter(|l| l.starts_with(kind)).count();
    assert_eq!(count("::error "), 10, "{out}");
    assert_eq!(count("::warning "), 10, "{out}");
    assert_eq!(count("::notice "), 10, "{out}");
    assert_eq!(lines.len(), 30, "{out}");
    let last = lines.last().unwrap();
    assert!(
        last.starts_with("::notice title=twice%3A more findings::16 more not annotated")
            && last.contains("5 new, 5 known, 6 fixed."),
        "{last}"
    );
    // New findings first, each once.
    assert!(lines[..10].iter().all(|l| l.starts_with("::error ")));
    let mut files: Vec<&str> = lines[..10]
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    files.dedup();
    assert_eq!(files.len(), 10);

    // Without a baseline every finding is an error, titled without a state.
    let (_tmp, report) = many_findings(3);
    let out = render(render_annotations, &[report]);
    assert_eq!(out.lines().filter(|l| l.starts_with("::error ")).count(), 3);
    assert!(!out.contains("(new)"), "{out}");
}

/// 6,000 results: the 5,000 most important are kept (new before known),
/// and the run says how many were dropped.
#[test]
fn sarif_keeps_the_most_important_results_within_github_limits() {
    let (_tmp, mut report) = many_findings(1);
    let template = report.findings[0].clone();
    report.findings = (0..6000u32)
        .map(|i| {
            let mut f = template.clone();
            f.artifact = twice::finding::Artifact::new(format!("out/{i:05}.txt"));
            let mut fp = [0u8; 16];
            fp[..4].copy_from_slice(&i.to_be_bytes());
            f.fingerprint = Fingerprint(fp);
            f.baseline = Some(if i < 3000 {
                BaselineState::Known
            } else {
                BaselineState::New
            });
            f
        })
        .collect();
    report.baseline = Some(BaselineInfo {
        path: Text::new("twice.baseline"),
        new: 3000,
        known: 3000,
        fixed: Vec::new(),
    });
    let sarif = sarif_value(&[report]);
    let run = &sarif["runs"][0];
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), twice::report::SARIF_MAX_RESULTS);
    assert_eq!(run["properties"]["resultsTotal"], 6000);
    assert_eq!(run["properties"]["resultsDropped"], 1000);
    let state = |s: &str| results.iter().filter(|r| r["baselineState"] == s).count();
    assert_eq!((state("new"), state("unchanged")), (3000, 2000));
    assert!(results.iter().all(|r| {
        !r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .is_empty()
    }));
}

/// The `|` of a Markdown table row that are not escaped.
fn table_pipes(row: &str) -> usize {
    let b = row.as_bytes();
    (0..b.len())
        .filter(|&i| b[i] == b'|' && (i == 0 || b[i - 1] != b'\\'))
        .count()
}

/// Every table row has as many cells as its header.
fn check_tables(md: &str) {
    let mut width = None;
    for line in md.lines() {
        if !line.starts_with('|') {
            width = None;
            continue;
        }
        let n = table_pipes(line);
        assert_eq!(
            *width.get_or_insert(n),
            n,
            "a row with more or fewer cells: {line}"
        );
    }
}

/// Names with `|`, backticks, `<`, `&` and newlines stay inside their cell
/// and their line, in Markdown, annotations and SARIF alike.
#[test]
fn odd_names_are_escaped_in_every_format() {
    let (_tmp, odd) = odd_and_unreadable();
    let reports = [odd];
    let md = render(render_markdown, &reports);
    check_tables(&md);
    assert!(
        md.contains("``we\\|ird `n`, x:y%25 <&>\\nline.txt``"),
        "{md}"
    );
    for reports in [vec![demo()], three_targets()] {
        check_tables(&render(render_markdown, &reports));
    }

    let annotations = render(render_annotations, &reports);
    for line in annotations.lines() {
        assert!(
            line.starts_with("::"),
            "a line that is not a command: {line}"
        );
    }
    assert!(
        annotations.contains("file=we|ird `n`%2C x%3Ay%2525 <&>\\nline.txt,line=1,"),
        "{annotations}"
    );
    assert!(
        annotations
            .starts_with("::error file=out/secret.bin,title=twice%3A could not read an input::")
    );

    let sarif = sarif_value(&reports);
    let uri = &sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
        ["uri"];
    assert_eq!(
        uri,
        "we%7Cird%20%60n%60%2C%20x%3Ay%2525%20%3C%26%3E%0Aline.txt"
    );
    assert_eq!(
        sarif["runs"][0]["invocations"][0]["executionSuccessful"],
        false
    );
}

/// Hundreds of targets: the summary stops under its cap with a note, the
/// table of targets first.
#[test]
fn markdown_stays_under_its_cap() {
    let demo = demo();
    let reports: Vec<Report> = (0..300)
        .map(|i| {
            let mut r = demo.clone();
            r.audit.as_mut().unwrap().target = Some(format!("target-{i:03}"));
            r
        })
        .collect();
    let md = render(render_markdown, &reports);
    assert!(
        md.len() <= twice::report::MARKDOWN_MAX_BYTES,
        "{}",
        md.len()
    );
    assert!(md.starts_with("## ❌ twice: 300 of 300 targets fail the gate"));
    assert!(md.contains("| target-299 | ❌ differs |"));
    assert!(
        md.trim_end()
            .ends_with("twice's JSON and SARIF reports have everything.*"),
        "{}",
        &md[md.len() - 300..]
    );
    check_tables(&md);
}
