//! Fault injection for the reliability tests: `CARBONSTAT_FAULT_INJECT=<point>`
//! makes a run fail (or pause) at a named point of the commit protocol.

use crate::error::{Error, Result};

/// The environment variable that makes a run fail on purpose at named points
/// (comma-separated): after_ingest, mid_write, before_commit, mid_commit,
/// before_manifest. For fault-injection tests and drills.
pub const FAULT_ENV: &str = "CARBONSTAT_FAULT_INJECT";
pub const FAULT_POINTS: &[&str] = &[
    "after_ingest",
    "mid_write",
    "before_commit",
    "mid_commit",
    "before_manifest",
];

/// Pause here for `<ms>` if the fault-injection variable names `<point>:<ms>`
/// (for tests that need a run to hold its lock a while).
pub(crate) async fn pause(point: &str) {
    let Ok(v) = std::env::var(FAULT_ENV) else {
        return;
    };
    for entry in v.split(',') {
        if let Some((p, ms)) = entry.trim().split_once(':')
            && p == point
            && let Ok(ms) = ms.parse::<u64>()
        {
            tracing::warn!(point, ms, "pausing ({FAULT_ENV})");
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
    }
}

/// Fail here if the fault-injection variable names this point.
pub(crate) fn fault(point: &str) -> Result<()> {
    if let Ok(v) = std::env::var(FAULT_ENV)
        && v.split(',').any(|p| p.trim() == point)
    {
        return Err(Error::Internal(format!(
            "fault injected at {point} ({FAULT_ENV}); the published reports were not changed"
        )));
    }
    Ok(())
}
