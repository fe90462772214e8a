//! Archives and compiled Python: fixture pairs built by
//! `fixtures/make_archive_fixtures.sh` with setuptools/pip, compileall, gzip
//! and GNU tar, and the hostile archives of `fixtures/archives/make_hostile.py`.

use serde_json::{Value, json};
use twice::Limits;
use twice::diff::DiffOptions;
use twice::diff_report;

use crate::{causes, diff_json, findings, fixture, token};

const WHEEL: &str = "demo_pkg-1.0-cp311-cp311-linux_x86_64.whl";

fn pair(name: &str) -> (i32, Value) {
    let (a, b) = (
        fixture(&format!("archives/{name}/a")),
        fixture(&format!("archives/{name}/b")),
    );
    diff_json(&[a.to_str().unwrap(), b.to_str().unwrap()])
}

fn pyc_pair(name: &str) -> (i32, Value) {
    let (a, b) = (
        fixture(&format!("archives/pyc/{name}-a")),
        fixture(&format!("archives/pyc/{name}-b")),
    );
    diff_json(&[a.to_str().unwrap(), b.to_str().unwrap()])
}

/// The field path of a finding's location.
fn path(f: &Value) -> Vec<&str> {
    f["location"]["path"]
        .as_array()
        .map(|p| p.iter().map(|s| s.as_str().unwrap()).collect())
        .unwrap_or_default()
}

/// Run the library with custom limits; the report as JSON.
fn diff_with(a: &str, b: &str, limits: Limits) -> Value {
    let opts = DiffOptions {
        limits,
        now: 1_795_614_312,
        ..DiffOptions::default()
    };
    let report = diff_report(&fixture(a), &fixture(b), &opts).expect("diff");
    serde_json::to_value(&report).unwrap()
}

#[test]
fn wheel_built_twice_shows_each_cause_where_it_lives() {
    let (code, r) = pair("wheel");
    assert_eq!(code, 1);
    // SOURCE_DATE_EPOCH differs: every entry's DOS time, reported on the
    // wheel at the entry's central-directory field.
    let ts = findings(&r, WHEEL, "timestamp");
    assert_eq!(ts.len(), 7, "{ts:#?}");
    assert!(ts.iter().all(|f| f["cause"]["encoding"] == "dos_date_time"));
    assert_eq!(path(ts[0]), ["entry demo_pkg/__init__.py", "dos_date_time"]);
    assert_eq!(ts[0]["a"]["decoded"]["time"], 1_700_000_000);
    assert_eq!(ts[0]["b"]["decoded"]["time"], 1_700_086_402);
    // The umask: permission bits in the external attributes.
    let perms = findings(&r, WHEEL, "permissions");
    assert!(perms.len() >= 6, "{perms:#?}");
    assert_eq!(
        path(perms[0]),
        ["entry demo_pkg/__init__.py", "external_attr"]
    );
    assert_eq!(token(perms[0], "a"), "0644");
    assert_eq!(token(perms[0], "b"), "0664");
    // Nothing on the wheel itself is unexplained.
    assert!(findings(&r, WHEEL, "unknown").is_empty(), "{r:#}");

    // The build directory reaches the shipped .pyc through co_filename.
    let pyc = format!("{WHEEL}!demo_pkg/__init__.pyc");
    let bp = findings(&r, &pyc, "build_path");
    assert_eq!(bp.len(), 1, "{r:#}");
    assert_eq!(path(bp[0]), ["code <module>", "co_filename"]);
    assert!(token(bp[0], "a").contains("/build/a/"));
    assert!(token(bp[0], "b").contains("/build/second-run-b/"));
    assert_eq!(
        causes(&r).iter().filter(|(a, _)| *a == pyc).count(),
        1,
        "only the path differs in the .pyc"
    );

    // RECORD lines of the two changed members are consequences, nothing
    // else in RECORD differs.
    let record = format!("{WHEEL}!demo_pkg-1.0.dist-info/RECORD");
    let cons = findings(&r, &record, "consequence");
    let of: Vec<_> = cons
        .iter()
        .map(|f| f["cause"]["of"].as_str().unwrap())
        .collect();
    assert_eq!(
        of,
        [
            "the content of demo_pkg/__init__.pyc",
            "the content of demo_pkg/_speedups.cpython-311-x86_64-linux-gnu.so"
        ]
    );
    assert_eq!(causes(&r).iter().filter(|(a, _)| *a == record).count(), 2);

    // The extension module recurses under its own name.
    let so = format!("{WHEEL}!demo_pkg/_speedups.cpython-311-x86_64-linux-gnu.so");
    assert!(causes(&r).iter().any(|(a, _)| *a == so));
}

