//! Rebuild: the pessimism keys read a page at a time at one revision,
//! decoded while etcd reads the next page, and every lock rebuilt from them
//! (at term start and after a lost watch). Malformed values are reported and
//! skipped; orphan `done` Operations are deleted.

use super::*;
use std::collections::HashSet;

/// The pessimism keys of one snapshot, decoded: what a rebuild starts from.
#[derive(Debug, Default)]
pub(super) struct SnapshotKeys {
    /// In key order: DM's hex-encoded `<task>/<source>` keys sort as
    /// `(task, source)` do, which is the order the rebuild applies them in
    /// (a sort of an already sorted list is one pass; of a hash map's
    /// order it was a third of the planning time at 20,000 Infos).
    pub(super) infos: IndexMap<(String, String), Stored<Info>>,
    /// The lock of each Info, in the order of `infos` (made while the
    /// pages are decoded, so the rebuild does not format them on its way
    /// to the first answer).
    lock_ids: Vec<String>,
    /// The Infos of each lock, counted: which locks to answer first.
    infos_per_lock: InfosPerLock,
    pub(super) operations: HashMap<(String, String), Stored<Operation>>,
    /// `(task, source)` whose Info carries the injected marker.
    pub(super) injected: BTreeSet<(String, String)>,
}

/// A rebuild between its two passes (see [`Pessimist::rebuild_from`]).
pub(super) struct RestOfRebuild {
    revision: i64,
    /// The lock of each stored Info, in their order.
    lock_ids: Vec<String>,
    /// The locks the first pass built.
    first: HashSet<String>,
    /// The first pass's plan: its issues are reported after the second.
    plan: RebuildPlan,
    planning: std::time::Instant,
    first_ms: u128,
}

impl SnapshotKeys {
    /// Decodes a page of keys; each raw value is dropped once decoded. A
    /// malformed key or value is reported and skipped.
    fn decode_page(&mut self, space: &KeySpace, metrics: &Metrics, kvs: Vec<KeyValue>) {
        for kv in kvs {
            let decoded = PessimismKey::decode(space, &kv.key);
            if let Ok(PessimismKey::Info([task, source])) = decoded {
                if let Some(info) = decode_info(metrics, &kv, &task, &source) {
                    let key = (task, source);
                    if operator::is_injected(&kv.value) {
                        self.injected.insert(key.clone());
                    }
                    let lock_id = info.lock_id();
                    self.infos_per_lock.add(&info.task, &lock_id);
                    let (index, replaced) = self.infos.insert_full(
                        key,
                        Stored {
                            value: info,
                            mod_revision: kv.mod_revision,
                        },
                    );
                    match replaced {
                        // A snapshot has each key once; a repeated one would
                        // only over-count its lock (answered first at worst).
                        Some(_) => self.lock_ids[index] = lock_id,
                        None => self.lock_ids.push(lock_id),
                    }
                }
            } else if let Ok(PessimismKey::Operation([task, source])) = decoded {
                if let Some(op) = decode_operation(metrics, &kv, &task, &source) {
                    self.operations.insert(
                        (task, source),
                        Stored {
                            value: op,
                            mod_revision: kv.mod_revision,
                        },
                    );
                }
            } else if let Err(error) = decoded {
                report_bad_key(metrics, &kv.key, &error);
            }
        }
    }
}

/// At most this many subtask configs are read one by one so that a cold
/// start answers its synced locks before the other configs are read; past
/// it, every config is read first.
const CONFIGS_READ_FIRST_LIMIT: usize = 256;

/// The subtask config keys of a snapshot, without their values: which
/// sources each task has by its keys, at one revision.
pub(super) struct TaskKeys {
    by_task: HashMap<String, Vec<Vec<u8>>>,
    pub(super) revision: i64,
}

impl TaskKeys {
    /// `None` when a key does not name its `(source, task)`: its config,
    /// which only the value tells, could belong to any task.
    pub(super) fn from_keys(
        space: &KeySpace,
        keys: Vec<Vec<u8>>,
        revision: i64,
    ) -> Option<TaskKeys> {
        let mut by_task: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
        for key in keys {
            let [_source, task] = space.decode(&UPSTREAM_SUBTASK, &key).ok()?;
            by_task.entry(task).or_default().push(key);
        }
        Some(TaskKeys { by_task, revision })
    }

