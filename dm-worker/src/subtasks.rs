//! PURE. The joined worker's view of its bound source's subtasks: each
//! subtask's config (from `/dm-master/upstream/subtask/`) and the stage the
//! master expects (from `/dm-master/stage/subtask/`), and the
//! [`SubtaskRunner`] seam through which the subtasks are run.
//!
//! **Invariants** (DM's `source_worker.go`): a config without a stage key is
//! still a subtask, expected `InvalidStage`; a stage DELETE removes the
//! subtask; losing the bound or the keep-alive removes every subtask.

use std::collections::BTreeMap;

use dm_master::task_config::SubTaskConfig;

use crate::ha::Stage;

/// One subtask as the master asks for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Subtask {
    /// The task name (the key's task part).
    pub task: String,
    pub source: String,
    /// The stage the master expects (DM's `expect`).
    pub expected: Stage,
    /// The subtask config as DM's worker reads it (lenient decode, then
    /// `Adjust`).
    pub config: SubTaskConfig,
    /// The raw TOML as stored, for a runner that needs more than the
    /// fields decoded here.
    pub config_toml: String,
}

/// What a runner reports about one subtask for `QueryStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunStatus {
    /// The subtask's current stage.
    pub stage: Stage,
    /// The shard-DDL lock the subtask waits on, empty when none.
    pub unresolved_ddl_lock_id: String,
    /// The DDLs this source sent for that lock (DM's `blockingDDLs`).
    pub blocking_ddls: Vec<String>,
    /// The conflict the master reported for them (DM's `conflictMsg`).
    pub conflict_message: String,
    /// The subtask has replayed everything it has (DM's `synced`).
    pub synced: bool,
    /// Why the subtask stopped with an error (it is then `Paused`, as DM's
    /// subtask after a unit error).
    pub error: Option<RunError>,
}

/// A subtask's error as DM's `ProcessError` carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunError {
    pub code: i32,
    pub class: &'static str,
    pub message: String,
    pub workaround: &'static str,
}

impl RunError {
    /// DM's error class of `error`, by its code's range.
    pub fn of(error: &crate::error::Error) -> RunError {
        let code = error.code();
        let (class, workaround) = match code {
            36062 => (
                "sync-unit",
                "Please use show-ddl-locks command for more details.",
            ),
            36000..=36999 => ("sync-unit", ""),
            10000..=10999 => ("database", ""),
            44000..=44999 => ("schema-tracker", ""),
            20000..=20999 => ("config", ""),
            _ => ("dm-worker", ""),
        };
        RunError {
            code,
            class,
            message: error.to_string(),
            workaround,
        }
    }
}

/// Runs subtasks. The worker calls it from its one source actor, in the
/// order changes happen; implementations must not block (spawn work and
/// return).
pub trait SubtaskRunner: Send + 'static {
    /// A subtask appeared, or its expected stage or config changed.
    fn apply(&mut self, subtask: &Subtask);
    /// A subtask is gone: its stage key was deleted, the source was unbound,
    /// or the keep-alive was lost. Stop it without waiting.
    fn remove(&mut self, task: &str);
    /// The subtask's status; `None` when the runner does not know it, in
    /// which case the expected stage is reported.
    fn status(&self, _task: &str) -> Option<RunStatus> {
        None
    }
}

/// A runner that runs nothing: the subtasks are only tracked (and logged by
/// the source actor), reported with their expected stage.
#[derive(Debug, Default)]
pub struct TrackOnly;

impl SubtaskRunner for TrackOnly {
    fn apply(&mut self, _subtask: &Subtask) {}
    fn remove(&mut self, _task: &str) {}
}

/// What changed in the view after applying an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Added(Subtask),
    Updated(Subtask),
    Removed(String),
    Unchanged,
}

/// The subtasks of the bound source, by task name.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SubtaskView {
    subtasks: BTreeMap<String, Subtask>,
}

impl SubtaskView {
    /// Every subtask, sorted by task name.
    pub fn subtasks(&self) -> impl Iterator<Item = &Subtask> {
        self.subtasks.values()
    }

    pub fn get(&self, task: &str) -> Option<&Subtask> {
        self.subtasks.get(task)
    }

    pub fn len(&self) -> usize {
        self.subtasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.subtasks.is_empty()
    }

    /// Sets a subtask (new or changed).
    pub fn upsert(&mut self, subtask: Subtask) -> Change {
        match self.subtasks.get(&subtask.task) {
            Some(old) if *old == subtask => Change::Unchanged,
            Some(_) => {
                self.subtasks.insert(subtask.task.clone(), subtask.clone());
                Change::Updated(subtask)
            }
            None => {
                self.subtasks.insert(subtask.task.clone(), subtask.clone());
                Change::Added(subtask)
            }
        }
    }

    /// Changes only the expected stage of a known subtask.
    pub fn set_stage(&mut self, task: &str, expected: Stage) -> Change {
        match self.subtasks.get_mut(task) {
            Some(s) if s.expected == expected => Change::Unchanged,
            Some(s) => {
                s.expected = expected;
                Change::Updated(s.clone())
            }
            None => Change::Unchanged,
        }
    }

    pub fn remove(&mut self, task: &str) -> Change {
        match self.subtasks.remove(task) {
            Some(_) => Change::Removed(task.to_owned()),
            None => Change::Unchanged,
        }
    }

    /// Replaces the whole view (source enabled, or a resync): the changes
    /// that take the old view to `subtasks`, removals first.
    pub fn replace(&mut self, subtasks: Vec<Subtask>) -> Vec<Change> {
        let new: BTreeMap<String, Subtask> =
            subtasks.into_iter().map(|s| (s.task.clone(), s)).collect();
        let mut changes: Vec<Change> = self
            .subtasks
            .keys()
            .filter(|t| !new.contains_key(*t))
            .map(|t| Change::Removed(t.clone()))
            .collect();
        for subtask in new.values() {
            match self.subtasks.get(&subtask.task) {
                Some(old) if old == subtask => {}
                Some(_) => changes.push(Change::Updated(subtask.clone())),
                None => changes.push(Change::Added(subtask.clone())),
            }
        }
        self.subtasks = new;
        changes
    }

    /// Empties the view: one `Removed` per subtask.
    pub fn clear(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.subtasks)
            .into_keys()
            .map(Change::Removed)
            .collect()
    }
}

#[cfg(test)]
mod tests;
