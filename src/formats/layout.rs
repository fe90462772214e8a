//! Typed fields of binary formats the byte comparison can name: where a
//! format stores a date (and in which encoding) and where it stores a
//! checksum over other bytes. The binary comparator reports a differing
//! field by its name, decodes dates in the format's own encoding, and calls
//! a checksum whose covered bytes changed for an explained reason a
//! `consequence` (issue 12, classes 3 and 4).
//!
//! Read here: legacy U-Boot images (`mkimage`), TrueType/OpenType fonts
//! (table directory, `head`), ICC profiles, ISO 9660 images (volume
//! descriptors, directory records, Rock Ridge `TF`) and the squashfs
//! superblock. Each reader goes through the checked reader, bounds its
//! work and gives up quietly (no layout) on anything it does not expect.
#![deny(clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::ops::Range;

use super::bytes::Bytes;
use crate::classify::clock;
use crate::finding::TimestampEncoding;

/// What a field holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FieldKind {
    /// A date in this encoding.
    Time(TimestampEncoding),
    /// A checksum or digest over `covers`; `what` names them for the
    /// consequence (`"the uImage header"`).
    Checksum {
        covers: Vec<Range<usize>>,
        what: &'static str,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Field {
    pub at: usize,
    pub len: usize,
    /// The structure the field is in (`"uImage header"`, `"table head"`).
    pub place: String,
    pub name: String,
    pub kind: FieldKind,
}

impl Field {
    pub fn range(&self) -> Range<usize> {
        self.at..self.at + self.len
    }

    /// The date the field holds in `data`.
    pub fn decode(&self, data: &[u8]) -> Option<i64> {
        let FieldKind::Time(encoding) = self.kind else {
            return None;
        };
        let d = data.get(self.range())?;
        let be = |d: &[u8]| d.iter().fold(0u64, |v, &c| (v << 8) | u64::from(c));
        let le = |d: &[u8]| d.iter().rev().fold(0u64, |v, &c| (v << 8) | u64::from(c));
        use TimestampEncoding as E;
        match encoding {
            E::EpochBe32 | E::EpochBe64 => i64::try_from(be(d)).ok(),
            E::EpochLe32 | E::EpochLe64 => i64::try_from(le(d)).ok(),
            E::SfntLongDateTime => i64::try_from(be(d)).ok().map(clock::sfnt_longdatetime),
            E::IccDateTime => clock::icc_date_time(d),
            E::Iso9660DirDate => clock::iso9660_dir_date(d),
            E::Iso9660VolumeDate => clock::iso9660_volume_date(d),
            _ => None,
        }
    }
}

/// The fields of one file, sorted by offset, none overlapping.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Layout {
    pub fields: Vec<Field>,
}

impl Layout {
    /// The fields overlapping `r`, by index.
    pub fn overlapping(&self, r: &Range<usize>) -> impl Iterator<Item = usize> + '_ {
        let start = self.fields.partition_point(|f| f.at + f.len <= r.start);
        let end = r.end;
        self.fields
            .iter()
            .enumerate()
            .skip(start)
            .take_while(move |(_, f)| f.at < end)
            .map(|(i, _)| i)
    }

    fn push(&mut self, at: usize, len: usize, place: &str, name: &str, kind: FieldKind) {
        self.fields.push(Field {
            at,
            len,
            place: place.to_owned(),
            name: name.to_owned(),
            kind,
        });
    }

    /// Sort, and drop fields that overlap an earlier one (a corrupt table
    /// pointing twice at the same bytes).
    fn settle(mut self) -> Option<Layout> {
        self.fields.sort_by_key(|f| (f.at, f.len));
        let mut end = 0;
        self.fields.retain(|f| {
            let keep = f.at >= end;
            if keep {
                end = f.at + f.len;
            }
            keep
        });
        (!self.fields.is_empty()).then_some(self)
    }
}

