//! The lock keeper of the optimistic coordinator and the decisions its
//! actor carries out (docs/protocol.md#optimistic-lock, #optimistic-rebuild;
//! `dm/pkg/shardddl/optimism/keeper.go`, `dm/master/shardddl/optimist.go`).
//!
//! PURE: no async, no I/O. The keeper maps lock IDs to [`Lock`]s and turns
//! each event into a decision value; the actor reads etcd (and the
//! downstream checkpoints the `fetch` closures stand for), performs the
//! writes a decision lists, and reports failures back.
//!
//! # Answering an Info (DM `handleInfo` / `handleLock`)
//!
//! 1. `tts = table_keeper.find_tables(..)` (if `None`, DM re-reads all
//!    SourceTables and uses [`super::table_keeper::target_tables_for_task`]);
//!    optionally prefetch the checkpoints of [`LockKeeper::missing_tables`].
//! 2. `(lock_id, result) = keeper.try_sync(info, version, tts, fetch)`.
//! 3. Perform `result.effects` ([`super::lock::Effects`]); on a failed
//!    write call [`LockKeeper::effects_failed`], which rewrites the result.
//! 4. Carry out [`LockKeeper::answer`]: put the Operation, remove the
//!    resolved lock, or nothing.
//! 5. DM gap O6 in docs/dm-gaps.md: for every key of `result.recheck`, run
//!    [`LockKeeper::recheck`] and go on from step 3 with its result.
//!
//! Locks are kept in a `BTreeMap`, so listings come out in ID order.
//!
//! Deliberate differences from DM (docs/dm-gaps.md#optimistic-shard-ddl-o): DM gap O6
//! (re-evaluation of `detected` tables, above and in [`LockKeeper::unlock_done`] and
//! [`LockKeeper::on_source_tables`]); DM gap O17 (an Info without
//! before-schema is answered with an `error` Operation instead of
//! nothing). DM's downstream-meta cache is the actor's: it is only needed
//! for the checkpoint reads behind `fetch`.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::terror::LockNotFound;

use super::error::OptimismError;
use super::lock::{decode_schema, ColumnEffects, DroppedColumns, Fetch, Lock, TrySyncResult};
use super::table::SourceTables;
use super::table_keeper::{RouteTable, TableKeeper, TargetTable};
use super::{ConflictStage, DropColumnStage, Info, Operation};
use crate::keys::TableKey;
pub use crate::lock_view::LockView;
use crate::task::ShardMode;

#[cfg(test)]
mod tests;

/// Which write of [`super::lock::Effects`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EffectFailure {
    /// The redirect Operations (nothing was written: one txn).
    Redirects,
    /// The dropped-column records; `cause` is the failure's DM string,
    /// which becomes the Operation's message.
    DroppedColumns { cause: String },
}

/// One table of a resolved lock: its Info version as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedTable {
    pub key: TableKey,
    /// The Info's etcd version when the master last saw it (0: no Info).
    pub info_version: i64,
}

/// A resolved lock to delete: the actor runs `ops::delete_resolved_lock`
/// with these tables and, if nothing was kept, [`LockKeeper::remove_lock`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveLock {
    pub lock_id: String,
    pub task: String,
    /// Every table of the lock with the Info version seen last (DM uses
    /// `Ready()` keys and `GetVersion`).
    pub tables: Vec<ResolvedTable>,
}

/// What to write after a TrySync (DM `handleLock`'s tail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An ignore-conflict Info (`binlog-schema update --sync`): no
    /// Operation, as in DM.
    Nothing,
    /// The lock does not exist (DM's ErrMasterLockNotFound, logged and
    /// counted as `InfoPut - HandleLockError`).
    LockNotFound(OptimismError),
    /// Put `op` with `ops::put_operation(op, skip_done, info_revision)`.
    Put {
        op: Operation,
        skip_done: bool,
        info_revision: i64,
    },
    /// The lock is resolved: no Operation; delete its keys instead.
    RemoveLock(RemoveLock),
}

/// What a `done` Operation leads to (DM `handleOperation`; the actor
/// ignores Operations with `done = false`, which are the master's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DoneDecision {
    /// No lock has this ID (DM logs a warning).
    LockNotFound,
    /// Write the column effects; the lock waits for more.
    Progress { columns: ColumnEffects },
    /// Write the column effects, then remove the resolved lock.
    Resolved {
        columns: ColumnEffects,
        remove: RemoveLock,
    },
}

