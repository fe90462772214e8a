//! Why two paths cannot be compared at all. What cannot be read inside a
//! tree is not an error: it is listed as unreadable and the rest compared.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// An input path that cannot be used at all.
    #[error("cannot read {}: {source}", path.display())]
    Input {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A top-level input that is neither a directory nor a regular file.
    #[error("cannot compare {}: not a regular file or directory (special files are never read)", path.display())]
    NotRegular { path: PathBuf },
    /// One input is a directory and the other a file.
    #[error("cannot compare {} with {}: the first is {a_is}, the second is {b_is}", a.display(), b.display())]
    Mismatch {
        a: PathBuf,
        b: PathBuf,
        a_is: &'static str,
        b_is: &'static str,
    },
}