/// The layout of two equally long files of one known binary format, when
/// both sides have the same fields at the same offsets.
pub(crate) fn read(a: &[u8], b: &[u8]) -> Option<Layout> {
    if a.len() != b.len() {
        return None;
    }
    let la = of(a)?;
    let lb = of(b)?;
    let same = la.fields.len() == lb.fields.len()
        && la
            .fields
            .iter()
            .zip(&lb.fields)
            .all(|(x, y)| (x.at, x.len, &x.kind) == (y.at, y.len, &y.kind));
    same.then_some(la)
}

fn of(data: &[u8]) -> Option<Layout> {
    let r = Bytes::new(data);
    let magic = r.read_at(0, 4).ok()?;
    let layout = if magic == [0x27, 0x05, 0x19, 0x56] {
        uimage(&r)
    } else if matches!(magic, [0, 1, 0, 0] | b"OTTO" | b"true" | b"typ1") {
        sfnt(&r)
    } else if magic == b"hsqs" {
        squashfs(&r)
    } else if r.read_at(36, 4).ok() == Some(b"acsp") {
        icc(&r)
    } else if r.read_at(0x8001, 5).ok() == Some(b"CD001") {
        iso9660(&r)
    } else {
        None
    };
    layout?.settle()
}

/// Legacy U-Boot image header (`include/image.h`, 64 bytes, big-endian).
fn uimage(r: &Bytes<'_>) -> Option<Layout> {
    let size = usize::try_from(r.sub(12, 4).ok()?.u32_be().ok()?).ok()?;
    let mut l = Layout::default();
    let place = "uImage header";
    l.push(
        4,
        4,
        place,
        "ih_hcrc",
        FieldKind::Checksum {
            covers: vec![0..4, 8..64],
            what: "the uImage header",
        },
    );
    l.push(
        8,
        4,
        place,
        "ih_time",
        FieldKind::Time(TimestampEncoding::EpochBe32),
    );
    l.push(
        24,
        4,
        place,
        "ih_dcrc",
        FieldKind::Checksum {
            covers: std::iter::once(64..64usize.saturating_add(size)).collect(),
            what: "the uImage data",
        },
    );
    Some(l)
}

/// TrueType/OpenType: the table directory's checksums, and `head`'s
/// checkSumAdjustment and dates.
fn sfnt(r: &Bytes<'_>) -> Option<Layout> {
    let tables = r.sub(4, 2).ok()?.u16_be().ok()?;
    let mut l = Layout::default();
    let whole = 0..r.data().len();
    for i in 0..u64::from(tables) {
        let at = 12 + 16 * i;
        let mut rec = r.sub(at, 16).ok()?;
        let tag = rec.take(4).ok()?;
        rec.skip(4).ok()?;
        let offset = usize::try_from(rec.u32_be().ok()?).ok()?;
        let length = usize::try_from(rec.u32_be().ok()?).ok()?;
        let name = String::from_utf8_lossy(tag).trim().to_owned();
        l.push(
            at as usize + 4,
            4,
            "table directory",
            &format!("{name} checkSum"),
            FieldKind::Checksum {
                covers: std::iter::once(offset..offset.saturating_add(length)).collect(),
                what: "the table it covers",
            },
        );
        if tag == b"head" && r.read_at(offset as u64, 36).is_ok() {
            let place = "table head";
            l.push(
                offset + 8,
                4,
                place,
                "checkSumAdjustment",
                FieldKind::Checksum {
                    covers: vec![whole.clone()],
                    what: "the font",
                },
            );
            let date = FieldKind::Time(TimestampEncoding::SfntLongDateTime);
            l.push(offset + 20, 8, place, "created", date.clone());
            l.push(offset + 28, 8, place, "modified", date);
        }
    }
    Some(l)
}

