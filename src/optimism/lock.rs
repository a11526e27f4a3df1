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
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sqlparser::ast::{AlterTableOperation, Statement};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::error::OptimismError;
use super::table_keeper::TargetTable;
use super::{ConflictStage, DropColumnStage, Info, Operation};
use crate::keys::TableKey;
use crate::schemacmp::{Incompatible, JoinTree, Table};
use crate::tableinfo::TableInfo;

#[cfg(test)]
pub(crate) mod tests;

/// Reads the schema a table starts with when it joins a lock: the
/// downstream checkpoint's `table_info` (DM `FetchTableInfos`), `None` when
/// unavailable (the lock then uses its initial schema).
pub type Fetch<'a> = &'a dyn Fn(&TableKey) -> Option<TableInfo>;

/// Partially dropped columns of a lock: column → table → stage. The column
/// name is the one of the first DROP that recorded it.
pub type DroppedColumns = BTreeMap<String, BTreeMap<TableKey, DropColumnStage>>;

/// Which ALTER spec [`get_column_name`] looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// `ADD [COLUMN] c ...`: the first new column.
    AddColumns,
    /// `DROP [COLUMN] c`: the dropped column.
    DropColumn,
}

/// Writes the actor performs for one TrySync, before it puts the caller's
/// Operation, in this order:
///
/// 1. `redirects`, all in one txn (`ops::put_operations`). On failure call
///    [`Lock::redirect_failed`] and skip step 2.
/// 2. `dropped_columns` for the caller with stage `NotDone`
///    (`ops::put_dropped_columns`). On failure call
///    [`Lock::dropped_columns_failed`].
///
/// Both are already applied in memory; the failure methods revert them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// `resolved` Operations for the other tables of a resolved conflict
    /// (`ddls` and `cols` null, as DM writes them). DM puts them one by one
    /// (DM gap O8).
    pub redirects: Vec<Operation>,
    /// Columns the caller dropped that were not recorded yet for it.
    pub dropped_columns: Vec<String>,
}

impl Effects {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.redirects.is_empty() && self.dropped_columns.is_empty()
    }
}

/// What DM's `TrySync` returns, plus what this port adds.
#[derive(Debug, Clone)]
pub struct TrySyncResult {
    /// DDLs the caller must execute downstream (`[]`, never null, on the
    /// wire). On `skip and wait for redirect` the DDLs accepted before the
    /// conflicting one (DM's partial list, DM gap O9).
    pub new_ddls: Vec<String>,
    /// Columns the caller's DDLs dropped (names as written in the DDLs).
    pub cols: Vec<String>,
    /// DM's error; decides the stage and message of the Operation.
    pub error: Option<OptimismError>,
    /// Writes to perform before answering.
    pub effects: Effects,
    /// DM gap O6: tables answered `detected` earlier that this call may have
    /// unblocked; the actor re-runs their TrySync ([`Lock::detected_info`]).
    pub recheck: Vec<TableKey>,
    /// Whether every table has the joined schema, after this call.
    pub synced: bool,
    /// Tables without the joined schema, after this call.
    pub remain: usize,
    /// `synced` before this call (for the pending-DDL gauge).
    pub was_synced: bool,
    /// Set by the keeper when this Info created the lock.
    pub created_lock: bool,
    /// How to take back a conflict resolution whose redirects failed.
    undo: Option<Box<Undo>>,
}

impl TrySyncResult {
    /// A result that changed nothing.
    pub(crate) fn failed(error: OptimismError) -> TrySyncResult {
        TrySyncResult {
            new_ddls: Vec::new(),
            cols: Vec::new(),
            error: Some(error),
            effects: Effects::default(),
            recheck: Vec::new(),
            synced: true,
            remain: 0,
            was_synced: true,
            created_lock: false,
            undo: None,
        }
    }

    /// The stage DM's `handleLock` writes: `none`, `detected`,
    /// `skip and wait for redirect` or `error`.
    pub fn stage(&self) -> ConflictStage {
        self.error
            .as_ref()
            .map_or(ConflictStage::None, OptimismError::stage)
    }

    /// The Operation's `conflict-message`: DM's error string, or empty.
    pub fn message(&self) -> String {
        self.error
            .as_ref()
            .map(OptimismError::dm_string)
            .unwrap_or_default()
    }
}

