//! Admin requests: the cheap [`SchedulerHandle`] the gRPC handlers hold,
//! the closed `Request` set it sends, and the actor's handling of worker
//! and source requests.

use super::*;

/// Admin requests, each with its reply.
pub(super) enum Request {
    Register {
        name: String,
        addr: String,
        reply: oneshot::Sender<Result<()>>,
    },
    Workers {
        reply: oneshot::Sender<Vec<WorkerView>>,
    },
    RemoveWorker {
        name: String,
        reply: oneshot::Sender<Result<()>>,
    },
    AddSource {
        source: NewSource,
        worker: Option<String>,
        reply: oneshot::Sender<Result<()>>,
    },
    RemoveSource {
        source: String,
        reply: oneshot::Sender<Result<()>>,
    },
    Sources {
        reply: oneshot::Sender<Vec<(String, Option<WorkerInfo>)>>,
    },
    SourceConfigs {
        reply: oneshot::Sender<BTreeMap<String, Vec<u8>>>,
    },
    StartTask {
        task: String,
        subtasks: Vec<NewSubTask>,
        reply: oneshot::Sender<Result<Vec<String>>>,
    },
    OperateTask {
        task: String,
        sources: Vec<String>,
        op: TaskStageOp,
        reply: oneshot::Sender<Result<Option<Vec<String>>>>,
    },
    SubTaskConfigs {
        task: String,
        reply: oneshot::Sender<Result<BTreeMap<String, Vec<u8>>>>,
    },
    AllSubTasks {
        reply: oneshot::Sender<Result<Vec<(String, String)>>>,
    },
}

/// Admin handle of the scheduler; fails with 46001 once it stopped.
#[derive(Clone)]
pub struct SchedulerHandle {
    pub(super) mailbox: crate::coordinator::Mailbox<Request>,
    /// Boxed behind an `Arc`: the client is large and handles are cloned
    /// into every request.
    pub(super) etcd: Arc<Etcd>,
    pub(super) space: KeySpace,
}

pub(super) fn not_started() -> Error {
    Error::Scheduler(SchedulerError::NotStarted)
}

impl SchedulerHandle {
    /// RegisterWorker: records the worker (offline until its keep-alive key
    /// appears). Same name and address again: nothing written.
    pub async fn register_worker(&self, name: &str, addr: &str) -> Result<()> {
        let (name, addr) = (name.to_owned(), addr.to_owned());
        self.mailbox
            .call(|reply| Request::Register { name, addr, reply })
            .await?
    }

    /// Every registered worker with stage and bound source, by name.
    pub async fn workers(&self) -> Result<Vec<WorkerView>> {
        self.mailbox.call(|reply| Request::Workers { reply }).await
    }

    /// OfflineMember for a worker: only an offline worker is removed.
    pub async fn remove_worker(&self, name: &str) -> Result<()> {
        let name = name.to_owned();
        self.mailbox
            .call(|reply| Request::RemoveWorker { name, reply })
            .await?
    }

    /// create-source for one config (bound to `worker` when given).
    pub async fn add_source(&self, source: NewSource, worker: Option<&str>) -> Result<()> {
        let worker = worker.filter(|w| !w.is_empty()).map(str::to_owned);
        self.mailbox
            .call(|reply| Request::AddSource {
                source,
                worker,
                reply,
            })
            .await?
    }

    /// stop-source for one source.
    pub async fn remove_source(&self, source: &str) -> Result<()> {
        let source = source.to_owned();
        self.mailbox
            .call(|reply| Request::RemoveSource { source, reply })
            .await?
    }

    /// Every source with the worker it is bound to, by source ID.
    pub async fn sources(&self) -> Result<Vec<(String, Option<WorkerInfo>)>> {
        self.mailbox.call(|reply| Request::Sources { reply }).await
    }

    /// Each of `sources` with the worker bound to it, in the given order
    /// (no worker for any once the actor has stopped).
    pub async fn bound_workers(&self, sources: &[String]) -> Vec<(String, Option<WorkerInfo>)> {
        let bound = self.sources().await.unwrap_or_default();
        sources
            .iter()
            .map(|source| {
                let worker = bound
                    .iter()
                    .find(|(s, _)| s == source)
                    .and_then(|(_, w)| w.clone());
                (source.clone(), worker)
            })
            .collect()
    }

    /// Every source's stored config TOML, by source ID.
    pub async fn source_configs(&self) -> Result<BTreeMap<String, Vec<u8>>> {
        self.mailbox
            .call(|reply| Request::SourceConfigs { reply })
            .await
    }

