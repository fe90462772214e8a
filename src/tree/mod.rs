//! The one walker and hasher: walks a tree without following symlinks,
//! hashes every regular file with BLAKE3 in parallel, and pairs two trees by
//! relative path.

mod glob;
mod pair;
mod read;
mod walk;

pub use glob::Glob;
pub use pair::{Pair, pair};
pub use read::{ReadFailure, hash_file, open_regular, read_file};
pub use walk::{Entry, EntryKind, Meta, ReadError, SpecialKind, Tree, walk};
