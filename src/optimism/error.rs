//! Errors of the optimistic coordinator, with DM's codes and message texts
//! (`dm/pkg/terror/error_list.go`).
//!
//! PURE: no async, no I/O. The text a Go worker reads in an Operation's
//! `conflict-message` is DM's full terror string,
//! `[code=N:class=C:scope=internal:level=L], Message: M[, RawCause: R][, Workaround: W]`,
//! which [`OptimismError::dm_string`] builds; `Display` is the message part
//! alone.

use std::fmt;

use crate::error::terror::{LockNotFound, TError};
use crate::gojson::go_slice;
use crate::optimism::ConflictStage;

/// Workaround of ErrShardDDLOptimismTrySyncFail.
const WORKAROUND_SHOW_LOCKS: &str = "Please use `show-ddl-locks` command for more details.";
/// Workaround of ErrShardDDLOptimismAddNotFullyDroppedColumn.
const WORKAROUND_BINLOG_SKIP: &str = "Please use `binlog skip` command to skip this error.";

/// Every error the optimistic lock, keeper and coordinator report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptimismError {
    /// ErrShardDDLOptimismTrySyncFail (11111): the DDLs conflict with other
    /// tables and cannot wait (stage `detected`).
    TrySyncFail { lock_id: String, detail: String },
    /// ErrShardDDLOptimismNeedSkipAndRedirect (11127): a conflicting DDL the
    /// other tables may still catch up with (stage `skip and wait for
    /// redirect`).
    NeedSkipAndRedirect { lock_id: String, ddl: String },
    /// ErrShardDDLOptimismAddNotFullyDroppedColumn (11128): a column is added
    /// with another length than the joined one, re-added before its drop
    /// finished, or a DDL did not parse (then `cause` is the parser's text).
    AddNotFullyDroppedColumn {
        lock_id: String,
        detail: String,
        cause: Option<String>,
    },
    /// ErrMasterInconsistentOptimisticDDLsAndInfo (38054).
    InconsistentDdlsAndInfo { ddls: usize, infos: usize },
    /// ErrMasterOptimisticTableInfoBeforeNotExist (38055). `ddls` is the
    /// Info's list (`None` prints like Go's nil slice, `[]`).
    TableInfoBeforeNotExist { ddls: Vec<String> },
    /// A schema in the Info is not a TiDB `TableInfo` (or is `null`).
    /// DM never reaches its lock with such an Info: Go's decoder rejects the
    /// whole Info, and a `null` after-schema would crash its master. The
    /// code and class are those of the HA layer's decode failures, as for
    /// [`crate::Error::Decode`].
    MalformedTableInfo { what: String, message: String },
    /// An etcd write the lock's decision depended on failed; `cause` is the
    /// failure's DM string, written verbatim as DM writes `err.Error()`.
    EffectFailed { cause: String },
    /// ErrMasterLockNotFound (38019), shared with the pessimistic mode.
    LockNotFound(LockNotFound),
    /// ErrMasterLockIsResolving (38020), always raised by DM with a custom
    /// text (`Generatef`), which replaces the format.
    LockIsResolving { message: String },
}

impl OptimismError {
    /// DM error code.
    pub fn code(&self) -> i32 {
        match self {
            OptimismError::TrySyncFail { .. } => 11111,
            OptimismError::NeedSkipAndRedirect { .. } => 11127,
            OptimismError::AddNotFullyDroppedColumn { .. } => 11128,
            OptimismError::InconsistentDdlsAndInfo { .. } => 38054,
            OptimismError::TableInfoBeforeNotExist { .. } => 38055,
            OptimismError::MalformedTableInfo { .. } | OptimismError::EffectFailed { .. } => 42501,
            OptimismError::LockNotFound(_) => LockNotFound::CODE,
            OptimismError::LockIsResolving { .. } => 38020,
        }
    }

    /// DM error class.
    pub fn class(&self) -> &'static str {
        match self {
            OptimismError::TrySyncFail { .. }
            | OptimismError::NeedSkipAndRedirect { .. }
            | OptimismError::AddNotFullyDroppedColumn { .. } => "functional",
            OptimismError::MalformedTableInfo { .. } | OptimismError::EffectFailed { .. } => "ha",
            _ => "dm-master",
        }
    }

    /// DM error level.
    pub fn level(&self) -> &'static str {
        match self {
            OptimismError::TrySyncFail { .. } | OptimismError::AddNotFullyDroppedColumn { .. } => {
                "medium"
            }
            _ => "high",
        }
    }

    /// DM's workaround text (empty when DM has none).
    pub fn workaround(&self) -> &'static str {
        match self {
            OptimismError::TrySyncFail { .. } => WORKAROUND_SHOW_LOCKS,
            OptimismError::AddNotFullyDroppedColumn { .. } => WORKAROUND_BINLOG_SKIP,
            OptimismError::LockNotFound(_) => LockNotFound::WORKAROUND,
            _ => "",
        }
    }

    /// The wrapped cause, printed as `RawCause` (only parse failures have one).
    pub fn raw_cause(&self) -> Option<&str> {
        match self {
            OptimismError::AddNotFullyDroppedColumn { cause, .. } => cause.as_deref(),
            _ => None,
        }
    }

    /// The stage DM's `handleLock` writes for this error.
    pub fn stage(&self) -> ConflictStage {
        match self {
            OptimismError::NeedSkipAndRedirect { .. } => ConflictStage::SkipWaitRedirect,
            OptimismError::TrySyncFail { .. } => ConflictStage::Detected,
            _ => ConflictStage::Error,
        }
    }

    /// DM's `err.Error()`: what an Operation's `conflict-message` carries.
    /// [`OptimismError::EffectFailed`] is written as its cause, unchanged.
    pub fn dm_string(&self) -> String {
        if let OptimismError::EffectFailed { cause } = self {
            return cause.clone();
        }
        TError {
            code: self.code(),
            class: self.class(),
            level: self.level(),
            raw_cause: self.raw_cause(),
            workaround: self.workaround(),
        }
        .format(self)
    }
}

impl fmt::Display for OptimismError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptimismError::TrySyncFail { lock_id, detail } => write!(
                f,
                "fail to try sync the optimistic shard ddl lock {lock_id}: {detail}"
            ),
            OptimismError::NeedSkipAndRedirect { lock_id, ddl } => write!(
                f,
                "receive conflict DDL for the optimistic shard ddl lock {lock_id}: {ddl}. Now DM does not support conflicting DDLs, such as 'modify column'/'rename column'/'add column not null non default'."
            ),
            OptimismError::AddNotFullyDroppedColumn {
                lock_id, detail, ..
            } => write!(
                f,
                "fail to resolve adding not fully dropped columns for optimistic shard ddl lock {lock_id}: {detail}"
            ),
            OptimismError::InconsistentDdlsAndInfo { ddls, infos } => write!(
                f,
                "inconsistent count of optimistic ddls and table infos, ddls: {ddls}, table info: {infos}"
            ),
            OptimismError::TableInfoBeforeNotExist { ddls } => write!(
                f,
                "table-info-before not exist in optimistic ddls: {}",
                go_slice(ddls)
            ),
            OptimismError::MalformedTableInfo { what, message } => {
                write!(f, "fail to decode {what} of the optimistic shard ddl info: {message}")
            }
            OptimismError::EffectFailed { cause } => f.write_str(cause),
            OptimismError::LockNotFound(e) => e.fmt(f),
            OptimismError::LockIsResolving { message } => f.write_str(message),
        }
    }
}

impl std::error::Error for OptimismError {}