    fn source_count(&self, task: &str) -> usize {
        self.by_task.get(task).map_or(0, Vec::len)
    }
}

impl SnapshotKeys {
    /// The tasks of the locks a first rebuild pass would build, judged by
    /// the number of config keys of each task: the locks with as many
    /// Infos as their task has keys, with an Operation or with an injected
    /// source. A config that does not parse only lowers a task's count of
    /// sources, so reading these tasks' configs gives the registry the
    /// first pass needs, unless a config names another task than its key
    /// does (DM never writes one; the rebuild checks for it once every
    /// config is read).
    pub(super) fn tasks_answered_first(&self, task_keys: &TaskKeys) -> BTreeSet<String> {
        let first = locks_to_answer_first(
            &self.infos_per_lock,
            self.operations
                .values()
                .map(|stored| stored.value.id.as_str()),
            |task| task_keys.source_count(task),
        );
        let mut tasks: BTreeSet<String> = first
            .iter()
            .filter_map(|lock_id| self.infos_per_lock.task_of(lock_id))
            .map(str::to_owned)
            .collect();
        tasks.extend(
            self.operations
                .values()
                .map(|stored| stored.value.task.clone()),
        );
        tasks.extend(self.injected.iter().map(|(task, _)| task.clone()));
        tasks
    }
}

/// The subtask configs of `tasks` at the revision of `task_keys`, read key
/// by key, as a registry of these tasks only; `None` when there are too
/// many to read one by one or a read fails (the caller then reads them
/// all first). Configs that do not parse are left out unreported: the
/// whole read that follows reports them.
pub(super) async fn read_configs_of(
    etcd: &Etcd,
    space: &KeySpace,
    tasks: &BTreeSet<String>,
    task_keys: &TaskKeys,
) -> Option<TaskRegistry> {
    let keys: Vec<&Vec<u8>> = tasks
        .iter()
        .filter_map(|task| task_keys.by_task.get(task))
        .flatten()
        .collect();
    if keys.len() > CONFIGS_READ_FIRST_LIMIT {
        return None;
    }
    let reads = keys
        .iter()
        .map(|key| etcd.get_at((*key).clone(), task_keys.revision));
    let mut registry = TaskRegistry::new();
    for read in futures_util::future::join_all(reads).await {
        match read {
            Ok(Some(kv)) => {
                let _ = registry.apply_put(space, &kv.key, &kv.value);
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, "reading the subtask configs of the locks to answer first failed; reading every config first");
                return None;
            }
        }
    }
    Some(registry)
}

/// Reads and decodes every pessimism key at one revision, a page at a time
/// (retrying until it succeeds); `None` when cancelled first.
pub(super) async fn read_snapshot_keys(
    etcd: Etcd,
    space: KeySpace,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) -> Option<(SnapshotKeys, i64)> {
    let prefix = ops::pessimism_prefix(&space);
    read_folded(&etcd, &prefix, "pessimism keys", &cancel, || {
        let (space, metrics) = (space.clone(), metrics.clone());
        (
            SnapshotKeys::default(),
            move |keys: &mut SnapshotKeys, page| keys.decode_page(&space, &metrics, page),
        )
    })
    .await
}

pub(super) fn decode_info(
    metrics: &Metrics,
    kv: &KeyValue,
    task: &str,
    source: &str,
) -> Option<Info> {
    let decoded = Info::decode(&kv.value);
    report_malformed(metrics, kv, task, source, "info", decoded)
}

pub(super) fn decode_operation(
    metrics: &Metrics,
    kv: &KeyValue,
    task: &str,
    source: &str,
) -> Option<Operation> {
    let decoded = Operation::decode(&kv.value);
    report_malformed(metrics, kv, task, source, "operation", decoded)
}

/// The decoded value, or `None` once a value that does not decode is
/// logged and counted: it is skipped, never fatal.
fn report_malformed<T>(
    metrics: &Metrics,
    kv: &KeyValue,
    task: &str,
    source: &str,
    kind: &str,
    decoded: Result<T, crate::gojson::DecodeError>,
) -> Option<T> {
    decoded
        .map_err(|error| {
            tracing::error!(%task, %source, key = %kv.key_str(), revision = kv.mod_revision, %error, "malformed pessimism {kind}, skipped");
            metrics.report_ddl_error(task, metrics::ERR_MALFORMED_VALUE);
        })
        .ok()
}

