//! The multi-key etcd transactions of pessimistic mode (DM's `ops.go`),
//! shared by the master and the worker crate.
//!
//! Every write states its assumptions as compares. Where DM compares stored
//! bytes with bytes it re-encodes (fragile across implementations,
//! DM gap K6 in docs/dm-gaps.md), we read the keys first and compare their mod revisions instead.

use crate::error::Result;
use crate::etcd::retry::retry_contended;
use crate::etcd::{Compare, Etcd, Fence, KeyValue, Op, Txn};
use crate::keys::{KeySpace, PESSIMISM_INFO, PESSIMISM_OPERATION};
use crate::pessimism::info::Info;
use crate::pessimism::operation::Operation;

// Key builders under the names the callers of these txns use; the layout
// itself lives in `keys`.

pub fn info_key(space: &KeySpace, task: &str, source: &str) -> String {
    space.pessimism_info(task, source)
}

pub fn operation_key(space: &KeySpace, task: &str, source: &str) -> String {
    space.pessimism_operation(task, source)
}

/// The common prefix of pessimism Infos and Operations: one watch over it
/// sees both kinds of key in one revision order.
pub fn pessimism_prefix(space: &KeySpace) -> String {
    space.pessimism_prefix()
}

/// What [`put_operations`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOperationsOutcome {
    pub revision: i64,
    /// Sources whose Operation was written.
    pub written: Vec<String>,
    /// Sources whose Operation already existed with `done = true` and was
    /// left alone.
    pub already_done: Vec<String>,
}

/// What the master last saw of an Operation key through its watch. A
/// guess, never trusted on its own: it only decides the compare of the
/// first attempt, and a wrong guess fails that compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeenOperation {
    /// No value seen: the key is absent (or was deleted).
    Absent,
    /// A value with `done = false` at this mod revision.
    NotDone { mod_revision: i64 },
    /// Nothing usable (never seen, or seen done: whether a done Operation is
    /// still there decides what is written, so that case is always read).
    Unknown,
}

/// Writes `ops` (master side).
///
/// With `skip_done`, an Operation that already exists with `done = true` is
/// never overwritten (DM's `skipDone`). Unlike DM, which writes nothing at all
/// when any one key is done and needs two non-atomic txns
/// (DM gap P4), each key is guarded on its own: keys are read, then written in one txn
/// per chunk whose compares say "still absent" or "still at the revision we
/// read". Without `skip_done` the puts are unconditional (DM's fan-out after
/// the owner's `done`).
pub async fn put_operations(
    etcd: &Etcd,
    space: &KeySpace,
    fence: Option<&Fence>,
    ops: &[Operation],
    skip_done: bool,
) -> Result<PutOperationsOutcome> {
    let unknown = vec![SeenOperation::Unknown; ops.len()];
    put_operations_seen(etcd, space, fence, ops, skip_done, &unknown).await
}

/// [`put_operations`] with what the caller's watch last saw of each key
/// (`seen[i]` for `ops[i]`). When every key of a chunk is known absent or
/// not done, the first attempt writes at once, guarded by exactly those
/// facts (absent / mod revision), saving the read round trip; a failed
/// guard falls back to read-then-write. The guards are the same either way.
pub async fn put_operations_seen(
    etcd: &Etcd,
    space: &KeySpace,
    fence: Option<&Fence>,
    ops: &[Operation],
    skip_done: bool,
    seen: &[SeenOperation],
) -> Result<PutOperationsOutcome> {
    let mut outcome = PutOperationsOutcome::default();
    if !skip_done {
        let puts = ops
            .iter()
            .map(|op| Op::put(operation_key(space, &op.task, &op.source), op.encode()))
            .collect();
        outcome.revision = etcd.batch_fenced("put operations", puts, fence).await?;
        outcome.written = ops.iter().map(|op| op.source.clone()).collect();
        return Ok(outcome);
    }
    // Each key costs one compare and one put; the fence one more compare.
    let chunk = (etcd.max_txn_ops() - 1).max(1);
    for (ops, seen) in ops.chunks(chunk).zip(seen.chunks(chunk)) {
        let part = put_chunk_skip_done(etcd, space, fence, ops, seen).await?;
        outcome.revision = outcome.revision.max(part.revision);
        outcome.written.extend(part.written);
        outcome.already_done.extend(part.already_done);
    }
    Ok(outcome)
}

