//! Copying the source tree into a run's sandbox, telling what a build
//! changed, checking that the user's tree was left alone, and removing
//! staged trees. Every walk here is `tree::walk`.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use crate::finding::Digest;
use crate::tree::{Entry, EntryKind, Tree, pair, walk};

/// What staging copied: the special files it skipped, and a digest of
/// everything it read, to check the source was not changed meanwhile.
#[derive(Debug)]
pub struct Staged {
    pub skipped: Vec<PathBuf>,
    pub digest: Digest,
}

/// Copy the source tree to `dest` (which must not exist): regular files,
/// directories and symlinks, with modes and mtimes, never following links.
/// Special files are skipped and returned. The source is only read.
pub fn stage(source: &Path, dest: &Path) -> Result<Staged, (PathBuf, io::Error)> {
    let tree = walk(source);
    if let Some(bad) = tree.unreadable.first() {
        return Err((bad.path.clone(), io::Error::other(bad.reason.clone())));
    }
    fs::create_dir(dest).map_err(|e| (dest.to_path_buf(), e))?;
    let mut skipped = Vec::new();
    let mut dirs: Vec<(PathBuf, &Entry)> = Vec::new();
    let mut digest = blake3::Hasher::new();
    for (rel, entry) in &tree.entries {
        let from = tree.file_path(rel);
        let to = dest.join(std::ffi::OsStr::from_bytes(rel));
        let fail = |e: io::Error| (from.clone(), e);
        digest.update(rel);
        digest.update(&[0, kind_tag(&entry.kind)]);
        match &entry.kind {
            EntryKind::Dir => {
                fs::create_dir(&to).map_err(fail)?;
                dirs.push((to, entry));
            }
            EntryKind::Symlink { target } => {
                digest.update(target);
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target), &to)
                    .map_err(fail)?;
            }
            EntryKind::File { .. } => {
                copy_hashing(&from, &to, &mut digest).map_err(fail)?;
                fs::set_permissions(&to, fs::Permissions::from_mode(entry.meta.mode))
                    .map_err(fail)?;
                set_mtime(&to, entry).map_err(fail)?;
            }
            EntryKind::Special(_) => skipped.push(PathBuf::from(std::ffi::OsStr::from_bytes(rel))),
        }
        digest.update(&entry.meta.mode.to_le_bytes());
    }
    // Directory modes and times last: copying into them changed both.
    for (dir, entry) in dirs.into_iter().rev() {
        let _ = set_mtime(&dir, entry);
        let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(entry.meta.mode | 0o700));
    }
    Ok(Staged {
        skipped,
        digest: Digest(*digest.finalize().as_bytes()),
    })
}

fn kind_tag(kind: &EntryKind) -> u8 {
    match kind {
        EntryKind::File { .. } => b'f',
        EntryKind::Symlink { .. } => b'l',
        EntryKind::Dir => b'd',
        EntryKind::Special(_) => b's',
    }
}

/// Copy a regular file, feeding every byte read to `digest`. Opened
/// without following a symlink swapped in since the walk.
fn copy_hashing(from: &Path, to: &Path, digest: &mut blake3::Hasher) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut src = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(from)?;
    if !src.metadata()?.is_file() {
        return Err(io::Error::other("no longer a regular file"));
    }
    let mut dst = fs::File::create(to)?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        digest.update(chunk);
        dst.write_all(chunk)?;
    }
    Ok(())
}

fn set_mtime(path: &Path, entry: &Entry) -> io::Result<()> {
    let secs = u64::try_from(entry.meta.mtime).unwrap_or(0);
    let nanos = u32::try_from(entry.meta.mtime_nsec).unwrap_or(0);
    let t = UNIX_EPOCH + Duration::new(secs, nanos);
    let times = fs::FileTimes::new().set_modified(t).set_accessed(t);
    fs::File::open(path)?.set_times(times)
}

