//! Cause detection: which known pattern explains a difference, and how to fix
//! it.
//!
//! The detectors mask what they recognise (build roots, absolute paths,
//! timestamps in every encoding toolchains use) on both sides and check
//! whether the masked texts agree: if they do, the masked values that differ
//! are the whole explanation; if they do not, whatever remains is `unknown`.

pub(crate) mod clock;
mod hints;
pub(crate) mod path;
pub(crate) mod roots;
pub(crate) mod timestamp;

pub(crate) use hints::hint;
pub use timestamp::format_epoch;

use std::ops::Range;

use crate::finding::{Canary, Cause, Side, TimestampEncoding};

/// What the caller knows about the two runs.
#[derive(Clone, Debug, Default)]
pub struct Canaries {
    /// The build roots of run A and run B (`--root-a/--root-b`, or the
    /// sandbox paths of an audit).
    pub roots: Option<(Vec<u8>, Vec<u8>)>,
    /// Other values known to differ between the runs (an audit's host
    /// names, user names, home directories): where A shows run A's value and
    /// B run B's, the difference is that environment value.
    pub values: Vec<CanaryValue>,
}

#[derive(Clone, Debug)]
pub struct CanaryValue {
    /// What the value is; it becomes `Cause::Environment { what }`.
    pub what: Canary,
    pub a: Vec<u8>,
    pub b: Vec<u8>,
}

/// Detectors configured for one comparison. What they decide depends on
/// the two inputs and the canaries only, never on the date `twice` runs.
#[derive(Clone, Debug)]
pub struct Classifier {
    canaries: Canaries,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Root,
    Path,
    Time(TimestampEncoding, Option<i64>),
    /// `canaries.values[i]`.
    Canary(u8),
}

#[derive(Clone, Copy, Debug)]
struct Token {
    start: usize,
    end: usize,
    class: Class,
}

/// One explained part of a difference: the cause and where it sits on each
/// side (byte ranges into the explained texts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Explained {
    pub cause: Cause,
    pub a: Range<usize>,
    pub b: Range<usize>,
    pub a_time: Option<i64>,
    pub b_time: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Explanation {
    pub found: Vec<Explained>,
    /// Something differs that no detector explains.
    pub residual: bool,
}

impl Classifier {
    pub fn new(canaries: Canaries) -> Classifier {
        Classifier { canaries }
    }

    /// The known build roots of side A and side B, if any.
    pub(crate) fn roots(&self) -> Option<(&[u8], &[u8])> {
        self.canaries
            .roots
            .as_ref()
            .map(|(a, b)| (a.as_slice(), b.as_slice()))
    }

    fn tokens(&self, text: &[u8], side: Side) -> Vec<Token> {
        let mut out: Vec<Token> = Vec::new();
        if let Some((ra, rb)) = &self.canaries.roots {
            let root = if side == Side::A { ra } else { rb };
            out.extend(
                path::find_root(text, root)
                    .into_iter()
                    .map(|(start, end)| Token {
                        start,
                        end,
                        class: Class::Root,
                    }),
            );
        }
        let overlaps =
            |out: &[Token], s: usize, e: usize| out.iter().any(|t| s < t.end && t.start < e);
        for (i, value) in self.canaries.values.iter().enumerate().take(256) {
            let needle = if side == Side::A { &value.a } else { &value.b };
            for start in find_all(text, needle) {
                let end = start + needle.len();
                if !overlaps(&out, start, end) {
                    out.push(Token {
                        start,
                        end,
                        class: Class::Canary(i as u8),
                    });
                }
            }
        }
        for (start, end) in path::scan(text) {
            if !overlaps(&out, start, end) {
                out.push(Token {
                    start,
                    end,
                    class: Class::Path,
                });
            }
        }
        for t in timestamp::scan(text, timestamp::PLAUSIBLE) {
            if !overlaps(&out, t.start, t.end) {
                out.push(Token {
                    start: t.start,
                    end: t.end,
                    class: Class::Time(t.encoding, t.epoch),
                });
            }
        }
        out.sort_by_key(|t| t.start);
        out
    }

