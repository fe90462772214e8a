//! The evidence, per artifact. Without `--verbose`: consequences collapse
//! into one line per artifact, a problem shows at most a few findings per
//! artifact, and artifacts whose findings have the same shape as one
//! already shown (the same problems, the same places but for the names)
//! are listed on one line.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::evidence::finding;
use super::problems::number_of;
use super::{Paint, Style};
use crate::finding::{Cause, Finding, Location};
use crate::report::Report;

/// Findings of one problem shown per artifact without `--verbose`.
const PER_PROBLEM: usize = 3;

/// What makes two artifacts' findings look alike: per finding, its
/// problem, cause and the kind of place (offsets and names left out).
type Shape = Vec<(Option<usize>, &'static str, &'static str)>;

fn shape(report: &Report, findings: &[&Finding]) -> Shape {
    findings
        .iter()
        .map(|f| {
            let place = match &f.location {
                Location::File => "file",
                Location::Metadata { .. } => "metadata",
                Location::Lines { .. } => "lines",
                Location::Bytes { .. } => "bytes",
                Location::Field { .. } => "field",
            };
            (number_of(report, f), f.cause.name(), place)
        })
        .collect()
}

pub(super) fn section(report: &Report, p: &Paint, st: Style, s: &mut String) {
    if report.findings.is_empty() {
        return;
    }
    let mut by_artifact: BTreeMap<String, Vec<&Finding>> = BTreeMap::new();
    for f in &report.findings {
        by_artifact
            .entry(f.artifact.to_string())
            .or_default()
            .push(f);
    }
    let deltas: BTreeMap<String, _> = report
        .artifacts
        .iter()
        .map(|d| (d.artifact.to_string(), d))
        .collect();
    let _ = writeln!(
        s,
        "\n{}{}",
        p.bold("Findings"),
        if st.verbose {
            ""
        } else {
            "  (consequences and repeats collapsed; --verbose shows all)"
        }
    );
    // Shapes already shown, with the artifacts that repeat them.
    let mut shown: Vec<(Shape, String, Vec<String>)> = Vec::new();
    for (name, findings) in &by_artifact {
        let sh = shape(report, findings);
        if !st.verbose
            && let Some((_, _, like)) = shown.iter_mut().find(|(x, _, _)| *x == sh)
        {
            like.push(name.clone());
            continue;
        }
        let _ = write!(s, "\n{}", p.bold(name));
        if let Some(d) = deltas.get(name) {
            if let Some(format) = d.format {
                let _ = write!(s, "  {}", p.dim(&format.name().to_lowercase()));
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
        artifact(report, findings, p, st, s);
        shown.push((sh, name.clone(), Vec::new()));
    }
    for (_, first, like) in shown.iter().filter(|(_, _, like)| !like.is_empty()) {
        let _ = writeln!(
            s,
            "\n{} {}",
            p.dim(&format!("like {first}:")),
            like.join(", ")
        );
    }
}

fn artifact(report: &Report, findings: &[&Finding], p: &Paint, st: Style, s: &mut String) {
    let mut per_problem: BTreeMap<Option<usize>, usize> = BTreeMap::new();
    let mut folded: BTreeMap<Option<usize>, usize> = BTreeMap::new();
    let mut consequences = 0usize;
    for f in findings {
        let number = number_of(report, f);
        if !st.verbose && matches!(f.cause, Cause::Consequence { .. }) {
            consequences += 1;
            continue;
        }
        let n = per_problem.entry(number).or_default();
        *n += 1;
        if !st.verbose && *n > PER_PROBLEM {
            *folded.entry(number).or_default() += 1;
            continue;
        }
        finding(f, number, p, st, s);
    }
    for (number, n) in folded {
        let of = number.map_or_else(String::new, |k| format!(" of problem {k}"));
        let _ = writeln!(s, "  {}", p.dim(&format!("… and {n} more{of}")));
    }
    if consequences > 0 {
        let _ = writeln!(
            s,
            "  {}",
            p.dim(&format!(
                "… and {consequences} consequence{} of the changes above (offsets, sizes, hashes that follow)",
                if consequences == 1 { "" } else { "s" }
            ))
        );
    }
}
