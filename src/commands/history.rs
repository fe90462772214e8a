//! `twice history` and `twice report`: the history database and the
//! weekly report rendered from it.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::output::{Sink, write_to};
use crate::Error;
use crate::cli::{FormatArg, HistoryArgs, HistoryCommand, ReportFormatArg, WeeklyArgs};
use crate::report::render_json;
use crate::store::{self, Mode, Store};
use crate::weekly;

/// Now, or the time in `TWICE_NOW` (for tests: audits recorded and
/// reports rendered over faked dates). Only the history uses it.
pub(crate) fn now() -> Result<i64, Error> {
    match std::env::var("TWICE_NOW") {
        Ok(text) => store::time::parse_time(&text).ok_or_else(|| Error::Usage {
            message: format!("TWICE_NOW={text}: expected YYYY-MM-DDTHH:MM:SSZ or @EPOCH"),
        }),
        Err(_) => Ok(crate::clock::now()),
    }
}

/// The history file: `--history`, else `history` in twice.toml, else
/// `.twice/history.db` at the root of the repository around the current
/// directory.
pub(crate) fn history_path(explicit: Option<&Path>) -> Result<PathBuf, Error> {
    let cwd = std::env::current_dir().map_err(|e| Error::Usage {
        message: format!("cannot read the current directory: {e}"),
    })?;
    let configured = match explicit {
        Some(_) => None,
        None => crate::config::find(&cwd)
            .and_then(|p| crate::config::load(&p).ok())
            .and_then(|c| c.history.as_ref().map(|h| c.resolve(h))),
    };
    Ok(store::locate(explicit.or(configured.as_deref()), &cwd)?)
}

/// Write to `path` or standard output.
fn write_out(
    path: Option<&Path>,
    render: &dyn Fn(&mut dyn Write) -> std::io::Result<()>,
) -> Result<u8, Error> {
    let sink = path.map_or(Sink::Stdout, |p| Sink::File(p.to_path_buf()));
    write_to(&sink, |w| render(w))?;
    Ok(0)
}

pub(crate) fn run_history(args: HistoryArgs) -> Result<u8, Error> {
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
            write_out(None, &|w| match list.format {
                FormatArg::Text => weekly::render_run_list(&runs, w),
                FormatArg::Json => weekly::render_run_list_json(&runs, w),
            })
        }
        HistoryCommand::Show { run, format } => {
            let store = Store::open(&path, Mode::Read)?;
            let stored = store.show(run)?;
            write_out(None, &|w| match format {
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

pub(crate) fn run_report(args: WeeklyArgs) -> Result<u8, Error> {
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
    write_out(args.output.as_deref(), &|w| match args.format {
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
