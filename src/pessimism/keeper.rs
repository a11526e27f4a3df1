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

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use super::lock::{same_ddls, DdlMismatch, Lock, StateChange, SyncState};
use crate::error::terror::LockNotFound;
use crate::gojson::go_slice;

#[cfg(test)]
mod tests;

/// `mode` shown by ShowLocks for pessimistic locks.
pub const MODE_PESSIMISTIC: &str = "pessimistic";

/// Errors of the pessimistic coordinator with DM's codes and messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PessimismError {
    /// The DDLs of an Info differ from its lock's.
    #[error(transparent)]
    DdlMismatch(#[from] DdlMismatch),
    /// No lock with this ID.
    #[error(transparent)]
    LockNotFound(#[from] LockNotFound),
    /// Unlock asked for a lock that every source has already finished.
    #[error("the lock {lock_id} has been resolved before")]
    LockIsResolving { lock_id: String },
    /// Unlock asked for an owner that has not put its Info.
    #[error(
        "owner {owner} is not waiting for a lock, but sources {} are waiting for the lock",
        go_slice(synced)
    )]
    WorkerNotWaitLock { owner: String, synced: Vec<String> },
    /// Unlock waited in vain for the owner to execute the DDL.
    #[error("the owner {owner} of the lock {lock_id} has not done the operation")]
    OwnerExecDdl { owner: String, lock_id: String },
    /// Unlock removed the lock but waiting for non-owners or deleting the
    /// lock's keys failed. `message` is DM's message, `cause` the failure.
    #[error("{message}, RawCause: {cause}")]
    PartWorkerExecDdlFail { message: String, cause: String },
}

impl PessimismError {
    /// DM error code.
    pub fn code(&self) -> i32 {
        match self {
            PessimismError::DdlMismatch(e) => e.code(),
            PessimismError::LockNotFound(_) => LockNotFound::CODE,
            PessimismError::LockIsResolving { .. } => 38020,
            PessimismError::WorkerNotWaitLock { .. } => 38022,
            PessimismError::OwnerExecDdl { .. } => 38024,
            PessimismError::PartWorkerExecDdlFail { .. } => 38025,
        }
    }

    /// DM's workaround text (empty when DM has none).
    pub fn workaround(&self) -> &'static str {
        match self {
            PessimismError::DdlMismatch(_) => "Please use show-ddl-locks command for more details.",
            PessimismError::LockNotFound(_) => LockNotFound::WORKAROUND,
            _ => "",
        }
    }
}

/// Operations to write for one lock, all in one transaction.
///
/// Each source gets `Operation{id: lock_id, task, source, ddls, exec,
/// done: false}`. With `skip_done` the write must not overwrite an
/// Operation that a worker already marked `done`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpsToPut {
    pub lock_id: String,
    pub task: String,
    pub ddls: Vec<String>,
    /// `true` only for the owner's Operation.
    pub exec: bool,
    /// Sources to write an Operation for, sorted.
    pub sources: Vec<String>,
    pub skip_done: bool,
}

/// What answering a lock (DM `handleLock`) requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockAction {
    /// Nothing to write (lock missing, not synced, or nothing to send).
    None,
    /// The lock is resolved: delete the Operation key of every listed source
    /// (one txn), then call [`LockKeeper::remove_lock`]. If the delete
    /// fails the lock stays, and the next Info PUT of the lock retries.
    RemoveLock {
        lock_id: String,
        task: String,
        delete_ops_for: Vec<String>,
    },
    /// Put the `exec=true` Operation for the owner.
    PutOwnerOp(OpsToPut),
    /// Put `exec=false` Operations for non-owners.
    PutSkipOps(OpsToPut),
}

/// Result of [`LockKeeper::try_sync`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrySyncOutcome {
    /// The Info was applied to its lock.
    Progress {
        synced: bool,
        /// Sources not ready yet.
        remain: usize,
        /// Whether this Info created the lock.
        created: bool,
        /// Metric move (creation, or Un-synced to Synced).
        change: Option<StateChange>,
    },
    /// DDLs differ from the lock's; nothing changed. The actor logs it and
    /// counts `shard_ddl_error{type="InfoPut - SyncLockError"}`.
    Mismatch(DdlMismatch),
    /// The task has no sources and no lock exists yet. Deliberately differs
    /// from DM (DM gap P10): DM would create a lock with no sources, which is
    /// instantly resolved and dropped while the Info stays in etcd. Here
    /// nothing changes; the actor reports it and leaves the Info alone.
    UnknownTask,
    /// The source is neither a source of the task nor of the lock.
    /// Deliberately differs from DM (DM gap P9): DM may make such a source the
    /// owner of a new lock; here it neither creates nor joins a lock and the
    /// actor logs it.
    SourceNotInTask,
    /// The Info repeats the DDLs of a lock this source already finished
    /// (the lock was resolved with every source done): a delayed duplicate
    /// of an Info that was answered. No lock is created and nothing is
    /// answered, so a lock whose other sources never re-send does not wait
    /// forever holding the next DDL's lock ID. When a second source of that
    /// lock repeats the same DDLs, it is a real new lock and the held Infos
    /// join it.
    HeldAsStale,
}

