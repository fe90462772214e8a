//! JUnit XML for test-report views (GitLab `artifacts:reports:junit`,
//! Jenkins, GitHub test-report actions), hand-written: the shape is small
//! and a crate would bring an XML writer and a UUID generator for it.
//!
//! Shape (FIELD-NOTES "CI conventions"): `<testsuites>`, one `<testsuite>`
//! per report (named after its target, else its source tree), one
//! `<testcase>` per top-level output that differs, with `classname` the
//! target (GitLab keys cases by `classname` + `name` and shows `classname`
//! as the suite) and `name` the output's path:
//! - an output with new findings (any finding, without a baseline) fails:
//!   `<failure>` with a one-line `message` and the findings in the body
//!   (GitLab has shown either), consequences counted under their root;
//! - an output whose findings are all in the baseline passes, with a
//!   `<system-out>` note listing them;
//! - accepted findings that no longer occur pass, noted in `<system-out>`;
//! - an input that could not be read is an `<error>`;
//! - identical outputs are one passing case with their count (the report
//!   carries the count, not the paths).
//!
//! Times are in seconds: a suite's is the audit's total (none for `twice
//! diff`); cases carry none, since no per-output time is measured.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use super::ci::{self, Indexed, is_known};
use super::{BaselineEntry, Report};
use crate::finding::{Finding, Text, printable};

/// Render the reports as one JUnit XML document.
pub fn render_junit(reports: &[Report], out: &mut dyn Write) -> io::Result<()> {
    let indexed = ci::index(reports);
    let suites: Vec<Suite> = indexed.iter().map(suite).collect();
    let total = |f: fn(&Suite) -> usize| suites.iter().map(f).sum::<usize>();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = write!(
        s,
        "<testsuites name=\"twice\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\"",
        total(|x| x.cases.len()),
        total(Suite::failures),
        total(Suite::errors),
    );
    let times: Vec<f64> = suites.iter().filter_map(|x| x.time).collect();
    if !times.is_empty() {
        let _ = write!(s, " time=\"{:.3}\"", times.iter().sum::<f64>());
    }
    s.push_str(">\n");
    for suite in &suites {
        suite.write(&mut s);
    }
    s.push_str("</testsuites>\n");
    out.write_all(s.as_bytes())
}

struct Suite {
    name: String,
    time: Option<f64>,
    properties: Vec<(&'static str, String)>,
    cases: Vec<Case>,
}

#[derive(Default)]
struct Case {
    classname: String,
    name: String,
    /// `(message, type, body)`.
    failure: Option<(String, String, String)>,
    error: Option<(String, String)>,
    out: Vec<String>,
}

impl Suite {
    fn failures(&self) -> usize {
        self.cases.iter().filter(|c| c.failure.is_some()).count()
    }

    fn errors(&self) -> usize {
        self.cases.iter().filter(|c| c.error.is_some()).count()
    }

    fn write(&self, s: &mut String) {
        let _ = write!(
            s,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"0\"",
            attr(&self.name),
            self.cases.len(),
            self.failures(),
            self.errors()
        );
        if let Some(t) = self.time {
            let _ = write!(s, " time=\"{t:.3}\"");
        }
        s.push_str(">\n    <properties>\n");
        for (k, v) in &self.properties {
            let _ = writeln!(s, "      <property name=\"{k}\" value=\"{}\"/>", attr(v));
        }
        s.push_str("    </properties>\n");
        for c in &self.cases {
            let _ = write!(
                s,
                "    <testcase classname=\"{}\" name=\"{}\"",
                attr(&c.classname),
                attr(&c.name)
            );
            if c.failure.is_none() && c.error.is_none() && c.out.is_empty() {
                s.push_str("/>\n");
                continue;
            }
            s.push_str(">\n");
            if let Some((message, kind, body)) = &c.failure {
                let _ = writeln!(
                    s,
                    "      <failure message=\"{}\" type=\"{}\">{}</failure>",
                    attr(message),
                    attr(kind),
                    text(body)
                );
            }
            if let Some((message, body)) = &c.error {
                let _ = writeln!(
                    s,
                    "      <error message=\"{}\" type=\"unreadable\">{}</error>",
                    attr(message),
                    text(body)
                );
            }
            if !c.out.is_empty() {
                let _ = writeln!(
                    s,
                    "      <system-out>{}</system-out>",
                    text(&c.out.join("\n"))
                );
            }
            s.push_str("    </testcase>\n");
        }
        s.push_str("  </testsuite>\n");
    }
}

fn suite(at: &Indexed<'_>) -> Suite {
    let r = at.report;
    let classname = at.group();
    let mut cases: BTreeMap<Vec<u8>, Case> = BTreeMap::new();
    for delta in &r.artifacts {
        case(&mut cases, &classname, at.path(&delta.artifact.first().0));
    }
    let mut by_top: BTreeMap<Vec<u8>, Vec<&Finding>> = BTreeMap::new();
    for f in at.roots() {
        by_top
            .entry(at.path(&f.artifact.first().0))
            .or_default()
            .push(f);
    }
    let baseline = r.baseline.as_ref().map(|b| b.path.lossy().into_owned());
    for (path, findings) in by_top {
        let (known, new): (Vec<&Finding>, Vec<&Finding>) =
            findings.iter().partition(|f| is_known(f));
        let c = case(&mut cases, &classname, path);
        if !new.is_empty() {
            c.failure = Some(failure(at, &new, &known));
        } else {
            let mut lines: Vec<String> = known.iter().map(|f| line(at, f, "known")).collect();
            lines.extend(fixes(known.iter()));
            c.out.push(format!(
                "accepted in the baseline {}: {}\n{}",
                baseline.as_deref().unwrap_or("-"),
                ci::count(known.len() as u64, "known finding", "known findings"),
                lines.join("\n")
            ));
        }
    }
    // Outputs that differ and got no finding (all omitted by a limit).
    for c in cases.values_mut() {
        if c.failure.is_none() && c.out.is_empty() {
            c.failure = Some((
                "differs between the builds".to_owned(),
                "differs".to_owned(),
                "the output differs; its findings were omitted by the per-artifact limit"
                    .to_owned(),
            ));
        }
    }
    for e in at.fixed() {
        let c = case(&mut cases, &classname, at.path(ci::entry_top(e).as_bytes()));
        c.out.push(fixed_note(e));
    }
    for u in &r.unreadable {
        let c = case(&mut cases, &classname, at.path(&u.path.0));
        let message = format!(
            "could not read on side {}: {}",
            u.side,
            printable(&u.reason)
        );
        c.error = Some(match c.error.take() {
            Some((m, body)) => (m, format!("{body}\n{message}")),
            None => (message.clone(), message),
        });
    }
    let mut cases: Vec<Case> = cases.into_values().collect();
    if r.summary.identical > 0 {
        cases.push(Case {
            classname: classname.clone(),
            name: "identical outputs".to_owned(),
            out: vec![format!(
                "{} identical in both builds",
                ci::count(r.summary.identical, "output is", "outputs are")
            )],
            ..Case::default()
        });
    }
    let mut properties = vec![
        ("command", r.envelope.command.name().to_owned()),
        ("verdict", r.verdict().name().to_owned()),
    ];
    if let Some(t) = at.target() {
        properties.push(("target", t.to_owned()));
    }
    if let Some(info) = &r.audit {
        properties.push(("source", info.source.lossy().into_owned()));
    }
    if let Some(b) = &r.baseline {
        properties.push(("baseline", b.path.lossy().into_owned()));
        properties.push(("new", b.new.to_string()));
        properties.push(("known", b.known.to_string()));
        properties.push(("fixed", b.fixed.len().to_string()));
    }
    Suite {
        name: at.label(),
        time: r.audit.as_ref().map(|a| {
            let t = &a.timings;
            t.staging + t.builds + t.hashing + t.comparing + t.bisect
        }),
        properties,
        cases,
    }
}

/// The case of an output, made on first use.
fn case<'m>(
    cases: &'m mut BTreeMap<Vec<u8>, Case>,
    classname: &str,
    path: Vec<u8>,
) -> &'m mut Case {
    cases.entry(path).or_insert_with_key(|path| Case {
        classname: classname.to_owned(),
        name: Text::new(path.clone()).lossy().into_owned(),
        ..Case::default()
    })
}

