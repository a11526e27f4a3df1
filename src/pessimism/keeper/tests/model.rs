//! The keeper against a small model of etcd and the workers of one lock,
//! under random interleavings: workers put their Info (and put it again, as
//! after a restart), execute or skip the Operation they get, report it done
//! (and report it again), while the master's events are delivered late,
//! twice, or dropped by a master restart that rebuilds from the keys so far.
//!
//! Whatever the order: at most one source ever gets an `exec` Operation,
//! the lock is resolved (its Operations deleted, the lock dropped) only once
//! every source is done, and once every event has been delivered exactly
//! one source executed and nothing is left in etcd or in the keeper.

use std::collections::VecDeque;

use proptest::prelude::*;

use super::super::*;

const TASK: &str = "t";
const LOCK: &str = "t-`foo`.`bar`";
const DDL: &str = "ALTER TABLE bar ADD COLUMN c1 INT";

/// A stored Operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StoredOp {
    exec: bool,
    done: bool,
}

/// What the master's watch delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    InfoPut(String),
    OperationDone(String),
}

/// One step of an interleaving; sources are indexes modulo the source count.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// The worker puts its Info (again, if it already did and is not done).
    PutInfo(usize),
    /// The worker answers the Operation it was given: executes or skips the
    /// DDL, then marks it done and deletes its Info in one txn.
    Answer(usize),
    /// The worker reports its done Operation again.
    RepeatDone(usize),
    /// The master handles its oldest pending event.
    Deliver,
    /// The master handles its oldest pending event and keeps it, as a watch
    /// that resumes from an older revision delivers it again.
    DeliverTwice,
    /// The master restarts: pending events are lost and the keeper is
    /// rebuilt from the keys.
    Restart,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..4usize).prop_map(Step::PutInfo),
        3 => (0..4usize).prop_map(Step::Answer),
        1 => (0..4usize).prop_map(Step::RepeatDone),
        4 => Just(Step::Deliver),
        1 => Just(Step::DeliverTwice),
        1 => Just(Step::Restart),
    ]
}

/// etcd's keys of the lock, the workers and the master's keeper.
struct World {
    sources: Vec<String>,
    infos: BTreeMap<String, Vec<String>>,
    ops: BTreeMap<String, StoredOp>,
    /// Sources that answered their Operation.
    done: BTreeSet<String>,
    /// Sources that executed the DDL.
    executed: BTreeSet<String>,
    /// Sources that were ever written an `exec` Operation.
    exec_written: BTreeSet<String>,
    resolved: bool,
    keeper: LockKeeper,
    pending: VecDeque<Event>,
}

impl World {
    fn new(count: usize) -> World {
        World {
            sources: (1..=count).map(|i| format!("s{i}")).collect(),
            infos: BTreeMap::new(),
            ops: BTreeMap::new(),
            done: BTreeSet::new(),
            executed: BTreeSet::new(),
            exec_written: BTreeSet::new(),
            resolved: false,
            keeper: LockKeeper::new(),
            pending: VecDeque::new(),
        }
    }

    fn source(&self, i: usize) -> String {
        self.sources[i % self.sources.len()].clone()
    }

    fn apply(&mut self, step: Step) {
        match step {
            Step::PutInfo(i) => {
                let source = self.source(i);
                if !self.done.contains(&source) {
                    self.infos.insert(source.clone(), vec![DDL.to_owned()]);
                    self.pending.push_back(Event::InfoPut(source));
                }
            }
            Step::Answer(i) => {
                let source = self.source(i);
                let Some(op) = self.ops.get_mut(&source) else {
                    return;
                };
                if op.done || !self.infos.contains_key(&source) {
                    return;
                }
                if op.exec {
                    self.executed.insert(source.clone());
                }
                op.done = true;
                self.infos.remove(&source);
                self.done.insert(source.clone());
                self.pending.push_back(Event::OperationDone(source));
            }
            Step::RepeatDone(i) => {
                let source = self.source(i);
                if self.ops.get(&source).is_some_and(|op| op.done) {
                    self.pending.push_back(Event::OperationDone(source));
                }
            }
            Step::Deliver => {
                if let Some(event) = self.pending.pop_front() {
                    self.handle(&event);
                }
            }
            Step::DeliverTwice => {
                if let Some(event) = self.pending.front().cloned() {
                    self.handle(&event);
                }
            }
            Step::Restart => self.restart(),
        }
        self.check();
    }

