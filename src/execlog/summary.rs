//! The first pass over a log: per action, a pairing key, a digest of
//! everything compared and a few flags (about 32 bytes), plus who produced
//! which path. Nothing else is kept, so memory does not grow with the
//! strings of a log; the second pass (`detail.rs`) reads again only the
//! actions that differ.

use std::collections::BTreeMap;

use super::hash::{DIR, Key2, MISSING, finish, h, mix};
use super::view::{FileView, OutputsView, SpawnView, file_fp, output_rank, symlink_fp};

/// Flags of an action (`ActSum::flags`).
pub(crate) mod flag {
    /// Answered by a cache, not executed.
    pub(crate) const HIT: u16 = 1;
    pub(crate) const CACHEABLE: u16 = 1 << 1;
    pub(crate) const REMOTE_CACHEABLE: u16 = 1 << 2;
    pub(crate) const REMOTABLE: u16 = 1 << 3;
    /// A non-empty status or a non-zero exit code.
    pub(crate) const FAILED: u16 = 1 << 4;
    /// A declared output was not produced (or not logged).
    pub(crate) const UNPRODUCED: u16 = 1 << 5;
    /// Neither inputs nor outputs.
    pub(crate) const NO_IO: u16 = 1 << 6;
    /// Buck2: no command line (remote and cached actions).
    pub(crate) const NO_COMMAND: u16 = 1 << 7;
}

/// One action after the first pass: 24 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ActSum {
    /// What pairs it with its counterpart in the other build (112 bits,
    /// `Key2`), with the flags in the low 16 bits.
    key: [u64; 2],
    /// A digest of everything compared (command, environment, platform,
    /// timeout, inputs, outputs, status, action key).
    pub(crate) content: u64,
}

impl ActSum {
    pub(crate) fn new(key: [u64; 2], content: u64, flags: u16) -> ActSum {
        ActSum {
            key: [key[0], key[1] & !0xffff | u64::from(flags)],
            content,
        }
    }
    pub(crate) fn key(&self) -> [u64; 2] {
        [self.key[0], self.key[1] & !0xffff]
    }
    pub(crate) fn flags(&self) -> u16 {
        (self.key[1] & 0xffff) as u16
    }
    pub(crate) fn has(&self, f: u16) -> bool {
        self.flags() & f != 0
    }
}

/// A produced path: its hash and the action (12 bytes, not 16).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Prod {
    hi: u32,
    lo: u32,
    pub(crate) action: u32,
}

impl Prod {
    pub(crate) fn new(path: u64, action: u32) -> Prod {
        Prod {
            hi: (path >> 32) as u32,
            lo: path as u32,
            action,
        }
    }
    fn path(&self) -> u64 {
        u64::from(self.hi) << 32 | u64::from(self.lo)
    }
}

/// What a reader learnt about a log besides its actions.
#[derive(Clone, Debug, Default)]
pub(crate) struct Notes {
    /// The hash function of its digests, when the log names one.
    pub(crate) hash_function: String,
    /// Fields this version of `twice` does not know: `message.field` and
    /// how often each occurred.
    pub(crate) unknown_fields: BTreeMap<String, u64>,
    /// Whether the log can record unresolved symlinks as such (Bazel 4
    /// logs leave them out of the outputs).
    pub(crate) symlinks_recorded: bool,
    /// The main repository's runfiles directory (compact 7.4+).
    pub(crate) workspace: String,
    /// The layout recognised, when a format has several.
    pub(crate) layout: Option<&'static str>,
    /// Buck2 executor kinds this version does not know, and how often.
    pub(crate) unknown_executors: BTreeMap<String, u64>,
    /// The size of the file, and decompressed (compact logs).
    pub(crate) bytes: u64,
    pub(crate) decompressed: u64,
}

impl Notes {
    pub(crate) fn unknown(&mut self, message: &str, field: &str) {
        *self
            .unknown_fields
            .entry(format!("{message}.{field}"))
            .or_default() += 1;
    }

