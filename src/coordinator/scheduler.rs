//! The scheduler (DM's `dm/master/scheduler`) as one actor per leader term.
//!
//! Start: one transaction of range reads gives worker registrations,
//! keep-alive keys, bounds, last-bounds and source configs at ONE revision
//! (DM reads them one by one, DM gap S2 in docs/dm-gaps.md); the pure [`Scheduler`] is rebuilt from
//! it, keeping every bound that still holds; then the keep-alive prefix
//! `/dm-worker/a/` is watched from that revision + 1. Worker events and
//! admin requests are handled one at a time in arrival order ([`Event`]).
//!
//! Every write carries the leader fence (DM has none, DM gap S1): a deposed
//! leader's write fails with `LeadershipLost`, which stops the actor and
//! ends the term. Any other failed write counts in
//! `dm_master_worker_event_error{type="handle"}` and makes the actor rebuild
//! from a fresh snapshot, so memory never runs ahead of etcd.
//!
//! Subtasks (start/pause/resume/stop-task) are decided from the task's
//! configs and stages read at one revision when the request arrives
//! ([`crate::scheduler::subtasks`]) and written in one fenced txn; they are
//! not kept in memory, so a failed write needs no rebuild and a new leader
//! starts from exactly what etcd holds.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::{Error, Result};
use crate::etcd::retry::Backoff;
use crate::etcd::watch::{WatchEvent, Watcher};
use crate::etcd::{Etcd, Fence, KeyValue, Op, Txn};
use crate::ha::{self, SourceBound, StageKind, WorkerEvent, WorkerInfo};
use crate::keys::{
    KeySpace, BOUND_WORKER, LAST_BOUND_WORKER, STAGE_SUBTASK, UPSTREAM_CONFIG, UPSTREAM_SUBTASK,
    WORKER_KEEP_ALIVE, WORKER_REGISTER,
};
use crate::metrics::Metrics;
use crate::scheduler::subtasks::{plan_operate, plan_start};
pub use crate::scheduler::subtasks::{NewSubTask, TaskStageOp};
use crate::scheduler::{Effect, Registered, Scheduler, SchedulerError, Snapshot, WorkerView};

const CHANNEL_CAPACITY: usize = 256;

/// `dm_master_worker_event_error{type}` values.
const EVENT_ERROR_HANDLE: &str = "handle";
const EVENT_ERROR_WATCH: &str = "watch";

/// One source config to add: its ID and the TOML to store.
#[derive(Debug, Clone)]
pub struct NewSource {
    pub id: String,
    pub toml: Vec<u8>,
}

/// Admin requests, each with its reply.
enum Request {
    Register {
        name: String,
        addr: String,
        reply: oneshot::Sender<Result<()>>,
    },
    Workers {
        reply: oneshot::Sender<Vec<WorkerView>>,
    },
    RemoveWorker {
        name: String,
        reply: oneshot::Sender<Result<()>>,
    },
    AddSource {
        source: NewSource,
        worker: Option<String>,
        reply: oneshot::Sender<Result<()>>,
    },
    RemoveSource {
        source: String,
        reply: oneshot::Sender<Result<()>>,
    },
    Sources {
        reply: oneshot::Sender<Vec<(String, Option<WorkerInfo>)>>,
    },
    SourceConfigs {
        reply: oneshot::Sender<BTreeMap<String, Vec<u8>>>,
    },
    StartTask {
        task: String,
        subtasks: Vec<NewSubTask>,
        reply: oneshot::Sender<Result<Vec<String>>>,
    },
    OperateTask {
        task: String,
        sources: Vec<String>,
        op: TaskStageOp,
        reply: oneshot::Sender<Result<Option<Vec<String>>>>,
    },
    SubTaskConfigs {
        task: String,
        reply: oneshot::Sender<Result<BTreeMap<String, Vec<u8>>>>,
    },
    AllSubTasks {
        reply: oneshot::Sender<Result<Vec<(String, String)>>>,
    },
}

