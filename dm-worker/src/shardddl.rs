//! Shard-DDL clients of one worker (one upstream source).

use dm_master::etcd::watch::{WatchEvent, Watcher};
use dm_master::etcd::{Etcd, KeyValue};
use dm_master::gojson::DecodeError;
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::error::{Error, Result};

pub mod optimist;
pub mod pessimist;

/// An Operation value of either mode as the clients read it.
trait OperationValue: Sized {
    /// The mode's own decoder.
    fn read(bytes: &[u8]) -> std::result::Result<Self, DecodeError>;

    /// Whether the value answers an Info; other values are passed over.
    fn answers(&self) -> bool;
}

impl OperationValue for dm_master::pessimism::Operation {
    fn read(bytes: &[u8]) -> std::result::Result<Self, DecodeError> {
        Self::decode(bytes)
    }

    /// DM drops an Operation without a task too.
    fn answers(&self) -> bool {
        !self.task.is_empty()
    }
}

impl OperationValue for dm_master::optimism::Operation {
    fn read(bytes: &[u8]) -> std::result::Result<Self, DecodeError> {
        Self::decode(bytes)
    }

    /// Our own done write, or an empty value: not an answer.
    fn answers(&self) -> bool {
        !self.task.is_empty() && !self.done
    }
}

/// A running watch of one key; dropping it stops the watcher (an idle key
/// would otherwise keep it waiting until the caller's token fires).
struct KeyWatch {
    events: mpsc::Receiver<WatchEvent>,
    _stop: DropGuard,
}

impl KeyWatch {
    /// Watches `key` from revision `after` + 1 under a child of `cancel`.
    fn start(etcd: &Etcd, key: String, after: i64, cancel: &CancellationToken) -> KeyWatch {
        let (tx, rx) = mpsc::channel(16);
        let watcher = Watcher::key_after(etcd.clone(), key, after);
        let token = cancel.child_token();
        tokio::spawn(watcher.run(tx, token.clone()));
        KeyWatch {
            events: rx,
            _stop: token.drop_guard(),
        }
    }

    async fn recv(&mut self) -> Option<WatchEvent> {
        self.events.recv().await
    }

    /// The next value put on the key after revision `after`. After a
    /// compaction the watcher re-reads the key: a value written after
    /// `after` is the answer. `during` names the wait when the watch ends.
    async fn next_put(&mut self, after: i64, during: &'static str) -> Result<KeyValue> {
        loop {
            match self.recv().await {
                Some(WatchEvent::Put(kv)) => return Ok(kv),
                Some(WatchEvent::Resynced(snapshot)) => {
                    if let Some(kv) = snapshot
                        .value
                        .into_iter()
                        .find(|kv| kv.mod_revision > after)
                    {
                        return Ok(kv);
                    }
                }
                Some(WatchEvent::Delete { .. }) => {}
                None => return Err(Error::Cancelled { during }),
            }
        }
    }

    /// The next Operation put after revision `after` that answers an Info,
    /// with its revision. A value that does not decode fails the wait, named
    /// by this worker's `task` and `source`.
    async fn next_operation<T: OperationValue>(
        &mut self,
        after: i64,
        during: &'static str,
        (task, source): (&str, &str),
    ) -> Result<(T, i64)> {
        loop {
            let kv = self.next_put(after, during).await?;
            let op = T::read(&kv.value).map_err(|e| Error::BadOperation {
                task: task.to_owned(),
                source_id: source.to_owned(),
                reason: e.to_string(),
            })?;
            if op.answers() {
                return Ok((op, kv.mod_revision));
            }
        }
    }
}
