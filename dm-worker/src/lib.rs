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
//!
//! A worker joined to the masters, like DM's Go worker:
//! - [`config`]: PURE. DM-worker's flags and TOML;
//! - [`ha`]: PURE. the HA keys and values the worker reads and writes;
//! - [`subtasks`]: PURE. the bound source's subtasks and the
//!   [`subtasks::SubtaskRunner`] seam;
//! - [`runner`]: plays each subtask's upstream statements from the
//!   scenario file the worker's config names for its task;
//! - [`source`]: the actor following the bound key and the source's stages;
//! - [`join`]: RegisterWorker rounds and the keep-alive lease;
//! - [`service`]: DM's `pb.Worker` gRPC service;
//! - [`worker`]: the joined worker process, wiring the above.

pub mod config;
pub mod error;
pub mod executor;
pub mod ha;
pub mod http;
pub mod join;
pub mod runner;
pub mod scenario;
pub mod service;
pub mod shardddl;
pub mod source;
pub mod subtasks;
pub mod tracker;
pub mod worker;

pub use error::{Error, Result};
