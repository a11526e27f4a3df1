//! The coordinators: the scheduler and one actor per shard mode, owning its lock keeper, fed
//! by etcd watch events and admin requests over bounded channels, stopped by
//! a cancellation token scoped to one leadership term.
//!
//! # Invariants
//!
//! * One ordered stream per actor: an actor rebuilds from its prefix read at
//!   one revision and watches from the next; after a compaction or a lost
//!   stream it gets a fresh snapshot and rebuilds instead of patching.
//! * An actor's state is its own: nothing outside it reads or writes its
//!   keeper; handles send requests to its mailbox.
//! * Every write of a term carries the term's fence; a write that finds the
//!   fence broken ends the term ([`unless_term_ends`]), and the next leader
//!   rebuilds from etcd.
//! * No panic in a loop: a bad value is logged with its task, source or lock
//!   and counted, and the loop goes on.

pub mod optimist;
pub mod pessimist;
pub mod scheduler;

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::{Error, Result};
use crate::etcd::{Etcd, Fence};
use crate::keys::KeySpace;
use crate::metrics::Metrics;

/// What every actor of a leader term reads and writes with.
#[derive(Clone)]
pub struct ActorContext {
    pub etcd: Etcd,
    pub space: KeySpace,
    /// The term's leader fence on every write (`None` runs an actor
    /// without an election).
    pub fence: Option<Fence>,
    pub metrics: Arc<Metrics>,
}

/// Capacity of the channels from watchers and admin callers (backpressure).
pub(crate) const CHANNEL_CAPACITY: usize = 256;

/// Starts an actor of a term: its request channel, then its `run` (given
/// the receiving side, the term's tracker and token) on the term's
/// tracker. Returns the mailbox its handle sends through, which fails with
/// `stopped()` once the actor is gone.
///
/// An actor that fails ends the term it served (its token is the term's
/// child): another term must rebuild from etcd.
pub(crate) fn start_actor<R, F>(
    actor: &'static str,
    tracker: &TaskTracker,
    cancel: CancellationToken,
    stopped: fn() -> Error,
    run: impl FnOnce(mpsc::Receiver<R>, TaskTracker, CancellationToken) -> F,
) -> Mailbox<R>
where
    F: Future<Output = Result<()>> + Send + 'static,
{
    let (requests, received) = mpsc::channel(CHANNEL_CAPACITY);
    let run = run(received, tracker.clone(), cancel.clone());
    tracker.spawn(async move {
        if let Err(error) = run.await {
            tracing::error!(%error, "{actor} stopped");
            cancel.cancel();
        }
    });
    Mailbox::new(requests, stopped)
}

/// The outcome of one step of an actor's loop: an error that ends the term
/// (the leader fence is lost) stops the actor; any other is logged and the
/// actor goes on with the next event.
pub(crate) fn unless_term_ends(
    actor: &'static str,
    step: &'static str,
    result: Result<()>,
) -> Result<()> {
    match result {
        Err(error) if error.ends_term() => {
            tracing::error!(%error, "leader fence lost, {actor} stops and ends the term");
            Err(error)
        }
        Err(error) => {
            tracing::warn!(%error, "{actor} {step} failed");
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

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
