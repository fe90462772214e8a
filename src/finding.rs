//! The finding model: the contract between comparators, classification and
//! renderers.
//!
//! A finding is typed data. Comparators produce it, `classify` fills in the
//! cause, renderers format it at the edge. Nothing here is a preformatted
//! sentence, so every renderer (and the history store, and baselines) sees the
//! same facts.

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

    /// A lossy rendering for humans.
    pub fn lossy(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.0)
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

    fn joined(&self) -> Vec<u8> {
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
        f.write_str(&String::from_utf8_lossy(&self.joined()))
    }
}

impl Serialize for Artifact {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match String::from_utf8(self.joined()) {
            Ok(text) => s.serialize_str(&text),
            Err(e) => Text(e.into_bytes()).serialize(s),
        }
    }
}

/// A 1-based line range: `start`, `count` lines (`count` may be 0 for a pure
/// insertion point).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct LineSpan {
    pub start: u64,
    pub count: u64,
}

/// A byte range: absolute offset `at` and length `len`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ByteSpan {
    pub at: u64,
    pub len: u64,
}

/// Where inside an artifact a difference lives. Format comparators add their
/// own variants (ELF section, zip entry field, pyc code object).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Location {
    /// The artifact as a whole (presence, file type).
    File,
    /// A file-system attribute of the artifact.
    Metadata { field: MetadataField },
    /// Lines of a text file.
    Lines { a: LineSpan, b: LineSpan },
    /// Bytes of a file.
    Bytes { a: ByteSpan, b: ByteSpan },
    /// A named place in a parsed structure, outermost first: `["section
    /// .debug_info", "CU hello.c", "DW_AT_comp_dir"]`, `["entry pkg/x.py",
    /// "external_attr"]`, `["code <module>.f", "co_consts[2]"]`. `at` is the
    /// offset of the field in side A, where there is one.
    Field { path: Vec<String>, at: Option<u64> },
}

impl Location {
    /// The key that orders findings within one artifact: by position in A.
    fn order_key(&self) -> (u8, u64) {
        match self {
            Location::File => (0, 0),
            Location::Metadata { field } => (1, *field as u64),
            Location::Lines { a, .. } => (2, a.start),
            Location::Bytes { a, .. } => (2, a.at),
            Location::Field { at, .. } => (2, at.unwrap_or(0)),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File => f.write_str("file"),
            Location::Metadata { field } => write!(f, "{field}"),
            Location::Lines { a, b } => {
                write!(f, "line {}", fmt_lines(*a))?;
                if a.start != b.start || a.count != b.count {
                    write!(f, " (B: {})", fmt_lines(*b))?;
                }
                Ok(())
            }
            Location::Bytes { a, b } => {
                write!(f, "offset {:#x}, {} byte{}", a.at, a.len, plural(a.len))?;
                if a.at != b.at || a.len != b.len {
                    write!(f, " (B: {:#x}, {} byte{})", b.at, b.len, plural(b.len))?;
                }
                Ok(())
            }
            Location::Field { path, at } => {
                f.write_str(&path.join(", "))?;
                if let Some(at) = at {
                    write!(f, " at {at:#x}")?;
                }
                Ok(())
            }
        }
    }
}

fn fmt_lines(span: LineSpan) -> String {
    match span.count {
        0 => format!("{} (none)", span.start),
        1 => span.start.to_string(),
        n => format!("{}-{}", span.start, span.start + n - 1),
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A file-system attribute; compared only with `--metadata`, except the
/// executable bit, which content-addressed caches key on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetadataField {
    ExecutableBit,
    SymlinkTarget,
    Mode,
    Mtime,
    Uid,
    Gid,
}

impl fmt::Display for MetadataField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MetadataField::ExecutableBit => "executable bit",
            MetadataField::SymlinkTarget => "symlink target",
            MetadataField::Mode => "mode",
            MetadataField::Mtime => "mtime",
            MetadataField::Uid => "uid",
            MetadataField::Gid => "gid",
        })
    }
}

