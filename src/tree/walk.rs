//! Walking one tree: entries sorted by relative path, symlinks recorded by
//! target and never followed, special files recorded and never read.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::finding::Digest;

/// File-system attributes of an entry. Comparisons look at the executable
/// bit, and at mode, mtime and owners only with `--metadata`; the rest
/// identifies a file's state for change detection (a build that rewrites a
/// file changes its ctime even when size and mtime come out the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    pub mode: u32,
    pub mtime: i64,
    pub mtime_nsec: i64,
    pub ctime: i64,
    pub ctime_nsec: i64,
    pub ino: u64,
    pub uid: u32,
    pub gid: u32,
}

impl Meta {
    pub fn from_metadata(m: &fs::Metadata) -> Meta {
        Meta {
            mode: m.mode() & 0o7777,
            mtime: m.mtime(),
            mtime_nsec: m.mtime_nsec(),
            ctime: m.ctime(),
            ctime_nsec: m.ctime_nsec(),
            ino: m.ino(),
            uid: m.uid(),
            gid: m.gid(),
        }
    }

    /// Any execute bit set: what the Remote Execution API records as
    /// `is_executable`.
    pub fn executable(&self) -> bool {
        self.mode & 0o111 != 0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecialKind {
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file; `digest` is filled by hashing and stays `None` when
    /// the file could not be read (a [`ReadError`] says why).
    File {
        size: u64,
        digest: Option<Digest>,
    },
    Symlink {
        target: Vec<u8>,
    },
    Dir,
    Special(SpecialKind),
}

impl EntryKind {
    pub fn name(&self) -> &'static str {
        match self {
            EntryKind::File { .. } => "file",
            EntryKind::Symlink { .. } => "symlink",
            EntryKind::Dir => "directory",
            EntryKind::Special(SpecialKind::Fifo) => "fifo",
            EntryKind::Special(SpecialKind::Socket) => "socket",
            EntryKind::Special(SpecialKind::CharDevice) => "character device",
            EntryKind::Special(SpecialKind::BlockDevice) => "block device",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub kind: EntryKind,
    pub meta: Meta,
}

/// Something in a tree that could not be walked or read. The walk goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    pub path: PathBuf,
    pub reason: String,
}

/// A walked tree: entries keyed by their `/`-separated path relative to the
/// root (the root itself is not an entry).
#[derive(Debug)]
pub struct Tree {
    pub root: PathBuf,
    /// Set when the tree stands for one top-level file: its path on disk
    /// (its single entry is keyed by its name).
    pub root_file: Option<PathBuf>,
    pub entries: BTreeMap<Vec<u8>, Entry>,
    pub unreadable: Vec<ReadError>,
}

impl Tree {
    /// A one-entry tree for a top-level file, keyed by `name`.
    pub fn single(path: &Path, name: &[u8], entry: Entry) -> Tree {
        let mut entries = BTreeMap::new();
        entries.insert(name.to_vec(), entry);
        Tree {
            root: path.parent().map_or_else(PathBuf::new, Path::to_path_buf),
            root_file: Some(path.to_path_buf()),
            entries,
            unreadable: Vec::new(),
        }
    }

    /// Where the entry `rel` lives on disk.
    pub fn file_path(&self, rel: &[u8]) -> PathBuf {
        match &self.root_file {
            Some(p) => p.clone(),
            None => self.root.join(std::ffi::OsStr::from_bytes(rel)),
        }
    }

    /// Hash every regular file in parallel. Files that cannot be read keep
    /// no digest and are listed as unreadable.
    pub fn hash(&mut self) {
        let results: Vec<(Vec<u8>, Result<Digest, std::io::Error>)> = self
            .entries
            .par_iter()
            .filter(|(_, e)| matches!(e.kind, EntryKind::File { digest: None, .. }))
            .filter(|_| !crate::interrupt::interrupted())
            .map(|(rel, _)| (rel.clone(), super::hash_file(&self.file_path(rel))))
            .collect();
        for (rel, result) in results {
            match result {
                Ok(d) => {
                    if let Some(Entry {
                        kind: EntryKind::File { digest, .. },
                        ..
                    }) = self.entries.get_mut(&rel)
                    {
                        *digest = Some(d);
                    }
                }
                Err(e) => {
                    let path = self.file_path(&rel);
                    self.unreadable.push(ReadError {
                        path,
                        reason: e.to_string(),
                    });
                }
            }
        }
    }

    /// Total bytes of regular files.
    pub fn file_bytes(&self) -> u64 {
        self.entries
            .values()
            .map(|e| match e.kind {
                EntryKind::File { size, .. } => size,
                _ => 0,
            })
            .sum()
    }
}

/// Walk `root` (a directory) in file-name order. Errors below the root are
/// recorded as unreadable; the walk continues.
pub fn walk(root: &Path) -> Tree {
    let mut tree = Tree {
        root: root.to_path_buf(),
        root_file: None,
        entries: BTreeMap::new(),
        unreadable: Vec::new(),
    };
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .min_depth(1);
    for item in walker {
        if crate::interrupt::interrupted() {
            break;
        }
        let dent = match item {
            Ok(d) => d,
            Err(e) => {
                let path = e.path().unwrap_or(root).to_path_buf();
                let reason = e
                    .io_error()
                    .map_or_else(|| e.to_string(), ToString::to_string);
                tree.unreadable.push(ReadError { path, reason });
                continue;
            }
        };
        let rel = match dent.path().strip_prefix(root) {
            Ok(r) => r.as_os_str().as_bytes().to_vec(),
            Err(_) => continue,
        };
        match entry_of(dent.path()) {
            Ok(entry) => {
                tree.entries.insert(rel, entry);
            }
            Err(e) => tree.unreadable.push(ReadError {
                path: dent.path().to_path_buf(),
                reason: e.to_string(),
            }),
        }
    }
    tree
}

fn entry_of(path: &Path) -> std::io::Result<Entry> {
    let m = fs::symlink_metadata(path)?;
    let ft = m.file_type();
    let kind = if ft.is_file() {
        EntryKind::File {
            size: m.len(),
            digest: None,
        }
    } else if ft.is_symlink() {
        EntryKind::Symlink {
            target: fs::read_link(path)?.into_os_string().into_vec(),
        }
    } else if ft.is_dir() {
        EntryKind::Dir
    } else if ft.is_fifo() {
        EntryKind::Special(SpecialKind::Fifo)
    } else if ft.is_socket() {
        EntryKind::Special(SpecialKind::Socket)
    } else if ft.is_char_device() {
        EntryKind::Special(SpecialKind::CharDevice)
    } else {
        EntryKind::Special(SpecialKind::BlockDevice)
    };
    Ok(Entry {
        kind,
        meta: Meta::from_metadata(&m),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_sorted_without_following_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir(root.join("sub")).unwrap();
        fs::write(root.join("sub/b.txt"), "b").unwrap();
        fs::write(root.join("a.txt"), "a").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("link")).unwrap();
        let mut tree = walk(root);
        tree.hash();
        let names: Vec<&[u8]> = tree.entries.keys().map(Vec::as_slice).collect();
        assert_eq!(names, vec![&b"a.txt"[..], b"link", b"sub", b"sub/b.txt"]);
        assert_eq!(
            tree.entries[&b"link"[..]].kind,
            EntryKind::Symlink {
                target: b"/etc".to_vec()
            }
        );
        let EntryKind::File { digest, size } = tree.entries[&b"a.txt"[..]].kind.clone() else {
            panic!("a.txt is a file");
        };
        assert_eq!((digest, size), (Some(Digest::of(b"a")), 1));
        assert!(tree.unreadable.is_empty());
    }
}
