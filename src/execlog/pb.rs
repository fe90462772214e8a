//! The messages of Bazel's `src/main/protobuf/spawn.proto`, decoded from
//! the wire by hand with the field numbers of every released layout:
//! `SpawnExec` (the binary log, Bazel 4 to now: `progress_message = 9` and
//! `walltime = 17` of Bazel 4 included) and `ExecLogEntry` (the compact
//! log): Bazel 7.4+ (`InputSet.input_ids = 5`, `Output.output_id = 5`),
//! 7.1–7.3 (`InputSet.file_ids = 1`, `directory_ids = 2`,
//! `unresolved_symlink_ids = 3`; `Output.file_id = 1`, `directory_id = 2`,
//! `unresolved_symlink_id = 3`) and the experimental 7.0 schema, whose
//! `File` held the hash as a string beside its size. Fields not listed
//! here are counted in the log's notes by message and number.

use super::error::WireProblem;
use super::summary::Notes;
use super::view::{DigestView, FileView, InputsView, OutputRef, OutputsView, SpawnView, Str};
use super::wire::{Expect, Fields, Value, push_u32s, text, wrong};

type R<T> = Result<T, WireProblem>;

fn string<'a>(v: Value<'a>, message: &'static str, field: u32) -> R<Str<'a>> {
    Ok(text(v.bytes(message, field)?))
}

fn unknown(notes: &mut Notes, message: &str, field: u32) {
    notes.unknown(message, &field.to_string());
}

pub(crate) fn digest<'a>(buf: &'a [u8], notes: &mut Notes) -> R<DigestView<'a>> {
    let mut d = DigestView::default();
    for f in Fields::new(buf) {
        match f? {
            (1, v) => d.hash = string(v, "Digest", 1)?,
            (2, v) => d.size = v.uint("Digest", 2)? as i64,
            (3, v) => d.function = string(v, "Digest", 3)?,
            (n, _) => unknown(notes, "Digest", n),
        }
    }
    Ok(d)
}

/// `File.digest`: a `Digest` message, or (Bazel 7.0's experimental compact
/// log) the hex hash itself, its size in another field.
fn file_digest<'a>(b: &'a [u8], notes: &mut Notes) -> R<(DigestView<'a>, bool)> {
    let hex = !b.is_empty() && b.iter().all(u8::is_ascii_hexdigit);
    if hex {
        return Ok((
            DigestView {
                hash: text(b),
                ..DigestView::default()
            },
            true,
        ));
    }
    Ok((digest(b, notes)?, false))
}

pub(crate) fn file<'a>(buf: &'a [u8], notes: &mut Notes) -> R<FileView<'a>> {
    let mut f = FileView::default();
    let mut size_apart = None;
    let mut hex = false;
    for field in Fields::new(buf) {
        match field? {
            (1, v) => f.path = string(v, "File", 1)?,
            (2, v) => {
                let (d, h) = file_digest(v.bytes("File", 2)?, notes)?;
                f.digest = Some(d);
                hex = h;
            }
            (3, Value::Varint(n)) if hex => size_apart = Some(n as i64),
            (3, v) => f.tool = v.uint("File", 3)? != 0,
            (4, v) => f.symlink = string(v, "File", 4)?,
            (n, _) => unknown(notes, "File", n),
        }
    }
    if let (Some(d), Some(size)) = (&mut f.digest, size_apart) {
        d.size = size;
    }
    if hex {
        notes.layout = Some("compact 7.0 (experimental)");
    }
    Ok(f)
}

fn name_value<'a>(
    buf: &'a [u8],
    message: &'static str,
    notes: &mut Notes,
) -> R<(Str<'a>, Str<'a>)> {
    let (mut n, mut x) = (Str::Borrowed(""), Str::Borrowed(""));
    for f in Fields::new(buf) {
        match f? {
            (1, v) => n = string(v, message, 1)?,
            (2, v) => x = string(v, message, 2)?,
            (k, _) => unknown(notes, message, k),
        }
    }
    Ok((n, x))
}

