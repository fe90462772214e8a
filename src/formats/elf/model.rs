//! One side of an ELF comparison, read through `object`'s low-level ELF
//! reader into plain values that borrow the file: header fields, program
//! headers, sections with their data, symbols, dynamic entries, notes and
//! relocations.
//!
//! `object` checks every offset, size and count against the file before it
//! hands out a slice, so a hostile header cannot make this allocate more
//! than the file's own size in records. Errors name the structure and the
//! offset it was read from.
#![deny(clippy::indexing_slicing)]

use object::read::elf::{
    Dyn as _, FileHeader, ProgramHeader as _, Rel as _, Rela as _, SectionHeader as _, Sym as _,
};
use object::{Endianness, elf};

use crate::formats::bytes::{Bytes, ParseError, Result as ParseResult};

#[derive(Clone, Debug)]
pub(crate) struct Section<'d> {
    pub index: usize,
    pub name: &'d [u8],
    pub sh_type: u32,
    pub flags: u64,
    pub addr: u64,
    pub offset: u64,
    pub size: u64,
    pub align: u64,
    pub entsize: u64,
    pub link: u32,
    pub info: u32,
    /// The bytes in the file (empty for `SHT_NOBITS`).
    pub data: &'d [u8],
}

impl Section<'_> {
    pub fn label(&self) -> String {
        format!("section {}", String::from_utf8_lossy(self.name))
    }

    pub fn is_exec(&self) -> bool {
        self.flags & elf::SHF_EXECINSTR.0 != 0
    }

    pub fn is_debug(&self) -> bool {
        self.name.starts_with(b".debug_") || self.name.starts_with(b".zdebug_")
    }

    pub fn is_compressed(&self) -> bool {
        self.flags & elf::SHF_COMPRESSED.0 != 0 || self.name.starts_with(b".zdebug_")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Symbol<'d> {
    pub name: &'d [u8],
    pub value: u64,
    pub size: u64,
    pub info: u8,
    pub shndx: u16,
}

#[derive(Clone, Debug)]
pub(crate) struct Dynamic<'d> {
    pub tag: i64,
    pub val: u64,
    pub string: Option<&'d [u8]>,
}

#[derive(Clone, Debug)]
pub(crate) struct Note<'d> {
    /// Index into `Elf::sections` of the section holding it.
    pub section: usize,
    pub name: &'d [u8],
    pub n_type: u32,
    pub desc: &'d [u8],
    /// File offset of `desc`.
    pub desc_at: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reloc {
    pub offset: u64,
    pub r_type: u32,
    pub sym: u32,
    pub addend: i64,
}