/// The failure of an output: a one-line message (the first new finding,
/// and how many more), the cause names as its type, every finding in the
/// body.
fn failure(at: &Indexed<'_>, new: &[&Finding], known: &[&Finding]) -> (String, String, String) {
    let first = new.first().expect("a failure has a new finding");
    let mut message = format!(
        "{} differs between the builds: {}",
        first.artifact,
        ci::describe(first)
    );
    if new.len() > 1 {
        let _ = write!(
            message,
            " (and {} more)",
            ci::count(new.len() as u64 - 1, "new finding", "new findings")
        );
    }
    let mut causes: Vec<&str> = new.iter().map(|f| f.cause.name()).collect();
    causes.sort_unstable();
    causes.dedup();
    let mut body: Vec<String> = new.iter().map(|f| line(at, f, "new")).collect();
    body.extend(known.iter().map(|f| line(at, f, "known")));
    body.extend(fixes(new.iter().chain(known)));
    (message, causes.join(","), body.join("\n"))
}

/// One finding in a case's body: state, where, what, and how to fix it.
fn line(at: &Indexed<'_>, f: &Finding, state: &str) -> String {
    let state = if at.report.baseline.is_some() {
        format!("[{state}] ")
    } else {
        String::new()
    };
    let mut s = format!("{state}{}", ci::describe_at(f));
    if let Some(v) = &f.variation {
        let _ = write!(s, "\n    varied: {v}");
    }
    let consequences = at.consequences(f).len();
    if consequences > 0 {
        let _ = write!(s, "\n    {}", ci::follow(consequences));
    }
    s
}

/// The fix hints of some findings, each once.
fn fixes<'f>(findings: impl Iterator<Item = &'f &'f Finding>) -> Vec<String> {
    let mut hints: Vec<&str> = findings.map(|f| f.hint).collect();
    hints.sort_unstable();
    hints.dedup();
    hints.into_iter().map(|h| format!("fix: {h}")).collect()
}

fn fixed_note(e: &BaselineEntry) -> String {
    printable(&format!(
        "fixed: {} no longer differs ({}: {}); `twice baseline update` removes it from the baseline",
        e.artifact, e.cause, e.evidence
    ))
    .into_owned()
}

/// Characters XML 1.0 cannot hold even as references become U+FFFD.
fn xml_char(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' => c,
        c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => '\u{fffd}',
        c => c,
    }
}

/// Escaped for an attribute value (quoted with `"`); line breaks and tabs
/// as references, so parsers keep them.
fn attr(s: &str) -> String {
    escape(s, true)
}

/// Escaped for element content.
fn text(s: &str) -> String {
    escape(s, false)
}

fn escape(s: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(xml_char) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escaping_covers_markup_and_controls() {
        assert_eq!(attr("a<b>&\"c'\n"), "a&lt;b&gt;&amp;&quot;c&apos;&#10;");
        assert_eq!(text("x < y && z\u{1}"), "x &lt; y &amp;&amp; z\u{fffd}");
    }
}
