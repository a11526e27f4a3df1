//! Pessimism `Operation`: the master's answer to a lock, one per source,
//! stored under `PESSIMISM_OPERATION` `(task, source)`; the worker rewrites it
//! with `done: true`.
//!
//! PURE: no async, no I/O. Field order and names follow
//! `dm/pkg/shardddl/pessimism/operation.go`. DM's `IsDeleted` (set only by the
//! DELETE watcher) is not a field here: the watch event says it.

use crate::go_struct::go_struct_json;

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

go_struct_json!(Operation as "Operation" {
    id: "id",
    task: "task",
    source: "source",
    ddls: "ddls",
    exec: "exec",
    done: "done",
});

impl Operation {
    /// A copy with `done` set; its encoding is what the `skipDone` and
    /// done-detection guards compare stored bytes against.
    pub fn with_done(&self, done: bool) -> Self {
        Self {
            done,
            ..self.clone()
        }
    }
}
