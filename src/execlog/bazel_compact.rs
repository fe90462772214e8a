//! Bazel's `--execution_log_compact_file`: a zstd stream of varint
//! length-delimited `ExecLogEntry` messages. Files, directories, symlinks and
//! input sets come first and are referred to by id; each spawn's inputs are
//! the flattened input set (a DAG of `input_ids` and `transitive_set_ids`).
//! Entries are decoded one at a time; only what later entries can refer to
//! is kept, in reduced form.

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use prost::Message;
use ruzstd::decoding::{FrameDecoder, StreamingDecoder};

use super::bazel_json::{empty_digest, symlink_digest};
use super::error::{ExeclogError, ExeclogErrorKind, LogFormat, Stream};
use super::model::{ActionDraft, ContentDigest, FastMap, Input, Log, LogBuilder, Sym};
use super::proto::entry::{self, Type, output};
use super::proto::{Digest, ExecLogEntry};

/// The largest single entry accepted (a spawn with a huge command line is a
/// few MiB; a corrupt length prefix is usually far larger).
const MAX_ENTRY: u64 = 256 << 20;

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
    fn compressed_offset(&self) -> u64 {
        self.consumed.get()
    }

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

/// What later entries can refer to, reduced.
enum Entry {
    /// A file, directory (digest over its files) or unresolved symlink.
    Leaf {
        path: Sym,
        digest: ContentDigest,
    },
    Set {
        inputs: Box<[u32]>,
        sets: Box<[u32]>,
    },
    /// A runfiles tree: its artifacts are in `set`; the symlinks, empty
    /// files and repo mapping become one input named after the tree.
    Runfiles {
        set: u32,
        rest: Input,
    },
    SymlinkSet {
        fingerprint: u64,
    },
}

/// Entries by id. Bazel numbers entries 1, 2, 3, …, so a vector indexed
/// by id holds them without a hash table; ids far beyond it (allowed, if
/// unusual) go to a map.
#[derive(Default)]
struct Entries {
    dense: Vec<Option<Entry>>,
    sparse: FastMap<u32, Entry>,
}

impl Entries {
    /// How far past the end an id may be to still extend the vector.
    const GAP: usize = 1 << 16;

    /// An id stored in the map before the vector grew past it is still
    /// found: lookups fall back to the map.
    fn get(&self, id: u32) -> Option<&Entry> {
        self.dense
            .get(id as usize)
            .and_then(Option::as_ref)
            .or_else(|| self.sparse.get(&id))
    }

    fn insert(&mut self, id: u32, e: Entry) {
        let i = id as usize;
        if let Some(slot) = self.dense.get_mut(i) {
            *slot = Some(e);
        } else if i < self.dense.len() + Self::GAP {
            self.dense.resize_with(i, || None);
            self.dense.push(Some(e));
        } else {
            self.sparse.insert(id, e);
        }
    }
}

/// The sets one flattening has visited: a stamp per dense id, so nothing is
/// cleared between spawns (clearing a hash set costs its capacity, which
/// one huge spawn would leave large for all later ones), and a set for ids
/// beyond the vector.
#[derive(Default)]
struct Visited {
    stamps: Vec<u32>,
    round: u32,
    far: rustc_hash::FxHashSet<u32>,
}

impl Visited {
    fn start(&mut self, dense: usize) {
        self.round = self.round.wrapping_add(1);
        if self.round == 0 {
            self.stamps.fill(0);
            self.round = 1;
        }
        if self.stamps.len() < dense {
            self.stamps.resize(dense, 0);
        }
        if !self.far.is_empty() {
            self.far.clear();
        }
    }

    /// True the first time `id` is seen in this round.
    fn first(&mut self, id: u32) -> bool {
        match self.stamps.get_mut(id as usize) {
            Some(stamp) if *stamp == self.round => false,
            Some(stamp) => {
                *stamp = self.round;
                true
            }
            None => self.far.insert(id),
        }
    }
}

struct Reader<'p> {
    path: &'p Path,
    b: LogBuilder,
    entries: Entries,
    /// Scratch space for flattening, reused across spawns.
    seen: Visited,
    stack: Vec<u32>,
    decoded_at: u64,
}

