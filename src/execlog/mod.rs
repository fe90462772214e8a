//! `twice execlog A B`: explain remote-cache misses from two builds' logs
//! (Bazel JSON and compact execution logs, Buck2 what-ran JSON). Pairs the
//! actions, finds the non-deterministic and non-hermetic roots, and ranks
//! them by how many downstream actions they tainted.

mod analyze;
mod bazel_compact;
mod bazel_json;
mod buck2;
mod error;
mod json_stream;
mod judge;
mod model;
mod proto;
mod render;
mod report;
mod spawns;
#[cfg(test)]
#[path = "../../tests/support/execlog_synth.rs"]
#[allow(dead_code, reason = "the unit tests write only the compact format")]
mod synth;

pub use analyze::{ExeclogOptions, analyze, read_bytes};
pub use error::{ExeclogError, ExeclogErrorKind, LogFormat, Stream};
pub use render::render_text;
pub use report::{
    ActionDelta, ActionRef, Class, ExeclogReport, ExeclogSummary, Limitation, LogInput, LogInputs,
    OutputComparison, OutputDelta, Reason, ReasonCount, Root, Upstream,
};
pub use spawns::{Spawn, SpawnInput, read_spawns};
