//! Why two artifacts differ: the cause of a finding and its parts.

use std::fmt;

use serde::Serialize;

use super::location::{MetadataField, plural};
use super::{Canary, Format, Side};

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
    /// A time of day without seconds or date: `02:40` (`date +%H:%M`).
    TimeOfDay,
    /// TeX's date and time as dvips and pdfTeX print them:
    /// `2017.07.14:0240` (to the minute).
    TexDate,
    /// A PNG `tIME` chunk: year (16-bit big-endian), month, day, hour,
    /// minute, second, in UTC.
    PngTime,
    /// An NTFS FILETIME: 100 ns intervals since 1601-01-01, 64-bit
    /// little-endian (zip extra field 0x000a).
    NtfsFiletime,
    /// An ISO 9660 directory-record date: seven bytes (years since 1900,
    /// month, day, hour, minute, second, zone in 15-minute steps); Rock
    /// Ridge `TF` entries use it too.
    Iso9660DirDate,
    /// An ISO 9660 volume-descriptor date: 16 digits `YYYYMMDDhhmmsscc`
    /// and a zone byte.
    Iso9660VolumeDate,
    /// TrueType/OpenType `LONGDATETIME`: seconds since 1904-01-01, 64-bit
    /// big-endian (`head.created`, `head.modified`).
    SfntLongDateTime,
    /// An ICC profile `dateTimeNumber`: six 16-bit big-endian numbers
    /// (year, month, day, hour, minute, second).
    IccDateTime,
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
            TimestampEncoding::TimeOfDay => "time of day (HH:MM)",
            TimestampEncoding::TexDate => "TeX date (YYYY.MM.DD:HHMM)",
            TimestampEncoding::PngTime => "PNG tIME",
            TimestampEncoding::NtfsFiletime => "NTFS FILETIME",
            TimestampEncoding::Iso9660DirDate => "ISO 9660 directory-record date",
            TimestampEncoding::Iso9660VolumeDate => "ISO 9660 volume date",
            TimestampEncoding::SfntLongDateTime => "TrueType/OpenType LONGDATETIME",
            TimestampEncoding::IccDateTime => "ICC dateTimeNumber",
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
    Unparsed { format: Format, reason: String },
    /// A bound on the work spent on one artifact was reached; what lies
    /// beyond it was not compared. `max` is the bound in force; the
    /// option that raises it is [`LimitKind::option`].
    Limit { limit: LimitKind, max: u64 },
    /// A value of the build machine's environment captured in the output:
    /// one of an audit's canary values (host, domain and user names, home,
    /// time zone, locale, umask, the extra variable).
    Environment { what: Canary },
    /// An archive member whose content is the same on both sides but whose
    /// compressed bytes differ: another compressor, version, level or
    /// method. `format` names the container (zip, gzip).
    Compressor { format: Format },
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
    Suspicious { format: Format, reason: String },
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
    /// A path component that is a random name on each side (a `mktemp`
    /// directory, a GUID file name): not a build directory. The members
    /// under it are paired and compared; `names` counts the paths that
    /// differ only there.
    RandomName { names: u64 },
    /// An encrypted archive member whose ciphertext differs. Encryption
    /// starts from a random header (salt), so equal plaintexts give
    /// different bytes; `twice` cannot decrypt them to compare.
    Encrypted { format: Format },
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

/// The bounds shared by all archive recursion (see `formats::Limits`).
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
    /// A file larger than `max_file_bytes`: compared by digest only.
    FileBytes,
    /// A decompressed member larger than `max_resident_bytes`: compared
    /// as a stream, byte for byte, not by its format.
    ResidentBytes,
    /// Marshalled Python objects that expand, through back-references,
    /// beyond a fixed number of nodes visited.
    MarshalNodes,
}

impl LimitKind {
    /// The command-line option that raises this bound (`None`: a fixed
    /// bound).
    pub fn option(self) -> Option<&'static str> {
        match self {
            LimitKind::Depth => Some("--max-depth"),
            LimitKind::Members => Some("--max-members"),
            LimitKind::UnpackedBytes => Some("--max-unpacked"),
            LimitKind::MemberBytes => Some("--max-member"),
            LimitKind::ResidentBytes => Some("--max-resident"),
            LimitKind::FileBytes => Some("--max-file"),
            LimitKind::MarshalNodes => None,
        }
    }
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::Depth => "nesting depth",
            LimitKind::Members => "member count",
            LimitKind::UnpackedBytes => "total decompressed bytes",
            LimitKind::MemberBytes => "member size",
            LimitKind::FileBytes => "file size",
            LimitKind::ResidentBytes => "member size held in memory",
            LimitKind::MarshalNodes => "marshal nodes",
        })
    }
}

impl Cause {
    /// Every cause name, as [`Cause::name`] gives them.
    pub const NAMES: &'static [&'static str] = &[
        "timestamp",
        "build_path",
        "ordering",
        "only_in",
        "file_type",
        "executable_bit",
        "symlink_target",
        "metadata",
        "unknown",
        "consequence",
        "unparsed",
        "limit",
        "environment",
        "compressor",
        "marshal_refs",
        "hash_order",
        "permissions",
        "suspicious",
        "toolchain",
        "build_id_only",
        "archive_header",
        "random_seed",
    ];

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
            Cause::RandomName { .. } => "random_name",
            Cause::Encrypted { .. } => "encrypted",
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
            Cause::Consequence { of } => write!(f, "consequence of {}", super::printable(of)),
            Cause::Unparsed { format, reason } => {
                write!(
                    f,
                    "could not parse as {}: {}",
                    format.name(),
                    super::printable(reason)
                )
            }
            Cause::Limit { limit, max } => {
                let unit = match limit {
                    LimitKind::UnpackedBytes
                    | LimitKind::MemberBytes
                    | LimitKind::ResidentBytes
                    | LimitKind::FileBytes => " bytes",
                    _ => "",
                };
                write!(f, "{limit} limit reached (at most {max}{unit}")?;
                match limit.option() {
                    Some(option) => write!(f, "; {option} raises it)"),
                    None => f.write_str(", a fixed bound)"),
                }
            }
            Cause::Environment { what } => write!(f, "captured {what}"),
            Cause::Compressor { format } => write!(
                f,
                "compressor differs ({}: same content, different compressed bytes)",
                format.name()
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
            Cause::Suspicious { format, reason } => write!(
                f,
                "suspicious {}: {}",
                format.name(),
                super::printable(reason)
            ),
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
            Cause::RandomName { names } => {
                write!(f, "random name ({names} path{})", plural(*names))
            }
            Cause::Encrypted { format } => write!(
                f,
                "encrypted {} member: the ciphertext differs (random encryption header)",
                format.name()
            ),
        }
    }
}