/// Program header fields, in `readelf -l` order.
pub(crate) type Segment = [(&'static str, u64); 8];

pub(crate) struct Elf<'d> {
    pub data: &'d [u8],
    pub little: bool,
    pub is64: bool,
    /// `(field, value)` for every ELF header field.
    pub header: Vec<(&'static str, u64)>,
    pub segments: Vec<Segment>,
    pub sections: Vec<Section<'d>>,
    pub symtab: Vec<Symbol<'d>>,
    pub dynsym: Vec<Symbol<'d>>,
    pub dynamic: Vec<Dynamic<'d>>,
    pub notes: Vec<Note<'d>>,
    /// Relocations per relocation section (by section index).
    pub relocs: Vec<(usize, Vec<Reloc>)>,
    /// `ET_REL`: a relocatable object, whose DWARF needs its relocations.
    pub relocatable: bool,
}

impl<'d> Elf<'d> {
    pub fn parse(data: &'d [u8]) -> ParseResult<Elf<'d>> {
        match data.get(4) {
            Some(1) => parse_as::<elf::FileHeader32<Endianness>>(data),
            Some(2) => parse_as::<elf::FileHeader64<Endianness>>(data),
            Some(c) => Err(ParseError::new(4, format!("unknown ELF class {c}"))),
            None => Err(ParseError::new(4, "ELF header truncated")),
        }
    }

    pub fn section(&self, index: usize) -> Option<&Section<'d>> {
        self.sections.get(index)
    }

    pub fn symbol_name(&self, table: usize, sym: u32) -> Option<&'d [u8]> {
        let dynamic = self
            .section(table)
            .is_some_and(|s| s.sh_type == elf::SHT_DYNSYM.0);
        let syms = if dynamic { &self.dynsym } else { &self.symtab };
        syms.get(sym as usize).map(|s| s.name)
    }
}

fn parse_as<'d, E: FileHeader<Endian = Endianness>>(data: &'d [u8]) -> ParseResult<Elf<'d>> {
    let h = E::parse(data).map_err(|e| ParseError::new(0, format!("ELF header: {e}")))?;
    let endian = h
        .endian()
        .map_err(|e| ParseError::new(5, format!("ELF header: {e}")))?;
    let ident = h.e_ident();
    let shoff: u64 = h.e_shoff(endian).into();
    let phoff: u64 = h.e_phoff(endian).into();
    let header = vec![
        ("EI_OSABI", u64::from(ident.os_abi.0)),
        ("EI_ABIVERSION", u64::from(ident.abi_version)),
        ("e_type", u64::from(h.e_type(endian).0)),
        ("e_machine", u64::from(h.e_machine(endian).0)),
        ("e_version", u64::from(h.e_version(endian))),
        ("e_entry", h.e_entry(endian).into()),
        ("e_phoff", phoff),
        ("e_shoff", shoff),
        ("e_flags", u64::from(h.e_flags(endian).0)),
        ("e_ehsize", u64::from(h.e_ehsize(endian))),
        ("e_phentsize", u64::from(h.e_phentsize(endian))),
        ("e_phnum", u64::from(h.e_phnum(endian))),
        ("e_shentsize", u64::from(h.e_shentsize(endian))),
        ("e_shnum", u64::from(h.e_shnum(endian))),
        ("e_shstrndx", u64::from(h.e_shstrndx(endian).0)),
    ];
    let phdrs = h
        .program_headers(endian, data)
        .map_err(|e| ParseError::new(phoff, format!("program headers: {e}")))?;
    let segments = phdrs
        .iter()
        .map(|p| {
            [
                ("p_type", u64::from(p.p_type(endian).0)),
                ("p_flags", u64::from(p.p_flags(endian).0)),
                ("p_offset", p.p_offset(endian).into()),
                ("p_vaddr", p.p_vaddr(endian).into()),
                ("p_paddr", p.p_paddr(endian).into()),
                ("p_filesz", p.p_filesz(endian).into()),
                ("p_memsz", p.p_memsz(endian).into()),
                ("p_align", p.p_align(endian).into()),
            ]
        })
        .collect();
    let table = h
        .sections(endian, data)
        .map_err(|e| ParseError::new(shoff, format!("section header table: {e}")))?;
    let mut sections = Vec::new();
    let mut symtab = Vec::new();
    let mut dynsym = Vec::new();
    let mut dynamic = Vec::new();
    let mut notes = Vec::new();
    let mut relocs = Vec::new();
    for (index, s) in table.enumerate() {
        let index = index.0;
        let at: u64 = s.sh_offset(endian).into();
        let name = table.section_name(endian, s).map_err(|e| {
            let entsize = u64::from(h.e_shentsize(endian));
            let header_at = shoff.saturating_add((index as u64).saturating_mul(entsize));
            ParseError::new(header_at, format!("name of section {index}: {e}"))
        })?;
        let shown = String::from_utf8_lossy(name);
        let fail = |what: &str, e: object::read::Error| {
            ParseError::new(at, format!("section {shown} ({what}): {e}"))
        };
        let sh_type = s.sh_type(endian);
        let bytes = if sh_type == elf::SHT_NOBITS {
            &[][..]
        } else {
            s.data(endian, data).map_err(|e| fail("data", e))?
        };
        if sh_type == elf::SHT_SYMTAB || sh_type == elf::SHT_DYNSYM {
            let syms = table
                .symbol_table_by_index(endian, data, object::SectionIndex(index))
                .map_err(|e| fail("symbols", e))?;
            let out = if sh_type == elf::SHT_SYMTAB {
                &mut symtab
            } else {
                &mut dynsym
            };
            for sym in syms.symbols() {
                out.push(Symbol {
                    name: syms
                        .symbol_name(endian, sym)
                        .map_err(|e| fail("symbol name", e))?,
                    value: sym.st_value(endian).into(),
                    size: sym.st_size(endian).into(),
                    info: sym.st_info().0,
                    shndx: sym.st_shndx(endian).0,
                });
            }
        }
        if let Some((entries, link)) = s.dynamic(endian, data).map_err(|e| fail("dynamic", e))? {
            let strings = table
                .strings(endian, data, link)
                .map_err(|e| fail("dynamic strings", e))?;
            for d in entries {
                let tag = d.d_tag(endian).0;
                if tag == 0 {
                    break;
                }
                let val: u64 = d.d_val(endian).into();
                let string = if d.is_string(endian) {
                    usize::try_from(val)
                        .ok()
                        .and_then(|v| u32::try_from(v).ok())
                        .and_then(|v| strings.get(v).ok())
                } else {
                    None
                };
                dynamic.push(Dynamic { tag, val, string });
            }
        }
        if let Some(mut it) = s.notes(endian, data).map_err(|e| fail("notes", e))? {
            while let Some(note) = it.next().map_err(|e| fail("note", e))? {
                let desc = note.desc();
                notes.push(Note {
                    section: index,
                    name: note.name(),
                    n_type: note.n_type(endian).0,
                    desc,
                    desc_at: offset_in(data, desc),
                });
            }
        }
        if let Some((rels, _)) = s.rela(endian, data).map_err(|e| fail("relocations", e))? {
            let list = rels
                .iter()
                .map(|r| Reloc {
                    offset: r.r_offset(endian).into(),
                    r_type: r.r_type(endian, false).0,
                    sym: r.r_sym(endian, false),
                    addend: r.r_addend(endian).into(),
                })
                .collect();
            relocs.push((index, list));
        } else if let Some((rels, _)) = s.rel(endian, data).map_err(|e| fail("relocations", e))? {
            let list = rels
                .iter()
                .map(|r| Reloc {
                    offset: r.r_offset(endian).into(),
                    r_type: r.r_type(endian).0,
                    sym: r.r_sym(endian),
                    addend: 0,
                })
                .collect();
            relocs.push((index, list));
        }
        sections.push(Section {
            index,
            name,
            sh_type: sh_type.0,
            flags: s.sh_flags(endian).0,
            addr: s.sh_addr(endian).into(),
            offset: at,
            size: s.sh_size(endian).into(),
            align: s.sh_addralign(endian).into(),
            entsize: s.sh_entsize(endian).into(),
            link: s.sh_link(endian),
            info: s.sh_info(endian),
            data: bytes,
        });
    }
    Ok(Elf {
        data,
        little: endian == Endianness::Little,
        is64: h.is_type_64(),
        header,
        segments,
        sections,
        symtab,
        dynsym,
        dynamic,
        notes,
        relocs,
        relocatable: h.e_type(endian) == elf::ET_REL,
    })
}