/// The compares of a write guarded by what was seen, when every key's
/// state is known (`None` otherwise: read first).
fn seen_guards(keys: &[String], seen: &[SeenOperation]) -> Option<Vec<Compare>> {
    if seen.len() != keys.len() {
        return None;
    }
    keys.iter()
        .zip(seen)
        .map(|(key, seen)| match seen {
            SeenOperation::Absent => Some(Compare::Absent(key.clone().into_bytes())),
            SeenOperation::NotDone { mod_revision } => Some(Compare::ModRevision(
                key.clone().into_bytes(),
                *mod_revision,
            )),
            SeenOperation::Unknown => None,
        })
        .collect()
}

/// One chunk of [`put_operations_seen`] with `skip_done`, in at most
/// [`CONTENDED_ATTEMPTS`](crate::etcd::retry::CONTENDED_ATTEMPTS) read-compare-write attempts: the first is guarded by
/// what was seen when every key's state is known, the others read first.
async fn put_chunk_skip_done(
    etcd: &Etcd,
    space: &KeySpace,
    fence: Option<&Fence>,
    ops: &[Operation],
    seen: &[SeenOperation],
) -> Result<PutOperationsOutcome> {
    let keys: Vec<String> = ops
        .iter()
        .map(|op| operation_key(space, &op.task, &op.source))
        .collect();
    let seen_guards = seen_guards(&keys, seen);
    let (keys, seen_guards) = (&keys, &seen_guards);
    retry_contended("put operations skip done", move |attempt| async move {
        match seen_guards {
            Some(compares) if attempt == 0 => {
                put_chunk_as_seen(etcd, fence, keys, ops, compares.clone()).await
            }
            _ => read_then_put_chunk(etcd, fence, keys, ops).await,
        }
    })
    .await
}

/// Writes every Operation of a chunk under the guards of what was seen;
/// `None` when a guard failed.
async fn put_chunk_as_seen(
    etcd: &Etcd,
    fence: Option<&Fence>,
    keys: &[String],
    ops: &[Operation],
    compares: Vec<Compare>,
) -> Result<Option<PutOperationsOutcome>> {
    let puts: Vec<Op> = keys
        .iter()
        .zip(ops)
        .map(|(key, op)| Op::put(key.as_str(), op.encode()))
        .collect();
    let txn = Txn::new("put operations skip done")
        .when(compares)
        .then(puts);
    let result = etcd.txn_fenced(txn, fence).await?;
    Ok(result.succeeded.then(|| PutOperationsOutcome {
        revision: result.revision,
        written: ops.iter().map(|op| op.source.clone()).collect(),
        already_done: Vec::new(),
    }))
}

/// Reads the keys of a chunk, then writes the Operations not stored done,
/// each guarded by what was read; `None` when a key changed in between.
async fn read_then_put_chunk(
    etcd: &Etcd,
    fence: Option<&Fence>,
    keys: &[String],
    ops: &[Operation],
) -> Result<Option<PutOperationsOutcome>> {
    let read = etcd
        .txn(Txn::new("read operations").then(keys.iter().map(|k| Op::get(k.as_str()))))
        .await?;
    let mut compares = Vec::new();
    let mut puts = Vec::new();
    let mut outcome = PutOperationsOutcome::default();
    for (i, (key, op)) in keys.iter().zip(ops).enumerate() {
        match read.get_result(i).first() {
            None => compares.push(Compare::Absent(key.clone().into_bytes())),
            Some(kv) if stored_done(kv) => {
                outcome.already_done.push(op.source.clone());
                continue;
            }
            Some(kv) => compares.push(Compare::ModRevision(
                key.clone().into_bytes(),
                kv.mod_revision,
            )),
        }
        puts.push(Op::put(key.as_str(), op.encode()));
        outcome.written.push(op.source.clone());
    }
    if puts.is_empty() {
        outcome.revision = read.revision;
        return Ok(Some(outcome));
    }
    let txn = Txn::new("put operations skip done")
        .when(compares)
        .then(puts);
    let result = etcd.txn_fenced(txn, fence).await?;
    outcome.revision = result.revision;
    Ok(result.succeeded.then_some(outcome))
}

/// A stored Operation counts as done when it decodes with `done = true`.
/// A value that does not decode is treated as not done: the master owns
/// Operation keys and may overwrite its own garbage.
fn stored_done(kv: &KeyValue) -> bool {
    Operation::decode(&kv.value)
        .map(|op| op.done)
        .unwrap_or(false)
}

/// Deletes keys (Operations and Infos of a lock being removed), fenced,
/// chunked under the txn limit. Deletes of keys that are gone are no-ops.
pub async fn delete_keys(
    etcd: &Etcd,
    fence: Option<&Fence>,
    name: &'static str,
    keys: impl IntoIterator<Item = String>,
) -> Result<i64> {
    let ops = keys.into_iter().map(Op::delete).collect();
    etcd.batch_fenced(name, ops, fence).await
}

