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
//!
//! Files: this one holds the actor, its event loop and the Info,
//! SourceTables and Operation handling; `admin` the handle and admin
//! requests; `rebuild` decoding and the snapshot rebuild; `effects` the
//! writes that carry out a TrySync's answers.

use std::collections::{BTreeMap, HashMap, VecDeque};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{start_actor, unless_term_ends, ActorContext, CHANNEL_CAPACITY};
use crate::error::{Error, Result};
use crate::etcd::watch::{WatchEvent, Watcher};
use crate::etcd::{KeyValue, Op};
use crate::keys::{
    parse_lock_id, OPTIMISM_DROPPED_COLUMNS, OPTIMISM_INFO, OPTIMISM_INIT_SCHEMA,
    OPTIMISM_OPERATION, OPTIMISM_SOURCE_TABLES, UPSTREAM_SUBTASK,
};
use crate::metrics::{self};
use crate::optimism::keeper::{
    plan_rebuild, Answer, DoneDecision, EffectFailure, LockKeeper, LockView, RemoveLock, Snapshot,
    StoredDroppedColumn, StoredInfo, UnlockAction, UnlockDecision,
};
use crate::optimism::lock::{ColumnEffects, TrySyncResult};
use crate::optimism::ops::{self, SeenOperation, TableKey};
use crate::optimism::table_keeper::TableKeeper;
use crate::optimism::{ConflictStage, DropColumnStage, Info, InfoSchemas, Operation, SourceTables};
use crate::tableinfo::TableInfo;

const MODE: &str = crate::task::ShardMode::Optimistic.as_str();

mod admin;
mod effects;
mod rebuild;

pub use admin::OptimistHandle;
use admin::{not_started, Request};
use effects::log_or_stop;
use rebuild::Record;

