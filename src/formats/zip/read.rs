//! Reading a zip: the end record (and ZIP64's), the central directory and
//! each entry's local header, by hand through the checked reader, keeping
//! the raw fields (DOS words, extra-field bytes) the zip crate would lose.
//! Structures extractors mishandle are collected as suspicious.
#![deny(clippy::indexing_slicing)]

use std::collections::BTreeSet;

use crate::formats::archive::unsafe_name;
use crate::formats::bytes::{Bytes, ParseError, Result};

const EOCD_SIG: &[u8; 4] = b"PK\x05\x06";
const EOCD_LEN: usize = 22;
const CD_SIG: u32 = 0x0201_4b50;
const LOCAL_SIG: u32 = 0x0403_4b50;
pub(super) const CD_FIXED: u64 = 46;
pub(super) const LOCAL_FIXED: u64 = 30;

/// A local file header.
#[derive(Clone, Debug)]
pub(super) struct Local<'d> {
    pub(super) at: u64,
    /// The 30 fixed bytes of the header, for fields compared raw.
    pub(super) fixed: &'d [u8],
    pub(super) time: u16,
    pub(super) date: u16,
    pub(super) name: &'d [u8],
    pub(super) extra: &'d [u8],
}

/// A central directory entry with its local header and data.
#[derive(Clone, Debug)]
pub(super) struct Entry<'d> {
    /// Offset of the central directory record.
    pub(super) cd_at: u64,
    /// The 46 fixed bytes of the central record, for fields compared raw.
    pub(super) central: &'d [u8],
    pub(super) made_by: u16,
    pub(super) needed: u16,
    pub(super) flags: u16,
    pub(super) method: u16,
    pub(super) time: u16,
    pub(super) date: u16,
    pub(super) crc: u32,
    pub(super) internal_attr: u16,
    pub(super) external_attr: u32,
    pub(super) name: &'d [u8],
    pub(super) extra: &'d [u8],
    pub(super) comment: &'d [u8],
    pub(super) local: Local<'d>,
    /// The compressed data.
    pub(super) data: &'d [u8],
    pub(super) data_at: u64,
}

#[derive(Debug)]
pub(super) struct Archive<'d> {
    pub(super) entries: Vec<Entry<'d>>,
    pub(super) comment: &'d [u8],
    /// Entries the central directory declares beyond `max_members`.
    pub(super) skipped: u64,
    /// Structures extractors mishandle: (entry or "archive", reason).
    pub(super) suspicious: Vec<(Vec<u8>, String)>,
}

fn find_eocd(data: &[u8]) -> Result<usize> {
    let lo = data.len().saturating_sub(EOCD_LEN + 0xffff);
    let tail = data.get(lo..).unwrap_or_default();
    tail.windows(4)
        .rposition(|w| w == EOCD_SIG)
        .map(|p| lo + p)
        .filter(|&p| p + EOCD_LEN <= data.len())
        .ok_or_else(|| {
            ParseError::new(
                data.len() as u64,
                "no end of central directory record (truncated or not a zip)",
            )
        })
}

/// The zip64 extended information extra field (0x0001) supplies the values
/// the 32-bit fields mark with 0xffffffff, in order.
fn zip64_values(extra: &[u8], wanted: usize) -> Vec<u64> {
    let mut out = Vec::new();
    for (id, data) in extra_fields(extra) {
        if id == 0x0001 {
            let mut r = Bytes::new(data);
            for _ in 0..wanted {
                match r.u64_le() {
                    Ok(v) => out.push(v),
                    Err(_) => break,
                }
            }
        }
    }
    out
}

/// Extra fields as (header id, data); a malformed tail is ignored here and
/// compared as raw bytes with the rest of the field.
pub(super) fn extra_fields(extra: &[u8]) -> Vec<(u16, &[u8])> {
    let mut r = Bytes::new(extra);
    let mut out = Vec::new();
    while r.remaining() >= 4 {
        let (Ok(id), Ok(len)) = (r.u16_le(), r.u16_le()) else {
            break;
        };
        match r.take(usize::from(len)) {
            Ok(d) => out.push((id, d)),
            Err(_) => break,
        }
    }
    out
}

/// Does `data` hold a zip whose start is not at offset 0 (something
/// before it), with a readable central directory?
pub(crate) fn has_prefix(data: &[u8]) -> bool {
    data.len() > EOCD_LEN && find_eocd(data).is_ok() && parse(data, 1).is_ok()
}

