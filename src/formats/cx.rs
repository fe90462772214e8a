//! The context a comparator works in: where it is, what it may spend, and
//! where its findings go.
//!
//! The finding cap (`max_findings`) applies to the evidence of one member:
//! each artifact (and each entry whose header fields an archive reports on
//! itself, see [`Cx::for_entry`]) keeps its own count, so a member that
//! differs always gets its findings however many came before it (issue 18,
//! item 2). What the cap folds is counted as omitted.

use std::collections::HashMap;

use super::{Format, compare_as_binary, compare_bytes};
use crate::classify::clock::Times;
use crate::classify::{Classifier, hint, stable_anchor};
use crate::finding::{
    Artifact, Cause, Decoded, Evidence, Finding, Fingerprint, LimitKind, Location, fingerprint,
};
use crate::formats::Limits;

pub(crate) struct Cx<'a> {
    pub artifact: Artifact,
    pub classifier: &'a Classifier,
    pub limits: &'a Limits,
    findings: Vec<Finding>,
    /// Findings folded because their member's cap was reached.
    omitted: u64,
    seen: HashMap<Fingerprint, u32>,
    /// Decompressed bytes still allowed below the top-level artifact.
    unpacked_left: u64,
    /// The total budget has been reported spent: nothing more is inflated.
    spent: bool,
    /// Findings kept in the current scope (member, or entry of an archive).
    kept: usize,
    /// Clock readings established so far in this artifact, per side: they
    /// vouch for integer readings far apart (see `classify::clock`).
    pub times: Times,
    /// Lines of checksum manifests whose cause depends on whether the file
    /// they name differs somewhere in the comparison.
    pending: Vec<Pending>,
}

/// A finding whose cause is decided once every artifact has been
/// compared: a checksum manifest's line whose digest changed is a
/// consequence when the file it names differs, unknown otherwise.
#[derive(Clone, Debug)]
pub(crate) struct Pending {
    pub finding: Finding,
    /// The stable anchor the fingerprint was made from.
    anchor: Vec<u8>,
    /// The path the line names, as written.
    pub target: Vec<u8>,
}

impl Pending {
    /// Settle the cause: a consequence of the content of `artifact` when
    /// the named file differs there, else unknown.
    pub fn settle(mut self, differing: Option<&Artifact>) -> Finding {
        self.finding.cause = match differing {
            Some(artifact) => Cause::Consequence {
                of: format!("the content of {artifact}"),
            },
            None => Cause::Unknown { differences: 1 },
        };
        self.finding.hint = hint(&self.finding.cause);
        self.finding.fingerprint = fingerprint(
            &self.finding.artifact,
            &self.finding.cause,
            &self.finding.location,
            &self.anchor,
        );
        self.finding
    }

    /// Does `artifact` (a differing file or member) name what the line
    /// names? Member and path names are compared without `./` and with the
    /// manifest's relative path matched at the end of the artifact's.
    pub fn names(&self, artifact: &Artifact) -> bool {
        let full = artifact.last_segment();
        let norm = |p: &[u8]| -> Vec<u8> {
            let mut p = p;
            while let Some(rest) = p.strip_prefix(b"./").or_else(|| p.strip_prefix(b"/")) {
                p = rest;
            }
            p.to_vec()
        };
        let (have, want) = (norm(full), norm(&self.target));
        !want.is_empty()
            && (have == want
                || (have.len() > want.len()
                    && have.ends_with(&want)
                    && have.get(have.len() - want.len() - 1) == Some(&b'/')))
    }
}

/// A recursion limit was hit; the finding saying so has been emitted.
#[derive(Debug)]
pub(crate) struct LimitHit;

