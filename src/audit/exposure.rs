//! What of the host a sandboxed build can see.
//!
//! The build sees the host's root read-only, except:
//! - the runtime and scratch directories where services keep their sockets
//!   and users keep their files ([`HIDDEN`]) are replaced by empty tmpfs;
//! - every other Unix socket bound on this host (as `/proc/net/unix` lists
//!   them when the build starts) is masked with `/dev/null`;
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

/// Replaced by an empty tmpfs in the sandbox, where they exist on the host.
pub const HIDDEN: [&str; 9] = [
    "/run", "/var/run", "/tmp", "/var/tmp", "/dev/shm", "/home", "/root", "/mnt", "/media",
];

/// Replaced by an empty tmpfs whether or not the host has them: every build
/// gets a private scratch space.
const ALWAYS_HIDDEN: [&str; 2] = ["/tmp", "/dev/shm"];

/// The host paths a sandbox hides, masks and re-exposes.
#[derive(Clone, Debug, Default)]
pub struct Exposure {
    /// Existing directories replaced by tmpfs.
    pub hidden: Vec<PathBuf>,
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
            .filter(|p| {
                ALWAYS_HIDDEN.contains(&p.to_str().unwrap_or_default())
                    || fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
            })
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
        Exposure {
            hidden,
            exposed: kept,
        }
    }

    /// The sockets bound on this host now that the sandbox would show.
    pub fn visible_sockets(&self) -> Vec<PathBuf> {
        let Ok(table) = fs::read_to_string("/proc/net/unix") else {
            return Vec::new();
        };
        let mut out: Vec<PathBuf> = table
            .lines()
            .skip(1)
            // `Num RefCount Protocol Flags Type St Inode Path`; abstract
            // names start with `@` and belong to the network namespace.
            .filter_map(|line| line.split_whitespace().nth(7))
            .filter(|p| p.starts_with('/'))
            // The path the socket was bound at may run through a symlink
            // (`/var/run` → `/run`): what the sandbox shows is the real one.
            .filter_map(|p| fs::canonicalize(p).ok())
            .filter(|p| !under_any(p, &self.hidden) || under_any(p, &self.exposed))
            .filter(|p| fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_socket()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The bubblewrap arguments that apply it (after `--ro-bind / /` and
    /// `--dev /dev`). Later mounts must not cover the hidden directories
    /// again, or what was exposed inside them disappears.
    pub fn bwrap_args(&self) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        for dir in &self.hidden {
            args.push("--tmpfs".into());
            args.push(dir.into());
        }
        for dir in &self.exposed {
            args.push("--ro-bind".into());
            args.push(dir.into());
            args.push(dir.into());
        }
        for socket in self.visible_sockets() {
            args.push("--ro-bind".into());
            args.push("/dev/null".into());
            args.push(socket.into());
        }
        args
    }
}

fn under_any(p: &Path, dirs: &[PathBuf]) -> bool {
    dirs.iter().any(|d| p.starts_with(d))
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
        // Every tmpfs comes before the binds that re-expose what lies
        // inside it.
        let last_tmpfs = args.iter().rposition(|a| a == "--tmpfs").unwrap();
        let bind = args.iter().position(|a| *a == *canonical).unwrap();
        assert!(last_tmpfs < bind, "{args:?}");
    }
}
