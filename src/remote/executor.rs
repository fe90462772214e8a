//! The remote executor behind the audit's seam: the source tree is
//! uploaded once as a Merkle tree; each run is one Action that nests it
//! under its own build directory, with `do_not_cache` and a salt of its
//! own so the server never merges two runs; what comes back is an output
//! `Tree` whose files are compared by digest, and only files that differ
//! between two runs are downloaded ([`RemoteBuilder::fetch`]).
//!
//! The command runs through a small `sh` wrapper that the Action carries:
//! it records the absolute path the worker ran it at (the canaries need
//! the build path and home as the build saw them), sets HOME and LOCPATH
//! below it, enters the build directory and applies the umask, taskset and
//! setarch, then `exec`s the build.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use prost::Message;
use rayon::prelude::*;

use super::client::{Blob, Client, Source, unique_bytes};
use super::digest::CasDigest;
use super::error::RemoteError;
use super::merkle::{self, MerkleTree, Node};
use super::variations::{capability, property};
use crate::audit::build::{Executor, Run, utc_offsets};
use crate::audit::progress::Progress;
use crate::audit::sandbox::{WorkDir, tail};
use crate::audit::variation::{self, Plan, RunSpec, Value};
use crate::audit::{AuditError, Step};
use crate::finding::{Digest, Variation};
use crate::tree::{Entry, EntryKind, Meta, Tree, walk};

/// The `PATH` every remote build gets: a worker's own `PATH` does not reach
/// the command (REAPI passes exactly the Action's environment).
pub(crate) const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Where the wrapper records the exec root, relative to the input root.
const PWD_FILE: &str = ".twice/pwd";
/// Where compiled locales are, relative to the input root.
const LOCALES: &str = ".twice/locales";
/// Output trees larger than this are refused.
const MAX_ENTRIES: usize = 1_000_000;

/// The source tree as uploaded: its Merkle root and its entries, kept to
/// tell what a build changed.
pub(crate) struct UploadedSource {
    pub root: CasDigest,
    pub entries: BTreeMap<String, Node>,
    pub skipped: Vec<PathBuf>,
    pub digest: Digest,
    pub seconds: f64,
}

fn to_audit(run: &str, step: Step) -> impl Fn(RemoteError) -> AuditError + '_ {
    move |e| match e {
        RemoteError::Interrupted => AuditError::Interrupted,
        e => AuditError::Sandbox {
            run: run.to_owned(),
            step,
            source: std::io::Error::other(e),
        },
    }
}

/// One entry of the source tree: its path, node, and file to upload.
type Hashed = (String, Node, Option<PathBuf>);

