//! ELF comparator: compares two ELF files by structure and names the field
//! and the cause of each difference.
//!
//! Root differences (a build path in `.rodata` or DWARF, `__DATE__` text, a
//! compiler version in `.comment`, Rust metadata hashes in symbol names) are
//! reported one by one. What follows from them (offsets shifted by a longer
//! string, symbol values and relocation addends that moved, the build-id
//! that hashes everything) is summarised in one `consequence` finding per
//! section instead of thousands of byte findings.
#![deny(clippy::indexing_slicing)]

mod dwarf;
mod headers;
mod model;
mod names;
mod strings;
mod symbols;

use std::collections::{BTreeMap, BTreeSet};

use object::elf;

use super::{Comparator, Cx, Format, binary, changed_runs, or_bytes};
use crate::finding::{Cause, Evidence, Location, Side};
use model::{Elf, Section};

pub(crate) struct ElfComparator;

impl Comparator for ElfComparator {
    fn compare(&self, cx: &mut Cx<'_>, a: &[u8], b: &[u8]) {
        match (Elf::parse(a), Elf::parse(b)) {
            // Bytes no structure covers (padding, gaps between sections,
            // fields not compared) still differ: locate them.
            (Ok(ea), Ok(eb)) => or_bytes(cx, a, b, |cx| compare(cx, &ea, &eb)),
            (Err(e), _) => cx.unparsed(Format::Elf, format!("side A: {e}"), a, b),
            (_, Err(e)) => cx.unparsed(Format::Elf, format!("side B: {e}"), a, b),
        }
    }
}

/// What the comparison of one file pair has learnt so far.
#[derive(Default)]
struct State {
    /// Sections with root findings.
    roots: BTreeSet<String>,
    /// Sections whose size differs.
    resized: BTreeSet<String>,
    /// Some section starts at another file offset or address.
    moved: bool,
    /// The section names or their order differ.
    table_changed: bool,
    /// Strings already reported through a DWARF attribute (A side).
    seen: BTreeSet<Vec<u8>>,
    /// A compiler version or flags change, in words.
    toolchain: Option<String>,
    /// Units, symbols or sections in another order (link order), in words.
    ordering: Option<String>,
}

impl State {
    /// Sections moved or changed size: offsets and addresses elsewhere shift.
    fn layout_changed(&self) -> bool {
        self.moved || !self.resized.is_empty()
    }

    /// The root differences a consequence follows from, in words: a
    /// toolchain change (which may change any byte), else the explained
    /// sections whose size changed (which moves everything after them),
    /// else, when nothing moved, the explained sections. `None` when what
    /// moved the layout is itself unexplained.
    fn root(&self) -> Option<String> {
        if let Some(toolchain) = &self.toolchain {
            return Some(toolchain.clone());
        }
        if let Some(ordering) = self.ordering.as_ref().filter(|_| self.resized.is_empty()) {
            return Some(ordering.clone());
        }
        let explained: BTreeSet<String> = self.resized.intersection(&self.roots).cloned().collect();
        if !explained.is_empty() {
            Some(format!("the {} change", names(&explained)))
        } else if !self.layout_changed() && !self.roots.is_empty() {
            Some(format!("the {} change", names(&self.roots)))
        } else {
            None
        }
    }

    /// A root that may change any byte after it: other compiler flags, or
    /// the same pieces in another order.
    fn reordered_or_rebuilt(&self) -> bool {
        self.toolchain.is_some() || self.ordering.is_some()
    }

    fn root_emitted(&mut self, label: &str, n: u64) {
        if n > 0 {
            self.roots.insert(label.to_owned());
        }
    }
}

