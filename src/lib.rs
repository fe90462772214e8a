//! `twice` finds build non-determinism and says where it comes from.
//!
//! The pipeline flows one way: `tree` walks and hashes, `diff` pairs and
//! dispatches to `formats` comparators, `classify` explains each difference,
//! and `report` renders the typed findings.

#![deny(unsafe_code)]

pub mod audit;
pub mod classify;
pub mod cli;
pub mod diff;
mod error;
pub mod execlog;
pub mod finding;
mod formats;
pub mod report;
pub mod tree;

pub use error::Error;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use classify::Canaries;
use cli::{AuditArgs, ColorArg, Command, DiffArgs, ExeclogArgs, FormatArg, OutputArgs};
use diff::{DiffOptions, diff_paths};
use report::{AnyReport, TextOptions, render_json, render_text};

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
    Ok(report.verdict.exit_code())
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
        now: now(),
        ..DiffOptions::default()
    };
    let report = with_jobs(args.jobs, || diff_paths(&args.a, &args.b, &opts))??;
    emit(AnyReport::Findings(&report), &args.output)?;
    Ok(report.verdict.exit_code())
}

fn run_execlog(args: ExeclogArgs) -> Result<u8, Error> {
    let opts = execlog::ExeclogOptions {
        top: args.top,
        outputs: args
            .fetch_outputs
            .and_then(|d| <[PathBuf; 2]>::try_from(d).ok())
            .map(|[a, b]| (a, b)),
        now: now(),
    };
    let report = with_jobs(args.jobs, || execlog::analyze(&args.a, &args.b, &opts))??;
    emit(AnyReport::Execlog(&report), &args.output)?;
    Ok(report.verdict.exit_code())
}

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
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
