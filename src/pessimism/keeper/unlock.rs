//! Manual unlock (DM `UnlockLock`), step by step: the actor drives the
//! steps with etcd writes and polls in between; each step here only reads or
//! changes the keeper.

use std::collections::BTreeSet;

use super::{LockKeeper, OpsToPut, PessimismError, UnlockCleanup, UnlockPlan};
use crate::error::terror::LockNotFound;
use crate::gojson::go_slice;
use crate::pessimism::lock::StateChange;

impl LockKeeper {
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
