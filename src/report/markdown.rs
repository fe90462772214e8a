//! A Markdown summary for CI job pages (`$GITHUB_STEP_SUMMARY`, GitLab
//! merge-request notes): the verdict, new/known/fixed against the baseline,
//! the problems (root causes) with their counts, bytes, attribution and
//! fix, the fixed baseline entries, and the findings folded away in a
//! `<details>` block. Several targets get a table of their own first.
//!
//! Only tables and inline code, which GitHub and GitLab render alike. Cell
//! text is escaped (`|`, backticks, emphasis and link characters, `$`,
//! which GitHub reads as math, `<` and `&`); paths are code spans with
//! `|` escaped (GFM reads `\|` inside them too). Lists are capped, and the
//! whole stays under [`MAX_BYTES`] (GitHub takes 1 MiB per step): what does
//! not fit is left out with a note.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::ci::{self, Indexed, is_known};
use super::text::{human_bytes, one_line, title};
use super::{Report, Verdict};
use crate::finding::printable;

/// The summary's size cap, well under GitHub's 1 MiB per step.
pub const MAX_BYTES: usize = 512 * 1024;

/// Rows of each table before "… and N more".
const ROWS: usize = 50;

/// Characters of one cell before it is cut.
const CELL_CHARS: usize = 300;

/// Render the reports as one Markdown summary.
pub fn render_markdown(reports: &[Report], out: &mut dyn Write) -> io::Result<()> {
    let indexed = ci::index(reports);
    let mut doc = Doc::default();
    let level = if indexed.len() > 1 {
        doc.push(overview(&indexed));
        "###"
    } else {
        "##"
    };
    for at in &indexed {
        doc.push(headline(at, level));
        doc.push(problems(at));
        doc.push(fixed(at));
        doc.push(unreadable(at));
        doc.push(findings(at));
    }
    out.write_all(doc.finish().as_bytes())
}

/// Sections added while they fit in [`MAX_BYTES`].
#[derive(Default)]
struct Doc {
    text: String,
    left_out: usize,
}

impl Doc {
    fn push(&mut self, section: String) {
        if section.is_empty() {
            return;
        }
        if self.left_out > 0 || self.text.len() + section.len() + 200 > MAX_BYTES {
            self.left_out += 1;
            return;
        }
        self.text.push_str(&section);
    }

    fn finish(mut self) -> String {
        if self.left_out > 0 {
            let _ = writeln!(
                self.text,
                "*Truncated: {} left out to stay under {} KiB; twice's JSON and SARIF reports \
                 have everything.*\n",
                ci::count(self.left_out as u64, "section", "sections"),
                MAX_BYTES / 1024
            );
        }
        self.text
    }
}

fn verdict_line(r: &Report) -> &'static str {
    match (r.verdict(), r.audit.is_some()) {
        (Verdict::Identical, true) => "reproducible",
        (Verdict::Identical, false) => "identical",
        (Verdict::Differs, _) => "differs",
        (Verdict::Accepted, _) => "accepted (all differences are in the baseline)",
        (Verdict::Incomplete, _) => "incomplete (some inputs could not be read)",
    }
}

fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Identical | Verdict::Accepted => "✅",
        Verdict::Differs | Verdict::Incomplete => "❌",
    }
}

/// `new` / `known` / `fixed`, or dashes without a baseline.
fn baseline_counts(r: &Report) -> [String; 3] {
    match &r.baseline {
        Some(b) => [
            b.new.to_string(),
            b.known.to_string(),
            b.fixed.len().to_string(),
        ],
        None => ["-".to_owned(), "-".to_owned(), "-".to_owned()],
    }
}

