//! What the archive comparators (zip, tar, gzip) share: member-name
//! safety, member order, members on one side only, suspicious structures,
//! explained text fields and field locations.
#![deny(clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};

use super::rename::{Rename, pair_renamed};
use super::{Cx, Format, changed_runs};
use crate::classify::format_epoch;
use crate::finding::{Cause, Decoded, Evidence, Location, Side};

/// A member name that would land outside the extraction directory.
pub(crate) fn unsafe_name(name: &[u8]) -> Option<&'static str> {
    if name.starts_with(b"/") || name.starts_with(b"\\") {
        return Some("an absolute member name");
    }
    if name.get(1) == Some(&b':') && name.first().is_some_and(u8::is_ascii_alphabetic) {
        return Some("a member name with a drive letter");
    }
    if name
        .split(|&c| c == b'/' || c == b'\\')
        .any(|part| part == b"..")
    {
        return Some("a member name with `..` (path traversal)");
    }
    None
}

/// `["entry pkg/a.py", "dos_date_time"]` at `at`: a header field of one
/// member, reported on the archive. `kind` is "entry" (zip) or "member"
/// (tar).
pub(crate) fn field_loc(kind: &str, name: &[u8], field: &str, at: u64) -> Location {
    Location::Field {
        path: vec![
            format!("{kind} {}", String::from_utf8_lossy(name)),
            field.to_owned(),
        ],
        at: Some(at),
    }
}

pub(crate) fn unknown() -> Cause {
    Cause::Unknown { differences: 1 }
}

/// An epoch-seconds value as evidence: ISO 8601, with the decoded time.
pub(crate) fn epoch_evidence(t: i64, raw: &str) -> Evidence {
    Evidence::value(format_epoch(t)).with_token(raw.as_bytes(), Some(Decoded::Time(t)))
}

/// A differing text field, explained where a detector can (build paths,
/// timestamps), `unknown` otherwise.
pub(crate) fn text_field(cx: &mut Cx<'_>, location: Location, a: &[u8], b: &[u8]) {
    let e = cx.classifier.explain_text(a, b);
    if !e.residual {
        for found in e.found {
            let ea = Evidence::value(a.to_vec()).with_token(
                a.get(found.a.clone()).unwrap_or_default(),
                found.a_time.map(Decoded::Time),
            );
            let eb = Evidence::value(b.to_vec()).with_token(
                b.get(found.b.clone()).unwrap_or_default(),
                found.b_time.map(Decoded::Time),
            );
            cx.emit(location.clone(), found.cause, ea, eb, b"");
        }
        return;
    }
    cx.emit(
        location,
        unknown(),
        Evidence::value(a.to_vec()),
        Evidence::value(b.to_vec()),
        b"",
    );
}

/// A member present on one side only, reported on the member.
pub(crate) fn only_in(cx: &mut Cx<'_>, name: &[u8], side: Side) {
    let present = Evidence::value("member");
    let (a, b) = match side {
        Side::A => (present, Evidence::absent()),
        Side::B => (Evidence::absent(), present),
    };
    cx.in_member(name, |cx| {
        cx.emit(Location::File, Cause::OnlyIn { side }, a, b, b"member");
    });
}

/// The order of the members both sides have: one `ordering` finding at
/// `path` when it differs.
pub(crate) fn order(cx: &mut Cx<'_>, path: &[&str], a: &[&[u8]], b: &[&[u8]]) {
    let in_b: BTreeSet<&[u8]> = b.iter().copied().collect();
    let in_a: BTreeSet<&[u8]> = a.iter().copied().collect();
    let xa: Vec<&[u8]> = a.iter().copied().filter(|n| in_b.contains(n)).collect();
    let xb: Vec<&[u8]> = b.iter().copied().filter(|n| in_a.contains(n)).collect();
    if xa == xb {
        return;
    }
    let moved: usize = changed_runs(&xa, &xb).iter().map(|(r, _)| r.len()).sum();
    let list = |v: &[&[u8]]| {
        let shown: Vec<String> = v
            .iter()
            .take(8)
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect();
        let more = if v.len() > 8 {
            format!(", … ({} more)", v.len() - 8)
        } else {
            String::new()
        };
        format!("{}{more}", shown.join(", "))
    };
    cx.emit(
        Location::Field {
            path: path.iter().map(|s| (*s).to_owned()).collect(),
            at: None,
        },
        Cause::Ordering {
            records: moved as u64,
        },
        Evidence::value(list(&xa)),
        Evidence::value(list(&xb)),
        b"member order",
    );
}

/// Parse both sides with `parse` (given `max_members`); when one fails, an
/// `unparsed` finding and the byte comparison, and `None`.
pub(crate) fn parse_both<'d, T>(
    cx: &mut Cx<'_>,
    format: Format,
    a: &'d [u8],
    b: &'d [u8],
    parse: impl Fn(&'d [u8], u64) -> super::bytes::Result<T>,
) -> Option<(T, T)> {
    let max = cx.limits.max_members;
    match (parse(a, max), parse(b, max)) {
        (Ok(x), Ok(y)) => Some((x, y)),
        (Err(e), _) | (_, Err(e)) => {
            cx.unparsed(format, e.to_string(), a, b);
            None
        }
    }
}

