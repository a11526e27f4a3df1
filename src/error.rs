//! The crate's one error type, with DM's error codes.
//!
//! Pure modules (keys, wire decoding, lock cores) have their own small error
//! types; this enum wraps them so loops and RPC handlers see one type. Mapping
//! to `tonic::Status` happens only at the gRPC edge (`server::admin`).
//!
//! Two rules live here and nowhere else: [`Error::ends_term`] decides that a
//! leader term is over (the leader fence refused a write), and
//! [`Error::dm_string`] (through [`terror::TError`]) formats DM's error text.

pub mod terror;

use std::time::Duration;

pub use terror::LockNotFound;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every failure the master library reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An etcd request failed (transport, gRPC status, or a closed stream).
    #[error("etcd {op} failed: {source}")]
    Etcd {
        op: &'static str,
        #[source]
        source: etcd_client::Error,
    },

    /// An etcd request did not answer in time.
    #[error("etcd {op} timed out after {timeout:?}")]
    EtcdTimeout { op: &'static str, timeout: Duration },

    /// A read asked for a revision that etcd has compacted away.
    #[error("etcd revision {revision} has been compacted")]
    Compacted { revision: i64 },

    /// A conditional transaction holds more operations than etcd accepts in
    /// one request; conditional writes are never split.
    #[error("transaction {op} needs {ops} operations, more than etcd's limit of {limit}")]
    TxnTooLarge {
        op: &'static str,
        ops: usize,
        limit: usize,
    },

    /// A read-then-write step kept losing to concurrent writers of the same
    /// keys; the caller may retry later.
    #[error("etcd {op}: the keys kept changing during {attempts} attempts")]
    TxnContended { op: &'static str, attempts: usize },

    /// A write was refused because this master no longer holds the leader key.
    #[error("leadership lost: the leader key {key} is no longer ours (term {term})")]
    LeadershipLost { key: String, term: i64 },

    /// An etcd key did not decode under its adapter.
    #[error(transparent)]
    Key(#[from] crate::keys::KeyError),

    /// A value stored in etcd did not decode.
    #[error("fail to decode value of etcd key {key}: {source}")]
    Decode {
        key: String,
        #[source]
        source: crate::gojson::DecodeError,
    },

    /// A subtask config stored in etcd did not parse.
    #[error("fail to parse subtask config at {key}: {message}")]
    SubTaskConfig { key: String, message: String },

    /// The configuration given at start-up is not usable.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// An I/O error outside etcd (listeners, child processes).
    #[error("{op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// A pessimistic-mode rule was violated (lock not found, owner not ready, ...).
    #[error(transparent)]
    Pessimism(#[from] crate::pessimism::keeper::PessimismError),

    /// An optimistic-mode rule was violated (lock not found, unlock refused, ...).
    #[error(transparent)]
    Optimism(#[from] crate::optimism::OptimismError),

    /// An operator request (unlock preview, inject) that was refused.
    #[error(transparent)]
    Operator(#[from] crate::pessimism::operator::OperatorError),

    /// The coordinator that should answer is not running (not leader, or
    /// stopped): ErrMasterPessimistNotStarted / ErrMasterOptimistNotStarted.
    #[error("the shardddl {component} has not started")]
    NotStarted { component: &'static str },

    /// This master is not the leader and could not forward the request.
    #[error("master is not leader, and can't forward request to leader")]
    NotLeader,

    /// The scheduler refused a request (DM's scheduler and member errors).
    #[error(transparent)]
    Scheduler(#[from] crate::scheduler::SchedulerError),

    /// A source config was refused.
    #[error(transparent)]
    SourceConfig(#[from] crate::source_config::SourceConfigError),

    /// A `pb.Master` RPC of DM that this master does not implement.
    #[error("{rpc} is not supported by this dm-master")]
    NotSupported { rpc: &'static str },
}

impl Error {
    /// The DM error code for this error, as DM-master reports it.
    pub fn code(&self) -> i32 {
        match self {
            // ErrHAFailTxnOperation / etcd failures in DM's HA layer.
            Error::Etcd { .. }
            | Error::EtcdTimeout { .. }
            | Error::TxnTooLarge { .. }
            | Error::TxnContended { .. } => 42501,
            Error::Compacted { .. } => 42501,
            Error::LeadershipLost { .. } => 38043,
            Error::Key(e) => e.code(),
            // ErrShardDDLOptimismTrySyncFail-adjacent decode failures surface in DM as
            // json unmarshal errors wrapped by the HA layer.
            Error::Decode { .. } => 42501,
            Error::SubTaskConfig { .. } => 20001,
            Error::Config(_) => 38032,
            Error::Io { .. } => 38032,
            Error::Pessimism(e) => e.code(),
            Error::Optimism(e) => e.code(),
            Error::Operator(e) => e.code(),
            Error::Scheduler(e) => e.code(),
            Error::SourceConfig(e) => e.code(),
            // ErrMasterPessimistNotStarted / ErrMasterOptimistNotStarted.
            Error::NotStarted { component } => {
                if *component == "optimist" {
                    38047
                } else {
                    38046
                }
            }
            Error::NotLeader => 38043,
            // Not a DM code: DM serves every RPC of its own proto.
            Error::NotSupported { .. } => 38100,
        }
    }

    /// DM's error class (`dm/pkg/terror`): which subsystem raised it.
    pub fn class(&self) -> &'static str {
        match self {
            Error::Etcd { .. }
            | Error::EtcdTimeout { .. }
            | Error::Compacted { .. }
            | Error::TxnTooLarge { .. }
            | Error::TxnContended { .. }
            | Error::Decode { .. } => "ha",
            Error::Key(_) => "functional",
            Error::SubTaskConfig { .. } | Error::Config(_) => "config",
            Error::Optimism(e) => e.class(),
            Error::Scheduler(e) => e.class(),
            _ => "dm-master",
        }
    }

    /// DM's error level.
    pub fn level(&self) -> &'static str {
        match self {
            Error::Optimism(e) => e.level(),
            Error::Scheduler(e) => e.level(),
            Error::NotStarted { .. } => "medium",
            _ => "high",
        }
    }

    /// DM's error string, as dmctl shows it:
    /// `[code=N:class=C:scope=internal:level=L], Message: M[, RawCause: R][, Workaround: W]`.
    pub fn dm_string(&self) -> String {
        if let Error::Optimism(e) = self {
            // Carries its own raw cause and the verbatim text of failed effects.
            return e.dm_string();
        }
        let workaround = match self {
            Error::Pessimism(e) => e.workaround(),
            Error::Scheduler(e) => return e.dm_string(),
            Error::SourceConfig(e) => return e.dm_string(),
            _ => "",
        };
        terror::TError {
            code: self.code(),
            class: self.class(),
            level: self.level(),
            raw_cause: None,
            workaround,
        }
        .format(self)
    }

    /// Whether this error means the leader term that made the request is
    /// over: the leader fence (our leader key at its create revision) refused
    /// a write. The one predicate every coordinator loop and admin path uses
    /// to stop at once instead of waiting for the election loop.
    pub fn ends_term(&self) -> bool {
        matches!(self, Error::LeadershipLost { .. })
    }

    /// A copy of this error when it [ends the term](Self::ends_term), so an
    /// actor can both answer its caller with the error and stop on it.
    pub fn term_end(&self) -> Option<Error> {
        match self {
            Error::LeadershipLost { key, term } => Some(Error::LeadershipLost {
                key: key.clone(),
                term: *term,
            }),
            _ => None,
        }
    }

    /// Whether a loop should retry the failed step (after backoff) rather than
    /// give up on it. The coordinators' retry tick uses it: a lock whose
    /// answer failed on a retryable error is answered again, any other
    /// failure is reported and waits for the next event of the lock.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Etcd { source, .. } => etcd_error_is_retryable(source),
            Error::EtcdTimeout { .. } | Error::Compacted { .. } | Error::TxnContended { .. } => {
                true
            }
            _ => false,
        }
    }

    /// Whether etcd refused the request because the lease it names does not
    /// exist (expired or revoked): a put under that lease can never succeed,
    /// and a revoke of it has nothing left to do.
    pub fn is_lease_not_found(&self) -> bool {
        use etcd_client::Error as E;
        match self {
            Error::Etcd {
                source: E::GRpcStatus(status),
                ..
            } => {
                status.code() == tonic::Code::NotFound
                    && status.message().contains("lease not found")
            }
            Error::Etcd {
                source: E::LeaseKeepAliveError(message),
                ..
            } => message.contains("lease not found"),
            _ => false,
        }
    }
}

/// DM retries etcd errors that mean "the cluster is busy or changing leader"
/// (`pkg/errorutil`); with tonic we see them as gRPC codes and transport errors.
fn etcd_error_is_retryable(err: &etcd_client::Error) -> bool {
    use etcd_client::Error as E;
    match err {
        E::GRpcStatus(status) => matches!(
            status.code(),
            tonic::Code::Unavailable
                | tonic::Code::DeadlineExceeded
                | tonic::Code::ResourceExhausted
                | tonic::Code::Aborted
                | tonic::Code::Unknown
                | tonic::Code::Internal
                | tonic::Code::Cancelled
        ),
        E::TransportError(_) | E::IoError(_) | E::WatchError(_) | E::LeaseKeepAliveError(_) => true,
        _ => false,
    }
}