    /// The hash function for digests that do not name theirs.
    pub(crate) fn function(&self) -> &str {
        if self.hash_function.is_empty() {
            "SHA-256"
        } else {
            &self.hash_function
        }
    }

    pub(crate) fn saw_function(&mut self, f: &str) {
        if self.hash_function.is_empty() && !f.is_empty() {
            self.hash_function = f.to_owned();
        }
    }
}

/// The first pass's result for one log.
#[derive(Debug, Default)]
pub(crate) struct LogSummary {
    pub(crate) actions: Vec<ActSum>,
    /// JSON and binary logs: where each spawn's record starts in the file,
    /// so the second pass reads only the records it needs.
    pub(crate) offsets: Vec<u64>,
    /// Sorted by path hash.
    pub(crate) producers: Vec<Prod>,
    /// Symlink actions (compact logs): output path hash → input path hash.
    pub(crate) aliases: Vec<(u64, u64)>,
    pub(crate) notes: Notes,
}

impl LogSummary {
    pub(crate) fn finish(&mut self) {
        self.producers.sort_unstable();
        self.producers.dedup_by_key(|p| p.path());
        self.producers.shrink_to_fit();
        self.actions.shrink_to_fit();
        self.offsets.shrink_to_fit();
        self.aliases.sort_unstable();
    }

    /// The action that produced the path with this hash.
    pub(crate) fn producer(&self, path: u64) -> Option<u32> {
        let i = self
            .producers
            .binary_search_by_key(&path, Prod::path)
            .ok()?;
        self.producers.get(i).map(|p| p.action)
    }

    pub(crate) fn alias(&self, path: u64) -> Option<u64> {
        let i = self.aliases.binary_search_by_key(&path, |a| a.0).ok()?;
        self.aliases.get(i).map(|a| a.1)
    }

    pub(crate) fn count(&self, f: u16) -> u64 {
        self.actions.iter().filter(|a| a.has(f)).count() as u64
    }
}

/// The part of the digest that does not depend on files: command line,
/// environment, platform, timeout, outcome and action key.
pub(crate) fn command_hash(v: &SpawnView<'_>) -> u64 {
    let mut acc = 0x0123_4567_89ab_cdefu64;
    for a in &v.args {
        acc = mix(acc, h(a));
    }
    let mut env = 0u64;
    for (k, x) in &v.env {
        env = env.wrapping_add(mix(h(k), h(x)));
    }
    let mut platform = 0u64;
    for (k, x) in &v.platform {
        platform = platform.wrapping_add(mix(h(k), h(x)));
    }
    acc = mix(acc, env);
    acc = mix(acc, platform ^ 0x706c_6174);
    acc = mix(acc, v.timeout_millis as u64);
    acc = mix(acc, h(&v.status));
    acc = mix(acc, v.exit_code as u32 as u64);
    let key = v
        .digest
        .as_ref()
        .map_or(0, |d| finish(h(&d.hash) ^ d.size as u64));
    mix(acc, key)
}

/// The flags every Bazel format agrees on.
pub(crate) fn flags_of(v: &SpawnView<'_>) -> u16 {
    let mut f = 0;
    let set = |f: &mut u16, on: bool, bit: u16| {
        if on {
            *f |= bit;
        }
    };
    set(&mut f, v.hit(), flag::HIT);
    set(&mut f, v.cacheable, flag::CACHEABLE);
    set(&mut f, v.remote_cacheable, flag::REMOTE_CACHEABLE);
    set(&mut f, v.remotable, flag::REMOTABLE);
    set(
        &mut f,
        !v.status.is_empty() || v.exit_code != 0,
        flag::FAILED,
    );
    f
}

/// The pairing key of a Bazel spawn: its mnemonic and the output that names
/// it best (an exec path has one generating action); without outputs, its
/// label and mnemonic.
pub(crate) fn bazel_key(v: &SpawnView<'_>, key_output: Option<u64>) -> [u64; 2] {
    match key_output {
        Some(out) => Key2::default().str("out").str(&v.mnemonic).num(out).done(),
        None => Key2::default()
            .str("target")
            .str(v.label().unwrap_or(""))
            .str(&v.mnemonic)
            .done(),
    }
}

