//! The one report model and its renderers.
//!
//! A [`Report`] is assembled once, from a [`Comparison`] and, for audits,
//! the facts of how the builds ran ([`AuditInfo`]). Every number a renderer
//! shows is in the model; renderers take a `&Report` and format it, none
//! recomputes anything. The envelope (schema version, tool, command,
//! inputs, verdict) is shared with the other commands' reports.
//!
//! Renderers: text and JSON for one report; for CI, SARIF
//! ([`render_sarif`]), JUnit XML ([`render_junit`]), GitHub workflow
//! commands ([`render_annotations`]) and a Markdown summary
//! ([`render_markdown`]), each over `&[Report]` (one per target of `twice
//! audit --all`) and each in its own file; `ci.rs` holds what they share.

mod annotations;
mod audit;
mod ci;
mod gate;
mod json;
mod junit;
mod markdown;
mod problems;
mod sarif;
mod text;

pub use annotations::{PER_STEP as ANNOTATIONS_PER_STEP, render_annotations};
pub use audit::{
    AuditInfo, AuditWarning, BisectInfo, MissingTool, RunInfo, SandboxKind, SkipReason, Timings,
    VariationState, VariationStatus,
};
pub use gate::{Gate, entry as baseline_entry, is_root};
pub use json::render_json;
pub use junit::render_junit;
pub use markdown::{MAX_BYTES as MARKDOWN_MAX_BYTES, render_markdown};
pub use problems::{
    Action, ActionNote, Certainty, Problem, ProblemId, Provenance, Scope, SourceRef,
};
pub use sarif::{MAX_RESULTS as SARIF_MAX_RESULTS, render_sarif};
pub(crate) use text::human_bytes;
pub use text::{TextOptions, render_text};

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diff::{ArtifactDelta, Comparison, Unreadable};
use crate::finding::{Cause, Finding, Text};

/// Bumped whenever a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 2;

/// The command a report comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    Diff,
    Audit,
    Execlog,
}

impl CommandKind {
    pub fn name(self) -> &'static str {
        match self {
            CommandKind::Diff => "diff",
            CommandKind::Audit => "audit",
            CommandKind::Execlog => "execlog",
        }
    }
}

/// Which program wrote a report.
#[derive(Clone, Debug, Serialize)]
pub struct ToolInfo {
    pub name: &'static str,
    pub version: &'static str,
}

impl ToolInfo {
    pub fn this() -> ToolInfo {
        ToolInfo {
            name: "twice",
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// The two things compared, described by `I` (paths, run directories,
/// build logs).
#[derive(Clone, Debug, Serialize)]
pub struct Inputs<I> {
    pub a: I,
    pub b: I,
}

/// What every report starts with, whatever the command.
#[derive(Clone, Debug, Serialize)]
pub struct Envelope<I> {
    pub schema_version: u32,
    pub tool: ToolInfo,
    pub command: CommandKind,
    pub inputs: Inputs<I>,
    pub verdict: Verdict,
}

impl<I> Envelope<I> {
    pub fn new(command: CommandKind, inputs: Inputs<I>, verdict: Verdict) -> Envelope<I> {
        Envelope {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo::this(),
            command,
            inputs,
            verdict,
        }
    }
}

/// The outcome of a command, and its exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Everything compared is identical.
    Identical,
    /// Something differs.
    Differs,
    /// Something differs, but every finding is in the baseline of accepted
    /// findings: the gate passes.
    Accepted,
    /// Some inputs could not be read; what could be read is reported.
    Incomplete,
}

impl Verdict {
    /// The verdict's name, as the JSON report spells it.
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Identical => "identical",
            Verdict::Differs => "differs",
            Verdict::Accepted => "accepted",
            Verdict::Incomplete => "incomplete",
        }
    }

    /// The process exit code of this verdict.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Identical | Verdict::Accepted => 0,
            Verdict::Differs => 1,
            Verdict::Incomplete => 2,
        }
    }
}

/// The report of `twice diff` and `twice audit`.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub envelope: Envelope<Text>,
    pub summary: Summary,
    /// The root causes, most expensive first; the findings are their
    /// evidence.
    pub problems: Vec<Problem>,
    /// Every artifact that differs, in path order.
    pub artifacts: Vec<ArtifactDelta>,
    /// Every finding, sorted by artifact, then location.
    pub findings: Vec<Finding>,
    /// Inputs that could not be read; the rest was still compared.
    pub unreadable: Vec<Unreadable>,
    /// How an audit's builds ran (`twice audit` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditInfo>,
    /// The findings against a baseline of accepted ones, when one is used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineInfo>,
}

/// A report against a baseline: how many findings are new and known, and
/// which accepted findings no longer occur.
#[derive(Clone, Debug, Serialize)]
pub struct BaselineInfo {
    /// The baseline file, as given.
    pub path: Text,
    pub new: u64,
    pub known: u64,
    /// Baseline entries of this target that did not occur.
    pub fixed: Vec<BaselineEntry>,
}

