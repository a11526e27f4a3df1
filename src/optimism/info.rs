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
//! etcd is written back unchanged. They are kept as compact text
//! ([`TableInfoJson`]), not as parsed `serde_json::Value` trees: a lock of
//! thousands of tables keeps every table's Info, and a parsed `TableInfo` is
//! about seven times the size of its text. Clones share the text.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::gojson::{self, DecodeError, Fields, ObjectWriter};
use crate::keys;

/// One TiDB `TableInfo` (or a Go nil pointer, `null`) as the compact JSON
/// text Go would write for it, keys in the order they were read in.
///
/// Invariant: the text is what [`gojson::write_value`] writes for a JSON
/// value, so it always parses back to that value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TableInfoJson(Arc<str>);

impl TableInfoJson {
    /// Go's nil pointer.
    pub fn null() -> Self {
        Self(Arc::from("null"))
    }

    /// The compact text of `value`.
    pub fn from_value(value: &Value) -> Self {
        let mut out = Vec::new();
        gojson::write_value(&mut out, value);
        // The writer emits UTF-8 only, so this never replaces anything.
        Self(Arc::from(String::from_utf8_lossy(&out)))
    }

    /// `true` for Go's nil pointer.
    pub fn is_null(&self) -> bool {
        &*self.0 == "null"
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value parsed back (`null` if the text were ever not JSON, which
    /// the invariant rules out).
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }
}

impl From<Value> for TableInfoJson {
    fn from(value: Value) -> Self {
        Self::from_value(&value)
    }
}

impl From<&Value> for TableInfoJson {
    fn from(value: &Value) -> Self {
        Self::from_value(value)
    }
}

impl fmt::Debug for TableInfoJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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
    pub table_info_before: Option<TableInfoJson>,
    /// TiDB `TableInfo` after each DDL; `None` is `null`. An element may be
    /// [`TableInfoJson::null`] (a nil pointer in Go).
    pub table_info_after: Option<Vec<TableInfoJson>>,
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
        Ok(Self {
            task: f.str("task")?,
            source: f.str("source")?,
            up_schema: f.str("up-schema")?,
            up_table: f.str("up-table")?,
            down_schema: f.str("down-schema")?,
            down_table: f.str("down-table")?,
            ddls: f.str_list("ddls")?,
            table_info_before: f.object("table-info-before")?.map(TableInfoJson::from),
            table_info_after: f
                .object_list("table-info-after")?
                .map(|afters| afters.iter().map(TableInfoJson::from).collect()),
            ignore_conflict: f.bool("ignore-conflict")?,
        })
    }

    /// DM's `OldInfo` and `toInfo()`. A missing or `null` old
    /// `table-info-after` becomes a one-element list holding `null`, as in DM.
    fn from_legacy_fields(f: &Fields) -> Result<Self, DecodeError> {
        let after = f.object("table-info-after")?.unwrap_or(Value::Null);
        Ok(Self {
            task: f.str("task")?,
            source: f.str("source")?,
            up_schema: f.str("up-schema")?,
            up_table: f.str("up-table")?,
            down_schema: f.str("down-schema")?,
            down_table: f.str("down-table")?,
            ddls: f.str_list("ddls")?,
            table_info_before: f.object("table-info-before")?.map(TableInfoJson::from),
            table_info_after: Some(vec![TableInfoJson::from(after)]),
            ignore_conflict: false,
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
            .raw_json(
                "table-info-before",
                self.table_info_before
                    .as_ref()
                    .map_or(b"null".as_slice(), |t| t.as_str().as_bytes()),
            )
            .raw_json("table-info-after", &self.encode_afters())
            .bool("ignore-conflict", self.ignore_conflict)
            .finish()
    }

    /// `table-info-after` as a Go slice of pointers: `null` or `[..]`.
    fn encode_afters(&self) -> Vec<u8> {
        let Some(afters) = &self.table_info_after else {
            return b"null".to_vec();
        };
        let mut out =
            Vec::with_capacity(2 + afters.iter().map(|a| a.as_str().len() + 1).sum::<usize>());
        out.push(b'[');
        for (i, after) in afters.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(after.as_str().as_bytes());
        }
        out.push(b']');
        out
    }

    /// ID of the lock this Info belongs to: one per (task, downstream table).
    pub fn lock_id(&self) -> String {
        keys::lock_id(&self.task, &self.down_schema, &self.down_table)
    }
}
