//! Where inside an artifact a difference lives.

use std::fmt;

use serde::Serialize;

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
    pub(crate) fn order_key(&self) -> (u8, u64) {
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
                f.write_str(&super::printable(&path.join(", ")))?;
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

pub(crate) fn plural(n: u64) -> &'static str {
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
