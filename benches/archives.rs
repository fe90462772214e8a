//! Structural comparison of archives: two wheels holding hundreds
//! of `.pyc` that differ only in their header mtime (or in co_filename,
//! which needs the marshal reader), and two `.tar.gz` whose members differ
//! only in mtime. Each run is a whole `twice diff` of two files: hashing,
//! inflating, parsing, recursing and reporting. Results go in
//! docs/PERFORMANCE.md.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use divan::Bencher;
use divan::counter::BytesCount;
use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder};
use twice::diff::DiffOptions;
use twice::diff_report;

#[path = "../tests/support/zip_synth.rs"]
mod zip_synth;

fn main() {
    divan::main();
}

const MEMBERS: usize = 400;

fn fixture(rel: &str) -> Vec<u8> {
    fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(rel),
    )
    .unwrap()
}

/// A deflated zip of `members` (name, content), DOS time fixed.
fn zip(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let bodies: Vec<(Vec<u8>, u32)> = members
        .iter()
        .map(|(_, data)| {
            let mut e = DeflateEncoder::new(Vec::new(), Compression::new(6));
            e.write_all(data).unwrap();
            let mut crc = flate2::Crc::new();
            crc.update(data);
            (e.finish().unwrap(), crc.sum())
        })
        .collect();
    let entries: Vec<zip_synth::Entry<'_>> = members
        .iter()
        .zip(&bodies)
        .map(|((name, data), (body, crc))| zip_synth::Entry {
            name,
            body,
            method: 8,
            crc: *crc,
            size: data.len() as u32,
            dos_time: 0,
            dos_date: 0x5b71,
        })
        .collect();
    zip_synth::zip(&entries)
}

/// A gzipped ustar archive of `members`, all stamped `mtime`.
fn tgz(members: &[(String, Vec<u8>)], mtime: u64) -> Vec<u8> {
    let mut tar = Vec::new();
    for (name, data) in members {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        let octal = |h: &mut [u8; 512], at: usize, len: usize, v: u64| {
            let s = format!("{v:0w$o}\0", w = len - 1);
            h[at..at + len].copy_from_slice(s.as_bytes());
        };
        octal(&mut h, 100, 8, 0o644);
        octal(&mut h, 108, 8, 1000);
        octal(&mut h, 116, 8, 1000);
        octal(&mut h, 124, 12, data.len() as u64);
        octal(&mut h, 136, 12, mtime);
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&c| u32::from(c)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        tar.extend_from_slice(&h);
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.resize(tar.len() + 1024, 0);
    let mut e = GzEncoder::new(Vec::new(), Compression::new(6));
    e.write_all(&tar).unwrap();
    e.finish().unwrap()
}

/// Every finding kept, so every member is compared (the default keeps 200
/// findings per artifact and skips the rest).
fn all_findings() -> DiffOptions {
    let mut opts = DiffOptions::default();
    opts.limits.max_findings = usize::MAX;
    opts
}

struct Pair {
    _dir: tempfile::TempDir,
    a: PathBuf,
    b: PathBuf,
    bytes: u64,
}

fn write_pair(name: &str, a: &[u8], b: &[u8]) -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (
        dir.path().join("a").join(name),
        dir.path().join("b").join(name),
    );
    for (p, d) in [(&pa, a), (&pb, b)] {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, d).unwrap();
    }
    Pair {
        _dir: dir,
        a: pa,
        b: pb,
        bytes: (a.len() + b.len()) as u64,
    }
}

/// Two wheels of `MEMBERS` `.pyc`: `mtime` varies the header only,
/// `co_filename` the marshalled code (two build directories).
#[divan::bench(args = ["mtime", "co_filename"], sample_count = 10, sample_size = 1)]
fn diff_wheels_of_pyc(bencher: Bencher, kind: &str) {
    let (pa, pb) = match kind {
        "mtime" => {
            let a = fixture("archives/pyc/mtime-a/mod.pyc");
            let b = fixture("archives/pyc/mtime-b/mod.pyc");
            (a, b)
        }
        _ => (
            fixture("archives/pyc/buildpath-a/mod.pyc"),
            fixture("archives/pyc/buildpath-b/mod.pyc"),
        ),
    };
    let members = |pyc: &[u8]| -> Vec<(String, Vec<u8>)> {
        (0..MEMBERS)
            .map(|i| (format!("pkg/sub{}/mod_{i:03}.pyc", i % 10), pyc.to_vec()))
            .collect()
    };
    let pair = write_pair(
        "pkg-1.0-py3-none-any.whl",
        &zip(&members(&pa)),
        &zip(&members(&pb)),
    );
    let opts = all_findings();
    bencher.counter(BytesCount::new(pair.bytes)).bench(|| {
        let r = diff_report(&pair.a, &pair.b, &opts).unwrap();
        assert!(r.findings.len() >= MEMBERS, "{}", r.findings.len());
        r
    });
}

/// Two `.tar.gz` of `MEMBERS` 4 KiB files, equal contents, other mtimes.
#[divan::bench(sample_count = 10, sample_size = 1)]
fn diff_tgz_mtimes(bencher: Bencher) {
    let members: Vec<(String, Vec<u8>)> = (0..MEMBERS)
        .map(|i| {
            (
                format!("src/f{i:03}.txt"),
                format!("line {i}\n").repeat(512).into_bytes(),
            )
        })
        .collect();
    let pair = write_pair(
        "src.tar.gz",
        &tgz(&members, 1_764_078_312),
        &tgz(&members, 1_764_164_713),
    );
    let opts = all_findings();
    bencher.counter(BytesCount::new(pair.bytes)).bench(|| {
        let r = diff_report(&pair.a, &pair.b, &opts).unwrap();
        assert!(r.findings.len() >= MEMBERS, "{}", r.findings.len());
        r
    });
}
