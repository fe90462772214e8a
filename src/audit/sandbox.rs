//! What builds run with: the system tools found, the audit's work
//! directory, disorderfs mounts, compiled locales, and running one build
//! process (killing its whole group on Ctrl-C or a timeout).

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::variation::{FAKETIME, SYSTEM_TOOLS, SystemTool};

/// The system tools found on this machine.
#[derive(Clone, Debug, Default)]
pub struct Tools {
    found: BTreeMap<&'static str, PathBuf>,
    /// libfaketime's multi-threaded preload library.
    pub libfaketime: Option<PathBuf>,
    /// `fusermount3`, `fusermount` or `umount` to unmount disorderfs.
    pub unmount: Option<PathBuf>,
}

impl Tools {
    pub fn detect() -> Tools {
        let mut t = Tools::default();
        for tool in SYSTEM_TOOLS {
            if let Some(p) = find_program(tool.program) {
                t.found.insert(tool.program, p);
            }
        }
        if let Some(faketime) = t.found.get(FAKETIME.program) {
            t.libfaketime = find_libfaketime(faketime);
            if t.libfaketime.is_none() {
                t.found.remove(FAKETIME.program);
            }
        }
        t.unmount = ["fusermount3", "fusermount", "umount"]
            .into_iter()
            .find_map(find_program);
        t
    }

    pub fn get(&self, tool: SystemTool) -> Option<&Path> {
        self.found.get(tool.program).map(PathBuf::as_path)
    }

    pub fn has(&self, tool: SystemTool) -> bool {
        self.found.contains_key(tool.program)
    }
}

/// `name` on `$PATH`, as an executable file.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

fn find_libfaketime(faketime: &Path) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(prefix) = faketime.parent().and_then(Path::parent) {
        dirs.push(prefix.join("lib/faketime"));
        if let Ok(rd) = fs::read_dir(prefix.join("lib")) {
            let mut multiarch: Vec<PathBuf> = rd
                .flatten()
                .map(|e| e.path().join("faketime"))
                .filter(|p| p.is_dir())
                .collect();
            multiarch.sort();
            dirs.extend(multiarch);
        }
    }
    dirs.into_iter()
        .flat_map(|d| [d.join("libfaketimeMT.so.1"), d.join("libfaketime.so.1")])
        .find(|p| p.is_file())
}

/// The audit's own temporary directory: staged trees, homes, logs. Removed
/// when dropped unless kept; logs survive a failed build.
///
/// While the audit runs it holds an exclusive lock on `.lock` inside the
/// directory. A directory whose `.lock` can be locked belongs to an audit
/// that died without cleaning up (SIGKILL, a crash): the next audit unmounts
/// what is still mounted there and removes it. Kept directories have no
/// `.lock`.
pub struct WorkDir {
    pub root: PathBuf,
    keep: bool,
    keep_logs: bool,
    lock: Option<fs::File>,
}

const WORK_PREFIX: &str = "twice-audit-";
const LOCK: &str = ".lock";

