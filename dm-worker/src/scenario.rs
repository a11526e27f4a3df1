//! Scenario-driven worker: plays one DM worker for ONE source from a TOML
//! file of upstream DDL steps (`dm-worker run`).
//!
//! A scenario names the task, the source, the shard mode, the route rules
//! and the upstream statements in order. [`run`] registers the subtask,
//! tracks every statement, executes CREATE TABLE / DATABASE downstream
//! directly (DM does not coordinate them) and sends the other DDLs of routed
//! tables through the pessimistic or optimistic client, executing what the
//! master answers.
//!
//! A joined worker plays the same steps for a real subtask
//! ([`Scenario::for_subtask`]): the task, source, shard mode and routes come
//! from the subtask config the master wrote, the steps from a file the
//! worker's config names for the task ([`TaskScenario`]), and a [`Control`]
//! pauses the run between statements and reports where it waits.
//!
//! Every step is tracked once in a dry run before anything is written, so a
//! statement the tracker cannot read fails the whole run before any Info
//! reaches etcd. Re-running a scenario after a crash is safe
//! (docs/protocol.md#pessimistic-reentrancy): creates replay as "already applied", a not-done
//! Operation is answered again when the Info is re-put, and re-executed DDLs count as
//! "already applied".

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dm_master::etcd::Etcd;
use dm_master::keys::{KeySpace, UPSTREAM_SUBTASK};
use dm_master::optimism::ops::TableKey;
use dm_master::optimism::{Info as OptimisticInfo, SourceTables};
use dm_master::task::{RouteRule, ShardMode, SubTaskConfig};
use serde::Deserialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::executor::{Executor, Outcome};
use crate::shardddl::optimist::{Answer, OptimistClient};
use crate::shardddl::pessimist::PessimistClient;
use crate::tracker::{Router, StatementKind, TableName, TrackedStatement, Tracker};

/// The shard-DDL mode of the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Pessimistic,
    Optimistic,
    /// Not a sharding task: routed DDLs run downstream without
    /// coordination (a subtask with `is-sharding = false`).
    #[serde(skip)]
    Unsharded,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Pessimistic => "pessimistic",
            Mode::Optimistic => "optimistic",
            Mode::Unsharded => "",
        }
    }
}

/// One route rule: upstream patterns (a trailing `*` matches any suffix)
/// to a downstream table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Route {
    pub schema: String,
    #[serde(default = "any")]
    pub table: String,
    pub target_schema: String,
    pub target_table: String,
}

fn any() -> String {
    "*".to_owned()
}

/// One step: an upstream statement run in `schema`, or a pause. In a
/// [`TaskScenario`], `source` limits the step to that source's subtask.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Step {
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub schema: Option<String>,
    #[serde(default)]
    pub sql: Option<String>,
    #[serde(default)]
    pub pause_ms: Option<u64>,
}

/// A parsed scenario file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub task: String,
    pub source: String,
    pub mode: Mode,
    #[serde(default, rename = "route")]
    pub routes: Vec<Route>,
    #[serde(default, rename = "step")]
    pub steps: Vec<Step>,
    /// `strict-optimistic-shard-mode`: a conflict fails the run at once.
    #[serde(skip)]
    pub strict_optimistic: bool,
    /// Whether [`run`] puts the subtask config itself (a standalone run;
    /// a joined worker's subtask was written by the master).
    #[serde(skip, default = "yes")]
    pub registers_subtask: bool,
}

fn yes() -> bool {
    true
}

/// The upstream statements of one task, for a joined worker: the file its
/// config names for the task. It stands in for the binlog (there is no
/// binlog reader); everything else comes from the subtask config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskScenario {
    /// When given, must be the task's name (a guard against a file named
    /// for the wrong task).
    #[serde(default)]
    pub task: Option<String>,
    #[serde(default, rename = "step")]
    pub steps: Vec<Step>,
}

impl TaskScenario {
    /// Parses a task scenario's TOML text.
    pub fn parse(text: &str) -> Result<TaskScenario> {
        toml::from_str(text).map_err(|e| Error::Scenario(format!("bad TOML: {e}")))
    }
}

