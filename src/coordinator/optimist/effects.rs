//! Carrying out a TrySync's effects: answers settled as guarded, fenced
//! writes, dropped-column records, and the removal of a resolved lock with
//! its keys. A fence failure ends the term; other failures are logged with
//! the lock and retried by the next event.

use super::*;

/// A failed write that is not loss of leadership is logged (DM logs these
/// too); loss of leadership stops the actor.
pub(super) fn log_or_stop<T>(r: Result<T>, lock_id: &str, what: &str) -> Result<()> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.ends_term() => Err(e),
        Err(error) => {
            tracing::warn!(%lock_id, %error, "{what} failed");
            Ok(())
        }
    }
}

impl Optimist {
    /// Performs a TrySync's effects and answer; queues tables to recheck.
    pub(super) async fn settle(
        &mut self,
        lock_id: &str,
        info: &Info,
        mut result: TrySyncResult,
        skip_done: bool,
        info_revision: i64,
        recheck: &mut VecDeque<TableKey>,
    ) -> Result<()> {
        let caller = TableKey::new(&info.source, &info.up_schema, &info.up_table);
        if !result.effects.redirects.is_empty() {
            let written = ops::put_operations(
                &self.ctx.etcd,
                &self.ctx.space,
                self.ctx.fence.as_ref(),
                &result.effects.redirects,
            )
            .await;
            if let Err(error) = written {
                if error.ends_term() {
                    return Err(error);
                }
                tracing::error!(%lock_id, %error, "redirect operations failed");
                result =
                    self.keeper
                        .effects_failed(lock_id, info, result, EffectFailure::Redirects);
            }
        }
        if !result.effects.dropped_columns.is_empty() {
            let written = ops::put_dropped_columns(
                &self.ctx.etcd,
                &self.ctx.space,
                self.ctx.fence.as_ref(),
                lock_id,
                &caller,
                &result.effects.dropped_columns,
                DropColumnStage::NotDone,
            )
            .await;
            if let Err(error) = written {
                if error.ends_term() {
                    return Err(error);
                }
                let cause = error.dm_string();
                result = self.keeper.effects_failed(
                    lock_id,
                    info,
                    result,
                    EffectFailure::DroppedColumns { cause },
                );
            }
        }
        let stage = result.stage();
        if let Some(error) = &result.error {
            // In strict optimistic mode the worker fails at once on a
            // detected conflict: for the master it is an error too.
            let strict = stage == ConflictStage::Detected
                && self.strict_mode(&info.task, &info.source).await;
            if strict {
                tracing::error!(task = %info.task, source = %info.source, schema = %info.up_schema, table = %info.up_table, %lock_id, %error, "conflict in strict optimistic mode: the worker stops the task");
            }
            let kind = if stage == ConflictStage::Error || strict {
                metrics::ERR_INFO_PUT_HANDLE_LOCK
            } else {
                ""
            };
            tracing::warn!(task = %info.task, source = %info.source, schema = %info.up_schema, table = %info.up_table, %lock_id, %stage, %error, "shard DDL not merged as is");
            if !kind.is_empty() {
                self.ctx.metrics.report_ddl_error(&info.task, kind);
            }
        } else {
            tracing::info!(task = %info.task, source = %info.source, schema = %info.up_schema, table = %info.up_table, %lock_id, ddls = ?result.new_ddls, cols = ?result.cols, synced = result.synced, remain = result.remain, "info applied to optimistic lock");
        }
        if self.keeper.find_lock(lock_id).is_some() {
            self.set_lock_state(lock_id, Some((info.task.clone(), result.synced)));
        }
        recheck.extend(result.recheck.iter().cloned());
        match self
            .keeper
            .answer(lock_id, info, &result, skip_done, info_revision)
        {
            Answer::Nothing => Ok(()),
            Answer::LockNotFound(error) => {
                tracing::error!(task = %info.task, %lock_id, %error, "no lock to answer");
                self.ctx
                    .metrics
                    .report_ddl_error(&info.task, metrics::ERR_INFO_PUT_HANDLE_LOCK);
                Ok(())
            }
            Answer::Put {
                op, info_revision, ..
            } => {
                // Done is final until a new Info: every answer is guarded,
                // not only those of a rebuild. A duplicate Info read before
                // the worker's done (a client retry) would otherwise answer
                // again after it and undo the done.
                // What the watch last saw of the key guards the first try,
                // saving a read when it still holds.
                let table = TableKey::new(&op.source, &op.up_schema, &op.up_table);
                let seen = match self.operations.get(&(op.task.clone(), table)).map(|o| &**o) {
                    None => SeenOperation::Absent,
                    Some((stored, mod_revision)) if !stored.done => SeenOperation::NotDone {
                        mod_revision: *mod_revision,
                    },
                    Some(_) => SeenOperation::Unknown,
                };
                let written = ops::put_operation_seen(
                    &self.ctx.etcd,
                    &self.ctx.space,
                    self.ctx.fence.as_ref(),
                    &op,
                    true,
                    info_revision,
                    seen,
                )
                .await;
                match written {
                    Ok(put) => {
                        tracing::info!(%lock_id, source = %op.source, schema = %op.up_schema, table = %op.up_table, stage = %op.conflict_stage, ddls = ?op.ddls, put, "operation put");
                        Ok(())
                    }
                    Err(e) if e.ends_term() => Err(e),
                    Err(error) => {
                        tracing::error!(%lock_id, %error, "putting the operation failed");
                        self.ctx
                            .metrics
                            .report_ddl_error(&info.task, metrics::ERR_INFO_PUT_HANDLE_LOCK);
                        Ok(())
                    }
                }
            }
            Answer::RemoveLock(removal) => self.remove_lock(removal).await,
        }
    }

