//! The scheduler's pure core (DM's `dm/master/scheduler`): registered
//! workers and their stage, source configs, bounds and last-bounds, and DM's
//! binding policy.
//!
//! PURE: no async, no I/O. Every operation changes the state and returns the
//! etcd writes ([`Effect`]s) that make etcd match it, in order. The actor
//! writes them; when a write fails it rebuilds this state from a fresh etcd
//! snapshot, so memory never stays ahead of etcd (DM writes first and then
//! changes memory; the outcome is the same).
//!
//! Invariants:
//! - A source with a config is bound to at most one worker, and a worker
//!   serves at most one source (`bounds` and the workers' `bound` agree).
//! - Only an online worker (keep-alive key present) is bound.
//! - A bound write always carries the last-bound key with the same bytes; an
//!   unbind never deletes last-bound (except stop-source, as DM).
//! - Iteration is in name order, so decisions are deterministic where DM's
//!   follow Go's map order.
//!
//! Relay is not supported: no relay stage or relay-worker key is ever
//! written, so no worker is ever in DM's `relay` stage.

pub mod error;
pub mod subtasks;

use std::collections::{BTreeMap, BTreeSet};

pub use error::SchedulerError;

use crate::ha::{SourceBound, WorkerInfo};

/// A registered worker's stage (DM `dm/master/scheduler/worker.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerStage {
    /// Registered, no keep-alive key.
    Offline,
    /// Keep-alive key present, no source.
    Free,
    /// Keep-alive key present, serving a source.
    Bound,
}

impl WorkerStage {
    /// The name `list-member` prints.
    pub fn name(self) -> &'static str {
        match self {
            WorkerStage::Offline => "offline",
            WorkerStage::Free => "free",
            WorkerStage::Bound => "bound",
        }
    }

    /// The value of `dm_master_worker_state{worker}`.
    pub fn metric_value(self) -> f64 {
        match self {
            WorkerStage::Offline => 0.0,
            WorkerStage::Free => 1.0,
            WorkerStage::Bound => 2.0,
        }
    }
}

/// One etcd write the actor must perform (docs/protocol.md#scheduler-txns), in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// T-register.
    Register(WorkerInfo),
    /// T-offline-worker.
    OfflineWorker(String),
    /// T-put-source.
    PutSource { source: String, toml: Vec<u8> },
    /// T-bound: bound and last-bound of each.
    PutBounds(Vec<SourceBound>),
    /// T-unbound: the bound keys of these workers.
    DeleteBounds(Vec<String>),
    /// T-remove-source; `bound_worker` is `""` when the source was unbound.
    RemoveSource {
        source: String,
        bound_worker: String,
    },
}

/// What `list-member` shows of one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerView {
    pub name: String,
    pub addr: String,
    pub stage: WorkerStage,
    /// The bound source, empty unless bound.
    pub source: String,
}

/// Everything the scheduler is rebuilt from, read at one etcd revision.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// `/dm-worker/r/`.
    pub workers: Vec<WorkerInfo>,
    /// Names of the workers whose keep-alive key exists.
    pub alive: BTreeSet<String>,
    /// `/dm-master/bound-worker/`, decoded, identity checked by the caller.
    pub bounds: Vec<SourceBound>,
    /// Workers whose bound key is unusable (value names another worker, or
    /// does not decode): deleted at rebuild.
    pub invalid_bounds: Vec<String>,
    /// `/dm-master/last-bound-worker/`.
    pub last_bounds: Vec<SourceBound>,
    /// Source ID → stored config TOML.
    pub sources: BTreeMap<String, Vec<u8>>,
}

/// Outcome of RegisterWorker when it succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    /// Known with the same address: nothing written (a restarting worker).
    Already,
    /// New: the [`Effect::Register`] write is returned with it.
    New(Vec<Effect>),
}

#[derive(Debug, Clone)]
struct Worker {
    info: WorkerInfo,
    stage: WorkerStage,
    /// The source served, when `stage` is `Bound`.
    bound: Option<String>,
}

