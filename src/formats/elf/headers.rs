//! The parts of an ELF file around its sections: ELF and program header
//! fields, notes (the GNU build-id as a consequence or the only
//! difference), `.gnu_debuglink`, and bytes outside every section.
#![deny(clippy::indexing_slicing)]

use std::collections::{BTreeMap, BTreeSet};

use object::elf;

use super::model::{self, Elf, Section};
use super::{State, lossy, plural, strings};
use crate::finding::{Cause, Evidence, Location};
use crate::formats::{Cx, binary};

/// The file ranges no header or section covers (alignment padding, data
/// a tool wrote between sections), merged and sorted.
pub(super) fn gaps(e: &Elf<'_>) -> Vec<std::ops::Range<u64>> {
    let h = |f: &str| e.header_value(f);
    let mut covered: Vec<(u64, u64)> = vec![
        (0, h("e_ehsize")),
        (
            h("e_phoff"),
            h("e_phoff").saturating_add(h("e_phnum").saturating_mul(h("e_phentsize"))),
        ),
        (
            h("e_shoff"),
            h("e_shoff").saturating_add(h("e_shnum").saturating_mul(h("e_shentsize"))),
        ),
    ];
    covered.extend(
        e.sections
            .iter()
            .map(|s| (s.offset, s.offset.saturating_add(s.data.len() as u64))),
    );
    covered.sort_unstable();
    let mut out = Vec::new();
    let mut at = 0u64;
    for (start, end) in covered {
        if start > at {
            out.push(at..start);
        }
        at = at.max(end);
    }
    let len = e.data.len() as u64;
    if at < len {
        out.push(at..len);
    }
    out
}

/// Bytes outside every header and section that differ, when the layout is
/// the same on both sides (otherwise they moved with it).
pub(super) fn outside_sections(cx: &mut Cx<'_>, st: &State, a: &Elf<'_>, b: &Elf<'_>) {
    if st.layout_changed() || a.data.len() != b.data.len() {
        return;
    }
    let differs = |r: &std::ops::Range<u64>| {
        let r = r.start as usize..r.end as usize;
        a.data.get(r.clone()) != b.data.get(r)
    };
    let changed: Vec<_> = gaps(a).into_iter().filter(differs).collect();
    let Some(first) = changed.first() else {
        return;
    };
    let at = first.start as usize;
    let limit = cx.limits.evidence_bytes;
    let end = (first.end as usize).min(at + limit);
    cx.emit(
        Location::Field {
            path: vec!["bytes outside sections".to_owned()],
            at: Some(first.start),
        },
        Cause::Unknown {
            differences: changed.len() as u64,
        },
        Evidence::of(binary::excerpt(a.data, at..end, limit)),
        Evidence::of(binary::excerpt(b.data, at..end, limit)),
        b"outside sections",
    );
}

/// `.gnu_debuglink`: the debug file's name, then (4-aligned) its CRC-32.
pub(super) fn debuglink(
    cx: &mut Cx<'_>,
    st: &mut State,
    a: &Elf<'_>,
    b: &Elf<'_>,
    sa: &Section<'_>,
    sb: &Section<'_>,
) {
    fn split(d: &[u8]) -> (&[u8], &[u8]) {
        let end = d.iter().position(|&c| c == 0).unwrap_or(d.len());
        let crc_at = (end + 4) & !3;
        (
            d.get(..end).unwrap_or_default(),
            d.get(crc_at..crc_at + 4).unwrap_or_default(),
        )
    }
    let (name_a, crc_a) = split(sa.data);
    let (name_b, crc_b) = split(sb.data);
    let label = sa.label();
    let path = vec![label.clone()];
    if name_a != name_b {
        let n = strings::emit_pair(
            cx,
            &strings::Place::in_file(&path, a.data, b.data, sa.offset, sb.offset),
            Some(&(0, name_a)),
            Some(&(0, name_b)),
            None,
        );
        st.root_emitted(&label, n);
    }
    if crc_a != crc_b {
        let crc_at = sa.offset + ((name_a.len() as u64 + 4) & !3);
        cx.emit(
            Location::Field {
                path: vec![label, "CRC-32".to_owned()],
                at: Some(crc_at),
            },
            Cause::Consequence {
                of: "the separate debug file's content (this is its CRC-32)".to_owned(),
            },
            Evidence::value(crate::finding::hex(crc_a)),
            Evidence::value(crate::finding::hex(crc_b)),
            b"debuglink crc",
        );
    }
}

fn is_build_id(n: &model::Note<'_>) -> bool {
    n.name == b"GNU" && n.n_type == elf::NT_GNU_BUILD_ID.0
}

