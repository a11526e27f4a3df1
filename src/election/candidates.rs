//! The election's view of the candidate keys under `/dm-master/leader/`.
//!
//! PURE: no async, no I/O. Fed by a prefix [`Watcher`](crate::etcd::watch::Watcher),
//! so it always equals the prefix at some revision (`revision`).
//!
//! **Invariant:** the leader is the key with the smallest create revision.
//! Create revisions only grow, so once our key is the smallest at some
//! revision it stays the smallest until it is deleted; a judgement made from
//! a lagging view is therefore never wrong about our own leadership, only
//! late.

use std::collections::BTreeMap;

use crate::etcd::watch::WatchEvent;
use crate::etcd::KeyValue;

/// Candidate keys at one revision.
#[derive(Debug, Default)]
pub(super) struct Candidates {
    keys: BTreeMap<Vec<u8>, KeyValue>,
    /// The revision the view reflects (0 before the first snapshot).
    revision: i64,
}

/// Where our candidate key stands in the view.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Standing<'a> {
    /// The view has not caught up with our campaign yet: nothing to judge.
    Behind,
    /// Our key (at the create revision we campaigned with) is gone.
    Gone,
    /// Our key is the first-created one.
    Leader,
    /// Another key was created first: that candidate leads.
    Follower(&'a KeyValue),
}

impl Candidates {
    pub fn apply(&mut self, event: WatchEvent) {
        let revision = event.revision();
        match event {
            WatchEvent::Resynced(snapshot) => {
                self.keys = snapshot
                    .value
                    .into_iter()
                    .map(|kv| (kv.key.clone(), kv))
                    .collect();
            }
            WatchEvent::Put(kv) => {
                self.keys.insert(kv.key.clone(), kv);
            }
            WatchEvent::Delete { key, .. } => {
                self.keys.remove(&key);
            }
        }
        self.revision = self.revision.max(revision);
    }

    /// The first-created candidate (the leader), if any.
    pub fn leader(&self) -> Option<&KeyValue> {
        self.keys.values().min_by_key(|kv| kv.create_revision)
    }

    /// Judges our key `key`, created at `create_revision`.
    pub fn standing(&self, key: &[u8], create_revision: i64) -> Standing<'_> {
        // Before the view reaches our campaign, our key's absence means
        // nothing, and the leader it shows may already be gone.
        if self.revision < create_revision {
            return Standing::Behind;
        }
        match self.keys.get(key) {
            Some(kv) if kv.create_revision == create_revision => {}
            _ => return Standing::Gone,
        }
        match self.leader() {
            Some(first) if first.key != key => Standing::Follower(first),
            _ => Standing::Leader,
        }
    }
}
