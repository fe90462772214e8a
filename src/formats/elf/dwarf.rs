//! DWARF: compilation units walked in lockstep with `gimli`.
//!
//! Strings are compared by value, whatever form holds them
//! (`DW_FORM_strp`, `line_strp`, inline), so a longer `DW_AT_comp_dir` is
//! one root finding naming the unit and the attribute, and the string
//! offsets it shifts are counted as consequences instead of reported. The
//! `.debug_line` header's directory and file tables are compared the same
//! way. Units are paired by name, so a changed link order is one `ordering`
//! finding and the units still compare. Relocatable objects keep string
//! offsets in relocations, which are applied to a copy of each debug
//! section first.
#![deny(clippy::indexing_slicing)]

use std::borrow::Cow;
use std::collections::BTreeMap;

use gimli::{AttributeValue, EndianSlice, RunTimeEndian, SectionId};
use object::elf;

use super::model::{Elf, Section};
use super::{State, strings, summarise};
use crate::finding::{Cause, Evidence, LimitKind, Location, Side, ToolchainPart};
use crate::formats::bytes::ParseError;
use crate::formats::{Cx, Format};

type R<'a> = EndianSlice<'a, RunTimeEndian>;

/// Counters of what the lockstep walk saw.
#[derive(Default)]
struct Walk {
    /// Attribute values that differ only as offsets or addresses.
    shifts: u64,
    /// Attribute values that differ for no reason found.
    unknown: u64,
    /// Findings emitted for strings.
    roots: u64,
    line_roots: u64,
    /// Values that differ after a compiler flags or version change.
    derived: u64,
    budget: strings::Budget,
}

/// Strings of one unit that differ only in Rust crate metadata hashes.
#[derive(Default)]
struct Hashes {
    count: u64,
    first: Option<(Vec<u8>, Vec<u8>, u64)>,
}

/// File offsets (side A) of the sections locations point into.
#[derive(Clone, Copy)]
struct Offsets {
    info_at: u64,
    line_at: u64,
}

pub(super) fn compare(
    cx: &mut Cx<'_>,
    st: &mut State,
    a: &Elf<'_>,
    b: &Elf<'_>,
    pairs: &[(Option<&Section<'_>>, Option<&Section<'_>>)],
) {
    let mut walk = Walk::default();
    let (inflated_a, inflated_b) = (inflate_all(cx, a), inflate_all(cx, b));
    let sections_a = load(a, &inflated_a);
    let sections_b = load(b, &inflated_b);
    let result = match (&sections_a, &sections_b) {
        (Ok(x), Ok(y)) => {
            let dwarf_a = x.borrow(|s| EndianSlice::new(s, endian(a)));
            let dwarf_b = y.borrow(|s| EndianSlice::new(s, endian(b)));
            units(cx, st, a, &dwarf_a, &dwarf_b, &mut walk)
        }
        (Err(e), _) => Err(format!("side A: {e}")),
        (_, Err(e)) => Err(format!("side B: {e}")),
    };
    if let Err(reason) = result {
        cx.emit(
            Location::Field {
                path: vec!["DWARF".to_owned()],
                at: None,
            },
            Cause::Unparsed {
                format: Format::Elf,
                reason: format!("DWARF: {reason}"),
            },
            Evidence::absent(),
            Evidence::absent(),
            b"DWARF",
        );
    }
    let budget = std::mem::take(&mut walk.budget);
    walk.roots += budget.flush(cx);
    if walk.roots > 0 {
        st.roots.insert("section .debug_info".to_owned());
    }
    if walk.line_roots > 0 {
        st.roots.insert("section .debug_line".to_owned());
    }
    // The string tables: strings no attribute above reported.
    let mut residual = Vec::new();
    for (sa, sb) in pairs {
        let (Some(sa), Some(sb)) = (sa, sb) else {
            continue;
        };
        if !sa.is_debug() || sa.data == sb.data {
            continue;
        }
        // A compressed section is compared by what it inflates to.
        let (xa, xb) = match (inflated_a.get(&sa.index), inflated_b.get(&sb.index)) {
            (Some(x), Some(y)) => (Some(x.as_slice()), Some(y.as_slice())),
            _ if sa.is_compressed() || sb.is_compressed() => {
                // Not inflated (said above): its bytes, never derived.
                residual.push((*sa, *sb, false, None));
                continue;
            }
            _ => (None, None),
        };
        let inflated = xa.zip(xb);
        if inflated.is_some_and(|(x, y)| x == y) {
            continue;
        }
        if sa.name == b".debug_str" || sa.name == b".debug_line_str" {
            let label = sa.label();
            let path = vec![label.clone()];
            let place = match inflated {
                Some((x, y)) => strings::Place::value(&path, x, y, Some(sa.offset)),
                None => strings::Place::in_file(&path, a.data, b.data, sa.offset, sb.offset),
            };
            let (da, db) = inflated.unwrap_or((sa.data, sb.data));
            let out = strings::compare(cx, &place, da, db, 1, None, &st.seen);
            st.root_emitted(&label, out.roots);
            if out.roots == 0 && !st.seen.is_empty() {
                // Its changes were all reported through attributes.
                st.roots.insert(label);
            }
            continue;
        }
        let verified =
            sa.name == b".debug_info" && walk.unknown == 0 && walk.derived == 0 && walk.shifts > 0;
        residual.push((*sa, *sb, verified, inflated));
    }
    for (sa, sb, verified, inflated) in residual {
        summarise(cx, st, a, b, sa, sb, verified, inflated);
    }
}

