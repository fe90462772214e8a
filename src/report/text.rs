//! The human report: a summary table, then findings grouped by artifact with
//! their evidence, then one fix per cause.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;

use comfy_table::{ContentArrangement, Table, presets};

use super::{AuditInfo, CommandKind, Report, VariationState, Verdict};
use crate::classify::format_epoch;
use crate::diff::ArtifactDelta;
use crate::finding::{Decoded, Evidence, Excerpt, Finding, Side, printable};

#[derive(Clone, Copy, Debug, Default)]
pub struct TextOptions {
    pub color: bool,
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
    let mut s = String::new();
    summary(report, &p, &mut s);
    let by_artifact: BTreeMap<String, Vec<&Finding>> =
        report.findings.iter().fold(BTreeMap::new(), |mut m, f| {
            m.entry(f.artifact.to_string()).or_default().push(f);
            m
        });
    let deltas: BTreeMap<String, &ArtifactDelta> = report
        .artifacts
        .iter()
        .map(|d| (d.artifact.to_string(), d))
        .collect();
    for (name, findings) in &by_artifact {
        let _ = write!(s, "\n{}", p.bold(name));
        if let Some(d) = deltas.get(name) {
            if let Some(format) = d.format {
                let _ = write!(s, "  {}", p.dim(&format!("{format:?}").to_lowercase()));
            }
            let n = d.findings;
            let _ = write!(
                s,
                "  {}",
                p.dim(&format!("{n} finding{}", if n == 1 { "" } else { "s" }))
            );
            if d.omitted > 0 {
                let _ = write!(
                    s,
                    "{}",
                    p.dim(&format!(", {} more not shown (limit)", d.omitted))
                );
            }
        }
        s.push('\n');
        for f in findings {
            finding(f, &p, &mut s);
        }
    }
    fixes(report, &p, &mut s);
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

/// `1.5 MiB`.
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
            let command = match env.command {
                CommandKind::Diff => "diff",
                CommandKind::Audit => "audit",
                CommandKind::Execlog => "execlog",
            };
            let _ = writeln!(
                s,
                "{} {command} {} {}",
                p.bold("twice"),
                env.inputs.a.lossy(),
                env.inputs.b.lossy()
            );
        }
    }
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    t.add_row(vec![
        "compared".to_owned(),
        format!(
            "{} files in A, {} in B ({} hashed)",
            sm.files_a,
            sm.files_b,
            human_bytes(sm.bytes_hashed)
        ),
    ]);
    t.add_row(vec!["identical".to_owned(), sm.identical.to_string()]);
    t.add_row(vec!["differing".to_owned(), sm.differing.to_string()]);
    t.add_row(vec![
        "only in A / B".to_owned(),
        format!("{} / {}", sm.only_a, sm.only_b),
    ]);
    if sm.special > 0 {
        t.add_row(vec![
            "special files (not read)".to_owned(),
            sm.special.to_string(),
        ]);
    }
    let causes: Vec<String> = sm
        .by_cause
        .iter()
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    let mut findings = sm.findings.to_string();
    if !causes.is_empty() {
        let _ = write!(findings, " ({})", causes.join(", "));
    }
    if sm.omitted > 0 {
        let _ = write!(findings, ", {} more not shown", sm.omitted);
    }
    t.add_row(vec!["findings".to_owned(), findings]);
    let list: Vec<String> = sm
        .by_variation
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if !list.is_empty() {
        t.add_row(vec!["by variation".to_owned(), list.join(", ")]);
    }
    let _ = writeln!(s, "{t}");
}

fn finding(f: &Finding, p: &Paint, s: &mut String) {
    let fp = f.fingerprint.to_string();
    let _ = writeln!(
        s,
        "  {}: {}  {}",
        f.location,
        p.cause(&f.cause.to_string()),
        p.dim(&format!("[{}]", &fp[..8]))
    );
    if let Some(v) = &f.variation {
        let _ = writeln!(s, "    {} {v}", p.dim("variation:"));
    }
    evidence(Side::A, &f.a, p, s);
    evidence(Side::B, &f.b, p, s);
    if let (Some(Decoded::Time(x)), Some(Decoded::Time(y))) = (&f.a.decoded, &f.b.decoded) {
        let _ = writeln!(
            s,
            "    {} {} → {}",
            p.dim("="),
            format_epoch(*x),
            format_epoch(*y)
        );
    }
}

