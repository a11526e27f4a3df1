//! The pessimistic coordinator (DM's `Pessimist`) as one actor.
//!
//! The actor owns the [`LockKeeper`], the task registry, its view of the
//! pessimism keys and the unlocks in progress. Its inputs are one closed
//! `Event` enum, handled one at a time:
//! * `ShardDdl`: one watcher over the common prefix
//!   `/dm-master/shardddl-pessimism/`, so Infos and Operations arrive in a
//!   single revision order. Before the loop the prefix is read at one
//!   revision, a page at a time, decoded while etcd reads the next page,
//!   and every lock is rebuilt from it; the watch starts at the next
//!   revision. A watch that is lost resyncs with a snapshot (`Resynced`),
//!   from which every lock is rebuilt again;
//! * `Subtasks`: one watcher over the subtask configs
//!   (`/dm-master/upstream/subtask/`), read (at the same time as the
//!   pessimism keys) before the first rebuild so task sources are known; a
//!   source leaving a task re-evaluates its locks;
//! * `Admin`: show, unlock, remove-meta, each with a oneshot reply. An
//!   unlock is held as `Unlocking` state, advanced by later events and
//!   ticks, and answered through its stored reply. The operator requests
//!   (not DM's) answer at once: lock details for the lock page, the unlock
//!   preview (the unlock planner on a scratch lock), and inject (an Info
//!   written for a source that will never report it, see
//!   [`crate::pessimism::operator`]);
//! * `Tick`: re-answers locks whose last write failed on a retryable error,
//!   times unlocks out, refreshes the lock gauges;
//! * `TermEnd`: the term's token was cancelled.
//!
//! **Invariants:** done is final until a new Info (every answer is a
//! guarded put; a done landing after its lock was resolved is deleted; a
//! delayed duplicate Info of a resolved lock is held, not answered). A write
//! refused by the leader fence ([`Error::ends_term`]) ends the loop, which
//! cancels the term's token at once.
//!
//! Deliberate differences from DM (docs/dm-gaps.md#pessimistic-shard-ddl-p): a malformed value is
//! reported and skipped instead of stopping the loop (DM gap P5 in docs/dm-gaps.md); rebuild goes
//! on past a mismatch (DM gap P6); orphan `done` Operations are deleted on rebuild
//! and as they land (DM gap P7); an Info of an unknown task is reported and kept
//! until the task appears (DM gap P10); writes are fenced by the leader key when
//! a fence is given (DM gap P13); failed answers are retried on a timer instead
//! of waiting for the next Info PUT; a lock stops waiting for a source whose
//! subtask config was deleted (DM waits for a manual unlock).
//!
//! Files: this one holds the actor, its event loop and the Info/Operation
//! handling; `admin` the handle and request dispatch; `writes` the write
//! pipeline; `rebuild` the snapshot rebuild; `registry` subtask configs;
//! `unlock` the held unlock; `inject` the operator requests.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use indexmap::{IndexMap, IndexSet};
use tokio::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{start_actor, unless_term_ends, ActorContext, CHANNEL_CAPACITY};
use crate::error::{Error, Result};
use crate::etcd::watch::{WatchEvent, Watcher};
use crate::etcd::{Compare, Etcd, Fence, KeyValue, Op, Txn};
use crate::keys::{KeyError, KeySpace, PESSIMISM_INFO, PESSIMISM_OPERATION, UPSTREAM_SUBTASK};
use crate::metrics::{self, Metrics};
use crate::pessimism::info::Info;
use crate::pessimism::keeper::{
    locks_to_answer_first, rebuild, unlock_result, DoneDecision, InfoRecord, InfosPerLock,
    LockAction, LockKeeper, LockView, OperationRecord, OpsToPut, PessimismError, RebuildIssue,
    RebuildPlan, TrySyncOutcome, UnlockPlan,
};
use crate::pessimism::lock::{StateChange, SyncState};
use crate::pessimism::operation::Operation;
use crate::pessimism::operator::{self, InjectContext, InjectRequest, UnlockPreview};
use crate::pessimism::ops::{self, SeenOperation};
use crate::task::{RegistryChange, ShardMode, TaskRegistry};

