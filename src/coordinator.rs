//! The coordinators: the scheduler and one actor per shard mode, owning its lock keeper, fed
//! by etcd watch events and admin requests over bounded channels, stopped by
//! a cancellation token scoped to one leadership term.

pub mod optimist;
pub mod pessimist;
pub mod scheduler;

use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};

/// The sending side of an actor's request channel: each request carries a
/// oneshot for its reply. A stopped actor (term over, or not leading) turns
/// into `stopped()`'s error instead of a hang.
pub(crate) struct Mailbox<R> {
    requests: mpsc::Sender<R>,
    stopped: fn() -> Error,
}

impl<R> Clone for Mailbox<R> {
    fn clone(&self) -> Self {
        Mailbox {
            requests: self.requests.clone(),
            stopped: self.stopped,
        }
    }
}

impl<R> Mailbox<R> {
    pub(crate) fn new(requests: mpsc::Sender<R>, stopped: fn() -> Error) -> Mailbox<R> {
        Mailbox { requests, stopped }
    }

    /// Sends the request `make` builds around a reply channel and waits
    /// for the reply.
    pub(crate) async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> R) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(make(tx))
            .await
            .map_err(|_| (self.stopped)())?;
        rx.await.map_err(|_| (self.stopped)())
    }
}
