//! The etcd transactions of optimistic mode (DM's `optimism/{info,operation,
//! table,column,ops}.go`), for the master and the worker crate.
//!
//! Deliberate differences from DM (docs/dm-gaps.md#etcd-key-and-transaction-layer-k,
//! docs/dm-gaps.md#optimistic-shard-ddl-o):
//! * removing sources deletes exactly their SourceTables keys (DM uses the
//!   full key as a prefix, so removing `mysql-1` also removed `mysql-10`);
//! * dropping a table does not issue DM's 4-part no-op delete;
//! * resolving a lock deletes its keys in chunks under the txn limit (DM's
//!   single txn fails past 63 tables on a stock etcd), each chunk guarded by
//!   the Info versions it covers;
//! * redirect Operations of one resolution go out in one txn when they fit.

use futures_util::stream::{FuturesOrdered, StreamExt};

use crate::error::Result;
use crate::etcd::retry::retry_contended;
use crate::etcd::{Compare, Etcd, Fence, Op, Txn};
use crate::keys::{
    KeySpace, OPTIMISM_DROPPED_COLUMNS, OPTIMISM_INFO, OPTIMISM_OPERATION, OPTIMISM_SOURCE_TABLES,
};
use crate::optimism::keeper::ResolvedTable;
use crate::optimism::{DropColumnStage, Info, Operation, SourceTables};
pub use crate::pessimism::ops::SeenOperation;

// Key builders under the names the callers of these txns use; the layout
// itself lives in `keys`.
pub use crate::keys::TableKey;

pub fn info_key(space: &KeySpace, task: &str, key: &TableKey) -> String {
    space.optimism_info(task, key)
}

pub fn operation_key(space: &KeySpace, task: &str, key: &TableKey) -> String {
    space.optimism_operation(task, key)
}

pub fn source_tables_key(space: &KeySpace, task: &str, source: &str) -> String {
    space.optimism_source_tables(task, source)
}

pub fn dropped_column_key(space: &KeySpace, lock_id: &str, column: &str, key: &TableKey) -> String {
    space.optimism_dropped_column(lock_id, column, key)
}

/// The common prefix of every optimistic key: one watch over it delivers
/// SourceTables, Infos, Operations and dropped columns in revision order.
pub fn optimism_prefix(space: &KeySpace) -> String {
    space.optimism_prefix()
}

/// Master: puts an Operation (DM `PutOperation`). Without `skip_done` the put
/// is unconditional. With `skip_done` (rebuild) it is written unless the
/// stored Operation is done *and* not older than the Info it answers
/// (`info_mod_revision`); each case is guarded by the revision read, instead
/// of DM's three non-atomic txns. Returns whether it was written.
pub async fn put_operation(
    etcd: &Etcd,
    space: &KeySpace,
    fence: Option<&Fence>,
    op: &Operation,
    skip_done: bool,
    info_mod_revision: i64,
) -> Result<bool> {
    put_operation_seen(
        etcd,
        space,
        fence,
        op,
        skip_done,
        info_mod_revision,
        SeenOperation::Unknown,
    )
    .await
}

/// [`put_operation`] with what the caller's watch last saw of the key. With
/// `skip_done` and a key seen absent or not done, the first attempt writes
/// at once guarded by exactly that (absent / mod revision), saving the read
/// round trip; a failed guard falls back to read-then-write.
pub async fn put_operation_seen(
    etcd: &Etcd,
    space: &KeySpace,
    fence: Option<&Fence>,
    op: &Operation,
    skip_done: bool,
    info_mod_revision: i64,
    seen: SeenOperation,
) -> Result<bool> {
    let key = operation_key(
        space,
        &op.task,
        &TableKey::new(&op.source, &op.up_schema, &op.up_table),
    );
    if !skip_done {
        let txn = Txn::new("put operation").then([Op::put(key.as_str(), op.encode())]);
        return Ok(etcd.txn_fenced(txn, fence).await?.succeeded);
    }
    let seen_guard = match seen {
        SeenOperation::Absent => Some(Compare::Absent(key.clone().into_bytes())),
        SeenOperation::NotDone { mod_revision } => {
            Some(Compare::ModRevision(key.clone().into_bytes(), mod_revision))
        }
        SeenOperation::Unknown => None,
    };
    if let Some(guard) = seen_guard {
        let txn = Txn::new("put operation skip done")
            .when([guard])
            .then([Op::put(key.as_str(), op.encode())]);
        if etcd.txn_fenced(txn, fence).await?.succeeded {
            return Ok(true);
        }
    }
    let key = &key;
    retry_contended("put operation skip done", move |_| async move {
        let current = etcd.get(key.as_str()).await?;
        let guard = match &current.value {
            None => Compare::Absent(key.clone().into_bytes()),
            Some(kv) => {
                let done = Operation::decode(&kv.value)
                    .map(|o| o.done)
                    .unwrap_or(false);
                if done && kv.mod_revision >= info_mod_revision {
                    return Ok(Some(false));
                }
                Compare::ModRevision(key.clone().into_bytes(), kv.mod_revision)
            }
        };
        let txn = Txn::new("put operation skip done")
            .when([guard])
            .then([Op::put(key.as_str(), op.encode())]);
        Ok(etcd.txn_fenced(txn, fence).await?.succeeded.then_some(true))
    })
    .await
}

