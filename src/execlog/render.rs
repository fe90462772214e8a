//! The human `execlog` report: a summary table, the roots worst first with
//! their reasons, taint chains and output comparisons, then failed,
//! tainted and unpaired actions, the cache misses with
//! `--explain-misses`, and what the logs could not say.

use std::fmt::Write as _;
use std::io::Write;

use comfy_table::{ContentArrangement, Table, presets};

use super::report::{
    ActionDelta, ActionRef, Class, ExeclogReport, Limitation, LogInput, MissReport, MissWhy,
    NameCount, OutputComparison, OutputDelta, Reason, RunInfo,
};
use crate::finding::Side;
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
        Class::Failed => "failed",
        Class::Tainted => "tainted",
        Class::NotCompared => "not compared",
        Class::Identical => "identical",
    }
}

fn name(a: &ActionRef) -> String {
    let label = a.label.as_deref().unwrap_or("(no label)");
    match &a.primary_output {
        Some(p) => format!("{label} {} {p}", a.mnemonic),
        None => format!("{label} {}", a.mnemonic),
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
        Reason::Timeout { a, b } => format!("timeout differs: A {a} ms, B {b} ms"),
        Reason::DigestFunction { a, b } => format!(
            "digest function differs (--digest_function): A {a}, B {b}; every digest differs"
        ),
        Reason::InputsNotCompared => {
            "inputs not compared: the budget of expanded inputs ran out".to_owned()
        }
        Reason::ActionKey { a, b } => format!(
            "action digest differs (A {a}, B {b}); the log does not record what makes it differ"
        ),
    }
}

fn run_text(r: &RunInfo) -> String {
    let mut s = match (&r.status, r.exit_code) {
        (Some(st), code) => format!("exit {code}, {st}"),
        (None, code) => format!("exit {code}"),
    };
    if let Some(e) = r.std_err.as_deref().filter(|e| !e.is_empty()) {
        let _ = write!(s, ", stderr {:?}", e.trim_end());
    }
    s
}

fn output_line(s: &mut String, o: &OutputDelta) {
    let side = |d: &Option<String>, link: &Option<String>| match (d, link) {
        (_, Some(t)) => format!("symlink → {t}"),
        (Some(d), None) => d.clone(),
        (None, None) => "(missing)".to_owned(),
    };
    let _ = writeln!(
        s,
        "     output {}: A {}, B {}{}",
        o.path,
        side(&o.a, &o.symlink_a),
        side(&o.b, &o.symlink_b),
        if o.inferred {
            " (not in the log: what its consumers read)"
        } else {
            ""
        }
    );
}

fn input_line(i: &LogInput) -> String {
    let layout = i.layout.map(|l| format!(", {l}")).unwrap_or_default();
    format!(
        "{} ({}{layout}, {} actions)",
        i.path.lossy(),
        i.format,
        i.actions
    )
}

fn names(list: &[NameCount]) -> String {
    list.iter()
        .map(|n| format!("{} ×{}", n.name, n.count))
        .collect::<Vec<_>>()
        .join(", ")
}

fn limitation(l: &Limitation) -> String {
    match l {
        Limitation::NoInputsOrOutputs { side } => format!(
            "note: log {side} records no inputs or outputs (Buck2 what-ran): no taint analysis"
        ),
        Limitation::NoCommandLines { side, actions } => {
            format!("note: log {side} has no command line for {actions} remote or cached actions")
        }
        Limitation::EmptyLog { side, bytes } => format!(
            "note: log {side} holds no actions ({bytes} bytes). Bazel writes an empty log when \
             nothing executed: every action came from its action cache. For a log to compare, \
             run `bazel clean` (or use a fresh --output_base) and build again, with \
             --noremote_accept_cached or --disk_cache= so that spawns a cache would answer \
             execute and are logged"
        ),
        Limitation::UnknownFields { side, fields } => format!(
            "warning: log {side} has fields this version of twice does not read ({}); what they \
             hold was not compared",
            names(fields)
        ),
        Limitation::NoFilesAtAll { side, actions } => format!(
            "warning: none of the {actions} actions of log {side} has inputs or outputs: the \
             log's layout was not understood, so nothing but command lines was compared"
        ),
        Limitation::UnknownExecutors { side, executors } => format!(
            "warning: log {side} has executor kinds this version of twice does not know ({}); \
             compared by what their records carry",
            names(executors)
        ),
        Limitation::DigestFunctions { a, b } => format!(
            "warning: the builds used different digest functions (A {a}, B {b}): inputs and \
             outputs cannot be compared; build both with the same --digest_function"
        ),
        Limitation::InputBudget { actions } => format!(
            "warning: the inputs of {actions} pairs were not compared (too many inputs to expand)"
        ),
        Limitation::SymlinksNotRecorded { side } => format!(
            "note: log {side} cannot list unresolved symlinks among outputs (Bazel before 5): \
             their consumers' inputs are the evidence"
        ),
    }
}

