//! One build of an audit. [`Executor`] is the seam: "run this build with
//! these variations and give me its output tree". [`LocalBuilder`] is the
//! local implementation: stage a copy of the source, run the command in a
//! bubblewrap sandbox (or a plain directory), walk what it left behind.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::error::{AuditError, Step};
use super::exposure::Exposure;
use super::progress::Progress;
use super::sandbox::{self, Disorder, Ended, Tools, WorkDir};
use super::stage;
use super::variation::{
    self, BWRAP, DISORDERFS, DOMAINNAME, Plan, RunSpec, SANDBOX_BASE, SANDBOX_LOCALES,
    SANDBOX_TRACE, SETARCH, SETPRIV, TASKSET, Value,
};
use crate::finding::{Digest, Variation};
use crate::tree::{Tree, walk};

/// Runs one build of an audit and returns what it produced. Staging is
/// separate from executing so that every tree can be staged before any
/// build starts when builds run in parallel.
pub(crate) trait Executor: Sync {
    type Staged: Send;
    fn stage(&self, spec: &RunSpec) -> Result<Self::Staged, AuditError>;
    fn execute(&self, staged: Self::Staged) -> Result<Run, AuditError>;
    /// Remove what a run left behind (a bisect build no longer needed).
    fn discard(&self, run: &Run);
    /// Make the files that differ between two runs readable here before
    /// they are compared: a remote executor downloads them (nothing else),
    /// a local build's files are already on disk.
    fn fetch(&self, _a: &Run, _b: &Run) -> Result<(), AuditError> {
        Ok(())
    }

    fn build(&self, spec: &RunSpec) -> Result<Run, AuditError> {
        let staged = self.stage(spec)?;
        self.execute(staged)
    }
}

/// What a finished build left behind.
pub(crate) struct Run {
    pub spec: RunSpec,
    /// The source tree's path as the build saw it.
    pub build_dir: PathBuf,
    /// HOME as the build saw it.
    pub home: PathBuf,
    /// The tree after the build (walked, not hashed), on this machine.
    pub tree: Tree,
    /// Paths the build created or changed.
    pub changed: Vec<Vec<u8>>,
    /// Real start and end, epoch seconds.
    pub real: (i64, i64),
    /// The faked clock at the build's start, when `time` was varied.
    pub fake_start: Option<i64>,
    /// The offsets from UTC (seconds) the build's local time had, at its
    /// real and faked times.
    pub utc_offsets: Vec<i64>,
    pub seconds: f64,
    pub stage_seconds: f64,
    /// Special files of the source tree that were not staged.
    pub skipped: Vec<PathBuf>,
    /// What staging read of the source tree.
    pub source_digest: Digest,
    /// The run's own directory, removed by `discard`.
    pub dir: PathBuf,
    /// Where `--trace` wrote the run's strace files.
    pub trace: Option<PathBuf>,
}

/// What every local build is run with.
pub(crate) struct BuildSettings {
    pub source: PathBuf,
    pub command: Vec<OsString>,
    pub timeout: Option<Duration>,
    pub network: bool,
    pub keep: bool,
    /// Trace run A's processes (`--trace`), with this strace.
    pub trace: Option<PathBuf>,
    /// Extra variables every build gets.
    pub env: Vec<(String, String)>,
}

/// Builds on this machine, in bubblewrap when it is installed.
pub(crate) struct LocalBuilder<'a> {
    pub settings: &'a BuildSettings,
    pub plan: &'a Plan,
    pub tools: &'a Tools,
    pub work: &'a WorkDir,
    pub exposure: &'a Exposure,
    pub interrupted: &'a AtomicBool,
    pub progress: &'a Progress,
    pub locale_dir: PathBuf,
    pub real_home: Option<PathBuf>,
    /// bubblewrap can create a user namespace here.
    pub user_namespace: bool,
}

/// A staged tree waiting for its build.
pub(crate) struct LocalStaged {
    spec: RunSpec,
    dir: PathBuf,
    src: PathBuf,
    before: Tree,
    stage_seconds: f64,
    skipped: Vec<PathBuf>,
    digest: Digest,
}