    fn handle(&mut self, event: &Event) {
        let action = match event {
            Event::InfoPut(source) => {
                let ddls = vec![DDL.to_owned()];
                self.keeper
                    .on_info(LOCK, TASK, source, &ddls, &self.sources)
                    .action
            }
            Event::OperationDone(source) => match self.keeper.on_operation_done(LOCK, source) {
                DoneDecision::Resolved(action) | DoneDecision::OwnerDone(action) => action,
                DoneDecision::LockNotFound
                | DoneDecision::LockNotSynced
                | DoneDecision::WaitMore => LockAction::None,
            },
        };
        self.perform(action);
    }

    /// What the actor writes for an action, then applies to the keeper.
    fn perform(&mut self, action: LockAction) {
        match action {
            LockAction::None => {}
            LockAction::PutOwnerOp(ops) | LockAction::PutSkipOps(ops) => {
                for source in ops.sources {
                    if ops.skip_done && self.ops.get(&source).is_some_and(|op| op.done) {
                        continue;
                    }
                    if ops.exec {
                        self.exec_written.insert(source.clone());
                    }
                    let op = StoredOp {
                        exec: ops.exec,
                        done: false,
                    };
                    self.ops.insert(source, op);
                }
            }
            LockAction::RemoveLock { delete_ops_for, .. } => {
                for source in &delete_ops_for {
                    self.ops.remove(source);
                }
                self.keeper.remove_lock(LOCK);
                self.resolve();
            }
        }
    }

    fn restart(&mut self) {
        self.pending.clear();
        let infos = self
            .infos
            .iter()
            .map(|(source, ddls)| InfoRecord {
                task: TASK.into(),
                source: source.clone().into(),
                schema: "foo".into(),
                table: "bar".into(),
                ddls: ddls.clone().into(),
                lock_id: LOCK.into(),
            })
            .collect();
        let operations = self
            .ops
            .iter()
            .map(|(source, op)| OperationRecord {
                lock_id: LOCK.to_owned(),
                task: TASK.to_owned(),
                source: source.clone(),
                exec: op.exec,
                done: op.done,
            })
            .collect();
        let sources = self.sources.clone();
        let plan = rebuild(infos, operations, |_| sources.clone());
        assert!(plan.issues.is_empty(), "{:?}", plan.issues);
        self.keeper = plan.keeper;
        if !plan.delete_orphan_ops.is_empty() {
            for op in &plan.delete_orphan_ops {
                self.ops.remove(&op.source);
            }
            self.resolve();
        }
        for action in plan.actions {
            self.perform(action);
        }
    }

    /// The lock's Operations were deleted: it must have been finished.
    fn resolve(&mut self) {
        assert_eq!(
            self.done.len(),
            self.sources.len(),
            "resolved before every source was done: done {:?}",
            self.done
        );
        self.resolved = true;
    }

    fn check(&self) {
        assert!(
            self.exec_written.len() <= 1,
            "exec Operations for {:?}",
            self.exec_written
        );
        assert!(self.executed.len() <= 1, "executed by {:?}", self.executed);
        if self.resolved {
            assert!(self.keeper.is_empty(), "a resolved lock stays kept");
        }
    }

    /// Runs every worker to the end and delivers every event.
    fn drain(&mut self) {
        for _ in 0..4 * self.sources.len() + 4 {
            for i in 0..self.sources.len() {
                if !self.done.contains(&self.sources[i])
                    && !self.infos.contains_key(&self.sources[i])
                {
                    self.apply(Step::PutInfo(i));
                }
            }
            while !self.pending.is_empty() {
                self.apply(Step::Deliver);
            }
            for i in 0..self.sources.len() {
                self.apply(Step::Answer(i));
            }
            while !self.pending.is_empty() {
                self.apply(Step::Deliver);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn one_exec_per_lock_and_resolution_exactly_when_every_source_is_done(
        count in 2..=4usize,
        steps in proptest::collection::vec(step(), 0..60),
    ) {
        let mut world = World::new(count);
        for step in steps {
            world.apply(step);
        }
        world.drain();
        prop_assert_eq!(world.executed.len(), 1, "nobody executed");
        prop_assert!(world.resolved, "never resolved");
        prop_assert_eq!(world.done.len(), count);
        prop_assert!(world.keeper.is_empty());
        prop_assert!(world.ops.is_empty(), "Operations left: {:?}", world.ops);
        prop_assert!(world.infos.is_empty(), "Infos left: {:?}", world.infos);
    }
}
