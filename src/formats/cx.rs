//! The context a comparator works in: where it is, what it may spend, and
//! where its findings go.

use std::collections::HashMap;

use super::{Format, compare_as_binary, compare_bytes};
use crate::classify::{Classifier, hint, stable_anchor};
use crate::finding::{
    Artifact, Cause, Evidence, Finding, Fingerprint, LimitKind, Location, fingerprint,
};
use crate::formats::Limits;

pub(crate) struct Cx<'a> {
    pub artifact: Artifact,
    pub classifier: &'a Classifier,
    pub limits: &'a Limits,
    findings: Vec<Finding>,
    /// Findings dropped because the per-artifact limit was reached.
    omitted: u64,
    seen: HashMap<Fingerprint, u32>,
    /// Decompressed bytes still allowed below the top-level artifact.
    unpacked_left: u64,
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
        }
    }

    /// Has the per-artifact finding limit been reached? Comparators check
    /// this to stop scanning early; `emit` counts what it drops either way.
    /// The limit covers a top-level artifact and all its members together.
    pub fn full(&self) -> bool {
        self.findings.len() >= self.limits.max_findings || crate::interrupt::interrupted()
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
            variation: None,
            root: None,
            baseline: None,
        });
    }

    /// Findings produced so far, kept or omitted: a comparator that
    /// produced none for two differing inputs falls back to bytes.
    pub fn produced(&self) -> u64 {
        self.findings.len() as u64 + self.omitted
    }

    /// Run `f` with the current artifact set to member `name` of it, so
    /// what `f` emits is attributed to `outer!name`.
    pub fn in_member<R>(&mut self, name: &[u8], f: impl FnOnce(&mut Cx<'a>) -> R) -> R {
        let inner = self.artifact.member(name.to_vec());
        let outer = std::mem::replace(&mut self.artifact, inner);
        let r = f(self);
        self.artifact = outer;
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
            let detail = format!(
                "{} is nested {} archives deep (max_depth {})",
                String::from_utf8_lossy(name),
                depth,
                self.limits.max_depth
            );
            self.limit(LimitKind::Depth, detail);
            return None;
        }
        Some(self.in_member(name, |cx| compare_bytes(cx, a, b)))
    }

    /// Account for `bytes` more decompressed data of one member (per side;
    /// call once per side). Over `max_member_bytes` or the artifact's total,
    /// emits the `limit` finding and returns `Err`: the caller stops
    /// decompressing and does not compare that member.
    pub fn charge(&mut self, member: &[u8], bytes: u64) -> Result<(), LimitHit> {
        if bytes > self.limits.max_member_bytes {
            let detail = format!(
                "{} decompresses to more than {} bytes (max_member_bytes)",
                String::from_utf8_lossy(member),
                self.limits.max_member_bytes
            );
            self.limit(LimitKind::MemberBytes, detail);
            return Err(LimitHit);
        }
        match self.unpacked_left.checked_sub(bytes) {
            Some(left) => {
                self.unpacked_left = left;
                Ok(())
            }
            None => {
                let detail = format!(
                    "more than {} bytes decompressed below this artifact (max_unpacked_bytes), at {}",
                    self.limits.max_unpacked_bytes,
                    String::from_utf8_lossy(member)
                );
                self.limit(LimitKind::UnpackedBytes, detail);
                Err(LimitHit)
            }
        }
    }

    /// The decompression budget left for one member: the smaller of the
    /// per-member limit and what the artifact has left. Decompressors read
    /// at most one byte more than this, so going over is detected without
    /// inflating a bomb.
    pub fn member_budget(&self) -> u64 {
        self.limits.max_member_bytes.min(self.unpacked_left)
    }

    /// Emit a `limit` finding on the current artifact.
    pub fn limit(&mut self, limit: LimitKind, detail: String) {
        let anchor = format!("{limit:?}");
        self.emit(
            Location::File,
            Cause::Limit { limit, detail },
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

    pub fn finish(self) -> (Vec<Finding>, u64) {
        (self.findings, self.omitted)
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
        assert_eq!(findings[0].artifact.to_string(), "dist/x.tar!inner.tar");
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
            assert!(cx.charge(b"big", 101).is_err());
            assert!(cx.charge(b"one", 100).is_ok());
            assert_eq!(cx.member_budget(), 50);
            assert!(cx.charge(b"two", 51).is_err());
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
