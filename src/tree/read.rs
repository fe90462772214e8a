//! Reading the files a walk found, safely: opened once without following a
//! symlink swapped in since the walk and without blocking on a FIFO swapped
//! in, checked to be a regular file, and read with plain reads (never
//! memory-mapped: a file truncated by another process while mapped would
//! kill the run with SIGBUS). A file that changes size while it is read is
//! an error for that file, not for the run.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::finding::Digest;

/// Open `path` for reading, refusing anything but a regular file.
pub fn open_regular(path: &Path) -> io::Result<(fs::File, u64)> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(nix::libc::ELOOP) {
                io::Error::other("became a symbolic link after it was listed (not followed)")
            } else {
                e
            }
        })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other(
            "is no longer a regular file (special files are never read)",
        ));
    }
    Ok((file, meta.len()))
}

/// Read buffer for hashing: large enough for BLAKE3 to hash it on several
/// threads.
const CHUNK: usize = 1 << 20;

/// Hash one file's content with BLAKE3; the bytes read must match the size
/// the file had when it was opened.
pub fn hash_file(path: &Path) -> io::Result<Digest> {
    let (mut file, size) = open_regular(path)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; CHUNK.min(usize::try_from(size).unwrap_or(CHUNK)).max(1)];
    let mut read: u64 = 0;
    loop {
        if crate::interrupt::interrupted() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        if n >= 128 * 1024 {
            hasher.update_rayon(chunk);
        } else {
            hasher.update(chunk);
        }
        read += n as u64;
        if read > size {
            break;
        }
    }
    if read != size {
        return Err(changed(size, read));
    }
    Ok(Digest(*hasher.finalize().as_bytes()))
}

fn changed(size: u64, read: u64) -> io::Error {
    io::Error::other(format!(
        "changed while it was read ({size} bytes when opened, {read} read)"
    ))
}

/// Why a file's content could not be had for comparing.
#[derive(Debug)]
pub enum ReadFailure {
    /// Larger than the bound on bytes held in memory per file.
    TooLarge {
        size: u64,
        max: u64,
    },
    Io(io::Error),
}

impl std::fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadFailure::TooLarge { size, max } => {
                write!(f, "{size} bytes, more than the {max} read for comparing")
            }
            ReadFailure::Io(e) => write!(f, "{e}"),
        }
    }
}

/// The whole content of a file, for comparing, if it is at most `max`
/// bytes long.
pub fn read_file(path: &Path, max: u64) -> Result<Vec<u8>, ReadFailure> {
    let (file, size) = open_regular(path).map_err(ReadFailure::Io)?;
    if size > max {
        return Err(ReadFailure::TooLarge { size, max });
    }
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // One byte more than the size, to notice a file that grew.
    file.take(size + 1)
        .read_to_end(&mut buf)
        .map_err(ReadFailure::Io)?;
    if buf.len() as u64 != size {
        return Err(ReadFailure::Io(changed(size, buf.len() as u64)));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_match_blake3_of_the_content() {
        let d = tempfile::tempdir().unwrap();
        for len in [0usize, 1, 4096, CHUNK + 17, 3 * CHUNK] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let p = d.path().join(format!("f{len}"));
            fs::write(&p, &data).unwrap();
            assert_eq!(hash_file(&p).unwrap(), Digest::of(&data), "{len}");
            assert_eq!(read_file(&p, u64::MAX).unwrap(), data);
        }
    }

    #[test]
    fn symlinks_and_fifos_are_refused_not_followed() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(d.path().join("secret"), d.path().join("link")).unwrap();
        let e = hash_file(&d.path().join("link")).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let made = std::process::Command::new("mkfifo")
            .arg(d.path().join("fifo"))
            .status()
            .unwrap();
        assert!(made.success());
        // Opening a FIFO with O_NONBLOCK returns at once; it is refused.
        let e = hash_file(&d.path().join("fifo")).unwrap_err();
        assert!(e.to_string().contains("no longer a regular file"), "{e}");
        assert!(read_file(&d.path().join("fifo"), 10).is_err());
    }

    #[test]
    fn files_over_the_bound_are_not_read() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("big");
        fs::write(&p, vec![1u8; 100]).unwrap();
        assert!(matches!(
            read_file(&p, 99),
            Err(ReadFailure::TooLarge { size: 100, max: 99 })
        ));
    }
}
