//! What one TrySync or one `done` Operation asks the actor to write, and
//! what a TrySync answers. The lock has already applied these writes in
//! memory; [`super::Lock::redirect_failed`] and
//! [`super::Lock::dropped_columns_failed`] take them back when a write fails.

use super::super::error::OptimismError;
use super::super::{ConflictStage, DropColumnStage, Operation};
use crate::keys::TableKey;
use crate::schemacmp::Table;

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
    pub(super) undo: Option<Box<Undo>>,
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
pub(super) struct Undo {
    pub(super) caller: TableKey,
    pub(super) info_version: i64,
    /// The DDL whose sync resolved the conflict, and its schemas (for the
    /// `detected` text DM reports when the redirect write fails).
    pub(super) ddl: String,
    pub(super) prev: Table,
    pub(super) post: Table,
    /// Each conflicting table: its normal schema and its pending schema.
    pub(super) conflicts: Vec<(TableKey, Table, Table)>,
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
