//! What each command does between parsing its arguments and writing its
//! reports: settings, configuration, the CI gate, report destinations.

pub(crate) mod audit;
pub(crate) mod history;
pub(crate) mod output;

use crate::Error;
use crate::Limits;
use crate::cli::LimitArgs;
use crate::config::LimitSpec;

/// The limits of a comparison: the defaults, then what twice.toml says,
/// then what the command line says.
pub(crate) fn limits(args: &LimitArgs, file: &LimitSpec) -> Limits {
    let mut l = Limits::default();
    let pick = |cli: Option<u64>, toml: Option<u64>| cli.or(toml);
    if let Some(n) = args.max_findings.or(file.max_findings) {
        l.max_findings = n;
    }
    if args.all_findings {
        l.max_findings = usize::MAX;
    }
    if let Some(n) = pick(args.max_unpacked, file.max_unpacked) {
        l.max_unpacked_bytes = n;
    }
    if let Some(n) = pick(args.max_member, file.max_member) {
        l.max_member_bytes = n;
    }
    if let Some(n) = pick(args.max_resident, file.max_resident) {
        l.max_resident_bytes = n;
    }
    if let Some(n) = args.max_depth.or(file.max_depth) {
        l.max_depth = n;
    }
    if let Some(n) = pick(args.max_members, file.max_members) {
        l.max_members = n;
    }
    if let Some(n) = pick(args.max_file, file.max_file) {
        l.max_file_bytes = n;
    }
    l
}

/// Run `f` on a pool of `jobs` threads (rayon's global pool when `None`).
pub(crate) fn with_jobs<T: Send>(
    jobs: Option<usize>,
    f: impl FnOnce() -> T + Send,
) -> Result<T, Error> {
    match jobs {
        None => Ok(f()),
        Some(0) => Err(Error::Usage {
            message: "--jobs must be at least 1".to_owned(),
        }),
        Some(threads) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map_err(|source| Error::Threads { threads, source })?;
            Ok(pool.install(f))
        }
    }
}
