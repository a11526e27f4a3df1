//! The pessimistic shard-DDL lock: one per (task, downstream table).
//!
//! PURE: no async, no I/O. The lock is a state machine over the sources of a
//! task: each source is *ready* once it has put a matching Info, and *done*
//! once it has executed or skipped the DDL. A lock is *synced* when every
//! source is ready and *resolved* when every source is done. Nothing here is
//! persisted; the keeper rebuilds locks from the Infos and Operations in etcd.
//!
//! Invariants:
//! * sources are unique and kept sorted by ID, so lookups are binary searches
//!   and every listing comes out sorted without extra work;
//! * `not_ready` always equals the number of sources whose `ready` flag is
//!   false, and `not_done` the number whose `done` flag is false;
//! * sources are never removed (a source that leaves the task still counts);
//! * `done` is never reverted.
//!
//! Metrics: the lock records no metric itself. Every method that can move the
//! lock between Un-synced and Synced returns a [`StateChange`] so the caller
//! keeps `dm_master_ddl_state_number{task,type}` right per lock (DM gap P11 in docs/dm-gaps.md:
//! DM drops the series of the whole task whenever one lock goes away).

use crate::gojson::go_slice;

#[cfg(test)]
mod tests;

/// Error code of DM's `ErrMasterShardingDDLDiff`.
pub const CODE_SHARDING_DDL_DIFF: i32 = 38016;

/// Sync state of a lock, as counted by `dm_master_ddl_state_number`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SyncState {
    /// Some source has not put a matching Info yet.
    Unsynced,
    /// Every source has put a matching Info (or the lock was forced).
    Synced,
}

impl SyncState {
    /// The `type` label DM uses for this state.
    pub fn metric_label(self) -> &'static str {
        match self {
            SyncState::Unsynced => "Un-synced",
            SyncState::Synced => "Synced",
        }
    }
}

/// A move of one lock between metric states: decrement `from` (if any) and
/// increment `to` (if any) for `task`. `from == None` is a new lock and
/// `to == None` a removed one, so summing changes gives per-lock accounting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// Task label of the gauge.
    pub task: String,
    /// State to decrement, `None` when the lock did not exist before.
    pub from: Option<SyncState>,
    /// State to increment, `None` when the lock no longer exists.
    pub to: Option<SyncState>,
}

impl StateChange {
    /// A change between `from` and `to`, or `None` when they are equal.
    pub fn between(task: &str, from: Option<SyncState>, to: Option<SyncState>) -> Option<Self> {
        (from != to).then(|| StateChange {
            task: task.to_owned(),
            from,
            to,
        })
    }
}

/// Result of a successful [`Lock::try_sync`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStatus {
    /// Every source of the lock is ready.
    pub synced: bool,
    /// Number of sources not ready yet.
    pub remain: usize,
    /// Set when this call moved the lock from Un-synced to Synced.
    pub change: Option<StateChange>,
}

/// The DDLs of an Info differ from the DDLs of its lock (DM
/// `ErrMasterShardingDDLDiff`, code 38016).
///
/// The message reproduces DM byte for byte: DM fills the first `%s` with the
/// lock's DDLs (not its ID) and both slices use Go's `%s` slice formatting,
/// `[a b]`. The lock ID is kept as a field for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "sharding ddls in ddl lock {} is different with {}",
    go_slice(lock_ddls),
    go_slice(ddls)
)]
pub struct DdlMismatch {
    /// ID of the lock whose DDLs differ.
    pub lock_id: String,
    /// DDLs of the lock (from the Info that created it).
    pub lock_ddls: Vec<String>,
    /// DDLs of the rejected Info.
    pub ddls: Vec<String>,
}

impl DdlMismatch {
    /// DM error code (38016).
    pub fn code(&self) -> i32 {
        CODE_SHARDING_DDL_DIFF
    }
}

/// Multiset equality of two DDL lists, ignoring order.
///
/// Deliberately differs from DM (DM gap P14): DM's `CompareShardingDDLs` checks
/// only the length and that every statement of one list occurs in the other,
/// so `[a, b]` and `[a, a]` compare equal. Order stays irrelevant, as in DM.
pub fn same_ddls(a: &[String], b: &[String]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut a: Vec<&str> = a.iter().map(String::as_str).collect();
    let mut b: Vec<&str> = b.iter().map(String::as_str).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// Per-source state. A boxed name plus two flags keeps one source at 24 bytes
/// of inline storage plus the name, so a lock of 1,000 sources stays small.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    source: Box<str>,
    ready: bool,
    done: bool,
}