pub(crate) fn read(path: &Path, file: impl BufRead) -> Result<Log, ExeclogError> {
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
    let mut r = Reader {
        path,
        b: LogBuilder::default(),
        entries: Entries::default(),
        seen: Default::default(),
        stack: Vec::new(),
        decoded_at: 0,
    };
    let mut buf = Vec::new();
    {
        let mut decoded = BufReader::with_capacity(64 << 10, &mut frames);
        loop {
            let start = r.decoded_at;
            let len = match read_varint(&mut decoded) {
                Ok(None) => break,
                Ok(Some((len, used))) => {
                    r.decoded_at += used;
                    len
                }
                Err(Framing::Io(e)) => return Err(r.zstd_error(e, &mut decoded)),
                Err(Framing::Eof) => return Err(r.corrupt(start, ExeclogErrorKind::Truncated)),
                Err(Framing::Bad) => return Err(r.corrupt(start, ExeclogErrorKind::BadVarint)),
            };
            if len > MAX_ENTRY {
                return Err(r.corrupt(
                    start,
                    ExeclogErrorKind::RecordTooLarge {
                        len,
                        max: MAX_ENTRY,
                    },
                ));
            }
            buf.clear();
            let got = (&mut decoded)
                .take(len)
                .read_to_end(&mut buf)
                .map_err(|e| r.zstd_error(e, &mut decoded))?;
            if (got as u64) < len {
                return Err(r.corrupt(start, ExeclogErrorKind::Truncated));
            }
            let entry = ExecLogEntry::decode(buf.as_slice())
                .map_err(|e| r.corrupt(r.decoded_at, ExeclogErrorKind::Protobuf(e)))?;
            let body_at = r.decoded_at;
            r.decoded_at += len;
            r.entry(entry).map_err(|kind| r.corrupt(body_at, kind))?;
        }
    }
    Ok(r.b.finish())
}

enum Framing {
    Io(io::Error),
    Eof,
    Bad,
}

/// A base-128 varint; `Ok(None)` at a clean end of input.
fn read_varint(r: &mut impl BufRead) -> Result<Option<(u64, u64)>, Framing> {
    let mut value = 0u64;
    for i in 0..10u32 {
        let byte = match r.fill_buf().map_err(Framing::Io)?.first() {
            Some(&b) => b,
            None if i == 0 => return Ok(None),
            None => return Err(Framing::Eof),
        };
        r.consume(1);
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((value, u64::from(i) + 1)));
        }
    }
    Err(Framing::Bad)
}

fn digest_of(d: Option<&Digest>) -> ContentDigest {
    d.map_or_else(empty_digest, |d| {
        ContentDigest::parse(&d.hash, d.size_bytes)
    })
}

