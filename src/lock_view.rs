//! PURE. One row of ShowDDLLocks (DM `pb.DDLLock`), the same shape for
//! both shard modes: each keeper renders its locks into it, the gRPC edge
//! and the dashboard render it onto the wire.

use crate::task::ShardMode;

/// One shard-DDL lock as ShowDDLLocks lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockView {
    pub id: String,
    pub task: String,
    /// The keeper's mode: [`ShardMode::Pessimistic`] or [`ShardMode::Optimistic`].
    pub mode: ShardMode,
    /// Pessimistic: the owner source. Optimistic: ``source-`schema`.`table` ``
    /// of a `detected` table, or empty.
    pub owner: String,
    /// Pessimistic: the lock's DDLs. Optimistic: the owner table's Info DDLs
    /// (empty without owner).
    pub ddls: Vec<String>,
    /// Ready sources (pessimistic) or owner-formatted tables (optimistic),
    /// sorted.
    pub synced: Vec<String>,
    /// Sources or tables not ready, sorted.
    pub unsynced: Vec<String>,
}
