//! `twice diff` of two debug builds of one generated C program, built in
//! two build directories of different lengths: every `DW_AT_comp_dir`,
//! `DW_AT_name`, `.debug_line` directory and `__FILE__` string differs, and
//! every offset after them shifts.
//!
//! The program has `TWICE_BENCH_ELF_UNITS` translation units (default 44)
//! of `TWICE_BENCH_ELF_FUNCS` functions each (default 5000), compiled with
//! `gcc -g -O0` (two at a time) and linked: about 100 MB of ELF per side
//! with the defaults. Building takes a few minutes once; the builds are
//! kept in `TWICE_BENCH_ELF_DIR` (default `$TMPDIR/twice-bench-elf`) and
//! reused while the parameters stay the same. Without gcc the benchmark
//! says so and measures nothing. Results go in docs/PERFORMANCE.md.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use divan::Bencher;
use twice::diff::DiffOptions;
use twice::diff_report;

fn main() {
    divan::main();
}

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One translation unit: structs, functions with locals and `__FILE__`
/// strings, so that DWARF, `.rodata` and `.text` all grow with it.
fn unit_source(unit: usize, funcs: usize) -> String {
    let mut s = String::from("#include <stddef.h>\n");
    for i in 0..funcs {
        let n = i % 7 + 1;
        s.push_str(&format!(
            "struct u{unit}s{i} {{ int a; long b; double c[{n}]; const char *name; }};\n\
             int u{unit}f{i}(int x) {{ struct u{unit}s{i} v = {{x, x * {i}L, {{0}}, \
             \"value {i} in \" __FILE__}}; static const char *msg = \"function {i} of unit {unit}\"; \
             return v.a + (int)v.b + v.name[x & 7] + msg[x & 3]; }}\n"
        ));
    }
    s
}

fn have_gcc() -> bool {
    Command::new("gcc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Compile every unit in `root` (two gcc processes at a time) and link.
fn build(root: &Path, units: usize) -> PathBuf {
    let prog = root.join("prog");
    if prog.exists() {
        return prog;
    }
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let u = next.fetch_add(1, Ordering::Relaxed);
                    if u >= units {
                        break;
                    }
                    let src = root.join(format!("unit{u}.c"));
                    let status = Command::new("gcc")
                        .current_dir(root)
                        .args(["-g", "-O0", "-c"])
                        .arg(&src)
                        .arg("-o")
                        .arg(root.join(format!("unit{u}.o")))
                        .status()
                        .expect("run gcc");
                    assert!(status.success(), "gcc failed on {}", src.display());
                }
            });
        }
    });
    let main = root.join("main.c");
    fs::write(&main, "int main(void) { return 0; }\n").unwrap();
    let mut link = Command::new("gcc");
    link.current_dir(root)
        .args(["-g", "-o"])
        .arg(&prog)
        .arg(&main);
    for u in 0..units {
        link.arg(root.join(format!("unit{u}.o")));
    }
    assert!(link.status().expect("link").success());
    for u in 0..units {
        let _ = fs::remove_file(root.join(format!("unit{u}.o")));
    }
    prog
}

struct Builds {
    a: PathBuf,
    b: PathBuf,
}

fn builds() -> Option<&'static Builds> {
    static BUILDS: OnceLock<Option<Builds>> = OnceLock::new();
    BUILDS
        .get_or_init(|| {
            if !have_gcc() {
                eprintln!("benches/elf: gcc not found (scripts/setup.sh installs it); skipping");
                return None;
            }
            let units = env_num("TWICE_BENCH_ELF_UNITS", 44);
            let funcs = env_num("TWICE_BENCH_ELF_FUNCS", 5000);
            let base = std::env::var_os("TWICE_BENCH_ELF_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| std::env::temp_dir().join("twice-bench-elf"))
                .join(format!("{units}x{funcs}"));
            let mut out = Vec::new();
            for side in ["a", "second-run-b"] {
                let root = base.join(side);
                fs::create_dir_all(&root).unwrap();
                for u in 0..units {
                    let path = root.join(format!("unit{u}.c"));
                    if !path.exists() {
                        let mut f = fs::File::create(&path).unwrap();
                        f.write_all(unit_source(u, funcs).as_bytes()).unwrap();
                    }
                }
                out.push(build(&root, units));
            }
            let b = out.pop().unwrap();
            let a = out.pop().unwrap();
            let size = |p: &Path| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            eprintln!(
                "benches/elf: {} ({} bytes) and {} ({} bytes)",
                a.display(),
                size(&a),
                b.display(),
                size(&b)
            );
            Some(Builds { a, b })
        })
        .as_ref()
}

/// The whole comparison: hash, parse both ELF files, compare DWARF, strings,
/// symbols and sections, build the report.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn diff_debug_builds(bencher: Bencher) {
    let Some(b) = builds() else {
        return;
    };
    let opts = DiffOptions::default();
    bencher.bench(|| {
        let report = diff_report(&b.a, &b.b, &opts).unwrap();
        assert!(report.summary.findings > 0);
        report
    });
}