/// How an executed statement got to the downstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Not coordinated (CREATE TABLE / DATABASE, tables without a route).
    Direct,
    /// As the owner of a pessimistic lock.
    Pessimistic,
    /// As the answer of the optimistic master.
    Optimistic,
}

/// One statement run downstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// Index of the step (0-based) that led to it.
    pub step: usize,
    pub ddl: String,
    pub via: Via,
    pub outcome: Outcome,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Every statement executed downstream, in order.
    pub executed: Vec<Executed>,
    /// Lock ids of pessimistic Operations this source skipped.
    pub skipped_locks: Vec<String>,
    /// Routed DDLs still waiting for other local shard tables at the end
    /// (pessimistic mode), as `upstream table: statements`.
    pub unsynced: Vec<String>,
}

impl Report {
    /// Executed statements with the given via and outcome kind.
    pub fn count(&self, via: Via, applied: bool) -> usize {
        self.executed
            .iter()
            .filter(|e| e.via == via && matches!(e.outcome, Outcome::Applied) == applied)
            .count()
    }
}

impl Scenario {
    /// Parses and checks a scenario's TOML text.
    pub fn parse(text: &str) -> Result<Scenario> {
        let scenario: Scenario =
            toml::from_str(text).map_err(|e| Error::Scenario(format!("bad TOML: {e}")))?;
        scenario.check()?;
        Ok(scenario)
    }

    /// The scenario of one subtask of a joined worker: task, source, shard
    /// mode and routes from the subtask config, the steps of `file` that
    /// are for every source or for this one. The subtask is not registered
    /// again.
    pub fn for_subtask(
        file: &TaskScenario,
        config: &dm_master::task_config::SubTaskConfig,
    ) -> Result<Scenario> {
        if let Some(task) = file.task.as_deref().filter(|t| *t != config.name) {
            return Err(Error::Scenario(format!(
                "the scenario is for task {task}, not for {}",
                config.name
            )));
        }
        // DM's syncer goes by the shard mode; `is-sharding` alone means
        // pessimistic.
        let mode = match config.shard_mode() {
            ShardMode::Optimistic => Mode::Optimistic,
            ShardMode::Pessimistic => Mode::Pessimistic,
            ShardMode::None => Mode::Unsharded,
        };
        let routes = config
            .route_rules
            .iter()
            .flatten()
            .map(|r| Route {
                schema: r.schema_pattern.clone(),
                table: r.table_pattern.clone(),
                target_schema: r.target_schema.clone(),
                target_table: r.target_table.clone(),
            })
            .collect();
        let scenario = Scenario {
            task: config.name.clone(),
            source: config.source_id.clone(),
            mode,
            routes,
            steps: file
                .steps
                .iter()
                .filter(|s| s.source.as_deref().is_none_or(|id| id == config.source_id))
                .cloned()
                .collect(),
            strict_optimistic: config.strict_optimistic_shard_mode,
            registers_subtask: false,
        };
        scenario.check()?;
        Ok(scenario)
    }

    fn check(&self) -> Result<()> {
        if self.task.is_empty() || self.source.is_empty() {
            return Err(Error::Scenario(
                "`task` and `source` must not be empty".into(),
            ));
        }
        for route in &self.routes {
            if route.schema.is_empty() || route.target_schema.is_empty() {
                return Err(Error::Scenario(format!(
                    "route {route:?}: `schema` and `target-schema` must not be empty"
                )));
            }
        }
        for (n, step) in self.steps.iter().enumerate() {
            match (&step.sql, step.pause_ms) {
                (Some(_), None) if step.schema.as_deref().is_some_and(|s| !s.is_empty()) => {}
                (Some(_), None) => {
                    return Err(Error::Scenario(format!(
                        "step {}: a `sql` step needs its `schema` (the default database)",
                        n + 1
                    )))
                }
                (None, Some(_)) if step.schema.is_none() => {}
                _ => {
                    return Err(Error::Scenario(format!(
                        "step {}: give either `schema` + `sql` or `pause-ms`",
                        n + 1
                    )))
                }
            }
        }
        Ok(())
    }