#[test]
fn wheel_findings_are_deterministic() {
    let fingerprints = |r: &Value| -> Vec<String> {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["fingerprint"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, x) = pair("wheel");
    let (_, y) = pair("wheel");
    assert_eq!(fingerprints(&x), fingerprints(&y));
    assert_eq!(x["findings"], y["findings"]);
}

#[test]
fn pyc_mtime_is_a_header_timestamp() {
    let (code, r) = pyc_pair("mtime");
    assert_eq!(code, 1);
    assert_eq!(causes(&r), [("mod.pyc".to_owned(), "timestamp".to_owned())]);
    let f = findings(&r, "mod.pyc", "timestamp")[0];
    assert_eq!(f["cause"]["encoding"], "pyc_source_mtime");
    assert_eq!(path(f), ["header", "source_mtime"]);
    assert_eq!(f["location"]["at"], 8);
    assert_eq!(f["a"]["decoded"]["time"], 1_764_078_312);
    assert_eq!(f["b"]["decoded"]["time"], 1_764_164_713);
    assert!(f["hint"].as_str().unwrap().contains("checked-hash"));
}

#[test]
fn checked_hash_and_hash_seed_pairs_are_identical() {
    // compileall --invalidation-mode checked-hash ignores the mtime; 3.11
    // sorts frozenset elements, so PYTHONHASHSEED no longer shows.
    for name in ["checked", "hashseed"] {
        let (code, r) = pyc_pair(name);
        assert_eq!(code, 0, "{name}: {r:#}");
        assert!(r["findings"].as_array().unwrap().is_empty());
    }
}

#[test]
fn pyc_build_directory_is_co_filename() {
    let (code, r) = pyc_pair("buildpath");
    assert_eq!(code, 1);
    assert_eq!(
        causes(&r),
        [("mod.pyc".to_owned(), "build_path".to_owned())]
    );
    let f = findings(&r, "mod.pyc", "build_path")[0];
    assert_eq!(path(f), ["code <module>", "co_filename"]);
    assert!(token(f, "b").ends_with("second-run-b/pkg/mod.py"));
}

#[test]
fn pyc_reference_flags_alone_are_marshal_refs() {
    let (code, r) = pyc_pair("refs");
    assert_eq!(code, 1);
    let all = causes(&r);
    assert!(!all.is_empty());
    assert!(all.iter().all(|(_, c)| c == "marshal_refs"), "{r:#}");
    let f = findings(&r, "mod.pyc", "marshal_refs")[0];
    assert_eq!(path(f)[0], "code <module>");
    assert!(f["cause"]["flagged_b"].as_u64() > f["cause"]["flagged_a"].as_u64());
    assert!(
        f["b"]["excerpt"]["value"]["text"]
            .as_str()
            .unwrap()
            .contains("FLAG_REF")
    );
}

#[test]
fn gzip_header_mtime_and_compressor() {
    let (code, r) = pair("gzip");
    assert_eq!(code, 1);
    assert_eq!(
        causes(&r),
        [("data.txt.gz".to_owned(), "timestamp".to_owned())]
    );
    let f = findings(&r, "data.txt.gz", "timestamp")[0];
    assert_eq!(f["cause"]["encoding"], "gzip_mtime");
    assert_eq!(path(f), ["header", "MTIME"]);
    assert_eq!(f["a"]["decoded"]["time"], 1_764_078_312);

    let (_, r) = pair("gzip-level");
    assert_eq!(
        causes(&r),
        [("data.txt.gz".to_owned(), "compressor".to_owned())]
    );
}

#[test]
fn tar_members_order_times_owners_and_modes() {
    let (code, r) = pair("tar");
    assert_eq!(code, 1);
    let order = findings(&r, "src.tar", "ordering");
    assert_eq!(order.len(), 1);
    assert_eq!(path(order[0]), ["members", "order"]);
    let ts = findings(&r, "src.tar", "timestamp");
    assert!(ts.iter().all(|f| f["cause"]["encoding"] == "file_mtime"));
    assert_eq!(path(ts[0]), ["member src/", "mtime"]);
    assert_eq!(ts[0]["b"]["decoded"]["time"], 1_764_164_713);
    let perms = findings(&r, "src.tar", "permissions");
    assert!(
        perms
            .iter()
            .any(|f| path(f) == ["member src/one.txt", "mode"])
    );
    let owners = findings(&r, "src.tar", "metadata");
    assert!(
        owners
            .iter()
            .any(|f| path(f) == ["member src/one.txt", "uname"])
    );
    // The GNU long name is the member's name.
    assert!(
        ts.iter()
            .any(|f| path(f)[0].ends_with("100-byte-ustar-name-field/file.txt"))
    );
    // Same contents: no member artifact.
    assert!(causes(&r).iter().all(|(a, _)| a == "src.tar"));
}

#[test]
fn tgz_recurses_into_the_tarball() {
    let (code, r) = pair("tgz");
    assert_eq!(code, 1);
    // gzip -n: the gzip headers are equal; every finding is in the tar.
    assert!(
        causes(&r).iter().all(|(a, _)| a == "src.tgz!src.tar"),
        "{r:#}"
    );
    assert_eq!(findings(&r, "src.tgz!src.tar", "ordering").len(), 1);
    // pax headers carry atime and ctime.
    let ts = findings(&r, "src.tgz!src.tar", "timestamp");
    assert!(ts.iter().any(|f| path(f).ends_with(&["pax", "ctime"])));
}

#[test]
fn wheel_inside_a_tarball_reaches_the_pyc() {
    let (code, r) = pair("sdist");
    assert_eq!(code, 1);
    let pyc = format!(
        "demo_pkg-1.0.tar.gz!demo_pkg-1.0.tar!demo_pkg-1.0/dist/{WHEEL}!demo_pkg/__init__.pyc"
    );
    assert_eq!(findings(&r, &pyc, "build_path").len(), 1, "{r:#}");
}

#[test]
fn nesting_depth_limit_is_a_finding() {
    let limits = Limits {
        max_depth: 2,
        ..Limits::default()
    };
    let r = diff_with("archives/sdist/a", "archives/sdist/b", limits);
    // Each member not opened gets the finding, naming the option.
    let wheel = format!("demo_pkg-1.0.tar.gz!demo_pkg-1.0.tar!demo_pkg-1.0/dist/{WHEEL}!");
    let lim: Vec<&Value> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["cause"]["kind"] == "limit" && f["artifact"].as_str().unwrap().starts_with(&wheel)
        })
        .collect();
    assert!(!lim.is_empty(), "{r:#}");
    assert!(lim.iter().all(|f| f["cause"]["max"] == 2));
    assert!(lim.iter().all(|f| f["cause"]["limit"] == "depth"));
    // Nothing below the limit was compared.
    assert!(causes(&r).iter().all(|(a, _)| a.matches('!').count() <= 3));
}

