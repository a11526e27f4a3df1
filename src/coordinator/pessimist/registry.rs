//! The task registry side: subtask configs tell which sources each task
//! has. A source leaving a task re-evaluates its locks; Infos of a task not
//! known yet wait until its configs arrive.

use super::*;

/// Applies one subtask config PUT to `registry`; a value that does not
/// parse is logged and counted, and leaves the registry unchanged.
pub(super) fn apply_subtask_put(
    registry: &mut TaskRegistry,
    space: &KeySpace,
    metrics: &Metrics,
    kv: &KeyValue,
) -> RegistryChange {
    match registry.apply_put(space, &kv.key, &kv.value) {
        Ok(change) => change,
        Err(error) => {
            let task = space
                .decode(&UPSTREAM_SUBTASK, &kv.key)
                .map(|[_, task]| task)
                .unwrap_or_default();
            tracing::error!(key = %kv.key_str(), %task, %error, "subtask config does not parse, ignored");
            metrics.report_ddl_error(&task, metrics::ERR_MALFORMED_VALUE);
            RegistryChange::None
        }
    }
}

/// Reads every subtask config at one revision into a new registry, a page
/// at a time (decoded off the runtime's workers), retrying until it
/// succeeds; `None` when cancelled first. At `pinned` when given and still
/// readable, else at the latest revision.
pub(super) async fn read_registry(
    etcd: &Etcd,
    space: &KeySpace,
    metrics: &Arc<Metrics>,
    cancel: &CancellationToken,
    pinned: Option<i64>,
) -> Option<(TaskRegistry, i64)> {
    let prefix = space.path(&UPSTREAM_SUBTASK);
    let start = || {
        let (space, metrics) = (space.clone(), metrics.clone());
        (
            TaskRegistry::new(),
            move |registry: &mut TaskRegistry, page: Vec<KeyValue>| {
                for kv in &page {
                    apply_subtask_put(registry, &space, &metrics, kv);
                }
            },
        )
    };
    if let Some(revision) = pinned {
        let (registry, fold) = start();
        let read = tokio::select! {
            biased;
            _ = cancel.cancelled() => return None,
            read = etcd.get_prefix_folded_at(&prefix, Some(revision), registry, fold) => read,
        };
        match read {
            Ok(read) => return Some(read),
            // Compacted away meanwhile, say: the latest configs then, and
            // the rebuild re-checks the tasks it answered first.
            Err(error) => {
                tracing::warn!(%error, revision, "reading the subtask configs at the revision of their keys failed; reading the latest")
            }
        }
    }
    read_folded(etcd, &prefix, "subtask configs", cancel, start).await
}

impl Pessimist {
    pub(super) fn apply_subtask_snapshot(&mut self, kvs: &[KeyValue]) {
        self.registry.clear();
        for kv in kvs {
            self.apply_subtask_put(kv);
        }
    }

    pub(super) fn apply_subtask_put(&mut self, kv: &KeyValue) -> RegistryChange {
        apply_subtask_put(&mut self.registry, &self.ctx.space, &self.ctx.metrics, kv)
    }

    /// Applies one revision's subtask config changes, then re-evaluates
    /// each task they touched once. Applying them all first matters: a
    /// stop-task deletes every config of the task in one txn, and a lock
    /// looked at between those deletes would be resolved against sources
    /// that are already leaving.
    pub(super) async fn on_subtask_events(&mut self, events: Vec<WatchEvent>) -> Result<()> {
        let mut touched: IndexSet<String> = IndexSet::new();
        for event in events {
            match event {
                WatchEvent::Put(kv) => {
                    if let RegistryChange::Task(task) = self.apply_subtask_put(&kv) {
                        touched.insert(task);
                    }
                }
                WatchEvent::Delete { key, .. } => {
                    if let RegistryChange::Task(task) = self.registry.apply_delete(&key) {
                        touched.insert(task);
                    }
                }
                WatchEvent::Resynced(snapshot) => {
                    // Tasks the snapshot no longer has are touched too.
                    touched.extend(self.registry.tasks().map(str::to_owned));
                    self.apply_subtask_snapshot(&snapshot.value);
                    touched.extend(self.registry.tasks().map(str::to_owned));
                }
            }
        }
        self.on_tasks_touched(touched).await
    }

    /// Re-evaluates the locks of tasks whose sources may have changed.
    async fn on_tasks_touched(&mut self, touched: impl IntoIterator<Item = String>) -> Result<()> {
        for task in touched {
            self.on_sources_left(&task).await?;
            if self.registry.contains(&task) {
                self.retry_waiting_infos(&task).await?;
            } else {
                self.forget_task(&task);
            }
        }
        Ok(())
    }

