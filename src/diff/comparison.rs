//! What comparing two trees found: the typed result every report is built
//! from. A comparison knows nothing of commands or renderers.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::finding::{Artifact, Digest, Finding, Format, Side, Text, sort_findings};

/// The outcome of comparing side A with side B.
#[derive(Clone, Debug, Default)]
pub struct Comparison {
    /// Non-directory entries on each side.
    pub files_a: u64,
    pub files_b: u64,
    /// Bytes of regular files hashed, both sides.
    pub bytes_hashed: u64,
    /// Paths present on both sides with equal content.
    pub identical: u64,
    /// Special files (FIFOs, sockets, devices) present on both sides: never
    /// read.
    pub special: u64,
    /// Every artifact that differs, in path order.
    pub artifacts: Vec<ArtifactDelta>,
    /// Every finding, in [`sort_findings`] order.
    pub findings: Vec<Finding>,
    /// Inputs that could not be read; the rest was still compared.
    pub unreadable: Vec<Unreadable>,
}

impl Comparison {
    /// Fold in the comparison of the same side A with another side (a third
    /// run of an audit): artifacts that differ only there are added, and no
    /// longer count as identical; findings already known (by fingerprint)
    /// are kept once, with the first comparison's evidence.
    pub fn absorb(&mut self, other: Comparison) {
        let known: BTreeSet<&Artifact> = self.artifacts.iter().map(|a| &a.artifact).collect();
        let added: Vec<ArtifactDelta> = other
            .artifacts
            .into_iter()
            .filter(|a| !known.contains(&a.artifact))
            .collect();
        let no_longer_identical = added
            .iter()
            .filter(|a| a.a.is_some() && a.b.is_some())
            .count() as u64;
        self.identical = self.identical.saturating_sub(no_longer_identical);
        self.artifacts.extend(added);
        self.artifacts.sort_by(|x, y| x.artifact.cmp(&y.artifact));
        let seen: BTreeSet<_> = self.findings.iter().map(|f| f.fingerprint).collect();
        self.findings.extend(
            other
                .findings
                .into_iter()
                .filter(|f| !seen.contains(&f.fingerprint)),
        );
        sort_findings(&mut self.findings);
        self.unreadable.extend(other.unreadable);
        self.unreadable.sort();
        self.unreadable.dedup();
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

/// One differing path: what each side holds and how many findings it got.
#[derive(Clone, Debug, Serialize)]
pub struct ArtifactDelta {
    pub artifact: Artifact,
    /// The comparator used for the content, when the content differed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    pub a: Option<FileFacts>,
    pub b: Option<FileFacts>,
    pub findings: u64,
    /// Findings dropped by the per-artifact limit.
    pub omitted: u64,
}

/// An input that could not be read, on one side.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Unreadable {
    pub side: Side,
    pub path: Text,
    pub reason: String,
}
