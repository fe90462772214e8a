//! Bounded decompression shared by the archive and stream comparators.
//!
//! Every decompressor reads at most one byte more than the member's budget
//! ([`Cx::member_budget`]), so a bomb is detected after inflating only its
//! allowance; every byte it produced is charged to the artifact's total,
//! also when the member is then refused (issue 11, item 4). Once the total
//! is spent nothing more is inflated.

use std::borrow::Cow;
use std::io::Read;

use flate2::read::{DeflateDecoder, MultiGzDecoder};

use super::{Cx, Format};

/// The dictionary memory an xz stream may ask for (xz -9 uses 64 MiB).
const XZ_MEMORY_KB: u32 = 256 * 1024;
/// The window a zstd frame may ask for (zstd -19 uses 8 MiB, --long 128 MiB).
const ZSTD_WINDOW: u64 = 128 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Codec {
    Stored,
    /// Raw deflate (zip method 8).
    Deflate,
    /// A zlib stream (RFC 1950: PNG image data and text).
    Zlib,
    /// One or more gzip members (RFC 1952), headers and trailers checked.
    Gzip,
    /// One or more xz streams (checks verified).
    Xz,
    /// One or more zstd frames.
    Zstd,
    /// One or more bzip2 streams.
    Bzip2,
}

impl Codec {
    /// The codec of a compressed stream format.
    pub fn of(format: Format) -> Option<Codec> {
        match format {
            Format::Gzip => Some(Codec::Gzip),
            Format::Xz => Some(Codec::Xz),
            Format::Zstd => Some(Codec::Zstd),
            Format::Bzip2 => Some(Codec::Bzip2),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub(crate) enum Unpacked<'d> {
    Data(Cow<'d, [u8]>),
    /// A limit was reached; its finding has been emitted.
    Limit,
    /// The compressed stream is corrupt.
    Corrupt(String),
}

/// Decompress one side of a member.
pub(crate) fn unpack<'d>(cx: &mut Cx<'_>, codec: Codec, data: &'d [u8]) -> Unpacked<'d> {
    if cx.spent() {
        return Unpacked::Limit;
    }
    let budget = cx.member_budget().saturating_add(1);
    let mut out = Vec::new();
    let read = match codec {
        Codec::Stored => {
            return match cx.charge(data.len() as u64) {
                Ok(()) => Unpacked::Data(Cow::Borrowed(data)),
                Err(_) => Unpacked::Limit,
            };
        }
        Codec::Deflate => DeflateDecoder::new(data)
            .take(budget)
            .read_to_end(&mut out)
            .map(drop),
        Codec::Zlib => flate2::read::ZlibDecoder::new(data)
            .take(budget)
            .read_to_end(&mut out)
            .map(drop),
        Codec::Gzip => MultiGzDecoder::new(data)
            .take(budget)
            .read_to_end(&mut out)
            .map(drop),
        Codec::Bzip2 => bzip2::read::MultiBzDecoder::new(data)
            .take(budget)
            .read_to_end(&mut out)
            .map(drop),
        Codec::Xz => lzma_rust2::XzReader::new_mem_limit(data, true, XZ_MEMORY_KB)
            .take(budget)
            .read_to_end(&mut out)
            .map(drop),
        Codec::Zstd => zstd_frames(data, budget, &mut out),
    };
    // What was produced is charged, also before an error.
    let charged = cx.charge(out.len() as u64);
    match (read, charged) {
        (_, Err(_)) => Unpacked::Limit,
        (Ok(()), Ok(())) => Unpacked::Data(Cow::Owned(out)),
        (Err(e), Ok(())) => Unpacked::Corrupt(e.to_string()),
    }
}

/// zstd frames one after another (skippable frames skipped), at most
/// `budget` bytes in all.
fn zstd_frames(mut data: &[u8], budget: u64, out: &mut Vec<u8>) -> std::io::Result<()> {
    use ruzstd::decoding::{FrameDecoder, StreamingDecoder};
    while !data.is_empty() && (out.len() as u64) < budget {
        let mut frame = FrameDecoder::new();
        frame.set_max_window_size(ZSTD_WINDOW);
        let left = budget - out.len() as u64;
        let mut decoder = StreamingDecoder::new_with_decoder(&mut data, frame)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
        (&mut decoder).take(left).read_to_end(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::finding::{Cause, LimitKind};
    use crate::formats::Limits;
    use crate::formats::testing::with_cx;

    #[test]
    fn a_bomb_stops_at_the_budget() {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 10 << 20]).unwrap();
        let bomb = enc.finish().unwrap();
        let limits = Limits {
            max_member_bytes: 1 << 20,
            ..Limits::default()
        };
        let (f, _) = with_cx("x.zip", &limits, |cx| {
            assert!(matches!(
                unpack(cx, Codec::Deflate, &bomb),
                Unpacked::Limit
            ));
        });
        assert!(matches!(
            f[0].cause,
            Cause::Limit {
                limit: LimitKind::MemberBytes,
                ..
            }
        ));
        with_cx("x.zip", &limits, |cx| {
            assert!(matches!(
                unpack(cx, Codec::Gzip, b"\x1f\x8b\x08\0junk"),
                Unpacked::Corrupt(_)
            ));
        });
    }

    /// Members refused for their size are charged: the total runs out after
    /// a few, and nothing more is inflated (issue 11, item 4).
    #[test]
    fn r11_refused_members_are_charged() {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 4 << 20]).unwrap();
        let bomb = enc.finish().unwrap();
        let limits = Limits {
            max_member_bytes: 1 << 20,
            max_unpacked_bytes: 3 << 20,
            ..Limits::default()
        };
        let (f, _) = with_cx("x.zip", &limits, |cx| {
            for _ in 0..100 {
                assert!(matches!(unpack(cx, Codec::Deflate, &bomb), Unpacked::Limit));
            }
            assert!(cx.spent());
        });
        let kinds: Vec<LimitKind> = f
            .iter()
            .filter_map(|f| match f.cause {
                Cause::Limit { limit, .. } => Some(limit),
                _ => None,
            })
            .collect();
        // Two refusals of 1 MiB + 1 byte each, then the third runs into
        // what is left of the 3 MiB: one finding says so and nothing more
        // is inflated.
        assert_eq!(
            kinds,
            [
                LimitKind::MemberBytes,
                LimitKind::MemberBytes,
                LimitKind::UnpackedBytes
            ]
        );
    }
}
