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

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use futures_util::FutureExt;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::{Error, Result};
use crate::etcd::watch::{WatchEvent, Watcher};
use crate::etcd::{Compare, Etcd, Fence, KeyValue, Op, Txn};
use crate::keys::{KeySpace, PESSIMISM_INFO, PESSIMISM_OPERATION, UPSTREAM_SUBTASK};
use crate::metrics::{self, Metrics};
use crate::pessimism::info::Info;
use crate::pessimism::keeper::{
    rebuild, unlock_result, DoneDecision, InfoRecord, LockAction, LockKeeper, LockView,
    OperationRecord, OpsToPut, PessimismError, RebuildIssue, TrySyncOutcome, UnlockPlan,
};
use crate::pessimism::lock::{StateChange, SyncState};
use crate::pessimism::operation::Operation;
use crate::pessimism::operator::{self, InjectContext, InjectRequest, UnlockPreview};
use crate::pessimism::ops::{self, SeenOperation};
use crate::task::{RegistryChange, ShardMode, TaskRegistry};

/// Capacity of the channels from watchers and admin callers (backpressure).
const CHANNEL_CAPACITY: usize = 256;
/// How often locks whose answer failed are answered again.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// How long an unlock waits for the owner, then for the non-owners (DM
/// polls ten times a second apart).
const UNLOCK_WAIT: Duration = Duration::from_secs(10);

/// Mode label used for metrics bookkeeping.
const MODE: &str = ShardMode::Pessimistic.as_str();

/// Requests the actor answers.
enum Request {
    ShowLocks {
        task: Option<String>,
        sources: Vec<String>,
        reply: oneshot::Sender<Vec<LockView>>,
    },
    /// Starts an [`Unlocking`]; answered when it ends.
    Unlock {
        lock_id: String,
        replace_owner: Option<String>,
        force_remove: bool,
        reply: oneshot::Sender<Result<()>>,
    },
    RemoveMetadata {
        task: String,
        reply: oneshot::Sender<Result<()>>,
    },
    TaskMode {
        task: String,
        reply: oneshot::Sender<Option<ShardMode>>,
    },
    /// Every lock with what the lock page shows beyond ShowLocks.
    Details {
        reply: oneshot::Sender<Vec<LockDetail>>,
    },
    /// What an unlock would write; changes nothing.
    PreviewUnlock {
        lock_id: String,
        replace_owner: Option<String>,
        reply: oneshot::Sender<Result<UnlockWrites>>,
    },
    /// Writes an injected Info (answered once written; the watch then
    /// applies it like any Info).
    Inject {
        request: InjectRequest,
        reply: oneshot::Sender<Result<()>>,
    },
}

/// The etcd writes an unlock would make, in order: Operation puts (the
/// owner's `exec`, then the `skip`s), then the deleted keys.
#[derive(Debug, Clone, PartialEq)]
pub struct UnlockWrites {
    pub preview: UnlockPreview,
    /// `(key, Operation)` as put.
    pub puts: Vec<(String, Operation)>,
    /// Keys deleted when the lock is removed.
    pub deletes: Vec<String>,
}

/// One lock as the lock page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LockDetail {
    pub view: LockView,
    /// Since this master's pessimist first saw the lock.
    pub age_seconds: f64,
    /// Sources whose Info was injected, sorted.
    pub injected: Vec<String>,
    /// Sources done with the lock's Operation, sorted.
    pub done: Vec<String>,
}

/// Every input of the actor: a closed set, handled one at a time, so all
/// state (locks, unlocks in progress, retries) changes in one place.
enum Event {
    /// Infos and Operations in one revision order; the first is a snapshot.
    ShardDdl(WatchEvent),
    /// Subtask configs: which sources each task has.
    Subtasks(WatchEvent),
    Admin(Request),
    /// Re-answers locks whose write failed, times unlocks out, refreshes
    /// the lock gauges.
    Tick,
    /// A background write of a lock's answer ended (see [`Pessimist::pipeline`]).
    Written(std::result::Result<WriteDone, WriteLost>),
    /// The term's token was cancelled: stop, dropping pending replies
    /// (their callers see `NotStarted`).
    TermEnd,
}

/// A lock's answer as the etcd write that carries it out, built from the
/// actor's view when the answer is decided, so it can run without the actor.
struct WriteJob {
    task: String,
    lock_id: String,
    write: Write,
}

enum Write {
    PutOps {
        ops: OpsToPut,
        operations: Vec<Operation>,
        /// What the watch last saw of each Operation key (the first
        /// attempt's guards).
        seen: Vec<SeenOperation>,
    },
    /// The removal of a resolved lock: once its keys are gone, it leaves
    /// the keeper.
    RemoveLock { keys: Vec<String> },
}

impl Write {
    fn removes_lock(&self) -> bool {
        matches!(self, Write::RemoveLock { .. })
    }

    async fn run(self, etcd: &Etcd, space: &KeySpace, fence: Option<&Fence>) -> Result<()> {
        match self {
            Write::PutOps {
                ops: o,
                operations,
                seen,
            } => {
                let outcome =
                    ops::put_operations_seen(etcd, space, fence, &operations, o.skip_done, &seen)
                        .await?;
                tracing::info!(task = %o.task, lock_id = %o.lock_id, exec = o.exec, written = ?outcome.written, already_done = ?outcome.already_done, revision = outcome.revision, "operations put");
                Ok(())
            }
            Write::RemoveLock { keys } => {
                ops::delete_keys(etcd, fence, "remove lock", keys).await?;
                Ok(())
            }
        }
    }
}

/// The result of a background write, fed back to the actor.
struct WriteDone {
    task: String,
    lock_id: String,
    removes_lock: bool,
    error_kind: &'static str,
    result: Result<()>,
}

/// A background write that panicked instead of ending: its lock is
/// answered again by the retry tick.
struct WriteLost {
    task: String,
    lock_id: String,
}

/// A task with background writes in flight, and its watch events that
/// arrived meanwhile (handled in order once the writes end).
#[derive(Default)]
struct TaskWrites {
    in_flight: usize,
    queue: VecDeque<WatchEvent>,
}

/// A pessimistic unlock in progress (DM `UnlockLock` steps 6-9), held by the
/// actor: watch events and ticks advance it, and it is answered through
/// `reply` when it ends. Nothing outside the actor polls.
struct Unlocking {
    plan: UnlockPlan,
    step: UnlockStep,
    force_remove: bool,
    /// When the current step stops waiting.
    deadline: Instant,
    /// A failed skip write of step 7, reported in the final answer.
    skip_error: Option<String>,
    reply: oneshot::Sender<Result<()>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UnlockStep {
    /// Step 6: the owner's `exec` Operation is out; waiting for its done.
    OwnerExecuting,
    /// Step 7: the `skip` Operations are out; waiting for the non-owners.
    NonOwnersSkipping,
}

/// A cheap handle for admin calls; fails with `NotStarted` once the actor
/// has stopped.
#[derive(Clone)]
pub struct PessimistHandle {
    mailbox: super::Mailbox<Request>,
}

impl PessimistHandle {
    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Request) -> Result<T> {
        self.mailbox.call(make).await
    }