fn platform<'a>(buf: &'a [u8], out: &mut Vec<(Str<'a>, Str<'a>)>, notes: &mut Notes) -> R<()> {
    for f in Fields::new(buf) {
        match f? {
            (1, v) => out.push(name_value(
                v.bytes("Platform", 1)?,
                "Platform.Property",
                notes,
            )?),
            (k, _) => unknown(notes, "Platform", k),
        }
    }
    Ok(())
}

/// One `SpawnExec` (binary log).
pub(crate) fn spawn_exec<'a>(buf: &'a [u8], notes: &mut Notes) -> R<SpawnView<'a>> {
    let mut s = SpawnView::default();
    let (mut inputs, mut listed, mut actual) = (Vec::new(), Vec::new(), Vec::new());
    const M: &str = "SpawnExec";
    for f in Fields::new(buf) {
        match f? {
            (1, v) => s.args.push(string(v, M, 1)?),
            (2, v) => s
                .env
                .push(name_value(v.bytes(M, 2)?, "EnvironmentVariable", notes)?),
            (3, v) => platform(v.bytes(M, 3)?, &mut s.platform, notes)?,
            (4, v) => {
                let f = file(v.bytes(M, 4)?, notes)?;
                if !f.symlink.is_empty() {
                    notes.symlinks_recorded = true;
                }
                inputs.push(f);
            }
            (5, v) => listed.push(string(v, M, 5)?),
            (6, v) => s.remotable = v.uint(M, 6)? != 0,
            (7, v) => s.cacheable = v.uint(M, 7)? != 0,
            (8, v) => s.timeout_millis = v.uint(M, 8)? as i64,
            (9, v) => s.progress = string(v, M, 9)?,
            (10, v) => s.mnemonic = string(v, M, 10)?,
            (11, v) => {
                let f = file(v.bytes(M, 11)?, notes)?;
                if !f.symlink.is_empty() {
                    notes.symlinks_recorded = true;
                }
                actual.push(f);
            }
            (12, v) => s.runner = string(v, M, 12)?,
            (13, v) => s.cache_hit = v.uint(M, 13)? != 0,
            (14, v) => s.status = string(v, M, 14)?,
            (15, v) => s.exit_code = v.uint(M, 15)? as i64 as i32,
            (16, v) => s.remote_cacheable = v.uint(M, 16)? != 0,
            // walltime (Bazel 4), metrics: timings, never compared.
            (17 | 20, v) => {
                v.bytes(M, 17)?;
            }
            (18, v) => s.label = string(v, M, 18)?,
            (19, v) => {
                let d = digest(v.bytes(M, 19)?, notes)?;
                s.digest = (!d.hash.is_empty()).then_some(d);
            }
            (n, _) => unknown(notes, M, n),
        }
    }
    s.inputs = InputsView::Flat(inputs);
    s.outputs = OutputsView::Listed { listed, actual };
    Ok(s)
}

