//! The optimistic client of one source (DM's `syncer/shardddl/optimist.go`
//! and the reactions of `syncer/ddl.go`, docs/protocol.md#conflict-stages).
//!
//! The worker announces its upstream tables (SourceTables), puts one Info
//! per DDL of a routed table (the DDLs split into single-spec statements, the
//! schema before and after each), waits for the master's Operation, reacts
//! to its conflict stage, and writes the Operation back with `done = true`.

use dm_master::etcd::Etcd;
use dm_master::keys::KeySpace;
use dm_master::optimism::ops::{self, TableKey};
use dm_master::optimism::{ConflictStage, Info, Operation, SourceTables};
use tokio_util::sync::CancellationToken;

use super::KeyWatch;
use crate::error::{Error, Result};

/// What the master told one table to do with its DDL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Execute these DDLs downstream (possibly none), then report done.
    Execute(Operation),
    /// The DDL conflicts with other shards for now: do not execute it, hold
    /// this table back, and wait for a redirect (`resolved`) on the same key.
    SkipAndWaitRedirect(Operation),
}

/// The optimistic shard-DDL client of one (task, source).
#[derive(Debug, Clone)]
pub struct OptimistClient {
    etcd: Etcd,
    space: KeySpace,
    task: String,
    source: String,
    /// `strict-optimistic-shard-mode`: any conflict fails at once instead
    /// of waiting (DM's `syncer/ddl.go`).
    strict: bool,
}

impl OptimistClient {
    pub fn new(etcd: Etcd, space: KeySpace, task: &str, source: &str) -> OptimistClient {
        OptimistClient {
            etcd,
            space,
            task: task.to_owned(),
            source: source.to_owned(),
            strict: false,
        }
    }

    /// The same client under `strict-optimistic-shard-mode` (or not).
    pub fn strict(mut self, strict: bool) -> OptimistClient {
        self.strict = strict;
        self
    }

    /// Announces every upstream table of this source and its route (at
    /// subtask start, and after CREATE/DROP TABLE).
    pub async fn put_source_tables(&self, tables: &SourceTables) -> Result<i64> {
        Ok(ops::put_source_tables(&self.etcd, &self.space, tables).await?)
    }

    /// Puts the Info of one DDL batch; returns its revision.
    pub async fn put_info(&self, info: &Info) -> Result<i64> {
        let revision = ops::put_info(&self.etcd, &self.space, info).await?;
        tracing::info!(task = %self.task, source = %self.source, schema = %info.up_schema, table = %info.up_table, revision, "optimistic info put");
        Ok(revision)
    }

    /// Waits for the answer to an Info put at `info_revision`, following
    /// the stages of docs/protocol.md#conflict-stages: `detected` keeps waiting (a later
    /// Operation on the same key answers), `error` fails, `skip and wait for
    /// redirect` returns [`Answer::SkipAndWaitRedirect`], `none` / `unlocked`
    /// / `resolved` return [`Answer::Execute`]. Under strict mode `detected`
    /// and `skip and wait for redirect` fail too, as in DM.
    pub async fn wait_answer(
        &self,
        key: &TableKey,
        info_revision: i64,
        cancel: &CancellationToken,
    ) -> Result<Answer> {
        let mut after = info_revision;
        loop {
            let (op, revision) = self.next_operation(key, after, cancel).await?;
            after = revision;
            let conflict = |message: &str| Error::Conflict {
                lock_id: op.id.clone(),
                ddls: op.ddls.clone().unwrap_or_default(),
                message: message.to_owned(),
            };
            match &op.conflict_stage {
                ConflictStage::Detected if self.strict => {
                    tracing::error!(task = %self.task, source = %self.source, lock_id = %op.id, message = %op.conflict_message, "shard DDL conflict detected under strict optimistic mode, stopping");
                    return Err(conflict(&op.conflict_message));
                }
                ConflictStage::SkipWaitRedirect if self.strict => {
                    tracing::error!(task = %self.task, source = %self.source, lock_id = %op.id, "shard DDL must wait for a redirect under strict optimistic mode, stopping");
                    return Err(conflict(""));
                }
                ConflictStage::Detected => {
                    tracing::warn!(task = %self.task, source = %self.source, lock_id = %op.id, message = %op.conflict_message, "shard DDL conflict detected, waiting");
                    continue;
                }
                ConflictStage::Error => return Err(conflict(&op.conflict_message)),
                ConflictStage::SkipWaitRedirect => return Ok(Answer::SkipAndWaitRedirect(op)),
                _ => return Ok(Answer::Execute(op)),
            }
        }
    }

    /// After [`Answer::SkipAndWaitRedirect`]: waits until the master
    /// redirects this table (`resolved` or `none` on the same key).
    pub async fn wait_redirect(
        &self,
        key: &TableKey,
        after_revision: i64,
        cancel: &CancellationToken,
    ) -> Result<Operation> {
        let mut after = after_revision;
        loop {
            let (op, revision) = self.next_operation(key, after, cancel).await?;
            after = revision;
            if matches!(
                op.conflict_stage,
                ConflictStage::Resolved | ConflictStage::None
            ) {
                return Ok(op);
            }
        }
    }

    /// Writes the Operation back with `done = true`.
    pub async fn done(&self, op: &Operation) -> Result<i64> {
        let revision = ops::done_operation(&self.etcd, &self.space, op).await?;
        tracing::info!(task = %self.task, source = %self.source, lock_id = %op.id, revision, "optimistic operation done");
        Ok(revision)
    }

    /// The Operation key's current revision, to start a redirect wait from.
    pub async fn operation_revision(&self, key: &TableKey) -> Result<i64> {
        let kv = self
            .etcd
            .get(ops::operation_key(&self.space, &self.task, key))
            .await?;
        Ok(kv.value.map(|kv| kv.mod_revision).unwrap_or(kv.revision))
    }

    async fn next_operation(
        &self,
        key: &TableKey,
        after: i64,
        cancel: &CancellationToken,
    ) -> Result<(Operation, i64)> {
        let op_key = ops::operation_key(&self.space, &self.task, key);
        let mut events = KeyWatch::start(&self.etcd, op_key, after, cancel);
        let during = "waiting for the optimistic shard DDL operation";
        let (op, revision) = events
            .next_operation::<Operation>(after, during, (&self.task, &self.source))
            .await?;
        tracing::info!(task = %self.task, source = %self.source, lock_id = %op.id, stage = %op.conflict_stage, ddls = ?op.ddls, "optimistic operation received");
        Ok((op, revision))
    }
}