    /// DM `ShowLocks`: locks filtered by task and by any of `sources`.
    pub async fn show_locks(
        &self,
        task: Option<&str>,
        sources: &[String],
    ) -> Result<Vec<LockView>> {
        let task = task.filter(|t| !t.is_empty()).map(str::to_owned);
        let sources = sources.to_vec();
        self.call(|reply| Request::ShowLocks {
            task,
            sources,
            reply,
        })
        .await
    }

    /// DM `UnlockLock` (docs/protocol.md#pessimistic-unlock): make `replace_owner` (or the
    /// owner) execute, make the other synced sources skip, then remove the
    /// lock and its keys. The actor holds the unlock as state and keeps
    /// handling events; this waits for its answer.
    pub async fn unlock_lock(
        &self,
        lock_id: &str,
        replace_owner: Option<&str>,
        force_remove: bool,
    ) -> Result<()> {
        let lock_id = lock_id.to_owned();
        let replace_owner = replace_owner.filter(|o| !o.is_empty()).map(str::to_owned);
        self.call(|reply| Request::Unlock {
            lock_id,
            replace_owner,
            force_remove,
            reply,
        })
        .await?
    }

    /// DM `RemoveMetaData(task)`: drops the task's locks and deletes its
    /// pessimism Infos and Operations.
    pub async fn remove_metadata(&self, task: &str) -> Result<()> {
        let task = task.to_owned();
        self.call(|reply| Request::RemoveMetadata { task, reply })
            .await?
    }

    /// The shard mode of a task from its subtask configs (`None`: the task
    /// has no subtask config).
    pub async fn task_mode(&self, task: &str) -> Result<Option<ShardMode>> {
        let task = task.to_owned();
        self.call(|reply| Request::TaskMode { task, reply }).await
    }

    /// Every lock with its age, injected and done sources (lock page).
    pub async fn lock_details(&self) -> Result<Vec<LockDetail>> {
        self.call(|reply| Request::Details { reply }).await
    }

    /// What [`Self::unlock_lock`] would write for this lock, computed by
    /// the same planner; nothing is written.
    pub async fn preview_unlock(
        &self,
        lock_id: &str,
        replace_owner: Option<&str>,
    ) -> Result<UnlockWrites> {
        let lock_id = lock_id.to_owned();
        let replace_owner = replace_owner.filter(|o| !o.is_empty()).map(str::to_owned);
        self.call(|reply| Request::PreviewUnlock {
            lock_id,
            replace_owner,
            reply,
        })
        .await?
    }

    /// Writes an Info marked as injected for a source that will never
    /// report it (refused when the source already reported one).
    pub async fn inject(&self, request: InjectRequest) -> Result<()> {
        self.call(|reply| Request::Inject { request, reply })
            .await?
    }
}

/// The lock an action answers, if any.
fn action_lock(action: &LockAction) -> Option<&str> {
    match action {
        LockAction::None => None,
        LockAction::RemoveLock { lock_id, .. } => Some(lock_id),
        LockAction::PutOwnerOp(o) | LockAction::PutSkipOps(o) => Some(&o.lock_id),
    }
}

fn not_started() -> Error {
    Error::NotStarted {
        component: "pessimist",
    }
}

/// The last value seen of an Info or Operation key.
#[derive(Debug, Clone)]
struct Stored<T> {
    value: T,
    mod_revision: i64,
}

/// The pessimism keys of one snapshot, decoded: what a rebuild starts from.
#[derive(Debug, Default)]
struct SnapshotKeys {
    infos: HashMap<(String, String), Stored<Info>>,
    operations: HashMap<(String, String), Stored<Operation>>,
    /// `(task, source)` whose Info carries the injected marker.
    injected: BTreeSet<(String, String)>,
}

impl SnapshotKeys {
    /// Decodes a page of keys; each raw value is dropped once decoded. A
    /// malformed key or value is reported and skipped.
    fn decode_page(&mut self, space: &KeySpace, metrics: &Metrics, kvs: Vec<KeyValue>) {
        for kv in kvs {
            if let Ok([task, source]) = space.decode(&PESSIMISM_INFO, &kv.key) {
                if let Some(info) = decode_info(metrics, &kv, &task, &source) {
                    let key = (task, source);
                    if operator::is_injected(&kv.value) {
                        self.injected.insert(key.clone());
                    }
                    self.infos.insert(
                        key,
                        Stored {
                            value: info,
                            mod_revision: kv.mod_revision,
                        },
                    );
                }
            } else if let Ok([task, source]) = space.decode(&PESSIMISM_OPERATION, &kv.key) {
                if let Some(op) = decode_operation(metrics, &kv, &task, &source) {
                    self.operations.insert(
                        (task, source),
                        Stored {
                            value: op,
                            mod_revision: kv.mod_revision,
                        },
                    );
                }
            } else {
                report_bad_key(metrics, &kv.key);
            }
        }
    }
}

/// Reads and decodes every pessimism key at one revision, a page at a time
/// (retrying until it succeeds); `None` when cancelled first.
async fn read_snapshot_keys(
    etcd: Etcd,
    space: KeySpace,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) -> Option<(SnapshotKeys, i64)> {
    let prefix = ops::pessimism_prefix(&space);
    loop {
        let mut keys = SnapshotKeys::default();
        let read = tokio::select! {
            biased;
            _ = cancel.cancelled() => return None,
            read = etcd.get_prefix_paged(&prefix, |page| keys.decode_page(&space, &metrics, page)) => read,
        };
        match read {
            Ok(revision) => return Some((keys, revision)),
            Err(error) => {
                tracing::warn!(%error, "reading pessimism keys failed, retrying");
                tokio::select! {
                    biased;
                    _ = cancel.cancelled() => return None,
                    _ = tokio::time::sleep(RETRY_INTERVAL) => {}
                }
            }
        }
    }
}

fn decode_info(metrics: &Metrics, kv: &KeyValue, task: &str, source: &str) -> Option<Info> {
    match Info::decode(&kv.value) {
        Ok(info) => Some(info),
        Err(error) => {
            tracing::error!(%task, %source, key = %kv.key_str(), revision = kv.mod_revision, %error, "malformed pessimism info, skipped");
            metrics.report_ddl_error(task, metrics::ERR_MALFORMED_VALUE);
            None
        }
    }
}

fn decode_operation(
    metrics: &Metrics,
    kv: &KeyValue,
    task: &str,
    source: &str,
) -> Option<Operation> {
    match Operation::decode(&kv.value) {
        Ok(op) => Some(op),
        Err(error) => {
            tracing::error!(%task, %source, key = %kv.key_str(), revision = kv.mod_revision, %error, "malformed pessimism operation, skipped");
            metrics.report_ddl_error(task, metrics::ERR_MALFORMED_VALUE);
            None
        }
    }
}

fn report_bad_key(metrics: &Metrics, key: &[u8]) {
    tracing::error!(key = %String::from_utf8_lossy(key), "pessimism key does not decode, ignored");
    metrics.report_ddl_error("", metrics::ERR_MALFORMED_VALUE);
}

