//! A watcher over one key prefix as a small state machine
//! (`Resync -> Watching { next_revision }`), in the shape of kube-rs's watcher.
//!
//! * `Resync`: read the whole prefix at one revision and emit
//!   [`WatchEvent::Resynced`]; the owner rebuilds from it instead of patching.
//! * `Watching`: stream events from `next_revision`; every event moves
//!   `next_revision` past its revision.
//! * A watch from a compacted revision is not an error in etcd: the stream
//!   answers `canceled` with `compact_revision > 0`. That, like any cancelled
//!   response, sends us back to `Resync`.
//! * A broken or ended stream (etcd restarted, network) re-watches from
//!   `next_revision` after a bounded backoff, so no event is lost or repeated.
//!
//! **Invariant:** the owner sees every change under the prefix exactly once,
//! either as an event or folded into a later `Resynced` snapshot.
//!
//! An owner that must not act between the changes of one txn (a stop-task
//! deleting several subtask configs at once) takes them with
//! [`Watcher::run_by_revision`]: one message per revision.

use etcd_client::{EventType, WatchOptions};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::retry::Backoff;
use super::{prefix_end, Etcd, KeyValue, WithRevision};

/// Watch responses can carry all history since the start revision in one
/// message; allow far more than the client's 4 MiB default.
const MAX_WATCH_MESSAGE: usize = 256 * 1024 * 1024;

/// What a [`Watcher`] reports to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// A key was created or updated.
    Put(KeyValue),
    /// A key was deleted at `revision`. Previous values are not asked for:
    /// owners keep what they need, and etcd would otherwise send every
    /// overwritten value a second time with each event.
    Delete { key: Vec<u8>, revision: i64 },
    /// The full content of the prefix at one revision; replaces all earlier
    /// knowledge of the prefix.
    Resynced(WithRevision<Vec<KeyValue>>),
}

