//! Input roots as REAPI Merkle trees: one `Directory` message per
//! directory, children sorted by name, each directory named by the digest
//! of its encoding. And the way back: the files of an output `Tree`.

use std::collections::{BTreeMap, BTreeSet};

use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use bazel_remote_apis::google::protobuf::{Timestamp, UInt32Value};

use super::digest::CasDigest;

/// One entry of a tree, at a `/`-separated relative path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    File {
        digest: CasDigest,
        executable: bool,
        /// Mode bits and mtime (seconds, nanoseconds) to send as node
        /// properties, so a worker that honours them materialises the file
        /// as staging copies it locally.
        mode: Option<u32>,
        mtime: Option<(i64, u32)>,
    },
    Symlink {
        target: String,
    },
    /// A directory (empty unless other entries lie below it).
    Dir,
    /// A directory whose `Directory` message is already known (a subtree
    /// built before, nested here).
    Subtree(CasDigest),
}

/// A tree's root digest and every `Directory` message in it, encoded.
#[derive(Clone, Debug, Default)]
pub(crate) struct MerkleTree {
    pub root: CasDigest,
    pub directories: BTreeMap<CasDigest, Vec<u8>>,
}

/// Why a set of entries is not a tree.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TreeError {
    #[error("{path:?}: empty, `.` or `..` path component")]
    BadName { path: String },
    #[error("{path:?}: both a directory and a file or symlink")]
    Conflict { path: String },
}

#[derive(Default)]
struct Contents {
    files: BTreeMap<String, re::FileNode>,
    symlinks: BTreeMap<String, String>,
    dirs: BTreeSet<String>,
    /// Set for a nested subtree: its digest, contents taken as they are.
    subtree: Option<CasDigest>,
}

fn split(path: &str) -> Result<Vec<&str>, TreeError> {
    let parts: Vec<&str> = path.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        return Err(TreeError::BadName {
            path: path.to_owned(),
        });
    }
    Ok(parts)
}

/// Build the Merkle tree of `entries`. Parent directories are implied.
pub(crate) fn build(
    entries: impl IntoIterator<Item = (String, Node)>,
) -> Result<MerkleTree, TreeError> {
    let mut dirs: BTreeMap<String, Contents> = BTreeMap::new();
    dirs.insert(String::new(), Contents::default());
    let conflict = |path: &str| TreeError::Conflict {
        path: path.to_owned(),
    };
    for (path, node) in entries {
        let parts = split(&path)?;
        let mut parent = String::new();
        for (i, part) in parts.iter().enumerate() {
            let here = if parent.is_empty() {
                (*part).to_owned()
            } else {
                format!("{parent}/{part}")
            };
            let last = i + 1 == parts.len();
            let is_dir = !last || matches!(node, Node::Dir | Node::Subtree(_));
            let p = dirs.get_mut(&parent).expect("parents are inserted first");
            if p.subtree.is_some() {
                return Err(conflict(&parent));
            }
            if is_dir {
                if p.files.contains_key(*part) || p.symlinks.contains_key(*part) {
                    return Err(conflict(&here));
                }
                p.dirs.insert((*part).to_owned());
                let c = dirs.entry(here.clone()).or_default();
                if let (true, Node::Subtree(d)) = (last, &node) {
                    if c.subtree.is_some_and(|x| x != *d)
                        || !c.files.is_empty()
                        || !c.dirs.is_empty()
                        || !c.symlinks.is_empty()
                    {
                        return Err(conflict(&here));
                    }
                    c.subtree = Some(*d);
                }
            } else {
                if p.dirs.contains(*part) {
                    return Err(conflict(&here));
                }
                match &node {
                    Node::File {
                        digest,
                        executable,
                        mode,
                        mtime,
                    } => {
                        let props =
                            (mode.is_some() || mtime.is_some()).then(|| re::NodeProperties {
                                properties: Vec::new(),
                                mtime: mtime.map(|(seconds, nanos)| Timestamp {
                                    seconds,
                                    nanos: i32::try_from(nanos).unwrap_or(0),
                                }),
                                unix_mode: mode.map(|value| UInt32Value { value }),
                            });
                        p.files.insert(
                            (*part).to_owned(),
                            re::FileNode {
                                name: (*part).to_owned(),
                                digest: Some(digest.to_proto()),
                                is_executable: *executable,
                                node_properties: props,
                            },
                        );
                    }
                    Node::Symlink { target } => {
                        p.symlinks.insert((*part).to_owned(), target.clone());
                    }
                    Node::Dir | Node::Subtree(_) => unreachable!("handled as directories"),
                }
            }
            parent = here;
        }
    }
    // Deepest first, so every child's digest is known before its parent's.
    let mut order: Vec<String> = dirs.keys().cloned().collect();
    order.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count() + usize::from(!p.is_empty())));
    let mut digests: BTreeMap<String, CasDigest> = BTreeMap::new();
    let mut tree = MerkleTree::default();
    for path in order {
        let c = dirs.remove(&path).expect("listed above");
        let digest = match c.subtree {
            Some(d) => d,
            None => {
                let child = |name: &str| {
                    if path.is_empty() {
                        name.to_owned()
                    } else {
                        format!("{path}/{name}")
                    }
                };
                let msg = re::Directory {
                    files: c.files.into_values().collect(),
                    directories: c
                        .dirs
                        .iter()
                        .map(|name| re::DirectoryNode {
                            name: name.clone(),
                            digest: Some(digests[&child(name)].to_proto()),
                        })
                        .collect(),
                    symlinks: c
                        .symlinks
                        .into_iter()
                        .map(|(name, target)| re::SymlinkNode {
                            name,
                            target,
                            node_properties: None,
                        })
                        .collect(),
                    node_properties: None,
                };
                let (d, bytes) = CasDigest::of_message(&msg);
                tree.directories.insert(d, bytes);
                d
            }
        };
        if path.is_empty() {
            tree.root = digest;
        }
        digests.insert(path, digest);
    }
    Ok(tree)
}

