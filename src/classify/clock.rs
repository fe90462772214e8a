//! Clock readings in binary fields: integers read as epoch seconds where a
//! comparator finds a changed run of bytes, and the fixed encodings of
//! formats that store dates (PNG `tIME`, NTFS FILETIME, ISO 9660, TrueType
//! `LONGDATETIME`, ICC `dateTimeNumber`).
//!
//! A number is taken for a time only with evidence, from the data alone
//! (never from the clock `twice` runs at, issue 12 class 1): both readings
//! fall in [`PLAUSIBLE`], they are within [`BUILD_INTERVAL`] of each other
//! or each is close to a time already found on its own side of the same
//! artifact, and the low-order byte changed. Among readings of one window
//! the closest pair wins; aligned windows come before unaligned ones.
#![deny(clippy::indexing_slicing)]

use std::ops::Range;

use super::timestamp::{PLAUSIBLE, epoch_of, valid_date};
use crate::finding::TimestampEncoding;

/// How far apart two builds' clocks may plausibly be when nothing else
/// vouches for them: a year. A random 32-bit serial read as two times
/// lands years apart far more often than within a year.
pub(crate) const BUILD_INTERVAL: i64 = 366 * 86_400;

/// At most this many corroborating readings are kept per side.
const MAX_TIMES: usize = 64;

/// Clock readings already established in one artifact, per side. A weak
/// reading (a bare integer) whose two values are far apart is still a
/// time when each value lies close to a time found on its own side: an
/// audit shifts run B's clock by years, and the `__DATE__` or archive
/// times in the same file show it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Times {
    a: Vec<i64>,
    b: Vec<i64>,
}

impl Times {
    /// Record the two readings of an established timestamp.
    pub fn add(&mut self, a: i64, b: i64) {
        for (list, v) in [(&mut self.a, a), (&mut self.b, b)] {
            if list.len() < MAX_TIMES && !list.contains(&v) {
                list.push(v);
            }
        }
    }

    fn vouches(&self, a: i64, b: i64) -> bool {
        let near = |list: &[i64], v: i64| list.iter().any(|t| (t - v).abs() <= BUILD_INTERVAL);
        near(&self.a, a) && near(&self.b, b)
    }
}

/// Are `a` and `b` two builds' clock readings rather than two other
/// numbers? Both in the plausible window, different, and close to each
/// other (or each vouched for by a time on its own side).
pub(crate) fn plausible_pair(a: i64, b: i64, times: &Times) -> bool {
    let inside = |v: i64| (PLAUSIBLE.0..=PLAUSIBLE.1).contains(&v);
    inside(a) && inside(b) && a != b && ((a - b).abs() <= BUILD_INTERVAL || times.vouches(a, b))
}

/// A timestamp read from a fixed-width window at the same offset of both
/// sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BinaryTime {
    pub at: usize,
    pub width: usize,
    pub encoding: TimestampEncoding,
    pub a: i64,
    pub b: i64,
}

/// The best reading of the window `at..at + width` as epoch seconds, if
/// any.
fn reading(a: &[u8], b: &[u8], at: usize, width: usize, times: &Times) -> Option<BinaryTime> {
    use TimestampEncoding as E;
    let (wa, wb) = (a.get(at..at + width)?, b.get(at..at + width)?);
    if wa == wb {
        return None;
    }
    let mut candidates: Vec<(E, i64, i64, usize)> = Vec::with_capacity(2);
    match width {
        8 => {
            let (xa, xb) = (<[u8; 8]>::try_from(wa).ok()?, <[u8; 8]>::try_from(wb).ok()?);
            candidates.push((
                E::EpochLe64,
                i64::from_le_bytes(xa),
                i64::from_le_bytes(xb),
                0,
            ));
            candidates.push((
                E::EpochBe64,
                i64::from_be_bytes(xa),
                i64::from_be_bytes(xb),
                7,
            ));
        }
        4 => {
            let (xa, xb) = (<[u8; 4]>::try_from(wa).ok()?, <[u8; 4]>::try_from(wb).ok()?);
            let le = |x: [u8; 4]| i64::from(u32::from_le_bytes(x));
            let be = |x: [u8; 4]| i64::from(u32::from_be_bytes(x));
            candidates.push((E::EpochLe32, le(xa), le(xb), 0));
            candidates.push((E::EpochBe32, be(xa), be(xb), 3));
        }
        _ => return None,
    }
    candidates
        .into_iter()
        // A clock reading changes in its low-order byte (seconds); a
        // difference only in higher bytes is some other number. A 32-bit
        // reading at or past 2^31 (2038-01-19) is not taken for a time:
        // most 32-bit time fields are signed, and bytes with the high bit
        // set would otherwise read as any date up to 2106.
        .filter(|(e, va, vb, low)| {
            let wide_enough = !matches!(e, E::EpochLe32 | E::EpochBe32)
                || (*va <= i64::from(i32::MAX) && *vb <= i64::from(i32::MAX));
            wide_enough && wa.get(*low) != wb.get(*low) && plausible_pair(*va, *vb, times)
        })
        .min_by_key(|(e, va, vb, _)| ((va - vb).abs(), *e))
        .map(|(encoding, va, vb, _)| BinaryTime {
            at,
            width,
            encoding,
            a: va,
            b: vb,
        })
}

