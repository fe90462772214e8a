//! What `execlog` keeps of a log: one compact record per action, with every
//! string interned and every digest reduced to a fixed-size value. Readers
//! fill a `LogBuilder` while they stream; nothing keeps whole messages.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use crate::finding::hex;

/// An interned string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Sym(pub(crate) u32);

/// The hash maps of `execlog`: keys are log-derived but the logs are the
/// user's own builds, so a fast non-keyed hash is fine.
pub(crate) type FastMap<K, V> = HashMap<K, V, rustc_hash::FxBuildHasher>;

/// A hasher for keys that are already hashes.
#[derive(Default)]
pub(crate) struct Prehashed(u64);

impl std::hash::Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Strings of one log, stored once each in one arena. The index maps a
/// string's hash to its symbol; the rare strings whose hash is taken go to
/// `collided`.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    arena: String,
    spans: Vec<(usize, usize)>,
    index: HashMap<u64, Sym, std::hash::BuildHasherDefault<Prehashed>>,
    collided: FastMap<u64, Vec<Sym>>,
}

fn hash_str(s: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(s)
}

impl Interner {
    pub(crate) fn intern(&mut self, s: &str) -> Sym {
        let h = hash_str(s);
        match self.index.get(&h) {
            Some(&sym) if self.get(sym) == s => sym,
            Some(_) => {
                if let Some(&sym) = self
                    .collided
                    .get(&h)
                    .and_then(|syms| syms.iter().find(|&&x| self.get(x) == s))
                {
                    return sym;
                }
                let sym = self.push(s);
                self.collided.entry(h).or_default().push(sym);
                sym
            }
            None => {
                let sym = self.push(s);
                self.index.insert(h, sym);
                sym
            }
        }
    }

    fn push(&mut self, s: &str) -> Sym {
        let sym = Sym(u32::try_from(self.spans.len()).expect("fewer than 2^32 strings"));
        self.spans.push((self.arena.len(), s.len()));
        self.arena.push_str(s);
        sym
    }

    pub(crate) fn get(&self, sym: Sym) -> &str {
        self.spans
            .get(sym.0 as usize)
            .and_then(|&(at, len)| self.arena.get(at..at + len))
            .unwrap_or("")
    }

    /// Move every string of `other` into `self`; the result maps `other`'s
    /// symbols to `self`'s.
    pub(crate) fn absorb(&mut self, other: &Interner) -> Vec<Sym> {
        (0..other.spans.len() as u32)
            .map(|i| self.intern(other.get(Sym(i))))
            .collect()
    }
}

/// A content digest as a log records it: the hash (hex in Bazel logs, kept
/// as bytes) and the size. Hashes longer than 32 bytes, or not hex, are
/// reduced to their BLAKE3 (marked by `len == 0`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ContentDigest {
    bytes: [u8; 32],
    len: u8,
    pub(crate) size: i64,
}

impl ContentDigest {
    pub(crate) fn parse(hash: &str, size: i64) -> ContentDigest {
        let mut bytes = [0u8; 32];
        let raw = hash.as_bytes();
        let fits = raw.len().is_multiple_of(2) && raw.len() <= 64;
        let decoded = fits
            && raw.chunks(2).zip(bytes.iter_mut()).all(|(pair, out)| {
                match (nibble(pair[0]), nibble(pair[1])) {
                    (Some(h), Some(l)) => {
                        *out = h << 4 | l;
                        true
                    }
                    _ => false,
                }
            });
        if decoded {
            ContentDigest {
                bytes,
                len: u8::try_from(raw.len() / 2).expect("at most 32"),
                size,
            }
        } else {
            ContentDigest {
                bytes: *blake3::hash(raw).as_bytes(),
                len: 0,
                size,
            }
        }
    }

    /// A digest computed by `twice` over structured content (a directory's
    /// files, a runfiles tree).
    pub(crate) fn synthetic(hasher: &blake3::Hasher, size: i64) -> ContentDigest {
        ContentDigest {
            bytes: *hasher.finalize().as_bytes(),
            len: 0,
            size,
        }
    }

