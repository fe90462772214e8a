//! `twice` finds build non-determinism and says where it comes from.
//!
//! The pipeline flows one way, and modules import only downward:
//!
//! ```text
//! finding, clock, interrupt   the model every module shares (imports nothing)
//!   classify                  cause detection and fix hints
//!     formats                 comparators, their budget (`Limits`) and fallback
//!   tree                      the one walker and hasher
//!       diff                  pairs, dispatches, returns a `Comparison`
//!         report              the one report model (built once) and its renderers
//!           audit, execlog    the commands that build reports
//!           store             the history database: record, import, query
//!             weekly          `twice report` (model built once from the
//!                             store, then HTML, Markdown, JSON) and the
//!                             `twice history` views
//!               lib.rs, cli   dispatch, `AnyReport`, the command line
//! ```
//!
//! Kept exceptions: `execlog` keeps its own text renderer (its report is not
//! a findings report) but shares the report envelope.

#![deny(unsafe_code)]

pub mod audit;
pub mod classify;
pub mod cli;
mod clock;
pub mod diff;
mod error;
pub mod execlog;
pub mod finding;
mod formats;
mod interrupt;
pub mod report;
pub mod store;
pub mod tree;
pub mod weekly;

pub use diff::{BytesComparison, compare_bytes, compare_bytes_as};
pub use error::Error;
pub use formats::Limits;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use classify::Canaries;
use cli::{
    AuditArgs, ColorArg, Command, DiffArgs, ExeclogArgs, FormatArg, HistoryArgs, HistoryCommand,
    OutputArgs, ReportArgs, ReportFormatArg,
};
use diff::{DiffOptions, diff_paths};
use finding::Text;
use report::{CommandKind, Inputs, Report, TextOptions, render_json, render_text};
use store::{Mode, RunContext, Store};

/// Every report a command renders. Each renderer serves every variant, so
/// a new renderer or a new command cannot forget one.
#[derive(Clone, Copy, Debug)]
pub enum AnyReport<'r> {
    /// `twice diff`: files compared, findings.
    Findings(&'r Report),
    /// `twice audit`: the findings report and the audit's context (when,
    /// where, which commit), which its JSON carries for `history import`.
    Audit(&'r Report, Option<&'r RunContext>),
    Execlog(&'r execlog::ExeclogReport),
}

/// `twice diff A B` as a report: compare the two paths and assemble the
/// report of the comparison.
pub fn diff_report(a: &Path, b: &Path, opts: &DiffOptions) -> Result<Report, Error> {
    let comparison = diff_paths(a, b, opts)?;
    let inputs = Inputs {
        a: Text::new(a.as_os_str().as_encoded_bytes()),
        b: Text::new(b.as_os_str().as_encoded_bytes()),
    };
    Ok(Report::new(CommandKind::Diff, inputs, comparison, None))
}

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: cli::Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Diff(args) => run_diff(args),
        Command::Audit(args) => run_audit(args),
        Command::Execlog(args) => run_execlog(args),
        Command::History(args) => run_history(args),
        Command::Report(args) => run_report(args),
    }
}

/// The audit's JSON report with its context: what `history import` reads.
#[derive(serde::Serialize)]
struct AuditJson<'r> {
    #[serde(flatten)]
    report: &'r Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<&'r RunContext>,
}

/// Now, or the time in `TWICE_NOW` (for tests: audits recorded and
/// reports rendered over faked dates). Only the history uses it.
fn now() -> Result<i64, Error> {
    match std::env::var("TWICE_NOW") {
        Ok(text) => store::time::parse_time(&text).ok_or_else(|| Error::Usage {
            message: format!("TWICE_NOW={text}: expected YYYY-MM-DDTHH:MM:SSZ or @EPOCH"),
        }),
        Err(_) => Ok(clock::now()),
    }
}

/// The history file: `--history`, else `.twice/history.db` at the root of
/// the repository around the current directory.
///
/// CONFIG HOOK (twice.toml, not landed yet): `history = "FILE"` from the
/// file goes between the command line and the default here, and
/// `record = true` is read where `run_audit` decides whether to record.
fn history_path(explicit: Option<&Path>) -> Result<PathBuf, Error> {
    let cwd = std::env::current_dir().map_err(|e| Error::Usage {
        message: format!("cannot read the current directory: {e}"),
    })?;
    Ok(store::locate(explicit, &cwd)?)
}