/// Everything the actor reacts to.
enum Event {
    /// A change under `/dm-worker/a/`, or a fresh snapshot of it.
    KeepAlive(WatchEvent),
    /// An admin request.
    Request(Request),
}

/// Admin handle of the scheduler; fails with 46001 once it stopped.
#[derive(Clone)]
pub struct SchedulerHandle {
    mailbox: super::Mailbox<Request>,
    /// Boxed behind an `Arc`: the client is large and handles are cloned
    /// into every request.
    etcd: Arc<Etcd>,
    space: KeySpace,
}

fn not_started() -> Error {
    Error::Scheduler(SchedulerError::NotStarted)
}

impl SchedulerHandle {
    /// RegisterWorker: records the worker (offline until its keep-alive key
    /// appears). Same name and address again: nothing written.
    pub async fn register_worker(&self, name: &str, addr: &str) -> Result<()> {
        let (name, addr) = (name.to_owned(), addr.to_owned());
        self.mailbox
            .call(|reply| Request::Register { name, addr, reply })
            .await?
    }

    /// Every registered worker with stage and bound source, by name.
    pub async fn workers(&self) -> Result<Vec<WorkerView>> {
        self.mailbox.call(|reply| Request::Workers { reply }).await
    }

    /// OfflineMember for a worker: only an offline worker is removed.
    pub async fn remove_worker(&self, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.mailbox
            .call(|reply| Request::RemoveWorker { name, reply })
            .await?
    }

    /// create-source for one config (bound to `worker` when given).
    pub async fn add_source(&self, source: NewSource, worker: Option<&str>) -> Result<()> {
        let worker = worker.filter(|w| !w.is_empty()).map(str::to_owned);
        self.mailbox
            .call(|reply| Request::AddSource {
                source,
                worker,
                reply,
            })
            .await?
    }

    /// stop-source for one source.
    pub async fn remove_source(&self, source: &str) -> Result<()> {
        let source = source.to_owned();
        self.mailbox
            .call(|reply| Request::RemoveSource { source, reply })
            .await?
    }

    /// Every source with the worker it is bound to, by source ID.
    pub async fn sources(&self) -> Result<Vec<(String, Option<WorkerInfo>)>> {
        self.mailbox.call(|reply| Request::Sources { reply }).await
    }

    /// Every source's stored config TOML, by source ID.
    pub async fn source_configs(&self) -> Result<BTreeMap<String, Vec<u8>>> {
        self.mailbox
            .call(|reply| Request::SourceConfigs { reply })
            .await
    }

    /// start-task (DM `AddSubTasks(Running)`): writes the configs of the
    /// sources that have none yet, with stage `Running`, in one fenced txn.
    /// Returns the sources written.
    pub async fn start_task(&self, task: &str, subtasks: Vec<NewSubTask>) -> Result<Vec<String>> {
        let task = task.to_owned();
        self.mailbox
            .call(|reply| Request::StartTask {
                task,
                subtasks,
                reply,
            })
            .await?
    }

    /// pause/resume/stop-task on `sources` (all of the task's when empty).
    /// Returns the sources operated, `None` when the task has none.
    pub async fn operate_task(
        &self,
        task: &str,
        sources: Vec<String>,
        op: TaskStageOp,
    ) -> Result<Option<Vec<String>>> {
        let task = task.to_owned();
        self.mailbox
            .call(|reply| Request::OperateTask {
                task,
                sources,
                op,
                reply,
            })
            .await?
    }

    /// The stored subtask config TOML of each source of `task`.
    pub async fn subtask_configs(&self, task: &str) -> Result<BTreeMap<String, Vec<u8>>> {
        let task = task.to_owned();
        self.mailbox
            .call(|reply| Request::SubTaskConfigs { task, reply })
            .await?
    }

    /// Every (source, task) with a stored subtask config, in key order.
    pub async fn all_subtasks(&self) -> Result<Vec<(String, String)>> {
        self.mailbox
            .call(|reply| Request::AllSubTasks { reply })
            .await?
    }

    /// The etcd client of the term, for member queries.
    pub fn etcd(&self) -> &Etcd {
        &self.etcd
    }