/// The compressed debug sections of one file, inflated (by section
/// index). One that cannot be (zstd, corrupt) is said so with its offset
/// and stays out: its bytes are compared. The budget is checked again
/// before each section and every byte inflated is charged, so many
/// sections sharing one bomb stop at the artifact's limit (issue 11,
/// item 4).
fn inflate_all(cx: &mut Cx<'_>, e: &Elf<'_>) -> BTreeMap<usize, Vec<u8>> {
    let mut out = BTreeMap::new();
    for s in e
        .sections
        .iter()
        .filter(|s| s.is_debug() && s.is_compressed())
    {
        if cx.spent() {
            break;
        }
        let unparsed = |cx: &mut Cx<'_>, error: ParseError| {
            cx.emit(
                Location::Field {
                    path: vec![s.label()],
                    at: Some(s.offset),
                },
                Cause::Unparsed {
                    format: Format::Elf,
                    reason: error.to_string(),
                },
                Evidence::absent(),
                Evidence::absent(),
                s.name,
            );
        };
        let (size, start) = match e.compressed_size(s) {
            Ok(Some(x)) => x,
            Ok(None) => continue,
            Err(error) => {
                unparsed(cx, error);
                continue;
            }
        };
        if size > cx.limits.max_member_bytes {
            cx.limit(LimitKind::MemberBytes, cx.limits.max_member_bytes);
            continue;
        }
        if size > cx.member_budget() {
            // What is left of the artifact's budget is too little: spent.
            let _ = cx.charge(size);
            break;
        }
        let mut inflated = 0;
        let result = e.inflate(s, size, start, &mut inflated);
        let charged = cx.charge(inflated);
        match (result, charged) {
            (Ok(data), Ok(())) => {
                out.insert(s.index, data);
            }
            (Err(error), Ok(())) => unparsed(cx, error),
            (_, Err(_)) => {}
        }
    }
    out
}

fn endian(e: &Elf<'_>) -> RunTimeEndian {
    if e.little {
        RunTimeEndian::Little
    } else {
        RunTimeEndian::Big
    }
}

