//! The task registry: which sources take part in each task, and in which
//! shard mode, read from DM's subtask configs under
//! `/dm-master/upstream/subtask/<source>/<task>` (TOML values written by
//! the scheduler's StartTask or by `dmctl etcd-start-task`).
//!
//! PURE: no async, no I/O; the coordinators feed it etcd events.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::keys::{KeySpace, UPSTREAM_SUBTASK};

/// DM's `shard-mode` of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShardMode {
    /// Not a sharding task: no coordination.
    None,
    Pessimistic,
    Optimistic,
}

impl ShardMode {
    /// DM's `shard-mode` string (the wire value of configs, ShowDDLLocks and
    /// metric labels).
    pub const fn as_str(self) -> &'static str {
        match self {
            ShardMode::None => "",
            ShardMode::Pessimistic => "pessimistic",
            ShardMode::Optimistic => "optimistic",
        }
    }

    /// The effective mode of a config, as DM's `Adjust` computes it from
    /// `shard-mode` and `is-sharding`: an empty `shard-mode` with
    /// `is-sharding = true` means pessimistic. `None` for a `shard-mode`
    /// DM does not know.
    pub fn from_config(shard_mode: &str, is_sharding: bool) -> Option<ShardMode> {
        match shard_mode {
            "" if is_sharding => Some(ShardMode::Pessimistic),
            "" => Some(ShardMode::None),
            "pessimistic" => Some(ShardMode::Pessimistic),
            "optimistic" => Some(ShardMode::Optimistic),
            _ => None,
        }
    }
}

/// One routing rule of a subtask (DM's table-router `TableRule`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct RouteRule {
    pub schema_pattern: String,
    pub table_pattern: String,
    pub target_schema: String,
    pub target_table: String,
}

/// The part of DM's `SubTaskConfig` the coordinator needs (the full config
/// is [`crate::task_config::SubTaskConfig`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct SubTaskConfig {
    pub name: String,
    pub source_id: String,
    pub is_sharding: bool,
    pub shard_mode: String,
    pub route_rules: Vec<RouteRule>,
}

impl SubTaskConfig {
    /// Parses a subtask config TOML value as DM's worker and master do
    /// (lenient decode, then DM's `Adjust`; see
    /// [`crate::task_config::SubTaskConfig::from_toml`]): DM's full config
    /// and the short form [`SubTaskConfig::to_toml`] writes both decode. The
    /// error is DM's error string.
    pub fn parse(toml_text: &str) -> Result<SubTaskConfig, String> {
        let full = crate::task_config::SubTaskConfig::from_toml(toml_text)
            .map_err(|e| e.dm_string("config"))?;
        Ok(SubTaskConfig::from(&full))
    }

    /// The effective shard mode, as DM's `Adjust` computes it: an empty
    /// `shard-mode` with `is-sharding = true` means pessimistic.
    pub fn mode(&self) -> Result<ShardMode, String> {
        ShardMode::from_config(&self.shard_mode, self.is_sharding)
            .ok_or_else(|| format!("shard mode {} not supported", self.shard_mode))
    }

    /// A minimal TOML for this config, in the shape DM writes (used by our
    /// `dmctl etcd-start-task` and by tests).
    pub fn to_toml(&self) -> String {
        // Strings, booleans and an array of tables: always serialisable.
        toml::to_string(self).unwrap_or_default()
    }
}

impl From<&crate::task_config::SubTaskConfig> for SubTaskConfig {
    /// The registry's part of DM's full config (after its `Adjust`).
    fn from(full: &crate::task_config::SubTaskConfig) -> SubTaskConfig {
        let input = full.registry_input();
        SubTaskConfig {
            name: input.task,
            source_id: input.source,
            is_sharding: full.is_sharding,
            shard_mode: full.shard_mode.clone(),
            route_rules: input.routes,
        }
    }
}

/// A subtask: what the registry's decode of a subtask config yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubTask {
    pub task: String,
    pub source: String,
    pub mode: ShardMode,
    pub routes: Vec<RouteRule>,
}

/// What changed in the registry after an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryChange {
    /// The sources of this task changed.
    Task(String),
    /// Nothing the coordinators care about.
    None,
}

/// One source of a task, as the registry keeps it (a new leader holds one
/// per subtask config, so it stays small: no copy of the task name, no
/// allocation for a subtask without routes).
#[derive(Debug, Clone, PartialEq, Eq)]
struct SourceEntry {
    source: Box<str>,
    mode: ShardMode,
    routes: Box<[RouteRule]>,
    /// Whether the entry came from the key named after it
    /// (`…/<source>/<task>`); entries from other keys are in `by_odd_key`.
    from_own_key: bool,
}

/// task → source → subtask, built from the subtask configs in etcd.
///
/// Invariants: every task in `by_task` has at least one source, its sources
/// sorted and unique; an entry put under a key that does not name its own
/// `(source, task)` has that key in `by_odd_key` (DM trusts the config's
/// fields, not the key), so a DELETE, which carries only the key, removes
/// the right entry.
#[derive(Debug, Default, Clone)]
pub struct TaskRegistry {
    by_task: BTreeMap<Box<str>, Vec<SourceEntry>>,
    by_odd_key: HashMap<Box<[u8]>, (String, String)>,
    /// The key space of the last PUT, to decode the key of a DELETE.
    space: KeySpace,
}

impl TaskRegistry {
    pub fn new() -> TaskRegistry {
        TaskRegistry::default()
    }