/// What an output `Tree` holds, flattened: relative path → node, parents
/// before children. Subdirectories are looked up by the digest of their
/// encoding among the tree's children.
pub(crate) fn flatten(tree: &re::Tree, max_entries: usize) -> Result<Vec<(String, Node)>, String> {
    let root = tree.root.as_ref().ok_or("the Tree has no root")?;
    let children: BTreeMap<CasDigest, &re::Directory> = tree
        .children
        .iter()
        .map(|d| (CasDigest::of_message(d).0, d))
        .collect();
    let mut out = Vec::new();
    let mut stack: Vec<(String, &re::Directory, usize)> = vec![(String::new(), root, 0)];
    while let Some((prefix, dir, depth)) = stack.pop() {
        if depth > 256 {
            return Err(format!("{prefix}: directories nested deeper than 256"));
        }
        let join = |name: &str| -> Result<String, String> {
            if name.is_empty() || name == "." || name == ".." || name.contains('/') {
                return Err(format!("bad name {name:?} in {prefix:?}"));
            }
            Ok(if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}/{name}")
            })
        };
        for f in &dir.files {
            let digest = f
                .digest
                .as_ref()
                .and_then(CasDigest::from_proto)
                .ok_or_else(|| format!("file {:?} in {prefix:?} has no valid digest", f.name))?;
            let mode = f
                .node_properties
                .as_ref()
                .and_then(|p| p.unix_mode)
                .map(|m| m.value & 0o7777);
            out.push((
                join(&f.name)?,
                Node::File {
                    digest,
                    executable: f.is_executable,
                    mode,
                    mtime: None,
                },
            ));
        }
        for s in &dir.symlinks {
            out.push((
                join(&s.name)?,
                Node::Symlink {
                    target: s.target.clone(),
                },
            ));
        }
        for d in &dir.directories {
            let path = join(&d.name)?;
            let digest = d
                .digest
                .as_ref()
                .and_then(CasDigest::from_proto)
                .ok_or_else(|| format!("directory {path:?} has no valid digest"))?;
            let sub = children
                .get(&digest)
                .ok_or_else(|| format!("directory {path:?} ({digest}) is not in the Tree"))?;
            out.push((path.clone(), Node::Dir));
            stack.push((path, sub, depth + 1));
        }
        if out.len() > max_entries {
            return Err(format!("more than {max_entries} entries"));
        }
    }
    out.sort_by(|x, y| x.0.cmp(&y.0));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(content: &[u8], executable: bool) -> Node {
        Node::File {
            digest: CasDigest::of(content),
            executable,
            mode: None,
            mtime: None,
        }
    }

    // The expected digests were computed with the reference protobuf
    // implementation (Python `protobuf`, BuildGrid's
    // `remote_execution_pb2.Directory`), as a server computes them:
    //   d = Directory(); d.files.add(name="hello.txt", digest=Digest(
    //       hash=sha256(b"hello\n"), size_bytes=6), is_executable=False)
    //   sha256(d.SerializeToString())
    #[test]
    fn the_empty_directory_has_the_empty_digest() {
        let t = build(Vec::new()).unwrap();
        assert_eq!(t.root, CasDigest::EMPTY);
        assert_eq!(t.directories[&CasDigest::EMPTY], Vec::<u8>::new());
    }

    #[test]
    fn digests_match_the_reference_encoding() {
        let t = build(vec![("hello.txt".to_owned(), file(b"hello\n", false))]).unwrap();
        assert_eq!(t.root.to_string(), REF_ONE_FILE);
        let t = build(vec![
            ("sub/run.sh".to_owned(), file(b"#!/bin/sh\n", true)),
            ("hello.txt".to_owned(), file(b"hello\n", false)),
            (
                "link".to_owned(),
                Node::Symlink {
                    target: "hello.txt".to_owned(),
                },
            ),
            ("empty".to_owned(), Node::Dir),
        ])
        .unwrap();
        assert_eq!(t.root.to_string(), REF_NESTED);
        assert_eq!(t.directories.len(), 3, "root, sub and the empty directory");
    }

    const REF_ONE_FILE: &str =
        "106b6bf6e953adcfda77f9ac275b7780added4fbe2f56b7558141a6af42c5f82/83";
    const REF_NESTED: &str = "e0fcbcc7e4620f793f81b860f172e85db993860bec09eca4fd3322436e5e1bb0/256";

    #[test]
    fn order_of_entries_does_not_matter_and_subtrees_nest() {
        let a = build(vec![
            ("b/x".to_owned(), file(b"x", false)),
            ("a".to_owned(), file(b"a", false)),
        ])
        .unwrap();
        let b = build(vec![
            ("a".to_owned(), file(b"a", false)),
            ("b/x".to_owned(), file(b"x", false)),
        ])
        .unwrap();
        assert_eq!(a.root, b.root);
        let inner = build(vec![("x".to_owned(), file(b"x", false))]).unwrap();
        let nested = build(vec![
            ("a".to_owned(), file(b"a", false)),
            ("b".to_owned(), Node::Subtree(inner.root)),
        ])
        .unwrap();
        assert_eq!(nested.root, a.root);
    }

    #[test]
    fn bad_paths_and_conflicts_are_errors() {
        assert!(matches!(
            build(vec![("a//b".to_owned(), Node::Dir)]),
            Err(TreeError::BadName { .. })
        ));
        assert!(matches!(
            build(vec![("../x".to_owned(), Node::Dir)]),
            Err(TreeError::BadName { .. })
        ));
        assert!(matches!(
            build(vec![
                ("a".to_owned(), file(b"a", false)),
                ("a/b".to_owned(), file(b"b", false)),
            ]),
            Err(TreeError::Conflict { .. })
        ));
    }

    #[test]
    fn a_tree_flattens_back_to_its_entries() {
        let built = build(vec![
            ("d/e/f.txt".to_owned(), file(b"f", true)),
            ("g".to_owned(), file(b"g", false)),
        ])
        .unwrap();
        let decode = |d: &CasDigest| {
            <re::Directory as prost::Message>::decode(&built.directories[d][..]).unwrap()
        };
        let root = decode(&built.root);
        let tree = re::Tree {
            root: Some(root),
            children: built
                .directories
                .keys()
                .filter(|d| **d != built.root)
                .map(decode)
                .collect(),
        };
        let flat = flatten(&tree, 100).unwrap();
        let paths: Vec<&str> = flat.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, ["d", "d/e", "d/e/f.txt", "g"]);
        assert_eq!(flat[2].1, file(b"f", true));
        assert!(flatten(&tree, 2).is_err());
    }
}