/// The scheduler state of one leader term.
#[derive(Debug, Clone, Default)]
pub struct Scheduler {
    workers: BTreeMap<String, Worker>,
    /// Source ID → config TOML.
    sources: BTreeMap<String, Vec<u8>>,
    /// Source → bound worker.
    bounds: BTreeMap<String, String>,
    /// Worker → the source it was last bound to (kept on unbind).
    last_bound: BTreeMap<String, String>,
}

impl Scheduler {
    /// Rebuilds from one snapshot (DM `recoverWorkersBounds` + the first
    /// binding round): every bound that still holds (worker registered and
    /// alive, source configured, source not already taken) is kept and
    /// re-put so workers see a fresh PUT; every other stored bound is
    /// deleted; then every free worker is offered an unbound source. Unlike
    /// DM (DM gap S4 in docs/dm-gaps.md) the round does not stop at the first worker left without
    /// a source.
    pub fn rebuild(snapshot: Snapshot) -> (Scheduler, Vec<Effect>) {
        let mut state = Scheduler {
            sources: snapshot.sources,
            ..Scheduler::default()
        };
        for info in snapshot.workers {
            let stage = if snapshot.alive.contains(&info.name) {
                WorkerStage::Free
            } else {
                WorkerStage::Offline
            };
            state.workers.insert(
                info.name.clone(),
                Worker {
                    info,
                    stage,
                    bound: None,
                },
            );
        }
        for last in snapshot.last_bounds {
            state.last_bound.insert(last.worker, last.source);
        }
        let mut kept = Vec::new();
        let mut stale: Vec<String> = snapshot.invalid_bounds;
        for bound in snapshot.bounds {
            let holds = state.sources.contains_key(&bound.source)
                && !state.bounds.contains_key(&bound.source)
                && state
                    .workers
                    .get(&bound.worker)
                    .is_some_and(|w| w.stage == WorkerStage::Free);
            if holds {
                state.set_bound(&bound.source, &bound.worker);
                kept.push(bound);
            } else {
                stale.push(bound.worker);
            }
        }
        let mut effects = Vec::new();
        if !stale.is_empty() {
            effects.push(Effect::DeleteBounds(stale));
        }
        if !kept.is_empty() {
            effects.push(Effect::PutBounds(kept));
        }
        let free: Vec<String> = state
            .workers
            .values()
            .filter(|w| w.stage == WorkerStage::Free)
            .map(|w| w.info.name.clone())
            .collect();
        for worker in free {
            state.try_bound_for_worker(&worker, &mut effects);
        }
        (state, effects)
    }

    // ---- queries ----

    /// Every registered worker, by name.
    pub fn workers(&self) -> Vec<WorkerView> {
        self.workers
            .values()
            .map(|w| WorkerView {
                name: w.info.name.clone(),
                addr: w.info.addr.clone(),
                stage: w.stage,
                source: w.bound.clone().unwrap_or_default(),
            })
            .collect()
    }

    /// Configured source IDs, by name.
    pub fn source_ids(&self) -> Vec<String> {
        self.sources.keys().cloned().collect()
    }

    /// The stored TOML of a source.
    pub fn source_config(&self, source: &str) -> Option<&[u8]> {
        self.sources.get(source).map(Vec::as_slice)
    }

    /// The worker a source is bound to, with its address.
    pub fn worker_of(&self, source: &str) -> Option<WorkerInfo> {
        let name = self.bounds.get(source)?;
        self.workers.get(name).map(|w| w.info.clone())
    }

    /// The source a worker last served.
    pub fn last_bound(&self, worker: &str) -> Option<&str> {
        self.last_bound.get(worker).map(String::as_str)
    }

    // ---- workers ----