    /// Applies a PUT of a subtask config. A value that does not parse
    /// leaves the registry unchanged and is returned as an error for the
    /// caller to report (never a panic, never a silent drop).
    pub fn apply_put(
        &mut self,
        space: &KeySpace,
        key: &[u8],
        value: &[u8],
    ) -> Result<RegistryChange, String> {
        let [key_source, key_task] = space
            .decode(&UPSTREAM_SUBTASK, key)
            .map_err(|e| e.to_string())?;
        let text = std::str::from_utf8(value).map_err(|e| e.to_string())?;
        // Only the registry's fields are decoded (the cold start reads every
        // subtask config; the full config is the worker's).
        let subtask =
            crate::task_config::decode_registry_input(text).map_err(|e| e.dm_string("config"))?;
        let change = RegistryChange::Task(subtask.task.clone());
        let from_own_key = key_source == subtask.source && key_task == subtask.task;
        if self.space != *space {
            self.space = space.clone();
        }
        // The key's previous entry goes first (a PUT may rename its task).
        // Odd keys are rare: an empty map is not hashed into (SipHash of
        // the key cost as much as a lookup in `by_task`).
        let odd = if self.by_odd_key.is_empty() {
            None
        } else {
            self.by_odd_key.remove(key)
        };
        if let Some((old_task, old_source)) = odd {
            self.remove(&old_task, &old_source);
        } else if !from_own_key {
            self.remove_own(&key_task, &key_source);
        }
        // Else the key's previous entry is the one the insert below
        // replaces: one lookup of the task instead of two (a cold start
        // puts every subtask config).
        if !from_own_key {
            self.by_odd_key
                .insert(key.into(), (subtask.task.clone(), subtask.source.clone()));
        }
        let entry = SourceEntry {
            source: subtask.source.into(),
            mode: subtask.mode,
            routes: subtask.routes.into(),
            from_own_key,
        };
        let sources = self.by_task.entry(subtask.task.into()).or_default();
        match sources.binary_search_by(|e| e.source.cmp(&entry.source)) {
            Ok(i) => sources[i] = entry,
            Err(i) => sources.insert(i, entry),
        }
        Ok(change)
    }

    /// Applies a DELETE of a subtask config key.
    pub fn apply_delete(&mut self, key: &[u8]) -> RegistryChange {
        if let Some((task, source)) = self.by_odd_key.remove(key) {
            self.remove(&task, &source);
            return RegistryChange::Task(task);
        }
        let Ok([source, task]) = self.space.decode(&UPSTREAM_SUBTASK, key) else {
            return RegistryChange::None;
        };
        if self.remove_own(&task, &source) {
            RegistryChange::Task(task)
        } else {
            RegistryChange::None
        }
    }

    /// Removes `(task, source)` if it came from its own key.
    fn remove_own(&mut self, task: &str, source: &str) -> bool {
        // One lookup of the task and of the source (every PUT passes here).
        let Some(sources) = self.by_task.get_mut(task) else {
            return false;
        };
        let Some(i) = sources.iter().position(|e| &*e.source == source) else {
            return false;
        };
        if !sources[i].from_own_key {
            return false;
        }
        sources.remove(i);
        if sources.is_empty() {
            self.by_task.remove(task);
        }
        true
    }

    fn remove(&mut self, task: &str, source: &str) {
        if let Some(sources) = self.by_task.get_mut(task) {
            sources.retain(|e| &*e.source != source);
            if sources.is_empty() {
                self.by_task.remove(task);
            }
        }
    }

    /// Forgets everything (before applying a resynced snapshot).
    pub fn clear(&mut self) {
        self.by_task.clear();
        self.by_odd_key.clear();
    }

    /// How many sources a task has; 0 for an unknown task.
    pub fn source_count(&self, task: &str) -> usize {
        self.by_task.get(task).map_or(0, Vec::len)
    }

    /// Source IDs of a task, sorted; empty for an unknown task.
    pub fn sources(&self, task: &str) -> Vec<String> {
        self.by_task
            .get(task)
            .map(|s| s.iter().map(|e| e.source.to_string()).collect())
            .unwrap_or_default()
    }

    /// The task's shard mode: optimistic if any subtask says so (DM's server
    /// checks "any subtask optimistic"), `None` for an unknown task.
    pub fn mode(&self, task: &str) -> Option<ShardMode> {
        let subtasks = self.by_task.get(task)?;
        if subtasks.iter().any(|s| s.mode == ShardMode::Optimistic) {
            Some(ShardMode::Optimistic)
        } else if subtasks.iter().any(|s| s.mode == ShardMode::Pessimistic) {
            Some(ShardMode::Pessimistic)
        } else {
            Some(ShardMode::None)
        }
    }

    pub fn contains(&self, task: &str) -> bool {
        self.by_task.contains_key(task)
    }

    /// One subtask of a task, if the registry holds it.
    pub fn subtask(&self, task: &str, source: &str) -> Option<SubTask> {
        let entry = self
            .by_task
            .get(task)?
            .iter()
            .find(|e| &*e.source == source)?;
        Some(SubTask {
            task: task.to_owned(),
            source: entry.source.to_string(),
            mode: entry.mode,
            routes: entry.routes.to_vec(),
        })
    }

    pub fn tasks(&self) -> impl Iterator<Item = &str> {
        self.by_task.keys().map(|t| &**t)
    }
}

/// Whether a stored subtask config TOML sets `strict-optimistic-shard-mode`
/// (a worker then fails at once on a detected conflict; the master reports
/// the conflict as an error). Unreadable TOML counts as not strict.
pub fn strict_optimistic_shard_mode(toml_bytes: &[u8]) -> bool {
    std::str::from_utf8(toml_bytes)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|t| t.get("strict-optimistic-shard-mode")?.as_bool())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests;