/// The squashfs superblock's creation time (LE32 at 8).
fn squashfs(r: &Bytes<'_>) -> Option<Layout> {
    r.read_at(0, 96).ok()?;
    let mut l = Layout::default();
    l.push(
        8,
        4,
        "squashfs superblock",
        "mkfs_time",
        FieldKind::Time(TimestampEncoding::EpochLe32),
    );
    Some(l)
}

/// ICC profile header (ICC.1:2022 7.2): the creation date and the MD5
/// profile ID.
fn icc(r: &Bytes<'_>) -> Option<Layout> {
    r.read_at(0, 128).ok()?;
    let mut l = Layout::default();
    let place = "ICC header";
    l.push(
        24,
        12,
        place,
        "dateTimeNumber",
        FieldKind::Time(TimestampEncoding::IccDateTime),
    );
    l.push(
        84,
        16,
        place,
        "profile ID",
        FieldKind::Checksum {
            covers: vec![0..84, 100..r.data().len()],
            what: "the profile",
        },
    );
    Some(l)
}

const SECTOR: u64 = 2048;
/// Directory extents read at most, and records per image.
const MAX_DIRS: usize = 4096;
const MAX_RECORDS: usize = 100_000;

/// ISO 9660 (ECMA-119): the dates of every volume descriptor, and of every
/// directory record (with its Rock Ridge `TF` entry) of every directory
/// tree the descriptors point to.
fn iso9660(r: &Bytes<'_>) -> Option<Layout> {
    let mut l = Layout::default();
    let mut roots = Vec::new();
    for n in 16..64u64 {
        let at = n * SECTOR;
        let Ok(d) = r.sub(at, SECTOR) else { break };
        let ty = d.read_at(0, 1).ok()?.first().copied()?;
        if d.read_at(1, 5).ok()? != b"CD001" || ty == 255 {
            break;
        }
        if ty != 1 && ty != 2 {
            continue;
        }
        let place = if ty == 1 {
            "primary volume descriptor"
        } else {
            "supplementary volume descriptor"
        };
        let date = FieldKind::Time(TimestampEncoding::Iso9660VolumeDate);
        for (off, name) in [
            (813, "volume creation date"),
            (830, "volume modification date"),
            (847, "volume expiration date"),
            (864, "volume effective date"),
        ] {
            l.push((at + off) as usize, 17, place, name, date.clone());
        }
        roots.push(at + 156);
        record(r, at + 156, place, "root directory record", &mut l);
    }
    let mut seen = BTreeSet::new();
    let mut queue: Vec<u64> = Vec::new();
    for root in roots {
        if let Some(extent) = extent_of(r, root) {
            queue.push(extent);
        }
    }
    let mut records = 0;
    while let Some((start, len)) = queue.pop().map(|e| (e, extent_len(r, e))) {
        if !seen.insert(start) || seen.len() > MAX_DIRS {
            continue;
        }
        let Some(len) = len else { continue };
        let mut at = start;
        let end = start.saturating_add(len);
        while at < end && records < MAX_RECORDS {
            let size = u64::from(*r.read_at(at, 1).ok()?.first()?);
            if size == 0 {
                // Records do not cross sectors: the rest of this one is padding.
                at = (at / SECTOR + 1) * SECTOR;
                continue;
            }
            records += 1;
            let name_len = u64::from(*r.read_at(at + 32, 1).ok()?.first()?);
            let name = r.read_at(at + 33, name_len).ok()?;
            let shown = match name {
                [0] => ".".to_owned(),
                [1] => "..".to_owned(),
                n => String::from_utf8_lossy(n).into_owned(),
            };
            record(r, at, "directory record", &shown, &mut l);
            let flags = *r.read_at(at + 25, 1).ok()?.first()?;
            if flags & 2 != 0
                && !matches!(name, [0] | [1])
                && let Some(e) = extent_of(r, at)
            {
                queue.push(e);
            }
            // The system use area (Rock Ridge) follows the name, padded
            // to an even length.
            let su = 33 + name_len + u64::from(name_len % 2 == 0);
            if su < size {
                rock_ridge(r, at + su, at + size, &shown, &mut l);
            }
            at += size;
        }
    }
    Some(l)
}

