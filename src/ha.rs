//! DM's `ha` records as the master and Go workers read and write them, and
//! the scheduler's transactions over them (`dm/pkg/ha/`).
//!
//! PURE: no async, no I/O. Each record encodes to Go's `encoding/json` bytes
//! (field order and escaping as DM) and decodes whatever Go accepts
//! (case-insensitive names, unknown fields ignored). Identity fields inside a
//! value must equal the key's parts: Go readers index by the value.
//!
//! The transaction builders return [`Txn`]s with the operations in DM's
//! order (docs/protocol.md#scheduler-txns); the caller adds the leader fence.

use crate::etcd::{Op, Txn};
use crate::go_struct::go_struct_json;
use crate::gojson::{DecodeError, Fields, ObjectWriter};
use crate::keys::{
    KeySpace, BOUND_WORKER, LAST_BOUND_WORKER, RELAY_WORKER, STAGE_RELAY, STAGE_SUBTASK,
    STAGE_VALIDATOR, UPSTREAM_CONFIG, UPSTREAM_SUBTASK, WORKER_REGISTER,
};

/// `/dm-worker/r/<worker>`: `{"name":…,"addr":…}` (`dm/pkg/ha/worker.go`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkerInfo {
    pub name: String,
    /// The worker's advertise address, `host:port`.
    pub addr: String,
}

go_struct_json!(WorkerInfo as "WorkerInfo" {
    name: "name",
    addr: "addr",
});

impl WorkerInfo {
    pub fn new(name: impl Into<String>, addr: impl Into<String>) -> WorkerInfo {
        WorkerInfo {
            name: name.into(),
            addr: addr.into(),
        }
    }

    /// The JSON text DM prints in 46003 (`dm-worker with name {…} already exists`).
    pub fn json(&self) -> String {
        String::from_utf8_lossy(&self.encode()).into_owned()
    }
}

/// `/dm-worker/a/<worker>`: `{"worker-name":…,"join-time":…}`, written by
/// the worker under its lease (`dm/pkg/ha/keepalive.go`). `join-time` is
/// Go's RFC 3339 text with nanoseconds; the master keeps it as text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkerEvent {
    pub worker_name: String,
    pub join_time: String,
}

go_struct_json!(WorkerEvent as "WorkerEvent" {
    worker_name: "worker-name",
    join_time: "join-time",
});

impl WorkerEvent {}

/// `/dm-master/bound-worker/<worker>` and `/dm-master/last-bound-worker/<worker>`:
/// `{"source":…,"worker":…}` (`dm/pkg/ha/bound.go`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceBound {
    pub source: String,
    pub worker: String,
}

go_struct_json!(SourceBound as "SourceBound" {
    source: "source",
    worker: "worker",
});

impl SourceBound {
    pub fn new(source: impl Into<String>, worker: impl Into<String>) -> SourceBound {
        SourceBound {
            source: source.into(),
            worker: worker.into(),
        }
    }
}

/// `pb.Stage` numbers (`dm/proto/dmworker.proto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageKind {
    Invalid = 0,
    New = 1,
    Running = 2,
    Paused = 3,
    Stopped = 4,
    Finished = 5,
    Pausing = 6,
    Resuming = 7,
    Stopping = 8,
}

impl StageKind {
    fn from_number(n: i64) -> StageKind {
        match n {
            1 => StageKind::New,
            2 => StageKind::Running,
            3 => StageKind::Paused,
            4 => StageKind::Stopped,
            5 => StageKind::Finished,
            6 => StageKind::Pausing,
            7 => StageKind::Resuming,
            8 => StageKind::Stopping,
            // Go keeps unknown enum numbers; they mean nothing to a worker.
            _ => StageKind::Invalid,
        }
    }
}

/// Relay, subtask and validator stages: `{"expect":N,"source":…,"task":…}`
/// with `task` omitted when empty (`dm/pkg/ha/stage.go`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub expect: StageKind,
    pub source: String,
    pub task: String,
}

