//! The CI gate's policy, applied while a report is assembled: findings an
//! ignore rule covers leave the report (counted), the others are marked new
//! or known against the baseline, baseline entries that did not occur are
//! listed as fixed, and a report whose differences are all known is
//! accepted (exit 0).

use std::collections::BTreeSet;

use super::{BaselineEntry, BaselineInfo};
use crate::finding::{BaselineState, Cause, Finding, Location, Text, printable};
use crate::tree::Glob;

/// What the gate is given.
#[derive(Clone, Debug, Default)]
pub struct Gate {
    /// The audited target's name as the baseline records it (`-` for none).
    pub target: String,
    /// The baseline file and its entries, when one is used.
    pub baseline: Option<(Text, Vec<BaselineEntry>)>,
    /// Active ignore rules: an artifact pattern and a cause name (`*` for
    /// any).
    pub ignore: Vec<(Glob, String)>,
}

impl Gate {
    fn ignores(&self, f: &Finding) -> bool {
        let artifact = f.artifact.joined();
        self.ignore.iter().any(|(glob, cause)| {
            (cause == "*" || cause == f.cause.name()) && glob.matches(&artifact)
        })
    }

    /// Drop what the ignore rules cover; the number dropped.
    pub(super) fn drop_ignored(&self, findings: &mut Vec<Finding>) -> u64 {
        let before = findings.len();
        findings.retain(|f| !self.ignores(f));
        (before - findings.len()) as u64
    }

    /// Mark findings new or known; the baseline's summary.
    pub(super) fn mark(&self, findings: &mut [Finding]) -> Option<BaselineInfo> {
        let (path, entries) = self.baseline.as_ref()?;
        let accepted: BTreeSet<&str> = entries
            .iter()
            .filter(|e| e.target == self.target)
            .map(|e| e.fingerprint.as_str())
            .collect();
        let mut present = BTreeSet::new();
        for f in findings.iter_mut() {
            let fp = f.fingerprint.to_string();
            // Consequences follow their roots: never new by themselves.
            f.baseline = Some(if !is_root(f) || accepted.contains(fp.as_str()) {
                BaselineState::Known
            } else {
                BaselineState::New
            });
            present.insert(fp);
        }
        let new = findings
            .iter()
            .filter(|f| f.baseline == Some(BaselineState::New))
            .count() as u64;
        let known = findings.len() as u64 - new;
        let fixed = entries
            .iter()
            .filter(|e| e.target == self.target && !present.contains(&e.fingerprint))
            .cloned()
            .collect();
        Some(BaselineInfo {
            path: path.clone(),
            new,
            known,
            fixed,
        })
    }
}

/// A root finding: not a consequence of another one in the report.
pub fn is_root(f: &Finding) -> bool {
    !matches!(f.cause, Cause::Consequence { .. }) || f.root.is_none()
}

/// The baseline entry of a finding: stable across checkouts, dates and
/// thread counts (fingerprint, place without offsets, cause).
pub fn entry(f: &Finding, target: &str) -> BaselineEntry {
    let place = match &f.location {
        Location::Field { path, .. } => path.join(", "),
        Location::Lines { a, .. } => format!("line {}", a.start),
        Location::Bytes { .. } => "bytes".to_owned(),
        Location::Metadata { field } => field.to_string(),
        Location::File => "file".to_owned(),
    };
    BaselineEntry {
        fingerprint: f.fingerprint.to_string(),
        target: target.to_owned(),
        artifact: f.artifact.to_string(),
        cause: f.cause.name().to_owned(),
        evidence: printable(&format!("{place}: {}", f.cause)).into_owned(),
    }
}
