//! Why a source config was refused: DM's code, class, level, workaround
//! and the text dmctl prints for each case.

use super::MAX_SOURCE_ID_LENGTH;
use crate::scheduler::error::dm_error_string;

/// Why a source config was refused, with DM's code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceConfigError {
    /// ErrConfigYamlTransform (20003) `decode source config`, the parser's
    /// text as raw cause.
    Yaml { cause: String },
    /// ErrWorkerNeedSourceID (40005).
    NeedSourceId,
    /// ErrWorkerTooLongSourceID (40006).
    TooLongSourceId { source: String },
    /// ErrWorkerRelayBinlogName (40007).
    RelayBinlogName { name: String },
    /// ErrConfigCheckerMaxTooSmall (20043), durations in Go's text.
    CheckerMaxTooSmall { max: String, min: String },
    /// ErrConfigBinlogEventFilter (20037).
    BinlogEventFilter { cause: String },
    /// ErrNotSupportedFlavor (11010).
    NotSupportedFlavor { flavor: String },
    /// ErrInvalidServerID (11015).
    InvalidServerId { detail: String },
    /// ErrSourceCheckGTID (26007).
    CheckGtid { source: String, mode: String },
    /// The upstream could not be reached or read; `cause` is the driver's
    /// text (DM's ErrDBDriverError, 10001).
    Upstream { cause: String },
    /// `enable-relay: true`: relay is not supported by this master.
    RelayNotSupported,
}

impl SourceConfigError {
    pub fn code(&self) -> i32 {
        match self {
            SourceConfigError::Yaml { .. } => 20003,
            SourceConfigError::NeedSourceId => 40005,
            SourceConfigError::TooLongSourceId { .. } => 40006,
            SourceConfigError::RelayBinlogName { .. } => 40007,
            SourceConfigError::CheckerMaxTooSmall { .. } => 20043,
            SourceConfigError::BinlogEventFilter { .. } => 20037,
            SourceConfigError::NotSupportedFlavor { .. } => 11010,
            SourceConfigError::InvalidServerId { .. } => 11015,
            SourceConfigError::CheckGtid { .. } => 26007,
            SourceConfigError::Upstream { .. } => 10001,
            SourceConfigError::RelayNotSupported => 38100,
        }
    }

    fn class(&self) -> &'static str {
        match self {
            SourceConfigError::Yaml { .. }
            | SourceConfigError::CheckerMaxTooSmall { .. }
            | SourceConfigError::BinlogEventFilter { .. } => "config",
            SourceConfigError::NeedSourceId
            | SourceConfigError::TooLongSourceId { .. }
            | SourceConfigError::RelayBinlogName { .. } => "dm-worker",
            SourceConfigError::NotSupportedFlavor { .. }
            | SourceConfigError::InvalidServerId { .. } => "functional",
            SourceConfigError::CheckGtid { .. } => "task-check",
            SourceConfigError::Upstream { .. } => "database",
            SourceConfigError::RelayNotSupported => "dm-master",
        }
    }

    fn level(&self) -> &'static str {
        match self {
            SourceConfigError::CheckerMaxTooSmall { .. }
            | SourceConfigError::BinlogEventFilter { .. }
            | SourceConfigError::NotSupportedFlavor { .. }
            | SourceConfigError::InvalidServerId { .. }
            | SourceConfigError::Upstream { .. }
            | SourceConfigError::RelayNotSupported => "high",
            _ => "medium",
        }
    }

    fn workaround(&self) -> &'static str {
        match self {
            SourceConfigError::Yaml { .. } => {
                "Please check the configuration file has correct YAML format."
            }
            SourceConfigError::CheckerMaxTooSmall { .. } => {
                "Please increase `backoff-max` config in task configuration file."
            }
            SourceConfigError::BinlogEventFilter { .. } => {
                "Please check the `filters` config in source and task configuration files."
            }
            SourceConfigError::NotSupportedFlavor { .. } => {
                "Please check `flavor` config in source configuration file."
            }
            SourceConfigError::CheckGtid { .. } => {
                "Please check the `enable-gtid` config in source configuration file."
            }
            SourceConfigError::Upstream { .. } => {
                "Please check the database connection and the database config in configuration file."
            }
            _ => "",
        }
    }

    fn raw_cause(&self) -> Option<&str> {
        match self {
            SourceConfigError::Yaml { cause }
            | SourceConfigError::BinlogEventFilter { cause }
            | SourceConfigError::Upstream { cause } => Some(cause),
            _ => None,
        }
    }

    /// DM's terror string.
    pub fn dm_string(&self) -> String {
        dm_error_string(
            self.code(),
            self.class(),
            self.level(),
            &self.to_string(),
            self.raw_cause(),
            self.workaround(),
        )
    }
}

impl std::fmt::Display for SourceConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceConfigError::Yaml { .. } => f.write_str("decode source config"),
            SourceConfigError::NeedSourceId => f.write_str("dm-worker should bind a non-empty source ID which represents a MySQL/MariaDB instance or a replica group. \n notice: if you use old version dm-ansible, please update to newest version."),
            SourceConfigError::TooLongSourceId { source } => write!(f, "the length of source ID {source} is more than max allowed value {MAX_SOURCE_ID_LENGTH}"),
            SourceConfigError::RelayBinlogName { name } => write!(f, "relay-binlog-name {name} not valid"),
            SourceConfigError::CheckerMaxTooSmall { max, min } => write!(f, "`backoff-max` value {max} is less than `backoff-min` value {min}"),
            SourceConfigError::BinlogEventFilter { .. } => f.write_str("generate binlog event filter"),
            SourceConfigError::NotSupportedFlavor { flavor } => write!(f, "flavor {flavor} not supported"),
            SourceConfigError::InvalidServerId { detail } => write!(f, "invalid server id {detail}"),
            SourceConfigError::CheckGtid { source, mode } => write!(f, "{source} has GTID_MODE = {mode} instead of ON"),
            SourceConfigError::Upstream { .. } => f.write_str("database driver error"),
            SourceConfigError::RelayNotSupported => f.write_str("enable-relay is not supported by this dm-master"),
        }
    }
}

impl std::error::Error for SourceConfigError {}