/// The debug sections of one file (inflated where compressed), relocated
/// when it is relocatable.
fn load<'m>(
    e: &Elf<'m>,
    inflated: &'m BTreeMap<usize, Vec<u8>>,
) -> Result<gimli::DwarfSections<Cow<'m, [u8]>>, String> {
    gimli::DwarfSections::load(|id: SectionId| -> Result<Cow<'m, [u8]>, String> {
        let names = [
            id.name().to_owned(),
            id.name().replacen(".debug_", ".zdebug_", 1),
        ];
        let Some(s) = e
            .sections
            .iter()
            .find(|s| names.iter().any(|n| s.name == n.as_bytes()))
        else {
            return Ok(Cow::Borrowed(&[][..]));
        };
        let data: &'m [u8] = match inflated.get(&s.index) {
            Some(d) => d,
            None if s.is_compressed() => {
                return Err(format!(
                    "{} at offset {:#x} could not be inflated",
                    id.name(),
                    s.offset
                ));
            }
            None => s.data,
        };
        if !e.relocatable {
            return Ok(Cow::Borrowed(data));
        }
        relocate(e, s, data)
    })
}

/// Apply the absolute relocations DWARF uses (32 and 64 bit) to a copy of
/// section `s`: the value is the symbol's plus the addend.
fn relocate<'m>(e: &Elf<'_>, s: &Section<'_>, base: &'m [u8]) -> Result<Cow<'m, [u8]>, String> {
    let machine = e.header_value("e_machine") as u16;
    let mut out: Option<Vec<u8>> = None;
    for (index, relocs) in &e.relocs {
        let Some(rs) = e.section(*index) else {
            continue;
        };
        if rs.info as usize != s.index || rs.flags & elf::SHF_ALLOC.0 != 0 {
            continue;
        }
        let data = out.get_or_insert_with(|| base.to_vec());
        for r in relocs {
            const X86_64: u16 = elf::EM_X86_64.0;
            const AARCH64: u16 = elf::EM_AARCH64.0;
            const I386: u16 = elf::EM_386.0;
            // R_X86_64_64, R_AARCH64_ABS64; R_X86_64_32(S), R_AARCH64_ABS32, R_386_32.
            let size = match (machine, r.r_type) {
                (X86_64, 1) | (AARCH64, 257) => 8,
                (X86_64, 10 | 11) | (AARCH64, 258) | (I386, 1) => 4,
                _ => continue,
            };
            let sym = e.symtab.get(r.sym as usize).map_or(0, |sym| sym.value);
            let at = usize::try_from(r.offset).map_err(|_| bad(s, r.offset))?;
            let slot = data
                .get_mut(at..at + size)
                .ok_or_else(|| bad(s, r.offset))?;
            let implicit = if rs.sh_type == elf::SHT_REL.0 {
                read(slot, e.little)
            } else {
                0
            };
            let value = sym.wrapping_add(r.addend as u64).wrapping_add(implicit);
            write(slot, value, e.little);
        }
    }
    Ok(out.map_or(Cow::Borrowed(base), Cow::Owned))
}

fn bad(s: &Section<'_>, offset: u64) -> String {
    format!(
        "relocation at {offset:#x} lies outside {} ({} bytes) at offset {:#x}",
        String::from_utf8_lossy(s.name),
        s.data.len(),
        s.offset
    )
}

fn read(slot: &[u8], little: bool) -> u64 {
    let mut v = 0u64;
    for (i, &byte) in slot.iter().enumerate() {
        let shift = if little { i } else { slot.len() - 1 - i };
        v |= u64::from(byte) << (8 * shift);
    }
    v
}

fn write(slot: &mut [u8], value: u64, little: bool) {
    let n = slot.len();
    for (i, byte) in slot.iter_mut().enumerate() {
        let shift = if little { i } else { n - 1 - i };
        *byte = (value >> (8 * shift)) as u8;
    }
}

fn is_string(v: &AttributeValue<R<'_>>) -> bool {
    matches!(
        v,
        AttributeValue::String(_)
            | AttributeValue::DebugStrRef(_)
            | AttributeValue::DebugStrOffsetsIndex(_)
            | AttributeValue::DebugLineStrRef(_)
            | AttributeValue::DebugStrRefSup(_)
    )
}