/// How a timestamp was encoded where it was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampEncoding {
    /// Seconds since the epoch as decimal text.
    EpochDecimal,
    EpochLe32,
    EpochBe32,
    EpochLe64,
    EpochBe64,
    Iso8601,
    Rfc2822,
    /// `Wed Nov 25 13:45:12 2026` (`__TIMESTAMP__`, asctime, `date`).
    Asctime,
    /// `__DATE__`: `Nov 25 2026`.
    CDate,
    /// `__TIME__`: `13:45:12`.
    CTime,
    /// MS-DOS date and time words (zip, FAT).
    DosDateTime,
    /// A file's modification time in the file system.
    FileMtime,
    /// The source mtime in a timestamp-based `.pyc` header (PEP 552),
    /// 32-bit little-endian.
    PycSourceMtime,
    /// The MTIME field of a gzip member header (RFC 1952), 32-bit
    /// little-endian.
    GzipMtime,
}

impl fmt::Display for TimestampEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimestampEncoding::EpochDecimal => "epoch seconds, decimal",
            TimestampEncoding::EpochLe32 => "epoch seconds, 32-bit little-endian",
            TimestampEncoding::EpochBe32 => "epoch seconds, 32-bit big-endian",
            TimestampEncoding::EpochLe64 => "epoch seconds, 64-bit little-endian",
            TimestampEncoding::EpochBe64 => "epoch seconds, 64-bit big-endian",
            TimestampEncoding::Iso8601 => "ISO 8601",
            TimestampEncoding::Rfc2822 => "RFC 2822",
            TimestampEncoding::Asctime => "asctime / __TIMESTAMP__",
            TimestampEncoding::CDate => "__DATE__",
            TimestampEncoding::CTime => "__TIME__",
            TimestampEncoding::DosDateTime => "MS-DOS date/time",
            TimestampEncoding::FileMtime => "file mtime",
            TimestampEncoding::PycSourceMtime => "pyc source mtime",
            TimestampEncoding::GzipMtime => "gzip header MTIME",
        })
    }
}

/// Why two artifacts differ, as far as `twice` can tell.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Cause {
    /// An embedded clock reading.
    Timestamp { encoding: TimestampEncoding },
    /// An absolute path of the build directory. `exact` when the two roots
    /// were known (`--root-a/--root-b`, or the sandbox paths of an audit).
    BuildPath { exact: bool },
    /// The same records in a different order. `records` counts the records
    /// that are out of place.
    Ordering { records: u64 },
    /// The artifact exists on one side only.
    OnlyIn { side: Side },
    /// A file on one side, a directory, symlink or special file on the other.
    FileType,
    /// The executable bit differs; caches key on it.
    ExecutableBit,
    /// Both are symlinks, pointing at different targets.
    SymlinkTarget,
    /// Other file-system metadata (only with `--metadata`).
    Metadata { field: MetadataField },
    /// Differences no detector explains: `differences` differing ranges
    /// (or lines) in a run with nothing explained between them.
    Unknown { differences: u64 },
    /// A difference that follows from another one (offsets shifted by a
    /// longer string, a build-id or a RECORD hash over changed content).
    /// `of` names the root it follows from.
    Consequence { of: String },
    /// A format comparator could not parse one side; a byte comparison
    /// follows. `reason` says what was wrong and at which offset.
    Unparsed { format: String, reason: String },
    /// A bound on archive recursion was reached; what lies beyond it was
    /// not compared.
    Limit { limit: LimitKind, detail: String },
    /// A value of the build machine's environment captured in the output:
    /// `what` is `hostname`, `domain`, `user`, `home`, `time zone`, `locale`
    /// or `umask` (an audit's canary values).
    Environment { what: String },
    /// An archive member whose content is the same on both sides but whose
    /// compressed bytes differ: another compressor, version, level or
    /// method. `format` names the container (zip, gzip).
    Compressor { format: String },
    /// Marshalled Python values that are equal but encoded differently:
    /// the FLAG_REF bit, back-reference numbering or string interning,
    /// which CPython derives from reference counts. `flagged_a` and
    /// `flagged_b` count the objects each side flags.
    MarshalRefs { flagged_a: u64, flagged_b: u64 },
    /// Elements of a set or frozenset in another order, which follows the
    /// string hash seed. `records` counts the elements out of place.
    HashOrder { records: u64 },
    /// Permission bits of an archive member differ (typically the umask of
    /// the build); the modes are in the evidence.
    Permissions,
    /// An archive structure that tools extracting it may mishandle (path
    /// traversal, overlapping entries, impossible sizes). `twice` never
    /// extracts to disk; it reports and goes on where it safely can.
    Suspicious { format: String, reason: String },
    /// The compiler, linker or the flags they were given differ, or a value
    /// derived from them (a Rust crate metadata hash in symbol names).
    /// `differences` counts the records affected.
    Toolchain {
        part: ToolchainPart,
        differences: u64,
    },
    /// The GNU build-id (`.note.gnu.build-id`) is the only difference in the
    /// file: it hashes something that is not in it any more (stripped debug
    /// info) or is random (`--build-id=uuid`).
    BuildIdOnly,
    /// A header field of an `ar` member (date, uid, gid, mode) that
    /// deterministic mode (`ar D`) would have zeroed.
    ArchiveHeader { field: MetadataField },
    /// Names that embed a per-compilation random value (GCC fat-LTO section
    /// names, anonymous-namespace symbols). `differences` counts them.
    RandomSeed { differences: u64 },
}

