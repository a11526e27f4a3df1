//! The lock keeper of the pessimistic coordinator and the decisions the
//! coordinator actor acts on.
//!
//! PURE: no async, no I/O. The keeper maps lock IDs to [`Lock`]s and turns
//! each event (an Info PUT, a `done` Operation, an unlock request, a rebuild
//! snapshot) into a decision value: which Operations to put, which keys to
//! delete, which metric series to move, what to log. The actor performs the
//! etcd writes and, only after a write succeeded, applies its effect here
//! (e.g. [`LockKeeper::remove_lock`] after the Operations were deleted).
//!
//! Locks are kept in a `BTreeMap` so [`LockKeeper::show_locks`] and the
//! rebuild plan come out in a stable order.
//!
//! Deliberate differences from DM (IDs of docs/dm-gaps.md):
//! * DM gap P6 in docs/dm-gaps.md: a DDL mismatch during rebuild is recorded and recovery goes on;
//! * DM gap P7: `done` Operations without a lock are listed for deletion;
//! * DM gap P9: only a source of the task (or of the lock) can create or join a
//!   lock, so the owner is always a real source; other sources are reported;
//! * DM gap P10: a task without sources does not get an instantly resolved lock;
//! * DM gap P11: metric changes are reported per lock ([`StateChange`]);
//! * DM gap P14: DDL lists compare as multisets ([`super::lock::same_ddls`]).

use std::collections::{BTreeMap, BTreeSet};

use super::lock::{same_ddls, Lock, StateChange};
use crate::task::ShardMode;

mod decision;
mod rebuild;
#[cfg(test)]
mod tests;
mod unlock;

pub use crate::lock_view::LockView;
pub use decision::{
    DoneDecision, InfoDecision, LockAction, OpsToPut, PessimismError, RemovedLock, SourcesLeft,
    TrySyncOutcome, UnlockCleanup, UnlockPlan,
};
pub use rebuild::{
    locks_to_answer_first, rebuild, state_counts, InfoRecord, InfosPerLock, OperationRecord,
    OwnerRestored, RebuildIssue, RebuildPlan,
};
pub use unlock::unlock_result;

/// What the tests reach through `super::*`.
#[cfg(test)]
use super::lock::SyncState;

/// DM's `LockKeeper`: lock ID to lock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockKeeper {
    locks: BTreeMap<String, Lock>,
    /// The last lock resolved under each lock ID (until a lock with that ID
    /// is created again): what tells a delayed duplicate Info from a new one.
    resolved: BTreeMap<String, ResolvedLock>,
}

/// What is kept of a lock resolved with every source done.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ResolvedLock {
    ddls: Vec<String>,
    sources: BTreeSet<String>,
    /// Sources whose Info repeated `ddls` since; held, not answered.
    held: BTreeSet<String>,
}

impl LockKeeper {
    /// An empty keeper.
    pub fn new() -> Self {
        Self::default()
    }

