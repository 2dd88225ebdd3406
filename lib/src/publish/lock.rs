//! One run at a time per output, held by a lease.
//!
//! The lock is an object, `_lock.json`, created with a conditional put
//! (`PutMode::Create`): the store itself guarantees that of two runs started
//! together exactly one gets it, on the local filesystem and on S3, Azure and
//! GCS alike. The lock names its holder (host, pid, start time, a token unique
//! to the run) and carries a **lease**: `lease_expires_at`, `lock_ttl` after its
//! last renewal. While the run works, a heartbeat renews the lease every
//! quarter of `lock_ttl` (at most every minute), so a live run's lease is always
//! current, however long the run takes.
//!
//! A lock is taken over only when its lease has expired (its holder stopped
//! renewing: dead, or cut off from the store for longer than `lock_ttl`), or
//! when its holder is a process of this host that no longer runs. The takeover
//! replaces the expired lock with a conditional update on its ETag where the
//! store supports it (S3, Azure, GCS), so of two runs taking over the same dead
//! lock only one succeeds.
//!
//! Right before the commit starts and again right before `manifest.json` is
//! written, the run confirms the lock is still its own: it reads the lock,
//! compares the token, and renews the lease with a conditional update on the
//! ETag it just read (a read-compare-write on the local filesystem, which has
//! no conditional update). A run that lost its lock fails with exit 4 and
//! publishes nothing.

use std::sync::mpsc;
use std::time::Duration;

use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::Location;

pub(crate) const LOCK_FILE: &str = "_lock.json";

type Time = chrono::DateTime<chrono::Utc>;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct Holder {
    pub host: String,
    pub pid: u32,
    pub started_at: String,
    /// Unique per run: a lock is only renewed and released by the run that holds it.
    pub token: String,
    /// The last renewal of the lease (absent in a lock written by hand).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewed_at: Option<String>,
    /// Until when the lock is the holder's without a further renewal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_expires_at: Option<String>,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} on {} since {}",
            self.pid, self.host, self.started_at
        )?;
        if let Some(until) = &self.lease_expires_at {
            write!(f, ", lease until {until}")?;
        }
        Ok(())
    }
}

fn stamp(t: Time) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_time(s: &str) -> Option<Time> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

impl Holder {
    fn me(ttl: Duration) -> Holder {
        let now = chrono::Utc::now();
        let mut h = Holder {
            host: gethostname::gethostname().to_string_lossy().to_string(),
            pid: std::process::id(),
            started_at: stamp(now),
            token: format!(
                "{}-{}-{}",
                std::process::id(),
                now.timestamp_nanos_opt().unwrap_or_default(),
                rand_suffix()
            ),
            renewed_at: None,
            lease_expires_at: None,
        };
        h.renew(now, ttl);
        h
    }

    fn renew(&mut self, now: Time, ttl: Duration) {
        self.renewed_at = Some(stamp(now));
        self.lease_expires_at = Some(stamp(
            now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX),
        ));
    }

    /// When the lease ends. A lock without a lease (written by hand, or by an
    /// older carbonstat) is given `lock_ttl` from its start, as before leases.
    fn expires(&self, ttl: Duration, modified: Time) -> Time {
        if let Some(t) = self.lease_expires_at.as_deref().and_then(parse_time) {
            return t;
        }
        let started = parse_time(&self.started_at).unwrap_or(modified);
        started + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX)
    }

    fn body(&self) -> Result<PutPayload> {
        serde_json::to_vec_pretty(self)
            .map(PutPayload::from)
            .map_err(|e| Error::Internal(format!("lock to JSON: {e}")))
    }
}

