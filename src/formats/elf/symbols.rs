//! Symbols, dynamic entries and relocations of two ELF files.
//!
//! Symbol names are aligned; a changed name is a Rust crate metadata hash
//! (`17h<16 hex>E`), a random per-compilation value, an embedded path, or
//! unknown. Values and sizes of equally named symbols that differ follow
//! the layout. Dynamic entries: NEEDED order, RPATH/RUNPATH strings, and
//! addresses that follow the layout. Relocations that keep their type and
//! symbol and change only offset or addend are offset shifts.
#![deny(clippy::indexing_slicing)]

use std::collections::BTreeSet;

use object::elf;

use super::model::{Elf, Section, Symbol};
use super::names::{llvm_suffix_only, mask_hex, rust_hash_only};
use super::{State, strings};
use crate::finding::{Cause, Evidence, Location, Side, ToolchainPart};
use crate::formats::{Cx, changed_runs};

#[derive(Default)]
struct Tally<'d> {
    count: u64,
    first: Option<(&'d [u8], &'d [u8], u64)>,
}

impl<'d> Tally<'d> {
    fn add(&mut self, a: &'d [u8], b: &'d [u8], at: u64) {
        self.count += 1;
        self.first.get_or_insert((a, b, at));
    }
}

pub(super) fn symbol_tables(cx: &mut Cx<'_>, st: &mut State, a: &Elf<'_>, b: &Elf<'_>) {
    for (sh_type, xa, xb) in [
        (elf::SHT_SYMTAB, &a.symtab, &b.symtab),
        (elf::SHT_DYNSYM, &a.dynsym, &b.dynsym),
    ] {
        if xa == xb {
            continue;
        }
        let table = |e: &Elf<'_>| {
            e.sections
                .iter()
                .find(|s| s.sh_type == sh_type.0)
                .map(Section::label)
        };
        let label = table(a)
            .or_else(|| table(b))
            .unwrap_or_else(|| "symbols".to_owned());
        let at = a
            .sections
            .iter()
            .find(|s| s.sh_type == sh_type.0)
            .map(|s| s.offset);
        symbols(cx, st, &label, at, xa, xb);
    }
}

