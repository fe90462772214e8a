//! The one report model and its renderers.
//!
//! A [`Report`] is assembled once, from a [`Comparison`] and, for audits,
//! the facts of how the builds ran ([`AuditInfo`]). Every number a renderer
//! shows is in the model; renderers take a `&Report` and format it, none
//! recomputes anything. The envelope (schema version, tool, command,
//! inputs, verdict) is shared with the other commands' reports.

mod audit;
mod json;
mod text;

pub use audit::{
    AuditInfo, AuditWarning, BisectInfo, MissingTool, RunInfo, SandboxKind, SkipReason, Timings,
    VariationState, VariationStatus,
};
pub use json::render_json;
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
    /// Some inputs could not be read; what could be read is reported.
    Incomplete,
}

impl Verdict {
    /// The process exit code of this verdict.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Identical => 0,
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
    /// Every artifact that differs, in path order.
    pub artifacts: Vec<ArtifactDelta>,
    /// Every finding, sorted by artifact, then location.
    pub findings: Vec<Finding>,
    /// Inputs that could not be read; the rest was still compared.
    pub unreadable: Vec<Unreadable>,
    /// How an audit's builds ran (`twice audit` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditInfo>,
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

impl Report {
    /// Assemble the report of a comparison (and, for audits, of how its
    /// builds ran): summary and verdict are computed here, once.
    pub fn new(
        command: CommandKind,
        inputs: Inputs<Text>,
        comparison: Comparison,
        audit: Option<AuditInfo>,
    ) -> Report {
        let summary = Summary::of(&comparison, audit.is_some());
        let verdict = if !comparison.unreadable.is_empty() {
            Verdict::Incomplete
        } else if comparison.artifacts.is_empty() {
            Verdict::Identical
        } else {
            Verdict::Differs
        };
        Report {
            envelope: Envelope::new(command, inputs, verdict),
            summary,
            artifacts: comparison.artifacts,
            findings: comparison.findings,
            unreadable: comparison.unreadable,
            audit,
        }
    }

    pub fn verdict(&self) -> Verdict {
        self.envelope.verdict
    }
}
