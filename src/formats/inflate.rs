//! Bounded decompression shared by the archive and stream comparators, and
//! the streamed comparison of what is too large to hold.
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
use crate::finding::LimitKind;

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
    Corrupt,
}

/// Decompress one stream (a PNG chunk's) within the budget.
pub(crate) fn unpack<'d>(cx: &mut Cx<'_>, codec: Codec, data: &'d [u8]) -> Unpacked<'d> {
    if cx.spent() {
        return Unpacked::Limit;
    }
    if codec == Codec::Stored {
        return match cx.charge(data.len() as u64) {
            Ok(()) => Unpacked::Data(Cow::Borrowed(data)),
            Err(_) => Unpacked::Limit,
        };
    }
    let budget = cx.member_budget().saturating_add(1);
    let mut out = Vec::new();
    let read = reader(codec, data).take(budget).read_to_end(&mut out);
    // What was produced is charged, also before an error.
    match (read, cx.charge(out.len() as u64)) {
        (_, Err(_)) => Unpacked::Limit,
        (Ok(_), Ok(())) => Unpacked::Data(Cow::Owned(out)),
        (Err(_), Ok(())) => Unpacked::Corrupt,
    }
}

/// Two decompressed members. Up to `max_resident_bytes` per side they are
/// kept in memory for the format comparators; past that they are
/// compared as streams, position by position, and only the differing
/// ranges are kept (issue 11, item 3).
#[derive(Debug)]
pub(crate) enum Pair<'d> {
    Both(Cow<'d, [u8]>, Cow<'d, [u8]>),
    Streamed(Streamed),
    /// A limit was reached; its finding has been emitted.
    Limit,
    /// Side A (`true`) or B does not decompress.
    Corrupt(bool, String),
}

/// Two streams too large to hold, compared as they were read.
#[derive(Debug, Default)]
pub(crate) struct Streamed {
    pub len_a: u64,
    pub len_b: u64,
    /// Differing ranges (offset, length) in the common length, with the
    /// first bytes of each side, in order; at most `MAX_RANGES`.
    pub ranges: Vec<(u64, u64, Vec<u8>, Vec<u8>)>,
    /// Ranges found beyond those kept.
    pub more: u64,
}

impl Streamed {
    pub fn same(&self) -> bool {
        self.len_a == self.len_b && self.ranges.is_empty() && self.more == 0
    }
}

/// Bytes read from each side at a time.
const CHUNK: usize = 1 << 20;
/// Differing ranges kept of two streamed members.
const MAX_RANGES: usize = 256;
/// Bytes of each side kept per differing range.
const RANGE_BYTES: usize = 16;

fn reader<'d>(codec: Codec, data: &'d [u8]) -> Box<dyn Read + 'd> {
    match codec {
        Codec::Stored => Box::new(data),
        Codec::Deflate => Box::new(DeflateDecoder::new(data)),
        Codec::Zlib => Box::new(flate2::read::ZlibDecoder::new(data)),
        Codec::Gzip => Box::new(MultiGzDecoder::new(data)),
        Codec::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(data)),
        Codec::Xz => Box::new(lzma_rust2::XzReader::new_mem_limit(
            data,
            true,
            XZ_MEMORY_KB,
        )),
        Codec::Zstd => Box::new(ZstdFrames {
            data,
            decoder: None,
        }),
    }
}

/// The next `CHUNK` bytes of `r` (fewer at its end) into `buf`.
fn fill(r: &mut dyn Read, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    buf.clear();
    r.take(CHUNK as u64).read_to_end(buf)
}

/// Decompress both sides of a member (each with its own codec) within the
/// budget, the bytes of each side charged. Runs as member `name`, so a
/// limit reached is reported on it.
pub(crate) fn unpack_pair<'d>(
    cx: &mut Cx<'_>,
    name: &[u8],
    (ca, a): (Codec, &'d [u8]),
    (cb, b): (Codec, &'d [u8]),
) -> Pair<'d> {
    cx.in_member(name, |cx| unpack_both(cx, (ca, a), (cb, b)))
}

