//! One run at a time per output. The lock is an object, `_lock.json`, created
//! with a conditional put (`PutMode::Create`): the store itself guarantees that
//! of two runs started together exactly one gets it, on the local filesystem
//! and on S3-compatible stores alike. The lock names its holder (host, pid,
//! start time). A lock older than the configured TTL, or one whose holder is
//! a process of this host that no longer runs, was left by a run that died:
//! it is taken over with a warning.

use std::time::Duration;

use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::Location;

pub(crate) const LOCK_FILE: &str = "_lock.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Holder {
    pub host: String,
    pub pid: u32,
    pub started_at: String,
    /// Unique per run: a lock is only released by the run that holds it.
    pub token: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} on {} since {}",
            self.pid, self.host, self.started_at
        )
    }
}

/// A held lock; release it with [`Lock::release`].
#[derive(Debug)]
pub(crate) struct Lock {
    loc: Location,
    holder: Holder,
}

fn me() -> Holder {
    let now = chrono::Utc::now();
    Holder {
        host: gethostname::gethostname().to_string_lossy().to_string(),
        pid: std::process::id(),
        started_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        token: format!(
            "{}-{}-{}",
            std::process::id(),
            now.timestamp_nanos_opt().unwrap_or_default(),
            rand_suffix()
        ),
    }
}

/// Is a process of this host alive? (Where this cannot be told, assume it is.)
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.finish()
}

async fn try_create(loc: &Location, holder: &Holder) -> Result<bool> {
    let body = serde_json::to_vec_pretty(holder).map_err(|e| Error::Internal(e.to_string()))?;
    match loc
        .store
        .put_opts(
            &loc.join(LOCK_FILE),
            PutPayload::from(body),
            PutOptions::from(PutMode::Create),
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(object_store::Error::AlreadyExists { .. })
        | Err(object_store::Error::Precondition { .. }) => Ok(false),
        Err(e) => Err(Error::Output {
            url: loc.show(&loc.join(LOCK_FILE)),
            message: format!("cannot create the lock: {e}"),
        }),
    }
}

async fn read_holder(loc: &Location) -> Result<Option<(Holder, chrono::DateTime<chrono::Utc>)>> {
    let path = loc.join(LOCK_FILE);
    match loc.store.get(&path).await {
        Ok(r) => {
            let modified = r.meta.last_modified;
            let bytes = r.bytes().await?;
            let holder = serde_json::from_slice(&bytes).unwrap_or(Holder {
                host: "?".into(),
                pid: 0,
                started_at: modified.to_rfc3339(),
                token: String::new(),
            });
            Ok(Some((holder, modified)))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl Lock {
    /// Take the lock of an output location, or fail with [`Error::Locked`].
    pub(crate) async fn acquire(loc: &Location, ttl: Duration) -> Result<Lock> {
        let holder = me();
        for _ in 0..2 {
            if try_create(loc, &holder).await? {
                tracing::info!(lock = %loc.show(&loc.join(LOCK_FILE)), "lock taken");
                return Ok(Lock {
                    loc: loc.clone(),
                    holder,
                });
            }
            let Some((other, modified)) = read_holder(loc).await? else {
                continue; // released in between: try again
            };
            let started = chrono::DateTime::parse_from_rfc3339(&other.started_at)
                .map(|t| t.with_timezone(&chrono::Utc))
                .unwrap_or(modified);
            let age = chrono::Utc::now().signed_duration_since(started);
            let here = gethostname::gethostname().to_string_lossy() == other.host.as_str();
            if here && !process_alive(other.pid) {
                tracing::warn!(holder = %other, "taking over the lock of a run that is no longer running on this host");
                loc.store.delete(&loc.join(LOCK_FILE)).await.ok();
                continue;
            }
            if age.to_std().unwrap_or_default() > ttl {
                tracing::warn!(
                    holder = %other,
                    "taking over a lock older than lock_ttl ({}s): the run that held it is presumed dead",
                    ttl.as_secs()
                );
                loc.store.delete(&loc.join(LOCK_FILE)).await.ok();
                continue;
            }
            return Err(Error::Locked(format!(
                "{} is locked by another carbonstat run ({other}); \
                 wait for it to finish, or remove {} if that run is dead \
                 (a lock older than lock_ttl is taken over automatically)",
                loc.display,
                loc.show(&loc.join(LOCK_FILE))
            )));
        }
        Err(Error::Locked(format!(
            "{} is locked: another run took the lock while this one was taking over",
            loc.display
        )))
    }

    /// Release the lock, if it is still ours.
    pub(crate) async fn release(self) {
        match read_holder(&self.loc).await {
            Ok(Some((h, _))) if h.token == self.holder.token => {
                if let Err(e) = self.loc.store.delete(&self.loc.join(LOCK_FILE)).await {
                    tracing::warn!("could not release the lock: {e}");
                }
            }
            Ok(_) => tracing::warn!("the lock was taken over by another run; not releasing it"),
            Err(e) => tracing::warn!("could not read the lock to release it: {e}"),
        }
    }
}
