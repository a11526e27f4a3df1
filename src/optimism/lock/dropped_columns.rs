//! Partially dropped columns (DM `columns`): a column dropped by some
//! tables of a lock but not all may not be added back until every table has
//! dropped it. Recorded per table with a stage, persisted by the actor.

use std::collections::{BTreeMap, BTreeSet};

use super::column_name::{get_column_name, ColumnKind};
use super::{ColumnEffects, Lock};
use crate::keys::TableKey;
use crate::optimism::{DropColumnStage, Operation};

/// Partially dropped columns of a lock: column → table → stage. The column
/// name is the one of the first DROP that recorded it.
pub type DroppedColumns = BTreeMap<String, BTreeMap<TableKey, DropColumnStage>>;

impl Lock {
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
}

/// MySQL column names compare case-insensitively (DM gap O14).
pub(super) fn same_column(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}
