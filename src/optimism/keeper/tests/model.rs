//! The keeper against a small model of etcd and the workers of one lock,
//! under random interleavings: each table's worker puts its Info (again,
//! as after a restart, with a higher version), executes the Operation it
//! gets and puts it back done, while the master's events are delivered late
//! or lost to a master restart that rebuilds from the keys so far (replaying
//! the Infos in revision order with `skip_done` puts, then the done
//! Operations).
//!
//! Whatever the order: the lock is resolved (its keys deleted, the lock
//! dropped) only once every table is done, and once every event has been
//! delivered every table executed the DDL and nothing is left.

use std::collections::VecDeque;

use proptest::prelude::*;

use super::super::*;
use crate::optimism::lock::tests::{info, key, tts};

const TABLES: &[&str] = &["t1", "t2", "s2.db.t1", "s2.db.t2"];
const ADD_C1: &str = "ALTER TABLE bar ADD COLUMN c1 INT";
const BEFORE: &str = "id int pk";
const AFTER: &str = "id int pk, c1 int";

/// A stored Info or Operation with the etcd metadata the master uses.
#[derive(Debug, Clone)]
struct Stored<T> {
    value: T,
    version: i64,
    revision: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    InfoPut(TableKey),
    OperationDone(TableKey),
}

/// One step of an interleaving; tables are indexes modulo the table count.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// The worker puts its Info (again, if it is not done yet).
    PutInfo(usize),
    /// The worker executes the Operation it was given and puts it done.
    Answer(usize),
    /// The master handles its oldest pending event.
    Deliver,
    /// The master restarts: pending events are lost, the keeper is rebuilt.
    Restart,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..4usize).prop_map(Step::PutInfo),
        3 => (0..4usize).prop_map(Step::Answer),
        4 => Just(Step::Deliver),
        1 => Just(Step::Restart),
    ]
}

struct World {
    tables: Vec<TableKey>,
    targets: Vec<TargetTable>,
    infos: BTreeMap<TableKey, Stored<Info>>,
    ops: BTreeMap<TableKey, Stored<Operation>>,
    revision: i64,
    executed: BTreeSet<TableKey>,
    resolved: bool,
    keeper: LockKeeper,
    pending: VecDeque<Event>,
}

impl World {
    fn new(count: usize) -> World {
        let names = &TABLES[..count];
        World {
            tables: names.iter().map(|t| key(t)).collect(),
            targets: tts(names),
            infos: BTreeMap::new(),
            ops: BTreeMap::new(),
            revision: 0,
            executed: BTreeSet::new(),
            resolved: false,
            keeper: LockKeeper::new(),
            pending: VecDeque::new(),
        }
    }

    fn table(&self, i: usize) -> TableKey {
        self.tables[i % self.tables.len()].clone()
    }

    fn next_revision(&mut self) -> i64 {
        self.revision += 1;
        self.revision
    }

    fn apply(&mut self, step: Step) {
        match step {
            Step::PutInfo(i) => {
                let key = self.table(i);
                if self.executed.contains(&key) {
                    return;
                }
                let name = format!("{}.{}.{}", key.source, key.schema, key.table);
                let revision = self.next_revision();
                let version = self.infos.get(&key).map_or(0, |s| s.version) + 1;
                let value = info(&name, &[ADD_C1], BEFORE, &[AFTER]);
                let stored = Stored {
                    value,
                    version,
                    revision,
                };
                self.infos.insert(key.clone(), stored);
                self.pending.push_back(Event::InfoPut(key));
            }
            Step::Answer(i) => {
                let key = self.table(i);
                let revision = self.revision + 1;
                let Some(op) = self.ops.get_mut(&key) else {
                    return;
                };
                if op.value.done {
                    return;
                }
                op.value.done = true;
                op.version += 1;
                op.revision = revision;
                self.revision = revision;
                self.executed.insert(key.clone());
                self.pending.push_back(Event::OperationDone(key));
            }
            Step::Deliver => {
                if let Some(event) = self.pending.pop_front() {
                    self.handle(event);
                }
            }
            Step::Restart => self.restart(),
        }
        if self.resolved {
            assert!(self.keeper.is_empty(), "a resolved lock stays kept");
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::InfoPut(key) => {
                let Some(stored) = self.infos.get(&key).cloned() else {
                    return;
                };
                self.answer(&stored, false);
            }
            Event::OperationDone(key) => {
                let Some(op) = self.ops.get(&key).map(|s| s.value.clone()) else {
                    return;
                };
                match self.keeper.on_operation_done(&op) {
                    DoneDecision::LockNotFound | DoneDecision::Progress { .. } => {}
                    DoneDecision::Resolved { remove, .. } => self.remove(&remove),
                }
            }
        }
    }