/// One compact-log entry.
#[derive(Debug)]
pub(crate) enum Entry<'a> {
    Invocation {
        hash_function: Str<'a>,
        workspace: Str<'a>,
    },
    File {
        path: Str<'a>,
        digest: Option<DigestView<'a>>,
    },
    Directory {
        path: Str<'a>,
        files: Vec<FileView<'a>>,
    },
    Symlink {
        path: Str<'a>,
        target: Str<'a>,
    },
    InputSet {
        inputs: Vec<u32>,
        sets: Vec<u32>,
    },
    Spawn(Box<SpawnView<'a>>),
    SymlinkAction {
        input: Str<'a>,
        output: Str<'a>,
    },
    SymlinkEntrySet {
        direct: Vec<(Str<'a>, u32)>,
        sets: Vec<u32>,
    },
    Runfiles {
        path: Str<'a>,
        input_set: u32,
        symlinks: u32,
        root_symlinks: u32,
        empty_files: Vec<Str<'a>>,
        repo_mapping: Option<Option<DigestView<'a>>>,
    },
    /// No payload, or one of a type this version does not know.
    Other,
}

/// The id and payload field number of an entry, without decoding it.
pub(crate) fn peek(buf: &[u8]) -> R<(u32, u32)> {
    let (mut id, mut kind) = (0, 0);
    for f in Fields::new(buf) {
        match f? {
            (1, v) => id = v.uint("ExecLogEntry", 1)? as u32,
            (n, Value::Bytes(_)) if (2..=10).contains(&n) => kind = n,
            _ => {}
        }
    }
    Ok((id, kind))
}

/// Decode one `ExecLogEntry`: its id and payload.
pub(crate) fn entry<'a>(buf: &'a [u8], notes: &mut Notes) -> R<(u32, Entry<'a>)> {
    let mut id = 0;
    let mut e = Entry::Other;
    for f in Fields::new(buf) {
        match f? {
            (1, v) => id = v.uint("ExecLogEntry", 1)? as u32,
            (2, v) => e = invocation(v.bytes("ExecLogEntry", 2)?, notes)?,
            (3, v) => {
                let f = file(v.bytes("ExecLogEntry", 3)?, notes)?;
                e = Entry::File {
                    path: f.path,
                    digest: f.digest,
                };
            }
            (4, v) => e = directory(v.bytes("ExecLogEntry", 4)?, notes)?,
            (5, v) => {
                let (path, target) =
                    name_value(v.bytes("ExecLogEntry", 5)?, "UnresolvedSymlink", notes)?;
                e = Entry::Symlink { path, target };
            }
            (6, v) => e = input_set(v.bytes("ExecLogEntry", 6)?, notes)?,
            (7, v) => e = Entry::Spawn(Box::new(spawn(v.bytes("ExecLogEntry", 7)?, notes)?)),
            (8, v) => {
                let mut a = Fields::new(v.bytes("ExecLogEntry", 8)?);
                let (mut input, mut output) = (Str::Borrowed(""), Str::Borrowed(""));
                for f in &mut a {
                    match f? {
                        (1, v) => input = string(v, "SymlinkAction", 1)?,
                        (2, v) => output = string(v, "SymlinkAction", 2)?,
                        (3 | 4, v) => {
                            v.bytes("SymlinkAction", 3)?;
                        }
                        (n, _) => unknown(notes, "SymlinkAction", n),
                    }
                }
                e = Entry::SymlinkAction { input, output };
            }
            (9, v) => e = symlink_entry_set(v.bytes("ExecLogEntry", 9)?, notes)?,
            (10, v) => e = runfiles(v.bytes("ExecLogEntry", 10)?, notes)?,
            (n, _) => {
                unknown(notes, "ExecLogEntry", n);
                e = Entry::Other;
            }
        }
    }
    Ok((id, e))
}

fn invocation<'a>(buf: &'a [u8], notes: &mut Notes) -> R<Entry<'a>> {
    let (mut hash_function, mut workspace) = (Str::Borrowed(""), Str::Borrowed(""));
    for f in Fields::new(buf) {
        match f? {
            (1, v) => hash_function = string(v, "Invocation", 1)?,
            (2, v) => workspace = string(v, "Invocation", 2)?,
            (3, v) => {
                v.uint("Invocation", 3)?;
            }
            (4, v) => {
                v.bytes("Invocation", 4)?;
            }
            (n, _) => unknown(notes, "Invocation", n),
        }
    }
    Ok(Entry::Invocation {
        hash_function,
        workspace,
    })
}

fn directory<'a>(buf: &'a [u8], notes: &mut Notes) -> R<Entry<'a>> {
    let (mut path, mut files) = (Str::Borrowed(""), Vec::new());
    for f in Fields::new(buf) {
        match f? {
            (1, v) => path = string(v, "Directory", 1)?,
            (2, v) => files.push(file(v.bytes("Directory", 2)?, notes)?),
            (n, _) => unknown(notes, "Directory", n),
        }
    }
    Ok(Entry::Directory { path, files })
}