pub(super) fn report_bad_key(metrics: &Metrics, key: &[u8], error: &KeyError) {
    tracing::error!(key = %String::from_utf8_lossy(key), %error, "pessimism key does not decode, ignored");
    metrics.report_ddl_error("", metrics::ERR_MALFORMED_VALUE);
}

impl Pessimist {
    /// Reports a watched key that [`Pessimist::event_key`] could not decode;
    /// it is decoded again here, on this rare path, for the reason.
    pub(super) fn report_bad_key(&self, key: &[u8]) {
        if let Err(error) = PessimismKey::decode(&self.ctx.space, key) {
            report_bad_key(&self.ctx.metrics, key, &error);
        }
    }

    pub(super) fn decode_info(&self, kv: &KeyValue, task: &str, source: &str) -> Option<Info> {
        decode_info(&self.ctx.metrics, kv, task, source)
    }

    pub(super) fn decode_operation(
        &self,
        kv: &KeyValue,
        task: &str,
        source: &str,
    ) -> Option<Operation> {
        decode_operation(&self.ctx.metrics, kv, task, source)
    }

    /// Rebuilds every lock from a snapshot the watcher read after losing
    /// its watch (the first snapshot is read by [`read_snapshot_keys`]).
    pub(super) async fn on_snapshot(&mut self, kvs: Vec<KeyValue>, revision: i64) -> Result<()> {
        let mut keys = SnapshotKeys::default();
        keys.decode_page(&self.ctx.space, &self.ctx.metrics, kvs);
        self.rebuild_from(keys, revision).await
    }

    /// Rebuilds every lock from one snapshot of Infos and Operations
    /// (DM `buildLocks` + `recoverLocks`), then answers synced locks.
    ///
    /// In two passes: the locks that may be synced (and those with an
    /// injected source) are rebuilt and answered first, then every other
    /// lock is built (see [`locks_to_answer_first`]).
    pub(super) async fn rebuild_from(&mut self, keys: SnapshotKeys, revision: i64) -> Result<()> {
        let rest = self.rebuild_first_pass(keys, revision).await?;
        self.rebuild_the_rest(rest).await
    }

    /// The first pass of [`Pessimist::rebuild_from`]: takes the snapshot's
    /// keys, builds the locks that may be synced with the registry as it
    /// is now (at a cold start it may hold only those locks' tasks, see
    /// [`SnapshotKeys::tasks_answered_first`]) and answers them.
    pub(super) async fn rebuild_first_pass(
        &mut self,
        keys: SnapshotKeys,
        revision: i64,
    ) -> Result<RestOfRebuild> {
        let planning = std::time::Instant::now();
        self.infos = keys.infos;
        self.injected = keys.injected;
        self.operations = keys.operations;
        self.retry.clear();
        let mut lock_ids = keys.lock_ids;
        if lock_ids.len() != self.infos.len() {
            // Only `decode_page` fills both, in step; were they ever not,
            // no Info may be left out of the passes for it.
            lock_ids = self.infos.values().map(|s| s.value.lock_id()).collect();
        }
        let mut first = locks_to_answer_first(
            &keys.infos_per_lock,
            self.operations
                .values()
                .map(|stored| stored.value.id.as_str()),
            |task| self.registry.source_count(task),
        );
        // The counts are done with before any lock is built.
        drop(keys.infos_per_lock);
        first.extend(
            self.injected
                .iter()
                .filter_map(|key| self.infos.get_index_of(key))
                .map(|index| lock_ids[index].clone()),
        );
        let mut plan = self.plan_rebuild(&lock_ids, |lock_id| first.contains(lock_id));
        self.keeper = std::mem::take(&mut plan.keeper);
        // Locks with injected sources are settled (owner moved off them,
        // injected sources done) and answered from their settled state.
        let settled_locks = self.settle_all_injected();
        if !settled_locks.is_empty() {
            plan.actions
                .retain(|action| action_lock(action).is_none_or(|id| !settled_locks.contains(id)));
            for lock_id in &settled_locks {
                plan.actions.push(self.keeper.handle_lock(lock_id, None));
            }
        }
        let first_ms = planning.elapsed().as_millis();
        for action in std::mem::take(&mut plan.actions) {
            self.perform_or_retry(action, metrics::ERR_INFO_PUT_HANDLE_LOCK)
                .await?;
        }
        Ok(RestOfRebuild {
            revision,
            lock_ids,
            first,
            plan,
            planning,
            first_ms,
        })
    }