    /// DM `LockKeeper.TrySync`: applies an Info of `source` to lock
    /// `lock_id`, creating the lock (owner = `source`) if needed.
    ///
    /// `lock_id` is DM's `GenDDLLockID(task, down_schema, down_table)`.
    /// `task_sources` is the task's current source list; sources not yet in
    /// the lock join it. A source already in the lock may put Infos even if
    /// it has left the task since.
    pub fn try_sync(
        &mut self,
        lock_id: &str,
        task: &str,
        source: &str,
        ddls: &[String],
        task_sources: &[String],
    ) -> TrySyncOutcome {
        let in_task = task_sources.iter().any(|s| s == source);
        if let Some(lock) = self.locks.get_mut(lock_id) {
            if !in_task && !lock.contains(source) {
                return TrySyncOutcome::SourceNotInTask;
            }
            return match lock.try_sync(source, ddls, task_sources) {
                Err(e) => TrySyncOutcome::Mismatch(e),
                Ok(status) => {
                    // DM gap P9: an owner outside the lock could never execute;
                    // hand the role to the first real source that is ready.
                    if !lock.contains(lock.owner()) && lock.is_ready(source) == Some(true) {
                        lock.set_owner(source);
                    }
                    TrySyncOutcome::Progress {
                        synced: status.synced,
                        remain: status.remain,
                        created: false,
                        change: status.change,
                    }
                }
            };
        }
        if task_sources.is_empty() {
            return TrySyncOutcome::UnknownTask;
        }
        if !in_task {
            return TrySyncOutcome::SourceNotInTask;
        }
        let mut joining = Vec::new();
        if let Some(resolved) = self.resolved.get_mut(lock_id) {
            if same_ddls(&resolved.ddls, ddls) && resolved.sources.contains(source) {
                resolved.held.insert(source.to_owned());
                if resolved.held.len() < 2 {
                    return TrySyncOutcome::HeldAsStale;
                }
                joining = resolved
                    .held
                    .iter()
                    .filter(|s| *s != source)
                    .cloned()
                    .collect();
            }
        }
        self.resolved.remove(lock_id);
        let mut lock = Lock::new(lock_id, task, source, ddls.to_vec(), task_sources);
        for held in &joining {
            // Same DDLs by construction; a held source outside the task is
            // not counted, as for any Info.
            let _ = lock.try_sync(held, ddls, task_sources);
        }
        let status = match lock.try_sync(source, ddls, task_sources) {
            Ok(status) => status,
            // Unreachable in practice (the lock was built from these DDLs);
            // reported rather than asserted.
            Err(e) => return TrySyncOutcome::Mismatch(e),
        };
        let change = StateChange::between(task, None, Some(lock.state()));
        self.locks.insert(lock_id.to_owned(), lock);
        TrySyncOutcome::Progress {
            synced: status.synced,
            remain: status.remain,
            created: true,
            change,
        }
    }

    /// DM `handleInfoPut`: [`Self::try_sync`], then, if the lock is synced,
    /// [`Self::handle_lock`] restricted to `source` (a re-PUT Info after a
    /// worker restart only needs its own Operation again).
    pub fn on_info(
        &mut self,
        lock_id: &str,
        task: &str,
        source: &str,
        ddls: &[String],
        task_sources: &[String],
    ) -> InfoDecision {
        let outcome = self.try_sync(lock_id, task, source, ddls, task_sources);
        let action = if outcome.is_synced() {
            self.handle_lock(lock_id, Some(source))
        } else {
            LockAction::None
        };
        InfoDecision { outcome, action }
    }

    /// DM `handleOperationPut` for a `done` Operation of `source`.
    ///
    /// After the owner is done, skip Operations go to every non-owner that
    /// is not done yet. Unlike DM, sources already done are left out and
    /// the writes are `skip_done`: a repeated done of the owner may be read
    /// before a non-owner's done that etcd already holds, and that done must
    /// not be overwritten.
    pub fn on_operation_done(&mut self, lock_id: &str, source: &str) -> DoneDecision {
        let Some(lock) = self.locks.get_mut(lock_id) else {
            return DoneDecision::LockNotFound;
        };
        if !lock.is_synced() {
            return DoneDecision::LockNotSynced;
        }
        lock.mark_done(source);
        if lock.is_resolved() {
            return DoneDecision::Resolved(remove_action(lock));
        }
        if source != lock.owner() {
            return DoneDecision::WaitMore;
        }
        let sources = undone_non_owners(lock);
        DoneDecision::OwnerDone(skip_ops(lock, sources, true))
    }