/// A directory record's 7-byte date (at +18).
fn record(r: &Bytes<'_>, at: u64, place: &str, name: &str, l: &mut Layout) {
    if r.read_at(at + 18, 7).is_ok() {
        l.push(
            (at + 18) as usize,
            7,
            place,
            &format!("{name} recording date"),
            FieldKind::Time(TimestampEncoding::Iso9660DirDate),
        );
    }
}

/// The extent (its byte offset) of the directory record at `at`.
fn extent_of(r: &Bytes<'_>, at: u64) -> Option<u64> {
    let lba = u64::from(r.sub(at + 2, 4).ok()?.u32_le().ok()?);
    lba.checked_mul(SECTOR)
}

/// The length of the directory whose extent starts at `extent`: its `.`
/// record's data length.
fn extent_len(r: &Bytes<'_>, extent: u64) -> Option<u64> {
    let len = u64::from(r.sub(extent + 10, 4).ok()?.u32_le().ok()?);
    (len <= r.data().len() as u64).then_some(len)
}

/// Rock Ridge `TF` entries (RRIP 4.1.6) in a system use area: one date per
/// flag bit set, 7 bytes each (17 with LONG_FORM).
fn rock_ridge(r: &Bytes<'_>, mut at: u64, end: u64, name: &str, l: &mut Layout) {
    while at + 4 <= end {
        let Ok(head) = r.read_at(at, 4) else { return };
        let (sig, len) = (head.get(..2), u64::from(head.get(2).copied().unwrap_or(0)));
        if len < 4 {
            return;
        }
        if sig == Some(b"TF") {
            let flags = r.read_at(at + 4, 1).ok().and_then(|f| f.first().copied());
            if let Some(flags) = flags {
                let long = flags & 0x80 != 0;
                let (width, encoding) = if long {
                    (17, TimestampEncoding::Iso9660VolumeDate)
                } else {
                    (7, TimestampEncoding::Iso9660DirDate)
                };
                let names = [
                    "creation",
                    "modify",
                    "access",
                    "attributes",
                    "backup",
                    "expiration",
                    "effective",
                ];
                let mut p = at + 5;
                for (bit, what) in names.iter().enumerate() {
                    if flags & (1 << bit) != 0 {
                        if p + width <= (at + len).min(end) {
                            l.push(
                                p as usize,
                                width as usize,
                                "Rock Ridge TF",
                                &format!("{name} {what}"),
                                FieldKind::Time(encoding),
                            );
                        }
                        p += width;
                    }
                }
            }
        }
        at += len;
    }
}

#[cfg(test)]
#[expect(clippy::indexing_slicing, reason = "tests build headers in place")]
mod tests {
    use super::*;

    #[test]
    fn uimage_header_fields() {
        let mut h = vec![0u8; 64 + 16];
        h[..4].copy_from_slice(&[0x27, 0x05, 0x19, 0x56]);
        h[12..16].copy_from_slice(&16u32.to_be_bytes());
        let l = read(&h, &h).expect("layout");
        let names: Vec<&str> = l.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["ih_hcrc", "ih_time", "ih_dcrc"]);
        assert_eq!(l.overlapping(&(5..10)).collect::<Vec<_>>(), [0, 1]);
        h[8..12].copy_from_slice(&1_500_000_000u32.to_be_bytes());
        assert_eq!(l.fields[1].decode(&h), Some(1_500_000_000));
    }

    #[test]
    fn unknown_or_truncated_formats_have_no_layout() {
        assert!(read(b"plain data", b"plain data").is_none());
        assert!(read(&[0x27, 0x05, 0x19, 0x56, 0], &[0x27, 0x05, 0x19, 0x56, 0]).is_none());
        assert!(read(b"OTTO\xff\xff", b"OTTO\xff\xff").is_none());
    }
}