    /// The second pass of [`Pessimist::rebuild_from`]: every other lock,
    /// built with the whole registry.
    pub(super) async fn rebuild_the_rest(&mut self, rest: RestOfRebuild) -> Result<()> {
        let RestOfRebuild {
            revision,
            lock_ids,
            first,
            mut plan,
            planning,
            first_ms,
        } = rest;
        let rest = self.plan_rebuild(&lock_ids, |lock_id| !first.contains(lock_id));
        self.keeper.absorb(rest.keeper);
        plan.issues.extend(rest.issues);
        plan.owners_restored.extend(rest.owners_restored);
        plan.delete_orphan_ops.extend(rest.delete_orphan_ops);
        tracing::info!(
            revision,
            locks = self.keeper.len(),
            infos = self.infos.len(),
            operations = self.operations.len(),
            first = !self.rebuilt,
            answered_first = first.len(),
            first_ms,
            plan_ms = planning.elapsed().as_millis(),
            "pessimistic locks rebuilt"
        );
        self.rebuilt = true;
        // None unless `locks_to_answer_first` left out a synced lock;
        // performed all the same.
        for action in rest.actions {
            self.perform_or_retry(action, metrics::ERR_INFO_PUT_HANDLE_LOCK)
                .await?;
        }
        self.state_counts.clear();
        for lock in self.keeper.locks() {
            let counts = self.state_counts.entry(lock.task().to_owned()).or_default();
            match lock.state() {
                SyncState::Unsynced => counts.0 += 1,
                SyncState::Synced => counts.1 += 1,
            }
        }
        self.publish_metrics();
        for issue in &plan.issues {
            self.report_rebuild_issue(issue);
        }
        for restored in &plan.owners_restored {
            tracing::info!(lock_id = %restored.lock_id, from = %restored.from, to = %restored.to, "lock owner restored from its exec operation");
        }
        for orphan in &plan.delete_orphan_ops {
            self.delete_orphan_operation(orphan).await?;
        }
        Ok(())
    }

    /// A cold start's second pass after its first (`rest`), which ran with
    /// the configs of `tasks` only (`answered_with`); then those tasks'
    /// sources are checked against the whole registry.
    pub(super) async fn rebuild_after_first_pass(
        &mut self,
        rest: Result<RestOfRebuild>,
        answered_with: &TaskRegistry,
        tasks: &BTreeSet<String>,
        same_revision: bool,
    ) -> Result<()> {
        self.rebuild_the_rest(rest?).await?;
        self.recheck_tasks_answered_first(answered_with, tasks, same_revision)
            .await
    }

    /// The rebuild of the locks `in_pass` selects, from the stored Infos
    /// (`lock_ids[i]` is the lock of the `i`-th) and Operations.
    fn plan_rebuild(&self, lock_ids: &[String], in_pass: impl Fn(&str) -> bool) -> RebuildPlan {
        // The records borrow the stored Infos: no second copy of them.
        let info_records = self
            .infos
            .values()
            .zip(lock_ids)
            .filter(|(_, lock_id)| in_pass(lock_id))
            .map(|(stored, lock_id)| InfoRecord::with_lock_id(&stored.value, lock_id.into()))
            .collect();
        let op_records = self
            .operations
            .values()
            .filter(|stored| in_pass(&stored.value.id))
            .map(|stored| {
                let op = &stored.value;
                OperationRecord {
                    lock_id: op.id.clone(),
                    task: op.task.clone(),
                    source: op.source.clone(),
                    exec: op.exec,
                    done: op.done,
                }
            })
            .collect();
        rebuild(info_records, op_records, |task| self.registry.sources(task))
    }

    pub(super) fn report_rebuild_issue(&self, issue: &RebuildIssue) {
        match issue {
            RebuildIssue::Mismatch {
                task,
                source,
                error,
            } => {
                tracing::error!(%task, %source, lock_id = %error.lock_id, %error, "info does not match its lock during rebuild");
                self.ctx
                    .metrics
                    .report_ddl_error(task, metrics::ERR_INFO_PUT_SYNC_LOCK);
            }
            RebuildIssue::UnknownTask {
                task,
                source,
                lock_id,
            } => {
                tracing::error!(%task, %source, %lock_id, "info of a task with no subtask config; waiting for the task to be started");
                self.ctx
                    .metrics
                    .report_ddl_error(task, metrics::ERR_UNKNOWN_TASK);
            }
            RebuildIssue::SourceNotInTask {
                task,
                source,
                lock_id,
            } => {
                tracing::warn!(%task, %source, %lock_id, "info of a source that is not part of the task, not counted");
            }
            RebuildIssue::OrphanOperationKept(op) => {
                tracing::warn!(task = %op.task, source = %op.source, lock_id = %op.lock_id, done = op.done, "operation without a lock kept");
            }
        }
    }

