//! The problems section: one headline, then each root cause in a few
//! lines — what, where, how much it costs, what wrote it, where it comes
//! from in the sources, how to fix it.

use std::fmt::Write as _;

use super::evidence::one_line;
use super::{Paint, human_bytes};
use crate::finding::{BaselineState, Cause, Finding, Text};
use crate::report::{Action, ActionNote, Certainty, Problem, Report};

/// How many artifacts, actions and sources a problem lists before "+N".
const LISTED: usize = 3;

/// A problem's headline: its cause in the words of its scope.
pub(in crate::report) fn title(pr: &Problem) -> String {
    let scoped = |what: &str| match pr.scope.describe() {
        "" => what.to_owned(),
        scope => format!("{what} {scope}"),
    };
    match &pr.cause {
        Cause::BuildPath { .. } => scoped("build path"),
        Cause::Timestamp { .. } => scoped("time"),
        Cause::Environment { what } => scoped(&what.to_string()),
        Cause::Ordering { .. } => scoped("order"),
        Cause::HashOrder { .. } => "set and dict order by hash seed".to_owned(),
        Cause::Permissions => "permission bits of archive members".to_owned(),
        Cause::ArchiveHeader { .. } => {
            "archive member headers (ar not in deterministic mode)".to_owned()
        }
        Cause::Unknown { .. } => "unexplained differences".to_owned(),
        Cause::Consequence { .. } => {
            "differences that follow from an unexplained change".to_owned()
        }
        other => other.to_string(),
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub(super) fn section(report: &Report, p: &Paint, s: &mut String) {
    if report.problems.is_empty() {
        return;
    }
    let sm = &report.summary;
    let files = report.artifacts.len() as u64;
    let _ = writeln!(
        s,
        "\n{} explain {} in {}",
        p.bold(&plural(sm.problems, "problem", "problems")),
        plural(sm.findings + sm.omitted, "difference", "differences"),
        plural(files, "file", "files"),
    );
    if let Some(b) = &report.baseline {
        let _ = writeln!(
            s,
            "against the baseline {}: {} new, {} known, {} fixed",
            b.path.lossy(),
            p.bold(&b.new.to_string()),
            b.known,
            b.fixed.len()
        );
        if !b.fixed.is_empty() {
            let target = report
                .audit
                .as_ref()
                .and_then(|a| a.target.as_deref())
                .unwrap_or("TARGET");
            let _ = writeln!(
                s,
                "  {}",
                p.dim(&format!(
                    "fixed entries are no longer seen: `twice baseline update {target}` removes them"
                ))
            );
            for e in b.fixed.iter().take(LISTED) {
                let _ = writeln!(s, "  fixed: {} {}: {}", e.artifact, e.cause, e.evidence);
            }
            if b.fixed.len() > LISTED {
                let _ = writeln!(
                    s,
                    "  {}",
                    p.dim(&format!("… and {} more", b.fixed.len() - LISTED))
                );
            }
        }
    }
    let by_fp = |fp| report.findings.iter().find(|f| f.fingerprint == fp);
    for (i, pr) in report.problems.iter().enumerate() {
        let mut head = format!("{:>2}  {}", i + 1, p.bold(&title(pr)));
        if let Some(a) = &pr.artifact {
            let _ = write!(head, " in {a}");
        }
        if let Some(v) = &pr.variation {
            let _ = write!(head, "  {}", p.cause(&v.to_string()));
        }
        let new = report
            .findings
            .iter()
            .filter(|f| {
                f.baseline == Some(BaselineState::New) && pr.members.contains(&f.fingerprint)
            })
            .count();
        if report.baseline.is_some() {
            let _ = write!(
                head,
                "  {}",
                if new > 0 {
                    p.bold(&format!("{new} new"))
                } else {
                    p.dim("known")
                }
            );
        }
        let id = pr.id.to_string();
        let _ = writeln!(s, "\n{head}  {}", p.dim(&format!("[{}]", &id[..8])));
        let names: Vec<String> = pr
            .artifacts
            .iter()
            .take(LISTED)
            .map(ToString::to_string)
            .collect();
        let more = pr.artifacts.len().saturating_sub(LISTED);
        let mut counts = plural(pr.findings, "finding", "findings");
        if pr.consequences > 0 {
            let _ = write!(
                counts,
                " and {}",
                plural(pr.consequences, "consequence", "consequences")
            );
        }
        let _ = writeln!(
            s,
            "    {counts} in {} ({} of output): {}{}",
            plural(pr.files, "file", "files"),
            human_bytes(pr.bytes),
            names.join(", "),
            if more > 0 {
                format!(", … (+{more})")
            } else {
                String::new()
            }
        );
        if let Some(f) = by_fp(pr.representative) {
            example(f, p, s);
        }
        for a in pr.actions.iter().take(LISTED) {
            action(a, p, s);
        }
        if pr.actions.len() > LISTED {
            let _ = writeln!(
                s,
                "    {}",
                p.dim(&format!("… and {} more actions", pr.actions.len() - LISTED))
            );
        }
        for src in pr.sources.iter().take(LISTED) {
            let certainty = match src.certainty {
                Certainty::Certain => "",
                Certainty::Likely => " (likely)",
            };
            let _ = writeln!(
                s,
                "    source: {}:{}{certainty}  {}",
                src.file.lossy(),
                src.line,
                p.dim(&src.text.lossy())
            );
        }
        let _ = writeln!(s, "    fix: {}", pr.hint);
    }
}

/// The representative finding on one line: where, and A → B.
fn example(f: &Finding, p: &Paint, s: &mut String) {
    let change = match (one_line(&f.a), one_line(&f.b)) {
        (Some(a), Some(b)) => format!(": {a} {} {b}", p.dim("→")),
        _ => String::new(),
    };
    let _ = writeln!(s, "    e.g. {}, {}{change}", f.artifact, f.location);
}

fn action(a: &Action, p: &Paint, s: &mut String) {
    let argv: Vec<String> = a
        .argv
        .iter()
        .map(|x| {
            let mut w = shell_word(&x.lossy());
            if w.chars().count() > 60 {
                w = w.chars().take(57).collect::<String>() + "…";
            }
            w
        })
        .collect();
    let mut line = argv.join(" ");
    if line.len() > 160 {
        line.truncate(157);
        line.push('…');
    }
    let cwd = match a.cwd.0.as_slice() {
        b"" | b"." => String::new(),
        _ => format!(" (in {})", a.cwd.lossy()),
    };
    let note = match &a.note {
        Some(ActionNote::NoPrefixMap) => "  ← -g without -ffile-prefix-map",
        Some(ActionNote::TimestampPyc) => "  ← no --invalidation-mode checked-hash",
        Some(ActionNote::AbsolutePycPath) => "  ← no -d/-p/-s: absolute co_filename",
        Some(ActionNote::NonDeterministicAr) => "  ← ar without D",
        None => "",
    };
    let wrote: Vec<String> = a
        .wrote
        .iter()
        .take(2)
        .map(Text::lossy)
        .map(Into::into)
        .collect();
    let _ = writeln!(
        s,
        "    action: {line}{cwd}{}  {}",
        p.cause(note),
        p.dim(&format!("wrote {}", wrote.join(", ")))
    );
}

/// A command-line word as a shell would need it.
fn shell_word(w: &str) -> String {
    if !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        w.to_owned()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

/// The problem a finding belongs to (by number, 1-based), for the details.
pub(super) fn number_of(report: &Report, f: &Finding) -> Option<usize> {
    let root = match &f.cause {
        Cause::Consequence { .. } => f.root?,
        _ => f.fingerprint,
    };
    report
        .problems
        .iter()
        .position(|pr| pr.members.contains(&root))
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_needed() {
        assert_eq!(
            shell_word("-ffile-prefix-map=/a=."),
            "-ffile-prefix-map=/a=."
        );
        assert_eq!(shell_word("two words"), "'two words'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word(""), "''");
    }
}
