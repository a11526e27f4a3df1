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

    /// The master answered with the `error` conflict stage, or any
    /// conflict under `strict-optimistic-shard-mode` (DM's
    /// `ErrSyncerShardDDLConflict`): the DDL cannot be merged. `ddls` is
    /// printed as Go's `%v` of a string slice.
    #[error("fail to handle shard ddl [{}] in optimistic mode, because schema conflict detected, conflict error: {message}", ddls.join(" "))]
    Conflict {
        lock_id: String,
        ddls: Vec<String>,
        message: String,
    },

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

    /// The command line does not parse (DM's `ErrWorkerParseFlagSet`).
    #[error("parse dm-worker config flag set: {reason}")]
    ParseFlags { reason: String },

    /// An argument left over after the flags (DM's `ErrWorkerInvalidFlag`).
    #[error("'{arg}' is an invalid flag")]
    InvalidFlag { arg: String },

    /// The worker TOML file is unreadable or not TOML (DM's
    /// `ErrWorkerDecodeConfigFromFile`).
    #[error("toml decode file: {reason}")]
    DecodeConfigFile { reason: String },

    /// The worker TOML file has keys DM's worker does not know (DM's
    /// `ErrWorkerUndecodedItemFromFile`).
    #[error("worker config contains unknown configuration options: {items}")]
    UndecodedConfigItems { items: String },

    /// `worker-addr` / `advertise-addr` is not a usable `host:port` (DM's
    /// `ErrWorkerHostPortNotValid`).
    #[error("{message}")]
    HostPortNotValid {
        message: String,
        raw_cause: Option<String>,
    },

    /// QueryStatus while no source is bound (DM's `ErrWorkerNoStart`).
    #[error("no mysql source is being handled in the worker")]
    NoSourceHandled,

    /// A bound arrived for another source while one is handled (DM's
    /// `ErrWorkerAlreadyStart`).
    #[error("mysql source worker {worker} has already started with source {current}, but get a request with source {requested}")]
    AlreadyStarted {
        worker: String,
        current: String,
        requested: String,
    },

    /// Every RegisterWorker round failed (DM's `ErrWorkerFailConnectMaster`);
    /// `endpoints` is Go's `%v` of the list, `reason` the last failure.
    #[error("cannot join with master endpoints: {endpoints}, error: {reason}")]
    FailConnectMaster { endpoints: String, reason: String },

    /// At start, the worker's bound names a source without a config (DM's
    /// `ErrConfigMissingForBound`); `bound` is the bound's JSON.
    #[error("source bound {bound} doesn't have related source config in etcd")]
    ConfigMissingForBound { bound: String },

    /// A `pb.Worker` RPC of DM that this worker does not implement.
    #[error("{rpc} is not supported by this dm-worker")]
    NotSupported { rpc: &'static str },

    /// The `pb.Worker` listener could not be bound.
    #[error("listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },

    /// The caller's execute-or-skip step failed; the Operation stays not
    /// done, so the lock waits (DM pauses the task).
    #[error("executing the shard DDL failed: {0}")]
    Execute(String),
}

impl Error {
    /// Whether a subtask that failed with this error is resumed
    /// automatically after a backoff, as DM's task checker resumes a
    /// subtask paused by a retryable error: etcd unreachable or changing
    /// leader (a master failover), the downstream unreachable.
    pub fn is_resumable(&self) -> bool {
        match self {
            Error::Master(e) => e.is_retryable(),
            Error::Step { error, .. } => error.is_resumable(),
            Error::DownstreamUnavailable { .. } => true,
            _ => false,
        }
    }

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
            Error::ParseFlags { .. } => 40001,
            Error::InvalidFlag { .. } => 40002,
            Error::DecodeConfigFile { .. } => 40003,
            Error::UndecodedConfigItems { .. } => 40004,
            Error::HostPortNotValid { .. } => 40069,
            Error::NoSourceHandled => 40070,
            Error::AlreadyStarted { .. } => 40071,
            Error::FailConnectMaster { .. } => 40077,
            Error::Listen { .. } => 40069,
            Error::ConfigMissingForBound { .. } => 20036,
            // Not a DM code: DM's worker serves every RPC of its proto.
            Error::NotSupported { .. } => 40100,
        }
    }

    /// DM's error string for the worker-process errors:
    /// `[code=N:class=dm-worker:scope=internal:level=L], Message: M[, RawCause: R][, Workaround: W]`.
    /// Other variants are wrapped the same way with class `dm-worker`.
    pub fn dm_string(&self) -> String {
        let (level, message, raw_cause, workaround): (&str, String, Option<&str>, &str) = match self
        {
            Error::Master(e) => return e.dm_string(),
            Error::ParseFlags { reason } => (
                "medium",
                "parse dm-worker config flag set".into(),
                Some(reason),
                "",
            ),
            Error::InvalidFlag { .. } => ("medium", self.to_string(), None, ""),
            Error::DecodeConfigFile { reason } => (
                "medium",
                "toml decode file".into(),
                Some(reason),
                "Please check the configuration file has correct TOML format.",
            ),
            Error::UndecodedConfigItems { .. } => (
                "medium",
                self.to_string(),
                None,
                "Please check configs in worker configurtion file.",
            ),
            Error::HostPortNotValid { message, raw_cause } => (
                "high",
                message.clone(),
                raw_cause.as_deref(),
                "Please check configs in worker configuration file.",
            ),
            Error::AlreadyStarted { .. } => (
                "high",
                self.to_string(),
                None,
                "Please try restart this DM-worker",
            ),
            Error::FailConnectMaster { .. } => (
                "high",
                self.to_string(),
                None,
                "Please check network connection of worker and check worker name is unique.",
            ),
            _ => ("high", self.to_string(), None, ""),
        };
        let class = match self {
            Error::ConfigMissingForBound { .. } => "config",
            _ => "dm-worker",
        };
        let mut out = format!(
            "[code={}:class={class}:scope=internal:level={level}], Message: {message}",
            self.code()
        );
        if let Some(cause) = raw_cause {
            out.push_str(", RawCause: ");
            out.push_str(cause);
        }
        if !workaround.is_empty() {
            out.push_str(", Workaround: ");
            out.push_str(workaround);
        }
        out
    }
}
