//! Leader election among masters, on etcd's election recipe
//! (`client/v3/concurrency`, as DM's `dm/pkg/election` uses it), built from
//! plain kv, watch and lease calls.
//!
//! Each master runs one [`Election`] actor. It holds a *session* (a lease
//! kept alive every TTL/3, see `session`), puts its *candidate key*
//! `/dm-master/leader/<lease id in hex>` = `{"id":…,"addr":…}` under that
//! lease, and watches the whole prefix. The candidate with the smallest
//! create revision leads; everyone else is queued behind it in create-revision
//! order and publishes it as the leader it follows.
//!
//! The outcome is published on a `watch` channel as [`Leadership`] (always
//! the latest value, never dropped). A won term is a [`Term`]: the leader key
//! and its create revision (the [`Fence`] every coordinator write compares)
//! and a token that is cancelled when the term ends.
//!
//! **Invariants:**
//! - A term ends (token cancelled, then `Unknown` published) when our key is
//!   deleted, when the session is lost, on [`ElectionHandle::resign`] and on
//!   shutdown. The session counts as lost *before* the lease can have expired
//!   on the server, so a term ends before another member can win the next
//!   one; fencing covers writes already in flight.
//! - After a term ends its session is closed (key deleted, lease revoked) and
//!   the actor campaigns again with a new session, so it queues behind the
//!   member that took over.
//! - etcd errors never end the actor: they are logged (`term`, `lease`,
//!   `key`) and retried with bounded backoff until shutdown.
//!
//! Where we differ from DM (docs/dm-gaps.md#election-e, docs/protocol.md#election):
//! - Followers keep their candidate key across leader changes and stay in the
//!   queue (DM deletes and re-creates it after each change, DM gap E2 in docs/dm-gaps.md), so the
//!   succession order is stable.
//! - Leadership is a `watch` channel: the latest state is always there; DM's
//!   notification can be dropped after 10 minutes (DM gap E3).
//! - `resign` when not leading, or twice, is a no-op (DM gap E4).
//! - Each term carries a fence (DM gap E1), and the lease is given up a safety
//!   margin before it can expire on the server, not after (see `session`).
//! - The first session is retried until shutdown, like every later one (DM
//!   fails the master's start after 3 attempts).
//! - No `observe` stream: the prefix watch tells followers about every leader
//!   change, including the time when there is no leader at all.
//! - Keys of an earlier session whose revoke did not get through are revoked
//!   before campaigning again, instead of DM's delete-by-`id` scan
//!   (`ClearSessionIfNeeded`): the key names the lease, so we know which
//!   keys are ours.

mod campaign;
mod candidates;
mod leadership;
mod session;

use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::{Error, Result};
use crate::etcd::retry::Backoff;
use crate::etcd::watch::{WatchEvent, Watcher};
use crate::etcd::{Compare, Etcd, Fence, Op, Txn};
use crate::keys::KeySpace;

pub use campaign::LeaderValue;
use campaign::{hex, put_candidate, revoke};
use candidates::{Candidates, Standing};
use leadership::Command;
pub use leadership::{ElectionHandle, Leadership, Term};
use session::Session;

/// How long each request of a clean-up (resign, revoke) may take: a dead etcd
/// must not hold up a shutdown; a lease we fail to revoke expires on its own
/// and is revoked again before the next campaign.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the election waits for a lost term's coordinators to stop
/// before reporting the loss anyway.
const TERM_WORK_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Capacity of the prefix watcher's event channel.
const EVENT_CAPACITY: usize = 64;

/// Why a session ended.
enum End {
    Shutdown,
    /// The lease is gone or no longer trusted.
    SessionLost,
    /// Our leader key disappeared while we led.
    KeyLost,
    /// We resigned; the requester waits for the session to be closed.
    Resigned(oneshot::Sender<()>),
}

/// The election actor of one master.
pub struct Election {
    etcd: Etcd,
    space: KeySpace,
    own: LeaderValue,
    /// `own` encoded exactly as Go does: the campaign compares stored bytes.
    encoded: Vec<u8>,
    ttl: Duration,
    tracker: TaskTracker,
    leadership: watch::Sender<Leadership>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Receiver<WatchEvent>,
    candidates: Candidates,
    /// Leases of closed sessions whose revoke did not get through. Their keys
    /// would queue ahead of our next one, so they are revoked before we
    /// campaign again.
    stale_leases: Vec<i64>,
    backoff: Backoff,
}