fn symbols(
    cx: &mut Cx<'_>,
    st: &mut State,
    label: &str,
    at: Option<u64>,
    xa: &[Symbol<'_>],
    xb: &[Symbol<'_>],
) {
    let na: Vec<&[u8]> = xa.iter().map(|s| s.name).collect();
    let nb: Vec<&[u8]> = xb.iter().map(|s| s.name).collect();
    let location = |field: &str| Location::Field {
        path: vec![label.to_owned(), field.to_owned()],
        at,
    };
    // Pairs of equally named symbols, for values and sizes.
    let mut same: Vec<(&Symbol<'_>, &Symbol<'_>)> = Vec::new();
    if na == nb {
        same.extend(xa.iter().zip(xb));
    } else {
        let mut sa = na.clone();
        let mut sb = nb.clone();
        sa.sort_unstable();
        sb.sort_unstable();
        let changed = super::align(&na, &nb);
        if sa == sb {
            st.ordering
                .get_or_insert_with(|| format!("the {label} order change"));
            let moved: usize = changed.iter().map(|(x, _)| x.len()).sum();
            cx.emit(
                location("symbol order"),
                Cause::Ordering {
                    records: moved as u64,
                },
                Evidence::value(first_moved(&na, &changed, Side::A)),
                Evidence::value(first_moved(&nb, &changed, Side::B)),
                label.as_bytes(),
            );
            return;
        }
        let mut rust = Tally::default();
        let mut random = Tally::default();
        let mut llvm = Tally::default();
        let mut unknown = Tally::default();
        let mut i = 0;
        let mut j = 0;
        for (x, y) in &changed {
            same.extend(
                xa.get(i..x.start)
                    .unwrap_or_default()
                    .iter()
                    .zip(xb.get(j..y.start).unwrap_or_default()),
            );
            i = x.end;
            j = y.end;
            if x.len() != y.len() {
                let p = na.get(x.start).copied().unwrap_or_default();
                let q = nb.get(y.start).copied().unwrap_or_default();
                unknown.add(p, q, x.start as u64);
                continue;
            }
            for (k, l) in x.clone().zip(y.clone()) {
                let (Some(sa), Some(sb)) = (xa.get(k), xb.get(l)) else {
                    continue;
                };
                same.push((sa, sb));
                let (p, q) = (sa.name, sb.name);
                if rust_hash_only(p, q) {
                    rust.add(p, q, k as u64);
                    continue;
                }
                if llvm_suffix_only(p, q) {
                    llvm.add(p, q, k as u64);
                    continue;
                }
                if mask_hex(p) == mask_hex(q) {
                    random.add(p, q, k as u64);
                    continue;
                }
                let e = cx.classifier.explain_text(p, q);
                if !e.residual {
                    let path = vec![label.to_owned(), "symbol name".to_owned()];
                    let n = strings::emit_pair(
                        cx,
                        &strings::Place::value(&path, p, q, at),
                        Some(&(0, p)),
                        Some(&(0, q)),
                        None,
                    );
                    st.root_emitted(label, n);
                    st.root_emitted(strings_of(label), n);
                } else {
                    unknown.add(p, q, k as u64);
                }
            }
        }
        same.extend(
            xa.get(i..)
                .unwrap_or_default()
                .iter()
                .zip(xb.get(j..).unwrap_or_default()),
        );
        // In a Rust object every hash in a name follows the crate metadata.
        if rust.count > 0 {
            rust.count += random.count;
            random = Tally::default();
        }
        for (tally, cause, field) in [
            (
                rust,
                Cause::Toolchain {
                    part: ToolchainPart::RustMetadataHash,
                    differences: 0,
                },
                "symbol names",
            ),
            (random, Cause::RandomSeed { differences: 0 }, "symbol names"),
            (
                llvm,
                Cause::Consequence { of: String::new() },
                "symbol names",
            ),
            (unknown, Cause::Unknown { differences: 0 }, "symbol names"),
        ] {
            let Some((p, q, _)) = tally.first else {
                continue;
            };
            let cause = match cause {
                Cause::Toolchain { part, .. } => Cause::Toolchain {
                    part,
                    differences: tally.count,
                },
                Cause::RandomSeed { .. } => Cause::RandomSeed {
                    differences: tally.count,
                },
                Cause::Consequence { .. } => Cause::Consequence {
                    of: format!(
                        "the modules' content: LLVM suffixes {} promoted local symbol name{} \
                         with a hash of its module (.llvm.<number>)",
                        tally.count,
                        if tally.count == 1 { "" } else { "s" }
                    ),
                },
                _ => Cause::Unknown {
                    differences: tally.count,
                },
            };
            st.root_emitted(label, 1);
            st.root_emitted(strings_of(label), 1);
            cx.emit(
                location(field),
                cause,
                Evidence::value(p),
                Evidence::value(q),
                &mask_hex(p),
            );
        }
    }
    // Values and sizes of symbols that kept their name.
    let mut moved = Tally::default();
    let mut other = Tally::default();
    for (sa, sb) in same {
        if sa.value != sb.value || sa.size != sb.size {
            moved.add(sa.name, sb.name, sa.value);
        }
        if sa.info != sb.info || sa.shndx != sb.shndx && !st.table_changed {
            other.add(sa.name, sb.name, sa.value);
        }
    }
    if let Some((p, _, _)) = moved.first {
        let cause = match st.root() {
            Some(root) if st.layout_changed() => Cause::Consequence {
                of: format!(
                    "{root}: {} symbol values or sizes are offset shifts",
                    moved.count
                ),
            },
            _ => Cause::Unknown {
                differences: moved.count,
            },
        };
        let show = |s: Option<&Symbol<'_>>| match s {
            Some(s) => format!(
                "{} value {:#x} size {}",
                String::from_utf8_lossy(s.name),
                s.value,
                s.size
            ),
            None => String::new(),
        };
        let pa = xa.iter().find(|s| s.name == p);
        let pb = xb.iter().find(|s| s.name == p);
        cx.emit(
            location("symbol values"),
            cause,
            Evidence::value(show(pa)),
            Evidence::value(show(pb)),
            label.as_bytes(),
        );
    }
    if let Some((p, q, _)) = other.first {
        cx.emit(
            location("symbol binding, type or section"),
            Cause::Unknown {
                differences: other.count,
            },
            Evidence::value(p),
            Evidence::value(q),
            p,
        );
    }
}

/// The name of the first record that moved, on `side`.
fn first_moved(
    names: &[&[u8]],
    changed: &[(std::ops::Range<usize>, std::ops::Range<usize>)],
    side: Side,
) -> Vec<u8> {
    changed
        .first()
        .map(|(x, y)| if side == Side::A { x.start } else { y.start })
        .and_then(|i| names.get(i))
        .map(|n| n.to_vec())
        .unwrap_or_default()
}

/// The string table holding a symbol table's names.
fn strings_of(table: &str) -> &'static str {
    if table == "section .dynsym" {
        "section .dynstr"
    } else {
        "section .strtab"
    }
}

fn tag_name(tag: i64) -> String {
    match elf::DynamicTag(tag) {
        elf::DT_NEEDED => "DT_NEEDED".to_owned(),
        elf::DT_RPATH => "DT_RPATH".to_owned(),
        elf::DT_RUNPATH => "DT_RUNPATH".to_owned(),
        elf::DT_SONAME => "DT_SONAME".to_owned(),
        _ => format!("tag {tag:#x}"),
    }
}