/// Master: puts several Operations (redirects of one resolution). One txn
/// when they fit under the limit, so a resolution is announced to all
/// tables or none (DM puts them one by one, DM gap O8 in docs/dm-gaps.md).
pub async fn put_operations(
    etcd: &Etcd,
    space: &KeySpace,
    fence: Option<&Fence>,
    ops: &[Operation],
) -> Result<i64> {
    let puts = ops
        .iter()
        .map(|op| {
            let key = TableKey::new(&op.source, &op.up_schema, &op.up_table);
            Op::put(operation_key(space, &op.task, &key), op.encode())
        })
        .collect();
    etcd.batch_fenced("put redirect operations", puts, fence)
        .await
}

/// Master: records dropped columns of one table (DM `PutDroppedColumns`).
pub async fn put_dropped_columns(
    etcd: &Etcd,
    space: &KeySpace,
    fence: Option<&Fence>,
    lock_id: &str,
    key: &TableKey,
    cols: &[String],
    stage: DropColumnStage,
) -> Result<i64> {
    let puts = cols
        .iter()
        .map(|c| Op::put(dropped_column_key(space, lock_id, c, key), stage.encode()))
        .collect();
    etcd.batch_fenced("put dropped columns", puts, fence).await
}

/// Master: forgets dropped columns of a lock (DM `DeleteDroppedColumns`).
pub async fn delete_dropped_columns(
    etcd: &Etcd,
    space: &KeySpace,
    fence: Option<&Fence>,
    lock_id: &str,
    cols: &[String],
) -> Result<i64> {
    let deletes = cols
        .iter()
        .map(|c| Op::delete_prefix(space.prefix(&OPTIMISM_DROPPED_COLUMNS, &[lock_id, c])))
        .collect();
    etcd.batch_fenced("delete dropped columns", deletes, fence)
        .await
}

/// How many chunk txns of a resolved lock's removal are in flight at once:
/// enough for etcd to batch them into few WAL syncs, few enough that the
/// requests of a lock of thousands of tables are not all built at once.
const DELETE_CHUNKS_IN_FLIGHT: usize = 8;

/// Master: deletes a resolved lock's Infos, Operations and dropped columns
/// (DM `DeleteInfosOperationsColumns`). Each Info is deleted only if it was
/// not re-put since the master saw it (`Version < seen + 1`), and its
/// Operation only together with it. Returns the tables whose Info was re-put
/// (kept, with their Operation): empty means everything was deleted.
pub async fn delete_resolved_lock(
    etcd: &Etcd,
    space: &KeySpace,
    fence: Option<&Fence>,
    task: &str,
    lock_id: &str,
    tables: &[ResolvedTable],
) -> Result<Vec<TableKey>> {
    let per_txn = ((etcd.max_txn_ops() - 1) / 2).max(1);
    let mut kept = Vec::new();
    // Every chunk is guarded on its own, so several are sent at once and
    // etcd pipelines them, `DELETE_CHUNKS_IN_FLIGHT` at a time (the next
    // one sent as soon as one ends): a chunk's request and its call's
    // state are built when it is sent, and all chunks of a lock of
    // thousands of tables at once were a third of the master's peak heap.
    let chunks: Vec<&[ResolvedTable]> = tables.chunks(per_txn).collect();
    let mut deleted = Vec::with_capacity(chunks.len());
    let mut unsent = chunks.iter();
    let mut in_flight = FuturesOrdered::new();
    for chunk in unsent.by_ref().take(DELETE_CHUNKS_IN_FLIGHT) {
        in_flight.push_back(delete_tables(etcd, space, fence, task, chunk));
    }
    while let Some(result) = in_flight.next().await {
        deleted.push(result);
        if let Some(chunk) = unsent.next() {
            in_flight.push_back(delete_tables(etcd, space, fence, task, chunk));
        }
    }
    for (chunk, deleted) in chunks.into_iter().zip(deleted) {
        if deleted? {
            continue;
        }
        // Some Info of the chunk was re-put: settle the tables one by one so
        // only the re-put ones stay.
        for table in chunk {
            if !delete_tables(etcd, space, fence, task, std::slice::from_ref(table)).await? {
                kept.push(table.key.clone());
            }
        }
    }
    if kept.is_empty() {
        let txn = Txn::new("delete dropped columns of lock").then([Op::delete_prefix(
            space.prefix(&OPTIMISM_DROPPED_COLUMNS, &[lock_id]),
        )]);
        etcd.txn_fenced(txn, fence).await?;
    }
    Ok(kept)
}

