//! The optimistic coordinator (DM's `Optimist`) as one actor.
//!
//! One watcher over `/dm-master/shardddl-optimism/` delivers SourceTables,
//! Infos, Operations and dropped-column records in one revision order; its
//! first event (and any resync after compaction) is a snapshot from which
//! every lock is rebuilt (docs/protocol.md#optimistic-rebuild: Infos replayed in revision
//! order with `skip_done` puts, done flags after). The pure decisions come
//! from [`crate::optimism::keeper::LockKeeper`]; this actor performs their
//! writes, fenced by the leader key, and reports failures back.
//!
//! Deliberate differences from DM, besides those of the pure core: a
//! malformed value is reported and skipped instead of stopping the loop
//! (DM gap O18 in docs/dm-gaps.md); redirects of one resolution are one txn (DM gap O8); `detected`
//! tables are re-evaluated after every accepted change (DM gap O6); writes are
//! fenced (DM gap O20). Not done: DM reads a new table's starting schema from
//! the downstream checkpoint (`FetchTableInfos`); the master has no
//! downstream connection, so a table joining a lock starts from the lock's
//! initial schema (DM's fallback, DM gap O3).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::{Error, Result};
use crate::etcd::watch::{WatchEvent, Watcher};
use crate::etcd::{Etcd, Fence, KeyValue, Op};
use crate::keys::{
    parse_lock_id, KeySpace, OPTIMISM_DROPPED_COLUMNS, OPTIMISM_INFO, OPTIMISM_INIT_SCHEMA,
    OPTIMISM_OPERATION, OPTIMISM_SOURCE_TABLES, UPSTREAM_SUBTASK,
};
use crate::metrics::{self, Metrics};
use crate::optimism::keeper::{
    plan_rebuild, Answer, DoneDecision, EffectFailure, LockKeeper, LockView, RemoveLock, Snapshot,
    StoredDroppedColumn, StoredInfo, UnlockAction, UnlockDecision,
};
use crate::optimism::lock::{ColumnEffects, TrySyncResult};
use crate::optimism::ops::{self, SeenOperation, TableKey};
use crate::optimism::table_keeper::TableKeeper;
use crate::optimism::{ConflictStage, DropColumnStage, Info, Operation, SourceTables};
use crate::tableinfo::TableInfo;

const CHANNEL_CAPACITY: usize = 256;
const MODE: &str = crate::task::ShardMode::Optimistic.as_str();

/// The master cannot read downstream checkpoints: tables joining a lock
/// start from the lock's initial schema.
fn no_checkpoint(_: &TableKey) -> Option<TableInfo> {
    None
}

enum Request {
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

/// Every input of the actor: a closed set, handled one at a time. An
/// optimistic unlock is one write, answered at once, so no unlock is held
/// between events and no timer is needed.
enum Event {
    /// SourceTables, Infos, Operations and dropped columns in one revision
    /// order; the first is a snapshot.
    ShardDdl(WatchEvent),
    Admin(Request),
    /// The term's token was cancelled.
    TermEnd,
}

/// Admin handle of the optimist; fails with `NotStarted` once it stopped.
#[derive(Clone)]
pub struct OptimistHandle {
    mailbox: super::Mailbox<Request>,
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

fn not_started() -> Error {
    Error::NotStarted {
        component: "optimist",
    }
}

/// The actor.
pub struct Optimist {
    etcd: Etcd,
    space: KeySpace,
    fence: Option<Fence>,
    metrics: Arc<Metrics>,
    keeper: LockKeeper,
    tables: TableKeeper,
    /// Infos in etcd: (task, table) → Info with version and revision.
    infos: BTreeMap<(String, TableKey), StoredInfo>,
    /// Operations in etcd with their mod revision.
    operations: BTreeMap<(String, TableKey), (Operation, i64)>,
    /// Per lock: (task, synced) as the last TrySync reported, for the
    /// pending-DDL gauge without re-joining every table.
    lock_states: HashMap<String, (String, bool)>,
}

impl Optimist {
    pub fn spawn(
        etcd: Etcd,
        space: KeySpace,
        fence: Option<Fence>,
        metrics: Arc<Metrics>,
        tracker: &TaskTracker,
        cancel: CancellationToken,
    ) -> OptimistHandle {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let actor = Optimist {
            etcd,
            space,
            fence,
            metrics,
            keeper: LockKeeper::new(),
            tables: TableKeeper::new(),
            infos: BTreeMap::new(),
            operations: BTreeMap::new(),
            lock_states: HashMap::new(),
        };
        let inner = tracker.clone();
        tracker.spawn(async move {
            if let Err(error) = actor.run(rx, inner, cancel.clone()).await {
                tracing::error!(%error, "optimist stopped");
                cancel.cancel();
            }
        });
        OptimistHandle {
            mailbox: super::Mailbox::new(tx, not_started),
        }
    }