fn run_audit(args: AuditArgs) -> Result<u8, Error> {
    if args.list_variations {
        print!("{}", audit::list_variations());
        return Ok(0);
    }
    let vary = audit::parse_vary(&args.vary).map_err(|message| Error::Usage { message })?;
    let timeout = match args.timeout {
        Some(t) if !(t.is_finite() && t > 0.0) => {
            return Err(Error::Usage {
                message: format!("--timeout {t}: must be a positive number of seconds"),
            });
        }
        t => t.map(std::time::Duration::from_secs_f64),
    };
    let opts = audit::AuditOptions {
        source: args.source,
        command: args.command,
        runs: args.runs,
        vary,
        outputs: args.outputs,
        bisect: args.bisect,
        bisect_budget: args.bisect_budget,
        parallel: args.parallel,
        keep: args.keep,
        timeout,
        network: args.network,
        expose: args.expose,
        strict: args.strict,
        quiet: args.quiet,
    };
    let output = OutputArgs {
        format: args.format,
        output: args.report,
        color: args.color,
    };
    // CONFIG HOOK (twice.toml): `record = true` turns recording on here.
    let record = args.record;
    let history = match record {
        true => Some(history_path(args.history.as_deref())?),
        false => None,
    };
    let started_at = now()?;
    let clock = std::time::Instant::now();
    let source = opts.source.clone();
    let command: Vec<String> = opts
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let quiet = opts.quiet;
    let result = with_jobs(args.jobs, || audit::audit(opts))?;
    let context = (record || output.format == FormatArg::Json).then(|| {
        let seconds = clock.elapsed().as_secs_f64();
        RunContext::gather(&source, args.target.as_deref(), started_at, seconds)
    });
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            if let (Some(path), Some(context), audit::AuditError::BuildFailed { .. }) =
                (&history, &context, &e)
            {
                let mut store = Store::open(path, Mode::Write)?;
                store.record_failure(context, command, e.to_string(), e.exit_code())?;
            }
            return Err(e.into());
        }
    };
    emit(AnyReport::Audit(&report, context.as_ref()), &output)?;
    if let (Some(path), Some(context)) = (&history, &context) {
        let json = serde_json::to_value(AuditJson {
            report: &report,
            context: Some(context),
        })
        .expect("a report serializes to JSON");
        let mut store = Store::open(path, Mode::Write)?;
        let id = store.record(json)?;
        if !quiet {
            match id {
                Some(id) => eprintln!("twice: recorded as run {id} in {}", path.display()),
                None => eprintln!("twice: already recorded in {}", path.display()),
            }
        }
    }
    Ok(report.verdict().exit_code())
}

fn run_history(args: HistoryArgs) -> Result<u8, Error> {
    let path = history_path(args.history.as_deref())?;
    match args.command {
        HistoryCommand::Import { reports } => {
            let mut store = Store::open(&path, Mode::Write)?;
            let outcome = store.import(&reports)?;
            for refused in &outcome.refused {
                eprintln!("twice: skipped {refused}");
            }
            println!(
                "imported {} report(s) into {}; {} already there",
                outcome.imported,
                path.display(),
                outcome.duplicates
            );
            match outcome.refused.len() {
                0 => Ok(0),
                refused => Err(Error::ImportIncomplete {
                    refused,
                    files: reports.len(),
                }),
            }
        }
        HistoryCommand::List(list) => {
            let store = Store::open(&path, Mode::Read)?;
            let now = now()?;
            let since = match &list.since {
                Some(text) => parse_when(text, now, "--since")?,
                None => i64::MIN,
            };
            let filter = store::Filter::targets(&list.targets);
            let runs = store.list(since, i64::MAX, &filter, list.limit)?;
            write_out(None, |w| match list.format {
                FormatArg::Text => weekly::render_run_list(&runs, w),
                FormatArg::Json => weekly::render_run_list_json(&runs, w),
            })
        }
        HistoryCommand::Show { run, format } => {
            let store = Store::open(&path, Mode::Read)?;
            let stored = store.show(run)?;
            write_out(None, |w| match format {
                FormatArg::Text => weekly::render_run(&stored, w),
                FormatArg::Json => weekly::render_run_json(&stored, w),
            })
        }
        HistoryCommand::Gc { keep } => {
            let mut store = Store::open(&path, Mode::Write)?;
            let cutoff = parse_when(&keep, now()?, "--keep")?;
            let gone = store.gc(cutoff)?;
            println!(
                "removed {} run(s) started before {} and {} finding(s) seen only in them",
                gone.runs,
                store::time::format_time(cutoff),
                gone.series
            );
            Ok(0)
        }
    }
}