    /// TrySync and answer one Info, as the actor does live (`skip_done`
    /// false) and when replaying a rebuild (`skip_done` true).
    fn answer(&mut self, stored: &Stored<Info>, skip_done: bool) {
        let (lock_id, result) =
            self.keeper
                .try_sync(&stored.value, stored.version, &self.targets, &|_| None);
        assert!(result.error.is_none(), "{:?}", result.error);
        let answer =
            self.keeper
                .answer(&lock_id, &stored.value, &result, skip_done, stored.revision);
        match answer {
            Answer::Put {
                op,
                skip_done,
                info_revision,
            } => {
                let key = TableKey::new(&op.source, &op.up_schema, &op.up_table);
                let existing = self.ops.get(&key);
                if skip_done
                    && existing.is_some_and(|s| s.value.done && s.revision >= info_revision)
                {
                    return;
                }
                let version = existing.map_or(0, |s| s.version) + 1;
                let revision = self.next_revision();
                let stored = Stored {
                    value: op,
                    version,
                    revision,
                };
                self.ops.insert(key, stored);
            }
            Answer::RemoveLock(remove) => self.remove(&remove),
            Answer::Nothing | Answer::LockNotFound(_) => {}
        }
    }

    /// `delete_resolved_lock`: each Info (with its Operation) unless re-put
    /// since the master saw it; the lock goes when nothing was kept.
    fn remove(&mut self, remove: &RemoveLock) {
        let mut kept = false;
        for table in &remove.tables {
            let current = self.infos.get(&table.key).map(|s| s.version);
            if current.is_some_and(|v| v > table.info_version) {
                kept = true;
                continue;
            }
            self.infos.remove(&table.key);
            self.ops.remove(&table.key);
        }
        if !kept {
            self.keeper.remove_lock(&remove.lock_id);
        }
        assert_eq!(
            self.executed.len(),
            self.tables.len(),
            "resolved before every table was done: done {:?}",
            self.executed
        );
        self.resolved = true;
    }

    fn restart(&mut self) {
        self.pending.clear();
        let mut source_tables: BTreeMap<String, BTreeMap<String, SourceTables>> = BTreeMap::new();
        for key in &self.tables {
            let task = &self.targets[0].task;
            source_tables
                .entry(task.clone())
                .or_default()
                .entry(key.source.clone())
                .or_insert_with(|| SourceTables::new(task.clone(), key.source.clone()))
                .add_table(&key.schema, &key.table, "foo", "bar");
        }
        let snapshot = Snapshot {
            source_tables,
            infos: self
                .infos
                .values()
                .map(|s| StoredInfo {
                    info: s.value.clone(),
                    version: s.version,
                    revision: s.revision,
                })
                .collect(),
            dropped_columns: Vec::new(),
        };
        let plan = plan_rebuild(snapshot);
        assert!(plan.skipped.is_empty(), "{:?}", plan.skipped);
        self.keeper = plan.keeper;
        for stored in plan.replay {
            let stored = Stored {
                value: stored.info,
                version: stored.version,
                revision: stored.revision,
            };
            self.answer(&stored, true);
        }
        let ops: Vec<Operation> = self.ops.values().map(|s| s.value.clone()).collect();
        let finish = self.keeper.finish_rebuild(&ops);
        assert!(finish.orphans.is_empty(), "{:?}", finish.orphans);
        for remove in finish.removals {
            self.remove(&remove);
        }
    }

    /// Runs every worker to the end and delivers every event.
    fn drain(&mut self) {
        for _ in 0..4 * self.tables.len() + 4 {
            for i in 0..self.tables.len() {
                if !self.infos.contains_key(&self.tables[i])
                    && !self.executed.contains(&self.tables[i])
                {
                    self.apply(Step::PutInfo(i));
                }
            }
            while !self.pending.is_empty() {
                self.apply(Step::Deliver);
            }
            for i in 0..self.tables.len() {
                self.apply(Step::Answer(i));
            }
            while !self.pending.is_empty() {
                self.apply(Step::Deliver);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn resolution_exactly_when_every_table_is_done(
        count in 2..=4usize,
        steps in proptest::collection::vec(step(), 0..60),
    ) {
        let mut world = World::new(count);
        for step in steps {
            world.apply(step);
        }
        world.drain();
        prop_assert_eq!(world.executed.len(), count);
        prop_assert!(world.resolved, "never resolved");
        prop_assert!(world.keeper.is_empty());
        prop_assert!(world.ops.is_empty(), "Operations left: {:?}", world.ops);
        prop_assert!(world.infos.is_empty(), "Infos left: {:?}", world.infos);
    }
}
