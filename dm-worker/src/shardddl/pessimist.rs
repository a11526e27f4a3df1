//! The pessimistic client of one source (DM's `syncer/shardddl/pessimist.go`).
//!
//! Flow (docs/protocol.md#pessimistic-steps, #pessimistic-worker): put the Info unless our
//! Operation is done (then wait for the lock to finish and put again); wait for our Operation
//! from the Info's revision + 1; execute or skip; mark done and delete the
//! Info in one txn. Every step can be re-run after a crash, as DM's
//! re-entrancy rules require (docs/protocol.md#pessimistic-reentrancy).

use dm_master::etcd::watch::WatchEvent;
use dm_master::etcd::Etcd;
use dm_master::keys::KeySpace;
use dm_master::pessimism::ops;
use dm_master::pessimism::{Info, Operation};
use tokio_util::sync::CancellationToken;

use super::KeyWatch;
use crate::error::{Error, Result};

/// The pessimistic shard-DDL client of one (task, source).
#[derive(Debug, Clone)]
pub struct PessimistClient {
    etcd: Etcd,
    space: KeySpace,
    task: String,
    source: String,
}

/// What the execute-or-skip step was told to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Execute,
    Skip,
}

impl PessimistClient {
    pub fn new(etcd: Etcd, space: KeySpace, task: &str, source: &str) -> PessimistClient {
        PessimistClient {
            etcd,
            space,
            task: task.to_owned(),
            source: source.to_owned(),
        }
    }

    /// An Info for this source on downstream `schema.table`.
    pub fn info(&self, schema: &str, table: &str, ddls: Vec<String>) -> Info {
        Info {
            task: self.task.clone(),
            source: self.source.clone(),
            schema: schema.to_owned(),
            table: table.to_owned(),
            ddls: Some(ddls),
        }
    }

    /// Step 2: puts the Info and returns its revision. If our Operation of
    /// an earlier lock is still there and done, waits until the master
    /// deletes it (the lock resolved), then puts. Unlike DM (DM gap P8 in docs/dm-gaps.md), the
    /// wait starts from a fresh read, so a deletion that already happened is
    /// never missed.
    pub async fn put_info(&self, info: &Info, cancel: &CancellationToken) -> Result<i64> {
        loop {
            let (revision, put) =
                ops::put_info_if_op_not_done(&self.etcd, &self.space, info).await?;
            if put {
                tracing::info!(task = %self.task, source = %self.source, revision, "info put");
                return Ok(revision);
            }
            tracing::info!(task = %self.task, source = %self.source, "previous operation is done but its lock is not resolved yet, waiting");
            self.wait_operation_deleted(cancel).await?;
        }
    }

    async fn wait_operation_deleted(&self, cancel: &CancellationToken) -> Result<()> {
        let key = ops::operation_key(&self.space, &self.task, &self.source);
        let current = self.etcd.get(key.as_str()).await?;
        if current.value.is_none() {
            return Ok(());
        }
        let mut events = self.watch_key(key, current.revision, cancel);
        loop {
            match events.recv().await {
                Some(WatchEvent::Delete { .. }) => return Ok(()),
                Some(WatchEvent::Resynced(snapshot)) if snapshot.value.is_empty() => return Ok(()),
                Some(_) => {}
                None => {
                    return Err(Error::Cancelled {
                        during: "waiting for the previous operation to be deleted",
                    })
                }
            }
        }
    }

    /// Step 3/5: waits for the first Operation PUT after `info_revision`.
    pub async fn wait_operation(
        &self,
        info_revision: i64,
        cancel: &CancellationToken,
    ) -> Result<Operation> {
        let key = ops::operation_key(&self.space, &self.task, &self.source);
        let mut events = self.watch_key(key, info_revision, cancel);
        let during = "waiting for the shard DDL operation";
        let (op, _) = events
            .next_operation::<Operation>(info_revision, during, (&self.task, &self.source))
            .await?;
        tracing::info!(task = %self.task, source = %self.source, lock_id = %op.id, exec = op.exec, done = op.done, "operation received");
        Ok(op)
    }

    /// Step 8: marks the Operation done and deletes our Info in one txn.
    pub async fn done(&self, op: &Operation) -> Result<i64> {
        let (done, revision) =
            ops::put_operation_done_delete_info(&self.etcd, &self.space, op).await?;
        if !done {
            return Err(Error::InfoNotFound {
                task: self.task.clone(),
                source_id: self.source.clone(),
            });
        }
        tracing::info!(task = %self.task, source = %self.source, lock_id = %op.id, revision, "operation done");
        Ok(revision)
    }

    /// The whole flow for one DDL: put the Info, wait for the Operation,
    /// run `step` with [`Decision::Execute`] or [`Decision::Skip`], report
    /// done. A failing `step` leaves the Operation not done (the lock waits,
    /// as when DM pauses a task on a downstream error).
    pub async fn sync_ddl<F, Fut>(
        &self,
        info: &Info,
        cancel: &CancellationToken,
        step: F,
    ) -> Result<(Operation, Decision)>
    where
        F: FnOnce(Decision, &Operation) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<(), String>>,
    {
        let revision = self.put_info(info, cancel).await?;
        let op = self.wait_operation(revision, cancel).await?;
        let decision = if op.exec {
            Decision::Execute
        } else {
            Decision::Skip
        };
        step(decision, &op).await.map_err(Error::Execute)?;
        self.done(&op).await?;
        Ok((op, decision))
    }

    fn watch_key(&self, key: String, after: i64, cancel: &CancellationToken) -> KeyWatch {
        KeyWatch::start(&self.etcd, key, after, cancel)
    }
}