    #[tracing::instrument(skip_all, fields(mode = MODE))]
    async fn run(
        mut self,
        mut requests: mpsc::Receiver<Request>,
        tracker: TaskTracker,
        cancel: CancellationToken,
    ) -> Result<()> {
        let (tx, mut events) = mpsc::channel(CHANNEL_CAPACITY);
        tracker.spawn(
            Watcher::new(self.etcd.clone(), ops::optimism_prefix(&self.space))
                .run(tx, cancel.clone()),
        );
        loop {
            let event = tokio::select! {
                biased;
                _ = cancel.cancelled() => Event::TermEnd,
                Some(e) = events.recv() => Event::ShardDdl(e),
                Some(r) = requests.recv() => Event::Admin(r),
                else => Event::TermEnd,
            };
            let result = match event {
                Event::TermEnd => break,
                Event::ShardDdl(e) => self.on_event(e).await,
                Event::Admin(r) => self.on_request(r).await,
            };
            if let Err(error) = result {
                if error.ends_term() {
                    tracing::error!(%error, "leader fence lost, optimist stops and ends the term");
                    return Err(error);
                }
                tracing::warn!(%error, "optimist event failed");
            }
        }
        tracing::info!("optimist stopped");
        Ok(())
    }

    // ---- decoding ----

    fn report_malformed(&self, kv_key: &[u8], task: &str, error: &dyn std::fmt::Display) {
        tracing::error!(key = %String::from_utf8_lossy(kv_key), %task, %error, "malformed optimism value, skipped");
        self.metrics
            .report_ddl_error(task, metrics::ERR_MALFORMED_VALUE);
    }

    fn decode(&self, kv: &KeyValue) -> Option<Record> {
        let key = &kv.key;
        if let Ok([task, _source]) = self.space.decode(&OPTIMISM_SOURCE_TABLES, key) {
            return match SourceTables::decode(&kv.value) {
                Ok(st) => Some(Record::SourceTables(st)),
                Err(e) => {
                    self.report_malformed(key, &task, &e);
                    None
                }
            };
        }
        if let Ok([task, source, schema, table]) = self.space.decode(&OPTIMISM_INFO, key) {
            return match Info::decode(&kv.value) {
                Ok(info) => Some(Record::Info(
                    task,
                    TableKey::new(&source, &schema, &table),
                    StoredInfo {
                        info,
                        version: kv.version,
                        revision: kv.mod_revision,
                    },
                )),
                Err(e) => {
                    self.report_malformed(key, &task, &e);
                    None
                }
            };
        }
        if let Ok([task, source, schema, table]) = self.space.decode(&OPTIMISM_OPERATION, key) {
            return match Operation::decode(&kv.value) {
                Ok(op) => Some(Record::Operation(
                    task,
                    TableKey::new(&source, &schema, &table),
                    op,
                    kv.mod_revision,
                )),
                Err(e) => {
                    self.report_malformed(key, &task, &e);
                    None
                }
            };
        }
        if let Ok([lock_id, column, source, schema, table]) =
            self.space.decode(&OPTIMISM_DROPPED_COLUMNS, key)
        {
            return match DropColumnStage::decode(&kv.value) {
                Ok(stage) => Some(Record::DroppedColumn(StoredDroppedColumn {
                    lock_id,
                    column,
                    key: TableKey::new(&source, &schema, &table),
                    stage,
                })),
                Err(e) => {
                    self.report_malformed(key, "", &e);
                    None
                }
            };
        }
        if self.space.decode(&OPTIMISM_INIT_SCHEMA, key).is_err() {
            self.report_malformed(key, "", &"key matches no optimism adapter");
        }
        None
    }