fn unpack_both<'d>(
    cx: &mut Cx<'_>,
    (ca, a): (Codec, &'d [u8]),
    (cb, b): (Codec, &'d [u8]),
) -> Pair<'d> {
    if cx.spent() {
        return Pair::Limit;
    }
    if ca == Codec::Stored && cb == Codec::Stored {
        return match (cx.charge(a.len() as u64), cx.charge(b.len() as u64)) {
            (Ok(()), Ok(())) => Pair::Both(Cow::Borrowed(a), Cow::Borrowed(b)),
            _ => Pair::Limit,
        };
    }
    let budget = cx.member_budget().saturating_add(1);
    let resident = cx.limits.max_resident_bytes;
    let (mut ra, mut rb) = (reader(ca, a).take(budget), reader(cb, b).take(budget));
    let (mut xa, mut xb) = (Vec::with_capacity(CHUNK), Vec::with_capacity(CHUNK));
    // While the two streams agree, one copy holds both sides.
    let mut shared: Vec<u8> = Vec::new();
    let (mut ka, mut kb): (Vec<u8>, Vec<u8>) = (Vec::new(), Vec::new());
    let mut split = false;
    let mut streamed: Option<Streamed> = None;
    let mut error = None;
    loop {
        let na = match fill(&mut ra, &mut xa) {
            Ok(n) => n,
            Err(e) => {
                error = Some((true, e.to_string()));
                0
            }
        };
        let nb = match fill(&mut rb, &mut xb) {
            Ok(n) => n,
            Err(e) => {
                error = error.or(Some((false, e.to_string())));
                0
            }
        };
        if na == 0 && nb == 0 || error.is_some() {
            break;
        }
        let (pa, pb) = (
            xa.get(..na).unwrap_or_default(),
            xb.get(..nb).unwrap_or_default(),
        );
        match &mut streamed {
            None if !split && pa == pb => shared.extend_from_slice(pa),
            None => {
                if !split {
                    split = true;
                    kb = shared.clone();
                    ka = std::mem::take(&mut shared);
                }
                ka.extend_from_slice(pa);
                kb.extend_from_slice(pb);
            }
            Some(s) => s.scan(pa, pb),
        }
        let held = if split {
            ka.len().max(kb.len())
        } else {
            shared.len()
        };
        if streamed.is_none() && held as u64 > resident {
            let mut s = Streamed::default();
            if split {
                s.scan(&ka, &kb);
            } else {
                s.scan(&shared, &shared);
            }
            streamed = Some(s);
            (ka, kb, shared) = (Vec::new(), Vec::new(), Vec::new());
        }
    }
    let (len_a, len_b) = match &streamed {
        Some(s) => (s.len_a, s.len_b),
        None if split => (ka.len() as u64, kb.len() as u64),
        None => (shared.len() as u64, shared.len() as u64),
    };
    // What was produced is charged, also before an error; one member over
    // its limit is one finding, whichever side went over.
    let member = cx.limits.max_member_bytes;
    if len_a > member || len_b > member {
        let _ = cx.charge_total(len_a.saturating_add(len_b));
        cx.limit(LimitKind::MemberBytes, member);
        return Pair::Limit;
    }
    if cx.charge_total(len_a.saturating_add(len_b)).is_err() {
        return Pair::Limit;
    }
    if let Some((side_a, why)) = error {
        return Pair::Corrupt(side_a, why);
    }
    match streamed {
        Some(s) => Pair::Streamed(s),
        None if split => Pair::Both(Cow::Owned(ka), Cow::Owned(kb)),
        // Equal streams: both sides are one buffer.
        None => Pair::Both(Cow::Owned(shared.clone()), Cow::Owned(shared)),
    }
}

