//! `twice execlog A B`: explain remote-cache misses from two builds' logs
//! (Bazel JSON, binary and compact execution logs of Bazel 4 to 8, Buck2
//! what-ran JSON). Pairs the actions, finds the non-deterministic and
//! non-hermetic roots, and ranks them by how many downstream actions they
//! tainted; `--explain-misses` says why each executed action of a build
//! missed the cache.
//!
//! Two passes over each log keep memory at a few dozen bytes per action:
//! the first (`summary`) keeps hashes, the second (`detail`) reads again
//! only the actions that differ.

mod analyze;
mod assemble;
mod bazel_binary;
mod bazel_compact;
mod bazel_json;
mod buck2;
mod detail;
mod error;
mod hash;
mod json_stream;
mod judge;
mod misses;
mod model;
mod pair;
mod pb;
/// The synthetic logs writer (test support) and the messages it writes.
#[cfg(test)]
mod proto;
mod render;
mod report;
mod sha256;
mod source;
mod spawns;
mod summary;
#[cfg(test)]
#[path = "../../tests/support/execlog_synth.rs"]
#[allow(dead_code, reason = "the unit tests write only some of the formats")]
mod synth;
mod view;
mod wire;

pub use analyze::{ExeclogOptions, analyze, explain_misses, parse_size, read_bytes};
pub use error::{ExeclogError, ExeclogErrorKind, FileKind, LogFormat, Stream, WireProblem};
pub use render::render_text;
pub use report::{
    ActionDelta, ActionRef, Class, ExeclogReport, ExeclogSummary, Failure, Limitation, LogInput,
    LogInputs, Miss, MissReport, MissRoot, MissWhy, NameCount, OutputComparison, OutputDelta,
    Reason, ReasonCount, Root, RunInfo, Upstream,
};
pub use spawns::{Spawn, SpawnInput, read_spawns};
