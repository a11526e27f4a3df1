//! DM's `TableKeeper`: every task's upstream tables and their routes, as the
//! workers report them in `SourceTables` (docs/protocol.md#optimistic-source-tables,
//! `dm/pkg/shardddl/optimism/{table,keeper}.go`).
//!
//! PURE: no async, no I/O. The coordinator actor owns one keeper, feeds it
//! the SourceTables it reads and watches, and asks it which upstream tables
//! belong to a lock ([`TableKeeper::find_tables`]).
//!
//! Invariants: `task → source → SourceTables` where each stored value's
//! `task`/`source` equal its keys; ordered maps, so [`TableKeeper::find_tables`]
//! comes out sorted by source as DM sorts it.

use std::collections::{BTreeMap, BTreeSet};

use super::table::{SourceTables, UpSchemas};

#[cfg(test)]
mod tests;

/// The upstream tables of one source that route to one downstream table
/// (DM `TargetTable`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetTable {
    pub task: String,
    pub source: String,
    pub down_schema: String,
    pub down_table: String,
    /// up_schema → up_tables.
    pub up_tables: UpSchemas,
}

impl TargetTable {
    /// A target table (DM `newTargetTable`).
    pub fn new(
        task: &str,
        source: &str,
        down_schema: &str,
        down_table: &str,
        up_tables: UpSchemas,
    ) -> TargetTable {
        TargetTable {
            task: task.to_owned(),
            source: source.to_owned(),
            down_schema: down_schema.to_owned(),
            down_table: down_table.to_owned(),
            up_tables,
        }
    }

    /// DM's emptiness test: no task name.
    pub fn is_empty(&self) -> bool {
        self.task.is_empty()
    }
}

/// One route: an upstream table and the downstream table it goes to
/// (DM `RouteTable`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RouteTable {
    pub up_schema: String,
    pub up_table: String,
    pub down_schema: String,
    pub down_table: String,
}

impl SourceTables {
    /// The upstream tables routed to `down_schema.down_table`, copied; the
    /// empty [`TargetTable`] (no task) when there are none (DM `TargetTable`).
    pub fn target_table(&self, down_schema: &str, down_table: &str) -> TargetTable {
        match self
            .tables
            .get(down_schema)
            .and_then(|tables| tables.get(down_table))
        {
            Some(up) => TargetTable::new(
                &self.task,
                &self.source,
                down_schema,
                down_table,
                up.clone(),
            ),
            None => TargetTable::default(),
        }
    }

    /// Every route of this source (DM `toRouteTable`).
    pub fn route_tables(&self) -> BTreeSet<RouteTable> {
        let mut routes = BTreeSet::new();
        for (down_schema, down_tables) in &self.tables {
            for (down_table, up_schemas) in down_tables {
                for (up_schema, up_tables) in up_schemas {
                    for up_table in up_tables {
                        routes.insert(RouteTable {
                            up_schema: up_schema.clone(),
                            up_table: up_table.clone(),
                            down_schema: down_schema.clone(),
                            down_table: down_table.clone(),
                        });
                    }
                }
            }
        }
        routes
    }
}

/// Routes added and dropped between two SourceTables (DM `DiffSourceTables`):
/// `(new − old, old − new)`.
pub fn diff_source_tables(
    old: &SourceTables,
    new: &SourceTables,
) -> (BTreeSet<RouteTable>, BTreeSet<RouteTable>) {
    let old = old.route_tables();
    let new = new.route_tables();
    let added = new.difference(&old).cloned().collect();
    let dropped = old.difference(&new).cloned().collect();
    (added, dropped)
}

/// DM `TargetTablesForTask`: [`TableKeeper::find_tables`] on a snapshot map
/// (used when the SourceTables watch lags behind the Info watch).
pub fn target_tables_for_task(
    task: &str,
    down_schema: &str,
    down_table: &str,
    stm: &BTreeMap<String, BTreeMap<String, SourceTables>>,
) -> Option<Vec<TargetTable>> {
    let sources = stm.get(task).filter(|s| !s.is_empty())?;
    Some(
        sources
            .values()
            .map(|st| st.target_table(down_schema, down_table))
            .filter(|tt| !tt.is_empty())
            .collect(),
    )
}

/// DM's `TableKeeper`: task → source → SourceTables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableKeeper {
    tables: BTreeMap<String, BTreeMap<String, SourceTables>>,
}

