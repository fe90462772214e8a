//! The human `execlog` report: a summary table, the roots worst first with
//! their reasons, taint chains and output comparisons, then tainted
//! actions and actions found in one log only.

use std::fmt::Write as _;
use std::io::Write;

use comfy_table::{ContentArrangement, Table, presets};

use super::report::{
    ActionDelta, ActionRef, Class, ExeclogReport, Limitation, OutputComparison, Reason,
};
use crate::report::{TextOptions, Verdict, render_text as render_diff_text};

/// Roots, tainted and unpaired actions listed before "… and N more".
const LISTED: usize = 50;
/// Lines of the reason summary.
const REASONS_LISTED: usize = 10;

fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

fn class_name(c: Class) -> &'static str {
    match c {
        Class::NonDeterministic => "non-deterministic",
        Class::NonHermetic => "non-hermetic",
        Class::Unexplained => "unexplained",
        Class::Tainted => "tainted",
        Class::Identical => "identical",
    }
}

fn name(a: &ActionRef) -> String {
    match &a.primary_output {
        Some(p) => format!("{} {} {}", a.label, a.mnemonic, p),
        None => format!("{} {}", a.label, a.mnemonic),
    }
}

fn opt(v: &Option<String>) -> String {
    v.as_ref()
        .map_or_else(|| "(absent)".to_owned(), |v| format!("{v:?}"))
}

fn reason(r: &Reason) -> String {
    match r {
        Reason::Arguments {
            at,
            a,
            b,
            a_len,
            b_len,
        } => format!(
            "command line differs at argument {at}: A {a:?}, B {b:?} ({a_len} and {b_len} arguments)"
        ),
        Reason::Environment { name, a, b } => {
            format!("environment {name}: A {}, B {}", opt(a), opt(b))
        }
        Reason::Platform { name, a, b } => {
            format!("platform property {name}: A {}, B {}", opt(a), opt(b))
        }
        Reason::Input { path, tool, a, b } => format!(
            "{} {path} differs (produced by no logged action): A {}, B {}",
            if *tool { "tool" } else { "source input" },
            a.as_deref().unwrap_or("(absent)"),
            b.as_deref().unwrap_or("(absent)")
        ),
        Reason::ActionKey { a, b } => format!(
            "action digest differs (A {a}, B {b}); the log does not record what makes it differ"
        ),
    }
}

