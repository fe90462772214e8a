//! Write the synthetic execution-log fixtures of `twice execlog` into
//! `fixtures/execlog/` (or the directory given): for builds A and B, the
//! Bazel JSON log, the Bazel compact log and the Buck2 what-ran log.
//! `tests/it/execlog.rs` checks the committed files match this output.
//!
//! With FILLER, each log also holds FILLER identical spawns (for measuring
//! large logs; such logs are not fixtures).
//!
//! cargo run --example make_execlog_fixtures [DIR [FILLER]]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use synth::{Build, spawns, write_bazel_compact, write_bazel_json, write_buck2};

/// The synthetic execution logs (test support) and the protobuf messages
/// they are written with.
#[path = "../src/execlog/proto.rs"]
#[allow(dead_code, reason = "only some of the log messages are written here")]
mod proto;
#[path = "../tests/support/execlog_synth.rs"]
#[allow(dead_code, reason = "each user writes only some of the formats")]
mod synth;

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("fixtures/execlog"), PathBuf::from);
    let filler: usize = std::env::args()
        .nth(2)
        .map_or(0, |n| n.parse().expect("FILLER is a number"));
    std::fs::create_dir_all(&dir)?;
    for (build, side) in [(Build::A, "a"), (Build::B, "b")] {
        let open = |name: String| File::create(dir.join(name)).map(BufWriter::new);
        let mut w = open(format!("{side}.exec.json"))?;
        write_bazel_json(spawns(build, filler), &mut w)?;
        w.flush()?;
        let mut w = open(format!("{side}.exec.zst"))?;
        write_bazel_compact(spawns(build, filler), &mut w)?;
        w.flush()?;
        let mut w = open(format!("{side}.what-ran.jsonl"))?;
        write_buck2(spawns(build, filler), &mut w)?;
        w.flush()?;
    }
    Ok(())
}
