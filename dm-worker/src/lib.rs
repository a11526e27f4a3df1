//! The worker side of DM shard-DDL coordination: put Infos for one source,
//! wait for the master's Operations, execute or skip the DDL, report done.
//!
//! It speaks the same etcd keys and bytes as a Go DM-worker, so it can stand
//! in for one (in tests, the demo, or a custom replication tool).
//!
//! - [`shardddl`]: the etcd clients of the shard-DDL protocol;
//! - [`tracker`]: PURE upstream schema tracker (DDL text to TiDB
//!   `TableInfo`s, split and routed statements);
//! - [`executor`]: runs DDL on the downstream database (the only module
//!   that talks to it);
//! - [`scenario`]: plays one worker of one source from a TOML scenario
//!   (tracker → Info → client → executor), for `dm-worker run`.

pub mod error;
pub mod executor;
pub mod scenario;
pub mod shardddl;
pub mod tracker;

pub use error::{Error, Result};