    /// DM `handleLock`: how to answer a synced lock (docs/protocol.md#pessimistic-answer).
    ///
    /// * missing or not synced: [`LockAction::None`];
    /// * resolved: [`LockAction::RemoveLock`];
    /// * owner done: skip Operations (`skip_done`) for `only_source`, or for
    ///   every non-owner when `None`;
    /// * otherwise: the owner's `exec` Operation (`skip_done`).
    ///
    /// Differs from DM in what it leaves out: non-owners already done are
    /// not listed (DM lists them, and its all-or-nothing `skip_done` write
    /// then answers nobody), and `only_source` gets nothing when it is the
    /// owner, done, or not a source of the lock.
    pub fn handle_lock(&self, lock_id: &str, only_source: Option<&str>) -> LockAction {
        let Some(lock) = self.locks.get(lock_id) else {
            return LockAction::None;
        };
        if !lock.is_synced() {
            return LockAction::None;
        }
        if lock.is_resolved() {
            return remove_action(lock);
        }
        if !lock.is_done(lock.owner()) {
            return LockAction::PutOwnerOp(OpsToPut {
                lock_id: lock.id().to_owned(),
                task: lock.task().to_owned(),
                ddls: lock.ddls().to_vec(),
                exec: true,
                sources: vec![lock.owner().to_owned()],
                skip_done: true,
            });
        }
        let sources = match only_source {
            Some(s) if s == lock.owner() || !lock.contains(s) || lock.is_done(s) => {
                return LockAction::None;
            }
            Some(s) => vec![s.to_owned()],
            None => undone_non_owners(lock),
        };
        if sources.is_empty() {
            return LockAction::None;
        }
        skip_ops(lock, sources, true)
    }

    /// The [`LockAction::RemoveLock`] for a lock regardless of its state
    /// (used before replying [`PessimismError::LockIsResolving`]).
    pub fn removal(&self, lock_id: &str) -> LockAction {
        self.locks
            .get(lock_id)
            .map(remove_action)
            .unwrap_or(LockAction::None)
    }

    /// DM `RemoveLock`; returns the lock and its metric change (only this
    /// lock's series moves: DM gap P11).
    pub fn remove_lock(&mut self, lock_id: &str) -> Option<RemovedLock> {
        let lock = self.locks.remove(lock_id)?;
        if lock.is_resolved() && lock.source_count() > 1 {
            self.resolved.insert(
                lock_id.to_owned(),
                ResolvedLock {
                    ddls: lock.ddls().to_vec(),
                    sources: lock.sources().map(str::to_owned).collect(),
                    held: BTreeSet::new(),
                },
            );
        }
        let change = StateChange {
            task: lock.task().to_owned(),
            from: Some(lock.state()),
            to: None,
        };
        Some(RemovedLock { lock, change })
    }

    /// Sources left `task` (their subtask configs were deleted): every lock
    /// of the task drops the sources not in `task_sources` and is answered
    /// against the remaining ones (DM waits for a manual unlock here). A
    /// lock none of whose sources remain is to be removed with its keys.
    pub fn on_sources_left(&mut self, task: &str, task_sources: &[String]) -> Vec<SourcesLeft> {
        let ids: Vec<String> = self
            .locks
            .values()
            .filter(|l| l.task() == task)
            .map(|l| l.id().to_owned())
            .collect();
        let mut changed = Vec::new();
        for lock_id in ids {
            let Some(lock) = self.locks.get_mut(&lock_id) else {
                continue;
            };
            let before = lock.state();
            let sources_before: Vec<String> = lock.sources().map(str::to_owned).collect();
            let left = lock.retain_sources(|s| task_sources.iter().any(|t| t == s));
            if left.is_empty() {
                continue;
            }
            if lock.source_count() == 0 {
                // An empty lock counts as synced; the removal reports the
                // move from there once its keys are deleted.
                let change = StateChange::between(task, Some(before), Some(lock.state()));
                changed.push(SourcesLeft {
                    lock_id: lock_id.clone(),
                    task: task.to_owned(),
                    left,
                    owner: lock.owner().to_owned(),
                    change,
                    action: LockAction::RemoveLock {
                        lock_id,
                        task: task.to_owned(),
                        delete_ops_for: sources_before,
                    },
                });
                continue;
            }
            if !lock.contains(lock.owner()) {
                // The owner left: the first ready source executes instead
                // (any source when none is ready yet).
                let next = lock
                    .ready()
                    .find(|(_, ready)| *ready)
                    .or_else(|| lock.ready().next())
                    .map(|(s, _)| s.to_owned());
                if let Some(next) = next {
                    lock.set_owner(next);
                }
            }
            let change = StateChange::between(task, Some(before), Some(lock.state()));
            let owner = lock.owner().to_owned();
            let action = self.handle_lock(&lock_id, None);
            changed.push(SourcesLeft {
                lock_id,
                task: task.to_owned(),
                left,
                owner,
                change,
                action,
            });
        }
        changed
    }

