//! Admin requests: the cheap [`OptimistHandle`] callers hold, the closed
//! `Request` set it sends, and the actor's handling of show, unlock,
//! conflicts and remove-meta (whole task or some of its sources).

use super::*;

pub(super) enum Request {
    ShowLocks {
        task: Option<String>,
        sources: Vec<String>,
        reply: oneshot::Sender<Vec<LockView>>,
    },
    Unlock {
        lock_id: String,
        key: TableKey,
        action: UnlockAction,
        reply: oneshot::Sender<Result<()>>,
    },
    RemoveMetadata {
        task: String,
        reply: oneshot::Sender<Result<()>>,
    },
    RemoveSourcesMetadata {
        task: String,
        sources: Vec<String>,
        reply: oneshot::Sender<Result<()>>,
    },
    /// The Operations the lock page shows: every one not plainly `none`.
    Conflicts {
        reply: oneshot::Sender<Vec<Operation>>,
    },
}

/// Admin handle of the optimist; fails with `NotStarted` once it stopped.
#[derive(Clone)]
pub struct OptimistHandle {
    pub(super) mailbox: crate::coordinator::Mailbox<Request>,
}

impl OptimistHandle {
    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Request) -> Result<T> {
        self.mailbox.call(make).await
    }

    /// DM `ShowLocks` for optimistic locks.
    pub async fn show_locks(
        &self,
        task: Option<&str>,
        sources: &[String],
    ) -> Result<Vec<LockView>> {
        let task = task.filter(|t| !t.is_empty()).map(str::to_owned);
        let sources = sources.to_vec();
        self.call(|reply| Request::ShowLocks {
            task,
            sources,
            reply,
        })
        .await
    }

    /// DM `UnlockLock` for one upstream table of an optimistic lock:
    /// execute (`Exec`) or skip (`Skip`) its blocked DDLs.
    pub async fn unlock_lock(
        &self,
        lock_id: &str,
        source: &str,
        schema: &str,
        table: &str,
        action: UnlockAction,
    ) -> Result<()> {
        let lock_id = lock_id.to_owned();
        let key = TableKey::new(source, schema, table);
        self.call(|reply| Request::Unlock {
            lock_id,
            key,
            action,
            reply,
        })
        .await?
    }

    /// Every Operation whose conflict stage is not `none` or that carries a
    /// conflict message, ordered by task and table (lock page).
    pub async fn conflicts(&self) -> Result<Vec<Operation>> {
        self.call(|reply| Request::Conflicts { reply }).await
    }

    /// DM `RemoveMetaDataWithTask`: drops the task's locks and deletes its
    /// optimistic keys.
    pub async fn remove_metadata(&self, task: &str) -> Result<()> {
        let task = task.to_owned();
        self.call(|reply| Request::RemoveMetadata { task, reply })
            .await?
    }

    /// DM's `RemoveMetaDataWithTaskAndSources` (stop-task `-s`): the
    /// sources' tables leave the task's locks (which may then resolve, or
    /// go when no table is left) and their SourceTables, Infos and
    /// Operations are deleted.
    pub async fn remove_sources_metadata(&self, task: &str, sources: Vec<String>) -> Result<()> {
        let task = task.to_owned();
        self.call(|reply| Request::RemoveSourcesMetadata {
            task,
            sources,
            reply,
        })
        .await?
    }
}

pub(super) fn not_started() -> Error {
    Error::NotStarted {
        component: "optimist",
    }
}

impl Optimist {
    pub(super) async fn on_request(&mut self, request: Request) -> Result<()> {
        match request {
            Request::ShowLocks {
                task,
                sources,
                reply,
            } => {
                let ops: Vec<Operation> = self.operations.values().map(|o| o.0.clone()).collect();
                let infos: Vec<Info> = self.infos.values().map(|s| s.info.clone()).collect();
                let _ = reply.send(
                    self.keeper
                        .show_locks(task.as_deref(), &sources, &ops, &infos),
                );
            }
            Request::Unlock {
                lock_id,
                key,
                action,
                reply,
            } => {
                let result = self.unlock(&lock_id, &key, action).await;
                let term_end = result.as_ref().err().and_then(Error::term_end);
                let _ = reply.send(result);
                if let Some(end) = term_end {
                    return Err(end);
                }
            }
            Request::Conflicts { reply } => {
                let conflicts = self
                    .operations
                    .values()
                    .map(|o| &o.0)
                    .filter(|op| {
                        op.conflict_stage != ConflictStage::None || !op.conflict_message.is_empty()
                    })
                    .cloned()
                    .collect();
                let _ = reply.send(conflicts);
            }
            Request::RemoveSourcesMetadata {
                task,
                sources,
                reply,
            } => {
                let result = self.remove_sources_metadata(&task, &sources).await;
                let term_end = result.as_ref().err().and_then(Error::term_end);
                let _ = reply.send(result);
                if let Some(end) = term_end {
                    return Err(end);
                }
            }
            Request::RemoveMetadata { task, reply } => {
                let result = self.remove_metadata(&task).await;
                let term_end = result.as_ref().err().and_then(Error::term_end);
                let _ = reply.send(result);
                if let Some(end) = term_end {
                    return Err(end);
                }
            }
        }
        Ok(())
    }

