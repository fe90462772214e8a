//! The finding model: the contract between comparators, classification and
//! renderers.
//!
//! A finding is typed data. Comparators produce it, `classify` fills in the
//! cause, audits attribute it to a variation, renderers format it at the
//! edge. Nothing here is a preformatted sentence, so every renderer (and the
//! history store, and baselines) sees the same facts. This is the bottom of
//! the module graph: it imports nothing else from the crate.

mod attribution;
mod cause;
mod location;

pub use attribution::{AttributedBy, Attribution, Canary, Variation};
pub use cause::{Cause, LimitKind, TimestampEncoding, ToolchainPart};
pub use location::{ByteSpan, LineSpan, Location, MetadataField};

use std::fmt;

use serde::{Serialize, Serializer};

/// One of the two sides of a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    A,
    B,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::A => "A",
            Side::B => "B",
        })
    }
}

/// A BLAKE3 digest of some content.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    pub fn of(data: &[u8]) -> Digest {
        Digest(*blake3::hash(data).as_bytes())
    }

    pub fn to_hex(self) -> String {
        hex(&self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Bytes that are shown as text when they are UTF-8 and as hex otherwise, so
/// that non-UTF-8 paths and excerpts reach JSON without loss.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(pub Vec<u8>);

impl Text {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Text {
        Text(bytes.into())
    }

    /// A lossy rendering for humans, with control characters escaped.
    pub fn lossy(&self) -> std::borrow::Cow<'_, str> {
        match String::from_utf8_lossy(&self.0) {
            std::borrow::Cow::Borrowed(s) => printable(s),
            std::borrow::Cow::Owned(s) => std::borrow::Cow::Owned(printable(&s).into_owned()),
        }
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(1))?;
        match std::str::from_utf8(&self.0) {
            Ok(text) => map.serialize_entry("text", text)?,
            Err(_) => map.serialize_entry("hex", &hex(&self.0))?,
        }
        map.end()
    }
}

/// Where a finding lives: a relative path, with one `!member` segment per
/// level of nesting (`dist/pkg.whl!pkg/_speedups.so`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Artifact {
    segments: Vec<Text>,
}

impl Artifact {
    pub fn new(path: impl Into<Vec<u8>>) -> Artifact {
        Artifact {
            segments: vec![Text::new(path)],
        }
    }

    /// The artifact of a member nested inside this one.
    pub fn member(&self, name: impl Into<Vec<u8>>) -> Artifact {
        let mut segments = self.segments.clone();
        segments.push(Text::new(name));
        Artifact { segments }
    }

    pub fn depth(&self) -> usize {
        self.segments.len() - 1
    }

    /// The top-level file this artifact is, or is inside of.
    pub fn top(&self) -> Artifact {
        Artifact {
            segments: self.segments.iter().take(1).cloned().collect(),
        }
    }

    /// The path of the top-level file.
    pub fn first(&self) -> &Text {
        self.segments.first().expect("an artifact has a path")
    }

    /// The innermost segment: the member name, or the path.
    pub fn last(&self) -> &Text {
        self.segments.last().expect("an artifact has a path")
    }

    /// The innermost segment: the member's name, or the path of a
    /// top-level artifact.
    pub fn last_segment(&self) -> &[u8] {
        self.segments.last().map_or(&[][..], |t| t.0.as_slice())
    }

    /// The artifact this one is a member of (`None` at the top level).
    pub fn parent(&self) -> Option<Artifact> {
        (self.segments.len() > 1).then(|| Artifact {
            segments: self.segments[..self.segments.len() - 1].to_vec(),
        })
    }

    /// The segments joined with `!`, as raw bytes.
    pub fn joined(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, seg) in self.segments.iter().enumerate() {
            if i > 0 {
                out.push(b'!');
            }
            out.extend_from_slice(&seg.0);
        }
        out
    }
}

impl fmt::Display for Artifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&printable(&String::from_utf8_lossy(&self.joined())))
    }
}

