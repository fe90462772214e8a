//! Problems: the root causes a report leads with. Findings that share a
//! cause, an attribution and a mechanism (the same kind of place, or the
//! same way of encoding the value) are one problem, wherever they are: one
//! build root in `DW_AT_comp_dir` across seven objects is one problem.
//! Consequences are linked to the root finding they follow from and counted
//! under its problem.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::diff::ArtifactDelta;
use crate::finding::{
    Artifact, Attribution, Canary, Cause, Finding, Fingerprint, Location, Text, TimestampEncoding,
    hex,
};

/// Where, or by which mechanism, a problem's findings arise: what tells
/// two problems of the same cause apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// DWARF attributes and line tables, other debug sections.
    DebugInfo,
    /// RPATH/RUNPATH and other dynamic-linking strings.
    DynamicLinking,
    /// The path a `.pyc` records for its source (`co_filename`).
    CompiledPath,
    /// Values written into file content (text, strings, constants).
    Content,
    /// `__DATE__`, `__TIME__`, `__TIMESTAMP__` and other C-style dates.
    CompileTimeMacro,
    /// Times in archive entry headers (zip DOS times, tar and ar dates).
    ArchiveEntryTime,
    /// The source mtime in a `.pyc` header.
    PycSourceMtime,
    /// The MTIME field of a gzip header.
    GzipHeader,
    /// Integer clock readings in binary data.
    BinaryClock,
    /// File-system modification times.
    FileMtime,
    /// Members or entries of an archive in another order.
    MemberOrder,
    /// Elements of sets or dicts in hash order.
    HashOrder,
    /// Lines, records or symbols in another order.
    RecordOrder,
    /// Header fields of archive members (modes, owners).
    ArchiveHeader,
    /// One artifact as a whole (what could not be explained, parsed or
    /// compared).
    Artifact,
    /// Anything else of the cause.
    General,
}

impl Scope {
    pub fn describe(self) -> &'static str {
        match self {
            Scope::DebugInfo => "in debug info",
            Scope::DynamicLinking => "in dynamic-linking strings",
            Scope::CompiledPath => "as the path compiled .pyc files record",
            Scope::Content => "written into file content",
            Scope::CompileTimeMacro => "from __DATE__/__TIME__-style macros",
            Scope::ArchiveEntryTime => "in archive entry headers",
            Scope::PycSourceMtime => "as .pyc source mtimes",
            Scope::GzipHeader => "in gzip headers",
            Scope::BinaryClock => "as binary clock readings",
            Scope::FileMtime => "as file mtimes",
            Scope::MemberOrder => "of archive members",
            Scope::HashOrder => "by hash seed",
            Scope::RecordOrder => "of records",
            Scope::ArchiveHeader => "in archive member headers",
            Scope::Artifact => "in one artifact",
            Scope::General => "",
        }
    }
}

/// A root cause and the evidence for it.
#[derive(Clone, Debug, Serialize)]
pub struct Problem {
    /// Stable: derived from the fingerprints of its findings.
    pub id: ProblemId,
    /// The cause of its representative finding.
    pub cause: Cause,
    pub scope: Scope,
    /// The variation it was pinned to, when all its findings agree.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variation: Option<Attribution>,
    /// For problems of one artifact: which one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact: Option<Artifact>,
    pub hint: &'static str,
    /// The artifacts it touches (members named `outer!member`), sorted.
    pub artifacts: Vec<Artifact>,
    /// Top-level files it changes, and their bytes (the larger side): what
    /// a content-addressed cache stores and ships again because of it.
    pub files: u64,
    pub bytes: u64,
    /// Root findings, and consequences linked to them.
    pub findings: u64,
    pub consequences: u64,
    /// The finding shown as its evidence.
    pub representative: Fingerprint,
    /// Its root findings.
    pub members: Vec<Fingerprint>,
    /// The build actions that wrote its artifacts (`twice audit --trace`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
    /// Where in the sources it comes from, where that can be known.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceRef>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProblemId(pub [u8; 8]);

impl Serialize for ProblemId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex(&self.0))
    }
}

