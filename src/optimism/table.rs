//! `SourceTables`: every upstream table of one subtask and the downstream
//! table it routes to, stored under `OPTIMISM_SOURCE_TABLES` `(task, source)`
//! (`dm/pkg/shardddl/optimism/table.go`).
//!
//! PURE: no async, no I/O. The JSON is
//! `{"task":T,"source":S,"tables":{down_schema:{down_table:{up_schema:{up_table:{}}}}}}`
//! with keys sorted at every level (Go maps); the leaf is Go's `struct{}`.

use std::collections::{BTreeMap, BTreeSet};

use crate::gojson::{self, DecodeError, Fields, ObjectWriter};

/// up_table names.
pub type UpTables = BTreeSet<String>;
/// up_schema → up_tables.
pub type UpSchemas = BTreeMap<String, UpTables>;
/// down_schema → down_table → up_schema → up_tables.
pub type Tables = BTreeMap<String, BTreeMap<String, UpSchemas>>;

/// JSON keys in order: `task`, `source`, `tables`.
///
/// Unlike Go, `tables` has no nil state: a `null` (at any level) decodes as
/// empty and `{}` is always written. DM workers build the value with
/// `NewSourceTables` and so always write `{}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceTables {
    pub task: String,
    pub source: String,
    pub tables: Tables,
}

impl SourceTables {
    /// No tables yet (DM's `NewSourceTables`).
    pub fn new(task: impl Into<String>, source: impl Into<String>) -> Self {
        Self {
            task: task.into(),
            source: source.into(),
            tables: Tables::new(),
        }
    }

    /// What a DELETE watch event yields: only the key's task and source are
    /// known, the tables are empty (DM's `sourceTablesFromKey`).
    pub fn from_deleted_key(task: impl Into<String>, source: impl Into<String>) -> Self {
        Self::new(task, source)
    }

    /// Add an upstream table; `true` if it was not there.
    pub fn add_table(
        &mut self,
        up_schema: &str,
        up_table: &str,
        down_schema: &str,
        down_table: &str,
    ) -> bool {
        self.tables
            .entry(down_schema.to_owned())
            .or_default()
            .entry(down_table.to_owned())
            .or_default()
            .entry(up_schema.to_owned())
            .or_default()
            .insert(up_table.to_owned())
    }

    /// Remove an upstream table, pruning maps left empty; `true` if it was
    /// there.
    pub fn remove_table(
        &mut self,
        up_schema: &str,
        up_table: &str,
        down_schema: &str,
        down_table: &str,
    ) -> bool {
        let Some(down_tables) = self.tables.get_mut(down_schema) else {
            return false;
        };
        let Some(up_schemas) = down_tables.get_mut(down_table) else {
            return false;
        };
        let Some(up_tables) = up_schemas.get_mut(up_schema) else {
            return false;
        };
        if !up_tables.remove(up_table) {
            return false;
        }
        if up_tables.is_empty() {
            up_schemas.remove(up_schema);
        }
        if up_schemas.is_empty() {
            down_tables.remove(down_table);
        }
        if down_tables.is_empty() {
            self.tables.remove(down_schema);
        }
        true
    }

    /// Decode the value stored in etcd.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let f = Fields::parse(bytes, "SourceTables")?;
        let path = f.path("tables");
        let up_schemas = |v: &serde_json::Value| -> Result<UpSchemas, DecodeError> {
            Ok(gojson::map_entries(v, &path, |up_tables| {
                let leaves = gojson::map_entries(up_tables, &path, |leaf| {
                    gojson::empty_struct(leaf, &path)
                })?;
                Ok(leaves.into_iter().map(|(k, ())| k).collect::<UpTables>())
            })?
            .into_iter()
            .collect())
        };
        let down_tables =
            |v: &serde_json::Value| -> Result<BTreeMap<String, UpSchemas>, DecodeError> {
                Ok(gojson::map_entries(v, &path, &up_schemas)?
                    .into_iter()
                    .collect())
            };
        let tables = f
            .map("tables", down_tables)?
            .unwrap_or_default()
            .into_iter()
            .collect();
        Ok(Self {
            task: f.str("task")?,
            source: f.str("source")?,
            tables,
        })
    }

    /// Encode as Go does (map keys sorted by bytes, leaves `{}`).
    pub fn encode(&self) -> Vec<u8> {
        let mut t = Vec::new();
        t.push(b'{');
        for (i, (down_schema, down_tables)) in self.tables.iter().enumerate() {
            if i > 0 {
                t.push(b',');
            }
            gojson::write_str(&mut t, down_schema);
            t.extend_from_slice(b":{");
            for (j, (down_table, up_schemas)) in down_tables.iter().enumerate() {
                if j > 0 {
                    t.push(b',');
                }
                gojson::write_str(&mut t, down_table);
                t.extend_from_slice(b":{");
                for (k, (up_schema, up_tables)) in up_schemas.iter().enumerate() {
                    if k > 0 {
                        t.push(b',');
                    }
                    gojson::write_str(&mut t, up_schema);
                    t.extend_from_slice(b":{");
                    for (l, up_table) in up_tables.iter().enumerate() {
                        if l > 0 {
                            t.push(b',');
                        }
                        gojson::write_str(&mut t, up_table);
                        t.extend_from_slice(b":{}");
                    }
                    t.push(b'}');
                }
                t.push(b'}');
            }
            t.push(b'}');
        }
        t.push(b'}');
        ObjectWriter::new()
            .str("task", &self.task)
            .str("source", &self.source)
            .raw_json("tables", &t)
            .finish()
    }
}
