//! Where in the sources a finding comes from, where that can be known:
//! - a `__DATE__`-style string in an object file: the code that references
//!   it (a relocation) mapped through the DWARF line table (certain);
//! - the same in a linked program, or without debug info: the lines of the
//!   source tree that use the macros (likely);
//! - a generated text file: the line of the script that wrote it which
//!   holds the constant text around the value (likely).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget};

use crate::finding::{Excerpt, Finding, Location, Text, TimestampEncoding};
use crate::report::{Action, Certainty, SourceRef};
use crate::tree::{EntryKind, Tree, walk};
use crate::{finding::Cause, tree::read_file};

/// The most source files the macro scan reads, and their size.
const SCAN_FILES: usize = 20_000;
const SCAN_BYTES: u64 = 4 << 20;

/// Source places per finding, for the findings whose origin can be found.
pub(super) fn locate(
    findings: &[Finding],
    outputs: &Tree,
    build_dir: &Path,
    source: &Path,
    writers: &BTreeMap<Vec<u8>, Vec<Action>>,
) -> BTreeMap<crate::finding::Fingerprint, Vec<SourceRef>> {
    let mut out = BTreeMap::new();
    let mut macros: Option<Vec<SourceRef>> = None;
    for f in findings {
        let found = match (&f.cause, &f.location) {
            (
                Cause::Timestamp {
                    encoding:
                        TimestampEncoding::CDate | TimestampEncoding::CTime | TimestampEncoding::Asctime,
                },
                Location::Field { at: Some(at), .. },
            ) if f.artifact.depth() == 0 => {
                let certain = string_len(f)
                    .and_then(|len| {
                        let path = outputs.file_path(&f.artifact.first().0);
                        let data = read_file(&path, 256 << 20).ok()?;
                        Some(referencing_lines(&data, *at, len, build_dir))
                    })
                    .unwrap_or_default();
                if certain.is_empty() {
                    macros.get_or_insert_with(|| macro_uses(source)).clone()
                } else {
                    certain
                }
            }
            (_, Location::Lines { .. }) => generator_line(f, source, writers).into_iter().collect(),
            _ => Vec::new(),
        };
        if !found.is_empty() {
            out.insert(f.fingerprint, found);
        }
    }
    out
}

/// The length of the string a finding's token or marked bytes cover.
fn string_len(f: &Finding) -> Option<u64> {
    match (&f.a.token, &f.a.excerpt) {
        (Some(t), _) => Some(t.0.len() as u64),
        (None, Excerpt::Bytes { mark, .. }) => Some(mark.len),
        _ => None,
    }
}

