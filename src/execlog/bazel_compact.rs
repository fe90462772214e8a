//! Bazel's `--execution_log_compact_file` (7.0 experimental, 7.1–7.3,
//! 7.4+): a zstd stream of varint length-delimited `ExecLogEntry`
//! messages. Files, directories, symlinks and input sets come first and are
//! referred to by id; a spawn's inputs are an input set, a DAG of sets.
//!
//! The DAG is never flattened in the first pass: each set's digest is the
//! sum of its members' (`hash.rs`), computed once when the set is defined,
//! so time and memory grow with the log's entries, not with entries ×
//! spawns. The second pass decodes only the entries that the actions which
//! differ refer to (`mark`), skipping the rest undecoded.

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use ruzstd::decoding::{FrameDecoder, StreamingDecoder};

use super::bazel_binary::{Framing, read_varint};
use super::error::{ExeclogError, ExeclogErrorKind, LogFormat, Stream};
use super::hash::{DIR, MISSING, mix};
use super::pb::{self, Entry};
use super::summary::{
    ActSum, LogSummary, Notes, Prod, bazel_key, command_hash, file_term, flag, flags_of, path_hash,
};
use super::view::{OutputRef, SpawnView, file_fp, output_rank, symlink_fp};

/// The largest single entry accepted (a spawn with a huge command line is a
/// few MiB; a corrupt length prefix is usually far larger).
pub(crate) const MAX_ENTRY: u64 = 256 << 20;

/// The decompressed size allowed for a compressed log of `compressed`
/// bytes when none is given: 4 GiB, or 256 times the compressed size.
pub(crate) fn default_limit(compressed: u64) -> u64 {
    (4u64 << 30).max(compressed.saturating_mul(256))
}

/// A reader that counts the bytes taken from it, in a counter that outlives
/// it (the zstd decoder takes the reader and drops it on a bad frame).
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.count.set(self.count.get() + amt as u64);
        self.inner.consume(amt);
    }
}

/// Decompresses one zstd frame after another until the input ends.
struct Frames<R: BufRead> {
    source: Option<Counting<R>>,
    decoder: Option<StreamingDecoder<Counting<R>, FrameDecoder>>,
    spare: Option<FrameDecoder>,
    consumed: Rc<Cell<u64>>,
}

impl<R: BufRead> Frames<R> {
    /// Whether every compressed byte has been taken: a decoding error there
    /// means the file was cut short.
    fn at_end(&mut self) -> bool {
        let source = match (&mut self.decoder, &mut self.source) {
            (Some(d), _) => d.get_mut(),
            (None, Some(s)) => s,
            (None, None) => return true,
        };
        source.fill_buf().is_ok_and(<[u8]>::is_empty)
    }
}

impl<R: BufRead> Read for Frames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(d) = &mut self.decoder {
                let n = d.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                let d = self.decoder.take().expect("checked above");
                let (source, frame) = d.into_parts();
                self.source = Some(source);
                self.spare = Some(frame);
            }
            let Some(mut source) = self.source.take() else {
                return Ok(0);
            };
            if source.fill_buf()?.is_empty() {
                self.source = Some(source);
                return Ok(0);
            }
            let frame = self.spare.take().unwrap_or_default();
            self.decoder =
                Some(StreamingDecoder::new_with_decoder(source, frame).map_err(io::Error::other)?);
        }
    }
}

fn corrupt(path: &Path, stream: Stream, offset: u64, kind: ExeclogErrorKind) -> ExeclogError {
    ExeclogError::Corrupt {
        path: path.to_path_buf(),
        format: LogFormat::BazelCompact,
        stream,
        offset,
        kind,
    }
}