fn input_set<'a>(buf: &'a [u8], notes: &mut Notes) -> R<Entry<'a>> {
    let (mut inputs, mut sets) = (Vec::new(), Vec::new());
    for f in Fields::new(buf) {
        match f? {
            (n @ (1..=3), v) => {
                notes.layout = Some("compact 7.1–7.3");
                push_u32s(v, &mut inputs, "InputSet", n)?;
            }
            (5, v) => {
                notes.layout = Some("compact 7.4+");
                push_u32s(v, &mut inputs, "InputSet", 5)?;
            }
            (4, v) => push_u32s(v, &mut sets, "InputSet", 4)?,
            (n, _) => unknown(notes, "InputSet", n),
        }
    }
    Ok(Entry::InputSet { inputs, sets })
}

fn symlink_entry_set<'a>(buf: &'a [u8], notes: &mut Notes) -> R<Entry<'a>> {
    let (mut direct, mut sets) = (Vec::new(), Vec::new());
    for f in Fields::new(buf) {
        match f? {
            (1, v) => {
                let (mut name, mut id) = (Str::Borrowed(""), 0u32);
                for g in Fields::new(v.bytes("SymlinkEntrySet", 1)?) {
                    match g? {
                        (1, v) => name = string(v, "SymlinkEntrySet.DirectEntriesEntry", 1)?,
                        (2, v) => id = v.uint("SymlinkEntrySet.DirectEntriesEntry", 2)? as u32,
                        (n, _) => unknown(notes, "SymlinkEntrySet.DirectEntriesEntry", n),
                    }
                }
                direct.push((name, id));
            }
            (2, v) => push_u32s(v, &mut sets, "SymlinkEntrySet", 2)?,
            (n, _) => unknown(notes, "SymlinkEntrySet", n),
        }
    }
    Ok(Entry::SymlinkEntrySet { direct, sets })
}

fn runfiles<'a>(buf: &'a [u8], notes: &mut Notes) -> R<Entry<'a>> {
    let mut path = Str::Borrowed("");
    let (mut input_set, mut symlinks, mut root_symlinks) = (0, 0, 0);
    let (mut empty_files, mut repo_mapping) = (Vec::new(), None);
    const M: &str = "RunfilesTree";
    for f in Fields::new(buf) {
        match f? {
            (1, v) => path = string(v, M, 1)?,
            (2, v) => input_set = v.uint(M, 2)? as u32,
            (3, v) => symlinks = v.uint(M, 3)? as u32,
            (4, v) => root_symlinks = v.uint(M, 4)? as u32,
            (5, v) => empty_files.push(string(v, M, 5)?),
            (6, v) => repo_mapping = Some(file(v.bytes(M, 6)?, notes)?.digest),
            // legacy_external_runfiles: what the tree holds is in its parts.
            (7, v) => {
                v.uint(M, 7)?;
            }
            (n, _) => unknown(notes, M, n),
        }
    }
    Ok(Entry::Runfiles {
        path,
        input_set,
        symlinks,
        root_symlinks,
        empty_files,
        repo_mapping,
    })
}

fn output<'a>(buf: &'a [u8], notes: &mut Notes) -> R<Option<OutputRef<'a>>> {
    let mut out = None;
    for f in Fields::new(buf) {
        match f? {
            (n @ (1..=3), v) => {
                notes.layout = Some("compact 7.1–7.3");
                out = Some(OutputRef::Id(v.uint("Output", n)? as u32));
            }
            (5, v) => out = Some(OutputRef::Id(v.uint("Output", 5)? as u32)),
            // invalid_output_path (7.1+) or missing_path (7.0).
            (4, v) => out = Some(OutputRef::Invalid(string(v, "Output", 4)?)),
            (n, v) => {
                unknown(notes, "Output", n);
                if let Value::Bytes(b) = v {
                    out = Some(OutputRef::Invalid(text(b)));
                }
            }
        }
    }
    Ok(out)
}