impl TrySyncOutcome {
    /// Whether the lock is synced after this Info.
    pub fn is_synced(&self) -> bool {
        matches!(self, TrySyncOutcome::Progress { synced: true, .. })
    }

    /// The metric change carried by the outcome, if any.
    pub fn change(&self) -> Option<&StateChange> {
        match self {
            TrySyncOutcome::Progress { change, .. } => change.as_ref(),
            _ => None,
        }
    }
}

/// Result of [`LockKeeper::on_info`] (DM `handleInfoPut`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoDecision {
    pub outcome: TrySyncOutcome,
    /// [`LockAction::None`] unless the lock is synced. A failed write is
    /// counted as `shard_ddl_error{type="InfoPut - HandleLockError"}`.
    pub action: LockAction,
}

/// Result of [`LockKeeper::on_operation_done`] (DM `handleOperationPut` for
/// an Operation with `done=true`; the actor ignores `done=false`, which is
/// the master's own write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DoneDecision {
    /// No such lock; the Operation is left alone (logged).
    LockNotFound,
    /// The lock is not synced; counted as
    /// `shard_ddl_error{type="OperationPut - LockUnSyncedError"}`.
    LockNotSynced,
    /// Every source is done: perform the [`LockAction::RemoveLock`]; a
    /// failure counts `OperationPut - RemoveLockError`.
    Resolved(LockAction),
    /// A non-owner finished; wait for more.
    WaitMore,
    /// The owner finished: perform the [`LockAction::PutSkipOps`]; a
    /// failure counts `OperationPut - PutNonOwnerOpError`.
    OwnerDone(LockAction),
}

/// A lock taken out of the keeper, with the metric change to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedLock {
    pub lock: Lock,
    pub change: StateChange,
}

/// One row of ShowLocks (DM `pb.DDLLock`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockView {
    pub id: String,
    pub task: String,
    /// Always [`MODE_PESSIMISTIC`].
    pub mode: &'static str,
    pub owner: String,
    pub ddls: Vec<String>,
    /// Ready sources, sorted.
    pub synced: Vec<String>,
    /// Sources not ready, sorted.
    pub unsynced: Vec<String>,
}

/// A validated unlock request (DM `UnlockLock` steps 1-5), already applied:
/// the lock has been forced to synced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnlockPlan {
    pub lock_id: String,
    pub task: String,
    pub ddls: Vec<String>,
    /// The owner that must execute: the replacement owner if one was given.
    pub owner: String,
    /// Sources that were ready before the lock was forced, sorted.
    pub synced: Vec<String>,
    /// Sources that were not ready, sorted; restored by
    /// [`LockKeeper::revert_unlock`] when the unlock fails.
    pub unsynced: Vec<String>,
    /// Metric move caused by forcing the lock to synced.
    pub change: Option<StateChange>,
}

impl UnlockPlan {
    /// Step 6: the `exec` Operation for the owner (`skip_done`), to put
    /// unless [`LockKeeper::unlock_owner_done`] is already true.
    pub fn owner_op(&self) -> OpsToPut {
        OpsToPut {
            lock_id: self.lock_id.clone(),
            task: self.task.clone(),
            ddls: self.ddls.clone(),
            exec: true,
            sources: vec![self.owner.clone()],
            skip_done: true,
        }
    }

    /// Step 7: the non-owners to wait for, i.e. synced sources minus the
    /// owner. Un-synced sources are not waited for (they are not blocked on
    /// this lock).
    pub fn non_owners(&self) -> Vec<String> {
        self.synced
            .iter()
            .filter(|s| **s != self.owner)
            .cloned()
            .collect()
    }
}

/// Keys to delete once an unlock has removed its lock (DM
/// `deleteInfosOps`): the Info and the Operation of every listed source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnlockCleanup {
    pub lock_id: String,
    pub task: String,
    pub sources: Vec<String>,
    /// Metric move of the removal; `None` if the lock was already gone.
    pub change: Option<StateChange>,
}

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

