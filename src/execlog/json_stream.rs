//! Concatenated JSON values (Bazel's JSON execution log, Buck2's JSON
//! lines) read from a file in chunks: each chunk is parsed as a slice, so
//! strings can be borrowed instead of allocated, and a value cut by the
//! chunk end is parsed again once more bytes are in. Memory: one chunk,
//! grown only for a single value larger than it.

use std::io::Read;
use std::path::Path;

use super::error::{ExeclogError, ExeclogErrorKind, LogFormat, Stream};

const CHUNK: usize = 4 << 20;
/// The largest single JSON value accepted.
const MAX_VALUE: usize = 256 << 20;

/// Call `parse` on windows of the input, with the file offset of each
/// window. `parse` deserializes as many whole values from its window as it
/// can, setting `*consumed` past each, and returns the error that stopped
/// it (an end-of-input error when the window ends inside a value).
pub(crate) fn each_value(
    path: &Path,
    format: LogFormat,
    mut reader: impl Read,
    mut parse: impl FnMut(&[u8], u64, &mut usize) -> Result<(), serde_json::Error>,
) -> Result<(), ExeclogError> {
    let corrupt = |offset: usize, kind| ExeclogError::Corrupt {
        path: path.to_path_buf(),
        format,
        stream: Stream::File,
        offset: offset as u64,
        kind,
    };
    let mut buf = vec![0u8; CHUNK];
    let (mut start, mut end, mut base) = (0usize, 0usize, 0usize);
    let mut eof = false;
    loop {
        // Refill: keep the unparsed tail, grow only when it fills the buffer.
        if start > 0 {
            buf.copy_within(start..end, 0);
            base += start;
            end -= start;
            start = 0;
        }
        if end == buf.len() {
            if buf.len() >= MAX_VALUE {
                return Err(corrupt(
                    base,
                    ExeclogErrorKind::RecordTooLarge {
                        len: buf.len() as u64,
                        max: MAX_VALUE as u64,
                    },
                ));
            }
            buf.resize(buf.len() * 2, 0);
        }
        while !eof && end < buf.len() {
            match reader.read(&mut buf[end..]) {
                Ok(0) => eof = true,
                Ok(n) => end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(ExeclogError::Open {
                        path: path.to_path_buf(),
                        source,
                    });
                }
            }
        }
        let mut consumed = 0;
        let result = parse(&buf[start..end], (base + start) as u64, &mut consumed);
        start += consumed;
        match result {
            Ok(()) if eof => return Ok(()),
            Ok(()) => {}
            Err(e) if e.is_eof() && !eof => {}
            Err(e) if e.is_eof() => return Err(corrupt(base + start, ExeclogErrorKind::Truncated)),
            Err(e) => return Err(corrupt(base + start, ExeclogErrorKind::Json(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(input: &[u8], chunk_reads: usize) -> Result<usize, ExeclogError> {
        // A reader that returns at most `chunk_reads` bytes per call.
        struct Slow<'a>(&'a [u8], usize);
        impl Read for Slow<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(out.len()).min(self.1);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut n = 0;
        each_value(
            Path::new("x"),
            LogFormat::BazelJson,
            Slow(input, chunk_reads),
            |window, _, consumed| {
                let mut s = serde_json::Deserializer::from_slice(window)
                    .into_iter::<serde::de::IgnoredAny>();
                while let Some(v) = s.next() {
                    v?;
                    n += 1;
                    *consumed = s.byte_offset();
                }
                Ok(())
            },
        )?;
        Ok(n)
    }

    #[test]
    fn values_cut_by_chunk_ends_are_read_whole() {
        let one = format!("{{\"k\": \"{}\"}}\n", "x".repeat(1000));
        let input = one.repeat(10_000);
        assert_eq!(count(input.as_bytes(), 7777).unwrap(), 10_000);
    }

    #[test]
    fn a_value_larger_than_a_chunk_grows_the_buffer() {
        let input = format!("{{\"k\": \"{}\"}} {{}}", "y".repeat(CHUNK * 2));
        assert_eq!(count(input.as_bytes(), usize::MAX).unwrap(), 2);
    }

    #[test]
    fn truncation_and_garbage_name_the_value_offset() {
        match count(b"{} {\"a\": [1, 2", usize::MAX) {
            Err(ExeclogError::Corrupt {
                offset: 2,
                kind: ExeclogErrorKind::Truncated,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
        match count(b"{}\n{} ]", usize::MAX) {
            Err(ExeclogError::Corrupt {
                offset: 5,
                kind: ExeclogErrorKind::Json(_),
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }
}