/// The state a resolution replaced, to restore if its redirects fail.
#[derive(Debug, Clone)]
struct Undo {
    caller: TableKey,
    info_version: i64,
    /// The DDL whose sync resolved the conflict, and its schemas (for the
    /// `detected` text DM reports when the redirect write fails).
    ddl: String,
    prev: Table,
    post: Table,
    /// Each conflicting table: its normal schema and its pending schema.
    conflicts: Vec<(TableKey, Table, Table)>,
}

/// What [`Lock::delete_columns_by_op`] decided; the actor writes it in this
/// order: each `put` (`ops::put_dropped_columns` with one column), then one
/// `ops::delete_dropped_columns` for `delete`. Memory is already updated;
/// a failed write is logged, as DM does, and etcd catches up at the next
/// rebuild.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnEffects {
    pub lock_id: String,
    /// New stages of (column, table).
    pub put: Vec<(String, TableKey, DropColumnStage)>,
    /// Columns now dropped everywhere, to forget.
    pub delete: Vec<String>,
    /// A DDL of the Operation did not parse; nothing changed (DM returns the
    /// error before any write).
    pub error: Option<OptimismError>,
}

impl ColumnEffects {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.put.is_empty() && self.delete.is_empty()
    }
}

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

/// DM's `ConflictStage` as `trySyncForOneDDL` returns it (`resolved` is
/// reported as `none`, as DM does since the redirect rework).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    None,
    Detected,
    SkipWaitRedirect,
}

/// Working state of one TrySync.
#[derive(Default)]
struct Run {
    new_ddls: Vec<String>,
    cols: Vec<String>,
    error: Option<OptimismError>,
    /// Past DM's pre-checks: errors now revert the caller's schema.
    reverting: bool,
    before: Option<Table>,
    last_after: Option<Table>,
    redirects: BTreeSet<TableKey>,
    undo: Option<Box<Undo>>,
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

    /// DM `TrySync` (docs/protocol.md#try-sync): applies the Info of one upstream
    /// table and says which of its DDLs go downstream.
    ///
    /// `info_version` is the Info's etcd version; `tts` the lock's tables
    /// as the TableKeeper knows them (new ones join, the caller always
    /// does).
    pub fn try_sync(
        &mut self,
        info: &Info,
        info_version: i64,
        tts: &[TargetTable],
        fetch: Fetch,
    ) -> TrySyncResult {
        // DM gap O16: DM reads the old flag before taking the lock mutex.
        let was_synced = self.synced;
        let caller = TableKey::new(&info.source, &info.up_schema, &info.up_table);
        let mut run = Run::default();
        self.sync_ddls(&caller, info, info_version, tts, fetch, &mut run);
        self.finish(&caller, info, info_version, was_synced, run)
    }

    fn sync_ddls(
        &mut self,
        caller: &TableKey,
        info: &Info,
        info_version: i64,
        tts: &[TargetTable],
        fetch: Fetch,
        run: &mut Run,
    ) {
        let ddls = info.ddls.as_deref().unwrap_or_default();
        let afters = info.table_info_after.as_deref().unwrap_or_default();
        if ddls.len() != afters.len() || afters.is_empty() {
            run.error = Some(OptimismError::InconsistentDdlsAndInfo {
                ddls: ddls.len(),
                infos: afters.len(),
            });
            return;
        }
        let Some(before) = &info.table_info_before else {
            run.error = Some(OptimismError::TableInfoBeforeNotExist {
                ddls: ddls.to_vec(),
            });
            return;
        };
        let before = match decode_schema(before, "table-info-before") {
            Ok(t) => t,
            Err(e) => {
                run.error = Some(e);
                return;
            }
        };
        let mut posts = Vec::with_capacity(afters.len());
        for (i, after) in afters.iter().enumerate() {
            match decode_schema(after, &format!("table-info-after[{i}]")) {
                Ok(t) => posts.push(t),
                Err(e) => {
                    run.error = Some(e);
                    return;
                }
            }
        }
        run.reverting = true;
        run.before = Some(before.clone());
        run.last_after = posts.last().cloned();

        self.add_table(caller, fetch);
        self.add_tables(tts, fetch);
        if let Some(state) = self.state_mut(caller) {
            state.version = state.version.max(info_version);
        }

        let mut prev = before;
        for (ddl, post) in ddls.iter().zip(posts) {
            let (changed, stage) =
                self.try_sync_for_one_ddl(caller, &prev, &post, ddl, info_version, run);
            match stage {
                Stage::Detected => {
                    run.error = Some(OptimismError::TrySyncFail {
                        lock_id: self.id.clone(),
                        detail: detected_text(ddl, &prev, &post),
                    });
                    run.new_ddls.clear();
                    run.cols.clear();
                    return;
                }
                Stage::SkipWaitRedirect => {
                    run.error = Some(OptimismError::NeedSkipAndRedirect {
                        lock_id: self.id.clone(),
                        ddl: ddl.clone(),
                    });
                    return;
                }
                Stage::None => {
                    match self.check_add_drop_column(caller, ddl, &prev, &post, &run.cols) {
                        Ok(col) if !col.is_empty() => run.cols.push(col),
                        Ok(_) => {}
                        Err(e) => {
                            run.error = Some(e);
                            run.new_ddls.clear();
                            run.cols.clear();
                            return;
                        }
                    }
                }
            }
            if changed {
                run.new_ddls.push(ddl.clone());
            }
            prev = post;
        }
    }