impl std::fmt::Display for ProblemId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

/// A process of the build that wrote an output, as traced.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Action {
    pub argv: Vec<Text>,
    /// Its working directory, relative to the source tree where it is
    /// inside it.
    pub cwd: Text,
    /// The outputs of the problem it wrote.
    pub wrote: Vec<Text>,
    /// What in its command line would fix the problem, or differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<ActionNote>,
    /// When it first wrote (the trace's order): the first writer of a
    /// problem's files is usually the one that made the content.
    #[serde(skip)]
    pub seq: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActionNote {
    /// A compile with debug info and no prefix map.
    NoPrefixMap,
    /// A `.pyc` compile without `--invalidation-mode checked-hash` or
    /// `unchecked-hash`.
    TimestampPyc,
    /// A `.pyc` compile without `-d`/`-p`/`-s` (absolute co_filename).
    AbsolutePycPath,
    /// `ar` without the deterministic modifier `D`.
    NonDeterministicAr,
}

/// A place in the sources.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SourceRef {
    /// Relative to the source tree where it lies inside it.
    pub file: Text,
    pub line: u64,
    pub certainty: Certainty,
    /// The line's text, trimmed.
    pub text: Text,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Certainty {
    /// From the artifact itself (a relocation and the line table).
    Certain,
    /// A match in the sources or the script that wrote the file.
    Likely,
}

/// What an audit learnt about where outputs come from.
#[derive(Clone, Debug, Default)]
pub struct Provenance {
    /// Output path (relative to the source tree) → the actions that wrote
    /// it, in the order they did.
    pub writers: BTreeMap<Vec<u8>, Vec<Action>>,
    /// Finding → places in the sources.
    pub sources: BTreeMap<Fingerprint, Vec<SourceRef>>,
}

/// Link each consequence to the root finding it follows from: the best
/// root in the same artifact, else in another member of the same
/// top-level file. Returns root by consequence.
pub(super) fn link_roots(findings: &mut [Finding]) {
    let roots: Vec<(usize, Artifact, String)> = findings
        .iter()
        .enumerate()
        .filter(|(_, f)| !matches!(f.cause, Cause::Consequence { .. }))
        .map(|(i, f)| (i, f.artifact.clone(), place_words(f)))
        .collect();
    let picks: Vec<(usize, Option<Fingerprint>)> = findings
        .iter()
        .enumerate()
        .filter_map(|(i, f)| match &f.cause {
            Cause::Consequence { of } => Some((i, of, &f.artifact)),
            _ => None,
        })
        .map(|(i, of, artifact)| {
            let best = roots
                .iter()
                .filter(|(_, a, _)| a.top() == artifact.top())
                .max_by_key(|(j, a, words)| {
                    let root = &findings[*j];
                    (
                        u8::from(a == artifact),
                        u8::from(!words.is_empty() && of.contains(words.as_str())),
                        u8::from(!matches!(root.cause, Cause::Unknown { .. })),
                        std::cmp::Reverse(*j),
                    )
                })
                .map(|(j, _, _)| findings[*j].fingerprint);
            (i, best)
        })
        .collect();
    for (i, root) in picks {
        findings[i].root = root;
    }
}

/// The words of a root's place a consequence's `of` may quote: a section
/// name, or a member's name.
fn place_words(f: &Finding) -> String {
    match &f.location {
        Location::Field { path, .. } => path
            .first()
            .map(|p| p.trim_start_matches("section ").to_owned())
            .unwrap_or_default(),
        _ => f.artifact.last().lossy().into_owned(),
    }
}

