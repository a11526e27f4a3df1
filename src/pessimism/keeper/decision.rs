//! The values the keeper hands to the coordinator actor: its errors, the
//! Operations to write, what to do with a lock, and the read-only views of
//! locks and unlock plans. Plain data; the keeper decides, the actor acts.

use crate::error::terror::LockNotFound;
use crate::gojson::go_slice;
use crate::pessimism::lock::{DdlMismatch, Lock, StateChange};
use crate::pessimism::operation::Operation;

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

impl OpsToPut {
    /// The Operation written for `source`: not done yet.
    pub fn operation(&self, source: &str) -> Operation {
        Operation {
            id: self.lock_id.clone(),
            task: self.task.clone(),
            source: source.to_owned(),
            ddls: Some(self.ddls.clone()),
            exec: self.exec,
            done: false,
        }
    }
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
