//! Rebuild: the pessimism keys read a page at a time at one revision,
//! decoded while etcd reads the next page, and every lock rebuilt from them
//! (at term start and after a lost watch). Malformed values are reported and
//! skipped; orphan `done` Operations are deleted.

use super::*;

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
