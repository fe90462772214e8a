//! The 16-byte `.pyc` header (PEP 552) and the CPython versions its magic
//! numbers stand for.
#![deny(clippy::indexing_slicing)]

use super::marshal::CodeLayout;
use crate::formats::bytes::{Bytes, Result};

/// Bytes before the marshalled code object.
pub(crate) const HEADER_LEN: usize = 16;

/// How the interpreter decides the `.pyc` is stale (PEP 552 flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Invalidation {
    /// Flags 0: the source's mtime and size.
    Timestamp { mtime: u32, size: u32 },
    /// Flags 1 (unchecked) or 3 (checked): a SipHash of the source.
    Hash { checked: bool, hash: [u8; 8] },
}

impl Invalidation {
    pub fn mode(&self) -> &'static str {
        match self {
            Invalidation::Timestamp { .. } => "timestamp",
            Invalidation::Hash { checked: true, .. } => "checked hash",
            Invalidation::Hash { checked: false, .. } => "unchecked hash",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub magic: u16,
    pub invalidation: Invalidation,
}

impl Header {
    pub fn parse(data: &[u8]) -> Result<Header> {
        let mut r = Bytes::new(data);
        let magic = r.u16_le()?;
        if r.array::<2>()? != *b"\r\n" {
            return Err(r.error("magic number not followed by \\r\\n"));
        }
        let flags_at = r.offset();
        let flags = r.u32_le()?;
        let invalidation = match flags {
            0 => Invalidation::Timestamp {
                mtime: r.u32_le()?,
                size: r.u32_le()?,
            },
            1 | 3 => Invalidation::Hash {
                checked: flags == 3,
                hash: r.array()?,
            },
            other => {
                return Err(crate::formats::bytes::ParseError::new(
                    flags_at,
                    format!("unknown pyc flags {other:#x} (PEP 552 defines 0, 1 and 3)"),
                ));
            }
        };
        Ok(Header {
            magic,
            invalidation,
        })
    }
}

/// A CPython version `twice` reads the marshalled code of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Python {
    pub version: &'static str,
    pub layout: CodeLayout,
}

/// The CPython version a magic number belongs to. Each release series owns
/// a block of magic numbers (Lib/importlib/_bootstrap_external.py lists
/// them): 3.8 ends at 3413, 3.9 at 3425, 3.10 at 3439, 3.11 at 3495, 3.12 at
/// 3531, 3.13 at 3571, and 3.14 starts at 3600. Alphas and betas inside a
/// block share the final release's marshal layout.
pub(crate) fn python(magic: u16) -> Option<Python> {
    use CodeLayout::*;
    let (version, layout) = match magic {
        3400..=3419 => ("3.8", Py38),
        3420..=3429 => ("3.9", Py38),
        3430..=3449 => ("3.10", Py310),
        3450..=3499 => ("3.11", Py311),
        3500..=3549 => ("3.12", Py311),
        3550..=3599 => ("3.13", Py311),
        3600..=3649 => ("3.14", Py311),
        _ => return None,
    };
    Some(Python { version, layout })
}

/// `3.11 (magic 3495)`, or `unknown Python (magic 3999)`.
pub(crate) fn describe_magic(magic: u16) -> String {
    match python(magic) {
        Some(p) => format!("Python {} (magic {magic})", p.version),
        None => format!("unknown Python (magic {magic}, {magic:#06x})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_invalidation_modes() {
        let mut ts = b"\xa7\x0d\r\n\0\0\0\0".to_vec();
        ts.extend_from_slice(&1_764_078_312u32.to_le_bytes());
        ts.extend_from_slice(&29u32.to_le_bytes());
        let h = Header::parse(&ts).unwrap();
        assert_eq!(h.magic, 3495);
        assert_eq!(
            h.invalidation,
            Invalidation::Timestamp {
                mtime: 1_764_078_312,
                size: 29
            }
        );
        let hashed = b"\xa7\x0d\r\n\x03\0\0\0hashhash";
        let h = Header::parse(hashed).unwrap();
        assert_eq!(h.invalidation.mode(), "checked hash");
        assert!(Header::parse(b"\xa7\x0d\r\n\x02\0\0\0hashhash").is_err());
        assert!(Header::parse(&hashed[..15]).is_err());
    }

    #[test]
    fn maps_magic_numbers_to_versions() {
        assert_eq!(python(3413).unwrap().version, "3.8");
        assert_eq!(python(3425).unwrap().layout, CodeLayout::Py38);
        assert_eq!(python(3439).unwrap().layout, CodeLayout::Py310);
        assert_eq!(python(3495).unwrap().version, "3.11");
        assert_eq!(python(3531).unwrap().version, "3.12");
        assert_eq!(python(3571).unwrap().version, "3.13");
        assert_eq!(python(3627).unwrap().version, "3.14");
        assert!(python(3394).is_none());
        assert!(python(3700).is_none());
        assert!(describe_magic(3999).contains("0x0f9f"));
    }
}