    /// The first 64 bits of the hash, for input comparison: printed as 16
    /// hex digits they are the prefix of the digest the log records. The
    /// size is left out; for the cryptographic hashes build tools use, the
    /// hash alone identifies the content.
    pub(crate) fn fingerprint(&self) -> u64 {
        let mut head = [0u8; 8];
        head.copy_from_slice(&self.bytes[..8]);
        u64::from_be_bytes(head)
    }
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for ContentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.len == 0 {
            write!(f, "~{}/{}", hex(&self.bytes[..8]), self.size)
        } else {
            write!(
                f,
                "{}/{}",
                hex(&self.bytes[..usize::from(self.len)]),
                self.size
            )
        }
    }
}

impl fmt::Debug for ContentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// One input of an action: its path and a fingerprint of its digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Input {
    pub(crate) path: Sym,
    pub(crate) fp: u64,
    pub(crate) tool: bool,
}

/// One output of an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Output {
    pub(crate) path: Sym,
    /// `None`: declared but missing or of the wrong type.
    pub(crate) digest: Option<ContentDigest>,
}

/// One executed action (a Bazel spawn, a Buck2 command).
#[derive(Clone, Debug)]
pub(crate) struct Action {
    pub(crate) label: Sym,
    pub(crate) mnemonic: Sym,
    /// The smallest output path: with label and mnemonic, the pairing key.
    pub(crate) primary: Option<Sym>,
    /// The action-cache key, when the log records one.
    pub(crate) digest: Option<ContentDigest>,
    pub(crate) runner: Sym,
    /// Whether the log records the command line (Buck2 logs only do so for
    /// local commands).
    pub(crate) has_command: bool,
    /// Whether the log records inputs and outputs.
    pub(crate) has_files: bool,
    pub(crate) args: Range<u32>,
    pub(crate) env: Range<u32>,
    pub(crate) platform: Range<u32>,
    pub(crate) inputs: Range<u32>,
    pub(crate) outputs: Range<u32>,
}

/// Everything kept of one log.
#[derive(Debug, Default)]
pub(crate) struct Log {
    pub(crate) strings: Interner,
    pub(crate) actions: Vec<Action>,
    pub(crate) args: Vec<Sym>,
    /// Sorted by name within an action.
    pub(crate) env: Vec<(Sym, Sym)>,
    pub(crate) platform: Vec<(Sym, Sym)>,
    /// Sorted by path within an action, one per path.
    pub(crate) inputs: Vec<Input>,
    /// Sorted by path within an action.
    pub(crate) outputs: Vec<Output>,
    /// Symlinks made by non-spawn actions: output path → input path.
    pub(crate) aliases: FastMap<Sym, Sym>,
}

fn slice<'a, T>(all: &'a [T], r: &Range<u32>) -> &'a [T] {
    all.get(r.start as usize..r.end as usize).unwrap_or(&[])
}

impl Log {
    pub(crate) fn args(&self, a: &Action) -> &[Sym] {
        slice(&self.args, &a.args)
    }
    pub(crate) fn env(&self, a: &Action) -> &[(Sym, Sym)] {
        slice(&self.env, &a.env)
    }
    pub(crate) fn platform(&self, a: &Action) -> &[(Sym, Sym)] {
        slice(&self.platform, &a.platform)
    }
    pub(crate) fn inputs(&self, a: &Action) -> &[Input] {
        slice(&self.inputs, &a.inputs)
    }
    pub(crate) fn outputs(&self, a: &Action) -> &[Output] {
        slice(&self.outputs, &a.outputs)
    }
    pub(crate) fn str(&self, sym: Sym) -> &str {
        self.strings.get(sym)
    }

