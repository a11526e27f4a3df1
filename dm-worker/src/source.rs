//! The source actor of a joined worker: follows the worker's bound key
//! (`/dm-master/bound-worker/<hex worker>`) and, while bound, its source's
//! subtask configs and stages, keeping a [`SubtaskView`] and driving a
//! [`SubtaskRunner`].
//!
//! One actor, one closed [`Event`] enum: the bound watcher, the stage
//! watcher of the current source, the keep-alive and `QueryStatus` all reach
//! it as events, so the view is only ever touched here.
//!
//! **Invariants** (DM's `dm/worker/server.go`, `source_worker.go`):
//! * the bound key is read once, then watched from that read's revision + 1;
//! * enabling a source reads its stages and configs in one txn, then
//!   watches the stage prefix from that txn's revision + 1;
//! * a bound for another source while one is handled is refused (40071) and
//!   the current source kept; a bound naming another worker reads as absent;
//! * losing the keep-alive or the bound removes every subtask;
//! * a malformed value is logged and skipped; the loop never stops on one.

use dm_master::etcd::watch::{WatchEvent, Watcher};
use dm_master::etcd::{Etcd, KeyValue, Op, Txn};
use dm_master::task_config::SubTaskConfig;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::error::Error;
use crate::ha::{HaKeys, SourceBound, Stage, StageRecord};
use crate::subtasks::{Change, RunStatus, Subtask, SubtaskRunner, SubtaskView};

/// Everything the source actor reacts to.
#[derive(Debug)]
pub enum Event {
    /// A change of the worker's bound key.
    Bound(WatchEvent),
    /// A change under the stage prefix of the source enabled as
    /// `generation` (events of an earlier source are dropped).
    Stage { generation: u64, event: WatchEvent },
    /// The keep-alive lease was lost: stop the source as DM does.
    KeepAliveLost,
    /// `QueryStatus`: the current status.
    Query(oneshot::Sender<Status>),
}

/// The worker's status, as `QueryStatus` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The source handled now; `None` when unbound.
    pub source: Option<String>,
    /// One entry per subtask, sorted by task name.
    pub subtasks: Vec<SubtaskStatus>,
}

/// One subtask in [`Status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubtaskStatus {
    pub task: String,
    /// The runner's view, or the expected stage when it has none.
    pub run: RunStatus,
}

/// A cheap handle to send events to the actor.
#[derive(Debug, Clone)]
pub struct Handle {
    events: mpsc::Sender<Event>,
}

