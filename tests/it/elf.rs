//! ELF and `ar` pairs built by `fixtures/make_elf_fixtures.sh` with real
//! gcc, ar and rustc: each difference is named by its section,
//! DWARF attribute or archive header field, with its cause.

use crate::{causes, diff_json, findings, fixture, place, token};

fn pair(name: &str, extra: &[&str]) -> (i32, serde_json::Value) {
    let (a, b) = (
        fixture(&format!("elf/{name}/a")),
        fixture(&format!("elf/{name}/b")),
    );
    let mut args = vec![a.to_str().unwrap(), b.to_str().unwrap()];
    args.extend_from_slice(extra);
    diff_json(&args)
}

fn places(r: &serde_json::Value, artifact: &str, cause: &str) -> Vec<String> {
    findings(r, artifact, cause)
        .into_iter()
        .map(place)
        .collect()
}

#[test]
fn c_program_names_date_time_build_paths_and_runpath() {
    let (code, r) = pair("c", &[]);
    assert_eq!(code, 1);
    let ts = findings(&r, "prog", "timestamp");
    let kinds: Vec<_> = ts.iter().map(|f| f["cause"]["encoding"].clone()).collect();
    assert_eq!(kinds, ["c_date", "c_time"]);
    assert!(ts.iter().all(|f| place(f) == "section .rodata"));
    assert_eq!(token(ts[0], "a"), "Nov 25 2026");

    let paths = places(&r, "prog", "build_path");
    for want in [
        "section .rodata",
        "section .dynamic, DT_RUNPATH",
        "section .debug_info, CU main.c, DW_AT_comp_dir",
        "section .debug_info, CU main.c, DW_AT_name",
        "section .debug_info, CU util.c, DW_AT_comp_dir",
        "section .debug_line, CU main.c, include_directories[1]",
    ] {
        assert!(paths.iter().any(|p| p == want), "{want} not in {paths:#?}");
    }
    // Nothing is left unexplained: everything else follows from the roots.
    assert!(findings(&r, "prog", "unknown").is_empty(), "{r:#}");
    let consequences = findings(&r, "prog", "consequence");
    let build_id = consequences
        .iter()
        .find(|f| place(f) == "section .note.gnu.build-id, NT_GNU_BUILD_ID")
        .expect("build-id finding");
    assert!(
        build_id["cause"]["of"]
            .as_str()
            .unwrap()
            .contains("the build-id hashes the whole output")
    );
    let shifts = consequences
        .iter()
        .find(|f| place(f) == "section .debug_info")
        .expect(".debug_info shifts");
    let of = shifts["cause"]["of"].as_str().unwrap();
    assert!(of.contains(".debug_line_str"), "{of}");
    assert!(
        of.contains("differing bytes in .debug_info are offset shifts"),
        "{of}"
    );
}

#[test]
fn static_library_members_are_compared_as_elf_and_headers_as_ar() {
    let (_, r) = pair("c", &[]);
    let util = places(&r, "libutil.a!util.o", "build_path");
    assert!(
        util.iter()
            .any(|p| p == "section .debug_info, CU util.c, DW_AT_comp_dir"),
        "{util:#?}"
    );
    let where_rodata = findings(&r, "libutil.a!where.o", "build_path");
    assert!(
        where_rodata
            .iter()
            .any(|f| place(f) == "section .rodata" && token(f, "a").ends_with("/src/where.c"))
    );
    // `ar rcU` kept the member dates: the fake clocks of the two builds.
    let dates = findings(&r, "libutil.a!util.o", "archive_header");
    assert_eq!(dates.len(), 1, "{r:#}");
    assert_eq!(dates[0]["cause"]["field"], "mtime");
    assert_eq!(place(dates[0]), "ar header, ar_date");
    assert_eq!(dates[0]["a"]["decoded"]["time"], 1_795_614_312);
    assert_eq!(dates[0]["b"]["decoded"]["time"], 1_795_683_601);
    assert!(dates[0]["hint"].as_str().unwrap().contains("ar D"));
    assert!(findings(&r, "libutil.a", "unknown").is_empty());
    let index = findings(&r, "libutil.a", "consequence");
    assert_eq!(place(index[0]), "symbol index");
}

#[test]
fn known_roots_make_elf_build_paths_exact() {
    let roots = std::fs::read_to_string(fixture("elf/c/roots.txt")).unwrap();
    let roots: Vec<&str> = roots.lines().collect();
    let (_, r) = pair("c", &["--root-a", roots[0], "--root-b", roots[1]]);
    let paths = findings(&r, "prog", "build_path");
    assert!(!paths.is_empty());
    assert!(paths.iter().all(|f| f["cause"]["exact"] == true), "{r:#}");
    let comp_dir = paths
        .iter()
        .find(|f| place(f) == "section .debug_info, CU main.c, DW_AT_comp_dir")
        .unwrap();
    assert_eq!(token(comp_dir, "a"), roots[0]);
    assert_eq!(token(comp_dir, "b"), roots[1]);
}

