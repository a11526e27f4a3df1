//! One election session: a lease and the task that keeps it alive.
//!
//! The lease is refreshed every TTL/3, each attempt bounded by TTL/3. The
//! session is declared **lost** (its `lost` token cancelled) when etcd says the
//! lease is gone, or when no keep-alive has succeeded for TTL minus a safety
//! margin, counted from the moment the last successful request was *sent*.
//! etcd starts the lease's new TTL when it *receives* that request, which is
//! later, so the session is lost here strictly before the lease can have
//! expired on the server: a leader stops leading before anyone else can win.
//!
//! DM (through etcd's client) ends its session only when the keep-alive
//! channel closes, which happens TTL after the last *response* arrived, i.e.
//! possibly after the server already expired the lease and a new leader was
//! elected; we end it earlier on purpose.

use std::time::Duration;

use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::Result;
use crate::etcd::retry::Backoff;
use crate::etcd::{Etcd, GrantedLease, LeaseKeeper};

/// A live lease. Dropping it stops its keep-alive task (the lease itself is
/// revoked by the owner, who knows whether etcd is reachable).
pub(super) struct Session {
    pub lease_id: i64,
    /// Cancelled by the keep-alive task when the lease is gone or about to
    /// expire; the owner then ends any term won with this lease.
    lost: CancellationToken,
    /// Cancelled by the owner (or by shutdown) to stop the keep-alive task.
    stop: CancellationToken,
}

impl Session {
    /// Starts keeping `lease` alive. `requested_at` is when the grant request
    /// was sent: the lease cannot expire on the server before `requested_at +
    /// ttl`.
    pub fn start(
        etcd: Etcd,
        lease: GrantedLease,
        requested_at: Instant,
        tracker: &TaskTracker,
        cancel: &CancellationToken,
    ) -> Session {
        let ttl = Duration::from_secs(u64::try_from(lease.ttl_secs).unwrap_or(0).max(1));
        let lost = CancellationToken::new();
        let stop = cancel.child_token();
        let interval = ttl / 3;
        let task = KeepAlive {
            etcd,
            lease_id: lease.id,
            ttl,
            interval,
            deadline: safe_deadline(requested_at, ttl),
            keeper: None,
            lost: lost.clone(),
            backoff: Backoff::new(Duration::from_millis(100), interval),
        };
        tracker.spawn(task.run(stop.clone()));
        Session {
            lease_id: lease.id,
            lost,
            stop,
        }
    }

    /// Resolves once the lease is gone or can no longer be trusted.
    pub async fn lost(&self) {
        self.lost.cancelled().await
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// How long before the lease's earliest possible server-side expiry we stop
/// trusting it: room for the messages in flight and for the leader's
/// components to notice their cancelled term.
fn safety_margin(ttl: Duration) -> Duration {
    ttl / 4
}

/// The instant after which a lease refreshed by a request sent at `sent`
/// (granting `ttl`) must no longer be relied on.
fn safe_deadline(sent: Instant, ttl: Duration) -> Instant {
    sent + ttl - safety_margin(ttl)
}

/// The keep-alive loop of one session.
struct KeepAlive {
    etcd: Etcd,
    lease_id: i64,
    ttl: Duration,
    /// Time between keep-alives, and the bound of each attempt (TTL/3).
    interval: Duration,
    /// When the session is declared lost unless a keep-alive succeeds first.
    deadline: Instant,
    /// The open keep-alive stream; dropped after any failure so the next
    /// attempt starts a fresh one (a late answer must not be taken for the
    /// answer to a later request).
    keeper: Option<LeaseKeeper>,
    lost: CancellationToken,
    backoff: Backoff,
}

impl KeepAlive {
    async fn run(mut self, cancel: CancellationToken) {
        let lease = format!("{:x}", self.lease_id);
        let mut next = Instant::now() + self.interval;
        loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                _ = sleep_until(self.deadline) => break,
                _ = sleep_until(next) => {}
            }
            let sent = Instant::now();
            let outcome = tokio::select! {
                biased;
                _ = cancel.cancelled() => return,
                _ = sleep_until(self.deadline) => break,
                r = tokio::time::timeout(self.interval, self.refresh()) => r,
            };
            match outcome {
                Ok(Ok(ttl)) if ttl > 0 => {
                    let granted = Duration::from_secs(ttl.unsigned_abs());
                    self.deadline = safe_deadline(sent, granted);
                    self.backoff.reset();
                    next = sent + self.interval;
                }
                Ok(Ok(_)) => {
                    tracing::warn!(%lease, "lease expired or revoked, session lost");
                    self.lost.cancel();
                    return;
                }
                Ok(Err(error)) if error.is_lease_not_found() => {
                    tracing::warn!(%lease, "lease expired or revoked, session lost");
                    self.lost.cancel();
                    return;
                }
                Ok(Err(error)) => {
                    tracing::warn!(%lease, %error, "lease keep-alive failed, retrying");
                    next = Instant::now() + self.backoff.next_delay();
                }
                Err(_) => {
                    tracing::warn!(%lease, timeout = ?self.interval, "lease keep-alive timed out, retrying");
                    next = Instant::now() + self.backoff.next_delay();
                }
            }
        }
        tracing::warn!(
            %lease,
            ttl = ?self.ttl,
            "no keep-alive succeeded in time, session lost before the lease can expire"
        );
        self.lost.cancel();
    }

    /// One keep-alive on the open stream, opening one first if needed. The
    /// stream is only kept when the attempt completes successfully.
    async fn refresh(&mut self) -> Result<i64> {
        let mut keeper = match self.keeper.take() {
            Some(keeper) => keeper,
            None => self.etcd.lease_keeper(self.lease_id).await?,
        };
        let ttl = keeper.keep_alive_once().await?;
        self.keeper = Some(keeper);
        Ok(ttl)
    }
}