impl Handle {
    /// The worker's status, or `None` when the actor has stopped.
    pub async fn status(&self) -> Option<Status> {
        let (tx, rx) = oneshot::channel();
        self.events.send(Event::Query(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Tells the actor the keep-alive lease was lost.
    pub async fn keep_alive_lost(&self) {
        let _ = self.events.send(Event::KeepAliveLost).await;
    }
}

/// The source currently handled.
struct Enabled {
    source: String,
    /// Tags this source's stage events.
    generation: u64,
    /// Stops this source's stage watcher.
    cancel: CancellationToken,
}

/// The actor's state.
pub struct SourceActor {
    etcd: Etcd,
    keys: HaKeys,
    worker: String,
    runner: Box<dyn SubtaskRunner>,
    view: SubtaskView,
    enabled: Option<Enabled>,
    generation: u64,
    /// Where the stage watchers deliver, wrapped in [`Event::Stage`].
    events: mpsc::Sender<Event>,
    cancel: CancellationToken,
}

impl SourceActor {
    /// Reads the bound key, enables its source if bound, then spawns the
    /// actor and the bound watcher. Fails only when the first read fails
    /// (DM's worker then fails to start).
    pub async fn spawn(
        etcd: Etcd,
        keys: HaKeys,
        worker: &str,
        runner: Box<dyn SubtaskRunner>,
        cancel: CancellationToken,
    ) -> crate::Result<Handle> {
        let (tx, rx) = mpsc::channel(256);
        let mut actor = SourceActor {
            etcd: etcd.clone(),
            keys,
            worker: worker.to_owned(),
            runner,
            view: SubtaskView::default(),
            enabled: None,
            generation: 0,
            events: tx.clone(),
            cancel: cancel.clone(),
        };
        let bound_key = actor.keys.bound(worker);
        let first = etcd.get(bound_key.clone()).await?;
        if let Some(kv) = &first.value {
            // DM's GetSourceBoundConfig: a bound of ours without its source
            // config fails the start (20036).
            if let Ok(bound) = SourceBound::decode(&kv.value) {
                let config = etcd.get(actor.keys.source_config(&bound.source)).await?;
                if bound.worker == worker && config.value.is_none() {
                    return Err(Error::ConfigMissingForBound {
                        bound: String::from_utf8_lossy(&bound.encode()).into_owned(),
                    });
                }
            }
            actor.on_bound_put(kv).await;
        } else {
            info!(worker = %worker, "no source bound yet");
        }
        let (bound_tx, mut bound_rx) = mpsc::channel(16);
        let watcher = Watcher::key_after(etcd, bound_key, first.revision);
        tokio::spawn(watcher.run(bound_tx, cancel.clone()));
        let forward = tx.clone();
        tokio::spawn(async move {
            while let Some(event) = bound_rx.recv().await {
                if forward.send(Event::Bound(event)).await.is_err() {
                    break;
                }
            }
        });
        tokio::spawn(actor.run(rx));
        Ok(Handle { events: tx })
    }

    async fn run(mut self, mut events: mpsc::Receiver<Event>) {
        loop {
            let event = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => break,
                event = events.recv() => match event {
                    Some(e) => e,
                    None => break,
                },
            };
            self.on_event(event).await;
        }
        self.disable("worker stopping");
    }

    async fn on_event(&mut self, event: Event) {
        match event {
            Event::Bound(WatchEvent::Put(kv)) => self.on_bound_put(&kv).await,
            Event::Bound(WatchEvent::Delete { .. }) => self.disable("source unbound"),
            Event::Bound(WatchEvent::Resynced(snapshot)) => match snapshot.value.first() {
                Some(kv) => self.on_bound_put(kv).await,
                None => self.disable("source unbound"),
            },
            Event::Stage { generation, event } => {
                if self.enabled.as_ref().map(|e| e.generation) == Some(generation) {
                    self.on_stage(event).await;
                }
            }
            Event::KeepAliveLost => self.disable("keep-alive lost"),
            Event::Query(reply) => {
                let _ = reply.send(self.status());
            }
        }
    }

    fn status(&self) -> Status {
        Status {
            source: self.enabled.as_ref().map(|e| e.source.clone()),
            subtasks: self
                .view
                .subtasks()
                .map(|s| SubtaskStatus {
                    task: s.task.clone(),
                    run: self.runner.status(&s.task).unwrap_or(RunStatus {
                        stage: s.expected,
                        ..RunStatus::default()
                    }),
                })
                .collect(),
        }
    }

    async fn on_bound_put(&mut self, kv: &KeyValue) {
        let bound = match SourceBound::decode(&kv.value) {
            Ok(b) => b,
            Err(e) => {
                error!(worker = %self.worker, revision = kv.mod_revision, error = %e, "bound value does not decode, ignored");
                return;
            }
        };
        if bound.worker != self.worker {
            // DM's readers index bounds by the value's worker: another
            // worker's name here means "not bound to us".
            warn!(worker = %self.worker, bound_worker = %bound.worker, source = %bound.source, "bound names another worker, treated as unbound");
            self.disable("source unbound");
            return;
        }
        if let Some(current) = &self.enabled {
            if current.source == bound.source {
                return;
            }
            let e = Error::AlreadyStarted {
                worker: self.worker.clone(),
                current: current.source.clone(),
                requested: bound.source.clone(),
            };
            error!(worker = %self.worker, source = %bound.source, error = %e.dm_string(), "bound to another source while one is handled");
            return;
        }
        self.enable(&bound.source).await;
    }

    /// Starts handling `source`: reads its stages and configs at one
    /// revision, then watches its stages from the next one.
    async fn enable(&mut self, source: &str) {
        match self.etcd.get(self.keys.source_config(source)).await {
            Ok(found) if found.value.is_none() => {
                // DM's ErrConfigMissingForBound (20036).
                error!(worker = %self.worker, source = %source, "source bound {source} doesn't have related source config in etcd");
            }
            Ok(_) => {}
            Err(e) => {
                error!(worker = %self.worker, source = %source, error = %e, "reading the source config failed");
            }
        }
        let stage_prefix = self.keys.subtask_stage_prefix(source);
        let config_prefix = self.keys.subtask_config_prefix(source);
        let read = Txn::new("get subtask stages and configs").then([
            Op::get_prefix(stage_prefix.clone()),
            Op::get_prefix(config_prefix.clone()),
        ]);
        let outcome = loop {
            match self.etcd.txn(read.clone()).await {
                Ok(outcome) => break outcome,
                Err(e) => {
                    warn!(worker = %self.worker, source = %source, error = %e, "reading subtasks failed, retrying");
                    tokio::select! {
                        _ = self.cancel.cancelled() => return,
                        _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    }
                }
            }
        };
        self.generation += 1;
        let cancel = self.cancel.child_token();
        let enabled = Enabled {
            source: source.to_owned(),
            generation: self.generation,
            cancel: cancel.clone(),
        };
        info!(worker = %self.worker, source = %source, revision = outcome.revision, "source bound, handling its subtasks");
        let subtasks = self.subtasks_from(source, outcome.get_result(0), outcome.get_result(1));
        self.enabled = Some(enabled);
        let changes = self.view.replace(subtasks);
        self.report(changes);
        self.spawn_stage_watcher(stage_prefix, outcome.revision, cancel);
    }

    fn spawn_stage_watcher(&self, prefix: String, revision: i64, cancel: CancellationToken) {
        let (tx, mut rx) = mpsc::channel(64);
        tokio::spawn(Watcher::after(self.etcd.clone(), prefix, revision).run(tx, cancel));
        let forward = self.events.clone();
        let generation = self.generation;
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                if forward
                    .send(Event::Stage { generation, event })
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
    }

    /// Subtasks from one read of a source's stages and configs: one per
    /// config, with its stage or `InvalidStage` when it has none.
    fn subtasks_from(
        &self,
        source: &str,
        stages: &[KeyValue],
        configs: &[KeyValue],
    ) -> Vec<Subtask> {
        let mut expected = std::collections::BTreeMap::new();
        for kv in stages {
            if let Some((task, stage)) = self.decode_stage(source, kv) {
                expected.insert(task, stage);
            }
        }
        configs
            .iter()
            .filter_map(|kv| {
                let task = self.keys.config_task(source, &kv.key)?;
                let stage = expected.get(&task).copied().unwrap_or(Stage::Invalid);
                self.subtask(source, &task, stage, &kv.value)
            })
            .collect()
    }

    fn decode_stage(&self, source: &str, kv: &KeyValue) -> Option<(String, Stage)> {
        let task = self.keys.stage_task(source, &kv.key)?;
        match StageRecord::decode(&kv.value) {
            Ok(r) if r.source == source && r.task == task => Some((task, r.expect)),
            Ok(r) => {
                warn!(worker = %self.worker, source = %source, task = %task, value_source = %r.source, value_task = %r.task, "stage value names another subtask, ignored");
                None
            }
            Err(e) => {
                error!(worker = %self.worker, source = %source, task = %task, error = %e, "stage value does not decode, ignored");
                None
            }
        }
    }

    fn subtask(&self, source: &str, task: &str, expected: Stage, toml: &[u8]) -> Option<Subtask> {
        let text = String::from_utf8_lossy(toml).into_owned();
        match SubTaskConfig::from_toml(&text) {
            Ok(config) if config.source_id == source && config.name == task => Some(Subtask {
                task: task.to_owned(),
                source: source.to_owned(),
                expected,
                config,
                config_toml: text,
            }),
            Ok(config) => {
                warn!(worker = %self.worker, source = %source, task = %task, config_source = %config.source_id, config_task = %config.name, "subtask config names another subtask, ignored");
                None
            }
            Err(e) => {
                error!(worker = %self.worker, source = %source, task = %task, error = %e, "subtask config does not decode, ignored");
                None
            }
        }
    }

    async fn on_stage(&mut self, event: WatchEvent) {
        let Some(source) = self.enabled.as_ref().map(|e| e.source.clone()) else {
            return;
        };
        match event {
            WatchEvent::Put(kv) => {
                let Some((task, stage)) = self.decode_stage(&source, &kv) else {
                    return;
                };
                if self.view.get(&task).is_some() {
                    match self.view.set_stage(&task, stage) {
                        Change::Unchanged => {
                            // The same stage put again (a resume of a
                            // subtask that failed while expected running):
                            // the runner decides what it means.
                            if let Some(subtask) = self.view.get(&task).cloned() {
                                info!(worker = %self.worker, source = %source, task = %task, stage = %stage, "subtask expected stage put again");
                                self.runner.apply(&subtask);
                            }
                        }
                        change => self.report(vec![change]),
                    }
                    return;
                }
                // A new subtask: its config was put no later than its stage.
                let key = self.keys.subtask_config(&source, &task);
                match get_retrying(&self.etcd, &self.cancel, &self.worker, key).await {
                    Ok(found) => match found.value {
                        Some(cfg) => {
                            if let Some(subtask) = self.subtask(&source, &task, stage, &cfg.value) {
                                let change = self.view.upsert(subtask);
                                self.report(vec![change]);
                            }
                        }
                        None => {
                            warn!(worker = %self.worker, source = %source, task = %task, stage = %stage, "stage without a subtask config, ignored");
                        }
                    },
                    Err(e) => {
                        error!(worker = %self.worker, source = %source, task = %task, error = %e, "reading the subtask config failed");
                    }
                }
            }
            WatchEvent::Delete { key, .. } => {
                let Some(task) = self.keys.stage_task(&source, &key) else {
                    return;
                };
                let change = self.view.remove(&task);
                if change == Change::Unchanged {
                    warn!(worker = %self.worker, source = %source, task = %task, "stage deleted for a subtask not handled");
                }
                self.report(vec![change]);
            }
            WatchEvent::Resynced(_) => {
                // The stage history was compacted: read stages and configs
                // again, as when the source was enabled.
                if let Some(enabled) = self.enabled.take() {
                    enabled.cancel.cancel();
                }
                self.enable(&source).await;
            }
        }
    }

    /// Stops handling the current source (if any) and removes its subtasks.
    fn disable(&mut self, why: &'static str) {
        let Some(enabled) = self.enabled.take() else {
            return;
        };
        enabled.cancel.cancel();
        info!(worker = %self.worker, source = %enabled.source, reason = why, "stopped handling the source");
        let changes = self.view.clear();
        self.report(changes);
    }

    /// Logs the changes and hands them to the runner.
    fn report(&mut self, changes: Vec<Change>) {
        for change in changes {
            match change {
                Change::Added(s) => {
                    info!(worker = %self.worker, source = %s.source, task = %s.task, stage = %s.expected, "subtask added");
                    self.runner.apply(&s);
                }
                Change::Updated(s) => {
                    info!(worker = %self.worker, source = %s.source, task = %s.task, stage = %s.expected, "subtask expected stage changed");
                    self.runner.apply(&s);
                }
                Change::Removed(task) => {
                    info!(worker = %self.worker, task = %task, "subtask removed");
                    self.runner.remove(&task);
                }
                Change::Unchanged => {}
            }
        }
    }
}

/// A read that rides out a master going away (the etcd client then
/// reaches the other masters): retried with backoff while the error is
/// retryable and the worker runs.
async fn get_retrying(
    etcd: &Etcd,
    cancel: &CancellationToken,
    worker: &str,
    key: String,
) -> dm_master::Result<dm_master::etcd::WithRevision<Option<KeyValue>>> {
    let mut backoff = dm_master::etcd::retry::Backoff::for_watch();
    loop {
        match etcd.get(key.clone()).await {
            Err(e) if e.is_retryable() && !cancel.is_cancelled() => {
                let delay = backoff.next_delay();
                warn!(worker = %worker, key = %key, error = %e, retry_after = ?delay, "etcd read failed, retrying");
                tokio::select! {
                    _ = cancel.cancelled() => return Err(e),
                    _ = tokio::time::sleep(delay) => {}
                }
            }
            other => return other,
        }
    }
}