/// `s` safe to print on a terminal: control characters (but tab), and the
/// Unicode controls that reorder text, escaped (`\n`, `\x1b`,
/// `\u{202e}`), so a file name or content cannot move the cursor, clear the
/// screen or forge report lines.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        (c.is_control() && c != '\t')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if unsafe_char(c) && (c as u32) < 0x100 => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

impl Serialize for Artifact {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match String::from_utf8(self.joined()) {
            Ok(text) => s.serialize_str(&text),
            Err(e) => Text(e.into_bytes()).serialize(s),
        }
    }
}

/// The formats `twice` recognises by content, each with its comparator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Text,
    Binary,
    Elf,
    /// `ar` archives (static libraries), GNU and BSD.
    Ar,
    /// zip, and wheels, jars and other zip-based archives.
    Zip,
    /// Compiled Python (`.pyc`).
    Pyc,
    Gzip,
    Tar,
    /// cpio archives (old binary, odc and newc/crc headers).
    Cpio,
    Png,
    Xz,
    Zstd,
    Bzip2,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Binary => "binary",
            Format::Elf => "ELF",
            Format::Ar => "ar",
            Format::Zip => "zip",
            Format::Pyc => "pyc",
            Format::Gzip => "gzip",
            Format::Tar => "tar",
            Format::Cpio => "cpio",
            Format::Png => "PNG",
            Format::Xz => "xz",
            Format::Zstd => "zstd",
            Format::Bzip2 => "bzip2",
        }
    }
}

/// A decoded value, attached to evidence when a detector understood it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decoded {
    /// Seconds since the epoch (UTC); for encodings without a zone (DOS,
    /// `__DATE__`) read as if UTC.
    Time(i64),
    /// A file mode.
    Mode(u32),
}

/// What one side shows at the location.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Excerpt {
    /// Lines of text, starting at line `first`; `omitted` more lines were cut.
    Lines {
        first: u64,
        lines: Vec<Text>,
        omitted: u64,
    },
    /// Raw bytes starting at offset `at`; `mark` is the differing part,
    /// relative to `at`.
    Bytes {
        at: u64,
        bytes: Text,
        mark: ByteSpan,
    },
    /// A single value (a symlink target, a mode, an entry kind).
    Value { value: Text },
    /// Nothing on this side (the artifact is absent).
    Absent,
}

/// One side's evidence: an excerpt, and the recognised token within it (the
/// timestamp or path a detector matched) with its decoded value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Evidence {
    pub excerpt: Excerpt,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoded: Option<Decoded>,
}

impl Evidence {
    pub fn of(excerpt: Excerpt) -> Evidence {
        Evidence {
            excerpt,
            token: None,
            decoded: None,
        }
    }

    pub fn absent() -> Evidence {
        Evidence::of(Excerpt::Absent)
    }

    pub fn value(value: impl Into<Vec<u8>>) -> Evidence {
        Evidence::of(Excerpt::Value {
            value: Text::new(value),
        })
    }

    pub fn with_token(mut self, token: &[u8], decoded: Option<Decoded>) -> Evidence {
        self.token = Some(Text::new(token));
        self.decoded = decoded;
        self
    }
}

/// A stable identity for a finding: independent of sandbox paths, clocks and
/// thread scheduling, so that baselines and history can recognise it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(pub [u8; 16]);

impl Serialize for Fingerprint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex(&self.0))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

/// One difference, located, explained and fingerprinted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub artifact: Artifact,
    pub location: Location,
    pub cause: Cause,
    pub a: Evidence,
    pub b: Evidence,
    pub hint: &'static str,
    pub fingerprint: Fingerprint,
    /// Which variation of an audit triggers this difference, and how that
    /// was established. `None` outside audits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variation: Option<Attribution>,
    /// For a consequence: the root finding it follows from, when one was
    /// found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<Fingerprint>,
    /// Against a baseline of accepted findings: new or known. `None`
    /// without a baseline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineState>,
}

