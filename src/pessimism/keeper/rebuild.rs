//! Cold rebuild of the keeper from a snapshot of Infos and Operations (DM
//! `recoverLocks`), and the per-state lock counts for a gauge reset.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::{LockAction, LockKeeper, TrySyncOutcome};
use crate::pessimism::info::Info;
use crate::pessimism::lock::{DdlMismatch, SyncState};

/// One stored Info, as read for a rebuild: borrowed from the Infos the
/// actor keeps, so a rebuild of 100,000 locks makes no second copy of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoRecord<'a> {
    pub task: Cow<'a, str>,
    pub source: Cow<'a, str>,
    /// Downstream schema (for logs; the lock is named by `lock_id`).
    pub schema: Cow<'a, str>,
    /// Downstream table (for logs).
    pub table: Cow<'a, str>,
    pub ddls: Cow<'a, [String]>,
    /// `GenDDLLockID(task, schema, table)`.
    pub lock_id: Cow<'a, str>,
}

impl<'a> InfoRecord<'a> {
    /// The record of a decoded Info, borrowing its fields.
    pub fn borrowing(info: &'a Info) -> InfoRecord<'a> {
        InfoRecord::with_lock_id(info, Cow::Owned(info.lock_id()))
    }

    /// The record of a decoded Info whose lock ID is already known.
    pub fn with_lock_id(info: &'a Info, lock_id: Cow<'a, str>) -> InfoRecord<'a> {
        InfoRecord {
            lock_id,
            task: Cow::Borrowed(&info.task),
            source: Cow::Borrowed(&info.source),
            schema: Cow::Borrowed(&info.schema),
            table: Cow::Borrowed(&info.table),
            ddls: Cow::Borrowed(info.ddls.as_deref().unwrap_or_default()),
        }
    }
}

/// One stored Operation, as read for a rebuild.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationRecord {
    pub lock_id: String,
    pub task: String,
    pub source: String,
    pub exec: bool,
    pub done: bool,
}

/// Something the rebuild could not apply; the actor logs each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebuildIssue {
    /// An Info whose DDLs differ from its lock's (DM gap P6: recovery goes on).
    Mismatch {
        task: String,
        source: String,
        error: DdlMismatch,
    },
    /// An Info of a task that has no sources (DM gap P10); the Info is kept.
    UnknownTask {
        task: String,
        source: String,
        lock_id: String,
    },
    /// An Info of a source outside its task (DM gap P9); the Info is kept.
    SourceNotInTask {
        task: String,
        source: String,
        lock_id: String,
    },
    /// An Operation without a lock that is kept (see [`rebuild`]).
    OrphanOperationKept(OperationRecord),
}

/// The owner of a lock restored from an `exec=true` Operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRestored {
    pub lock_id: String,
    pub from: String,
    pub to: String,
}

/// Everything the actor needs after reading Infos and Operations (DM
/// `recoverLocks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildPlan {
    /// The rebuilt keeper, replacing the old one (whose locks the actor
    /// dropped with [`LockKeeper::clear`]).
    pub keeper: LockKeeper,
    pub issues: Vec<RebuildIssue>,
    pub owners_restored: Vec<OwnerRestored>,
    /// `done` Operations without a lock and without any Info naming their
    /// lock: delete them (DM gap P7), plainly, in one txn.
    pub delete_orphan_ops: Vec<OperationRecord>,
    /// [`LockKeeper::handle_lock`] for every synced lock, in lock-ID order;
    /// the actor performs each and, unlike DM, goes on after a failure.
    pub actions: Vec<LockAction>,
}