    /// DM's two deferred blocks of `TrySync`, then the gap-6 bookkeeping.
    fn finish(
        &mut self,
        caller: &TableKey,
        info: &Info,
        info_version: i64,
        was_synced: bool,
        run: Run,
    ) -> TrySyncResult {
        let mut dropped_columns = Vec::new();
        if run.reverting {
            if run.error.is_none() && !run.cols.is_empty() {
                dropped_columns = self.add_dropped_columns(caller, &run.cols);
            }
            if let Some(error) = &run.error {
                let revert = if info.ignore_conflict {
                    run.last_after.clone()
                } else if matches!(error, OptimismError::NeedSkipAndRedirect { .. }) {
                    None
                } else {
                    run.before.clone()
                };
                if let Some(schema) = revert {
                    self.set_table(caller, schema);
                    self.conflict_tables.remove(caller);
                }
            }
        }
        let remain = self.remain();
        self.synced = remain == 0;
        let waits_for_answer = matches!(
            run.error,
            Some(OptimismError::NeedSkipAndRedirect { .. } | OptimismError::TrySyncFail { .. })
        );
        if !run.new_ddls.is_empty() || waits_for_answer {
            self.try_revert_done(caller);
        }

        // DM gap O6: remember blocked tables; report them when the lock moved.
        if !info.ignore_conflict && run.reverting {
            if matches!(run.error, Some(OptimismError::TrySyncFail { .. })) {
                self.detected.insert(
                    caller.clone(),
                    DetectedInfo {
                        info: info.clone(),
                        version: info_version,
                    },
                );
            } else {
                self.detected.remove(caller);
            }
        }
        let progressed = matches!(
            run.error,
            None | Some(OptimismError::NeedSkipAndRedirect { .. })
        ) || !run.redirects.is_empty();
        let recheck = if run.reverting && progressed {
            self.detected
                .keys()
                .filter(|k| *k != caller)
                .cloned()
                .collect()
        } else {
            Vec::new()
        };

        let redirects = run
            .redirects
            .iter()
            .map(|k| self.redirect_operation(k))
            .collect();
        TrySyncResult {
            new_ddls: run.new_ddls,
            cols: run.cols,
            error: run.error,
            effects: Effects {
                redirects,
                dropped_columns,
            },
            recheck,
            synced: self.synced,
            remain,
            was_synced,
            created_lock: false,
            undo: run.undo,
        }
    }

    /// The `resolved` Operation DM puts for a redirected table.
    fn redirect_operation(&self, key: &TableKey) -> Operation {
        Operation {
            id: self.id.clone(),
            task: self.task.clone(),
            source: key.source.clone(),
            up_schema: key.schema.clone(),
            up_table: key.table.clone(),
            ddls: None,
            conflict_stage: ConflictStage::Resolved,
            conflict_message: String::new(),
            done: false,
            cols: None,
        }
    }