/// A finding against the baseline of accepted findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineState {
    /// Not in the baseline: introduced by this change.
    New,
    /// In the baseline: accepted, does not fail the gate.
    Known,
}

/// The fingerprint of a finding: the artifact, the cause kind, the location
/// kind and an `anchor` (excerpt text with volatile values masked, see
/// [`crate::classify::stable_anchor`]); never offsets or raw values.
pub(crate) fn fingerprint(
    artifact: &Artifact,
    cause: &Cause,
    location: &Location,
    anchor: &[u8],
) -> Fingerprint {
    let mut h = blake3::Hasher::new();
    h.update(b"twice-fingerprint-v1\0");
    h.update(&artifact.joined());
    h.update(b"\0");
    h.update(cause.name().as_bytes());
    h.update(b"\0");
    h.update(location_kind(location).as_bytes());
    h.update(b"\0");
    h.update(anchor);
    let mut fp = [0u8; 16];
    fp.copy_from_slice(&h.finalize().as_bytes()[..16]);
    Fingerprint(fp)
}

fn location_kind(loc: &Location) -> String {
    match loc {
        Location::File => "file".to_owned(),
        Location::Metadata { field } => format!("metadata:{field}"),
        Location::Lines { .. } => "lines".to_owned(),
        Location::Bytes { .. } => "bytes".to_owned(),
        // Field names are stable; the offset is not part of the identity.
        Location::Field { path, .. } => format!("field:{}", path.join("\u{1f}")),
    }
}

/// The order of findings in every report: by artifact, then position, then
/// cause, then fingerprint. Never by discovery order.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|x, y| {
        (
            &x.artifact,
            x.location.order_key(),
            &x.location,
            &x.cause,
            x.fingerprint,
        )
            .cmp(&(
                &y.artifact,
                y.location.order_key(),
                &y.location,
                &y.cause,
                y.fingerprint,
            ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_joins_members_with_bang() {
        let a = Artifact::new("dist/pkg.whl").member("pkg/_speedups.so");
        assert_eq!(a.to_string(), "dist/pkg.whl!pkg/_speedups.so");
        assert_eq!(a.depth(), 1);
    }

    #[test]
    fn terminal_controls_are_escaped_for_humans() {
        assert_eq!(printable("plain\tname"), "plain\tname");
        assert_eq!(printable("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(printable("x\nfindings: 0"), "x\\nfindings: 0");
        assert_eq!(printable("\u{202e}txt.exe"), "\\u{202e}txt.exe");
        assert_eq!(Artifact::new("a\rb").to_string(), "a\\rb");
        assert_eq!(
            Text::new(b"\x1b]0;t\x07".to_vec()).lossy(),
            "\\x1b]0;t\\x07"
        );
    }

    #[test]
    fn text_serializes_non_utf8_as_hex() {
        let json = serde_json::to_string(&Text::new(vec![0xff, 0x41])).unwrap();
        assert_eq!(json, r#"{"hex":"ff41"}"#);
        let json = serde_json::to_string(&Text::new("ok")).unwrap();
        assert_eq!(json, r#"{"text":"ok"}"#);
    }

    const UNKNOWN: Cause = Cause::Unknown { differences: 1 };

    #[test]
    fn fingerprint_ignores_location_offsets() {
        let at = |at| Location::Bytes {
            a: ByteSpan { at, len: 4 },
            b: ByteSpan { at, len: 4 },
        };
        let art = Artifact::new("x");
        assert_eq!(
            fingerprint(&art, &UNKNOWN, &at(1), b"anchor"),
            fingerprint(&art, &UNKNOWN, &at(99), b"anchor")
        );
        assert_ne!(
            fingerprint(&art, &UNKNOWN, &at(1), b"anchor"),
            fingerprint(&art, &Cause::BuildPath { exact: true }, &at(1), b"anchor")
        );
    }
}