/// Rebuilds the keeper from a snapshot of Infos and Operations (DM
/// `recoverLocks`, docs/protocol.md#pessimistic-rebuild).
///
/// 1. Infos are grouped by task (tasks in name order) and applied sorted by
///    source, so without Operations the owner is the smallest source that
///    has an Info. A mismatch is recorded and recovery goes on (DM gap P6).
/// 2. Each Operation of an existing lock (ordered by lock ID, then source)
///    re-adds its source to the lock (it was a source when the lock synced),
///    forces the lock synced, marks the source done if `done`, and makes it
///    the owner if `exec`.
/// 3. An Operation without a lock is an orphan. A `done` orphan is deleted
///    when no Info names its lock (DM gap P7): every source of that lock either
///    finished (deleting its Info) or had its keys removed together by
///    unlock/remove-meta, so the lock was resolved and its Operations would
///    have been deleted; keeping them blocks the next Info of those sources
///    forever. Otherwise the orphan is kept and reported: a not-done
///    Operation blocks no worker (`PutInfoIfOpNotDone` only waits on `done`
///    ones) and may be an answer a worker is executing right now, and an
///    orphan whose lock still has Infos (unknown task, foreign source) may
///    belong to an unfinished lock.
/// 4. Every synced lock gets its [`LockKeeper::handle_lock`] action.
pub fn rebuild(
    infos: Vec<InfoRecord<'_>>,
    operations: Vec<OperationRecord>,
    task_sources: impl Fn(&str) -> Vec<String>,
) -> RebuildPlan {
    let mut keeper = LockKeeper::new();
    let mut issues = Vec::new();

    // Only an orphan Operation asks (most snapshots have none).
    let named_locks: BTreeSet<&str> = if operations.is_empty() {
        BTreeSet::new()
    } else {
        infos.iter().map(|i| &*i.lock_id).collect()
    };
    // Tasks in name order, each task's Infos by source: one sort, then the
    // runs of one task.
    let mut sorted: Vec<&InfoRecord> = infos.iter().collect();
    sorted.sort_by(|a, b| (&a.task, &a.source).cmp(&(&b.task, &b.source)));
    for run in sorted.chunk_by(|a, b| a.task == b.task) {
        let task: &str = &run[0].task;
        let sources = task_sources(task);
        for info in run {
            match keeper.try_sync(&info.lock_id, task, &info.source, &info.ddls, &sources) {
                // A fresh keeper remembers no resolved lock: nothing is held.
                TrySyncOutcome::Progress { .. } | TrySyncOutcome::HeldAsStale => {}
                TrySyncOutcome::Mismatch(error) => issues.push(RebuildIssue::Mismatch {
                    task: task.to_owned(),
                    source: info.source.to_string(),
                    error,
                }),
                TrySyncOutcome::UnknownTask => issues.push(RebuildIssue::UnknownTask {
                    task: task.to_owned(),
                    source: info.source.to_string(),
                    lock_id: info.lock_id.to_string(),
                }),
                TrySyncOutcome::SourceNotInTask => issues.push(RebuildIssue::SourceNotInTask {
                    task: task.to_owned(),
                    source: info.source.to_string(),
                    lock_id: info.lock_id.to_string(),
                }),
            }
        }
    }

    let mut operations = operations;
    operations.sort_by(|a, b| (&a.lock_id, &a.source).cmp(&(&b.lock_id, &b.source)));
    let mut owners_restored = Vec::new();
    let mut delete_orphan_ops = Vec::new();
    for op in operations {
        let Some(lock) = keeper.find_lock_mut(&op.lock_id) else {
            if op.done && !named_locks.contains(op.lock_id.as_str()) {
                delete_orphan_ops.push(op);
            } else {
                issues.push(RebuildIssue::OrphanOperationKept(op));
            }
            continue;
        };
        // An Operation exists only for a source of a lock that had synced.
        lock.add_sources(std::slice::from_ref(&op.source));
        lock.force_synced();
        if op.done {
            lock.mark_done(&op.source);
        }
        if op.exec && lock.owner() != op.source {
            owners_restored.push(OwnerRestored {
                lock_id: op.lock_id.clone(),
                from: lock.owner().to_owned(),
                to: op.source.clone(),
            });
            lock.set_owner(op.source);
        }
    }

    let actions = synced_lock_actions(&keeper);
    RebuildPlan {
        keeper,
        issues,
        owners_restored,
        delete_orphan_ops,
        actions,
    }
}

/// How many Infos of a snapshot name each lock, and the lock's task: what
/// [`locks_to_answer_first`] decides from. Counted as the snapshot's pages
/// are decoded, off the path from the last page to the first answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InfosPerLock {
    /// Lock ID to (task, number of Infos).
    counts: HashMap<String, (String, usize)>,
}

impl InfosPerLock {
    /// The task of a lock that has Infos.
    pub fn task_of(&self, lock_id: &str) -> Option<&str> {
        self.counts.get(lock_id).map(|(task, _)| task.as_str())
    }

    /// Counts one Info of `task` naming `lock_id`.
    pub fn add(&mut self, task: &str, lock_id: &str) {
        match self.counts.get_mut(lock_id) {
            Some((_, count)) => *count += 1,
            None => {
                self.counts.insert(lock_id.to_owned(), (task.to_owned(), 1));
            }
        }
    }
}

/// The locks a rebuild builds and answers before the others: those that
/// may be synced in the snapshot. A lock is synced there only when every
/// source of its task has an Info in it or an Operation forces it, so a
/// lock with fewer Infos than its task has sources and no Operation can
/// wait (a cold start over 10,000 un-synced locks took 13 ms to build
/// them all, between the last page read and the first answer).
///
/// `operations` gives each Operation's lock ID. Rebuilding the Infos and
/// Operations of these locks and then those of the others gives the
/// rebuild of the whole snapshot (see [`rebuild`]: locks are rebuilt
/// independently of one another), as long as each lock's Infos and
/// Operations go to the same pass.
pub fn locks_to_answer_first<'a>(
    infos: &InfosPerLock,
    operations: impl Iterator<Item = &'a str>,
    source_count: impl Fn(&str) -> usize,
) -> HashSet<String> {
    let mut first: HashSet<String> = operations.map(str::to_owned).collect();
    for (lock_id, (task, count)) in &infos.counts {
        let sources = source_count(task);
        if sources > 0 && *count >= sources {
            first.insert(lock_id.clone());
        }
    }
    first
}

/// [`LockKeeper::handle_lock`] for every synced lock, in lock-ID order.
fn synced_lock_actions(keeper: &LockKeeper) -> Vec<LockAction> {
    keeper
        .locks()
        .filter(|l| l.is_synced())
        .map(|l| keeper.handle_lock(l.id(), None))
        .filter(|a| *a != LockAction::None)
        .collect()
}

/// The metric state of every lock, for a gauge reset: `(task, state) ->
/// number of locks`.
pub fn state_counts(keeper: &LockKeeper) -> BTreeMap<(String, SyncState), usize> {
    let mut counts = BTreeMap::new();
    for lock in keeper.locks() {
        *counts
            .entry((lock.task().to_owned(), lock.state()))
            .or_insert(0) += 1;
    }
    counts
}