impl Election {
    /// Starts the election actor (and its prefix watcher) under `cancel`,
    /// tracked by `tracker`. `ttl` is the session lease TTL (etcd raises it to
    /// its floor, 2 s on 3.4). On `cancel` the actor releases its key and
    /// lease before it ends.
    pub fn spawn(
        etcd: Etcd,
        space: KeySpace,
        id: String,
        addr: String,
        ttl: Duration,
        tracker: &TaskTracker,
        cancel: CancellationToken,
    ) -> ElectionHandle {
        let own = LeaderValue { id, addr };
        let (leadership_tx, leadership_rx) = watch::channel(Leadership::Unknown);
        let (commands_tx, commands_rx) = mpsc::channel(8);
        let (events_tx, events_rx) = mpsc::channel(EVENT_CAPACITY);
        tracker.spawn(
            Watcher::new(etcd.clone(), space.leader_prefix()).run(events_tx, cancel.clone()),
        );
        let actor = Election {
            etcd,
            space,
            encoded: own.encode(),
            own: own.clone(),
            ttl,
            tracker: tracker.clone(),
            leadership: leadership_tx,
            commands: commands_rx,
            events: events_rx,
            candidates: Candidates::default(),
            stale_leases: Vec::new(),
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(2)),
        };
        tracker.spawn(actor.run(cancel));
        ElectionHandle {
            leadership: leadership_rx,
            commands: commands_tx,
            own,
        }
    }

    #[tracing::instrument(skip_all, fields(id = %self.own.id))]
    async fn run(mut self, cancel: CancellationToken) {
        loop {
            let Some(session) = self.open_session(&cancel).await else {
                break;
            };
            let end = self.serve(&session, &cancel).await;
            // Followers too: without a session we cannot vouch for any leader.
            self.publish(Leadership::Unknown);
            self.close_session(session).await;
            match end {
                End::Shutdown => break,
                End::Resigned(reply) => {
                    let _ = reply.send(());
                }
                End::SessionLost | End::KeyLost => {}
            }
            if cancel.is_cancelled() {
                break;
            }
        }
        self.publish(Leadership::Unknown);
        // Last chance for leases we could not revoke earlier (their keys
        // would otherwise wait out their TTL in the queue).
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.revoke_stale()).await;
        tracing::info!("election stopped");
    }

    /// Grants a new session lease, retrying until it works or shutdown.
    async fn open_session(&mut self, cancel: &CancellationToken) -> Option<Session> {
        // Whole seconds, rounded up: etcd leases are granted in seconds.
        let secs = self.ttl.as_secs() + u64::from(self.ttl.subsec_nanos() > 0);
        let ttl_secs = i64::try_from(secs).unwrap_or(i64::MAX).max(1);
        loop {
            let requested_at = Instant::now();
            // The session's safety deadline counts from when the grant was
            // *sent*: a grant that sat in a dead connection for most of a TTL
            // would be lost on arrival, so such an attempt is abandoned (the
            // lease, if etcd made one, has no key and expires on its own).
            let grant_timeout = self.ttl / 3;
            let granted = tokio::select! {
                biased;
                _ = cancel.cancelled() => return None,
                r = tokio::time::timeout(grant_timeout, self.etcd.lease_grant_ttl(ttl_secs)) => {
                    r.unwrap_or(Err(Error::EtcdTimeout { op: "lease grant", timeout: grant_timeout }))
                }
            };
            match granted {
                Ok(lease) => {
                    self.backoff.reset();
                    tracing::info!(lease = %hex(lease.id), ttl = lease.ttl_secs, "election session created");
                    return Some(Session::start(
                        self.etcd.clone(),
                        lease,
                        requested_at,
                        &self.tracker,
                        cancel,
                    ));
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot create an election session, retrying");
                    let delay = self.backoff.next_delay();
                    if self.idle(delay, None, cancel).await.is_err() {
                        return None;
                    }
                }
            }
        }
    }

    /// Campaigns with `session` and follows the queue until the session ends.
    async fn serve(&mut self, session: &Session, cancel: &CancellationToken) -> End {
        let key = self.space.leader_key(session.lease_id);
        let lease = hex(session.lease_id);
        'campaign: loop {
            let my_rev = match self.campaign(session, &key, cancel).await {
                Ok(rev) => rev,
                Err(end) => return end,
            };
            tracing::info!(%lease, %key, revision = my_rev, "campaigning");
            let mut term: Option<Term> = None;
            loop {
                match self.candidates.standing(key.as_bytes(), my_rev) {
                    Standing::Behind => {}
                    Standing::Leader => {
                        if term.is_none() {
                            let won = Term {
                                fence: Fence {
                                    key: key.clone().into_bytes(),
                                    create_revision: my_rev,
                                },
                                lease_id: session.lease_id,
                                cancel: cancel.child_token(),
                                work: TaskTracker::new(),
                            };
                            tracing::info!(term = my_rev, %lease, %key, "elected leader");
                            self.publish(Leadership::Leader(won.clone()));
                            term = Some(won);
                        }
                    }
                    Standing::Gone => match term.take() {
                        Some(lost) => {
                            Self::stop_term_work(&lost).await;
                            tracing::warn!(term = lost.id(), %lease, %key, "leader key deleted, term ends");
                            self.retire(lost, false).await;
                            return End::KeyLost;
                        }
                        None => {
                            tracing::warn!(%lease, %key, "candidate key deleted, campaigning again");
                            continue 'campaign;
                        }
                    },
                    Standing::Follower(first) => {
                        // Cannot happen to a leader (create revisions only
                        // grow); if a resync ever said so, stop leading.
                        if let Some(lost) = term.take() {
                            Self::stop_term_work(&lost).await;
                            tracing::error!(term = lost.id(), %lease, %key, "another key precedes ours, term ends");
                            self.retire(lost, true).await;
                            return End::KeyLost;
                        }
                        let next = match LeaderValue::decode(&first.value) {
                            Ok(value) => Leadership::Follower(value),
                            Err(error) => {
                                tracing::error!(key = %first.key_str(), %error, "leader value does not decode");
                                Leadership::Unknown
                            }
                        };
                        if let Leadership::Follower(value) = &next {
                            if self.publish(next.clone()) {
                                tracing::info!(%lease, %key, leader = %value.id, leader_key = %first.key_str(), "following leader");
                            }
                        } else {
                            self.publish(next);
                        }
                    }
                }
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => {
                        if let Some(ended) = term.take() {
                            tracing::info!(term = ended.id(), %lease, %key, "shutting down, resigning");
                            self.retire(ended, true).await;
                        }
                        return End::Shutdown;
                    }
                    _ = session.lost() => {
                        if let Some(lost) = term.take() {
                            Self::stop_term_work(&lost).await;
                            tracing::warn!(term = lost.id(), %lease, %key, "session lost, term ends");
                            self.retire(lost, false).await;
                        }
                        return End::SessionLost;
                    }
                    Some(command) = self.commands.recv() => match command {
                        Command::Resign(reply) => match term.take() {
                            Some(ended) => {
                                tracing::info!(term = ended.id(), %lease, %key, "resigning");
                                self.retire(ended, true).await;
                                return End::Resigned(reply);
                            }
                            None => {
                                let _ = reply.send(());
                            }
                        },
                    },
                    Some(event) = self.events.recv() => self.candidates.apply(event),
                }
            }
        }
    }

    /// Puts our candidate key (or finds it from an earlier attempt whose
    /// answer was lost) and returns its create revision; retries until it
    /// works, the session is lost, or shutdown.
    async fn campaign(
        &mut self,
        session: &Session,
        key: &str,
        cancel: &CancellationToken,
    ) -> std::result::Result<i64, End> {
        loop {
            let attempt = async {
                // Keys of our earlier sessions would queue ahead of this one.
                self.revoke_stale().await?;
                put_candidate(&self.etcd, key, &self.encoded, session.lease_id).await
            };
            let result = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(End::Shutdown),
                _ = session.lost() => return Err(End::SessionLost),
                r = attempt => r,
            };
            match result {
                Ok(Some(revision)) => {
                    self.backoff.reset();
                    return Ok(revision);
                }
                // The key changed under us between compare and proclaim.
                Ok(None) => {}
                Err(error) if error.is_lease_not_found() => {
                    tracing::warn!(lease = %hex(session.lease_id), %key, "session lease is gone, campaign abandoned");
                    return Err(End::SessionLost);
                }
                Err(error) => {
                    tracing::warn!(lease = %hex(session.lease_id), %key, %error, "campaign failed, retrying");
                    let delay = self.backoff.next_delay();
                    self.idle(delay, Some(session), cancel).await?;
                }
            }
        }
    }

    /// Waits `delay` while answering commands (nothing to resign) and keeping
    /// the candidate view current.
    async fn idle(
        &mut self,
        delay: Duration,
        session: Option<&Session>,
        cancel: &CancellationToken,
    ) -> std::result::Result<(), End> {
        let wake = tokio::time::sleep(delay);
        tokio::pin!(wake);
        let lost = async {
            match session {
                Some(session) => session.lost().await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(lost);
        loop {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(End::Shutdown),
                _ = &mut lost => return Err(End::SessionLost),
                _ = &mut wake => return Ok(()),
                Some(Command::Resign(reply)) = self.commands.recv() => {
                    let _ = reply.send(());
                }
                Some(event) = self.events.recv() => self.candidates.apply(event),
            }
        }
    }

    /// Cancels the term's token and waits (bounded) until its leader-only
    /// work has stopped. Coordinators stop on the token at their next event,
    /// so this is short unless one is inside a slow etcd call.
    async fn stop_term_work(term: &Term) {
        term.cancel.cancel();
        term.work.close();
        if tokio::time::timeout(TERM_WORK_STOP_TIMEOUT, term.work.wait())
            .await
            .is_err()
        {
            tracing::warn!(term = term.id(), timeout = ?TERM_WORK_STOP_TIMEOUT, "leader work of the term still stopping; going on");
        }
    }

    /// Ends a term: stop the leader's work first (token), then tell everyone
    /// (`Unknown`), then, when `release`, delete the leader key (guarded by
    /// its create revision) so the next candidate takes over at once.
    async fn retire(&mut self, term: Term, release: bool) {
        Self::stop_term_work(&term).await;
        self.publish(Leadership::Unknown);
        if !release {
            return;
        }
        let key = String::from_utf8_lossy(&term.fence.key).into_owned();
        let txn = Txn::new("election resign")
            .when([Compare::CreateRevision(
                term.fence.key.clone(),
                term.fence.create_revision,
            )])
            .then([Op::delete(term.fence.key.clone())]);
        match tokio::time::timeout(CLOSE_TIMEOUT, self.etcd.txn(txn)).await {
            Ok(Ok(_)) => {
                tracing::info!(term = term.id(), lease = %hex(term.lease_id), %key, "leader key released");
            }
            Ok(Err(error)) => {
                tracing::warn!(term = term.id(), lease = %hex(term.lease_id), %key, %error, "releasing the leader key failed; revoking the lease instead");
            }
            Err(_) => {
                tracing::warn!(term = term.id(), lease = %hex(term.lease_id), %key, "releasing the leader key timed out; revoking the lease instead");
            }
        }
    }

    /// Stops the keep-alive and revokes the lease (deleting our key). A lease
    /// that cannot be revoked now is remembered and revoked before the next
    /// campaign.
    async fn close_session(&mut self, session: Session) {
        let lease_id = session.lease_id;
        drop(session);
        if let Err(error) = revoke(&self.etcd, lease_id).await {
            tracing::warn!(lease = %hex(lease_id), %error, "revoking the session lease failed, will retry");
            self.stale_leases.push(lease_id);
        }
    }

    /// Revokes every stale lease; stops at the first failure.
    async fn revoke_stale(&mut self) -> Result<()> {
        while let Some(&lease_id) = self.stale_leases.last() {
            revoke(&self.etcd, lease_id).await?;
            tracing::info!(lease = %hex(lease_id), "stale session lease revoked");
            self.stale_leases.pop();
        }
        Ok(())
    }

    /// Publishes `next` unless it is the current state; returns whether it
    /// changed.
    fn publish(&self, next: Leadership) -> bool {
        self.leadership.send_if_modified(|current| {
            if current.same_as(&next) {
                false
            } else {
                *current = next;
                true
            }
        })
    }
}

#[cfg(test)]
mod tests;