    /// DM `trySyncForOneDDL` (docs/protocol.md#try-sync), with the redirect write
    /// turned into `run.redirects`.
    fn try_sync_for_one_ddl(
        &mut self,
        caller: &TableKey,
        prev: &Table,
        post: &Table,
        ddl: &str,
        info_version: i64,
        run: &mut Run,
    ) -> (bool, Stage) {
        // One pending conflict per table: a new schema replaces it.
        self.conflict_tables.remove(caller);
        let current = match self.tables.get(caller) {
            Some(t) => t.clone(),
            // The caller was added before; keep going with `prev`.
            None => prev.clone(),
        };
        self.final_tables.insert(caller.clone(), current.clone());

        // A replayed DDL: the worker's before-schema is not ours. Trust the
        // worker, but remember that it already reached `post`.
        let mut idempotent = false;
        if prev.compare(&current) != Ok(Ordering::Equal) {
            idempotent = post.compare(&current) == Ok(Ordering::Equal);
            self.set_table(caller, prev.clone());
        }

        if let Ok(table_cmp) = prev.compare(post) {
            // A "normal" DDL: the table grew, shrank or stayed equal.
            let old_joined = self.tables.joined();
            self.set_table(caller, post.clone());
            if let Ok(Some(new_joined)) = self.tables.joined() {
                if !self.conflict_tables.is_empty() && self.no_conflict_for_final_tables() {
                    self.resolve(caller, ddl, prev, post, info_version, run);
                    return (true, Stage::None);
                }
                let Ok(Some(old_joined)) = old_joined else {
                    return (true, Stage::None);
                };
                let changed = old_joined.compare(&new_joined) != Ok(Ordering::Equal)
                    || post.compare(&old_joined) == Ok(Ordering::Equal)
                    || table_cmp != Ordering::Greater;
                return (changed, Stage::None);
            }
        }

        if idempotent || self.no_conflict_with_one_normal_table(caller, prev, post) {
            self.set_table(caller, post.clone());
            return (true, Stage::None);
        }

        // A conflicting DDL: keep the old schema as normal, park the new one.
        self.tables.insert(caller.clone(), prev.clone());
        self.conflict_tables.insert(caller.clone(), post.clone());
        self.final_tables.insert(caller.clone(), post.clone());
        if !self.no_conflict_for_conflict_tables() {
            return (false, Stage::Detected);
        }
        if self.no_conflict_for_final_tables() {
            self.resolve(caller, ddl, prev, post, info_version, run);
            return (true, Stage::None);
        }
        (false, Stage::SkipWaitRedirect)
    }

    /// DM `redirectForConflictTables` + `resolveTables`: every other
    /// conflicting table gets a `resolved` Operation, and every pending
    /// schema becomes normal.
    fn resolve(
        &mut self,
        caller: &TableKey,
        ddl: &str,
        prev: &Table,
        post: &Table,
        info_version: i64,
        run: &mut Run,
    ) {
        let conflicts: Vec<(TableKey, Table)> = self
            .conflict_tables
            .iter()
            .map(|(k, t)| (k.clone(), t.clone()))
            .collect();
        if run.undo.is_none() {
            let snapshot = conflicts
                .iter()
                .filter_map(|(k, c)| Some((k.clone(), self.tables.get(k)?.clone(), c.clone())))
                .collect();
            run.undo = Some(Box::new(Undo {
                caller: caller.clone(),
                info_version,
                ddl: ddl.to_owned(),
                prev: prev.clone(),
                post: post.clone(),
                conflicts: snapshot,
            }));
        }
        for (key, pending) in conflicts {
            if key != *caller {
                run.redirects.insert(key.clone());
            }
            // By the invariant, only conflicting tables differ between the
            // final and the normal view.
            self.tables.insert(key, pending);
        }
        self.conflict_tables = JoinTree::new();
    }

    /// DM `allTableSmaller`: the pre-conflict schema of every conflicting
    /// table no longer fits in `joined` (e.g. the renamed-away column is
    /// gone everywhere). |C| compares.
    fn all_smaller(&self, joined: Result<Option<Table>, Incompatible>) -> bool {
        let joined = match joined {
            Err(_) => return false,
            // No tables to join: DM's zero Table; only reachable with C empty.
            Ok(None) => return self.conflict_tables.is_empty(),
            Ok(Some(j)) => j,
        };
        self.conflict_tables.iter().all(|(key, _)| {
            self.tables
                .get(key)
                .is_some_and(|normal| joined.compare(normal).is_err())
        })
    }

    /// DM `allTableLarger(judge)`: every judged table already contains the
    /// new shape of every conflicting table. |C| · d(judge) joins: the
    /// predicate depends only on the judged schema, so each distinct schema
    /// is judged once.
    fn all_larger(&self, judge: &JoinTree<TableKey>) -> bool {
        self.conflict_tables.iter().all(|(key, pending)| {
            let Some(normal) = self.tables.get(key) else {
                return false;
            };
            judge.schemas().all(|(schema, _)| {
                let joined = normal.join(schema).unwrap_or_else(|_| schema.clone());
                matches!(
                    joined.compare(pending),
                    Ok(Ordering::Equal | Ordering::Greater)
                )
            })
        })
    }