/// Relocation offsets of `[at, at + len)` (a file offset) in a relocatable
/// object's code, mapped to source lines through its line table.
fn referencing_lines(data: &[u8], at: u64, len: u64, build_dir: &Path) -> Vec<SourceRef> {
    let Ok(file) = object::File::parse(data) else {
        return Vec::new();
    };
    if file.kind() != object::ObjectKind::Relocatable {
        return Vec::new();
    }
    let Some(target) = file.sections().find(|s| {
        s.file_range()
            .is_some_and(|(start, size)| at >= start && at < start + size)
    }) else {
        return Vec::new();
    };
    let start = target.file_range().map_or(0, |(s, _)| s);
    let (from, to) = enclosing(&file, &target, at - start, len.max(1));
    let code: Vec<_> = file
        .sections()
        .filter(|s| s.kind() == object::SectionKind::Text)
        .collect();
    // With one code section, line-table addresses are offsets into it.
    let [text] = code.as_slice() else {
        return Vec::new();
    };
    let mut offsets = Vec::new();
    for (offset, reloc) in text.relocations() {
        let RelocationTarget::Symbol(index) = reloc.target() else {
            continue;
        };
        let Ok(symbol) = file.symbol_by_index(index) else {
            continue;
        };
        if symbol.section_index() != Some(target.index()) {
            continue;
        }
        // x86-64 PC-relative references carry -4 (the end of the
        // instruction) in the addend.
        let pc_relative = matches!(
            reloc.flags(),
            RelocationFlags::Elf { r_type } if r_type == object::elf::R_X86_64_PC32
                || r_type == object::elf::R_X86_64_PLT32
                || r_type == object::elf::R_X86_64_GOTPCREL
        );
        let value = symbol.address() as i64 + reloc.addend() + if pc_relative { 4 } else { 0 };
        if let Ok(value) = u64::try_from(value)
            && value >= from
            && value < to
        {
            offsets.push(offset);
        }
    }
    let rows = line_rows(&file);
    let mut out: Vec<SourceRef> = offsets
        .iter()
        .filter_map(|&off| {
            rows.iter()
                .filter(|r| r.0 <= off)
                .max_by_key(|r| r.0)
                .map(|r| (r.1.clone(), r.2))
        })
        .map(|(file, line)| {
            let rel = file
                .strip_prefix(build_dir)
                .map_or_else(|_| file.clone(), Path::to_path_buf);
            SourceRef {
                text: Text::new(read_line(&file, line).unwrap_or_default()),
                file: Text::new(rel.as_os_str().as_encoded_bytes()),
                line,
                certainty: Certainty::Certain,
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The object or string holding `[offset, offset + len)` of a section:
/// code references its start (`build_stamp`, not the `__DATE__` inside
/// it). A symbol covering it, else the NUL-terminated string around it.
fn enclosing(
    file: &object::File<'_>,
    section: &object::Section<'_, '_>,
    offset: u64,
    len: u64,
) -> (u64, u64) {
    if let Some(sym) = file.symbols().find(|s| {
        s.section_index() == Some(section.index())
            && s.size() > 0
            && s.address() <= offset
            && offset + len <= s.address() + s.size()
    }) {
        return (sym.address(), sym.address() + sym.size());
    }
    let data = section.data().unwrap_or_default();
    let at = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(data.len());
    let start = data[..at]
        .iter()
        .rposition(|&c| c == 0)
        .map_or(0, |i| i + 1);
    let end = data[at..]
        .iter()
        .position(|&c| c == 0)
        .map_or(data.len(), |i| at + i);
    (start as u64, (end as u64).max(offset + len))
}

#[derive(Clone, Copy, Debug)]
struct Relocations<'a>(&'a object::read::RelocationMap);

impl gimli::Relocate<usize> for Relocations<'_> {
    fn relocate_address(&self, offset: usize, value: u64) -> gimli::Result<u64> {
        Ok(self.0.relocate(offset as u64, value))
    }

    fn relocate_offset(&self, offset: usize, value: usize) -> gimli::Result<usize> {
        <usize as gimli::ReaderOffset>::from_u64(self.0.relocate(offset as u64, value as u64))
    }
}

/// Every row of every line program: (address, file path, line).
fn line_rows(file: &object::File<'_>) -> Vec<(u64, PathBuf, u64)> {
    let endian = if file.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    let empty = object::read::RelocationMap::default();
    let mut sections: BTreeMap<&'static str, (&[u8], object::read::RelocationMap)> =
        BTreeMap::new();
    for id in [
        gimli::SectionId::DebugInfo,
        gimli::SectionId::DebugAbbrev,
        gimli::SectionId::DebugLine,
        gimli::SectionId::DebugLineStr,
        gimli::SectionId::DebugStr,
        gimli::SectionId::DebugStrOffsets,
        gimli::SectionId::DebugAddr,
    ] {
        if let Some(s) = file.section_by_name(id.name()) {
            let data = s.data().unwrap_or_default();
            let map = s.relocation_map().unwrap_or_default();
            sections.insert(id.name(), (data, map));
        }
    }
    let load = |id: gimli::SectionId| -> Result<_, gimli::Error> {
        let (data, map) = sections
            .get(id.name())
            .map_or((&[][..], &empty), |(d, m)| (*d, m));
        Ok(gimli::RelocateReader::new(
            gimli::EndianSlice::new(data, endian),
            Relocations(map),
        ))
    };
    let Ok(dwarf) = gimli::Dwarf::load(load) else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    let mut units = dwarf.units();
    while let Ok(Some(header)) = units.next() {
        let Ok(unit) = dwarf.unit(header) else {
            continue;
        };
        let Some(program) = unit.line_program.clone() else {
            continue;
        };
        let comp_dir = unit
            .comp_dir
            .as_ref()
            .map(|d| PathBuf::from(String::from_utf8_lossy(d.inner().slice()).into_owned()))
            .unwrap_or_default();
        let mut rows_iter = program.rows();
        while let Ok(Some((header, row))) = rows_iter.next_row() {
            let (Some(entry), Some(line)) = (row.file(header), row.line()) else {
                continue;
            };
            let name = |v| {
                dwarf
                    .attr_string(&unit, v)
                    .ok()
                    .map(|s| String::from_utf8_lossy(s.inner().slice()).into_owned())
            };
            let Some(file_name) = name(entry.path_name()) else {
                continue;
            };
            let dir = entry
                .directory(header)
                .and_then(name)
                .map(PathBuf::from)
                .unwrap_or_default();
            rows.push((
                row.address(),
                comp_dir.join(dir).join(file_name),
                line.get(),
            ));
        }
    }
    rows
}

/// Line `n` (1-based) of a file, trimmed.
fn read_line(path: &Path, n: u64) -> Option<Vec<u8>> {
    let data = read_file(path, SCAN_BYTES).ok()?;
    let line = data
        .split(|&c| c == b'\n')
        .nth(usize::try_from(n).ok()?.checked_sub(1)?)?;
    Some(line.trim_ascii().to_vec())
}

/// Lines of the C and C++ sources that use `__DATE__`, `__TIME__` or
/// `__TIMESTAMP__`.
fn macro_uses(source: &Path) -> Vec<SourceRef> {
    const EXTENSIONS: [&str; 10] = ["c", "h", "cc", "cpp", "cxx", "hh", "hpp", "hxx", "m", "mm"];
    let tree = walk(source);
    let mut out = Vec::new();
    let files = tree.entries.iter().filter(|(rel, e)| {
        matches!(e.kind, EntryKind::File { size, .. } if size <= SCAN_BYTES)
            && Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(rel))
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| EXTENSIONS.contains(&x))
    });
    for (rel, _) in files.take(SCAN_FILES) {
        let Ok(data) = fs::read(tree.file_path(rel)) else {
            continue;
        };
        for (i, line) in data.split(|&c| c == b'\n').enumerate() {
            let uses = [&b"__DATE__"[..], b"__TIME__", b"__TIMESTAMP__"]
                .iter()
                .any(|m| line.windows(m.len()).any(|w| w == *m));
            if uses {
                out.push(SourceRef {
                    file: Text::new(rel.clone()),
                    line: i as u64 + 1,
                    certainty: Certainty::Likely,
                    text: Text::new(line.trim_ascii().to_vec()),
                });
            }
        }
    }
    out
}

