//! The `execlog` report model: typed facts about paired actions, rendered at
//! the edge (text in `render.rs`, JSON as is, versioned by
//! `schema_version`).
//!
//! JSON schema (version 2) changes in this version, all additions:
//! `label` is `null` when the log does not name the target (it was `""`);
//! classes `failed` and `not_compared`, with `summary.failed` and
//! `summary.not_compared`; reasons `timeout`, `digest_function` and
//! `inputs_not_compared`; `failure`, `run_a` and `run_b` on actions;
//! `symlink_a`, `symlink_b` and `inferred` on outputs and the `symlink`
//! comparison; more `limitations`; `layout` and `bytes` on inputs; `misses`
//! (with `--explain-misses`), where `inputs.a` is `null` without a
//! baseline.

use serde::Serialize;

use super::error::LogFormat;
use crate::finding::{Finding, Side, Text};
use crate::report::{CommandKind, Envelope, Inputs, Verdict};

#[derive(Clone, Debug, Serialize)]
pub struct ExeclogReport {
    #[serde(flatten)]
    pub envelope: Envelope<Option<LogInput>>,
    pub summary: ExeclogSummary,
    /// Actions whose own cache key or outputs differ (non-deterministic,
    /// non-hermetic, unexplained), worst first: by how many actions they
    /// tainted, transitively.
    pub roots: Vec<Root>,
    /// Every paired action that is not identical: roots first, then the
    /// other classes; by label, mnemonic and primary output within a class.
    pub actions: Vec<ActionDelta>,
    /// Actions found in one log only.
    pub only_a: Vec<ActionRef>,
    pub only_b: Vec<ActionRef>,
    /// What the logs could not say, and what could not be read.
    pub limitations: Vec<Limitation>,
    /// `--explain-misses`: why each action of the build that executed did
    /// not come from the cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub misses: Option<MissReport>,
}

/// The two logs compared (`a` is `None` with `--explain-misses` and no
/// baseline).
pub type LogInputs = Inputs<Option<LogInput>>;

#[derive(Clone, Debug, Serialize)]
pub struct LogInput {
    pub path: Text,
    pub format: LogFormat,
    /// The layout recognised, for formats with several (`compact 7.4+`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<&'static str>,
    pub bytes: u64,
    pub actions: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ExeclogSummary {
    pub paired: u64,
    pub identical: u64,
    pub non_deterministic: u64,
    pub non_hermetic: u64,
    pub tainted: u64,
    pub unexplained: u64,
    /// Failed in one build (or with another status or exit code).
    pub failed: u64,
    /// Paired, but one log has nothing to compare them by.
    pub not_compared: u64,
    pub only_a: u64,
    pub only_b: u64,
    /// How many actions each reason occurs in, most frequent first: one
    /// environment variable that differs everywhere shows as one line.
    /// Reasons of failed actions are not counted.
    pub by_reason: Vec<ReasonCount>,
}

/// One kind of reason (with its variable, property or input, when it has
/// one) and the number of actions it occurs in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ReasonCount {
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub actions: u64,
}

impl Reason {
    /// The reason's kind and, for environment, platform and input reasons,
    /// what it names: the key under which `by_reason` counts it.
    pub fn key(&self) -> (&'static str, Option<&str>) {
        match self {
            Reason::Arguments { .. } => ("arguments", None),
            Reason::Environment { name, .. } => ("environment", Some(name)),
            Reason::Platform { name, .. } => ("platform", Some(name)),
            Reason::Input { path, .. } => ("input", Some(path)),
            Reason::Timeout { .. } => ("timeout", None),
            Reason::DigestFunction { .. } => ("digest_function", None),
            Reason::InputsNotCompared => ("inputs_not_compared", None),
            Reason::ActionKey { .. } => ("action_key", None),
        }
    }
}

/// How a paired action compares across the two builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Same command, environment and inputs; different outputs.
    NonDeterministic,
    /// The command line, environment, platform, timeout or a source or tool
    /// input differs.
    NonHermetic,
    /// The cache key differs and the log does not record why.
    Unexplained,
    /// It failed in one build and not the other (or failed differently).
    Failed,
    /// Only inputs produced by differing upstream actions differ.
    Tainted,
    /// One log records neither a key nor a command for it (Buck2
    /// `LocalDepFileCache`).
    NotCompared,
    Identical,
}

impl Class {
    pub fn is_root(self) -> bool {
        matches!(
            self,
            Class::NonDeterministic | Class::NonHermetic | Class::Unexplained
        )
    }
}

/// An action as a person finds it in the build: target, mnemonic, primary
/// output.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ActionRef {
    /// `None` when the log does not say (Bazel 4 C++ actions).
    pub label: Option<String>,
    pub mnemonic: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_output: Option<String>,
}

