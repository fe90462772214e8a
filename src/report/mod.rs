//! The report model and its renderers. Every renderer takes a `&Report`
//! only; none recomputes a comparison.

mod json;
mod text;

pub use json::render_json;
pub use text::{TextOptions, render_text};

use std::collections::BTreeMap;

use serde::Serialize;

use crate::finding::{Artifact, Digest, Finding, Side, Text};
use crate::formats::Format;

/// Every report a command renders. Each renderer serves every variant, so
/// a new renderer or a new command cannot forget one.
#[derive(Clone, Copy, Debug)]
pub enum AnyReport<'r> {
    /// `twice diff` and `twice audit`: files compared, findings.
    Findings(&'r Report),
    Execlog(&'r crate::execlog::ExeclogReport),
}

/// Bumped whenever a field changes meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub command: &'static str,
    pub inputs: Inputs,
    pub verdict: Verdict,
    pub summary: Summary,
    /// Every artifact that differs, in path order.
    pub artifacts: Vec<ArtifactDelta>,
    /// Every finding, sorted by artifact, then location.
    pub findings: Vec<Finding>,
    /// Inputs that could not be read; the rest was still compared.
    pub problems: Vec<Problem>,
    /// How an audit's builds ran (`twice audit` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<crate::audit::AuditInfo>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct Inputs {
    pub a: Text,
    pub b: Text,
}

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
}

impl Summary {
    /// Recompute what follows from the differing artifacts and the
    /// findings: presence and difference counts, findings per cause,
    /// omitted findings.
    pub(crate) fn recount(&mut self, artifacts: &[ArtifactDelta], findings: &[Finding]) {
        (self.only_a, self.only_b, self.differing) = (0, 0, 0);
        for delta in artifacts {
            match (&delta.a, &delta.b) {
                (Some(_), None) => self.only_a += 1,
                (None, Some(_)) => self.only_b += 1,
                _ => self.differing += 1,
            }
        }
        self.by_cause.clear();
        for f in findings {
            *self.by_cause.entry(f.cause.name()).or_default() += 1;
        }
        self.findings = findings.len() as u64;
        self.omitted = artifacts.iter().map(|a| a.omitted).sum();
    }
}

/// What one side holds at a differing path.
#[derive(Clone, Debug, Serialize)]
pub struct FileFacts {
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    #[serde(serialize_with = "octal")]
    pub mode: u32,
}

fn octal<S: serde::Serializer>(mode: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{mode:04o}"))
}

#[derive(Clone, Debug, Serialize)]
pub struct ArtifactDelta {
    pub artifact: Artifact,
    /// The comparator used for the content, when the content differed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    pub a: Option<FileFacts>,
    pub b: Option<FileFacts>,
    pub findings: u64,
    pub omitted: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Problem {
    pub side: Side,
    pub path: Text,
    pub reason: String,
}

impl Report {
    pub(crate) fn new(
        command: &'static str,
        inputs: Inputs,
        summary: Summary,
        artifacts: Vec<ArtifactDelta>,
        findings: Vec<Finding>,
        problems: Vec<Problem>,
    ) -> Report {
        let mut report = Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: "twice",
                version: env!("CARGO_PKG_VERSION"),
            },
            command,
            inputs,
            verdict: Verdict::Identical,
            summary,
            artifacts,
            findings,
            problems,
            audit: None,
        };
        report.refresh_verdict();
        report
    }

    /// Recompute the verdict from the problems and artifacts.
    pub(crate) fn refresh_verdict(&mut self) {
        self.verdict = if !self.problems.is_empty() {
            Verdict::Incomplete
        } else if self.artifacts.is_empty() {
            Verdict::Identical
        } else {
            Verdict::Differs
        };
    }
}