/// A lock whose membership changed because sources left its task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcesLeft {
    pub lock_id: String,
    pub task: String,
    /// The sources that left, sorted.
    pub left: Vec<String>,
    /// The owner after the change (a new one if the owner left).
    pub owner: String,
    /// Metric move (Un-synced to Synced, or removal).
    pub change: Option<StateChange>,
    /// How to answer the lock now: the normal protocol if every remaining
    /// source is synced, [`LockAction::RemoveLock`] if none remains.
    pub action: LockAction,
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
                mode: MODE_PESSIMISTIC,
                owner: l.owner().to_owned(),
                ddls: l.ddls().to_vec(),
                synced: l.synced_sources(),
                unsynced: l.unsynced_sources(),
            })
            .collect()
    }

    /// DM `UnlockLock` steps 1-5: validates the request and forces the lock
    /// to synced.
    ///
    /// On [`PessimismError::LockIsResolving`] the actor first performs
    /// [`Self::removal`] (as DM's `removeLock`), then replies the error.
    /// An empty `replace_owner` counts as none.
    pub fn prepare_unlock(
        &mut self,
        lock_id: &str,
        replace_owner: Option<&str>,
    ) -> Result<UnlockPlan, PessimismError> {
        let Some(lock) = self.locks.get_mut(lock_id) else {
            return Err(LockNotFound::new(lock_id).into());
        };
        if lock.is_resolved() {
            return Err(PessimismError::LockIsResolving {
                lock_id: lock_id.to_owned(),
            });
        }
        let synced = lock.synced_sources();
        let unsynced = lock.unsynced_sources();
        let owner = replace_owner
            .filter(|o| !o.is_empty())
            .unwrap_or(lock.owner())
            .to_owned();
        if lock.is_ready(&owner) != Some(true) {
            return Err(PessimismError::WorkerNotWaitLock { owner, synced });
        }
        let change = lock.force_synced();
        Ok(UnlockPlan {
            lock_id: lock.id().to_owned(),
            task: lock.task().to_owned(),
            ddls: lock.ddls().to_vec(),
            owner,
            synced,
            unsynced,
            change,
        })
    }

    /// Undoes step 5 after a failed unlock: the previously un-synced
    /// sources become un-synced again.
    pub fn revert_unlock(&mut self, plan: &UnlockPlan) -> Option<StateChange> {
        self.locks
            .get_mut(&plan.lock_id)
            .and_then(|l| l.revert_synced(&plan.unsynced))
    }

    /// Step 6 poll: whether the unlock's owner is done. A lock that has
    /// vanished meanwhile was resolved and removed by the automatic path, so
    /// its owner is done.
    pub fn unlock_owner_done(&self, plan: &UnlockPlan) -> bool {
        self.locks
            .get(&plan.lock_id)
            .is_none_or(|l| l.is_done(&plan.owner))
    }

    /// Step 7: the skip Operations (`skip_done`) for the non-owners still
    /// to finish, or `None` when there is nobody to wait for.
    pub fn unlock_skip_ops(&self, plan: &UnlockPlan) -> Option<OpsToPut> {
        let pending = self.unlock_pending_non_owners(plan);
        (!pending.is_empty()).then(|| OpsToPut {
            lock_id: plan.lock_id.clone(),
            task: plan.task.clone(),
            ddls: plan.ddls.clone(),
            exec: false,
            sources: pending,
            skip_done: true,
        })
    }

    /// Step 7 poll: non-owners of the plan not done yet (empty when the lock
    /// has vanished, see [`Self::unlock_owner_done`]).
    pub fn unlock_pending_non_owners(&self, plan: &UnlockPlan) -> Vec<String> {
        match self.locks.get(&plan.lock_id) {
            None => Vec::new(),
            Some(lock) => plan
                .non_owners()
                .into_iter()
                .filter(|s| !lock.is_done(s))
                .collect(),
        }
    }

    /// Step 8: removes the lock and lists the Info and Operation keys to
    /// delete (every source of the lock; the plan's sources if the lock is
    /// already gone).
    pub fn finish_unlock(&mut self, plan: &UnlockPlan) -> UnlockCleanup {
        match self.remove_lock(&plan.lock_id) {
            Some(removed) => UnlockCleanup {
                lock_id: plan.lock_id.clone(),
                task: plan.task.clone(),
                sources: removed.lock.sources().map(str::to_owned).collect(),
                change: Some(removed.change),
            },
            None => {
                let all: BTreeSet<&String> = plan.synced.iter().chain(&plan.unsynced).collect();
                UnlockCleanup {
                    lock_id: plan.lock_id.clone(),
                    task: plan.task.clone(),
                    sources: all.into_iter().cloned().collect(),
                    change: None,
                }
            }
        }
    }
}

