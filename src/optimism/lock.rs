//! The optimistic shard-DDL lock: one per (task, downstream table), holding
//! the schema of every upstream table that routes there and deciding, for
//! each Info, which DDLs go downstream (docs/protocol.md#optimistic-lock,
//! `dm/pkg/shardddl/optimism/lock.go`).
//!
//! PURE: no async, no I/O. Where DM's lock writes etcd itself (redirect
//! Operations, dropped-column records) or reads the downstream checkpoint,
//! this lock returns the writes as [`Effects`] and takes the checkpoint
//! reads as a `fetch` closure the actor fills beforehand
//! ([`Lock::missing_tables`] says which tables it needs).
//!
//! # State and invariants
//!
//! * `tables` (DM's normal view), `final_tables` and the per-table
//!   `states` (done flag, Info version) always have the same key set.
//! * `conflict_tables` ⊆ those keys, and for every key `k`:
//!   `final_tables[k] == conflict_tables[k]` if `k` has a pending conflict,
//!   else `tables[k]`. (DM breaks this in `UpdateTableAfterUnlock`, DM gap O10 in docs/dm-gaps.md;
//!   here unlock updates both.)
//! * `undone` counts the tables whose `done` flag is false.
//!
//! # Cost of one DDL
//!
//! The three schema maps are [`JoinTree`]s: the join of all tables is read in
//! O(1) and one table's change costs O(log d) joins, where `d` is the number
//! of *distinct* schemas (a handful in practice, whatever the number of
//! tables `n`). Every predicate that DM evaluates per table depends only on
//! a table's schema, so it is evaluated once per distinct schema:
//!
//! * `all_smaller` (for the conflict set `C`): one join read + |C| compares;
//! * `all_larger(Y)`: |C| · d_Y joins and compares (DM: |C| · n);
//! * `no_conflict_with_one_normal_table`: d joins (DM: n);
//! * `sync_status` / `is_resolved`: d compares plus an O(1) done counter
//!   (DM: n compares and an n-scan); only [`Lock::ready`] is O(n), as its
//!   output is.
//!
//! A TrySync therefore costs O((log d + |C| · d) joins + log n) besides the
//! merge of the `tts` it is given (O(|tts|) map look-ups, as in DM).
//! Joins follow [`JoinTree`]'s fixed order where DM folds in Go's random
//! map order; the two differ only in the lattice's non-associative corners
//! (see `schemacmp`).
//!
//! # Writes DM's lock makes itself
//!
//! * Redirect Operations and the caller's new dropped columns are applied in
//!   memory and returned as [`Effects`]. When their write fails the actor
//!   reports it ([`Lock::redirect_failed`], [`Lock::dropped_columns_failed`])
//!   and gets DM's answer for that failure, with the memory reverted: a
//!   resolution is undone and answered `detected`; a dropped-column failure
//!   becomes stage `error` with the write's text, DDLs kept, the caller
//!   reset to its before-schema.
//! * Column stage changes of a `done` Operation are applied in memory and
//!   returned as [`ColumnEffects`]; a failed write is only logged, as in DM.
//!
//! # Deliberate differences from DM (gaps of docs/dm-gaps.md#optimistic-shard-ddl-o)
//!
//! * DM gap O6: tables answered `detected` are remembered with their Info, and
//!   every accepted change reports them in [`TrySyncResult::recheck`] so the
//!   actor re-runs their TrySync ([`Lock::detected_info`]);
//! * DM gap O8: redirect Operations are returned as one list, for one txn;
//! * DM gap O10: [`Lock::update_table_after_unlock`] updates the final view too;
//! * DM gap O14: column names from DDLs are compared with schema keys and with
//!   dropped-column records case-insensitively (MySQL column names are);
//! * DM gap O16: no I/O under the lock, and the previous `synced` is read in
//!   the same step that computes the new one;
//! * DM gap O17 (lock side): a missing or undecodable schema is an `error`
//!   answer; the keeper answers a missing before-schema too.
//!
//! Left as DM does it: DM gap O5 (a true replay returns its DDLs again: the
//! behaviour table and `TestTrySyncForOneDDL` steps 10 and 11 require the
//! second answer to equal the first), DM gap O3 (new tables start from the
//! checkpoint or the first Info's before-schema), DM gap O7 (removing tables
//! never shrinks the downstream), DM gap O9 (a batch stopped by a conflict
//! keeps its earlier DDLs applied), DM gap O15 (only the first ALTER spec is
//! read).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::table_keeper::TargetTable;
use super::{Info, TableInfoJson};
use crate::keys::TableKey;
use crate::schemacmp::{Incompatible, JoinTree, Table};
use crate::tableinfo::TableInfo;