    /// Re-key every symbol through `map` (from `Interner::absorb`), so two
    /// logs share one interner.
    pub(crate) fn remap(&mut self, map: &[Sym]) {
        let m = |s: &mut Sym| *s = map.get(s.0 as usize).copied().unwrap_or(*s);
        for a in &mut self.actions {
            m(&mut a.label);
            m(&mut a.mnemonic);
            m(&mut a.runner);
            if let Some(p) = &mut a.primary {
                m(p);
            }
        }
        self.args.iter_mut().for_each(m);
        for (k, v) in self.env.iter_mut().chain(self.platform.iter_mut()) {
            m(k);
            m(v);
        }
        self.inputs.iter_mut().for_each(|i| m(&mut i.path));
        self.outputs.iter_mut().for_each(|o| m(&mut o.path));
        self.aliases = self
            .aliases
            .iter()
            .map(|(k, v)| {
                let (mut k, mut v) = (*k, *v);
                m(&mut k);
                m(&mut v);
                (k, v)
            })
            .collect();
        // Sort orders were by symbol; restore them under the new symbols.
        let actions = std::mem::take(&mut self.actions);
        for a in &actions {
            sort_range(&mut self.env, &a.env, |e| e.0);
            sort_range(&mut self.platform, &a.platform, |e| e.0);
            sort_range(&mut self.inputs, &a.inputs, |i| i.path);
            sort_range(&mut self.outputs, &a.outputs, |o| o.path);
        }
        self.actions = actions;
    }
}

/// Give two logs one interner (A's): B's symbols are re-keyed into it and
/// B's own strings dropped.
pub(crate) fn unify(a: &mut Log, b: &mut Log) {
    let map = a.strings.absorb(&b.strings);
    b.remap(&map);
    b.strings = Interner::default();
}

fn sort_range<T, K: Ord>(all: &mut [T], r: &Range<u32>, key: impl Fn(&T) -> K) {
    if let Some(s) = all.get_mut(r.start as usize..r.end as usize) {
        s.sort_by_key(key);
    }
}

fn len32(n: usize) -> u32 {
    u32::try_from(n).expect("fewer than 2^32 records in one log")
}

/// The action a reader is filling in; `LogBuilder::finish_action` files it.
#[derive(Debug, Default)]
pub(crate) struct ActionDraft {
    pub(crate) label: String,
    pub(crate) mnemonic: String,
    pub(crate) digest: Option<ContentDigest>,
    pub(crate) runner: String,
    pub(crate) has_command: bool,
    pub(crate) has_files: bool,
}

/// Builds a `Log` one action at a time: push args, env, inputs and outputs,
/// then `finish_action`.
#[derive(Debug, Default)]
pub(crate) struct LogBuilder {
    log: Log,
    args_at: usize,
    env_at: usize,
    platform_at: usize,
    inputs_at: usize,
    outputs_at: usize,
}

impl LogBuilder {
    pub(crate) fn intern(&mut self, s: &str) -> Sym {
        self.log.strings.intern(s)
    }
    pub(crate) fn arg(&mut self, s: &str) {
        let sym = self.intern(s);
        self.log.args.push(sym);
    }
    pub(crate) fn env(&mut self, name: &str, value: &str) {
        let e = (self.intern(name), self.intern(value));
        self.log.env.push(e);
    }
    pub(crate) fn platform(&mut self, name: &str, value: &str) {
        let e = (self.intern(name), self.intern(value));
        self.log.platform.push(e);
    }
    pub(crate) fn input(&mut self, input: Input) {
        self.log.inputs.push(input);
    }
    pub(crate) fn output(&mut self, path: Sym, digest: Option<ContentDigest>) {
        self.log.outputs.push(Output { path, digest });
    }
    pub(crate) fn alias(&mut self, link: &str, target: &str) {
        let (l, t) = (self.intern(link), self.intern(target));
        self.log.aliases.insert(l, t);
    }

    /// Drop what was pushed since the last finished action.
    pub(crate) fn discard_action(&mut self) {
        self.log.args.truncate(self.args_at);
        self.log.env.truncate(self.env_at);
        self.log.platform.truncate(self.platform_at);
        self.log.inputs.truncate(self.inputs_at);
        self.log.outputs.truncate(self.outputs_at);
    }