impl Executor for LocalBuilder<'_> {
    type Staged = LocalStaged;

    /// Copy the source tree for `spec`.
    fn stage(&self, spec: &RunSpec) -> Result<LocalStaged, AuditError> {
        self.check_interrupt()?;
        let dir = self.work.root.join(format!("run-{}", spec.label));
        let src = dir.join("src");
        fs::create_dir_all(&dir).map_err(|e| sandbox_error(spec, Step::CreateDirectory, e))?;
        self.progress.stage(format!("run {}: staging", spec.label));
        let t = Instant::now();
        let staged = stage::stage(&self.settings.source, &src).map_err(|(path, source)| {
            AuditError::Stage {
                run: spec.label.clone(),
                path,
                source,
            }
        })?;
        Ok(LocalStaged {
            spec: spec.clone(),
            before: walk(&src),
            dir,
            src,
            stage_seconds: t.elapsed().as_secs_f64(),
            skipped: staged.skipped,
            digest: staged.digest,
        })
    }

    /// Run the build of a staged tree and walk what it left behind.
    fn execute(&self, staged: LocalStaged) -> Result<Run, AuditError> {
        let LocalStaged {
            spec,
            dir,
            src,
            before,
            stage_seconds,
            skipped,
            digest,
        } = staged;
        self.check_interrupt()?;
        let disorder = self.mount_disorder(&spec, &src, &dir)?;
        let visible = disorder.as_ref().map_or(src.as_path(), Disorder::path);
        let place = self
            .place(&spec, &dir, visible)
            .map_err(|e| sandbox_error(&spec, Step::PrepareSandbox, e))?;
        let trace = self.trace_dir(&spec, &dir)?;
        let cmd = self.command(&spec, visible, &place, trace.as_deref());
        self.progress.stage(format!("run {}: building", spec.label));
        let log = self.work.logs().join(format!("run-{}.log", spec.label));
        let real_start = crate::clock::now();
        let t = Instant::now();
        let ended = sandbox::run_logged(cmd, &log, self.settings.timeout, self.interrupted)
            .map_err(|e| sandbox_error(&spec, Step::StartBuild, e))?;
        let seconds = t.elapsed().as_secs_f64();
        let real_end = crate::clock::now();
        drop(disorder);
        let failed = |status: String| AuditError::BuildFailed {
            run: spec.label.clone(),
            status,
            tail: sandbox::tail(&log, 20),
            log: log.clone(),
        };
        match ended {
            Ended::Exited(s) if s.success() => {}
            Ended::Exited(s) => return Err(failed(sandbox::describe_status(s))),
            Ended::TimedOut(d) => {
                return Err(failed(format!(
                    "killed after {} s (--timeout)",
                    d.as_secs_f64()
                )));
            }
            Ended::Interrupted => return Err(AuditError::Interrupted),
        }
        let tree = walk(&src);
        let fake_start = place.clock_shift.map(|shift| real_start + shift);
        let zone = variation::time_zone(self.plan.value(&spec, Variation::Timezone));
        let utc_offsets = utc_offsets(zone, real_start, fake_start);
        Ok(Run {
            changed: stage::changed(&before, &tree),
            tree,
            build_dir: place.build_dir,
            home: place.home,
            real: (real_start, real_end),
            fake_start,
            utc_offsets,
            seconds,
            stage_seconds,
            skipped,
            source_digest: digest,
            dir,
            spec,
            trace,
        })
    }

    fn discard(&self, run: &Run) {
        if !self.settings.keep {
            let _ = stage::remove_tree(&run.dir);
        }
    }
}

/// Where a run's tree and home are, as the build sees them, and how far
/// its clock is shifted.
struct Place {
    build_dir: PathBuf,
    home: PathBuf,
    /// Only without a sandbox: the run's own TMPDIR.
    tmp: Option<PathBuf>,
    clock_shift: Option<i64>,
}

