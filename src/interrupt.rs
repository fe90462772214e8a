//! Ctrl-C, SIGTERM and SIGHUP (a closed terminal): one flag for the whole
//! process, checked inside every long loop (walking, hashing, comparing,
//! building), so that a command stops within a second, removes what it
//! created and exits 130.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

fn flag() -> &'static Arc<AtomicBool> {
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Route SIGINT, SIGTERM and SIGHUP to the flag instead of killing the
/// process. Idempotent.
pub fn install() -> std::io::Result<()> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    if INSTALLED.get().is_some() {
        return Ok(());
    }
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(signal, Arc::clone(flag()))?;
    }
    let _ = INSTALLED.set(());
    Ok(())
}

/// Has the user asked the command to stop?
pub fn interrupted() -> bool {
    flag().load(Ordering::SeqCst)
}

/// The flag itself, for code that polls it while waiting on a child.
pub fn as_flag() -> &'static AtomicBool {
    flag()
}
