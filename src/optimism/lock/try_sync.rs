//! DM's `TrySync` on one lock: merging the task's tables, syncing each DDL
//! of an Info against the joined schema, resolving conflicts, and taking a
//! resolution back when its writes fail. The lock's state and invariants are
//! described in the parent module.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use super::dropped_columns::same_column;
use super::effects::Undo;
use super::{
    add_different_field_len_columns, decode_schema, get_column_name, ColumnKind, DetectedInfo,
    Effects, Fetch, Lock, TrySyncResult,
};
use crate::keys::TableKey;
use crate::optimism::error::OptimismError;
use crate::optimism::schemas::{malformed, InfoSchemas};
use crate::optimism::table_keeper::TargetTable;
use crate::optimism::{ConflictStage, Info, Operation, TableInfoJson};
use crate::schemacmp::{Incompatible, JoinTree, Table};

/// DM's `ConflictStage` as `trySyncForOneDDL` returns it (`resolved` is
/// reported as `none`, as DM does since the redirect rework).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    None,
    Detected,
    SkipWaitRedirect,
}

/// Working state of one TrySync.
#[derive(Default)]
pub(super) struct Run {
    pub(super) new_ddls: Vec<String>,
    pub(super) cols: Vec<String>,
    pub(super) error: Option<OptimismError>,
    /// Past DM's pre-checks: errors now revert the caller's schema.
    pub(super) reverting: bool,
    pub(super) before: Option<Table>,
    pub(super) last_after: Option<Table>,
    pub(super) redirects: BTreeSet<TableKey>,
    pub(super) undo: Option<Box<Undo>>,
}

impl Lock {
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
        self.try_sync_with(info, InfoSchemas::of(info), info_version, tts, fetch)
    }

    /// [`Lock::try_sync`] with the Info's schemas already decoded.
    pub fn try_sync_with(
        &mut self,
        info: &Info,
        schemas: InfoSchemas,
        info_version: i64,
        tts: &[TargetTable],
        fetch: Fetch,
    ) -> TrySyncResult {
        // DM gap O16: DM reads the old flag before taking the lock mutex.
        let was_synced = self.synced;
        let caller = TableKey::new(&info.source, &info.up_schema, &info.up_table);
        let mut run = Run::default();
        self.sync_ddls(&caller, info, schemas, info_version, tts, fetch, &mut run);
        self.finish(&caller, info, info_version, was_synced, run)
    }

    // The Info, its schemas, its version and the caller's key are one
    // TrySync's inputs; bundling them would only rename them.
    #[allow(clippy::too_many_arguments)]
    fn sync_ddls(
        &mut self,
        caller: &TableKey,
        info: &Info,
        schemas: InfoSchemas,
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
        let (before, afters) = schemas.into_parts();
        let before = match before {
            None => {
                run.error = Some(OptimismError::TableInfoBeforeNotExist {
                    ddls: ddls.to_vec(),
                });
                return;
            }
            Some(Err(message)) => {
                run.error = Some(malformed("table-info-before", &message));
                return;
            }
            Some(Ok(t)) => t,
        };
        let mut posts = Vec::with_capacity(afters.len());
        for (i, after) in afters.into_iter().enumerate() {
            match after {
                Ok(t) => posts.push(t),
                Err(message) => {
                    run.error = Some(malformed(&format!("table-info-after[{i}]"), &message));
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
    pub(super) fn try_sync_for_one_ddl(
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
    pub(super) fn all_smaller(&self, joined: Result<Option<Table>, Incompatible>) -> bool {
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
    pub(super) fn all_larger(&self, judge: &JoinTree<TableKey>) -> bool {
        self.conflict_tables.iter().all(|(key, pending)| {
            let Some(normal) = self.tables.get(key) else {
                return false;
            };
            judge.schemas().all(|(_, schema, _)| {
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
    pub(super) fn no_conflict_with_one_normal_table(
        &self,
        caller: &TableKey,
        prev: &Table,
        post: &Table,
    ) -> bool {
        let caller_schema = self.tables.schema_id(caller);
        self.tables.schemas().any(|(id, schema, members)| {
            if members == 1 && caller_schema == Some(id) {
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
    pub(super) fn check_add_drop_column(
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
                .and_then(<[TableInfoJson]>::last)
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
}

/// DM's `detected` text (docs/protocol.md#optimistic-errors).
fn detected_text(ddl: &str, prev: &Table, post: &Table) -> String {
    format!(
        "there will be conflicts if DDLs {ddl} are applied to the downstream. old table info: {prev}, new table info: {post}"
    )
}