pub(super) fn parse(data: &[u8], max_members: u64) -> Result<Archive<'_>> {
    let file = Bytes::new(data);
    let eocd_at = find_eocd(data)?;
    let mut r = file.sub(eocd_at as u64, (data.len() - eocd_at) as u64)?;
    r.skip(4 + 2 + 2 + 2)?;
    let mut entries_total = u64::from(r.u16_le()?);
    let mut cd_size = u64::from(r.u32_le()?);
    let mut cd_offset = u64::from(r.u32_le()?);
    let comment_len = r.u16_le()?;
    let comment = r
        .take(usize::from(comment_len))
        .unwrap_or_else(|_| r.rest());
    let mut cd_end = eocd_at as u64;
    if entries_total == 0xffff || cd_size == 0xffff_ffff || cd_offset == 0xffff_ffff {
        // ZIP64: the locator sits just before the end record.
        let loc_at = (eocd_at as u64)
            .checked_sub(20)
            .ok_or_else(|| ParseError::new(eocd_at as u64, "zip64 locator missing"))?;
        let mut loc = file.sub(loc_at, 20)?;
        if loc.u32_le()? == 0x0706_4b50 {
            loc.skip(4)?;
            let z_at = loc.u64_le()?;
            let mut z = file.sub(z_at, 56)?;
            if z.u32_le()? != 0x0606_4b50 {
                return Err(ParseError::new(z_at, "bad zip64 end of central directory"));
            }
            z.skip(8 + 2 + 2 + 4 + 4 + 8)?;
            entries_total = z.u64_le()?;
            cd_size = z.u64_le()?;
            cd_offset = z.u64_le()?;
            cd_end = z_at;
        }
    }
    // A zip behind a prefix (a shebang line, a jmod header, a
    // self-extractor) whose offsets count from the zip's own start: the
    // central directory ends where the end record starts, `shift` bytes
    // after where its offset says (issue 12, class 10).
    let is_cd = |at: u64| file.read_at(at, 4).ok() == Some(&b"PK\x01\x02"[..]);
    let shift = cd_end
        .checked_sub(cd_offset.saturating_add(cd_size))
        .filter(|&p| p > 0 && is_cd(cd_offset.saturating_add(p)) && !is_cd(cd_offset))
        .unwrap_or(0);
    cd_offset = cd_offset.saturating_add(shift);
    let cd = file.sub(cd_offset, cd_size).map_err(|_| {
        ParseError::new(
            cd_offset,
            format!(
                "central directory of {cd_size} bytes at {cd_offset:#x} runs past the end of the \
                 {} byte file (truncated?)",
                data.len()
            ),
        )
    })?;
    let mut cd = cd;
    if cd_offset.saturating_add(cd_size) > eocd_at as u64 {
        return Err(ParseError::new(
            cd_offset,
            format!(
                "the central directory ({cd_size} bytes at {cd_offset:#x}) runs into the end \
                 record at {eocd_at:#x}: truncated central directory"
            ),
        ));
    }
    cd.check_count(entries_total, CD_FIXED, "central directory entries")?;
    let read = entries_total.min(max_members);
    let mut archive = Archive {
        entries: Vec::new(),
        comment,
        skipped: entries_total - read,
        suspicious: Vec::new(),
    };
    for i in 0..read {
        let e = entry(&file, &mut cd, shift).map_err(|e| {
            ParseError::new(
                e.at,
                format!(
                    "central directory entry {} of {entries_total}: {}",
                    i + 1,
                    e.what
                ),
            )
        })?;
        archive.entries.push(e);
    }
    check(&mut archive);
    Ok(archive)
}

