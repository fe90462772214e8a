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
//!             lib.rs, cli     dispatch, `AnyReport`, the command line
//! ```
//!
//! Kept exceptions: `execlog` keeps its own text renderer (its report is not
//! a findings report) but shares the report envelope.

#![deny(unsafe_code)]

pub mod audit;
pub mod baseline;
pub mod classify;
pub mod cli;
mod clock;
mod commands;
pub mod config;
pub mod diff;
mod error;
pub mod execlog;
pub mod finding;
mod formats;
mod interrupt;
pub mod remote;
pub mod report;
pub mod store;
pub mod tree;
pub mod weekly;

pub use diff::{BytesComparison, compare_bytes, compare_bytes_as};
pub use error::Error;
pub use formats::Limits;

use std::path::{Path, PathBuf};

use classify::Canaries;
use cli::{Command, DiffArgs, ExeclogArgs, OutputArgs};
use commands::with_jobs;
use diff::{DiffOptions, diff_paths};
use finding::Text;
use report::{CommandKind, Inputs, Report};

pub use commands::output::AnyReport;

/// `twice diff A B` as a report: compare the two paths and assemble the
/// report of the comparison.
pub fn diff_report(a: &Path, b: &Path, opts: &DiffOptions) -> Result<Report, Error> {
    diff_report_gated(a, b, opts, None)
}

/// [`diff_report`] through the CI gate (baseline, ignore rules).
pub fn diff_report_gated(
    a: &Path,
    b: &Path,
    opts: &DiffOptions,
    gate: Option<&report::Gate>,
) -> Result<Report, Error> {
    let comparison = diff_paths(a, b, opts)?;
    let inputs = Inputs {
        a: Text::new(a.as_os_str().as_encoded_bytes()),
        b: Text::new(b.as_os_str().as_encoded_bytes()),
    };
    let extras = report::Extras {
        gate,
        ..Default::default()
    };
    Ok(Report::new(CommandKind::Diff, inputs, comparison, extras))
}

/// Run a parsed command line; returns the process exit code.
pub fn run(cli: cli::Cli) -> Result<u8, Error> {
    match cli.command {
        Command::Diff(args) => run_diff(args),
        Command::Audit(args) => commands::audit::run(*args),
        Command::Targets(args) => commands::audit::targets(args),
        Command::History(args) => commands::history::run_history(args),
        Command::Report(args) => commands::history::run_report(args),
        Command::Baseline(cli::BaselineCommand::Update(args)) => {
            commands::audit::baseline_update(args)
        }
        Command::Execlog(args) => run_execlog(args),
    }
}

/// `--remote URL` (or `--reexecute URL`) with the options that go with it.
pub(crate) fn remote_options(
    url: String,
    args: &cli::RemoteArgs,
) -> Result<remote::RemoteOptions, Error> {
    let pairs = |option, values: &[String]| {
        remote::parse_pairs(option, values).map_err(|e| Error::Usage {
            message: e.to_string(),
        })
    };
    Ok(remote::RemoteOptions {
        url,
        instance: args.remote_instance.clone(),
        headers: pairs("--remote-header", &args.remote_header)?,
        platform: pairs("--remote-platform", &args.remote_platform)?,
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
        limits: commands::limits(&args.limits, &Default::default()),
        ..DiffOptions::default()
    };
    interrupt::install().map_err(|source| Error::Signals { source })?;
    let main = main_output(&args.output);
    let specs = commands::output::plan(&main, &args.output.reports)?;
    let report = with_jobs(args.jobs, || diff_report(&args.a, &args.b, &opts))??;
    if interrupt::interrupted() {
        return Err(Error::Interrupted);
    }
    let code = report.verdict().exit_code();
    commands::output::write_reports(std::slice::from_ref(&report), &main, &specs)?;
    Ok(code)
}

fn run_execlog(args: ExeclogArgs) -> Result<u8, Error> {
    if let Some(url) = args.reexecute {
        interrupt::install().map_err(|source| Error::Signals { source })?;
        let Some(log_a) = args.a else {
            return Err(Error::Usage {
                message: "--reexecute needs the log to re-execute from".to_owned(),
            });
        };
        let opts = remote::ReexecOptions {
            remote: remote_options(url, &args.remote_args)?,
            log_a,
            log_b: args.b,
            actions: args.action,
            runs: args.runs,
            jobs: args.jobs.unwrap_or(16),
            exec_root: args.exec_root,
            quiet: false,
        };
        if opts.jobs == 0 {
            return Err(Error::Usage {
                message: "--jobs must be at least 1".to_owned(),
            });
        }
        let main = main_output(&args.output);
        let specs = commands::output::plan(&main, &args.output.reports)?;
        let report = remote::reexecute(&opts)?;
        commands::output::write_any(AnyReport::Reexec(&report), &main, &specs)?;
        return Ok(report.envelope.verdict.exit_code());
    }
    let opts = execlog::ExeclogOptions {
        top: args.top,
        outputs: args
            .fetch_outputs
            .and_then(|d| <[PathBuf; 2]>::try_from(d).ok())
            .map(|[a, b]| (a, b)),
        now: clock::now(),
        max_decompressed: args.max_decompressed,
    };
    interrupt::install().map_err(|source| Error::Signals { source })?;
    let main = main_output(&args.output);
    let specs = commands::output::plan(&main, &args.output.reports)?;
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
    if interrupt::interrupted() {
        return Err(Error::Interrupted);
    }
    commands::output::write_any(AnyReport::Execlog(&report), &main, &specs)?;
    Ok(report.envelope.verdict.exit_code())
}

fn main_output(out: &OutputArgs) -> commands::output::Main {
    commands::output::Main {
        format: out.format,
        out: out.output.clone(),
        color: out.color,
        verbose: out.verbose,
    }
}
