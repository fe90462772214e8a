//! What the second pass keeps of the actions that differ: strings interned
//! once for both logs, digests as fixed-size values, inputs either listed
//! (JSON, binary) or as the compact log's input sets, which are expanded
//! only when a pair is compared.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use super::view::{EMPTY_FP, hex_fp, is_empty_digest};
use crate::finding::hex;

/// An interned string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Sym(pub(crate) u32);

/// The hash maps of `execlog`: keys are log-derived but the logs are the
/// user's own builds, so a fast non-keyed hash is fine.
pub(crate) type FastMap<K, V> = HashMap<K, V, rustc_hash::FxBuildHasher>;

/// Strings, stored once each in one arena.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    arena: String,
    spans: Vec<(usize, usize)>,
    index: FastMap<Box<str>, Sym>,
}

impl Interner {
    pub(crate) fn intern(&mut self, s: &str) -> Sym {
        if let Some(&sym) = self.index.get(s) {
            return sym;
        }
        let sym = Sym(u32::try_from(self.spans.len()).expect("fewer than 2^32 strings"));
        self.spans.push((self.arena.len(), s.len()));
        self.arena.push_str(s);
        self.index.insert(s.into(), sym);
        sym
    }

    pub(crate) fn get(&self, sym: Sym) -> &str {
        self.spans
            .get(sym.0 as usize)
            .and_then(|&(at, len)| self.arena.get(at..at + len))
            .unwrap_or("")
    }

    pub(crate) fn find(&self, s: &str) -> Option<Sym> {
        self.index.get(s).copied()
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

    /// Whether this is the digest of empty content.
    pub(crate) fn is_empty(&self) -> bool {
        // An empty hash string parses to no bytes at all.
        let no_hash = self.len == 0 && self.bytes == [0; 32];
        self.size == 0
            && (no_hash || is_empty_digest(&hex(&self.bytes[..usize::from(self.len).min(8)]), 0))
    }

    /// The fingerprint inputs are compared by (`view::file_fp`).
    pub(crate) fn fp(&self) -> u64 {
        if self.is_empty() {
            EMPTY_FP
        } else if self.len >= 8 {
            let mut head = [0u8; 8];
            head.copy_from_slice(&self.bytes[..8]);
            u64::from_be_bytes(head)
        } else {
            hex_fp(&self.to_string())
        }
    }

    /// Equal content: the same digest, or both empty.
    pub(crate) fn same(&self, other: &ContentDigest) -> bool {
        self == other || self.is_empty() && other.is_empty()
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

/// One input of an action: its path and the fingerprint of its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Input {
    pub(crate) path: Sym,
    pub(crate) fp: u64,
    pub(crate) tool: bool,
}

/// What an output path held after the action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutState {
    /// A file; `None` when the log omits the digest of an empty file.
    File(Option<ContentDigest>),
    /// An unresolved symlink: its target and its fingerprint.
    Symlink { target: Sym, fp: u64 },
    /// A tree artifact; its files are outputs of their own.
    Dir,
    /// Declared, not produced (or of the wrong type).
    Missing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Output {
    pub(crate) path: Sym,
    pub(crate) state: OutState,
}

/// How an action's inputs are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Inputs {
    /// Listed in the log (JSON, binary), sorted by path: a range of
    /// `Detail::inputs`.
    Listed(Range<u32>),
    /// A compact log's input set and tool set (ids in `Detail::dag`).
    Sets { input_set: u32, tool_set: u32 },
    /// Buck2: the log records none.
    Unknown,
}

/// How an action ran.
#[derive(Clone, Debug, Default)]
pub(crate) struct Run {
    pub(crate) runner: Option<Sym>,
    pub(crate) hit: bool,
    pub(crate) cacheable: bool,
    pub(crate) remote_cacheable: bool,
    pub(crate) remotable: bool,
    pub(crate) status: Option<Sym>,
    pub(crate) exit_code: i32,
    pub(crate) timeout_millis: i64,
    /// Buck2.
    pub(crate) duration: Option<Sym>,
    pub(crate) std_err: Option<Sym>,
    pub(crate) scheduling_mode: Option<Sym>,
}

impl Run {
    pub(crate) fn failed(&self) -> bool {
        self.status.is_some() || self.exit_code != 0
    }
}

/// One action the second pass kept.
#[derive(Clone, Debug)]
pub(crate) struct Action {
    /// Its index in its log's first-pass summary.
    pub(crate) ordinal: u32,
    pub(crate) label: Option<Sym>,
    pub(crate) mnemonic: Sym,
    /// The output that names it best among those it produced.
    pub(crate) primary: Option<Sym>,
    /// The action-cache key, when the log records one.
    pub(crate) digest: Option<ContentDigest>,
    pub(crate) run: Run,
    /// Whether the log records the command line (Buck2 logs only do so for
    /// local commands).
    pub(crate) has_command: bool,
    /// Whether everything compared was read (not only the name).
    pub(crate) full: bool,
    pub(crate) args: Range<u32>,
    pub(crate) env: Range<u32>,
    pub(crate) platform: Range<u32>,
    pub(crate) inputs: Inputs,
    pub(crate) outputs: Range<u32>,
}

/// A compact-log entry the second pass decoded.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    File {
        path: Sym,
        digest: Option<ContentDigest>,
    },
    Dir {
        path: Sym,
        /// Full paths.
        files: Vec<(Sym, Option<ContentDigest>)>,
    },
    Symlink {
        path: Sym,
        target: Sym,
        fp: u64,
    },
    Set {
        inputs: Box<[u32]>,
        sets: Box<[u32]>,
    },
    Runfiles {
        path: Sym,
        input_set: u32,
        symlinks: u32,
        root_symlinks: u32,
        empty_files: Vec<Sym>,
        repo_mapping: Option<Option<ContentDigest>>,
    },
    SymlinkSet {
        direct: Vec<(Sym, u32)>,
        sets: Box<[u32]>,
    },
}