/// Explain the changed run `run` of two equally laid-out buffers as clock
/// readings: every differing byte must fall in a window that reads as a
/// plausible pair of times, or nothing is claimed. A run is split into
/// aligned fields first (a modification time next to an access time, a
/// time next to a checksum that a format reader set aside), then read as
/// one unaligned window. MS-DOS dates and times are read only by format
/// readers (zip): read as a 32-bit integer they give a plausible epoch as
/// well, which comes first.
pub(crate) fn cover(
    a: &[u8],
    b: &[u8],
    run: Range<usize>,
    times: &Times,
) -> Option<Vec<BinaryTime>> {
    if run.is_empty() {
        return None;
    }
    if let Some(found) = aligned_cover(a, b, &run, times) {
        return Some(found);
    }
    if run.len() <= 8 {
        let mut best: Option<BinaryTime> = None;
        for width in [4usize, 8] {
            let lo = run.end.saturating_sub(width);
            for at in lo..=run.start {
                if let Some(t) = reading(a, b, at, width, times) {
                    let key = |t: &BinaryTime| ((t.a - t.b).abs(), t.width, t.at);
                    if best.is_none_or(|x| key(&t) < key(&x)) {
                        best = Some(t);
                    }
                }
            }
        }
        if let Some(t) = best {
            return Some(vec![t]);
        }
    }
    None
}

/// Cover `run` with 8- and 4-byte windows on their natural alignment.
fn aligned_cover(a: &[u8], b: &[u8], run: &Range<usize>, times: &Times) -> Option<Vec<BinaryTime>> {
    let mut out = Vec::new();
    let mut slot = run.start / 4 * 4;
    while slot < run.end {
        let differs = a.get(slot..slot + 4) != b.get(slot..slot + 4);
        if !differs {
            slot += 4;
            continue;
        }
        // A 32-bit reading first: until 2106 a 64-bit time's high half is
        // zero and its low half reads the same.
        let narrow = reading(a, b, slot, 4, times);
        let wide = || {
            slot.is_multiple_of(8)
                .then(|| reading(a, b, slot, 8, times))
                .flatten()
        };
        match narrow.or_else(wide) {
            Some(t) => {
                slot += t.width;
                out.push(t);
            }
            None => return None,
        }
    }
    // One structure is written in one byte order: fields of a run read in
    // two are two halves of something else.
    let little = |e: TimestampEncoding| {
        matches!(
            e,
            TimestampEncoding::EpochLe32 | TimestampEncoding::EpochLe64
        )
    };
    let consistent = out.windows(2).all(|w| match w {
        [x, y] => little(x.encoding) == little(y.encoding),
        _ => true,
    });
    (!out.is_empty() && consistent).then_some(out)
}

/// A PNG `tIME` chunk's seven bytes: year (BE16), month, day, hour,
/// minute, second (60 for a leap second), UTC.
pub(crate) fn png_time(d: &[u8]) -> Option<i64> {
    let &[y0, y1, mo, day, h, mi, s] = d else {
        return None;
    };
    date_time(
        i64::from(u16::from_be_bytes([y0, y1])),
        mo,
        day,
        h,
        mi,
        s.min(59),
    )
}

/// An NTFS FILETIME (100 ns intervals since 1601-01-01) as epoch seconds.
pub(crate) fn ntfs_filetime(v: u64) -> i64 {
    (v / 10_000_000) as i64 - 11_644_473_600
}

/// TrueType/OpenType `LONGDATETIME`: seconds since 1904-01-01.
pub(crate) fn sfnt_longdatetime(v: i64) -> i64 {
    v.saturating_sub(2_082_844_800)
}

/// An ISO 9660 directory-record date (ECMA-119 9.1.5): years since 1900,
/// month, day, hour, minute, second, and the offset from UTC in 15-minute
/// steps (signed).
pub(crate) fn iso9660_dir_date(d: &[u8]) -> Option<i64> {
    let &[y, mo, day, h, mi, s, zone] = d else {
        return None;
    };
    let t = date_time(1900 + i64::from(y), mo, day, h, mi, s)?;
    Some(t - i64::from(zone as i8) * 900)
}

/// An ISO 9660 volume-descriptor date (ECMA-119 8.4.26.1): 16 digits
/// `YYYYMMDDhhmmsscc` and the offset from UTC in 15-minute steps.
pub(crate) fn iso9660_volume_date(d: &[u8]) -> Option<i64> {
    let (digits, zone) = (d.get(..16)?, *d.get(16)?);
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num = |r: Range<usize>| -> Option<u32> {
        digits
            .get(r)?
            .iter()
            .try_fold(0u32, |v, c| Some(v * 10 + u32::from(c - b'0')))
    };
    let year = i64::from(num(0..4)?);
    let field = |r| num(r).and_then(|v| u8::try_from(v).ok());
    let t = date_time(
        year,
        field(4..6)?,
        field(6..8)?,
        field(8..10)?,
        field(10..12)?,
        field(12..14)?,
    )?;
    Some(t - i64::from(zone as i8) * 900)
}

