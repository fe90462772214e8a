//! Where reports go: the main report (`--format`, `-o`), the extra ones
//! (`--report FORMAT=PATH`), and on GitHub Actions the annotations and the
//! job summary. A closed pipe ends the output quietly.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::Error;
use crate::cli::{ColorArg, FormatArg, ReportArgs};
use crate::report::{Report, TextOptions, render_json, render_text};
use crate::store::RunContext;

/// Every report a command renders. Each renderer serves every variant, so
/// a new renderer or a new command cannot forget one.
#[derive(Clone, Copy, Debug)]
pub enum AnyReport<'r> {
    /// `twice diff` and `twice audit`: files compared, findings.
    Findings(&'r Report),
    Execlog(&'r crate::execlog::ExeclogReport),
    /// `twice execlog --reexecute`.
    Reexec(&'r crate::remote::ReexecReport),
}

/// The formats a report can be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReportFormat {
    Text,
    Json,
    Sarif,
    Junit,
    Markdown,
    Annotations,
}

impl ReportFormat {
    fn parse(name: &str) -> Option<ReportFormat> {
        Some(match name {
            "text" => ReportFormat::Text,
            "json" => ReportFormat::Json,
            "sarif" => ReportFormat::Sarif,
            "junit" => ReportFormat::Junit,
            "markdown" | "md" => ReportFormat::Markdown,
            "annotations" | "github" => ReportFormat::Annotations,
            _ => return None,
        })
    }
}

/// Standard output, or a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Sink {
    Stdout,
    File(PathBuf),
    /// Appended to (the GitHub job summary).
    Append(PathBuf),
}

/// One `--report FORMAT=PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReportSpec {
    pub format: ReportFormat,
    pub sink: Sink,
}

/// Parse `FORMAT=PATH` (`-` is standard output).
pub(crate) fn parse_spec(spec: &str) -> Result<ReportSpec, Error> {
    let usage = |why: &str| Error::Usage {
        message: format!("--report {spec:?}: {why}"),
    };
    let (format, path) = spec
        .split_once('=')
        .ok_or_else(|| usage("expected FORMAT=PATH, e.g. sarif=out.sarif"))?;
    let format = ReportFormat::parse(format).ok_or_else(|| {
        usage("unknown format; known: text, json, sarif, junit, markdown, annotations")
    })?;
    if path.is_empty() {
        return Err(usage("no path (use - for standard output)"));
    }
    let sink = if path == "-" {
        Sink::Stdout
    } else {
        Sink::File(PathBuf::from(path))
    };
    Ok(ReportSpec { format, sink })
}

/// The main report's settings.
#[derive(Clone, Debug)]
pub(crate) struct Main {
    pub format: FormatArg,
    pub out: Option<PathBuf>,
    pub color: ColorArg,
    pub verbose: bool,
}

/// Every report to write: the main one, the extras, and what GitHub
/// Actions gets.
pub(crate) fn plan(main: &Main, extra: &ReportArgs) -> Result<Vec<ReportSpec>, Error> {
    let mut specs = vec![ReportSpec {
        format: match main.format {
            FormatArg::Text => ReportFormat::Text,
            FormatArg::Json => ReportFormat::Json,
        },
        sink: main.out.clone().map_or(Sink::Stdout, Sink::File),
    }];
    for s in &extra.extra {
        specs.push(parse_spec(s)?);
    }
    let on_github = std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true");
    if on_github && !extra.no_annotations {
        let stdout_is_text = specs
            .iter()
            .filter(|s| s.sink == Sink::Stdout)
            .all(|s| s.format == ReportFormat::Text);
        let asked = specs.iter().any(|s| s.format == ReportFormat::Annotations);
        if stdout_is_text && !asked {
            specs.push(ReportSpec {
                format: ReportFormat::Annotations,
                sink: Sink::Stdout,
            });
        }
        if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|v| !v.is_empty()) {
            specs.push(ReportSpec {
                format: ReportFormat::Markdown,
                sink: Sink::Append(PathBuf::from(summary)),
            });
        }
    }
    Ok(specs)
}

