//! `twice audit`, `twice targets` and `twice baseline update`: settings
//! resolved from the command line, the environment (`TWICE_*`) and
//! `twice.toml`, one audit per target, the CI gate, the reports.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::output::{self, Main};
use super::with_jobs;
use crate::Error;
use crate::audit::{self, AuditOptions};
use crate::baseline;
use crate::cli::{AuditArgs, BaselineUpdateArgs, TargetsArgs};
use crate::config::{self, Config, TargetSpec};
use crate::report::{Gate, Report};
use crate::store::{Mode, RunContext, Store};

/// The target name recorded for an audit of a command given after `--`.
pub(crate) const NO_TARGET: &str = "-";

/// `TWICE_*` variables, read once.
struct Env {
    vary: Option<String>,
    runs: Option<usize>,
    timeout: Option<f64>,
    bisect: Option<bool>,
    trace: Option<bool>,
    baseline: Option<PathBuf>,
    config: Option<PathBuf>,
}

impl Env {
    fn read() -> Result<Env, Error> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let number = |name: &str| -> Result<Option<f64>, Error> {
            var(name)
                .map(|v| {
                    v.parse::<f64>().map_err(|_| Error::Usage {
                        message: format!("{name}={v:?}: not a number"),
                    })
                })
                .transpose()
        };
        let flag =
            |name: &str| var(name).map(|v| matches!(v.as_str(), "1" | "true" | "yes" | "on"));
        Ok(Env {
            vary: var("TWICE_VARY"),
            runs: number("TWICE_RUNS")?.map(|n| n as usize),
            timeout: number("TWICE_TIMEOUT")?,
            bisect: flag("TWICE_BISECT"),
            trace: flag("TWICE_TRACE"),
            baseline: var("TWICE_BASELINE").map(PathBuf::from),
            config: var("TWICE_CONFIG").map(PathBuf::from),
        })
    }
}

/// The configuration: `--config`, else TWICE_CONFIG, else twice.toml found
/// upward from the current directory; `required` when targets are named.
fn load_config(flag: Option<&Path>, env: &Env, required: bool) -> Result<Option<Config>, Error> {
    let path = match flag.or(env.config.as_deref()) {
        Some(p) => Some(p.to_path_buf()),
        None => std::env::current_dir().ok().and_then(|d| config::find(&d)),
    };
    match path {
        Some(p) => Ok(Some(config::load(&p)?)),
        None if required => Err(Error::Usage {
            message: format!(
                "no {} here or in a parent directory (targets are defined there; \
                 or give --config FILE)",
                config::FILE_NAME
            ),
        }),
        None => Ok(None),
    }
}

/// The targets to audit: named ones, `--all`, or none (a command after
/// `--`).
fn selected<'c>(
    config: Option<&'c Config>,
    names: &[String],
    all: bool,
) -> Result<Vec<(String, &'c TargetSpec)>, Error> {
    let Some(config) = config else {
        return Ok(Vec::new());
    };
    if all {
        if config.targets.is_empty() {
            return Err(Error::Usage {
                message: format!("--all: {} defines no targets", config.path.display()),
            });
        }
        return Ok(config.targets.iter().map(|(n, t)| (n.clone(), t)).collect());
    }
    names
        .iter()
        .map(|n| Ok((n.clone(), config.target(n)?)))
        .collect()
}

/// The baseline file: `--baseline`, TWICE_BASELINE, `baseline` in
/// twice.toml, else twice-baseline.txt beside twice.toml when it exists.
fn baseline_path(flag: Option<&Path>, env: &Env, config: Option<&Config>) -> Option<PathBuf> {
    if let Some(p) = flag.or(env.baseline.as_deref()) {
        return Some(p.to_path_buf());
    }
    let config = config?;
    match &config.baseline {
        Some(p) => Some(config.resolve(p)),
        None => Some(config.resolve(Path::new(baseline::FILE_NAME))).filter(|p| p.is_file()),
    }
}

/// The CI gate for one target: its baseline entries and the ignore rules
/// in force today (expired ones are reported).
fn gate(
    target: &str,
    baseline: Option<&Path>,
    config: Option<&Config>,
    quiet: bool,
) -> Result<Gate, Error> {
    let mut g = Gate {
        target: target.to_owned(),
        ..Gate::default()
    };
    if let Some(path) = baseline {
        let entries = baseline::load(path)?;
        g.baseline = Some((
            crate::finding::Text::new(path.as_os_str().as_encoded_bytes()),
            entries,
        ));
    }
    if let Some(config) = config {
        let today = crate::clock::today();
        for rule in &config.ignore {
            if rule.active(&today) {
                g.ignore.push((rule.glob.clone(), rule.cause.clone()));
            } else if !quiet {
                eprintln!(
                    "twice: warning: {}:{}: the ignore rule for {} ({}) expired on {}; it no longer applies",
                    config.path.display(),
                    rule.line,
                    rule.artifact,
                    rule.cause,
                    rule.expires.as_deref().unwrap_or("?")
                );
            }
        }
    }
    Ok(g)
}