/// Dynamic entries: strings (NEEDED, RPATH, RUNPATH, SONAME) are roots;
/// other values are addresses and sizes that follow the layout.
pub(super) fn dynamic(cx: &mut Cx<'_>, st: &mut State, a: &Elf<'_>, b: &Elf<'_>) {
    let (da, db) = (&a.dynamic, &b.dynamic);
    let at = a
        .sections
        .iter()
        .find(|s| s.sh_type == elf::SHT_DYNAMIC.0)
        .map(|s| s.offset);
    let label = "section .dynamic".to_owned();
    let needed = |d: &[super::model::Dynamic<'_>]| -> Vec<Vec<u8>> {
        d.iter()
            .filter(|e| e.tag == elf::DT_NEEDED.0)
            .map(|e| e.string.unwrap_or_default().to_vec())
            .collect()
    };
    let (ka, kb) = (needed(da), needed(db));
    if ka != kb {
        let mut sa = ka.clone();
        let mut sb = kb.clone();
        sa.sort();
        sb.sort();
        let cause = if sa == sb {
            st.ordering
                .get_or_insert_with(|| "the DT_NEEDED order change".to_owned());
            Cause::Ordering {
                records: changed_runs(&ka, &kb)
                    .iter()
                    .map(|(x, _)| x.len() as u64)
                    .sum(),
            }
        } else {
            Cause::Unknown { differences: 1 }
        };
        st.root_emitted(&label, 1);
        st.root_emitted("section .dynstr", 1);
        cx.emit(
            Location::Field {
                path: vec![label.clone(), "DT_NEEDED".to_owned()],
                at,
            },
            cause,
            Evidence::value(ka.join(&b' ')),
            Evidence::value(kb.join(&b' ')),
            b"needed",
        );
    }
    if da.len() != db.len() {
        return;
    }
    let mut shifted = 0u64;
    for (x, y) in da.iter().zip(db) {
        if x.tag == y.tag && x.tag == elf::DT_NEEDED.0 {
            continue;
        }
        match (x.string, y.string) {
            (Some(p), Some(q)) if x.tag == y.tag && p != q => {
                let path = vec![label.clone(), tag_name(x.tag)];
                let n = strings::emit_pair(
                    cx,
                    &strings::Place::value(&path, p, q, at),
                    Some(&(0, p)),
                    Some(&(0, q)),
                    None,
                );
                st.root_emitted(&label, n);
                // The strings live in the dynamic string table.
                st.root_emitted("section .dynstr", n);
            }
            _ if x.tag == y.tag && x.val != y.val => shifted += 1,
            _ if x.tag != y.tag => {
                cx.emit(
                    Location::Field {
                        path: vec![label.clone(), "tags".to_owned()],
                        at,
                    },
                    Cause::Unknown { differences: 1 },
                    Evidence::value(tag_name(x.tag)),
                    Evidence::value(tag_name(y.tag)),
                    b"tags",
                );
                return;
            }
            _ => {}
        }
    }
    if shifted > 0 {
        let cause = match st.root() {
            Some(root) if st.layout_changed() => Cause::Consequence {
                of: format!("{root}: {shifted} dynamic entry values are address shifts"),
            },
            _ => Cause::Unknown {
                differences: shifted,
            },
        };
        cx.emit(
            Location::Field {
                path: vec![label, "values".to_owned()],
                at,
            },
            cause,
            Evidence::value(format!("{} entries", da.len())),
            Evidence::value(format!("{} entries", db.len())),
            b"dynamic values",
        );
    }
}

/// Relocation sections whose entries keep their type and symbol name and
/// differ only in offset or addend: offset shifts (section indices).
pub(super) fn relocations(
    st: &State,
    a: &Elf<'_>,
    b: &Elf<'_>,
    pairs: &[(Option<&Section<'_>>, Option<&Section<'_>>)],
) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    if !st.layout_changed() {
        return out;
    }
    // Relocations by section index: one lookup per section pair.
    fn index<'e>(e: &'e Elf<'_>) -> std::collections::BTreeMap<usize, &'e [super::model::Reloc]> {
        e.relocs.iter().map(|(i, r)| (*i, r.as_slice())).collect()
    }
    let (ia, ib) = (index(a), index(b));
    for (sa, sb) in pairs {
        let (Some(sa), Some(sb)) = (sa, sb) else {
            continue;
        };
        let ra = ia.get(&sa.index).copied().unwrap_or_default();
        let rb = ib.get(&sb.index).copied().unwrap_or_default();

        if ra.is_empty() || ra.len() != rb.len() || ra == rb {
            continue;
        }
        let same_targets = ra.iter().zip(rb).all(|(x, y)| {
            x.r_type == y.r_type
                && a.symbol_name(sa.link as usize, x.sym) == b.symbol_name(sb.link as usize, y.sym)
        });
        if same_targets {
            out.insert(sa.index);
        }
    }
    out
}
