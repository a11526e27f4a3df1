//! Pessimism `Operation`: the master's answer to a lock, one per source,
//! stored under `PESSIMISM_OPERATION` `(task, source)`; the worker rewrites it
//! with `done: true`.
//!
//! PURE: no async, no I/O. Field order and names follow
//! `dm/pkg/shardddl/pessimism/operation.go`. DM's `IsDeleted` (set only by the
//! DELETE watcher) is not a field here: the watch event says it.

use crate::gojson::{DecodeError, Fields, ObjectWriter};

/// JSON keys in order: `id`, `task`, `source`, `ddls`, `exec`, `done`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Operation {
    /// Lock ID.
    pub id: String,
    pub task: String,
    /// Source this operation is for.
    pub source: String,
    /// The lock's DDLs; `None` is `null`, `Some(vec![])` is `[]`.
    pub ddls: Option<Vec<String>>,
    /// `true`: execute downstream (the owner); `false`: skip.
    pub exec: bool,
    /// Set by the worker once it executed or skipped.
    pub done: bool,
}

impl Operation {
    /// Decode the value stored in etcd.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let f = Fields::parse(bytes, "Operation")?;
        Ok(Self {
            id: f.str("id")?,
            task: f.str("task")?,
            source: f.str("source")?,
            ddls: f.str_list("ddls")?,
            exec: f.bool("exec")?,
            done: f.bool("done")?,
        })
    }

    /// Encode as Go does.
    pub fn encode(&self) -> Vec<u8> {
        ObjectWriter::new()
            .str("id", &self.id)
            .str("task", &self.task)
            .str("source", &self.source)
            .str_list("ddls", self.ddls.as_deref())
            .bool("exec", self.exec)
            .bool("done", self.done)
            .finish()
    }

    /// A copy with `done` set; its encoding is what the `skipDone` and
    /// done-detection guards compare stored bytes against.
    pub fn with_done(&self, done: bool) -> Self {
        Self {
            done,
            ..self.clone()
        }
    }
}
