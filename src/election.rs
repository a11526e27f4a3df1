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

mod candidates;
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
use crate::gojson::{DecodeError, Fields, ObjectWriter};
use crate::keys::KeySpace;

use candidates::{Candidates, Standing};
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

/// What this master currently knows about the leader.
#[derive(Debug, Clone)]
pub enum Leadership {
    /// No leader known: starting, between terms, or etcd out of reach.
    Unknown,
    /// This master leads, for the given term.
    Leader(Term),
    /// Another master leads.
    Follower(LeaderValue),
}

impl Leadership {
    pub fn is_leader(&self) -> bool {
        matches!(self, Leadership::Leader(_))
    }

    /// The term, when this master leads.
    pub fn term(&self) -> Option<&Term> {
        match self {
            Leadership::Leader(term) => Some(term),
            _ => None,
        }
    }

    /// Same state (terms compare by fence), so a re-publication does not wake
    /// receivers.
    fn same_as(&self, other: &Leadership) -> bool {
        match (self, other) {
            (Leadership::Unknown, Leadership::Unknown) => true,
            (Leadership::Leader(a), Leadership::Leader(b)) => a.fence == b.fence,
            (Leadership::Follower(a), Leadership::Follower(b)) => a == b,
            _ => false,
        }
    }
}

/// One won term.
#[derive(Debug, Clone)]
pub struct Term {
    /// The leader key and its create revision: leader-only writes compare it
    /// (`Etcd::txn_fenced`), so they fail once another member has won.
    pub fence: Fence,
    /// The session lease the leader key is attached to.
    pub lease_id: i64,
    /// Cancelled when this term ends (before `Unknown` is published);
    /// leader-only work runs under it. A child of the election's token.
    pub cancel: CancellationToken,
    /// Leader-only work of the term (the coordinators) is spawned here. When
    /// the election sees the term lost, it cancels `cancel` and waits for
    /// this work to stop before it reports the loss or campaigns again, so
    /// a deposed term's coordinators never overlap anything that follows.
    pub work: TaskTracker,
}

impl Term {
    /// The term's number for logs: the leader key's create revision.
    pub fn id(&self) -> i64 {
        self.fence.create_revision
    }
}

/// The way to the election actor.
#[derive(Debug, Clone)]
pub struct ElectionHandle {
    leadership: watch::Receiver<Leadership>,
    commands: mpsc::Sender<Command>,
    own: LeaderValue,
}

impl ElectionHandle {
    /// The leadership channel (always holds the latest state).
    pub fn leadership(&self) -> watch::Receiver<Leadership> {
        self.leadership.clone()
    }

    /// Gives up leadership now, so the next candidate takes over at once, and
    /// returns once the leader key is released. The actor then campaigns again
    /// (behind the others) unless it is shutting down. A no-op when this
    /// master does not lead, so calling it twice is harmless.
    pub async fn resign(&self) {
        let (reply, done) = oneshot::channel();
        if self.commands.send(Command::Resign(reply)).await.is_ok() {
            // An error only means the actor stopped: nothing left to resign.
            let _ = done.await;
        }
    }

    /// The current leader as last observed (ourselves when leading).
    pub async fn leader(&self) -> Option<LeaderValue> {
        match &*self.leadership.borrow() {
            Leadership::Leader(_) => Some(self.own.clone()),
            Leadership::Follower(value) => Some(value.clone()),
            Leadership::Unknown => None,
        }
    }

    pub fn is_leader(&self) -> bool {
        self.leadership.borrow().is_leader()
    }

    /// This master's own candidate value.
    pub fn own(&self) -> &LeaderValue {
        &self.own
    }
}

#[derive(Debug)]
enum Command {
    /// Resign if leading; answered once done.
    Resign(oneshot::Sender<()>),
}

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

/// etcd's campaign transaction: `If(CreateRevision(key) = 0) Then(Put(key,
/// value, lease)) Else(Get(key))`. Returns our key's create revision, or
/// `None` when the key changed between the two steps of a proclaim.
async fn put_candidate(etcd: &Etcd, key: &str, value: &[u8], lease_id: i64) -> Result<Option<i64>> {
    let txn = Txn::new("election campaign")
        .when([Compare::CreateRevision(key.as_bytes().to_vec(), 0)])
        .then([Op::put_with_lease(key, value, lease_id)])
        .otherwise([Op::get(key)]);
    let outcome = etcd.txn(txn).await?;
    if outcome.succeeded {
        return Ok(Some(outcome.revision));
    }
    // The key exists: an earlier attempt of this session landed although its
    // answer was lost. Keep its place in the queue.
    let Some(existing) = outcome.get_result(0).first() else {
        return Ok(None);
    };
    if existing.value == value {
        return Ok(Some(existing.create_revision));
    }
    // Proclaim our value on the key we already own (etcd's recipe does the same).
    let proclaim = Txn::new("election proclaim")
        .when([Compare::CreateRevision(
            key.as_bytes().to_vec(),
            existing.create_revision,
        )])
        .then([Op::put_with_lease(key, value, lease_id)]);
    let outcome = etcd.txn(proclaim).await?;
    Ok(outcome.succeeded.then_some(existing.create_revision))
}

/// Revokes a lease within [`CLOSE_TIMEOUT`]; a lease that no longer exists
/// counts as revoked.
async fn revoke(etcd: &Etcd, lease_id: i64) -> Result<()> {
    match tokio::time::timeout(CLOSE_TIMEOUT, etcd.lease_revoke(lease_id)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) if error.is_lease_not_found() => Ok(()),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(Error::EtcdTimeout {
            op: "lease revoke",
            timeout: CLOSE_TIMEOUT,
        }),
    }
}

/// A lease ID as it appears in candidate keys (lowercase hex).
fn hex(lease_id: i64) -> String {
    format!("{lease_id:x}")
}

/// A candidate's identity. JSON keys in order: `id`, `addr`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaderValue {
    /// The master's name.
    pub id: String,
    /// The address other masters forward requests to.
    pub addr: String,
}

impl LeaderValue {
    /// Decode a candidate key's value.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let f = Fields::parse(bytes, "CampaignerInfo")?;
        Ok(Self {
            id: f.str("id")?,
            addr: f.str("addr")?,
        })
    }

    /// Encode as Go does. Campaign compares this with the stored bytes to
    /// decide whether to proclaim, so it must be byte-exact.
    pub fn encode(&self) -> Vec<u8> {
        ObjectWriter::new()
            .str("id", &self.id)
            .str("addr", &self.addr)
            .finish()
    }
}

#[cfg(test)]
mod tests;