/// Values that are offsets into a section or addresses: they move when
/// anything before them grows.
fn is_offset(v: &AttributeValue<R<'_>>) -> bool {
    matches!(
        v,
        AttributeValue::Addr(_)
            | AttributeValue::UnitRef(_)
            | AttributeValue::DebugInfoRef(_)
            | AttributeValue::DebugInfoRefSup(_)
            | AttributeValue::DebugLineRef(_)
            | AttributeValue::DebugAddrBase(_)
            | AttributeValue::DebugAddrIndex(_)
            | AttributeValue::DebugLocListsBase(_)
            | AttributeValue::DebugLocListsIndex(_)
            | AttributeValue::DebugRngListsBase(_)
            | AttributeValue::DebugRngListsIndex(_)
            | AttributeValue::DebugStrOffsetsBase(_)
            | AttributeValue::DebugMacinfoRef(_)
            | AttributeValue::DebugMacroRef(_)
            | AttributeValue::DebugTypesRef(_)
            | AttributeValue::LocationListsRef(_)
            | AttributeValue::RangeListsRef(_)
            | AttributeValue::SecOffset(_)
    )
}

fn file_name(path: &[u8]) -> String {
    let base = path.rsplit(|&c| c == b'/').next().unwrap_or(path);
    String::from_utf8_lossy(base).into_owned()
}

/// A compiler version or recorded flags: the producer up to the first
/// ` -` is the compiler and its version.
fn producer_part(a: &[u8], b: &[u8]) -> ToolchainPart {
    let head = |s: &[u8]| {
        let end = s.windows(2).position(|w| w == b" -").unwrap_or(s.len());
        s.get(..end).unwrap_or_default().to_vec()
    };
    if head(a) == head(b) {
        ToolchainPart::Flags
    } else {
        ToolchainPart::Version
    }
}

fn units(
    cx: &mut Cx<'_>,
    st: &mut State,
    a: &Elf<'_>,
    da: &gimli::Dwarf<R<'_>>,
    db: &gimli::Dwarf<R<'_>>,
    walk: &mut Walk,
) -> Result<(), String> {
    let at = |name: &[u8]| {
        a.sections
            .iter()
            .find(|s| s.name == name)
            .map_or(0, |s| s.offset)
    };
    let info_at = at(b".debug_info");
    let offsets = Offsets {
        info_at,
        line_at: at(b".debug_line"),
    };
    let (la, lb) = (unit_list(da, "A")?, unit_list(db, "B")?);
    let (pairs, reordered) = pair_units(cx, &la, &lb, info_at);
    if reordered {
        st.ordering = Some("the link order change (.debug_info unit order)".to_owned());
    }
    for (ha, hb) in pairs {
        let cu_at = ha.offset().0 as u64;
        let ua = da
            .unit(ha)
            .map_err(|e| format!("{e} in the unit at .debug_info+{cu_at:#x} (side A)"))?;
        let ub = db
            .unit(hb)
            .map_err(|e| format!("{e} in the unit at .debug_info+{cu_at:#x} (side B)"))?;
        let pair = UnitPair {
            da,
            db,
            ua: &ua,
            ub: &ub,
        };
        unit(cx, st, &pair, offsets, walk)
            .map_err(|e| format!("{e} in the unit at .debug_info+{cu_at:#x}"))?;
        if cx.full() {
            break;
        }
    }
    Ok(())
}

/// The label of a unit in locations: its file name, with a Rust codegen
/// unit's hash masked so the location stays when only the hash changes.
fn cu_label(name: &[u8]) -> String {
    let base = file_name(name);
    if base.contains("-cgu.") {
        let masked = super::names::mask_hex(base.as_bytes());
        format!("CU {}", String::from_utf8_lossy(&masked))
    } else {
        format!("CU {base}")
    }
}

type Units<'a> = Vec<(gimli::UnitHeader<R<'a>>, String)>;
type UnitPairs<'a> = Vec<(gimli::UnitHeader<R<'a>>, gimli::UnitHeader<R<'a>>)>;