    // ---- events ----

    async fn on_event(&mut self, event: WatchEvent) -> Result<()> {
        match event {
            WatchEvent::Resynced(snapshot) => self.rebuild(snapshot.value, snapshot.revision).await,
            WatchEvent::Put(kv) => match self.decode(&kv) {
                Some(Record::SourceTables(st)) => self.on_source_tables(&st, false).await,
                Some(Record::Info(task, key, stored)) => {
                    self.infos.insert((task, key), stored.clone());
                    self.answer_info(stored, false).await
                }
                Some(Record::Operation(task, key, op, revision)) => {
                    self.operations.insert((task, key), (op.clone(), revision));
                    self.on_operation(&op).await
                }
                // Our own writes; read only at rebuild.
                Some(Record::DroppedColumn(_)) | None => Ok(()),
            },
            WatchEvent::Delete { key, .. } => {
                if let Ok([task, source]) = self.space.decode(&OPTIMISM_SOURCE_TABLES, &key) {
                    let st = SourceTables::from_deleted_key(task, source);
                    return self.on_source_tables(&st, true).await;
                }
                if let Ok([task, source, schema, table]) = self.space.decode(&OPTIMISM_INFO, &key) {
                    self.infos
                        .remove(&(task, TableKey::new(&source, &schema, &table)));
                } else if let Ok([task, source, schema, table]) =
                    self.space.decode(&OPTIMISM_OPERATION, &key)
                {
                    self.operations
                        .remove(&(task, TableKey::new(&source, &schema, &table)));
                }
                Ok(())
            }
        }
    }

    async fn rebuild(&mut self, kvs: Vec<KeyValue>, revision: i64) -> Result<()> {
        self.infos.clear();
        self.operations.clear();
        self.lock_states.clear();
        let mut snapshot = Snapshot::default();
        let mut operations = Vec::new();
        for kv in &kvs {
            match self.decode(kv) {
                Some(Record::SourceTables(st)) => {
                    snapshot
                        .source_tables
                        .entry(st.task.clone())
                        .or_default()
                        .insert(st.source.clone(), st);
                }
                Some(Record::Info(task, key, stored)) => {
                    self.infos.insert((task, key), stored.clone());
                    snapshot.infos.push(stored);
                }
                Some(Record::Operation(task, key, op, rev)) => {
                    self.operations.insert((task, key), (op.clone(), rev));
                    operations.push(op);
                }
                Some(Record::DroppedColumn(c)) => snapshot.dropped_columns.push(c),
                None => {}
            }
        }
        let plan = plan_rebuild(snapshot);
        self.keeper = plan.keeper;
        self.tables = plan.tables;
        for skipped in &plan.skipped {
            tracing::warn!(task = %skipped.info.task, source = %skipped.info.source, schema = %skipped.info.up_schema, table = %skipped.info.up_table, "info of a table no SourceTables routes, skipped at rebuild");
        }
        let replayed = plan.replay.len();
        for stored in plan.replay {
            self.answer_info(stored, true).await?;
        }
        let finish = self.keeper.finish_rebuild(&operations);
        for columns in &finish.columns {
            self.write_column_effects(columns).await?;
        }
        for orphan in &finish.orphans {
            tracing::warn!(task = %orphan.task, lock_id = %orphan.id, source = %orphan.source, "operation without a lock");
        }
        for removal in finish.removals {
            self.remove_lock(removal).await?;
        }
        self.publish_metrics();
        tracing::info!(
            revision,
            locks = self.keeper.len(),
            infos = replayed,
            "optimistic locks rebuilt"
        );
        Ok(())
    }

