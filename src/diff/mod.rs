//! The comparison driver: walks and hashes both sides, pairs entries,
//! compares what differs (file-system facts here, content through the format
//! comparators) and returns a typed [`Comparison`]. Reports are assembled
//! from comparisons one layer up.

mod comparison;
mod error;

pub use comparison::{ArtifactDelta, Comparison, FileFacts, Unreadable};
pub use error::DiffError;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::sync::{Condvar, Mutex};

use rayon::prelude::*;

use crate::classify::{Canaries, Classifier};
use crate::finding::{
    Artifact, Cause, Decoded, Evidence, Finding, Format, LimitKind, Location, MetadataField, Side,
    Text, sort_findings,
};
use crate::formats::{Cx, Limits, Pending};
use crate::tree::{Entry, EntryKind, Meta, Tree, open_regular, pair, read_file, walk};

/// What a comparison is asked to do.
#[derive(Clone, Debug)]
pub struct DiffOptions {
    /// Compare mode bits, mtimes and owners too.
    pub metadata: bool,
    pub canaries: Canaries,
    pub limits: Limits,
    /// Not read any more: what a comparison finds never depends on the
    /// date `twice` runs (issue 12, class 1). Kept only while `audit` and
    /// `execlog` still set it.
    pub now: i64,
    /// File content held in memory at once by all comparisons together.
    pub memory_bytes: u64,
}

impl Default for DiffOptions {
    fn default() -> DiffOptions {
        DiffOptions {
            metadata: false,
            canaries: Canaries::default(),
            limits: Limits::default(),
            now: 0,
            memory_bytes: 4 << 30,
        }
    }
}

/// Compare two files or two directory trees.
pub fn diff_paths(a: &Path, b: &Path, opts: &DiffOptions) -> Result<Comparison, DiffError> {
    let kind = |p: &Path| {
        fs::metadata(p).map_err(|source| DiffError::Input {
            path: p.to_path_buf(),
            source,
        })
    };
    let (ma, mb) = (kind(a)?, kind(b)?);
    // Special files at the top level are never opened (a FIFO would block).
    for (p, m) in [(a, &ma), (b, &mb)] {
        if !m.is_dir() && !m.is_file() {
            return Err(DiffError::NotRegular {
                path: p.to_path_buf(),
            });
        }
    }
    let (ta, tb) = match (ma.is_dir(), mb.is_dir()) {
        (true, true) => rayon::join(|| Ok(walked(a)), || Ok(walked(b))),
        (false, false) => {
            let name = a.file_name().unwrap_or(a.as_os_str()).as_encoded_bytes();
            rayon::join(|| single(a, name), || single(b, name))
        }
        (a_dir, _) => {
            let what = |d: bool| if d { "a directory" } else { "a file" };
            return Err(DiffError::Mismatch {
                a: a.to_path_buf(),
                b: b.to_path_buf(),
                a_is: what(a_dir),
                b_is: what(!a_dir),
            });
        }
    };
    let (ta, tb) = (ta?, tb?);
    Ok(compare_trees(&ta, &tb, opts))
}

fn walked(root: &Path) -> Tree {
    let mut tree = walk(root);
    tree.hash();
    tree
}

/// A one-entry tree for a top-level file, named `name` on both sides so the
/// two files pair up.
fn single(path: &Path, name: &[u8]) -> Result<Tree, DiffError> {
    let m = fs::metadata(path).map_err(|source| DiffError::Input {
        path: path.to_path_buf(),
        source,
    })?;
    let entry = Entry {
        kind: EntryKind::File {
            size: m.len(),
            digest: None,
        },
        meta: Meta::from_metadata(&m),
    };
    let mut tree = Tree::single(path, name, entry);
    tree.hash();
    if let Some(p) = tree.unreadable.pop() {
        return Err(DiffError::Input {
            path: p.path,
            source: std::io::Error::other(p.reason),
        });
    }
    Ok(tree)
}

