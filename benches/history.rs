//! The history at scale: `twice report` over a generated history of
//! 100,000 audits (about 2 M findings), and the cost of recording one
//! audit into it.
//!
//! The history is generated once (a few minutes) and kept at
//! `$CARGO_TARGET_DIR/twice-bench-history-v2.db` (or `TWICE_BENCH_HISTORY`).
//! `TWICE_BENCH_GENERATE=FILE:RUNS:TARGETS:DAYS` only writes such a history
//! (for looking at a report) and exits.

use std::path::PathBuf;
use std::sync::OnceLock;

use twice::store::{Mode, Store};
use twice::weekly::{WeeklyOptions, build, render_html, render_markdown};

#[path = "../tests/support/history_synth.rs"]
mod synth;

/// 2026-12-01T00:00:00Z: the end of the generated history.
const END: i64 = 1_796_083_200;
const RUNS: usize = 100_000;
const TARGETS: usize = 40;
const DAYS: i64 = 365;
/// Findings in a broken target's run (a quarter of the runs), besides the
/// flaky one: about 2 M findings over 100,000 runs.
const PER_RUN: usize = 75;

fn generate(path: &PathBuf, runs: usize, targets: usize, days: i64) {
    let _ = std::fs::remove_file(path);
    let mut store = Store::open(path, Mode::Write).expect("create the history");
    let started = std::time::Instant::now();
    for (i, report) in synth::reports(runs, targets, days, END, PER_RUN, 7).enumerate() {
        store.record(report).expect("record");
        if i % 10_000 == 9_999 {
            eprintln!("generated {} runs in {:.0?}", i + 1, started.elapsed());
        }
    }
    // The file alone holds the history: the record bench copies it.
    store.checkpoint().expect("checkpoint");
}

fn history() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = std::env::var_os("TWICE_BENCH_HISTORY")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let dir = std::env::var_os("CARGO_TARGET_DIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("target"));
                dir.join("twice-bench-history-v2.db")
            });
        if !path.exists() {
            eprintln!("generating {RUNS} audits into {}", path.display());
            generate(&path, RUNS, TARGETS, DAYS);
        }
        path
    })
}

fn main() {
    if let Some(spec) = std::env::var_os("TWICE_BENCH_GENERATE") {
        let spec = spec.to_string_lossy().into_owned();
        let parts: Vec<&str> = spec.split(':').collect();
        let [file, runs, targets, days] = parts[..] else {
            panic!("TWICE_BENCH_GENERATE=FILE:RUNS:TARGETS:DAYS");
        };
        generate(
            &PathBuf::from(file),
            runs.parse().expect("RUNS"),
            targets.parse().expect("TARGETS"),
            days.parse().expect("DAYS"),
        );
        return;
    }
    history();
    divan::main();
}

fn report(days: i64, html: bool) -> usize {
    let store = Store::open(history(), Mode::Read).expect("open");
    let model = build(
        &store,
        &WeeklyOptions::new(END - days * 86_400, END, Vec::new()),
    )
    .expect("report");
    let mut out = Vec::new();
    if html {
        render_html(&model, &mut out).expect("render");
    } else {
        render_markdown(&model, &mut out).expect("render");
    }
    out.len()
}

/// The weekly report over the last 7 days of 100,000 audits, as HTML.
#[divan::bench(sample_count = 10)]
fn report_7d_html() -> usize {
    report(7, true)
}

/// The same as Markdown: the difference is the charts and the page.
#[divan::bench(sample_count = 10)]
fn report_7d_markdown() -> usize {
    report(7, false)
}

/// A quarter: 25,000 audits and about half a million findings in the period.
#[divan::bench(sample_count = 3)]
fn report_90d_html() -> usize {
    report(90, true)
}

/// Recording one audit with 75 findings into the 100,000-run history:
/// open, check the schema, insert in one transaction. Each sample a new
/// run (a later date), so nothing is deduplicated away.
#[divan::bench(sample_count = 30)]
fn record_one_audit(bencher: divan::Bencher) {
    static NEXT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let copy = std::env::temp_dir().join("twice-bench-record.db");
    std::fs::copy(history(), &copy).expect("copy the history");
    bencher
        .with_inputs(|| {
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut report = synth::reports(1, 1, 1, END + 86_400 * (n + 1), PER_RUN, 3)
                .next()
                .expect("one report");
            report["context"]["seconds"] = serde_json::json!(n);
            report
        })
        .bench_values(|report| {
            let mut store = Store::open(&copy, Mode::Write).expect("open");
            store.record(report).expect("record")
        });
}

/// The facts a recorded audit adds: `git status` of this repository (one
/// process) and the host name.
#[divan::bench(sample_count = 30)]
fn gather_context() -> twice::store::RunContext {
    twice::store::RunContext::gather(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        None,
        END,
        1.0,
    )
}
