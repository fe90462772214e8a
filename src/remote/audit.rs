//! `twice audit --remote URL -- CMD`: the same audit, its builds run as
//! Actions on a REAPI cluster, all runs at once.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicBool;

use super::client::{Client, RemoteOptions};
use super::error::RemoteError;
use super::executor::{RemoteBuilder, upload_locales, upload_source};
use super::variations;
use crate::audit::choose::Request;
use crate::audit::progress::Progress;
use crate::audit::sandbox::{self, Tools, WorkDir};
use crate::audit::variation::{self, Value};
use crate::audit::{AuditError, AuditOptions, Planned, run_on, rust_build, validate, warn_skipped};
use crate::finding::Variation;
use crate::report::{Report, SandboxKind};

/// What `--remote` adds to an audit.
#[derive(Clone, Debug, Default)]
pub struct RemoteAudit {
    pub remote: RemoteOptions,
    /// The worker-side variations the workers can apply
    /// (`--remote-variations`).
    pub declared: Option<String>,
}

/// Why a remote audit stopped.
#[derive(Debug, thiserror::Error)]
pub enum RemoteAuditError {
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error(transparent)]
    Audit(#[from] AuditError),
}

impl RemoteAuditError {
    pub fn exit_code(&self) -> u8 {
        match self {
            RemoteAuditError::Audit(e) => e.exit_code(),
            RemoteAuditError::Remote(RemoteError::Interrupted) => 130,
            RemoteAuditError::Remote(_) => 2,
        }
    }
}

fn remote_error(e: RemoteError) -> RemoteAuditError {
    match e {
        RemoteError::Interrupted => AuditError::Interrupted.into(),
        e => e.into(),
    }
}

/// Run an audit whose builds execute on the cluster `remote` names.
pub fn audit(opts: AuditOptions, remote: &RemoteAudit) -> Result<Report, RemoteAuditError> {
    let globs = validate(&opts)?;
    let declared = variations::parse_declared(remote.declared.as_deref())
        .map_err(|message| AuditError::Usage { message })?;
    crate::interrupt::install().map_err(|source| AuditError::Signals { source })?;
    let progress = Progress::new(opts.quiet);
    progress.stage(format!("connecting to {}", remote.remote.url));
    let client = Client::connect(&remote.remote).map_err(remote_error)?;
    let mut work = WorkDir::create(opts.keep).map_err(|source| AuditError::WorkDir {
        dir: std::env::temp_dir(),
        source,
    })?;
    let tools = Tools::detect();
    let locale_dir = sandbox::locale_cache(&work.root);
    let request = Request {
        vary: &opts.vary,
        runs: opts.runs,
        strict: opts.strict,
        rust: rust_build(&opts),
    };
    let (plan, statuses) = variations::choose(&request, &declared, &tools, &locale_dir)?;
    warn_skipped(&progress, &statuses);
    progress.stage("uploading the source tree");
    let source = upload_source(&client, &opts.source).map_err(remote_error)?;
    let locales = if plan.active.contains(&Variation::Locale) {
        let names: BTreeSet<&str> = (1..opts.runs)
            .filter_map(|k| variation::locale(Value::Variant(k)))
            .collect();
        let names: Vec<&str> = names.into_iter().collect();
        Some(upload_locales(&client, &locale_dir, &names).map_err(remote_error)?)
    } else {
        None
    };
    let result = {
        let builder = RemoteBuilder {
            client: &client,
            command: &opts.command,
            timeout: opts.timeout,
            plan: &plan,
            work: &work,
            progress: &progress,
            platform: &remote.remote.platform,
            source: &source,
            locales,
            keep: opts.keep,
            charged: AtomicBool::new(false),
        };
        // Every run at once: the cluster has the workers.
        let concurrent = AuditOptions {
            parallel: true,
            ..opts.clone()
        };
        let planned = Planned {
            plan: &plan,
            statuses,
            globs: &globs,
            sandbox: SandboxKind::None,
        };
        run_on(&concurrent, planned, &builder, &progress, Vec::new(), &work)
    };
    if let Err(AuditError::BuildFailed { .. }) = &result {
        work.keep_logs();
    }
    drop(progress);
    if !opts.quiet {
        eprintln!("twice: {}", client.traffic().summary(client.endpoint()));
    }
    Ok(result?)
}