/// At most three names, then how many more.
fn names(set: &BTreeSet<String>) -> String {
    let shown: Vec<&str> = set
        .iter()
        .map(|s| s.strip_prefix("section ").unwrap_or(s))
        .take(3)
        .collect();
    let mut out = shown.join(", ");
    if set.len() > 3 {
        out.push_str(&format!(" and {} more", set.len() - 3));
    }
    out
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn lossy(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

/// Pair sections by name and occurrence (a relocatable object may have
/// several `.text` or `.group` sections), then the rest by name with hex
/// runs masked (`.text._ZN…17h<hash>E`, `.gnu.lto_…<random>`), so their
/// contents are compared too.
fn pair_sections<'s, 'd>(
    a: &'s [Section<'d>],
    b: &'s [Section<'d>],
) -> Vec<(Option<&'s Section<'d>>, Option<&'s Section<'d>>)> {
    fn keys(names: &[&[u8]], name: impl Fn(&[u8]) -> Vec<u8>) -> Vec<(Vec<u8>, usize)> {
        let mut count: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
        names
            .iter()
            .map(|x| {
                let k = name(x);
                let n = count.entry(k.clone()).or_insert(0);
                *n += 1;
                (k, *n)
            })
            .collect()
    }
    let mut to_b: Vec<Option<usize>> = vec![None; a.len()];
    let mut used = vec![false; b.len()];
    for masked in [false, true] {
        let name = |n: &[u8]| {
            if masked {
                names::mask_hex(n)
            } else {
                n.to_vec()
            }
        };
        // Only sections still unpaired take part in the second pass.
        let free_a: Vec<(usize, &[u8])> = a
            .iter()
            .zip(&to_b)
            .enumerate()
            .filter(|(_, (_, j))| j.is_none())
            .map(|(i, (s, _))| (i, s.name))
            .collect();
        let free_b: Vec<(usize, &[u8])> = b
            .iter()
            .enumerate()
            .filter(|(j, _)| !used.get(*j).copied().unwrap_or(true))
            .map(|(j, s)| (j, s.name))
            .collect();
        let ka = keys(&free_a.iter().map(|f| f.1).collect::<Vec<_>>(), name);
        let kb = keys(&free_b.iter().map(|f| f.1).collect::<Vec<_>>(), name);
        let index_b: BTreeMap<_, usize> =
            kb.into_iter().zip(free_b.iter().map(|(j, _)| *j)).collect();
        for (k, (i, _)) in ka.iter().zip(&free_a) {
            if let Some(&j) = index_b.get(k)
                && let Some(slot) = to_b.get_mut(*i)
            {
                *slot = Some(j);
                if let Some(u) = used.get_mut(j) {
                    *u = true;
                }
            }
        }
    }
    let mut out: Vec<_> = a
        .iter()
        .zip(&to_b)
        .map(|(x, j)| (Some(x), j.and_then(|j| b.get(j))))
        .collect();
    for (j, u) in used.iter().enumerate() {
        if !u {
            out.push((None, b.get(j)));
        }
    }
    out
}

