//! The worker side of DM shard-DDL coordination: put Infos for one source,
//! wait for the master's Operations, execute or skip the DDL, report done.
//!
//! It speaks the same etcd keys and bytes as a Go DM-worker, so it can stand
//! in for one (in tests, the demo, or a custom replication tool).

pub mod error;
pub mod shardddl;

pub use error::{Error, Result};