    /// RegisterWorker (DM `AddWorker`).
    pub fn register(&mut self, name: &str, addr: &str) -> Result<Registered, SchedulerError> {
        if let Some(known) = self.workers.get(name) {
            if known.info.addr == addr {
                return Ok(Registered::Already);
            }
            return Err(SchedulerError::WorkerExists {
                info_json: known.info.json(),
            });
        }
        let info = WorkerInfo::new(name, addr);
        self.workers.insert(
            name.to_owned(),
            Worker {
                info: info.clone(),
                stage: WorkerStage::Offline,
                bound: None,
            },
        );
        Ok(Registered::New(vec![Effect::Register(info)]))
    }

    /// The registered worker `name`, or DM's 46004 for an unknown name.
    fn registered(&self, name: &str) -> Result<&Worker, SchedulerError> {
        self.workers
            .get(name)
            .ok_or_else(|| SchedulerError::WorkerNotExist {
                worker: name.to_owned(),
            })
    }

    /// OfflineMember for a worker (DM `RemoveWorker`): only when offline.
    pub fn remove_worker(&mut self, name: &str) -> Result<Vec<Effect>, SchedulerError> {
        if self.registered(name)?.stage != WorkerStage::Offline {
            return Err(SchedulerError::WorkerOnline {
                worker: name.to_owned(),
            });
        }
        self.workers.remove(name);
        Ok(vec![Effect::OfflineWorker(name.to_owned())])
    }

    /// The worker's keep-alive key was put (DM `handleWorkerOnline`).
    /// `None` for a name that is not registered (ignored, as DM does).
    pub fn worker_online(&mut self, name: &str) -> Option<Vec<Effect>> {
        let worker = self.workers.get_mut(name)?;
        let mut effects = Vec::new();
        match (worker.stage, worker.bound.clone()) {
            (WorkerStage::Bound, Some(source)) => {
                // A repeated PUT (lease renewed with a new TTL): nudge the
                // worker with its bound again, as DM does.
                effects.push(Effect::PutBounds(vec![SourceBound::new(source, name)]));
            }
            _ => {
                worker.stage = WorkerStage::Free;
                worker.bound = None;
                self.try_bound_for_worker(name, &mut effects);
            }
        }
        Some(effects)
    }

    /// The worker's keep-alive key was deleted (DM `handleWorkerOffline`):
    /// its source is unbound and offered to another free worker.
    pub fn worker_offline(&mut self, name: &str) -> Option<Vec<Effect>> {
        let worker = self.workers.get_mut(name)?;
        let mut effects = Vec::new();
        let source = worker.bound.take();
        worker.stage = WorkerStage::Offline;
        if let Some(source) = source {
            self.bounds.remove(&source);
            effects.push(Effect::DeleteBounds(vec![name.to_owned()]));
            self.try_bound_for_source(&source, &mut effects);
        }
        Some(effects)
    }

    /// Brings every worker in line with the keep-alive keys alive now (after
    /// the watch had to resync): online for those that came, offline for
    /// those that went.
    pub fn reconcile_alive(&mut self, alive: &BTreeSet<String>) -> Vec<Effect> {
        let mut effects = Vec::new();
        let names: Vec<(String, WorkerStage)> = self
            .workers
            .values()
            .map(|w| (w.info.name.clone(), w.stage))
            .collect();
        for (name, stage) in &names {
            if !alive.contains(name) && *stage != WorkerStage::Offline {
                effects.extend(self.worker_offline(name).unwrap_or_default());
            }
        }
        for (name, stage) in &names {
            if alive.contains(name) && *stage == WorkerStage::Offline {
                effects.extend(self.worker_online(name).unwrap_or_default());
            }
        }
        effects
    }

    // ---- sources ----