/// Call `f` with each entry's decompressed offset and bytes. Refuses an
/// entry of length 0 (a compact log never has one: a log of zeros is not
/// an empty log) and a stream that decompresses to more than `limit`.
/// Returns the decompressed size.
fn each_entry(
    path: &Path,
    file: impl BufRead,
    limit: u64,
    mut f: impl FnMut(u64, &[u8]) -> Result<(), ExeclogErrorKind>,
) -> Result<u64, ExeclogError> {
    let consumed = Rc::new(Cell::new(0));
    let mut frames = Frames {
        source: Some(Counting {
            inner: file,
            count: Rc::clone(&consumed),
        }),
        decoder: None,
        spare: None,
        consumed,
    };
    let mut decoded = BufReader::with_capacity(64 << 10, &mut frames);
    let mut at = 0u64;
    let mut buf = Vec::new();
    let zstd = |e: io::Error, decoded: &mut BufReader<&mut Frames<_>>| {
        let frames = decoded.get_mut();
        let kind = if e.kind() == io::ErrorKind::UnexpectedEof || frames.at_end() {
            ExeclogErrorKind::Truncated
        } else {
            ExeclogErrorKind::Zstd(e)
        };
        corrupt(path, Stream::Compressed, frames.consumed.get(), kind)
    };
    loop {
        let start = at;
        let len = match read_varint(&mut decoded) {
            Ok(None) => return Ok(at),
            Ok(Some((len, used))) => {
                at += used;
                len
            }
            Err(Framing::Io(e)) => return Err(zstd(e, &mut decoded)),
            Err(Framing::Eof) => {
                return Err(corrupt(
                    path,
                    Stream::Decompressed,
                    start,
                    ExeclogErrorKind::Truncated,
                ));
            }
            Err(Framing::Bad) => {
                return Err(corrupt(
                    path,
                    Stream::Decompressed,
                    start,
                    ExeclogErrorKind::BadVarint,
                ));
            }
        };
        if len == 0 {
            return Err(corrupt(
                path,
                Stream::Decompressed,
                start,
                ExeclogErrorKind::EmptyEntry,
            ));
        }
        if len > MAX_ENTRY {
            let kind = ExeclogErrorKind::RecordTooLarge {
                len,
                max: MAX_ENTRY,
            };
            return Err(corrupt(path, Stream::Decompressed, start, kind));
        }
        if at + len > limit {
            let kind = ExeclogErrorKind::DecompressedTooLarge { max: limit };
            return Err(corrupt(path, Stream::Decompressed, start, kind));
        }
        buf.clear();
        let got = (&mut decoded)
            .take(len)
            .read_to_end(&mut buf)
            .map_err(|e| zstd(e, &mut decoded))?;
        if (got as u64) < len {
            return Err(corrupt(
                path,
                Stream::Decompressed,
                start,
                ExeclogErrorKind::Truncated,
            ));
        }
        let body = at;
        at += len;
        f(body, &buf).map_err(|kind| corrupt(path, Stream::Decompressed, body, kind))?;
    }
}

/// Kinds of DAG nodes; bit 4 holds the output rank of a leaf's path.
mod kind {
    pub(super) const FILE: u8 = 1;
    pub(super) const DIR: u8 = 2;
    pub(super) const SYMLINK: u8 = 3;
    pub(super) const SET: u8 = 4;
    pub(super) const RUNFILES: u8 = 5;
    pub(super) const SYMLINK_SET: u8 = 6;
    pub(super) const RANKED: u8 = 0x10;
}

/// What the first pass keeps of an entry: 17 bytes (with its kind, kept
/// apart). Leaves: `a` is the path
/// hash, `b` the content (file or symlink fingerprint; for a directory, the
/// sum of its files' terms). Sets, runfiles trees and symlink sets: `a` is
/// their digest, `b` the range of their children in `Dag::children`.
#[derive(Clone, Copy, Debug, Default)]
struct Node {
    a: u64,
    b: u64,
}

fn range(start: usize, len: usize) -> u64 {
    (start as u64) << 32 | len as u64
}