    async fn on_source_tables(&mut self, st: &SourceTables, is_deleted: bool) -> Result<()> {
        let decision =
            self.keeper
                .on_source_tables(&mut self.tables, st, is_deleted, &no_checkpoint);
        for removal in &decision.removals {
            tracing::info!(task = %removal.task, lock_id = %removal.lock_id, source = %removal.key.source, schema = %removal.key.schema, table = %removal.key.table, "table dropped from lock");
            let result = ops::delete_table(
                &self.etcd,
                &self.space,
                self.fence.as_ref(),
                &removal.task,
                &removal.lock_id,
                &removal.key,
                &removal.cols,
            )
            .await;
            log_or_stop(result, &removal.lock_id, "deleting a dropped table's keys")?;
        }
        for lock_id in &decision.removed_locks {
            self.lock_states.remove(lock_id);
            tracing::info!(%lock_id, "lock removed: its last table was dropped");
        }
        for (lock_id, key) in decision.recheck {
            self.recheck(&lock_id, &key).await?;
        }
        for removal in decision.resolved {
            tracing::info!(task = %removal.task, lock_id = %removal.lock_id, "every remaining table is done after tables left the lock");
            self.remove_lock(removal).await?;
        }
        self.publish_metrics();
        Ok(())
    }

    /// DM `handleInfo` + `handleLock`, then re-evaluation of blocked tables.
    async fn answer_info(&mut self, stored: StoredInfo, skip_done: bool) -> Result<()> {
        // Owned: an Info carries its TableInfo JSON trees, and a copy per
        // Info is a tenth of the handling of one on a 1,000-table lock.
        let StoredInfo {
            info,
            version,
            revision,
        } = stored;
        self.tables.add_table(
            &info.task,
            &info.source,
            &info.up_schema,
            &info.up_table,
            &info.down_schema,
            &info.down_table,
        );
        // A new lock learns all its tables from the routes. An existing lock
        // already has them: SourceTables changes reach it through
        // `on_source_tables` in the same ordered stream, so the per-Info
        // O(tables) merge DM does (and its cost at 10,000 tables) is skipped;
        // the caller's own table is added by TrySync itself.
        let tts = if self.keeper.find_lock(&info.lock_id()).is_some() {
            Vec::new()
        } else {
            self.tables
                .find_tables(&info.task, &info.down_schema, &info.down_table)
                .unwrap_or_default()
        };
        let (lock_id, result) = self.keeper.try_sync(&info, version, &tts, &no_checkpoint);
        let mut queue = VecDeque::new();
        self.settle(&lock_id, &info, result, skip_done, revision, &mut queue)
            .await?;
        // DM gap O6: tables answered `detected` earlier get another chance.
        while let Some(key) = queue.pop_front() {
            self.recheck_into(&lock_id, &key, &mut queue).await?;
        }
        self.publish_metrics();
        Ok(())
    }

    async fn recheck(&mut self, lock_id: &str, key: &TableKey) -> Result<()> {
        let mut queue = VecDeque::from([key.clone()]);
        while let Some(key) = queue.pop_front() {
            self.recheck_into(lock_id, &key, &mut queue).await?;
        }
        Ok(())
    }

    async fn recheck_into(
        &mut self,
        lock_id: &str,
        key: &TableKey,
        queue: &mut VecDeque<TableKey>,
    ) -> Result<()> {
        let Some(task) = parse_lock_id(lock_id).map(|p| p.task) else {
            return Ok(());
        };
        if self.keeper.find_lock(lock_id).is_none() {
            return Ok(());
        }
        // The lock exists (it holds the blocked table): no routes to merge.
        let tts = Vec::new();
        let Some((info, result)) = self.keeper.recheck(lock_id, key, &tts, &no_checkpoint) else {
            return Ok(());
        };
        let revision = self
            .infos
            .get(&(task, key.clone()))
            .map(|s| s.revision)
            .unwrap_or(0);
        tracing::info!(%lock_id, source = %key.source, schema = %key.schema, table = %key.table, stage = %result.stage(), "blocked table re-evaluated");
        // A re-evaluation answers even a table whose last answer was
        // `detected`: that Operation is not done, so no guard is needed.
        self.settle(lock_id, &info, result, false, revision, queue)
            .await
    }