impl LocalBuilder<'_> {
    fn check_interrupt(&self) -> Result<(), AuditError> {
        if self.interrupted.load(Ordering::SeqCst) {
            Err(AuditError::Interrupted)
        } else {
            Ok(())
        }
    }

    fn value(&self, spec: &RunSpec, v: Variation) -> Value {
        self.plan.value(spec, v)
    }

    /// A disorderfs view of the staged tree, when the file order varies.
    fn mount_disorder(
        &self,
        spec: &RunSpec,
        src: &Path,
        dir: &Path,
    ) -> Result<Option<Disorder>, AuditError> {
        let value = self.value(spec, Variation::FileOrder);
        if value == Value::Inherit {
            return Ok(None);
        }
        let fail = |e| sandbox_error(spec, Step::MountDisorderfs, e);
        let disorderfs = self
            .tools
            .get(DISORDERFS)
            .ok_or_else(|| fail(std::io::ErrorKind::NotFound.into()))?;
        let (reverse, shuffle) = match value {
            Value::Variant(1) => (true, false),
            Value::Variant(_) => (false, true),
            _ => (false, false),
        };
        Disorder::mount(
            disorderfs,
            self.tools.unmount.as_deref(),
            src,
            &dir.join("mnt"),
            reverse,
            shuffle,
        )
        .map(Some)
        .map_err(fail)
    }

    fn place(&self, spec: &RunSpec, dir: &Path, visible: &Path) -> std::io::Result<Place> {
        let build = self.value(spec, Variation::BuildPath);
        let env = self.value(spec, Variation::Env);
        let clock_shift = match self.tools.libfaketime {
            Some(_) => variation::clock_shift(self.value(spec, Variation::Time)),
            None => None,
        };
        if self.tools.has(BWRAP) {
            let base = Path::new(SANDBOX_BASE);
            return Ok(Place {
                build_dir: base.join(variation::build_dir_name(build)).join("src"),
                home: base.join(variation::home_name(env)),
                tmp: None,
                clock_shift,
            });
        }
        let home = dir.join(variation::home_name(env));
        let tmp = dir.join("tmp");
        fs::create_dir_all(&home)?;
        fs::create_dir_all(&tmp)?;
        Ok(Place {
            build_dir: visible.to_path_buf(),
            home,
            tmp: Some(tmp),
            clock_shift,
        })
    }

    /// The variables the build gets on top of the user's environment
    /// (`None`: removed).
    fn environment(&self, spec: &RunSpec, place: &Place) -> Vec<(String, Option<OsString>)> {
        let mut env: Vec<(String, Option<OsString>)> = self
            .settings
            .env
            .iter()
            .map(|(k, v)| (k.clone(), Some(v.into())))
            .collect();
        env.push(("HOME".into(), Some(place.home.clone().into())));
        env.push(("PWD".into(), Some(place.build_dir.clone().into())));
        if let Some(tmp) = &place.tmp {
            env.push(("TMPDIR".into(), Some(tmp.clone().into())));
        }
        // Toolchains found through HOME keep working with a private HOME.
        if let Some(real) = &self.real_home {
            for (var, sub) in [
                ("CARGO_HOME", ".cargo"),
                ("RUSTUP_HOME", ".rustup"),
                ("PYENV_ROOT", ".pyenv"),
            ] {
                if std::env::var_os(var).is_none() && real.join(sub).is_dir() {
                    env.push((var.into(), Some(real.join(sub).into())));
                }
            }
        }
        if let (Some(shift), Some(lib)) = (place.clock_shift, &self.tools.libfaketime) {
            // A relative offset: an absolute start would be read in the
            // build's time zone, which another variation changes.
            let mut preload: OsString = lib.clone().into();
            if let Some(old) = std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
                preload.push(" ");
                preload.push(old);
            }
            env.push(("LD_PRELOAD".into(), Some(preload)));
            env.push(("FAKETIME".into(), Some(format!("+{shift}").into())));
            env.push(("NO_FAKE_STAT".into(), Some("1".into())));
            env.push(("FAKETIME_DONT_FAKE_MONOTONIC".into(), Some("1".into())));
        }
        if let Some(zone) = variation::time_zone(self.value(spec, Variation::Timezone)) {
            env.push(("TZ".into(), Some(zone.into())));
        }
        let locale_value = self.value(spec, Variation::Locale);
        if let Some(name) = variation::locale(locale_value) {
            env.push(("LC_ALL".into(), Some(name.into())));
            env.push(("LANG".into(), Some(name.into())));
            match locale_value {
                Value::Variant(_) => {
                    let language = name.split(['_', '.']).next().unwrap_or(name);
                    env.push(("LANGUAGE".into(), Some(language.into())));
                    let locpath = if self.tools.has(BWRAP) {
                        PathBuf::from(SANDBOX_LOCALES)
                    } else {
                        self.locale_dir.clone()
                    };
                    env.push(("LOCPATH".into(), Some(locpath.into())));
                }
                _ => env.push(("LANGUAGE".into(), None)),
            }
        }
        let user = self.value(spec, Variation::Env);
        if user != Value::Inherit {
            let name = variation::user_name(user);
            env.push(("USER".into(), Some(name.clone().into())));
            env.push(("LOGNAME".into(), Some(name.into())));
            if let Value::Variant(k) = user {
                env.push(("TWICE_AUDIT_NOISE".into(), Some(variation::noise(k).into())));
            }
        }
        env
    }

    /// The program run inside the sandbox: a small shell prologue for the
    /// umask and the domain name (after which every capability is dropped),
    /// taskset and setarch when those vary, then the build command.
    fn wrapped_command(&self, spec: &RunSpec) -> Vec<OsString> {
        let mut argv: Vec<OsString> = Vec::new();
        let umask = variation::umask(self.value(spec, Variation::Umask));
        let domain = match self.value(spec, Variation::Domain) {
            Value::Inherit => None,
            v => Some(variation::domain_name(v)),
        };
        let domain_tools = (self.tools.get(DOMAINNAME), self.tools.get(SETPRIV));
        if umask.is_some() || domain.is_some() {
            let mut script = String::new();
            if let Some(u) = umask {
                script.push_str(&format!("umask {u:04o} && "));
            }
            if let (Some(d), (Some(tool), Some(setpriv))) = (&domain, domain_tools) {
                // Setting the domain name needs CAP_SYS_ADMIN (in the
                // sandbox's own user namespace where there is one); the
                // build itself runs with no capability at all.
                script.push_str(&format!(
                    "{} {d} && exec {} --bounding-set=-all --inh-caps=-all --no-new-privs -- \"$@\"",
                    tool.display(),
                    setpriv.display()
                ));
            } else {
                script.push_str("exec \"$@\"");
            }
            argv.extend([
                "/bin/sh".into(),
                "-c".into(),
                script.into(),
                "twice-build".into(),
            ]);
        }
        if let (Value::Variant(_), Some(taskset)) = (
            self.value(spec, Variation::NumCpus),
            self.tools.get(TASKSET),
        ) {
            argv.extend([taskset.into(), "-c".into(), "0".into()]);
        }
        if let (Value::Control, Some(setarch)) =
            (self.value(spec, Variation::Aslr), self.tools.get(SETARCH))
        {
            argv.extend([setarch.into(), "-R".into()]);
        }
        argv.extend(self.settings.command.iter().cloned());
        argv
    }

    /// Run A is traced with `--trace`: its strace files go to a directory
    /// of the run, outside the tree.
    fn trace_dir(&self, spec: &RunSpec, dir: &Path) -> Result<Option<PathBuf>, AuditError> {
        if self.settings.trace.is_none() || spec.label != "A" {
            return Ok(None);
        }
        let trace = dir.join("trace");
        fs::create_dir_all(&trace).map_err(|e| sandbox_error(spec, Step::PrepareSandbox, e))?;
        Ok(Some(trace))
    }

    /// The full command line for `spec`, with the tree visible at
    /// `visible` on this machine.
    fn command(
        &self,
        spec: &RunSpec,
        visible: &Path,
        place: &Place,
        trace: Option<&Path>,
    ) -> Command {
        let env = self.environment(spec, place);
        let mut argv = self.wrapped_command(spec);
        let sandboxed = self.tools.get(BWRAP);
        if let (Some(strace), Some(dir)) = (&self.settings.trace, trace) {
            let inside = match sandboxed {
                Some(_) => Path::new(SANDBOX_TRACE).to_path_buf(),
                None => dir.to_path_buf(),
            };
            argv = super::trace::wrap(strace, &inside.join("process"), argv);
        }
        match sandboxed {
            Some(bwrap) => self.bwrap_command(bwrap, spec, visible, place, &env, trace, &argv),
            None => plain_command(&argv, place, &env),
        }
    }

    #[expect(clippy::too_many_arguments, reason = "one run's sandbox, all of it")]
    fn bwrap_command(
        &self,
        bwrap: &Path,
        spec: &RunSpec,
        visible: &Path,
        place: &Place,
        env: &[(String, Option<OsString>)],
        trace: Option<&Path>,
        argv: &[OsString],
    ) -> Command {
        let mut c = Command::new(bwrap);
        c.args(["--die-with-parent", "--unshare-pid", "--unshare-ipc"]);
        if self.user_namespace {
            c.arg("--unshare-user");
        }
        if !self.settings.network {
            c.arg("--unshare-net");
        }
        let hostname = self.value(spec, Variation::Hostname);
        let domain = self.value(spec, Variation::Domain) != Value::Inherit;
        if hostname != Value::Inherit || domain {
            c.arg("--unshare-uts");
        }
        if hostname != Value::Inherit {
            c.arg("--hostname").arg(variation::host_name(hostname));
        }
        // No capability reaches the build, whoever runs twice. Only the
        // prologue that sets the domain name keeps CAP_SYS_ADMIN, and it
        // drops it before running the build.
        c.args(["--cap-drop", "ALL"]);
        if domain {
            c.args(["--cap-add", "CAP_SYS_ADMIN"]);
        }
        c.args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]);
        // Private /tmp and /dev/shm, then what the build needs from them.
        c.args(self.exposure.bwrap_args());
        c.arg("--bind").arg(visible).arg(&place.build_dir);
        if self.value(spec, Variation::Locale) != Value::Inherit {
            // The cache may live under the host's /tmp, which the sandbox
            // replaces.
            c.arg("--ro-bind")
                .arg(&self.locale_dir)
                .arg(SANDBOX_LOCALES);
        }
        if let Some(dir) = trace {
            c.arg("--bind").arg(dir).arg(SANDBOX_TRACE);
        }
        c.arg("--dir").arg(&place.home);
        c.arg("--chdir").arg(&place.build_dir);
        for (k, v) in env {
            match v {
                Some(v) => c.arg("--setenv").arg(k).arg(v),
                None => c.arg("--unsetenv").arg(k),
            };
        }
        c.arg("--").args(argv);
        c
    }
}

