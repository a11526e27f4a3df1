//! The keeper rebuilt from etcd at one revision (DM `rebuildLocks` and
//! `recoverLocks`): the snapshot read, the plan that replays its Infos, and
//! the finish that settles the Operations found.
//!
//! PURE: no async, no I/O.

use super::*;

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

impl LockKeeper {
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