/// Which part of the toolchain a [`Cause::Toolchain`] difference is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolchainPart {
    /// The compiler or linker version (`.comment`, `DW_AT_producer`).
    Version,
    /// The flags the compiler recorded (`DW_AT_producer`).
    Flags,
    /// Rust symbol hashes (`h<16 hex>`), which derive from `-C metadata`
    /// and the crate's identity.
    RustMetadataHash,
}

impl fmt::Display for ToolchainPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ToolchainPart::Version => "compiler or linker version",
            ToolchainPart::Flags => "recorded compiler flags",
            ToolchainPart::RustMetadataHash => "Rust crate metadata hash in symbol names",
        })
    }
}

/// The bounds shared by all archive recursion (see `diff::Limits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// Archives nested deeper than `max_depth`.
    Depth,
    /// More members than `max_members` in one archive.
    Members,
    /// More than `max_unpacked_bytes` decompressed below one artifact.
    UnpackedBytes,
    /// One member larger than `max_member_bytes` once decompressed.
    MemberBytes,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::Depth => "nesting depth",
            LimitKind::Members => "member count",
            LimitKind::UnpackedBytes => "total decompressed bytes",
            LimitKind::MemberBytes => "member size",
        })
    }
}

impl Cause {
    /// A short name, stable across releases: used in summaries and rule ids.
    pub fn name(&self) -> &'static str {
        match self {
            Cause::Timestamp { .. } => "timestamp",
            Cause::BuildPath { .. } => "build_path",
            Cause::Ordering { .. } => "ordering",
            Cause::OnlyIn { .. } => "only_in",
            Cause::FileType => "file_type",
            Cause::ExecutableBit => "executable_bit",
            Cause::SymlinkTarget => "symlink_target",
            Cause::Metadata { .. } => "metadata",
            Cause::Unknown { .. } => "unknown",
            Cause::Consequence { .. } => "consequence",
            Cause::Unparsed { .. } => "unparsed",
            Cause::Limit { .. } => "limit",
            Cause::Environment { .. } => "environment",
            Cause::Compressor { .. } => "compressor",
            Cause::MarshalRefs { .. } => "marshal_refs",
            Cause::HashOrder { .. } => "hash_order",
            Cause::Permissions => "permissions",
            Cause::Suspicious { .. } => "suspicious",
            Cause::Toolchain { .. } => "toolchain",
            Cause::BuildIdOnly => "build_id_only",
            Cause::ArchiveHeader { .. } => "archive_header",
            Cause::RandomSeed { .. } => "random_seed",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Timestamp { encoding } => write!(f, "timestamp ({encoding})"),
            Cause::BuildPath { exact: true } => f.write_str("build path"),
            Cause::BuildPath { exact: false } => f.write_str("build path (inferred)"),
            Cause::Ordering { records } => {
                write!(f, "ordering ({records} record{} moved)", plural(*records))
            }
            Cause::OnlyIn { side } => write!(f, "only in {side}"),
            Cause::FileType => f.write_str("file type differs"),
            Cause::ExecutableBit => f.write_str("executable bit differs"),
            Cause::SymlinkTarget => f.write_str("symlink target differs"),
            Cause::Metadata { field } => write!(f, "{field} differs"),
            Cause::Unknown { differences: 1 } => f.write_str("unknown"),
            Cause::Unknown { differences } => write!(f, "unknown ({differences} differences)"),
            Cause::Consequence { of } => write!(f, "consequence of {of}"),
            Cause::Unparsed { format, reason } => {
                write!(f, "could not parse as {format}: {reason}")
            }
            Cause::Limit { limit, detail } => write!(f, "{limit} limit reached: {detail}"),
            Cause::Environment { what } => write!(f, "captured {what}"),
            Cause::Compressor { format } => write!(
                f,
                "compressor differs ({format}: same content, different compressed bytes)"
            ),
            Cause::MarshalRefs {
                flagged_a,
                flagged_b,
            } => write!(
                f,
                "marshal reference flags differ (equal values; A flags {flagged_a} objects, B {flagged_b})"
            ),
            Cause::HashOrder { records } => write!(
                f,
                "ordering by hash seed ({records} set element{} moved)",
                plural(*records)
            ),
            Cause::Permissions => f.write_str("permission bits differ"),
            Cause::Suspicious { format, reason } => write!(f, "suspicious {format}: {reason}"),
            Cause::Toolchain {
                part,
                differences: 1,
            } => write!(f, "toolchain: {part}"),
            Cause::Toolchain { part, differences } => {
                write!(f, "toolchain: {part} ({differences} differences)")
            }
            Cause::BuildIdOnly => f.write_str("build-id only"),
            Cause::ArchiveHeader { field } => {
                write!(f, "ar member {field} (archive not in deterministic mode)")
            }
            Cause::RandomSeed { differences } => write!(
                f,
                "random per-compilation name ({differences} name{})",
                plural(*differences)
            ),
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
}

/// The variation(s) a finding is pinned to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Attribution {
    /// Variation names; two when only the pair together triggers it. Empty
    /// with `by: inherent` (it differs with nothing varied).
    pub variations: Vec<&'static str>,
    pub by: AttributedBy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributedBy {
    /// Side A holds run A's value of the variation and side B run B's:
    /// certain.
    Canary,
    /// Reruns with subsets of the variations reproduce it exactly when
    /// these are varied.
    Bisect,
    /// The kind of difference points at the variation (records reordered
    /// while the file order varied), without proof.
    Likely,
    /// It differs even between two runs with nothing varied: randomness or
    /// scheduling inside the build.
    Inherent,
}

impl fmt::Display for Attribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let by = match self.by {
            AttributedBy::Canary => "canary",
            AttributedBy::Bisect => "bisect",
            AttributedBy::Likely => "likely",
            AttributedBy::Inherent => "differs with nothing varied",
        };
        if self.variations.is_empty() {
            f.write_str(by)
        } else {
            write!(f, "{} ({by})", self.variations.join(" + "))
        }
    }
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
    h.update(artifact.to_string().as_bytes());
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
