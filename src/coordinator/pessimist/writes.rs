//! The write pipeline: a lock's answer becomes a [`WriteJob`] built from the
//! actor's view, runs in the background on the term's tracker, and comes back
//! as `Event::Written`. Writes of one task stay ordered: watch events of a
//! task with writes in flight queue until they end. Failed retryable writes
//! are re-answered on the next tick; a fence failure ends the term.

use super::*;

/// A lock's answer as the etcd write that carries it out, built from the
/// actor's view when the answer is decided, so it can run without the actor.
pub(super) struct WriteJob {
    pub(super) task: String,
    pub(super) lock_id: String,
    pub(super) write: Write,
}

pub(super) enum Write {
    PutOps {
        ops: OpsToPut,
        operations: Vec<Operation>,
        /// What the watch last saw of each Operation key (the first
        /// attempt's guards).
        seen: Vec<SeenOperation>,
    },
    /// The removal of a resolved lock: once its keys are gone, it leaves
    /// the keeper.
    RemoveLock { keys: Vec<String> },
}

impl Write {
    fn removes_lock(&self) -> bool {
        matches!(self, Write::RemoveLock { .. })
    }

    async fn run(self, etcd: &Etcd, space: &KeySpace, fence: Option<&Fence>) -> Result<()> {
        match self {
            Write::PutOps {
                ops: o,
                operations,
                seen,
            } => {
                let outcome =
                    ops::put_operations_seen(etcd, space, fence, &operations, o.skip_done, &seen)
                        .await?;
                tracing::info!(task = %o.task, lock_id = %o.lock_id, exec = o.exec, written = ?outcome.written, already_done = ?outcome.already_done, revision = outcome.revision, "operations put");
                Ok(())
            }
            Write::RemoveLock { keys } => {
                ops::delete_keys(etcd, fence, "remove lock", keys).await?;
                Ok(())
            }
        }
    }
}

/// The result of a background write, fed back to the actor.
pub(super) struct WriteDone {
    pub(super) task: String,
    pub(super) lock_id: String,
    pub(super) removes_lock: bool,
    pub(super) error_kind: &'static str,
    pub(super) result: Result<()>,
}

/// A task with background writes in flight, and its watch events that
/// arrived meanwhile (handled in order once the writes end).
#[derive(Default)]
pub(super) struct TaskWrites {
    pub(super) in_flight: usize,
    pub(super) queue: VecDeque<(WatchEvent, PessimismKey)>,
}

/// The lock an action answers, if any.
pub(super) fn action_lock(action: &LockAction) -> Option<&str> {
    match action {
        LockAction::None => None,
        LockAction::RemoveLock { lock_id, .. } => Some(lock_id),
        LockAction::PutOwnerOp(o) | LockAction::PutSkipOps(o) => Some(&o.lock_id),
    }
}

impl Pessimist {
    /// Starts `job` in the background; its task's next events wait for it.
    pub(super) fn spawn_write(&mut self, job: WriteJob, error_kind: &'static str) {
        let WriteJob {
            task,
            lock_id,
            write,
        } = job;
        let (etcd, space, fence) = (
            self.ctx.etcd.clone(),
            self.ctx.space.clone(),
            self.ctx.fence.clone(),
        );
        let (done_task, done_lock) = (task.clone(), lock_id.clone());
        let write = async move {
            let removes_lock = write.removes_lock();
            let result = write.run(&etcd, &space, fence.as_ref()).await;
            WriteDone {
                task: done_task,
                lock_id: done_lock,
                removes_lock,
                error_kind,
                result,
            }
        };
        // The write logs under the actor's span (mode = pessimistic). Boxed
        // where it is made: the future holds a whole etcd request's state,
        // and spawning it unboxed copies all of it on the way into the task.
        let handle = self.writes.spawn(tracing::Instrument::instrument(
            Box::pin(write),
            tracing::Span::current(),
        ));
        self.write_ids.insert(handle.id(), (task.clone(), lock_id));
        self.writing.entry(task).or_default().in_flight += 1;
    }

    /// A background write ended: its result is applied as an awaited write's
    /// would be, then the task's waiting events are handled.
    pub(super) async fn on_written(
        &mut self,
        joined: std::result::Result<(tokio::task::Id, WriteDone), JoinError>,
    ) -> Result<()> {
        let task = match joined {
            Ok((id, done)) => {
                self.write_ids.remove(&id);
                self.on_write_result(
                    &done.task,
                    &done.lock_id,
                    done.removes_lock,
                    done.error_kind,
                    done.result,
                )?;
                done.task
            }
            Err(error) => {
                let Some((task, lock_id)) = self.write_ids.remove(&error.id()) else {
                    return Ok(());
                };
                tracing::error!(%task, %lock_id, %error, "background write did not finish, will retry");
                self.retry.insert(lock_id);
                task
            }
        };
        let Some(busy) = self.writing.get_mut(&task) else {
            return Ok(());
        };
        busy.in_flight = busy.in_flight.saturating_sub(1);
        if busy.in_flight > 0 {
            return Ok(());
        }
        let mut queue = self
            .writing
            .remove(&task)
            .map(|busy| busy.queue)
            .unwrap_or_default();
        while let Some((event, key)) = queue.pop_front() {
            if let Err(error) = self.on_keyed_event(event, Some(key)).await {
                if error.ends_term() {
                    return Err(error);
                }
                tracing::warn!(%task, %error, "pessimist event failed");
            }
            if let Some(busy) = self.writing.get_mut(&task) {
                // Another write of the task started: the rest waits for it.
                busy.queue.extend(queue);
                return Ok(());
            }
        }
        Ok(())
    }

