//! Pessimistic shard-DDL mode: the records stored in etcd
//! (`dm/pkg/shardddl/pessimism`), their transactions, and the pure lock core.
//!
//! * `info`, `operation`: PURE wire records, byte-exact with Go's JSON.
//!   Metadata that DM keeps in the Go struct but never serialises (such as
//!   `IsDeleted`) is carried by the etcd layer next to the record.
//! * `ops`: the multi-key etcd transactions (master and worker side).
//! * `lock`, `keeper`: PURE lock state machine and keeper.
//! * `operator`: PURE unlock preview and injected Infos (not DM's).

pub mod info;
pub mod keeper;
pub mod lock;
pub mod operation;
pub mod operator;
pub mod ops;

pub use info::Info;
pub use operation::Operation;

#[cfg(test)]
mod tests;
