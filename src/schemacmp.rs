//! The schema lattice behind DM's optimistic shard-DDL mode: a port of the
//! semantics of TiDB's `pkg/util/schemacmp`.
//!
//! PURE: no async, no I/O.
//!
//! A table schema ([`crate::tableinfo::TableInfo`]) is encoded as a
//! [`Table`], an element of a join-semilattice where "larger" means "more
//! permissive": more columns, wider types, nullable, fewer keys.
//! [`Table::compare`] orders two schemas (or says they are unordered) and
//! [`Table::join`] computes the smallest schema that contains both (or says
//! there is none). [`JoinTree`] keeps the join of many shards' schemas up to
//! date as single shards change.
//!
//! Errors are [`Incompatible`] values whose text is TiDB's, byte for byte,
//! e.g. `at tuple index 2: at map key "c": at tuple index 3: at tuple index
//! 0: incompatible mysql type (3 vs 5)`, naming the column and the
//! attribute.
//!
//! Module map:
//! - `lattice`: the value kinds (bool, singletons, bit sets, ordered
//!   numbers, MySQL type codes, string lists, maybe, tuple, map) and
//!   [`combine`];
//! - `charset`: the charset / collation ladders;
//! - `types`: the 10-component column type ([`ColumnType`]);
//! - `table`: column, index and table encodings, join fix-ups, decoding and
//!   the debug `CREATE TABLE` rendering;
//! - `join_tree`: incremental n-way join;
//! - `error`: [`Incompatible`] and Go-compatible formatting.
//!
//! Known gaps, kept from TiDB on purpose (DM's behaviour depends on them):
//! views, partitions, sequences, foreign keys, CHECK constraints, index
//! visibility and column order are ignored; SHARD_ROW_ID_BITS,
//! AUTO_RANDOM and PRE_SPLIT_REGIONS are rigid; all non-key, non-null,
//! non-default flag bits are one rigid value; only the integer and blob
//! families are ordered (DECIMAL widening, CHAR → VARCHAR, FLOAT → DOUBLE,
//! VARCHAR → TEXT conflict); `auto_inc_id` is compared as a number; "other"
//! charsets compare case-sensitively but "other" collations do not; RENAME
//! COLUMN is indistinguishable from DROP + ADD. Where TiDB would panic
//! (ENUM without members needing a zero default, array or object column
//! defaults), this port returns a value instead (see `types` and
//! [`DefaultValue`]).
//!
//! The join is not associative in two corners inherited from TiDB: a
//! latin1 and a utf8 schema are incompatible directly but both fit under
//! utf8mb4; and a NOT NULL column without default gets its zero default
//! only when joined with a table lacking it, which can clash with an
//! explicit default met in another order. [`JoinTree`] fixes one order.

mod charset;
mod error;
mod join_tree;
mod lattice;
mod table;
mod types;

#[cfg(test)]
mod lattice_value;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod test_support;

pub use charset::{Charset, Collation};
pub use error::{Incompatible, IncompatibleKind, PathSegment};
pub use join_tree::{JoinConflict, JoinTree, SchemaId};
pub use lattice::{
    combine, BitSet, Bool, Byte, DefaultValue, EqualitySingleton, FieldTp, IndexColumns, IndexType,
    Int, Int64, Lattice, LatticeMap, MapPolicy, Maybe, Singleton, SingletonValue, StringList,
    Tuple, Uint,
};
pub use table::Table;
pub use types::ColumnType;