/// Members on one side only: those that are one member under two names
/// (another compression suffix, a random path component; see `rename`)
/// are compared with `compare` (under A's name), each random component
/// reported once as a `random_name` finding on the archive; the rest are
/// `only_in`, once per name.
pub(crate) fn one_sided<'n>(
    cx: &mut Cx<'_>,
    kind: &str,
    only_a: &[&'n [u8]],
    only_b: &[&'n [u8]],
    compare: impl FnMut(&mut Cx<'_>, &'n [u8], &'n [u8]),
) {
    let (used_a, used_b) = renamed(cx, kind, only_a, only_b, compare);
    for (names, used, side) in [(only_a, used_a, Side::A), (only_b, used_b, Side::B)] {
        let mut said = BTreeSet::new();
        for n in names {
            if !used.contains(n) && said.insert(*n) {
                only_in(cx, n, side);
            }
        }
    }
}

fn renamed<'n>(
    cx: &mut Cx<'_>,
    kind: &str,
    only_a: &[&'n [u8]],
    only_b: &[&'n [u8]],
    mut compare: impl FnMut(&mut Cx<'_>, &'n [u8], &'n [u8]),
) -> (BTreeSet<&'n [u8]>, BTreeSet<&'n [u8]>) {
    let pairs = pair_renamed(only_a, only_b);
    let mut groups: BTreeMap<(Vec<u8>, Vec<u8>), u64> = BTreeMap::new();
    let (mut used_a, mut used_b) = (BTreeSet::new(), BTreeSet::new());
    for p in &pairs {
        let (Some(x), Some(y)) = (
            only_a.iter().copied().find(|n| *n == p.a.as_slice()),
            only_b.iter().copied().find(|n| *n == p.b.as_slice()),
        ) else {
            continue;
        };
        used_a.insert(x);
        used_b.insert(y);
        if let Rename::Random {
            prefix_a, prefix_b, ..
        } = &p.why
        {
            *groups
                .entry((prefix_a.clone(), prefix_b.clone()))
                .or_default() += 1;
        }
        compare(cx, x, y);
    }
    for ((prefix_a, prefix_b), names) in groups {
        cx.emit(
            Location::Field {
                path: vec![
                    format!("{kind} names"),
                    String::from_utf8_lossy(&prefix_a).into_owned(),
                ],
                at: None,
            },
            Cause::RandomName { names },
            Evidence::value(prefix_a.clone()).with_token(&prefix_a, None),
            Evidence::value(prefix_b.clone()).with_token(&prefix_b, None),
            b"random name",
        );
    }
    (used_a, used_b)
}

/// Suspicious structures that differ between the sides: one finding each,
/// with the member name as evidence on the side that has it. A structure
/// present on both sides is no difference between A and B (issue 12,
/// class 13).
pub(crate) fn suspicious(
    cx: &mut Cx<'_>,
    format: Format,
    kind: &str,
    a: &[(Vec<u8>, String)],
    b: &[(Vec<u8>, String)],
) {
    let mut all: BTreeMap<(&[u8], &str), (bool, bool)> = BTreeMap::new();
    for (name, why) in a {
        all.entry((name, why)).or_default().0 = true;
    }
    for (name, why) in b {
        all.entry((name, why)).or_default().1 = true;
    }
    for ((name, why), (in_a, in_b)) in all {
        if in_a && in_b {
            continue;
        }
        let ev = |here: bool| {
            if here {
                Evidence::value(name.to_vec())
            } else {
                Evidence::absent()
            }
        };
        cx.emit(
            Location::Field {
                path: vec![format!("{kind} {}", String::from_utf8_lossy(name))],
                at: None,
            },
            Cause::Suspicious {
                format,
                reason: format!("{}: {why}", String::from_utf8_lossy(name)),
            },
            ev(in_a),
            ev(in_b),
            why.as_bytes(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every archive comparator survives corruption of real fixtures: a
    /// byte flipped at about 300 offsets spread over side B (every offset
    /// of the small ones), and B cut there. No panic, and always a finding.
    #[test]
    fn corruption_sweep_over_archive_fixtures() {
        use crate::formats::testing::{fixture, with_cx};
        use crate::formats::{Limits, compare_bytes};
        let limits = Limits {
            max_member_bytes: 1 << 20,
            ..Limits::default()
        };
        for (rel, name) in [
            ("archives/pyc/refs-%/mod.pyc", "mod.pyc"),
            ("archives/gzip/%/data.txt.gz", "data.txt.gz"),
            ("archives/infozip/%/src.zip", "src.zip"),
            ("archives/tgz/%/src.tgz", "src.tgz"),
            (
                "archives/wheel-fixed/%/demo_pkg-1.0-cp311-cp311-linux_x86_64.whl",
                "x.whl",
            ),
        ] {
            let a = fixture(&rel.replace('%', "a"));
            let b = fixture(&rel.replace('%', "b"));
            let step = (b.len() / 300).max(1);
            for at in (0..b.len()).step_by(step) {
                let mut flipped = b.clone();
                if let Some(x) = flipped.get_mut(at) {
                    *x ^= 0x5a;
                }
                let cut = b.get(..at).unwrap_or_default();
                for side_b in [&flipped[..], cut] {
                    if side_b == a.as_slice() {
                        continue;
                    }
                    let (findings, omitted) = with_cx(name, &limits, |cx| {
                        compare_bytes(cx, &a, side_b);
                    });
                    assert!(!findings.is_empty() || omitted > 0, "{rel} at {at}");
                }
            }
        }
    }

    #[test]
    fn names_that_escape_are_unsafe() {
        assert!(unsafe_name(b"../x").is_some());
        assert!(unsafe_name(b"a/../../x").is_some());
        assert!(unsafe_name(b"/etc/passwd").is_some());
        assert!(unsafe_name(b"C:\\x").is_some());
        assert!(unsafe_name(b"a/..b/c..").is_none());
        assert!(unsafe_name(b"pkg/__init__.py").is_none());
    }
}
