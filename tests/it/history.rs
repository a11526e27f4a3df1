//! Records every etcd event of one test's shard-DDL keys, in revision
//! order, and checks invariants over the whole history.
//!
//! The invariant checked for both modes, "done is final until a new Info":
//! after a worker PUTs an Operation with `done = true`, no later PUT of that
//! Operation key has `done = false` unless the Info of the same table (or,
//! pessimistic, the same source) was PUT in between. A delete of the
//! Operation does not reset this: a master that deletes a resolved lock's
//! Operation and later writes it again undone has re-issued it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dm_master::etcd::watch::{WatchEvent, Watcher};
use dm_master::etcd::Etcd;
use dm_master::keys::{
    KeySpace, OPTIMISM_INFO, OPTIMISM_OPERATION, PESSIMISM_INFO, PESSIMISM_OPERATION,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::support::wait_until;

/// The recorder; stops watching when dropped.
pub struct History {
    etcd: Etcd,
    space: KeySpace,
    events: Arc<Mutex<Vec<WatchEvent>>>,
    cancel: CancellationToken,
}

impl Drop for History {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Which record an etcd key holds, with the table (or source) it is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Record {
    PessimisticInfo(Vec<String>),
    PessimisticOperation(Vec<String>),
    OptimisticInfo(Vec<String>),
    OptimisticOperation(Vec<String>),
}

impl History {
    /// Starts recording `space`'s shard-DDL keys. Call it before the test
    /// writes any of them: the recording starts at the current revision, and
    /// no earlier revision holds a key of the test's (unique) key space.
    pub async fn record(etcd: &Etcd, space: &KeySpace) -> History {
        let start = etcd.get("/").await.expect("etcd answers").revision;
        let events = Arc::new(Mutex::new(Vec::new()));
        let cancel = CancellationToken::new();
        let (tx, mut rx) = mpsc::channel(1024);
        tokio::spawn(
            Watcher::after(etcd.clone(), Self::prefix(space), start).run(tx, cancel.clone()),
        );
        let sink = events.clone();
        tokio::spawn(async move {
            while let Some(event) = rx.recv().await {
                sink.lock().unwrap().push(event);
            }
        });
        History {
            etcd: etcd.clone(),
            space: space.clone(),
            events,
            cancel,
        }
    }

    /// Covers both modes' keys (`shardddl-pessimism/`, `shardddl-optimism/`)
    /// and the recorder's own sentinel, which no coordinator watches.
    fn prefix(space: &KeySpace) -> String {
        format!("{}/dm-master/shardddl-", space.namespace())
    }

    fn sentinel(space: &KeySpace) -> String {
        format!("{}/dm-master/shardddl-history-sentinel", space.namespace())
    }

    /// Waits until everything written so far is recorded, then checks that
    /// done is final until a new Info; panics naming the offending write.
    pub async fn check_done_is_final(&self) {
        self.catch_up().await;
        let events = self.events.lock().unwrap().clone();
        if let Err(violation) = done_is_final(&self.space, &events) {
            panic!("done is final until a new Info: {violation}");
        }
    }

    /// The shard DDL keys put after `revision`, once everything written so
    /// far is recorded.
    pub async fn shard_ddl_puts_after(&self, revision: i64) -> Vec<String> {
        self.catch_up().await;
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter(|e| e.revision() > revision)
            .filter_map(|e| match e {
                WatchEvent::Put(kv) if classify(&self.space, &kv.key).is_some() => {
                    Some(kv.key_str().into_owned())
                }
                _ => None,
            })
            .collect()
    }

    /// Waits until the recorder has seen everything written so far.
    async fn catch_up(&self) {
        let revision = self
            .etcd
            .put(Self::sentinel(&self.space), "")
            .await
            .expect("etcd answers");
        let caught_up = wait_until(Duration::from_secs(15), || async {
            self.events
                .lock()
                .unwrap()
                .last()
                .is_some_and(|e| e.revision() >= revision)
        })
        .await;
        assert!(
            caught_up,
            "the history recorder caught up with revision {revision}"
        );
    }
}

impl History {
    /// Shard DDL keys written (put or deleted) after `revision`, apart from
    /// the recorder's own sentinel.
    pub fn shard_ddl_writes_after(&self, revision: i64) -> usize {
        let events = self.events.lock().unwrap();
        events
            .iter()
            .filter(|e| e.revision() > revision)
            .filter(|e| match e {
                WatchEvent::Put(kv) => classify(&self.space, &kv.key).is_some(),
                WatchEvent::Delete { key, .. } => classify(&self.space, key).is_some(),
                WatchEvent::Resynced(_) => true,
            })
            .count()
    }
}

fn classify(space: &KeySpace, key: &[u8]) -> Option<Record> {
    if let Ok(parts) = space.decode(&PESSIMISM_INFO, key) {
        return Some(Record::PessimisticInfo(parts.to_vec()));
    }
    if let Ok(parts) = space.decode(&PESSIMISM_OPERATION, key) {
        return Some(Record::PessimisticOperation(parts.to_vec()));
    }
    if let Ok(parts) = space.decode(&OPTIMISM_INFO, key) {
        return Some(Record::OptimisticInfo(parts.to_vec()));
    }
    if let Ok(parts) = space.decode(&OPTIMISM_OPERATION, key) {
        return Some(Record::OptimisticOperation(parts.to_vec()));
    }
    None
}

/// The Info whose PUT licenses a new undone Operation, and whether the
/// Operation value says done.
fn operation_state(record: &Record, value: &[u8]) -> Option<(Record, bool)> {
    match record {
        Record::PessimisticOperation(parts) => {
            let op = dm_master::pessimism::Operation::decode(value).ok()?;
            Some((Record::PessimisticInfo(parts.clone()), op.done))
        }
        Record::OptimisticOperation(parts) => {
            let op = dm_master::optimism::Operation::decode(value).ok()?;
            Some((Record::OptimisticInfo(parts.clone()), op.done))
        }
        _ => None,
    }
}

/// The invariant over one recorded history (see the module docs).
fn done_is_final(space: &KeySpace, events: &[WatchEvent]) -> Result<(), String> {
    // Per Info: the revision of the done that is final until the Info is
    // PUT again.
    let mut done_at: HashMap<Record, i64> = HashMap::new();
    for event in events {
        match event {
            WatchEvent::Put(kv) => match classify(space, &kv.key) {
                Some(info @ (Record::PessimisticInfo(_) | Record::OptimisticInfo(_))) => {
                    done_at.remove(&info);
                }
                Some(op) => {
                    let Some((info, done)) = operation_state(&op, &kv.value) else {
                        continue;
                    };
                    if done {
                        done_at.entry(info).or_insert(kv.mod_revision);
                    } else if let Some(done_revision) = done_at.get(&info) {
                        return Err(format!(
                            "{} was PUT undone at revision {} after its done at revision {} with no new Info in between: {}",
                            kv.key_str(),
                            kv.mod_revision,
                            done_revision,
                            String::from_utf8_lossy(&kv.value)
                        ));
                    }
                }
                None => {}
            },
            WatchEvent::Delete { .. } => {}
            WatchEvent::Resynced(snapshot) => {
                // History was compacted away under the recorder: start over
                // from the state etcd shows.
                done_at.clear();
                for kv in &snapshot.value {
                    if let Some(op) = classify(space, &kv.key) {
                        if let Some((info, true)) = operation_state(&op, &kv.value) {
                            done_at.insert(info, kv.mod_revision);
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dm_master::etcd::KeyValue;
    use dm_master::pessimism::{ops, Info, Operation};

    fn put(key: String, value: Vec<u8>, revision: i64) -> WatchEvent {
        WatchEvent::Put(KeyValue {
            key: key.into_bytes(),
            value,
            create_revision: revision,
            mod_revision: revision,
            version: 1,
            lease: 0,
        })
    }

    #[test]
    fn an_undone_operation_after_a_done_is_caught_unless_a_new_info_came_between() {
        let space = KeySpace::default();
        let info = Info {
            task: "t".into(),
            source: "s1".into(),
            schema: "db".into(),
            table: "tb".into(),
            ddls: Some(vec!["ddl".into()]),
        };
        let op = |done| Operation {
            id: "t-`db`.`tb`".into(),
            task: "t".into(),
            source: "s1".into(),
            ddls: Some(vec!["ddl".into()]),
            exec: true,
            done,
        };
        let info_put = |rev| put(ops::info_key(&space, "t", "s1"), info.encode(), rev);
        let op_put = |done, rev| {
            put(
                ops::operation_key(&space, "t", "s1"),
                op(done).encode(),
                rev,
            )
        };
        let reissued = [
            info_put(1),
            op_put(false, 2),
            op_put(true, 3),
            op_put(false, 4),
        ];
        let error = done_is_final(&space, &reissued).unwrap_err();
        assert!(
            error.contains("revision 4 after its done at revision 3"),
            "{error}"
        );
        let licensed = [
            info_put(1),
            op_put(false, 2),
            op_put(true, 3),
            info_put(4),
            op_put(false, 5),
        ];
        assert_eq!(done_is_final(&space, &licensed), Ok(()));
    }
}
