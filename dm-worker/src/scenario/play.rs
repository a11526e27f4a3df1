//! One run of a scenario against etcd and the downstream: registration,
//! the SourceTables announcement, then every step in order; routed DDL goes
//! through the pessimistic client (local sharding group) or the optimistic
//! one (execute the answer, or wait for the redirect and re-put).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use dm_master::etcd::Etcd;
use dm_master::keys::{KeySpace, UPSTREAM_SUBTASK};
use dm_master::optimism::ops::TableKey;
use dm_master::optimism::{Info as OptimisticInfo, SourceTables};
use tokio_util::sync::CancellationToken;

use super::routes::{batches, Batch};
use super::{dry_run, step_error, Control, Executed, Mode, Report, Scenario, Via, Waiting};
use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::shardddl::optimist::{Answer, OptimistClient};
use crate::shardddl::pessimist::PessimistClient;
use crate::tracker::{StatementKind, TableName, TrackedStatement, Tracker};

/// Runs a scenario to its end. `progress` receives one line per event.
pub async fn run(
    scenario: &Scenario,
    etcd: &Etcd,
    space: &KeySpace,
    executor: &mut Executor,
    cancel: &CancellationToken,
    progress: &mut (dyn FnMut(String) + Send),
) -> Result<Report> {
    let control = Control::unpaused(cancel.clone());
    run_controlled(scenario, etcd, space, executor, &control, progress).await
}

/// [`run`], paused and observed through `control`.
pub async fn run_controlled(
    scenario: &Scenario,
    etcd: &Etcd,
    space: &KeySpace,
    executor: &mut Executor,
    control: &Control,
    progress: &mut (dyn FnMut(String) + Send),
) -> Result<Report> {
    let cancel = &control.cancel;
    let mut source_tables = dry_run(scenario)?;
    // An unreachable downstream fails here, before the subtask or any
    // SourceTables are written.
    executor.connect().await?;
    let mut worker = Worker {
        scenario,
        etcd,
        space,
        executor,
        cancel,
        control,
        progress,
        tracker: Tracker::new(),
        pending: BTreeMap::new(),
        report: Report::default(),
        pessimist: PessimistClient::new(
            etcd.clone(),
            space.clone(),
            &scenario.task,
            &scenario.source,
        ),
        optimist: OptimistClient::new(
            etcd.clone(),
            space.clone(),
            &scenario.task,
            &scenario.source,
        )
        .strict(scenario.strict_optimistic),
    };
    if scenario.registers_subtask {
        worker.register().await?;
    }
    if scenario.mode == Mode::Optimistic {
        // DM announces the upstream tables at subtask start, so the master
        // knows every shard before the first Info.
        worker.optimist.put_source_tables(&source_tables).await?;
        worker.say(format!(
            "announced {} routed upstream table(s)",
            count_tables(&source_tables)
        ));
    }
    let replayed_up_to = control.reached_step();
    for (n, step) in scenario.steps.iter().enumerate() {
        control.proceed().await?;
        control.report(|w| w.reached_step = w.reached_step.max(n));
        if let Some(ms) = step.pause_ms {
            if n < replayed_up_to {
                worker.say(format!(
                    "step {}: pause already passed before a replay, skipped",
                    n + 1
                ));
                continue;
            }
            worker.say(format!("step {}: pause {ms} ms", n + 1));
            // A pause step is idle upstream time: pausing the subtask ends
            // it (the run then holds before its next step).
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(ms)) => {}
                () = control.paused() => worker.say(format!("step {}: subtask paused, the rest of the pause is skipped", n + 1)),
                () = cancel.cancelled() => return Err(Error::Cancelled { during: "a scenario pause" }),
            }
            continue;
        }
        if let Some(sources) = &step.await_tables_of {
            worker.say(format!(
                "step {}: waiting for the tables of {}",
                n + 1,
                sources.join(", ")
            ));
            tokio::select! {
                waited = tables_announced(etcd, space, &scenario.task, sources) => waited?,
                () = control.paused() => worker.say(format!("step {}: subtask paused, the wait for tables ends", n + 1)),
                () = cancel.cancelled() => return Err(Error::Cancelled { during: "a wait for other sources' tables" }),
            }
            continue;
        }
        let (Some(schema), Some(sql)) = (&step.schema, &step.sql) else {
            continue;
        };
        worker.say(format!("step {}: [{schema}] {sql}", n + 1));
        worker
            .step(n, schema, sql, &mut source_tables)
            .await
            .map_err(|e| step_error(n, e))?;
    }
    for (upstream, queue) in &worker.pending {
        for ddls in queue {
            worker
                .report
                .unsynced
                .push(format!("{upstream}: {}", ddls.join("; ")));
        }
    }
    let Worker {
        mut report,
        progress,
        ..
    } = worker;
    for line in &report.unsynced {
        progress(format!(
            "still waiting for other local shard tables: {line}"
        ));
    }
    report.unsynced.sort();
    control.report(|w| w.caught_up = true);
    Ok(report)
}