/// The master cannot read downstream checkpoints: tables joining a lock
/// start from the lock's initial schema.
fn no_checkpoint(_: &TableKey) -> Option<TableInfo> {
    None
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

/// The actor.
pub struct Optimist {
    /// etcd, key space, the term's leader fence (every write compares it)
    /// and metrics.
    ctx: ActorContext,
    keeper: LockKeeper,
    tables: TableKeeper,
    /// Infos in etcd: (task, table) → Info with version and revision.
    ///
    /// Values are boxed in both maps: a lock's tables arrive in key order
    /// (a worker replays its tables in order), which leaves the B-tree's
    /// nodes half full, and an empty slot then costs a pointer instead of a
    /// whole Info or Operation (about a tenth of the memory per table).
    infos: BTreeMap<(String, TableKey), Box<StoredInfo>>,
    /// Operations in etcd with their mod revision.
    operations: BTreeMap<(String, TableKey), Box<(Operation, i64)>>,
    /// Per lock: (task, synced) as the last TrySync reported, for the
    /// pending-DDL gauge without re-joining every table.
    lock_states: LockStates,
}

impl Optimist {
    pub fn spawn(
        ctx: ActorContext,
        tracker: &TaskTracker,
        cancel: CancellationToken,
    ) -> OptimistHandle {
        let actor = Optimist {
            ctx,
            keeper: LockKeeper::new(),
            tables: TableKeeper::new(),
            infos: BTreeMap::new(),
            operations: BTreeMap::new(),
            lock_states: LockStates::default(),
        };
        let mailbox = start_actor(
            "optimist",
            tracker,
            cancel,
            not_started,
            |requests, tracker, cancel| actor.run(requests, tracker, cancel),
        );
        OptimistHandle { mailbox }
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
            Watcher::new(self.ctx.etcd.clone(), ops::optimism_prefix(&self.ctx.space))
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
            unless_term_ends("optimist", "event", result)?;
        }
        tracing::info!("optimist stopped");
        Ok(())
    }

    async fn on_event(&mut self, event: WatchEvent) -> Result<()> {
        match event {
            WatchEvent::Resynced(snapshot) => self.rebuild(snapshot.value, snapshot.revision).await,
            WatchEvent::Put(kv) => match self.decode_event(&kv) {
                Some(Record::SourceTables(st)) => self.on_source_tables(&st, false).await,
                Some(Record::Info(task, key, stored, schemas)) => {
                    self.infos.insert((task, key), Box::new(stored.clone()));
                    self.answer_info(stored, schemas, false).await
                }
                Some(Record::Operation(task, key, op, revision)) => {
                    self.operations
                        .insert((task, key), Box::new((op.clone(), revision)));
                    self.on_operation(&op).await
                }
                // Our own writes; read only at rebuild.
                Some(Record::DroppedColumn(_)) | None => Ok(()),
            },
            WatchEvent::Delete { key, .. } => {
                if let Some([task, source]) =
                    self.ctx.space.decode_if_held(&OPTIMISM_SOURCE_TABLES, &key)
                {
                    let st = SourceTables::from_deleted_key(task, source);
                    return self.on_source_tables(&st, true).await;
                }
                if let Some([task, source, schema, table]) =
                    self.ctx.space.decode_if_held(&OPTIMISM_INFO, &key)
                {
                    self.infos
                        .remove(&(task, TableKey::new(&source, &schema, &table)));
                } else if let Some([task, source, schema, table]) =
                    self.ctx.space.decode_if_held(&OPTIMISM_OPERATION, &key)
                {
                    self.operations
                        .remove(&(task, TableKey::new(&source, &schema, &table)));
                }
                Ok(())
            }
        }
    }

    async fn on_source_tables(&mut self, st: &SourceTables, is_deleted: bool) -> Result<()> {
        let decision =
            self.keeper
                .on_source_tables(&mut self.tables, st, is_deleted, &no_checkpoint);
        for removal in &decision.removals {
            tracing::info!(task = %removal.task, lock_id = %removal.lock_id, source = %removal.key.source, schema = %removal.key.schema, table = %removal.key.table, "table dropped from lock");
            let result = ops::delete_table(
                &self.ctx.etcd,
                &self.ctx.space,
                self.ctx.fence.as_ref(),
                &removal.task,
                &removal.lock_id,
                &removal.key,
                &removal.cols,
            )
            .await;
            log_or_stop(result, &removal.lock_id, "deleting a dropped table's keys")?;
        }
        for lock_id in &decision.removed_locks {
            self.set_lock_state(lock_id, None);
            tracing::info!(%lock_id, "lock removed: its last table was dropped");
        }
        for (lock_id, key) in decision.recheck {
            self.recheck(&lock_id, &key).await?;
        }
        for removal in decision.resolved {
            tracing::info!(task = %removal.task, lock_id = %removal.lock_id, "every remaining table is done after tables left the lock");
            self.remove_lock(removal).await?;
        }
        Ok(())
    }

    /// DM `handleInfo` + `handleLock`, then re-evaluation of blocked tables.
    /// `schemas` are the Info's when they were decoded with it; `None`
    /// decodes them from the Info's text.
    async fn answer_info(
        &mut self,
        stored: StoredInfo,
        schemas: Option<InfoSchemas>,
        skip_done: bool,
    ) -> Result<()> {
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
        let schemas = schemas.unwrap_or_else(|| InfoSchemas::of(&info));
        let (lock_id, result) =
            self.keeper
                .try_sync_with(&info, schemas, version, &tts, &no_checkpoint);
        let mut queue = VecDeque::new();
        self.settle(&lock_id, &info, result, skip_done, revision, &mut queue)
            .await?;
        // DM gap O6: tables answered `detected` earlier get another chance.
        while let Some(key) = queue.pop_front() {
            self.recheck_into(&lock_id, &key, &mut queue).await?;
        }
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

    /// Whether the source's subtask config of `task` sets
    /// `strict-optimistic-shard-mode` (read when a conflict is detected,
    /// which is rare; an unreadable config counts as not strict).
    async fn strict_mode(&self, task: &str, source: &str) -> bool {
        let key = self.ctx.space.key(&UPSTREAM_SUBTASK, [source, task]);
        match self.ctx.etcd.get(key).await {
            Ok(read) => read
                .value
                .is_some_and(|kv| crate::task::strict_optimistic_shard_mode(&kv.value)),
            Err(error) => {
                tracing::warn!(%task, %source, %error, "reading the subtask config failed; conflict not counted as strict");
                false
            }
        }
    }

    /// Records a lock's state as the last TrySync reported it (`None`: the
    /// lock is gone) and publishes its task's gauge when the counts moved:
    /// one task's series per change, never a count over every lock.
    pub(super) fn set_lock_state(&mut self, lock_id: &str, state: Option<(String, bool)>) {
        if let Some((task, unsynced, synced)) = self.lock_states.set(lock_id, state) {
            self.ctx
                .metrics
                .set_ddl_state(MODE, &task, unsynced, synced);
        }
    }

    /// Publishes every task's gauge (after a rebuild or an admin request).
    fn publish_metrics(&self) {
        self.ctx
            .metrics
            .set_ddl_states(MODE, self.lock_states.task_counts());
    }
}

/// Per lock: (task, synced) as the last TrySync reported, and per task the
/// number of un-synced and synced locks, kept together so the pending-DDL
/// gauge is updated without re-joining or recounting every lock.
#[derive(Default)]
struct LockStates {
    by_lock: HashMap<String, (String, bool)>,
    by_task: HashMap<String, (usize, usize)>,
}

impl LockStates {
    /// Sets (or with `None` forgets) `lock_id`'s state; returns the task and
    /// its new (un-synced, synced) counts when they changed.
    fn set(
        &mut self,
        lock_id: &str,
        state: Option<(String, bool)>,
    ) -> Option<(String, usize, usize)> {
        let old = match &state {
            Some(new) => self.by_lock.insert(lock_id.to_owned(), new.clone()),
            None => self.by_lock.remove(lock_id),
        };
        if old == state {
            return None;
        }
        let task = match (&old, &state) {
            (Some((task, _)), _) | (None, Some((task, _))) => task.clone(),
            (None, None) => return None,
        };
        if let Some((old_task, synced)) = &old {
            self.count(old_task, *synced, false);
        }
        if let Some((new_task, synced)) = &state {
            self.count(new_task, *synced, true);
        }
        let (unsynced, synced) = self.by_task.get(&task).copied().unwrap_or_default();
        Some((task, unsynced, synced))
    }

    fn count(&mut self, task: &str, synced: bool, add: bool) {
        let counts = self.by_task.entry(task.to_owned()).or_default();
        let slot = if synced { &mut counts.1 } else { &mut counts.0 };
        *slot = if add {
            *slot + 1
        } else {
            slot.saturating_sub(1)
        };
        if *counts == (0, 0) {
            self.by_task.remove(task);
        }
    }

    fn clear(&mut self) {
        self.by_lock.clear();
        self.by_task.clear();
    }

    fn task_counts(&self) -> Vec<(String, usize, usize)> {
        self.by_task
            .iter()
            .map(|(task, (unsynced, synced))| (task.clone(), *unsynced, *synced))
            .collect()
    }
}

#[cfg(test)]
mod lock_state_tests {
    use super::LockStates;

    fn state(task: &str, synced: bool) -> Option<(String, bool)> {
        Some((task.to_owned(), synced))
    }

    #[test]
    fn counts_follow_each_lock_and_report_only_changes() {
        let mut states = LockStates::default();
        assert_eq!(states.set("a", state("t", false)), Some(("t".into(), 1, 0)));
        assert_eq!(states.set("b", state("t", false)), Some(("t".into(), 2, 0)));
        assert_eq!(states.set("c", state("u", true)), Some(("u".into(), 0, 1)));
        // The same state again changes nothing.
        assert_eq!(states.set("a", state("t", false)), None);
        assert_eq!(states.set("a", state("t", true)), Some(("t".into(), 1, 1)));
        assert_eq!(states.set("b", None), Some(("t".into(), 0, 1)));
        // Forgetting an unknown lock changes nothing.
        assert_eq!(states.set("zz", None), None);
        assert_eq!(states.set("c", None), Some(("u".into(), 0, 0)));
        assert_eq!(states.task_counts(), vec![("t".to_owned(), 0, 1)]);
        states.clear();
        assert!(states.task_counts().is_empty());
        assert_eq!(states.set("a", None), None);
    }
}