/// The table of targets, for several reports.
fn overview(reports: &[Indexed<'_>]) -> String {
    let failing = reports
        .iter()
        .filter(|at| at.report.verdict().exit_code() != 0)
        .count();
    let mut s = format!(
        "## {} twice: {} of {} fail the gate\n\n",
        if failing > 0 { "❌" } else { "✅" },
        failing,
        ci::count(reports.len() as u64, "target", "targets")
    );
    s.push_str(
        "| target | verdict | outputs differ | problems | findings | new | known | fixed |\n",
    );
    s.push_str("|---|---|--:|--:|--:|--:|--:|--:|\n");
    for at in reports {
        let r = at.report;
        let [new, known, fixed] = baseline_counts(r);
        let _ = writeln!(
            s,
            "| {} | {} {} | {} | {} | {} | {new} | {known} | {fixed} |",
            cell(&at.label()),
            mark(r.verdict()),
            r.verdict().name(),
            r.summary.differing + r.summary.only_a + r.summary.only_b,
            r.summary.problems,
            r.summary.findings + r.summary.omitted,
        );
    }
    s.push('\n');
    s
}

fn headline(at: &Indexed<'_>, level: &str) -> String {
    let r = at.report;
    let sm = &r.summary;
    let what = match &r.audit {
        Some(_) => format!("twice audit {}", code(&at.label())),
        None => format!("twice {} {}", r.envelope.command.name(), code(&at.label())),
    };
    let mut s = format!(
        "{level} {} {what}: {}\n\n",
        mark(r.verdict()),
        verdict_line(r)
    );
    s.push_str(
        "| outputs compared | identical | differ | only in A | only in B | problems | findings |",
    );
    let base = r.baseline.is_some();
    if base {
        s.push_str(" new | known | fixed |");
    }
    s.push_str("\n|--:|--:|--:|--:|--:|--:|--:|");
    if base {
        s.push_str("--:|--:|--:|");
    }
    let _ = write!(
        s,
        "\n| {} | {} | {} | {} | {} | {} | {} |",
        sm.files_a.max(sm.files_b),
        sm.identical,
        sm.differing,
        sm.only_a,
        sm.only_b,
        sm.problems,
        sm.findings + sm.omitted
    );
    if base {
        let [new, known, fixed] = baseline_counts(r);
        let _ = write!(s, " {new} | {known} | {fixed} |");
    }
    s.push_str("\n\n");
    if let Some(info) = &r.audit {
        let varied: Vec<&str> = info.varied().map(|v| v.name()).collect();
        let _ = writeln!(
            s,
            "Varied: {}.{}\n",
            if varied.is_empty() {
                "nothing".to_owned()
            } else {
                cell(&varied.join(", "))
            },
            match &r.baseline {
                Some(b) => format!(" Baseline: {}.", code(&b.path.lossy())),
                None => String::new(),
            }
        );
    }
    s
}

fn problems(at: &Indexed<'_>) -> String {
    let r = at.report;
    if r.problems.is_empty() {
        return String::new();
    }
    let base = r.baseline.is_some();
    let mut s = String::from("**Problems** (root causes, most expensive first)\n\n");
    s.push_str("| # | problem | findings | files | bytes | varied | example |");
    if base {
        s.push_str(" new / known |");
    }
    s.push_str(" fix |\n|--:|---|--:|--:|--:|---|---|");
    if base {
        s.push_str("---|");
    }
    s.push_str("---|\n");
    let by_fp = |fp| r.findings.iter().find(|f| f.fingerprint == fp);
    for (i, pr) in r.problems.iter().enumerate().take(ROWS) {
        let mut what = title(pr);
        if let Some(a) = &pr.artifact {
            let _ = write!(what, " in {a}");
        }
        let mut findings = pr.findings.to_string();
        if pr.consequences > 0 {
            let _ = write!(
                findings,
                " (+{})",
                ci::count(pr.consequences, "consequence", "consequences")
            );
        }
        let example = by_fp(pr.representative)
            .map(|f| {
                let change = match (one_line(&f.a), one_line(&f.b)) {
                    (Some(a), Some(b)) => format!(": {} → {}", code(&a), code(&b)),
                    _ => String::new(),
                };
                format!(
                    "{}, {}{change}",
                    code(&at.name_of(f)),
                    cell(&f.location.to_string())
                )
            })
            .unwrap_or_default();
        let _ = write!(
            s,
            "| {} | {} | {findings} | {} | {} | {} | {example} |",
            i + 1,
            cell(&what),
            pr.files,
            human_bytes(pr.bytes),
            pr.variation
                .as_ref()
                .map_or_else(|| "-".to_owned(), |v| cell(&v.to_string())),
        );
        if base {
            let members: Vec<&crate::finding::Finding> = at
                .roots()
                .filter(|f| at.problem(f).is_some_and(|(j, _)| j == i))
                .collect();
            let known = members.iter().filter(|f| is_known(f)).count();
            let _ = write!(s, " {} / {known} |", members.len() - known);
        }
        let _ = writeln!(s, " {} |", cell(pr.hint));
    }
    more(&mut s, r.problems.len());
    s
}

fn fixed(at: &Indexed<'_>) -> String {
    let fixed = at.fixed();
    let Some(b) = &at.report.baseline else {
        return String::new();
    };
    if fixed.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "**Fixed**: {} in {} no longer {}. `twice baseline update` removes {} from the baseline.\n\n",
        ci::count(fixed.len() as u64, "accepted finding", "accepted findings"),
        code(&b.path.lossy()),
        if fixed.len() == 1 { "occurs" } else { "occur" },
        if fixed.len() == 1 { "it" } else { "them" },
    );
    s.push_str("| artifact | cause | evidence | fingerprint |\n|---|---|---|---|\n");
    for e in fixed.iter().take(ROWS) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            code(&printable(&e.artifact)),
            cell(&e.cause),
            cell(&e.evidence),
            code(e.fingerprint.get(..8).unwrap_or(&e.fingerprint))
        );
    }
    more(&mut s, fixed.len());
    s
}