/// One log's second pass.
#[derive(Debug, Default)]
pub(crate) struct Detail {
    /// By ordinal.
    pub(crate) actions: Vec<Action>,
    pub(crate) args: Vec<Sym>,
    /// Sorted by name within an action.
    pub(crate) env: Vec<(Sym, Sym)>,
    pub(crate) platform: Vec<(Sym, Sym)>,
    pub(crate) inputs: Vec<Input>,
    /// Sorted by path within an action.
    pub(crate) outputs: Vec<Output>,
    pub(crate) dag: FastMap<u32, Node>,
    /// The main repository's runfiles directory (compact 7.4+).
    pub(crate) workspace: Option<Sym>,
}

fn slice<'a, T>(all: &'a [T], r: &Range<u32>) -> &'a [T] {
    all.get(r.start as usize..r.end as usize).unwrap_or(&[])
}

pub(crate) fn len32(n: usize) -> u32 {
    u32::try_from(n).expect("fewer than 2^32 records in one log")
}

/// Where an action's command line, environment and platform are kept.
pub(crate) struct CommandRanges {
    pub(crate) args: Range<u32>,
    pub(crate) env: Range<u32>,
    pub(crate) platform: Range<u32>,
}

impl Detail {
    /// Keep a command line, environment and platform (the latter two sorted
    /// by name).
    pub(crate) fn push_command<'s>(
        &mut self,
        st: &mut Interner,
        args: impl IntoIterator<Item = &'s str>,
        env: impl IntoIterator<Item = (&'s str, &'s str)>,
        platform: impl IntoIterator<Item = (&'s str, &'s str)>,
    ) -> CommandRanges {
        let (args_at, env_at, platform_at) = (self.args.len(), self.env.len(), self.platform.len());
        for a in args {
            self.args.push(st.intern(a));
        }
        for (k, x) in env {
            self.env.push((st.intern(k), st.intern(x)));
        }
        self.env[env_at..].sort();
        for (k, x) in platform {
            self.platform.push((st.intern(k), st.intern(x)));
        }
        self.platform[platform_at..].sort();
        let r = |from: usize, to: usize| len32(from)..len32(to);
        CommandRanges {
            args: r(args_at, self.args.len()),
            env: r(env_at, self.env.len()),
            platform: r(platform_at, self.platform.len()),
        }
    }

    pub(crate) fn args(&self, a: &Action) -> &[Sym] {
        slice(&self.args, &a.args)
    }
    pub(crate) fn env(&self, a: &Action) -> &[(Sym, Sym)] {
        slice(&self.env, &a.env)
    }
    pub(crate) fn platform(&self, a: &Action) -> &[(Sym, Sym)] {
        slice(&self.platform, &a.platform)
    }
    pub(crate) fn outputs(&self, a: &Action) -> &[Output] {
        slice(&self.outputs, &a.outputs)
    }

    /// The action with this ordinal.
    pub(crate) fn action(&self, ordinal: u32) -> Option<&Action> {
        let i = self
            .actions
            .binary_search_by_key(&ordinal, |a| a.ordinal)
            .ok()?;
        self.actions.get(i)
    }

    /// Every input of `a`, one per path (a tool bit wins), sorted by symbol:
    /// listed ones as they are; input sets expanded (directories into their
    /// files, runfiles trees into their artifacts, symlinks, empty files and
    /// repository mapping). Stops with `false` once `budget` inputs have
    /// been expanded.
    pub(crate) fn expand(
        &self,
        a: &Action,
        strings: &mut Interner,
        budget: &mut u64,
        out: &mut Vec<Input>,
    ) -> bool {
        out.clear();
        match &a.inputs {
            Inputs::Listed(r) => out.extend_from_slice(slice(&self.inputs, r)),
            Inputs::Unknown => {}
            Inputs::Sets {
                input_set,
                tool_set,
            } => {
                // Tools first: a path seen twice keeps its tool bit.
                if !self.expand_set(*tool_set, true, strings, budget, out)
                    || !self.expand_set(*input_set, false, strings, budget, out)
                {
                    return false;
                }
            }
        }
        out.sort_by_key(|i| (i.path, !i.tool));
        out.dedup_by_key(|i| i.path);
        true
    }

    fn expand_set(
        &self,
        root: u32,
        tool: bool,
        strings: &mut Interner,
        budget: &mut u64,
        out: &mut Vec<Input>,
    ) -> bool {
        if root == 0 {
            return true;
        }
        let mut seen = rustc_hash::FxHashSet::default();
        let mut stack = vec![(root, None::<Sym>)];
        let ws = self
            .workspace
            .map_or("_main", |w| strings.get(w))
            .to_owned();
        while let Some((id, in_tree)) = stack.pop() {
            if !seen.insert((id, in_tree)) {
                continue;
            }
            if *budget == 0 {
                return false;
            }
            *budget -= 1;
            let Some(node) = self.dag.get(&id) else {
                continue;
            };
            let mut push = |path: Sym, fp: u64| out.push(Input { path, fp, tool });
            match node {
                Node::File { path, digest } => push(*path, digest.map_or(EMPTY_FP, |d| d.fp())),
                Node::Symlink { path, fp, .. } => push(*path, *fp),
                Node::Dir { files, .. } => {
                    for (p, d) in files {
                        push(*p, d.map_or(EMPTY_FP, |d| d.fp()));
                    }
                    *budget = budget.saturating_sub(files.len() as u64);
                }
                Node::Set { inputs, sets } => {
                    stack.extend(sets.iter().map(|&s| (s, in_tree)));
                    stack.extend(inputs.iter().map(|&s| (s, in_tree)));
                }
                Node::Runfiles {
                    path,
                    input_set,
                    symlinks,
                    root_symlinks,
                    empty_files,
                    repo_mapping,
                } => {
                    let tree = strings.get(*path).to_owned();
                    if *input_set != 0 {
                        stack.push((*input_set, None));
                    }
                    let mut named = Vec::new();
                    self.symlinks(*symlinks, &format!("{tree}/{ws}/"), &mut named, strings);
                    self.symlinks(*root_symlinks, &format!("{tree}/"), &mut named, strings);
                    for f in empty_files {
                        let p = format!("{tree}/{ws}/{}", strings.get(*f));
                        named.push((strings.intern(&p), EMPTY_FP));
                    }
                    if let Some(d) = repo_mapping {
                        let p = format!("{tree}/_repo_mapping");
                        named.push((strings.intern(&p), d.map_or(EMPTY_FP, |d| d.fp())));
                    }
                    for (p, fp) in named {
                        out.push(Input { path: p, fp, tool });
                    }
                }
                Node::SymlinkSet { .. } => {}
            }
        }
        true
    }

    /// The entries of a symlink set, as inputs below `prefix`.
    fn symlinks(&self, root: u32, prefix: &str, out: &mut Vec<(Sym, u64)>, strings: &mut Interner) {
        let mut stack = vec![root];
        let mut seen = rustc_hash::FxHashSet::default();
        while let Some(id) = stack.pop() {
            if id == 0 || !seen.insert(id) {
                continue;
            }
            if let Some(Node::SymlinkSet { direct, sets }) = self.dag.get(&id) {
                stack.extend(sets.iter().copied());
                for (name, target) in direct {
                    let fp = match self.dag.get(target) {
                        Some(Node::File { digest, .. }) => digest.map_or(EMPTY_FP, |d| d.fp()),
                        Some(Node::Symlink { fp, .. }) => *fp,
                        _ => 0,
                    };
                    let p = format!("{prefix}{}", strings.get(*name));
                    out.push((strings.intern(&p), fp));
                }
            }
        }
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
        let full = ContentDigest::parse(
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            0,
        );
        assert!(full.is_empty());
        assert_eq!(full.fp(), EMPTY_FP);
        assert!(!ContentDigest::parse("00ff", 0).is_empty());
        assert_eq!(
            ContentDigest::parse("0123456789abcdef0011", 9).fp(),
            0x0123_4567_89ab_cdef
        );
    }
}