fn run_report(args: ReportArgs) -> Result<u8, Error> {
    let path = history_path(args.history.as_deref())?;
    let store = Store::open(&path, Mode::Read)?;
    let now = now()?;
    let until = match &args.until {
        Some(text) => parse_when(text, now, "--until")?,
        None => now,
    };
    let since = parse_when(&args.since, until, "--since")?;
    if since >= until {
        return Err(Error::Usage {
            message: format!("--since {}: must be before --until", args.since),
        });
    }
    let opts = weekly::WeeklyOptions::new(since, until, args.targets);
    let model = weekly::build(&store, &opts)?;
    write_out(args.output.as_deref(), |w| match args.format {
        ReportFormatArg::Html => weekly::render_html(&model, w),
        ReportFormatArg::Markdown => weekly::render_markdown(&model, w),
        ReportFormatArg::Json => render_json(&model, w),
    })?;
    Ok(0)
}

fn parse_when(text: &str, now: i64, flag: &str) -> Result<i64, Error> {
    store::time::parse_when(text, now).ok_or_else(|| Error::Usage {
        message: format!(
            "{flag} {text}: expected a span back from now (7d, 12h, 2w) or a date \
             (2026-01-05, 2026-01-05T10:00:00Z)"
        ),
    })
}

fn run_diff(args: DiffArgs) -> Result<u8, Error> {
    let roots = match (&args.root_a, &args.root_b) {
        (Some(a), Some(b)) => Some((
            a.as_os_str().as_encoded_bytes().to_vec(),
            b.as_os_str().as_encoded_bytes().to_vec(),
        )),
        _ => None,
    };
    let opts = DiffOptions {
        metadata: args.metadata,
        canaries: Canaries {
            roots,
            values: Vec::new(),
        },
        now: clock::now(),
        ..DiffOptions::default()
    };
    interrupt::install().map_err(|source| Error::Signals { source })?;
    let report = with_jobs(args.jobs, || diff_report(&args.a, &args.b, &opts))??;
    if interrupt::interrupted() {
        return Err(Error::Interrupted);
    }
    emit(AnyReport::Findings(&report), &args.output)?;
    Ok(report.verdict().exit_code())
}

fn run_execlog(args: ExeclogArgs) -> Result<u8, Error> {
    let opts = execlog::ExeclogOptions {
        top: args.top,
        outputs: args
            .fetch_outputs
            .and_then(|d| <[PathBuf; 2]>::try_from(d).ok())
            .map(|[a, b]| (a, b)),
        now: clock::now(),
    };
    interrupt::install().map_err(|source| Error::Signals { source })?;
    let report = with_jobs(args.jobs, || execlog::analyze(&args.a, &args.b, &opts))??;
    if interrupt::interrupted() {
        return Err(Error::Interrupted);
    }
    emit(AnyReport::Execlog(&report), &args.output)?;
    Ok(report.envelope.verdict.exit_code())
}

/// Run `f` on a pool of `jobs` threads (rayon's global pool when `None`).
fn with_jobs<T: Send>(jobs: Option<usize>, f: impl FnOnce() -> T + Send) -> Result<T, Error> {
    match jobs {
        None => Ok(f()),
        Some(0) => Err(Error::Usage {
            message: "--jobs must be at least 1".to_owned(),
        }),
        Some(threads) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map_err(|source| Error::Threads { threads, source })?;
            Ok(pool.install(f))
        }
    }
}

/// Render the report to `-o FILE` or standard output. A closed pipe ends the
/// output quietly.
fn emit(report: AnyReport<'_>, out: &OutputArgs) -> Result<(), Error> {
    let color = match out.color {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => {
            out.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let text = TextOptions { color };
    let render = |w: &mut dyn Write| match (out.format, report) {
        (FormatArg::Text, AnyReport::Findings(r) | AnyReport::Audit(r, _)) => {
            render_text(r, text, w)
        }
        (FormatArg::Text, AnyReport::Execlog(r)) => execlog::render_text(r, text, w),
        (FormatArg::Json, AnyReport::Findings(r)) => render_json(r, w),
        (FormatArg::Json, AnyReport::Audit(report, context)) => {
            render_json(&AuditJson { report, context }, w)
        }
        (FormatArg::Json, AnyReport::Execlog(r)) => render_json(r, w),
    };
    write_out(out.output.as_deref(), render).map(|_| ())
}

/// Write to `path` or standard output through `render`. A closed pipe ends
/// the output quietly.
fn write_out(
    path: Option<&Path>,
    render: impl Fn(&mut dyn Write) -> std::io::Result<()>,
) -> Result<u8, Error> {
    match path {
        Some(path) => {
            let to_err = |source| Error::Output {
                path: path.to_path_buf(),
                source,
            };
            let file = std::fs::File::create(path).map_err(to_err)?;
            let mut w = std::io::BufWriter::new(file);
            render(&mut w).and_then(|()| w.flush()).map_err(to_err)?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            match render(&mut w).and_then(|()| w.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                r => r.map_err(|source| Error::Output {
                    path: "standard output".into(),
                    source,
                })?,
            }
        }
    }
    Ok(0)
}