impl WatchEvent {
    /// The revision this event brings the owner to.
    pub fn revision(&self) -> i64 {
        match self {
            WatchEvent::Put(kv) => kv.mod_revision,
            WatchEvent::Delete { revision, .. } => *revision,
            WatchEvent::Resynced(snapshot) => snapshot.revision,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Resync,
    Watching { next_revision: i64 },
}

/// Watches one prefix (or one exact key) and feeds a bounded channel.
pub struct Watcher {
    etcd: Etcd,
    /// Start of the watched range; also the name used in logs.
    prefix: String,
    /// End of the watched range (exclusive).
    range_end: Vec<u8>,
    state: State,
    backoff: Backoff,
}

impl Watcher {
    /// A watcher that first emits a snapshot of the prefix, then its changes.
    pub fn new(etcd: Etcd, prefix: impl Into<String>) -> Watcher {
        let prefix = prefix.into();
        Watcher {
            etcd,
            range_end: prefix_end(prefix.as_bytes()),
            prefix,
            state: State::Resync,
            backoff: Backoff::for_watch(),
        }
    }

    /// A watcher that reports exactly the changes after `revision` (the
    /// owner already holds a snapshot read at `revision`).
    pub fn after(etcd: Etcd, prefix: impl Into<String>, revision: i64) -> Watcher {
        let prefix = prefix.into();
        Watcher {
            etcd,
            range_end: prefix_end(prefix.as_bytes()),
            prefix,
            state: State::Watching {
                next_revision: revision + 1,
            },
            backoff: Backoff::for_watch(),
        }
    }

    /// A watcher of exactly one key (no prefix matching: hex-encoded keys of
    /// `mysql-1` are a prefix of those of `mysql-10`), reporting the changes
    /// after `revision`.
    pub fn key_after(etcd: Etcd, key: impl Into<String>, revision: i64) -> Watcher {
        let key = key.into();
        let mut range_end = key.clone().into_bytes();
        range_end.push(0);
        Watcher {
            etcd,
            prefix: key,
            range_end,
            state: State::Watching {
                next_revision: revision + 1,
            },
            backoff: Backoff::for_watch(),
        }
    }

    /// Runs until `cancel` fires or the receiver is dropped, sending each
    /// change on its own. Errors from etcd never end the loop: they are
    /// logged and retried with backoff.
    pub async fn run(self, events: mpsc::Sender<WatchEvent>, cancel: CancellationToken) {
        self.run_into(Outlet::Each(events), cancel).await
    }

    /// As [`Watcher::run`], but the changes of one revision (one txn) come
    /// together in one message, in etcd's order; a snapshot comes alone.
    pub async fn run_by_revision(
        self,
        events: mpsc::Sender<Vec<WatchEvent>>,
        cancel: CancellationToken,
    ) {
        self.run_into(Outlet::ByRevision(events), cancel).await
    }

    async fn run_into(mut self, events: Outlet, cancel: CancellationToken) {
        loop {
            let step = match self.state {
                State::Resync => self.resync(&events, &cancel).await,
                State::Watching { next_revision } => {
                    self.watch_from(next_revision, &events, &cancel).await
                }
            };
            match step {
                Step::Stop => return,
                Step::Continue => {}
                Step::RetryAfterBackoff => {
                    let delay = self.backoff.next_delay();
                    tokio::select! {
                        biased;
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    async fn resync(&mut self, events: &Outlet, cancel: &CancellationToken) -> Step {
        let snapshot = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Step::Stop,
            r = self.etcd.get_range(self.prefix.as_bytes(), &self.range_end) => r,
        };
        match snapshot {
            Ok(snapshot) => {
                let revision = snapshot.revision;
                tracing::debug!(prefix = %self.prefix, revision, keys = snapshot.value.len(), "watch resynced");
                if !events
                    .send(cancel, vec![WatchEvent::Resynced(snapshot)])
                    .await
                {
                    return Step::Stop;
                }
                self.backoff.reset();
                self.state = State::Watching {
                    next_revision: revision + 1,
                };
                Step::Continue
            }
            Err(error) => {
                tracing::warn!(prefix = %self.prefix, %error, "watch resync failed, retrying");
                Step::RetryAfterBackoff
            }
        }
    }

    async fn watch_from(
        &mut self,
        next_revision: i64,
        events: &Outlet,
        cancel: &CancellationToken,
    ) -> Step {
        let options = WatchOptions::new()
            .with_range(self.range_end.clone())
            .with_start_revision(next_revision);
        let mut client = self
            .etcd
            .client()
            .watch_client()
            .max_decoding_message_size(MAX_WATCH_MESSAGE);
        let opened = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Step::Stop,
            r = tokio::time::timeout(super::REQUEST_TIMEOUT, client.watch(self.prefix.clone(), Some(options))) => r,
        };
        let mut stream = match opened {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::warn!(prefix = %self.prefix, revision = next_revision, %error, "watch could not start, retrying");
                return Step::RetryAfterBackoff;
            }
            Err(_) => {
                tracing::warn!(prefix = %self.prefix, revision = next_revision, "watch start timed out, retrying");
                return Step::RetryAfterBackoff;
            }
        };
        let mut next = next_revision;
        loop {
            let message = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Step::Stop,
                m = stream.message() => m,
            };
            match message {
                Ok(Some(resp)) => {
                    if resp.canceled() {
                        if resp.compact_revision() > 0 {
                            tracing::warn!(prefix = %self.prefix, revision = next, compact_revision = resp.compact_revision(), "watch fell behind compaction, resyncing");
                            self.state = State::Resync;
                            return Step::Continue;
                        }
                        tracing::warn!(prefix = %self.prefix, revision = next, reason = resp.cancel_reason(), "watch cancelled by etcd, re-watching");
                        self.state = State::Watching {
                            next_revision: next,
                        };
                        return Step::RetryAfterBackoff;
                    }
                    let changes: Vec<WatchEvent> = resp
                        .events()
                        .iter()
                        .filter_map(|event| {
                            let kv = KeyValue::from_client(event.kv()?);
                            Some(match event.event_type() {
                                EventType::Put => WatchEvent::Put(kv),
                                EventType::Delete => WatchEvent::Delete {
                                    revision: kv.mod_revision,
                                    key: kv.key,
                                },
                            })
                        })
                        .collect();
                    if let Some(last) = changes.last().map(WatchEvent::revision) {
                        if !events.send(cancel, changes).await {
                            return Step::Stop;
                        }
                        next = next.max(last + 1);
                    }
                    self.state = State::Watching {
                        next_revision: next,
                    };
                    self.backoff.reset();
                }
                Ok(None) => {
                    tracing::warn!(prefix = %self.prefix, revision = next, "watch stream ended, re-watching");
                    self.state = State::Watching {
                        next_revision: next,
                    };
                    return Step::RetryAfterBackoff;
                }
                Err(error) => {
                    tracing::warn!(prefix = %self.prefix, revision = next, %error, "watch stream broke, re-watching");
                    self.state = State::Watching {
                        next_revision: next,
                    };
                    return Step::RetryAfterBackoff;
                }
            }
        }
    }
}

enum Step {
    Continue,
    RetryAfterBackoff,
    Stop,
}

/// Where a watcher's events go: one message per change, or one per revision.
enum Outlet {
    Each(mpsc::Sender<WatchEvent>),
    ByRevision(mpsc::Sender<Vec<WatchEvent>>),
}

impl Outlet {
    /// Sends the changes of one watch response (or a snapshot), giving up
    /// when cancelled or when the owner is gone. A response holds whole
    /// revisions in order: etcd never splits one txn's events across
    /// responses, so grouping within it is grouping by revision.
    async fn send(&self, cancel: &CancellationToken, changes: Vec<WatchEvent>) -> bool {
        match self {
            Outlet::Each(events) => {
                for event in changes {
                    if !send(events, cancel, event).await {
                        return false;
                    }
                }
                true
            }
            Outlet::ByRevision(events) => {
                let mut changes = changes.into_iter().peekable();
                while let Some(first) = changes.next() {
                    let revision = first.revision();
                    let mut one_revision = vec![first];
                    while let Some(same) = changes.next_if(|e| e.revision() == revision) {
                        one_revision.push(same);
                    }
                    if !send(events, cancel, one_revision).await {
                        return false;
                    }
                }
                true
            }
        }
    }
}

/// Sends one message, giving up when cancelled or when the owner is gone.
async fn send<T>(events: &mpsc::Sender<T>, cancel: &CancellationToken, message: T) -> bool {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => false,
        r = events.send(message) => r.is_ok(),
    }
}