pub fn render_text(
    r: &ExeclogReport,
    opts: TextOptions,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let on = opts.color;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "A: {} ({}, {} actions)\nB: {} ({}, {} actions)",
        r.envelope.inputs.a.path.lossy(),
        r.envelope.inputs.a.format,
        r.envelope.inputs.a.actions,
        r.envelope.inputs.b.path.lossy(),
        r.envelope.inputs.b.format,
        r.envelope.inputs.b.actions
    );
    let m = &r.summary;
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header([
            "paired",
            "identical",
            "non-deterministic",
            "non-hermetic",
            "tainted",
            "unexplained",
            "only in A",
            "only in B",
        ]);
    t.add_row([
        m.paired,
        m.identical,
        m.non_deterministic,
        m.non_hermetic,
        m.tainted,
        m.unexplained,
        m.only_a,
        m.only_b,
    ]);
    let _ = writeln!(s, "{t}");

    let deltas: std::collections::HashMap<&ActionRef, &ActionDelta> =
        r.actions.iter().map(|d| (&d.action, d)).collect();
    if !m.by_reason.is_empty() {
        let _ = writeln!(s, "\n{}", paint(on, "1", "Why cache keys differ (actions)"));
        for c in m.by_reason.iter().take(REASONS_LISTED) {
            let what = match (&c.name, c.kind) {
                (Some(name), kind) => format!("{} {name}", kind.replace('_', " ")),
                (None, "arguments") => "command line".to_owned(),
                (None, "action_key") => "action digest, nothing logged explains it".to_owned(),
                (None, kind) => kind.replace('_', " "),
            };
            let _ = writeln!(s, "  {:>8}  {what}", c.actions);
        }
        if m.by_reason.len() > REASONS_LISTED {
            let _ = writeln!(s, "  … and {} more", m.by_reason.len() - REASONS_LISTED);
        }
    }
    if !r.roots.is_empty() {
        let _ = writeln!(s, "\n{}", paint(on, "1", "Roots, worst first"));
    }
    for (n, root) in r.roots.iter().enumerate().take(LISTED) {
        let _ = writeln!(
            s,
            "{:>3}. {}  {}  tainted {} ({} direct)",
            n + 1,
            paint(on, "1", &name(&root.action)),
            paint(on, "1;33", class_name(root.class)),
            root.tainted,
            root.direct
        );
        if let Some(d) = deltas.get(&root.action) {
            for why in &d.reasons {
                let _ = writeln!(s, "     {}", reason(why));
            }
            for o in &d.outputs {
                let _ = writeln!(
                    s,
                    "     output {}: A {}, B {}",
                    o.path,
                    o.a.as_deref().unwrap_or("(missing)"),
                    o.b.as_deref().unwrap_or("(missing)")
                );
                match &o.comparison {
                    None => {}
                    Some(OutputComparison::Missing { side }) => {
                        let _ = writeln!(s, "       not in the output tree of {side}");
                    }
                    Some(OutputComparison::Failed { error }) => {
                        let _ = writeln!(s, "       not compared: {error}");
                    }
                    Some(OutputComparison::Compared { report, .. }) => {
                        let mut buf = Vec::new();
                        render_diff_text(report.as_ref(), opts, &mut buf)?;
                        for line in String::from_utf8_lossy(&buf).lines() {
                            let _ = writeln!(s, "       {line}");
                        }
                    }
                }
            }
        }
        if root.chain.len() > 1 {
            let chain: Vec<String> = root.chain.iter().map(name).collect();
            let _ = writeln!(s, "     chain: {}", chain.join("\n         → "));
        }
    }

    if r.roots.len() > LISTED {
        let _ = writeln!(
            s,
            "  … and {} more roots (all of them in --format json)",
            r.roots.len() - LISTED
        );
    }

    let tainted: Vec<&ActionDelta> = r
        .actions
        .iter()
        .filter(|d| d.class == Class::Tainted)
        .collect();
    if !tainted.is_empty() {
        let _ = writeln!(
            s,
            "\n{}",
            paint(on, "1", &format!("Tainted actions ({})", tainted.len()))
        );
        for d in tainted.iter().take(LISTED) {
            let by: Vec<String> = d
                .tainted_by
                .iter()
                .map(|u| {
                    format!(
                        "{} {} ({})",
                        u.action.label,
                        u.action.mnemonic,
                        u.paths.join(", ")
                    )
                })
                .collect();
            let _ = writeln!(s, "  {}  ← {}", name(&d.action), by.join("; "));
        }
        if tainted.len() > LISTED {
            let _ = writeln!(s, "  … and {} more", tainted.len() - LISTED);
        }
    }
    for (side, list) in [("A", &r.only_a), ("B", &r.only_b)] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "\n{}",
            paint(on, "1", &format!("Only in {side} ({})", list.len()))
        );
        for a in list.iter().take(LISTED) {
            let _ = writeln!(s, "  {}", name(a));
        }
        if list.len() > LISTED {
            let _ = writeln!(s, "  … and {} more", list.len() - LISTED);
        }
    }
    for l in &r.limitations {
        let _ = writeln!(
            s,
            "\n{}",
            paint(
                on,
                "2",
                &match l {
                    Limitation::NoInputsOrOutputs { side } => format!(
                        "note: log {side} records no inputs or outputs (Buck2 what-ran): no taint analysis"
                    ),
                    Limitation::NoCommandLines { side, actions } => format!(
                        "note: log {side} has no command line for {actions} remote or cached actions"
                    ),
                }
            )
        );
    }
    let verdict = match r.envelope.verdict {
        Verdict::Identical => "identical: every action matches".to_owned(),
        _ => format!(
            "differs: {} root{}, {} tainted action{}",
            r.roots.len(),
            if r.roots.len() == 1 { "" } else { "s" },
            m.tainted,
            if m.tainted == 1 { "" } else { "s" }
        ),
    };
    let _ = writeln!(s, "\n{}", paint(on, "1", &verdict));
    out.write_all(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execlog::error::LogFormat;
    use crate::execlog::report::{ExeclogSummary, LogInput, LogInputs, Root};
    use crate::finding::Text;

    #[test]
    fn long_root_lists_are_cut_in_text() {
        let input = || LogInput {
            path: Text::new("log"),
            format: LogFormat::BazelJson,
            actions: 60,
        };
        let roots = (0..60)
            .map(|i| Root {
                action: ActionRef {
                    label: format!("//:t{i:02}"),
                    mnemonic: "M".to_owned(),
                    primary_output: None,
                },
                class: Class::NonHermetic,
                tainted: 0,
                direct: 0,
                chain: vec![],
            })
            .collect();
        let report = ExeclogReport::new(
            LogInputs {
                a: input(),
                b: input(),
            },
            ExeclogSummary::default(),
            roots,
            vec![],
            (vec![], vec![]),
            vec![],
        );
        let mut out = Vec::new();
        render_text(&report, TextOptions::default(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("//:t49 M"), "{text}");
        assert!(!text.contains("//:t50 M"), "{text}");
        assert!(text.contains("… and 10 more roots"), "{text}");
    }
}