    /// Performs a TrySync's effects and answer; queues tables to recheck.
    async fn settle(
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
                &self.etcd,
                &self.space,
                self.fence.as_ref(),
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
                &self.etcd,
                &self.space,
                self.fence.as_ref(),
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
                self.metrics.report_ddl_error(&info.task, kind);
            }
        } else {
            tracing::info!(task = %info.task, source = %info.source, schema = %info.up_schema, table = %info.up_table, %lock_id, ddls = ?result.new_ddls, cols = ?result.cols, synced = result.synced, remain = result.remain, "info applied to optimistic lock");
        }
        if self.keeper.find_lock(lock_id).is_some() {
            self.lock_states
                .insert(lock_id.to_owned(), (info.task.clone(), result.synced));
        }
        recheck.extend(result.recheck.iter().cloned());
        match self
            .keeper
            .answer(lock_id, info, &result, skip_done, info_revision)
        {
            Answer::Nothing => Ok(()),
            Answer::LockNotFound(error) => {
                tracing::error!(task = %info.task, %lock_id, %error, "no lock to answer");
                self.metrics
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
                let seen = match self.operations.get(&(op.task.clone(), table)) {
                    None => SeenOperation::Absent,
                    Some((stored, mod_revision)) if !stored.done => SeenOperation::NotDone {
                        mod_revision: *mod_revision,
                    },
                    Some(_) => SeenOperation::Unknown,
                };
                let written = ops::put_operation_seen(
                    &self.etcd,
                    &self.space,
                    self.fence.as_ref(),
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
                        self.metrics
                            .report_ddl_error(&info.task, metrics::ERR_INFO_PUT_HANDLE_LOCK);
                        Ok(())
                    }
                }
            }
            Answer::RemoveLock(removal) => self.remove_lock(removal).await,
        }
    }

    async fn on_operation(&mut self, op: &Operation) -> Result<()> {
        if !op.done {
            return Ok(());
        }
        match self.keeper.on_operation_done(op) {
            DoneDecision::LockNotFound => {
                tracing::warn!(task = %op.task, lock_id = %op.id, source = %op.source, "done operation for an unknown lock");
                Ok(())
            }
            DoneDecision::Progress { columns } => {
                tracing::info!(task = %op.task, lock_id = %op.id, source = %op.source, schema = %op.up_schema, table = %op.up_table, "table done");
                self.write_column_effects(&columns).await
            }
            DoneDecision::Resolved { columns, remove } => {
                self.write_column_effects(&columns).await?;
                self.remove_lock(remove).await
            }
        }
    }

    /// Writes dropped-column stage changes; failures are logged (etcd
    /// catches up at the next rebuild, as in DM).
    async fn write_column_effects(&mut self, columns: &ColumnEffects) -> Result<()> {
        if let Some(error) = &columns.error {
            tracing::warn!(lock_id = %columns.lock_id, %error, "dropped columns not updated");
        }
        for (col, key, stage) in &columns.put {
            let r = ops::put_dropped_columns(
                &self.etcd,
                &self.space,
                self.fence.as_ref(),
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
                &self.etcd,
                &self.space,
                self.fence.as_ref(),
                &columns.lock_id,
                &columns.delete,
            )
            .await;
            log_or_stop(r, &columns.lock_id, "forgetting fully dropped columns")?;
        }
        Ok(())
    }

    async fn remove_lock(&mut self, removal: RemoveLock) -> Result<()> {
        let kept = ops::delete_resolved_lock(
            &self.etcd,
            &self.space,
            self.fence.as_ref(),
            &removal.task,
            &removal.lock_id,
            &removal.tables,
        )
        .await;
        match kept {
            Ok(kept) if kept.is_empty() => {
                self.keeper.remove_lock(&removal.lock_id);
                self.lock_states.remove(&removal.lock_id);
                tracing::info!(task = %removal.task, lock_id = %removal.lock_id, "optimistic lock resolved and removed");
            }
            Ok(kept) => {
                tracing::info!(task = %removal.task, lock_id = %removal.lock_id, kept = kept.len(), "lock resolved but some Infos were put again; keeping it");
            }
            Err(e) if e.ends_term() => return Err(e),
            Err(error) => {
                tracing::error!(task = %removal.task, lock_id = %removal.lock_id, %error, "removing the resolved lock failed");
                self.metrics
                    .report_ddl_error(&removal.task, metrics::ERR_OPERATION_PUT_REMOVE_LOCK);
            }
        }
        self.publish_metrics();
        Ok(())
    }

    /// Whether the source's subtask config of `task` sets
    /// `strict-optimistic-shard-mode` (read when a conflict is detected,
    /// which is rare; an unreadable config counts as not strict).
    async fn strict_mode(&self, task: &str, source: &str) -> bool {
        let key = self.space.key(&UPSTREAM_SUBTASK, [source, task]);
        match self.etcd.get(key).await {
            Ok(read) => read
                .value
                .is_some_and(|kv| crate::task::strict_optimistic_shard_mode(&kv.value)),
            Err(error) => {
                tracing::warn!(%task, %source, %error, "reading the subtask config failed; conflict not counted as strict");
                false
            }
        }
    }

    // ---- admin ----

    async fn on_request(&mut self, request: Request) -> Result<()> {
        match request {
            Request::ShowLocks {
                task,
                sources,
                reply,
            } => {
                let ops: Vec<Operation> =
                    self.operations.values().map(|(op, _)| op.clone()).collect();
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
                    .map(|(op, _)| op)
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

    async fn unlock(&mut self, lock_id: &str, key: &TableKey, action: UnlockAction) -> Result<()> {
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
            .map(|(_, o)| o.clone())
            .collect();
        match self
            .keeper
            .plan_unlock(lock_id, key, action, &infos, &ops)?
        {
            UnlockDecision::Resolved(removal) => self.remove_lock(removal).await,
            UnlockDecision::Put(plan) => {
                ops::put_operation(
                    &self.etcd,
                    &self.space,
                    self.fence.as_ref(),
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

    async fn remove_metadata(&mut self, task: &str) -> Result<()> {
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
            .map(|(_, (o, _))| o.clone())
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
            self.lock_states.remove(id);
        }
        self.tables.remove_table_by_task(task);
        ops::delete_task(
            &self.etcd,
            &self.space,
            self.fence.as_ref(),
            task,
            &lock_ids,
        )
        .await?;
        self.publish_metrics();
        tracing::info!(%task, locks = lock_ids.len(), "optimistic metadata of task removed");
        Ok(())
    }

    async fn remove_sources_metadata(&mut self, task: &str, sources: &[String]) -> Result<()> {
        for source in sources {
            // As if the source's SourceTables were deleted: its tables leave
            // every lock of the task, and their Info / Operation keys go.
            self.on_source_tables(&SourceTables::new(task, source), true)
                .await?;
            let mut keys = vec![ops::source_tables_key(&self.space, task, source)];
            for ((t, key), _) in self
                .infos
                .iter()
                .filter(|((t, k), _)| t == task && k.source == *source)
            {
                keys.push(ops::info_key(&self.space, t, key));
            }
            for ((t, key), _) in self
                .operations
                .iter()
                .filter(|((t, k), _)| t == task && k.source == *source)
            {
                keys.push(ops::operation_key(&self.space, t, key));
            }
            let deletes = keys.into_iter().map(Op::delete).collect();
            self.etcd
                .batch_fenced(
                    "delete optimistic metadata of a source",
                    deletes,
                    self.fence.as_ref(),
                )
                .await?;
            tracing::info!(%task, %source, "optimistic metadata of the source removed");
        }
        self.publish_metrics();
        Ok(())
    }

    fn publish_metrics(&self) {
        let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for (task, synced) in self.lock_states.values() {
            let c = counts.entry(task.as_str()).or_default();
            if *synced {
                c.1 += 1;
            } else {
                c.0 += 1;
            }
        }
        self.metrics.set_ddl_states(
            MODE,
            counts
                .into_iter()
                .map(|(t, (u, s))| (t.to_owned(), u, s))
                .collect(),
        );
    }
}

enum Record {
    SourceTables(SourceTables),
    Info(String, TableKey, StoredInfo),
    Operation(String, TableKey, Operation, i64),
    DroppedColumn(StoredDroppedColumn),
}

/// A failed write that is not loss of leadership is logged (DM logs these
/// too); loss of leadership stops the actor.
fn log_or_stop<T>(r: Result<T>, lock_id: &str, what: &str) -> Result<()> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.ends_term() => Err(e),
        Err(error) => {
            tracing::warn!(%lock_id, %error, "{what} failed");
            Ok(())
        }
    }
}
