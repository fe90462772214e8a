//! Which variations a remote audit applies. Those the Action can express
//! (build path, time zone, locale, umask, user and home) always; those
//! that need the worker (the clock, file order, host name, CPUs, ASLR) only
//! when the user declares the workers able to (`--remote-variations`),
//! otherwise they are skipped for this executor, like a missing tool
//! locally.

use std::collections::BTreeSet;
use std::path::Path;

use crate::audit::AuditError;
use crate::audit::choose::{Request, compile_locales, settle};
use crate::audit::sandbox::Tools;
use crate::audit::variation::{LOCALEDEF, Plan};
use crate::finding::Variation;
use crate::report::{MissingTool, SkipReason, VariationStatus};

/// The platform property a worker-side variation is requested with (the
/// vocabulary of docs/remote.md), or `None` when the command wrapper
/// applies it with a tool the worker must have.
pub(crate) fn property(v: Variation) -> Option<&'static str> {
    match v {
        Variation::Time => Some("twice-faketime"),
        Variation::FileOrder => Some("twice-file-order"),
        Variation::Hostname => Some("twice-hostname"),
        _ => None,
    }
}

/// The value the worker matches capable bots on (`twice-variations`).
pub(crate) fn capability(v: Variation) -> &'static str {
    match v {
        Variation::Time => "faketime",
        Variation::FileOrder => "file-order",
        Variation::Hostname => "hostname",
        _ => "",
    }
}

/// Where a variation is applied remotely.
enum Where {
    /// In the Action: paths, environment, the wrapper's umask.
    Action,
    /// By the worker, when declared.
    Worker,
    /// Nowhere: setting the NIS domain needs root in the worker's own UTS
    /// namespace, which no platform property asks for.
    Nowhere,
}

fn place(v: Variation) -> Where {
    match v {
        Variation::BuildPath
        | Variation::Timezone
        | Variation::Umask
        | Variation::Env
        | Variation::Locale => Where::Action,
        Variation::Time
        | Variation::FileOrder
        | Variation::Hostname
        | Variation::NumCpus
        | Variation::Aslr => Where::Worker,
        Variation::Domain => Where::Nowhere,
    }
}

/// Keep the requested variations this executor can apply; skip the rest
/// with their reasons (or fail with `--strict`).
pub(crate) fn choose(
    req: &Request<'_>,
    declared: &BTreeSet<Variation>,
    tools: &Tools,
    locale_dir: &Path,
) -> Result<(Plan, Vec<VariationStatus>), AuditError> {
    let mut plan = Plan::default();
    let mut statuses = Vec::new();
    for &v in req.vary {
        let mut reasons = Vec::new();
        match place(v) {
            Where::Action => {}
            Where::Worker if declared.contains(&v) => {}
            Where::Worker => reasons.push(SkipReason::NotOnThisExecutor { declarable: true }),
            Where::Nowhere => reasons.push(SkipReason::NotOnThisExecutor { declarable: false }),
        }
        // The locale is compiled here and sent with the input root.
        if v == Variation::Locale {
            match tools.get(LOCALEDEF) {
                None => reasons.push(SkipReason::MissingTools {
                    tools: vec![MissingTool {
                        program: LOCALEDEF.program,
                        package: LOCALEDEF.package,
                    }],
                }),
                Some(localedef) => {
                    reasons.extend(compile_locales(localedef, req.runs, locale_dir));
                }
            }
        }
        if v == Variation::Time && req.rust {
            reasons.push(SkipReason::RustBuild);
        }
        settle(v, reasons, req.strict, &mut plan, &mut statuses)?;
    }
    Ok((plan, statuses))
}

/// Parse `--remote-variations`: variation names the workers can apply.
pub(crate) fn parse_declared(list: Option<&str>) -> Result<BTreeSet<Variation>, String> {
    let Some(list) = list else {
        return Ok(BTreeSet::new());
    };
    let mut out = BTreeSet::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let v = Variation::from_name(name)
            .or_else(|| Variation::from_name(&name.replace('-', "_")))
            .ok_or_else(|| format!("--remote-variations: unknown variation {name:?}"))?;
        if !matches!(place(v), Where::Worker) {
            return Err(format!(
                "--remote-variations: {name} is not applied by the workers (the Action carries \
                 it, or no worker can); worker-side variations: time, file_order, hostname, \
                 num_cpus, aslr"
            ));
        }
        out.insert(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::VariationState;

    #[test]
    fn undeclared_worker_variations_are_skipped_for_this_executor() {
        let vary: BTreeSet<Variation> = Variation::ALL.into_iter().collect();
        let declared = parse_declared(Some("hostname")).unwrap();
        let req = Request {
            vary: &vary,
            runs: 2,
            strict: false,
            rust: false,
        };
        let tools = Tools::default();
        let dir = tempfile::tempdir().unwrap();
        let (plan, statuses) = choose(&req, &declared, &tools, dir.path()).unwrap();
        for v in [
            Variation::BuildPath,
            Variation::Timezone,
            Variation::Umask,
            Variation::Env,
            Variation::Hostname,
        ] {
            assert!(plan.active.contains(&v), "{v}");
        }
        let skipped = |v: Variation| {
            statuses
                .iter()
                .find(|s| s.variation == v)
                .map(|s| s.state.clone())
        };
        assert_eq!(
            skipped(Variation::Time),
            Some(VariationState::Skipped {
                reasons: vec![SkipReason::NotOnThisExecutor { declarable: true }]
            })
        );
        assert_eq!(
            skipped(Variation::Domain),
            Some(VariationState::Skipped {
                reasons: vec![SkipReason::NotOnThisExecutor { declarable: false }]
            })
        );
        // No localedef in an empty tool set: the locale needs it here.
        assert!(!plan.active.contains(&Variation::Locale));
    }

    #[test]
    fn declared_variations_must_be_worker_side() {
        assert_eq!(parse_declared(Some("time,file-order")).unwrap().len(), 2);
        assert!(parse_declared(Some("timezone")).is_err());
        assert!(parse_declared(Some("bogus")).is_err());
    }
}