mod column_name;
mod dropped_columns;
mod effects;
#[cfg(test)]
pub(crate) mod tests;
mod try_sync;

/// What the tests reach through `super::*`.
#[cfg(test)]
use {
    super::{ConflictStage, DropColumnStage, Operation, OptimismError},
    try_sync::Run,
};

pub(crate) use super::schemas::decode_schema;
pub use column_name::{add_different_field_len_columns, get_column_name, ColumnKind};
pub use dropped_columns::DroppedColumns;
pub use effects::{ColumnEffects, Effects, TrySyncResult};

/// Reads the schema a table starts with when it joins a lock: the
/// downstream checkpoint's `table_info` (DM `FetchTableInfos`), `None` when
/// unavailable (the lock then uses its initial schema).
pub type Fetch<'a> = &'a dyn Fn(&TableKey) -> Option<TableInfo>;

/// An Info answered `detected`, kept for re-evaluation (DM gap O6).
#[derive(Debug, Clone, PartialEq, Eq)]
struct DetectedInfo {
    info: Info,
    version: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TableState {
    done: bool,
    version: i64,
}

/// DM's optimistic `Lock`.
#[derive(Debug, Clone)]
pub struct Lock {
    id: String,
    task: String,
    down_schema: String,
    down_table: String,
    /// Schema of a table whose checkpoint is unavailable: the before-schema
    /// of the Info that created the lock.
    init_table: Table,
    /// DM `tables`: the last accepted schema of each table.
    tables: JoinTree<TableKey>,
    /// DM `conflictTables`: post-DDL schema of tables with a pending
    /// conflicting DDL.
    conflict_tables: JoinTree<TableKey>,
    /// DM `finalTables`: `tables` overlaid with `conflict_tables`.
    final_tables: JoinTree<TableKey>,
    /// `remain == 0` as of the last TrySync or removal (gauge only).
    synced: bool,
    /// source → schema → table → done flag and Info version; nested so the
    /// `tts` merge looks tables up without building keys.
    states: BTreeMap<String, BTreeMap<String, BTreeMap<String, TableState>>>,
    /// Number of tables not done.
    undone: usize,
    columns: DroppedColumns,
    detected: BTreeMap<TableKey, DetectedInfo>,
}

impl Lock {
    /// DM `NewLock`: every table of `tts` joins with its checkpoint schema
    /// or `init_table`.
    pub fn new(
        id: &str,
        task: &str,
        down_schema: &str,
        down_table: &str,
        init_table: Table,
        tts: &[TargetTable],
        fetch: Fetch,
    ) -> Lock {
        let mut lock = Lock {
            id: id.to_owned(),
            task: task.to_owned(),
            down_schema: down_schema.to_owned(),
            down_table: down_table.to_owned(),
            init_table,
            tables: JoinTree::new(),
            conflict_tables: JoinTree::new(),
            final_tables: JoinTree::new(),
            synced: true,
            states: BTreeMap::new(),
            undone: 0,
            columns: DroppedColumns::new(),
            detected: BTreeMap::new(),
        };
        lock.add_tables(tts, fetch);
        lock
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn task(&self) -> &str {
        &self.task
    }

    pub fn down_schema(&self) -> &str {
        &self.down_schema
    }

    pub fn down_table(&self) -> &str {
        &self.down_table
    }

    /// Number of tables.
    pub fn len(&self) -> usize {
        self.tables.len()
    }

    /// No tables (DM `!HasTables()`).
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// DM `HasTables`.
    pub fn has_tables(&self) -> bool {
        !self.tables.is_empty()
    }

    /// Whether `key` is a table of the lock.
    pub fn contains(&self, key: &TableKey) -> bool {
        self.state(&key.source, &key.schema, &key.table).is_some()
    }

    /// Every table, in key order.
    pub fn keys(&self) -> impl Iterator<Item = &TableKey> + '_ {
        self.tables.iter().map(|(k, _)| k)
    }

    /// The accepted (normal) schema of a table.
    pub fn table(&self, key: &TableKey) -> Option<&Table> {
        self.tables.get(key)
    }

    /// The schema a table will have once its pending DDL is applied.
    pub fn final_table(&self, key: &TableKey) -> Option<&Table> {
        self.final_tables.get(key)
    }

    /// The pending conflicting schema of a table, if any.
    pub fn conflict_table(&self, key: &TableKey) -> Option<&Table> {
        self.conflict_tables.get(key)
    }

    /// Tables with a pending conflicting DDL.
    pub fn conflict_keys(&self) -> Vec<TableKey> {
        self.conflict_tables
            .iter()
            .map(|(k, _)| k.clone())
            .collect()
    }