/// Step 9 of DM `UnlockLock`: the final result from the step-7 error (a
/// failed skip write) and the step-8 error (a failed key deletion), with
/// DM's messages.
pub fn unlock_result(
    wait_err: Option<String>,
    delete_err: Option<String>,
    unsynced: &[String],
) -> Result<(), PessimismError> {
    const TEMPLATE_TAIL: &str = "owner ExecuteDDL successfully, so DDL lock removed. but some dm-workers ExecuteDDL fail, you should to handle dm-worker directly";
    match (wait_err, delete_err) {
        (None, None) => Ok(()),
        (Some(wait), Some(delete)) => Err(PessimismError::PartWorkerExecDdlFail {
            message: format!(
                "fail to wait for non-owner sources {} to skip the shard DDL and delete shard DDL infos and operations, {delete}",
                go_slice(unsynced)
            ),
            cause: wait,
        }),
        (Some(wait), None) => Err(PessimismError::PartWorkerExecDdlFail {
            message: format!(
                "DDL lock fail to wait for non-owner sources to skip the shard DDL {TEMPLATE_TAIL}"
            ),
            cause: wait,
        }),
        (None, Some(delete)) => Err(PessimismError::PartWorkerExecDdlFail {
            message: format!(
                "DDL lock fail to delete shard DDL infos and operations {TEMPLATE_TAIL}"
            ),
            cause: delete,
        }),
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

/// One stored Info, as read for a rebuild: borrowed from the Infos the
/// actor keeps, so a rebuild of 100,000 locks makes no second copy of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoRecord<'a> {
    pub task: Cow<'a, str>,
    pub source: Cow<'a, str>,
    /// Downstream schema (for logs; the lock is named by `lock_id`).
    pub schema: Cow<'a, str>,
    /// Downstream table (for logs).
    pub table: Cow<'a, str>,
    pub ddls: Cow<'a, [String]>,
    /// `GenDDLLockID(task, schema, table)`.
    pub lock_id: String,
}

/// One stored Operation, as read for a rebuild.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationRecord {
    pub lock_id: String,
    pub task: String,
    pub source: String,
    pub exec: bool,
    pub done: bool,
}

/// Something the rebuild could not apply; the actor logs each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebuildIssue {
    /// An Info whose DDLs differ from its lock's (DM gap P6: recovery goes on).
    Mismatch {
        task: String,
        source: String,
        error: DdlMismatch,
    },
    /// An Info of a task that has no sources (DM gap P10); the Info is kept.
    UnknownTask {
        task: String,
        source: String,
        lock_id: String,
    },
    /// An Info of a source outside its task (DM gap P9); the Info is kept.
    SourceNotInTask {
        task: String,
        source: String,
        lock_id: String,
    },
    /// An Operation without a lock that is kept (see [`rebuild`]).
    OrphanOperationKept(OperationRecord),
}

/// The owner of a lock restored from an `exec=true` Operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRestored {
    pub lock_id: String,
    pub from: String,
    pub to: String,
}

/// Everything the actor needs after reading Infos and Operations (DM
/// `recoverLocks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildPlan {
    /// The rebuilt keeper, replacing the old one (whose locks the actor
    /// dropped with [`LockKeeper::clear`]).
    pub keeper: LockKeeper,
    /// One `None -> state` change per rebuilt lock, for the gauge.
    pub changes: Vec<StateChange>,
    pub issues: Vec<RebuildIssue>,
    pub owners_restored: Vec<OwnerRestored>,
    /// `done` Operations without a lock and without any Info naming their
    /// lock: delete them (DM gap P7), plainly, in one txn.
    pub delete_orphan_ops: Vec<OperationRecord>,
    /// [`LockKeeper::handle_lock`] for every synced lock, in lock-ID order;
    /// the actor performs each and, unlike DM, goes on after a failure.
    pub actions: Vec<LockAction>,
}