/// Every unit header of one side with its label (one record per unit,
/// each at least a header long: bounded by the section).
fn unit_list<'a>(d: &gimli::Dwarf<R<'a>>, side: &str) -> Result<Units<'a>, String> {
    let mut out = Vec::new();
    let mut it = d.units();
    while let Some(h) = it
        .next()
        .map_err(|e| format!("{e} in .debug_info (side {side})"))?
    {
        let name = d.unit(h).ok().and_then(|u| {
            let mut entries = u.entries();
            let die = entries.next_dfs().ok()??;
            let v = die.attr_value(gimli::DW_AT_name)?;
            d.attr_string(&u, v).ok().map(|s| s.slice().to_vec())
        });
        out.push((h, cu_label(&name.unwrap_or_default())));
    }
    Ok(out)
}

/// Pair the units of both sides: in order when their names agree; by name
/// (and occurrence) otherwise, reporting a changed order (link order from a
/// directory listing) and units on one side only.
fn pair_units<'a>(
    cx: &mut Cx<'_>,
    la: &Units<'a>,
    lb: &Units<'a>,
    info_at: u64,
) -> (UnitPairs<'a>, bool) {
    let na: Vec<&str> = la.iter().map(|u| u.1.as_str()).collect();
    let nb: Vec<&str> = lb.iter().map(|u| u.1.as_str()).collect();
    if na == nb {
        return (la.iter().zip(lb).map(|(x, y)| (x.0, y.0)).collect(), false);
    }
    let mut sa = na.clone();
    let mut sb = nb.clone();
    sa.sort_unstable();
    sb.sort_unstable();
    if sa == sb {
        let changed = super::align(&na, &nb);
        let moved: usize = changed.iter().map(|(x, _)| x.len()).sum();
        let first = |names: &[&str], r: Option<&std::ops::Range<usize>>| {
            r.and_then(|r| names.get(r.start))
                .copied()
                .unwrap_or_default()
                .to_owned()
        };
        cx.emit(
            Location::Field {
                path: vec!["section .debug_info".to_owned(), "unit order".to_owned()],
                at: Some(info_at),
            },
            Cause::Ordering {
                records: moved as u64,
            },
            Evidence::value(first(&na, changed.first().map(|c| &c.0))),
            Evidence::value(first(&nb, changed.first().map(|c| &c.1))),
            b"unit order",
        );
    }
    type Keyed<'a> = std::collections::BTreeMap<(String, usize), gimli::UnitHeader<R<'a>>>;
    fn key<'a>(l: &Units<'a>) -> Keyed<'a> {
        let mut count: std::collections::BTreeMap<String, usize> = Default::default();
        l.iter()
            .map(|(h, name)| {
                let n = count.entry(name.clone()).or_insert(0);
                *n += 1;
                ((name.clone(), *n), *h)
            })
            .collect()
    }
    let (ka, kb) = (key(la), key(lb));
    let mut out = Vec::new();
    for (k, h) in &ka {
        match kb.get(k) {
            Some(g) => out.push((*h, *g)),
            None => only(cx, Side::A, &k.0, info_at),
        }
    }
    for k in kb.keys().filter(|k| !ka.contains_key(*k)) {
        only(cx, Side::B, &k.0, info_at);
    }
    // Compare in A's order.
    out.sort_by_key(|(h, _)| h.offset().0);
    (out, sa == sb)
}

fn only(cx: &mut Cx<'_>, side: Side, label: &str, info_at: u64) {
    let present = Evidence::value(label);
    let (ea, eb) = match side {
        Side::A => (present, Evidence::absent()),
        Side::B => (Evidence::absent(), present),
    };
    cx.emit(
        Location::Field {
            path: vec!["section .debug_info".to_owned(), label.to_owned()],
            at: Some(info_at),
        },
        Cause::OnlyIn { side },
        ea,
        eb,
        label.as_bytes(),
    );
}

/// One compilation unit in both files, with the DWARF it reads strings
/// from.
struct UnitPair<'p, 'd> {
    da: &'p gimli::Dwarf<R<'d>>,
    db: &'p gimli::Dwarf<R<'d>>,
    ua: &'p gimli::Unit<R<'d>>,
    ub: &'p gimli::Unit<R<'d>>,
}