/// How often locks whose answer failed are answered again.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// How long an unlock waits for the owner, then for the non-owners (DM
/// polls ten times a second apart).
const UNLOCK_WAIT: Duration = Duration::from_secs(10);

/// Mode label used for metrics bookkeeping.
const MODE: &str = ShardMode::Pessimistic.as_str();

mod admin;
mod inject;
mod rebuild;
mod registry;
mod unlock;
mod writes;

pub use admin::PessimistHandle;
use admin::{not_started, Request};
pub use inject::LockDetail;
use rebuild::read_snapshot_keys;
use registry::read_registry;
pub use unlock::UnlockWrites;
use unlock::Unlocking;
use writes::{action_lock, TaskWrites, WriteDone};

/// Every input of the actor: a closed set, handled one at a time, so all
/// state (locks, unlocks in progress, retries) changes in one place.
enum Event {
    /// Infos and Operations in one revision order; the first is a snapshot.
    ShardDdl(WatchEvent),
    /// Subtask configs: which sources each task has; the changes of one
    /// revision together (a stop-task removes several at once).
    Subtasks(Vec<WatchEvent>),
    Admin(Request),
    /// Re-answers locks whose write failed, times unlocks out, refreshes
    /// the lock gauges.
    Tick,
    /// A background write of a lock's answer ended (see [`Pessimist::pipeline`]).
    Written(std::result::Result<(tokio::task::Id, WriteDone), JoinError>),
    /// The term's token was cancelled: stop, dropping pending replies
    /// (their callers see `NotStarted`).
    TermEnd,
}

/// The last value seen of an Info or Operation key.
#[derive(Debug, Clone)]
struct Stored<T> {
    value: T,
    mod_revision: i64,
}

/// A pessimism key's kind and `[task, source]`.
enum PessimismKey {
    Info([String; 2]),
    Operation([String; 2]),
}

impl PessimismKey {
    /// The key's kind and parts, or why it is neither an Info's nor an
    /// Operation's key. The kind is told by the Operation path first, so an
    /// Operation's key is not first decoded, and its error built, as an
    /// Info's.
    fn decode(space: &KeySpace, key: &[u8]) -> std::result::Result<PessimismKey, KeyError> {
        if space.holds(&PESSIMISM_OPERATION, key) {
            space
                .decode(&PESSIMISM_OPERATION, key)
                .map(PessimismKey::Operation)
        } else {
            // An Info's key, or one under neither path: the Info decoder's
            // error then says why.
            space.decode(&PESSIMISM_INFO, key).map(PessimismKey::Info)
        }
    }

    fn task(&self) -> &str {
        match self {
            PessimismKey::Info([task, _]) | PessimismKey::Operation([task, _]) => task,
        }
    }
}

/// The actor.
pub struct Pessimist {
    /// etcd, key space, the term's leader fence (every write compares it)
    /// and metrics.
    ctx: ActorContext,
    registry: TaskRegistry,
    keeper: LockKeeper,
    /// The stored Infos. Right after a rebuild they are in the snapshot's
    /// key order, which the rebuild takes them in; later puts and deletes
    /// change that order, which nothing reads.
    infos: IndexMap<(String, String), Stored<Info>>,
    /// `(task, source)` whose stored Info carries the injected marker.
    injected: BTreeSet<(String, String)>,
    operations: HashMap<(String, String), Stored<Operation>>,
    /// Locks whose last answer failed with a retryable error.
    retry: BTreeSet<String>,
    /// Per task: (un-synced, synced) lock counts, kept from state changes.
    state_counts: BTreeMap<String, (usize, usize)>,
    /// When this actor first saw each lock (for the age gauge).
    first_seen: HashMap<String, std::time::Instant>,
    /// Whether the first rebuild has been done (it precedes every event:
    /// the watch starts after the keys it was built from).
    rebuilt: bool,
    /// Unlocks in progress, by lock ID.
    unlocking: BTreeMap<String, Unlocking>,
    /// Whether answers decided now are written in the background. True
    /// while a watch event of the pessimism keys is handled with no unlock
    /// in progress: writes of different tasks then overlap (etcd pipelines
    /// them on one connection), while a task's own events wait in
    /// `writing` until its write has ended, so per task everything happens
    /// in the order it would if each write were awaited. Every other event
    /// first waits for all writes (`settle_writes`).
    pipeline: bool,
    writes: JoinSet<WriteDone>,
    /// Task and lock of each background write (to recover from a write
    /// task that panicked).
    write_ids: HashMap<tokio::task::Id, (String, String)>,
    writing: HashMap<String, TaskWrites>,
}

