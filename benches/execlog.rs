//! `twice execlog` on two large generated logs (the synthetic build of
//! `tests/support/execlog_synth.rs` plus `TWICE_BENCH_SPAWNS` identical
//! spawns, default 1,000,000), in the Bazel JSON and compact formats and
//! as Buck2 what-ran records: both passes over both logs, pair, classify,
//! rank. `TWICE_BENCH_DIR` keeps the generated logs there (reused when
//! present). Peak memory is measured on the binary (`/usr/bin/time -v`),
//! not here: the generator shares this process. Results go in
//! docs/PERFORMANCE.md.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::OnceLock;

use divan::Bencher;
use synth::{Build, spawns, write_bazel_compact, write_bazel_json, write_buck2};
use twice::execlog::{ExeclogOptions, analyze};

/// The synthetic execution logs (test support) and the protobuf messages
/// they are written with.
#[path = "../src/execlog/proto.rs"]
#[allow(dead_code, reason = "only some of the log messages are written here")]
mod proto;
#[path = "../tests/support/execlog_synth.rs"]
#[allow(dead_code, reason = "each user writes only some of the formats")]
mod synth;

fn main() {
    divan::main();
}

struct Logs {
    _tmp: Option<tempfile::TempDir>,
    dir: PathBuf,
}

fn logs() -> &'static Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let filler: usize = std::env::var("TWICE_BENCH_SPAWNS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000);
        let (tmp, dir) = match std::env::var_os("TWICE_BENCH_DIR") {
            Some(d) => (None, PathBuf::from(d)),
            None => {
                let t = tempfile::tempdir().unwrap();
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        std::fs::create_dir_all(&dir).unwrap();
        for (build, side) in [(Build::A, "a"), (Build::B, "b")] {
            let json = dir.join(format!("{side}.exec.json"));
            if !json.exists() {
                let mut w = BufWriter::new(File::create(&json).unwrap());
                write_bazel_json(spawns(build, filler), &mut w).unwrap();
                w.flush().unwrap();
            }
            let zst = dir.join(format!("{side}.exec.zst"));
            if !zst.exists() {
                let mut w = BufWriter::new(File::create(&zst).unwrap());
                write_bazel_compact(spawns(build, filler), &mut w).unwrap();
                w.flush().unwrap();
            }
            let buck2 = dir.join(format!("{side}.what-ran.jsonl"));
            if !buck2.exists() {
                let mut w = BufWriter::new(File::create(&buck2).unwrap());
                write_buck2(spawns(build, filler), &mut w).unwrap();
                w.flush().unwrap();
            }
        }
        Logs { _tmp: tmp, dir }
    })
}

/// Read both logs (twice each), pair, classify, rank: the whole `twice
/// execlog` except rendering.
#[divan::bench(args = ["exec.json", "exec.zst", "what-ran.jsonl"], sample_count = 3, sample_size = 1)]
fn execlog_two_logs(bencher: Bencher, ext: &str) {
    let l = logs();
    let (a, b) = (
        l.dir.join(format!("a.{ext}")),
        l.dir.join(format!("b.{ext}")),
    );
    let opts = ExeclogOptions {
        top: 5,
        ..ExeclogOptions::default()
    };
    bencher.bench(|| {
        let report = analyze(&a, &b, &opts).unwrap();
        // Buck2 logs name the differing keys downstream as roots too.
        assert!(report.roots.len() >= 3);
        report
    });
}
