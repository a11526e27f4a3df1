//! Pessimism `Info`: a worker's report that a shard DDL arrived, stored under
//! `PESSIMISM_INFO` `(task, source)`.
//!
//! PURE: no async, no I/O. Field order and names follow
//! `dm/pkg/shardddl/pessimism/info.go`.

use crate::go_struct::go_struct_json;
use crate::keys;

/// One source's pending shard DDL. JSON keys in order: `task`, `source`,
/// `schema`, `table`, `ddls`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Info {
    pub task: String,
    pub source: String,
    /// Downstream schema of the DDL.
    pub schema: String,
    /// Downstream table of the DDL.
    pub table: String,
    /// DDLs routed to the downstream table. `None` is Go's nil slice (`null`),
    /// kept apart from `Some(vec![])` (`[]`) so values round-trip byte-exact.
    pub ddls: Option<Vec<String>>,
}

go_struct_json!(Info as "Info" {
    task: "task",
    source: "source",
    schema: "schema",
    table: "table",
    ddls: "ddls",
});

impl Info {
    /// ID of the lock this Info belongs to: one per (task, downstream table).
    pub fn lock_id(&self) -> String {
        keys::lock_id(&self.task, &self.schema, &self.table)
    }
}