/// Rebuilds the keeper from a snapshot of Infos and Operations (DM
/// `recoverLocks`, docs/protocol.md#pessimistic-rebuild).
///
/// 1. Infos are grouped by task (tasks in name order) and applied sorted by
///    source, so without Operations the owner is the smallest source that
///    has an Info. A mismatch is recorded and recovery goes on (DM gap P6).
/// 2. Each Operation of an existing lock (ordered by lock ID, then source)
///    re-adds its source to the lock (it was a source when the lock synced),
///    forces the lock synced, marks the source done if `done`, and makes it
///    the owner if `exec`.
/// 3. An Operation without a lock is an orphan. A `done` orphan is deleted
///    when no Info names its lock (DM gap P7): every source of that lock either
///    finished (deleting its Info) or had its keys removed together by
///    unlock/remove-meta, so the lock was resolved and its Operations would
///    have been deleted; keeping them blocks the next Info of those sources
///    forever. Otherwise the orphan is kept and reported: a not-done
///    Operation blocks no worker (`PutInfoIfOpNotDone` only waits on `done`
///    ones) and may be an answer a worker is executing right now, and an
///    orphan whose lock still has Infos (unknown task, foreign source) may
///    belong to an unfinished lock.
/// 4. Every synced lock gets its [`LockKeeper::handle_lock`] action.
pub fn rebuild(
    infos: Vec<InfoRecord<'_>>,
    operations: Vec<OperationRecord>,
    task_sources: impl Fn(&str) -> Vec<String>,
) -> RebuildPlan {
    let mut keeper = LockKeeper::new();
    let mut issues = Vec::new();

    let named_locks: BTreeSet<&str> = infos.iter().map(|i| i.lock_id.as_str()).collect();
    let mut by_task: BTreeMap<&str, Vec<&InfoRecord>> = BTreeMap::new();
    for info in &infos {
        by_task.entry(&info.task).or_default().push(info);
    }
    for (task, mut infos) in by_task {
        let sources = task_sources(task);
        infos.sort_by(|a, b| a.source.cmp(&b.source));
        for info in infos {
            match keeper.try_sync(&info.lock_id, task, &info.source, &info.ddls, &sources) {
                // A fresh keeper remembers no resolved lock: nothing is held.
                TrySyncOutcome::Progress { .. } | TrySyncOutcome::HeldAsStale => {}
                TrySyncOutcome::Mismatch(error) => issues.push(RebuildIssue::Mismatch {
                    task: task.to_owned(),
                    source: info.source.to_string(),
                    error,
                }),
                TrySyncOutcome::UnknownTask => issues.push(RebuildIssue::UnknownTask {
                    task: task.to_owned(),
                    source: info.source.to_string(),
                    lock_id: info.lock_id.clone(),
                }),
                TrySyncOutcome::SourceNotInTask => issues.push(RebuildIssue::SourceNotInTask {
                    task: task.to_owned(),
                    source: info.source.to_string(),
                    lock_id: info.lock_id.clone(),
                }),
            }
        }
    }

    let mut operations = operations;
    operations.sort_by(|a, b| (&a.lock_id, &a.source).cmp(&(&b.lock_id, &b.source)));
    let mut owners_restored = Vec::new();
    let mut delete_orphan_ops = Vec::new();
    for op in operations {
        let Some(lock) = keeper.find_lock_mut(&op.lock_id) else {
            if op.done && !named_locks.contains(op.lock_id.as_str()) {
                delete_orphan_ops.push(op);
            } else {
                issues.push(RebuildIssue::OrphanOperationKept(op));
            }
            continue;
        };
        // An Operation exists only for a source of a lock that had synced.
        lock.add_sources(std::slice::from_ref(&op.source));
        lock.force_synced();
        if op.done {
            lock.mark_done(&op.source);
        }
        if op.exec && lock.owner() != op.source {
            owners_restored.push(OwnerRestored {
                lock_id: op.lock_id.clone(),
                from: lock.owner().to_owned(),
                to: op.source.clone(),
            });
            lock.set_owner(op.source);
        }
    }

    let changes = keeper
        .locks()
        .filter_map(|l| StateChange::between(l.task(), None, Some(l.state())))
        .collect();
    let actions = keeper
        .locks()
        .filter(|l| l.is_synced())
        .map(|l| keeper.handle_lock(l.id(), None))
        .filter(|a| *a != LockAction::None)
        .collect();
    RebuildPlan {
        keeper,
        changes,
        issues,
        owners_restored,
        delete_orphan_ops,
        actions,
    }
}

/// The metric state of every lock, for a gauge reset: `(task, state) ->
/// number of locks`.
pub fn state_counts(keeper: &LockKeeper) -> BTreeMap<(String, SyncState), usize> {
    let mut counts = BTreeMap::new();
    for lock in keeper.locks() {
        *counts
            .entry((lock.task().to_owned(), lock.state()))
            .or_insert(0) += 1;
    }
    counts
}