/// How often a holder renews its lease: a quarter of the TTL, so three
/// renewals in a row can fail (a network blip) before the lease runs out; at
/// most every minute.
pub(crate) fn heartbeat_interval(ttl: Duration) -> Duration {
    (ttl / 4).clamp(Duration::from_millis(100), Duration::from_secs(60))
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

fn lock_error(loc: &Location, what: &str, e: object_store::Error) -> Error {
    Error::Output {
        url: loc.show(&loc.join(LOCK_FILE)),
        message: format!("cannot {what} the lock: {e}"),
    }
}

/// The lock as it is in the store now.
struct Current {
    holder: Holder,
    modified: Time,
    version: UpdateVersion,
}

async fn read_current(loc: &Location) -> Result<Option<Current>> {
    let path = loc.join(LOCK_FILE);
    match loc.store.get(&path).await {
        Ok(r) => {
            let modified = r.meta.last_modified;
            let version = UpdateVersion {
                e_tag: r.meta.e_tag.clone(),
                version: r.meta.version.clone(),
            };
            let bytes = r.bytes().await.map_err(|e| lock_error(loc, "read", e))?;
            // an unreadable lock still holds the output, by its age alone
            let holder = serde_json::from_slice(&bytes).unwrap_or(Holder {
                host: "?".into(),
                pid: 0,
                started_at: modified.to_rfc3339(),
                token: String::new(),
                renewed_at: None,
                lease_expires_at: None,
            });
            Ok(Some(Current {
                holder,
                modified,
                version,
            }))
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(lock_error(loc, "read", e)),
    }
}

/// What a conditional write of the lock came to.
enum Written {
    Done,
    /// Someone else wrote or removed the lock in between.
    Conflict,
}

async fn create(loc: &Location, holder: &Holder) -> Result<Written> {
    match loc
        .store
        .put_opts(
            &loc.join(LOCK_FILE),
            holder.body()?,
            PutOptions::from(PutMode::Create),
        )
        .await
    {
        Ok(_) => Ok(Written::Done),
        Err(object_store::Error::AlreadyExists { .. })
        | Err(object_store::Error::Precondition { .. }) => Ok(Written::Conflict),
        Err(e) => Err(lock_error(loc, "create", e)),
    }
}

/// Replace the lock that was read as `seen` by `holder`: a conditional update
/// on its ETag where the store has one, otherwise (local filesystem) a plain
/// overwrite after the caller's comparison.
async fn replace(loc: &Location, seen: &Current, holder: &Holder) -> Result<Written> {
    let path = loc.join(LOCK_FILE);
    let conditional = PutOptions::from(PutMode::Update(seen.version.clone()));
    match loc.store.put_opts(&path, holder.body()?, conditional).await {
        Ok(_) => return Ok(Written::Done),
        Err(object_store::Error::Precondition { .. })
        | Err(object_store::Error::NotFound { .. }) => return Ok(Written::Conflict),
        Err(object_store::Error::NotImplemented { .. }) => {}
        Err(e) => return Err(lock_error(loc, "write", e)),
    }
    loc.store
        .put_opts(&path, holder.body()?, PutOptions::from(PutMode::Overwrite))
        .await
        .map_err(|e| lock_error(loc, "write", e))?;
    Ok(Written::Done)
}

/// Why a renewal did not renew.
#[derive(Debug, Clone)]
enum NotRenewed {
    /// The lock is no longer ours: what happened to it.
    Lost(String),
    /// The store could not be reached; the lease may still be ours.
    Unreachable(String),
}

/// Renew `me`'s lease if the lock is still `me`'s.
async fn renew(
    loc: &Location,
    me: &mut Holder,
    ttl: Duration,
) -> std::result::Result<(), NotRenewed> {
    let unreachable = |e: Error| NotRenewed::Unreachable(e.to_string());
    let removed = || {
        NotRenewed::Lost(format!(
            "{} was removed while this run held it",
            loc.show(&loc.join(LOCK_FILE))
        ))
    };
    let taken = |other: &Holder| NotRenewed::Lost(format!("another run took it over ({other})"));
    let Some(seen) = read_current(loc).await.map_err(unreachable)? else {
        return Err(removed());
    };
    if seen.holder.token != me.token {
        return Err(taken(&seen.holder));
    }
    let mut next = me.clone();
    next.renew(chrono::Utc::now(), ttl);
    match replace(loc, &seen, &next).await.map_err(unreachable)? {
        Written::Done => {
            *me = next;
            Ok(())
        }
        Written::Conflict => match read_current(loc).await {
            Ok(Some(now)) if now.holder.token != me.token => Err(taken(&now.holder)),
            Ok(None) => Err(removed()),
            Ok(Some(_)) => Err(NotRenewed::Unreachable(
                "the lock changed while it was renewed".into(),
            )),
            Err(e) => Err(unreachable(e)),
        },
    }
}

enum Ask {
    /// Renew now and say whether the lock is still ours.
    Confirm(futures::channel::oneshot::Sender<std::result::Result<(), NotRenewed>>),
    Stop,
}

/// The heartbeat: a thread of its own, with its own runtime and its own
/// connection to the store, so neither a busy engine nor the engine's
/// connection pool can delay a renewal. Every renewal (the periodic ones and
/// the confirmations the commit asks for) goes through it, one at a time, so
/// two renewals never race each other's ETag.
fn heartbeat(
    loc: Location,
    mut me: Holder,
    ttl: Duration,
    asks: mpsc::Receiver<Ask>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("carbonstat-lease".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!("the lease heartbeat cannot start: {e}");
                    return;
                }
            };
            let interval = heartbeat_interval(ttl);
            let mut lost: Option<String> = None;
            loop {
                let ask = match asks.recv_timeout(interval) {
                    Ok(Ask::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    Ok(Ask::Confirm(reply)) => Some(reply),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                };
                let result = match &lost {
                    Some(why) => Err(NotRenewed::Lost(why.clone())),
                    None => runtime.block_on(renew(&loc, &mut me, ttl)),
                };
                match &result {
                    Ok(()) => tracing::debug!(until = ?me.lease_expires_at, "lease renewed"),
                    Err(NotRenewed::Lost(why)) => {
                        if lost.is_none() {
                            tracing::error!("the output's lock is lost: {why}");
                        }
                        lost = Some(why.clone());
                    }
                    Err(NotRenewed::Unreachable(why)) => {
                        let expires = me.expires(ttl, chrono::Utc::now());
                        if chrono::Utc::now() >= expires {
                            let why = format!(
                                "its lease ran out at {} without a renewal (lock_ttl {}s): {why}",
                                stamp(expires),
                                ttl.as_secs_f64()
                            );
                            tracing::error!("the output's lock is lost: {why}");
                            lost = Some(why);
                        } else {
                            tracing::warn!(
                                "could not renew the lock's lease (it holds until {}): {why}",
                                stamp(expires)
                            );
                        }
                    }
                }
                if let Some(reply) = ask {
                    let _ = reply.send(result);
                }
            }
        })
        .expect("a thread can be started")
}