/// A path hash with the rank of the output in its top bit, so that the
/// smallest value is the best name.
pub(crate) fn ranked(path: &str) -> u64 {
    let hash = h(path) >> 1;
    hash | u64::from(output_rank(path)) << 63
}

/// The hash of a path as the producer table keys it.
pub(crate) fn path_hash(path: &str) -> u64 {
    h(path)
}

/// The fingerprint of a listed file: its digest, or its symlink target.
pub(crate) fn fp_of_file(f: &FileView<'_>, function: &str) -> u64 {
    if f.symlink.is_empty() {
        file_fp(f.digest.as_ref())
    } else {
        symlink_fp(&f.symlink, function)
    }
}

/// One input or output file's share of a digest.
pub(crate) fn file_term(path: u64, fp: u64) -> u64 {
    mix(path, fp)
}

/// Summarise a spawn of a JSON or binary log.
pub(crate) fn summarize_flat(
    v: &SpawnView<'_>,
    notes: &mut Notes,
    producers: &mut Vec<Prod>,
    action: u32,
) -> ActSum {
    let mut inputs = 0u64;
    let mut n_inputs = 0usize;
    if let super::view::InputsView::Flat(files) = &v.inputs {
        for f in files {
            if let Some(d) = &f.digest {
                notes.saw_function(&d.function);
            }
            inputs = inputs.wrapping_add(file_term(
                path_hash(&f.path),
                fp_of_file(f, notes.function()),
            ));
        }
        n_inputs = files.len();
    }
    let (outputs, key_output, unproduced, n_outputs) = match &v.outputs {
        OutputsView::Listed { listed, actual } => {
            flat_outputs(listed, actual, notes, producers, action)
        }
        OutputsView::Entries(_) => (0, None, false, 0),
    };
    let mut flags = flags_of(v);
    if unproduced {
        flags |= flag::UNPRODUCED;
    }
    if n_inputs == 0 && n_outputs == 0 {
        flags |= flag::NO_IO;
    }
    ActSum::new(
        bazel_key(v, key_output),
        mix(mix(command_hash(v), inputs), outputs ^ 0x6f75_7470),
        flags,
    )
}

/// The outputs of a JSON or binary spawn: a listed output with actual
/// outputs below it is a directory (a tree artifact), whose files count
/// one by one, as a compact log's `Directory` does.
fn flat_outputs(
    listed: &[super::view::Str<'_>],
    actual: &[FileView<'_>],
    notes: &Notes,
    producers: &mut Vec<Prod>,
    action: u32,
) -> (u64, Option<u64>, bool, usize) {
    let mut sum = 0u64;
    let mut key: Option<u64> = None;
    let mut unproduced = false;
    for l in listed {
        let p = path_hash(l);
        producers.push(Prod::new(p, action));
        let r = ranked(l);
        key = Some(key.map_or(r, |k| k.min(r)));
        let exact = actual.iter().find(|f| f.path == *l);
        let state = match exact {
            Some(f) => fp_of_file(f, notes.function()),
            None if is_dir(l, actual) => DIR,
            None => {
                unproduced = true;
                MISSING
            }
        };
        sum = sum.wrapping_add(file_term(p, state));
    }
    for f in actual {
        if listed.contains(&f.path) {
            continue;
        }
        // Below a listed directory (or, unusually, not listed at all).
        sum = sum.wrapping_add(file_term(
            path_hash(&f.path),
            fp_of_file(f, notes.function()),
        ));
    }
    (sum, key, unproduced, listed.len().max(actual.len()))
}

/// Whether a listed output is a directory of the actual outputs.
pub(crate) fn is_dir(listed: &str, actual: &[FileView<'_>]) -> bool {
    actual.iter().any(|f| {
        f.path.len() > listed.len()
            && f.path.starts_with(listed)
            && f.path.as_bytes().get(listed.len()) == Some(&b'/')
    })
}
