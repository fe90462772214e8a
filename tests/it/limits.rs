//! Hostile inputs (issue 11, items 3 and 4) and the finding cap (issue 18,
//! item 2): the bombs are built here at small scale and compared by the
//! `twice` binary with tight limits. Each comparison must end with the
//! right `limit` finding (naming the option that raises it) and within a
//! coarse bound on the binary's peak resident memory, read from its own
//! `rusage` (wait4), never from a timing.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};
use serde_json::Value;

use crate::zip_synth::{Entry, zip};

const MIB: u64 = 1 << 20;

/// Run `twice diff A B --format json ARGS`; (exit code, report, peak RSS
/// of that process in bytes). The binary is started by a small Python
/// process that reads its `rusage` with wait4: a child forked from this
/// test process would carry this process's own resident pages in its
/// peak from before its exec.
fn measured(a: &Path, b: &Path, args: &[&str]) -> (i32, Value, u64) {
    const LAUNCH: &str = "import os, sys\n\
        pid = os.fork()\n\
        if pid == 0:\n    os.execv(sys.argv[1], sys.argv[1:])\n\
        _, status, usage = os.wait4(pid, 0)\n\
        sys.stderr.write('maxrss=%d\\n' % usage.ru_maxrss)\n\
        sys.exit(os.waitstatus_to_exitcode(status))\n";
    let out = Command::new("python3")
        .args(["-c", LAUNCH])
        .arg(assert_cmd::cargo::cargo_bin("twice"))
        .arg("diff")
        .arg(a)
        .arg(b)
        .args(["--format", "json"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run python3 and twice");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kib: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("maxrss="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no maxrss from the launcher: {stderr}"));
    let report =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}"));
    (out.status.code().expect("exit code"), report, kib * 1024)
}

fn limits_of(report: &Value) -> Vec<(String, String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["cause"]["kind"] == "limit")
        .map(|f| {
            (
                f["artifact"].as_str().unwrap_or("").to_owned(),
                f["cause"]["limit"].as_str().unwrap_or("").to_owned(),
                f["hint"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

fn pair(
    name: &str,
    a: &[u8],
    b: &[u8],
) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (
        dir.path().join("a").join(name),
        dir.path().join("b").join(name),
    );
    for (p, d) in [(&pa, a), (&pb, b)] {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, d).unwrap();
    }
    (dir, pa, pb)
}

/// 32 MiB of NUL bytes against the same with one byte changed, and with
/// one byte more: one finding each, without a record per NUL (the old
/// comparator collected ~34 bytes per NUL: over 1 GB here).
#[test]
fn r11_nul_bytes_cost_no_memory() {
    let a = vec![0u8; 32 << 20];
    let mut b = a.clone();
    b[20 << 20] = 1;
    let mut c = a.clone();
    c.push(0);
    for (other, what) in [(&b, "one byte changed"), (&c, "one byte longer")] {
        let (_dir, pa, pb) = pair("zeros.img", &a, other);
        let (code, report, rss) = measured(&pa, &pb, &[]);
        assert_eq!(code, 1, "{what}");
        assert_eq!(
            report["findings"].as_array().unwrap().len(),
            1,
            "{what}: {report}"
        );
        assert!(rss < 300 * MIB, "{what}: peak RSS {} MiB", rss / MIB);
    }
}

/// gzip streams of 96 MiB of zeros each (about 100 KB compressed), one
/// byte apart: with a 16 MiB member limit the comparison stops with a
/// `limit` finding naming `--max-member`; with the default limits the
/// content is compared, one finding, without a record per NUL.
#[test]
fn r11_gzip_of_zeros_is_bounded() {
    let gz = |last: u8| {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..96 {
            e.write_all(&zeros).unwrap();
        }
        e.write_all(&[last]).unwrap();
        e.finish().unwrap()
    };
    let (_dir, pa, pb) = pair("zeros.gz", &gz(0), &gz(1));
    let (code, report, rss) = measured(&pa, &pb, &["--max-member", "16M"]);
    assert_eq!(code, 1);
    let limits = limits_of(&report);
    assert!(
        limits.iter().any(|(_, kind, _)| kind == "member_bytes"),
        "{report}"
    );
    let text = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["cause"]["kind"] == "limit")
        .map(|f| f["cause"]["max"].clone());
    assert_eq!(text, Some(Value::from(16 * MIB)));
    assert!(rss < 200 * MIB, "peak RSS {} MiB", rss / MIB);
    let (code, report, rss) = measured(&pa, &pb, &[]);
    assert_eq!(code, 1);
    let inner: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["artifact"] == "zeros.gz!zeros")
        .collect();
    assert_eq!(inner.len(), 1, "{report}");
    assert!(rss < 600 * MIB, "peak RSS {} MiB", rss / MIB);
}