/// A held lock; confirm it with [`Lock::confirm`], release it with [`Lock::release`].
#[derive(Debug)]
pub(crate) struct Lock {
    loc: Location,
    token: String,
    asks: mpsc::Sender<Ask>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Ask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Ask::Confirm(_) => "Confirm",
            Ask::Stop => "Stop",
        })
    }
}

impl Lock {
    /// Take the lock of an output location, or fail with [`Error::Locked`].
    pub(crate) async fn acquire(loc: &Location, ttl: Duration) -> Result<Lock> {
        let holder = Holder::me(ttl);
        for _ in 0..3 {
            if let Written::Done = create(loc, &holder).await? {
                tracing::info!(lock = %loc.show(&loc.join(LOCK_FILE)), until = ?holder.lease_expires_at, "lock taken");
                return Lock::hold(loc, holder, ttl);
            }
            let Some(seen) = read_current(loc).await? else {
                continue; // released in between: try again
            };
            let other = &seen.holder;
            let now = chrono::Utc::now();
            let here = gethostname::gethostname().to_string_lossy() == other.host.as_str();
            let dead_here = here && other.pid != 0 && !process_alive(other.pid);
            let expired = now >= other.expires(ttl, seen.modified);
            if !dead_here && !expired {
                return Err(Error::Locked(format!(
                    "{} is locked by another carbonstat run ({other}); \
                     a live run renews its lease every {}s, so wait for it to finish. \
                     If that run is dead, its lease runs out and the lock is taken over \
                     automatically; remove {} only if you are sure no run is working",
                    loc.display,
                    heartbeat_interval(ttl).as_secs_f64(),
                    loc.show(&loc.join(LOCK_FILE))
                )));
            }
            if dead_here {
                tracing::warn!(holder = %other, "taking over the lock of a run that is no longer running on this host");
            } else {
                tracing::warn!(
                    holder = %other,
                    "taking over a lock whose lease has expired: the run that held it stopped renewing it and is presumed dead"
                );
            }
            if let Written::Done = replace(loc, &seen, &holder).await? {
                tracing::info!(lock = %loc.show(&loc.join(LOCK_FILE)), "lock taken over");
                return Lock::hold(loc, holder, ttl);
            }
            // someone else changed it first: look again
        }
        Err(Error::Locked(format!(
            "{} is locked: another run took the lock while this one was taking it over",
            loc.display
        )))
    }