/// DM's pessimistic `Lock` (see the module docs for the invariants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    id: String,
    task: String,
    owner: String,
    ddls: Vec<String>,
    /// Sorted by source ID, unique.
    entries: Vec<Entry>,
    not_ready: usize,
    not_done: usize,
}

impl Lock {
    /// Creates a lock in which every listed source is neither ready nor done.
    ///
    /// Duplicate sources count once. DM sets `remain = len(sources)` even
    /// with duplicates, which would leave such a lock unable to sync.
    pub fn new(
        id: impl Into<String>,
        task: impl Into<String>,
        owner: impl Into<String>,
        ddls: Vec<String>,
        sources: &[String],
    ) -> Self {
        let mut lock = Lock {
            id: id.into(),
            task: task.into(),
            owner: owner.into(),
            ddls,
            entries: Vec::new(),
            not_ready: 0,
            not_done: 0,
        };
        lock.add_sources(sources);
        lock
    }

    /// Lock ID (`task-` + quoted downstream table).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Task the lock belongs to.
    pub fn task(&self) -> &str {
        &self.task
    }

    /// Source chosen to execute the DDL downstream.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Replaces the owner (used when an `exec=true` Operation names another
    /// source during rebuild).
    pub fn set_owner(&mut self, owner: impl Into<String>) {
        self.owner = owner.into();
    }

    /// DDLs of the Info that created the lock; Operations carry these.
    pub fn ddls(&self) -> &[String] {
        &self.ddls
    }

    /// Current metric state.
    pub fn state(&self) -> SyncState {
        if self.is_synced() {
            SyncState::Synced
        } else {
            SyncState::Unsynced
        }
    }

    /// Adds every listed source not known yet (ready=false, done=false) and
    /// returns how many were added. Never removes a source.
    pub fn add_sources(&mut self, sources: &[String]) -> usize {
        let mut new: Vec<&str> = sources
            .iter()
            .map(String::as_str)
            .filter(|s| self.position(s).is_err())
            .collect();
        new.sort_unstable();
        new.dedup();
        if new.is_empty() {
            return 0;
        }
        self.entries.reserve_exact(new.len());
        self.entries.extend(new.iter().map(|s| Entry {
            source: (*s).into(),
            ready: false,
            done: false,
        }));
        self.entries
            .sort_unstable_by(|a, b| a.source.cmp(&b.source));
        self.not_ready += new.len();
        self.not_done += new.len();
        new.len()
    }

    /// Drops every source `keep` rejects (sources that left the task) and
    /// returns them, sorted. Counters follow: a dropped source no longer
    /// holds the lock back.
    pub fn retain_sources(&mut self, keep: impl Fn(&str) -> bool) -> Vec<String> {
        let mut left = Vec::new();
        let (mut not_ready, mut not_done) = (0, 0);
        self.entries.retain(|e| {
            if keep(&e.source) {
                not_ready += usize::from(!e.ready);
                not_done += usize::from(!e.done);
                true
            } else {
                left.push(e.source.to_string());
                false
            }
        });
        self.not_ready = not_ready;
        self.not_done = not_done;
        left
    }

    /// DM `Lock.TrySync`: checks the DDLs, merges newly joined sources, then
    /// marks `caller` ready.
    ///
    /// On a DDL mismatch nothing changes, not even the source set (as in DM).
    /// A caller that is not a source of the lock is not counted.
    pub fn try_sync(
        &mut self,
        caller: &str,
        ddls: &[String],
        sources: &[String],
    ) -> Result<SyncStatus, DdlMismatch> {
        if !same_ddls(ddls, &self.ddls) {
            return Err(DdlMismatch {
                lock_id: self.id.clone(),
                lock_ddls: self.ddls.clone(),
                ddls: ddls.to_vec(),
            });
        }
        let before = self.state();
        self.add_sources(sources);
        if let Ok(i) = self.position(caller) {
            let entry = &mut self.entries[i];
            if !entry.ready {
                entry.ready = true;
                self.not_ready -= 1;
            }
        }
        Ok(SyncStatus {
            synced: self.is_synced(),
            remain: self.not_ready,
            change: self.change_since(before),
        })
    }