/// Entries by id. Bazel numbers entries 1, 2, 3, …, so vectors indexed by
/// id hold them without a hash table; ids far beyond them (allowed, if
/// unusual) go to a map.
#[derive(Default)]
pub(crate) struct Dag {
    kinds: Vec<u8>,
    nodes: Vec<Node>,
    far: rustc_hash::FxHashMap<u32, (u8, Node)>,
    children: Vec<u32>,
    /// Per spawn, in log order: input set, tool set, output count, output
    /// ids.
    refs: Vec<u32>,
}

impl Dag {
    pub(crate) fn sizes(&self) -> (usize, usize, usize, usize, usize) {
        (
            self.kinds.len(),
            self.far.len(),
            self.children.len(),
            0,
            self.refs.len(),
        )
    }
    /// How far past the end an id may be to still extend the vectors.
    const GAP: usize = 1 << 16;

    fn get(&self, id: u32) -> Option<(u8, Node)> {
        match self.kinds.get(id as usize) {
            Some(&k) if k != 0 => Some((k, self.nodes[id as usize])),
            _ => self.far.get(&id).copied(),
        }
    }

    fn insert(&mut self, id: u32, k: u8, n: Node) {
        let i = id as usize;
        if i < self.kinds.len() {
            self.kinds[i] = k;
            self.nodes[i] = n;
        } else if i < self.kinds.len() + Self::GAP {
            self.kinds.resize(i + 1, 0);
            self.nodes.resize(i + 1, Node::default());
            self.kinds[i] = k;
            self.nodes[i] = n;
        } else {
            self.far.insert(id, (k, n));
        }
    }

    fn children(&self, n: Node) -> &[u32] {
        let (start, len) = ((n.b >> 32) as usize, (n.b & 0xffff_ffff) as usize);
        self.children.get(start..start + len).unwrap_or(&[])
    }

    fn need(&self, id: u32, of: u32) -> Result<(u8, Node), ExeclogErrorKind> {
        self.get(id).ok_or(ExeclogErrorKind::DanglingId {
            id: of,
            missing: id,
        })
    }

    /// What a member contributes to a set's digest.
    fn contribution(&self, id: u32, of: u32) -> Result<u64, ExeclogErrorKind> {
        let (k, n) = self.need(id, of)?;
        Ok(match k & 0xf {
            kind::FILE | kind::SYMLINK => file_term(n.a, n.b),
            kind::DIR => n.b,
            _ => n.a,
        })
    }

    /// The content a symlink entry points at.
    fn target(&self, id: u32, of: u32) -> Result<u64, ExeclogErrorKind> {
        let (k, n) = self.need(id, of)?;
        Ok(if k & 0xf == kind::SET { n.a } else { n.b })
    }
}

/// The first pass: summarise every spawn, keep the DAG for marking.
pub(crate) fn summarize(
    path: &Path,
    file: impl BufRead,
    limit: u64,
) -> Result<(LogSummary, Dag), ExeclogError> {
    let mut s = LogSummary::default();
    let mut dag = Dag::default();
    let decompressed = each_entry(path, file, limit, |_, buf| {
        let (id, e) =
            pb::entry(buf, &mut s.notes).map_err(|what| ExeclogErrorKind::Protobuf { what })?;
        summarize_entry(&mut s, &mut dag, id, e)
    })?;
    s.notes.decompressed = decompressed;
    s.notes.symlinks_recorded = true;
    s.finish();
    dag.children.shrink_to_fit();
    Ok((s, dag))
}