/// Walk the source tree, hash its files (SHA-256, in parallel), build its
/// Merkle tree and upload what the CAS does not have.
pub(crate) fn upload_source(client: &Client, source: &Path) -> Result<UploadedSource, RemoteError> {
    let t = Instant::now();
    let tree = walk(source);
    if let Some(bad) = tree.unreadable.first() {
        return Err(RemoteError::Local {
            path: bad.path.clone(),
            source: std::io::Error::other(bad.reason.clone()),
        });
    }
    let unsendable = |rel: &[u8], reason| RemoteError::Unsendable {
        path: source.join(std::ffi::OsStr::new(
            &String::from_utf8_lossy(rel).into_owned(),
        )),
        reason,
    };
    let hashed: Vec<Result<Option<Hashed>, RemoteError>> = tree
        .entries
        .par_iter()
        .map(|(rel, entry)| {
            let name = std::str::from_utf8(rel)
                .map_err(|_| unsendable(rel, "the name is not UTF-8"))?
                .to_owned();
            let path = tree.file_path(rel);
            Ok(match &entry.kind {
                EntryKind::File { .. } => {
                    let digest =
                        CasDigest::of_file(&path).map_err(|source| RemoteError::Local {
                            path: path.clone(),
                            source,
                        })?;
                    let node = Node::File {
                        digest,
                        executable: entry.meta.executable(),
                        mode: Some(entry.meta.mode),
                        mtime: Some((
                            entry.meta.mtime,
                            u32::try_from(entry.meta.mtime_nsec).unwrap_or(0),
                        )),
                    };
                    Some((name, node, Some(path)))
                }
                EntryKind::Symlink { target } => {
                    let target = std::str::from_utf8(target)
                        .map_err(|_| unsendable(rel, "the symlink's target is not UTF-8"))?;
                    Some((
                        name,
                        Node::Symlink {
                            target: target.to_owned(),
                        },
                        None,
                    ))
                }
                EntryKind::Dir => Some((name, Node::Dir, None)),
                EntryKind::Special(_) => None,
            })
        })
        .collect();
    let mut entries = BTreeMap::new();
    let mut blobs = Vec::new();
    for r in hashed {
        if let Some((name, node, path)) = r? {
            if let (Node::File { digest, .. }, Some(path)) = (&node, path) {
                blobs.push(Blob {
                    digest: *digest,
                    source: Source::File(path),
                });
            }
            entries.insert(name, node);
        }
    }
    let skipped = tree
        .entries
        .iter()
        .filter(|(_, e)| matches!(e.kind, EntryKind::Special(_)))
        .map(|(rel, _)| PathBuf::from(String::from_utf8_lossy(rel).into_owned()))
        .collect();
    let merkle =
        merkle::build(entries.iter().map(|(k, v)| (k.clone(), v.clone()))).map_err(|e| {
            RemoteError::Unsendable {
                path: source.to_path_buf(),
                reason: match e {
                    merkle::TreeError::BadName { .. } => "a path component is empty, `.` or `..`",
                    merkle::TreeError::Conflict { .. } => "a path is both a file and a directory",
                },
            }
        })?;
    blobs.extend(directory_blobs(&merkle));
    client.upload(blobs)?;
    let digest =
        crate::audit::stage::source_digest(source).map_err(|source_err| RemoteError::Local {
            path: source.to_path_buf(),
            source: source_err,
        })?;
    Ok(UploadedSource {
        root: merkle.root,
        entries,
        skipped,
        digest,
        seconds: t.elapsed().as_secs_f64(),
    })
}

pub(crate) fn directory_blobs(tree: &MerkleTree) -> impl Iterator<Item = Blob> + '_ {
    tree.directories.iter().map(|(d, bytes)| Blob {
        digest: *d,
        source: Source::Bytes(Arc::new(bytes.clone())),
    })
}

/// Upload the compiled locales the varied runs use, as one tree.
pub(crate) fn upload_locales(
    client: &Client,
    locale_dir: &Path,
    names: &[&str],
) -> Result<CasDigest, RemoteError> {
    let mut entries = Vec::new();
    let mut blobs = Vec::new();
    for name in names {
        let tree = walk(&locale_dir.join(name));
        for (rel, entry) in &tree.entries {
            let rel_s = format!("{name}/{}", String::from_utf8_lossy(rel));
            match &entry.kind {
                EntryKind::File { .. } => {
                    let path = tree.file_path(rel);
                    let digest =
                        CasDigest::of_file(&path).map_err(|source| RemoteError::Local {
                            path: path.clone(),
                            source,
                        })?;
                    blobs.push(Blob {
                        digest,
                        source: Source::File(path),
                    });
                    entries.push((
                        rel_s,
                        Node::File {
                            digest,
                            executable: false,
                            mode: None,
                            mtime: None,
                        },
                    ));
                }
                EntryKind::Dir => entries.push((rel_s, Node::Dir)),
                _ => {}
            }
        }
    }
    let merkle = merkle::build(entries).map_err(|_| RemoteError::Unsendable {
        path: locale_dir.to_path_buf(),
        reason: "the compiled locales do not form a tree",
    })?;
    blobs.extend(directory_blobs(&merkle));
    client.upload(blobs)?;
    Ok(merkle.root)
}

/// Runs an audit's builds on a remote cluster.
pub(crate) struct RemoteBuilder<'a> {
    pub client: &'a Client,
    pub command: &'a [std::ffi::OsString],
    pub timeout: Option<Duration>,
    pub plan: &'a Plan,
    pub work: &'a WorkDir,
    pub progress: &'a Progress,
    pub platform: &'a [(String, String)],
    pub source: &'a UploadedSource,
    pub locales: Option<CasDigest>,
    pub keep: bool,
    /// The first staged run is charged the source upload.
    pub charged: AtomicBool,
}