    /// Explain why text `a` became text `b` (lines of a hunk, or a string
    /// found in a binary).
    pub(crate) fn explain_text(&self, a: &[u8], b: &[u8]) -> Explanation {
        if a == b {
            return Explanation::default();
        }
        let ta = self.tokens(a, Side::A);
        let tb = self.tokens(b, Side::B);
        let residual = masked(a, &ta) != masked(b, &tb);
        let mut found = Vec::new();
        let mut unexplained = false;
        // When the masked texts agree the token sequences line up one to one;
        // otherwise pair them per class, in order, as a best effort.
        let pairs: Vec<(Token, Token)> = if !residual {
            ta.iter().copied().zip(tb.iter().copied()).collect()
        } else {
            let mut pairs = Vec::new();
            for same in [
                |c: Class| matches!(c, Class::Root | Class::Path),
                |c: Class| matches!(c, Class::Time(..)),
                |c: Class| matches!(c, Class::Canary(..)),
            ] {
                let xa: Vec<Token> = ta.iter().copied().filter(|t| same(t.class)).collect();
                let xb: Vec<Token> = tb.iter().copied().filter(|t| same(t.class)).collect();
                if xa.len() == xb.len() {
                    // Without aligned texts, a timestamp pairs only with one
                    // in the same encoding: `Wed Nov 25 …` against a
                    // localised `mer. 25 nov. …` is not a clock difference.
                    pairs.extend(xa.into_iter().zip(xb).filter(|(x, y)| {
                        match (x.class, y.class) {
                            (Class::Time(ex, _), Class::Time(ey, _)) => ex == ey,
                            _ => true,
                        }
                    }));
                }
            }
            pairs
        };
        for (x, y) in pairs {
            if a[x.start..x.end] == b[y.start..y.end] {
                continue;
            }
            let (cause, a_time, b_time) = match (x.class, y.class) {
                (Class::Root, _) | (_, Class::Root) => {
                    (Cause::BuildPath { exact: true }, None, None)
                }
                // A build path is a directory that differs; a difference
                // confined to the last component is a name (issue 12,
                // class 5).
                (Class::Path, Class::Path) => {
                    match path::change(&a[x.start..x.end], &b[y.start..y.end]) {
                        path::PathChange::Directory => {
                            (Cause::BuildPath { exact: false }, None, None)
                        }
                        path::PathChange::LastComponent { random: true } => {
                            (Cause::RandomName { names: 1 }, None, None)
                        }
                        path::PathChange::LastComponent { random: false } => {
                            unexplained = true;
                            continue;
                        }
                    }
                }
                // A bare number is a time only when its two readings are
                // close (issue 12, class 2).
                (
                    Class::Time(TimestampEncoding::EpochDecimal, Some(ea)),
                    Class::Time(_, Some(eb)),
                ) if !clock::plausible_pair(ea, eb, &clock::Times::default()) => {
                    unexplained = true;
                    continue;
                }
                (Class::Time(encoding, ea), Class::Time(_, eb)) => {
                    (Cause::Timestamp { encoding }, ea, eb)
                }
                (Class::Canary(i), Class::Canary(j)) if i == j => {
                    let what = self.canaries.values[usize::from(i)].what;
                    (Cause::Environment { what }, None, None)
                }
                _ => continue,
            };
            found.push(Explained {
                cause,
                a: x.start..x.end,
                b: y.start..y.end,
                a_time,
                b_time,
            });
        }
        Explanation {
            residual: residual || unexplained || found.is_empty(),
            found,
        }
    }
}

/// The length of the common prefix of `a` and `b`, and of the common
/// suffix of what is left after it (the two never overlap).
pub(crate) fn common_ends(a: &[u8], b: &[u8]) -> (usize, usize) {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let room = a.len().min(b.len()) - prefix;
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(room)
        .take_while(|(x, y)| x == y)
        .count();
    (prefix, suffix)
}

/// Start offsets of the non-overlapping occurrences of `needle`.
fn find_all(text: &[u8], needle: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    if needle.is_empty() || needle.len() > text.len() {
        return out;
    }
    let mut at = 0;
    while let Some(i) = text[at..].windows(needle.len()).position(|w| w == needle) {
        out.push(at + i);
        at += i + needle.len();
        if at + needle.len() > text.len() {
            break;
        }
    }
    out
}

fn masked(text: &[u8], tokens: &[Token]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    for t in tokens {
        out.extend_from_slice(&text[at..t.start]);
        match t.class {
            Class::Root | Class::Path => out.extend_from_slice(b"\0P\0"),
            Class::Time(..) => out.extend_from_slice(b"\0T\0"),
            Class::Canary(i) => out.extend_from_slice(&[0, b'C', i, 0]),
        }
        at = t.end;
    }
    out.extend_from_slice(&text[at..]);
    out
}

