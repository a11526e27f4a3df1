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
//!
//! Files: this one holds the actor, its event loop and the effects it
//! writes; `admin` the handle and worker/source requests; `tasks` the task
//! requests; `rebuild` the one-revision rebuild.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{start_actor, unless_term_ends, ActorContext, CHANNEL_CAPACITY};
use crate::error::{Error, Result};
use crate::etcd::retry::Backoff;
use crate::etcd::watch::{WatchEvent, Watcher};
use crate::etcd::{Etcd, KeyValue, Op, Txn};
use crate::ha::{self, SourceBound, StageKind, WorkerEvent, WorkerInfo};
use crate::keys::{
    KeySpace, BOUND_WORKER, LAST_BOUND_WORKER, STAGE_SUBTASK, UPSTREAM_CONFIG, UPSTREAM_SUBTASK,
    WORKER_KEEP_ALIVE, WORKER_REGISTER,
};
use crate::scheduler::subtasks::{plan_operate, plan_start};
pub use crate::scheduler::subtasks::{NewSubTask, TaskStageOp};
use crate::scheduler::{Effect, Registered, Scheduler, SchedulerError, Snapshot, WorkerView};

/// `dm_master_worker_event_error{type}` values.
const EVENT_ERROR_HANDLE: &str = "handle";

const EVENT_ERROR_WATCH: &str = "watch";

mod admin;
mod rebuild;
mod tasks;

pub use admin::SchedulerHandle;
use admin::{not_started, Request};
use tasks::answer;

/// One source config to add: its ID and the TOML to store.
#[derive(Debug, Clone)]
pub struct NewSource {
    pub id: String,
    pub toml: Vec<u8>,
}

/// Everything the actor reacts to.
enum Event {
    /// A change under `/dm-worker/a/`, or a fresh snapshot of it.
    KeepAlive(WatchEvent),
    /// An admin request.
    Request(Request),
}

/// The actor.
pub struct SchedulerActor {
    /// etcd, key space, the term's leader fence (every write compares it)
    /// and metrics.
    ctx: ActorContext,
    state: Scheduler,
    /// A write failed after the state changed: rebuild before the next event.
    stale: bool,
}

impl SchedulerActor {
    /// Starts the scheduler of one term. Its handle answers once the
    /// rebuild is done (requests wait in the mailbox meanwhile).
    pub fn spawn(
        ctx: ActorContext,
        tracker: &TaskTracker,
        cancel: CancellationToken,
    ) -> SchedulerHandle {
        let actor = SchedulerActor {
            ctx: ctx.clone(),
            state: Scheduler::default(),
            stale: false,
        };
        let mailbox = start_actor(
            "scheduler",
            tracker,
            cancel,
            not_started,
            |requests, tracker, cancel| actor.run(requests, tracker, cancel),
        );
        SchedulerHandle {
            mailbox,
            etcd: Arc::new(ctx.etcd),
            space: ctx.space,
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
                self.ctx.etcd.clone(),
                self.ctx.space.path(&WORKER_KEEP_ALIVE),
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
            let result = self.on_event(event).await;
            unless_term_ends("scheduler", "step", result)?;
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
                match self.ctx.space.decode(&WORKER_KEEP_ALIVE, &key) {
                    Ok([worker]) => match self.state.worker_offline(&worker) {
                        Some(effects) => {
                            tracing::info!(%worker, "worker offline");
                            self.apply(effects).await
                        }
                        None => Ok(()),
                    },
                    Err(error) => {
                        self.ctx
                            .metrics
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

    /// Writes the effects in order, each as one fenced txn, then publishes
    /// the workers' stages.
    async fn apply(&mut self, effects: Vec<Effect>) -> Result<()> {
        let mut result = Ok(());
        for effect in effects {
            let txn = self.txn_of(&effect);
            if let Err(error) = self.ctx.etcd.txn_fenced(txn, self.ctx.fence.as_ref()).await {
                tracing::warn!(%error, ?effect, "scheduler write failed");
                self.ctx
                    .metrics
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
        let space = &self.ctx.space;
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
            self.ctx
                .metrics
                .worker_state
                .with_label_values(&[&worker.name])
                .set(worker.stage.metric_value());
        }
    }

    fn report_watch_error(&self, kv: &KeyValue, error: &dyn std::fmt::Display) {
        self.ctx
            .metrics
            .worker_event_error
            .with_label_values(&[EVENT_ERROR_WATCH])
            .inc();
        tracing::warn!(key = %kv.key_str(), %error, "malformed keep-alive value skipped");
    }
}