impl<'a> Cx<'a> {
    pub fn new(artifact: Artifact, classifier: &'a Classifier, limits: &'a Limits) -> Cx<'a> {
        Cx {
            artifact,
            classifier,
            limits,
            findings: Vec::new(),
            omitted: 0,
            seen: HashMap::new(),
            unpacked_left: limits.max_unpacked_bytes,
            spent: false,
            kept: 0,
            times: Times::default(),
            pending: Vec::new(),
        }
    }

    /// Has the finding cap of the current member been reached?
    /// Comparators check this to stop scanning early; `emit` counts what it
    /// folds either way.
    pub fn full(&self) -> bool {
        self.kept >= self.limits.max_findings || crate::interrupt::interrupted()
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
        if let Some((finding, _)) = self.make((location, cause, a, b), anchor) {
            self.findings.push(finding);
        }
    }

    /// A line of a checksum manifest whose digest of `target` changed: its
    /// cause is settled when the comparison knows whether `target` differs
    /// (see [`Pending`]).
    pub fn emit_digest(&mut self, location: Location, a: Evidence, b: Evidence, target: &[u8]) {
        let cause = Cause::Consequence {
            of: format!("the content of {}", String::from_utf8_lossy(target)),
        };
        if let Some((finding, anchor)) = self.make((location, cause, a, b), target) {
            self.pending.push(Pending {
                finding,
                anchor,
                target: target.to_vec(),
            });
        }
    }

    /// The finding (and its stable anchor), unless the cap folds it.
    fn make(
        &mut self,
        (location, cause, a, b): (Location, Cause, Evidence, Evidence),
        anchor: &[u8],
    ) -> Option<(Finding, Vec<u8>)> {
        if self.full() {
            self.omitted += 1;
            return None;
        }
        self.kept += 1;
        if let (Cause::Timestamp { .. }, Some(Decoded::Time(ta)), Some(Decoded::Time(tb))) =
            (&cause, &a.decoded, &b.decoded)
        {
            self.times.add(*ta, *tb);
        }
        let mut anchor = stable_anchor(anchor);
        let mut fp = fingerprint(&self.artifact, &cause, &location, &anchor);
        let seen = self.seen.entry(fp).or_insert(0);
        *seen += 1;
        if *seen > 1 {
            anchor.extend_from_slice(format!("\0#{seen}").as_bytes());
            fp = fingerprint(&self.artifact, &cause, &location, &anchor);
        }
        Some((
            Finding {
                artifact: self.artifact.clone(),
                hint: hint(&cause),
                location,
                cause,
                a,
                b,
                fingerprint: fp,
                variation: None,
                root: None,
                baseline: None,
            },
            anchor,
        ))
    }

    /// Findings produced so far, kept or omitted: a comparator that
    /// produced none for two differing inputs falls back to bytes.
    pub fn produced(&self) -> u64 {
        (self.findings.len() + self.pending.len()) as u64 + self.omitted
    }

    /// Run `f` with the current artifact set to member `name` of it, so
    /// what `f` emits is attributed to `outer!name`, with a cap of its own.
    pub fn in_member<R>(&mut self, name: &[u8], f: impl FnOnce(&mut Cx<'a>) -> R) -> R {
        let inner = self.artifact.member(name.to_vec());
        let outer = std::mem::replace(&mut self.artifact, inner);
        let kept = std::mem::replace(&mut self.kept, 0);
        let r = f(self);
        self.artifact = outer;
        self.kept = kept;
        r
    }

    /// Run `f` with a cap of its own for the header fields of entry `name`
    /// that an archive reports on itself: every entry's differences are
    /// named, however many entries came before.
    pub fn for_entry<R>(&mut self, f: impl FnOnce(&mut Cx<'a>) -> R) -> R {
        let kept = std::mem::replace(&mut self.kept, 0);
        let r = f(self);
        self.kept = kept;
        r
    }

    /// Compare the two contents of member `name` of the current artifact
    /// through the comparator their format calls for (recursing into nested
    /// archives). Equal contents are skipped; a member too deep gets a
    /// `limit` finding instead. Returns the format compared as.
    pub fn member(&mut self, name: &[u8], a: &[u8], b: &[u8]) -> Option<Format> {
        if a == b {
            return None;
        }
        let depth = self.artifact.depth() + 1;
        if depth > self.limits.max_depth {
            self.in_member(name, |cx| {
                cx.limit(LimitKind::Depth, cx.limits.max_depth as u64)
            });
            return None;
        }
        Some(self.in_member(name, |cx| compare_bytes(cx, a, b)))
    }

    /// Account for `bytes` decompressed for one side of a member (call once
    /// per side, with every byte inflated, also when the member is then
    /// refused). Over `max_member_bytes` or the artifact's total, emits the
    /// `limit` finding and returns `Err`: the caller does not compare that
    /// member.
    pub fn charge(&mut self, bytes: u64) -> Result<(), LimitHit> {
        if bytes > self.limits.max_member_bytes {
            let _ = self.charge_total(bytes);
            self.limit(LimitKind::MemberBytes, self.limits.max_member_bytes);
            return Err(LimitHit);
        }
        self.charge_total(bytes)
    }

    /// Account for `bytes` decompressed against the artifact's total only:
    /// over it, the budget is spent (said once) and `Err` returned.
    pub fn charge_total(&mut self, bytes: u64) -> Result<(), LimitHit> {
        let over = bytes > self.unpacked_left;
        self.unpacked_left = self.unpacked_left.saturating_sub(bytes);
        if over {
            self.spend();
            return Err(LimitHit);
        }
        Ok(())
    }

    /// The total budget is spent: say so once, and inflate nothing more.
    fn spend(&mut self) {
        if !self.spent {
            self.spent = true;
            self.limit(LimitKind::UnpackedBytes, self.limits.max_unpacked_bytes);
        }
    }

    /// Is the decompression budget of this artifact spent? Then nothing more
    /// is inflated (the `limit` finding has been emitted once).
    pub fn spent(&self) -> bool {
        self.spent
    }

    /// The decompression budget left for one member: the smaller of the
    /// per-member limit and what the artifact has left. Decompressors read
    /// at most one byte more than this, so going over is detected without
    /// inflating a bomb, and every byte they read is charged.
    pub fn member_budget(&self) -> u64 {
        self.limits.max_member_bytes.min(self.unpacked_left)
    }

    /// Emit a `limit` finding on the current artifact: `max` is the bound
    /// reached, which the limit's option raises.
    pub fn limit(&mut self, limit: LimitKind, max: u64) {
        let anchor = format!("{limit:?}");
        self.emit(
            Location::File,
            Cause::Limit { limit, max },
            Evidence::absent(),
            Evidence::absent(),
            anchor.as_bytes(),
        );
    }

    /// A structural parse failed on one or both sides: say why, then compare
    /// the bytes so the difference is still located.
    pub fn unparsed(&mut self, format: Format, reason: String, a: &[u8], b: &[u8]) {
        self.emit(
            Location::File,
            Cause::Unparsed { format, reason },
            Evidence::absent(),
            Evidence::absent(),
            format.name().as_bytes(),
        );
        compare_as_binary(self, a, b);
    }

    /// The findings and the count of folded ones, with every checksum line
    /// settled against the members this artifact compared.
    pub fn finish(self) -> (Vec<Finding>, u64) {
        let (mut findings, omitted, pending) = self.finish_pending();
        findings.extend(pending.into_iter().map(|p| p.settle(None)));
        (findings, omitted)
    }

    /// Like [`Cx::finish`], but checksum lines whose file is not among this
    /// artifact's members are returned unsettled, for the caller to settle
    /// against the other files of the comparison.
    pub fn finish_pending(self) -> (Vec<Finding>, u64, Vec<Pending>) {
        let mut findings = self.findings;
        let mut open = Vec::new();
        for p in self.pending {
            let differing = findings
                .iter()
                .map(|f| &f.artifact)
                .filter(|a| a.depth() > 0 && **a != p.finding.artifact)
                .find(|a| p.names(a))
                .cloned();
            match differing {
                Some(a) => findings.push(p.settle(Some(&a))),
                None => open.push(p),
            }
        }
        (findings, self.omitted, open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(limits: &Limits, f: impl FnOnce(&mut Cx<'_>)) -> (Vec<Finding>, u64) {
        crate::formats::testing::with_cx("dist/x.tar", limits, f)
    }

    #[test]
    fn members_are_compared_under_their_own_artifact() {
        let (findings, _) = run(&Limits::default(), |cx| {
            assert_eq!(cx.member(b"same", b"x\n", b"x\n"), None);
            let format = cx.member(
                b"pkg/info.txt",
                b"built 2024-01-02\n",
                b"built 2025-03-04\n",
            );
            assert_eq!(format, Some(Format::Text));
            assert_eq!(cx.artifact.depth(), 0);
        });
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].artifact.to_string(), "dist/x.tar!pkg/info.txt");
        assert_eq!(findings[0].cause.name(), "timestamp");
    }

    #[test]
    fn depth_limit_stops_recursion_with_a_finding() {
        let limits = Limits {
            max_depth: 1,
            ..Limits::default()
        };
        let (findings, _) = run(&limits, |cx| {
            cx.in_member(b"inner.tar", |cx| {
                assert_eq!(cx.member(b"deep.txt", b"a\n", b"b\n"), None);
            });
        });
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].artifact.to_string(),
            "dist/x.tar!inner.tar!deep.txt"
        );
        assert!(matches!(
            findings[0].cause,
            Cause::Limit {
                limit: LimitKind::Depth,
                ..
            }
        ));
    }

    #[test]
    fn decompression_budget_is_shared_and_bounded() {
        let limits = Limits {
            max_member_bytes: 100,
            max_unpacked_bytes: 150,
            ..Limits::default()
        };
        let (findings, _) = run(&limits, |cx| {
            // A member refused for its size is charged all the same.
            assert!(cx.charge(101).is_err());
            assert_eq!(cx.member_budget(), 49);
            assert!(cx.charge(40).is_ok());
            assert!(cx.charge(10).is_err());
            assert!(cx.spent());
            assert!(cx.charge(1).is_err());
        });
        let kinds: Vec<_> = findings
            .iter()
            .map(|f| match &f.cause {
                Cause::Limit { limit, .. } => *limit,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(kinds, [LimitKind::MemberBytes, LimitKind::UnpackedBytes]);
    }

    #[test]
    fn unparsed_still_locates_the_bytes() {
        let (findings, _) = run(&Limits::default(), |cx| {
            cx.unparsed(
                Format::Elf,
                "truncated at offset 0x40".into(),
                b"\x7fELF\x01",
                b"\x7fELF\x02",
            );
        });
        assert_eq!(findings[0].cause.name(), "unparsed");
        assert!(
            findings[0]
                .cause
                .to_string()
                .contains("ELF: truncated at offset 0x40")
        );
        assert!(findings.len() >= 2, "{findings:?}");
    }
}