/// One run's Action, uploaded, waiting for its execution.
pub(crate) struct RemoteStaged {
    spec: RunSpec,
    action: CasDigest,
    build_dir_name: String,
    home_name: String,
    stage_seconds: f64,
}

impl RemoteBuilder<'_> {
    fn value(&self, spec: &RunSpec, v: Variation) -> Value {
        self.plan.value(spec, v)
    }

    /// The shell wrapper's script, for `spec`.
    fn script(&self, spec: &RunSpec, dir: &str, home: &str) -> String {
        let mut s = format!(
            "r=$(pwd -P) && printf '%s\\n' \"$r\" > {PWD_FILE} && HOME=\"$r/{home}\" && export HOME && mkdir -p \"$HOME\""
        );
        if matches!(self.value(spec, Variation::Locale), Value::Variant(_)) {
            s.push_str(&format!(" && LOCPATH=\"$r/{LOCALES}\" && export LOCPATH"));
        }
        s.push_str(&format!(" && cd {dir}/src"));
        if let Some(u) = variation::umask(self.value(spec, Variation::Umask)) {
            s.push_str(&format!(" && umask {u:04o}"));
        }
        s.push_str(" && exec");
        if let Value::Variant(_) = self.value(spec, Variation::NumCpus) {
            s.push_str(" taskset -c 0");
        }
        if let Value::Control = self.value(spec, Variation::Aslr) {
            s.push_str(" setarch \"$(uname -m)\" -R");
        }
        s.push_str(" \"$@\"");
        s
    }

    fn environment(&self, spec: &RunSpec) -> Vec<re::command::EnvironmentVariable> {
        let mut env: BTreeMap<&str, String> = BTreeMap::new();
        env.insert("PATH", PATH.to_owned());
        if let Some(zone) = variation::time_zone(self.value(spec, Variation::Timezone)) {
            env.insert("TZ", zone.to_owned());
        }
        let locale = self.value(spec, Variation::Locale);
        if let Some(name) = variation::locale(locale) {
            env.insert("LC_ALL", name.to_owned());
            env.insert("LANG", name.to_owned());
            if let Value::Variant(_) = locale {
                let language = name.split(['_', '.']).next().unwrap_or(name);
                env.insert("LANGUAGE", language.to_owned());
            }
        }
        let user = self.value(spec, Variation::Env);
        if user != Value::Inherit {
            let name = variation::user_name(user);
            env.insert("USER", name.clone());
            env.insert("LOGNAME", name);
            if let Value::Variant(k) = user {
                env.insert("TWICE_AUDIT_NOISE", variation::noise(k));
            }
        }
        env.into_iter()
            .map(|(name, value)| re::command::EnvironmentVariable {
                name: name.to_owned(),
                value,
            })
            .collect()
    }

    /// The user's properties, then the worker-side variations as
    /// properties the workers honour; sorted as the API requires.
    fn platform(&self, spec: &RunSpec) -> re::Platform {
        let mut props: BTreeSet<(String, String)> = self.platform.iter().cloned().collect();
        for v in self.plan.active.iter().copied() {
            let value = self.value(spec, v);
            // The number of CPUs and ASLR are applied by the wrapper
            // (taskset, setarch on the worker): no property asks for them.
            let Some(key) = property(v) else {
                continue;
            };
            let requested = match (v, value) {
                (Variation::Time, Value::Variant(_)) => {
                    variation::clock_shift(value).map(|s| format!("+{s}"))
                }
                (Variation::FileOrder, Value::Variant(1)) => Some("reverse".to_owned()),
                (Variation::FileOrder, Value::Variant(_)) => Some("shuffle".to_owned()),
                (Variation::Hostname, Value::Control | Value::Variant(_)) => {
                    Some(variation::host_name(value))
                }
                _ => None,
            };
            if let Some(r) = requested {
                props.insert((key.to_owned(), r));
                props.insert(("twice-variations".to_owned(), capability(v).to_owned()));
            }
        }
        re::Platform {
            properties: props
                .into_iter()
                .map(|(name, value)| re::platform::Property { name, value })
                .collect(),
        }
    }

    fn run_dir(&self, spec: &RunSpec) -> PathBuf {
        self.work.root.join(format!("run-{}", spec.label))
    }

    /// Download what a failed build printed into its log; the log's path.
    fn failure_log(&self, spec: &RunSpec, result: &re::ActionResult) -> PathBuf {
        let log = self.work.logs().join(format!("run-{}.log", spec.label));
        if let Ok(mut f) = std::fs::File::create(&log) {
            for d in [&result.stdout_digest, &result.stderr_digest]
                .into_iter()
                .flatten()
                .filter_map(CasDigest::from_proto)
            {
                if let Ok(bytes) = self.client.read_blob(d, 16 << 20) {
                    let _ = f.write_all(&bytes);
                }
            }
            let _ = f.write_all(&result.stdout_raw);
            let _ = f.write_all(&result.stderr_raw);
        }
        log
    }

    /// The exec root the wrapper recorded.
    fn exec_root(&self, result: &re::ActionResult, run: &str) -> Result<PathBuf, AuditError> {
        let fail = to_audit(run, Step::ReadOutputs);
        let file = result
            .output_files
            .iter()
            .find(|f| f.path == PWD_FILE)
            .and_then(|f| f.digest.as_ref())
            .and_then(CasDigest::from_proto)
            .ok_or_else(|| {
                fail(RemoteError::Protocol {
                    endpoint: self.client.endpoint().clone(),
                    call: "Execute",
                    what: format!("the result has no {PWD_FILE} (written by the command wrapper)"),
                })
            })?;
        let bytes = self.client.read_blob(file, 4096).map_err(&fail)?;
        let text = String::from_utf8_lossy(&bytes).trim_end().to_owned();
        Ok(PathBuf::from(text))
    }

    /// The run's output tree, as the worker returned it.
    fn output_tree(
        &self,
        result: &re::ActionResult,
        dir: &str,
        run: &str,
    ) -> Result<Vec<(String, Node)>, AuditError> {
        let fail = to_audit(run, Step::ReadOutputs);
        let want = format!("{dir}/src");
        let protocol = |what: String| {
            fail(RemoteError::Protocol {
                endpoint: self.client.endpoint().clone(),
                call: "Execute",
                what,
            })
        };
        let tree_digest = result
            .output_directories
            .iter()
            .find(|d| d.path == want)
            .and_then(|d| d.tree_digest.as_ref())
            .and_then(CasDigest::from_proto)
            .ok_or_else(|| protocol(format!("the result has no output directory {want}")))?;
        let bytes = self.client.read_blob(tree_digest, 1 << 30).map_err(&fail)?;
        let tree = re::Tree::decode(&bytes[..])
            .map_err(|e| protocol(format!("output Tree {tree_digest} undecodable: {e}")))?;
        merkle::flatten(&tree, MAX_ENTRIES)
            .map_err(|e| protocol(format!("output Tree {tree_digest}: {e}")))
    }
}