fn unit(
    cx: &mut Cx<'_>,
    st: &mut State,
    pair: &UnitPair<'_, '_>,
    place: Offsets,
    walk: &mut Walk,
) -> gimli::Result<()> {
    let UnitPair { da, db, ua, ub } = *pair;
    let info_at = place.info_at;
    let unit_at = ua.header.offset().0 as u64;
    let (mut ca, mut cb) = (ua.entries(), ub.entries());
    let mut cu = String::from("CU");
    let mut hashes = Hashes::default();
    loop {
        let (ea, eb) = match (ca.next_dfs()?, cb.next_dfs()?) {
            (Some(x), Some(y)) => (x, y),
            (None, None) => break,
            _ => {
                emit_tree_differs(cx, &cu, info_at + unit_at, walk);
                break;
            }
        };
        if ea.tag() != eb.tag() || ea.depth() != eb.depth() || ea.attrs().len() != eb.attrs().len()
        {
            emit_tree_differs(cx, &cu, info_at + unit_at, walk);
            break;
        }
        let root = ea.depth() == 0;
        if root
            && let Some(v) = ea.attr_value(gimli::DW_AT_name)
            && let Ok(name) = da.attr_string(ua, v)
        {
            cu = cu_label(name.slice());
        }
        let die_at = info_at + unit_at + ea.offset().0 as u64;
        for (x, y) in ea.attrs().iter().zip(eb.attrs()) {
            if x.name() != y.name() {
                emit_tree_differs(cx, &cu, die_at, walk);
                return Ok(());
            }
            let (vx, vy) = (x.value(), y.value());
            if is_string(&vx) && is_string(&vy) {
                let (Ok(sx), Ok(sy)) = (da.attr_string(ua, vx), db.attr_string(ub, vy)) else {
                    continue;
                };
                let (sx, sy) = (sx.slice(), sy.slice());
                if sx == sy {
                    if vx != vy {
                        walk.shifts += 1;
                    }
                    continue;
                }
                if !root && super::names::rust_hash_only(sx, sy) {
                    st.seen.insert(sx.to_vec());
                    hashes.count += 1;
                    hashes
                        .first
                        .get_or_insert((sx.to_vec(), sy.to_vec(), die_at));
                    continue;
                }
                let mut path = vec!["section .debug_info".to_owned(), cu.clone()];
                if !root {
                    path.push(ea.tag().to_string());
                }
                path.push(x.name().to_string());
                let fallback = (x.name() == gimli::DW_AT_producer).then(|| Cause::Toolchain {
                    part: producer_part(sx, sy),
                    differences: 1,
                });
                st.seen.insert(sx.to_vec());
                if fallback.is_some() && cx.classifier.explain_text(sx, sy).residual {
                    st.toolchain = Some(format!(
                        "the DW_AT_producer change in {cu} (compiler flags or version)"
                    ));
                }
                // Per attribute, not per unit: a build path in every
                // unit's DW_AT_comp_dir is reported a few times and counted.
                let key = ["section .debug_info".to_owned(), x.name().to_string()];
                let cause = strings::first_cause(cx, sx, sy, fallback.as_ref());
                if !walk.budget.take(&key, &cause) {
                    continue;
                }
                walk.roots += strings::emit_pair(
                    cx,
                    &strings::Place::value(&path, sx, sy, Some(die_at)),
                    Some(&(0, sx)),
                    Some(&(0, sy)),
                    fallback.as_ref(),
                );
                continue;
            }
            if vx == vy {
                continue;
            }
            let offsets = is_offset(&vx) && is_offset(&vy);
            let moved_code = matches!(
                (&vx, &vy),
                (AttributeValue::Exprloc(_), AttributeValue::Exprloc(_))
                    | (AttributeValue::Block(_), AttributeValue::Block(_))
            ) && st.layout_changed();
            if offsets || moved_code {
                walk.shifts += 1;
                continue;
            }
            if st.toolchain.is_some() {
                // Other compiler flags make other code and other sizes.
                walk.derived += 1;
                continue;
            }
            walk.unknown += 1;
            let mut path = vec!["section .debug_info".to_owned(), cu.clone()];
            if !root {
                path.push(ea.tag().to_string());
            }
            path.push(x.name().to_string());
            cx.emit(
                Location::Field {
                    path,
                    at: Some(die_at),
                },
                Cause::Unknown { differences: 1 },
                Evidence::value(format!("{vx:?}")),
                Evidence::value(format!("{vy:?}")),
                x.name().to_string().as_bytes(),
            );
        }
    }
    if let Some((p, q, at)) = hashes.first {
        walk.roots += 1;
        cx.emit(
            Location::Field {
                path: vec![
                    "section .debug_info".to_owned(),
                    cu.clone(),
                    "linkage names".to_owned(),
                ],
                at: Some(at),
            },
            Cause::Toolchain {
                part: ToolchainPart::RustMetadataHash,
                differences: hashes.count,
            },
            Evidence::value(p),
            Evidence::value(q),
            cu.as_bytes(),
        );
    }
    line_header(cx, st, pair, &cu, place.line_at, walk)
}

