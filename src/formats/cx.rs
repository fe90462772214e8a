//! The context a comparator works in: where it is, what it may spend, and
//! where its findings go.

use std::collections::HashMap;

use crate::classify::{Classifier, hint, stable_anchor};
use crate::diff::Limits;
use crate::finding::{Artifact, Cause, Evidence, Finding, Fingerprint, Location, fingerprint};

pub(crate) struct Cx<'a> {
    pub artifact: Artifact,
    pub classifier: &'a Classifier,
    pub limits: &'a Limits,
    findings: Vec<Finding>,
    /// Findings dropped because the per-artifact limit was reached.
    omitted: u64,
    seen: HashMap<Fingerprint, u32>,
}

impl<'a> Cx<'a> {
    pub fn new(artifact: Artifact, classifier: &'a Classifier, limits: &'a Limits) -> Cx<'a> {
        Cx {
            artifact,
            classifier,
            limits,
            findings: Vec::new(),
            omitted: 0,
            seen: HashMap::new(),
        }
    }

    /// Has the per-artifact finding limit been reached? Comparators check
    /// this to stop scanning early; `emit` counts what it drops either way.
    pub fn full(&self) -> bool {
        self.findings.len() >= self.limits.max_findings
    }

    /// Record that `n` findings were not produced (a comparator that stops
    /// early says how many regions it skipped).
    pub fn omit(&mut self, n: u64) {
        self.omitted += n;
    }

    /// Emit a finding. `anchor` is raw excerpt text that identifies the
    /// finding; volatile parts are masked before it is fingerprinted. Two
    /// findings with the same anchor in one artifact are told apart by their
    /// order, which is deterministic.
    pub fn emit(
        &mut self,
        location: Location,
        cause: Cause,
        a: Evidence,
        b: Evidence,
        anchor: &[u8],
    ) {
        if self.full() {
            self.omitted += 1;
            return;
        }
        let mut anchor = stable_anchor(anchor);
        let mut fp = fingerprint(&self.artifact, &cause, &location, &anchor);
        let seen = self.seen.entry(fp).or_insert(0);
        *seen += 1;
        if *seen > 1 {
            anchor.extend_from_slice(format!("\0#{seen}").as_bytes());
            fp = fingerprint(&self.artifact, &cause, &location, &anchor);
        }
        self.findings.push(Finding {
            artifact: self.artifact.clone(),
            hint: hint(&cause),
            location,
            cause,
            a,
            b,
            fingerprint: fp,
        });
    }

    pub fn finish(self) -> (Vec<Finding>, u64) {
        (self.findings, self.omitted)
    }
}