/// A zip of members that each inflate past the member limit: every refusal
/// is charged, so the total budget runs out after a few and nothing more is
/// inflated (the old code inflated 1 GiB per refusal, never charged).
#[test]
fn r11_refused_members_are_charged() {
    let bomb = |fill: u8| {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), Compression::best());
        e.write_all(&vec![fill; 4 << 20]).unwrap();
        e.finish().unwrap()
    };
    let members = |fill: u8| -> Vec<(String, Vec<u8>)> {
        let b = bomb(fill);
        (0..200).map(|i| (format!("m{i:03}"), b.clone())).collect()
    };
    let (za, zb) = (stored_zip(&members(0), 0), stored_zip(&members(1), 1));
    let (_dir, pa, pb) = pair("bombs.zip", &za, &zb);
    let (code, report, rss) = measured(&pa, &pb, &["--max-member", "1M", "--max-unpacked", "8M"]);
    assert_eq!(code, 1);
    let limits = limits_of(&report);
    assert!(
        limits.iter().any(|(_, k, _)| k == "unpacked_bytes"),
        "{limits:?}"
    );
    // At most the budget's worth of refusals before it is spent.
    let member = limits
        .iter()
        .filter(|(_, k, _)| k == "member_bytes")
        .count();
    assert!(member <= 8, "{member} refusals: {limits:?}");
    assert!(rss < 200 * MIB, "peak RSS {} MiB", rss / MIB);
}

/// A zip of the given raw deflate streams (`method 8`, 4 MiB each once
/// inflated); `salt` goes into each entry's DOS time.
fn stored_zip(members: &[(String, Vec<u8>)], salt: u16) -> Vec<u8> {
    let entries: Vec<Entry<'_>> = members
        .iter()
        .map(|(name, body)| Entry {
            name,
            body,
            method: 8,
            crc: 0,
            size: 4 << 20,
            dos_time: salt,
            dos_date: 0x5b71,
        })
        .collect();
    zip(&entries)
}

/// An ELF whose 400 compressed debug sections all point at one zlib bomb
/// (1 MiB each once inflated): the budget is checked before each section
/// and every byte inflated is charged, so inflation stops at
/// `--max-unpacked` with a `limit` finding (the old code read the budget
/// once and inflated every section in full).
#[test]
fn r11_compressed_sections_share_one_budget() {
    let (a, b) = (compressed_elf(0), compressed_elf(1));
    let (_dir, pa, pb) = pair("bomb.o", &a, &b);
    let (code, report, rss) = measured(&pa, &pb, &["--max-unpacked", "8M"]);
    assert_eq!(code, 1);
    let limits = limits_of(&report);
    assert!(
        limits
            .iter()
            .any(|(_, k, h)| k == "unpacked_bytes" && h.contains("option")),
        "{report}"
    );
    let text = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["cause"]["kind"] == "limit" && f["cause"]["max"] == 8 * MIB);
    assert!(text, "{report}");
    assert!(rss < 200 * MIB, "peak RSS {} MiB", rss / MIB);
}