    /// Waits for every background write and the events queued behind them,
    /// so what follows sees the state every awaited write would leave.
    pub(super) async fn settle_writes(&mut self) -> Result<()> {
        while let Some(joined) = self.writes.join_next_with_id().await {
            self.pipeline = self.unlocking.is_empty();
            let result = self.on_written(joined).await;
            self.pipeline = false;
            result?;
        }
        Ok(())
    }

    /// Performs an action; on failure counts the metric `error_kind`, logs,
    /// and schedules the lock to be answered again. Loss of leadership is
    /// returned so the actor stops. In [`Pessimist::pipeline`] mode the
    /// write runs in the background and its result comes back as
    /// [`Event::Written`].
    pub(super) async fn perform_or_retry(
        &mut self,
        action: LockAction,
        error_kind: &'static str,
    ) -> Result<()> {
        let Some(job) = self.prepare(action) else {
            return Ok(());
        };
        if self.pipeline {
            self.spawn_write(job, error_kind);
            return Ok(());
        }
        let removes_lock = job.write.removes_lock();
        let result = job
            .write
            .run(&self.ctx.etcd, &self.ctx.space, self.ctx.fence.as_ref())
            .await;
        self.on_write_result(&job.task, &job.lock_id, removes_lock, error_kind, result)
    }

    /// Applies the result of a lock's write, awaited or in the background.
    pub(super) fn on_write_result(
        &mut self,
        task: &str,
        lock_id: &str,
        removes_lock: bool,
        error_kind: &str,
        result: Result<()>,
    ) -> Result<()> {
        match result {
            Ok(()) => {
                self.retry.remove(lock_id);
                if removes_lock {
                    self.drop_removed_lock(task, lock_id);
                }
                Ok(())
            }
            Err(e) if e.ends_term() => Err(e),
            Err(error) if error.is_retryable() => {
                tracing::error!(%task, %lock_id, %error, "answering lock failed, will retry");
                self.ctx.metrics.report_ddl_error(task, error_kind);
                self.retry.insert(lock_id.to_owned());
                Ok(())
            }
            Err(error) => {
                // Retrying cannot help (e.g. a txn over etcd's limit); the
                // next event of the lock answers it again.
                tracing::error!(%task, %lock_id, %error, "answering lock failed, not retried");
                self.ctx.metrics.report_ddl_error(task, error_kind);
                Ok(())
            }
        }
    }

    pub(super) async fn perform(&mut self, action: LockAction) -> Result<()> {
        let Some(job) = self.prepare(action) else {
            return Ok(());
        };
        let removes_lock = job.write.removes_lock();
        job.write
            .run(&self.ctx.etcd, &self.ctx.space, self.ctx.fence.as_ref())
            .await?;
        if removes_lock {
            self.drop_removed_lock(&job.task, &job.lock_id);
        }
        Ok(())
    }

    /// The write that carries out `action`, built from the actor's view now.
    pub(super) fn prepare(&self, action: LockAction) -> Option<WriteJob> {
        match action {
            LockAction::None => None,
            LockAction::PutOwnerOp(o) | LockAction::PutSkipOps(o) => Some(self.put_ops_job(o)),
            LockAction::RemoveLock {
                lock_id,
                task,
                delete_ops_for,
            } => {
                // The lock's Operations, and any Info of its sources that
                // still names this lock.
                let mut keys = Vec::new();
                for source in &delete_ops_for {
                    keys.push(ops::operation_key(&self.ctx.space, &task, source));
                    let key = (task.clone(), source.clone());
                    if self
                        .infos
                        .get(&key)
                        .is_some_and(|i| i.value.lock_id() == lock_id)
                    {
                        keys.push(ops::info_key(&self.ctx.space, &task, source));
                    }
                }
                Some(WriteJob {
                    task,
                    lock_id,
                    write: Write::RemoveLock { keys },
                })
            }
        }
    }

    /// The Operations of `o`, guarded at first by what the watch last saw
    /// of their keys (no read round trip when that is still true).
    pub(super) fn put_ops_job(&self, o: OpsToPut) -> WriteJob {
        let operations: Vec<Operation> =
            o.sources.iter().map(|source| o.operation(source)).collect();
        let seen = o
            .sources
            .iter()
            .map(
                |source| match self.operations.get(&(o.task.clone(), source.clone())) {
                    None => SeenOperation::Absent,
                    Some(stored) if !stored.value.done => SeenOperation::NotDone {
                        mod_revision: stored.mod_revision,
                    },
                    Some(_) => SeenOperation::Unknown,
                },
            )
            .collect();
        WriteJob {
            task: o.task.clone(),
            lock_id: o.lock_id.clone(),
            write: Write::PutOps {
                ops: o,
                operations,
                seen,
            },
        }
    }

    pub(super) async fn put_ops(&mut self, o: &OpsToPut) -> Result<()> {
        self.put_ops_job(o.clone())
            .write
            .run(&self.ctx.etcd, &self.ctx.space, self.ctx.fence.as_ref())
            .await
    }
}