    /// After a cold start answered its synced locks with the configs of
    /// their tasks only (`answered_with`): a task whose sources differ in
    /// the whole registry is re-evaluated as a change of its sources right
    /// after the snapshot. Read at the same revision (`same_revision`),
    /// only a config stored under another subtask's key, which DM never
    /// writes, makes them differ: that is reported as an error. Otherwise
    /// the whole read fell back to a later revision, and the difference is
    /// a change made meanwhile.
    pub(super) async fn recheck_tasks_answered_first(
        &mut self,
        answered_with: &TaskRegistry,
        tasks: &BTreeSet<String>,
        same_revision: bool,
    ) -> Result<()> {
        let changed: Vec<String> = tasks
            .iter()
            .filter(|task| answered_with.sources(task) != self.registry.sources(task))
            .cloned()
            .collect();
        for task in &changed {
            let (answered_with, sources) =
                (answered_with.sources(task), self.registry.sources(task));
            if same_revision {
                tracing::error!(%task, ?answered_with, ?sources, "a subtask config under another subtask's key names this task; its locks were answered with the sources of its own keys and are re-evaluated");
                self.ctx
                    .metrics
                    .report_ddl_error(task, metrics::ERR_TASK_SOURCES_DIFFER);
            } else {
                tracing::info!(%task, ?answered_with, ?sources, "task sources changed while the subtask configs were read; locks re-evaluated");
            }
        }
        self.on_tasks_touched(changed).await
    }

    /// Sources may have left `task` (stop-task on some of its sources): its
    /// locks stop waiting for them at once, resolve by the normal protocol
    /// if every remaining source is synced, and are removed with their keys
    /// when no source remains.
    pub(super) async fn on_sources_left(&mut self, task: &str) -> Result<()> {
        let sources = self.registry.sources(task);
        for changed in self.keeper.on_sources_left(task, &sources) {
            tracing::warn!(%task, lock_id = %changed.lock_id, left = ?changed.left, owner = %changed.owner, remaining = ?sources, "sources left the task while its lock waited; lock re-evaluated against the remaining sources");
            self.ctx
                .metrics
                .report_ddl_error(task, metrics::ERR_SOURCE_LEFT_LOCK);
            if let Some(change) = &changed.change {
                self.apply_change(change);
            }
            // The Info and Operation of a source that left name a lock that
            // no longer counts it: deleted, so neither a rebuild nor the
            // source's return to the task revives them. Its worker re-sends
            // the Info if it still has the DDL to run.
            let mut stale = Vec::new();
            for source in &changed.left {
                let key = (task.to_owned(), source.clone());
                if self
                    .infos
                    .get(&key)
                    .is_some_and(|i| i.value.lock_id() == changed.lock_id)
                {
                    stale.push(ops::info_key(&self.ctx.space, task, source));
                }
                if self
                    .operations
                    .get(&key)
                    .is_some_and(|o| o.value.id == changed.lock_id)
                {
                    stale.push(ops::operation_key(&self.ctx.space, task, source));
                }
            }
            if !stale.is_empty() {
                ops::delete_keys(
                    &self.ctx.etcd,
                    self.ctx.fence.as_ref(),
                    "delete keys of sources that left",
                    stale,
                )
                .await?;
            }
            self.perform_or_retry(changed.action, metrics::ERR_INFO_PUT_HANDLE_LOCK)
                .await?;
        }
        Ok(())
    }

    /// Drops every lock of a task from memory (its keys are someone else's
    /// business: remove-meta deletes them, and after the task's last subtask
    /// config is gone, Infos that remain are re-evaluated if it starts
    /// again).
    pub(super) fn forget_task(&mut self, task: &str) {
        let lock_ids: Vec<String> = self
            .keeper
            .locks()
            .filter(|l| l.task() == task)
            .map(|l| l.id().to_owned())
            .collect();
        for lock_id in lock_ids {
            if let Some(removed) = self.keeper.remove_lock(&lock_id) {
                self.apply_change(&removed.change);
                tracing::info!(%task, %lock_id, "lock of the task dropped");
            }
            self.retry.remove(&lock_id);
        }
    }

    /// Infos of `task` that are not counted in a lock yet (the task was
    /// unknown, or the source was not part of it) get another chance after
    /// the task's subtask configs changed.
    pub(super) async fn retry_waiting_infos(&mut self, task: &str) -> Result<()> {
        let waiting: Vec<Info> = self
            .infos
            .iter()
            .filter(|((t, _), _)| t == task)
            .filter(|(_, stored)| {
                let lock_id = stored.value.lock_id();
                self.keeper
                    .find_lock(&lock_id)
                    .and_then(|l| l.is_ready(&stored.value.source))
                    != Some(true)
            })
            .map(|(_, stored)| stored.value.clone())
            .collect();
        for info in waiting {
            self.on_info(&info).await?;
        }
        Ok(())
    }
}