    fn hold(loc: &Location, holder: Holder, ttl: Duration) -> Result<Lock> {
        // the heartbeat's own connection to the store
        let own = loc.reopen().map_err(|message| Error::Output {
            url: loc.display.clone(),
            message,
        })?;
        let (asks, rx) = mpsc::channel();
        let token = holder.token.clone();
        let thread = heartbeat(own, holder, ttl, rx);
        Ok(Lock {
            loc: loc.clone(),
            token,
            asks,
            thread: Some(thread),
        })
    }

    /// Renew the lease now, and fail if the lock is no longer this run's:
    /// [`Error::Locked`] (exit 4) when another run holds it, an output error
    /// when the store cannot say.
    pub(crate) async fn confirm(&self, before: &str) -> Result<()> {
        let (tx, rx) = futures::channel::oneshot::channel();
        let answer = match self.asks.send(Ask::Confirm(tx)) {
            Ok(()) => rx.await.unwrap_or_else(|_| {
                Err(NotRenewed::Unreachable(
                    "the lease heartbeat stopped".into(),
                ))
            }),
            Err(_) => Err(NotRenewed::Unreachable(
                "the lease heartbeat stopped".into(),
            )),
        };
        match answer {
            Ok(()) => Ok(()),
            Err(NotRenewed::Lost(why)) => Err(Error::Locked(format!(
                "this run lost the lock of {} before {before}: {why}. \
                 Nothing of this run was published; the run that holds the lock publishes its own. \
                 If this run was not stalled, raise lock_ttl or check the connection to the store",
                self.loc.display
            ))),
            Err(NotRenewed::Unreachable(why)) => Err(Error::Output {
                url: self.loc.show(&self.loc.join(LOCK_FILE)),
                message: format!(
                    "cannot confirm that this run still holds the lock before {before}: {why}; \
                     nothing of this run was published"
                ),
            }),
        }
    }

    /// Stop renewing and remove the lock, if it is still ours.
    pub(crate) async fn release(mut self) {
        self.stop_heartbeat().await;
        match read_current(&self.loc).await {
            Ok(Some(seen)) if seen.holder.token == self.token => {
                if let Err(e) = self.loc.store.delete(&self.loc.join(LOCK_FILE)).await {
                    tracing::warn!("could not release the lock: {e}");
                }
            }
            Ok(_) => tracing::warn!("the lock was taken over by another run; not releasing it"),
            Err(e) => tracing::warn!("could not read the lock to release it: {e}"),
        }
    }