impl WorkDir {
    pub fn create(keep: bool) -> io::Result<WorkDir> {
        let base = std::env::temp_dir();
        clean_stale(&base);
        let pid = std::process::id();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        for attempt in 0..100u32 {
            let root = base.join(format!("{WORK_PREFIX}{pid}-{:x}", nanos ^ attempt));
            match fs::create_dir(&root) {
                Ok(()) => {
                    let lock = fs::File::create(root.join(LOCK))?;
                    lock.try_lock().map_err(io::Error::other)?;
                    fs::create_dir(root.join("logs"))?;
                    return Ok(WorkDir {
                        root,
                        keep,
                        keep_logs: false,
                        lock: Some(lock),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other("no unused temporary directory name"))
    }

    pub fn logs(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// Keep the logs directory when the rest is removed.
    pub fn keep_logs(&mut self) {
        self.keep_logs = true;
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.keep || self.keep_logs {
            let _ = fs::remove_file(self.root.join(LOCK));
        }
        drop(self.lock.take());
        if self.keep {
            return;
        }
        if !self.keep_logs {
            let _ = fs::remove_dir_all(&self.root);
            return;
        }
        if let Ok(rd) = fs::read_dir(&self.root) {
            for e in rd.flatten() {
                if e.file_name() != "logs" {
                    let _ = super::stage::remove_tree(&e.path());
                }
            }
        }
    }
}

/// Remove the work directories of audits that died without cleaning up,
/// unmounting what they left mounted first.
fn clean_stale(base: &Path) {
    let Ok(rd) = fs::read_dir(base) else { return };
    for entry in rd.flatten() {
        let name = entry.file_name();
        if !name.as_encoded_bytes().starts_with(WORK_PREFIX.as_bytes()) {
            continue;
        }
        let dir = entry.path();
        let Ok(lock) = fs::File::open(dir.join(LOCK)) else {
            continue;
        };
        if lock.try_lock().is_err() {
            continue;
        }
        for mountpoint in mounts_below(&dir) {
            unmount(&mountpoint);
        }
        let _ = super::stage::remove_tree(&dir);
    }
}

/// Mount points at or below `dir`, deepest first (from
/// `/proc/self/mountinfo`, field 5, with octal escapes).
fn mounts_below(dir: &Path) -> Vec<PathBuf> {
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mount(p)))
        .filter(|p| p.starts_with(dir))
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out
}

fn unescape_mount(p: &str) -> String {
    let mut out = Vec::new();
    let b = p.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && let Some(oct) = p.get(i + 1..i + 4)
            && let Ok(v) = u8::from_str_radix(oct, 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmount a FUSE mount lazily (its daemon exits with it).
fn unmount(mountpoint: &Path) {
    for tool in ["fusermount3", "fusermount", "umount"] {
        let Some(program) = find_program(tool) else {
            continue;
        };
        let flag = if tool == "umount" { "-l" } else { "-uz" };
        let ok = Command::new(program)
            .arg(flag)
            .arg(mountpoint)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return;
        }
    }
}

/// A disorderfs mount over a staged tree; unmounted when dropped.
pub struct Disorder {
    mountpoint: PathBuf,
    unmount: Option<PathBuf>,
}

impl Disorder {
    pub fn mount(
        disorderfs: &Path,
        unmount: Option<&Path>,
        source: &Path,
        mountpoint: &Path,
        reverse: bool,
        shuffle: bool,
    ) -> io::Result<Disorder> {
        fs::create_dir_all(mountpoint)?;
        let yes = |b: bool| if b { "yes" } else { "no" };
        let out = Command::new(disorderfs)
            .arg(format!("--reverse-dirents={}", yes(reverse)))
            .arg(format!("--shuffle-dirents={}", yes(shuffle)))
            .arg("--sort-dirents=no")
            .arg("--quiet")
            .arg(source)
            .arg(mountpoint)
            .stdin(Stdio::null())
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "disorderfs failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(Disorder {
            mountpoint: mountpoint.to_path_buf(),
            unmount: unmount.map(Path::to_path_buf),
        })
    }

    pub fn path(&self) -> &Path {
        &self.mountpoint
    }
}

impl Drop for Disorder {
    fn drop(&mut self) {
        let Some(tool) = &self.unmount else { return };
        let flag = if tool.ends_with("umount") {
            "-l"
        } else {
            "-uz"
        };
        for _ in 0..50 {
            let ok = Command::new(tool)
                .arg(flag)
                .arg(&self.mountpoint)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// How a build process ended.
#[derive(Debug)]
pub enum Ended {
    Exited(ExitStatus),
    TimedOut(Duration),
    Interrupted,
}

/// Run `cmd` with its output appended to `log`, in its own process group,
/// killing the whole group on interrupt or timeout.
pub fn run_logged(
    mut cmd: Command,
    log: &Path,
    timeout: Option<Duration>,
    interrupted: &AtomicBool,
) -> io::Result<Ended> {
    let file = fs::OpenOptions::new().create(true).append(true).open(log)?;
    cmd.stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .process_group(0);
    let mut child = cmd.spawn()?;
    let started = Instant::now();
    let kill = |child: &mut std::process::Child| {
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = child.kill();
        let _ = child.wait();
    };
    loop {
        if let Some(status) = child.try_wait()? {
            // Background processes the build left in its process group go
            // with it.
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            return Ok(Ended::Exited(status));
        }
        if interrupted.load(Ordering::SeqCst) {
            kill(&mut child);
            return Ok(Ended::Interrupted);
        }
        if let Some(limit) = timeout
            && started.elapsed() >= limit
        {
            kill(&mut child);
            return Ok(Ended::TimedOut(limit));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Become the reaper of orphaned descendants: a process a build detached
/// from its process group (setsid, a daemon) is re-parented to `twice`
/// instead of init, so [`kill_orphans`] can end it. Only needed without
/// bubblewrap, whose PID namespace ends with the build.
pub fn adopt_orphans() {
    let _ = nix::sys::prctl::set_child_subreaper(true);
}

/// Kill and reap every child of this process that `twice` did not start
/// itself and that is still alive once the builds are over: what builds
/// left running in the background.
pub fn kill_orphans() {
    let me = std::process::id().to_string();
    let Ok(rd) = fs::read_dir("/proc") else {
        return;
    };
    for entry in rd.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1));
        if ppid == Some(me.as_str()) {
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
    }
}

/// Describe an exit status for humans: `exit code 2`, `killed by signal 9`.
pub fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => status.to_string(),
    }
}

/// The last `lines` lines of a log (at most 64 KiB read).
pub fn tail(log: &Path, lines: usize) -> String {
    let Ok(mut f) = fs::File::open(log) else {
        return String::new();
    };
    let len = f.metadata().map_or(0, |m| m.len());
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut buf = Vec::new();
    let _ = f.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Where compiled locales are kept between audits: `$XDG_CACHE_HOME/twice`
/// or `~/.cache/twice`, falling back to the audit's work directory.
pub fn locale_cache(work: &Path) -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    match base {
        Some(b) if fs::create_dir_all(b.join("twice/locales")).is_ok() => b.join("twice/locales"),
        _ => work.join("locales"),
    }
}

/// Compile a locale with localedef into `dir/name`, unless it is there.
/// Compiles into a private directory and renames, so concurrent audits
/// never see half a locale.
pub fn compile_locale(localedef: &Path, dir: &Path, name: &str) -> Result<(), String> {
    let done = |d: &Path| d.join("LC_CTYPE").exists();
    if done(&dir.join(name)) {
        return Ok(());
    }
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let (input, charmap) = name.split_once('.').unwrap_or((name, "UTF-8"));
    let out = Command::new(localedef)
        .args(["-i", input, "-f", charmap])
        .arg(&tmp)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run localedef: {e}"))?;
    // localedef exits 1 on warnings but still writes the locale.
    if !done(&tmp) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(format!(
            "localedef -i {input} -f {charmap} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    if fs::rename(&tmp, dir.join(name)).is_err() {
        // Another audit got there first.
        let _ = fs::remove_dir_all(&tmp);
    }
    if done(&dir.join(name)) {
        Ok(())
    } else {
        Err(format!("{} is incomplete", dir.join(name).display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_kills_the_whole_process_group() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("log");
        let flag = AtomicBool::new(false);
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo started; sleep 30 & sleep 30; echo never"]);
        let t = Instant::now();
        let ended = run_logged(cmd, &log, Some(Duration::from_millis(300)), &flag).unwrap();
        assert!(matches!(ended, Ended::TimedOut(_)), "{ended:?}");
        assert!(t.elapsed() < Duration::from_secs(20));
        assert_eq!(tail(&log, 5), "started");
    }
}
