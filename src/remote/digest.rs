//! REAPI digests: SHA-256 of the content and its size, the only digest
//! function every server supports. `twice`'s own BLAKE3 stays internal; on
//! the wire every blob is named by this.

use std::fmt;
use std::io::Read;
use std::path::Path;

use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use prost::Message;

/// A content digest as the CAS names blobs: SHA-256 and size.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CasDigest {
    pub hash: [u8; 32],
    pub size: u64,
}

/// Reading files in pieces of this size keeps one piece in memory.
pub(crate) const CHUNK: usize = 1 << 20;

impl CasDigest {
    /// The digest of the empty blob (and of an empty `Directory`).
    pub const EMPTY: CasDigest = CasDigest {
        hash: [
            0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f,
            0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b,
            0x78, 0x52, 0xb8, 0x55,
        ],
        size: 0,
    };

    pub fn of(data: &[u8]) -> CasDigest {
        let mut h = Hasher::new();
        h.update(data);
        h.finish()
    }

    /// The digest of a message as it is stored: its encoding.
    pub fn of_message(m: &impl Message) -> (CasDigest, Vec<u8>) {
        let bytes = m.encode_to_vec();
        (CasDigest::of(&bytes), bytes)
    }

    /// The digest of a file, read in pieces.
    pub fn of_file(path: &Path) -> std::io::Result<CasDigest> {
        let mut f = std::fs::File::open(path)?;
        let mut h = Hasher::new();
        let mut buf = vec![0u8; CHUNK];
        loop {
            match f.read(&mut buf) {
                Ok(0) => return Ok(h.finish()),
                Ok(n) => h.update(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    pub fn to_proto(self) -> re::Digest {
        re::Digest {
            hash: self.hex(),
            size_bytes: i64::try_from(self.size).unwrap_or(i64::MAX),
        }
    }

    /// A digest from the wire: 64 hex digits and a size that is not
    /// negative.
    pub fn from_proto(d: &re::Digest) -> Option<CasDigest> {
        CasDigest::parse(&d.hash, d.size_bytes)
    }

    /// A digest from its hex hash and size (as execution logs record them).
    pub fn parse(hash: &str, size: i64) -> Option<CasDigest> {
        let raw = hash.as_bytes();
        if raw.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (pair, o) in raw.chunks_exact(2).zip(out.iter_mut()) {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            *o = u8::try_from(hi << 4 | lo).ok()?;
        }
        Some(CasDigest {
            hash: out,
            size: u64::try_from(size).ok()?,
        })
    }

    pub fn hex(&self) -> String {
        crate::finding::hex(&self.hash)
    }
}

impl Default for CasDigest {
    fn default() -> CasDigest {
        CasDigest::EMPTY
    }
}

impl fmt::Display for CasDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.hex(), self.size)
    }
}

impl fmt::Debug for CasDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// SHA-256 over pieces, counting the size.
pub(crate) struct Hasher {
    ctx: ring::digest::Context,
    size: u64,
}

impl Hasher {
    pub fn new() -> Hasher {
        Hasher {
            ctx: ring::digest::Context::new(&ring::digest::SHA256),
            size: 0,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.ctx.update(data);
        self.size += data.len() as u64;
    }

    pub fn size_so_far(&self) -> u64 {
        self.size
    }

    pub fn finish(self) -> CasDigest {
        let mut hash = [0u8; 32];
        hash.copy_from_slice(self.ctx.finish().as_ref());
        CasDigest {
            hash,
            size: self.size,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_sha256_digests() {
        assert_eq!(CasDigest::of(b""), CasDigest::EMPTY);
        assert_eq!(
            CasDigest::EMPTY.to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/0"
        );
        assert_eq!(
            CasDigest::of(b"abc").to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad/3"
        );
    }

    #[test]
    fn parsing_round_trips_and_rejects_bad_digests() {
        let d = CasDigest::of(b"abc");
        assert_eq!(CasDigest::from_proto(&d.to_proto()), Some(d));
        assert_eq!(CasDigest::parse(&d.hex().to_uppercase(), 3), Some(d));
        assert_eq!(CasDigest::parse("abc", 3), None);
        assert_eq!(CasDigest::parse(&d.hex(), -1), None);
        assert_eq!(CasDigest::parse(&"zz".repeat(32), 3), None);
    }

    #[test]
    fn files_hash_like_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let data: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        assert_eq!(CasDigest::of_file(&p).unwrap(), CasDigest::of(&data));
    }
}