/// Worker: puts an Info unless this source's Operation exists and is done
/// (DM's `PutInfoIfOpNotDone`). Returns `(revision, put)`.
///
/// DM does this with a value compare on bytes read in a first txn; we compare
/// the Operation's mod revision, which says the same without depending on
/// byte-identical JSON.
pub async fn put_info_if_op_not_done(
    etcd: &Etcd,
    space: &KeySpace,
    info: &Info,
) -> Result<(i64, bool)> {
    let ikey = info_key(space, &info.task, &info.source);
    let okey = operation_key(space, &info.task, &info.source);
    let value = info.encode();
    let (ikey, okey, value) = (&ikey, &okey, &value);
    // Never report "not put" after the last attempt: the caller would take
    // it for "the Operation is done" and wait for a deletion that may never
    // come; the helper reports the contention instead.
    retry_contended("put info if operation not done", move |_| async move {
        let txn = Txn::new("put info if no operation")
            .when([Compare::Absent(okey.clone().into_bytes())])
            .then([Op::put(ikey.as_str(), value.clone())])
            .otherwise([Op::get(okey.as_str())]);
        let outcome = etcd.txn(txn).await?;
        if outcome.succeeded {
            return Ok(Some((outcome.revision, true)));
        }
        let Some(op_kv) = outcome.get_result(0).first().cloned() else {
            // Deleted between compare and read: try again.
            return Ok(None);
        };
        if stored_done(&op_kv) {
            return Ok(Some((outcome.revision, false)));
        }
        let txn = Txn::new("put info if operation not done")
            .when([Compare::ModRevision(
                okey.clone().into_bytes(),
                op_kv.mod_revision,
            )])
            .then([Op::put(ikey.as_str(), value.clone())]);
        let outcome = etcd.txn(txn).await?;
        Ok(outcome.succeeded.then_some((outcome.revision, true)))
    })
    .await
}

/// Worker: marks its Operation done and deletes its Info in one txn (DM's
/// `PutOperationDeleteExistInfo`), writing DM's exact done value. When the
/// Info is already gone and the stored Operation is byte-equal to the done
/// value, an earlier attempt committed and only its reply was lost: that
/// counts as done. Returns `(done, revision)`.
pub async fn put_operation_done_delete_info(
    etcd: &Etcd,
    space: &KeySpace,
    op: &Operation,
) -> Result<(bool, i64)> {
    let ikey = info_key(space, &op.task, &op.source);
    let okey = operation_key(space, &op.task, &op.source);
    let mut done_op = op.clone();
    done_op.done = true;
    let value = done_op.encode();
    let txn = Txn::new("put done operation and delete info")
        .when([Compare::Exists(ikey.clone().into_bytes())])
        .then([
            Op::put(okey.as_str(), value.clone()),
            Op::delete(ikey.as_str()),
        ])
        .otherwise([Op::get(okey.as_str())]);
    let outcome = etcd.txn(txn).await?;
    if outcome.succeeded {
        return Ok((true, outcome.revision));
    }
    let stored = outcome.get_result(0);
    let done = stored.len() == 1 && stored[0].value == value;
    Ok((done, outcome.revision))
}

/// Reads the Infos and Operations of one task at one revision (DM's
/// `GetInfosOperationsByTask`).
pub async fn get_infos_operations_by_task(
    etcd: &Etcd,
    space: &KeySpace,
    task: &str,
) -> Result<(Vec<KeyValue>, Vec<KeyValue>, i64)> {
    let txn = Txn::new("get infos and operations of task").then([
        Op::get_prefix(space.prefix(&PESSIMISM_INFO, &[task])),
        Op::get_prefix(space.prefix(&PESSIMISM_OPERATION, &[task])),
    ]);
    let outcome = etcd.txn(txn).await?;
    Ok((
        outcome.get_result(0).to_vec(),
        outcome.get_result(1).to_vec(),
        outcome.revision,
    ))
}

/// Deletes every Info and Operation of a task (remove-meta), fenced.
pub async fn delete_infos_operations_by_task(
    etcd: &Etcd,
    space: &KeySpace,
    fence: Option<&Fence>,
    task: &str,
) -> Result<i64> {
    let txn = Txn::new("delete infos and operations of task").then([
        Op::delete_prefix(space.prefix(&PESSIMISM_INFO, &[task])),
        Op::delete_prefix(space.prefix(&PESSIMISM_OPERATION, &[task])),
    ]);
    Ok(etcd.txn_fenced(txn, fence).await?.revision)
}
