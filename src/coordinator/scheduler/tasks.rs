//! Task requests (start, pause, resume, stop): decided from the task's
//! configs and stages read at one revision, written in one fenced txn, and
//! answered with the written result.

use super::*;

/// Sends the outcome of a write to the requester; a leadership loss is also
/// returned to the loop, which ends the term.
pub(super) fn answer<T>(reply: oneshot::Sender<Result<T>>, written: Result<T>) -> Result<()> {
    match written {
        Err(error @ Error::LeadershipLost { .. }) => {
            let _ = reply.send(Err(Error::NotLeader));
            Err(error)
        }
        other => {
            let _ = reply.send(other);
            Ok(())
        }
    }
}

impl SchedulerActor {
    pub(super) async fn on_task_request(&mut self, request: Request) -> Result<()> {
        match request {
            Request::StartTask {
                task,
                subtasks,
                reply,
            } => {
                let planned = match self.task_subtasks(&task).await {
                    Ok((configured, _)) => {
                        let configured: BTreeSet<String> = configured.into_keys().collect();
                        let bound: BTreeSet<String> = subtasks
                            .iter()
                            .filter(|s| self.state.worker_of(&s.source).is_some())
                            .map(|s| s.source.clone())
                            .collect();
                        plan_start(&task, subtasks, &configured, &bound).map_err(Error::from)
                    }
                    Err(e) => Err(e),
                };
                let fresh = match planned {
                    Ok(fresh) => fresh,
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        return Ok(());
                    }
                };
                if fresh.is_empty() {
                    let _ = reply.send(Ok(Vec::new()));
                    return Ok(());
                }
                let sources: Vec<String> = fresh.iter().map(|s| s.source.clone()).collect();
                let pairs: Vec<(String, Vec<u8>)> =
                    fresh.into_iter().map(|s| (s.source, s.toml)).collect();
                let txn = ha::put_subtasks_txn(&self.ctx.space, &task, &pairs);
                let written = self.write_task_txn(txn).await;
                if written.is_ok() {
                    tracing::info!(%task, sources = ?sources, "subtasks started");
                }
                answer(reply, written.map(|()| sources))
            }
            Request::OperateTask {
                task,
                sources,
                op,
                reply,
            } => {
                let planned = match self.task_subtasks(&task).await {
                    Ok((configured, staged)) => {
                        let configured: BTreeSet<String> = configured.into_keys().collect();
                        plan_operate(&task, &sources, &configured, &staged).map_err(Error::from)
                    }
                    Err(e) => Err(e),
                };
                let sources = match planned {
                    Ok(Some(sources)) => sources,
                    other => {
                        let _ = reply.send(other);
                        return Ok(());
                    }
                };
                let txn = match op {
                    TaskStageOp::Pause => ha::put_subtask_stages_txn(
                        &self.ctx.space,
                        &task,
                        &sources,
                        StageKind::Paused,
                    ),
                    TaskStageOp::Resume => ha::put_subtask_stages_txn(
                        &self.ctx.space,
                        &task,
                        &sources,
                        StageKind::Running,
                    ),
                    TaskStageOp::Delete => {
                        ha::delete_subtasks_txn(&self.ctx.space, &task, &sources)
                    }
                };
                let written = self.write_task_txn(txn).await;
                if written.is_ok() {
                    tracing::info!(%task, sources = ?sources, ?op, "subtasks operated");
                }
                answer(reply, written.map(|()| Some(sources)))
            }
            Request::SubTaskConfigs { task, reply } => {
                let configs = self.task_subtasks(&task).await.map(|(c, _)| c);
                let _ = reply.send(configs);
                Ok(())
            }
            Request::AllSubTasks { reply } => {
                let all = self
                    .ctx
                    .etcd
                    .get_prefix(&self.ctx.space.path(&UPSTREAM_SUBTASK))
                    .await
                    .map(|kvs| {
                        kvs.value
                            .iter()
                            .filter_map(|kv| self.ctx.space.decode(&UPSTREAM_SUBTASK, &kv.key).ok())
                            .map(|[source, task]| (source, task))
                            .collect()
                    });
                let _ = reply.send(all);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The task's stored subtask configs (source → TOML) and the sources
    /// with a subtask stage, read at one revision.
    pub(super) async fn task_subtasks(
        &self,
        task: &str,
    ) -> Result<(BTreeMap<String, Vec<u8>>, BTreeSet<String>)> {
        let reads = Txn::new("task subtasks").then([
            Op::get_prefix(self.ctx.space.path(&UPSTREAM_SUBTASK)),
            Op::get_prefix(self.ctx.space.path(&STAGE_SUBTASK)),
        ]);
        let outcome = self
            .ctx
            .etcd
            .txn_fenced(reads, self.ctx.fence.as_ref())
            .await?;
        let mut configs = BTreeMap::new();
        for kv in outcome.get_result(0) {
            if let Ok([source, name]) = self.ctx.space.decode(&UPSTREAM_SUBTASK, &kv.key) {
                if name == task {
                    configs.insert(source, kv.value.clone());
                }
            }
        }
        let staged = outcome
            .get_result(1)
            .iter()
            .filter_map(|kv| self.ctx.space.decode(&STAGE_SUBTASK, &kv.key).ok())
            .filter(|[_, name]| name == task)
            .map(|[source, _]| source)
            .collect();
        Ok((configs, staged))
    }

    /// Writes one subtask txn with the fence; memory holds no subtask
    /// state, so a failure needs no rebuild.
    pub(super) async fn write_task_txn(&self, txn: Txn) -> Result<()> {
        match self.ctx.etcd.txn_fenced(txn, self.ctx.fence.as_ref()).await {
            Ok(_) => Ok(()),
            Err(error) => {
                tracing::warn!(%error, "subtask write failed");
                self.ctx
                    .metrics
                    .worker_event_error
                    .with_label_values(&[EVENT_ERROR_HANDLE])
                    .inc();
                Err(error)
            }
        }
    }

    /// Tasks with a subtask config for `source` (read at request time: the
    /// task half of the scheduler writes them).
    pub(super) async fn tasks_of_source(&self, source: &str) -> Result<BTreeSet<String>> {
        let prefix = self.ctx.space.prefix(&UPSTREAM_SUBTASK, &[source]);
        let kvs = self.ctx.etcd.get_prefix(&prefix).await?;
        Ok(kvs
            .value
            .iter()
            .filter_map(|kv| self.ctx.space.decode(&UPSTREAM_SUBTASK, &kv.key).ok())
            .map(|[_, task]| task)
            .collect())
    }
}