/// Why a non-hermetic or unexplained action's cache key differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// The command lines differ from argument `at` on: `a` and `b` are the
    /// differing middle (common prefix and suffix removed, at most
    /// `ARGS_SHOWN` each).
    Arguments {
        at: usize,
        a: Vec<String>,
        b: Vec<String>,
        a_len: usize,
        b_len: usize,
    },
    Environment {
        name: String,
        a: Option<String>,
        b: Option<String>,
    },
    Platform {
        name: String,
        a: Option<String>,
        b: Option<String>,
    },
    /// A source or tool input (produced by no logged action) differs; `a` and
    /// `b` are the first 16 hex digits of its digest on each side, absent
    /// when the side lacks the input.
    Input {
        path: String,
        tool: bool,
        a: Option<String>,
        b: Option<String>,
    },
    /// `timeoutMillis` differs (part of the action key).
    Timeout { a: i64, b: i64 },
    /// The builds used different `--digest_function`s: every digest differs,
    /// so inputs and outputs were not compared.
    DigestFunction { a: String, b: String },
    /// The inputs were not expanded (more than the expansion budget).
    InputsNotCompared,
    /// The action-cache keys differ though nothing the log records does.
    ActionKey { a: String, b: String },
}

/// How many arguments of a differing command-line region are shown.
pub const ARGS_SHOWN: usize = 8;

