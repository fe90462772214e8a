//! Which of the requested variations this machine can apply, and why the
//! others are skipped; the `--list-variations` listing.

use std::collections::BTreeSet;
use std::path::Path;

use super::error::AuditError;
use super::sandbox::{self, Tools};
use super::variation::{self, BWRAP, LOCALEDEF, Plan, Value};
use crate::finding::Variation;
use crate::report::{MissingTool, SkipReason, VariationState, VariationStatus};

/// What choosing needs to know about the audit.
pub(crate) struct Request<'a> {
    pub vary: &'a BTreeSet<Variation>,
    pub runs: usize,
    pub strict: bool,
    /// A Cargo project, or a build run by cargo or rustc.
    pub rust: bool,
}

/// Keep the requested variations this machine can apply; skip the rest
/// with their reasons (or fail with `--strict`).
pub(crate) fn choose(
    req: &Request<'_>,
    tools: &Tools,
    locale_dir: &Path,
) -> Result<(Plan, Vec<VariationStatus>), AuditError> {
    let mut plan = Plan::default();
    let mut statuses = Vec::new();
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    for &v in req.vary {
        let mut reasons = Vec::new();
        let missing: Vec<MissingTool> = variation::needs(v)
            .iter()
            .filter(|t| !tools.has(**t))
            .map(|t| MissingTool {
                program: t.program,
                package: t.package,
            })
            .collect();
        if !missing.is_empty() {
            reasons.push(SkipReason::MissingTools { tools: missing });
        }
        if v == Variation::FileOrder
            && reasons.is_empty()
            && let Err(e) = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/fuse")
        {
            reasons.push(SkipReason::NoFuse {
                error: e.to_string(),
            });
        }
        if v == Variation::NumCpus && cpus < 2 {
            reasons.push(SkipReason::SingleCpu);
        }
        if v == Variation::Domain && !is_root() {
            // setdomainname needs CAP_SYS_ADMIN over the UTS namespace,
            // which bubblewrap grants only to root.
            reasons.push(SkipReason::NeedsRoot);
        }
        if v == Variation::Locale
            && reasons.is_empty()
            && let Some(localedef) = tools.get(LOCALEDEF)
        {
            reasons.extend(compile_locales(localedef, req.runs, locale_dir));
        }
        if v == Variation::Time && req.rust {
            reasons.push(SkipReason::RustBuild);
        }
        settle(v, reasons, req.strict, &mut plan, &mut statuses)?;
    }
    Ok((plan, statuses))
}

/// Compile the locales the varied runs use; a reason for each that fails.
pub(crate) fn compile_locales(localedef: &Path, runs: usize, locale_dir: &Path) -> Vec<SkipReason> {
    let mut reasons = Vec::new();
    for k in 1..runs {
        let Some(name) = variation::locale(Value::Variant(k)) else {
            continue;
        };
        if let Err(error) = sandbox::compile_locale(localedef, locale_dir, name) {
            reasons.push(SkipReason::LocaleUnavailable {
                locale: name.to_owned(),
                error,
            });
        }
    }
    reasons
}

/// Apply `v` when nothing stands in its way; otherwise skip it with its
/// reasons, or fail with `--strict`. libfaketime deadlocks rustc at
/// start-up (its allocator reads the clock before libfaketime is ready),
/// so a Rust build's skipped clock is no failure even then.
pub(crate) fn settle(
    v: Variation,
    reasons: Vec<SkipReason>,
    strict: bool,
    plan: &mut Plan,
    statuses: &mut Vec<VariationStatus>,
) -> Result<(), AuditError> {
    if reasons.is_empty() {
        plan.active.insert(v);
        statuses.push(VariationStatus {
            variation: v,
            state: VariationState::Varied,
        });
        return Ok(());
    }
    if strict && !matches!(reasons.as_slice(), [SkipReason::RustBuild]) {
        return Err(AuditError::Unavailable {
            variation: v,
            reasons,
        });
    }
    statuses.push(VariationStatus {
        variation: v,
        state: VariationState::Skipped { reasons },
    });
    Ok(())
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The listing printed by `--list-variations`.
pub fn list_variations() -> String {
    let tools = Tools::detect();
    let mut out =
        String::from("Variations (* in the default set; `--vary all` adds the rest):\n\n");
    for v in Variation::ALL {
        let needs: Vec<String> = variation::needs(v)
            .iter()
            .map(|t| {
                let state = if tools.has(*t) { "found" } else { "missing" };
                format!("{} ({}, package {})", t.program, state, t.package)
            })
            .collect();
        out.push_str(&format!(
            "{} {:<11} {}\n",
            if v.in_default() { "*" } else { " " },
            v.name(),
            variation::describe(v, 2)
        ));
        if !needs.is_empty() {
            out.push_str(&format!("              needs: {}\n", needs.join(", ")));
        }
    }
    let sandbox = if tools.has(BWRAP) {
        "found"
    } else {
        "missing: builds run in plain temporary directories (apt install bubblewrap)"
    };
    out.push_str(&format!(
        "\nSandbox: bubblewrap ({sandbox}); without it hostname and domain are skipped, \
         the network stays reachable and the build path cannot be held equal.\n"
    ));
    out
}