fn compare(cx: &mut Cx<'_>, a: &Elf<'_>, b: &Elf<'_>) {
    let mut st = State::default();
    let pairs = pair_sections(&a.sections, &b.sections);
    section_table(cx, &mut st, a, b, &pairs);

    // Contents, root causes first; what stays unexplained is summarised
    // once the roots are known.
    let mut residual: Vec<(&Section<'_>, &Section<'_>, bool)> = Vec::new();
    let mut debug = false;
    for (sa, sb) in &pairs {
        let (Some(sa), Some(sb)) = (sa, sb) else {
            continue;
        };
        if sa.data == sb.data {
            continue;
        }
        let label = sa.label();
        let path = vec![label.clone()];
        match elf::SectionType(sa.sh_type) {
            elf::SHT_SYMTAB | elf::SHT_DYNSYM | elf::SHT_STRTAB => {}
            elf::SHT_NOTE | elf::SHT_DYNAMIC | elf::SHT_RELA | elf::SHT_REL => {}
            _ if sa.is_debug() => debug = true,
            _ if sa.is_compressed() => {
                // Only debug sections are inflated (above); other
                // compressed sections are compared as bytes.
                cx.emit(
                    Location::Field {
                        path: vec![label.clone()],
                        at: Some(sa.offset),
                    },
                    Cause::Unparsed {
                        format: Format::Elf,
                        reason: format!(
                            "{label} at offset {:#x} is compressed (SHF_COMPRESSED) and not a \
                             debug section, which twice does not inflate; its bytes are compared",
                            sa.offset
                        ),
                    },
                    Evidence::absent(),
                    Evidence::absent(),
                    sa.name,
                );
                residual.push((sa, sb, false));
            }

            _ if sa.name == b".gnu_debuglink" => headers::debuglink(cx, &mut st, a, b, sa, sb),
            _ if sa.name == b".comment" || (!sa.is_exec() && sa.sh_type == elf::SHT_PROGBITS.0) => {
                let fallback = (sa.name == b".comment").then_some(Cause::Toolchain {
                    part: crate::finding::ToolchainPart::Version,
                    differences: 1,
                });
                let min = if sa.flags & elf::SHF_STRINGS.0 != 0 {
                    1
                } else {
                    4
                };
                let out = strings::compare(
                    cx,
                    &strings::Place::in_file(&path, a.data, b.data, sa.offset, sb.offset),
                    sa.data,
                    sb.data,
                    min,
                    fallback.as_ref(),
                    &BTreeSet::new(),
                );
                st.root_emitted(&label, out.roots);
                if fallback.is_some() && out.roots > 0 {
                    st.toolchain = Some("the compiler version change in .comment".to_owned());
                }
                if out.between {
                    residual.push((sa, sb, false));
                }
            }
            _ => residual.push((sa, sb, false)),
        }
    }
    if debug {
        dwarf::compare(cx, &mut st, a, b, &pairs);
    }
    symbols::dynamic(cx, &mut st, a, b);
    symbols::symbol_tables(cx, &mut st, a, b);
    let shifted = symbols::relocations(&st, a, b, &pairs);
    for (sa, sb) in &pairs {
        let (Some(sa), Some(sb)) = (sa, sb) else {
            continue;
        };
        if sa.data == sb.data {
            continue;
        }
        match elf::SectionType(sa.sh_type) {
            elf::SHT_RELA | elf::SHT_REL => {
                residual.push((sa, sb, shifted.contains(&sa.index)));
            }
            // String tables whose changes no symbol, dynamic entry or
            // section name accounted for.
            elf::SHT_STRTAB if !st.roots.contains(&sa.label()) => {
                residual.push((sa, sb, false));
            }
            _ => {}
        }
    }
    residual.sort_by_key(|(sa, _, _)| sa.index);
    for (sa, sb, verified) in residual {
        summarise(cx, &st, a, b, sa, sb, verified, None);
    }
    headers::other_notes(cx, &mut st, a, b);
    headers::headers(cx, &st, a, b);
    headers::build_id(cx, &st, a, b);
    headers::outside_sections(cx, &st, a, b);
}