fn count_tables(tables: &SourceTables) -> usize {
    tables
        .tables
        .values()
        .flat_map(|t| t.values())
        .flat_map(|s| s.values())
        .map(|t| t.len())
        .sum()
}

/// The state of one run.
struct Worker<'a> {
    scenario: &'a Scenario,
    etcd: &'a Etcd,
    space: &'a KeySpace,
    executor: &'a mut Executor,
    cancel: &'a CancellationToken,
    control: &'a Control,
    progress: &'a mut (dyn FnMut(String) + Send),
    tracker: Tracker,
    /// Pessimistic local sharding group: routed DDLs each upstream table
    /// applied that were not yet sent to the master.
    pending: BTreeMap<TableName, VecDeque<Vec<String>>>,
    report: Report,
    pessimist: PessimistClient,
    optimist: OptimistClient,
}

impl Worker<'_> {
    fn say(&mut self, line: String) {
        (self.progress)(format!("[{}] {line}", self.scenario.source));
    }

    /// Puts the subtask config unless one is registered already.
    async fn register(&mut self) -> Result<()> {
        let key = self.space.key(
            &UPSTREAM_SUBTASK,
            [&self.scenario.source, &self.scenario.task],
        );
        if self.etcd.get(key.as_str()).await?.value.is_some() {
            self.say(format!("subtask {} already registered", self.scenario.task));
            return Ok(());
        }
        self.etcd
            .put(key, self.scenario.subtask().to_toml())
            .await?;
        self.say(format!(
            "registered subtask {} ({} mode)",
            self.scenario.task,
            self.scenario.mode.as_str()
        ));
        Ok(())
    }

    async fn execute(&mut self, step: usize, ddls: &[String], via: Via) -> Result<()> {
        let outcomes = self.executor.execute(ddls).await?;
        for (ddl, outcome) in ddls.iter().zip(outcomes) {
            self.say(format!("downstream: {ddl} ({outcome:?})"));
            self.report.executed.push(Executed {
                step,
                ddl: ddl.clone(),
                via,
                outcome,
            });
        }
        Ok(())
    }

    async fn step(
        &mut self,
        n: usize,
        schema: &str,
        sql: &str,
        source_tables: &mut SourceTables,
    ) -> Result<()> {
        let routes = self.scenario.router();
        let tracked = self.tracker.apply(schema, sql, &routes)?;
        for batch in batches(routes, tracked.statements)? {
            match batch {
                Batch::Direct(ddls) => self.execute(n, &ddls, Via::Direct).await?,
                Batch::Skip(statements) => self.skip(statements, source_tables).await?,
                Batch::Shard {
                    upstream,
                    target,
                    statements,
                } => match self.scenario.mode {
                    Mode::Pessimistic => self.pessimistic(n, upstream, target, statements).await?,
                    Mode::Optimistic => self.optimistic(n, upstream, target, statements).await?,
                    Mode::Unsharded => {
                        let ddls: Vec<String> = statements.into_iter().map(|s| s.sql).collect();
                        self.execute(n, &ddls, Via::Direct).await?
                    }
                },
            }
        }
        Ok(())
    }

    /// DROP / TRUNCATE of a routed table: not executed on the merged table.
    /// In optimistic mode a dropped table leaves the SourceTables, so the
    /// master stops waiting for it.
    async fn skip(
        &mut self,
        statements: Vec<TrackedStatement>,
        source_tables: &mut SourceTables,
    ) -> Result<()> {
        let routes = self.scenario.router();
        let mut changed = false;
        for st in statements {
            self.say(format!("not executed on the merged table: {}", st.sql));
            if st.kind != StatementKind::DropTable {
                continue;
            }
            if let Some(up) = &st.table {
                self.pending.remove(up);
                if let Some(target) = routes.target(up) {
                    changed |= source_tables.remove_table(
                        &up.schema,
                        &up.table,
                        &target.schema,
                        &target.table,
                    );
                }
            }
        }
        if changed && self.scenario.mode == Mode::Optimistic {
            self.optimist.put_source_tables(source_tables).await?;
            self.say("dropped table removed from the source tables".into());
        }
        Ok(())
    }

    /// Pessimistic mode: queue the routed DDL for its upstream table; once
    /// every local shard table of the target reached a DDL (DM's local
    /// sharding group), put one Info and execute or skip as told.
    async fn pessimistic(
        &mut self,
        n: usize,
        upstream: TableName,
        target: TableName,
        statements: Vec<TrackedStatement>,
    ) -> Result<()> {
        let ddls: Vec<String> = statements.into_iter().map(|s| s.sql).collect();
        self.pending
            .entry(upstream.clone())
            .or_default()
            .push_back(ddls);
        let routes = self.scenario.router();
        let group: BTreeSet<TableName> = self
            .tracker
            .tables()
            .map(|(name, _)| name.clone())
            .filter(|name| routes.target(name).as_ref() == Some(&target))
            .chain(std::iter::once(upstream.clone()))
            .collect();
        let waiting: Vec<&TableName> = group
            .iter()
            .filter(|t| self.pending.get(*t).is_none_or(VecDeque::is_empty))
            .collect();
        if !waiting.is_empty() {
            let names: Vec<String> = waiting.iter().map(ToString::to_string).collect();
            self.say(format!(
                "{upstream}: waiting for local shard table(s) {} to reach the DDL",
                names.join(", ")
            ));
            return Ok(());
        }
        let mut fronts = Vec::new();
        for table in &group {
            if let Some(ddls) = self.pending.get_mut(table).and_then(VecDeque::pop_front) {
                fronts.push((table.clone(), ddls));
            }
        }
        let Some((_, ddls)) = fronts.first().cloned() else {
            return Ok(());
        };
        if let Some((table, other)) = fronts.iter().find(|(_, d)| *d != ddls) {
            return Err(Error::Scenario(format!(
                "local shard tables of {target} disagree: {} reached `{}`, {table} reached `{}`",
                upstream,
                ddls.join("; "),
                other.join("; ")
            )));
        }
        self.say(format!(
            "all {} local shard table(s) reached `{}`: putting the Info for {target}",
            group.len(),
            ddls.join("; ")
        ));
        let info = self
            .pessimist
            .info(&target.schema, &target.table, ddls.clone());
        self.control.report(|w| {
            w.lock_id = info.lock_id();
            w.ddls = ddls.clone();
        });
        let revision = self.pessimist.put_info(&info, self.cancel).await?;
        let op = self.pessimist.wait_operation(revision, self.cancel).await?;
        self.control.proceed().await?;
        if op.exec {
            self.say(format!("owner of lock {}: executing", op.id));
            // Like DM, the owner runs its own routed statements.
            self.execute(n, &ddls, Via::Pessimistic).await?;
        } else {
            self.say(format!("lock {}: another source executes, skipping", op.id));
            self.report.skipped_locks.push(op.id.clone());
        }
        self.pessimist.done(&op).await?;
        self.control.report(Waiting::lock_answered);
        self.say(format!("lock {}: done", op.id));
        Ok(())
    }

    /// Optimistic mode: one Info per DDL of a shard table; execute what the
    /// master answers, or wait for its redirect and send the Info again.
    async fn optimistic(
        &mut self,
        n: usize,
        upstream: TableName,
        target: TableName,
        statements: Vec<TrackedStatement>,
    ) -> Result<()> {
        let info = OptimisticInfo {
            task: self.scenario.task.clone(),
            source: self.scenario.source.clone(),
            up_schema: upstream.schema.clone(),
            up_table: upstream.table.clone(),
            down_schema: target.schema.clone(),
            down_table: target.table.clone(),
            ddls: Some(statements.iter().map(|s| s.sql.clone()).collect()),
            table_info_before: statements
                .first()
                .and_then(|s| s.before.as_ref())
                .map(|t| t.to_json_value().into()),
            table_info_after: Some(
                statements
                    .iter()
                    .filter_map(|s| s.after.as_ref())
                    .map(|t| t.to_json_value().into())
                    .collect(),
            ),
            ignore_conflict: false,
        };
        let key = TableKey::new(&self.scenario.source, &upstream.schema, &upstream.table);
        let ddls = info.ddls.clone().unwrap_or_default();
        self.control.report(|w| {
            w.lock_id = info.lock_id();
            w.ddls = ddls.clone();
        });
        loop {
            let revision = self.optimist.put_info(&info).await?;
            let answer = match self.optimist.wait_answer(&key, revision, self.cancel).await {
                Err(Error::Conflict {
                    lock_id, message, ..
                }) => {
                    // DM names the DDLs this source tried, not the lock's.
                    self.control.report(|w| w.conflict = message.clone());
                    return Err(Error::Conflict {
                        lock_id,
                        ddls,
                        message,
                    });
                }
                other => other?,
            };
            self.control.proceed().await?;
            match answer {
                Answer::Execute(op) => {
                    let ddls = op.ddls.clone().unwrap_or_default();
                    self.say(format!(
                        "{upstream}: master says run {ddls:?} (lock {})",
                        op.id
                    ));
                    self.execute(n, &ddls, Via::Optimistic).await?;
                    self.optimist.done(&op).await?;
                    self.control.report(Waiting::lock_answered);
                    return Ok(());
                }
                Answer::SkipAndWaitRedirect(op) => {
                    self.say(format!(
                        "{upstream}: conflicts with other shards for now (lock {}), waiting for a redirect",
                        op.id
                    ));
                    // From the Info's revision: a redirect written before
                    // this watch starts is still seen (the skip answer
                    // itself is passed over).
                    self.optimist
                        .wait_redirect(&key, revision, self.cancel)
                        .await?;
                    self.say(format!("{upstream}: redirected, sending the DDL again"));
                }
            }
        }
    }
}

/// Returns once every one of `sources` has a SourceTables key for `task`:
/// one read of the task's SourceTables keys (not their values) per poll
/// (the step runs once per subtask start).
async fn tables_announced(
    etcd: &Etcd,
    space: &KeySpace,
    task: &str,
    sources: &[String],
) -> Result<()> {
    let wanted: Vec<String> = sources
        .iter()
        .map(|source| dm_master::optimism::ops::source_tables_key(space, task, source))
        .collect();
    let prefix = space.prefix(&dm_master::keys::OPTIMISM_SOURCE_TABLES, &[task]);
    loop {
        let announced = etcd.get_prefix_keys(&prefix).await?.value;
        if wanted
            .iter()
            .all(|key| announced.iter().any(|k| k == key.as_bytes()))
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