    /// Writes dropped-column stage changes; failures are logged (etcd
    /// catches up at the next rebuild, as in DM).
    pub(super) async fn write_column_effects(&mut self, columns: &ColumnEffects) -> Result<()> {
        if let Some(error) = &columns.error {
            tracing::warn!(lock_id = %columns.lock_id, %error, "dropped columns not updated");
        }
        for (col, key, stage) in &columns.put {
            let r = ops::put_dropped_columns(
                &self.ctx.etcd,
                &self.ctx.space,
                self.ctx.fence.as_ref(),
                &columns.lock_id,
                key,
                std::slice::from_ref(col),
                *stage,
            )
            .await;
            log_or_stop(r, &columns.lock_id, "recording a dropped column stage")?;
        }
        if !columns.delete.is_empty() {
            let r = ops::delete_dropped_columns(
                &self.ctx.etcd,
                &self.ctx.space,
                self.ctx.fence.as_ref(),
                &columns.lock_id,
                &columns.delete,
            )
            .await;
            log_or_stop(r, &columns.lock_id, "forgetting fully dropped columns")?;
        }
        Ok(())
    }

    pub(super) async fn remove_lock(&mut self, removal: RemoveLock) -> Result<()> {
        let kept = ops::delete_resolved_lock(
            &self.ctx.etcd,
            &self.ctx.space,
            self.ctx.fence.as_ref(),
            &removal.task,
            &removal.lock_id,
            &removal.tables,
        )
        .await;
        match kept {
            Ok(kept) if kept.is_empty() => {
                self.keeper.remove_lock(&removal.lock_id);
                self.set_lock_state(&removal.lock_id, None);
                tracing::info!(task = %removal.task, lock_id = %removal.lock_id, "optimistic lock resolved and removed");
            }
            Ok(kept) => {
                tracing::info!(task = %removal.task, lock_id = %removal.lock_id, kept = kept.len(), "lock resolved but some Infos were put again; keeping it");
            }
            Err(e) if e.ends_term() => return Err(e),
            Err(error) => {
                tracing::error!(task = %removal.task, lock_id = %removal.lock_id, %error, "removing the resolved lock failed");
                self.ctx
                    .metrics
                    .report_ddl_error(&removal.task, metrics::ERR_OPERATION_PUT_REMOVE_LOCK);
            }
        }
        Ok(())
    }
}
