//! What of the host a sandboxed build can see.
//!
//! The build sees the host's root read-only, except:
//! - the runtime and scratch directories where services keep their sockets
//!   and users keep their files ([`HIDDEN`]) are replaced by empty tmpfs;
//! - Unix sockets found elsewhere under `/var` (a bounded scan) are masked
//!   with `/dev/null`;
//! - what the build needs from inside the hidden directories comes back
//!   read-only: the directories on `PATH` and `LD_LIBRARY_PATH`, the Rust
//!   and pyenv toolchain homes (`CARGO_HOME`, `RUSTUP_HOME`, `PYENV_ROOT`),
//!   and whatever `--expose DIR` names.
//!
//! With `--unshare-net` that leaves no way to a host socket: abstract
//! sockets belong to the network namespace, and path sockets are hidden or
//! masked.

use std::fs;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// Replaced by an empty tmpfs in the sandbox.
pub const HIDDEN: [&str; 9] = [
    "/run", "/var/run", "/tmp", "/var/tmp", "/dev/shm", "/home", "/root", "/mnt", "/media",
];

/// Where the socket scan looks, how deep and how far.
const SCAN_ROOTS: [&str; 2] = ["/var", "/srv"];
const SCAN_DEPTH: usize = 5;
const SCAN_ENTRIES: usize = 50_000;
/// Large trees that hold no service sockets.
const SCAN_SKIP: [&str; 6] = [
    "/var/cache",
    "/var/log",
    "/var/lib/docker",
    "/var/lib/containers",
    "/var/lib/apt",
    "/var/lib/dpkg",
];

/// The host paths a sandbox hides, masks and re-exposes.
#[derive(Clone, Debug, Default)]
pub struct Exposure {
    /// Existing directories replaced by tmpfs.
    pub hidden: Vec<PathBuf>,
    /// Sockets outside the hidden directories, masked by `/dev/null`.
    pub masked: Vec<PathBuf>,
    /// Directories inside hidden ones bound back read-only.
    pub exposed: Vec<PathBuf>,
}

impl Exposure {
    /// Look at this host: which hidden directories exist, which sockets lie
    /// elsewhere, which needed directories lie inside hidden ones.
    pub fn detect(real_home: Option<&Path>, extra: &[PathBuf]) -> Exposure {
        let hidden: Vec<PathBuf> = HIDDEN
            .iter()
            .map(PathBuf::from)
            .filter(|p| fs::symlink_metadata(p).is_ok_and(|m| m.is_dir()))
            .collect();
        let mut wanted: Vec<PathBuf> = Vec::new();
        for var in ["PATH", "LD_LIBRARY_PATH"] {
            if let Some(v) = std::env::var_os(var) {
                wanted.extend(std::env::split_paths(&v));
            }
        }
        for (var, sub) in [
            ("CARGO_HOME", ".cargo"),
            ("RUSTUP_HOME", ".rustup"),
            ("PYENV_ROOT", ".pyenv"),
        ] {
            match std::env::var_os(var) {
                Some(v) if !v.is_empty() => wanted.push(PathBuf::from(v)),
                _ => wanted.extend(real_home.map(|h| h.join(sub))),
            }
        }
        wanted.extend(extra.iter().cloned());
        let mut exposed: Vec<PathBuf> = wanted
            .into_iter()
            .filter(|p| p.is_absolute() && p.is_dir())
            .filter_map(|p| fs::canonicalize(&p).ok().map(|c| (p, c)))
            .filter(|(p, c)| under_any(p, &hidden) || under_any(c, &hidden))
            .map(|(_, c)| c)
            .collect();
        exposed.sort();
        exposed.dedup();
        // A directory inside another exposed one adds nothing.
        let mut kept: Vec<PathBuf> = Vec::new();
        for p in exposed {
            if !kept.iter().any(|k| p.starts_with(k)) {
                kept.push(p);
            }
        }
        let mut masked = Vec::new();
        for root in SCAN_ROOTS {
            scan_sockets(Path::new(root), &hidden, &mut masked);
        }
        masked.sort();
        Exposure {
            hidden,
            masked,
            exposed: kept,
        }
    }

    /// The bubblewrap arguments that apply it (after `--ro-bind / /`).
    pub fn bwrap_args(&self) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        for dir in &self.hidden {
            args.push("--tmpfs".into());
            args.push(dir.into());
        }
        for socket in &self.masked {
            args.push("--ro-bind".into());
            args.push("/dev/null".into());
            args.push(socket.into());
        }
        for dir in &self.exposed {
            args.push("--ro-bind".into());
            args.push(dir.into());
            args.push(dir.into());
        }
        args
    }
}

fn under_any(p: &Path, dirs: &[PathBuf]) -> bool {
    dirs.iter().any(|d| p.starts_with(d))
}

/// Sockets below `root`, at most [`SCAN_DEPTH`] levels down and
/// [`SCAN_ENTRIES`] entries in all, never following links.
fn scan_sockets(root: &Path, hidden: &[PathBuf], out: &mut Vec<PathBuf>) {
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    let mut seen = 0usize;
    while let Some((dir, depth)) = stack.pop() {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for entry in rd.flatten() {
            seen += 1;
            if seen > SCAN_ENTRIES {
                return;
            }
            let path = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_socket() && !under_any(&path, hidden) {
                out.push(path);
            } else if ft.is_dir()
                && depth + 1 < SCAN_DEPTH
                && !under_any(&path, hidden)
                && !SCAN_SKIP.iter().any(|s| path == Path::new(s))
            {
                stack.push((path, depth + 1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_directories_inside_hidden_ones_are_exposed_again() {
        let e = Exposure::detect(None, &[PathBuf::from("/usr/bin")]);
        assert!(e.hidden.iter().any(|h| h == Path::new("/tmp")));
        // /usr is visible anyway.
        assert!(!e.exposed.iter().any(|x| x.starts_with("/usr")));
        let dir = tempfile::tempdir_in("/tmp").unwrap();
        let e = Exposure::detect(None, &[dir.path().to_path_buf()]);
        let canonical = fs::canonicalize(dir.path()).unwrap();
        assert!(e.exposed.contains(&canonical), "{e:?}");
        let args = e.bwrap_args();
        assert!(args.iter().any(|a| a == "--tmpfs"));
    }
}
