//! Command-line definitions (clap derive only; dispatch lives in `lib.rs`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Find build non-determinism and say where it comes from.
#[derive(Debug, Parser)]
#[command(name = "twice", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compare two files or two directory trees that should be identical
    /// (two builds' outputs, two CI artifacts, two release tarballs).
    ///
    /// Exit status: 0 identical, 1 differences found, 2 usage or input error.
    Diff(DiffArgs),
    /// Explain remote-cache misses from two builds' logs: Bazel execution
    /// logs (--execution_log_json_file or --execution_log_compact_file) or
    /// Buck2 `log what-ran --format json` output. Pairs the actions, names
    /// the non-deterministic and non-hermetic ones, and ranks them by how
    /// many downstream actions they tainted.
    ///
    /// Exit status: 0 every action identical, 1 differences found (a
    /// differing action, or one that ran in one build only), 2 usage or
    /// input error (a truncated or corrupt log names the byte offset).
    Execlog(ExeclogArgs),
}

#[derive(Debug, Args)]
pub struct ExeclogArgs {
    /// The log of the first build (side A).
    pub a: PathBuf,
    /// The log of the second build (side B).
    pub b: PathBuf,
    /// The two builds' output trees (execution roots, or directories holding
    /// the outputs at their exec paths): differing outputs of the root
    /// actions found in both are compared structurally.
    #[arg(long, num_args = 2, value_names = ["DIR_A", "DIR_B"])]
    pub fetch_outputs: Option<Vec<PathBuf>>,
    /// How many of the worst roots get their taint chain shown.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub top: usize,
    /// Threads for reading, classifying and comparing (default: one per core).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The first file or directory (side A).
    pub a: PathBuf,
    /// The second file or directory (side B).
    pub b: PathBuf,
    /// The build directory that produced A; occurrences of it in A and of
    /// --root-b in B are reported as build paths with certainty.
    #[arg(long, value_name = "DIR", requires = "root_b")]
    pub root_a: Option<PathBuf>,
    /// The build directory that produced B.
    #[arg(long, value_name = "DIR", requires = "root_a")]
    pub root_b: Option<PathBuf>,
    /// Also compare file-system metadata: mode bits other than the
    /// executable bit, mtimes, owners. Off by default because
    /// content-addressed caches key on content and the executable bit only.
    #[arg(long)]
    pub metadata: bool,
    /// Threads for hashing and comparing (default: one per core).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Colour in the text report: auto (a terminal, and NO_COLOR unset),
    /// always, never.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}