#[test]
fn prefix_map_and_source_date_epoch_make_the_build_identical() {
    let (code, r) = pair("c-fixed", &[]);
    assert_eq!(code, 0, "{r:#}");
    assert!(r["findings"].as_array().unwrap().is_empty());
    assert_eq!(r["summary"]["identical"], 4);
}

#[test]
fn stripped_binary_points_at_a_debug_file_that_differs() {
    let (_, r) = pair("c", &[]);
    let crc = findings(&r, "prog.stripped", "consequence")
        .into_iter()
        .find(|f| place(f) == "section .gnu_debuglink, CRC-32")
        .expect("debuglink CRC finding");
    assert!(crc["cause"]["of"].as_str().unwrap().contains("debug file"));
    // The roots are still in what stripping kept.
    let ts = findings(&r, "prog.stripped", "timestamp");
    assert_eq!(ts.len(), 2);
    assert!(
        findings(&r, "prog.stripped", "build_path")
            .iter()
            .any(|f| place(f) == "section .dynamic, DT_RUNPATH")
    );
}

#[test]
fn fat_lto_section_names_are_random_unless_seeded() {
    let (code, r) = pair("lto", &[]);
    assert_eq!(code, 1);
    let f = findings(&r, "where.o", "random_seed");
    assert_eq!(f.len(), 1, "{r:#}");
    assert_eq!(place(f[0]), "section table, section names");
    assert!(token_or_value(f[0], "a").starts_with(".gnu.lto_"));
    assert!(f[0]["cause"]["differences"].as_u64().unwrap() > 5);
    assert!(f[0]["hint"].as_str().unwrap().contains("-frandom-seed"));
    assert!(findings(&r, "where.o", "unknown").is_empty(), "{r:#}");
    let (code, r) = pair("lto-fixed", &[]);
    assert_eq!(code, 0, "{r:#}");
}

fn token_or_value<'r>(f: &'r serde_json::Value, side: &str) -> &'r str {
    f[side]["excerpt"]["value"]["text"].as_str().unwrap_or("")
}

#[test]
fn library_link_order_is_needed_ordering() {
    let (code, r) = pair("needed", &[]);
    assert_eq!(code, 1);
    let order = findings(&r, "prog", "ordering");
    assert_eq!(order.len(), 1, "{r:#}");
    assert_eq!(place(order[0]), "section .dynamic, DT_NEEDED");
    assert_eq!(
        token_or_value(order[0], "a"),
        "libm.so.6 libgcc_s.so.1 libc.so.6"
    );
    // The build-id follows; nothing else is left.
    assert_eq!(
        causes(&r),
        [
            ("prog".to_owned(), "consequence".to_owned()),
            ("prog".to_owned(), "ordering".to_owned())
        ]
    );
}

#[test]
fn build_id_alone_is_reported_as_build_id_only() {
    let (code, r) = pair("build-id", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        causes(&r),
        [("prog".to_owned(), "build_id_only".to_owned())]
    );
    let f = findings(&r, "prog", "build_id_only")[0];
    assert_eq!(place(f), "section .note.gnu.build-id, NT_GNU_BUILD_ID");
}

#[test]
fn rust_object_names_panic_paths_and_metadata_hashes() {
    let (code, r) = pair("rust", &[]);
    assert_eq!(code, 1);
    // The panic location is the absolute source path rustc was given.
    let paths = findings(&r, "hello.o", "build_path");
    assert!(
        paths.iter().any(|f| place(f).starts_with("section .rodata")
            && token(f, "a").ends_with("/rust/a/src/hello.rs")),
        "{paths:#?}"
    );
    assert!(
        paths
            .iter()
            .any(|f| place(f) == "section .debug_info, CU hello.#-cgu.0, DW_AT_comp_dir")
    );
    let hashes = findings(&r, "hello.o", "toolchain");
    assert!(
        hashes
            .iter()
            .all(|f| f["cause"]["part"] == "rust_metadata_hash")
    );
    let symtab = hashes
        .iter()
        .find(|f| place(f) == "section .symtab, symbol names")
        .expect("symbol hashes");
    assert!(symtab["cause"]["differences"].as_u64().unwrap() > 1);
    assert!(symtab["hint"].as_str().unwrap().contains("-C metadata"));
    assert!(findings(&r, "hello.o", "unknown").is_empty(), "{r:#}");
}