/// How a cold start rebuilds: from the whole snapshot once every subtask
/// config is read, or after a first pass that answered the locks synced
/// by their tasks' config keys (see [`Pessimist::rebuild_from`]).
enum ColdStart {
    Whole(rebuild::SnapshotKeys),
    AnsweredFirst {
        rest: Result<rebuild::RestOfRebuild>,
        /// The tasks whose configs the first pass read.
        tasks: BTreeSet<String>,
        /// The revision of the config keys, at which every config is read.
        revision: i64,
    },
}

impl Pessimist {
    /// Starts the actor and its watchers under `cancel`, tracked by `tracker`.
    pub fn spawn(
        ctx: ActorContext,
        tracker: &TaskTracker,
        cancel: CancellationToken,
    ) -> PessimistHandle {
        let actor = Pessimist {
            ctx,
            registry: TaskRegistry::new(),
            keeper: LockKeeper::new(),
            infos: IndexMap::new(),
            injected: BTreeSet::new(),
            operations: HashMap::new(),
            retry: BTreeSet::new(),
            state_counts: BTreeMap::new(),
            first_seen: HashMap::new(),
            rebuilt: false,
            unlocking: BTreeMap::new(),
            pipeline: false,
            writes: JoinSet::new(),
            write_ids: HashMap::new(),
            writing: HashMap::new(),
        };
        let mailbox = start_actor(
            "pessimist",
            tracker,
            cancel,
            not_started,
            |requests, tracker, cancel| actor.run(requests, tracker, cancel),
        );
        PessimistHandle { mailbox }
    }

