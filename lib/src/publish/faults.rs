//! Fault injection for the reliability tests: `CARBONSTAT_FAULT_INJECT=<point>`
//! makes a run fail at a named point of the commit protocol, and
//! `<point>:<ms>` makes it pause there (for tests that need a run to hold its
//! lock a while). Several entries are separated by commas.
//!
//! The points are an enum so that a misspelt point in the code does not
//! compile, and the variable is checked against it so that a misspelt point in
//! a drill fails the run with the list of valid names instead of silently
//! injecting nothing.

use std::fmt;

use crate::error::{Error, Result};

/// The environment variable that makes a run fail or pause on purpose. For
/// fault-injection tests and drills.
pub const FAULT_ENV: &str = "CARBONSTAT_FAULT_INJECT";

/// A named point of a run where a fault can be injected, in the order a run
/// passes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    /// The output's lock is held, nothing is read yet.
    AfterLock,
    /// Inputs are validated and passed the quality gate.
    AfterIngest,
    /// The first partition file is staged.
    MidWrite,
    /// Every file is staged, none is moved into `reports/`.
    BeforeCommit,
    /// The first file is moved into `reports/`.
    MidCommit,
    /// Every file is in place, `manifest.json` is not yet replaced.
    BeforeManifest,
    /// `manifest.json` is replaced (the run is published); the files it no
    /// longer names are not yet removed.
    AfterManifest,
}

impl FaultPoint {
    pub const ALL: [FaultPoint; 7] = [
        FaultPoint::AfterLock,
        FaultPoint::AfterIngest,
        FaultPoint::MidWrite,
        FaultPoint::BeforeCommit,
        FaultPoint::MidCommit,
        FaultPoint::BeforeManifest,
        FaultPoint::AfterManifest,
    ];

    /// The name the environment variable uses.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultPoint::AfterLock => "after_lock",
            FaultPoint::AfterIngest => "after_ingest",
            FaultPoint::MidWrite => "mid_write",
            FaultPoint::BeforeCommit => "before_commit",
            FaultPoint::MidCommit => "mid_commit",
            FaultPoint::BeforeManifest => "before_manifest",
            FaultPoint::AfterManifest => "after_manifest",
        }
    }

    fn from_name(name: &str) -> Option<FaultPoint> {
        FaultPoint::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

impl fmt::Display for FaultPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the variable asks for at one point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Injection {
    Fail(FaultPoint),
    Pause(FaultPoint, std::time::Duration),
}

/// Parse the variable's value: `point`, `point:<ms>`, comma-separated.
fn parse_injections(value: &str) -> std::result::Result<Vec<Injection>, String> {
    let names = || {
        FaultPoint::ALL
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    value
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let (name, ms) = match entry.split_once(':') {
                Some((name, ms)) => (name.trim(), Some(ms.trim())),
                None => (entry, None),
            };
            let point = FaultPoint::from_name(name).ok_or_else(|| {
                format!(
                    "{FAULT_ENV}: '{name}' is not a fault point; the points are {}",
                    names()
                )
            })?;
            match ms {
                None => Ok(Injection::Fail(point)),
                Some(ms) => ms
                    .parse::<u64>()
                    .map(|ms| Injection::Pause(point, std::time::Duration::from_millis(ms)))
                    .map_err(|_| {
                        format!(
                            "{FAULT_ENV}: '{entry}': the pause after ':' must be a number of milliseconds"
                        )
                    }),
            }
        })
        .collect()
}

/// Pause here, or fail here, if the fault-injection variable names this point.
pub(crate) async fn fault_point(point: FaultPoint) -> Result<()> {
    let Ok(value) = std::env::var(FAULT_ENV) else {
        return Ok(());
    };
    for injection in parse_injections(&value).map_err(Error::Internal)? {
        match injection {
            Injection::Pause(p, pause) if p == point => {
                tracing::warn!(
                    point = point.as_str(),
                    ms = pause.as_millis() as u64,
                    "pausing ({FAULT_ENV})"
                );
                tokio::time::sleep(pause).await;
            }
            Injection::Fail(p) if p == point => {
                return Err(Error::Internal(format!(
                    "fault injected at {point} ({FAULT_ENV}); the published reports were not changed"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_point_reads_back_from_its_name() {
        for p in FaultPoint::ALL {
            assert_eq!(FaultPoint::from_name(p.as_str()), Some(p));
        }
    }

    #[test]
    fn the_variable_names_failures_and_pauses() {
        assert_eq!(
            parse_injections("mid_write, after_lock:1500").unwrap(),
            vec![
                Injection::Fail(FaultPoint::MidWrite),
                Injection::Pause(
                    FaultPoint::AfterLock,
                    std::time::Duration::from_millis(1500)
                ),
            ]
        );
        assert_eq!(parse_injections("").unwrap(), vec![]);
    }

    #[test]
    fn an_unknown_point_is_an_error_listing_the_valid_ones() {
        let e = parse_injections("before_commit,mid_wirte").unwrap_err();
        assert!(e.contains("'mid_wirte' is not a fault point"), "{e}");
        assert!(
            e.contains(
                "after_lock, after_ingest, mid_write, before_commit, mid_commit, before_manifest, after_manifest"
            ),
            "{e}"
        );
        let e = parse_injections("after_lock:soon").unwrap_err();
        assert!(e.contains("milliseconds"), "{e}");
    }
}