    /// The key space of the term.
    pub fn space(&self) -> &KeySpace {
        &self.space
    }
}

/// The actor.
pub struct SchedulerActor {
    etcd: Etcd,
    space: KeySpace,
    fence: Option<Fence>,
    metrics: Arc<Metrics>,
    state: Scheduler,
    /// A write failed after the state changed: rebuild before the next event.
    stale: bool,
}

impl SchedulerActor {
    /// Starts the scheduler of one term. Its handle answers once the
    /// rebuild is done (requests wait in the mailbox meanwhile).
    pub fn spawn(
        etcd: Etcd,
        space: KeySpace,
        fence: Option<Fence>,
        metrics: Arc<Metrics>,
        tracker: &TaskTracker,
        cancel: CancellationToken,
    ) -> SchedulerHandle {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let actor = SchedulerActor {
            etcd: etcd.clone(),
            space: space.clone(),
            fence,
            metrics,
            state: Scheduler::default(),
            stale: false,
        };
        let inner = tracker.clone();
        tracker.spawn(async move {
            if let Err(error) = actor.run(rx, inner, cancel.clone()).await {
                tracing::error!(%error, "scheduler stopped");
                cancel.cancel();
            }
        });
        SchedulerHandle {
            mailbox: super::Mailbox::new(tx, not_started),
            etcd: Arc::new(etcd),
            space,
        }
    }

    #[tracing::instrument(skip_all, fields(component = "scheduler"))]
    async fn run(
        mut self,
        mut requests: mpsc::Receiver<Request>,
        tracker: TaskTracker,
        cancel: CancellationToken,
    ) -> Result<()> {
        let Some(revision) = self.rebuild_until_done(&cancel).await? else {
            return Ok(());
        };
        let (tx, mut watch_events) = mpsc::channel(CHANNEL_CAPACITY);
        tracker.spawn(
            Watcher::after(
                self.etcd.clone(),
                self.space.path(&WORKER_KEEP_ALIVE),
                revision,
            )
            .run(tx, cancel.clone()),
        );
        loop {
            let event = tokio::select! {
                biased;
                _ = cancel.cancelled() => break,
                Some(e) = watch_events.recv() => Event::KeepAlive(e),
                Some(r) = requests.recv() => Event::Request(r),
                else => break,
            };
            if let Err(error) = self.on_event(event).await {
                if error.ends_term() {
                    return Err(error);
                }
                tracing::warn!(%error, "scheduler step failed");
            }
            if self.stale {
                // A failed write left etcd behind memory: start over from
                // what etcd holds.
                tracing::warn!("rebuilding the scheduler from etcd after a failed write");
                if self.rebuild_until_done(&cancel).await?.is_none() {
                    break;
                }
            }
        }
        tracing::info!("scheduler stopped");
        Ok(())
    }

    async fn on_event(&mut self, event: Event) -> Result<()> {
        match event {
            Event::KeepAlive(WatchEvent::Put(kv)) => match WorkerEvent::decode(&kv.value) {
                // DM takes the name from the value on PUT (DM gap S10).
                Ok(ev) => match self.state.worker_online(&ev.worker_name) {
                    Some(effects) => {
                        tracing::info!(worker = %ev.worker_name, "worker online");
                        self.apply(effects).await
                    }
                    None => {
                        tracing::warn!(worker = %ev.worker_name, "keep-alive of an unregistered worker ignored");
                        Ok(())
                    }
                },
                Err(error) => {
                    self.report_watch_error(&kv, &error);
                    Ok(())
                }
            },
            Event::KeepAlive(WatchEvent::Delete { key, .. }) => {
                match self.space.decode(&WORKER_KEEP_ALIVE, &key) {
                    Ok([worker]) => match self.state.worker_offline(&worker) {
                        Some(effects) => {
                            tracing::info!(%worker, "worker offline");
                            self.apply(effects).await
                        }
                        None => Ok(()),
                    },
                    Err(error) => {
                        self.metrics
                            .worker_event_error
                            .with_label_values(&[EVENT_ERROR_WATCH])
                            .inc();
                        tracing::warn!(%error, "undecodable keep-alive key deleted");
                        Ok(())
                    }
                }
            }
            Event::KeepAlive(WatchEvent::Resynced(snapshot)) => {
                // The watch lost its place (compaction): replay the
                // difference against the keys alive now.
                let alive = self.alive_names(&snapshot.value);
                tracing::info!(
                    revision = snapshot.revision,
                    alive = alive.len(),
                    "keep-alive watch resynced"
                );
                let effects = self.state.reconcile_alive(&alive);
                self.apply(effects).await
            }
            Event::Request(request) => self.on_request(request).await,
        }
    }