    #[tracing::instrument(skip_all, fields(mode = MODE))]
    async fn run(
        mut self,
        mut requests: mpsc::Receiver<Request>,
        tracker: TaskTracker,
        cancel: CancellationToken,
    ) -> Result<()> {
        // Task sources must be known before a lock is rebuilt (DM starts its
        // scheduler before the pessimist for the same reason). A cold start
        // reads, at once, the pessimism keys (a page at a time, decoded
        // while etcd reads the next page, on blocking threads: see
        // `Etcd::get_prefix_folded`; 100,000 locks' raw keys and configs
        // are hundreds of MB that are never held at once) and the subtask
        // configs' keys without their values. Those tell which locks may be
        // synced; their tasks' configs are read one by one, and those locks
        // are rebuilt and answered (the rebuild's first pass) before every
        // config is read at the keys' revision for the second pass.
        // The pessimism keys come on a connection of their own, so the two
        // large reads do not share one HTTP/2 connection; the configs' keys
        // are requested while that connection is made.
        let (etcd, space, metrics) = (
            self.ctx.etcd.clone(),
            self.ctx.space.clone(),
            self.ctx.metrics.clone(),
        );
        let keys_cancel = cancel.clone();
        let keys_read = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(
            tracing::Instrument::in_current_span(async move {
                let keys_etcd = match etcd.separate_connection().await {
                    Ok(separate) => separate,
                    Err(error) => {
                        tracing::warn!(%error, "no separate connection for the pessimism keys, sharing the main one");
                        etcd
                    }
                };
                read_snapshot_keys(keys_etcd, space, metrics, keys_cancel).await
            }),
        ));
        let subtask_prefix = self.ctx.space.path(&UPSTREAM_SUBTASK);
        let reading = std::time::Instant::now();
        // First the configs' keys only (etcd does not send the values): with
        // them and the pessimism keys, the synced locks are known, and
        // reading just their tasks' configs lets them be answered before
        // every config has been read.
        let config_keys = async {
            tokio::select! {
                biased;
                _ = cancel.cancelled() => None,
                read = self.ctx.etcd.get_prefix_keys(&subtask_prefix) => Some(read),
            }
        };
        let (config_keys, keys) = tokio::join!(config_keys, keys_read);
        let Some(config_keys) = config_keys else {
            return Ok(());
        };
        let keys = match keys {
            Ok(keys) => keys,
            Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
            // Aborted only by dropping the handle, which has not happened.
            Err(_) => None,
        };
        let Some((keys, keys_revision)) = keys else {
            return Ok(());
        };
        let (pess_tx, mut pess_rx) = mpsc::channel(CHANNEL_CAPACITY);
        tracker.spawn(
            Watcher::after(
                self.ctx.etcd.clone(),
                ops::pessimism_prefix(&self.ctx.space),
                keys_revision,
            )
            .run(pess_tx, cancel.clone()),
        );
        let task_keys = match config_keys {
            Ok(read) => rebuild::TaskKeys::from_keys(&self.ctx.space, read.value, read.revision),
            Err(error) => {
                tracing::warn!(%error, "reading the subtask config keys failed; reading every config first");
                None
            }
        };
        // The keys are dropped once these reads are done: at 100,000 tasks
        // they are tens of MB. With no lock to answer first, the rebuild
        // is one pass once every config is read.
        let early = match task_keys {
            Some(task_keys) => {
                let tasks = keys.tasks_answered_first(&task_keys);
                if tasks.is_empty() {
                    None
                } else {
                    rebuild::read_configs_of(&self.ctx.etcd, &self.ctx.space, &tasks, &task_keys)
                        .await
                        .map(|registry| (registry, tasks, task_keys.revision))
                }
            }
            None => None,
        };
        tracing::info!(
            revision = keys_revision,
            infos = keys.infos.len(),
            operations = keys.operations.len(),
            answered_first = early.as_ref().map_or(0, |(_, tasks, _)| tasks.len()),
            read_ms = reading.elapsed().as_millis(),
            "pessimism keys read"
        );
        let cold_start = match early {
            Some((registry, tasks, revision)) => {
                self.registry = registry;
                ColdStart::AnsweredFirst {
                    rest: self.rebuild_first_pass(keys, keys_revision).await,
                    tasks,
                    revision,
                }
            }
            None => ColdStart::Whole(keys),
        };
        let pinned = match &cold_start {
            ColdStart::AnsweredFirst { revision, .. } => Some(*revision),
            ColdStart::Whole(_) => None,
        };
        let registry = read_registry(
            &self.ctx.etcd,
            &self.ctx.space,
            &self.ctx.metrics,
            &cancel,
            pinned,
        )
        .await;
        let Some((registry, subtask_revision)) = registry else {
            return Ok(());
        };
        let partial = std::mem::replace(&mut self.registry, registry);
        tracing::info!(
            revision = subtask_revision,
            tasks = self.registry.tasks().count(),
            read_ms = reading.elapsed().as_millis(),
            "subtask configs read"
        );
        let (sub_tx, mut sub_rx) = mpsc::channel(CHANNEL_CAPACITY);
        tracker.spawn(
            Watcher::after(self.ctx.etcd.clone(), subtask_prefix, subtask_revision)
                .run_by_revision(sub_tx, cancel.clone()),
        );
        let rebuilt = match cold_start {
            ColdStart::Whole(keys) => self.rebuild_from(keys, keys_revision).await,
            ColdStart::AnsweredFirst {
                rest,
                tasks,
                revision,
            } => {
                let same_revision = revision == subtask_revision;
                self.rebuild_after_first_pass(rest, &partial, &tasks, same_revision)
                    .await
            }
        };
        unless_term_ends("pessimist", "rebuild", rebuilt)?;
        let mut retry_tick = tokio::time::interval(RETRY_INTERVAL);
        retry_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

