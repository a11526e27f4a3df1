//! Optimistic shard-DDL mode (`dm/pkg/shardddl/optimism`): the records
//! stored in etcd, their transactions, and the pure coordination core.
//!
//! Records (`info`, `operation`, `table`, `column`) are PURE: no async, no
//! I/O. Each encodes to the exact bytes Go's `json.Marshal` writes and
//! decodes whatever Go's `json.Unmarshal` accepts. Metadata that DM keeps in
//! the Go structs but never serialises (`IsDeleted`, `Version`, `Revision`)
//! is carried by the etcd layer next to the record, not in it.
//!
//! The core is PURE too: `table_keeper` (upstream tables and routes),
//! `lock` (one lock's state machine) and `keeper` (all locks, and the
//! decisions the coordinator actor carries out), with `error` holding DM's
//! error codes and texts. `ops` is the etcd boundary.

pub mod column;
pub mod error;
pub mod info;
pub mod keeper;
pub mod lock;
pub mod operation;
pub mod ops;
pub mod table;
pub mod table_keeper;

pub use crate::keys::TableKey;
pub use column::DropColumnStage;
pub use error::OptimismError;
pub use info::{Info, TableInfoJson};
pub use operation::{ConflictStage, Operation};
pub use table::SourceTables;
pub use table_keeper::{TableKeeper, TargetTable};

#[cfg(test)]
mod tests;