fn meta(mode: u32) -> Meta {
    Meta {
        mode,
        mtime: 0,
        mtime_nsec: 0,
        ctime: 0,
        ctime_nsec: 0,
        ino: 0,
        uid: 0,
        gid: 0,
    }
}

fn timestamp(t: Option<&bazel_remote_apis::google::protobuf::Timestamp>) -> Option<i64> {
    t.map(|t| t.seconds).filter(|s| *s > 0)
}

impl Executor for RemoteBuilder<'_> {
    type Staged = RemoteStaged;

    /// Build and upload the run's Action (the source tree is already in
    /// the CAS).
    #[expect(
        deprecated,
        reason = "REAPI 2.0 servers read the outputs and platform from the Command"
    )]
    fn stage(&self, spec: &RunSpec) -> Result<RemoteStaged, AuditError> {
        let t = Instant::now();
        let fail = to_audit(&spec.label, Step::PrepareSandbox);
        let dir = variation::build_dir_name(self.value(spec, Variation::BuildPath));
        let home = variation::home_name(self.value(spec, Variation::Env));
        let mut nodes = vec![(format!("{dir}/src"), Node::Subtree(self.source.root))];
        if let (Some(locales), Value::Variant(_)) =
            (self.locales, self.value(spec, Variation::Locale))
        {
            nodes.push((LOCALES.to_owned(), Node::Subtree(locales)));
        }
        let root = merkle::build(nodes).expect("two fixed paths form a tree");
        let mut arguments: Vec<String> = vec![
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            self.script(spec, &dir, &home),
            "twice-build".to_owned(),
        ];
        for a in self.command {
            arguments.push(a.to_str().map(str::to_owned).ok_or_else(|| {
                fail(RemoteError::Unsendable {
                    path: PathBuf::from(a),
                    reason: "a command argument is not UTF-8",
                })
            })?);
        }
        let output_dir = format!("{dir}/src");
        let platform = self.platform(spec);
        let legacy = !self.client.capabilities().output_paths;
        let command = re::Command {
            arguments,
            environment_variables: self.environment(spec),
            output_files: if legacy {
                vec![PWD_FILE.to_owned()]
            } else {
                Vec::new()
            },
            output_directories: if legacy {
                vec![output_dir.clone()]
            } else {
                Vec::new()
            },
            output_paths: if legacy {
                Vec::new()
            } else {
                vec![PWD_FILE.to_owned(), output_dir]
            },
            platform: Some(platform.clone()),
            working_directory: String::new(),
            output_node_properties: vec!["unix_mode".to_owned()],
            output_directory_format: 0,
        };
        let (command_digest, command_bytes) = CasDigest::of_message(&command);
        let action = re::Action {
            command_digest: Some(command_digest.to_proto()),
            input_root_digest: Some(root.root.to_proto()),
            timeout: self
                .timeout
                .map(|d| bazel_remote_apis::google::protobuf::Duration {
                    seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                    nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
                }),
            do_not_cache: true,
            salt: unique_bytes().to_vec(),
            platform: Some(platform),
        };
        let (action_digest, action_bytes) = CasDigest::of_message(&action);
        let mut blobs: Vec<Blob> = directory_blobs(&root).collect();
        blobs.push(Blob {
            digest: command_digest,
            source: Source::Bytes(Arc::new(command_bytes)),
        });
        blobs.push(Blob {
            digest: action_digest,
            source: Source::Bytes(Arc::new(action_bytes)),
        });
        self.progress
            .stage(format!("run {}: uploading", spec.label));
        self.client.upload(blobs).map_err(&fail)?;
        let mut stage_seconds = t.elapsed().as_secs_f64();
        if !self.charged.swap(true, Ordering::SeqCst) {
            stage_seconds += self.source.seconds;
        }
        Ok(RemoteStaged {
            spec: spec.clone(),
            action: action_digest,
            build_dir_name: dir,
            home_name: home,
            stage_seconds,
        })
    }

    fn execute(&self, staged: RemoteStaged) -> Result<Run, AuditError> {
        let RemoteStaged {
            spec,
            action,
            build_dir_name,
            home_name,
            stage_seconds,
        } = staged;
        if crate::interrupt::interrupted() {
            return Err(AuditError::Interrupted);
        }
        self.progress
            .stage(format!("run {}: building remotely", spec.label));
        let real_start = crate::clock::now();
        let t = Instant::now();
        let executed = self
            .client
            .execute(action)
            .map_err(to_audit(&spec.label, Step::StartBuild))?;
        let seconds = t.elapsed().as_secs_f64();
        let real_end = crate::clock::now();
        let result = executed.result;
        let worker = result
            .execution_metadata
            .as_ref()
            .map(|m| m.worker.clone())
            .unwrap_or_default();
        if result.exit_code != 0 {
            let log = self.failure_log(&spec, &result);
            return Err(AuditError::BuildFailed {
                run: spec.label.clone(),
                status: format!(
                    "exit code {} on worker {worker:?}, operation {}",
                    result.exit_code, executed.operation
                ),
                tail: tail(&log, 20),
                log,
            });
        }
        let exec_root = self.exec_root(&result, &spec.label)?;
        let outputs = self.output_tree(&result, &build_dir_name, &spec.label)?;
        let dir = self.run_dir(&spec);
        let mut entries = BTreeMap::new();
        let mut changed = Vec::new();
        for (rel, node) in outputs {
            let before = self.source.entries.get(&rel);
            let same = match (&node, before) {
                (
                    Node::File {
                        digest, executable, ..
                    },
                    Some(Node::File {
                        digest: d0,
                        executable: x0,
                        ..
                    }),
                ) => digest == d0 && executable == x0,
                (Node::Symlink { target }, Some(Node::Symlink { target: t0 })) => target == t0,
                (Node::Dir, Some(Node::Dir)) => true,
                _ => false,
            };
            if !same {
                changed.push(rel.clone().into_bytes());
            }
            let entry = match node {
                Node::File {
                    digest,
                    executable,
                    mode,
                    ..
                } => Entry {
                    kind: EntryKind::File {
                        size: digest.size,
                        // The CAS names files by SHA-256: equal digests are
                        // equal files without downloading either.
                        digest: Some(Digest(digest.hash)),
                    },
                    meta: meta(mode.unwrap_or(if executable { 0o755 } else { 0o644 })),
                },
                Node::Symlink { target } => Entry {
                    kind: EntryKind::Symlink {
                        target: target.into_bytes(),
                    },
                    meta: meta(0o777),
                },
                Node::Dir | Node::Subtree(_) => Entry {
                    kind: EntryKind::Dir,
                    meta: meta(0o755),
                },
            };
            entries.insert(rel.into_bytes(), entry);
        }
        let metadata = result.execution_metadata.as_ref();
        let worker_start = metadata.and_then(|m| timestamp(m.execution_start_timestamp.as_ref()));
        let worker_end = metadata.and_then(|m| timestamp(m.execution_completed_timestamp.as_ref()));
        // The worker's clock is the build's; ours only when it says nothing.
        let real = match (worker_start, worker_end) {
            (Some(s), Some(e)) if e >= s => (s, e),
            _ => (real_start, real_end),
        };
        let fake_start =
            variation::clock_shift(self.value(&spec, Variation::Time)).map(|s| real.0 + s);
        let zone = variation::time_zone(self.value(&spec, Variation::Timezone));
        let utc_offsets = utc_offsets(zone, real.0, fake_start);
        Ok(Run {
            build_dir: exec_root.join(&build_dir_name).join("src"),
            home: exec_root.join(&home_name),
            tree: Tree {
                root: dir.join("src"),
                root_file: None,
                entries,
                unreadable: Vec::new(),
            },
            changed,
            real,
            fake_start,
            utc_offsets,
            seconds,
            stage_seconds,
            skipped: self.source.skipped.clone(),
            source_digest: self.source.digest,
            dir,
            spec,
            // The workers are not traced.
            trace: None,
        })
    }

    fn discard(&self, run: &Run) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&run.dir);
        }
    }

    /// Download the files that differ between `a` and `b` (and are not
    /// here yet): identical outputs are never downloaded.
    fn fetch(&self, a: &Run, b: &Run) -> Result<(), AuditError> {
        let mut wanted: BTreeMap<CasDigest, Vec<PathBuf>> = BTreeMap::new();
        let file = |e: Option<&Entry>| match e.map(|e| &e.kind) {
            Some(EntryKind::File {
                size,
                digest: Some(d),
            }) => Some(CasDigest {
                hash: d.0,
                size: *size,
            }),
            _ => None,
        };
        for (rel, ea) in &a.tree.entries {
            let eb = b.tree.entries.get(rel);
            let (da, db) = (file(Some(ea)), file(eb));
            if da.is_some() && da == db {
                continue;
            }
            for (run, d) in [(a, da), (b, db)] {
                if let Some(d) = d {
                    let path = run.tree.file_path(rel);
                    if !path.exists() {
                        wanted.entry(d).or_default().push(path);
                    }
                }
            }
        }
        for (rel, eb) in &b.tree.entries {
            if !a.tree.entries.contains_key(rel)
                && let Some(d) = file(Some(eb))
            {
                let path = b.tree.file_path(rel);
                if !path.exists() {
                    wanted.entry(d).or_default().push(path);
                }
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        self.progress.stage(format!(
            "downloading {} differing file(s) of runs {} and {}",
            wanted.values().map(Vec::len).sum::<usize>(),
            a.spec.label,
            b.spec.label
        ));
        self.client
            .download(wanted)
            .map_err(to_audit(&b.spec.label, Step::ReadOutputs))
    }
}
