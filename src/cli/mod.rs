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
    /// Build twice in sandboxes under deliberate variations (build path,
    /// clock, time zone, locale, umask, environment, host name, file order…),
    /// compare the outputs and attribute every difference to a variation.
    ///
    /// Example: twice audit -C fixtures/demo -- make
    ///
    /// Exit status: 0 reproducible, 1 differences found, 2 usage or input
    /// error, 3 a build failed (its log is kept and its tail printed), 130
    /// interrupted.
    Audit(AuditArgs),
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
    /// The history of recorded audits: import JSON reports written
    /// elsewhere (CI runners), list and show runs, forget old ones.
    ///
    /// The history is an SQLite file, .twice/history.db at the repository
    /// root unless --history says otherwise. `twice audit --record` adds to
    /// it.
    ///
    /// Exit status: 0 done, 2 usage or input error (a file that could not
    /// be imported is named; the others are still imported).
    History(HistoryArgs),
    /// The determinism report of a period from the history: reproducibility
    /// per target and its trend, new, fixed and flaky findings, the causes
    /// that dominate, where each target broke (last good and first bad
    /// commit), the slowest and most failing audits, and the bytes a remote
    /// cache stored again because of non-determinism.
    ///
    /// Example: twice report --since 7d --format html -o week.html
    ///
    /// Exit status: 0 written, 2 usage or input error.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The source tree to build (copied into each sandbox; never written).
    #[arg(short = 'C', long, value_name = "DIR", default_value = ".")]
    pub source: PathBuf,
    /// How many builds to compare (run A against each of the others).
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub runs: usize,
    /// Variations to apply: `default`, `all`, `none`, names (`time,umask`),
    /// or edits of the default set (`+aslr,-time`). See --list-variations.
    #[arg(long, value_name = "LIST", default_value = "default")]
    pub vary: String,
    /// List the variations, what each changes and what it needs, and exit.
    #[arg(long)]
    pub list_variations: bool,
    /// Compare only outputs matching GLOB (repeatable; relative to the
    /// source tree; `*` stays within a path segment, `**` crosses them; a
    /// pattern without `/` matches file names at any depth). Default: every
    /// file the build created or changed.
    #[arg(long = "output", value_name = "GLOB")]
    pub outputs: Vec<String>,
    /// Rerun with subsets of the variations until each difference no canary
    /// explains is pinned to the variation (or pair) that triggers it.
    #[arg(long)]
    pub bisect: bool,
    /// Most extra builds --bisect may spend.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub bisect_budget: usize,
    /// Run the builds at the same time.
    #[arg(long)]
    pub parallel: bool,
    /// Threads for hashing and comparing (default: one per core).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Keep the sandbox directories (their path is printed).
    #[arg(long)]
    pub keep: bool,
    /// Kill a build that runs longer than SECONDS.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Let the builds reach the network (off by default under bubblewrap).
    #[arg(long)]
    pub network: bool,
    /// Show the host directory DIR to the builds, read-only, although it
    /// lies where the sandbox hides the host (`/tmp`, `/home`, `/root`,
    /// `/run`, …). Repeatable.
    #[arg(long, value_name = "DIR")]
    pub expose: Vec<PathBuf>,
    /// Fail instead of skipping a variation whose tool is missing.
    #[arg(long)]
    pub strict: bool,
    /// No progress display and no warnings on standard error.
    #[arg(short, long)]
    pub quiet: bool,
    /// Report format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
    /// Write the report to FILE instead of standard output (`--output` is
    /// the output selector here).
    #[arg(short = 'o', long = "report", value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Colour in the text report: auto, always, never.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
    /// Record the audit in the history (see `twice history`, `twice
    /// report`), a failed build included.
    #[arg(long)]
    pub record: bool,
    /// The history file (default: .twice/history.db at the root of the
    /// repository around the current directory).
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// The name the audit is recorded under (default: the source
    /// directory relative to the repository root).
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// The build command and its arguments (after `--`).
    #[arg(last = true, value_name = "BUILD COMMAND")]
    pub command: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The history file (default: .twice/history.db at the root of the
    /// repository around the current directory).
    #[arg(long, value_name = "FILE", global = true)]
    pub history: Option<PathBuf>,
    #[command(subcommand)]
    pub command: HistoryCommand,
}

#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Add JSON audit reports (`twice audit --format json -o FILE`) to the
    /// history. Importing a report again adds nothing.
    Import {
        /// The reports.
        #[arg(required = true, value_name = "REPORT.json")]
        reports: Vec<PathBuf>,
    },
    /// The recorded runs, newest first.
    List(HistoryListArgs),
    /// One run: its facts and its stored report.
    Show {
        /// The run's id (first column of `twice history list`).
        #[arg(value_name = "RUN")]
        run: i64,
        /// `json` prints the report as it was recorded or imported.
        #[arg(long, value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
    },
    /// Forget runs older than AGE (`90d`, `12w`) or a date (`2026-01-01`),
    /// and the findings seen only in them.
    Gc {
        #[arg(long, value_name = "AGE")]
        keep: String,
    },
}

#[derive(Debug, Args)]
pub struct HistoryListArgs {
    /// Only runs of target T (repeatable).
    #[arg(long = "target", value_name = "T")]
    pub targets: Vec<String>,
    /// Only runs since D: a span back from now (`7d`, `12h`, `2w`) or a date
    /// (`2026-01-05`, `2026-01-05T10:00Z`; UTC).
    #[arg(long, value_name = "D")]
    pub since: Option<String>,
    /// At most N runs.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub limit: u64,
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The history file (default: .twice/history.db at the root of the
    /// repository around the current directory).
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// The start of the period: a span back from --until (`7d`, `2w`) or a
    /// date (`2026-01-05`; UTC). The previous period of the same length is
    /// the comparison.
    #[arg(long, value_name = "D", default_value = "7d")]
    pub since: String,
    /// The end of the period (default: now; the environment variable
    /// TWICE_NOW, meant for tests, fixes "now").
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Only target T (repeatable).
    #[arg(long = "target", value_name = "T")]
    pub targets: Vec<String>,
    /// Report format: a self-contained HTML page with charts, Markdown for
    /// chat or a wiki, or JSON with every number of the other two.
    #[arg(long, value_enum, default_value_t = ReportFormatArg::Markdown)]
    pub format: ReportFormatArg,
    /// Write the report to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReportFormatArg {
    Html,
    Markdown,
    Json,
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
