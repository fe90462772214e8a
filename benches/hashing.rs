//! Hashing throughput and `twice diff` of two identical trees, next to the raw
//! parallel BLAKE3 throughput of reading the same files.
//!
//! Tree size: `TWICE_BENCH_MIB` MiB (default 1024) in `TWICE_BENCH_FILES` files
//! (default 10000) per tree. `TWICE_BENCH_DIR` keeps the generated trees in
//! that directory (reused when present), for measuring `b3sum` on the same
//! files. Results go in docs/PERFORMANCE.md.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use divan::Bencher;
use divan::counter::BytesCount;
use rayon::prelude::*;
use twice::diff::DiffOptions;
use twice::diff_report;

fn main() {
    divan::main();
}

struct Trees {
    _tmp: Option<tempfile::TempDir>,
    a: PathBuf,
    b: PathBuf,
    files: Vec<PathBuf>,
    bytes: u64,
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Pseudo-random content (xorshift), so nothing compresses or dedups.
fn fill(buf: &mut [u8], mut seed: u64) {
    for chunk in buf.chunks_mut(8) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let bytes = seed.to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}

fn write_tree(root: &Path, files: u64, file_size: usize) {
    let mut buf = vec![0u8; file_size];
    for i in 0..files {
        let dir = root.join(format!("d{:03}", i % 100));
        fs::create_dir_all(&dir).unwrap();
        fill(&mut buf, i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut f = fs::File::create(dir.join(format!("f{i:05}.bin"))).unwrap();
        f.write_all(&buf).unwrap();
    }
}

fn trees() -> &'static Trees {
    static TREES: OnceLock<Trees> = OnceLock::new();
    TREES.get_or_init(|| {
        let mib = env_num("TWICE_BENCH_MIB", 1024);
        let files = env_num("TWICE_BENCH_FILES", 10_000).max(1);
        let file_size = usize::try_from(mib * 1024 * 1024 / files).unwrap();
        let (tmp, base) = match std::env::var_os("TWICE_BENCH_DIR") {
            Some(dir) => (None, PathBuf::from(dir)),
            None => {
                let t = tempfile::tempdir().unwrap();
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let (a, b) = (base.join("a"), base.join("b"));
        for root in [&a, &b] {
            if !root.exists() {
                write_tree(root, files, file_size);
            }
        }
        let mut list = Vec::new();
        for root in [&a, &b] {
            for d in fs::read_dir(root).unwrap() {
                for f in fs::read_dir(d.unwrap().path()).unwrap() {
                    list.push(f.unwrap().path());
                }
            }
        }
        list.sort();
        let bytes = list.iter().map(|p| fs::metadata(p).unwrap().len()).sum();
        Trees {
            _tmp: tmp,
            a,
            b,
            files: list,
            bytes,
        }
    })
}

/// `twice diff` of two identical trees: walk, hash, pair, report.
#[divan::bench(sample_count = 7, sample_size = 1)]
fn diff_identical_trees(bencher: Bencher) {
    let t = trees();
    let opts = DiffOptions::default();
    bencher.counter(BytesCount::new(t.bytes)).bench(|| {
        let report = diff_report(&t.a, &t.b, &opts).unwrap();
        assert_eq!(report.verdict().exit_code(), 0);
        report
    });
}

/// The floor: BLAKE3 over the same files, in parallel, from a ready list (no
/// walk, no pairing, no report), each file memory-mapped (what `twice` did
/// before it read files with plain reads).
#[divan::bench(sample_count = 7, sample_size = 1)]
fn raw_parallel_blake3(bencher: Bencher) {
    let t = trees();
    bencher.counter(BytesCount::new(t.bytes)).bench(|| {
        t.files
            .par_iter()
            .map(|p| {
                let mut h = blake3::Hasher::new();
                h.update_mmap_rayon(p).unwrap();
                *h.finalize().as_bytes()
            })
            .collect::<Vec<_>>()
    });
}

/// The same floor with plain reads into one buffer per file.
#[divan::bench(sample_count = 7, sample_size = 1)]
fn raw_parallel_blake3_read(bencher: Bencher) {
    let t = trees();
    bencher.counter(BytesCount::new(t.bytes)).bench(|| {
        t.files
            .par_iter()
            .map(|p| *blake3::hash(&fs::read(p).unwrap()).as_bytes())
            .collect::<Vec<_>>()
    });
}

/// In-memory hashing as comparators use it for content digests.
#[divan::bench(args = [4 * 1024, 64 * 1024, 1024 * 1024, 16 * 1024 * 1024])]
fn hash_in_memory(bencher: Bencher, size: usize) {
    let mut buf = vec![0u8; size];
    fill(&mut buf, 7);
    bencher
        .counter(BytesCount::new(size))
        .bench(|| twice::finding::Digest::of(divan::black_box(&buf)));
}

/// Two 64 MiB binaries that differ: in 100 scattered 4-byte fields (same
/// length, compared in place), or by one inserted byte near the start (records
/// realigned). Both runs go through the whole `twice diff` of two files.
#[divan::bench(args = ["scattered", "inserted"], sample_count = 5, sample_size = 1)]
fn diff_differing_binary(bencher: Bencher, kind: &str) {
    const SIZE: usize = 64 << 20;
    let dir = tempfile::tempdir().unwrap();
    let mut a = vec![0u8; SIZE];
    fill(&mut a, 11);
    // Some NUL-terminated records, as in real object files.
    for i in (0..SIZE).step_by(1021) {
        a[i] = 0;
    }
    let b = match kind {
        "scattered" => {
            let mut b = a.clone();
            for i in 0..100 {
                let at = i * (SIZE / 100) + 40;
                b[at..at + 4].copy_from_slice(&(1_764_078_312u32 + i as u32).to_le_bytes());
            }
            b
        }
        _ => {
            let mut b = a.clone();
            b.insert(4096, b'x');
            b
        }
    };
    let (pa, pb) = (dir.path().join("a.bin"), dir.path().join("b.bin"));
    fs::write(&pa, &a).unwrap();
    fs::write(&pb, &b).unwrap();
    let opts = DiffOptions::default();
    bencher
        .counter(BytesCount::new(a.len() + b.len()))
        .bench(|| diff_report(&pa, &pb, &opts).unwrap());
}
