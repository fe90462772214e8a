//! The `execlog` report model: typed facts about paired actions, rendered at
//! the edge (text in `render.rs`, JSON as is, versioned by
//! `schema_version`).

use serde::Serialize;

use super::error::LogFormat;
use crate::finding::{Finding, Side, Text};
use crate::report::{CommandKind, Envelope, Inputs, Verdict};

#[derive(Clone, Debug, Serialize)]
pub struct ExeclogReport {
    #[serde(flatten)]
    pub envelope: Envelope<LogInput>,
    pub summary: ExeclogSummary,
    /// Actions whose own cache key or outputs differ (non-deterministic,
    /// non-hermetic, unexplained), worst first: by how many actions they
    /// tainted, transitively.
    pub roots: Vec<Root>,
    /// Every paired action that is not identical: roots first, then tainted
    /// ones; by label, mnemonic and primary output within a class.
    pub actions: Vec<ActionDelta>,
    /// Actions found in one log only.
    pub only_a: Vec<ActionRef>,
    pub only_b: Vec<ActionRef>,
    /// What the logs could not say.
    pub limitations: Vec<Limitation>,
}

/// The two logs compared.
pub type LogInputs = Inputs<LogInput>;

#[derive(Clone, Debug, Serialize)]
pub struct LogInput {
    pub path: Text,
    pub format: LogFormat,
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
    pub only_a: u64,
    pub only_b: u64,
    /// How many actions each reason occurs in, most frequent first: one
    /// environment variable that differs everywhere shows as one line.
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
    /// The command line, environment, platform or a source or tool input
    /// differs.
    NonHermetic,
    /// The cache key differs and the log does not record why.
    Unexplained,
    /// Only inputs produced by differing upstream actions differ.
    Tainted,
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
    pub label: String,
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
    /// The action-cache keys differ though nothing the log records does.
    ActionKey { a: String, b: String },
}

/// How many arguments of a differing command-line region are shown.
pub const ARGS_SHOWN: usize = 8;

#[derive(Clone, Debug, Serialize)]
pub struct ActionDelta {
    pub action: ActionRef,
    pub class: Class,
    pub runner_a: String,
    pub runner_b: String,
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
    pub a: Option<String>,
    pub b: Option<String>,
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
    /// The output is not in that side's output tree.
    Missing { side: Side },
    /// The comparison failed (unreadable file).
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Limitation {
    /// Buck2 what-ran logs record no inputs or outputs: no taint analysis,
    /// no output digests.
    NoInputsOrOutputs { side: Side },
    /// Buck2 records no command line for remote or cached actions.
    NoCommandLines { side: Side, actions: u64 },
}

impl ExeclogReport {
    pub(crate) fn new(
        inputs: LogInputs,
        summary: ExeclogSummary,
        roots: Vec<Root>,
        actions: Vec<ActionDelta>,
        only: (Vec<ActionRef>, Vec<ActionRef>),
        limitations: Vec<Limitation>,
    ) -> ExeclogReport {
        let verdict = if actions.is_empty() && only.0.is_empty() && only.1.is_empty() {
            Verdict::Identical
        } else {
            Verdict::Differs
        };
        ExeclogReport {
            envelope: Envelope::new(CommandKind::Execlog, inputs, verdict),
            summary,
            roots,
            actions,
            only_a: only.0,
            only_b: only.1,
            limitations,
        }
    }
}
