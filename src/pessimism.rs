//! Pessimistic shard-DDL mode: the records stored in etcd
//! (`dm/pkg/shardddl/pessimism`), their transactions, and the pure lock core.
//!
//! * `info`, `operation`: PURE wire records, byte-exact with Go's JSON.
//!   Metadata that DM keeps in the Go struct but never serialises (such as
//!   `IsDeleted`) is carried by the etcd layer next to the record.
//! * `ops`: the multi-key etcd transactions (master and worker side).
//! * `lock`, `keeper`: PURE lock state machine and keeper.
//! * `operator`: PURE unlock preview and injected Infos (not DM's).
//!
//! # Invariants
//!
//! * Done is final until a new Info: once a worker marked its Operation
//!   done, the master never puts it back with `done = false` unless that
//!   worker put a new Info after the done; every answer is a guarded put
//!   (`ops::put_operations_seen`).
//! * One owner per lock: exactly one source gets the `exec` Operation; the
//!   others skip only after the owner is done.
//! * Every multi-key write states its assumptions as compares, and carries
//!   the leader fence under a term; only unconditional batches are split.
//! * `info`, `operation`, `lock`, `keeper` and `operator` import no I/O
//!   module (checked by `dependency_direction`).

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