    /// The subtask config the master reads for this source.
    pub fn subtask(&self) -> SubTaskConfig {
        SubTaskConfig {
            name: self.task.clone(),
            source_id: self.source.clone(),
            is_sharding: true,
            shard_mode: self.mode.as_str().into(),
            route_rules: self
                .routes
                .iter()
                .map(|r| RouteRule {
                    schema_pattern: r.schema.clone(),
                    table_pattern: r.table.clone(),
                    target_schema: r.target_schema.clone(),
                    target_table: r.target_table.clone(),
                })
                .collect(),
        }
    }

    fn router(&self) -> Routes<'_> {
        Routes(&self.routes)
    }
}

/// DM's route and filter patterns: `*` matches any run of characters and
/// `?` one character; an empty pattern matches anything.
fn matches(pattern: &str, name: &str) -> bool {
    fn glob(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|i| glob(rest, &n[i..])),
            Some(('?', rest)) => !n.is_empty() && glob(rest, &n[1..]),
            Some((c, rest)) => n.first() == Some(c) && glob(rest, &n[1..]),
        }
    }
    if pattern.is_empty() {
        return true;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob(&p, &n)
}

/// The scenario's route rules; the first matching rule wins. A rule
/// without a target table keeps the upstream table's name (DM's router).
#[derive(Clone, Copy)]
struct Routes<'a>(&'a [Route]);

impl Routes<'_> {
    /// The target of a routed upstream table (or database, table empty).
    fn target(&self, upstream: &TableName) -> Option<TableName> {
        self.0
            .iter()
            .find(|r| {
                matches(&r.schema, &upstream.schema)
                    && (upstream.table.is_empty() || matches(&r.table, &upstream.table))
            })
            .map(|r| {
                let table = if upstream.table.is_empty() {
                    String::new()
                } else if r.target_table.is_empty() {
                    upstream.table.clone()
                } else {
                    r.target_table.clone()
                };
                TableName::new(r.target_schema.clone(), table)
            })
    }
}

impl Router for Routes<'_> {
    fn route(&self, upstream: &TableName) -> TableName {
        self.target(upstream).unwrap_or_else(|| upstream.clone())
    }
}

/// A run of consecutive statements of one step, handled together.
enum Batch {
    /// Executed downstream without coordination.
    Direct(Vec<String>),
    /// Not executed (DM does not drop or truncate a merged table).
    Skip(Vec<TrackedStatement>),
    /// Coordinated DDL of one routed upstream table.
    Shard {
        upstream: TableName,
        target: TableName,
        statements: Vec<TrackedStatement>,
    },
}

/// Splits a step's tracked statements into batches.
fn batches(routes: Routes<'_>, statements: Vec<TrackedStatement>) -> Result<Vec<Batch>> {
    let mut out: Vec<Batch> = Vec::new();
    for st in statements {
        let routed = st
            .table
            .as_ref()
            .and_then(|t| routes.target(t).map(|target| (t.clone(), target)));
        let coordinated = matches!(
            st.kind,
            StatementKind::AlterTable | StatementKind::PassThrough
        );
        match (routed, st.kind) {
            (Some((upstream, _)), StatementKind::RenameTable) => {
                return Err(Error::Scenario(format!(
                    "`{}`: renaming the routed table {upstream} is not supported in shard mode",
                    st.upstream_sql
                )))
            }
            (Some(_), StatementKind::DropTable | StatementKind::TruncateTable) => {
                match out.last_mut() {
                    Some(Batch::Skip(v)) => v.push(st),
                    _ => out.push(Batch::Skip(vec![st])),
                }
            }
            (Some((upstream, target)), _) if coordinated => match out.last_mut() {
                Some(Batch::Shard {
                    upstream: u,
                    statements,
                    ..
                }) if *u == upstream => statements.push(st),
                _ => out.push(Batch::Shard {
                    upstream,
                    target,
                    statements: vec![st],
                }),
            },
            _ => match out.last_mut() {
                Some(Batch::Direct(v)) => v.push(st.sql),
                _ => out.push(Batch::Direct(vec![st.sql])),
            },
        }
    }
    Ok(out)
}