    /// create-source (DM `AddSourceCfg` / `AddSourceCfgWithWorker`): the
    /// config is stored even when no worker is free.
    pub fn add_source(
        &mut self,
        source: &str,
        toml: Vec<u8>,
        worker: Option<&str>,
    ) -> Result<Vec<Effect>, SchedulerError> {
        if let Some(name) = worker {
            if self.registered(name)?.stage != WorkerStage::Free {
                return Err(SchedulerError::WorkerNotFree {
                    worker: name.to_owned(),
                });
            }
        }
        if self.sources.contains_key(source) {
            return Err(SchedulerError::SourceExists {
                source: source.to_owned(),
            });
        }
        self.sources.insert(source.to_owned(), toml.clone());
        let mut effects = vec![Effect::PutSource {
            source: source.to_owned(),
            toml,
        }];
        match worker {
            Some(name) => self.bind(source, name, &mut effects),
            None => self.try_bound_for_source(source, &mut effects),
        }
        Ok(effects)
    }

    /// stop-source (DM `RemoveSourceCfg`). `tasks` are the tasks that still
    /// have a subtask config for the source.
    pub fn remove_source(
        &mut self,
        source: &str,
        tasks: &BTreeSet<String>,
    ) -> Result<Vec<Effect>, SchedulerError> {
        if !self.sources.contains_key(source) {
            return Err(SchedulerError::SourceNotExist {
                source: source.to_owned(),
            });
        }
        if !tasks.is_empty() {
            return Err(SchedulerError::SourceHasTasks {
                source: source.to_owned(),
                tasks: tasks.iter().cloned().collect(),
            });
        }
        self.sources.remove(source);
        let bound_worker = self.bounds.remove(source);
        let mut effects = vec![Effect::RemoveSource {
            source: source.to_owned(),
            bound_worker: bound_worker.clone().unwrap_or_default(),
        }];
        if let Some(name) = bound_worker {
            // T-remove-source deleted this worker's last-bound key.
            if self.last_bound.get(&name).map(String::as_str) == Some(source) {
                self.last_bound.remove(&name);
            }
            if let Some(w) = self.workers.get_mut(&name) {
                w.stage = WorkerStage::Free;
                w.bound = None;
            }
            self.try_bound_for_worker(&name, &mut effects);
        }
        Ok(effects)
    }

    // ---- binding policy (docs/protocol.md#binding) ----

    /// Offers a free worker a source: its last-bound source when unbound,
    /// else the first unbound source.
    fn try_bound_for_worker(&mut self, worker: &str, effects: &mut Vec<Effect>) {
        let Some(w) = self.workers.get(worker) else {
            return;
        };
        if w.stage != WorkerStage::Free {
            return;
        }
        let unbound = |s: &String| self.sources.contains_key(s) && !self.bounds.contains_key(s);
        let chosen = self
            .last_bound
            .get(worker)
            .filter(|s| unbound(s))
            .cloned()
            .or_else(|| self.sources.keys().find(|s| unbound(s)).cloned());
        if let Some(source) = chosen {
            self.bind(&source, worker, effects);
        }
    }

    /// Finds a worker for an unbound source: a free worker that last served
    /// it, else the first free worker. None free: the source stays unbound.
    fn try_bound_for_source(&mut self, source: &str, effects: &mut Vec<Effect>) {
        if !self.sources.contains_key(source) || self.bounds.contains_key(source) {
            return;
        }
        let free = |w: &&Worker| w.stage == WorkerStage::Free;
        let chosen = self
            .workers
            .values()
            .filter(free)
            .find(|w| self.last_bound.get(&w.info.name).map(String::as_str) == Some(source))
            .or_else(|| self.workers.values().find(free))
            .map(|w| w.info.name.clone());
        if let Some(worker) = chosen {
            self.bind(source, &worker, effects);
        }
    }

    fn bind(&mut self, source: &str, worker: &str, effects: &mut Vec<Effect>) {
        self.set_bound(source, worker);
        effects.push(Effect::PutBounds(vec![SourceBound::new(source, worker)]));
    }

    fn set_bound(&mut self, source: &str, worker: &str) {
        if let Some(w) = self.workers.get_mut(worker) {
            w.stage = WorkerStage::Bound;
            w.bound = Some(source.to_owned());
        }
        self.bounds.insert(source.to_owned(), worker.to_owned());
        self.last_bound.insert(worker.to_owned(), source.to_owned());
    }
}

#[cfg(test)]
mod tests;
