//! Opening a log: only regular files (a FIFO would block, a device would
//! never end, and every log is read twice), recognised by its first bytes,
//! and checked unchanged between the two reads.

use std::fs::{File, Metadata};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::error::{ExeclogError, FileKind, LogFormat};
use super::wire;

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// A log file and what it was when first opened.
#[derive(Clone, Debug)]
pub(crate) struct Source {
    pub(crate) path: PathBuf,
    pub(crate) format: LogFormat,
    pub(crate) bytes: u64,
    stamp: (u64, i64, i64, u64),
}

fn kind(m: &Metadata) -> FileKind {
    let t = m.file_type();
    if t.is_dir() {
        FileKind::Directory
    } else if t.is_fifo() {
        FileKind::Fifo
    } else if t.is_socket() {
        FileKind::Socket
    } else if t.is_char_device() {
        FileKind::CharDevice
    } else if t.is_block_device() {
        FileKind::BlockDevice
    } else {
        FileKind::Other
    }
}

fn stamp(m: &Metadata) -> (u64, i64, i64, u64) {
    (m.len(), m.mtime(), m.mtime_nsec(), m.ino())
}

/// Open a regular file without blocking on a FIFO swapped in after the
/// check, and check the descriptor itself.
fn open_regular(path: &Path) -> Result<(File, Metadata), ExeclogError> {
    let open = |source| ExeclogError::Open {
        path: path.to_path_buf(),
        source,
    };
    let before = std::fs::metadata(path).map_err(open)?;
    if !before.is_file() {
        return Err(ExeclogError::NotRegular {
            path: path.to_path_buf(),
            kind: kind(&before),
        });
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(open)?;
    let m = file.metadata().map_err(open)?;
    if !m.is_file() {
        return Err(ExeclogError::NotRegular {
            path: path.to_path_buf(),
            kind: kind(&m),
        });
    }
    Ok((file, m))
}

/// Recognise a log by its first bytes.
pub(crate) fn sniff(path: &Path, head: &[u8]) -> Result<LogFormat, ExeclogError> {
    if head.starts_with(&ZSTD_MAGIC) {
        return Ok(LogFormat::BazelCompact);
    }
    let text = head.trim_ascii_start();
    if text.is_empty() {
        return Ok(LogFormat::Empty);
    }
    if let Some(obj) = text.strip_prefix(b"{") {
        let obj = obj.trim_ascii_start();
        // The first key: Buck2 records start with "reason" (or another of
        // their keys); a SpawnExec with any of its fields.
        let first_key = obj
            .strip_prefix(b"\"")
            .and_then(|k| k.iter().position(|&c| c == b'"').map(|end| &k[..end]));
        match first_key {
            Some(b"reason" | b"identity" | b"reproducer" | b"duration" | b"extra" | b"std_err") => {
                return Ok(LogFormat::Buck2WhatRan);
            }
            _ if obj.starts_with(b"\"") || obj.starts_with(b"}") => {
                return Ok(LogFormat::BazelJson);
            }
            _ => {}
        }
    }
    // A varint length, then a SpawnExec whose first field is a
    // length-delimited one (command_args = 1 as Bazel writes it, or any
    // other string or message field).
    if let Ok(Some((len, used))) = wire::varint(head)
        && len > 0
        && let Some(&tag) = head.get(used)
        && tag & 7 == 2
        && (1..=20).contains(&(tag >> 3))
    {
        return Ok(LogFormat::BazelBinary);
    }
    Err(ExeclogError::Unrecognized {
        path: path.to_path_buf(),
    })
}

impl Source {
    /// Open, check and recognise a log.
    pub(crate) fn open(path: &Path) -> Result<(Source, BufReader<File>), ExeclogError> {
        let (file, m) = open_regular(path)?;
        let mut reader = BufReader::with_capacity(256 << 10, file);
        let head = reader.fill_buf().map_err(|source| ExeclogError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let format = sniff(path, head)?;
        Ok((
            Source {
                path: path.to_path_buf(),
                format,
                bytes: m.len(),
                stamp: stamp(&m),
            },
            reader,
        ))
    }

    /// Open again for the second pass, refusing a log that changed.
    pub(crate) fn reopen(&self) -> Result<File, ExeclogError> {
        let (file, m) = open_regular(&self.path)?;
        if stamp(&m) != self.stamp {
            return Err(ExeclogError::Changed {
                path: self.path.clone(),
            });
        }
        Ok(file)
    }

    /// The bytes from `start` to `end` (a record of the second pass).
    pub(crate) fn read_at(
        &self,
        file: &mut File,
        start: u64,
        end: u64,
        buf: &mut Vec<u8>,
    ) -> Result<(), ExeclogError> {
        let io = |source| ExeclogError::Open {
            path: self.path.clone(),
            source,
        };
        buf.clear();
        file.seek(SeekFrom::Start(start)).map_err(io)?;
        file.take(end.saturating_sub(start))
            .read_to_end(buf)
            .map_err(io)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_each_format() {
        let p = Path::new("x");
        assert_eq!(
            sniff(p, &[0x28, 0xb5, 0x2f, 0xfd, 0]).unwrap(),
            LogFormat::BazelCompact
        );
        assert_eq!(
            sniff(p, b"\n{\n  \"commandArgs\": []").unwrap(),
            LogFormat::BazelJson
        );
        assert_eq!(
            sniff(p, b"{\"reason\":\"build\"").unwrap(),
            LogFormat::Buck2WhatRan
        );
        assert_eq!(
            sniff(p, b"\x9b\x03\x0a\x09/bin/bash").unwrap(),
            LogFormat::BazelBinary
        );
        assert_eq!(sniff(p, b"  \n").unwrap(), LogFormat::Empty);
        assert_eq!(sniff(p, b"").unwrap(), LogFormat::Empty);
        assert!(matches!(
            sniff(p, b"\x7fELF"),
            Err(ExeclogError::Unrecognized { .. })
        ));
    }
}