    /// DM `Lock.ForceSynced`: marks every source ready.
    pub fn force_synced(&mut self) -> Option<StateChange> {
        let before = self.state();
        for entry in &mut self.entries {
            entry.ready = true;
        }
        self.not_ready = 0;
        self.change_since(before)
    }

    /// DM `Lock.RevertSynced`: marks each listed ready source not ready.
    ///
    /// The change is computed from the real state; DM reports Synced to
    /// Un-synced whenever the list is non-empty, even if no listed source
    /// was ready (which would skew the gauge).
    pub fn revert_synced(&mut self, sources: &[String]) -> Option<StateChange> {
        let before = self.state();
        for source in sources {
            if let Ok(i) = self.position(source) {
                let entry = &mut self.entries[i];
                if entry.ready {
                    entry.ready = false;
                    self.not_ready += 1;
                }
            }
        }
        self.change_since(before)
    }

    /// Every source is ready (a lock without sources counts as synced).
    pub fn is_synced(&self) -> bool {
        self.not_ready == 0
    }

    /// Number of sources not ready yet.
    pub fn remain(&self) -> usize {
        self.not_ready
    }

    /// DM `Lock.MarkDone`: marks a known source done; returns whether the
    /// source is known. An unknown source is never added.
    pub fn mark_done(&mut self, source: &str) -> bool {
        match self.position(source) {
            Ok(i) => {
                let entry = &mut self.entries[i];
                if !entry.done {
                    entry.done = true;
                    self.not_done -= 1;
                }
                true
            }
            Err(_) => false,
        }
    }

    /// Whether `source` is known and done.
    pub fn is_done(&self, source: &str) -> bool {
        self.position(source)
            .map(|i| self.entries[i].done)
            .unwrap_or(false)
    }

    /// Whether `source` is known and ready; `None` when unknown.
    pub fn is_ready(&self, source: &str) -> Option<bool> {
        self.position(source).ok().map(|i| self.entries[i].ready)
    }

    /// Whether `source` belongs to the lock.
    pub fn contains(&self, source: &str) -> bool {
        self.position(source).is_ok()
    }

    /// Every source is done (a lock without sources counts as resolved).
    pub fn is_resolved(&self) -> bool {
        self.not_done == 0
    }

    /// All sources, sorted.
    pub fn sources(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| &*e.source)
    }

    /// Number of sources.
    pub fn source_count(&self) -> usize {
        self.entries.len()
    }

    /// `(source, ready)` pairs, sorted by source (DM `Lock.Ready`).
    pub fn ready(&self) -> impl Iterator<Item = (&str, bool)> {
        self.entries.iter().map(|e| (&*e.source, e.ready))
    }

    /// Ready sources, sorted.
    pub fn synced_sources(&self) -> Vec<String> {
        self.filter_sources(|e| e.ready)
    }

    /// Sources not ready yet, sorted.
    pub fn unsynced_sources(&self) -> Vec<String> {
        self.filter_sources(|e| !e.ready)
    }

    /// Sources not done yet, sorted.
    pub fn undone_sources(&self) -> Vec<String> {
        self.filter_sources(|e| !e.done)
    }

    /// Approximate heap bytes owned by the lock, from capacities. Lets tests
    /// (and a future gauge) bound the memory of large locks.
    pub fn approx_heap_bytes(&self) -> usize {
        let ddls: usize = self.ddls.iter().map(String::capacity).sum();
        let names: usize = self.entries.iter().map(|e| e.source.len()).sum();
        self.id.capacity()
            + self.task.capacity()
            + self.owner.capacity()
            + self.ddls.capacity() * std::mem::size_of::<String>()
            + ddls
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + names
    }

    fn filter_sources(&self, keep: impl Fn(&Entry) -> bool) -> Vec<String> {
        self.entries
            .iter()
            .filter(|e| keep(e))
            .map(|e| e.source.to_string())
            .collect()
    }

    fn position(&self, source: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|e| (*e.source).cmp(source))
    }

    fn change_since(&self, before: SyncState) -> Option<StateChange> {
        StateChange::between(&self.task, Some(before), Some(self.state()))
    }
}