/// One audit's options from the command line over the environment over
/// the target over the defaults.
fn options(
    args: &AuditArgs,
    env: &Env,
    config: Option<&Config>,
    target: Option<(&str, &TargetSpec)>,
) -> Result<AuditOptions, Error> {
    let spec = match (config, target) {
        (Some(c), Some((_, t))) => c.merged(t),
        (Some(c), None) => c.merged(&TargetSpec::default()),
        _ => TargetSpec::default(),
    };
    let usage = |message: String| Error::Usage { message };
    let command: Vec<OsString> = if !args.command.is_empty() {
        args.command.clone()
    } else {
        spec.command.as_ref().map(|c| c.argv()).unwrap_or_default()
    };
    if command.is_empty() {
        let what = match target {
            Some((name, _)) => format!("target {name} has no `command` in twice.toml"),
            None => "no build command: give it after `--` (`twice audit -- make`) or name a \
                     target of twice.toml"
                .to_owned(),
        };
        return Err(usage(what));
    }
    let source = match (&args.source, &spec.dir, config) {
        (Some(s), _, _) => s.clone(),
        (None, Some(d), Some(c)) => c.resolve(d),
        _ => PathBuf::from("."),
    };
    let vary_text = args
        .vary
        .clone()
        .or_else(|| env.vary.clone())
        .or(spec.vary.clone())
        .unwrap_or_else(|| "default".to_owned());
    let vary = audit::parse_vary(&vary_text).map_err(usage)?;
    let timeout = match args.timeout.or(env.timeout).or(spec.timeout) {
        Some(t) if !(t.is_finite() && t > 0.0) => {
            return Err(usage(format!(
                "--timeout {t}: must be a positive number of seconds"
            )));
        }
        t => t.map(std::time::Duration::from_secs_f64),
    };
    let outputs = if args.outputs.is_empty() {
        spec.outputs.clone().unwrap_or_default()
    } else {
        args.outputs.clone()
    };
    Ok(AuditOptions {
        source,
        command,
        runs: args.runs.or(env.runs).or(spec.runs).unwrap_or(2),
        vary,
        outputs,
        bisect: args.bisect || env.bisect.or(spec.bisect).unwrap_or(false),
        bisect_budget: args.bisect_budget,
        parallel: args.parallel,
        keep: args.keep,
        timeout,
        network: args.network,
        expose: args.expose.clone(),
        trace: args.trace || env.trace.or(spec.trace).unwrap_or(false),
        limits: super::limits(&args.limits, &spec.limits),
        env: spec.env.into_iter().collect(),
        gate: None,
        target: target.map(|(n, _)| n.to_owned()),
        strict: args.strict,
        quiet: args.quiet,
    })
}