    /// DM `noConflictForConflictTables`.
    fn no_conflict_for_conflict_tables(&self) -> bool {
        let joined = self.conflict_tables.joined();
        joined.is_ok() && self.all_smaller(joined) && self.all_larger(&self.conflict_tables)
    }

    /// DM `noConflictForFinalTables`.
    fn no_conflict_for_final_tables(&self) -> bool {
        let joined = self.final_tables.joined();
        joined.is_ok() && self.all_smaller(joined) && self.all_larger(&self.final_tables)
    }

    /// DM `noConflictWithOneNormalTable`: some other table already made
    /// exactly this change. d joins: each distinct normal schema is tried
    /// once, skipping a schema only the caller has.
    fn no_conflict_with_one_normal_table(
        &self,
        caller: &TableKey,
        prev: &Table,
        post: &Table,
    ) -> bool {
        self.tables.schemas().any(|(schema, keys)| {
            if keys.len() == 1 && keys.contains(caller) {
                return false;
            }
            let Ok(joined) = post.join(schema) else {
                return false;
            };
            if joined.compare(prev).is_ok() {
                return false;
            }
            let larger = prev.join(schema).unwrap_or_else(|_| schema.clone());
            matches!(
                larger.compare(post),
                Ok(Ordering::Equal | Ordering::Greater)
            )
        })
    }

    /// DM `checkAddDropColumn` (docs/protocol.md#try-sync): an ADD must match the
    /// joined length and not re-add a column still being dropped; a DROP
    /// that shrinks or keeps the joined schema reports its column.
    fn check_add_drop_column(
        &mut self,
        caller: &TableKey,
        ddl: &str,
        prev: &Table,
        post: &Table,
        new_drop_cols: &[String],
    ) -> Result<String, OptimismError> {
        let Some(current) = self.tables.get(caller).cloned() else {
            return Ok(String::new());
        };
        self.tables.insert(caller.clone(), prev.clone());
        let old_joined = self.tables.joined();
        self.tables.insert(caller.clone(), post.clone());
        let new_joined = self.tables.joined();
        self.tables.insert(caller.clone(), current);

        let (Ok(Some(old_joined)), Ok(Some(new_joined))) = (old_joined, new_joined) else {
            return Ok(String::new());
        };
        let Ok(cmp) = old_joined.compare(&new_joined) else {
            return Ok(String::new());
        };
        if cmp != Ordering::Greater {
            // Added wider than the joined column, then narrower.
            let col = add_different_field_len_columns(&self.id, ddl, &old_joined, &new_joined)?;
            add_different_field_len_columns(&self.id, ddl, post, &new_joined)?;
            // DM gap O14: compared case-insensitively.
            let dropped_in_batch = new_drop_cols.iter().any(|c| same_column(c, &col));
            if !col.is_empty() && (self.is_dropped_column(caller, &col) || dropped_in_batch) {
                return Err(OptimismError::AddNotFullyDroppedColumn {
                    lock_id: self.id.clone(),
                    detail: format!(
                        "add column {col} that wasn't fully dropped in downstream. ddl: {ddl}"
                    ),
                    cause: None,
                });
            }
        }
        if cmp != Ordering::Less {
            let col = get_column_name(&self.id, ddl, ColumnKind::DropColumn)?;
            if !col.is_empty() {
                return Ok(col);
            }
        }
        Ok(String::new())
    }

    /// Undoes the conflict resolution of `result` after its redirect
    /// Operations could not be written, and turns the answer into DM's for
    /// that case: `detected` at the resolving DDL, the caller back at its
    /// before-schema (its after-schema for ignore-conflict Infos), no DDLs,
    /// no dropped columns written.
    pub fn redirect_failed(&mut self, info: &Info, mut result: TrySyncResult) -> TrySyncResult {
        let Some(undo) = result.undo.take() else {
            return result;
        };
        for (key, normal, pending) in &undo.conflicts {
            if *key == undo.caller {
                continue;
            }
            self.tables.insert(key.clone(), normal.clone());
            self.conflict_tables.insert(key.clone(), pending.clone());
            self.final_tables.insert(key.clone(), pending.clone());
        }
        self.undo_dropped_columns(&undo.caller, &result.effects.dropped_columns);
        self.revert_caller(&undo.caller, info);
        self.try_revert_done(&undo.caller);
        if !info.ignore_conflict {
            self.detected.insert(
                undo.caller.clone(),
                DetectedInfo {
                    info: info.clone(),
                    version: undo.info_version,
                },
            );
        }
        result.error = Some(OptimismError::TrySyncFail {
            lock_id: self.id.clone(),
            detail: detected_text(&undo.ddl, &undo.prev, &undo.post),
        });
        self.settle_failure(result)
    }