        loop {
            let event = tokio::select! {
                biased;
                _ = cancel.cancelled() => Event::TermEnd,
                Some(w) = self.writes.join_next_with_id(), if !self.writes.is_empty() => Event::Written(w),
                Some(e) = pess_rx.recv() => Event::ShardDdl(e),
                Some(e) = sub_rx.recv() => Event::Subtasks(e),
                Some(r) = requests.recv() => Event::Admin(r),
                _ = retry_tick.tick() => Event::Tick,
                else => Event::TermEnd,
            };
            if matches!(event, Event::TermEnd) {
                break;
            }
            let result = self.handle(event).await;
            unless_term_ends("pessimist", "event", result)?;
        }
        tracing::info!("pessimist stopped");
        Ok(())
    }

    async fn handle(&mut self, event: Event) -> Result<()> {
        match event {
            Event::ShardDdl(e) => {
                let key = self.event_key(&e);
                if self.unlocking.is_empty() {
                    if let Some(key) = key {
                        if let Some(busy) = self.writing.get_mut(key.task()) {
                            busy.queue.push_back((e, key));
                            return Ok(());
                        }
                        self.pipeline = true;
                        let result = self.on_keyed_event(e, Some(key)).await;
                        self.pipeline = false;
                        return result;
                    }
                }
                self.settle_writes().await?;
                self.on_keyed_event(e, key).await?;
                self.advance_unlocks().await
            }
            Event::Written(joined) => {
                self.pipeline = self.unlocking.is_empty();
                let result = self.on_written(joined).await;
                self.pipeline = false;
                result
            }
            Event::Subtasks(e) => {
                self.settle_writes().await?;
                self.on_subtask_events(e).await
            }
            Event::Admin(r) => {
                self.settle_writes().await?;
                self.on_request(r).await
            }
            Event::Tick => {
                self.settle_writes().await?;
                self.on_retry_tick().await?;
                self.advance_unlocks().await
            }
            Event::TermEnd => Ok(()),
        }
    }

    /// What an event's key names (`None` for a snapshot or a key that does
    /// not decode), decoded once for both the routing and the handling.
    fn event_key(&self, event: &WatchEvent) -> Option<PessimismKey> {
        let key = match event {
            WatchEvent::Put(kv) => &kv.key,
            WatchEvent::Delete { key, .. } => key,
            WatchEvent::Resynced(_) => return None,
        };
        PessimismKey::decode(&self.ctx.space, key).ok()
    }

    /// Handles a watch event whose key [`Pessimist::event_key`] decoded.
    async fn on_keyed_event(&mut self, event: WatchEvent, key: Option<PessimismKey>) -> Result<()> {
        match (event, key) {
            (WatchEvent::Resynced(snapshot), _) => {
                self.on_snapshot(snapshot.value, snapshot.revision).await
            }
            (WatchEvent::Put(kv), Some(PessimismKey::Info([task, source]))) => {
                let Some(info) = self.decode_info(&kv, &task, &source) else {
                    return Ok(());
                };
                self.mark_injected(&task, &source, &kv.value);
                self.infos.insert(
                    (task, source),
                    Stored {
                        value: info.clone(),
                        mod_revision: kv.mod_revision,
                    },
                );
                self.on_info(&info).await
            }
            (WatchEvent::Put(kv), Some(PessimismKey::Operation([task, source]))) => {
                let Some(op) = self.decode_operation(&kv, &task, &source) else {
                    return Ok(());
                };
                self.operations.insert(
                    (task, source),
                    Stored {
                        value: op.clone(),
                        mod_revision: kv.mod_revision,
                    },
                );
                self.on_operation(&op).await
            }
            (WatchEvent::Put(kv), None) => {
                self.report_bad_key(&kv.key);
                Ok(())
            }
            (WatchEvent::Delete { .. }, Some(PessimismKey::Info([task, source]))) => {
                self.injected.remove(&(task.clone(), source.clone()));
                self.infos.swap_remove(&(task, source));
                Ok(())
            }
            (WatchEvent::Delete { .. }, Some(PessimismKey::Operation([task, source]))) => {
                self.operations.remove(&(task, source));
                Ok(())
            }
            (WatchEvent::Delete { .. }, None) => Ok(()),
        }
    }

    async fn on_info(&mut self, info: &Info) -> Result<()> {
        let lock_id = info.lock_id();
        let sources = self.registry.sources(&info.task);
        let ddls = info.ddls.clone().unwrap_or_default();
        let mut decision = self
            .keeper
            .on_info(&lock_id, &info.task, &info.source, &ddls, &sources);
        if let Some(change) = decision.outcome.change() {
            self.apply_change(change);
        }
        if self.settle_injected(&lock_id) {
            // The lock resolved when its injected sources became done.
            decision.action = self.keeper.handle_lock(&lock_id, None);
        }
        match &decision.outcome {
            TrySyncOutcome::Progress {
                synced,
                remain,
                created,
                ..
            } => {
                tracing::info!(task = %info.task, source = %info.source, %lock_id, synced, remain, created, "info applied to lock");
            }
            TrySyncOutcome::Mismatch(error) => {
                tracing::error!(task = %info.task, source = %info.source, %lock_id, %error, "info does not match its lock");
                self.ctx
                    .metrics
                    .report_ddl_error(&info.task, metrics::ERR_INFO_PUT_SYNC_LOCK);
            }
            TrySyncOutcome::UnknownTask => {
                tracing::error!(task = %info.task, source = %info.source, %lock_id, "info of a task with no subtask config; waiting for the task to be started");
                self.ctx
                    .metrics
                    .report_ddl_error(&info.task, metrics::ERR_UNKNOWN_TASK);
            }
            TrySyncOutcome::SourceNotInTask => {
                tracing::warn!(task = %info.task, source = %info.source, %lock_id, "info of a source that is not part of the task, not counted");
            }
            TrySyncOutcome::HeldAsStale => {
                tracing::warn!(task = %info.task, source = %info.source, %lock_id, "info repeats the DDLs of a lock this source already finished; held until another source repeats them too");
                self.ctx
                    .metrics
                    .report_ddl_error(&info.task, metrics::ERR_STALE_INFO);
            }
        }
        self.perform_or_retry(decision.action, metrics::ERR_INFO_PUT_HANDLE_LOCK)
            .await
    }

    async fn on_operation(&mut self, op: &Operation) -> Result<()> {
        if !op.done {
            // Our own write (or the unlock's); nothing to do.
            return Ok(());
        }
        match self.keeper.on_operation_done(&op.id, &op.source) {
            DoneDecision::LockNotFound => {
                // A done that lands after its lock was resolved (a worker's
                // retried done txn) re-creates the Operation the removal
                // deleted. Left there, it would make the next lock's
                // `skip_done` answer to this source a no-op.
                tracing::warn!(task = %op.task, source = %op.source, lock_id = %op.id, "done operation for an unknown lock, deleting it");
                self.delete_orphan_operation(&OperationRecord {
                    lock_id: op.id.clone(),
                    task: op.task.clone(),
                    source: op.source.clone(),
                    exec: op.exec,
                    done: op.done,
                })
                .await
            }
            DoneDecision::LockNotSynced => {
                tracing::warn!(task = %op.task, source = %op.source, lock_id = %op.id, "done operation for an un-synced lock, ignored");
                self.ctx
                    .metrics
                    .report_ddl_error(&op.task, metrics::ERR_OPERATION_PUT_LOCK_UNSYNCED);
                Ok(())
            }
            DoneDecision::WaitMore => {
                tracing::info!(task = %op.task, source = %op.source, lock_id = %op.id, "source done, waiting for the others");
                Ok(())
            }
            DoneDecision::Resolved(action) => {
                tracing::info!(task = %op.task, source = %op.source, lock_id = %op.id, "every source done, resolving lock");
                self.perform_or_retry(action, metrics::ERR_OPERATION_PUT_REMOVE_LOCK)
                    .await
            }
            DoneDecision::OwnerDone(action) => {
                tracing::info!(task = %op.task, source = %op.source, lock_id = %op.id, "owner done, telling the other sources to skip");
                self.perform_or_retry(action, metrics::ERR_OPERATION_PUT_NON_OWNER_OP)
                    .await
            }
        }
    }

    /// Drops a lock whose keys were deleted.
    fn drop_removed_lock(&mut self, task: &str, lock_id: &str) {
        if let Some(removed) = self.keeper.remove_lock(lock_id) {
            self.apply_change(&removed.change);
        }
        tracing::info!(%task, %lock_id, "lock resolved and removed");
    }

    /// Refreshes the per-lock gauges: O(locks), once per tick, never per
    /// event.
    fn publish_lock_gauges(&mut self) {
        let now = std::time::Instant::now();
        let live: BTreeSet<&str> = self.keeper.locks().map(|l| l.id()).collect();
        self.first_seen.retain(|id, _| live.contains(id.as_str()));
        let mut gauges = Vec::with_capacity(live.len());
        for lock in self.keeper.locks() {
            let seen = *self.first_seen.entry(lock.id().to_owned()).or_insert(now);
            let blocking = if lock.is_synced() {
                lock.undone_sources().len()
            } else {
                lock.remain()
            };
            gauges.push(metrics::LockGauge {
                task: lock.task().to_owned(),
                lock_id: lock.id().to_owned(),
                age_seconds: now.duration_since(seen).as_secs_f64(),
                blocking_sources: blocking,
            });
        }
        self.ctx.metrics.set_lock_gauges(MODE, gauges);
    }

    async fn on_retry_tick(&mut self) -> Result<()> {
        self.publish_lock_gauges();
        if self.retry.is_empty() {
            return Ok(());
        }
        let lock_ids: Vec<String> = std::mem::take(&mut self.retry).into_iter().collect();
        for lock_id in lock_ids {
            let action = self.keeper.handle_lock(&lock_id, None);
            self.perform_or_retry(action, metrics::ERR_INFO_PUT_HANDLE_LOCK)
                .await?;
        }
        Ok(())
    }

    fn apply_change(&mut self, change: &StateChange) {
        let counts = self.state_counts.entry(change.task.clone()).or_default();
        for (state, delta) in [(change.from, -1i64), (change.to, 1)] {
            let slot = match state {
                Some(SyncState::Unsynced) => &mut counts.0,
                Some(SyncState::Synced) => &mut counts.1,
                None => continue,
            };
            *slot = slot.saturating_add_signed(delta as isize);
        }
        let (unsynced, synced) = *counts;
        if (unsynced, synced) == (0, 0) {
            self.state_counts.remove(&change.task);
        }
        // One task's series only: O(1) per state change however many locks
        // are held.
        self.ctx
            .metrics
            .set_ddl_state(MODE, &change.task, unsynced, synced);
    }

    fn publish_metrics(&self) {
        self.ctx.metrics.set_ddl_states(
            MODE,
            self.state_counts
                .iter()
                .map(|(task, (u, s))| (task.clone(), *u, *s))
                .collect(),
        );
    }
}