/// One central directory entry; `shift` is added to the offsets it holds.
fn entry<'d>(file: &Bytes<'d>, cd: &mut Bytes<'d>, shift: u64) -> Result<Entry<'d>> {
    let cd_at = cd.offset();
    if cd.u32_le()? != CD_SIG {
        return Err(ParseError::new(cd_at, "bad central directory signature"));
    }
    let made_by = cd.u16_le()?;
    let needed = cd.u16_le()?;
    let flags = cd.u16_le()?;
    let method = cd.u16_le()?;
    let time = cd.u16_le()?;
    let date = cd.u16_le()?;
    let crc = cd.u32_le()?;
    let mut csize = u64::from(cd.u32_le()?);
    let usize_ = u64::from(cd.u32_le()?);
    let name_len = cd.u16_le()?;
    let extra_len = cd.u16_le()?;
    let comment_len = cd.u16_le()?;
    cd.skip(2)?; // disk number start
    let internal_attr = cd.u16_le()?;
    let external_attr = cd.u32_le()?;
    let mut local_at = u64::from(cd.u32_le()?);
    let name = cd.take(usize::from(name_len))?;
    let extra = cd.take(usize::from(extra_len))?;
    let comment = cd.take(usize::from(comment_len))?;
    // ZIP64 values come in the order usize, csize, offset, for the fields
    // that are 0xffffffff.
    let marked = [usize_, csize, local_at]
        .iter()
        .filter(|&&v| v == 0xffff_ffff)
        .count();
    if marked > 0 {
        let mut vals = zip64_values(extra, 3).into_iter();
        if usize_ == 0xffff_ffff {
            vals.next();
        }
        if csize == 0xffff_ffff {
            csize = vals.next().unwrap_or(csize);
        }
        if local_at == 0xffff_ffff {
            local_at = vals.next().unwrap_or(local_at);
        }
    }
    let local_at = local_at.saturating_add(shift);
    let mut l = file.sub(local_at, LOCAL_FIXED).map_err(|_| {
        ParseError::new(
            local_at,
            format!(
                "local header of {} at {local_at:#x} is past the end of the file",
                String::from_utf8_lossy(name)
            ),
        )
    })?;
    if l.u32_le()? != LOCAL_SIG {
        return Err(ParseError::new(local_at, "bad local header signature"));
    }
    l.skip(2 + 2 + 2)?;
    let ltime = l.u16_le()?;
    let ldate = l.u16_le()?;
    l.skip(4 + 4 + 4)?;
    let lname_len = u64::from(l.u16_le()?);
    let lextra_len = u64::from(l.u16_le()?);
    let lname = file.read_at(local_at + LOCAL_FIXED, lname_len)?;
    let lextra = file.read_at(local_at + LOCAL_FIXED + lname_len, lextra_len)?;
    let data_at = local_at + LOCAL_FIXED + lname_len + lextra_len;
    let data = file.read_at(data_at, csize).map_err(|_| {
        ParseError::new(
            data_at,
            format!(
                "{} bytes of data of {} run past the end of the file",
                csize,
                String::from_utf8_lossy(name)
            ),
        )
    })?;
    Ok(Entry {
        cd_at,
        central: file.read_at(cd_at, CD_FIXED)?,
        made_by,
        needed,
        flags,
        method,
        time,
        date,
        crc,
        internal_attr,
        external_attr,
        name,
        extra,
        comment,
        local: Local {
            at: local_at,
            fixed: file.read_at(local_at, LOCAL_FIXED)?,
            time: ltime,
            date: ldate,
            name: lname,
            extra: lextra,
        },
        data,
        data_at,
    })
}

fn check(archive: &mut Archive<'_>) {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for e in &archive.entries {
        if let Some(why) = unsafe_name(e.name) {
            out.push((e.name.to_vec(), why.to_owned()));
        }
        if !seen.insert(e.name) {
            out.push((
                e.name.to_vec(),
                "the name appears twice in the central directory".to_owned(),
            ));
        }
        if e.local.name != e.name {
            out.push((
                e.name.to_vec(),
                format!(
                    "the local header names it {}",
                    String::from_utf8_lossy(e.local.name)
                ),
            ));
        }
    }
    // Entries whose header-plus-data ranges overlap (the "overlapping
    // files" bomb construction, or a corrupt directory).
    let mut spans: Vec<(u64, u64, &[u8])> = archive
        .entries
        .iter()
        .map(|e| (e.local.at, e.data_at + e.data.len() as u64, e.name))
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        if let [(_, end, x), (start, _, y)] = pair
            && start < end
        {
            out.push((
                y.to_vec(),
                format!(
                    "its bytes overlap those of {} (from {start:#x} to {end:#x})",
                    String::from_utf8_lossy(x)
                ),
            ));
        }
    }
    archive.suspicious = out;
}

#[cfg(test)]
#[expect(
    clippy::indexing_slicing,
    reason = "tests index fixtures they just built"
)]
mod tests {
    use super::*;
    use crate::formats::testing::fixture;

    const WHEEL: &str = "archives/wheel/a/demo_pkg-1.0-cp311-cp311-linux_x86_64.whl";

    #[test]
    fn reads_a_real_wheel() {
        let data = fixture(WHEEL);
        let z = parse(&data, 1000).unwrap();
        let names: Vec<_> = z
            .entries
            .iter()
            .map(|e| String::from_utf8_lossy(e.name))
            .collect();
        assert_eq!(
            names.first().map(|n| n.as_ref()),
            Some("demo_pkg/__init__.py")
        );
        assert_eq!(
            names.last().map(|n| n.as_ref()),
            Some("demo_pkg-1.0.dist-info/RECORD")
        );
        assert!(z.suspicious.is_empty());
        assert!(z.entries.iter().all(|e| e.method == 8));
    }

    #[test]
    fn every_truncation_of_a_wheel_is_an_error_not_a_panic() {
        // Every length in the tail (end record, central directory, last
        // local headers), every third before it: the end-record search
        // dominates the cost in debug builds.
        let data = fixture(WHEEL);
        let tail = data.len() - 1024;
        for cut in (0..tail).step_by(3).chain(tail..data.len()) {
            assert!(parse(&data[..cut], 1000).is_err(), "cut {cut}");
        }
    }
}