/// Compare two walked and hashed trees.
pub fn compare_trees(ta: &Tree, tb: &Tree, opts: &DiffOptions) -> Comparison {
    let classifier = Classifier::new(opts.canaries.clone());
    let budget = MemoryBudget::new(opts.memory_bytes);
    let run = Run {
        ta,
        tb,
        classifier: &classifier,
        opts,
        budget: &budget,
    };
    let pairs = pair(ta, tb);
    let outcomes: Vec<Outcome> = pairs
        .par_iter()
        .map(|p| compare_pair(&run, p.rel, p.a, p.b))
        .collect();

    let mut out = Comparison {
        files_a: count_files(ta),
        files_b: count_files(tb),
        bytes_hashed: ta.file_bytes() + tb.file_bytes(),
        ..Comparison::default()
    };
    for (side, t) in [(Side::A, ta), (Side::B, tb)] {
        out.unreadable
            .extend(t.unreadable.iter().map(|p| Unreadable {
                side,
                path: Text::new(p.path.as_os_str().as_encoded_bytes()),
                reason: p.reason.clone(),
            }));
    }
    let mut pending = Vec::new();
    for o in outcomes {
        out.unreadable.extend(o.unreadable);
        match o.delta {
            Some(delta) => out.artifacts.push(delta),
            None if o.special => out.special += 1,
            None if o.compared => out.identical += 1,
            None => {}
        }
        out.findings.extend(o.findings);
        pending.extend(o.pending);
    }
    settle(&mut out.findings, &out.artifacts, pending);
    sort_findings(&mut out.findings);
    out.unreadable.sort();
    out
}

/// Settle the checksum-manifest lines no artifact settled by itself:
/// a consequence of the file they name where that file differs in the
/// comparison (`DEBIAN/md5sums` naming `usr/share/doc/x`), unknown
/// otherwise (issue 12, class 7).
fn settle(findings: &mut Vec<Finding>, artifacts: &[ArtifactDelta], pending: Vec<Pending>) {
    if pending.is_empty() {
        return;
    }
    let mut differing: BTreeSet<&Artifact> = artifacts.iter().map(|d| &d.artifact).collect();
    differing.extend(findings.iter().map(|f| &f.artifact));
    let differing: Vec<Artifact> = differing.into_iter().cloned().collect();
    for p in pending {
        let named = differing
            .iter()
            .find(|a| **a != p.finding.artifact && p.names(a))
            .cloned();
        findings.push(p.settle(named.as_ref()));
    }
}

/// Compare two contents of one artifact named `name` without a file
/// system: sniff them, run the comparator their format calls for
/// (recursing into archive members) and return the findings. The entry
/// point for fuzz targets, benchmarks and other tools.
pub fn compare_bytes(name: &[u8], a: &[u8], b: &[u8], opts: &DiffOptions) -> BytesComparison {
    compare_bytes_with(name, a, b, opts, None)
}

/// [`compare_bytes`] with the comparator of `format`, whatever the content
/// looks like (for fuzzing one comparator).
pub fn compare_bytes_as(
    format: Format,
    name: &[u8],
    a: &[u8],
    b: &[u8],
    opts: &DiffOptions,
) -> BytesComparison {
    compare_bytes_with(name, a, b, opts, Some(format))
}

fn compare_bytes_with(
    name: &[u8],
    a: &[u8],
    b: &[u8],
    opts: &DiffOptions,
    format: Option<Format>,
) -> BytesComparison {
    let classifier = Classifier::new(opts.canaries.clone());
    let mut cx = Cx::new(Artifact::new(name), &classifier, &opts.limits);
    let format = (a != b).then(|| match format {
        Some(f) => {
            crate::formats::comparator(f).compare(&mut cx, a, b);
            f
        }
        None => crate::formats::compare_bytes(&mut cx, a, b),
    });
    let (mut findings, omitted) = cx.finish();
    sort_findings(&mut findings);
    BytesComparison {
        format,
        findings,
        omitted,
    }
}

