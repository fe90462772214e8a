//! Fixture pairs made by real tools: the causes, locations and exit codes
//! `twice diff` reports for them.

use crate::{causes, diff_json, findings, fixture, token};

fn demo() -> (i32, serde_json::Value) {
    let (a, b) = (fixture("diff-demo/a"), fixture("diff-demo/b"));
    diff_json(&[a.to_str().unwrap(), b.to_str().unwrap()])
}

#[test]
fn demo_build_shows_timestamp_build_path_and_ordering() {
    let (code, r) = demo();
    assert_eq!(code, 1);
    assert_eq!(r["verdict"], "differs");

    let ts = findings(&r, "build-info.txt", "timestamp");
    assert_eq!(ts.len(), 1);
    assert_eq!(ts[0]["cause"]["encoding"], "iso8601");
    assert_eq!(ts[0]["location"]["a"]["start"], 2);
    assert_eq!(token(ts[0], "a"), "2026-11-25T13:45:12Z");
    assert_eq!(token(ts[0], "b"), "2026-11-26T09:00:01Z");
    assert_eq!(ts[0]["a"]["decoded"]["time"], 1_795_614_312);

    let paths = findings(&r, "build-info.txt", "build_path");
    assert_eq!(paths.len(), 1);
    assert_eq!(paths[0]["cause"]["exact"], false);
    assert_eq!(token(paths[0], "a"), "/dev/shm/twice-fixture/build/a");

    let order = findings(&r, "sources.txt", "ordering");
    assert_eq!(order.len(), 1);
    assert_eq!(order[0]["cause"]["records"], 1);

    // gcc -MD wrote the absolute source path into the dependency file.
    let deps = findings(&r, "hello.d", "build_path");
    assert_eq!(deps[0]["location"]["a"]["start"], 1);
}

#[test]
fn demo_object_file_leaks_date_time_and_path() {
    let (_, r) = demo();
    let ts = findings(&r, "hello.o", "timestamp");
    let kinds: Vec<_> = ts
        .iter()
        .map(|f| f["cause"]["encoding"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["c_date", "c_time"]);
    assert_eq!(token(ts[0], "a"), "Nov 25 2026");
    assert_eq!(token(ts[0], "b"), "Nov 26 2026");
    assert_eq!(token(ts[1], "a"), "13:45:12");
    // __DATE__ sits in .rodata at the same offset in both objects.
    assert_eq!(ts[0]["location"]["a"], ts[0]["location"]["b"]);

    // __FILE__ and DWARF strings carry the build directory; the longer
    // directory shifts B's offsets, which alignment follows.
    let paths = findings(&r, "hello.o", "build_path");
    assert!(paths.len() >= 3, "{paths:#?}");
    assert!(
        paths
            .iter()
            .all(|f| token(f, "b").contains("/build/second-run-b"))
    );
    assert!(
        paths
            .iter()
            .any(|f| f["location"]["a"]["at"] != f["location"]["b"]["at"])
    );
}

#[test]
fn known_roots_make_build_paths_exact() {
    let roots = std::fs::read_to_string(fixture("diff-demo/roots.txt")).unwrap();
    let roots: Vec<&str> = roots.lines().collect();
    let (a, b) = (fixture("diff-demo/a"), fixture("diff-demo/b"));
    let (code, r) = diff_json(&[
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--root-a",
        roots[0],
        "--root-b",
        roots[1],
    ]);
    assert_eq!(code, 1);
    let paths = findings(&r, "build-info.txt", "build_path");
    assert_eq!(paths[0]["cause"]["exact"], true);
    assert_eq!(token(paths[0], "a"), roots[0]);
    assert_eq!(token(paths[0], "b"), roots[1]);
    let all = causes(&r);
    assert!(all.contains(&("hello.o".into(), "build_path".into())));
}

#[test]
fn fixed_build_is_identical() {
    let (a, b) = (fixture("diff-demo/fixed-a"), fixture("diff-demo/fixed-b"));
    let (code, r) = diff_json(&[a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["verdict"], "identical");
    assert_eq!(r["summary"]["identical"], 5);
    assert!(r["findings"].as_array().unwrap().is_empty());
}

fn single_timestamp(pair: &str, artifact: &str) -> serde_json::Value {
    let (a, b) = (
        fixture(&format!("pairs/{pair}/a")),
        fixture(&format!("pairs/{pair}/b")),
    );
    let (code, r) = diff_json(&[a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        causes(&r).iter().filter(|(_, c)| c != "timestamp").count(),
        0,
        "{r:#}"
    );
    findings(&r, artifact, "timestamp")[0].clone()
}

#[test]
fn pyc_header_mtime_is_the_source_mtime_field() {
    let f = single_timestamp("pyc-mtime", "mod.pyc");
    assert_eq!(f["cause"]["encoding"], "pyc_source_mtime");
    assert_eq!(
        f["location"],
        serde_json::json!({"kind": "field", "path": ["header", "source_mtime"], "at": 8})
    );
    assert_eq!(f["a"]["decoded"]["time"], 1_764_078_312);
    assert_eq!(f["b"]["decoded"]["time"], 1_764_164_713);
}

#[test]
fn gzip_header_mtime_is_the_mtime_field() {
    let f = single_timestamp("gzip-mtime", "data.txt.gz");
    assert_eq!(f["cause"]["encoding"], "gzip_mtime");
    assert_eq!(
        f["location"],
        serde_json::json!({"kind": "field", "path": ["header", "MTIME"], "at": 4})
    );
    assert_eq!(f["a"]["decoded"]["time"], 1_764_078_312);
}

#[test]
fn zip_entry_time_is_a_dos_date_time() {
    let (a, b) = (fixture("pairs/zip-dos/a"), fixture("pairs/zip-dos/b"));
    let (_, r) = diff_json(&[a.to_str().unwrap(), b.to_str().unwrap()]);
    // The central directory's copy, reported once per entry; the local
    // header holds the same value.
    let ts = findings(&r, "pkg.zip", "timestamp");
    assert_eq!(ts.len(), 1, "{r:#}");
    assert_eq!(causes(&r).len(), 1, "{r:#}");
    assert_eq!(ts[0]["cause"]["encoding"], "dos_date_time");
    assert_eq!(
        ts[0]["location"]["path"],
        serde_json::json!(["entry pkg/__init__.py", "dos_date_time"])
    );
    assert_eq!(ts[0]["b"]["decoded"]["time"], 1_795_683_602);
}

#[test]
fn single_files_compare_directly() {
    let (a, b) = (
        fixture("pairs/gzip-mtime/a/data.txt.gz"),
        fixture("pairs/gzip-mtime/b/data.txt.gz"),
    );
    let (code, r) = diff_json(&[a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        causes(&r),
        vec![("data.txt.gz".to_owned(), "timestamp".to_owned())]
    );
}