    pub(crate) fn finish_action(&mut self, draft: &ActionDraft) {
        let log = &mut self.log;
        let env = log.env.get_mut(self.env_at..).unwrap_or_default();
        env.sort();
        let platform = log.platform.get_mut(self.platform_at..).unwrap_or_default();
        platform.sort();
        let outputs = log.outputs.get_mut(self.outputs_at..).unwrap_or_default();
        outputs.sort_by_key(|o| o.path);
        // One record per input path; a path listed twice keeps its tool bit.
        let inputs = log.inputs.split_off(self.inputs_at);
        let mut inputs = inputs;
        inputs.sort_by_key(|i| (i.path, !i.tool));
        inputs.dedup_by_key(|i| i.path);
        log.inputs.extend(inputs);
        let primary = log
            .outputs
            .get(self.outputs_at..)
            .unwrap_or_default()
            .iter()
            .map(|o| o.path)
            .min_by(|x, y| log.strings.get(*x).cmp(log.strings.get(*y)));
        let label = log.strings.intern(&draft.label);
        let mnemonic = log.strings.intern(&draft.mnemonic);
        let runner = log.strings.intern(&draft.runner);
        let r = |from: usize, to: usize| len32(from)..len32(to);
        log.actions.push(Action {
            label,
            mnemonic,
            primary,
            digest: draft.digest,
            runner,
            has_command: draft.has_command,
            has_files: draft.has_files,
            args: r(self.args_at, log.args.len()),
            env: r(self.env_at, log.env.len()),
            platform: r(self.platform_at, log.platform.len()),
            inputs: r(self.inputs_at, log.inputs.len()),
            outputs: r(self.outputs_at, log.outputs.len()),
        });
        self.args_at = log.args.len();
        self.env_at = log.env.len();
        self.platform_at = log.platform.len();
        self.inputs_at = log.inputs.len();
        self.outputs_at = log.outputs.len();
    }

    /// The number of actions finished so far.
    pub(crate) fn len(&self) -> usize {
        self.log.actions.len()
    }

    pub(crate) fn action(&self, i: usize) -> Option<&Action> {
        self.log.actions.get(i)
    }

    /// Take back the last finished action and everything pushed for it
    /// (along with anything pushed since).
    pub(crate) fn pop_last(&mut self) -> Option<Action> {
        let a = self.log.actions.pop()?;
        let at = |r: &Range<u32>| r.start as usize;
        self.args_at = at(&a.args);
        self.env_at = at(&a.env);
        self.platform_at = at(&a.platform);
        self.inputs_at = at(&a.inputs);
        self.outputs_at = at(&a.outputs);
        self.discard_action();
        Some(a)
    }

    pub(crate) fn finish(mut self) -> Log {
        self.discard_action();
        self.log
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_parse_hex_and_fall_back_to_blake3() {
        let d = ContentDigest::parse("00ff", 3);
        assert_eq!(d.to_string(), "00ff/3");
        let odd = ContentDigest::parse("xyz", 3);
        assert!(odd.to_string().starts_with('~'));
        assert_ne!(
            d.fingerprint(),
            ContentDigest::parse("00fe", 3).fingerprint()
        );
        assert_eq!(
            format!(
                "{:016x}",
                ContentDigest::parse("0123456789abcdef0011", 9).fingerprint()
            ),
            "0123456789abcdef"
        );
    }

    #[test]
    fn remap_keeps_ranges_sorted() {
        let mut b = LogBuilder::default();
        b.env("Z", "1");
        b.env("A", "2");
        b.finish_action(&ActionDraft::default());
        let mut log = b.finish();
        let mut shared = Interner::default();
        shared.intern("A");
        let map = shared.absorb(&log.strings);
        log.remap(&map);
        log.strings = shared;
        let a = &log.actions[0];
        let names: Vec<&str> = log.env(a).iter().map(|e| log.str(e.0)).collect();
        assert_eq!(names, ["A", "Z"]);
    }
}
