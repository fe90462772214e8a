//! The one reading of the real clock. Reports never depend on it: it only
//! dates an audit's builds (canaries) and bounds plausible timestamps.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