/// What [`compare_bytes`] found.
#[derive(Clone, Debug)]
pub struct BytesComparison {
    /// The comparator used; `None` when the contents are equal.
    pub format: Option<Format>,
    pub findings: Vec<Finding>,
    /// Findings dropped by the per-artifact limit.
    pub omitted: u64,
}

fn count_files(t: &Tree) -> u64 {
    t.entries
        .values()
        .filter(|e| !matches!(e.kind, EntryKind::Dir))
        .count() as u64
}

/// What comparing one relative path yielded.
#[derive(Default)]
struct Outcome {
    delta: Option<ArtifactDelta>,
    findings: Vec<Finding>,
    /// Checksum-manifest lines settled once every artifact is compared.
    pending: Vec<Pending>,
    unreadable: Vec<Unreadable>,
    /// A non-directory entry present on both sides.
    compared: bool,
    /// Special files on both sides: reported, never read.
    special: bool,
}

fn facts(e: &Entry) -> FileFacts {
    let (size, digest) = match e.kind {
        EntryKind::File { size, digest } => (Some(size), digest),
        _ => (None, None),
    };
    FileFacts {
        kind: e.kind.name(),
        size,
        digest,
        mode: e.meta.mode,
    }
}

/// A directory with entries below it: its children speak for it.
fn has_children(t: &Tree, rel: &[u8]) -> bool {
    let mut prefix = rel.to_vec();
    prefix.push(b'/');
    t.entries
        .range(prefix.clone()..)
        .next()
        .is_some_and(|(k, _)| k.starts_with(&prefix))
}

/// What every pair of one comparison shares.
struct Run<'a> {
    ta: &'a Tree,
    tb: &'a Tree,
    classifier: &'a Classifier,
    opts: &'a DiffOptions,
    budget: &'a MemoryBudget,
}

fn compare_pair(run: &Run<'_>, rel: &[u8], a: Option<&Entry>, b: Option<&Entry>) -> Outcome {
    if crate::interrupt::interrupted() {
        return Outcome::default();
    }
    let Run { ta, tb, opts, .. } = *run;
    let artifact = Artifact::new(rel);
    let mut cx = Cx::new(artifact.clone(), run.classifier, &opts.limits);
    let mut out = Outcome::default();
    let mut format = None;
    match (a, b) {
        (Some(e), None) | (None, Some(e)) => {
            let (side, tree) = if a.is_some() {
                (Side::A, ta)
            } else {
                (Side::B, tb)
            };
            if matches!(e.kind, EntryKind::Dir) && has_children(tree, rel) {
                return out;
            }
            let present = Evidence::value(e.kind.name());
            let (ea, eb) = match side {
                Side::A => (present, Evidence::absent()),
                Side::B => (Evidence::absent(), present),
            };
            cx.emit(
                Location::File,
                Cause::OnlyIn { side },
                ea,
                eb,
                e.kind.name().as_bytes(),
            );
        }
        (Some(ea), Some(eb)) => {
            out.compared = !matches!(ea.kind, EntryKind::Dir);
            match (&ea.kind, &eb.kind) {
                (EntryKind::File { digest: da, .. }, EntryKind::File { digest: db, .. }) => {
                    // A side that could not be read is listed as unreadable,
                    // never counted identical.
                    out.compared = da.is_some() && db.is_some();
                    if ea.meta.executable() != eb.meta.executable() {
                        emit_meta(
                            &mut cx,
                            MetadataField::ExecutableBit,
                            Cause::ExecutableBit,
                            ea,
                            eb,
                        );
                    }
                    if let (Some(da), Some(db)) = (da, db)
                        && da != db
                    {
                        format = compare_content(&mut cx, &mut out, run, rel);
                    }
                }
                (EntryKind::Symlink { target: x }, EntryKind::Symlink { target: y }) => {
                    if x != y {
                        cx.emit(
                            Location::Metadata {
                                field: MetadataField::SymlinkTarget,
                            },
                            Cause::SymlinkTarget,
                            Evidence::value(x.clone()),
                            Evidence::value(y.clone()),
                            x,
                        );
                    }
                }
                (EntryKind::Dir, EntryKind::Dir) => {}
                (EntryKind::Special(x), EntryKind::Special(y)) if x == y => out.special = true,
                (x, y) => cx.emit(
                    Location::File,
                    Cause::FileType,
                    Evidence::value(x.name()),
                    Evidence::value(y.name()),
                    b"",
                ),
            }
            if opts.metadata {
                compare_metadata(&mut cx, ea, eb);
            }
        }
        (None, None) => {}
    }
    let (findings, omitted, pending) = cx.finish_pending();
    if !findings.is_empty() || !pending.is_empty() || omitted > 0 {
        out.special = false;
        out.delta = Some(ArtifactDelta {
            artifact,
            format,
            a: a.map(facts),
            b: b.map(facts),
            findings: (findings.len() + pending.len()) as u64,
            omitted,
        });
    }
    out.findings = findings;
    out.pending = pending;
    out
}

