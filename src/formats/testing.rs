//! What the comparator tests share: committed fixtures, and one comparison
//! context set up the way `diff` sets it up.

use super::{Comparator, Cx, Limits};
use crate::classify::{Canaries, Classifier};
use crate::finding::{Artifact, Finding};

/// A committed fixture file below `fixtures/`.
pub(crate) fn fixture(rel: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Run `f` in a fresh context for `artifact`; what it emitted, and how
/// many findings the limit dropped.
pub(crate) fn with_cx(
    artifact: &str,
    limits: &Limits,
    f: impl FnOnce(&mut Cx<'_>),
) -> (Vec<Finding>, u64) {
    let classifier = Classifier::new(Canaries::default());
    let mut cx = Cx::new(Artifact::new(artifact), &classifier, limits);
    f(&mut cx);
    cx.finish()
}

/// Compare `a` and `b` as `artifact` with one comparator.
pub(crate) fn compare_with(
    comparator: &dyn Comparator,
    artifact: &str,
    limits: &Limits,
    a: &[u8],
    b: &[u8],
) -> (Vec<Finding>, u64) {
    with_cx(artifact, limits, |cx| comparator.compare(cx, a, b))
}
