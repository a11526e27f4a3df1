//! Records of the optimistic shard-DDL mode, as stored in etcd
//! (`dm/pkg/shardddl/optimism`).
//!
//! PURE: no async, no I/O. Each record encodes to the exact bytes Go's
//! `json.Marshal` writes and decodes whatever Go's `json.Unmarshal` accepts.
//! Metadata that DM keeps in the Go structs but never serialises (`IsDeleted`,
//! `Version`, `Revision`) is carried by the etcd layer next to the record, not
//! in it.

pub mod column;
pub mod info;
pub mod operation;
pub mod ops;
pub mod table;

pub use column::DropColumnStage;
pub use info::Info;
pub use operation::{ConflictStage, Operation};
pub use table::SourceTables;

#[cfg(test)]
mod tests;
