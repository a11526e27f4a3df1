//! Pessimism `Info`: a worker's report that a shard DDL arrived, stored under
//! `PESSIMISM_INFO` `(task, source)`.
//!
//! PURE: no async, no I/O. Field order and names follow
//! `dm/pkg/shardddl/pessimism/info.go`.

use crate::gojson::{DecodeError, Fields, ObjectWriter};
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

impl Info {
    /// Decode the value stored in etcd.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let f = Fields::parse(bytes, "Info")?;
        Ok(Self {
            task: f.str("task")?,
            source: f.str("source")?,
            schema: f.str("schema")?,
            table: f.str("table")?,
            ddls: f.str_list("ddls")?,
        })
    }

    /// Encode as Go does.
    pub fn encode(&self) -> Vec<u8> {
        ObjectWriter::new()
            .str("task", &self.task)
            .str("source", &self.source)
            .str("schema", &self.schema)
            .str("table", &self.table)
            .str_list("ddls", self.ddls.as_deref())
            .finish()
    }

    /// ID of the lock this Info belongs to: one per (task, downstream table).
    pub fn lock_id(&self) -> String {
        keys::lock_id(&self.task, &self.schema, &self.table)
    }
}