/// The section table: names and order, then each pair's header fields.
fn section_table(
    cx: &mut Cx<'_>,
    st: &mut State,
    a: &Elf<'_>,
    b: &Elf<'_>,
    pairs: &[(Option<&Section<'_>>, Option<&Section<'_>>)],
) {
    let na: Vec<&[u8]> = a.sections.iter().map(|s| s.name).collect();
    let nb: Vec<&[u8]> = b.sections.iter().map(|s| s.name).collect();
    if na != nb {
        st.table_changed = true;
        let mut sa = na.clone();
        let mut sb = nb.clone();
        sa.sort_unstable();
        sb.sort_unstable();
        if sa == sb {
            st.ordering = Some("the section order change".to_owned());
            let moved: usize = align(&na, &nb).iter().map(|(x, _)| x.len()).sum();
            cx.emit(
                Location::Field {
                    path: vec!["section table".to_owned()],
                    at: Some(a.header_value("e_shoff")),
                },
                Cause::Ordering {
                    records: moved as u64,
                },
                Evidence::value(join(&na)),
                Evidence::value(join(&nb)),
                b"section order",
            );
        }
    }
    let mut renamed: Vec<(&Section<'_>, &Section<'_>)> = Vec::new();
    let mut only: Vec<(Side, &Section<'_>)> = Vec::new();
    for (sa, sb) in pairs {
        match (sa, sb) {
            (Some(x), Some(y)) => {
                if x.name != y.name {
                    renamed.push((x, y));
                }
                if x.size != y.size {
                    st.resized.insert(x.label());
                }
                if x.offset != y.offset || x.addr != y.addr {
                    st.moved = true;
                }
                for (field, p, q) in [
                    ("sh_type", u64::from(x.sh_type), u64::from(y.sh_type)),
                    ("sh_flags", x.flags, y.flags),
                    ("sh_addralign", x.align, y.align),
                    ("sh_entsize", x.entsize, y.entsize),
                ] {
                    if p != q {
                        cx.emit(
                            Location::Field {
                                path: vec![x.label(), field.to_owned()],
                                at: Some(x.offset),
                            },
                            Cause::Unknown { differences: 1 },
                            Evidence::value(format!("{p:#x}")),
                            Evidence::value(format!("{q:#x}")),
                            field.as_bytes(),
                        );
                    }
                }
            }
            (Some(x), None) => only.push((Side::A, x)),
            (None, Some(y)) => only.push((Side::B, y)),
            (None, None) => {}
        }
    }
    // Sections paired by their masked names: a hash or random value in
    // the name. In a Rust object every such hash follows the crate's
    // metadata; elsewhere it is a per-compilation random value (GCC fat
    // LTO `.gnu.lto_<pass>.<16 hex>`).
    if !renamed.is_empty() {
        st.table_changed = true;
        st.roots.insert("section table".to_owned());
        // The names live in the section name string table.
        st.roots.insert("section .shstrtab".to_owned());
        let rust = renamed
            .iter()
            .any(|(x, y)| names::rust_hash_only(x.name, y.name));
        let n = renamed.len() as u64;
        let cause = if rust {
            Cause::Toolchain {
                part: crate::finding::ToolchainPart::RustMetadataHash,
                differences: n,
            }
        } else {
            Cause::RandomSeed { differences: n }
        };
        let example = renamed
            .iter()
            .find(|(x, y)| !rust || names::rust_hash_only(x.name, y.name))
            .or(renamed.first());
        if let Some(&(x, y)) = example {
            cx.emit(
                Location::Field {
                    path: vec!["section table".to_owned(), "section names".to_owned()],
                    at: Some(x.offset),
                },
                cause,
                Evidence::value(x.name),
                Evidence::value(y.name),
                &names::mask_hex(x.name),
            );
        }
    }
    for (side, s) in only {
        let present = Evidence::value(s.name);
        let (ea, eb) = match side {
            Side::A => (present, Evidence::absent()),
            Side::B => (Evidence::absent(), present),
        };
        cx.emit(
            Location::Field {
                path: vec![s.label()],
                at: Some(s.offset),
            },
            Cause::OnlyIn { side },
            ea,
            eb,
            s.name,
        );
    }
}

/// Above this many records (both sides), sequences of different lengths
/// are not aligned with Myers, whose work grows with the differences.
const ALIGN_LIMIT: usize = 1_000_000;

/// The changed runs between two record sequences: in place when they are
/// equally long (linear, however many differ), aligned when they are short
/// enough, else one run over both.
fn align<T: Eq + std::hash::Hash>(
    a: &[T],
    b: &[T],
) -> Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> {
    if a.len() == b.len() {
        (0..a.len())
            .filter(|&i| a.get(i) != b.get(i))
            .map(|i| (i..i + 1, i..i + 1))
            .collect()
    } else if a.len() + b.len() <= ALIGN_LIMIT {
        changed_runs(a, b)
    } else {
        vec![(0..a.len(), 0..b.len())]
    }
}

fn join(names: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, n) in names.iter().filter(|n| !n.is_empty()).enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(n);
    }
    out
}

impl Elf<'_> {
    fn header_value(&self, field: &str) -> u64 {
        self.header
            .iter()
            .find(|(f, _)| *f == field)
            .map_or(0, |(_, v)| *v)
    }
}

/// Bytes that differ between two slices (same length: position by
/// position; otherwise what lies between the common prefix and suffix).
fn differing_bytes(a: &[u8], b: &[u8]) -> (u64, usize) {
    let (prefix, suffix) = crate::classify::common_ends(a, b);
    if a.len() == b.len() {
        let n = a.iter().zip(b).filter(|(x, y)| x != y).count();
        return (n as u64, prefix);
    }
    let n = a.len().max(b.len()).saturating_sub(prefix + suffix);
    (n as u64, prefix)
}

