//! The operator's side of the keeper: `unlock-ddl-lock`'s plan and its
//! aftermath (DM `UnlockLock`), stop-task and remove-meta (DM
//! `RemoveMetaData` / `removeSourceTables`), and `show-ddl-locks`.
//!
//! PURE: no async, no I/O.

use super::*;

/// The two actions of `unlock-ddl-lock` (`pb.UnlockDDLLockOp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlockAction {
    /// `SkipLock` (1): the table skips its blocked DDLs.
    Skip,
    /// `ExecLock` (2): the table executes its blocked DDLs.
    Exec,
}

impl UnlockAction {
    /// From the proto enum value.
    pub fn from_proto(op: i32) -> Option<UnlockAction> {
        match op {
            1 => Some(UnlockAction::Skip),
            2 => Some(UnlockAction::Exec),
            _ => None,
        }
    }
}

/// A validated unlock (DM `UnlockLock` steps 3-4): put `op` with
/// `ops::put_operation(op, skip_done = false, info_revision)`, then call
/// [`LockKeeper::unlock_done`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnlockPlan {
    pub lock_id: String,
    pub key: TableKey,
    pub action: UnlockAction,
    /// The table's `detected` Operation rewritten: stage `unlocked`, DDLs
    /// the Info's (exec) or none (skip).
    pub op: Operation,
    /// The stored Operation's mod revision + 1, as DM passes it.
    pub info_revision: i64,
    /// The table's Info.
    pub info: Info,
}

/// Result of [`LockKeeper::plan_unlock`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnlockDecision {
    /// The lock was already resolved: remove it (DM `removeLock`) and
    /// reply success.
    Resolved(RemoveLock),
    /// Put the rewritten Operation.
    Put(Box<UnlockPlan>),
}

impl LockKeeper {
    /// DM `UnlockLock` steps 1-4 (`unlock-ddl-lock`), given the task's
    /// Infos and Operations (with their mod revisions) read from etcd (a
    /// failed read is [`OptimismError::LockIsResolving`] with
    /// `fail to get info and operation for task <task>`). Only a table
    /// whose Operation is `detected` can be unlocked, one at a time.
    pub fn plan_unlock(
        &self,
        lock_id: &str,
        key: &TableKey,
        action: UnlockAction,
        infos: &[Info],
        ops: &[(Operation, i64)],
    ) -> Result<UnlockDecision, OptimismError> {
        let Some(lock) = self.locks.get(lock_id) else {
            return Err(OptimismError::LockNotFound(LockNotFound::new(lock_id)));
        };
        if lock.is_resolved() {
            return Ok(UnlockDecision::Resolved(remove_action(lock)));
        }
        let task = lock.task();
        let same = |t: &str, s: &str, us: &str, ut: &str| {
            t == task && s == key.source && us == key.schema && ut == key.table
        };
        let matching: Vec<&Info> = infos
            .iter()
            .filter(|i| same(&i.task, &i.source, &i.up_schema, &i.up_table))
            .collect();
        let [info] = matching.as_slice() else {
            return Err(OptimismError::LockIsResolving {
                message: format!("fail to find related info for lock {lock_id}"),
            });
        };
        let mut found = Vec::new();
        for (op, revision) in ops {
            if !same(&op.task, &op.source, &op.up_schema, &op.up_table) {
                continue;
            }
            if op.conflict_stage != ConflictStage::Detected {
                return Err(OptimismError::LockIsResolving {
                    message: format!(
                        "lock {lock_id} is in {} status, not conflicted",
                        op.conflict_stage
                    ),
                });
            }
            found.push((op, *revision));
        }
        let [(op, revision)] = found.as_slice() else {
            return Err(OptimismError::LockIsResolving {
                message: format!("fail to find related operation for lock {lock_id}"),
            });
        };
        let mut op = (*op).clone();
        match action {
            UnlockAction::Exec => op.ddls = info.ddls.clone(),
            // Go's `ddls[:0]`: nil stays nil.
            UnlockAction::Skip => op.ddls = op.ddls.map(|_| Vec::new()),
        }
        op.conflict_stage = ConflictStage::Unlocked;
        Ok(UnlockDecision::Put(Box::new(UnlockPlan {
            lock_id: lock_id.to_owned(),
            key: key.clone(),
            action,
            op,
            info_revision: revision + 1,
            info: (*info).clone(),
        })))
    }

    /// DM `UnlockLock` step 5 after the Operation was put: an exec-unlock
    /// moves the table to the Info's after-schema (with DM gap O10 fixed); the
    /// table is no longer `detected`. Returns the lock's other `detected`
    /// tables, to re-run (DM gap O6).
    pub fn unlock_done(&mut self, plan: &UnlockPlan) -> Vec<TableKey> {
        let Some(lock) = self.locks.get_mut(&plan.lock_id) else {
            return Vec::new();
        };
        if plan.action == UnlockAction::Exec {
            lock.update_table_after_unlock(&plan.info);
        }
        lock.clear_detected(&plan.key);
        lock.detected_tables()
    }