/// The actor.
pub struct Pessimist {
    etcd: Etcd,
    space: KeySpace,
    /// The leader key of the term this actor serves; every write compares it.
    fence: Option<Fence>,
    metrics: Arc<Metrics>,
    registry: TaskRegistry,
    keeper: LockKeeper,
    infos: HashMap<(String, String), Stored<Info>>,
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
    /// Background writes, polled by the actor's own loop rather than
    /// spawned as tasks: the request leaves in the same wake-up that decided
    /// it, with no hand-over to another worker thread (one wake-up less per
    /// answer on a busy machine).
    writes: FuturesUnordered<BoxFuture<'static, std::result::Result<WriteDone, WriteLost>>>,
    writing: HashMap<String, TaskWrites>,
}

impl Pessimist {
    /// Starts the actor and its watchers under `cancel`, tracked by `tracker`.
    pub fn spawn(
        etcd: Etcd,
        space: KeySpace,
        fence: Option<Fence>,
        metrics: Arc<Metrics>,
        tracker: &TaskTracker,
        cancel: CancellationToken,
    ) -> PessimistHandle {
        let (requests_tx, requests_rx) = mpsc::channel(CHANNEL_CAPACITY);
        let actor = Pessimist {
            etcd,
            space,
            fence,
            metrics,
            registry: TaskRegistry::new(),
            keeper: LockKeeper::new(),
            infos: HashMap::new(),
            injected: BTreeSet::new(),
            operations: HashMap::new(),
            retry: BTreeSet::new(),
            state_counts: BTreeMap::new(),
            first_seen: HashMap::new(),
            rebuilt: false,
            unlocking: BTreeMap::new(),
            pipeline: false,
            writes: FuturesUnordered::new(),
            writing: HashMap::new(),
        };
        let inner_tracker = tracker.clone();
        tracker.spawn(async move {
            if let Err(error) = actor.run(requests_rx, inner_tracker, cancel.clone()).await {
                tracing::error!(%error, "pessimist stopped");
                // Ends the leader term this actor served (its token is the
                // term's child): another term must rebuild from etcd.
                cancel.cancel();
            }
        });
        PessimistHandle {
            mailbox: super::Mailbox::new(requests_tx, not_started),
        }
    }

    #[tracing::instrument(skip_all, fields(mode = MODE))]
    async fn run(
        mut self,
        mut requests: mpsc::Receiver<Request>,
        tracker: TaskTracker,
        cancel: CancellationToken,
    ) -> Result<()> {
        // Task sources must be known before the first rebuild (DM starts its
        // scheduler before the pessimist for the same reason). Both reads
        // run at once, each a page at a time and decoded while etcd reads
        // the next page: 100,000 locks' raw keys and configs are hundreds
        // of MB that are never held at once.
        // The pessimism keys are decoded by a task of their own, in parallel
        // with the subtask configs decoded here.
        let keys_read = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(read_snapshot_keys(
            self.etcd.clone(),
            self.space.clone(),
            self.metrics.clone(),
            cancel.clone(),
        )));
        let subtask_prefix = self.space.path(&UPSTREAM_SUBTASK);
        let etcd = self.etcd.clone();
        let subtasks_read = async {
            loop {
                self.registry.clear();
                let read = etcd
                    .get_prefix_paged(&subtask_prefix, |page| {
                        for kv in &page {
                            self.apply_subtask_put(kv);
                        }
                    })
                    .await;
                match read {
                    Ok(revision) => return Some(revision),
                    Err(error) => {
                        tracing::warn!(%error, "reading subtask configs failed, retrying");
                        tokio::select! {
                            biased;
                            _ = cancel.cancelled() => return None,
                            _ = tokio::time::sleep(RETRY_INTERVAL) => {}
                        }
                    }
                }
            }
        };
        let (subtask_revision, keys) = tokio::join!(subtasks_read, keys_read);
        let keys = match keys {
            Ok(keys) => keys,
            Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
            // Aborted only by dropping the handle, which has not happened.
            Err(_) => None,
        };
        let (Some(subtask_revision), Some((keys, keys_revision))) = (subtask_revision, keys) else {
            return Ok(());
        };
        let (pess_tx, mut pess_rx) = mpsc::channel(CHANNEL_CAPACITY);
        tracker.spawn(
            Watcher::after(
                self.etcd.clone(),
                ops::pessimism_prefix(&self.space),
                keys_revision,
            )
            .run(pess_tx, cancel.clone()),
        );
        let (sub_tx, mut sub_rx) = mpsc::channel(CHANNEL_CAPACITY);
        tracker.spawn(
            Watcher::after(self.etcd.clone(), subtask_prefix, subtask_revision)
                .run(sub_tx, cancel.clone()),
        );
        if let Err(error) = self.rebuild_from(keys, keys_revision).await {
            if error.ends_term() {
                tracing::error!(%error, "leader fence lost, pessimist stops and ends the term");
                return Err(error);
            }
            tracing::warn!(%error, "pessimist rebuild failed");
        }
        let mut retry_tick = tokio::time::interval(RETRY_INTERVAL);
        retry_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