/// An ICC `dateTimeNumber` (ICC.1 4.2): six BE16, year to second.
pub(crate) fn icc_date_time(d: &[u8]) -> Option<i64> {
    let w = |i: usize| -> Option<u16> { Some(u16::from_be_bytes([*d.get(i)?, *d.get(i + 1)?])) };
    if d.len() != 12 {
        return None;
    }
    let small = |i: usize| w(i).and_then(|v| u8::try_from(v).ok());
    date_time(
        i64::from(w(0)?),
        small(2)?,
        small(4)?,
        small(6)?,
        small(8)?,
        small(10)?,
    )
}

fn date_time(year: i64, mo: u8, day: u8, h: u8, mi: u8, s: u8) -> Option<i64> {
    let (mo, day) = (u32::from(mo), u32::from(day));
    if !valid_date(year, mo, day) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(epoch_of(
        year,
        mo,
        day,
        u32::from(h),
        u32::from(mi),
        u32::from(s),
    ))
}

#[cfg(test)]
#[expect(clippy::indexing_slicing, reason = "tests patch buffers they built")]
mod tests {
    use super::*;

    const A: i64 = 1_500_000_000;
    const B: i64 = 1_500_086_461;

    fn pad(v: &[u8]) -> Vec<u8> {
        [vec![0u8; 8], v.to_vec(), vec![0u8; 8]].concat()
    }

    #[test]
    fn a_le32_epoch_is_read_on_any_date() {
        let a = pad(&(A as u32).to_le_bytes());
        let b = pad(&(B as u32).to_le_bytes());
        let t = cover(&a, &b, 8..11, &Times::default()).expect("found");
        assert_eq!(t.len(), 1);
        assert_eq!((t[0].at, t[0].encoding), (8, TimestampEncoding::EpochLe32));
        assert_eq!((t[0].a, t[0].b), (A, B));
    }

    #[test]
    fn readings_years_apart_are_not_times() {
        // An ext2 inode's random i_generation: 2017-11 against 2010-03.
        let a = pad(&0x5a1d_3c97u32.to_le_bytes());
        let b = pad(&0x4b8e_61f2u32.to_le_bytes());
        assert!(cover(&a, &b, 8..12, &Times::default()).is_none());
        // Unless each side's reading is close to a time found on its own
        // side (an audit's shifted clock).
        let mut times = Times::default();
        times.add(0x5a1d_3c00, 0x4b8e_6100);
        assert!(cover(&a, &b, 8..12, &times).is_some());
    }

    #[test]
    fn adjacent_times_are_split_into_fields() {
        // atime, ctime, mtime: three LE32 side by side.
        let one = |t: i64| (t as u32).to_le_bytes();
        let a = pad(&[one(A), one(A), one(A)].concat());
        let b = pad(&[one(B), one(B + 1), one(B + 2)].concat());
        let t = cover(&a, &b, 8..19, &Times::default()).expect("found");
        let at: Vec<usize> = t.iter().map(|t| t.at).collect();
        assert_eq!(at, [8, 12, 16]);
        // A byte that no time explains spoils the whole run.
        let mut c = b.clone();
        c[20] ^= 0x55;
        assert!(cover(&a, &c, 8..21, &Times::default()).is_none());
    }

    #[test]
    fn a_serial_across_two_windows_is_not_two_times() {
        // A FAT boot sector: drive number, reserved, boot signature 0x29,
        // then the random BS_VolID (unaligned), then the volume label.
        let sector = |serial: u32| {
            let mut s = vec![0u8; 36];
            s.extend_from_slice(&[0x80, 0x00, 0x29]);
            s.extend_from_slice(&serial.to_le_bytes());
            s.extend_from_slice(b"NO NAME    FAT12   ");
            s
        };
        let (a, b) = (sector(0x5b2e_9d41), sector(0x3c6a_0f87));
        assert!(cover(&a, &b, 39..43, &Times::default()).is_none());
    }

    #[test]
    fn random_wide_differences_are_not_times() {
        let a = [0x11u8; 16];
        let b = [0x77u8; 16];
        assert!(cover(&a, &b, 0..16, &Times::default()).is_none());
    }

    #[test]
    fn fixed_encodings_decode() {
        assert_eq!(png_time(&[0x07, 0xe1, 7, 14, 2, 40, 0]), Some(A));
        assert_eq!(ntfs_filetime(131_444_736_010_000_000), A + 1);
        assert_eq!(sfnt_longdatetime(A + 2_082_844_800), A);
        assert_eq!(iso9660_dir_date(&[117, 7, 14, 2, 40, 0, 0]), Some(A));
        assert_eq!(iso9660_dir_date(&[117, 7, 14, 3, 40, 0, 4]), Some(A));
        assert_eq!(iso9660_volume_date(b"2017071402400000\0"), Some(A));
        let icc: Vec<u8> = [2017u16, 7, 14, 2, 40, 0]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        assert_eq!(icc_date_time(&icc), Some(A));
        assert_eq!(png_time(&[0, 0, 13, 1, 0, 0, 0]), None);
    }
}