fn color(main: &Main, sink: &Sink) -> bool {
    match main.color {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => {
            *sink == Sink::Stdout
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

/// Write any report as the specs say; an execlog report is written as
/// text or JSON only.
pub(crate) fn write_any(
    report: AnyReport<'_>,
    main: &Main,
    specs: &[ReportSpec],
) -> Result<(), Error> {
    if let AnyReport::Findings(r) = report {
        return write_reports(std::slice::from_ref(r), main, specs);
    }
    for spec in specs {
        let text = TextOptions {
            color: color(main, &spec.sink),
            verbose: main.verbose,
        };
        match (spec.format, report) {
            (ReportFormat::Text, AnyReport::Execlog(r)) => {
                write_to(&spec.sink, |w| crate::execlog::render_text(r, text, w))?;
            }
            (ReportFormat::Text, AnyReport::Reexec(r)) => {
                write_to(&spec.sink, |w| crate::remote::render_text(r, text, w))?;
            }
            (ReportFormat::Json, AnyReport::Execlog(r)) => {
                write_to(&spec.sink, |w| render_json(r, w))?;
            }
            (ReportFormat::Json, AnyReport::Reexec(r)) => {
                write_to(&spec.sink, |w| render_json(r, w))?;
            }
            // Annotations and the job summary are for findings reports.
            (ReportFormat::Annotations, _) => {}
            (ReportFormat::Markdown, _) if matches!(spec.sink, Sink::Append(_)) => {}
            (other, _) => {
                return Err(Error::Usage {
                    message: format!(
                        "--report {other:?}: twice execlog writes text and json reports"
                    )
                    .to_lowercase(),
                });
            }
        }
    }
    Ok(())
}

/// Write `reports` (one per audited target) as every spec says.
pub(crate) fn write_reports(
    reports: &[Report],
    main: &Main,
    specs: &[ReportSpec],
) -> Result<(), Error> {
    write_audits(reports, &[], main, specs)
}

/// [`write_reports`] for audits: their JSON carries each audit's context
/// (when, where, which commit), which `twice history import` reads.
pub(crate) fn write_audits(
    reports: &[Report],
    contexts: &[RunContext],
    main: &Main,
    specs: &[ReportSpec],
) -> Result<(), Error> {
    for spec in specs {
        let text = TextOptions {
            color: spec.format == ReportFormat::Text && color(main, &spec.sink),
            verbose: main.verbose,
        };
        if spec.format == ReportFormat::Json && !contexts.is_empty() {
            let audits: Vec<AuditJson<'_>> = reports
                .iter()
                .zip(contexts)
                .map(|(report, context)| AuditJson {
                    report,
                    context: Some(context),
                })
                .collect();
            write_to(&spec.sink, |w| match audits.as_slice() {
                [one] => render_json(one, w),
                many => render_json(&SeveralAudits { reports: many }, w),
            })?;
            continue;
        }
        write_to(&spec.sink, |w| render(spec.format, reports, text, w))?;
    }
    Ok(())
}

/// An audit's JSON report with its context.
#[derive(serde::Serialize)]
pub(crate) struct AuditJson<'r> {
    #[serde(flatten)]
    pub report: &'r Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<&'r RunContext>,
}

#[derive(serde::Serialize)]
struct SeveralAudits<'r> {
    reports: &'r [AuditJson<'r>],
}

fn render(
    format: ReportFormat,
    reports: &[Report],
    text: TextOptions,
    w: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        ReportFormat::Text => {
            for (i, r) in reports.iter().enumerate() {
                if i > 0 {
                    w.write_all(b"\n")?;
                }
                render_text(r, text, w)?;
            }
            Ok(())
        }
        ReportFormat::Json => match reports {
            [one] => render_json(one, w),
            many => render_json(&Several { reports: many }, w),
        },
        ReportFormat::Sarif => crate::report::render_sarif(reports, w),
        ReportFormat::Junit => crate::report::render_junit(reports, w),
        ReportFormat::Markdown => crate::report::render_markdown(reports, w),
        ReportFormat::Annotations => crate::report::render_annotations(reports, w),
    }
}

/// Several targets' reports in one JSON document.
#[derive(serde::Serialize)]
struct Several<'r> {
    reports: &'r [Report],
}

/// Run `render` into the sink.
pub(crate) fn write_to(
    sink: &Sink,
    render: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), Error> {
    let to_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Output { path, source }
    };
    match sink {
        Sink::File(path) | Sink::Append(path) => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .append(matches!(sink, Sink::Append(_)))
                .truncate(matches!(sink, Sink::File(_)))
                .open(path)
                .map_err(to_err(path))?;
            let mut w = std::io::BufWriter::new(file);
            render(&mut w)
                .and_then(|()| w.flush())
                .map_err(to_err(path))
        }
        Sink::Stdout => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            match render(&mut w).and_then(|()| w.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.map_err(to_err(Path::new("standard output"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_specs_parse() {
        assert_eq!(
            parse_spec("sarif=out.sarif").unwrap(),
            ReportSpec {
                format: ReportFormat::Sarif,
                sink: Sink::File("out.sarif".into())
            }
        );
        assert_eq!(parse_spec("markdown=-").unwrap().sink, Sink::Stdout);
        assert!(
            parse_spec("pdf=x")
                .unwrap_err()
                .to_string()
                .contains("unknown format")
        );
        assert!(
            parse_spec("sarif")
                .unwrap_err()
                .to_string()
                .contains("FORMAT=PATH")
        );
        assert!(parse_spec("json=").is_err());
    }
}