fn mode_evidence(e: &Entry) -> Evidence {
    let mode = e.meta.mode;
    let mut ev = Evidence::value(format!("{mode:04o}"));
    ev.decoded = Some(Decoded::Mode(mode));
    ev
}

fn emit_meta(cx: &mut Cx<'_>, field: MetadataField, cause: Cause, a: &Entry, b: &Entry) {
    let (ea, eb) = match field {
        MetadataField::Mtime => {
            let time = |e: &Entry| {
                let mut ev = Evidence::value(crate::classify::format_epoch(e.meta.mtime));
                ev.decoded = Some(Decoded::Time(e.meta.mtime));
                ev
            };
            (time(a), time(b))
        }
        MetadataField::Uid => (
            Evidence::value(a.meta.uid.to_string()),
            Evidence::value(b.meta.uid.to_string()),
        ),
        MetadataField::Gid => (
            Evidence::value(a.meta.gid.to_string()),
            Evidence::value(b.meta.gid.to_string()),
        ),
        _ => (mode_evidence(a), mode_evidence(b)),
    };
    cx.emit(Location::Metadata { field }, cause, ea, eb, b"");
}

fn compare_metadata(cx: &mut Cx<'_>, a: &Entry, b: &Entry) {
    let (ma, mb) = (a.meta, b.meta);
    // The executable bit is always compared (for files); here the rest.
    if ma.mode & !0o111 != mb.mode & !0o111 {
        emit_meta(
            cx,
            MetadataField::Mode,
            Cause::Metadata {
                field: MetadataField::Mode,
            },
            a,
            b,
        );
    }
    if ma.mtime != mb.mtime {
        emit_meta(
            cx,
            MetadataField::Mtime,
            Cause::Metadata {
                field: MetadataField::Mtime,
            },
            a,
            b,
        );
    }
    if ma.uid != mb.uid {
        emit_meta(
            cx,
            MetadataField::Uid,
            Cause::Metadata {
                field: MetadataField::Uid,
            },
            a,
            b,
        );
    }
    if ma.gid != mb.gid {
        emit_meta(
            cx,
            MetadataField::Gid,
            Cause::Metadata {
                field: MetadataField::Gid,
            },
            a,
            b,
        );
    }
}