/// A relocatable x86-64 ELF: a null section, `.shstrtab`, and 400
/// `.debug_aN` sections with SHF_COMPRESSED that all hold the same
/// compression header and zlib stream (1 MiB of `fill` bytes).
fn compressed_elf(fill: u8) -> Vec<u8> {
    const N: usize = 400;
    let mut stream = {
        let mut e = ZlibEncoder::new(Vec::new(), Compression::best());
        e.write_all(&vec![fill; 1 << 20]).unwrap();
        e.finish().unwrap()
    };
    let mut chdr = Vec::new();
    chdr.extend_from_slice(&1u32.to_le_bytes()); // ELFCOMPRESS_ZLIB
    chdr.extend_from_slice(&0u32.to_le_bytes());
    chdr.extend_from_slice(&(1u64 << 20).to_le_bytes());
    chdr.extend_from_slice(&1u64.to_le_bytes());
    chdr.append(&mut stream);
    let mut names = b"\0.shstrtab\0".to_vec();
    let mut name_at = Vec::new();
    for i in 0..N {
        name_at.push(names.len() as u32);
        names.extend_from_slice(format!(".debug_a{i}\0").as_bytes());
    }
    let data_at = 64u64;
    let names_at = data_at + chdr.len() as u64;
    let shoff = (names_at + names.len() as u64).div_ceil(8) * 8;
    let mut out = Vec::new();
    out.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    out.extend_from_slice(&1u16.to_le_bytes()); // ET_REL
    out.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes()); // e_entry
    out.extend_from_slice(&0u64.to_le_bytes()); // e_phoff
    out.extend_from_slice(&shoff.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    for v in [64u16, 0, 0, 64, (N + 2) as u16, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&chdr);
    out.extend_from_slice(&names);
    out.resize(shoff as usize, 0);
    let section = |out: &mut Vec<u8>, name: u32, ty: u32, flags: u64, at: u64, size: u64| {
        out.extend_from_slice(&name.to_le_bytes());
        out.extend_from_slice(&ty.to_le_bytes());
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // sh_addr
        out.extend_from_slice(&at.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // sh_link
        out.extend_from_slice(&0u32.to_le_bytes()); // sh_info
        out.extend_from_slice(&1u64.to_le_bytes()); // sh_addralign
        out.extend_from_slice(&0u64.to_le_bytes()); // sh_entsize
    };
    section(&mut out, 0, 0, 0, 0, 0);
    section(&mut out, 1, 3, 0, names_at, names.len() as u64);
    for at in name_at {
        section(&mut out, at, 1, 0x800, data_at, chdr.len() as u64);
    }
    out
}

/// An archive with more differing members than the finding cap names
/// every one of them: the cap applies within a member (issue 18, item 2).
/// `--max-findings` lowers it, `--all` lifts it, and the summary counts
/// what was folded.
#[test]
fn r18_every_differing_member_is_named() {
    let tar = |v: &str| {
        let mut out = Vec::new();
        for i in 0..250 {
            let name = format!("po/m{i:03}.po");
            let data = format!("msgid \"x\"\nmsgstr \"{v} {i}\"\n");
            let mut h = [0u8; 512];
            h[..name.len()].copy_from_slice(name.as_bytes());
            h[100..108].copy_from_slice(b"0000644\0");
            h[108..116].copy_from_slice(b"0000000\0");
            h[116..124].copy_from_slice(b"0000000\0");
            h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
            h[136..148].copy_from_slice(b"13132027400\0");
            h[156] = b'0';
            h[257..265].copy_from_slice(b"ustar\x0000");
            h[148..156].copy_from_slice(b"        ");
            let sum: u32 = h.iter().map(|&c| u32::from(c)).sum();
            h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
            out.extend_from_slice(&h);
            out.extend_from_slice(data.as_bytes());
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
        out.resize(out.len() + 1024, 0);
        out
    };
    let (_dir, pa, pb) = pair("po.tar", &tar("eins"), &tar("zwei"));
    let named = |report: &Value| {
        let mut m: Vec<String> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["artifact"].as_str().unwrap().to_owned())
            .collect();
        m.sort();
        m.dedup();
        m.len()
    };
    let (_, report, _) = measured(&pa, &pb, &[]);
    assert_eq!(named(&report), 250, "every member is named");
    let (_, report, _) = measured(&pa, &pb, &["--max-findings", "0"]);
    assert_eq!(report["summary"]["omitted"], 250, "{}", report["summary"]);
    let (_, report, _) = measured(&pa, &pb, &["--all-findings"]);
    assert_eq!(named(&report), 250);
}