    async fn stop_heartbeat(&mut self) {
        let _ = self.asks.send(Ask::Stop);
        if let Some(t) = self.thread.take() {
            // the thread finishes the renewal it may be in, then stops
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.asks.send(Ask::Stop);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Storage;

    fn memory(name: &str) -> Location {
        Location::parse(
            std::path::Path::new("/"),
            &format!("memory:///lock-tests/{name}"),
            &Storage::default(),
        )
        .unwrap()
    }

    #[test]
    fn the_heartbeat_is_a_quarter_of_the_ttl_at_most_a_minute() {
        assert_eq!(
            heartbeat_interval(Duration::from_secs(3)),
            Duration::from_millis(750)
        );
        assert_eq!(
            heartbeat_interval(Duration::from_secs(600)),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn a_lock_without_a_lease_expires_lock_ttl_after_its_start() {
        let h = Holder {
            host: "h".into(),
            pid: 1,
            started_at: "2026-01-01T00:00:00Z".into(),
            token: "t".into(),
            renewed_at: None,
            lease_expires_at: None,
        };
        let now = chrono::Utc::now();
        assert_eq!(
            stamp(h.expires(Duration::from_secs(90), now)),
            "2026-01-01T00:01:30.000Z"
        );
        let leased = Holder {
            lease_expires_at: Some("2026-01-01T00:00:10.000Z".into()),
            ..h
        };
        assert_eq!(
            stamp(leased.expires(Duration::from_secs(90), now)),
            "2026-01-01T00:00:10.000Z"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_held_lease_is_renewed_and_a_stolen_one_is_noticed() {
        let loc = memory("renew");
        let ttl = Duration::from_millis(800);
        let lock = Lock::acquire(&loc, ttl).await.unwrap();
        let first = read_current(&loc).await.unwrap().unwrap().holder;
        // three heartbeats (every 200 ms) later the lease has moved on
        tokio::time::sleep(Duration::from_millis(700)).await;
        let later = read_current(&loc).await.unwrap().unwrap().holder;
        assert_eq!(later.token, first.token);
        assert!(later.lease_expires_at > first.lease_expires_at, "{later:?}");
        // a live lease is not taken over, however old the lock's start
        let e = Lock::acquire(&loc, ttl).await.unwrap_err();
        assert_eq!(e.exit_code(), 4, "{e}");
        lock.confirm("the test").await.unwrap();
        // someone writes their own lock over ours
        let thief = Holder::me(Duration::from_secs(3600));
        loc.store
            .put(&loc.join(LOCK_FILE), thief.body().unwrap())
            .await
            .unwrap();
        let e = lock.confirm("manifest.json").await.unwrap_err();
        assert_eq!(e.exit_code(), 4);
        assert!(
            e.to_string()
                .contains("lost the lock of memory:///lock-tests/renew before manifest.json: another run took it over"),
            "{e}"
        );
        lock.release().await;
        // the thief's lock is not ours to remove
        let left = read_current(&loc).await.unwrap().unwrap().holder;
        assert_eq!(left.token, thief.token);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_expired_lease_is_taken_over_by_exactly_one() {
        let loc = memory("expired");
        let mut dead = Holder::me(Duration::from_secs(1));
        dead.host = "gone-host".into();
        dead.lease_expires_at = Some(stamp(chrono::Utc::now() - chrono::Duration::seconds(5)));
        loc.store
            .put(&loc.join(LOCK_FILE), dead.body().unwrap())
            .await
            .unwrap();
        let ttl = Duration::from_secs(60);
        let (a, b) = tokio::join!(Lock::acquire(&loc, ttl), Lock::acquire(&loc, ttl));
        assert!(a.is_ok() != b.is_ok(), "exactly one takes it over");
        for l in [a, b].into_iter().flatten() {
            l.release().await;
        }
        assert!(read_current(&loc).await.unwrap().is_none());
    }
}