/// Read both files and hand them to the comparator their content calls for.
/// Files larger than `max_file_bytes` are not read: a `limit` finding says
/// they differ by digest only. What both files hold in memory is charged to
/// the comparison's memory budget first.
fn compare_content(
    cx: &mut Cx<'_>,
    out: &mut Outcome,
    run: &Run<'_>,
    rel: &[u8],
) -> Option<Format> {
    let (pa, pb) = (run.ta.file_path(rel), run.tb.file_path(rel));
    match compare_large(cx, &pa, &pb) {
        Ok(Some(format)) => return Some(format),
        Ok(None) => {}
        Err(_) => {} // Opened again below, where a failure is reported.
    }
    let size = |t: &Tree| match t.entries.get(rel).map(|e| &e.kind) {
        Some(EntryKind::File { size, .. }) => *size,
        _ => 0,
    };
    let max = run.opts.limits.max_file_bytes;
    let (sa, sb) = (size(run.ta), size(run.tb));
    if sa > max || sb > max {
        // Structured content too large to hold: digests only.
        cx.limit(LimitKind::FileBytes, max);
        return None;
    }
    let _grant = run.budget.take(sa + sb);
    let open = |side: Side, t: &Tree| {
        let path = t.file_path(rel);
        read_file(&path, max).map_err(|e| Unreadable {
            side,
            path: Text::new(path.as_os_str().as_encoded_bytes()),
            reason: e.to_string(),
        })
    };
    let (da, db) = match (open(Side::A, run.ta), open(Side::B, run.tb)) {
        (Ok(x), Ok(y)) => (x, y),
        (x, y) => {
            out.unreadable.extend(x.err());
            out.unreadable.extend(y.err());
            return None;
        }
    };
    Some(crate::formats::compare_bytes(cx, &da, &db))
}

/// Bytes of file content all comparisons of one run may hold at once. A
/// comparison waits until its two files fit; one pair larger than the
/// whole budget runs alone.
struct MemoryBudget {
    total: u64,
    left: Mutex<u64>,
    freed: Condvar,
}

impl MemoryBudget {
    fn new(total: u64) -> MemoryBudget {
        MemoryBudget {
            total,
            left: Mutex::new(total),
            freed: Condvar::new(),
        }
    }

    fn take(&self, bytes: u64) -> Grant<'_> {
        let bytes = bytes.min(self.total);
        let mut left = self.left.lock().unwrap_or_else(|e| e.into_inner());
        while *left < bytes {
            left = self.freed.wait(left).unwrap_or_else(|e| e.into_inner());
        }
        *left -= bytes;
        Grant {
            budget: self,
            bytes,
        }
    }
}

struct Grant<'b> {
    budget: &'b MemoryBudget,
    bytes: u64,
}

impl Drop for Grant<'_> {
    fn drop(&mut self) {
        let mut left = self.budget.left.lock().unwrap_or_else(|e| e.into_inner());
        *left += self.bytes;
        self.budget.freed.notify_all();
    }
}

/// Files larger than `max_resident_bytes` whose content has no structure
/// `twice` reads (binary data, text) are compared as streams with plain
/// reads: a multi-gigabyte disk image costs its read buffers, not its size
/// in resident pages. `None`: compare them in memory.
fn compare_large(cx: &mut Cx<'_>, a: &Path, b: &Path) -> std::io::Result<Option<Format>> {
    use std::io::Read;
    let (mut fa, la) = open_regular(a)?;
    let (mut fb, lb) = open_regular(b)?;
    if la.max(lb) <= cx.limits.max_resident_bytes {
        return Ok(None);
    }
    let head = |f: &mut fs::File| -> std::io::Result<Vec<u8>> {
        let mut v = Vec::new();
        f.take(8192).read_to_end(&mut v)?;
        Ok(v)
    };
    let format = crate::formats::sniff_pair(&head(&mut fa)?, &head(&mut fb)?);
    if !matches!(format, Format::Binary | Format::Text) {
        return Ok(None);
    }
    let (mut fa, _) = open_regular(a)?;
    let (mut fb, _) = open_regular(b)?;
    crate::formats::compare_streams(cx, &mut fa, &mut fb)?;
    Ok(Some(Format::Binary))
}
