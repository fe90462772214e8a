//! The re-execution report as text: one line per action, the differing
//! outputs of the non-deterministic ones with their findings.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::reexecute::{Outcome, ReexecReport};
use crate::execlog::OutputComparison;
use crate::finding::{Side, printable as clean};
use crate::report::{TextOptions, render_text as render_diff_text};

pub fn render_text(r: &ReexecReport, opts: TextOptions, w: &mut dyn Write) -> io::Result<()> {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "twice execlog --reexecute: {} action(s) of {} on {} (instance {:?}), {} runs each",
        r.summary.actions,
        clean(&r.envelope.inputs.a.lossy()),
        clean(&r.remote.url),
        clean(&r.remote.instance),
        r.remote.runs
    );
    for a in &r.actions {
        let name = format!(
            "{} {} {}",
            a.action.label.as_deref().unwrap_or("(no label)"),
            a.action.mnemonic,
            a.action.primary_output.as_deref().unwrap_or("")
        );
        let name = clean(&name);
        match &a.outcome {
            Outcome::Deterministic { runs } => {
                let _ = writeln!(s, "  deterministic      {name} ({runs} runs, same outputs)");
            }
            Outcome::NonDeterministic { outputs } => {
                let _ = writeln!(s, "  NON-DETERMINISTIC  {name}");
                for o in outputs {
                    let _ = writeln!(
                        s,
                        "     {} differs in run {}: {} vs {}",
                        clean(&o.path),
                        o.run,
                        o.a.as_deref().unwrap_or("absent"),
                        o.b.as_deref().unwrap_or("absent")
                    );
                    match &o.comparison {
                        OutputComparison::Compared { report, .. } => {
                            let mut buf = Vec::new();
                            render_diff_text(report.as_ref(), opts, &mut buf)?;
                            for line in String::from_utf8_lossy(&buf).lines() {
                                let _ = writeln!(s, "       {line}");
                            }
                        }
                        OutputComparison::Missing { side } => {
                            let _ = writeln!(
                                s,
                                "       only in run {}",
                                if *side == Side::A { o.run } else { 1 }
                            );
                        }
                        OutputComparison::Failed { error } => {
                            let _ = writeln!(s, "       not compared: {}", clean(error));
                        }
                        OutputComparison::Symlink { a, b } => {
                            let _ = writeln!(s, "       symlink to {} vs {}", clean(a), clean(b));
                        }
                    }
                }
            }
            Outcome::Failed {
                run,
                exit_code,
                stderr,
            } => {
                let _ = writeln!(
                    s,
                    "  FAILED             {name}: run {run} exited with {exit_code}"
                );
                for line in stderr
                    .lines()
                    .rev()
                    .take(10)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                {
                    let _ = writeln!(s, "       {}", clean(line));
                }
            }
            Outcome::MissingInputs { inputs } => {
                let _ = writeln!(
                    s,
                    "  NOT RUN            {name}: {} input(s) unavailable",
                    inputs.len()
                );
                for i in inputs.iter().take(10) {
                    let _ = writeln!(s, "       {}", clean(i));
                }
            }
            Outcome::Error { error } => {
                let _ = writeln!(s, "  NOT RUN            {name}: {}", clean(error));
            }
        }
    }
    let m = &r.summary;
    let _ = writeln!(
        s,
        "summary: {} deterministic, {} non-deterministic, {} failed, {} not run; {} executions in {:.1} s",
        m.deterministic, m.non_deterministic, m.failed, m.not_run, m.executions, m.seconds
    );
    w.write_all(s.as_bytes())
}