/// One table dropped from a lock by a SourceTables change: delete its keys
/// with `ops::delete_table(task, lock_id, key, cols)` (DM does even when
/// the lock did not hold the table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableRemoval {
    pub task: String,
    pub lock_id: String,
    pub key: TableKey,
    /// Dropped columns the table had records for.
    pub cols: Vec<String>,
}

/// Result of [`LockKeeper::on_source_tables`] (DM `handleSourceTables`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceTablesDecision {
    pub added: BTreeSet<RouteTable>,
    pub dropped: BTreeSet<RouteTable>,
    /// Keys to delete, in route order.
    pub removals: Vec<TableRemoval>,
    /// Locks removed because their last table went.
    pub removed_locks: Vec<String>,
    /// DM gap O6: `detected` tables of locks that lost a table, to re-run with
    /// [`LockKeeper::recheck`].
    pub recheck: Vec<(String, TableKey)>,
    /// Locks that lost a table (a source left the task) and whose remaining
    /// tables are all done: resolved now, not at an event that may never
    /// come (DM leaves them until the next done of the lock).
    pub resolved: Vec<RemoveLock>,
}

/// The two actions of `unlock-ddl-lock` (`pb.UnlockDDLLockOp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlockAction {
    /// `SkipLock` (1): the table skips its blocked DDLs.
    Skip,
    /// `ExecLock` (2): the table executes its blocked DDLs.
    Exec,
}

impl UnlockAction {
    /// From the proto enum value.
    pub fn from_proto(op: i32) -> Option<UnlockAction> {
        match op {
            1 => Some(UnlockAction::Skip),
            2 => Some(UnlockAction::Exec),
            _ => None,
        }
    }
}

/// A validated unlock (DM `UnlockLock` steps 3-4): put `op` with
/// `ops::put_operation(op, skip_done = false, info_revision)`, then call
/// [`LockKeeper::unlock_done`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnlockPlan {
    pub lock_id: String,
    pub key: TableKey,
    pub action: UnlockAction,
    /// The table's `detected` Operation rewritten: stage `unlocked`, DDLs
    /// the Info's (exec) or none (skip).
    pub op: Operation,
    /// The stored Operation's mod revision + 1, as DM passes it.
    pub info_revision: i64,
    /// The table's Info.
    pub info: Info,
}

/// Result of [`LockKeeper::plan_unlock`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnlockDecision {
    /// The lock was already resolved: remove it (DM `removeLock`) and
    /// reply success.
    Resolved(RemoveLock),
    /// Put the rewritten Operation.
    Put(Box<UnlockPlan>),
}

/// One Info as read from etcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInfo {
    pub info: Info,
    /// etcd version of the key.
    pub version: i64,
    /// etcd mod revision of the key.
    pub revision: i64,
}

/// One dropped-column record as read from etcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDroppedColumn {
    pub lock_id: String,
    pub column: String,
    pub key: TableKey,
    pub stage: DropColumnStage,
}

/// What a rebuild reads (DM `rebuildLocks`): every SourceTables, Info and
/// dropped-column record. Operations are given to
/// [`LockKeeper::finish_rebuild`].
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub source_tables: BTreeMap<String, BTreeMap<String, SourceTables>>,
    pub infos: Vec<StoredInfo>,
    pub dropped_columns: Vec<StoredDroppedColumn>,
}

/// The start of a rebuild (DM `rebuildLocks` + `recoverLocks` step 1).
#[derive(Debug, Clone)]
pub struct RebuildPlan {
    /// A fresh keeper with the dropped columns waiting for their locks.
    pub keeper: LockKeeper,
    /// The table keeper initialised from the snapshot.
    pub tables: TableKeeper,
    /// Infos to answer, in mod-revision order, each with `skip_done`
    /// Operation puts guarded by its revision (docs/protocol.md#optimistic-rebuild).
    pub replay: Vec<StoredInfo>,
    /// Infos of tables no SourceTables routes (DM skips them silently).
    pub skipped: Vec<StoredInfo>,
}

/// The end of a rebuild (DM `recoverLocks` step 3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RebuildFinish {
    /// Column effects of `done` Operations, to write.
    pub columns: Vec<ColumnEffects>,
    /// Resolved locks to remove.
    pub removals: Vec<RemoveLock>,
    /// Operations whose lock does not exist (DM logs them).
    pub orphans: Vec<Operation>,
}