/// The part of an excerpt that identifies a finding across runs: paths,
/// timestamps and digits masked, white space trimmed, at most 256 bytes.
pub(crate) fn stable_anchor(text: &[u8]) -> Vec<u8> {
    let classifier = Classifier::new(Canaries::default());
    let tokens = classifier.tokens(text, Side::A);
    let mut out = Vec::new();
    let mut digits = false;
    for &c in &masked(text, &tokens) {
        if c.is_ascii_digit() {
            if !digits {
                out.push(b'#');
            }
            digits = true;
            continue;
        }
        digits = false;
        out.push(c);
    }
    let start = out
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(out.len());
    let end = out
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    out[start..end].iter().copied().take(256).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classifier(roots: Option<(&str, &str)>) -> Classifier {
        Classifier::new(Canaries {
            roots: roots.map(|(a, b)| (a.as_bytes().to_vec(), b.as_bytes().to_vec())),
            values: Vec::new(),
        })
    }

    fn causes(c: &Classifier, a: &str, b: &str) -> (Vec<Cause>, bool) {
        let e = c.explain_text(a.as_bytes(), b.as_bytes());
        (e.found.into_iter().map(|x| x.cause).collect(), e.residual)
    }

    #[test]
    fn timestamp_fully_explains() {
        let (found, residual) = causes(
            &classifier(None),
            "built on Nov 25 2026 13:45:12",
            "built on Nov 26 2026 09:01:02",
        );
        assert!(!residual);
        assert_eq!(
            found,
            vec![
                Cause::Timestamp {
                    encoding: TimestampEncoding::CDate
                },
                Cause::Timestamp {
                    encoding: TimestampEncoding::CTime
                }
            ]
        );
    }

    #[test]
    fn roots_are_exact_and_other_paths_inferred() {
        let c = classifier(Some(("/tmp/run-a", "/tmp/longer-run-b")));
        let (found, residual) = causes(&c, "/tmp/run-a/src/x.c", "/tmp/longer-run-b/src/x.c");
        assert_eq!(
            (found, residual),
            (vec![Cause::BuildPath { exact: true }], false)
        );
        let (found, _) = causes(&classifier(None), "cwd=/home/a/p", "cwd=/srv/b/p");
        assert_eq!(found, vec![Cause::BuildPath { exact: false }]);
    }

    #[test]
    fn residual_difference_is_reported() {
        let (found, residual) = causes(
            &classifier(None),
            "seed 1234 at 2026-11-25",
            "seed 9876 at 2026-11-26",
        );
        assert!(residual);
        assert_eq!(
            found,
            vec![Cause::Timestamp {
                encoding: TimestampEncoding::Iso8601
            }]
        );
    }

    #[test]
    fn canary_values_name_the_environment() {
        let mut c = classifier(None);
        c.canaries.values.push(CanaryValue {
            what: Canary::Hostname,
            a: b"twice-host-a".to_vec(),
            b: b"twice-host-variant-1".to_vec(),
        });
        let (found, residual) = causes(
            &c,
            "BUILD_HOST = 'twice-host-a'",
            "BUILD_HOST = 'twice-host-variant-1'",
        );
        assert!(!residual);
        assert_eq!(
            found,
            vec![Cause::Environment {
                what: Canary::Hostname
            }]
        );
        // Run A's value on side B is not the canary.
        let (found, residual) = causes(&c, "h=twice-host-a", "h=other-host");
        assert!(residual && found.is_empty());
    }

    #[test]
    fn localised_dates_are_not_clock_differences() {
        let (found, residual) = causes(
            &classifier(None),
            "Wed Nov 25 15:31:56 UTC 2026",
            "mer. 25 nov. 2026 15:31:56 UTC",
        );
        assert!(residual);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn urls_and_renamed_files_are_not_build_paths() {
        let c = classifier(None);
        let (found, residual) = causes(
            &c,
            "<x xmlns=\"http://www.w3.org/2003/05/soap-envelope\"/>",
            "<x xmlns=\"http://www.w3.org/2003/01/geo/wgs84_pos#\"/>",
        );
        assert!(residual && found.is_empty(), "{found:?}");
        let (found, residual) = causes(&c, "/pkg/a/test1.py", "/pkg/a/test2.py");
        assert!(residual && found.is_empty(), "{found:?}");
        let (found, residual) = causes(
            &c,
            "Target=\"/package/core-properties/3f2a9c1d8e7b4a6f.psmdcp\"",
            "Target=\"/package/core-properties/9b81e0c4d2a34f57.psmdcp\"",
        );
        assert_eq!(
            (found, residual),
            (vec![Cause::RandomName { names: 1 }], false)
        );
    }

    #[test]
    fn epoch_numbers_years_apart_are_not_times() {
        let c = classifier(None);
        let (found, residual) = causes(&c, "serial 1511870615", "serial 1267614194");
        assert!(residual && found.is_empty(), "{found:?}");
        let (found, residual) = causes(&c, "at 1500000000", "at 1500086461");
        assert_eq!(found.len(), 1);
        assert!(!residual);
    }

    #[test]
    fn anchor_masks_volatile_values() {
        assert_eq!(
            stable_anchor(b"  built 2026-11-25 in /tmp/a/b id=42 \n"),
            stable_anchor(b"built 2027-01-02 in /srv/x/y id=43")
        );
    }
}