impl Stage {
    pub fn decode(bytes: &[u8]) -> Result<Stage, DecodeError> {
        let f = Fields::parse(bytes, "Stage")?;
        Ok(Stage {
            expect: StageKind::from_number(f.int("expect")?),
            source: f.str("source")?,
            task: f.str("task")?,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let writer = ObjectWriter::new()
            .int("expect", self.expect as i64)
            .str("source", &self.source);
        if self.task.is_empty() {
            writer.finish()
        } else {
            writer.str("task", &self.task).finish()
        }
    }
}

// ---- transactions (docs/protocol.md#scheduler-txns) ----

/// T-register: `Put /dm-worker/r/<w>`.
pub fn register_worker_txn(space: &KeySpace, info: &WorkerInfo) -> Txn {
    Txn::new("register worker").then([Op::put(
        space.key(&WORKER_REGISTER, [&info.name]),
        info.encode(),
    )])
}

/// T-offline-worker: delete the worker's registration and relay-worker key.
pub fn offline_worker_txn(space: &KeySpace, worker: &str) -> Txn {
    Txn::new("offline worker").then([
        Op::delete(space.key(&WORKER_REGISTER, [worker])),
        Op::delete(space.key(&RELAY_WORKER, [worker])),
    ])
}

/// T-put-source: the source config TOML.
pub fn put_source_txn(space: &KeySpace, source: &str, toml: &[u8]) -> Txn {
    Txn::new("put source config").then([Op::put(
        space.key(&UPSTREAM_CONFIG, [source]),
        toml.to_vec(),
    )])
}

/// T-bound: for each bound, its bound key and last-bound key (same bytes).
pub fn put_bounds_txn(space: &KeySpace, bounds: &[SourceBound]) -> Txn {
    let mut ops = Vec::with_capacity(bounds.len() * 2);
    for bound in bounds {
        let value = bound.encode();
        ops.push(Op::put(
            space.key(&BOUND_WORKER, [&bound.worker]),
            value.clone(),
        ));
        ops.push(Op::put(
            space.key(&LAST_BOUND_WORKER, [&bound.worker]),
            value,
        ));
    }
    Txn::new("put source bound").then(ops)
}

/// T-unbound: delete the bound key of each worker; last-bound stays.
pub fn delete_bounds_txn(space: &KeySpace, workers: &[String]) -> Txn {
    Txn::new("delete source bound").then(
        workers
            .iter()
            .map(|w| Op::delete(space.key(&BOUND_WORKER, [w])))
            .collect::<Vec<_>>(),
    )
}

/// T-remove-source: config, relay stage, and the bound and last-bound of
/// the worker bound now (`""` when none: DM then deletes the non-existent
/// keys `/dm-master/bound-worker` and `/dm-master/last-bound-worker`).
pub fn remove_source_txn(space: &KeySpace, source: &str, bound_worker: &str) -> Txn {
    Txn::new("remove source config").then([
        Op::delete(space.key(&UPSTREAM_CONFIG, [source])),
        Op::delete(space.key(&STAGE_RELAY, [source])),
        Op::delete(space.key(&BOUND_WORKER, [bound_worker])),
        Op::delete(space.key(&LAST_BOUND_WORKER, [bound_worker])),
    ])
}

/// T-subtask-put: every new subtask config, then its stage `Running`, in
/// one txn (a worker never sees a stage without its config).
pub fn put_subtasks_txn(space: &KeySpace, task: &str, subtasks: &[(String, Vec<u8>)]) -> Txn {
    let mut ops = Vec::with_capacity(subtasks.len() * 2);
    for (source, toml) in subtasks {
        ops.push(Op::put(
            space.key(&UPSTREAM_SUBTASK, [source, task]),
            toml.clone(),
        ));
    }
    for (source, _) in subtasks {
        ops.push(Op::put(
            space.key(&STAGE_SUBTASK, [source, task]),
            subtask_stage(task, source, StageKind::Running),
        ));
    }
    Txn::new("put subtask configs and stages").then(ops)
}

/// T-stage: the subtask stage of each source (written even when unchanged).
pub fn put_subtask_stages_txn(
    space: &KeySpace,
    task: &str,
    sources: &[String],
    expect: StageKind,
) -> Txn {
    Txn::new("put subtask stages").then(
        sources
            .iter()
            .map(|source| {
                Op::put(
                    space.key(&STAGE_SUBTASK, [source, task]),
                    subtask_stage(task, source, expect),
                )
            })
            .collect::<Vec<_>>(),
    )
}

/// T-subtask-del: configs, subtask stages and validator stages.
pub fn delete_subtasks_txn(space: &KeySpace, task: &str, sources: &[String]) -> Txn {
    let mut ops = Vec::with_capacity(sources.len() * 3);
    for source in sources {
        ops.push(Op::delete(space.key(&UPSTREAM_SUBTASK, [source, task])));
    }
    for source in sources {
        ops.push(Op::delete(space.key(&STAGE_SUBTASK, [source, task])));
    }
    for source in sources {
        ops.push(Op::delete(space.key(&STAGE_VALIDATOR, [source, task])));
    }
    Txn::new("delete subtask configs and stages").then(ops)
}

fn subtask_stage(task: &str, source: &str, expect: StageKind) -> Vec<u8> {
    Stage {
        expect,
        source: source.to_owned(),
        task: task.to_owned(),
    }
    .encode()
}

#[cfg(test)]
mod tests;
