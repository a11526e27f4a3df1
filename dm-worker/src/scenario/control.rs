//! How a run is driven from outside: the [`Control`] that cancels it, holds
//! it between statements while its subtask is paused, and the [`Waiting`]
//! it reports for a joined worker's `QueryStatus`.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};

/// Where a run waits, as a joined worker's `QueryStatus` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Waiting {
    /// The shard-DDL lock whose Operation the run waits for (or is
    /// executing), empty when none (DM's `unresolvedDDLLockID`).
    pub lock_id: String,
    /// The DDLs of that lock this source sent (DM's `blockingDDLs`).
    pub ddls: Vec<String>,
    /// The conflict the master reported for them, if any.
    pub conflict: String,
    /// Every step ran (DM's `synced`: caught up with the upstream).
    pub caught_up: bool,
    /// The furthest step (0-based) any run of this subtask reached: a
    /// replay after a failure does not idle again in `pause-ms` steps
    /// before it, as DM resumes from its checkpoint.
    pub reached_step: usize,
}

impl Waiting {
    /// The lock is answered: nothing is waited on any more.
    pub(super) fn lock_answered(&mut self) {
        self.lock_id.clear();
        self.ddls.clear();
        self.conflict.clear();
    }
}

/// How a run is driven from outside: cancelled (stop), held between
/// statements (pause), and observed.
#[derive(Debug, Clone)]
pub struct Control {
    pub(super) cancel: CancellationToken,
    /// `true` while the subtask is paused; `None`: never paused.
    paused: Option<watch::Receiver<bool>>,
    waiting: Arc<Mutex<Waiting>>,
}

impl Control {
    /// A run that is only ever cancelled.
    pub fn unpaused(cancel: CancellationToken) -> Control {
        Control {
            cancel,
            paused: None,
            waiting: Arc::default(),
        }
    }

    /// A run held while `paused` says so, reporting into `waiting`.
    pub fn new(
        cancel: CancellationToken,
        paused: watch::Receiver<bool>,
        waiting: Arc<Mutex<Waiting>>,
    ) -> Control {
        Control {
            cancel,
            paused: Some(paused),
            waiting,
        }
    }

    /// Returns at once while running; while paused, waits for resume. A
    /// pause thus takes effect before the next statement, Info or
    /// downstream DDL; a wait for the master's answer goes on meanwhile.
    pub(super) async fn proceed(&self) -> Result<()> {
        let Some(mut paused) = self.paused.clone() else {
            return Ok(());
        };
        loop {
            if !*paused.borrow_and_update() {
                return Ok(());
            }
            tokio::select! {
                changed = paused.changed() => if changed.is_err() { return Ok(()) },
                () = self.cancel.cancelled() => return Err(Error::Cancelled { during: "paused" }),
            }
        }
    }

    /// Returns once the run is paused; never when it cannot be.
    pub(super) async fn paused(&self) {
        let Some(mut paused) = self.paused.clone() else {
            return std::future::pending().await;
        };
        if paused.wait_for(|p| *p).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    pub(super) fn reached_step(&self) -> usize {
        self.waiting.lock().map(|w| w.reached_step).unwrap_or(0)
    }

    /// Returns once the run is told to stop.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// Whether the run was told to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    pub(super) fn report(&self, update: impl FnOnce(&mut Waiting)) {
        if let Ok(mut waiting) = self.waiting.lock() {
            update(&mut waiting);
        }
    }
}
