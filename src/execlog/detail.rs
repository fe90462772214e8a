//! The second pass: the actions that differ (or that the report must name)
//! read in full into a [`Detail`], their strings interned in one interner
//! shared by both logs, so symbols compare across sides.

use std::sync::Mutex;

use super::bazel_compact::Need;
use super::model::{
    Action, ContentDigest, Detail, Input, Inputs, Interner, Node, OutState, Output, Run, Sym, len32,
};
use super::pb::Entry;
use super::summary::is_dir;
use super::view::{
    DigestView, FileView, InputsView, OutputRef, OutputsView, SpawnView, file_fp, output_rank,
    symlink_fp,
};

/// Fills a `Detail` from one log's spawns and entries.
pub(crate) struct Materializer<'s> {
    strings: &'s Mutex<Interner>,
    pub(crate) detail: Detail,
    /// The log's hash function, for symlink digests.
    function: String,
}

fn digest(d: Option<&DigestView<'_>>) -> Option<ContentDigest> {
    d.map(|d| ContentDigest::parse(&d.hash, d.size))
}

fn some_sym(st: &mut Interner, s: &str) -> Option<Sym> {
    (!s.is_empty()).then(|| st.intern(s))
}

impl<'s> Materializer<'s> {
    pub(crate) fn new(strings: &'s Mutex<Interner>, function: &str) -> Materializer<'s> {
        Materializer {
            strings,
            detail: Detail::default(),
            function: function.to_owned(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'s, Interner> {
        self.strings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn file_state(&self, f: &FileView<'_>, st: &mut Interner) -> OutState {
        if f.symlink.is_empty() {
            OutState::File(digest(f.digest.as_ref()))
        } else {
            OutState::Symlink {
                target: st.intern(&f.symlink),
                fp: symlink_fp(&f.symlink, &self.function),
            }
        }
    }

    /// Keep one spawn (`ordinal` in its log).
    pub(crate) fn spawn(&mut self, v: &SpawnView<'_>, ordinal: u32, need: Need) {
        let mut st = self.lock();
        let out_start = self.detail.outputs.len();
        match &v.outputs {
            OutputsView::Listed { listed, actual } => {
                for l in listed {
                    let state = match actual.iter().find(|f| f.path == *l) {
                        Some(f) => self.file_state(f, &mut st),
                        None if is_dir(l, actual) => OutState::Dir,
                        None => OutState::Missing,
                    };
                    let path = st.intern(l);
                    self.detail.outputs.push(Output { path, state });
                }
                for f in actual {
                    if !listed.contains(&f.path) {
                        let state = self.file_state(f, &mut st);
                        let path = st.intern(&f.path);
                        self.detail.outputs.push(Output { path, state });
                    }
                }
            }
            OutputsView::Entries(refs) => {
                for r in refs {
                    match r {
                        OutputRef::Invalid(p) => {
                            let path = st.intern(p);
                            self.detail.outputs.push(Output {
                                path,
                                state: OutState::Missing,
                            });
                        }
                        OutputRef::Id(id) => self.output_node(*id),
                    }
                }
            }
        }
        let outputs = &mut self.detail.outputs[out_start..];
        outputs.sort_by_key(|o| o.path);
        let mut kept: Vec<Output> = self.detail.outputs.split_off(out_start);
        kept.dedup_by_key(|o| o.path);
        self.detail.outputs.extend(kept);
        let primary = self.detail.outputs[out_start..]
            .iter()
            .filter(|o| o.state != OutState::Missing)
            .map(|o| o.path)
            .min_by(|x, y| {
                let (x, y) = (st.get(*x), st.get(*y));
                (output_rank(x), x).cmp(&(output_rank(y), y))
            });
        let run = Run {
            runner: some_sym(&mut st, &v.runner),
            hit: v.hit(),
            cacheable: v.cacheable,
            remote_cacheable: v.remote_cacheable,
            remotable: v.remotable,
            status: some_sym(&mut st, &v.status),
            exit_code: v.exit_code,
            timeout_millis: v.timeout_millis,
            ..Run::default()
        };
        let full = need == Need::Full;
        let mut inputs = Inputs::Listed(0..0);
        let command = if full {
            self.detail.push_command(
                &mut st,
                v.args.iter().map(|a| &**a),
                v.env.iter().map(|(k, x)| (&**k, &**x)),
                v.platform.iter().map(|(k, x)| (&**k, &**x)),
            )
        } else {
            self.detail.push_command(&mut st, [], [], [])
        };
        let d = &mut self.detail;
        if full {
            inputs = match &v.inputs {
                InputsView::Flat(files) => {
                    let at = d.inputs.len();
                    for f in files {
                        let fp = if f.symlink.is_empty() {
                            file_fp(f.digest.as_ref())
                        } else {
                            symlink_fp(&f.symlink, &self.function)
                        };
                        let path = st.intern(&f.path);
                        d.inputs.push(Input {
                            path,
                            fp,
                            tool: f.tool,
                        });
                    }
                    let mut list = d.inputs.split_off(at);
                    list.sort_by_key(|i| (i.path, !i.tool));
                    list.dedup_by_key(|i| i.path);
                    d.inputs.extend(list);
                    Inputs::Listed(len32(at)..len32(d.inputs.len()))
                }
                InputsView::Sets {
                    input_set,
                    tool_set,
                } => Inputs::Sets {
                    input_set: *input_set,
                    tool_set: *tool_set,
                },
            };
        }
        let label = v.label().map(|l| st.intern(l));
        let mnemonic = st.intern(&v.mnemonic);
        d.actions.push(Action {
            ordinal,
            label,
            mnemonic,
            primary,
            digest: digest(v.digest.as_ref()),
            run,
            has_command: full,
            full,
            args: command.args,
            env: command.env,
            platform: command.platform,
            inputs,
            outputs: len32(out_start)..len32(d.outputs.len()),
        });
    }

    /// The outputs a compact log's entry stands for.
    fn output_node(&mut self, id: u32) {
        let d = &mut self.detail;
        match d.dag.get(&id) {
            Some(Node::File { path, digest }) => d.outputs.push(Output {
                path: *path,
                state: OutState::File(*digest),
            }),
            Some(Node::Symlink { path, target, fp }) => d.outputs.push(Output {
                path: *path,
                state: OutState::Symlink {
                    target: *target,
                    fp: *fp,
                },
            }),
            Some(Node::Dir { path, files }) => {
                d.outputs.push(Output {
                    path: *path,
                    state: OutState::Dir,
                });
                for (p, dg) in files {
                    d.outputs.push(Output {
                        path: *p,
                        state: OutState::File(*dg),
                    });
                }
            }
            _ => {}
        }
    }

    /// Keep one compact-log entry the needed spawns refer to.
    pub(crate) fn entry(&mut self, id: u32, e: Entry<'_>) {
        let mut st = self.lock();
        let node = match e {
            Entry::Invocation { workspace, .. } => {
                self.detail.workspace = some_sym(&mut st, &workspace);
                return;
            }
            Entry::File { path, digest: d } => Node::File {
                path: st.intern(&path),
                digest: digest(d.as_ref()),
            },
            Entry::Directory { path, files } => Node::Dir {
                path: st.intern(&path),
                files: files
                    .iter()
                    .map(|f| {
                        (
                            st.intern(&format!("{path}/{}", f.path)),
                            digest(f.digest.as_ref()),
                        )
                    })
                    .collect(),
            },
            Entry::Symlink { path, target } => Node::Symlink {
                path: st.intern(&path),
                target: st.intern(&target),
                fp: symlink_fp(&target, &self.function),
            },
            Entry::InputSet { inputs, sets } => Node::Set {
                inputs: inputs.into(),
                sets: sets.into(),
            },
            Entry::SymlinkEntrySet { direct, sets } => Node::SymlinkSet {
                direct: direct.iter().map(|(n, i)| (st.intern(n), *i)).collect(),
                sets: sets.into(),
            },
            Entry::Runfiles {
                path,
                input_set,
                symlinks,
                root_symlinks,
                empty_files,
                repo_mapping,
            } => Node::Runfiles {
                path: st.intern(&path),
                input_set,
                symlinks,
                root_symlinks,
                empty_files: empty_files.iter().map(|f| st.intern(f)).collect(),
                repo_mapping: repo_mapping.map(|d| digest(d.as_ref())),
            },
            Entry::Spawn(_) | Entry::SymlinkAction { .. } | Entry::Other => return,
        };
        if id != 0 {
            self.detail.dag.insert(id, node);
        }
    }

    pub(crate) fn finish(mut self) -> Detail {
        self.detail.actions.sort_by_key(|a| a.ordinal);
        self.detail
    }
}