impl TableKeeper {
    /// An empty keeper.
    pub fn new() -> TableKeeper {
        TableKeeper::default()
    }

    /// Replaces all content (DM `Init`, at rebuild).
    pub fn init(&mut self, stm: BTreeMap<String, BTreeMap<String, SourceTables>>) {
        self.tables = stm;
    }

    /// The routes [`TableKeeper::update`] would report, without changing
    /// anything (so the actor can fetch the schemas of added tables first).
    pub fn diff(
        &self,
        st: &SourceTables,
        is_deleted: bool,
    ) -> (BTreeSet<RouteTable>, BTreeSet<RouteTable>) {
        let empty = SourceTables::default();
        let old = self
            .tables
            .get(&st.task)
            .and_then(|sources| sources.get(&st.source))
            .unwrap_or(&empty);
        if is_deleted {
            diff_source_tables(old, &empty)
        } else {
            diff_source_tables(old, st)
        }
    }

    /// Applies a SourceTables PUT (`is_deleted = false`) or DELETE and
    /// returns the routes `(added, dropped)` (DM `Update`). A DELETE of an
    /// unknown task changes nothing and reports nothing.
    pub fn update(
        &mut self,
        st: &SourceTables,
        is_deleted: bool,
    ) -> (BTreeSet<RouteTable>, BTreeSet<RouteTable>) {
        let diff = self.diff(st, is_deleted);
        if is_deleted {
            if let Some(sources) = self.tables.get_mut(&st.task) {
                sources.remove(&st.source);
            }
        } else {
            self.tables
                .entry(st.task.clone())
                .or_default()
                .insert(st.source.clone(), st.clone());
        }
        diff
    }

    /// Adds one route for a task already known (DM `AddTable`; unknown tasks
    /// are ignored, an unknown source of a known task is created). `true` if
    /// the route is new.
    pub fn add_table(
        &mut self,
        task: &str,
        source: &str,
        up_schema: &str,
        up_table: &str,
        down_schema: &str,
        down_table: &str,
    ) -> bool {
        let Some(sources) = self.tables.get_mut(task) else {
            return false;
        };
        sources
            .entry(source.to_owned())
            .or_insert_with(|| SourceTables::new(task, source))
            .add_table(up_schema, up_table, down_schema, down_table)
    }

    /// Whether the route exists (DM `SourceTableExist`).
    pub fn source_table_exist(
        &self,
        task: &str,
        source: &str,
        up_schema: &str,
        up_table: &str,
        down_schema: &str,
        down_table: &str,
    ) -> bool {
        self.tables
            .get(task)
            .and_then(|sources| sources.get(source))
            .and_then(|st| st.tables.get(down_schema))
            .and_then(|down| down.get(down_table))
            .and_then(|up| up.get(up_schema))
            .is_some_and(|tables| tables.contains(up_table))
    }

    /// Removes one route of a known task and source (DM `RemoveTable`).
    pub fn remove_table(
        &mut self,
        task: &str,
        source: &str,
        up_schema: &str,
        up_table: &str,
        down_schema: &str,
        down_table: &str,
    ) -> bool {
        self.tables
            .get_mut(task)
            .and_then(|sources| sources.get_mut(source))
            .is_some_and(|st| st.remove_table(up_schema, up_table, down_schema, down_table))
    }

    /// Forgets a task (DM `RemoveTableByTask`); `true` if it was known.
    pub fn remove_table_by_task(&mut self, task: &str) -> bool {
        self.tables.remove(task).is_some()
    }

    /// Forgets some sources of a task (DM `RemoveTableByTaskAndSources`).
    pub fn remove_table_by_task_and_sources(&mut self, task: &str, sources: &[String]) {
        if let Some(known) = self.tables.get_mut(task) {
            for source in sources {
                known.remove(source);
            }
        }
    }

    /// The upstream tables of every source of `task` routed to
    /// `down_schema.down_table`, sorted by source (DM `FindTables`). `None`
    /// when the task is unknown or has no sources; sources without such
    /// tables are left out.
    pub fn find_tables(
        &self,
        task: &str,
        down_schema: &str,
        down_table: &str,
    ) -> Option<Vec<TargetTable>> {
        target_tables_for_task(task, down_schema, down_table, &self.tables)
    }

    /// The SourceTables of one task and source.
    pub fn source_tables(&self, task: &str, source: &str) -> Option<&SourceTables> {
        self.tables.get(task)?.get(source)
    }
}
