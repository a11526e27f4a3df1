//! The worker crate's error type, with DM's error codes.

/// Result alias of the worker crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the worker side can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error of the master library (etcd, keys, values).
    #[error(transparent)]
    Master(#[from] dm_master::Error),

    /// The Info was gone when marking the Operation done: the lock was
    /// force-removed (DM's `ErrWorkerDDLLockInfoNotFound`).
    #[error("DDLLockInfo with task {task} and source {source_id} not found")]
    InfoNotFound { task: String, source_id: String },

    /// An Operation value of our own key did not decode.
    #[error("operation of task {task} and source {source_id} does not decode: {reason}")]
    BadOperation {
        task: String,
        source_id: String,
        reason: String,
    },

    /// The master answered with the `error` conflict stage (DM's
    /// `ErrSyncerShardDDLConflict`): the DDL cannot be merged.
    #[error("fail to handle shard ddl in optimistic mode, because schema conflict detected, lock {lock_id}: {message}")]
    Conflict { lock_id: String, message: String },

    /// Waiting was cancelled (shutdown).
    #[error("cancelled while {during}")]
    Cancelled { during: &'static str },

    /// The schema tracker could not apply an upstream DDL (DM's
    /// `ErrSchemaTrackerCannotExecDDL`).
    #[error(transparent)]
    Tracker(#[from] crate::tracker::TrackerError),

    /// The downstream rejected a DDL statement with a MySQL error that does
    /// not mean "already applied" (DM's `ErrDBExecuteFailed`).
    #[error("downstream DDL `{statement}` failed: MySQL error {number}: {message}")]
    DownstreamDdl {
        statement: String,
        number: u16,
        message: String,
    },

    /// The downstream could not be reached, or the connection kept failing,
    /// after bounded retries (DM's `ErrDBBadConn`).
    #[error(
        "downstream {address} unavailable after {attempts} attempt(s) while {during}: {reason}"
    )]
    DownstreamUnavailable {
        address: String,
        attempts: u32,
        during: String,
        reason: String,
    },

    /// Any other downstream failure: a bad URL, access denied, an
    /// unexpected reply (DM's `ErrDBDriverError`).
    #[error("downstream error while {during}: {reason}")]
    Downstream { during: String, reason: String },

    /// A scenario file is unusable (bad TOML, a missing field, a step the
    /// shard mode cannot handle).
    #[error("scenario: {0}")]
    Scenario(String),

    /// A scenario step failed.
    #[error("scenario step {step}: {error}")]
    Step { step: usize, error: Box<Error> },

    /// The caller's execute-or-skip step failed; the Operation stays not
    /// done, so the lock waits (DM pauses the task).
    #[error("executing the shard DDL failed: {0}")]
    Execute(String),
}

impl Error {
    /// DM error code.
    pub fn code(&self) -> i32 {
        match self {
            Error::Master(e) => e.code(),
            Error::InfoNotFound { .. } => 40061,
            Error::BadOperation { .. } => 40075,
            Error::Cancelled { .. } => 40075,
            Error::Conflict { .. } => 36062,
            Error::Execute(_) => 36006,
            Error::Scenario(_) => 20001,
            Error::Step { error, .. } => error.code(),
            Error::Tracker(_) => 44006,
            Error::DownstreamDdl { .. } => 10006,
            Error::DownstreamUnavailable { .. } => 10002,
            Error::Downstream { .. } => 10001,
        }
    }
}