fn unreadable(at: &Indexed<'_>) -> String {
    let r = at.report;
    if r.unreadable.is_empty() {
        return String::new();
    }
    let mut s = String::from("**Could not read**\n\n| side | path | reason |\n|---|---|---|\n");
    for u in r.unreadable.iter().take(ROWS) {
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            u.side,
            code(&u.path.lossy()),
            cell(&u.reason)
        );
    }
    more(&mut s, r.unreadable.len());
    s
}

/// The root findings, most important first, folded in `<details>`.
fn findings(at: &Indexed<'_>) -> String {
    let ranked = ci::ranked(std::slice::from_ref(at));
    if ranked.is_empty() {
        return String::new();
    }
    let base = at.report.baseline.is_some();
    let mut s = format!(
        "<details><summary>{} (consequences folded into their root)</summary>\n\n",
        ci::count(ranked.len() as u64, "finding", "findings")
    );
    s.push_str(if base {
        "| state | artifact | where | cause | A → B | problem |\n|---|---|---|---|---|--:|\n"
    } else {
        "| artifact | where | cause | A → B | problem |\n|---|---|---|---|--:|\n"
    });
    for item in ranked.iter().take(ROWS) {
        let f = item.finding;
        if base {
            let _ = write!(s, "| {} ", if is_known(f) { "known" } else { "**new**" });
        }
        let change = match (one_line(&f.a), one_line(&f.b)) {
            (Some(a), Some(b)) => format!("{} → {}", code(&a), code(&b)),
            _ => "-".to_owned(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {change} | {} |",
            code(&at.name_of(f)),
            cell(&f.location.to_string()),
            cell(&f.cause.to_string()),
            item.problem
                .map_or_else(|| "-".to_owned(), |(i, _)| (i + 1).to_string()),
        );
    }
    more(&mut s, ranked.len());
    s.push_str("</details>\n\n");
    s
}

fn more(s: &mut String, total: usize) {
    if total > ROWS {
        let _ = writeln!(s, "\n… and {} more.", total - ROWS);
    }
    s.push('\n');
}

/// Cell text, capped at [`CELL_CHARS`], on one line, with every character
/// that Markdown or a table would read escaped.
fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        if i == CELL_CHARS {
            out.push('…');
            break;
        }
        match c {
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '$' | '&' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A code span: fenced with more backticks than the text holds, padded
/// when it starts or ends with one, `|` escaped for tables.
fn code(s: &str) -> String {
    let s: String = s
        .chars()
        .take(CELL_CHARS)
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{}{pad}{fence}", s.replace('|', "\\|"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_escape_tables_and_markup() {
        assert_eq!(
            cell("a|b `c` $x$ __init__"),
            "a\\|b \\`c\\` \\$x\\$ \\_\\_init\\_\\_"
        );
        assert_eq!(cell("one\ntwo"), "one two");
    }

    #[test]
    fn code_spans_outfence_backticks() {
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(code("x`y"), "``x`y``");
        assert_eq!(code("`z"), "`` `z ``");
    }
}