fn evidence(side: Side, e: &Evidence, p: &Paint, s: &mut String) {
    let tag = p.side(side, &side.to_string());
    let token = e.token.as_ref().map(|t| t.0.as_slice());
    match &e.excerpt {
        Excerpt::Absent => {
            let _ = writeln!(s, "    {tag} {}", p.dim("(absent)"));
        }
        Excerpt::Value { value } => {
            let _ = writeln!(s, "    {tag} {}", value.lossy());
        }
        Excerpt::Lines {
            first,
            lines,
            omitted,
        } => {
            for (i, line) in lines.iter().enumerate() {
                let text = highlight(&line.0, token, side, p);
                let _ = writeln!(s, "    {tag} {:>5} │ {text}", first + i as u64);
            }
            if *omitted > 0 {
                let _ = writeln!(
                    s,
                    "    {tag}       │ {}",
                    p.dim(&format!("… {omitted} more lines"))
                );
            }
            if lines.is_empty() && *omitted == 0 {
                let _ = writeln!(s, "    {tag}       │ {}", p.dim("(no lines)"));
            }
        }
        Excerpt::Bytes { at, bytes, mark } => {
            hexdump(
                side,
                *at,
                &bytes.0,
                mark.at as usize..(mark.at + mark.len) as usize,
                p,
                s,
            );
        }
    }
}

/// Show `line` with the first occurrence of `token` marked.
fn highlight(line: &[u8], token: Option<&[u8]>, side: Side, p: &Paint) -> String {
    let lossy = String::from_utf8_lossy(line);
    let text = printable(&lossy);
    let Some(token) = token.map(|t| printable(&String::from_utf8_lossy(t)).into_owned()) else {
        return text.into_owned();
    };
    match (p.on, token.is_empty(), text.find(token.as_str())) {
        (true, false, Some(at)) => format!(
            "{}{}{}",
            &text[..at],
            p.mark(side, &token),
            &text[at + token.len()..]
        ),
        _ => text.into_owned(),
    }
}

fn hexdump(
    side: Side,
    at: u64,
    bytes: &[u8],
    mark: std::ops::Range<usize>,
    p: &Paint,
    s: &mut String,
) {
    let tag = p.side(side, &side.to_string());
    let base = at as usize;
    if bytes.is_empty() {
        let _ = writeln!(
            s,
            "    {tag} {base:08x}  {}",
            p.dim("(no bytes: the file ends here)")
        );
        return;
    }
    if bytes.iter().all(|&c| (0x20..0x7f).contains(&c)) {
        // A string: show it as text, the marked part highlighted.
        let text = String::from_utf8_lossy(bytes);
        let (x, y) = (mark.start.min(text.len()), mark.end.min(text.len()));
        if p.on {
            let _ = writeln!(
                s,
                "    {tag} {base:08x}  {}{}{}",
                &text[..x],
                p.mark(side, &text[x..y]),
                &text[y..]
            );
        } else {
            let _ = writeln!(s, "    {tag} {base:08x}  {text}");
            let _ = writeln!(s, "      {:8}  {}{}", "", " ".repeat(x), "^".repeat(y - x));
        }
        return;
    }
    for (row, chunk) in bytes.chunks(16).enumerate() {
        let row_at = row * 16;
        let mut hex = String::new();
        let mut ascii = String::new();
        let mut carets = String::new();
        for (i, &b) in chunk.iter().enumerate() {
            let marked = mark.contains(&(row_at + i));
            let h = format!("{b:02x}");
            let c = if (0x20..0x7f).contains(&b) {
                char::from(b)
            } else {
                '.'
            };
            if marked && p.on {
                hex.push_str(&p.mark(side, &h));
                ascii.push_str(&p.mark(side, &c.to_string()));
            } else {
                hex.push_str(&h);
                ascii.push(c);
            }
            hex.push(' ');
            carets.push_str(if marked { "^^ " } else { "   " });
        }
        for _ in chunk.len()..16 {
            hex.push_str("   ");
        }
        let _ = writeln!(s, "    {tag} {:08x}  {hex} │{ascii}│", base + row_at);
        if !p.on && carets.contains('^') {
            let _ = writeln!(s, "      {:8}  {}", "", carets.trim_end());
        }
    }
}

fn fixes(report: &Report, p: &Paint, s: &mut String) {
    let hints: std::collections::BTreeSet<(&str, &str)> = report
        .findings
        .iter()
        .map(|f| (f.cause.name(), f.hint))
        .collect();
    if hints.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n{}", p.bold("How to fix"));
    for (cause, hint) in hints {
        let _ = writeln!(s, "  {}: {hint}", p.cause(cause));
    }
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
