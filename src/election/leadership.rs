//! What the election publishes and how the rest of the master reaches it:
//! [`Leadership`] (unknown, leader of a [`Term`], or follower of a
//! [`LeaderValue`]) and the [`ElectionHandle`] that reads it and asks the
//! actor to resign.

use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::LeaderValue;
use crate::etcd::Fence;

/// What this master currently knows about the leader.
#[derive(Debug, Clone)]
pub enum Leadership {
    /// No leader known: starting, between terms, or etcd out of reach.
    Unknown,
    /// This master leads, for the given term.
    Leader(Term),
    /// Another master leads.
    Follower(LeaderValue),
}

impl Leadership {
    pub fn is_leader(&self) -> bool {
        matches!(self, Leadership::Leader(_))
    }

    /// The term, when this master leads.
    pub fn term(&self) -> Option<&Term> {
        match self {
            Leadership::Leader(term) => Some(term),
            _ => None,
        }
    }

    /// Same state (terms compare by fence), so a re-publication does not wake
    /// receivers.
    pub(super) fn same_as(&self, other: &Leadership) -> bool {
        match (self, other) {
            (Leadership::Unknown, Leadership::Unknown) => true,
            (Leadership::Leader(a), Leadership::Leader(b)) => a.fence == b.fence,
            (Leadership::Follower(a), Leadership::Follower(b)) => a == b,
            _ => false,
        }
    }
}

/// One won term.
#[derive(Debug, Clone)]
pub struct Term {
    /// The leader key and its create revision: leader-only writes compare it
    /// (`Etcd::txn_fenced`), so they fail once another member has won.
    pub fence: Fence,
    /// The session lease the leader key is attached to.
    pub lease_id: i64,
    /// Cancelled when this term ends (before `Unknown` is published);
    /// leader-only work runs under it. A child of the election's token.
    pub cancel: CancellationToken,
    /// Leader-only work of the term (the coordinators) is spawned here. When
    /// the election sees the term lost, it cancels `cancel` and waits for
    /// this work to stop before it reports the loss or campaigns again, so
    /// a deposed term's coordinators never overlap anything that follows.
    pub work: TaskTracker,
}

impl Term {
    /// The term's number for logs: the leader key's create revision.
    pub fn id(&self) -> i64 {
        self.fence.create_revision
    }
}

/// The way to the election actor.
#[derive(Debug, Clone)]
pub struct ElectionHandle {
    pub(super) leadership: watch::Receiver<Leadership>,
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) own: LeaderValue,
}

impl ElectionHandle {
    /// The leadership channel (always holds the latest state).
    pub fn leadership(&self) -> watch::Receiver<Leadership> {
        self.leadership.clone()
    }

    /// Gives up leadership now, so the next candidate takes over at once, and
    /// returns once the leader key is released. The actor then campaigns again
    /// (behind the others) unless it is shutting down. A no-op when this
    /// master does not lead, so calling it twice is harmless.
    pub async fn resign(&self) {
        let (reply, done) = oneshot::channel();
        if self.commands.send(Command::Resign(reply)).await.is_ok() {
            // An error only means the actor stopped: nothing left to resign.
            let _ = done.await;
        }
    }

    /// The current leader as last observed (ourselves when leading).
    pub async fn leader(&self) -> Option<LeaderValue> {
        match &*self.leadership.borrow() {
            Leadership::Leader(_) => Some(self.own.clone()),
            Leadership::Follower(value) => Some(value.clone()),
            Leadership::Unknown => None,
        }
    }

    pub fn is_leader(&self) -> bool {
        self.leadership.borrow().is_leader()
    }

    /// This master's own candidate value.
    pub fn own(&self) -> &LeaderValue {
        &self.own
    }
}

#[derive(Debug)]
pub(super) enum Command {
    /// Resign if leading; answered once done.
    Resign(oneshot::Sender<()>),
}