    /// DM `FindLock`.
    pub fn find_lock(&self, lock_id: &str) -> Option<&Lock> {
        self.locks.get(lock_id)
    }

    /// Mutable access to a lock.
    pub fn find_lock_mut(&mut self, lock_id: &str) -> Option<&mut Lock> {
        self.locks.get_mut(lock_id)
    }

    /// A keeper holding only a copy of `lock_id`'s lock, to plan on without
    /// changing this one (the unlock preview runs the real planner on it).
    pub fn scratch_copy(&self, lock_id: &str) -> LockKeeper {
        let mut scratch = LockKeeper::new();
        if let Some(lock) = self.locks.get(lock_id) {
            scratch.locks.insert(lock_id.to_owned(), lock.clone());
        }
        scratch
    }

    /// All locks, ordered by ID (DM `Locks`).
    pub fn locks(&self) -> impl Iterator<Item = &Lock> {
        self.locks.values()
    }

    /// Takes in the locks of a keeper rebuilt from other locks' Infos and
    /// Operations (the second pass of a rebuild, see
    /// [`locks_to_answer_first`]). A lock ID in both keeps this
    /// keeper's lock: the two passes never share one.
    pub fn absorb(&mut self, mut other: LockKeeper) {
        // `append` merges in linear time and keeps the appended value of a
        // key in both: this keeper's goes last.
        other.locks.append(&mut self.locks);
        other.resolved.append(&mut self.resolved);
        *self = other;
    }

    /// Number of locks.
    pub fn len(&self) -> usize {
        self.locks.len()
    }

    /// No lock exists.
    pub fn is_empty(&self) -> bool {
        self.locks.is_empty()
    }

    /// DM `Clear`; returns the metric changes removing every lock.
    pub fn clear(&mut self) -> Vec<StateChange> {
        let changes = self
            .locks
            .values()
            .map(|l| StateChange {
                task: l.task().to_owned(),
                from: Some(l.state()),
                to: None,
            })
            .collect();
        self.locks.clear();
        changes
    }

    /// DM `ShowLocks` (docs/protocol.md#pessimistic-show). An empty `task` filter means all tasks;
    /// a non-empty `sources` filter keeps a lock if any listed source
    /// belongs to it. Locks come ordered by ID.
    pub fn show_locks(&self, task: Option<&str>, sources: &[String]) -> Vec<LockView> {
        let task = task.filter(|t| !t.is_empty());
        self.locks
            .values()
            .filter(|l| task.is_none_or(|t| t == l.task()))
            .filter(|l| sources.is_empty() || sources.iter().any(|s| l.contains(s)))
            .map(|l| LockView {
                id: l.id().to_owned(),
                task: l.task().to_owned(),
                mode: ShardMode::Pessimistic,
                owner: l.owner().to_owned(),
                ddls: l.ddls().to_vec(),
                synced: l.synced_sources(),
                unsynced: l.unsynced_sources(),
            })
            .collect()
    }
}

fn remove_action(lock: &Lock) -> LockAction {
    LockAction::RemoveLock {
        lock_id: lock.id().to_owned(),
        task: lock.task().to_owned(),
        delete_ops_for: lock.sources().map(str::to_owned).collect(),
    }
}

fn undone_non_owners(lock: &Lock) -> Vec<String> {
    lock.undone_sources()
        .into_iter()
        .filter(|s| s != lock.owner())
        .collect()
}

fn skip_ops(lock: &Lock, sources: Vec<String>, skip_done: bool) -> LockAction {
    LockAction::PutSkipOps(OpsToPut {
        lock_id: lock.id().to_owned(),
        task: lock.task().to_owned(),
        ddls: lock.ddls().to_vec(),
        exec: false,
        sources,
        skip_done,
    })
}