    /// Turns `result` into DM's answer when the caller's dropped columns
    /// could not be recorded: stage `error` with the write's error text
    /// (`cause`), DDLs and columns kept, the caller back at its
    /// before-schema (its after-schema for ignore-conflict Infos).
    pub fn dropped_columns_failed(
        &mut self,
        info: &Info,
        mut result: TrySyncResult,
        cause: &str,
    ) -> TrySyncResult {
        let caller = TableKey::new(&info.source, &info.up_schema, &info.up_table);
        self.undo_dropped_columns(&caller, &result.effects.dropped_columns);
        self.revert_caller(&caller, info);
        result.error = Some(OptimismError::EffectFailed {
            cause: cause.to_owned(),
        });
        result.undo = None;
        self.settle_failure(result)
    }

    fn settle_failure(&mut self, mut result: TrySyncResult) -> TrySyncResult {
        let keeps_ddls = matches!(result.error, Some(OptimismError::EffectFailed { .. }));
        if !keeps_ddls {
            result.new_ddls.clear();
            result.cols.clear();
        }
        result.effects = Effects::default();
        result.recheck.clear();
        result.remain = self.remain();
        self.synced = result.remain == 0;
        result.synced = self.synced;
        result
    }

    /// DM's error path for the caller: reset to the before-schema (or the
    /// last after-schema when conflicts are ignored), pending conflict gone.
    fn revert_caller(&mut self, caller: &TableKey, info: &Info) {
        let schema = if info.ignore_conflict {
            info.table_info_after
                .as_deref()
                .and_then(<[Value]>::last)
                .and_then(|v| decode_schema(v, "table-info-after").ok())
        } else {
            info.table_info_before
                .as_ref()
                .and_then(|v| decode_schema(v, "table-info-before").ok())
        };
        if let Some(schema) = schema {
            self.set_table(caller, schema);
        }
        self.conflict_tables.remove(caller);
    }

    fn undo_dropped_columns(&mut self, key: &TableKey, columns: &[String]) {
        for column in columns {
            if let Some(tables) = self.columns.get_mut(column) {
                tables.remove(key);
                if tables.is_empty() {
                    self.columns.remove(column);
                }
            }
        }
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
            .and_then(<[Value]>::last)
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
            .filter(|(schema, _)| !is_ready(&joined, schema))
            .map(|(_, keys)| keys.len())
            .sum()
    }

