//! GitHub Actions workflow commands: `::error`, `::warning` and `::notice`
//! lines that the runner turns into annotations on the run and, where the
//! file is part of the pull request, on its diff.
//!
//! Errors are new findings (every finding, without a baseline), warnings
//! known (baselined) ones, notices accepted findings that no longer occur.
//! GitHub shows 10 errors, 10 warnings and 10 notices per step and 50 per
//! job and drops the rest silently (FIELD-NOTES "CI conventions"), so the
//! most important come first (see [`super::ci::ranked`]: new findings of
//! the most expensive problems, one per problem before the second of any),
//! and one last notice says how many more there are and where to find them.
//!
//! An annotation points at the problem's source line when the problem has
//! exactly one (the line that embeds `__DATE__`, the script line that
//! writes the date): that is the place to change, and it can show on the
//! pull request's diff. Otherwise it points at the artifact, with its line
//! for text files. Escaping follows `@actions/core` (`command.ts`): data
//! `%`, `\r`, `\n`; property values also `:` and `,`.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::ci::{self, Indexed, Item, is_known};
use super::text::title;
use super::{BaselineEntry, Report};
use crate::finding::{Location, Text, printable};

/// Annotations of each kind GitHub shows per step.
pub const PER_STEP: usize = 10;

/// Render the reports as workflow commands, at most [`PER_STEP`] of each
/// kind (the last notice is the summary of what was left out).
pub fn render_annotations(reports: &[Report], out: &mut dyn Write) -> io::Result<()> {
    let indexed = ci::index(reports);
    let several = indexed.len() > 1;
    let ranked = ci::ranked(&indexed);
    let mut s = String::new();

    let unreadable: Vec<(&Indexed, &crate::diff::Unreadable)> = indexed
        .iter()
        .flat_map(|at| at.report.unreadable.iter().map(move |u| (at, u)))
        .collect();
    let (known, new): (Vec<&Item>, Vec<&Item>) = ranked.iter().partition(|i| is_known(i.finding));
    let fixed: Vec<(&Indexed, &BaselineEntry)> = indexed
        .iter()
        .flat_map(|at| at.fixed().iter().map(move |e| (at, e)))
        .collect();

    // Unreadable inputs first: they make the verdict incomplete (exit 2).
    let errors = unreadable.len() + new.len();
    for (at, u) in unreadable.iter().take(PER_STEP) {
        let props = Props {
            file: Some(Text::new(at.path(&u.path.0)).lossy().into_owned()),
            line: None,
            end_line: None,
            title: heading(at, several, "could not read an input"),
        };
        let msg = format!(
            "could not read {} on side {}: {}",
            u.path.lossy(),
            u.side,
            printable(&u.reason)
        );
        command(&mut s, "error", &props, &msg);
    }
    let room = PER_STEP.saturating_sub(unreadable.len());
    for item in new.iter().take(room) {
        finding(&mut s, "error", item, several, "new");
    }
    for item in known.iter().take(PER_STEP) {
        finding(&mut s, "warning", item, several, "known");
    }
    let left_new = errors.saturating_sub(PER_STEP);
    let left_known = known.len().saturating_sub(PER_STEP);
    // One notice stays free for the summary, when there is one.
    let notices = if left_new + left_known > 0 || fixed.len() > PER_STEP {
        PER_STEP - 1
    } else {
        PER_STEP
    };
    for (at, e) in fixed.iter().take(notices) {
        let props = Props {
            file: Some(
                Text::new(at.path(ci::entry_top(e).as_bytes()))
                    .lossy()
                    .into_owned(),
            ),
            line: None,
            end_line: None,
            title: heading(at, several, "fixed, still in the baseline"),
        };
        let msg = format!(
            "{} no longer differs ({}: {}).\n`twice baseline update` removes it from the baseline.",
            printable(&e.artifact),
            printable(&e.cause),
            printable(&e.evidence)
        );
        command(&mut s, "notice", &props, &msg);
    }

    let left_fixed = fixed.len().saturating_sub(notices);
    let left = left_new + left_known + left_fixed;
    if left > 0 {
        let props = Props {
            file: None,
            line: None,
            end_line: None,
            title: "twice: more findings".to_owned(),
        };
        let msg = format!(
            "{} not annotated (GitHub shows {PER_STEP} errors, {PER_STEP} warnings and {PER_STEP} \
             notices per step): {left_new} new, {left_known} known, {left_fixed} fixed.\n\
             The full list is in twice's output in this step's log, and in its Markdown \
             summary, SARIF and JUnit reports where the workflow writes them \
             (`--report markdown=$GITHUB_STEP_SUMMARY --report sarif=twice.sarif --report junit=twice.xml`).",
            ci::count(left as u64, "more", "more")
        );
        command(&mut s, "notice", &props, &msg);
    }
    out.write_all(s.as_bytes())
}

