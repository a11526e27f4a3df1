//! Admin requests: the cheap [`PessimistHandle`] callers hold, the closed
//! `Request` set it sends, and the actor's dispatch of each request.

use super::*;

/// Requests the actor answers.
pub(super) enum Request {
    ShowLocks {
        task: Option<String>,
        sources: Vec<String>,
        reply: oneshot::Sender<Vec<LockView>>,
    },
    /// Starts an [`Unlocking`]; answered when it ends.
    Unlock {
        lock_id: String,
        replace_owner: Option<String>,
        force_remove: bool,
        reply: oneshot::Sender<Result<()>>,
    },
    RemoveMetadata {
        task: String,
        reply: oneshot::Sender<Result<()>>,
    },
    TaskMode {
        task: String,
        reply: oneshot::Sender<Option<ShardMode>>,
    },
    /// Every lock with what the lock page shows beyond ShowLocks.
    Details {
        reply: oneshot::Sender<Vec<LockDetail>>,
    },
    /// What an unlock would write; changes nothing.
    PreviewUnlock {
        lock_id: String,
        replace_owner: Option<String>,
        reply: oneshot::Sender<Result<UnlockWrites>>,
    },
    /// Writes an injected Info (answered once written; the watch then
    /// applies it like any Info).
    Inject {
        request: InjectRequest,
        reply: oneshot::Sender<Result<()>>,
    },
}

/// A cheap handle for admin calls; fails with `NotStarted` once the actor
/// has stopped.
#[derive(Clone)]
pub struct PessimistHandle {
    pub(super) mailbox: crate::coordinator::Mailbox<Request>,
}

impl PessimistHandle {
    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Request) -> Result<T> {
        self.mailbox.call(make).await
    }

    /// DM `ShowLocks`: locks filtered by task and by any of `sources`.
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

    /// DM `UnlockLock` (docs/protocol.md#pessimistic-unlock): make `replace_owner` (or the
    /// owner) execute, make the other synced sources skip, then remove the
    /// lock and its keys. The actor holds the unlock as state and keeps
    /// handling events; this waits for its answer.
    pub async fn unlock_lock(
        &self,
        lock_id: &str,
        replace_owner: Option<&str>,
        force_remove: bool,
    ) -> Result<()> {
        let lock_id = lock_id.to_owned();
        let replace_owner = replace_owner.filter(|o| !o.is_empty()).map(str::to_owned);
        self.call(|reply| Request::Unlock {
            lock_id,
            replace_owner,
            force_remove,
            reply,
        })
        .await?
    }

    /// DM `RemoveMetaData(task)`: drops the task's locks and deletes its
    /// pessimism Infos and Operations.
    pub async fn remove_metadata(&self, task: &str) -> Result<()> {
        let task = task.to_owned();
        self.call(|reply| Request::RemoveMetadata { task, reply })
            .await?
    }

    /// The shard mode of a task from its subtask configs (`None`: the task
    /// has no subtask config).
    pub async fn task_mode(&self, task: &str) -> Result<Option<ShardMode>> {
        let task = task.to_owned();
        self.call(|reply| Request::TaskMode { task, reply }).await
    }

    /// Every lock with its age, injected and done sources (lock page).
    pub async fn lock_details(&self) -> Result<Vec<LockDetail>> {
        self.call(|reply| Request::Details { reply }).await
    }

    /// What [`Self::unlock_lock`] would write for this lock, computed by
    /// the same planner; nothing is written.
    pub async fn preview_unlock(
        &self,
        lock_id: &str,
        replace_owner: Option<&str>,
    ) -> Result<UnlockWrites> {
        let lock_id = lock_id.to_owned();
        let replace_owner = replace_owner.filter(|o| !o.is_empty()).map(str::to_owned);
        self.call(|reply| Request::PreviewUnlock {
            lock_id,
            replace_owner,
            reply,
        })
        .await?
    }

    /// Writes an Info marked as injected for a source that will never
    /// report it (refused when the source already reported one).
    pub async fn inject(&self, request: InjectRequest) -> Result<()> {
        self.call(|reply| Request::Inject { request, reply })
            .await?
    }
}

pub(super) fn not_started() -> Error {
    Error::NotStarted {
        component: "pessimist",
    }
}

impl Pessimist {
    pub(super) async fn on_request(&mut self, request: Request) -> Result<()> {
        match request {
            Request::ShowLocks {
                task,
                sources,
                reply,
            } => {
                let _ = reply.send(self.keeper.show_locks(task.as_deref(), &sources));
            }
            Request::Unlock {
                lock_id,
                replace_owner,
                force_remove,
                reply,
            } => {
                return self
                    .start_unlock(lock_id, replace_owner, force_remove, reply)
                    .await;
            }
            Request::TaskMode { task, reply } => {
                let _ = reply.send(self.registry.mode(&task));
            }
            Request::Details { reply } => {
                let _ = reply.send(self.lock_details());
            }
            Request::PreviewUnlock {
                lock_id,
                replace_owner,
                reply,
            } => {
                let injected = self.injected_sources(&lock_id);
                let preview = operator::preview_unlock(
                    &self.keeper,
                    &lock_id,
                    replace_owner.as_deref(),
                    &injected,
                );
                let _ = reply.send(preview.map(|p| self.unlock_writes(p)).map_err(Error::from));
            }
            Request::Inject { request, reply } => {
                let result = self.inject(&request).await;
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
}