    /// Deletes a `done` Operation whose lock no longer exists (DM leaves it,
    /// blocking the source's next Info forever: DM gap P7). Guarded by its mod
    /// revision so a fresh Operation written meanwhile survives.
    pub(super) async fn delete_orphan_operation(&mut self, op: &OperationRecord) -> Result<()> {
        let key = ops::operation_key(&self.ctx.space, &op.task, &op.source);
        let Some(stored) = self.operations.get(&(op.task.clone(), op.source.clone())) else {
            return Ok(());
        };
        let txn = Txn::new("delete orphan operation")
            .when([Compare::ModRevision(
                key.clone().into_bytes(),
                stored.mod_revision,
            )])
            .then([Op::delete(key.as_str())]);
        let outcome = self
            .ctx
            .etcd
            .txn_fenced(txn, self.ctx.fence.as_ref())
            .await?;
        tracing::info!(task = %op.task, source = %op.source, lock_id = %op.lock_id, deleted = outcome.succeeded, "orphan done operation cleaned up");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: String, value: Vec<u8>) -> KeyValue {
        KeyValue {
            key: key.into_bytes(),
            value,
            create_revision: 1,
            mod_revision: 1,
            version: 1,
            lease: 0,
        }
    }

    fn info(task: &str, source: &str) -> Info {
        Info {
            task: task.into(),
            source: source.into(),
            schema: "db".into(),
            table: "tb".into(),
            ddls: Some(vec!["ALTER TABLE `db`.`tb` ADD COLUMN `c` INT".into()]),
        }
    }

    fn config_keys(space: &KeySpace, pairs: &[(&str, &str)]) -> Vec<Vec<u8>> {
        pairs
            .iter()
            .map(|(source, task)| space.key(&UPSTREAM_SUBTASK, [source, task]).into_bytes())
            .collect()
    }

    #[test]
    fn the_tasks_answered_first_are_those_synced_by_their_keys() {
        let space = KeySpace::default();
        let metrics = Metrics::new();
        let mut keys = SnapshotKeys::default();
        let mut page = Vec::new();
        // t: two Infos, two config keys (synced); u: two Infos of three
        // keys; w: one injected Info of two keys; v: an Operation only.
        for (task, source) in [("t", "s1"), ("t", "s2"), ("u", "s1"), ("u", "s2")] {
            page.push(kv(
                ops::info_key(&space, task, source),
                info(task, source).encode(),
            ));
        }
        page.push(kv(
            ops::info_key(&space, "w", "s1"),
            operator::encode_injected(&info("w", "s1")),
        ));
        let op = Operation {
            id: info("v", "s1").lock_id(),
            task: "v".into(),
            source: "s1".into(),
            ddls: None,
            exec: true,
            done: false,
        };
        page.push(kv(ops::operation_key(&space, "v", "s1"), op.encode()));
        keys.decode_page(&space, &metrics, page);
        let task_keys = TaskKeys::from_keys(
            &space,
            config_keys(
                &space,
                &[
                    ("s1", "t"),
                    ("s2", "t"),
                    ("s1", "u"),
                    ("s2", "u"),
                    ("s3", "u"),
                    ("s1", "w"),
                    ("s2", "w"),
                ],
            ),
            7,
        )
        .expect("every key names its subtask");
        let tasks: Vec<String> = keys.tasks_answered_first(&task_keys).into_iter().collect();
        assert_eq!(tasks, ["t", "v", "w"]);
    }

    #[test]
    fn a_config_key_that_names_no_subtask_leaves_no_task_keys() {
        let space = KeySpace::default();
        let mut keys = config_keys(&space, &[("s1", "t")]);
        keys.push(format!("{}zz", space.path(&UPSTREAM_SUBTASK)).into_bytes());
        assert!(TaskKeys::from_keys(&space, keys, 7).is_none());
    }
}