async fn delete_tables(
    etcd: &Etcd,
    space: &KeySpace,
    fence: Option<&Fence>,
    task: &str,
    tables: &[ResolvedTable],
) -> Result<bool> {
    let mut compares = Vec::new();
    let mut deletes = Vec::new();
    for t in tables {
        let ikey = info_key(space, task, &t.key);
        compares.push(Compare::VersionBelow(
            ikey.clone().into_bytes(),
            t.info_version + 1,
        ));
        deletes.push(Op::delete(ikey));
        deletes.push(Op::delete(operation_key(space, task, &t.key)));
    }
    let txn = Txn::new("delete infos and operations of lock")
        .when(compares)
        .then(deletes);
    Ok(etcd.txn_fenced(txn, fence).await?.succeeded)
}

/// Master: removes all optimistic metadata of a task (stop-task /
/// remove-meta; DM `DeleteInfosOperationsTablesByTask`).
pub async fn delete_task(
    etcd: &Etcd,
    space: &KeySpace,
    fence: Option<&Fence>,
    task: &str,
    lock_ids: &[String],
) -> Result<i64> {
    let mut ops = vec![
        Op::delete_prefix(space.prefix(&OPTIMISM_INFO, &[task])),
        Op::delete_prefix(space.prefix(&OPTIMISM_OPERATION, &[task])),
        Op::delete_prefix(space.prefix(&OPTIMISM_SOURCE_TABLES, &[task])),
    ];
    for id in lock_ids {
        ops.push(Op::delete_prefix(
            space.prefix(&OPTIMISM_DROPPED_COLUMNS, &[id]),
        ));
    }
    etcd.batch_fenced("delete optimistic task", ops, fence)
        .await
}

/// Master: removes the optimistic metadata of some sources of a task
/// (DM `DeleteInfosOperationsTablesByTaskAndSource`, without its prefix bug).
pub async fn delete_task_sources(
    etcd: &Etcd,
    space: &KeySpace,
    fence: Option<&Fence>,
    task: &str,
    sources: &[String],
    dropped: &[(String, String)], // (lock id, column)
) -> Result<i64> {
    let mut ops = Vec::new();
    for source in sources {
        ops.push(Op::delete_prefix(
            space.prefix(&OPTIMISM_INFO, &[task, source]),
        ));
        ops.push(Op::delete_prefix(
            space.prefix(&OPTIMISM_OPERATION, &[task, source]),
        ));
        // The exact key: a prefix would also match longer source IDs.
        ops.push(Op::delete(source_tables_key(space, task, source)));
        for (lock_id, col) in dropped {
            ops.push(Op::delete_prefix(
                space.prefix(&OPTIMISM_DROPPED_COLUMNS, &[lock_id, col, source]),
            ));
        }
    }
    etcd.batch_fenced("delete optimistic task sources", ops, fence)
        .await
}

/// Master: removes the keys of one upstream table dropped from a lock
/// (DM `DeleteInfosOperationsTablesByTable`, without its no-op delete).
pub async fn delete_table(
    etcd: &Etcd,
    space: &KeySpace,
    fence: Option<&Fence>,
    task: &str,
    lock_id: &str,
    key: &TableKey,
    cols: &[String],
) -> Result<i64> {
    let mut ops = vec![
        Op::delete(info_key(space, task, key)),
        Op::delete(operation_key(space, task, key)),
    ];
    for col in cols {
        ops.push(Op::delete(dropped_column_key(space, lock_id, col, key)));
    }
    etcd.batch_fenced("delete optimistic table", ops, fence)
        .await
}

/// Worker: puts its SourceTables (overwriting, as DM does at subtask start).
pub async fn put_source_tables(etcd: &Etcd, space: &KeySpace, st: &SourceTables) -> Result<i64> {
    etcd.put(source_tables_key(space, &st.task, &st.source), st.encode())
        .await
}

/// Worker: puts an Info and returns its revision.
pub async fn put_info(etcd: &Etcd, space: &KeySpace, info: &Info) -> Result<i64> {
    let key = TableKey::new(&info.source, &info.up_schema, &info.up_table);
    etcd.put(info_key(space, &info.task, &key), info.encode())
        .await
}

/// Worker: writes its Operation back with `done = true` (unconditional, as
/// DM's `DoneOperation`).
pub async fn done_operation(etcd: &Etcd, space: &KeySpace, op: &Operation) -> Result<i64> {
    let key = TableKey::new(&op.source, &op.up_schema, &op.up_table);
    etcd.put(
        operation_key(space, &op.task, &key),
        op.with_done(true).encode(),
    )
    .await
}
