//! `twice execlog A.json --reexecute URL`: rebuild logged spawns as REAPI
//! Actions (arguments, environment, platform, inputs by their logged
//! digests, declared outputs), make sure their inputs are in the cluster's
//! CAS, execute each N times with `do_not_cache` and a salt per run, and
//! report each action deterministic or not, with the structural findings
//! of the outputs that differ. Only differing outputs are downloaded.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use prost::Message;
use serde::Serialize;

use super::client::{Blob, Client, Executed, RemoteOptions, Source, unique_bytes};
use super::digest::CasDigest;
use super::error::RemoteError;
use super::executor::directory_blobs;
use super::merkle::{self, Node};
use crate::diff::{DiffOptions, diff_paths};
use crate::execlog::{ActionRef, ExeclogError, OutputComparison, Spawn, read_spawns};
use crate::finding::{Side, Text};
use crate::report::{CommandKind, Envelope, Inputs, Report, Verdict};

/// What `--reexecute` was asked to do.
#[derive(Clone, Debug)]
pub struct ReexecOptions {
    pub log_a: PathBuf,
    /// The second log: without `--action`, its comparison with A names the
    /// actions to re-execute (the roots).
    pub log_b: Option<PathBuf>,
    /// Labels, mnemonics or primary outputs.
    pub actions: Vec<String>,
    pub runs: usize,
    pub jobs: usize,
    pub exec_root: Option<PathBuf>,
    pub remote: RemoteOptions,
    pub quiet: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReexecError {
    #[error("{message}")]
    Usage { message: String },
    #[error(transparent)]
    Log(#[from] ExeclogError),
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error("cannot create a work directory: {source}")]
    WorkDir {
        #[source]
        source: std::io::Error,
    },
}

impl ReexecError {
    pub fn exit_code(&self) -> u8 {
        match self {
            ReexecError::Remote(RemoteError::Interrupted) => 130,
            _ => 2,
        }
    }
}

/// The re-execution report.
#[derive(Clone, Debug, Serialize)]
pub struct ReexecReport {
    /// Inputs: A is the log, B the cluster.
    #[serde(flatten)]
    pub envelope: Envelope<Text>,
    pub remote: RemoteInfo,
    pub summary: ReexecSummary,
    /// Every selected action, in log order.
    pub actions: Vec<ReexecAction>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RemoteInfo {
    pub url: String,
    pub instance: String,
    pub runs: usize,
    pub jobs: usize,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ReexecSummary {
    pub actions: u64,
    pub deterministic: u64,
    pub non_deterministic: u64,
    pub failed: u64,
    pub not_run: u64,
    pub executions: u64,
    pub seconds: f64,
    pub uploaded_bytes: u64,
    pub downloaded_bytes: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReexecAction {
    pub action: ActionRef,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// What re-executing one action showed.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Every run produced the same outputs.
    Deterministic { runs: usize },
    /// Some run's outputs differ from the first run's.
    NonDeterministic { outputs: Vec<DifferingOutput> },
    /// A run exited with a non-zero code.
    Failed {
        run: usize,
        exit_code: i32,
        stderr: String,
    },
    /// Inputs are not in the CAS and could not be uploaded.
    MissingInputs { inputs: Vec<String> },
    /// The cluster refused or failed the execution.
    Error { error: String },
}

/// An output that differs between the first run and run `run`.
#[derive(Clone, Debug, Serialize)]
pub struct DifferingOutput {
    pub path: String,
    pub run: usize,
    pub a: Option<String>,
    pub b: Option<String>,
    pub comparison: OutputComparison,
}

/// How an action is picked: by what the user named, or as a root of the
/// comparison of two logs.
fn selected(spawn: &Spawn, names: &[String], roots: &[ActionRef]) -> bool {
    if !names.is_empty() {
        return names.iter().any(|n| {
            *n == spawn.label || *n == spawn.mnemonic || Some(n) == spawn.primary_output.as_ref()
        });
    }
    roots.iter().any(|r| {
        r.mnemonic == spawn.mnemonic
            && r.primary_output == spawn.primary_output
            && r.label
                .as_ref()
                .is_none_or(|l| l.is_empty() || *l == spawn.label)
    })
}

/// One selected spawn on its way through.
struct Job {
    spawn: Spawn,
    root: merkle::MerkleTree,
    /// Input digest → the exec paths it is the content of.
    inputs: BTreeMap<CasDigest, Vec<String>>,
    bad_inputs: Vec<String>,
    actions: Vec<CasDigest>,
}

fn action_ref(s: &Spawn) -> ActionRef {
    ActionRef {
        label: (!s.label.is_empty()).then(|| s.label.clone()),
        mnemonic: s.mnemonic.clone(),
        primary_output: s.primary_output.clone(),
    }
}

/// Re-execute the selected actions of a log.
pub fn reexecute(opts: &ReexecOptions) -> Result<ReexecReport, ReexecError> {
    let usage = |message: &str| ReexecError::Usage {
        message: message.to_owned(),
    };
    if opts.runs < 2 {
        return Err(usage("--runs: re-execution needs at least 2 runs"));
    }
    let roots: Vec<ActionRef> = match (&opts.log_b, opts.actions.is_empty()) {
        (_, false) => Vec::new(),
        (Some(b), true) => {
            let report = crate::execlog::analyze(
                &opts.log_a,
                b,
                &crate::execlog::ExeclogOptions::default(),
            )?;
            report.roots.into_iter().map(|r| r.action).collect()
        }
        (None, true) => {
            return Err(usage(
                "--reexecute needs --action LABEL|MNEMONIC, or a second log whose comparison \
                 names the actions",
            ));
        }
    };
    let (format, spawns) = read_spawns(&opts.log_a, |s| selected(s, &opts.actions, &roots))?;
    if format != crate::execlog::LogFormat::BazelJson {
        return Err(ReexecError::Usage {
            message: format!(
                "--reexecute reads Bazel JSON execution logs (--execution_log_json_file); {} is \
                 {format:?}",
                opts.log_a.display()
            ),
        });
    }
    if spawns.is_empty() {
        return Err(usage(
            "no action of the log matches: name actions by label, mnemonic or primary output",
        ));
    }
    let client = Client::connect(&opts.remote)?;
    let t = Instant::now();
    let mut jobs: Vec<Job> = spawns.into_iter().map(prepare).collect();
    upload_inputs(&client, &mut jobs, opts.exec_root.as_deref())?;
    let mut blobs = Vec::new();
    for job in jobs.iter_mut().filter(|j| j.bad_inputs.is_empty()) {
        blobs.extend(directory_blobs(&job.root));
        let platform = platform(&job.spawn, &opts.remote);
        let command = command(
            &job.spawn,
            platform.clone(),
            client.capabilities().output_paths,
        );
        let (command_digest, bytes) = CasDigest::of_message(&command);
        blobs.push(Blob {
            digest: command_digest,
            source: Source::Bytes(Arc::new(bytes)),
        });
        for _ in 0..opts.runs {
            let action = re::Action {
                command_digest: Some(command_digest.to_proto()),
                input_root_digest: Some(job.root.root.to_proto()),
                timeout: (job.spawn.timeout_millis > 0).then(|| {
                    bazel_remote_apis::google::protobuf::Duration {
                        seconds: job.spawn.timeout_millis / 1000,
                        nanos: i32::try_from(job.spawn.timeout_millis % 1000 * 1_000_000)
                            .unwrap_or(0),
                    }
                }),
                do_not_cache: true,
                salt: unique_bytes().to_vec(),
                platform: Some(platform.clone()),
            };
            let (digest, bytes) = CasDigest::of_message(&action);
            blobs.push(Blob {
                digest,
                source: Source::Bytes(Arc::new(bytes)),
            });
            job.actions.push(digest);
        }
    }
    client.upload(blobs)?;
    let all: Vec<CasDigest> = jobs
        .iter()
        .flat_map(|j| j.actions.iter().copied())
        .collect();
    let total = all.len();
    let mut finished = 0usize;
    let quiet = opts.quiet;
    let results = client.execute_all(&all, opts.jobs, |_, _| {
        finished += 1;
        if !quiet && (finished.is_multiple_of(50) || finished == total) {
            eprintln!("twice: {finished}/{total} executions done");
        }
    });
    if results
        .iter()
        .any(|r| matches!(r, Err(RemoteError::Interrupted)))
        || crate::interrupt::interrupted()
    {
        return Err(RemoteError::Interrupted.into());
    }
    let work = crate::audit::sandbox::WorkDir::create(false)
        .map_err(|source| ReexecError::WorkDir { source })?;
    let mut results = results.into_iter();
    let mut actions = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        let outcome = if !job.bad_inputs.is_empty() {
            Outcome::MissingInputs {
                inputs: job.bad_inputs.clone(),
            }
        } else {
            let runs: Vec<Result<Executed, RemoteError>> =
                results.by_ref().take(job.actions.len()).collect();
            judge(&client, runs, &work.root.join(i.to_string()))?
        };
        actions.push(ReexecAction {
            action: action_ref(&job.spawn),
            outcome,
        });
    }
    let traffic = client.traffic();
    let mut summary = ReexecSummary {
        actions: actions.len() as u64,
        executions: total as u64,
        seconds: t.elapsed().as_secs_f64(),
        uploaded_bytes: super::Traffic::get(&traffic.uploaded_bytes),
        downloaded_bytes: super::Traffic::get(&traffic.downloaded_bytes),
        ..ReexecSummary::default()
    };
    for a in &actions {
        *match a.outcome {
            Outcome::Deterministic { .. } => &mut summary.deterministic,
            Outcome::NonDeterministic { .. } => &mut summary.non_deterministic,
            Outcome::Failed { .. } => &mut summary.failed,
            Outcome::MissingInputs { .. } | Outcome::Error { .. } => &mut summary.not_run,
        } += 1;
    }
    let verdict = if summary.non_deterministic > 0 {
        Verdict::Differs
    } else if summary.failed + summary.not_run > 0 {
        Verdict::Incomplete
    } else {
        Verdict::Identical
    };
    if !opts.quiet {
        eprintln!("twice: {}", traffic.summary(client.endpoint()));
    }
    Ok(ReexecReport {
        envelope: Envelope::new(
            CommandKind::Execlog,
            Inputs {
                a: Text::new(opts.log_a.as_os_str().as_encoded_bytes()),
                b: Text::new(opts.remote.url.as_bytes()),
            },
            verdict,
        ),
        remote: RemoteInfo {
            url: opts.remote.url.clone(),
            instance: opts.remote.instance.clone(),
            runs: opts.runs,
            jobs: opts.jobs,
        },
        summary,
        actions,
    })
}

/// The input root of a spawn: every input at its exec path, executable
/// (as Bazel sends inputs to remote executors), symlinks as symlinks.
fn prepare(spawn: Spawn) -> Job {
    let mut inputs: BTreeMap<CasDigest, Vec<String>> = BTreeMap::new();
    let mut bad = Vec::new();
    let mut nodes = Vec::new();
    for input in &spawn.inputs {
        if let Some(target) = &input.symlink_target {
            nodes.push((
                input.path.clone(),
                Node::Symlink {
                    target: target.clone(),
                },
            ));
            continue;
        }
        let digest = if input.hash.is_empty() {
            Some(CasDigest::EMPTY)
        } else {
            CasDigest::parse(&input.hash, input.size)
        };
        match digest {
            Some(d) => {
                inputs.entry(d).or_default().push(input.path.clone());
                nodes.push((
                    input.path.clone(),
                    Node::File {
                        digest: d,
                        executable: true,
                        mode: None,
                        mtime: None,
                    },
                ));
            }
            None => bad.push(format!(
                "{} (digest {:?} is not SHA-256)",
                input.path, input.hash
            )),
        }
    }
    let root = merkle::build(nodes).unwrap_or_else(|e| {
        bad.push(format!("the inputs do not form a tree: {e}"));
        merkle::MerkleTree::default()
    });
    Job {
        spawn,
        root,
        inputs,
        bad_inputs: bad,
        actions: Vec::new(),
    }
}

/// Check the inputs of every job against the CAS; upload the missing ones
/// from the exec root (each checked against its logged digest), or name
/// them in the job.
fn upload_inputs(
    client: &Client,
    jobs: &mut [Job],
    exec_root: Option<&Path>,
) -> Result<(), RemoteError> {
    let wanted: BTreeSet<CasDigest> = jobs.iter().flat_map(|j| j.inputs.keys().copied()).collect();
    let wanted: Vec<CasDigest> = wanted.into_iter().collect();
    let missing: BTreeSet<CasDigest> = client.find_missing(&wanted)?.into_iter().collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut unavailable: BTreeMap<CasDigest, String> = BTreeMap::new();
    let mut blobs = Vec::new();
    for d in &missing {
        let paths: Vec<&String> = jobs
            .iter()
            .flat_map(|j| j.inputs.get(d).into_iter().flatten())
            .collect();
        let Some(root) = exec_root else {
            unavailable.insert(
                *d,
                "not in the CAS; pass --exec-root DIR to upload it".to_owned(),
            );
            continue;
        };
        let found = paths.iter().find_map(|p| {
            let file = root.join(p);
            (CasDigest::of_file(&file).ok() == Some(*d)).then_some(file)
        });
        match found {
            Some(file) => blobs.push(Blob {
                digest: *d,
                source: Source::File(file),
            }),
            None => {
                unavailable.insert(
                    *d,
                    format!(
                        "not in the CAS, and {} under {} is missing or holds other content",
                        paths.first().map_or("it", |p| p.as_str()),
                        root.display()
                    ),
                );
            }
        }
    }
    client.upload(blobs)?;
    for job in jobs.iter_mut() {
        for (d, paths) in &job.inputs {
            if let Some(why) = unavailable.get(d) {
                for p in paths {
                    job.bad_inputs.push(format!("{p} ({d}): {why}"));
                }
            }
        }
    }
    Ok(())
}

#[expect(
    deprecated,
    reason = "REAPI 2.0 servers read the outputs and platform from the Command"
)]
fn command(spawn: &Spawn, platform: re::Platform, output_paths: bool) -> re::Command {
    let mut env: Vec<(String, String)> = spawn.env.clone();
    env.sort();
    env.dedup_by(|x, y| x.0 == y.0);
    let mut outputs = spawn.outputs.clone();
    outputs.sort();
    outputs.dedup();
    re::Command {
        arguments: spawn.args.clone(),
        environment_variables: env
            .into_iter()
            .map(|(name, value)| re::command::EnvironmentVariable { name, value })
            .collect(),
        output_files: if output_paths {
            Vec::new()
        } else {
            outputs.clone()
        },
        output_directories: Vec::new(),
        output_paths: if output_paths { outputs } else { Vec::new() },
        platform: Some(platform),
        working_directory: String::new(),
        output_node_properties: Vec::new(),
        output_directory_format: 0,
    }
}

/// The logged platform and `--remote-platform`, sorted as the API
/// requires.
fn platform(spawn: &Spawn, remote: &RemoteOptions) -> re::Platform {
    let mut props: BTreeSet<(String, String)> = spawn.platform.iter().cloned().collect();
    props.extend(remote.platform.iter().cloned());
    re::Platform {
        properties: props
            .into_iter()
            .map(|(name, value)| re::platform::Property { name, value })
            .collect(),
    }
}

/// Every output file of a result by path (directories flattened).
fn outputs_of(
    client: &Client,
    result: &re::ActionResult,
) -> Result<BTreeMap<String, CasDigest>, RemoteError> {
    let mut out = BTreeMap::new();
    for f in &result.output_files {
        if let Some(d) = f.digest.as_ref().and_then(CasDigest::from_proto) {
            out.insert(f.path.clone(), d);
        }
    }
    for s in &result.output_symlinks {
        out.insert(s.path.clone(), CasDigest::of(s.target.as_bytes()));
    }
    for dir in &result.output_directories {
        let Some(d) = dir.tree_digest.as_ref().and_then(CasDigest::from_proto) else {
            continue;
        };
        let bytes = client.read_blob(d, 1 << 30)?;
        let tree = re::Tree::decode(&bytes[..]).map_err(|e| RemoteError::Protocol {
            endpoint: client.endpoint().clone(),
            call: "Execute",
            what: format!("output Tree {d} undecodable: {e}"),
        })?;
        let flat = merkle::flatten(&tree, 1_000_000).map_err(|what| RemoteError::Protocol {
            endpoint: client.endpoint().clone(),
            call: "Execute",
            what,
        })?;
        for (rel, node) in flat {
            if let Node::File { digest, .. } = node {
                out.insert(format!("{}/{rel}", dir.path), digest);
            }
        }
    }
    Ok(out)
}

/// Compare every run with the first; download and compare only what
/// differs.
fn judge(
    client: &Client,
    runs: Vec<Result<Executed, RemoteError>>,
    work: &Path,
) -> Result<Outcome, ReexecError> {
    let mut outputs = Vec::new();
    for (k, r) in runs.into_iter().enumerate() {
        let executed = match r {
            Ok(e) => e,
            Err(RemoteError::Interrupted) => return Err(RemoteError::Interrupted.into()),
            Err(e) => {
                return Ok(Outcome::Error {
                    error: format!("run {}: {e}", k + 1),
                });
            }
        };
        let result = executed.result;
        if result.exit_code != 0 {
            let stderr = result
                .stderr_digest
                .and_then(|d| CasDigest::from_proto(&d))
                .and_then(|d| client.read_blob(d, 64 << 10).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            return Ok(Outcome::Failed {
                run: k + 1,
                exit_code: result.exit_code,
                stderr,
            });
        }
        outputs.push(outputs_of(client, &result)?);
    }
    let Some((first, rest)) = outputs.split_first() else {
        return Ok(Outcome::Deterministic { runs: 0 });
    };
    let mut differing = Vec::new();
    for (k, other) in rest.iter().enumerate() {
        let run = k + 2;
        let paths: BTreeSet<&String> = first.keys().chain(other.keys()).collect();
        let (dir_a, dir_b) = (work.join("run-1"), work.join(format!("run-{run}")));
        let mut wanted: BTreeMap<CasDigest, Vec<PathBuf>> = BTreeMap::new();
        let mut pending = Vec::new();
        for p in paths {
            let (a, b) = (first.get(p), other.get(p));
            if a == b {
                continue;
            }
            for (dir, d) in [(&dir_a, a), (&dir_b, b)] {
                if let Some(d) = d {
                    let local = dir.join(p);
                    if !local.exists() {
                        wanted.entry(*d).or_default().push(local);
                    }
                }
            }
            pending.push((p.clone(), a.copied(), b.copied()));
        }
        client.download(wanted)?;
        for (path, a, b) in pending {
            let comparison = match (a, b) {
                (None, _) => OutputComparison::Missing { side: Side::A },
                (_, None) => OutputComparison::Missing { side: Side::B },
                _ => compare(&dir_a.join(&path), &dir_b.join(&path)),
            };
            differing.push(DifferingOutput {
                path,
                run,
                a: a.map(|d| d.to_string()),
                b: b.map(|d| d.to_string()),
                comparison,
            });
        }
    }
    Ok(if differing.is_empty() {
        Outcome::Deterministic {
            runs: outputs.len(),
        }
    } else {
        Outcome::NonDeterministic { outputs: differing }
    })
}

fn compare(a: &Path, b: &Path) -> OutputComparison {
    let opts = DiffOptions {
        now: crate::clock::now(),
        ..DiffOptions::default()
    };
    match diff_paths(a, b, &opts) {
        Ok(comparison) => {
            let inputs = Inputs {
                a: Text::new(a.as_os_str().as_encoded_bytes()),
                b: Text::new(b.as_os_str().as_encoded_bytes()),
            };
            let report = Report::new(CommandKind::Diff, inputs, comparison, Default::default());
            OutputComparison::Compared {
                verdict: report.verdict(),
                findings: report.findings.clone(),
                report: Box::new(report),
            }
        }
        Err(e) => OutputComparison::Failed {
            error: e.to_string(),
        },
    }
}