/// How an action ran in one build, as far as the log says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
    pub cache_hit: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub exit_code: i32,
    /// Buck2: `duration`, `std_err`, `scheduling_mode`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub std_err: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduling_mode: Option<String>,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// A failure in one build or both: which side failed, and how.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The side that failed; `None` when both did, differently.
    pub side: Option<Side>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ActionDelta {
    pub action: ActionRef,
    pub class: Class,
    pub runner_a: String,
    pub runner_b: String,
    pub run_a: RunInfo,
    pub run_b: RunInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Reason>,
    /// Upstream actions whose differing outputs this action consumed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tainted_by: Vec<Upstream>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<OutputDelta>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Upstream {
    pub action: ActionRef,
    /// Set when the producing action ran in one build only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only: Option<Side>,
    /// The consumed paths that differ.
    pub paths: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct OutputDelta {
    pub path: String,
    /// The digest (`hash/size`), or for an output the log does not list,
    /// the first 16 hex digits its consumers saw; `None` when absent or not
    /// a file.
    pub a: Option<String>,
    pub b: Option<String>,
    /// Unresolved symlinks: their targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symlink_a: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symlink_b: Option<String>,
    /// The log does not list this output (Bazel 4 leaves dangling symlinks
    /// out); `a` and `b` are what its consumers read.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub inferred: bool,
    /// The structural diff of the two files, with `--fetch-outputs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<OutputComparison>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum OutputComparison {
    Compared {
        verdict: Verdict,
        findings: Vec<Finding>,
        #[serde(skip)]
        report: Box<crate::report::Report>,
    },
    /// Both are symlinks (compared as links, not followed).
    Symlink { a: String, b: String },
    /// The output is not in that side's output tree.
    Missing { side: Side },
    /// The comparison failed (unreadable file, a link against a file).
    Failed { error: String },
}

#[derive(Clone, Debug, Serialize)]
pub struct Root {
    pub action: ActionRef,
    pub class: Class,
    /// Actions tainted transitively.
    pub tainted: u64,
    /// Actions tainted directly (consumers of its outputs).
    pub direct: u64,
    /// The longest taint chain from this root, for the worst offenders
    /// (root first).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<ActionRef>,
}

/// A name and how often it occurred.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NameCount {
    pub name: String,
    pub count: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Limitation {
    /// Buck2 what-ran logs record no inputs or outputs: no taint analysis,
    /// no output digests.
    NoInputsOrOutputs { side: Side },
    /// Buck2 records no command line for remote or cached actions.
    NoCommandLines { side: Side, actions: u64 },
    /// The log holds no actions: Bazel writes an empty log when nothing
    /// executed (everything came from its in-memory or on-disk action
    /// cache). `bytes` is the size of the file.
    EmptyLog { side: Side, bytes: u64 },
    /// The log has fields this version of `twice` does not know
    /// (`Message.field`), ignored: the comparison may miss what they hold.
    UnknownFields { side: Side, fields: Vec<NameCount> },
    /// Actions with neither inputs nor outputs: all of them, which means the
    /// log's layout was not understood.
    NoFilesAtAll { side: Side, actions: u64 },
    /// Buck2 executor kinds this version does not know, compared by what
    /// their records carry.
    UnknownExecutors {
        side: Side,
        executors: Vec<NameCount>,
    },
    /// The logs use different digest functions: inputs and outputs cannot
    /// be compared.
    DigestFunctions { a: String, b: String },
    /// Inputs of this many pairs were not expanded (the budget of expanded
    /// inputs ran out).
    InputBudget { actions: u64 },
    /// The log cannot record unresolved symlinks as outputs (Bazel before
    /// 5): their consumers' inputs are the only evidence.
    SymlinksNotRecorded { side: Side },
}

/// `--explain-misses`: the build's executed actions and why each did not
/// come from the cache.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MissReport {
    /// Spawns in the build, how many were cache hits and how many executed.
    pub spawns: u64,
    pub hits: u64,
    pub executed: u64,
    /// Executed only because upstream non-deterministic actions changed
    /// their inputs: they would have hit the cache.
    pub would_have_hit: u64,
    /// The non-deterministic actions behind `would_have_hit`.
    pub nondeterministic_roots: u64,
    /// How many executed actions each kind of reason explains.
    pub by_kind: Vec<NameCount>,
    /// The upstream roots of the misses, most misses first.
    pub by_root: Vec<MissRoot>,
    /// Every executed action, by kind, then name.
    pub misses: Vec<Miss>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MissRoot {
    pub action: ActionRef,
    /// `None` for an action of one build only, or (without a baseline) an
    /// executed action.
    pub class: Option<Class>,
    /// Executed actions whose inputs it changed (itself not counted).
    pub misses: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Miss {
    pub action: ActionRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
    pub why: MissWhy,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MissWhy {
    /// Its inputs changed because upstream root actions changed their
    /// outputs; `roots` are those roots, `paths` the inputs that differ.
    Upstream {
        roots: Vec<ActionRef>,
        paths: Vec<String>,
    },
    /// Its own command, environment, platform or source inputs differ.
    KeyChanged { reasons: Vec<Reason> },
    /// The same key as in the baseline, and still executed: the cache entry
    /// was evicted, or never uploaded.
    SameKey,
    /// The action may not be cached: Bazel's `no-cache`, `no-remote-cache`
    /// or `no-remote` tags (or the rule's own setting) turn these off.
    NotCacheable {
        cacheable: bool,
        remote_cacheable: bool,
        remotable: bool,
    },
    /// Failed actions are not cached.
    Failed {
        status: Option<String>,
        exit_code: i32,
    },
    /// Not in the baseline.
    New,
    /// Without a baseline: some inputs are outputs of actions that also
    /// executed in this build (named), so they may have changed.
    AfterUpstream { upstream: Vec<ActionRef> },
    /// Without a baseline: no input comes from an action that executed;
    /// its key was not in the cache (new sources or flags, a cold or
    /// evicted cache).
    NotInCache,
}

impl MissWhy {
    pub fn kind(&self) -> &'static str {
        match self {
            MissWhy::Upstream { .. } => "upstream",
            MissWhy::KeyChanged { .. } => "key_changed",
            MissWhy::SameKey => "same_key",
            MissWhy::NotCacheable { .. } => "not_cacheable",
            MissWhy::Failed { .. } => "failed",
            MissWhy::New => "new",
            MissWhy::AfterUpstream { .. } => "after_upstream",
            MissWhy::NotInCache => "not_in_cache",
        }
    }
}

impl ExeclogReport {
    pub(crate) fn new(
        inputs: LogInputs,
        summary: ExeclogSummary,
        roots: Vec<Root>,
        actions: Vec<ActionDelta>,
        only: (Vec<ActionRef>, Vec<ActionRef>),
        limitations: Vec<Limitation>,
        misses: Option<MissReport>,
    ) -> ExeclogReport {
        let differs = !actions.is_empty() || !only.0.is_empty() || !only.1.is_empty();
        let missed = misses.as_ref().is_some_and(|m| m.executed > 0);
        // Something could not be read: "identical" would be a guess.
        let unread = limitations.iter().any(|l| {
            matches!(
                l,
                Limitation::UnknownFields { .. }
                    | Limitation::NoFilesAtAll { .. }
                    | Limitation::UnknownExecutors { .. }
                    | Limitation::InputBudget { .. }
                    | Limitation::DigestFunctions { .. }
            )
        });
        let verdict = if differs || missed {
            Verdict::Differs
        } else if unread {
            Verdict::Incomplete
        } else {
            Verdict::Identical
        };
        ExeclogReport {
            envelope: Envelope::new(CommandKind::Execlog, inputs, verdict),
            summary,
            roots,
            actions,
            only_a: only.0,
            only_b: only.1,
            limitations,
            misses,
        }
    }
}