/// DM's `LockKeeper`: lock ID → lock.
#[derive(Debug, Clone, Default)]
pub struct LockKeeper {
    locks: BTreeMap<String, Lock>,
    /// Dropped columns read at rebuild, installed into a lock when the
    /// rebuild creates it (DM `dropColumns`; `None` outside a rebuild).
    drop_columns: Option<BTreeMap<String, DroppedColumns>>,
}

impl LockKeeper {
    /// An empty keeper.
    pub fn new() -> LockKeeper {
        LockKeeper::default()
    }

    /// DM `SetDropColumns`.
    pub fn set_drop_columns(&mut self, columns: Option<BTreeMap<String, DroppedColumns>>) {
        self.drop_columns = columns;
    }

    /// Tables whose checkpoint schema a TrySync of `info` will ask `fetch`
    /// for: all of `tts` and the caller for a new lock, else the lock's
    /// missing ones.
    pub fn missing_tables(&self, info: &Info, tts: &[TargetTable]) -> Vec<TableKey> {
        let caller = TableKey::new(&info.source, &info.up_schema, &info.up_table);
        match self.locks.get(&info.lock_id()) {
            Some(lock) => lock.missing_tables(tts, Some(&caller)),
            None => {
                let mut keys: BTreeSet<TableKey> = tts
                    .iter()
                    .flat_map(|tt| {
                        tt.up_tables.iter().flat_map(move |(schema, tables)| {
                            tables
                                .iter()
                                .map(move |t| TableKey::new(&tt.source, schema, t))
                        })
                    })
                    .collect();
                keys.insert(caller);
                keys.into_iter().collect()
            }
        }
    }

    /// DM `LockKeeper.TrySync`: creates the lock from the Info's
    /// before-schema if needed (installing rebuild-time dropped columns),
    /// then runs [`Lock::try_sync`].
    ///
    /// DM gap O17: without a before-schema DM returns lock ID `""` and the
    /// Info is never answered; here the lock ID is the Info's and the
    /// result carries the error, which [`LockKeeper::answer`] puts as an
    /// `error` Operation. No lock is created.
    pub fn try_sync(
        &mut self,
        info: &Info,
        info_version: i64,
        tts: &[TargetTable],
        fetch: Fetch,
    ) -> (String, TrySyncResult) {
        let lock_id = info.lock_id();
        let Some(before) = &info.table_info_before else {
            let ddls = info.ddls.clone().unwrap_or_default();
            return (
                lock_id,
                TrySyncResult::failed(OptimismError::TableInfoBeforeNotExist { ddls }),
            );
        };
        let mut created = false;
        if !self.locks.contains_key(&lock_id) {
            let init = match decode_schema(before, "table-info-before") {
                Ok(t) => t,
                Err(e) => return (lock_id, TrySyncResult::failed(e)),
            };
            let mut lock = Lock::new(
                &lock_id,
                &info.task,
                &info.down_schema,
                &info.down_table,
                init,
                tts,
                fetch,
            );
            if let Some(columns) = self.drop_columns.as_ref().and_then(|m| m.get(&lock_id)) {
                lock.set_columns(columns.clone());
            }
            self.locks.insert(lock_id.clone(), lock);
            created = true;
        }
        let Some(lock) = self.locks.get_mut(&lock_id) else {
            return (
                lock_id.clone(),
                TrySyncResult::failed(OptimismError::LockNotFound(LockNotFound::new(lock_id))),
            );
        };
        let mut result = lock.try_sync(info, info_version, tts, fetch);
        result.created_lock = created;
        (lock_id, result)
    }

    /// Reports a failed write of `result.effects` and returns the answer DM
    /// would have given ([`Lock::redirect_failed`],
    /// [`Lock::dropped_columns_failed`]).
    pub fn effects_failed(
        &mut self,
        lock_id: &str,
        info: &Info,
        result: TrySyncResult,
        failure: EffectFailure,
    ) -> TrySyncResult {
        let Some(lock) = self.locks.get_mut(lock_id) else {
            return result;
        };
        match failure {
            EffectFailure::Redirects => lock.redirect_failed(info, result),
            EffectFailure::DroppedColumns { cause } => {
                lock.dropped_columns_failed(info, result, &cause)
            }
        }
    }