/// For a difference in a generated text file: the line of the script that
/// wrote it holding the constant text before the value (`BUILD_TIME = `).
fn generator_line(
    f: &Finding,
    source: &Path,
    writers: &BTreeMap<Vec<u8>, Vec<Action>>,
) -> Option<SourceRef> {
    let Excerpt::Lines { lines, .. } = &f.a.excerpt else {
        return None;
    };
    let token = &f.a.token.as_ref()?.0;
    let line = lines
        .iter()
        .find(|l| l.0.windows(token.len()).any(|w| w == token.as_slice()))?;
    let at = line
        .0
        .windows(token.len())
        .position(|w| w == token.as_slice())?;
    // The identifier-like text before the value: `BUILD_TIME`.
    let key: Vec<u8> = line.0[..at]
        .split(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
        .rfind(|w| w.len() >= 3)?
        .to_vec();
    let actions = writers.get(&f.artifact.first().0)?;
    for action in actions {
        for script in scripts(action) {
            let path = source.join(&script);
            let Ok(data) = read_file(&path, SCAN_BYTES) else {
                continue;
            };
            if let Some((i, l)) = data
                .split(|&c| c == b'\n')
                .enumerate()
                .find(|(_, l)| l.windows(key.len()).any(|w| w == key.as_slice()))
            {
                return Some(SourceRef {
                    file: Text::new(script.as_os_str().as_encoded_bytes()),
                    line: i as u64 + 1,
                    certainty: Certainty::Likely,
                    text: Text::new(l.trim_ascii().to_vec()),
                });
            }
        }
    }
    None
}

/// Script paths an action runs (relative to the source tree): arguments,
/// and words of `sh -c` strings, that name a script file.
fn scripts(action: &Action) -> Vec<PathBuf> {
    const SCRIPT: [&str; 6] = ["py", "sh", "pl", "rb", "js", "tcl"];
    let cwd = PathBuf::from(action.cwd.lossy().into_owned());
    action
        .argv
        .iter()
        .flat_map(|a| {
            a.lossy()
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .map(PathBuf::from)
        .filter(|p| {
            p.is_relative()
                && p.extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| SCRIPT.contains(&x))
        })
        .map(|p| {
            if cwd == Path::new(".") {
                p
            } else {
                cwd.join(p)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(rel: &str) -> Vec<u8> {
        fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("fixtures")
                .join(rel),
        )
        .unwrap()
    }

    /// `__DATE__` in an object file: the relocation in `main` that
    /// references the string, through the line table, is the `printf` line
    /// of hello.c (fixtures/make_fixtures.sh built it in its own directory).
    #[test]
    fn a_date_string_in_an_object_maps_to_the_line_that_uses_it() {
        let data = fixture("diff-demo/a/hello.o");
        let needle = b"hello built ";
        let at = data
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("the stamp string") as u64;
        let refs = referencing_lines(&data, at + 12, 11, Path::new("/nonexistent"));
        assert_eq!(refs.len(), 1, "{refs:?}");
        let r = &refs[0];
        assert!(r.file.lossy().ends_with("/hello.c"), "{r:?}");
        assert_eq!(r.line, 10);
        assert_eq!(r.certainty, Certainty::Certain);
        // A linked program has no relocations left: nothing certain.
        let prog = fixture("elf/c/a/prog");
        assert!(referencing_lines(&prog, 0x2000, 11, Path::new("/")).is_empty());
    }

    #[test]
    fn macro_uses_are_found_in_the_sources() {
        let refs = macro_uses(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo"));
        assert_eq!(refs.len(), 1, "{refs:?}");
        assert_eq!(refs[0].file.lossy(), "src/hello.c");
        assert_eq!(refs[0].line, 4);
    }
}