impl Streamed {
    /// Compare the next stretch of both streams, position by position.
    fn scan(&mut self, a: &[u8], b: &[u8]) {
        let base = self.len_a.min(self.len_b);
        let common = a.len().min(b.len());
        let mut i = 0;
        while i < common {
            let e = (i + 64).min(common);
            if a.get(i..e) == b.get(i..e) {
                i = e;
                continue;
            }
            if a.get(i) == b.get(i) {
                i += 1;
                continue;
            }
            let start = i;
            while i < common && a.get(i) != b.get(i) {
                i += 1;
            }
            let at = base + start as u64;
            let kept = self.ranges.len();
            match self.ranges.last_mut() {
                Some(last) if at <= last.0 + last.1 + 3 => {
                    last.1 = at + (i - start) as u64 - last.0;
                }
                _ if kept < MAX_RANGES => {
                    let keep = |d: &[u8]| {
                        d.get(start..(start + RANGE_BYTES).min(d.len()))
                            .unwrap_or_default()
                            .to_vec()
                    };
                    self.ranges.push((at, (i - start) as u64, keep(a), keep(b)));
                }
                _ => self.more += 1,
            }
        }
        self.len_a += a.len() as u64;
        self.len_b += b.len() as u64;
    }
}

/// Report two streamed members that differ, on member `name`: the limit
/// that kept them out of memory, and the ranges where they differ.
pub(crate) fn report_streamed(cx: &mut Cx<'_>, name: &[u8], s: &Streamed) {
    cx.in_member(name, |cx| report_here(cx, s));
}

/// Compare two large files of no structure `twice` reads (binary or text
/// past `max_resident_bytes`) as streams, with plain reads: memory stays
/// bounded by the read buffers, whatever the files' size.
pub(crate) fn compare_streams(
    cx: &mut Cx<'_>,
    a: &mut dyn Read,
    b: &mut dyn Read,
) -> std::io::Result<()> {
    let (mut xa, mut xb) = (Vec::with_capacity(CHUNK), Vec::with_capacity(CHUNK));
    let mut s = Streamed::default();
    loop {
        let (na, nb) = (fill(a, &mut xa)?, fill(b, &mut xb)?);
        if na == 0 && nb == 0 {
            break;
        }
        s.scan(
            xa.get(..na).unwrap_or_default(),
            xb.get(..nb).unwrap_or_default(),
        );
    }
    if !s.same() {
        report_here(cx, &s);
    }
    Ok(())
}

fn report_here(cx: &mut Cx<'_>, s: &Streamed) {
    use crate::finding::{ByteSpan, Cause, Evidence, Location};
    {
        cx.limit(LimitKind::ResidentBytes, cx.limits.max_resident_bytes);
        let span = |at: u64, len: u64| ByteSpan { at, len };
        for (at, len, xa, xb) in &s.ranges {
            if cx.full() {
                cx.omit(1);
                continue;
            }
            cx.emit(
                Location::Bytes {
                    a: span(*at, *len),
                    b: span(*at, *len),
                },
                Cause::Unknown { differences: 1 },
                Evidence::value(crate::finding::hex(xa)),
                Evidence::value(crate::finding::hex(xb)),
                xa,
            );
        }
        cx.omit(s.more);
        if s.len_a != s.len_b {
            let common = s.len_a.min(s.len_b);
            cx.emit(
                Location::Bytes {
                    a: span(common, s.len_a - common),
                    b: span(common, s.len_b - common),
                },
                Cause::Unknown { differences: 1 },
                Evidence::value(format!("{} bytes", s.len_a)),
                Evidence::value(format!("{} bytes", s.len_b)),
                b"length",
            );
        }
    }
}

/// The zstd frames of `data` one after another, as one reader.
struct ZstdFrames<'d> {
    data: &'d [u8],
    decoder: Option<ruzstd::decoding::StreamingDecoder<&'d [u8], ruzstd::decoding::FrameDecoder>>,
}

impl Read for ZstdFrames<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use ruzstd::decoding::{FrameDecoder, StreamingDecoder};
        loop {
            if let Some(d) = &mut self.decoder {
                let n = d.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                // This frame is done: the input left follows it.
                self.data = *d.get_ref();
                self.decoder = None;
            }
            if self.data.is_empty() {
                return Ok(0);
            }
            let mut frame = FrameDecoder::new();
            frame.set_max_window_size(ZSTD_WINDOW);
            let d = StreamingDecoder::new_with_decoder(self.data, frame)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
            self.decoder = Some(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::finding::Cause;
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
            assert!(matches!(unpack(cx, Codec::Deflate, &bomb), Unpacked::Limit));
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
                Unpacked::Corrupt
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
