//! `twice audit`'s own overhead, apart from the builds: the whole audit of
//! the demo project with a build that does nothing (`true`: staging two
//! copies, the sandboxes, disorderfs, snapshots, comparing), and with its
//! real `make`, whose report splits the time into builds, staging, hashing
//! and comparing. Results go in docs/PERFORMANCE.md.

use std::path::Path;

use twice::audit::{AuditOptions, audit, parse_vary};

fn main() {
    divan::main();
}

fn options(command: &[&str]) -> AuditOptions {
    AuditOptions {
        source: Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo"),
        command: command.iter().map(Into::into).collect(),
        runs: 2,
        vary: parse_vary("default").expect("default set"),
        outputs: Vec::new(),
        bisect: false,
        bisect_budget: 16,
        parallel: false,
        keep: false,
        timeout: None,
        network: false,
        expose: Vec::new(),
        trace: false,
        env: Vec::new(),
        limits: Default::default(),
        gate: None,
        target: None,
        strict: false,
        quiet: true,
    }
}

/// Everything but the build: two stagings, two sandboxed no-op builds.
#[divan::bench(sample_count = 10)]
fn demo_noop_build() {
    let report = audit(options(&["true"])).expect("audit");
    divan::black_box(report);
}

/// The demo's real build; the report's timings say where the time went.
#[divan::bench(sample_count = 3)]
fn demo_make() {
    let report = audit(options(&["make"])).expect("audit");
    let t = &report.audit.as_ref().expect("audit info").timings;
    eprintln!(
        "builds {:.2} s, staging {:.3} s, hashing {:.3} s, comparing {:.3} s",
        t.builds, t.staging, t.hashing, t.comparing
    );
    divan::black_box(report);
}