/// The digest staging would compute for `source` now, without copying.
pub fn source_digest(source: &Path) -> io::Result<Digest> {
    let tree = walk(source);
    if let Some(bad) = tree.unreadable.first() {
        return Err(io::Error::other(format!(
            "{}: {}",
            bad.path.display(),
            bad.reason
        )));
    }
    let mut digest = blake3::Hasher::new();
    let mut sink = io::sink();
    for (rel, entry) in &tree.entries {
        digest.update(rel);
        digest.update(&[0, kind_tag(&entry.kind)]);
        match &entry.kind {
            EntryKind::Symlink { target } => {
                digest.update(target);
            }
            EntryKind::File { .. } => {
                let mut f = fs::File::open(tree.file_path(rel))?;
                let mut hashing = HashingReader {
                    inner: &mut f,
                    digest: &mut digest,
                };
                io::copy(&mut hashing, &mut sink)?;
            }
            EntryKind::Dir | EntryKind::Special(_) => {}
        }
        digest.update(&entry.meta.mode.to_le_bytes());
    }
    Ok(Digest(*digest.finalize().as_bytes()))
}

struct HashingReader<'a, R> {
    inner: &'a mut R,
    digest: &'a mut blake3::Hasher,
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digest.update(&buf[..n]);
        Ok(n)
    }
}

/// Paths that are new or changed between two walks of one tree: another
/// kind, size, mode, mtime, ctime or inode (a build that rewrites a file
/// changes its ctime even when size and mtime come out the same).
pub fn changed(before: &Tree, after: &Tree) -> Vec<Vec<u8>> {
    pair(before, after)
        .into_iter()
        .filter_map(|p| match (p.a, p.b) {
            (_, None) => None,
            (None, Some(_)) => Some(p.rel.to_vec()),
            (Some(x), Some(y)) => (x.kind != y.kind || x.meta != y.meta).then(|| p.rel.to_vec()),
        })
        .collect()
}

/// Remove a staged tree, restoring write permission on directories a build
/// made read-only.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(_) => {
            let tree = walk(path);
            for (rel, entry) in &tree.entries {
                if matches!(entry.kind, EntryKind::Dir) {
                    let _ =
                        fs::set_permissions(tree.file_path(rel), fs::Permissions::from_mode(0o755));
                }
            }
            let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o755));
            fs::remove_dir_all(path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn staging_copies_modes_times_and_links_without_touching_the_source() {
        let src = tempfile::tempdir().unwrap();
        let s = src.path();
        fs::create_dir(s.join("sub")).unwrap();
        fs::write(s.join("sub/a.sh"), "echo hi\n").unwrap();
        fs::set_permissions(s.join("sub/a.sh"), fs::Permissions::from_mode(0o750)).unwrap();
        std::os::unix::fs::symlink("sub/a.sh", s.join("link")).unwrap();
        let old = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        fs::File::open(s.join("sub/a.sh"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        let before = walk(s);
        let digest = source_digest(s).unwrap();
        let dest = tempfile::tempdir().unwrap();
        let to = dest.path().join("stage");
        let staged = stage(s, &to).unwrap();
        assert!(staged.skipped.is_empty());
        assert_eq!(staged.digest, digest);
        let m = fs::metadata(to.join("sub/a.sh")).unwrap();
        assert_eq!(m.mode() & 0o777, 0o750);
        assert_eq!(m.mtime(), 1_000_000_000);
        assert_eq!(
            fs::read_link(to.join("link")).unwrap(),
            Path::new("sub/a.sh")
        );
        assert!(changed(&before, &walk(s)).is_empty());
        // A changed source byte changes the digest.
        fs::write(s.join("sub/a.sh"), "echo ho\n").unwrap();
        assert_ne!(source_digest(s).unwrap(), digest);
    }

    #[test]
    fn changes_are_new_or_rewritten_files() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("kept"), "x").unwrap();
        fs::write(d.path().join("rewritten"), "x").unwrap();
        let before = walk(d.path());
        fs::write(d.path().join("rewritten"), "x").unwrap();
        fs::write(d.path().join("new"), "y").unwrap();
        let after = walk(d.path());
        assert_eq!(
            changed(&before, &after),
            [b"new".to_vec(), b"rewritten".to_vec()]
        );
    }
}
