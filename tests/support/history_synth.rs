//! A generated history: audit reports in the JSON shape `twice audit`
//! writes (schema version 2, with `context`), for benchmarks and for
//! looking at a report over many targets. Deterministic for a seed.
//!
//! Each target has a pool of findings (artifact, cause, variation). It
//! breaks at some commit, a few commits later it is fixed; some of its
//! findings come and go at one commit (flaky); some targets never get
//! fixed; a few builds fail.

use serde_json::{Value, json};
use twice::store::time::format_time;

/// A small xorshift generator: the same seed, the same history.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const CAUSES: [(&str, &str, &str, &str); 10] = [
    (
        "timestamp",
        r#"{"kind":"timestamp","encoding":"iso8601"}"#,
        "time",
        "an embedded clock reading: honour SOURCE_DATE_EPOCH",
    ),
    (
        "build_path",
        r#"{"kind":"build_path","exact":true}"#,
        "build_path",
        "the build directory leaks into the output: -ffile-prefix-map=$PWD=.",
    ),
    (
        "ordering",
        r#"{"kind":"ordering","records":3}"#,
        "file_order",
        "records follow directory order: sort the inputs",
    ),
    (
        "environment",
        r#"{"kind":"environment","what":"hostname"}"#,
        "hostname",
        "the host name is captured: leave it out of artifacts",
    ),
    (
        "compressor",
        r#"{"kind":"compressor","format":"zip"}"#,
        "",
        "another compressor or level: pin the compressor",
    ),
    (
        "permissions",
        r#"{"kind":"permissions"}"#,
        "umask",
        "permission bits follow the umask: normalise modes in archives",
    ),
    (
        "hash_order",
        r#"{"kind":"hash_order","records":2}"#,
        "env",
        "set iteration follows the hash seed: set PYTHONHASHSEED=0",
    ),
    (
        "toolchain",
        r#"{"kind":"toolchain","part":"version","differences":1}"#,
        "",
        "the toolchain differs: pin it as an input",
    ),
    (
        "unknown",
        r#"{"kind":"unknown","differences":4}"#,
        "",
        "no known pattern explains it: twice audit --bisect",
    ),
    (
        "consequence",
        r#"{"kind":"consequence","of":"build-id"}"#,
        "",
        "follows from another difference",
    ),
];

const ARTIFACTS: [&str; 12] = [
    "out/app",
    "out/libcore.a",
    "out/libnet.so",
    "out/dist/pkg-1.0-py3-none-any.whl",
    "out/dist/pkg-1.0-py3-none-any.whl!pkg/_speedups.so",
    "out/pyc/pkg/__init__.pyc",
    "out/docs.tar.gz",
    "out/gen/version.h",
    "out/bin/tool",
    "out/share/manifest.json",
    "out/lib/plugin.so",
    "out/assets.zip",
];

/// One target's state as the history goes on.
struct Target {
    name: String,
    commit: u64,
    broken: bool,
    /// Indices into the (artifact, cause) grid this target shows when broken.
    pool: Vec<(usize, usize)>,
    flaky: (usize, usize),
    never_fixed: bool,
}

/// `runs` audit reports over `days` days ending at `end`, spread over
/// `targets` targets; about `per_run` findings in a non-reproducible run.
pub fn reports(
    runs: usize,
    targets: usize,
    days: i64,
    end: i64,
    per_run: usize,
    seed: u64,
) -> impl Iterator<Item = Value> {
    let mut rng = Rng::new(seed);
    let mut state: Vec<Target> = (0..targets)
        .map(|i| {
            let n = per_run.max(1);
            let pool = (0..n)
                .map(|k| ((i + k) % ARTIFACTS.len(), (i * 7 + k * 3) % CAUSES.len()))
                .collect();
            Target {
                name: format!(
                    "//pkg/{}:{}",
                    ["core", "net", "ui", "tools", "py"][i % 5],
                    i
                ),
                commit: rng.next(),
                broken: i % 3 == 0,
                pool,
                flaky: ((i * 5) % ARTIFACTS.len(), (i + 1) % CAUSES.len()),
                never_fixed: i % 11 == 0,
            }
        })
        .collect();
    let start = end - days * 86_400;
    let step = ((end - start) as f64 / runs.max(1) as f64).max(1.0);
    (0..runs).map(move |i| {
        let t = (rng.below(targets as u64)) as usize;
        let at = start + (i as f64 * step) as i64;
        let target = &mut state[t];
        // A new commit every few audits; it may break or fix the target.
        if rng.chance(20) {
            target.commit = rng.next();
            if target.broken && !target.never_fixed && rng.chance(25) {
                target.broken = false;
            } else if !target.broken && rng.chance(8) {
                target.broken = true;
            }
        }
        let failed = rng.chance(2);
        let mut findings = Vec::new();
        if !failed {
            if target.broken {
                let shown =
                    target.pool.len() - rng.below(1 + target.pool.len() as u64 / 4) as usize;
                for &(a, c) in target.pool.iter().take(shown) {
                    findings.push(finding(&target.name, a, c));
                }
            }
            if rng.chance(30) {
                findings.push(finding(&target.name, target.flaky.0, target.flaky.1));
            }
        }
        report(
            target,
            at,
            &findings,
            failed,
            rng.below(900) as f64 / 10.0 + 5.0,
        )
    })
}