/// A compact log's `Spawn`.
fn spawn<'a>(buf: &'a [u8], notes: &mut Notes) -> R<SpawnView<'a>> {
    let mut s = SpawnView::default();
    let (mut input_set, mut tool_set, mut outputs) = (0, 0, Vec::new());
    const M: &str = "Spawn";
    for f in Fields::new(buf) {
        match f? {
            (1, v) => s.args.push(string(v, M, 1)?),
            (2, v) => s
                .env
                .push(name_value(v.bytes(M, 2)?, "EnvironmentVariable", notes)?),
            (3, v) => platform(v.bytes(M, 3)?, &mut s.platform, notes)?,
            (4, v) => input_set = v.uint(M, 4)? as u32,
            (5, v) => tool_set = v.uint(M, 5)? as u32,
            (6, v) => outputs.extend(output(v.bytes(M, 6)?, notes)?),
            (7, v) => s.label = string(v, M, 7)?,
            (8, v) => s.mnemonic = string(v, M, 8)?,
            (9, v) => s.exit_code = v.uint(M, 9)? as i64 as i32,
            (10, v) => s.status = string(v, M, 10)?,
            (11, v) => s.runner = string(v, M, 11)?,
            (12, v) => s.cache_hit = v.uint(M, 12)? != 0,
            (13, v) => s.remotable = v.uint(M, 13)? != 0,
            (14, v) => s.cacheable = v.uint(M, 14)? != 0,
            (15, v) => s.remote_cacheable = v.uint(M, 15)? != 0,
            (16, v) => {
                let d = digest(v.bytes(M, 16)?, notes)?;
                s.digest = (!d.hash.is_empty()).then_some(d);
            }
            (17, v) => s.timeout_millis = v.uint(M, 17)? as i64,
            (18, v) => {
                v.bytes(M, 18)?;
            }
            (n, v) => {
                // A wire type that cannot be a field of this message at all.
                if let Value::Fixed32(_) | Value::Fixed64(_) = v {
                    return Err(wrong(M, n, v));
                }
                unknown(notes, M, n);
            }
        }
    }
    s.inputs = InputsView::Sets {
        input_set,
        tool_set,
    };
    s.outputs = OutputsView::Entries(outputs);
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execlog::synth::wire::{bytes, uint};

    #[test]
    fn the_experimental_7_0_file_digest_is_read() {
        // File { path = 1, digest = 2 (hex string), size = 3 }
        let mut f = Vec::new();
        bytes(1, b"a.txt", &mut f);
        bytes(2, b"00ff00ff00ff00ff00ff", &mut f);
        uint(3, 12, &mut f);
        let mut notes = Notes::default();
        let v = file(&f, &mut notes).unwrap();
        let d = v.digest.unwrap();
        assert_eq!((&*d.hash, d.size), ("00ff00ff00ff00ff00ff", 12));
        assert_eq!(notes.layout, Some("compact 7.0 (experimental)"));
    }

    #[test]
    fn fields_of_newer_layouts_are_counted() {
        let mut s = Vec::new();
        bytes(1, b"cc", &mut s);
        uint(40, 1, &mut s);
        let mut notes = Notes::default();
        let v = spawn_exec(&s, &mut notes).unwrap();
        assert_eq!(v.args, ["cc"]);
        assert_eq!(notes.unknown_fields.get("SpawnExec.40"), Some(&1));
    }

    #[test]
    fn a_known_field_of_the_wrong_type_is_an_error() {
        let mut s = Vec::new();
        uint(10, 3, &mut s); // mnemonic as a varint
        assert!(spawn_exec(&s, &mut Notes::default()).is_err());
    }
}
