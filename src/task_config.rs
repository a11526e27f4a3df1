//! DM's task YAML and the subtask configs it becomes.
//!
//! PURE: no async, no I/O. StartTask's connections (the downstream's
//! version for its session defaults, upstream positions for incremental
//! tasks without `meta`) and the random IDs of a subtask's IO counters are
//! the caller's: see [`adjust_session_for_tidb`] and
//! [`SubTaskConfig::set_io_counters`].
//!
//! The flow, as in DM's master:
//! 1. [`TaskConfig::from_yaml`]: strict decode with DM's defaults, then
//!    DM's `adjust` checks (each error carries DM's code and text).
//! 2. [`TaskConfig::subtask_configs`]: one [`SubTaskConfig`] per source,
//!    given each source's `from` connection; each passes DM's subtask
//!    `Adjust`.
//! 3. [`SubTaskConfig::to_toml`]: the exact bytes DM stores in etcd;
//!    [`SubTaskConfig::from_toml`] reads them back (worker, new leader),
//!    and [`SubTaskConfig::registry_input`] gives the coordinators' view.
//!
//! Invariant: the TOML of a subtask this module produced decodes back to
//! an equal config and re-encodes to the same bytes.

mod adjust;
mod error;
mod model;
mod password;
mod registry_decode;
mod subtask;
mod task_yaml;
mod toml_writer;
mod units;

pub use error::{ConfigError, Level};
pub use model::{
    BaList, BaTable, BinlogEventRule, DbConfig, Experimental, ExpressionFilter, Extractor,
    LoaderConfig, Meta, MydumperConfig, Security, SyncerConfig, TableRule, ValidatorConfig,
};
pub use password::{decrypt_or_plaintext, SecretKey};
pub use registry_decode::decode_registry_input;
pub use subtask::{
    adjust_session_for_tidb, IoCounters, RegistryInput, SubTaskConfig, DEFAULT_SHADOW_TABLE_RULES,
    DEFAULT_TRASH_TABLE_RULES, MAX_SOURCE_ID_LENGTH,
};
pub use task_yaml::{MySqlInstance, TaskConfig, TASK_MODES};
pub use toml_writer::quote_str;
pub use units::{ByteSize, GoDuration};

#[cfg(test)]
mod tests;
