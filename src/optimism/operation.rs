//! Optimism `Operation`: the master's answer to one upstream table's Info,
//! stored under `OPTIMISM_OPERATION` `(task, source, up_schema, up_table)`;
//! the worker rewrites it with `done: true`.
//!
//! PURE: no async, no I/O. Field order and names follow
//! `dm/pkg/shardddl/optimism/operation.go`. DM's `Revision` is not a field
//! here: the etcd layer carries it.

use std::fmt;

use crate::gojson::{DecodeError, Fields, ObjectWriter};

/// Where a table stands in conflict resolution. The wire strings are DM's;
/// any other string is kept verbatim in `Other`, since Go keeps it (its type is
/// a plain `string`). Go's zero value, the empty string, is `Other("")`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConflictStage {
    /// `none`: no conflict; the worker applies the DDLs.
    None,
    /// `detected`: applying the DDLs would conflict; the worker waits.
    Detected,
    /// `resolved`: the conflict was resolved; the worker redirects.
    Resolved,
    /// `unlocked`: the worker executes or skips the DDLs directly.
    Unlocked,
    /// `skip and wait for redirect`: the worker skips this table's DML and
    /// DDL until redirected.
    SkipWaitRedirect,
    /// `error`: the DDLs could not be synced.
    Error,
    /// Any other string, kept so it is written back unchanged.
    Other(String),
}

impl ConflictStage {
    /// The wire string.
    pub fn as_str(&self) -> &str {
        match self {
            Self::None => "none",
            Self::Detected => "detected",
            Self::Resolved => "resolved",
            Self::Unlocked => "unlocked",
            Self::SkipWaitRedirect => "skip and wait for redirect",
            Self::Error => "error",
            Self::Other(s) => s,
        }
    }

    /// From the wire string (exact, case-sensitive match, as Go compares).
    pub fn from_wire(s: &str) -> Self {
        match s {
            "none" => Self::None,
            "detected" => Self::Detected,
            "resolved" => Self::Resolved,
            "unlocked" => Self::Unlocked,
            "skip and wait for redirect" => Self::SkipWaitRedirect,
            "error" => Self::Error,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// Go's zero value: the empty string (not `none`).
impl Default for ConflictStage {
    fn default() -> Self {
        Self::Other(String::new())
    }
}

impl fmt::Display for ConflictStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// JSON keys in order: `id`, `task`, `source`, `up-schema`, `up-table`,
/// `ddls`, `conflict-stage`, `conflict-message`, `done`, `cols`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Operation {
    /// Lock ID.
    pub id: String,
    pub task: String,
    pub source: String,
    pub up_schema: String,
    pub up_table: String,
    /// DDLs the worker must apply; `None` is `null`, `Some(vec![])` is `[]`.
    pub ddls: Option<Vec<String>>,
    pub conflict_stage: ConflictStage,
    pub conflict_message: String,
    /// Set by the worker once it applied (or skipped) the DDLs.
    pub done: bool,
    /// Names of partially dropped columns; `None` is `null`.
    pub cols: Option<Vec<String>>,
}

impl Operation {
    /// Decode the value stored in etcd.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let f = Fields::parse(bytes, "Operation")?;
        Ok(Self {
            id: f.str("id")?,
            task: f.str("task")?,
            source: f.str("source")?,
            up_schema: f.str("up-schema")?,
            up_table: f.str("up-table")?,
            ddls: f.str_list("ddls")?,
            conflict_stage: ConflictStage::from_wire(&f.str("conflict-stage")?),
            conflict_message: f.str("conflict-message")?,
            done: f.bool("done")?,
            cols: f.str_list("cols")?,
        })
    }

    /// Encode as Go does.
    pub fn encode(&self) -> Vec<u8> {
        ObjectWriter::new()
            .str("id", &self.id)
            .str("task", &self.task)
            .str("source", &self.source)
            .str("up-schema", &self.up_schema)
            .str("up-table", &self.up_table)
            .str_list("ddls", self.ddls.as_deref())
            .str("conflict-stage", self.conflict_stage.as_str())
            .str("conflict-message", &self.conflict_message)
            .bool("done", self.done)
            .str_list("cols", self.cols.as_deref())
            .finish()
    }

    /// A copy with `done` set; its encoding is what the `skipDone` guard
    /// compares stored bytes against.
    pub fn with_done(&self, done: bool) -> Self {
        Self {
            done,
            ..self.clone()
        }
    }
}