pub(crate) fn run(args: AuditArgs) -> Result<u8, Error> {
    if args.list_variations {
        print!("{}", audit::list_variations());
        return Ok(0);
    }
    if !args.targets.is_empty() && !args.command.is_empty() {
        return Err(Error::Usage {
            message: "give targets of twice.toml or a command after `--`, not both".to_owned(),
        });
    }
    let env = Env::read()?;
    let named = !args.targets.is_empty() || args.all;
    let config = load_config(args.config.as_deref(), &env, named)?;
    let targets = selected(config.as_ref(), &args.targets, args.all)?;
    let baseline = if args.no_baseline {
        None
    } else {
        baseline_path(args.baseline.as_deref(), &env, config.as_ref())
    };
    let main = Main {
        format: args.format,
        out: args.out.clone(),
        color: args.color,
        verbose: args.verbose,
    };
    let specs = output::plan(&main, &args.reports)?;
    let jobs: Vec<(String, Option<(&str, &TargetSpec)>)> = if targets.is_empty() {
        vec![(NO_TARGET.to_owned(), None)]
    } else {
        targets
            .iter()
            .map(|(n, t)| (n.clone(), Some((n.as_str(), *t))))
            .collect()
    };
    let history = match args.record || config.as_ref().is_some_and(|c| c.record) {
        true => Some(super::history::history_path(args.history.as_deref())?),
        false => None,
    };
    let mut reports = Vec::new();
    let mut contexts = Vec::new();
    let mut failure: Option<Error> = None;
    for (name, target) in jobs {
        let started_at = super::history::now()?;
        let clock = std::time::Instant::now();
        let source = options(&args, &env, config.as_ref(), target)
            .map(|o| o.source)
            .unwrap_or_else(|_| PathBuf::from("."));
        let record_name = args
            .name
            .clone()
            .or_else(|| target.map(|(n, _)| n.to_owned()));
        let result = options(&args, &env, config.as_ref(), target).and_then(|mut opts| {
            opts.gate = Some(gate(
                &name,
                baseline.as_deref(),
                config.as_ref(),
                args.quiet,
            )?);
            match &args.remote {
                Some(url) => {
                    let remote = crate::remote::RemoteAudit {
                        remote: crate::remote_options(url.clone(), &args.remote_args)?,
                        declared: args.remote_variations.clone(),
                    };
                    with_jobs(args.jobs, || crate::remote::audit(opts, &remote))?
                        .map_err(Error::from)
                }
                None => with_jobs(args.jobs, || audit::audit(opts))?.map_err(Error::from),
            }
        });
        let context = || {
            RunContext::gather(
                &source,
                record_name.as_deref(),
                started_at,
                clock.elapsed().as_secs_f64(),
            )
        };
        if let (Some(path), Err(e @ Error::Audit(audit::AuditError::BuildFailed { .. }))) =
            (&history, &result)
        {
            let command = args
                .command
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            let mut store = Store::open(path, Mode::Write)?;
            store.record_failure(&context(), command, e.to_string(), e.exit_code())?;
        }
        match result {
            Ok(r) => {
                contexts.push(context());
                reports.push(r);
            }
            // An interruption stops everything; other failures are reported
            // and the remaining targets still audited.
            Err(e @ Error::Audit(audit::AuditError::Interrupted)) => return Err(e),
            Err(e) if target.is_some() => {
                eprintln!("twice: target {name}: {e}");
                if failure
                    .as_ref()
                    .is_none_or(|f| e.exit_code() > f.exit_code())
                {
                    failure = Some(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
    if !reports.is_empty() {
        output::write_audits(&reports, &contexts, &main, &specs)?;
    }
    if let Some(path) = &history {
        let mut store = Store::open(path, Mode::Write)?;
        for (report, context) in reports.iter().zip(&contexts) {
            let json = serde_json::to_value(output::AuditJson {
                report,
                context: Some(context),
            })
            .expect("a report serializes to JSON");
            let id = store.record(json)?;
            if !args.quiet {
                match id {
                    Some(id) => eprintln!("twice: recorded as run {id} in {}", path.display()),
                    None => eprintln!("twice: already recorded in {}", path.display()),
                }
            }
        }
    }
    if let Some(e) = failure {
        return Err(Error::Reported {
            code: e.exit_code(),
        });
    }
    Ok(exit_code(&reports))
}

/// The worst verdict's exit code.
fn exit_code(reports: &[Report]) -> u8 {
    reports
        .iter()
        .map(|r| r.verdict().exit_code())
        .max_by_key(|&c| match c {
            0 => 0,
            1 => 1,
            _ => 2,
        })
        .unwrap_or(0)
}

/// `twice targets`: the targets of twice.toml with their directory and
/// command.
pub(crate) fn targets(args: TargetsArgs) -> Result<u8, Error> {
    let env = Env::read()?;
    let config = load_config(args.config.as_deref(), &env, true)?.expect("required");
    println!("{}", config.path.display());
    for (name, t) in &config.targets {
        let t = config.merged(t);
        let command = t
            .command
            .map(|c| {
                c.argv()
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|| "(no command)".to_owned());
        let dir = t
            .dir
            .map_or_else(|| ".".to_owned(), |d| d.display().to_string());
        println!("  {name:<20} {dir:<24} {command}");
    }
    Ok(0)
}

/// `twice baseline update`: audit the targets and record their findings.
pub(crate) fn baseline_update(args: BaselineUpdateArgs) -> Result<u8, Error> {
    let env = Env::read()?;
    let config = load_config(args.config.as_deref(), &env, true)?.expect("required");
    let targets = selected(Some(&config), &args.targets, args.all)?;
    if targets.is_empty() {
        return Err(Error::Usage {
            message: "name the targets to record, or --all".to_owned(),
        });
    }
    let path = baseline_path(args.baseline.as_deref(), &env, Some(&config))
        .unwrap_or_else(|| config.resolve(Path::new(baseline::FILE_NAME)));
    // The audits run with the settings of twice.toml and the environment
    // only.
    let mut argv = vec!["twice", "audit"];
    if args.quiet {
        argv.push("--quiet");
    }
    let crate::cli::Command::Audit(audit_args) =
        <crate::cli::Cli as clap::Parser>::try_parse_from(argv)
            .map_err(|e| Error::Usage {
                message: e.to_string(),
            })?
            .command
    else {
        unreachable!("parsed an audit command line")
    };
    let audit_args = *audit_args;
    let mut entries = Vec::new();
    let mut names = Vec::new();
    for (name, spec) in &targets {
        let mut opts = options(&audit_args, &env, Some(&config), Some((name, spec)))?;
        // Ignore rules still apply; the old baseline does not.
        let mut g = gate(name, None, Some(&config), args.quiet)?;
        g.baseline = None;
        opts.gate = Some(g);
        let report = with_jobs(args.jobs, || audit::audit(opts))??;
        entries.extend(baseline::entries(&report, name));
        names.push(name.clone());
    }
    let total = baseline::update(&path, &names, &entries)?;
    println!(
        "{}: {} accepted finding(s) for {} ({} in all)",
        path.display(),
        entries.len(),
        names.join(", "),
        total
    );
    Ok(0)
}
