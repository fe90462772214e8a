//! Errors of `twice execlog`: a log that cannot be opened, recognised or
//! decoded. Every decoding error names the file, the stream the offset
//! counts in, and the byte offset.

use std::fmt;
use std::path::PathBuf;

/// Which build-system log a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// `--execution_log_json_file`: concatenated `SpawnExec` JSON objects.
    BazelJson,
    /// `--execution_log_compact_file`: zstd, varint-delimited `ExecLogEntry`.
    BazelCompact,
    /// `buck2 log what-ran --format json`: one JSON record per line.
    Buck2WhatRan,
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::BazelJson => "Bazel JSON execution log",
            LogFormat::BazelCompact => "Bazel compact execution log",
            LogFormat::Buck2WhatRan => "Buck2 what-ran JSON log",
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
    #[error("the zstd stream is corrupt: {0}")]
    Zstd(#[source] std::io::Error),
    #[error("a protobuf message does not decode: {0}")]
    Protobuf(#[from] prost::DecodeError),
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("entry {id} refers to entry {missing}, which does not precede it")]
    DanglingId { id: u32, missing: u32 },
}

#[derive(Debug, thiserror::Error)]
pub enum ExeclogError {
    #[error("cannot read {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a Bazel execution log (JSON or compact) or Buck2 what-ran JSON log", path.display())]
    Unrecognized { path: PathBuf },
    #[error("{}: the log is empty", path.display())]
    Empty { path: PathBuf },
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