/// One finding for a section whose differences no root explains inside
/// it: a consequence when the layout moved, unknown otherwise. `verified`:
/// its records were compared and only offsets differ. `inflated`: the
/// contents of a compressed section, compared instead of its bytes.
#[expect(clippy::too_many_arguments, reason = "one section of two files")]
fn summarise(
    cx: &mut Cx<'_>,
    st: &State,
    a: &Elf<'_>,
    b: &Elf<'_>,
    sa: &Section<'_>,
    sb: &Section<'_>,
    verified: bool,
    inflated: Option<(&[u8], &[u8])>,
) {
    let (da, db) = inflated.unwrap_or((sa.data, sb.data));
    let (n, first) = differing_bytes(da, db);
    let label = sa.label();
    let name = lossy(sa.name);
    let limit = cx.limits.evidence_bytes;
    let ev = |file: &[u8], data: &[u8], section_at: u64| {
        let at = section_at as usize + first;
        match inflated {
            // Offsets into the inflated content, which is not in the file.
            Some(_) => Evidence::value(format!(
                "{name} (inflated) differs from offset {first:#x}: {}",
                crate::finding::hex(
                    data.get(first..(first + 16).min(data.len()))
                        .unwrap_or_default()
                )
            )),
            None if at < file.len() => {
                Evidence::of(binary::excerpt(file, at..(at + 1).min(file.len()), limit))
            }
            None => Evidence::value(format!("{name} ends at {at:#x}")),
        }
    };
    let cause = match st.root() {
        // What a compressed section holds is not known unless inflated:
        // then never derived.
        Some(root)
            if (!sa.is_compressed() || inflated.is_some())
                && (st.layout_changed() || verified || st.reordered_or_rebuilt()) =>
        {
            let what = match (verified, n == 1, st.reordered_or_rebuilt()) {
                (true, true, _) => "is an offset shift",
                (true, false, _) => "are offset shifts",
                (false, true, true) => "changes with it (nothing else found there)",
                (false, false, true) => "change with it (nothing else found there)",
                (false, true, false) => "follows the moved layout (nothing else found there)",
                (false, false, false) => "follow the moved layout (nothing else found there)",
            };
            Cause::Consequence {
                of: format!("{root}: {n} differing byte{} in {name} {what}", plural(n)),
            }
        }
        _ => Cause::Unknown {
            differences: regions(da, db),
        },
    };
    cx.emit(
        Location::Field {
            path: vec![label],
            at: Some(sa.offset),
        },
        cause,
        ev(a.data, da, sa.offset),
        ev(b.data, db, sb.offset),
        sa.name,
    );
}

/// Runs of differing bytes (at most one per gap of equal bytes).
fn regions(a: &[u8], b: &[u8]) -> u64 {
    if a.len() != b.len() {
        return 1;
    }
    let mut n = 0;
    let mut inside = false;
    for (x, y) in a.iter().zip(b) {
        if x != y && !inside {
            n += 1;
        }
        inside = x != y;
    }
    n
}

#[cfg(test)]
#[expect(
    clippy::indexing_slicing,
    reason = "tests cut and patch fixtures at known offsets"
)]
mod tests {
    use super::*;
    use crate::finding::Finding;
    use crate::formats::Limits;
    use crate::formats::testing::compare_with;

    /// A fixture made by fixtures/make_elf_fixtures.sh.
    fn fixture(rel: &str) -> Vec<u8> {
        crate::formats::testing::fixture(&format!("elf/{rel}"))
    }

    fn run(a: &[u8], b: &[u8]) -> Vec<Finding> {
        run_with(&Limits::default(), a, b)
    }

    fn run_with(limits: &Limits, a: &[u8], b: &[u8]) -> Vec<Finding> {
        let (findings, omitted) = compare_with(&ElfComparator, "x.o", limits, a, b);
        assert!(!findings.is_empty() || omitted > 0 || a == b);
        findings
    }