fn scope(f: &Finding) -> Scope {
    let first = match &f.location {
        Location::Field { path, .. } => path.first().map(String::as_str).unwrap_or(""),
        _ => "",
    };
    let in_path = |needle: &str| match &f.location {
        Location::Field { path, .. } => path.iter().any(|p| p.contains(needle)),
        _ => false,
    };
    let debug = first.starts_with("section .debug") || first.starts_with("DWARF");
    match &f.cause {
        Cause::BuildPath { .. } | Cause::Toolchain { .. } if debug => Scope::DebugInfo,
        Cause::BuildPath { .. } if first == "section .dynamic" || first == "section .dynstr" => {
            Scope::DynamicLinking
        }
        Cause::BuildPath { .. } if in_path("co_filename") => Scope::CompiledPath,
        Cause::BuildPath { .. } | Cause::Environment { .. } => Scope::Content,
        Cause::Timestamp { encoding } => match encoding {
            TimestampEncoding::CDate | TimestampEncoding::CTime | TimestampEncoding::Asctime
                if !matches!(f.location, Location::Lines { .. }) =>
            {
                Scope::CompileTimeMacro
            }
            TimestampEncoding::DosDateTime => Scope::ArchiveEntryTime,
            TimestampEncoding::PycSourceMtime => Scope::PycSourceMtime,
            TimestampEncoding::GzipMtime => Scope::GzipHeader,
            TimestampEncoding::FileMtime => Scope::FileMtime,
            TimestampEncoding::EpochLe32
            | TimestampEncoding::EpochBe32
            | TimestampEncoding::EpochLe64
            | TimestampEncoding::EpochBe64
                if first.starts_with("member ") || first.starts_with("entry ") =>
            {
                Scope::ArchiveEntryTime
            }
            TimestampEncoding::EpochLe32
            | TimestampEncoding::EpochBe32
            | TimestampEncoding::EpochLe64
            | TimestampEncoding::EpochBe64 => Scope::BinaryClock,
            _ => Scope::Content,
        },
        Cause::ArchiveHeader { .. } => Scope::ArchiveHeader,
        Cause::HashOrder { .. } => Scope::HashOrder,
        Cause::Ordering { .. }
            if first.contains("order") || first.starts_with("member") || in_path("entry order") =>
        {
            Scope::MemberOrder
        }
        Cause::Ordering { .. } => Scope::RecordOrder,
        Cause::Unknown { .. }
        | Cause::Unparsed { .. }
        | Cause::Limit { .. }
        | Cause::Suspicious { .. }
        | Cause::BuildIdOnly
        | Cause::Consequence { .. } => Scope::Artifact,
        _ => Scope::General,
    }
}

/// What groups findings into one problem.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    cause: &'static str,
    detail: Option<Canary>,
    scope: Scope,
    variation: Option<Attribution>,
    /// Set for problems of one artifact.
    artifact: Option<Artifact>,
}

fn key(f: &Finding) -> Key {
    let scope = scope(f);
    let cause = match &f.cause {
        // Exact and inferred build paths are one problem.
        Cause::BuildPath { .. } => "build_path",
        // Consequences without a root: one problem per artifact.
        c => c.name(),
    };
    Key {
        cause,
        detail: match &f.cause {
            Cause::Environment { what } => Some(*what),
            _ => None,
        },
        scope,
        variation: f.variation.clone(),
        artifact: (scope == Scope::Artifact).then(|| f.artifact.top()),
    }
}