fn summarize_entry(
    s: &mut LogSummary,
    dag: &mut Dag,
    id: u32,
    e: Entry<'_>,
) -> Result<(), ExeclogErrorKind> {
    let rank = |p: &str| if output_rank(p) > 0 { kind::RANKED } else { 0 };
    let (k, node) = match e {
        Entry::Invocation {
            hash_function,
            workspace,
        } => {
            s.notes.saw_function(&hash_function);
            s.notes.workspace = workspace.into_owned();
            return Ok(());
        }
        Entry::File { path, digest } => (
            kind::FILE | rank(&path),
            Node {
                a: path_hash(&path),
                b: file_fp(digest.as_ref()),
            },
        ),
        Entry::Directory { path, files } => {
            let mut sum = 0u64;
            let mut full = String::with_capacity(path.len() + 32);
            for f in &files {
                full.clear();
                full.push_str(&path);
                full.push('/');
                full.push_str(&f.path);
                sum = sum.wrapping_add(file_term(path_hash(&full), file_fp(f.digest.as_ref())));
            }
            (
                kind::DIR | rank(&path),
                Node {
                    a: path_hash(&path),
                    b: sum,
                },
            )
        }
        Entry::Symlink { path, target } => (
            kind::SYMLINK | rank(&path),
            Node {
                a: path_hash(&path),
                b: symlink_fp(&target, s.notes.function()),
            },
        ),
        Entry::InputSet { inputs, sets } => {
            let mut sum = 0u64;
            for &i in &inputs {
                sum = sum.wrapping_add(dag.contribution(i, id)?);
            }
            for &t in &sets {
                sum = sum.wrapping_add(dag.contribution(t, id)?);
            }
            let start = dag.children.len();
            dag.children.extend_from_slice(&inputs);
            dag.children.extend_from_slice(&sets);
            (
                kind::SET,
                Node {
                    a: sum,
                    b: range(start, inputs.len() + sets.len()),
                },
            )
        }
        Entry::SymlinkEntrySet { direct, sets } => {
            let mut sum = 0u64;
            let start = dag.children.len();
            for (name, target) in &direct {
                sum = sum.wrapping_add(file_term(path_hash(name), dag.target(*target, id)?));
                dag.children.push(*target);
            }
            for &t in &sets {
                sum = sum.wrapping_add(dag.contribution(t, id)?);
                dag.children.push(t);
            }
            (
                kind::SYMLINK_SET,
                Node {
                    a: sum,
                    b: range(start, dag.children.len() - start),
                },
            )
        }
        Entry::Runfiles {
            input_set,
            symlinks,
            root_symlinks,
            empty_files,
            repo_mapping,
            ..
        } => {
            let part = |dag: &Dag, set: u32| {
                if set == 0 {
                    Ok(0)
                } else {
                    dag.contribution(set, id)
                }
            };
            let mut sum = part(dag, input_set)?;
            sum = sum.wrapping_add(mix(1, part(dag, symlinks)?));
            sum = sum.wrapping_add(mix(2, part(dag, root_symlinks)?));
            for f in &empty_files {
                sum = sum.wrapping_add(mix(3, path_hash(f)));
            }
            if let Some(d) = &repo_mapping {
                sum = sum.wrapping_add(mix(4, file_fp(d.as_ref())));
            }
            let start = dag.children.len();
            dag.children.extend(
                [input_set, symlinks, root_symlinks]
                    .into_iter()
                    .filter(|&x| x != 0),
            );
            (
                kind::RUNFILES,
                Node {
                    a: sum,
                    b: range(start, dag.children.len() - start),
                },
            )
        }
        Entry::SymlinkAction { input, output } => {
            s.aliases.push((path_hash(&output), path_hash(&input)));
            return Ok(());
        }
        Entry::Spawn(v) => return summarize_spawn(s, dag, id, &v),
        Entry::Other => return Ok(()),
    };
    if id != 0 {
        dag.insert(id, k, node);
    }
    Ok(())
}

