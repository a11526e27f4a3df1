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
//!
//! # Invariants
//!
//! * Done is final until a new Info: every Operation put answers a stored
//!   Info and is guarded (absent, or unchanged and not done since).
//! * A lock is removed only with its Infos unchanged since the master saw
//!   them (each deletion chunk compares every Info's version); a re-put
//!   Info keeps its table in the lock.
//! * `Lock::final_tables` is `tables` overlaid with `conflict_tables`: only
//!   tables with a pending conflict differ between the two.
//! * The records, `table_keeper`, `lock` and `keeper` import no I/O module.

pub mod column;
pub mod error;
pub mod info;
pub mod keeper;
pub mod lock;
pub mod operation;
pub mod ops;
pub mod schemas;
pub mod table;
pub mod table_keeper;

pub use crate::keys::TableKey;
pub use column::DropColumnStage;
pub use error::OptimismError;
pub use info::{Info, TableInfoJson};
pub use operation::{ConflictStage, Operation};
pub use schemas::InfoSchemas;
pub use table::SourceTables;
pub use table_keeper::{TableKeeper, TargetTable};

#[cfg(test)]
mod tests;