fn miss_why(w: &MissWhy) -> String {
    match w {
        MissWhy::Upstream { roots, paths } => format!(
            "inputs changed because of {} ({})",
            roots.iter().map(name).collect::<Vec<_>>().join(", "),
            paths.join(", ")
        ),
        MissWhy::KeyChanged { reasons } => format!(
            "its key changed: {}",
            reasons.iter().map(reason).collect::<Vec<_>>().join("; ")
        ),
        MissWhy::SameKey => {
            "same key as the baseline and still executed: the cache entry was evicted or never \
             uploaded"
                .to_owned()
        }
        MissWhy::NotCacheable {
            cacheable,
            remote_cacheable,
            remotable,
        } => format!(
            "may not be cached (cacheable {cacheable}, remote_cacheable {remote_cacheable}, \
             remotable {remotable}: a no-cache, no-remote-cache or no-remote tag, or the rule)"
        ),
        MissWhy::Failed { status, exit_code } => format!(
            "failed (exit {exit_code}{}): failures are not cached",
            status
                .as_deref()
                .map(|s| format!(", {s}"))
                .unwrap_or_default()
        ),
        MissWhy::New => "not in the baseline build".to_owned(),
        MissWhy::AfterUpstream { upstream } => format!(
            "reads outputs of actions that also executed: {}",
            upstream.iter().map(name).collect::<Vec<_>>().join(", ")
        ),
        MissWhy::NotInCache => {
            "its key was not in the cache (new sources or flags, or a cold or evicted cache; \
             compare with --baseline to tell)"
                .to_owned()
        }
    }
}

fn render_misses(s: &mut String, m: &MissReport, on: bool, baseline: bool) {
    let _ = writeln!(
        s,
        "\n{}",
        paint(
            on,
            "1",
            &format!(
                "Cache misses: {} of {} spawns executed, {} came from the cache",
                m.executed, m.spawns, m.hits
            )
        )
    );
    if m.executed > 0 && baseline {
        let _ = writeln!(
            s,
            "  {} of {} executed actions would have hit the cache but for {} non-deterministic action{}",
            m.would_have_hit,
            m.executed,
            m.nondeterministic_roots,
            if m.nondeterministic_roots == 1 {
                ""
            } else {
                "s"
            }
        );
    } else if m.executed > 0 {
        let after = m
            .by_kind
            .iter()
            .find(|k| k.name == "after_upstream")
            .map_or(0, |k| k.count);
        let _ = writeln!(
            s,
            "  {after} of {} executed actions read outputs of actions that also executed \
             (--baseline says whether those changed)",
            m.executed
        );
    }
    if !m.by_root.is_empty() {
        let _ = writeln!(s, "  Roots of the misses:");
        for r in m.by_root.iter().take(LISTED) {
            let class = r.class.map(class_name).unwrap_or("executed");
            let _ = writeln!(s, "  {:>8}  {}  ({class})", r.misses, name(&r.action));
        }
    }
    for miss in m.misses.iter().take(LISTED) {
        let _ = writeln!(s, "  {}\n      {}", name(&miss.action), miss_why(&miss.why));
    }
    if m.misses.len() > LISTED {
        let _ = writeln!(s, "  … and {} more", m.misses.len() - LISTED);
    }
}

