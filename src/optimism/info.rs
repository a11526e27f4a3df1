//! Optimism `Info`: a worker's report of the DDLs of one upstream table and
//! the table's schema around them, stored under `OPTIMISM_INFO`
//! `(task, source, up_schema, up_table)`.
//!
//! PURE: no async, no I/O. Field order and names follow
//! `dm/pkg/shardddl/optimism/info.go`; `ignore-conflict` comes last because
//! Go declares it after the unserialised metadata fields.
//!
//! The TiDB `TableInfo` values stay opaque JSON here, re-encoded in the key
//! order they were read in (a Go struct's field order), so a value read from
//! etcd is written back unchanged.

use serde_json::Value;

use crate::gojson::{DecodeError, Fields, ObjectWriter};
use crate::keys;

/// JSON keys in order: `task`, `source`, `up-schema`, `up-table`,
/// `down-schema`, `down-table`, `ddls`, `table-info-before`,
/// `table-info-after`, `ignore-conflict`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Info {
    pub task: String,
    pub source: String,
    pub up_schema: String,
    pub up_table: String,
    pub down_schema: String,
    pub down_table: String,
    /// `None` is `null`, `Some(vec![])` is `[]`.
    pub ddls: Option<Vec<String>>,
    /// TiDB `TableInfo` before the DDLs; `None` is `null`.
    pub table_info_before: Option<Value>,
    /// TiDB `TableInfo` after each DDL; `None` is `null`. An element may be
    /// `Value::Null` (a nil pointer in Go).
    pub table_info_after: Option<Vec<Value>>,
    /// Set by the worker to ask the master to skip conflict detection.
    pub ignore_conflict: bool,
}

impl Info {
    /// Decode the value stored in etcd.
    ///
    /// Like DM's `infoFromJSON`: if the current shape does not decode, try the
    /// shape written before DM v2.0.2 (`table-info-after` a single object, no
    /// `ignore-conflict`) and wrap that object into a one-element list; if that
    /// fails too, report the first error.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let f = Fields::parse(bytes, "Info")?;
        match Self::from_fields(&f) {
            Ok(info) => Ok(info),
            Err(first) => Self::from_legacy_fields(&f).map_err(|_| first),
        }
    }

    fn from_fields(f: &Fields) -> Result<Self, DecodeError> {
        Self::from_shared_fields(f, |f| {
            Ok((
                f.object_list("table-info-after")?,
                f.bool("ignore-conflict")?,
            ))
        })
    }

    /// DM's `OldInfo` and `toInfo()`. A missing or `null` old
    /// `table-info-after` becomes a one-element list holding `null`, as in DM.
    fn from_legacy_fields(f: &Fields) -> Result<Self, DecodeError> {
        Self::from_shared_fields(f, |f| {
            let after = f.object("table-info-after")?.unwrap_or(Value::Null);
            Ok((Some(vec![after]), false))
        })
    }

    /// The fields both shapes share, read in DM's order, then
    /// `table-info-after` and `ignore-conflict` as `rest` reads them (so the
    /// first bad field is the one reported).
    fn from_shared_fields(
        f: &Fields,
        rest: impl FnOnce(&Fields) -> Result<(Option<Vec<Value>>, bool), DecodeError>,
    ) -> Result<Self, DecodeError> {
        let task = f.str("task")?;
        let source = f.str("source")?;
        let up_schema = f.str("up-schema")?;
        let up_table = f.str("up-table")?;
        let down_schema = f.str("down-schema")?;
        let down_table = f.str("down-table")?;
        let ddls = f.str_list("ddls")?;
        let table_info_before = f.object("table-info-before")?;
        let (table_info_after, ignore_conflict) = rest(f)?;
        Ok(Self {
            task,
            source,
            up_schema,
            up_table,
            down_schema,
            down_table,
            ddls,
            table_info_before,
            table_info_after,
            ignore_conflict,
        })
    }

    /// Encode as Go does (always the current shape).
    pub fn encode(&self) -> Vec<u8> {
        ObjectWriter::new()
            .str("task", &self.task)
            .str("source", &self.source)
            .str("up-schema", &self.up_schema)
            .str("up-table", &self.up_table)
            .str("down-schema", &self.down_schema)
            .str("down-table", &self.down_table)
            .str_list("ddls", self.ddls.as_deref())
            .opt_value("table-info-before", self.table_info_before.as_ref())
            .value_list("table-info-after", self.table_info_after.as_deref())
            .bool("ignore-conflict", self.ignore_conflict)
            .finish()
    }

    /// ID of the lock this Info belongs to: one per (task, downstream table).
    pub fn lock_id(&self) -> String {
        keys::lock_id(&self.task, &self.down_schema, &self.down_table)
    }
}