    /// DM `handleLock` after TrySync: the Operation to put for the caller
    /// (`new_ddls`/`cols` always lists; stage and message from the error),
    /// or the removal of a lock this Info resolved, or nothing for
    /// ignore-conflict Infos.
    pub fn answer(
        &self,
        lock_id: &str,
        info: &Info,
        result: &TrySyncResult,
        skip_done: bool,
        info_revision: i64,
    ) -> Answer {
        let operation = |task: &str| Operation {
            id: lock_id.to_owned(),
            task: task.to_owned(),
            source: info.source.clone(),
            up_schema: info.up_schema.clone(),
            up_table: info.up_table.clone(),
            ddls: Some(result.new_ddls.clone()),
            conflict_stage: result.stage(),
            conflict_message: result.message(),
            done: false,
            cols: Some(result.cols.clone()),
        };
        // DM gap O17: an Info whose schemas cannot be read is answered.
        let unreadable = matches!(
            result.error,
            Some(
                OptimismError::TableInfoBeforeNotExist { .. }
                    | OptimismError::MalformedTableInfo { .. }
            )
        );
        if unreadable {
            if info.ignore_conflict {
                return Answer::Nothing;
            }
            let task = self
                .locks
                .get(lock_id)
                .map_or(info.task.as_str(), Lock::task);
            return Answer::Put {
                op: operation(task),
                skip_done,
                info_revision,
            };
        }
        let Some(lock) = self.locks.get(lock_id) else {
            return Answer::LockNotFound(OptimismError::LockNotFound(LockNotFound::new(lock_id)));
        };
        if lock.is_resolved() {
            return Answer::RemoveLock(remove_action(lock));
        }
        if info.ignore_conflict {
            return Answer::Nothing;
        }
        Answer::Put {
            op: operation(lock.task()),
            skip_done,
            info_revision,
        }
    }

    /// DM gap O6: re-runs the TrySync of a table answered `detected`, with the
    /// Info it was blocked on. Continue with its effects and
    /// [`LockKeeper::answer`] (`skip_done = false`). `None` if the table is
    /// no longer `detected`.
    pub fn recheck(
        &mut self,
        lock_id: &str,
        key: &TableKey,
        tts: &[TargetTable],
        fetch: Fetch,
    ) -> Option<(Info, TrySyncResult)> {
        let lock = self.locks.get_mut(lock_id)?;
        let (info, version) = lock.detected_info(key).map(|(i, v)| (i.clone(), v))?;
        let result = lock.try_sync(&info, version, tts, fetch);
        Some((info, result))
    }

    /// DM `handleOperation` for a `done` Operation: dropped-column stages,
    /// the table's done flag, and the removal of a resolved lock.
    pub fn on_operation_done(&mut self, op: &Operation) -> DoneDecision {
        let Some(lock) = self.locks.get_mut(&op.id) else {
            return DoneDecision::LockNotFound;
        };
        let columns = lock.delete_columns_by_op(op);
        lock.try_mark_done(&TableKey::new(&op.source, &op.up_schema, &op.up_table));
        if lock.is_resolved() {
            DoneDecision::Resolved {
                columns,
                remove: remove_action(lock),
            }
        } else {
            DoneDecision::Progress { columns }
        }
    }

    /// The [`RemoveLock`] of a lock regardless of its state.
    pub fn removal(&self, lock_id: &str) -> Option<RemoveLock> {
        self.locks.get(lock_id).map(remove_action)
    }

    /// DM `RemoveLock` (after its keys were deleted).
    pub fn remove_lock(&mut self, lock_id: &str) -> Option<Lock> {
        self.locks.remove(lock_id)
    }

    /// DM `FindLock`.
    pub fn find_lock(&self, lock_id: &str) -> Option<&Lock> {
        self.locks.get(lock_id)
    }

    /// Mutable access to a lock.
    pub fn find_lock_mut(&mut self, lock_id: &str) -> Option<&mut Lock> {
        self.locks.get_mut(lock_id)
    }

