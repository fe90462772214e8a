//! Bazel's `--execution_log_binary_file`: `SpawnExec` messages, each
//! preceded by its length as a varint (protobuf's `writeDelimitedTo`), not
//! compressed. Decoded one record at a time through `pb.rs`.

use std::io::{BufRead, Read};
use std::path::Path;

use super::error::{ExeclogError, ExeclogErrorKind, LogFormat, Stream, WireProblem};
use super::pb;
use super::summary::Notes;
use super::view::SpawnView;

/// The largest single record accepted.
pub(crate) const MAX_RECORD: u64 = 256 << 20;

pub(crate) fn corrupt(path: &Path, offset: u64, kind: ExeclogErrorKind) -> ExeclogError {
    ExeclogError::Corrupt {
        path: path.to_path_buf(),
        format: LogFormat::BazelBinary,
        stream: Stream::File,
        offset,
        kind,
    }
}

/// Where a length-delimited stream stopped.
pub(crate) enum Framing {
    Io(std::io::Error),
    Eof,
    Bad,
}

/// A base-128 varint from a reader: the value and its length; `Ok(None)`
/// at a clean end of input.
pub(crate) fn read_varint(r: &mut impl BufRead) -> Result<Option<(u64, u64)>, Framing> {
    let mut value = 0u64;
    for i in 0..10u32 {
        let byte = match r.fill_buf().map_err(Framing::Io)?.first() {
            Some(&b) => b,
            None if i == 0 => return Ok(None),
            None => return Err(Framing::Eof),
        };
        r.consume(1);
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((value, u64::from(i) + 1)));
        }
    }
    Err(Framing::Bad)
}

/// Read every spawn; `f` gets each with the offset of its length prefix.
pub(crate) fn read(
    path: &Path,
    mut reader: impl BufRead,
    notes: &mut Notes,
    mut f: impl FnMut(&SpawnView<'_>, u64, &mut Notes),
) -> Result<(), ExeclogError> {
    let mut at = 0u64;
    let mut buf = Vec::new();
    loop {
        let start = at;
        let len = match read_varint(&mut reader) {
            Ok(None) => return Ok(()),
            Ok(Some((len, used))) => {
                at += used;
                len
            }
            Err(Framing::Io(source)) => {
                return Err(ExeclogError::Open {
                    path: path.to_path_buf(),
                    source,
                });
            }
            Err(Framing::Eof) => return Err(corrupt(path, start, ExeclogErrorKind::Truncated)),
            Err(Framing::Bad) => return Err(corrupt(path, start, ExeclogErrorKind::BadVarint)),
        };
        if len > MAX_RECORD {
            return Err(corrupt(
                path,
                start,
                ExeclogErrorKind::RecordTooLarge {
                    len,
                    max: MAX_RECORD,
                },
            ));
        }
        buf.clear();
        let got = (&mut reader)
            .take(len)
            .read_to_end(&mut buf)
            .map_err(|source| ExeclogError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        if (got as u64) < len {
            return Err(corrupt(path, start, ExeclogErrorKind::Truncated));
        }
        let spawn = decode(path, &buf, at, notes)?;
        f(&spawn, start, notes);
        at += len;
    }
}

/// Decode one record's message (at file offset `at`).
pub(crate) fn decode<'a>(
    path: &Path,
    msg: &'a [u8],
    at: u64,
    notes: &mut Notes,
) -> Result<SpawnView<'a>, ExeclogError> {
    pb::spawn_exec(msg, notes)
        .map_err(|what: WireProblem| corrupt(path, at, ExeclogErrorKind::Protobuf { what }))
}

/// The message of the record at the start of `bytes` (the second pass).
pub(crate) fn record(bytes: &[u8]) -> Option<&[u8]> {
    let (len, used) = super::wire::varint(bytes).ok().flatten()?;
    bytes.get(used..used.checked_add(usize::try_from(len).ok()?)?)
}
