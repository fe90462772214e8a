//! Bounded decompression shared by the archive comparators.
//!
//! Every decompressor reads at most one byte more than the member's budget
//! ([`Cx::member_budget`]), so a bomb is detected after inflating only its
//! allowance, and every byte is charged to the artifact's total.

use std::borrow::Cow;
use std::io::Read;

use flate2::read::{DeflateDecoder, MultiGzDecoder};

use super::Cx;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Codec {
    Stored,
    /// Raw deflate (zip method 8).
    Deflate,
    /// One or more gzip members (RFC 1952), headers and trailers checked.
    Gzip,
}

#[derive(Debug)]
pub(crate) enum Unpacked<'d> {
    Data(Cow<'d, [u8]>),
    /// A limit was reached; its finding has been emitted.
    Limit,
    /// The compressed stream is corrupt.
    Corrupt(String),
}

/// Decompress one side of member `member`.
pub(crate) fn unpack<'d>(
    cx: &mut Cx<'_>,
    member: &[u8],
    codec: Codec,
    data: &'d [u8],
) -> Unpacked<'d> {
    let budget = cx.member_budget();
    let read = |r: &mut dyn Read| -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        r.take(budget.saturating_add(1)).read_to_end(&mut out)?;
        Ok(out)
    };
    let data = match codec {
        Codec::Stored => Ok(Cow::Borrowed(data)),
        Codec::Deflate => read(&mut DeflateDecoder::new(data)).map(Cow::Owned),
        Codec::Gzip => read(&mut MultiGzDecoder::new(data)).map(Cow::Owned),
    };
    match data {
        Ok(d) => match cx.charge(member, d.len() as u64) {
            Ok(()) => Unpacked::Data(d),
            Err(_) => Unpacked::Limit,
        },
        Err(e) => Unpacked::Corrupt(e.to_string()),
    }
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
                unpack(cx, b"zeros", Codec::Deflate, &bomb),
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
                unpack(cx, b"junk", Codec::Gzip, b"\x1f\x8b\x08\0junk"),
                Unpacked::Corrupt(_)
            ));
        });
    }
}
