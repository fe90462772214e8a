//! The human report: what was compared, then the problems (root causes,
//! most expensive first), then the findings per artifact as evidence, with
//! consequences and repeated shapes collapsed unless `--verbose`.

mod details;
mod evidence;
mod problems;

// Shared with the CI renderers: a problem's headline, evidence on one line.
pub(super) use evidence::one_line;
pub(super) use problems::title;

use std::fmt::Write as _;
use std::io::Write;

use comfy_table::{ContentArrangement, Table, presets};

use super::{AuditInfo, Report, VariationState, Verdict};
use crate::finding::{Side, printable};

#[derive(Clone, Copy, Debug, Default)]
pub struct TextOptions {
    pub color: bool,
    /// Every finding and every byte of evidence, nothing collapsed.
    pub verbose: bool,
}

/// How much to show.
#[derive(Clone, Copy, Debug)]
struct Style {
    verbose: bool,
}

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn bold(&self, t: &str) -> String {
        self.wrap("1", t)
    }
    fn dim(&self, t: &str) -> String {
        self.wrap("2", t)
    }
    fn cause(&self, t: &str) -> String {
        self.wrap("1;33", t)
    }
    fn side(&self, side: Side, t: &str) -> String {
        self.wrap(if side == Side::A { "31" } else { "32" }, t)
    }
    fn mark(&self, side: Side, t: &str) -> String {
        self.wrap(if side == Side::A { "1;4;31" } else { "1;4;32" }, t)
    }
}

pub fn render_text(report: &Report, opts: TextOptions, out: &mut dyn Write) -> std::io::Result<()> {
    let p = Paint { on: opts.color };
    let st = Style {
        verbose: opts.verbose,
    };
    let mut s = String::new();
    summary(report, &p, &mut s);
    problems::section(report, &p, &mut s);
    details::section(report, &p, st, &mut s);
    if !report.unreadable.is_empty() {
        let _ = writeln!(s, "\n{}", p.bold("Could not read"));
        for pr in &report.unreadable {
            let _ = writeln!(
                s,
                "  {} {}: {}",
                pr.side,
                pr.path.lossy(),
                printable(&pr.reason)
            );
        }
    }
    verdict(report, &p, &mut s);
    out.write_all(s.as_bytes())
}

pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn audit_header(info: &AuditInfo, p: &Paint, s: &mut String) {
    let command: Vec<String> = info
        .command
        .iter()
        .map(|c| c.lossy().into_owned())
        .collect();
    let _ = writeln!(
        s,
        "{} audit of {}: {}  {}",
        p.bold("twice"),
        info.source.lossy(),
        p.bold(&command.join(" ")),
        p.dim(&format!("(sandbox: {})", info.sandbox))
    );
    let varied: Vec<&str> = info.varied().map(|v| v.name()).collect();
    let _ = writeln!(
        s,
        "varied: {}",
        if varied.is_empty() {
            "nothing".to_owned()
        } else {
            varied.join(", ")
        }
    );
    for v in &info.variations {
        if let VariationState::Skipped { reasons } = &v.state {
            let reasons: Vec<String> = reasons.iter().map(ToString::to_string).collect();
            let _ = writeln!(s, "skipped: {} ({})", v.variation, reasons.join("; "));
        }
    }
    for w in &info.warnings {
        let _ = writeln!(s, "{} {w}", p.dim("warning:"));
    }
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(vec![
            "run",
            "build directory",
            "varied",
            "build time",
            "outputs",
        ]);
    for r in &info.runs {
        t.add_row(vec![
            r.label.clone(),
            r.build_dir.lossy().into_owned(),
            if r.varied.is_empty() {
                "-".to_owned()
            } else {
                let names: Vec<&str> = r.varied.iter().map(|v| v.name()).collect();
                names.join(", ")
            },
            format!("{:.1} s", r.seconds),
            r.outputs.to_string(),
        ]);
    }
    let _ = writeln!(s, "{t}");
}

fn summary(report: &Report, p: &Paint, s: &mut String) {
    let sm = &report.summary;
    match &report.audit {
        Some(info) => audit_header(info, p, s),
        None => {
            let env = &report.envelope;
            let command = env.command.name();
            let _ = writeln!(
                s,
                "{} {command} {} {}",
                p.bold("twice"),
                env.inputs.a.lossy(),
                env.inputs.b.lossy()
            );
        }
    }
    let mut line = format!(
        "compared {} files in A, {} in B ({} hashed): {} identical, {} differ, {} only in A, {} only in B",
        sm.files_a,
        sm.files_b,
        human_bytes(sm.bytes_hashed),
        sm.identical,
        sm.differing,
        sm.only_a,
        sm.only_b
    );
    if sm.special > 0 {
        let _ = write!(line, ", {} special files (not read)", sm.special);
    }
    let _ = writeln!(s, "{}", p.dim(&line));
}

fn verdict(report: &Report, p: &Paint, s: &mut String) {
    let sm = &report.summary;
    let audit = report.audit.is_some();
    if let Some(b) = report.audit.as_ref().and_then(|a| a.bisect.as_ref()) {
        let _ = writeln!(
            s,
            "\n{} {} extra build{}: {} pinned to a variation, {} differ with nothing varied, {} unresolved",
            p.bold("bisect:"),
            b.builds,
            if b.builds == 1 { "" } else { "s" },
            b.pinned,
            b.inherent,
            b.unresolved
        );
    }
    let line = match report.verdict() {
        Verdict::Identical if audit => "reproducible: the builds' outputs are identical".to_owned(),
        Verdict::Identical => "identical: nothing differs".to_owned(),
        Verdict::Differs => format!(
            "differs: {} artifact{} with {} finding{}",
            report.artifacts.len(),
            if report.artifacts.len() == 1 { "" } else { "s" },
            sm.findings + sm.omitted,
            if sm.findings + sm.omitted == 1 {
                ""
            } else {
                "s"
            }
        ),
        Verdict::Accepted => format!(
            "accepted: {} finding{} differ, all in the baseline; nothing new",
            sm.findings + sm.omitted,
            if sm.findings + sm.omitted == 1 {
                ""
            } else {
                "s"
            }
        ),
        Verdict::Incomplete => format!(
            "incomplete: {} input{} could not be read; {} artifact{} differ among the rest",
            report.unreadable.len(),
            if report.unreadable.len() == 1 {
                ""
            } else {
                "s"
            },
            report.artifacts.len(),
            if report.artifacts.len() == 1 { "" } else { "s" }
        ),
    };
    let _ = writeln!(s, "\n{}", p.bold(&line));
    if let Some(kept) = report.audit.as_ref().and_then(|a| a.kept.as_ref()) {
        let _ = writeln!(s, "sandboxes and logs kept in {}", kept.lossy());
    }
}