fn summarize_spawn(
    s: &mut LogSummary,
    dag: &mut Dag,
    id: u32,
    v: &SpawnView<'_>,
) -> Result<(), ExeclogErrorKind> {
    let action = s.actions.len() as u32;
    let super::view::InputsView::Sets {
        input_set,
        tool_set,
    } = v.inputs
    else {
        return Ok(());
    };
    let inputs = if input_set == 0 {
        0
    } else {
        dag.contribution(input_set, id)?
    };
    if tool_set != 0 {
        dag.need(tool_set, id)?;
    }
    let mut outputs = 0u64;
    let mut key: Option<u64> = None;
    let mut unproduced = false;
    let mut ids = Vec::new();
    let super::view::OutputsView::Entries(outs) = &v.outputs else {
        return Ok(());
    };
    for o in outs {
        let (path, rank, term) = match o {
            OutputRef::Id(out) => {
                let (k, n) = dag.need(*out, id)?;
                ids.push(*out);
                let term = match k & 0xf {
                    kind::FILE | kind::SYMLINK => file_term(n.a, n.b),
                    kind::DIR => file_term(n.a, DIR).wrapping_add(n.b),
                    // A set or tree named as an output: what it is made of.
                    _ => n.a,
                };
                (n.a, u64::from(k & kind::RANKED != 0), term)
            }
            OutputRef::Invalid(p) => {
                unproduced = true;
                let h = path_hash(p);
                (h, u64::from(output_rank(p)), file_term(h, MISSING))
            }
        };
        s.producers.push(Prod::new(path, action));
        let ranked = path >> 1 | rank << 63;
        key = Some(key.map_or(ranked, |k| k.min(ranked)));
        outputs = outputs.wrapping_add(term);
    }
    let mut flags = flags_of(v);
    if unproduced {
        flags |= flag::UNPRODUCED;
    }
    let no_inputs = input_set == 0
        || matches!(dag.get(input_set), Some((k, n)) if k & 0xf == kind::SET && dag.children(n).is_empty());
    if no_inputs && outs.is_empty() {
        flags |= flag::NO_IO;
    }
    s.actions.push(ActSum::new(
        bazel_key(v, key),
        mix(mix(command_hash(v), inputs), outputs ^ 0x6f75_7470),
        flags,
    ));
    dag.refs.extend([input_set, tool_set, ids.len() as u32]);
    dag.refs.extend(ids);
    Ok(())
}

/// Entry ids the second pass decodes: a bit per id up to the ids the log
/// numbered densely, a set beyond.
#[derive(Default)]
pub(crate) struct Marks {
    dense: Vec<u64>,
    far: rustc_hash::FxHashSet<u32>,
}

impl Marks {
    fn with_ids(dense: usize) -> Marks {
        Marks {
            dense: vec![0; dense.div_ceil(64)],
            far: rustc_hash::FxHashSet::default(),
        }
    }

    /// Mark `id`; true the first time.
    fn mark(&mut self, id: u32) -> bool {
        let (w, bit) = (id as usize / 64, 1u64 << (id % 64));
        match self.dense.get_mut(w) {
            Some(word) => {
                let fresh = *word & bit == 0;
                *word |= bit;
                fresh
            }
            None => self.far.insert(id),
        }
    }

    pub(crate) fn has(&self, id: u32) -> bool {
        match self.dense.get(id as usize / 64) {
            Some(w) => w & 1u64 << (id % 64) != 0,
            None => self.far.contains(&id),
        }
    }
}

/// What the second pass needs of a spawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Need {
    Nothing,
    /// Its name: label, mnemonic, outputs.
    Name,
    /// Everything, inputs included.
    Full,
}

impl Dag {
    /// Mark what the spawns needed refer to; the DAG is dropped after.
    pub(crate) fn mark(&self, need: impl Fn(u32) -> Need) -> Marks {
        let mut marks = Marks::with_ids(self.kinds.len());
        let mut stack = Vec::new();
        let mut at = 0usize;
        let mut i = 0u32;
        while let Some(&[input_set, tool_set, count]) = self
            .refs
            .get(at..at + 3)
            .map(|r| <&[u32; 3]>::try_from(r).expect("three"))
        {
            let outputs = self
                .refs
                .get(at + 3..at + 3 + count as usize)
                .unwrap_or(&[]);
            at += 3 + count as usize;
            let n = need(i);
            i += 1;
            if n == Need::Nothing {
                continue;
            }
            stack.extend_from_slice(outputs);
            if n == Need::Full {
                stack.extend([input_set, tool_set].into_iter().filter(|&x| x != 0));
            }
            while let Some(id) = stack.pop() {
                if !marks.mark(id) {
                    continue;
                }
                if let Some((k, node)) = self.get(id)
                    && matches!(k & 0xf, kind::SET | kind::RUNFILES | kind::SYMLINK_SET)
                {
                    stack.extend_from_slice(self.children(node));
                }
            }
        }
        marks
    }
}