impl Elf<'_> {
    /// The declared inflated size of a compressed section (`SHF_COMPRESSED`
    /// with zlib, or GNU `.zdebug_*`) and where its stream starts in the
    /// section; `None` for a section stored plainly.
    pub fn compressed_size(&self, s: &Section<'_>) -> ParseResult<Option<(u64, usize)>> {
        if !s.is_compressed() {
            return Ok(None);
        }
        let mut r = Bytes::new(s.data);
        let fail = |at: u64, what: String| ParseError::new(s.offset.saturating_add(at), what);
        let bad = |e: ParseError| {
            fail(
                e.at,
                format!(
                    "{} compression header: {}",
                    String::from_utf8_lossy(s.name),
                    e.what
                ),
            )
        };
        let size = if s.name.starts_with(b".zdebug_") {
            if r.take(4).map_err(bad)? != b"ZLIB" {
                return Err(fail(
                    0,
                    "a .zdebug section without its ZLIB magic".to_owned(),
                ));
            }
            r.u64_be().map_err(bad)?
        } else {
            let u32_at = |r: &mut Bytes<'_>| if self.little { r.u32_le() } else { r.u32_be() };
            let ch_type = u32_at(&mut r).map_err(bad)?;
            let size = if self.is64 {
                u32_at(&mut r).map_err(bad)?; // ch_reserved
                let size = if self.little { r.u64_le() } else { r.u64_be() }.map_err(bad)?;
                r.skip(8).map_err(bad)?; // ch_addralign
                size
            } else {
                let size = u64::from(u32_at(&mut r).map_err(bad)?);
                r.skip(4).map_err(bad)?; // ch_addralign
                size
            };
            if ch_type != elf::ELFCOMPRESS_ZLIB.0 {
                return Err(fail(
                    0,
                    format!(
                        "{} is compressed with type {ch_type} (zstd is 2), which twice does not inflate",
                        String::from_utf8_lossy(s.name)
                    ),
                ));
            }
            size
        };
        Ok(Some((size, r.pos())))
    }

    /// Inflate a compressed section whose header declared `size` bytes,
    /// from `start`. The inflater stops one byte past `size`, so a lying
    /// header costs no more than it declared; `inflated` counts what was
    /// produced, also when the result is an error.
    pub fn inflate(
        &self,
        s: &Section<'_>,
        size: u64,
        start: usize,
        inflated: &mut u64,
    ) -> ParseResult<Vec<u8>> {
        use std::io::Read as _;
        let fail = |at: u64, what: String| ParseError::new(s.offset.saturating_add(at), what);
        let mut out = Vec::new();
        let read = flate2::read::ZlibDecoder::new(s.data.get(start..).unwrap_or_default())
            .take(size.saturating_add(1))
            .read_to_end(&mut out);
        *inflated = out.len() as u64;
        read.map_err(|e| {
            fail(
                start as u64,
                format!(
                    "{}: corrupt zlib data ({e})",
                    String::from_utf8_lossy(s.name)
                ),
            )
        })?;
        if out.len() as u64 != size {
            return Err(fail(
                start as u64,
                format!(
                    "{} inflates to {}{} bytes, its header says {size}",
                    String::from_utf8_lossy(s.name),
                    out.len(),
                    if out.len() as u64 > size {
                        " or more"
                    } else {
                        ""
                    }
                ),
            ));
        }
        Ok(out)
    }

    /// The content of a compressed section, inflated; `None` for a section
    /// stored plainly. A declared size over `limit` is refused before
    /// anything is inflated.
    #[cfg(test)]
    pub fn inflated(&self, s: &Section<'_>, limit: u64) -> ParseResult<Option<Vec<u8>>> {
        let Some((size, start)) = self.compressed_size(s)? else {
            return Ok(None);
        };
        if size > limit {
            return Err(ParseError::new(
                s.offset,
                format!(
                    "{} declares {size} bytes inflated, more than max_member_bytes ({limit})",
                    String::from_utf8_lossy(s.name)
                ),
            ));
        }
        self.inflate(s, size, start, &mut 0).map(Some)
    }
}

/// The offset of `part` inside `whole` (which it borrows from).
pub(crate) fn offset_in(whole: &[u8], part: &[u8]) -> u64 {
    (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize) as u64
}
