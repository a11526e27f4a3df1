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

use dm_master::optimism::SourceTables;
use dm_master::task::{RouteRule, ShardMode, SubTaskConfig};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::executor::Outcome;
use crate::tracker::{StatementKind, Tracker};

mod control;
mod play;
mod routes;

pub use control::{Control, Waiting};
pub use play::{run, run_controlled};
use routes::{batches, Routes};
// The route tests name these through `super::*`.
#[cfg(test)]
use {crate::tracker::TableName, routes::matches};

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

/// One step: an upstream statement run in `schema`, a pause, or a wait for
/// other sources' tables. In a [`TaskScenario`], `source` limits the step
/// to that source's subtask.
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
    /// Waits until each of these sources has announced its tables for the
    /// task (its optimistic SourceTables key exists), so a shard DDL after
    /// it reaches a lock that knows every shard. DM's subtasks announce
    /// their tables when they start; without a binlog to wait on, this
    /// stands in for one source's upstream being later than another's.
    #[serde(default)]
    pub await_tables_of: Option<Vec<String>>,
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
            if step.await_tables_of.is_some() {
                if step.sql.is_some() || step.pause_ms.is_some() || step.schema.is_some() {
                    return Err(Error::Scenario(format!(
                        "step {}: `await-tables-of` stands alone (no `schema`, `sql` or `pause-ms`)",
                        n + 1
                    )));
                }
                if self.mode != Mode::Optimistic {
                    return Err(Error::Scenario(format!(
                        "step {}: `await-tables-of` needs an optimistic task (only optimistic subtasks announce tables)",
                        n + 1
                    )));
                }
                continue;
            }
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
                        "step {}: give either `schema` + `sql`, `pause-ms` or `await-tables-of`",
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

#[cfg(test)]
mod tests;
