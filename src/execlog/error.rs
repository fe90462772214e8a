//! Errors of `twice execlog`: a log that cannot be opened, recognised or
//! decoded. Every decoding error names the file, the stream the offset
//! counts in, and the byte offset.

use std::fmt;
use std::path::PathBuf;

/// Which build-system log a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// `--execution_log_json_file`: `SpawnExec` messages in the proto3 JSON
    /// mapping, pretty-printed and concatenated (Bazel 4–8) or one per line.
    BazelJson,
    /// `--execution_log_binary_file`: varint-delimited `SpawnExec` messages.
    BazelBinary,
    /// `--execution_log_compact_file`: zstd, varint-delimited `ExecLogEntry`.
    BazelCompact,
    /// `buck2 log what-ran --format json`: one JSON record per line.
    Buck2WhatRan,
    /// A log with nothing in it (0 bytes, or only white space): Bazel writes
    /// one when nothing executed.
    Empty,
}

impl LogFormat {
    /// Logs of one build system can be compared with each other.
    pub(crate) fn family(self) -> Option<u8> {
        match self {
            LogFormat::BazelJson | LogFormat::BazelBinary | LogFormat::BazelCompact => Some(0),
            LogFormat::Buck2WhatRan => Some(1),
            LogFormat::Empty => None,
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::BazelJson => "Bazel JSON execution log",
            LogFormat::BazelBinary => "Bazel binary execution log",
            LogFormat::BazelCompact => "Bazel compact execution log",
            LogFormat::Buck2WhatRan => "Buck2 what-ran JSON log",
            LogFormat::Empty => "empty log",
        })
    }
}

/// What a byte offset counts: the file as stored, or the stream after zstd
/// decompression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    File,
    Compressed,
    Decompressed,
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stream::File => "byte offset",
            Stream::Compressed => "compressed byte offset",
            Stream::Decompressed => "decompressed byte offset",
        })
    }
}

/// What is wrong at an offset.
#[derive(Debug, thiserror::Error)]
pub enum ExeclogErrorKind {
    #[error("the log ends inside a record")]
    Truncated,
    #[error("a length prefix is not a valid varint")]
    BadVarint,
    #[error("a record declares {len} bytes, more than the {max} allowed")]
    RecordTooLarge { len: u64, max: u64 },
    #[error(
        "the log decompresses to more than {max} bytes (--max-decompressed; the default is \
         the larger of 4 GiB and 256 times the compressed size)"
    )]
    DecompressedTooLarge { max: u64 },
    #[error("the zstd stream is corrupt: {0}")]
    Zstd(#[source] std::io::Error),
    #[error("a protobuf message does not decode: {what}")]
    Protobuf { what: WireProblem },
    #[error("an entry of length 0: compact logs never hold one (not a compact log, or corrupt)")]
    EmptyEntry,
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("entry {id} refers to entry {missing}, which does not precede it")]
    DanglingId { id: u32, missing: u32 },
    #[error("input sets nest deeper than {max} levels")]
    TooDeep { max: usize },
}

/// Why a protobuf message does not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireProblem {
    /// The message ends inside a field.
    Truncated { field: u32 },
    /// A varint longer than 10 bytes.
    BadVarint,
    /// Wire types 3 and 4 (groups) and 6, 7 do not occur in these messages.
    BadWireType { field: u32, wire_type: u8 },
    /// A known field with another wire type than its schema gives it.
    WrongType {
        message: &'static str,
        field: u32,
        wire_type: u8,
    },
    /// Field number 0 is not valid.
    FieldZero,
}

impl fmt::Display for WireProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireProblem::Truncated { field } => write!(f, "it ends inside field {field}"),
            WireProblem::BadVarint => f.write_str("a varint is longer than 10 bytes"),
            WireProblem::BadWireType { field, wire_type } => {
                write!(f, "field {field} has the unsupported wire type {wire_type}")
            }
            WireProblem::WrongType {
                message,
                field,
                wire_type,
            } => write!(
                f,
                "field {field} of {message} has wire type {wire_type}, not the one spawn.proto gives it"
            ),
            WireProblem::FieldZero => f.write_str("a field number is 0"),
        }
    }
}

/// What a non-regular file given as a log is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Directory,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Other,
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a FIFO",
            FileKind::Socket => "a socket",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Other => "not a regular file",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExeclogError {
    #[error("cannot read {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {kind}, not a log file; logs are read twice, so pipes and devices are refused", path.display())]
    NotRegular { path: PathBuf, kind: FileKind },
    #[error("{}: the log changed while it was read (size or modification time); compare logs that are complete", path.display())]
    Changed { path: PathBuf },
    #[error("{}: not a Bazel execution log (JSON, binary or compact) or Buck2 what-ran JSON log", path.display())]
    Unrecognized { path: PathBuf },
    #[error("{}: {format} at {stream} {offset}: {kind}", path.display())]
    Corrupt {
        path: PathBuf,
        format: LogFormat,
        stream: Stream,
        offset: u64,
        #[source]
        kind: ExeclogErrorKind,
    },
    #[error("cannot compare a {a} with a {b}: pass two logs of the same build system")]
    Mixed { a: LogFormat, b: LogFormat },
}
