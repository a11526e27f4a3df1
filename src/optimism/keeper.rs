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
//! The operator's requests (unlock, remove-meta, show-locks) are in
//! `keeper/admin.rs`, the rebuild from a snapshot in `keeper/rebuild.rs`.
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
use super::lock::{ColumnEffects, DroppedColumns, Fetch, Lock, TrySyncResult};
use super::schemas::InfoSchemas;
use super::table::SourceTables;
use super::table_keeper::{RouteTable, TableKeeper, TargetTable};
use super::{ConflictStage, DropColumnStage, Info, Operation};
use crate::keys::TableKey;
pub use crate::lock_view::LockView;
use crate::task::ShardMode;

mod admin;
mod rebuild;
#[cfg(test)]
mod tests;

pub use admin::{UnlockAction, UnlockDecision, UnlockPlan};
pub use rebuild::{plan_rebuild, RebuildFinish, RebuildPlan, Snapshot, StoredDroppedColumn};

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

/// One Info as read from etcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInfo {
    pub info: Info,
    /// etcd version of the key.
    pub version: i64,
    /// etcd mod revision of the key.
    pub revision: i64,
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
        self.try_sync_with(info, InfoSchemas::of(info), info_version, tts, fetch)
    }

    /// [`LockKeeper::try_sync`] with the Info's schemas already decoded
    /// (see [`InfoSchemas`]).
    pub fn try_sync_with(
        &mut self,
        info: &Info,
        schemas: InfoSchemas,
        info_version: i64,
        tts: &[TargetTable],
        fetch: Fetch,
    ) -> (String, TrySyncResult) {
        let lock_id = info.lock_id();
        let Some(before) = schemas.before("table-info-before") else {
            let ddls = info.ddls.clone().unwrap_or_default();
            return (
                lock_id,
                TrySyncResult::failed(OptimismError::TableInfoBeforeNotExist { ddls }),
            );
        };
        let mut created = false;
        if !self.locks.contains_key(&lock_id) {
            let init = match before {
                Ok(t) => t.clone(),
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
        let mut result = lock.try_sync_with(info, schemas, info_version, tts, fetch);
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
