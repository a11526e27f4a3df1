//! dm-master: an etcd-backed shard-DDL coordinator that is wire-compatible
//! with TiDB Data Migration's DM-master.
//!
//! Start with ARCHITECTURE.md. The public boundary used by the worker crate
//! is `keys`, `etcd`, `gojson`, `pessimism::{info, operation, ops}`,
//! `optimism::{info, operation, table, column}`, `task`, `task_config` and `proto`.

pub mod config;
pub mod coordinator;
pub mod ddl_words;
pub mod election;
pub mod error;
pub mod etcd;
pub mod go_struct;
pub mod gojson;
pub mod ha;
pub mod keys;
pub mod lock_view;
pub mod logging;
pub mod metrics;
pub mod optimism;
pub mod pessimism;
pub mod proto;
pub mod scheduler;
pub mod schemacmp;
pub mod server;
pub mod source_config;
pub mod tableinfo;
pub mod task;
pub mod task_config;
pub mod tls;
pub mod upstream;

pub use error::{Error, Result};

#[cfg(test)]
mod decoder_fuzz;
#[cfg(test)]
mod dependency_direction;