    fn state(&self, source: &str, schema: &str, table: &str) -> Option<&TableState> {
        self.states.get(source)?.get(schema)?.get(table)
    }

    fn state_mut(&mut self, key: &TableKey) -> Option<&mut TableState> {
        self.states
            .get_mut(&key.source)?
            .get_mut(&key.schema)?
            .get_mut(&key.table)
    }

    /// Tables of `tts` (and `caller`) not in the lock yet: the ones whose
    /// checkpoint schema `fetch` will be asked for.
    pub fn missing_tables(&self, tts: &[TargetTable], caller: Option<&TableKey>) -> Vec<TableKey> {
        let mut missing = BTreeSet::new();
        for tt in tts {
            for (schema, tables) in &tt.up_tables {
                for table in tables {
                    if self.state(&tt.source, schema, table).is_none() {
                        missing.insert(TableKey::new(&tt.source, schema, table));
                    }
                }
            }
        }
        if let Some(key) = caller.filter(|k| !self.contains(k)) {
            missing.insert(key.clone());
        }
        missing.into_iter().collect()
    }

    /// DM `AddTable`: a table not in the lock joins with its checkpoint
    /// schema or the initial one, not done, version 0. Existing tables are
    /// left alone. `true` if added.
    pub fn add_table(&mut self, key: &TableKey, fetch: Fetch) -> bool {
        if self.contains(key) {
            return false;
        }
        let schema = fetch(key)
            .map(|ti| Table::from_table_info(&ti))
            .unwrap_or_else(|| self.init_table.clone());
        self.set_table(key, schema);
        self.states
            .entry(key.source.clone())
            .or_default()
            .entry(key.schema.clone())
            .or_default()
            .insert(
                key.table.clone(),
                TableState {
                    done: false,
                    version: 0,
                },
            );
        self.undone += 1;
        true
    }

    /// DM `addTables`.
    fn add_tables(&mut self, tts: &[TargetTable], fetch: Fetch) {
        for tt in tts {
            for (schema, tables) in &tt.up_tables {
                for table in tables {
                    if self.state(&tt.source, schema, table).is_none() {
                        self.add_table(&TableKey::new(&tt.source, schema, table), fetch);
                    }
                }
            }
        }
    }

    /// Sets a table's normal and final schema.
    fn set_table(&mut self, key: &TableKey, schema: Table) {
        self.tables.insert(key.clone(), schema.clone());
        self.final_tables.insert(key.clone(), schema);
    }

    /// DM `TryRemoveTable`: forgets a table (its schema, flags, pending
    /// conflict and dropped-column entries, in memory) and returns the
    /// columns it had entries for. The joined schema is not turned into
    /// DDLs (DM gap O7).
    pub fn try_remove_table(&mut self, key: &TableKey) -> Vec<String> {
        let Some(state) = self.remove_state(key) else {
            return Vec::new();
        };
        if !state.done {
            self.undone = self.undone.saturating_sub(1);
        }
        let mut cols = Vec::new();
        self.columns.retain(|col, tables| {
            if tables.remove(key).is_some() {
                cols.push(col.clone());
            }
            !tables.is_empty()
        });
        self.forget_table(key);
        self.synced = self.remain() == 0;
        cols
    }

    /// DM `TryRemoveTableBySources`: forgets every table of `sources` and
    /// returns the columns any of these sources had entries for.
    pub fn try_remove_table_by_sources(&mut self, sources: &[String]) -> Vec<String> {
        let cols = self
            .columns
            .iter()
            .filter(|(_, tables)| tables.keys().any(|k| sources.contains(&k.source)))
            .map(|(col, _)| col.clone())
            .collect();
        for source in sources {
            let Some(schemas) = self.states.remove(source) else {
                continue;
            };
            for (schema, tables) in schemas {
                for (table, state) in tables {
                    if !state.done {
                        self.undone = self.undone.saturating_sub(1);
                    }
                    self.forget_table(&TableKey::new(source, &schema, &table));
                }
            }
            self.columns.retain(|_, tables| {
                tables.retain(|k, _| k.source != *source);
                !tables.is_empty()
            });
        }
        self.synced = self.remain() == 0;
        cols
    }

    fn remove_state(&mut self, key: &TableKey) -> Option<TableState> {
        let schemas = self.states.get_mut(&key.source)?;
        let tables = schemas.get_mut(&key.schema)?;
        let state = tables.remove(&key.table)?;
        if tables.is_empty() {
            schemas.remove(&key.schema);
        }
        if schemas.is_empty() {
            self.states.remove(&key.source);
        }
        Some(state)
    }