    fn unparsed(findings: &[Finding]) -> Option<&str> {
        findings.iter().find_map(|f| match &f.cause {
            Cause::Unparsed { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
    }

    /// Every truncation of a real object file fails to parse with the
    /// offset where it stopped, never a panic; through the comparator that
    /// is an `unparsed` finding followed by the byte comparison (its
    /// findings capped at 8, which keeps the sweep fast in debug builds).
    #[test]
    fn every_truncation_is_unparsed_not_a_panic() {
        let a = fixture("c/a/where.o");
        let b = fixture("c/b/where.o");
        for cut in 0..a.len() {
            match Elf::parse(&a[..cut]) {
                Ok(_) => panic!("cut at {cut} parsed"),
                Err(e) => assert!(e.to_string().contains("offset 0x"), "cut at {cut}: {e}"),
            }
        }
        let limits = Limits {
            max_findings: 8,
            ..Limits::default()
        };
        for cut in 0..a.len() {
            let findings = run_with(&limits, &a[..cut], &b);
            let reason =
                unparsed(&findings).unwrap_or_else(|| panic!("cut at {cut}: {findings:?}"));
            assert!(reason.starts_with("side A: "), "{reason}");
            assert!(reason.contains("offset 0x"), "cut at {cut}: {reason}");
        }
    }

    fn put(data: &mut [u8], at: usize, bytes: &[u8]) {
        data[at..at + bytes.len()].copy_from_slice(bytes);
    }

    /// Hostile headers: counts larger than the file, offsets past its end,
    /// absurd section sizes, overlapping sections.
    #[test]
    fn hostile_headers_are_unparsed_or_compared() {
        let a = fixture("c/a/where.o");
        let shoff = u64::from_le_bytes(a[40..48].try_into().unwrap()) as usize;
        type Corrupt = Box<dyn Fn(&mut Vec<u8>)>;
        let cases: Vec<(&str, Corrupt)> = vec![
            (
                "e_shnum",
                Box::new(|d| put(d, 60, &0xffffu16.to_le_bytes())),
            ),
            ("e_shoff", Box::new(|d| put(d, 40, &u64::MAX.to_le_bytes()))),
            (
                "e_shstrndx",
                Box::new(|d| put(d, 62, &0x7777u16.to_le_bytes())),
            ),
            // Section 1's sh_size (at +32 in its 64-byte header).
            (
                "sh_size",
                Box::new(move |d| put(d, shoff + 64 + 32, &(1u64 << 60).to_le_bytes())),
            ),
            (
                "sh_offset",
                Box::new(move |d| put(d, shoff + 64 + 24, &u64::MAX.to_le_bytes())),
            ),
        ];
        for (what, corrupt) in cases {
            let mut b = a.clone();
            corrupt(&mut b);
            let findings = run(&a, &b);
            let reason = unparsed(&findings).unwrap_or_else(|| panic!("{what}: {findings:?}"));
            assert!(reason.starts_with("side B: "), "{what}: {reason}");
        }
        // Two sections over the same bytes are legal to read: compared.
        let mut b = a.clone();
        let off2 = a[shoff + 128 + 24..shoff + 128 + 32].to_vec();
        put(&mut b, shoff + 192 + 24, &off2);
        let findings = run(&a, &b);
        assert!(unparsed(&findings).is_none(), "{findings:?}");
    }

    /// Flipping any byte of the section header table never panics and is
    /// always found.
    #[test]
    fn flipped_section_headers_never_panic() {
        let a = fixture("c/a/where.o");
        let shoff = u64::from_le_bytes(a[40..48].try_into().unwrap()) as usize;
        for at in (shoff..a.len()).step_by(3) {
            let mut b = a.clone();
            b[at] ^= 0xa5;
            run(&a, &b);
        }
    }

    /// Every byte of the DWARF sections flipped in turn: a DWARF
    /// `unparsed` finding or a located difference, never a panic.
    #[test]
    fn flipped_dwarf_never_panics() {
        let a = fixture("c/a/where.o");
        let elf = Elf::parse(&a).unwrap();
        let ranges: Vec<(usize, usize)> = elf
            .sections
            .iter()
            .filter(|s| s.is_debug())
            .map(|s| (s.offset as usize, s.data.len()))
            .collect();
        let mut unparsed_dwarf = 0;
        for (start, len) in ranges {
            for at in start..start + len {
                let mut b = a.clone();
                b[at] ^= 0xff;
                let findings = run(&a, &b);
                unparsed_dwarf += findings
                    .iter()
                    .filter(
                        |f| matches!(&f.cause, Cause::Unparsed { reason, .. } if reason.starts_with("DWARF")),
                    )
                    .count();
            }
        }
        assert!(unparsed_dwarf > 0);
    }

    /// A byte in the padding between sections is still found, and said to
    /// be outside every section.
    #[test]
    fn padding_between_sections_is_compared() {
        let a = fixture("c/a/where.o");
        let elf = Elf::parse(&a).unwrap();
        let gap = headers::gaps(&elf)
            .into_iter()
            .find(|g| !g.is_empty())
            .expect("a gap");
        let mut b = a.clone();
        b[gap.start as usize] ^= 0x40;
        let findings = run(&a, &b);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(
            findings[0].location,
            Location::Field {
                path: vec!["bytes outside sections".to_owned()],
                at: Some(gap.start)
            }
        );
    }

    /// Compressed debug sections: a header that lies about the size, a
    /// size over the limit, corrupt data or zstd are each said, with the
    /// offset, and the section's bytes are compared instead.
    #[test]
    fn compressed_sections_are_inflated_within_bounds() {
        let a = fixture("gz/a/where.o");
        let elf = Elf::parse(&a).unwrap();
        let s = elf
            .sections
            .iter()
            .find(|s| s.name == b".debug_info")
            .unwrap();
        assert!(s.is_compressed());
        let size = elf.inflated(s, u64::MAX).unwrap().unwrap().len() as u64;
        let at = s.offset as usize;
        // Elf64_Chdr: ch_type, ch_reserved, ch_size (at +8), ch_addralign.
        let reason = |patch: &dyn Fn(&mut Vec<u8>), limit: u64| {
            let mut b = a.clone();
            patch(&mut b);
            let e = Elf::parse(&b).unwrap();
            let s = e
                .sections
                .iter()
                .find(|s| s.name == b".debug_info")
                .unwrap();
            e.inflated(s, limit).unwrap_err().to_string()
        };
        let r = reason(&|b| put(b, at + 8, &(size + 1).to_le_bytes()), u64::MAX);
        assert!(r.contains(&format!("inflates to {size} bytes")), "{r}");
        let r = reason(&|b| put(b, at + 8, &(size - 1).to_le_bytes()), u64::MAX);
        assert!(r.contains("or more"), "{r}");
        let r = reason(&|b| put(b, at + 8, &u64::MAX.to_le_bytes()), 1 << 30);
        assert!(r.contains("more than max_member_bytes"), "{r}");
        let r = reason(&|b| put(b, at, &2u32.to_le_bytes()), u64::MAX);
        assert!(r.contains("zstd"), "{r}");
        let r = reason(&|b| put(b, at + 24, &[0xff, 0xff]), u64::MAX);
        assert!(r.contains("corrupt zlib data"), "{r}");
        assert!(r.contains("at offset 0x"), "{r}");
        // Through the comparator: a limit finding naming its option, then
        // the section compared as bytes.
        let mut b = a.clone();
        put(&mut b, at + 8, &u64::MAX.to_le_bytes());
        let findings = run(&a, &b);
        assert!(
            findings.iter().any(|f| matches!(
                &f.cause,
                Cause::Limit {
                    limit: crate::finding::LimitKind::MemberBytes,
                    ..
                }
            ) && f.cause.to_string().contains("--max-member")),
            "{findings:?}"
        );
    }

    /// `.comment` records the compiler: another version is a toolchain
    /// cause, and what else changed in the file follows from it.
    #[test]
    fn comment_names_the_compiler_version() {
        let a = fixture("c-fixed/a/where.o");
        let needle = b"GCC: (Debian 12.2.0";
        let at = a
            .windows(needle.len())
            .position(|w| w == needle)
            .expect(".comment");
        let mut b = a.clone();
        b[at + needle.len() - 3] = b'3'; // 12.2.0 -> 13.2.0
        let findings = run(&a, &b);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(
            findings[0].cause,
            Cause::Toolchain {
                part: crate::finding::ToolchainPart::Version,
                differences: 1
            }
        );
        assert_eq!(
            findings[0].location.to_string(),
            format!("section .comment at {at:#x}")
        );
    }

    #[test]
    fn build_id_only_when_nothing_else_differs() {
        let a = fixture("build-id/a/prog");
        let b = fixture("build-id/b/prog");
        let findings = run(&a, &b);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].cause, Cause::BuildIdOnly);
        // Another difference makes the build-id a consequence of it.
        let mut c = b.clone();
        let at = a.len() - 200;
        c[at] ^= 1;
        let findings = run(&a, &c);
        assert!(
            findings
                .iter()
                .any(|f| matches!(&f.cause, Cause::Consequence { of } if of.contains("build-id")))
        );
        assert!(!findings.iter().any(|f| f.cause == Cause::BuildIdOnly));
    }
}