/// Notes other than the build-id, paired by section, name and type.
pub(super) fn other_notes(cx: &mut Cx<'_>, st: &mut State, a: &Elf<'_>, b: &Elf<'_>) {
    type Key = (Vec<u8>, Vec<u8>, u32, usize);
    fn key<'e, 'd>(e: &'e Elf<'d>) -> BTreeMap<Key, &'e model::Note<'d>> {
        let mut m: BTreeMap<Key, &model::Note<'_>> = BTreeMap::new();
        let mut seen: BTreeMap<(Vec<u8>, Vec<u8>, u32), usize> = BTreeMap::new();
        for n in e.notes.iter().filter(|n| !is_build_id(n)) {
            let section = e.section(n.section).map(|s| s.name).unwrap_or_default();
            let base = (section.to_vec(), n.name.to_vec(), n.n_type);
            let count = seen.entry(base.clone()).or_insert(0);
            m.insert((base.0, base.1, base.2, *count), n);
            *count += 1;
        }
        m
    }
    let (ka, kb) = (key(a), key(b));
    for (k, na) in &ka {
        let Some(nb) = kb.get(k) else { continue };
        if na.desc == nb.desc {
            continue;
        }
        let label = format!("section {}", lossy(&k.0));
        let path = vec![
            label.clone(),
            format!("note {} type {:#x}", lossy(na.name), na.n_type),
        ];
        let n = strings::compare(
            cx,
            &strings::Place::in_file(&path, a.data, b.data, na.desc_at, nb.desc_at),
            na.desc,
            nb.desc,
            4,
            None,
            &BTreeSet::new(),
        );
        st.root_emitted(&label, n.roots);
        if n.between || n.roots == 0 {
            cx.emit(
                Location::Field {
                    path,
                    at: Some(na.desc_at),
                },
                Cause::Unknown { differences: 1 },
                Evidence::value(crate::finding::hex(na.desc)),
                Evidence::value(crate::finding::hex(nb.desc)),
                na.name,
            );
        }
    }
}

/// ELF header and program header fields. Offsets and addresses follow the
/// section layout; counts follow the section table.
pub(super) fn headers(cx: &mut Cx<'_>, st: &State, a: &Elf<'_>, b: &Elf<'_>) {
    const LAYOUT: [&str; 8] = [
        "e_entry", "e_shoff", "e_phoff", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz",
    ];
    let classify = |field: &str| -> Cause {
        let of = match (field, st.root()) {
            ("e_shnum" | "e_shstrndx", _) if st.table_changed => {
                Some("the section table change".to_owned())
            }
            (f, Some(root)) if LAYOUT.contains(&f) && st.layout_changed() => {
                Some(format!("{root}: {f} follows the moved layout"))
            }
            _ => None,
        };
        match of {
            Some(of) => Cause::Consequence { of },
            None => Cause::Unknown { differences: 1 },
        }
    };
    for ((field, x), (_, y)) in a.header.iter().zip(&b.header) {
        if x != y {
            cx.emit(
                Location::Field {
                    path: vec!["ELF header".to_owned(), (*field).to_owned()],
                    at: None,
                },
                classify(field),
                Evidence::value(format!("{x:#x}")),
                Evidence::value(format!("{y:#x}")),
                field.as_bytes(),
            );
        }
    }
    if a.segments.len() != b.segments.len() {
        return; // e_phnum differs: reported above.
    }
    // Program header fields that follow the layout: one finding for all.
    let mut moved: Vec<(String, u64, u64)> = Vec::new();
    for (i, (pa, pb)) in a.segments.iter().zip(&b.segments).enumerate() {
        for ((field, x), (_, y)) in pa.iter().zip(pb) {
            if x == y {
                continue;
            }
            let cause = classify(field);
            if matches!(cause, Cause::Consequence { .. }) {
                moved.push((format!("{field}[{i}]"), *x, *y));
                continue;
            }
            cx.emit(
                Location::Field {
                    path: vec![format!("program header {i}"), (*field).to_owned()],
                    at: None,
                },
                cause,
                Evidence::value(format!("{x:#x}")),
                Evidence::value(format!("{y:#x}")),
                field.as_bytes(),
            );
        }
    }
    if let Some(root) = st.root().filter(|_| !moved.is_empty()) {
        let list = |side: fn(&(String, u64, u64)) -> u64| {
            moved
                .iter()
                .map(|m| format!("{}={:#x}", m.0, side(m)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        cx.emit(
            Location::Field {
                path: vec!["program headers".to_owned()],
                at: None,
            },
            Cause::Consequence {
                of: format!(
                    "{root}: {} program header field{} follow the moved layout",
                    moved.len(),
                    plural(moved.len() as u64)
                ),
            },
            Evidence::value(list(|m| m.1)),
            Evidence::value(list(|m| m.2)),
            b"program headers",
        );
    }
}

/// `NT_GNU_BUILD_ID` hashes the link output: when it is the only
/// difference say so; otherwise it is derived from the others.
pub(super) fn build_id(cx: &mut Cx<'_>, st: &State, a: &Elf<'_>, b: &Elf<'_>) {
    let (Some(na), Some(nb)) = (
        a.notes.iter().find(|n| is_build_id(n)),
        b.notes.iter().find(|n| is_build_id(n)),
    ) else {
        return;
    };
    if na.desc == nb.desc {
        return;
    }
    let (da, db) = (na.desc_at as usize, nb.desc_at as usize);
    let len = na.desc.len();
    let only = da == db
        && len == nb.desc.len()
        && a.data.len() == b.data.len()
        && a.data.get(..da) == b.data.get(..da)
        && a.data.get(da + len..) == b.data.get(da + len..);
    let cause = if only {
        Cause::BuildIdOnly
    } else {
        Cause::Consequence {
            of: format!(
                "{}: the build-id hashes the whole output",
                st.root()
                    .unwrap_or_else(|| "the other differences in this file".to_owned())
            ),
        }
    };
    let section = a
        .section(na.section)
        .map_or_else(|| "notes".to_owned(), Section::label);
    cx.emit(
        Location::Field {
            path: vec![section, "NT_GNU_BUILD_ID".to_owned()],
            at: Some(na.desc_at),
        },
        cause,
        Evidence::value(crate::finding::hex(na.desc)),
        Evidence::value(crate::finding::hex(nb.desc)),
        b"build-id",
    );
}
