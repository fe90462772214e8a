//! The checked reader every structural parser reads through.
//!
//! Nothing here panics or allocates from untrusted sizes: every read checks
//! the bounds with checked arithmetic and fails with the offset it was
//! attempted at, in the coordinates of the outermost buffer.
#![deny(clippy::indexing_slicing)]

use std::fmt;

/// A parse failure: what was wrong and where (offset into the file or
/// decompressed stream the reader was created on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParseError {
    pub at: u64,
    pub what: String,
}

impl ParseError {
    pub fn new(at: u64, what: impl Into<String>) -> ParseError {
        ParseError {
            at,
            what: what.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {:#x}", self.what, self.at)
    }
}

impl std::error::Error for ParseError {}

pub(crate) type Result<T> = std::result::Result<T, ParseError>;

/// A cursor over borrowed bytes. `base` is the offset of `data[0]` in the
/// outermost buffer, so errors and locations name file offsets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bytes<'d> {
    data: &'d [u8],
    pos: usize,
    base: u64,
}

impl<'d> Bytes<'d> {
    pub fn new(data: &'d [u8]) -> Bytes<'d> {
        Bytes {
            data,
            pos: 0,
            base: 0,
        }
    }

    /// The whole underlying buffer.
    pub fn data(&self) -> &'d [u8] {
        self.data
    }

    /// The current position, relative to this reader's start.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The current position as an offset in the outermost buffer.
    pub fn offset(&self) -> u64 {
        self.base.saturating_add(self.pos as u64)
    }

    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    pub fn at_end(&self) -> bool {
        self.remaining() == 0
    }

    /// An error at the current position.
    pub fn error(&self, what: impl Into<String>) -> ParseError {
        ParseError::new(self.offset(), what)
    }

    /// `len` bytes at `off` (relative to this reader's start), without
    /// moving the cursor.
    pub fn read_at(&self, off: u64, len: u64) -> Result<&'d [u8]> {
        let end_of_buffer = self.base.saturating_add(self.data.len() as u64);
        let fail = || {
            ParseError::new(
                self.base.saturating_add(off),
                format!("{len} bytes requested past the end of the data at {end_of_buffer:#x}"),
            )
        };
        let start = usize::try_from(off).map_err(|_| fail())?;
        let len = usize::try_from(len).map_err(|_| fail())?;
        let end = start.checked_add(len).ok_or_else(fail)?;
        self.data.get(start..end).ok_or_else(fail)
    }

    /// A reader over `len` bytes at `off`, whose offsets keep naming the
    /// outermost buffer.
    pub fn sub(&self, off: u64, len: u64) -> Result<Bytes<'d>> {
        let data = self.read_at(off, len)?;
        Ok(Bytes {
            data,
            pos: 0,
            base: self.base.saturating_add(off),
        })
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'d [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| {
                self.error(format!(
                    "{n} bytes needed, {} left (truncated?)",
                    self.remaining()
                ))
            })?;
        let out = self.data.get(self.pos..end).unwrap_or_default();
        self.pos = end;
        Ok(out)
    }

    /// A reader over the next `n` bytes, advancing past them.
    pub fn take_reader(&mut self, n: usize) -> Result<Bytes<'d>> {
        let base = self.offset();
        let data = self.take(n)?;
        Ok(Bytes { data, pos: 0, base })
    }

    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.take(n).map(|_| ())
    }

    /// Everything from the cursor to the end.
    pub fn rest(&mut self) -> &'d [u8] {
        let out = self.data.get(self.pos..).unwrap_or_default();
        self.pos = self.data.len();
        out
    }

    /// Bytes up to (not including) the next `stop` byte, which is consumed.
    pub fn until(&mut self, stop: u8) -> Result<&'d [u8]> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        let n = rest
            .iter()
            .position(|&c| c == stop)
            .ok_or_else(|| self.error(format!("no terminating {stop:#04x} byte")))?;
        let out = self.take(n)?;
        self.pos += 1;
        Ok(out)
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(u8::from_le_bytes(self.array()?))
    }
    pub fn u16_le(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub fn u16_be(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    pub fn u32_le(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn u32_be(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub fn i32_le(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    pub fn u64_le(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub fn u64_be(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Check that `count` records of at least `min_size` bytes each can fit
    /// in what is left, before anything is allocated for them.
    pub fn check_count(&self, count: u64, min_size: u64, what: &str) -> Result<usize> {
        let need = count.checked_mul(min_size.max(1));
        match need {
            Some(n) if n <= self.remaining() as u64 => Ok(count as usize),
            _ => Err(self.error(format!(
                "{what}: count {count} cannot fit in the {} bytes left",
                self.remaining()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_and_big_endian_and_stops_at_the_end() {
        let mut r = Bytes::new(&[1, 0, 0, 2, 9]);
        assert_eq!(r.u16_le().unwrap(), 1);
        assert_eq!(r.array::<2>().unwrap(), [0, 2]);
        let e = r.u32_le().unwrap_err();
        assert_eq!(e.at, 4);
        assert!(e.to_string().contains("4 bytes needed, 1 left"), "{e}");
        assert_eq!(r.u8().unwrap(), 9);
        assert!(r.at_end());
    }

    #[test]
    fn sub_readers_report_outer_offsets() {
        let data = [0u8; 32];
        let outer = Bytes::new(&data);
        let mut inner = outer.sub(16, 8).unwrap();
        inner.skip(6).unwrap();
        assert_eq!(inner.offset(), 22);
        assert_eq!(inner.u32_le().unwrap_err().at, 22);
        assert!(outer.read_at(u64::MAX, 2).is_err());
        assert!(outer.read_at(30, u64::MAX).is_err());
        assert!(outer.sub(33, 0).is_err());
    }

    #[test]
    fn counts_are_checked_before_allocation() {
        let r = Bytes::new(&[0u8; 100]);
        assert_eq!(r.check_count(10, 10, "symbols").unwrap(), 10);
        assert!(r.check_count(11, 10, "symbols").is_err());
        assert!(r.check_count(u64::MAX, 2, "symbols").is_err());
    }

    #[test]
    fn until_consumes_the_terminator() {
        let mut r = Bytes::new(b"ab\0cd");
        assert_eq!(r.until(0).unwrap(), b"ab");
        assert_eq!(r.rest(), b"cd");
        assert!(Bytes::new(b"xyz").until(0).is_err());
    }
}