    /// DM `RemoveMetaDataWithTask` (in memory): removes the lock of every
    /// Info and Operation of the task and returns the lock IDs named by the
    /// Infos, whose dropped columns `ops::delete_task` deletes. The actor
    /// also forgets the task in its table keeper.
    pub fn remove_task(&mut self, infos: &[Info], ops: &[Operation]) -> Vec<String> {
        let ids: BTreeSet<String> = infos.iter().map(Info::lock_id).collect();
        for id in &ids {
            self.locks.remove(id);
        }
        for op in ops {
            self.locks.remove(&op.id);
        }
        ids.into_iter().collect()
    }

    /// DM `RemoveMetaDataWithTaskAndSources` (in memory): every lock of the
    /// task forgets the sources' tables (an emptied lock is removed).
    /// Returns the `(lock_id, column)` pairs for `ops::delete_task_sources`.
    pub fn remove_task_sources(&mut self, task: &str, sources: &[String]) -> Vec<(String, String)> {
        let mut dropped = Vec::new();
        let mut emptied = Vec::new();
        for lock in self.locks.values_mut().filter(|l| l.task() == task) {
            for col in lock.try_remove_table_by_sources(sources) {
                dropped.push((lock.id().to_owned(), col));
            }
            if !lock.has_tables() {
                emptied.push(lock.id().to_owned());
            }
        }
        for id in emptied {
            self.locks.remove(&id);
        }
        dropped
    }

    /// DM `ShowLocks` (docs/protocol.md#optimistic-admin), given every Operation and Info
    /// read from etcd. A lock is listed if its task matches (`None` or
    /// empty: all) and, when `sources` is non-empty, one of them has a
    /// table in it. Owners are the tables of the lock's task (restricted to
    /// `sources`) whose Operation is `detected` and whose Info exists, in
    /// key order; as in DM, they are matched by task, not by lock. Without
    /// owners one row has owner `""`.
    pub fn show_locks(
        &self,
        task: Option<&str>,
        sources: &[String],
        ops: &[Operation],
        infos: &[Info],
    ) -> Vec<LockView> {
        let task = task.filter(|t| !t.is_empty());
        let by_key: BTreeMap<(&str, &str, &str, &str), &Info> = infos
            .iter()
            .map(|i| {
                (
                    (
                        i.task.as_str(),
                        i.source.as_str(),
                        i.up_schema.as_str(),
                        i.up_table.as_str(),
                    ),
                    i,
                )
            })
            .collect();
        let mut detected: Vec<&Operation> = ops
            .iter()
            .filter(|op| op.conflict_stage == ConflictStage::Detected)
            .filter(|op| sources.is_empty() || sources.contains(&op.source))
            .collect();
        detected.sort_by(|a, b| {
            (&a.task, &a.source, &a.up_schema, &a.up_table).cmp(&(
                &b.task,
                &b.source,
                &b.up_schema,
                &b.up_table,
            ))
        });

        let mut views = Vec::new();
        for lock in self.locks.values() {
            if task.is_some_and(|t| t != lock.task()) {
                continue;
            }
            let ready = lock.ready();
            if !sources.is_empty() && !ready.keys().any(|k| sources.contains(&k.source)) {
                continue;
            }
            let mut owners: Vec<(String, Vec<String>)> = detected
                .iter()
                .filter(|op| op.task == lock.task())
                .filter_map(|op| {
                    let info = by_key.get(&(
                        op.task.as_str(),
                        op.source.as_str(),
                        op.up_schema.as_str(),
                        op.up_table.as_str(),
                    ))?;
                    let owner = TableKey::new(&op.source, &op.up_schema, &op.up_table);
                    Some((owner.owner_string(), info.ddls.clone().unwrap_or_default()))
                })
                .collect();
            if owners.is_empty() {
                owners.push((String::new(), Vec::new()));
            }
            let mut synced: Vec<String> = Vec::new();
            let mut unsynced: Vec<String> = Vec::new();
            for (key, r) in &ready {
                if *r {
                    synced.push(key.owner_string());
                } else {
                    unsynced.push(key.owner_string());
                }
            }
            synced.sort();
            unsynced.sort();
            for (owner, ddls) in owners {
                views.push(LockView {
                    id: lock.id().to_owned(),
                    task: lock.task().to_owned(),
                    mode: ShardMode::Optimistic,
                    owner,
                    ddls,
                    synced: synced.clone(),
                    unsynced: unsynced.clone(),
                });
            }
        }
        views
    }
}
