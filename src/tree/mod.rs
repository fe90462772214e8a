//! The one walker and hasher: walks a tree without following symlinks,
//! hashes every regular file with BLAKE3 in parallel, and pairs two trees by
//! relative path.

mod pair;
mod walk;

pub use pair::{Pair, pair};
pub use walk::{Entry, EntryKind, FileData, Meta, ReadError, SpecialKind, Tree, walk};

use std::path::Path;

use crate::finding::Digest;

/// Bytes read at a time while hashing: enough for BLAKE3 to spread one
/// read over every core, little enough that memory stays bounded whatever
/// the file's size (a memory map counts every page of a multi-gigabyte
/// output as resident; issue 11, item 3).
const HASH_CHUNK: u64 = 8 << 20;
/// Reads at least this long are hashed on several threads.
const PARALLEL_HASH: usize = 128 << 10;

/// Hash one file from the file system: read in chunks, each hashed on
/// several threads when it is large (BLAKE3 parallelises within a buffer).
pub fn hash_file(path: &Path) -> std::io::Result<Digest> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let chunk = len.saturating_add(1).min(HASH_CHUNK);
    let mut buf = Vec::with_capacity(usize::try_from(chunk).unwrap_or(0));
    let mut hasher = blake3::Hasher::new();
    loop {
        buf.clear();
        let n = (&mut file).take(chunk).read_to_end(&mut buf)?;
        if n >= PARALLEL_HASH {
            hasher.update_rayon(&buf);
        } else {
            hasher.update(&buf);
        }
        if (n as u64) < chunk {
            break;
        }
    }
    Ok(Digest(*hasher.finalize().as_bytes()))
}