        loop {
            let event = tokio::select! {
                biased;
                _ = cancel.cancelled() => Event::TermEnd,
                Some(w) = self.writes.next(), if !self.writes.is_empty() => Event::Written(w),
                Some(e) = pess_rx.recv() => Event::ShardDdl(e),
                Some(e) = sub_rx.recv() => Event::Subtasks(e),
                Some(r) = requests.recv() => Event::Admin(r),
                _ = retry_tick.tick() => Event::Tick,
                else => Event::TermEnd,
            };
            if matches!(event, Event::TermEnd) {
                break;
            }
            if let Err(error) = self.handle(event).await {
                if error.ends_term() {
                    tracing::error!(%error, "leader fence lost, pessimist stops and ends the term");
                    return Err(error);
                }
                tracing::warn!(%error, "pessimist event failed");
            }
        }
        tracing::info!("pessimist stopped");
        Ok(())
    }

    async fn handle(&mut self, event: Event) -> Result<()> {
        match event {
            Event::ShardDdl(e) => {
                if self.unlocking.is_empty() {
                    if let Some(task) = self.event_task(&e) {
                        if let Some(busy) = self.writing.get_mut(&task) {
                            busy.queue.push_back(e);
                            return Ok(());
                        }
                        self.pipeline = true;
                        let result = self.on_pessimism_event(e).await;
                        self.pipeline = false;
                        return result;
                    }
                }
                self.settle_writes().await?;
                self.on_pessimism_event(e).await?;
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
                self.on_subtask_event(e).await
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

    /// The task a pessimism key belongs to (`None` for a snapshot or a key
    /// that does not decode).
    fn event_task(&self, event: &WatchEvent) -> Option<String> {
        let key = match event {
            WatchEvent::Put(kv) => &kv.key,
            WatchEvent::Delete { key, .. } => key,
            WatchEvent::Resynced(_) => return None,
        };
        self.space
            .decode(&PESSIMISM_INFO, key)
            .or_else(|_| self.space.decode(&PESSIMISM_OPERATION, key))
            .ok()
            .map(|[task, _]| task)
    }

    // ---- background writes ----

    /// Starts `job` in the background; its task's next events wait for it.
    fn spawn_write(&mut self, job: WriteJob, error_kind: &'static str) {
        let WriteJob {
            task,
            lock_id,
            write,
        } = job;
        let (etcd, space, fence) = (self.etcd.clone(), self.space.clone(), self.fence.clone());
        let (done_task, done_lock) = (task.clone(), lock_id.clone());
        let write = async move {
            let removes_lock = write.removes_lock();
            let result = write.run(&etcd, &space, fence.as_ref()).await;
            WriteDone {
                task: done_task,
                lock_id: done_lock,
                removes_lock,
                error_kind,
                result,
            }
        };
        // The write logs under the actor's span (mode = pessimistic); a
        // panic in it is caught and comes back as `WriteLost`, so the actor
        // loop never unwinds.
        let lost = WriteLost {
            task: task.clone(),
            lock_id,
        };
        let write = tracing::Instrument::instrument(write, tracing::Span::current());
        self.writes.push(
            std::panic::AssertUnwindSafe(write)
                .catch_unwind()
                .map(move |r| r.map_err(|_| lost))
                .boxed(),
        );
        self.writing.entry(task).or_default().in_flight += 1;
    }

    /// A background write ended: its result is applied as an awaited write's
    /// would be, then the task's waiting events are handled.
    async fn on_written(
        &mut self,
        joined: std::result::Result<WriteDone, WriteLost>,
    ) -> Result<()> {
        let task = match joined {
            Ok(done) => {
                self.on_write_result(
                    &done.task,
                    &done.lock_id,
                    done.removes_lock,
                    done.error_kind,
                    done.result,
                )?;
                done.task
            }
            Err(WriteLost { task, lock_id }) => {
                tracing::error!(%task, %lock_id, "background write panicked, will retry");
                self.retry.insert(lock_id);
                task
            }
        };
        let Some(busy) = self.writing.get_mut(&task) else {
            return Ok(());
        };
        busy.in_flight = busy.in_flight.saturating_sub(1);
        if busy.in_flight > 0 {
            return Ok(());
        }
        let mut queue = self
            .writing
            .remove(&task)
            .map(|busy| busy.queue)
            .unwrap_or_default();
        while let Some(event) = queue.pop_front() {
            if let Err(error) = self.on_pessimism_event(event).await {
                if error.ends_term() {
                    return Err(error);
                }
                tracing::warn!(%task, %error, "pessimist event failed");
            }
            if let Some(busy) = self.writing.get_mut(&task) {
                // Another write of the task started: the rest waits for it.
                busy.queue.extend(queue);
                return Ok(());
            }
        }
        Ok(())
    }

    /// Waits for every background write and the events queued behind them,
    /// so what follows sees the state every awaited write would leave.
    async fn settle_writes(&mut self) -> Result<()> {
        while let Some(joined) = self.writes.next().await {
            self.pipeline = self.unlocking.is_empty();
            let result = self.on_written(joined).await;
            self.pipeline = false;
            result?;
        }
        Ok(())
    }

    // ---- subtask configs ----

    fn apply_subtask_snapshot(&mut self, kvs: &[KeyValue]) {
        self.registry.clear();
        for kv in kvs {
            self.apply_subtask_put(kv);
        }
    }

    fn apply_subtask_put(&mut self, kv: &KeyValue) -> RegistryChange {
        match self.registry.apply_put(&self.space, &kv.key, &kv.value) {
            Ok(change) => change,
            Err(error) => {
                let task = self
                    .space
                    .decode(&UPSTREAM_SUBTASK, &kv.key)
                    .map(|[_, task]| task)
                    .unwrap_or_default();
                tracing::error!(key = %kv.key_str(), %task, %error, "subtask config does not parse, ignored");
                self.metrics
                    .report_ddl_error(&task, metrics::ERR_MALFORMED_VALUE);
                RegistryChange::None
            }
        }
    }

    async fn on_subtask_event(&mut self, event: WatchEvent) -> Result<()> {
        let changed = match event {
            WatchEvent::Put(kv) => vec![self.apply_subtask_put(&kv)],
            WatchEvent::Delete { key, .. } => vec![self.registry.apply_delete(&key)],
            WatchEvent::Resynced(snapshot) => {
                self.apply_subtask_snapshot(&snapshot.value);
                self.registry
                    .tasks()
                    .map(|t| RegistryChange::Task(t.to_owned()))
                    .collect()
            }
        };
        for change in changed {
            if let RegistryChange::Task(task) = change {
                self.on_sources_left(&task).await?;
                if self.registry.contains(&task) {
                    self.retry_waiting_infos(&task).await?;
                } else {
                    self.forget_task(&task);
                }
            }
        }
        Ok(())
    }

    /// Sources may have left `task` (stop-task on some of its sources): its
    /// locks stop waiting for them at once, resolve by the normal protocol
    /// if every remaining source is synced, and are removed with their keys
    /// when no source remains.
    async fn on_sources_left(&mut self, task: &str) -> Result<()> {
        let sources = self.registry.sources(task);
        for changed in self.keeper.on_sources_left(task, &sources) {
            tracing::warn!(%task, lock_id = %changed.lock_id, left = ?changed.left, owner = %changed.owner, remaining = ?sources, "sources left the task while its lock waited; lock re-evaluated against the remaining sources");
            self.metrics
                .report_ddl_error(task, metrics::ERR_SOURCE_LEFT_LOCK);
            if let Some(change) = &changed.change {
                self.apply_change(change);
            }
            // The Info and Operation of a source that left name a lock that
            // no longer counts it: deleted, so neither a rebuild nor the
            // source's return to the task revives them. Its worker re-sends
            // the Info if it still has the DDL to run.
            let mut stale = Vec::new();
            for source in &changed.left {
                let key = (task.to_owned(), source.clone());
                if self
                    .infos
                    .get(&key)
                    .is_some_and(|i| i.value.lock_id() == changed.lock_id)
                {
                    stale.push(ops::info_key(&self.space, task, source));
                }
                if self
                    .operations
                    .get(&key)
                    .is_some_and(|o| o.value.id == changed.lock_id)
                {
                    stale.push(ops::operation_key(&self.space, task, source));
                }
            }
            if !stale.is_empty() {
                ops::delete_keys(
                    &self.etcd,
                    self.fence.as_ref(),
                    "delete keys of sources that left",
                    stale,
                )
                .await?;
            }
            self.perform_or_retry(changed.action, metrics::ERR_INFO_PUT_HANDLE_LOCK)
                .await?;
        }
        Ok(())
    }

    /// Drops every lock of a task from memory (its keys are someone else's
    /// business: remove-meta deletes them, and after the task's last subtask
    /// config is gone, Infos that remain are re-evaluated if it starts
    /// again).
    fn forget_task(&mut self, task: &str) {
        let lock_ids: Vec<String> = self
            .keeper
            .locks()
            .filter(|l| l.task() == task)
            .map(|l| l.id().to_owned())
            .collect();
        for lock_id in lock_ids {
            if let Some(removed) = self.keeper.remove_lock(&lock_id) {
                self.apply_change(&removed.change);
                tracing::info!(%task, %lock_id, "lock of the task dropped");
            }
            self.retry.remove(&lock_id);
        }
    }

    /// Infos of `task` that are not counted in a lock yet (the task was
    /// unknown, or the source was not part of it) get another chance after
    /// the task's subtask configs changed.
    async fn retry_waiting_infos(&mut self, task: &str) -> Result<()> {
        let waiting: Vec<Info> = self
            .infos
            .iter()
            .filter(|((t, _), _)| t == task)
            .filter(|(_, stored)| {
                let lock_id = stored.value.lock_id();
                self.keeper
                    .find_lock(&lock_id)
                    .and_then(|l| l.is_ready(&stored.value.source))
                    != Some(true)
            })
            .map(|(_, stored)| stored.value.clone())
            .collect();
        for info in waiting {
            self.on_info(&info).await?;
        }
        Ok(())
    }

    // ---- pessimism keys ----

    async fn on_pessimism_event(&mut self, event: WatchEvent) -> Result<()> {
        match event {
            WatchEvent::Resynced(snapshot) => {
                self.on_snapshot(snapshot.value, snapshot.revision).await
            }
            WatchEvent::Put(kv) => {
                if let Ok([task, source]) = self.space.decode(&PESSIMISM_INFO, &kv.key) {
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
                } else if let Ok([task, source]) = self.space.decode(&PESSIMISM_OPERATION, &kv.key)
                {
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
                } else {
                    self.report_bad_key(&kv.key);
                    Ok(())
                }
            }
            WatchEvent::Delete { key, .. } => {
                if let Ok([task, source]) = self.space.decode(&PESSIMISM_INFO, &key) {
                    self.injected.remove(&(task.clone(), source.clone()));
                    self.infos.remove(&(task, source));
                } else if let Ok([task, source]) = self.space.decode(&PESSIMISM_OPERATION, &key) {
                    self.operations.remove(&(task, source));
                }
                Ok(())
            }
        }
    }

    fn report_bad_key(&self, key: &[u8]) {
        report_bad_key(&self.metrics, key);
    }

    fn decode_info(&self, kv: &KeyValue, task: &str, source: &str) -> Option<Info> {
        decode_info(&self.metrics, kv, task, source)
    }

    fn decode_operation(&self, kv: &KeyValue, task: &str, source: &str) -> Option<Operation> {
        decode_operation(&self.metrics, kv, task, source)
    }

    /// Rebuilds every lock from a snapshot the watcher read after losing
    /// its watch (the first snapshot is read by [`read_snapshot_keys`]).
    async fn on_snapshot(&mut self, kvs: Vec<KeyValue>, revision: i64) -> Result<()> {
        let mut keys = SnapshotKeys::default();
        keys.decode_page(&self.space, &self.metrics, kvs);
        self.rebuild_from(keys, revision).await
    }

    /// Rebuilds every lock from one snapshot of Infos and Operations
    /// (DM `buildLocks` + `recoverLocks`), then answers synced locks.
    async fn rebuild_from(&mut self, keys: SnapshotKeys, revision: i64) -> Result<()> {
        self.infos = keys.infos;
        self.injected = keys.injected;
        self.operations = keys.operations;
        // The records borrow the stored Infos: no second copy of them.
        let info_records = self
            .infos
            .values()
            .map(|stored| {
                let info = &stored.value;
                InfoRecord {
                    lock_id: info.lock_id(),
                    task: Cow::Borrowed(&info.task),
                    source: Cow::Borrowed(&info.source),
                    schema: Cow::Borrowed(&info.schema),
                    table: Cow::Borrowed(&info.table),
                    ddls: Cow::Borrowed(info.ddls.as_deref().unwrap_or_default()),
                }
            })
            .collect();
        let op_records = self
            .operations
            .values()
            .map(|stored| {
                let op = &stored.value;
                OperationRecord {
                    lock_id: op.id.clone(),
                    task: op.task.clone(),
                    source: op.source.clone(),
                    exec: op.exec,
                    done: op.done,
                }
            })
            .collect();
        let registry = &self.registry;
        let mut plan = rebuild(info_records, op_records, |task| registry.sources(task));
        self.keeper = plan.keeper;
        // Locks with injected sources are settled (owner moved off them,
        // injected sources done) and answered from their settled state.
        let settled_locks = self.settle_all_injected();
        if !settled_locks.is_empty() {
            plan.actions
                .retain(|action| action_lock(action).is_none_or(|id| !settled_locks.contains(id)));
            for lock_id in &settled_locks {
                plan.actions.push(self.keeper.handle_lock(lock_id, None));
            }
        }
        self.retry.clear();
        self.state_counts.clear();
        for lock in self.keeper.locks() {
            let counts = self.state_counts.entry(lock.task().to_owned()).or_default();
            match lock.state() {
                SyncState::Unsynced => counts.0 += 1,
                SyncState::Synced => counts.1 += 1,
            }
        }
        self.publish_metrics();
        tracing::info!(
            revision,
            locks = self.keeper.len(),
            infos = self.infos.len(),
            operations = self.operations.len(),
            first = !self.rebuilt,
            "pessimistic locks rebuilt"
        );
        self.rebuilt = true;
        for issue in &plan.issues {
            self.report_rebuild_issue(issue);
        }
        for restored in &plan.owners_restored {
            tracing::info!(lock_id = %restored.lock_id, from = %restored.from, to = %restored.to, "lock owner restored from its exec operation");
        }
        for orphan in &plan.delete_orphan_ops {
            self.delete_orphan_operation(orphan).await?;
        }
        for action in plan.actions {
            self.perform_or_retry(action, metrics::ERR_INFO_PUT_HANDLE_LOCK)
                .await?;
        }
        Ok(())
    }

    fn report_rebuild_issue(&self, issue: &RebuildIssue) {
        match issue {
            RebuildIssue::Mismatch {
                task,
                source,
                error,
            } => {
                tracing::error!(%task, %source, lock_id = %error.lock_id, %error, "info does not match its lock during rebuild");
                self.metrics
                    .report_ddl_error(task, metrics::ERR_INFO_PUT_SYNC_LOCK);
            }
            RebuildIssue::UnknownTask {
                task,
                source,
                lock_id,
            } => {
                tracing::error!(%task, %source, %lock_id, "info of a task with no subtask config; waiting for the task to be started");
                self.metrics
                    .report_ddl_error(task, metrics::ERR_UNKNOWN_TASK);
            }
            RebuildIssue::SourceNotInTask {
                task,
                source,
                lock_id,
            } => {
                tracing::warn!(%task, %source, %lock_id, "info of a source that is not part of the task, not counted");
            }
            RebuildIssue::OrphanOperationKept(op) => {
                tracing::warn!(task = %op.task, source = %op.source, lock_id = %op.lock_id, done = op.done, "operation without a lock kept");
            }
        }
    }

    /// Deletes a `done` Operation whose lock no longer exists (DM leaves it,
    /// blocking the source's next Info forever: DM gap P7). Guarded by its mod
    /// revision so a fresh Operation written meanwhile survives.
    async fn delete_orphan_operation(&mut self, op: &OperationRecord) -> Result<()> {
        let key = ops::operation_key(&self.space, &op.task, &op.source);
        let Some(stored) = self.operations.get(&(op.task.clone(), op.source.clone())) else {
            return Ok(());
        };
        let txn = Txn::new("delete orphan operation")
            .when([Compare::ModRevision(
                key.clone().into_bytes(),
                stored.mod_revision,
            )])
            .then([Op::delete(key.as_str())]);
        let outcome = self.etcd.txn_fenced(txn, self.fence.as_ref()).await?;
        tracing::info!(task = %op.task, source = %op.source, lock_id = %op.lock_id, deleted = outcome.succeeded, "orphan done operation cleaned up");
        Ok(())
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
                self.metrics
                    .report_ddl_error(&info.task, metrics::ERR_INFO_PUT_SYNC_LOCK);
            }
            TrySyncOutcome::UnknownTask => {
                tracing::error!(task = %info.task, source = %info.source, %lock_id, "info of a task with no subtask config; waiting for the task to be started");
                self.metrics
                    .report_ddl_error(&info.task, metrics::ERR_UNKNOWN_TASK);
            }
            TrySyncOutcome::SourceNotInTask => {
                tracing::warn!(task = %info.task, source = %info.source, %lock_id, "info of a source that is not part of the task, not counted");
            }
            TrySyncOutcome::HeldAsStale => {
                tracing::warn!(task = %info.task, source = %info.source, %lock_id, "info repeats the DDLs of a lock this source already finished; held until another source repeats them too");
                self.metrics
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
                self.metrics
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

    /// Performs an action; on failure counts the metric `error_kind`, logs,
    /// and schedules the lock to be answered again. Loss of leadership is
    /// returned so the actor stops. In [`Pessimist::pipeline`] mode the
    /// write runs in the background and its result comes back as
    /// [`Event::Written`].
    async fn perform_or_retry(
        &mut self,
        action: LockAction,
        error_kind: &'static str,
    ) -> Result<()> {
        let Some(job) = self.prepare(action) else {
            return Ok(());
        };
        if self.pipeline {
            self.spawn_write(job, error_kind);
            return Ok(());
        }
        let removes_lock = job.write.removes_lock();
        let result = job
            .write
            .run(&self.etcd, &self.space, self.fence.as_ref())
            .await;
        self.on_write_result(&job.task, &job.lock_id, removes_lock, error_kind, result)
    }

    /// Applies the result of a lock's write, awaited or in the background.
    fn on_write_result(
        &mut self,
        task: &str,
        lock_id: &str,
        removes_lock: bool,
        error_kind: &str,
        result: Result<()>,
    ) -> Result<()> {
        match result {
            Ok(()) => {
                self.retry.remove(lock_id);
                if removes_lock {
                    self.drop_removed_lock(task, lock_id);
                }
                Ok(())
            }
            Err(e) if e.ends_term() => Err(e),
            Err(error) if error.is_retryable() => {
                tracing::error!(%task, %lock_id, %error, "answering lock failed, will retry");
                self.metrics.report_ddl_error(task, error_kind);
                self.retry.insert(lock_id.to_owned());
                Ok(())
            }
            Err(error) => {
                // Retrying cannot help (e.g. a txn over etcd's limit); the
                // next event of the lock answers it again.
                tracing::error!(%task, %lock_id, %error, "answering lock failed, not retried");
                self.metrics.report_ddl_error(task, error_kind);
                Ok(())
            }
        }
    }

    async fn perform(&mut self, action: LockAction) -> Result<()> {
        let Some(job) = self.prepare(action) else {
            return Ok(());
        };
        let removes_lock = job.write.removes_lock();
        job.write
            .run(&self.etcd, &self.space, self.fence.as_ref())
            .await?;
        if removes_lock {
            self.drop_removed_lock(&job.task, &job.lock_id);
        }
        Ok(())
    }

    /// The write that carries out `action`, built from the actor's view now.
    fn prepare(&self, action: LockAction) -> Option<WriteJob> {
        match action {
            LockAction::None => None,
            LockAction::PutOwnerOp(o) | LockAction::PutSkipOps(o) => Some(self.put_ops_job(o)),
            LockAction::RemoveLock {
                lock_id,
                task,
                delete_ops_for,
            } => {
                // The lock's Operations, and any Info of its sources that
                // still names this lock.
                let mut keys = Vec::new();
                for source in &delete_ops_for {
                    keys.push(ops::operation_key(&self.space, &task, source));
                    let key = (task.clone(), source.clone());
                    if self
                        .infos
                        .get(&key)
                        .is_some_and(|i| i.value.lock_id() == lock_id)
                    {
                        keys.push(ops::info_key(&self.space, &task, source));
                    }
                }
                Some(WriteJob {
                    task,
                    lock_id,
                    write: Write::RemoveLock { keys },
                })
            }
        }
    }

    /// The Operations of `o`, guarded at first by what the watch last saw
    /// of their keys (no read round trip when that is still true).
    fn put_ops_job(&self, o: OpsToPut) -> WriteJob {
        let operations: Vec<Operation> = o
            .sources
            .iter()
            .map(|source| Operation {
                id: o.lock_id.clone(),
                task: o.task.clone(),
                source: source.clone(),
                ddls: Some(o.ddls.clone()),
                exec: o.exec,
                done: false,
            })
            .collect();
        let seen = o
            .sources
            .iter()
            .map(
                |source| match self.operations.get(&(o.task.clone(), source.clone())) {
                    None => SeenOperation::Absent,
                    Some(stored) if !stored.value.done => SeenOperation::NotDone {
                        mod_revision: stored.mod_revision,
                    },
                    Some(_) => SeenOperation::Unknown,
                },
            )
            .collect();
        WriteJob {
            task: o.task.clone(),
            lock_id: o.lock_id.clone(),
            write: Write::PutOps {
                ops: o,
                operations,
                seen,
            },
        }
    }

    async fn put_ops(&mut self, o: &OpsToPut) -> Result<()> {
        self.put_ops_job(o.clone())
            .write
            .run(&self.etcd, &self.space, self.fence.as_ref())
            .await
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
        self.metrics.set_lock_gauges(MODE, gauges);
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

    // ---- admin ----

    async fn on_request(&mut self, request: Request) -> Result<()> {
        match request {
            Request::ShowLocks {
                task,
                sources,
                reply,
            } => {
                let _ = reply.send(self.keeper.show_locks(task.as_deref(), &sources));
            }
            Request::Unlock {
                lock_id,
                replace_owner,
                force_remove,
                reply,
            } => {
                return self
                    .start_unlock(lock_id, replace_owner, force_remove, reply)
                    .await;
            }
            Request::TaskMode { task, reply } => {
                let _ = reply.send(self.registry.mode(&task));
            }
            Request::Details { reply } => {
                let _ = reply.send(self.lock_details());
            }
            Request::PreviewUnlock {
                lock_id,
                replace_owner,
                reply,
            } => {
                let injected = self.injected_sources(&lock_id);
                let preview = operator::preview_unlock(
                    &self.keeper,
                    &lock_id,
                    replace_owner.as_deref(),
                    &injected,
                );
                let _ = reply.send(preview.map(|p| self.unlock_writes(p)).map_err(Error::from));
            }
            Request::Inject { request, reply } => {
                let result = self.inject(&request).await;
                let term_end = result.as_ref().err().and_then(Error::term_end);
                let _ = reply.send(result);
                if let Some(end) = term_end {
                    return Err(end);
                }
            }
            Request::RemoveMetadata { task, reply } => {
                let result = self.remove_metadata(&task).await;
                let term_end = result.as_ref().err().and_then(Error::term_end);
                let _ = reply.send(result);
                if let Some(end) = term_end {
                    return Err(end);
                }
            }
        }
        Ok(())
    }

    // ---- operator requests (not DM's) ----

    fn mark_injected(&mut self, task: &str, source: &str, value: &[u8]) {
        let key = (task.to_owned(), source.to_owned());
        if operator::is_injected(value) {
            self.injected.insert(key);
        } else if self.injected.remove(&key) {
            // The operator said this source would never report; it did. In
            // a synced lock it already counts as done and gets no
            // Operation, so its worker waits for an unlock.
            tracing::warn!(%task, %source, "a source whose Info was injected put its own Info");
            self.metrics
                .report_ddl_error(task, metrics::ERR_INFO_PUT_SYNC_LOCK);
        }
    }

    /// Sources whose stored Info for `lock_id` was injected.
    fn injected_sources(&self, lock_id: &str) -> BTreeSet<String> {
        self.injected
            .iter()
            .filter(|key| {
                self.infos
                    .get(*key)
                    .is_some_and(|i| i.value.lock_id() == lock_id)
            })
            .map(|(_, source)| source.clone())
            .collect()
    }

    /// Keeps the injected-source invariants of one lock; returns whether
    /// the lock became resolved by it.
    fn settle_injected(&mut self, lock_id: &str) -> bool {
        let injected = self.injected_sources(lock_id);
        let settled = operator::settle_injected(&mut self.keeper, lock_id, &injected);
        if let Some((from, to)) = &settled.owner_moved {
            tracing::info!(%lock_id, %from, %to, "owner moved off an injected source");
        }
        if !settled.marked_done.is_empty() {
            tracing::info!(%lock_id, injected = ?settled.marked_done, "lock synced; injected sources count as done");
        }
        settled.resolved
    }

    /// Settles every lock with an injected source; returns their IDs.
    fn settle_all_injected(&mut self) -> BTreeSet<String> {
        let lock_ids: BTreeSet<String> = self
            .injected
            .iter()
            .filter_map(|key| self.infos.get(key).map(|i| i.value.lock_id()))
            .collect();
        for lock_id in &lock_ids {
            self.settle_injected(lock_id);
        }
        lock_ids
    }

    fn unlock_writes(&self, preview: UnlockPreview) -> UnlockWrites {
        let puts = preview
            .exec
            .iter()
            .chain(preview.skip.iter())
            .flat_map(|o| {
                o.sources.iter().map(|source| {
                    (
                        ops::operation_key(&self.space, &o.task, source),
                        Operation {
                            id: o.lock_id.clone(),
                            task: o.task.clone(),
                            source: source.clone(),
                            ddls: Some(o.ddls.clone()),
                            exec: o.exec,
                            done: false,
                        },
                    )
                })
            })
            .collect();
        let deletes = preview
            .delete_keys_of
            .iter()
            .flat_map(|source| {
                [
                    ops::info_key(&self.space, &preview.task, source),
                    ops::operation_key(&self.space, &preview.task, source),
                ]
            })
            .collect();
        UnlockWrites {
            preview,
            puts,
            deletes,
        }
    }

    fn lock_details(&self) -> Vec<LockDetail> {
        let now = std::time::Instant::now();
        self.keeper
            .show_locks(None, &[])
            .into_iter()
            .map(|view| {
                let lock = self.keeper.find_lock(&view.id);
                let done = lock
                    .map(|l| {
                        l.sources()
                            .filter(|s| l.is_done(s))
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                LockDetail {
                    age_seconds: self
                        .first_seen
                        .get(&view.id)
                        .map_or(0.0, |seen| now.duration_since(*seen).as_secs_f64()),
                    injected: self.injected_sources(&view.id).into_iter().collect(),
                    done,
                    view,
                }
            })
            .collect()
    }

    /// Checks an inject against the lock and the source's current Info,
    /// then writes the injected Info if the key is still absent.
    async fn inject(&mut self, request: &InjectRequest) -> Result<()> {
        let lock_id = request.lock_id();
        let key = (request.task.clone(), request.source.clone());
        let current = self
            .infos
            .get(&key)
            .map(|stored| (stored.value.lock_id(), self.injected.contains(&key)));
        let task_sources = self
            .registry
            .contains(&request.task)
            .then(|| self.registry.sources(&request.task));
        let injected = self.injected_sources(&lock_id);
        let context = InjectContext {
            task_sources: task_sources.as_deref(),
            pessimistic: self.registry.mode(&request.task) == Some(ShardMode::Pessimistic),
            current: current.as_ref().map(|(id, inj)| (id.as_str(), *inj)),
            injected: &injected,
        };
        let info = match operator::check_inject(&self.keeper, request, context) {
            Ok(info) => info,
            Err(error) => {
                tracing::warn!(task = %request.task, source = %request.source, %lock_id, %error, "inject refused");
                return Err(error.into());
            }
        };
        let info_key = ops::info_key(&self.space, &request.task, &request.source);
        let txn = Txn::new("inject info")
            .when([Compare::Absent(info_key.clone().into_bytes())])
            .then([Op::put(info_key.as_str(), operator::encode_injected(&info))]);
        let outcome = self.etcd.txn_fenced(txn, self.fence.as_ref()).await?;
        if !outcome.succeeded {
            // The source's own Info landed meanwhile; the watch brings it.
            tracing::warn!(task = %request.task, source = %request.source, %lock_id, "inject refused: the source put its Info meanwhile");
            return Err(operator::OperatorError::AlreadyReported {
                source_id: request.source.clone(),
                lock_id,
            }
            .into());
        }
        tracing::warn!(task = %request.task, source = %request.source, %lock_id, ddls = ?request.ddls, revision = outcome.revision, "info injected by an operator");
        Ok(())
    }

    // ---- unlock (held state) ----

    /// Steps 1-6 of DM `UnlockLock`: validate, force the lock synced, send
    /// the owner its `exec` Operation, and hold the unlock until it ends.
    async fn start_unlock(
        &mut self,
        lock_id: String,
        replace_owner: Option<String>,
        force_remove: bool,
        reply: oneshot::Sender<Result<()>>,
    ) -> Result<()> {
        if self.unlocking.contains_key(&lock_id) {
            let _ = reply.send(Err(PessimismError::LockIsResolving { lock_id }.into()));
            return Ok(());
        }
        let injected = self.injected_sources(&lock_id);
        if let Err(error) = operator::check_unlock_owner(
            &self.keeper,
            &lock_id,
            replace_owner.as_deref(),
            &injected,
        ) {
            let _ = reply.send(Err(error.into()));
            return Ok(());
        }
        let plan = match self
            .keeper
            .prepare_unlock(&lock_id, replace_owner.as_deref())
        {
            Ok(plan) => plan,
            Err(e @ PessimismError::LockIsResolving { .. }) => {
                let _ = reply.send(Err(e.into()));
                let action = self.keeper.removal(&lock_id);
                return match self.perform(action).await {
                    Err(error) if !error.ends_term() => {
                        tracing::warn!(%lock_id, %error, "removing a resolved lock failed");
                        Ok(())
                    }
                    other => other,
                };
            }
            Err(e) => {
                let _ = reply.send(Err(e.into()));
                return Ok(());
            }
        };
        if let Some(change) = &plan.change {
            self.apply_change(change);
        }
        // Forced synced: injected sources are done, never asked to skip.
        operator::settle_injected(&mut self.keeper, &lock_id, &injected);
        tracing::warn!(task = %plan.task, %lock_id, owner = %plan.owner, synced = ?plan.synced, unsynced = ?plan.unsynced, force_remove, "unlocking lock");
        if !self.keeper.unlock_owner_done(&plan) {
            if let Err(error) = self.put_ops(&plan.owner_op()).await {
                self.revert_unlock(&plan);
                let term_end = error.term_end();
                let _ = reply.send(Err(error));
                return term_end.map_or(Ok(()), Err);
            }
        }
        self.unlocking.insert(
            lock_id.clone(),
            Unlocking {
                plan,
                step: UnlockStep::OwnerExecuting,
                force_remove,
                deadline: Instant::now() + UNLOCK_WAIT,
                skip_error: None,
                reply,
            },
        );
        self.advance_unlock(&lock_id).await
    }

    async fn advance_unlocks(&mut self) -> Result<()> {
        let lock_ids: Vec<String> = self.unlocking.keys().cloned().collect();
        for lock_id in lock_ids {
            self.advance_unlock(&lock_id).await?;
        }
        Ok(())
    }

    /// Moves one held unlock on as far as the lock's state allows: owner
    /// done (or timed out under force-remove) → skip Operations; non-owners
    /// done (or timed out) → remove the lock and answer.
    async fn advance_unlock(&mut self, lock_id: &str) -> Result<()> {
        let Some(mut unlocking) = self.unlocking.remove(lock_id) else {
            return Ok(());
        };
        let now = Instant::now();
        let timed_out = now >= unlocking.deadline;
        match unlocking.step {
            UnlockStep::OwnerExecuting => {
                let owner_done = self.keeper.unlock_owner_done(&unlocking.plan);
                if !owner_done && !timed_out {
                    self.unlocking.insert(lock_id.to_owned(), unlocking);
                    return Ok(());
                }
                if !owner_done && !unlocking.force_remove {
                    self.revert_unlock(&unlocking.plan);
                    tracing::warn!(task = %unlocking.plan.task, %lock_id, owner = %unlocking.plan.owner, "the owner did not execute the DDL in time, unlock reverted");
                    let _ = unlocking.reply.send(Err(PessimismError::OwnerExecDdl {
                        owner: unlocking.plan.owner.clone(),
                        lock_id: lock_id.to_owned(),
                    }
                    .into()));
                    return Ok(());
                }
                if let Some(ops) = self.keeper.unlock_skip_ops(&unlocking.plan) {
                    match self.put_ops(&ops).await {
                        Ok(()) => {
                            unlocking.step = UnlockStep::NonOwnersSkipping;
                            unlocking.deadline = now + UNLOCK_WAIT;
                            self.unlocking.insert(lock_id.to_owned(), unlocking);
                            return Ok(());
                        }
                        Err(error) => {
                            if let Some(end) = error.term_end() {
                                let _ = unlocking.reply.send(Err(error));
                                return Err(end);
                            }
                            unlocking.skip_error = Some(error.to_string());
                        }
                    }
                }
            }
            UnlockStep::NonOwnersSkipping => {
                let pending = self.keeper.unlock_pending_non_owners(&unlocking.plan);
                if !pending.is_empty() {
                    if !timed_out {
                        self.unlocking.insert(lock_id.to_owned(), unlocking);
                        return Ok(());
                    }
                    tracing::warn!(task = %unlocking.plan.task, %lock_id, ?pending, "not every non-owner source skipped the DDL in time, removing the lock anyway");
                }
            }
        }
        self.finish_unlock(unlocking).await
    }

    /// Steps 8-9: remove the lock and its keys, then answer.
    async fn finish_unlock(&mut self, unlocking: Unlocking) -> Result<()> {
        let Unlocking {
            plan,
            skip_error,
            reply,
            ..
        } = unlocking;
        let cleanup = self.keeper.finish_unlock(&plan);
        if let Some(change) = &cleanup.change {
            self.apply_change(change);
        }
        self.retry.remove(&plan.lock_id);
        let keys: Vec<String> = cleanup
            .sources
            .iter()
            .flat_map(|source| {
                [
                    ops::info_key(&self.space, &cleanup.task, source),
                    ops::operation_key(&self.space, &cleanup.task, source),
                ]
            })
            .collect();
        let deleted = ops::delete_keys(&self.etcd, self.fence.as_ref(), "unlock lock", keys).await;
        tracing::info!(task = %cleanup.task, lock_id = %cleanup.lock_id, ok = deleted.is_ok(), "lock unlocked and removed");
        let term_end = deleted.as_ref().err().and_then(Error::term_end);
        let delete_error = deleted.err().map(|e| e.to_string());
        let _ = reply
            .send(unlock_result(skip_error, delete_error, &plan.unsynced).map_err(Error::from));
        term_end.map_or(Ok(()), Err)
    }

    fn revert_unlock(&mut self, plan: &UnlockPlan) {
        if let Some(change) = self.keeper.revert_unlock(plan) {
            self.apply_change(&change);
        }
    }

    async fn remove_metadata(&mut self, task: &str) -> Result<()> {
        self.forget_task(task);
        ops::delete_infos_operations_by_task(&self.etcd, &self.space, self.fence.as_ref(), task)
            .await?;
        tracing::info!(%task, "pessimistic metadata of task removed");
        Ok(())
    }

    // ---- metrics ----

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
        self.metrics
            .set_ddl_state(MODE, &change.task, unsynced, synced);
    }

    fn publish_metrics(&self) {
        self.metrics.set_ddl_states(
            MODE,
            self.state_counts
                .iter()
                .map(|(task, (u, s))| (task.clone(), *u, *s))
                .collect(),
        );
    }
}