/// The second pass: decode the marked entries and the needed spawns.
pub(crate) fn details(
    path: &Path,
    file: impl BufRead,
    limit: u64,
    marks: &Marks,
    need: impl Fn(u32) -> Need,
    mut entry: impl FnMut(u32, Entry<'_>, &mut Notes),
    mut spawn: impl FnMut(u32, &SpawnView<'_>, &mut Notes),
) -> Result<(), ExeclogError> {
    let mut notes = Notes::default();
    let mut ordinal = 0u32;
    each_entry(path, file, limit, |_, buf| {
        let wire = |what| ExeclogErrorKind::Protobuf { what };
        let (id, k) = pb::peek(buf).map_err(wire)?;
        let wanted = match k {
            7 => {
                ordinal += 1;
                need(ordinal - 1) != Need::Nothing
            }
            2 => true,
            _ => id != 0 && marks.has(id),
        };
        if !wanted {
            return Ok(());
        }
        match pb::entry(buf, &mut notes).map_err(wire)? {
            (_, Entry::Spawn(v)) => spawn(ordinal - 1, &v, &mut notes),
            (id, e) => entry(id, e, &mut notes),
        }
        Ok(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execlog::synth::wire::{bytes, entry, file, log, uint, varint};
    use ruzstd::encoding::{CompressionLevel, compress_to_vec};

    fn delimited(msg: &[u8], out: &mut Vec<u8>) {
        varint(msg.len() as u64, out);
        out.extend_from_slice(msg);
    }

    fn summarize_bytes(z: &[u8]) -> Result<LogSummary, ExeclogError> {
        summarize(Path::new("log"), z, u64::MAX).map(|x| x.0)
    }

    /// A spawn reading set `set`, writing `out`.
    fn spawn(set: u32, out: u32) -> Vec<u8> {
        let mut s = Vec::new();
        bytes(1, b"cc", &mut s);
        uint(4, u64::from(set), &mut s);
        let mut o = Vec::new();
        uint(5, u64::from(out), &mut o);
        bytes(6, &o, &mut s);
        bytes(8, b"CppCompile", &mut s);
        s
    }

    #[test]
    fn the_7_1_and_7_4_layouts_give_the_same_digests() {
        let mut set71 = Vec::new();
        uint(1, 1, &mut set71); // file_ids
        let mut set74 = Vec::new();
        uint(5, 1, &mut set74); // input_ids
        let a = log(&[
            entry(1, 3, &file("a.c", "aa00aa00aa00aa00aa")),
            entry(2, 3, &file("a.o", "bb00bb00bb00bb00bb")),
            entry(3, 6, &set71),
            entry(4, 7, &spawn(3, 2)),
        ]);
        let b = log(&[
            entry(1, 3, &file("a.c", "aa00aa00aa00aa00aa")),
            entry(2, 3, &file("a.o", "bb00bb00bb00bb00bb")),
            entry(3, 6, &set74),
            entry(0, 7, &spawn(3, 2)),
        ]);
        let (sa, sb) = (summarize_bytes(&a).unwrap(), summarize_bytes(&b).unwrap());
        assert_eq!(sa.actions, sb.actions);
        assert_eq!(sa.notes.layout, Some("compact 7.1–7.3"));
        assert_eq!(sb.notes.layout, Some("compact 7.4+"));
        // Inputs count: without the set the digest changes.
        let c = log(&[
            entry(1, 3, &file("a.c", "aa00aa00aa00aa00aa")),
            entry(2, 3, &file("a.o", "bb00bb00bb00bb00bb")),
            entry(0, 7, &spawn(0, 2)),
        ]);
        assert_ne!(
            summarize_bytes(&c).unwrap().actions[0].content,
            sa.actions[0].content
        );
    }

    #[test]
    fn a_log_of_zeros_is_refused_at_once() {
        let z = compress_to_vec(&[0u8; 1 << 20][..], CompressionLevel::Fastest);
        match summarize_bytes(&z) {
            Err(ExeclogError::Corrupt {
                kind: ExeclogErrorKind::EmptyEntry,
                offset: 0,
                stream: Stream::Decompressed,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_decompressed_size_is_limited() {
        let one = entry(0, 8, b"\x0a\x01x\x12\x01y");
        let z = log(&vec![one; 10_000]);
        match summarize(Path::new("log"), z.as_slice(), 1000) {
            Err(ExeclogError::Corrupt {
                kind: ExeclogErrorKind::DecompressedTooLarge { max: 1000 },
                ..
            }) => {}
            other => panic!("{:?}", other.map(|x| x.0.actions.len())),
        }
    }

    #[test]
    fn an_id_that_was_never_defined_is_an_error() {
        let z = log(&[entry(0, 7, &spawn(99, 0))]);
        match summarize_bytes(&z) {
            Err(ExeclogError::Corrupt {
                kind: ExeclogErrorKind::DanglingId { missing: 99, .. },
                ..
            }) => {}
            other => panic!("{:?}", other.map(|x| x.actions.len())),
        }
    }

    #[test]
    fn a_shared_set_costs_once_not_per_spawn() {
        // 2,000 files in one set, 5,000 spawns reading it: the first pass
        // touches each file once.
        let mut entries = Vec::new();
        let mut set = Vec::new();
        for i in 1..=2000u32 {
            entries.push(entry(i, 3, &file(&format!("f{i}"), "aa00aa00aa00aa00aa")));
            uint(5, u64::from(i), &mut set);
        }
        entries.push(entry(2001, 6, &set));
        entries.push(entry(2002, 3, &file("out", "cc00cc00cc00cc00cc")));
        for _ in 0..5000 {
            entries.push(entry(0, 7, &spawn(2001, 2002)));
        }
        let s = summarize_bytes(&log(&entries)).unwrap();
        assert_eq!(s.actions.len(), 5000);
    }

    #[test]
    fn several_frames_read_as_one_stream() {
        let mut plain = Vec::new();
        delimited(&entry(1, 3, &file("a.o", "bb00bb00bb00bb00bb")), &mut plain);
        delimited(&entry(0, 7, &spawn(0, 1)), &mut plain);
        let (x, y) = plain.split_at(plain.len() / 3);
        let mut two = compress_to_vec(x, CompressionLevel::Fastest);
        two.extend(compress_to_vec(y, CompressionLevel::Uncompressed));
        assert_eq!(summarize_bytes(&two).unwrap().actions.len(), 1);
    }

    #[test]
    fn every_truncation_of_the_compressed_file_is_an_error() {
        let data = log(&[
            entry(1, 3, &file("a.o", "bb00bb00bb00bb00bb")),
            entry(0, 7, &spawn(0, 1)),
        ]);
        for cut in 1..data.len() {
            assert!(
                matches!(
                    summarize_bytes(&data[..cut]),
                    Err(ExeclogError::Corrupt { .. })
                ),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn corrupt_bytes_never_panic() {
        let mut plain = Vec::new();
        delimited(&entry(1, 3, &file("a.o", "bb00bb00bb00bb00bb")), &mut plain);
        delimited(&entry(0, 7, &spawn(0, 1)), &mut plain);
        for at in 0..plain.len() {
            let mut bad = plain.clone();
            bad[at] ^= 0xa5;
            let z = compress_to_vec(bad.as_slice(), CompressionLevel::Uncompressed);
            let _ = summarize_bytes(&z);
        }
    }
}