/// Without a sandbox: the command in the staged directory.
fn plain_command(argv: &[OsString], place: &Place, env: &[(String, Option<OsString>)]) -> Command {
    let (program, args) = argv
        .split_first()
        .expect("the build command is never empty");
    let mut c = Command::new(program);
    c.args(args).current_dir(&place.build_dir);
    for (k, v) in env {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c
}

fn sandbox_error(spec: &RunSpec, step: Step, source: std::io::Error) -> AuditError {
    AuditError::Sandbox {
        run: spec.label.clone(),
        step,
        source,
    }
}

/// The offsets from UTC a build in `zone` had at its real start and at
/// its faked one, sorted, each once.
pub(crate) fn utc_offsets(
    zone: Option<&str>,
    real_start: i64,
    fake_start: Option<i64>,
) -> Vec<i64> {
    let mut offsets: Vec<i64> = [Some(real_start), fake_start]
        .into_iter()
        .flatten()
        .filter_map(|t| variation::utc_offset_at(zone, t))
        .collect();
    offsets.sort_unstable();
    offsets.dedup();
    offsets
}

/// Can bubblewrap create a user namespace on this machine?
pub(crate) fn user_namespaces_work(bwrap: &Path) -> bool {
    Command::new(bwrap)
        .args(["--unshare-user", "--ro-bind", "/", "/", "--", "/bin/true"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