/// Reads every key under `prefix` at one revision into the state `start`
/// makes ([`Etcd::get_prefix_folded`]), starting over with a fresh state
/// after [`RETRY_INTERVAL`] until a read succeeds; `None` when the term
/// ends first. `what` names the keys in the log line of a failed read.
async fn read_folded<S, F>(
    etcd: &Etcd,
    prefix: &str,
    what: &str,
    cancel: &CancellationToken,
    start: impl Fn() -> (S, F),
) -> Option<(S, i64)>
where
    S: Send + 'static,
    F: FnMut(&mut S, Vec<KeyValue>) + Send + 'static,
{
    loop {
        let (state, fold) = start();
        let read = tokio::select! {
            biased;
            _ = cancel.cancelled() => return None,
            read = etcd.get_prefix_folded(prefix, state, fold) => read,
        };
        match read {
            Ok(read) => return Some(read),
            Err(error) => {
                tracing::warn!(%error, "reading {what} failed, retrying");
                if !pause_before_retry(cancel).await {
                    return None;
                }
            }
        }
    }
}

/// Waits [`RETRY_INTERVAL`] before a read is tried again; `false` when the
/// term ended meanwhile.
async fn pause_before_retry(cancel: &CancellationToken) -> bool {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => false,
        _ = tokio::time::sleep(RETRY_INTERVAL) => true,
    }
}