    /// DM `FindLocksByTask`, in ID order.
    pub fn find_locks_by_task<'a>(&'a self, task: &'a str) -> impl Iterator<Item = &'a Lock> + 'a {
        self.locks.values().filter(move |l| l.task() == task)
    }

    /// DM `Locks`, in ID order.
    pub fn locks(&self) -> impl Iterator<Item = &Lock> {
        self.locks.values()
    }

    /// Number of locks.
    pub fn len(&self) -> usize {
        self.locks.len()
    }

    /// No locks.
    pub fn is_empty(&self) -> bool {
        self.locks.is_empty()
    }

    /// DM `Clear` (the downstream-meta cache is the actor's).
    pub fn clear(&mut self) {
        self.locks.clear();
    }

    /// DM `handleSourceTables`: updates the table keeper; added routes join
    /// their existing lock, dropped routes leave it (an emptied lock is
    /// removed) and their keys are to be deleted. Use
    /// [`TableKeeper::diff`] first to prefetch the added tables' schemas.
    pub fn on_source_tables(
        &mut self,
        tables: &mut TableKeeper,
        st: &SourceTables,
        is_deleted: bool,
        fetch: Fetch,
    ) -> SourceTablesDecision {
        let (added, dropped) = tables.update(st, is_deleted);
        let mut decision = SourceTablesDecision::default();
        for route in &added {
            let lock_id = crate::keys::lock_id(&st.task, &route.down_schema, &route.down_table);
            if let Some(lock) = self.locks.get_mut(&lock_id) {
                lock.add_table(
                    &TableKey::new(&st.source, &route.up_schema, &route.up_table),
                    fetch,
                );
            }
        }
        let mut touched = BTreeSet::new();
        for route in &dropped {
            let lock_id = crate::keys::lock_id(&st.task, &route.down_schema, &route.down_table);
            let Some(lock) = self.locks.get_mut(&lock_id) else {
                continue;
            };
            let key = TableKey::new(&st.source, &route.up_schema, &route.up_table);
            let cols = lock.try_remove_table(&key);
            if lock.has_tables() {
                touched.insert(lock_id.clone());
            } else {
                self.locks.remove(&lock_id);
                decision.removed_locks.push(lock_id.clone());
            }
            decision.removals.push(TableRemoval {
                task: st.task.clone(),
                lock_id,
                key,
                cols,
            });
        }
        for lock_id in touched {
            if let Some(lock) = self.locks.get(&lock_id) {
                if lock.is_resolved() {
                    decision.resolved.push(remove_action(lock));
                    continue;
                }
                for key in lock.detected_tables() {
                    decision.recheck.push((lock_id.clone(), key));
                }
            }
        }
        decision.added = added;
        decision.dropped = dropped;
        decision
    }

    /// DM `UnlockLock` steps 1-4 (`unlock-ddl-lock`), given the task's
    /// Infos and Operations (with their mod revisions) read from etcd (a
    /// failed read is [`OptimismError::LockIsResolving`] with
    /// `fail to get info and operation for task <task>`). Only a table
    /// whose Operation is `detected` can be unlocked, one at a time.
    pub fn plan_unlock(
        &self,
        lock_id: &str,
        key: &TableKey,
        action: UnlockAction,
        infos: &[Info],
        ops: &[(Operation, i64)],
    ) -> Result<UnlockDecision, OptimismError> {
        let Some(lock) = self.locks.get(lock_id) else {
            return Err(OptimismError::LockNotFound(LockNotFound::new(lock_id)));
        };
        if lock.is_resolved() {
            return Ok(UnlockDecision::Resolved(remove_action(lock)));
        }
        let task = lock.task();
        let same = |t: &str, s: &str, us: &str, ut: &str| {
            t == task && s == key.source && us == key.schema && ut == key.table
        };
        let matching: Vec<&Info> = infos
            .iter()
            .filter(|i| same(&i.task, &i.source, &i.up_schema, &i.up_table))
            .collect();
        let [info] = matching.as_slice() else {
            return Err(OptimismError::LockIsResolving {
                message: format!("fail to find related info for lock {lock_id}"),
            });
        };
        let mut found = Vec::new();
        for (op, revision) in ops {
            if !same(&op.task, &op.source, &op.up_schema, &op.up_table) {
                continue;
            }
            if op.conflict_stage != ConflictStage::Detected {
                return Err(OptimismError::LockIsResolving {
                    message: format!(
                        "lock {lock_id} is in {} status, not conflicted",
                        op.conflict_stage
                    ),
                });
            }
            found.push((op, *revision));
        }
        let [(op, revision)] = found.as_slice() else {
            return Err(OptimismError::LockIsResolving {
                message: format!("fail to find related operation for lock {lock_id}"),
            });
        };
        let mut op = (*op).clone();
        match action {
            UnlockAction::Exec => op.ddls = info.ddls.clone(),
            // Go's `ddls[:0]`: nil stays nil.
            UnlockAction::Skip => op.ddls = op.ddls.map(|_| Vec::new()),
        }
        op.conflict_stage = ConflictStage::Unlocked;
        Ok(UnlockDecision::Put(Box::new(UnlockPlan {
            lock_id: lock_id.to_owned(),
            key: key.clone(),
            action,
            op,
            info_revision: revision + 1,
            info: (*info).clone(),
        })))
    }

    /// DM `UnlockLock` step 5 after the Operation was put: an exec-unlock
    /// moves the table to the Info's after-schema (with DM gap O10 fixed); the
    /// table is no longer `detected`. Returns the lock's other `detected`
    /// tables, to re-run (DM gap O6).
    pub fn unlock_done(&mut self, plan: &UnlockPlan) -> Vec<TableKey> {
        let Some(lock) = self.locks.get_mut(&plan.lock_id) else {
            return Vec::new();
        };
        if plan.action == UnlockAction::Exec {
            lock.update_table_after_unlock(&plan.info);
        }
        lock.clear_detected(&plan.key);
        lock.detected_tables()
    }

    /// DM `RemoveMetaDataWithTask` (in memory): removes the lock of every
    /// Info and Operation of the task and returns the lock IDs named by the
    /// Infos, whose dropped columns `ops::delete_task` deletes. The actor
    /// also forgets the task in its table keeper.
    pub fn remove_task(&mut self, infos: &[Info], ops: &[Operation]) -> Vec<String> {
        let ids: BTreeSet<String> = infos.iter().map(Info::lock_id).collect();
        for id in &ids {
            self.locks.remove(id);
        }
        for op in ops {
            self.locks.remove(&op.id);
        }
        ids.into_iter().collect()
    }

    /// DM `RemoveMetaDataWithTaskAndSources` (in memory): every lock of the
    /// task forgets the sources' tables (an emptied lock is removed).
    /// Returns the `(lock_id, column)` pairs for `ops::delete_task_sources`.
    pub fn remove_task_sources(&mut self, task: &str, sources: &[String]) -> Vec<(String, String)> {
        let mut dropped = Vec::new();
        let mut emptied = Vec::new();
        for lock in self.locks.values_mut().filter(|l| l.task() == task) {
            for col in lock.try_remove_table_by_sources(sources) {
                dropped.push((lock.id().to_owned(), col));
            }
            if !lock.has_tables() {
                emptied.push(lock.id().to_owned());
            }
        }
        for id in emptied {
            self.locks.remove(&id);
        }
        dropped
    }

    /// DM `ShowLocks` (docs/protocol.md#optimistic-admin), given every Operation and Info
    /// read from etcd. A lock is listed if its task matches (`None` or
    /// empty: all) and, when `sources` is non-empty, one of them has a
    /// table in it. Owners are the tables of the lock's task (restricted to
    /// `sources`) whose Operation is `detected` and whose Info exists, in
    /// key order; as in DM, they are matched by task, not by lock. Without
    /// owners one row has owner `""`.
    pub fn show_locks(
        &self,
        task: Option<&str>,
        sources: &[String],
        ops: &[Operation],
        infos: &[Info],
    ) -> Vec<LockView> {
        let task = task.filter(|t| !t.is_empty());
        let by_key: BTreeMap<(&str, &str, &str, &str), &Info> = infos
            .iter()
            .map(|i| {
                (
                    (
                        i.task.as_str(),
                        i.source.as_str(),
                        i.up_schema.as_str(),
                        i.up_table.as_str(),
                    ),
                    i,
                )
            })
            .collect();
        let mut detected: Vec<&Operation> = ops
            .iter()
            .filter(|op| op.conflict_stage == ConflictStage::Detected)
            .filter(|op| sources.is_empty() || sources.contains(&op.source))
            .collect();
        detected.sort_by(|a, b| {
            (&a.task, &a.source, &a.up_schema, &a.up_table).cmp(&(
                &b.task,
                &b.source,
                &b.up_schema,
                &b.up_table,
            ))
        });

        let mut views = Vec::new();
        for lock in self.locks.values() {
            if task.is_some_and(|t| t != lock.task()) {
                continue;
            }
            let ready = lock.ready();
            if !sources.is_empty() && !ready.keys().any(|k| sources.contains(&k.source)) {
                continue;
            }
            let mut owners: Vec<(String, Vec<String>)> = detected
                .iter()
                .filter(|op| op.task == lock.task())
                .filter_map(|op| {
                    let info = by_key.get(&(
                        op.task.as_str(),
                        op.source.as_str(),
                        op.up_schema.as_str(),
                        op.up_table.as_str(),
                    ))?;
                    let owner = TableKey::new(&op.source, &op.up_schema, &op.up_table);
                    Some((owner.owner_string(), info.ddls.clone().unwrap_or_default()))
                })
                .collect();
            if owners.is_empty() {
                owners.push((String::new(), Vec::new()));
            }
            let mut synced: Vec<String> = Vec::new();
            let mut unsynced: Vec<String> = Vec::new();
            for (key, r) in &ready {
                if *r {
                    synced.push(key.owner_string());
                } else {
                    unsynced.push(key.owner_string());
                }
            }
            synced.sort();
            unsynced.sort();
            for (owner, ddls) in owners {
                views.push(LockView {
                    id: lock.id().to_owned(),
                    task: lock.task().to_owned(),
                    mode: ShardMode::Optimistic,
                    owner,
                    ddls,
                    synced: synced.clone(),
                    unsynced: unsynced.clone(),
                });
            }
        }
        views
    }

    /// DM `recoverLocks` step 3, after every Info of the plan was replayed:
    /// forgets the rebuild's dropped columns, then applies every `done`
    /// Operation (done flag and column stages) and lists the locks that are
    /// resolved.
    pub fn finish_rebuild(&mut self, ops: &[Operation]) -> RebuildFinish {
        self.drop_columns = None;
        let mut finish = RebuildFinish::default();
        let mut resolved = BTreeSet::new();
        for op in ops {
            let Some(lock) = self.locks.get_mut(&op.id) else {
                finish.orphans.push(op.clone());
                continue;
            };
            if !op.done {
                continue;
            }
            lock.try_mark_done(&TableKey::new(&op.source, &op.up_schema, &op.up_table));
            let columns = lock.delete_columns_by_op(op);
            if !columns.is_empty() || columns.error.is_some() {
                finish.columns.push(columns);
            }
            if lock.is_resolved() {
                resolved.insert(op.id.clone());
            }
        }
        finish.removals = resolved
            .iter()
            .filter_map(|id| self.locks.get(id))
            .filter(|l| l.is_resolved())
            .map(remove_action)
            .collect();
        finish
    }
}