/// Tracks every step once without side effects: a statement the tracker
/// rejects fails here, before anything is written. Returns the routed
/// upstream tables the scenario creates (the SourceTables to announce).
fn dry_run(scenario: &Scenario) -> Result<SourceTables> {
    let routes = scenario.router();
    let mut tracker = Tracker::new();
    let mut tables = SourceTables::new(&scenario.task, &scenario.source);
    for (n, step) in scenario.steps.iter().enumerate() {
        let (Some(schema), Some(sql)) = (&step.schema, &step.sql) else {
            continue;
        };
        let tracked = tracker
            .apply(schema, sql, &routes)
            .map_err(|e| step_error(n, Error::Tracker(e)))?;
        for st in &tracked.statements {
            if st.kind != StatementKind::CreateTable {
                continue;
            }
            if let (Some(up), Some(target)) =
                (&st.table, st.table.as_ref().and_then(|t| routes.target(t)))
            {
                tables.add_table(&up.schema, &up.table, &target.schema, &target.table);
            }
        }
        batches(routes, tracked.statements).map_err(|e| step_error(n, e))?;
    }
    Ok(tables)
}

fn step_error(step: usize, error: Error) -> Error {
    Error::Step {
        step: step + 1,
        error: Box::new(error),
    }
}

/// Where a run waits, as a joined worker's `QueryStatus` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Waiting {
    /// The shard-DDL lock whose Operation the run waits for (or is
    /// executing), empty when none (DM's `unresolvedDDLLockID`).
    pub lock_id: String,
    /// The DDLs of that lock this source sent (DM's `blockingDDLs`).
    pub ddls: Vec<String>,
    /// The conflict the master reported for them, if any.
    pub conflict: String,
    /// Every step ran (DM's `synced`: caught up with the upstream).
    pub caught_up: bool,
    /// The furthest step (0-based) any run of this subtask reached: a
    /// replay after a failure does not idle again in `pause-ms` steps
    /// before it, as DM resumes from its checkpoint.
    pub reached_step: usize,
}

impl Waiting {
    /// The lock is answered: nothing is waited on any more.
    fn lock_answered(&mut self) {
        self.lock_id.clear();
        self.ddls.clear();
        self.conflict.clear();
    }
}

/// How a run is driven from outside: cancelled (stop), held between
/// statements (pause), and observed.
#[derive(Debug, Clone)]
pub struct Control {
    cancel: CancellationToken,
    /// `true` while the subtask is paused; `None`: never paused.
    paused: Option<watch::Receiver<bool>>,
    waiting: Arc<Mutex<Waiting>>,
}

impl Control {
    /// A run that is only ever cancelled.
    pub fn unpaused(cancel: CancellationToken) -> Control {
        Control {
            cancel,
            paused: None,
            waiting: Arc::default(),
        }
    }

    /// A run held while `paused` says so, reporting into `waiting`.
    pub fn new(
        cancel: CancellationToken,
        paused: watch::Receiver<bool>,
        waiting: Arc<Mutex<Waiting>>,
    ) -> Control {
        Control {
            cancel,
            paused: Some(paused),
            waiting,
        }
    }

    /// Returns at once while running; while paused, waits for resume. A
    /// pause thus takes effect before the next statement, Info or
    /// downstream DDL; a wait for the master's answer goes on meanwhile.
    async fn proceed(&self) -> Result<()> {
        let Some(mut paused) = self.paused.clone() else {
            return Ok(());
        };
        loop {
            if !*paused.borrow_and_update() {
                return Ok(());
            }
            tokio::select! {
                changed = paused.changed() => if changed.is_err() { return Ok(()) },
                () = self.cancel.cancelled() => return Err(Error::Cancelled { during: "paused" }),
            }
        }
    }

    /// Returns once the run is paused; never when it cannot be.
    async fn paused(&self) {
        let Some(mut paused) = self.paused.clone() else {
            return std::future::pending().await;
        };
        if paused.wait_for(|p| *p).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    fn reached_step(&self) -> usize {
        self.waiting.lock().map(|w| w.reached_step).unwrap_or(0)
    }

    /// Returns once the run is told to stop.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// Whether the run was told to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    fn report(&self, update: impl FnOnce(&mut Waiting)) {
        if let Ok(mut waiting) = self.waiting.lock() {
            update(&mut waiting);
        }
    }
}

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

#[cfg(test)]
mod tests;