fn emit_tree_differs(cx: &mut Cx<'_>, cu: &str, at: u64, walk: &mut Walk) {
    walk.unknown += 1;
    cx.emit(
        Location::Field {
            path: vec!["section .debug_info".to_owned(), cu.to_owned()],
            at: Some(at),
        },
        Cause::Unknown { differences: 1 },
        Evidence::value("the DIE trees differ from here"),
        Evidence::value("the DIE trees differ from here"),
        cu.as_bytes(),
    );
}

/// The `.debug_line` header of one unit: directories and file names.
fn line_header(
    cx: &mut Cx<'_>,
    st: &mut State,
    pair: &UnitPair<'_, '_>,
    cu: &str,
    line_at: u64,
    walk: &mut Walk,
) -> gimli::Result<()> {
    let UnitPair { da, db, ua, ub } = *pair;
    let (Some(pa), Some(pb)) = (&ua.line_program, &ub.line_program) else {
        return Ok(());
    };
    let (ha, hb) = (pa.header(), pb.header());
    let at = Some(line_at + ha.offset().0 as u64);
    let mut entries: Vec<(String, AttributeValue<R<'_>>, AttributeValue<R<'_>>)> = Vec::new();
    for (i, (x, y)) in ha
        .include_directories()
        .iter()
        .zip(hb.include_directories())
        .enumerate()
    {
        entries.push((format!("include_directories[{i}]"), *x, *y));
    }
    for (i, (x, y)) in ha.file_names().iter().zip(hb.file_names()).enumerate() {
        entries.push((format!("file_names[{i}]"), x.path_name(), y.path_name()));
    }
    let counts_differ = ha.include_directories().len() != hb.include_directories().len()
        || ha.file_names().len() != hb.file_names().len();
    for (field, x, y) in entries {
        let (Ok(sx), Ok(sy)) = (da.attr_string(ua, x), db.attr_string(ub, y)) else {
            continue;
        };
        let (sx, sy) = (sx.slice(), sy.slice());
        if sx == sy {
            continue;
        }
        if st.seen.contains(sx) {
            continue;
        }
        st.seen.insert(sx.to_vec());
        let table = field.split('[').next().unwrap_or_default().to_owned();
        let key = ["section .debug_line".to_owned(), table];
        if !walk
            .budget
            .take(&key, &strings::first_cause(cx, sx, sy, None))
        {
            walk.line_roots += 1;
            continue;
        }
        let path = vec!["section .debug_line".to_owned(), cu.to_owned(), field];
        walk.line_roots += strings::emit_pair(
            cx,
            &strings::Place::value(&path, sx, sy, at),
            Some(&(0, sx)),
            Some(&(0, sy)),
            None,
        );
    }
    if counts_differ {
        walk.unknown += 1;
        cx.emit(
            Location::Field {
                path: vec![
                    "section .debug_line".to_owned(),
                    cu.to_owned(),
                    "file table".to_owned(),
                ],
                at,
            },
            Cause::Unknown { differences: 1 },
            Evidence::value(format!("{} files", ha.file_names().len())),
            Evidence::value(format!("{} files", hb.file_names().len())),
            cu.as_bytes(),
        );
    }
    Ok(())
}
