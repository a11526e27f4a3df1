//! A manual unlock as held actor state ([`Unlocking`]): DM's `UnlockLock`
//! steps 6-9 advanced by watch events and ticks, answered through the
//! stored reply, reverted when it fails or times out.

use super::*;

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

/// A pessimistic unlock in progress (DM `UnlockLock` steps 6-9), held by the
/// actor: watch events and ticks advance it, and it is answered through
/// `reply` when it ends. Nothing outside the actor polls.
pub(super) struct Unlocking {
    pub(super) plan: UnlockPlan,
    pub(super) step: UnlockStep,
    pub(super) force_remove: bool,
    /// When the current step stops waiting.
    pub(super) deadline: Instant,
    /// A failed skip write of step 7, reported in the final answer.
    pub(super) skip_error: Option<String>,
    pub(super) reply: oneshot::Sender<Result<()>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UnlockStep {
    /// Step 6: the owner's `exec` Operation is out; waiting for its done.
    OwnerExecuting,
    /// Step 7: the `skip` Operations are out; waiting for the non-owners.
    NonOwnersSkipping,
}

impl Pessimist {
    /// The Info and Operation keys of `sources` in `task`.
    fn lock_keys(&self, task: &str, sources: &[String]) -> Vec<String> {
        sources
            .iter()
            .flat_map(|source| {
                [
                    ops::info_key(&self.ctx.space, task, source),
                    ops::operation_key(&self.ctx.space, task, source),
                ]
            })
            .collect()
    }

    pub(super) fn unlock_writes(&self, preview: UnlockPreview) -> UnlockWrites {
        let puts = preview
            .exec
            .iter()
            .chain(preview.skip.iter())
            .flat_map(|o| {
                o.sources.iter().map(|source| {
                    (
                        ops::operation_key(&self.ctx.space, &o.task, source),
                        o.operation(source),
                    )
                })
            })
            .collect();
        let deletes = self.lock_keys(&preview.task, &preview.delete_keys_of);
        UnlockWrites {
            preview,
            puts,
            deletes,
        }
    }

    /// Steps 1-6 of DM `UnlockLock`: validate, force the lock synced, send
    /// the owner its `exec` Operation, and hold the unlock until it ends.
    pub(super) async fn start_unlock(
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

    pub(super) async fn advance_unlocks(&mut self) -> Result<()> {
        let lock_ids: Vec<String> = self.unlocking.keys().cloned().collect();
        for lock_id in lock_ids {
            self.advance_unlock(&lock_id).await?;
        }
        Ok(())
    }

    /// Moves one held unlock on as far as the lock's state allows: owner
    /// done (or timed out under force-remove) → skip Operations; non-owners
    /// done (or timed out) → remove the lock and answer.
    pub(super) async fn advance_unlock(&mut self, lock_id: &str) -> Result<()> {
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
    pub(super) async fn finish_unlock(&mut self, unlocking: Unlocking) -> Result<()> {
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
        let keys = self.lock_keys(&cleanup.task, &cleanup.sources);
        let deleted =
            ops::delete_keys(&self.ctx.etcd, self.ctx.fence.as_ref(), "unlock lock", keys).await;
        tracing::info!(task = %cleanup.task, lock_id = %cleanup.lock_id, ok = deleted.is_ok(), "lock unlocked and removed");
        let term_end = deleted.as_ref().err().and_then(Error::term_end);
        let delete_error = deleted.err().map(|e| e.to_string());
        let _ = reply
            .send(unlock_result(skip_error, delete_error, &plan.unsynced).map_err(Error::from));
        term_end.map_or(Ok(()), Err)
    }

    pub(super) fn revert_unlock(&mut self, plan: &UnlockPlan) {
        if let Some(change) = self.keeper.revert_unlock(plan) {
            self.apply_change(&change);
        }
    }

    pub(super) async fn remove_metadata(&mut self, task: &str) -> Result<()> {
        self.forget_task(task);
        ops::delete_infos_operations_by_task(
            &self.ctx.etcd,
            &self.ctx.space,
            self.ctx.fence.as_ref(),
            task,
        )
        .await?;
        tracing::info!(%task, "pessimistic metadata of task removed");
        Ok(())
    }
}