impl Reader<'_> {
    fn corrupt(&self, offset: u64, kind: ExeclogErrorKind) -> ExeclogError {
        ExeclogError::Corrupt {
            path: self.path.to_path_buf(),
            format: LogFormat::BazelCompact,
            stream: Stream::Decompressed,
            offset,
            kind,
        }
    }

    fn zstd_error<R: BufRead>(
        &self,
        e: io::Error,
        decoded: &mut BufReader<&mut Frames<R>>,
    ) -> ExeclogError {
        let frames = decoded.get_mut();
        let kind = if e.kind() == io::ErrorKind::UnexpectedEof || frames.at_end() {
            ExeclogErrorKind::Truncated
        } else {
            ExeclogErrorKind::Zstd(e)
        };
        ExeclogError::Corrupt {
            path: PathBuf::from(self.path),
            format: LogFormat::BazelCompact,
            stream: Stream::Compressed,
            offset: frames.compressed_offset(),
            kind,
        }
    }

    fn leaf(&self, id: u32, of: u32) -> Result<&Entry, ExeclogErrorKind> {
        self.entries.get(id).ok_or(ExeclogErrorKind::DanglingId {
            id: of,
            missing: id,
        })
    }

    fn entry(&mut self, e: ExecLogEntry) -> Result<(), ExeclogErrorKind> {
        let id = e.id;
        let Some(t) = e.r#type else { return Ok(()) };
        let kept = match t {
            Type::Invocation(_) => None,
            Type::File(f) => Some(Entry::Leaf {
                path: self.b.intern(&f.path),
                digest: digest_of(f.digest.as_ref()),
            }),
            Type::Directory(d) => {
                let mut h = blake3::Hasher::new();
                h.update(b"directory\0");
                let mut size = 0i64;
                let mut files: Vec<&entry::File> = d.files.iter().collect();
                files.sort_by(|x, y| x.path.cmp(&y.path));
                for f in files {
                    let digest = digest_of(f.digest.as_ref());
                    size = size.saturating_add(digest.size);
                    h.update(f.path.as_bytes());
                    h.update(&[0]);
                    h.update(&digest.fingerprint().to_le_bytes());
                }
                Some(Entry::Leaf {
                    path: self.b.intern(&d.path),
                    digest: ContentDigest::synthetic(&h, size),
                })
            }
            Type::UnresolvedSymlink(s) => Some(Entry::Leaf {
                path: self.b.intern(&s.path),
                digest: symlink_digest(&s.target_path),
            }),
            Type::InputSet(s) => {
                for &child in s.input_ids.iter().chain(&s.transitive_set_ids) {
                    self.leaf(child, id)?;
                }
                Some(Entry::Set {
                    inputs: s.input_ids.into(),
                    sets: s.transitive_set_ids.into(),
                })
            }
            Type::SymlinkEntrySet(s) => {
                let mut h = blake3::Hasher::new();
                for (name, target) in &s.direct_entries {
                    h.update(name.as_bytes());
                    h.update(&[0]);
                    h.update(&self.fingerprint(*target, id)?.to_le_bytes());
                }
                for &set in &s.transitive_set_ids {
                    h.update(&self.fingerprint(set, id)?.to_le_bytes());
                }
                Some(Entry::SymlinkSet {
                    fingerprint: ContentDigest::synthetic(&h, 0).fingerprint(),
                })
            }
            Type::RunfilesTree(t) => {
                if t.input_set_id != 0 {
                    self.leaf(t.input_set_id, id)?;
                }
                let mut h = blake3::Hasher::new();
                h.update(b"runfiles\0");
                for set in [t.symlinks_id, t.root_symlinks_id] {
                    let fp = if set == 0 {
                        0
                    } else {
                        self.fingerprint(set, id)?
                    };
                    h.update(&fp.to_le_bytes());
                }
                for f in &t.empty_files {
                    h.update(f.as_bytes());
                    h.update(&[0]);
                }
                if let Some(m) = &t.repo_mapping_manifest {
                    h.update(&digest_of(m.digest.as_ref()).fingerprint().to_le_bytes());
                }
                h.update(&[u8::from(t.legacy_external_runfiles)]);
                Some(Entry::Runfiles {
                    set: t.input_set_id,
                    rest: Input {
                        path: self.b.intern(&t.path),
                        fp: ContentDigest::synthetic(&h, 0).fingerprint(),
                        tool: false,
                    },
                })
            }
            Type::SymlinkAction(a) => {
                self.b.alias(&a.output_path, &a.input_path);
                None
            }
            Type::Spawn(s) => {
                self.spawn(s, id)?;
                None
            }
        };
        if let (Some(entry), true) = (kept, id != 0) {
            self.entries.insert(id, entry);
        }
        Ok(())
    }

    /// The fingerprint of a leaf or symlink set referred to by `of`.
    fn fingerprint(&self, id: u32, of: u32) -> Result<u64, ExeclogErrorKind> {
        Ok(match self.leaf(id, of)? {
            Entry::Leaf { digest, .. } => digest.fingerprint(),
            Entry::SymlinkSet { fingerprint } => *fingerprint,
            Entry::Runfiles { rest, .. } => rest.fp,
            Entry::Set { .. } => u64::from(id),
        })
    }

    /// Push every input of the set `root` (flattened, each set once).
    fn flatten(&mut self, root: u32, tool: bool, of: u32) -> Result<(), ExeclogErrorKind> {
        if root == 0 {
            return Ok(());
        }
        let Reader {
            b,
            entries,
            seen,
            stack,
            ..
        } = self;
        let get = |id: u32, of: u32| {
            entries.get(id).ok_or(ExeclogErrorKind::DanglingId {
                id: of,
                missing: id,
            })
        };
        seen.start(entries.dense.len());
        stack.clear();
        stack.push(root);
        while let Some(id) = stack.pop() {
            if !seen.first(id) {
                continue;
            }
            let direct: &[u32] = match get(id, of)? {
                Entry::Set { inputs, sets } => {
                    stack.extend(sets.iter().copied());
                    inputs
                }
                _ => std::slice::from_ref(&id),
            };
            for &i in direct {
                match get(i, id)? {
                    Entry::Leaf { path, digest } => b.input(Input {
                        path: *path,
                        fp: digest.fingerprint(),
                        tool,
                    }),
                    Entry::Runfiles { set, rest } => {
                        b.input(Input { tool, ..*rest });
                        if *set != 0 {
                            stack.push(*set);
                        }
                    }
                    Entry::Set { .. } if i != id => stack.push(i),
                    Entry::Set { .. } | Entry::SymlinkSet { .. } => {}
                }
            }
        }
        Ok(())
    }

    fn spawn(&mut self, s: entry::Spawn, id: u32) -> Result<(), ExeclogErrorKind> {
        let result = self.spawn_inner(&s, id);
        if result.is_err() {
            self.b.discard_action();
            return result;
        }
        self.b.finish_action(&ActionDraft {
            label: s.target_label,
            mnemonic: s.mnemonic,
            digest: s.digest.as_ref().map(|d| digest_of(Some(d))),
            runner: s.runner,
            has_command: true,
            has_files: true,
        });
        Ok(())
    }

    fn spawn_inner(&mut self, s: &entry::Spawn, id: u32) -> Result<(), ExeclogErrorKind> {
        for a in &s.args {
            self.b.arg(a);
        }
        for e in &s.env_vars {
            self.b.env(&e.name, &e.value);
        }
        for p in s.platform.iter().flat_map(|p| &p.properties) {
            self.b.platform(&p.name, &p.value);
        }
        // Tools first: the builder keeps the tool bit of a path seen twice.
        self.flatten(s.tool_set_id, true, id)?;
        self.flatten(s.input_set_id, false, id)?;
        for o in &s.outputs {
            match &o.r#type {
                Some(output::Type::OutputId(out)) => match self.leaf(*out, id)? {
                    Entry::Leaf { path, digest } => {
                        let (path, digest) = (*path, *digest);
                        self.b.output(path, Some(digest));
                    }
                    Entry::Runfiles { rest, .. } => {
                        let path = rest.path;
                        self.b.output(path, None);
                    }
                    _ => {}
                },
                Some(output::Type::InvalidOutputPath(p)) => {
                    let path = self.b.intern(p);
                    self.b.output(path, None);
                }
                None => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execlog::synth::{Build, spawns, write_bazel_compact};
    use ruzstd::encoding::{CompressionLevel, compress_to_vec};

    fn compact(build: Build) -> Vec<u8> {
        let mut out = Vec::new();
        write_bazel_compact(spawns(build, 0), &mut out).unwrap();
        out
    }

    fn decompressed(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        StreamingDecoder::new(data)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn read_bytes(data: &[u8]) -> Result<Log, ExeclogError> {
        read(Path::new("log"), data)
    }

    #[test]
    fn reads_spawns_with_flattened_inputs_and_tools() {
        let log = read_bytes(&compact(Build::A)).unwrap();
        assert_eq!(log.actions.len(), 11);
        let b = log
            .actions
            .iter()
            .find(|a| log.str(a.label) == "//src:b" && log.str(a.mnemonic) == "CppCompile")
            .unwrap();
        let inputs: Vec<(&str, bool)> = log
            .inputs(b)
            .iter()
            .map(|i| (log.str(i.path), i.tool))
            .collect();
        // src/util.h and the tool come through two levels of input sets.
        assert_eq!(
            inputs.len(),
            3,
            "{inputs:?} should hold b.c, util.h and the compiler"
        );
        assert!(inputs.contains(&("external/toolchain/bin/cc", true)));
        assert!(inputs.contains(&("src/util.h", false)));
    }

    #[test]
    fn several_frames_read_as_one_stream() {
        let plain = decompressed(&compact(Build::A));
        let (x, y) = plain.split_at(plain.len() / 3);
        let mut two = compress_to_vec(x, CompressionLevel::Fastest);
        two.extend(compress_to_vec(y, CompressionLevel::Uncompressed));
        assert_eq!(read_bytes(&two).unwrap().actions.len(), 11);
    }

    #[test]
    fn every_truncation_of_the_compressed_file_is_an_error() {
        let data = compact(Build::B);
        for cut in 1..data.len() {
            match read_bytes(&data[..cut]) {
                Err(ExeclogError::Corrupt { offset, stream, .. }) => {
                    if stream == Stream::Compressed {
                        assert!(offset <= cut as u64, "cut {cut}: offset {offset}");
                    }
                }
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_truncated_entry_names_its_decompressed_offset() {
        let plain = decompressed(&compact(Build::A));
        // Entry boundaries, from the varint framing.
        let mut bounds = vec![0usize];
        let mut at = 0;
        while at < plain.len() {
            let mut r = &plain[at..];
            let (len, used) = read_varint(&mut r).ok().flatten().unwrap();
            at += used as usize + len as usize;
            bounds.push(at);
        }
        for cut in 1..plain.len() {
            let z = compress_to_vec(&plain[..cut], CompressionLevel::Uncompressed);
            let result = read_bytes(&z);
            if bounds.contains(&cut) {
                assert!(result.is_ok(), "cut at a boundary {cut}: {result:?}");
                continue;
            }
            let start = bounds.iter().rev().find(|&&b| b < cut).copied().unwrap();
            match result {
                Err(ExeclogError::Corrupt {
                    stream: Stream::Decompressed,
                    offset,
                    kind: ExeclogErrorKind::Truncated,
                    ..
                }) => assert_eq!(offset, start as u64, "cut {cut}"),
                other => panic!("cut at {cut}: {other:?}"),
            }
        }
    }

    #[test]
    fn corrupt_bytes_never_panic() {
        let plain = decompressed(&compact(Build::A));
        for at in 0..plain.len() {
            let mut bad = plain.clone();
            bad[at] ^= 0xa5;
            let z = compress_to_vec(bad.as_slice(), CompressionLevel::Uncompressed);
            let _ = read_bytes(&z);
        }
        let z = compact(Build::A);
        for at in 0..z.len() {
            let mut bad = z.clone();
            bad[at] ^= 0xa5;
            let _ = read_bytes(&bad);
        }
    }

    #[test]
    fn an_id_that_was_never_defined_is_an_error() {
        let mut plain = Vec::new();
        ExecLogEntry {
            id: 0,
            r#type: Some(Type::Spawn(entry::Spawn {
                input_set_id: 99,
                ..entry::Spawn::default()
            })),
        }
        .encode_length_delimited(&mut plain)
        .unwrap();
        let z = compress_to_vec(plain.as_slice(), CompressionLevel::Fastest);
        match read_bytes(&z) {
            Err(ExeclogError::Corrupt {
                kind: ExeclogErrorKind::DanglingId { missing: 99, .. },
                offset: 1,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_huge_length_prefix_is_refused_before_allocating() {
        let mut plain = Vec::new();
        prost::encoding::encode_varint(u64::MAX >> 1, &mut plain);
        let z = compress_to_vec(plain.as_slice(), CompressionLevel::Fastest);
        assert!(matches!(
            read_bytes(&z),
            Err(ExeclogError::Corrupt {
                kind: ExeclogErrorKind::RecordTooLarge { .. },
                ..
            })
        ));
    }
}

#[cfg(test)]
mod entries_tests {
    use super::*;

    fn leaf(n: u32) -> Entry {
        Entry::SymlinkSet {
            fingerprint: u64::from(n),
        }
    }

    fn fp(e: &Entries, id: u32) -> Option<u64> {
        match e.get(id) {
            Some(Entry::SymlinkSet { fingerprint }) => Some(*fingerprint),
            _ => None,
        }
    }

    #[test]
    fn sparse_and_dense_ids_are_all_found() {
        let mut e = Entries::default();
        e.insert(1, leaf(1));
        e.insert(1_000_000, leaf(7));
        e.insert(3, leaf(3));
        for i in 4..70_000 {
            e.insert(i, leaf(i));
        }
        e.insert(200_000, leaf(9));
        assert_eq!(fp(&e, 1), Some(1));
        assert_eq!(fp(&e, 2), None);
        assert_eq!(fp(&e, 3), Some(3));
        assert_eq!(fp(&e, 69_999), Some(69_999));
        assert_eq!(fp(&e, 1_000_000), Some(7));
        assert_eq!(fp(&e, 200_000), Some(9));
        assert_eq!(fp(&e, 5_000_000), None);
    }
}

#[cfg(test)]
mod visited_tests {
    use super::Visited;

    #[test]
    fn each_round_starts_fresh_without_clearing() {
        let mut v = Visited::default();
        v.start(10);
        assert!(v.first(3) && !v.first(3));
        assert!(v.first(1_000) && !v.first(1_000));
        v.start(10);
        assert!(v.first(3) && v.first(1_000));
        v.round = u32::MAX;
        v.start(10);
        assert!(v.first(3), "the stamp wrap resets");
    }
}