fn remove_action(lock: &Lock) -> RemoveLock {
    RemoveLock {
        lock_id: lock.id().to_owned(),
        task: lock.task().to_owned(),
        tables: lock
            .keys()
            .map(|key| ResolvedTable {
                key: key.clone(),
                info_version: lock.get_version(key),
            })
            .collect(),
    }
}

/// Starts a rebuild (DM `rebuildLocks` and `recoverLocks` step 1): a fresh
/// table keeper from the snapshot, a fresh lock keeper holding the dropped
/// columns for the locks to come, and the Infos to replay sorted by mod
/// revision, keeping only tables some SourceTables routes.
pub fn plan_rebuild(snapshot: Snapshot) -> RebuildPlan {
    let mut tables = TableKeeper::new();
    tables.init(snapshot.source_tables);
    let mut columns: BTreeMap<String, DroppedColumns> = BTreeMap::new();
    for c in snapshot.dropped_columns {
        columns
            .entry(c.lock_id)
            .or_default()
            .entry(c.column)
            .or_default()
            .insert(c.key, c.stage);
    }
    let mut keeper = LockKeeper::new();
    keeper.set_drop_columns(Some(columns));
    let mut infos = snapshot.infos;
    infos.sort_by_key(|i| i.revision);
    let (replay, skipped) = infos.into_iter().partition(|s| {
        let i = &s.info;
        tables.source_table_exist(
            &i.task,
            &i.source,
            &i.up_schema,
            &i.up_table,
            &i.down_schema,
            &i.down_table,
        )
    });
    RebuildPlan {
        keeper,
        tables,
        replay,
        skipped,
    }
}