    /// DM `syncStatus`: each table is ready iff its final schema equals the
    /// join of all final schemas; `remain` counts the others.
    pub fn sync_status(&self) -> (BTreeMap<TableKey, bool>, usize) {
        let joined = self.final_tables.joined();
        let mut ready = BTreeMap::new();
        let mut remain = 0;
        for (schema, keys) in self.final_tables.schemas() {
            let r = is_ready(&joined, schema);
            if !r {
                remain += keys.len();
            }
            for key in keys {
                ready.insert(key.clone(), r);
            }
        }
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

    /// The partially dropped columns.
    pub fn columns(&self) -> &DroppedColumns {
        &self.columns
    }

    /// Installs dropped columns read from etcd (rebuild).
    pub fn set_columns(&mut self, columns: DroppedColumns) {
        self.columns = columns;
    }

    /// The recorded column matching `col`; DM gap O14: case-insensitively.
    fn find_column(&self, col: &str) -> Option<&String> {
        if let Some((name, _)) = self.columns.get_key_value(col) {
            return Some(name);
        }
        self.columns.keys().find(|name| same_column(name, col))
    }

    /// DM `IsDroppedColumn` (case-insensitive, DM gap O14).
    pub fn is_dropped_column(&self, key: &TableKey, col: &str) -> bool {
        self.find_column(col)
            .and_then(|name| self.columns.get(name))
            .is_some_and(|tables| tables.contains_key(key))
    }

    /// DM `AddDroppedColumns` in memory: records `cols` as `NotDone` for
    /// `key` and returns the ones that were not recorded, to write to etcd.
    /// A name matching a recorded column case-insensitively joins that
    /// record (DM gap O14).
    pub fn add_dropped_columns(&mut self, key: &TableKey, cols: &[String]) -> Vec<String> {
        let mut added: Vec<String> = Vec::new();
        for col in cols {
            if self.is_dropped_column(key, col) || added.iter().any(|a| same_column(a, col)) {
                continue;
            }
            let name = self
                .find_column(col)
                .cloned()
                .unwrap_or_else(|| col.clone());
            self.columns
                .entry(name.clone())
                .or_default()
                .insert(key.clone(), DropColumnStage::NotDone);
            added.push(name);
        }
        added
    }

    /// DM `DeleteColumnsByOp`, for a `done` Operation: each of its columns
    /// becomes `Done` for its table if the Operation carried the DROP,
    /// `PartiallyDone` otherwise; a column done by every table and dropped
    /// downstream by one is forgotten.
    pub fn delete_columns_by_op(&mut self, op: &Operation) -> ColumnEffects {
        let mut effects = ColumnEffects {
            lock_id: self.id.clone(),
            ..ColumnEffects::default()
        };
        let mut done_cols = BTreeSet::new();
        for ddl in op.ddls.iter().flatten() {
            match get_column_name(&self.id, ddl, ColumnKind::DropColumn) {
                Ok(col) if !col.is_empty() => {
                    done_cols.insert(col.to_lowercase());
                }
                Ok(_) => {}
                Err(e) => {
                    effects.error = Some(e);
                    return effects;
                }
            }
        }
        let key = TableKey::new(&op.source, &op.up_schema, &op.up_table);
        for col in op.cols.iter().flatten() {
            let Some(name) = self.find_column(col).cloned() else {
                continue;
            };
            let Some(tables) = self.columns.get_mut(&name) else {
                continue;
            };
            if let Some(stage) = tables.get_mut(&key) {
                *stage = if done_cols.contains(&col.to_lowercase()) {
                    DropColumnStage::Done
                } else {
                    DropColumnStage::PartiallyDone
                };
                effects.put.push((name.clone(), key.clone(), *stage));
            }
            let all_done = tables.values().all(|s| *s != DropColumnStage::NotDone);
            let drop_done = tables.values().any(|s| *s == DropColumnStage::Done);
            if all_done && drop_done && !effects.delete.contains(&name) {
                effects.delete.push(name);
            }
        }
        for name in &effects.delete {
            self.columns.remove(name);
        }
        effects
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

/// MySQL column names compare case-insensitively (DM gap O14).
fn same_column(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

/// DM's `detected` text (docs/protocol.md#optimistic-errors).
fn detected_text(ddl: &str, prev: &Table, post: &Table) -> String {
    format!(
        "there will be conflicts if DDLs {ddl} are applied to the downstream. old table info: {prev}, new table info: {post}"
    )
}

/// Encodes one schema of an Info.
pub(crate) fn decode_schema(value: &Value, what: &str) -> Result<Table, OptimismError> {
    if value.is_null() {
        return Err(OptimismError::MalformedTableInfo {
            what: what.to_owned(),
            message: "null table info".to_owned(),
        });
    }
    TableInfo::from_json_value(value.clone())
        .map(|ti| Table::from_table_info(&ti))
        .map_err(|e| OptimismError::MalformedTableInfo {
            what: what.to_owned(),
            message: e.to_string(),
        })
}

/// DM `AddDifferentFieldLenColumns`: the column an `ADD COLUMN` adds, or an
/// error if the two joined schemas give it different lengths. DM gap O14: the
/// name is looked up lower-cased (schema keys are), so a mixed-case DDL is
/// checked too.
pub fn add_different_field_len_columns(
    lock_id: &str,
    ddl: &str,
    old_joined: &Table,
    new_joined: &Table,
) -> Result<String, OptimismError> {
    let col = get_column_name(lock_id, ddl, ColumnKind::AddColumns)?;
    if col.is_empty() {
        return Ok(col);
    }
    let lower = col.to_lowercase();
    if let (Some(old), Some(new)) = (
        old_joined.column_field_type(&lower),
        new_joined.column_field_type(&lower),
    ) {
        if old.flen != new.flen {
            return Err(OptimismError::AddNotFullyDroppedColumn {
                lock_id: lock_id.to_owned(),
                detail: format!(
                    "add columns with different field lengths. ddl: {ddl}, origLen: {}, newLen: {}",
                    old.flen, new.flen
                ),
                cause: None,
            });
        }
    }
    Ok(col)
}

/// DM `GetColumnName`: if `ddl` is an ALTER TABLE whose **first** spec is
/// of `kind`, the column it adds or drops, as written (unquoted); else `""`
/// (DM gap O15: later specs are not read; the worker splits them).
///
/// Parsed with sqlparser's MySQL dialect. sqlparser rejects some TiDB-only
/// syntax that TiDB's parser (which produced every DDL a worker sends)
/// accepts, so a rejected statement is read token by token instead: an
/// ALTER TABLE's first spec, or a statement starting with another DDL verb
/// (`""`). Only when that fails too is it DM's parse error
/// (ErrShardDDLOptimismAddNotFullyDroppedColumn, `fail to parse ddl <ddl>`,
/// with sqlparser's text as the raw cause).
pub fn get_column_name(
    lock_id: &str,
    ddl: &str,
    kind: ColumnKind,
) -> Result<String, OptimismError> {
    let parse_error = |cause: String| OptimismError::AddNotFullyDroppedColumn {
        lock_id: lock_id.to_owned(),
        detail: format!("fail to parse ddl {ddl}"),
        cause: Some(cause),
    };
    match Parser::parse_sql(&MySqlDialect {}, ddl) {
        Ok(statements) => match statements.as_slice() {
            [statement] => Ok(column_of_statement(statement, kind)),
            _ => Err(parse_error(format!(
                "expected one statement, found {}",
                statements.len()
            ))),
        },
        Err(e) => column_from_tokens(ddl, kind).ok_or_else(|| parse_error(e.to_string())),
    }
}

fn column_of_statement(statement: &Statement, kind: ColumnKind) -> String {
    let Statement::AlterTable(alter) = statement else {
        return String::new();
    };
    match (kind, alter.operations.first()) {
        (ColumnKind::AddColumns, Some(AlterTableOperation::AddColumn { column_def, .. })) => {
            column_def.name.value.clone()
        }
        (ColumnKind::DropColumn, Some(AlterTableOperation::DropColumn { column_names, .. })) => {
            column_names
                .first()
                .map(|c| c.value.clone())
                .unwrap_or_default()
        }
        _ => String::new(),
    }
}

/// The fallback of [`get_column_name`] for statements sqlparser rejects:
/// `Some(column or "")` when the first ALTER spec can be read, `None` when
/// the statement is not recognisable.
fn column_from_tokens(ddl: &str, kind: ColumnKind) -> Option<String> {
    let tokens = Tokenizer::new(&MySqlDialect {}, ddl).tokenize().ok()?;
    let mut tokens = tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .peekable();
    let is_word = |t: Option<&Token>, w: &str| matches!(t, Some(Token::Word(word)) if word.quote_style.is_none() && word.value.eq_ignore_ascii_case(w));
    let first = tokens.next();
    if !is_word(first.as_ref(), "ALTER") {
        return crate::ddl_words::OTHER_DDL_VERBS
            .iter()
            .any(|verb| is_word(first.as_ref(), verb))
            .then(String::new);
    }
    if is_word(tokens.peek(), "IGNORE") {
        tokens.next();
    }
    if !is_word(tokens.next().as_ref(), "TABLE") {
        return Some(String::new());
    }
    // [schema.]table
    if !matches!(tokens.next(), Some(Token::Word(_))) {
        return None;
    }
    if matches!(tokens.peek(), Some(Token::Period)) {
        tokens.next();
        if !matches!(tokens.next(), Some(Token::Word(_))) {
            return None;
        }
    }
    let verb = match kind {
        ColumnKind::AddColumns => "ADD",
        ColumnKind::DropColumn => "DROP",
    };
    if !is_word(tokens.peek(), verb) {
        return Some(String::new());
    }
    tokens.next();
    let column_keyword = is_word(tokens.peek(), "COLUMN");
    if column_keyword {
        tokens.next();
    }
    let guard: &[&str] = match kind {
        ColumnKind::AddColumns => &["IF", "NOT", "EXISTS"],
        ColumnKind::DropColumn => &["IF", "EXISTS"],
    };
    if is_word(tokens.peek(), "IF") {
        for word in guard {
            if !is_word(tokens.next().as_ref(), word) {
                return None;
            }
        }
    }
    let mut next = tokens.next();
    if kind == ColumnKind::AddColumns && matches!(next, Some(Token::LParen)) {
        next = tokens.next();
    }
    match next {
        Some(Token::Word(word)) => {
            let keyword = word.quote_style.is_none()
                && crate::ddl_words::starts_non_column_spec(&word.value.to_ascii_uppercase());
            if keyword && !column_keyword {
                Some(String::new())
            } else {
                Some(word.value)
            }
        }
        _ => None,
    }
}