/// Group findings (consequences already linked) into problems, ranked by
/// how many files and bytes they change.
pub(super) fn group(
    findings: &[Finding],
    artifacts: &[ArtifactDelta],
    provenance: Option<&Provenance>,
) -> Vec<Problem> {
    let by_fp: BTreeMap<Fingerprint, &Finding> =
        findings.iter().map(|f| (f.fingerprint, f)).collect();
    let mut groups: BTreeMap<Key, Vec<&Finding>> = BTreeMap::new();
    let mut consequences: BTreeMap<Fingerprint, u64> = BTreeMap::new();
    for f in findings {
        match (&f.cause, f.root.and_then(|r| by_fp.get(&r))) {
            (Cause::Consequence { .. }, Some(root)) => {
                *consequences.entry(root.fingerprint).or_default() += 1;
            }
            _ => groups.entry(key(f)).or_default().push(f),
        }
    }
    let sizes: BTreeMap<Artifact, u64> = artifacts
        .iter()
        .map(|d| {
            let size = |x: &Option<crate::diff::FileFacts>| x.as_ref().and_then(|x| x.size);
            (d.artifact.clone(), size(&d.a).max(size(&d.b)).unwrap_or(0))
        })
        .collect();
    let mut problems: Vec<Problem> = groups
        .into_iter()
        .map(|(key, members)| {
            let rep = representative(&members);
            let artifacts: BTreeSet<Artifact> = members
                .iter()
                .map(|f| f.artifact.clone())
                .chain(
                    findings
                        .iter()
                        .filter(|c| {
                            c.root
                                .is_some_and(|r| members.iter().any(|m| m.fingerprint == r))
                        })
                        .map(|c| c.artifact.clone()),
                )
                .collect();
            let tops: BTreeSet<Artifact> = artifacts.iter().map(Artifact::top).collect();
            let mut fps: Vec<Fingerprint> = members.iter().map(|f| f.fingerprint).collect();
            fps.sort();
            let mut h = blake3::Hasher::new();
            h.update(b"twice-problem-v1\0");
            for fp in &fps {
                h.update(&fp.0);
            }
            let mut id = [0u8; 8];
            id.copy_from_slice(&h.finalize().as_bytes()[..8]);
            let (actions, sources) = provenance
                .map(|p| attach(p, &members, &tops))
                .unwrap_or_default();
            Problem {
                id: ProblemId(id),
                cause: rep.cause.clone(),
                scope: key.scope,
                variation: key.variation,
                artifact: key.artifact,
                hint: rep.hint,
                files: tops.len() as u64,
                bytes: tops.iter().filter_map(|t| sizes.get(t)).sum(),
                artifacts: artifacts.into_iter().collect(),
                findings: members.len() as u64,
                consequences: fps.iter().filter_map(|fp| consequences.get(fp)).sum(),
                representative: rep.fingerprint,
                members: fps,
                actions,
                sources,
            }
        })
        .collect();
    problems.sort_by(|x, y| {
        (std::cmp::Reverse(x.files), std::cmp::Reverse(x.bytes), x.id).cmp(&(
            std::cmp::Reverse(y.files),
            std::cmp::Reverse(y.bytes),
            y.id,
        ))
    });
    problems
}

/// The finding that shows a problem best: attributed with certainty, not
/// in an archive member, earliest in report order.
fn representative<'f>(members: &[&'f Finding]) -> &'f Finding {
    members
        .iter()
        .copied()
        .min_by_key(|f| {
            (
                f.variation.as_ref().map(|v| v.by),
                f.artifact.depth(),
                &f.artifact,
            )
        })
        .expect("a problem has at least one finding")
}

/// The actions that wrote a problem's files, and the sources of its
/// findings, from what the audit traced.
fn attach(
    p: &Provenance,
    members: &[&Finding],
    tops: &BTreeSet<Artifact>,
) -> (Vec<Action>, Vec<SourceRef>) {
    let mut actions: Vec<Action> = Vec::new();
    for top in tops {
        let Some(writers) = p.writers.get(&top.first().0) else {
            continue;
        };
        for w in writers {
            match actions
                .iter_mut()
                .find(|a| a.argv == w.argv && a.cwd == w.cwd)
            {
                Some(a) => a.wrote.extend(w.wrote.iter().cloned()),
                None => actions.push(w.clone()),
            }
        }
    }
    for a in &mut actions {
        a.wrote.sort();
        a.wrote.dedup();
    }
    actions.sort_by_key(|a| a.seq);
    let mut sources: Vec<SourceRef> = members
        .iter()
        .filter_map(|f| p.sources.get(&f.fingerprint))
        .flatten()
        .cloned()
        .collect();
    sources.sort();
    sources.dedup();
    (actions, sources)
}
