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
    Audit(Box<AuditArgs>),
    /// List the targets of twice.toml.
    Targets(TargetsArgs),
    /// Manage the baseline of accepted findings.
    #[command(subcommand)]
    Baseline(BaselineCommand),
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
    Report(WeeklyArgs),
}

#[derive(Debug, Args)]
pub struct TargetsArgs {
    /// The configuration file (default: twice.toml here or above).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Audit the targets and record every finding as accepted, replacing
    /// their previous entries in the baseline file.
    Update(BaselineUpdateArgs),
}

#[derive(Debug, Args)]
pub struct BaselineUpdateArgs {
    /// Targets of twice.toml to audit.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Every target of twice.toml.
    #[arg(long)]
    pub all: bool,
    /// The configuration file (default: twice.toml here or above).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The baseline file (default: `baseline` in twice.toml, else
    /// twice-baseline.txt beside it).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Threads for hashing and comparing (default: one per core).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    /// No progress display and no warnings on standard error.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Targets of twice.toml to audit (instead of a command after `--`).
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Audit every target of twice.toml.
    #[arg(long)]
    pub all: bool,
    /// The configuration file (default: twice.toml here or above; env
    /// TWICE_CONFIG).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The source tree to build (copied into each sandbox; never written).
    /// Default: the target's `dir`, else the current directory.
    #[arg(short = 'C', long, value_name = "DIR")]
    pub source: Option<PathBuf>,
    /// How many builds to compare (run A against each of the others).
    /// Default 2 (env TWICE_RUNS).
    #[arg(long, value_name = "N")]
    pub runs: Option<usize>,
    /// Variations to apply: `default`, `all`, `none`, names (`time,umask`),
    /// or edits of the default set (`+aslr,-time`). See --list-variations.
    /// Default `default` (env TWICE_VARY).
    #[arg(long, value_name = "LIST")]
    pub vary: Option<String>,
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
    /// Record which process of run A wrote each output (strace), and name
    /// the command and source line behind each problem.
    #[arg(long)]
    pub trace: bool,
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
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The baseline of accepted findings (default: `baseline` in twice.toml,
    /// else twice-baseline.txt beside it when it exists; env
    /// TWICE_BASELINE). Only new findings fail (exit 1).
    #[arg(long, value_name = "FILE", conflicts_with = "no_baseline")]
    pub baseline: Option<PathBuf>,
    /// Ignore any baseline: every finding fails.
    #[arg(long)]
    pub no_baseline: bool,
    #[command(flatten)]
    pub reports: ReportArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Colour in the text report: auto, always, never.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    pub color: ColorArg,
    /// Text report: every finding with all its evidence, nothing collapsed.
    #[arg(short, long)]
    pub verbose: bool,
    /// Run the builds on a Remote Execution (REAPI v2) cluster instead of
    /// here: grpc://HOST:PORT or grpcs://HOST:PORT (TLS). Every run is an
    /// Action of its own, executed at the same time; only outputs that
    /// differ are downloaded. See docs/remote.md.
    #[arg(long, value_name = "URL")]
    pub remote: Option<String>,
    /// Worker-side variations the cluster's workers can apply through
    /// platform properties (time, file_order, hostname, num_cpus, aslr);
    /// the others are skipped for a remote audit.
    #[arg(long, value_name = "LIST", requires = "remote")]
    pub remote_variations: Option<String>,
    #[command(flatten)]
    pub remote_args: RemoteArgs,
    /// Record the audit in the history (see `twice history`, `twice
    /// report`), a failed build included.
    #[arg(long)]
    pub record: bool,
    /// The history file (default: .twice/history.db at the root of the
    /// repository around the current directory).
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// The name the audit is recorded under (default: the twice.toml
    /// target, else the source directory relative to the repository root).
    #[arg(long, value_name = "NAME", requires = "record")]
    pub name: Option<String>,
    /// The build command and its arguments (after `--`).
    #[arg(last = true, value_name = "BUILD COMMAND")]
    pub command: Vec<std::ffi::OsString>,
}

/// How to reach a Remote Execution cluster (with `--remote` or
/// `--reexecute`).
#[derive(Debug, Args)]
pub struct RemoteArgs {
    /// The instance name every remote call carries.
    #[arg(long, value_name = "NAME", default_value = "")]
    pub remote_instance: String,
    /// Extra gRPC metadata on every remote call, e.g. an API key
    /// (`x-buildbuddy-api-key=…`). Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub remote_header: Vec<String>,
    /// A platform property every Action carries (`OSFamily=linux`,
    /// `container-image=…`). Repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub remote_platform: Vec<String>,
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
pub struct WeeklyArgs {
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
    #[arg(required_unless_present = "explain_misses")]
    pub a: Option<PathBuf>,
    /// The log of the second build (side B). With --reexecute and
    /// --action it may be left out.
    #[arg(required_unless_present_any = ["explain_misses", "action"])]
    pub b: Option<PathBuf>,
    /// Explain why each action of the build that wrote LOG executed instead
    /// of coming from the cache (with --baseline, by comparing with an
    /// earlier build of the same revision).
    #[arg(long, value_name = "LOG", conflicts_with_all = ["a", "b"])]
    pub explain_misses: Option<PathBuf>,
    /// With --explain-misses: the log of an earlier build to compare with.
    #[arg(long, value_name = "LOG", requires = "explain_misses")]
    pub baseline: Option<PathBuf>,
    /// Re-execute logged actions on a Remote Execution (REAPI v2) cluster,
    /// grpc://HOST:PORT or grpcs://HOST:PORT, several times each with
    /// caching off, and report each as deterministic or not (with the
    /// structural findings of the outputs that differ). Bazel JSON logs.
    #[arg(long, value_name = "URL")]
    pub reexecute: Option<String>,
    /// With --reexecute: the actions to re-execute, by label, mnemonic or
    /// primary output (repeatable). Default: the roots the comparison of A
    /// and B finds (non-deterministic, unexplained).
    #[arg(long, value_name = "LABEL|MNEMONIC", requires = "reexecute")]
    pub action: Vec<String>,
    /// With --reexecute: executions per action.
    #[arg(long, value_name = "N", default_value_t = 2, requires = "reexecute")]
    pub runs: usize,
    /// With --reexecute: the execution root of the logged build; inputs
    /// missing from the cluster's CAS are uploaded from it.
    #[arg(long, value_name = "DIR", requires = "reexecute")]
    pub exec_root: Option<PathBuf>,
    #[command(flatten)]
    pub remote_args: RemoteArgs,
    /// The two builds' output trees (execution roots, or directories holding
    /// the outputs at their exec paths): differing outputs of the root
    /// actions found in both are compared structurally.
    #[arg(long, num_args = 2, value_names = ["DIR_A", "DIR_B"])]
    pub fetch_outputs: Option<Vec<PathBuf>>,
    /// How many of the worst roots get their taint chain shown.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub top: usize,
    /// The most bytes a compact (zstd) log may decompress to, e.g. `16G`
    /// (default: the larger of 4 GiB and 256 times the file's size).
    #[arg(long, value_name = "SIZE", value_parser = crate::execlog::parse_size)]
    pub max_decompressed: Option<u64>,
    /// Threads for reading, classifying and comparing (default: one per
    /// core); with --reexecute, executions in flight (default 16).
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
    pub limits: LimitArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Bounds on the work spent on one artifact. What lies beyond a bound is
/// not compared, and a `limit` finding names the option that raises it.
/// Sizes take a K, M or G suffix (powers of 1024).
#[derive(Debug, Default, Args)]
pub struct LimitArgs {
    /// Findings shown per differing member (default 200); the rest are
    /// counted as omitted. Every differing member is named either way.
    #[arg(long, value_name = "N")]
    pub max_findings: Option<usize>,
    /// Show every finding (no cap per member).
    #[arg(long, conflicts_with = "max_findings")]
    pub all_findings: bool,
    /// Bytes decompressed in all below one top-level file, per side
    /// (default 4G).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_unpacked: Option<u64>,
    /// Bytes one archive member or compressed section may decompress to
    /// (default 1G).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_member: Option<u64>,
    /// Bytes of one decompressed member held in memory to compare it by
    /// its format (default 256M); a larger one is compared byte for byte.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_resident: Option<u64>,
    /// Archives nested deeper than N are not opened (default 8; a
    /// top-level file is depth 0).
    #[arg(long, value_name = "N")]
    pub max_depth: Option<usize>,
    /// Members read per archive (default 100000).
    #[arg(long, value_name = "N")]
    pub max_members: Option<u64>,
    /// Files larger than SIZE whose format needs them whole (archives, ELF)
    /// are compared by digest only (default 1G).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_file: Option<u64>,
}

/// `123`, `64K`, `512M`, `4G` (powers of 1024).
fn parse_size(text: &str) -> Result<u64, String> {
    let (digits, shift) = match text.as_bytes().last() {
        Some(b'K' | b'k') => (&text[..text.len() - 1], 10),
        Some(b'M' | b'm') => (&text[..text.len() - 1], 20),
        Some(b'G' | b'g') => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (a number, with K, M or G)"))?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{text} is too large"))
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
    /// Text report: every finding with all its evidence, nothing collapsed.
    #[arg(short, long)]
    pub verbose: bool,
    #[command(flatten)]
    pub reports: ReportArgs,
}

/// More reports beside the main one, for CI.
#[derive(Debug, Args, Default)]
pub struct ReportArgs {
    /// Also write the report as FORMAT (text, json, sarif, junit, markdown,
    /// annotations) to PATH (`-` for standard output). Repeatable:
    /// `--report sarif=out.sarif --report junit=out.xml`.
    #[arg(long = "report", value_name = "FORMAT=PATH")]
    pub extra: Vec<String>,
    /// Do not print GitHub Actions annotations, nor append the Markdown
    /// summary to $GITHUB_STEP_SUMMARY (both automatic when
    /// GITHUB_ACTIONS=true).
    #[arg(long)]
    pub no_annotations: bool,
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

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert!(parse_size("x").is_err());
        assert!(parse_size("99999999999G").is_err());
    }
}