    async fn on_request(&mut self, request: Request) -> Result<()> {
        match request {
            Request::Register { name, addr, reply } => {
                let outcome = self.state.register(&name, &addr);
                let result = match outcome {
                    Ok(Registered::Already) => Ok(()),
                    Ok(Registered::New(effects)) => {
                        let written = self.apply(effects).await;
                        if written.is_ok() {
                            tracing::info!(worker = %name, %addr, "worker registered");
                        }
                        return answer(reply, written);
                    }
                    Err(e) => Err(e.into()),
                };
                let _ = reply.send(result);
                Ok(())
            }
            Request::Workers { reply } => {
                let _ = reply.send(self.state.workers());
                Ok(())
            }
            Request::RemoveWorker { name, reply } => match self.state.remove_worker(&name) {
                Ok(effects) => {
                    let written = self.apply(effects).await;
                    if written.is_ok() {
                        self.metrics.worker_state.remove_label_values(&[&name]).ok();
                        tracing::info!(worker = %name, "worker removed");
                    }
                    answer(reply, written)
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                    Ok(())
                }
            },
            Request::AddSource {
                source,
                worker,
                reply,
            } => match self
                .state
                .add_source(&source.id, source.toml, worker.as_deref())
            {
                Ok(effects) => {
                    let written = self.apply(effects).await;
                    if written.is_ok() {
                        tracing::info!(source = %source.id, worker = ?self.state.worker_of(&source.id).map(|w| w.name), "source added");
                    }
                    answer(reply, written)
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                    Ok(())
                }
            },
            Request::RemoveSource { source, reply } => {
                let tasks = match self.tasks_of_source(&source).await {
                    Ok(tasks) => tasks,
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        return Ok(());
                    }
                };
                match self.state.remove_source(&source, &tasks) {
                    Ok(effects) => {
                        let written = self.apply(effects).await;
                        if written.is_ok() {
                            tracing::info!(%source, "source removed");
                        }
                        answer(reply, written)
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                        Ok(())
                    }
                }
            }
            Request::Sources { reply } => {
                let sources = self
                    .state
                    .source_ids()
                    .into_iter()
                    .map(|id| {
                        let worker = self.state.worker_of(&id);
                        (id, worker)
                    })
                    .collect();
                let _ = reply.send(sources);
                Ok(())
            }
            Request::SourceConfigs { reply } => {
                let configs = self
                    .state
                    .source_ids()
                    .into_iter()
                    .filter_map(|id| {
                        let toml = self.state.source_config(&id)?.to_vec();
                        Some((id, toml))
                    })
                    .collect();
                let _ = reply.send(configs);
                Ok(())
            }
            task_request => self.on_task_request(task_request).await,
        }
    }

    async fn on_task_request(&mut self, request: Request) -> Result<()> {
        match request {
            Request::StartTask {
                task,
                subtasks,
                reply,
            } => {
                let planned = match self.task_subtasks(&task).await {
                    Ok((configured, _)) => {
                        let configured: BTreeSet<String> = configured.into_keys().collect();
                        let bound: BTreeSet<String> = subtasks
                            .iter()
                            .filter(|s| self.state.worker_of(&s.source).is_some())
                            .map(|s| s.source.clone())
                            .collect();
                        plan_start(&task, subtasks, &configured, &bound).map_err(Error::from)
                    }
                    Err(e) => Err(e),
                };
                let fresh = match planned {
                    Ok(fresh) => fresh,
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        return Ok(());
                    }
                };
                if fresh.is_empty() {
                    let _ = reply.send(Ok(Vec::new()));
                    return Ok(());
                }
                let sources: Vec<String> = fresh.iter().map(|s| s.source.clone()).collect();
                let pairs: Vec<(String, Vec<u8>)> =
                    fresh.into_iter().map(|s| (s.source, s.toml)).collect();
                let txn = ha::put_subtasks_txn(&self.space, &task, &pairs);
                let written = self.write_task_txn(txn).await;
                if written.is_ok() {
                    tracing::info!(%task, sources = ?sources, "subtasks started");
                }
                answer_with(reply, written.map(|()| sources))
            }
            Request::OperateTask {
                task,
                sources,
                op,
                reply,
            } => {
                let planned = match self.task_subtasks(&task).await {
                    Ok((configured, staged)) => {
                        let configured: BTreeSet<String> = configured.into_keys().collect();
                        plan_operate(&task, &sources, &configured, &staged).map_err(Error::from)
                    }
                    Err(e) => Err(e),
                };
                let sources = match planned {
                    Ok(Some(sources)) => sources,
                    other => {
                        let _ = reply.send(other);
                        return Ok(());
                    }
                };
                let txn = match op {
                    TaskStageOp::Pause => {
                        ha::put_subtask_stages_txn(&self.space, &task, &sources, StageKind::Paused)
                    }
                    TaskStageOp::Resume => {
                        ha::put_subtask_stages_txn(&self.space, &task, &sources, StageKind::Running)
                    }
                    TaskStageOp::Delete => ha::delete_subtasks_txn(&self.space, &task, &sources),
                };
                let written = self.write_task_txn(txn).await;
                if written.is_ok() {
                    tracing::info!(%task, sources = ?sources, ?op, "subtasks operated");
                }
                answer_with(reply, written.map(|()| Some(sources)))
            }
            Request::SubTaskConfigs { task, reply } => {
                let configs = self.task_subtasks(&task).await.map(|(c, _)| c);
                let _ = reply.send(configs);
                Ok(())
            }
            Request::AllSubTasks { reply } => {
                let all = self
                    .etcd
                    .get_prefix(&self.space.path(&UPSTREAM_SUBTASK))
                    .await
                    .map(|kvs| {
                        kvs.value
                            .iter()
                            .filter_map(|kv| self.space.decode(&UPSTREAM_SUBTASK, &kv.key).ok())
                            .map(|[source, task]| (source, task))
                            .collect()
                    });
                let _ = reply.send(all);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The task's stored subtask configs (source → TOML) and the sources
    /// with a subtask stage, read at one revision.
    async fn task_subtasks(
        &self,
        task: &str,
    ) -> Result<(BTreeMap<String, Vec<u8>>, BTreeSet<String>)> {
        let reads = Txn::new("task subtasks").then([
            Op::get_prefix(self.space.path(&UPSTREAM_SUBTASK)),
            Op::get_prefix(self.space.path(&STAGE_SUBTASK)),
        ]);
        let outcome = self.etcd.txn_fenced(reads, self.fence.as_ref()).await?;
        let mut configs = BTreeMap::new();
        for kv in outcome.get_result(0) {
            if let Ok([source, name]) = self.space.decode(&UPSTREAM_SUBTASK, &kv.key) {
                if name == task {
                    configs.insert(source, kv.value.clone());
                }
            }
        }
        let staged = outcome
            .get_result(1)
            .iter()
            .filter_map(|kv| self.space.decode(&STAGE_SUBTASK, &kv.key).ok())
            .filter(|[_, name]| name == task)
            .map(|[source, _]| source)
            .collect();
        Ok((configs, staged))
    }

    /// Writes one subtask txn with the fence; memory holds no subtask
    /// state, so a failure needs no rebuild.
    async fn write_task_txn(&self, txn: Txn) -> Result<()> {
        match self.etcd.txn_fenced(txn, self.fence.as_ref()).await {
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::warn!(%error, "subtask write failed");
                self.metrics
                    .worker_event_error
                    .with_label_values(&[EVENT_ERROR_HANDLE])
                    .inc();
                Err(error)
            }
        }
    }

    /// Tasks with a subtask config for `source` (read at request time: the
    /// task half of the scheduler writes them).
    async fn tasks_of_source(&self, source: &str) -> Result<BTreeSet<String>> {
        let prefix = self.space.prefix(&UPSTREAM_SUBTASK, &[source]);
        let kvs = self.etcd.get_prefix(&prefix).await?;
        Ok(kvs
            .value
            .iter()
            .filter_map(|kv| self.space.decode(&UPSTREAM_SUBTASK, &kv.key).ok())
            .map(|[_, task]| task)
            .collect())
    }

    /// Writes the effects in order, each as one fenced txn, then publishes
    /// the workers' stages.
    async fn apply(&mut self, effects: Vec<Effect>) -> Result<()> {
        let mut result = Ok(());
        for effect in effects {
            let txn = self.txn_of(&effect);
            if let Err(error) = self.etcd.txn_fenced(txn, self.fence.as_ref()).await {
                tracing::warn!(%error, ?effect, "scheduler write failed");
                self.metrics
                    .worker_event_error
                    .with_label_values(&[EVENT_ERROR_HANDLE])
                    .inc();
                self.stale = true;
                result = Err(error);
                break;
            }
            match &effect {
                Effect::PutBounds(bounds) => {
                    for b in bounds {
                        tracing::info!(source = %b.source, worker = %b.worker, "source bound");
                    }
                }
                Effect::DeleteBounds(workers) => {
                    for w in workers {
                        tracing::info!(worker = %w, "source unbound");
                    }
                }
                _ => {}
            }
        }
        self.publish_metrics();
        result
    }

    fn txn_of(&self, effect: &Effect) -> Txn {
        let space = &self.space;
        match effect {
            Effect::Register(info) => ha::register_worker_txn(space, info),
            Effect::OfflineWorker(worker) => ha::offline_worker_txn(space, worker),
            Effect::PutSource { source, toml } => ha::put_source_txn(space, source, toml),
            Effect::PutBounds(bounds) => ha::put_bounds_txn(space, bounds),
            Effect::DeleteBounds(workers) => ha::delete_bounds_txn(space, workers),
            Effect::RemoveSource {
                source,
                bound_worker,
            } => ha::remove_source_txn(space, source, bound_worker),
        }
    }

    fn publish_metrics(&self) {
        for worker in self.state.workers() {
            self.metrics
                .worker_state
                .with_label_values(&[&worker.name])
                .set(worker.stage.metric_value());
        }
    }

    fn report_watch_error(&self, kv: &KeyValue, error: &dyn std::fmt::Display) {
        self.metrics
            .worker_event_error
            .with_label_values(&[EVENT_ERROR_WATCH])
            .inc();
        tracing::warn!(key = %kv.key_str(), %error, "malformed keep-alive value skipped");
    }

    fn alive_names(&self, kvs: &[KeyValue]) -> BTreeSet<String> {
        kvs.iter()
            .filter_map(|kv| match WorkerEvent::decode(&kv.value) {
                Ok(ev) => Some(ev.worker_name),
                Err(error) => {
                    self.report_watch_error(kv, &error);
                    None
                }
            })
            .collect()
    }

    /// Rebuilds until it succeeds (bounded backoff) or the term ends;
    /// returns the snapshot revision, or `None` when cancelled.
    async fn rebuild_until_done(&mut self, cancel: &CancellationToken) -> Result<Option<i64>> {
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(3));
        loop {
            match self.rebuild().await {
                Ok(revision) => return Ok(Some(revision)),
                Err(error @ Error::LeadershipLost { .. }) => return Err(error),
                Err(error) => {
                    tracing::warn!(%error, "scheduler rebuild failed, retrying");
                    tokio::select! {
                        _ = cancel.cancelled() => return Ok(None),
                        _ = tokio::time::sleep(backoff.next_delay()) => {}
                    }
                }
            }
        }
    }

    /// Reads everything at one revision, rebuilds the state, writes the
    /// rebuild's effects. Returns the snapshot revision.
    async fn rebuild(&mut self) -> Result<i64> {
        let space = &self.space;
        let reads = Txn::new("scheduler snapshot").then([
            Op::get_prefix(space.path(&WORKER_REGISTER)),
            Op::get_prefix(space.path(&WORKER_KEEP_ALIVE)),
            Op::get_prefix(space.path(&BOUND_WORKER)),
            Op::get_prefix(space.path(&LAST_BOUND_WORKER)),
            Op::get_prefix(space.path(&UPSTREAM_CONFIG)),
        ]);
        let outcome = self.etcd.txn_fenced(reads, self.fence.as_ref()).await?;
        let revision = outcome.revision;
        let mut snapshot = Snapshot::default();
        for kv in outcome.get_result(0) {
            match (
                self.space.decode(&WORKER_REGISTER, &kv.key),
                WorkerInfo::decode(&kv.value),
            ) {
                (Ok([name]), Ok(info)) if info.name == name => snapshot.workers.push(info),
                _ => tracing::warn!(key = %kv.key_str(), "malformed worker registration skipped"),
            }
        }
        snapshot.alive = self.alive_names(outcome.get_result(1));
        let decode_bounds = |kvs: &[KeyValue], invalid: &mut Vec<String>| {
            let mut out = Vec::new();
            for kv in kvs {
                let Ok([worker]) = self
                    .space
                    .decode(&BOUND_WORKER, &kv.key)
                    .or_else(|_| self.space.decode(&LAST_BOUND_WORKER, &kv.key))
                else {
                    tracing::warn!(key = %kv.key_str(), "undecodable bound key skipped");
                    continue;
                };
                match SourceBound::decode(&kv.value) {
                    // A bound naming another worker reads as missing to a Go
                    // worker: treat it so.
                    Ok(bound) if bound.worker == worker => out.push(bound),
                    _ => {
                        tracing::warn!(key = %kv.key_str(), %worker, "malformed bound");
                        invalid.push(worker);
                    }
                }
            }
            out
        };
        let mut invalid = Vec::new();
        snapshot.bounds = decode_bounds(outcome.get_result(2), &mut invalid);
        snapshot.invalid_bounds = invalid;
        snapshot.last_bounds = decode_bounds(outcome.get_result(3), &mut Vec::new());
        let mut sources = BTreeMap::new();
        for kv in outcome.get_result(4) {
            match self.space.decode(&UPSTREAM_CONFIG, &kv.key) {
                Ok([source]) => {
                    sources.insert(source, kv.value.clone());
                }
                Err(error) => {
                    tracing::warn!(key = %kv.key_str(), %error, "undecodable source config key skipped")
                }
            }
        }
        snapshot.sources = sources;
        let (state, effects) = Scheduler::rebuild(snapshot);
        self.state = state;
        self.stale = false;
        self.metrics.worker_state.reset();
        self.apply(effects).await?;
        let workers = self.state.workers();
        tracing::info!(
            revision,
            workers = workers.len(),
            bound = workers.iter().filter(|w| !w.source.is_empty()).count(),
            sources = self.state.source_ids().len(),
            "scheduler rebuilt"
        );
        Ok(revision)
    }
}

/// [`answer`] for a write whose success carries a value.
fn answer_with<T>(reply: oneshot::Sender<Result<T>>, written: Result<T>) -> Result<()> {
    match written {
        Err(error @ Error::LeadershipLost { .. }) => {
            let _ = reply.send(Err(Error::NotLeader));
            Err(error)
        }
        other => {
            let _ = reply.send(other);
            Ok(())
        }
    }
}

/// Sends the outcome of a write to the requester; a leadership loss is also
/// returned to the loop, which ends the term.
fn answer(reply: oneshot::Sender<Result<()>>, written: Result<()>) -> Result<()> {
    match written {
        Err(error @ Error::LeadershipLost { .. }) => {
            let _ = reply.send(Err(Error::NotLeader));
            Err(error)
        }
        other => {
            let _ = reply.send(other);
            Ok(())
        }
    }
}
