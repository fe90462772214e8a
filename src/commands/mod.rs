//! What each command does between parsing its arguments and writing its
//! reports: settings, configuration, the CI gate, report destinations.

pub(crate) mod audit;
pub(crate) mod output;

use crate::Error;

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