    pub(super) async fn unlock(
        &mut self,
        lock_id: &str,
        key: &TableKey,
        action: UnlockAction,
    ) -> Result<()> {
        let task = parse_lock_id(lock_id).map(|p| p.task).unwrap_or_default();
        let infos: Vec<Info> = self
            .infos
            .iter()
            .filter(|((t, _), _)| *t == task)
            .map(|(_, s)| s.info.clone())
            .collect();
        let ops: Vec<(Operation, i64)> = self
            .operations
            .iter()
            .filter(|((t, _), _)| *t == task)
            .map(|(_, o)| (**o).clone())
            .collect();
        match self
            .keeper
            .plan_unlock(lock_id, key, action, &infos, &ops)?
        {
            UnlockDecision::Resolved(removal) => self.remove_lock(removal).await,
            UnlockDecision::Put(plan) => {
                ops::put_operation(
                    &self.ctx.etcd,
                    &self.ctx.space,
                    self.ctx.fence.as_ref(),
                    &plan.op,
                    false,
                    plan.info_revision,
                )
                .await?;
                tracing::warn!(%lock_id, source = %key.source, schema = %key.schema, table = %key.table, ?action, "optimistic lock unlocked for one table");
                let recheck = self.keeper.unlock_done(&plan);
                for key in recheck {
                    self.recheck(lock_id, &key).await?;
                }
                self.publish_metrics();
                Ok(())
            }
        }
    }

    pub(super) async fn remove_metadata(&mut self, task: &str) -> Result<()> {
        let infos: Vec<Info> = self
            .infos
            .iter()
            .filter(|((t, _), _)| t == task)
            .map(|(_, s)| s.info.clone())
            .collect();
        let ops: Vec<Operation> = self
            .operations
            .iter()
            .filter(|((t, _), _)| t == task)
            .map(|(_, o)| o.0.clone())
            .collect();
        let mut lock_ids = self.keeper.remove_task(&infos, &ops);
        let extra: Vec<String> = self
            .keeper
            .find_locks_by_task(task)
            .map(|l| l.id().to_owned())
            .collect();
        for id in extra {
            self.keeper.remove_lock(&id);
            lock_ids.push(id);
        }
        for id in &lock_ids {
            self.set_lock_state(id, None);
        }
        self.tables.remove_table_by_task(task);
        ops::delete_task(
            &self.ctx.etcd,
            &self.ctx.space,
            self.ctx.fence.as_ref(),
            task,
            &lock_ids,
        )
        .await?;
        self.publish_metrics();
        tracing::info!(%task, locks = lock_ids.len(), "optimistic metadata of task removed");
        Ok(())
    }

    pub(super) async fn remove_sources_metadata(
        &mut self,
        task: &str,
        sources: &[String],
    ) -> Result<()> {
        for source in sources {
            // As if the source's SourceTables were deleted: its tables leave
            // every lock of the task, and their Info / Operation keys go.
            self.on_source_tables(&SourceTables::new(task, source), true)
                .await?;
            let mut keys = vec![ops::source_tables_key(&self.ctx.space, task, source)];
            for ((t, key), _) in self
                .infos
                .iter()
                .filter(|((t, k), _)| t == task && k.source == *source)
            {
                keys.push(ops::info_key(&self.ctx.space, t, key));
            }
            for ((t, key), _) in self
                .operations
                .iter()
                .filter(|((t, k), _)| t == task && k.source == *source)
            {
                keys.push(ops::operation_key(&self.ctx.space, t, key));
            }
            let deletes = keys.into_iter().map(Op::delete).collect();
            self.ctx
                .etcd
                .batch_fenced(
                    "delete optimistic metadata of a source",
                    deletes,
                    self.ctx.fence.as_ref(),
                )
                .await?;
            tracing::info!(%task, %source, "optimistic metadata of the source removed");
        }
        self.publish_metrics();
        Ok(())
    }
}