fn render_outputs(s: &mut String, d: &ActionDelta, opts: TextOptions) -> std::io::Result<()> {
    for o in &d.outputs {
        output_line(s, o);
        match &o.comparison {
            None => {}
            Some(OutputComparison::Missing { side }) => {
                let _ = writeln!(s, "       not in the output tree of {side}");
            }
            Some(OutputComparison::Failed { error }) => {
                let _ = writeln!(s, "       not compared: {error}");
            }
            Some(OutputComparison::Symlink { a, b }) => {
                let _ = writeln!(s, "       symlinks: A → {a}, B → {b}");
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
    Ok(())
}

pub fn render_text(
    r: &ExeclogReport,
    opts: TextOptions,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let on = opts.color;
    let mut s = String::new();
    for (side, i) in [
        (Side::A, &r.envelope.inputs.a),
        (Side::B, &r.envelope.inputs.b),
    ] {
        if let Some(i) = i {
            let _ = writeln!(s, "{side}: {}", input_line(i));
        }
    }
    let m = &r.summary;
    if r.envelope.inputs.a.is_some() {
        let mut header = vec![
            "paired",
            "identical",
            "non-deterministic",
            "non-hermetic",
            "tainted",
        ];
        let mut row = vec![
            m.paired,
            m.identical,
            m.non_deterministic,
            m.non_hermetic,
            m.tainted,
        ];
        for (title, n) in [
            ("unexplained", m.unexplained),
            ("failed", m.failed),
            ("not compared", m.not_compared),
        ] {
            if n > 0 || title == "unexplained" {
                header.push(title);
                row.push(n);
            }
        }
        header.extend(["only in A", "only in B"]);
        row.extend([m.only_a, m.only_b]);
        let mut t = Table::new();
        t.load_style(presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(header);
        t.add_row(row);
        let _ = writeln!(s, "{t}");
    }

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
            for (side, run) in [("A", &d.run_a), ("B", &d.run_b)] {
                if let Some(e) = run.std_err.as_deref().filter(|e| !e.is_empty()) {
                    let _ = writeln!(s, "     stderr in {side}: {:?}", e.trim_end());
                }
            }
            render_outputs(&mut s, d, opts)?;
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

    for (class, title) in [
        (Class::Failed, "Failed"),
        (Class::NotCompared, "Not compared"),
    ] {
        let list: Vec<&ActionDelta> = r.actions.iter().filter(|d| d.class == class).collect();
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "\n{}",
            paint(on, "1", &format!("{title} ({})", list.len()))
        );
        for d in list.iter().take(LISTED) {
            match d.failure.as_ref().map(|f| f.side) {
                Some(Some(side)) => {
                    let (bad, good) = match side {
                        Side::A => (&d.run_a, Side::B),
                        Side::B => (&d.run_b, Side::A),
                    };
                    let _ = writeln!(
                        s,
                        "  {}  failed in {side} ({}), passed in {good}",
                        name(&d.action),
                        run_text(bad)
                    );
                }
                Some(None) => {
                    let _ = writeln!(
                        s,
                        "  {}  failed in both, differently: A ({}), B ({})",
                        name(&d.action),
                        run_text(&d.run_a),
                        run_text(&d.run_b)
                    );
                }
                None => {
                    let _ = writeln!(
                        s,
                        "  {}  nothing to compare: A ran by {}, B by {}",
                        name(&d.action),
                        d.runner_a,
                        d.runner_b
                    );
                }
            }
            for why in &d.reasons {
                let _ = writeln!(s, "     also: {}", reason(why));
            }
        }
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
                        u.action.label.as_deref().unwrap_or("(no label)"),
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
    if let Some(misses) = &r.misses {
        render_misses(&mut s, misses, on, r.envelope.inputs.a.is_some());
    }
    for l in &r.limitations {
        let _ = writeln!(s, "\n{}", paint(on, "2", &limitation(l)));
    }
    let verdict = match r.envelope.verdict {
        Verdict::Identical | Verdict::Accepted => "identical: every action matches".to_owned(),
        Verdict::Incomplete => {
            "incomplete: what could be read matches, but not everything could be read".to_owned()
        }
        Verdict::Differs if r.envelope.inputs.a.is_none() => "differs: actions executed".to_owned(),
        Verdict::Differs => format!(
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
        let input = || {
            Some(LogInput {
                path: Text::new("log"),
                format: LogFormat::BazelJson,
                layout: None,
                bytes: 0,
                actions: 60,
            })
        };
        let roots = (0..60)
            .map(|i| Root {
                action: ActionRef {
                    label: Some(format!("//:t{i:02}")),
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
            None,
        );
        let mut out = Vec::new();
        render_text(&report, TextOptions::default(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("//:t49 M"), "{text}");
        assert!(!text.contains("//:t50 M"), "{text}");
        assert!(text.contains("… and 10 more roots"), "{text}");
    }
}