    fn forget_table(&mut self, key: &TableKey) {
        self.tables.remove(key);
        self.final_tables.remove(key);
        self.conflict_tables.remove(key);
        self.detected.remove(key);
    }

    /// DM `UpdateTableAfterUnlock` after an exec-unlock: the table takes the
    /// Info's last after-schema. Fixes DM gap O10: the final view is updated
    /// too and the pending conflict dropped, so `ready`/`synced` follow. A
    /// table not in the lock joins it. `false` if the after-schema does not
    /// decode (nothing changes).
    pub fn update_table_after_unlock(&mut self, info: &Info) -> bool {
        let Some(schema) = info
            .table_info_after
            .as_deref()
            .and_then(<[TableInfoJson]>::last)
            .and_then(|v| decode_schema(v, "table-info-after").ok())
        else {
            return false;
        };
        let key = TableKey::new(&info.source, &info.up_schema, &info.up_table);
        self.add_table(&key, &|_| None);
        self.set_table(&key, schema);
        self.conflict_tables.remove(&key);
        self.detected.remove(&key);
        self.synced = self.remain() == 0;
        true
    }

    /// Tables not ready, computed once per distinct final schema.
    fn remain(&self) -> usize {
        let joined = self.final_tables.joined();
        self.final_tables
            .schemas()
            .filter(|(_, schema, _)| !is_ready(&joined, schema))
            .map(|(_, _, members)| members)
            .sum()
    }

    /// DM `syncStatus`: each table is ready iff its final schema equals the
    /// join of all final schemas; `remain` counts the others.
    pub fn sync_status(&self) -> (BTreeMap<TableKey, bool>, usize) {
        let joined = self.final_tables.joined();
        let mut remain = 0;
        let mut ready_schemas = HashMap::new();
        for (id, schema, members) in self.final_tables.schemas() {
            let r = is_ready(&joined, schema);
            if !r {
                remain += members;
            }
            ready_schemas.insert(id, r);
        }
        let ready = self
            .final_tables
            .members()
            .map(|(key, id)| (key.clone(), ready_schemas.get(&id) == Some(&true)))
            .collect();
        (ready, remain)
    }

    /// DM `IsSynced`: `(remain == 0, remain)`.
    pub fn is_synced(&self) -> (bool, usize) {
        let remain = self.remain();
        (remain == 0, remain)
    }

    /// DM `Ready`.
    pub fn ready(&self) -> BTreeMap<TableKey, bool> {
        self.sync_status().0
    }

    /// DM `Joined`: the join of the normal schemas (`None` without tables).
    pub fn joined(&self) -> Result<Option<Table>, Incompatible> {
        self.tables.joined()
    }

    /// DM `TryMarkDone`; `false` if the table is not in the lock.
    pub fn try_mark_done(&mut self, key: &TableKey) -> bool {
        let Some(state) = self.state_mut(key) else {
            return false;
        };
        let was_done = std::mem::replace(&mut state.done, true);
        if !was_done {
            self.undone = self.undone.saturating_sub(1);
        }
        true
    }

    /// DM `tryRevertDone`: a table owes a new Operation.
    fn try_revert_done(&mut self, key: &TableKey) {
        if let Some(state) = self.state_mut(key) {
            if std::mem::replace(&mut state.done, false) {
                self.undone += 1;
            }
        }
    }

    /// DM `IsDone`.
    pub fn is_done(&self, key: &TableKey) -> bool {
        self.state(&key.source, &key.schema, &key.table)
            .is_some_and(|s| s.done)
    }

    /// DM `IsResolved`: every table ready and done.
    pub fn is_resolved(&self) -> bool {
        self.undone == 0 && self.remain() == 0
    }

    /// DM `GetVersion`: the highest Info version seen (0 if unknown).
    pub fn get_version(&self, key: &TableKey) -> i64 {
        self.state(&key.source, &key.schema, &key.table)
            .map_or(0, |s| s.version)
    }

    /// Tables whose last answer was `detected` (DM gap O6).
    pub fn detected_tables(&self) -> Vec<TableKey> {
        self.detected.keys().cloned().collect()
    }

    /// The Info (and its version) a `detected` table is blocked on, to
    /// re-run its TrySync (DM gap O6).
    pub fn detected_info(&self, key: &TableKey) -> Option<(&Info, i64)> {
        self.detected.get(key).map(|d| (&d.info, d.version))
    }

    /// Forgets that a table was `detected` (an operator unlocked it).
    pub fn clear_detected(&mut self, key: &TableKey) {
        self.detected.remove(key);
    }
}

fn is_ready(joined: &Result<Option<Table>, Incompatible>, schema: &Table) -> bool {
    matches!(joined, Ok(Some(j)) if j.compare(schema) == Ok(Ordering::Equal))
}