fn finding(target: &str, artifact: usize, cause: usize) -> Value {
    let (_, detail, variation, hint) = CAUSES[cause];
    let fp = blake3::hash(format!("{target}\0{artifact}\0{cause}").as_bytes());
    let mut f = json!({
        "artifact": ARTIFACTS[artifact],
        "location": {"kind": "file"},
        "cause": serde_json::from_str::<Value>(detail).expect("valid cause"),
        "a": {"excerpt": {"kind": "absent"}},
        "b": {"excerpt": {"kind": "absent"}},
        "hint": hint,
        "fingerprint": &fp.to_hex()[..32],
    });
    if !variation.is_empty() {
        f["variation"] = json!({"variations": [variation], "by": "canary"});
    }
    f
}

fn report(target: &Target, at: i64, findings: &[Value], failed: bool, seconds: f64) -> Value {
    let mut paths: Vec<&str> = findings
        .iter()
        .filter_map(|f| f["artifact"].as_str())
        .map(|a| a.split('!').next().unwrap_or(a))
        .collect();
    paths.sort_unstable();
    paths.dedup();
    let artifacts: Vec<Value> = paths
        .iter()
        .map(|p| {
            let size = 40_000 + (p.len() as u64 * 7919) % 900_000;
            json!({
                "artifact": p, "format": "binary", "findings": 1, "omitted": 0,
                "a": {"kind": "file", "size": size, "digest": "aa", "mode": "0644"},
                "b": {"kind": "file", "size": size, "digest": "bb", "mode": "0644"},
            })
        })
        .collect();
    let verdict = match (failed, findings.is_empty()) {
        (true, _) => "incomplete",
        (false, true) => "identical",
        (false, false) => "differs",
    };
    json!({
        "schema_version": 2,
        "tool": {"name": "twice", "version": "0.1.0"},
        "command": "audit",
        "inputs": {"a": {"text": "A"}, "b": {"text": "B"}},
        "verdict": verdict,
        "summary": {"findings": findings.len()},
        "artifacts": artifacts,
        "findings": findings,
        "unreadable": [],
        "audit": {
            "source": {"text": format!("/src/{}", target.name)},
            "command": [{"text": "make"}, {"text": "-j2"}],
            "sandbox": "bubblewrap",
            "variations": [
                {"name": "build_path", "status": "varied"},
                {"name": "time", "status": "varied"},
                {"name": "hostname", "status": "varied"},
                {"name": "file_order", "status": "skipped", "reasons": [{"kind": "no_fuse", "error": "x"}]},
            ],
            "runs": [{"label": "A", "seconds": seconds / 2.0}, {"label": "B", "seconds": seconds / 2.0}],
            "warnings": [],
            "timings": {"staging": 0.1, "builds": seconds, "hashing": 0.1, "comparing": 0.1, "bisect": 0.0},
        },
        "context": {
            "started_at": format_time(at),
            "seconds": seconds,
            "target": target.name,
            "git": {"commit": &blake3::hash(&target.commit.to_le_bytes()).to_hex()[..40], "branch": "main", "dirty": false},
            "host": "ci-runner",
        },
    })
}