    /// start-task (DM `AddSubTasks(Running)`): writes the configs of the
    /// sources that have none yet, with stage `Running`, in one fenced txn.
    /// Returns the sources written.
    pub async fn start_task(&self, task: &str, subtasks: Vec<NewSubTask>) -> Result<Vec<String>> {
        let task = task.to_owned();
        self.mailbox
            .call(|reply| Request::StartTask {
                task,
                subtasks,
                reply,
            })
            .await?
    }

    /// pause/resume/stop-task on `sources` (all of the task's when empty).
    /// Returns the sources operated, `None` when the task has none.
    pub async fn operate_task(
        &self,
        task: &str,
        sources: Vec<String>,
        op: TaskStageOp,
    ) -> Result<Option<Vec<String>>> {
        let task = task.to_owned();
        self.mailbox
            .call(|reply| Request::OperateTask {
                task,
                sources,
                op,
                reply,
            })
            .await?
    }

    /// The stored subtask config TOML of each source of `task`.
    pub async fn subtask_configs(&self, task: &str) -> Result<BTreeMap<String, Vec<u8>>> {
        let task = task.to_owned();
        self.mailbox
            .call(|reply| Request::SubTaskConfigs { task, reply })
            .await?
    }

    /// Every (source, task) with a stored subtask config, in key order.
    pub async fn all_subtasks(&self) -> Result<Vec<(String, String)>> {
        self.mailbox
            .call(|reply| Request::AllSubTasks { reply })
            .await?
    }

    /// The etcd client of the term, for member queries.
    pub fn etcd(&self) -> &Etcd {
        &self.etcd
    }

    /// The key space of the term.
    pub fn space(&self) -> &KeySpace {
        &self.space
    }
}

impl SchedulerActor {
    pub(super) async fn on_request(&mut self, request: Request) -> Result<()> {
        match request {
            Request::Register { name, addr, reply } => {
                let outcome = self.state.register(&name, &addr);
                let result = match outcome {
                    Ok(Registered::Already) => Ok(()),
                    Ok(Registered::New(effects)) => {
                        let written = self.apply(effects).await;
                        if written.is_ok() {
                            tracing::info!(worker = %name, %addr, "worker registered");
                        }
                        return answer(reply, written);
                    }
                    Err(e) => Err(e.into()),
                };
                let _ = reply.send(result);
                Ok(())
            }
            Request::Workers { reply } => {
                let _ = reply.send(self.state.workers());
                Ok(())
            }
            Request::RemoveWorker { name, reply } => match self.state.remove_worker(&name) {
                Ok(effects) => {
                    let written = self.apply(effects).await;
                    if written.is_ok() {
                        self.ctx
                            .metrics
                            .worker_state
                            .remove_label_values(&[&name])
                            .ok();
                        tracing::info!(worker = %name, "worker removed");
                    }
                    answer(reply, written)
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                    Ok(())
                }
            },
            Request::AddSource {
                source,
                worker,
                reply,
            } => match self
                .state
                .add_source(&source.id, source.toml, worker.as_deref())
            {
                Ok(effects) => {
                    let written = self.apply(effects).await;
                    if written.is_ok() {
                        tracing::info!(source = %source.id, worker = ?self.state.worker_of(&source.id).map(|w| w.name), "source added");
                    }
                    answer(reply, written)
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                    Ok(())
                }
            },
            Request::RemoveSource { source, reply } => {
                let tasks = match self.tasks_of_source(&source).await {
                    Ok(tasks) => tasks,
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        return Ok(());
                    }
                };
                match self.state.remove_source(&source, &tasks) {
                    Ok(effects) => {
                        let written = self.apply(effects).await;
                        if written.is_ok() {
                            tracing::info!(%source, "source removed");
                        }
                        answer(reply, written)
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                        Ok(())
                    }
                }
            }
            Request::Sources { reply } => {
                let sources = self
                    .state
                    .source_ids()
                    .into_iter()
                    .map(|id| {
                        let worker = self.state.worker_of(&id);
                        (id, worker)
                    })
                    .collect();
                let _ = reply.send(sources);
                Ok(())
            }
            Request::SourceConfigs { reply } => {
                let configs = self
                    .state
                    .source_ids()
                    .into_iter()
                    .filter_map(|id| {
                        let toml = self.state.source_config(&id)?.to_vec();
                        Some((id, toml))
                    })
                    .collect();
                let _ = reply.send(configs);
                Ok(())
            }
            task_request => self.on_task_request(task_request).await,
        }
    }
}