#[test]
fn zip_bomb_stops_at_the_member_limit() {
    let limits = Limits {
        max_member_bytes: 1 << 20,
        ..Limits::default()
    };
    let r = diff_with("archives/hostile/bomb/a", "archives/hostile/bomb/b", limits);
    // On the member that was not compared, with the bound and its option.
    assert_eq!(
        causes(&r),
        [("bomb.zip!zeros.bin".to_owned(), "limit".to_owned())],
        "{r:#}"
    );
    let f = findings(&r, "bomb.zip!zeros.bin", "limit")[0];
    assert_eq!(f["cause"]["limit"], "member_bytes");
    assert_eq!(f["cause"]["max"], 1 << 20);

    let limits = Limits {
        max_unpacked_bytes: 1 << 20,
        ..Limits::default()
    };
    let r = diff_with("archives/hostile/bomb/a", "archives/hostile/bomb/b", limits);
    assert_eq!(
        findings(&r, "bomb.zip!zeros.bin", "limit")[0]["cause"]["limit"],
        "unpacked_bytes"
    );
}

#[test]
fn traversal_names_are_suspicious_and_nothing_is_extracted() {
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path().join("cwd");
    let tmp = work.path().join("tmp");
    std::fs::create_dir_all(&cwd).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    let (a, b) = (
        fixture("archives/hostile/traversal/a"),
        fixture("archives/hostile/traversal/b"),
    );
    let out = crate::twice()
        .current_dir(&cwd)
        .env("TMPDIR", &tmp)
        .args([
            "diff",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The traversal names are on both sides: no difference between A and
    // B, so no finding (issue 12, class 13); one on a side only is.
    assert!(findings(&r, "evil.zip", "suspicious").is_empty(), "{r:#}");
    // The member is compared in memory under its name, never written.
    assert!(!findings(&r, "evil.zip!../escape.txt", "unknown").is_empty());
    let listing = |d: &std::path::Path| std::fs::read_dir(d).unwrap().count();
    assert_eq!(listing(&cwd), 0);
    assert_eq!(listing(&tmp), 0);
    assert_eq!(listing(work.path()), 2);

    // The same hostile zip against a clean one: the names are said.
    let clean = tempfile::tempdir().unwrap();
    let evil = a.join("evil.zip");
    let zip = std::fs::read(&evil).unwrap();
    let plain = zip
        .windows(3)
        .position(|w| w == b"../")
        .map(|_| {
            let mut z = zip.clone();
            let mut i = 0;
            while let Some(p) = z[i..].windows(3).position(|w| w == b"../") {
                z[i + p..i + p + 3].copy_from_slice(b"xx/");
                i += p + 3;
            }
            z
        })
        .unwrap();
    std::fs::write(clean.path().join("evil.zip"), plain).unwrap();
    let (_, r) = crate::diff_json(&[clean.path().to_str().unwrap(), a.to_str().unwrap()]);
    let reasons: Vec<String> = findings(&r, "evil.zip", "suspicious")
        .iter()
        .map(|f| f["cause"]["reason"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("../escape.txt") && r.contains("traversal")),
        "{reasons:?}"
    );
}

#[test]
fn overlapping_entries_are_suspicious() {
    // Both sides overlap the same way: that is no difference between A and
    // B (issue 12, class 13); what differs is still compared.
    let (code, r) = pair("hostile/overlap");
    assert_eq!(code, 1);
    assert!(
        findings(&r, "overlap.zip", "suspicious").is_empty(),
        "{r:#}"
    );
    assert!(!r["findings"].as_array().unwrap().is_empty());
    // Against a side without the overlap, it is said.
    let dir = tempfile::tempdir().unwrap();
    let b = fixture("archives/hostile/overlap/b");
    std::fs::copy(
        fixture("pairs/zip-dos/a/pkg.zip"),
        dir.path().join("overlap.zip"),
    )
    .unwrap();
    let (_, r) = crate::diff_json(&[dir.path().to_str().unwrap(), b.to_str().unwrap()]);
    let sus = findings(&r, "overlap.zip", "suspicious");
    assert!(
        sus.iter().any(|f| f["cause"]["reason"]
            .as_str()
            .unwrap()
            .contains("overlap those of one.txt")),
        "{r:#}"
    );
}

#[test]
fn truncated_central_directory_and_negative_tar_size_are_unparsed() {
    for (name, artifact, why) in [
        (
            "hostile/truncated-cd",
            "cut.zip",
            "truncated central directory",
        ),
        ("hostile/negative-size", "neg.tar", "size field is negative"),
    ] {
        let (code, r) = pair(name);
        assert_eq!(code, 1);
        let f = findings(&r, artifact, "unparsed");
        assert_eq!(f.len(), 1, "{r:#}");
        assert!(
            f[0]["cause"]["reason"].as_str().unwrap().contains(why),
            "{f:#?}"
        );
        // The byte comparison still locates the difference.
        assert!(r["findings"].as_array().unwrap().len() > 1);
    }
}

#[test]
fn member_reports_keep_the_schema() {
    let (_, r) = pyc_pair("mtime");
    let f = &r["findings"][0];
    assert_eq!(f["location"]["kind"], "field");
    assert_eq!(
        f["a"]["excerpt"],
        json!({"kind": "value", "value": {"text": "2025-11-25T13:45:12Z"}})
    );
}

#[test]
fn fixed_builds_are_identical() {
    // The same variations with the standard fixes applied: one
    // SOURCE_DATE_EPOCH, umask 022, -ffile-prefix-map and compileall -s for
    // the wheel; tar --sort=name --mtime --clamp-mtime --owner=0 --mode.
    for name in ["wheel-fixed", "tar-fixed"] {
        let (code, r) = pair(name);
        assert_eq!(code, 0, "{name}: {r:#}");
        assert!(r["findings"].as_array().unwrap().is_empty());
    }
}

#[test]
fn info_zip_extra_fields_are_decoded() {
    let (code, r) = pair("infozip");
    assert_eq!(code, 1);
    let ts = findings(&r, "src.zip", "timestamp");
    let ut: Vec<_> = ts
        .iter()
        .filter(|f| path(f) == ["entry src/one.txt", "extra 0x5455 mtime"])
        .collect();
    assert_eq!(ut.len(), 1, "{r:#}");
    assert_eq!(ut[0]["cause"]["encoding"], "epoch_le32");
    assert_eq!(ut[0]["a"]["decoded"]["time"], 1_764_078_312);
    assert_eq!(ut[0]["b"]["decoded"]["time"], 1_764_164_713);
    let owners = findings(&r, "src.zip", "metadata");
    let uid = owners
        .iter()
        .find(|f| path(f) == ["entry src/one.txt", "extra 0x7875 uid"])
        .expect("uid finding");
    assert_eq!(uid["b"]["excerpt"]["value"]["text"], "1234");
    // The local header's copies are not reported a second time.
    assert!(r["findings"].as_array().unwrap().iter().all(|f| {
        !path(f)
            .iter()
            .any(|p| p.starts_with("local extra 0x5455 mtime"))
    }));
}