/// Damaged files: a finding that says what could not be parsed and where,
/// then the byte comparison; never a crash.
#[test]
fn corrupt_elf_and_archive_are_unparsed_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let elf = std::fs::read(fixture("elf/c/a/where.o")).unwrap();
    let mut bad = elf.clone();
    // e_shnum (offset 60 in ELF64) far beyond what the file holds.
    bad[60..62].copy_from_slice(&0xfff0u16.to_le_bytes());
    std::fs::write(a.join("where.o"), &elf).unwrap();
    std::fs::write(b.join("where.o"), &bad).unwrap();
    let ar = std::fs::read(fixture("elf/c/a/libutil.a")).unwrap();
    let mut huge = ar.clone();
    // The first member's size field: 10 digits at 8 + 48. Regression: the
    // byte fallback read "9999999999" as epoch seconds and overflowed a
    // u32 in classify::timestamp (a panic in debug builds).
    huge[56..66].copy_from_slice(b"9999999999");
    std::fs::write(a.join("libutil.a"), &ar).unwrap();
    std::fs::write(b.join("libutil.a"), &huge).unwrap();
    let (code, r) = diff_json(&[a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 1);
    let elf_err = findings(&r, "where.o", "unparsed");
    assert_eq!(elf_err.len(), 1, "{r:#}");
    let reason = elf_err[0]["cause"]["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("side B: section header table"),
        "{reason}"
    );
    assert!(reason.contains("at offset 0x"), "{reason}");
    let ar_err = findings(&r, "libutil.a", "unparsed");
    let reason = ar_err[0]["cause"]["reason"].as_str().unwrap();
    assert!(reason.contains("member size 9999999999"), "{reason}");
    assert!(reason.contains("at offset 0x38"), "{reason}");
    // The byte fallback still locates the damage.
    assert!(causes(&r).iter().filter(|(a, _)| a == "libutil.a").count() > 1);
}

#[test]
fn recorded_flags_in_the_producer_are_a_toolchain_cause() {
    let (code, r) = pair("flags", &[]);
    assert_eq!(code, 1);
    let producer = "section .debug_info, CU where.c, DW_AT_producer";
    // -fprofile-dir=<build dir> is recorded: a build path in the flags.
    let paths = findings(&r, "where.o", "build_path");
    assert!(paths.iter().any(|f| place(f) == producer), "{r:#}");
    // -O0 against -O1: the flags themselves differ.
    let flags = findings(&r, "where.o", "toolchain");
    assert_eq!(flags.len(), 1, "{r:#}");
    assert_eq!(place(flags[0]), producer);
    assert_eq!(flags[0]["cause"]["part"], "flags");
    // The code it changed is attributed to that change.
    let text = findings(&r, "where.o", "consequence")
        .into_iter()
        .find(|f| place(f) == "section .text")
        .expect(".text");
    assert!(
        text["cause"]["of"]
            .as_str()
            .unwrap()
            .contains("DW_AT_producer")
    );
}

#[test]
fn compressed_debug_sections_are_inflated_and_compared_by_structure() {
    let (code, r) = pair("gz", &[]);
    assert_eq!(code, 1);
    assert!(findings(&r, "where.o", "unparsed").is_empty(), "{r:#}");
    assert!(findings(&r, "where.o", "unknown").is_empty(), "{r:#}");
    let paths = places(&r, "where.o", "build_path");
    for want in [
        "section .rodata",
        "section .debug_info, CU where.c, DW_AT_comp_dir",
    ] {
        assert!(paths.iter().any(|p| p == want), "{want} not in {paths:?}");
    }
}

#[test]
fn link_order_is_ordering_and_the_rest_follows() {
    let (code, r) = pair("link-order", &[]);
    assert_eq!(code, 1);
    let order = places(&r, "prog", "ordering");
    for want in [
        "section .debug_info, unit order",
        "section .symtab, symbol order",
    ] {
        assert!(order.iter().any(|p| p == want), "{want} not in {order:?}");
    }
    // Units are paired by name, so their contents compare equal: only
    // offsets moved.
    let info = findings(&r, "prog", "consequence")
        .into_iter()
        .find(|f| place(f) == "section .debug_info")
        .expect(".debug_info");
    let of = info["cause"]["of"].as_str().unwrap();
    assert!(of.contains("link order"), "{of}");
    assert!(of.ends_with("are offset shifts"), "{of}");
    assert!(findings(&r, "prog", "unknown").is_empty(), "{r:#}");
}

/// ELF and archive findings are as deterministic as the rest: the same
/// JSON whatever the thread count, one fingerprint per finding.
#[test]
fn elf_reports_are_deterministic_with_unique_fingerprints() {
    let json = |jobs: &str| {
        crate::twice()
            .args(["diff", "--format", "json", "-j", jobs])
            .arg(fixture("elf/c/a"))
            .arg(fixture("elf/c/b"))
            .output()
            .unwrap()
            .stdout
    };
    let first = json("1");
    assert_eq!(first, json("4"));
    for name in ["c", "rust", "link-order", "flags"] {
        let (_, r) = pair(name, &[]);
        let fps: Vec<&str> = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["fingerprint"].as_str().unwrap())
            .collect();
        let unique: std::collections::BTreeSet<_> = fps.iter().collect();
        assert_eq!(unique.len(), fps.len(), "{name}");
    }
}
