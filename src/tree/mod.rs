//! The one walker and hasher: walks a tree without following symlinks,
//! hashes every regular file with BLAKE3 in parallel, and pairs two trees by
//! relative path.

mod pair;
mod walk;

pub use pair::{Pair, pair};
pub use walk::{Entry, EntryKind, FileData, Meta, ReadError, SpecialKind, Tree, walk};

use std::path::Path;

use crate::finding::Digest;

/// Hash one file from the file system: memory-mapped and hashed on several
/// threads when it is large (BLAKE3 parallelises within a file), read
/// otherwise.
pub fn hash_file(path: &Path) -> std::io::Result<Digest> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_mmap_rayon(path)?;
    Ok(Digest(*hasher.finalize().as_bytes()))
}
