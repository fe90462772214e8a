//! `twice` finds build non-determinism and says where it comes from.
//!
//! The pipeline flows one way, and modules import only downward:
//!
//! ```text
//! finding, clock              the model every module shares (imports nothing)
//!   classify                  cause detection and fix hints
//!     formats                 comparators, their budget (`Limits`) and fallback
//!   tree                      the one walker and hasher
//!       diff                  pairs, dispatches, returns a `Comparison`
//!         report              the one report model (built once) and its renderers
//!           audit, execlog    the commands that build reports
//!             lib.rs, cli     dispatch, `AnyReport`, the command line
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
pub mod report;
pub mod tree;

pub use diff::{BytesComparison, compare_bytes};
pub use error::Error;
pub use formats::Limits;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use classify::Canaries;
use cli::{AuditArgs, ColorArg, Command, DiffArgs, ExeclogArgs, FormatArg, OutputArgs};
use diff::{DiffOptions, diff_paths};
use finding::Text;
use report::{CommandKind, Inputs, Report, TextOptions, render_json, render_text};

/// Every report a command renders. Each renderer serves every variant, so
/// a new renderer or a new command cannot forget one.
#[derive(Clone, Copy, Debug)]
pub enum AnyReport<'r> {
    /// `twice diff` and `twice audit`: files compared, findings.
    Findings(&'r Report),
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
    }
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
    let report = with_jobs(args.jobs, || audit::audit(opts))??;
    emit(AnyReport::Findings(&report), &output)?;
    Ok(report.verdict().exit_code())
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
    let report = with_jobs(args.jobs, || diff_report(&args.a, &args.b, &opts))??;
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
        max_decompressed: args.max_decompressed,
    };
    let report = with_jobs(args.jobs, || {
        match (&args.explain_misses, &args.a, &args.b) {
            (Some(b), _, _) => execlog::explain_misses(b, args.baseline.as_deref(), &opts),
            (None, Some(a), Some(b)) => execlog::analyze(a, b, &opts),
            // clap requires A and B without --explain-misses.
            _ => Err(execlog::ExeclogError::Open {
                path: PathBuf::new(),
                source: std::io::Error::other("two logs are needed"),
            }),
        }
    })??;
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
        (FormatArg::Text, AnyReport::Findings(r)) => render_text(r, text, w),
        (FormatArg::Text, AnyReport::Execlog(r)) => execlog::render_text(r, text, w),
        (FormatArg::Json, AnyReport::Findings(r)) => render_json(r, w),
        (FormatArg::Json, AnyReport::Execlog(r)) => render_json(r, w),
    };
    match &out.output {
        Some(path) => {
            let to_err = |source| Error::Output {
                path: path.clone(),
                source,
            };
            let file = std::fs::File::create(path).map_err(to_err)?;
            let mut w = std::io::BufWriter::new(file);
            render(&mut w).and_then(|()| w.flush()).map_err(to_err)
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            match render(&mut w).and_then(|()| w.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.map_err(|source| Error::Output {
                    path: "standard output".into(),
                    source,
                }),
            }
        }
    }
}
