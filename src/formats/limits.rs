//! The budget every comparison works within: findings and evidence shown,
//! archive nesting, members and decompressed bytes. Exceeding a bound
//! yields a `limit` finding or a byte fallback, never a failure.

/// Bounds on the work and output spent on one artifact. `max_findings`
/// applies to each member's evidence: every differing member is named.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Findings kept per member (and per archive entry's header fields);
    /// the rest are counted as omitted.
    pub max_findings: usize,
    /// Differing bytes shown per side in binary evidence.
    pub evidence_bytes: usize,
    /// Lines shown per side in text evidence.
    pub evidence_lines: usize,
    /// Above this many NUL-terminated records (both sides together), binary
    /// files of different lengths are not aligned record by record.
    pub align_records: usize,
    /// Archives nested deeper than this are not opened (a top-level file is
    /// depth 0, a member of it depth 1).
    pub max_depth: usize,
    /// Members read per archive.
    pub max_members: u64,
    /// Bytes decompressed in all below one top-level artifact, per side.
    pub max_unpacked_bytes: u64,
    /// Bytes one member may decompress to.
    pub max_member_bytes: u64,
    /// Bytes of one decompressed member held in memory for its format's
    /// comparator, per side; a larger member is compared as a stream,
    /// byte for byte, with a `limit` finding saying so.
    pub max_resident_bytes: u64,
    /// Files larger than this whose format needs them whole (archives,
    /// ELF) are compared by digest only.
    pub max_file_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_findings: 200,
            evidence_bytes: 64,
            evidence_lines: 8,
            align_records: 1_000_000,
            max_depth: 8,
            max_members: 100_000,
            max_unpacked_bytes: 4 << 30,
            max_member_bytes: 1 << 30,
            max_resident_bytes: 256 << 20,
            max_file_bytes: 1 << 30,
        }
    }
}