/// One accepted finding, as a baseline file holds it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct BaselineEntry {
    pub fingerprint: String,
    /// The `twice.toml` target, or `-` for audits of no named target.
    pub target: String,
    pub artifact: String,
    /// The cause name (`timestamp`, `build_path`, …).
    pub cause: String,
    /// One line of evidence, for reviewers.
    pub evidence: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Non-directory entries on each side.
    pub files_a: u64,
    pub files_b: u64,
    /// Bytes of regular files hashed, both sides.
    pub bytes_hashed: u64,
    pub identical: u64,
    pub differing: u64,
    /// Root causes the findings group into.
    pub problems: u64,
    /// Findings left out by ignore rules.
    pub ignored: u64,
    pub only_a: u64,
    pub only_b: u64,
    /// Special files (FIFOs, sockets, devices) present on both sides: never
    /// read.
    pub special: u64,
    pub findings: u64,
    /// Findings dropped by the per-artifact limit.
    pub omitted: u64,
    pub by_cause: BTreeMap<&'static str, u64>,
    /// Audits: findings per attribution (`time`, `build_path + locale`,
    /// `nothing varied`), with `consequences` and `unattributed` apart.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_variation: BTreeMap<String, u64>,
}

impl Summary {
    fn of(c: &Comparison, audit: bool) -> Summary {
        let mut s = Summary {
            files_a: c.files_a,
            files_b: c.files_b,
            bytes_hashed: c.bytes_hashed,
            identical: c.identical,
            special: c.special,
            findings: c.findings.len() as u64,
            omitted: c.artifacts.iter().map(|a| a.omitted).sum(),
            ..Summary::default()
        };
        for delta in &c.artifacts {
            match (&delta.a, &delta.b) {
                (Some(_), None) => s.only_a += 1,
                (None, Some(_)) => s.only_b += 1,
                _ => s.differing += 1,
            }
        }
        for f in &c.findings {
            *s.by_cause.entry(f.cause.name()).or_default() += 1;
            if audit {
                *s.by_variation.entry(attribution_key(f)).or_default() += 1;
            }
        }
        s
    }
}

fn attribution_key(f: &Finding) -> String {
    match &f.variation {
        Some(v) if v.variations.is_empty() => "nothing varied".to_owned(),
        Some(v) => {
            let names: Vec<&str> = v.variations.iter().map(|v| v.name()).collect();
            names.join(" + ")
        }
        None if matches!(f.cause, Cause::Consequence { .. }) => "consequences".to_owned(),
        None => "unattributed".to_owned(),
    }
}

/// What a report is assembled from besides the comparison.
#[derive(Clone, Copy, Debug, Default)]
pub struct Extras<'a> {
    /// How an audit's builds ran.
    pub audit: Option<&'a AuditInfo>,
    /// What the audit traced and located.
    pub provenance: Option<&'a Provenance>,
    /// The CI gate's baseline and ignore rules.
    pub gate: Option<&'a Gate>,
}

impl Report {
    /// Assemble the report of a comparison (and, for audits, of how its
    /// builds ran): summary and verdict are computed here, once.
    pub fn new(
        command: CommandKind,
        inputs: Inputs<Text>,
        mut comparison: Comparison,
        extras: Extras<'_>,
    ) -> Report {
        let Extras {
            audit,
            provenance,
            gate,
        } = extras;
        let ignored = gate.map_or(0, |g| g.drop_ignored(&mut comparison.findings));
        problems::link_roots(&mut comparison.findings);
        let baseline = gate.and_then(|g| g.mark(&mut comparison.findings));
        let problems = problems::group(&comparison.findings, &comparison.artifacts, provenance);
        let mut summary = Summary::of(&comparison, audit.is_some());
        let audit = audit.cloned();
        summary.problems = problems.len() as u64;
        summary.ignored = ignored;
        let all_ignored = ignored > 0
            && comparison.findings.is_empty()
            && comparison.artifacts.iter().all(|a| a.omitted == 0);
        let verdict = if !comparison.unreadable.is_empty() {
            Verdict::Incomplete
        } else if comparison.artifacts.is_empty() {
            Verdict::Identical
        } else if all_ignored || baseline.as_ref().is_some_and(|b| b.new == 0) {
            Verdict::Accepted
        } else {
            Verdict::Differs
        };
        Report {
            envelope: Envelope::new(command, inputs, verdict),
            summary,
            problems,
            artifacts: comparison.artifacts,
            findings: comparison.findings,
            unreadable: comparison.unreadable,
            audit,
            baseline,
        }
    }

    pub fn verdict(&self) -> Verdict {
        self.envelope.verdict
    }
}