/// `twice: TITLE`, or `twice [TARGET]: TITLE` when several targets are
/// annotated together.
fn heading(at: &Indexed<'_>, several: bool, what: &str) -> String {
    if several {
        format!("twice [{}]: {what}", at.label())
    } else {
        format!("twice: {what}")
    }
}

fn finding(s: &mut String, level: &str, item: &Item<'_, '_>, several: bool, state: &str) {
    let (at, f) = (item.at, item.finding);
    let problem = item.problem.map(|(_, p)| p);
    let mut what = problem.map_or_else(|| f.cause.to_string(), title);
    if at.report.baseline.is_some() {
        let _ = write!(what, " ({state})");
    }
    let mut props = Props {
        file: Some(at.path_of(f)),
        line: None,
        end_line: None,
        title: heading(at, several, &what),
    };
    match (problem.map(|p| p.sources.as_slice()), &f.location) {
        (Some([only]), _) if !only.file.0.starts_with(b"/") => {
            props.file = Some(Text::new(at.path(&only.file.0)).lossy().into_owned());
            props.line = Some(only.line);
        }
        (_, Location::Lines { a, .. }) if f.artifact.depth() == 0 && a.start >= 1 => {
            props.line = Some(a.start);
            props.end_line = (a.count > 1).then(|| a.start + a.count - 1);
        }
        _ => {}
    }
    let mut msg = format!(
        "{} differs between the builds: {}",
        f.artifact,
        ci::describe(f)
    );
    if let Some(v) = &f.variation {
        let _ = write!(msg, "\nvaried: {v}");
    }
    let consequences = at.consequences(f).len();
    if consequences > 0 {
        let _ = write!(msg, "\n{}", ci::follow(consequences));
    }
    for src in problem.map(|p| p.sources.as_slice()).unwrap_or_default() {
        let certainty = match src.certainty {
            super::Certainty::Certain => "source",
            super::Certainty::Likely => "likely source",
        };
        let _ = write!(
            msg,
            "\n{certainty}: {}:{}: {}",
            src.file.lossy(),
            src.line,
            src.text.lossy()
        );
    }
    let _ = write!(msg, "\nfix: {}", f.hint);
    command(s, level, &props, &msg);
}

struct Props {
    file: Option<String>,
    line: Option<u64>,
    end_line: Option<u64>,
    title: String,
}

fn command(s: &mut String, level: &str, props: &Props, msg: &str) {
    let mut parts: Vec<String> = Vec::new();
    if let Some(file) = &props.file {
        parts.push(format!("file={}", property(file)));
    }
    if let Some(line) = props.line {
        parts.push(format!("line={line}"));
    }
    if let Some(end) = props.end_line {
        parts.push(format!("endLine={end}"));
    }
    parts.push(format!("title={}", property(&props.title)));
    let _ = writeln!(s, "::{level} {}::{}", parts.join(","), data(msg));
}

/// A message, escaped as `@actions/core` escapes command data.
pub(crate) fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value, escaped as `@actions/core` escapes them.
pub(crate) fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_actions_core() {
        assert_eq!(data("50% done\r\nnext: a,b"), "50%25 done%0D%0Anext: a,b");
        assert_eq!(property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }
}
