//! Column, index and table encodings (TiDB `table.go`) and [`Table`], the
//! encoded schema the optimistic lock compares and joins.
//!
//! PURE: no async, no I/O.
//!
//! Encodings (component order fixes which error is reported first):
//! - column, keyed by `name.L`: (default value, generated expression,
//!   stored, [`ColumnType`]);
//! - index, keyed by `idx_name.L`: (key parts, not unique, not primary,
//!   index type); a table without an explicit primary index gets an
//!   implicit `primary` entry for every column flagged `PRI_KEY`;
//! - table: (charset, collation, columns, indexes, auto_inc_id,
//!   SHARD_ROW_ID_BITS, AUTO_RANDOM bits, PRE_SPLIT_REGIONS, compression).
//!
//! Not encoded, as in TiDB: names, IDs, column order, comments, partitions,
//! foreign keys, CHECK constraints, views, sequences, index visibility.
//! RENAME COLUMN therefore looks like DROP + ADD.
//!
//! Join fix-ups after the component-wise join: a column present on one side
//! only can be part of no key and gets a default (the zero value of its type
//! when it is NOT NULL without one); key flags are recomputed from the
//! joined indexes; an AUTO_INCREMENT column left outside every key fails.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, OnceLock};

use super::charset::{Charset, Collation};
use super::error::{Incompatible, IncompatibleKind};
use super::lattice::{tuple_lattice, Byte, Int64, Lattice, LatticeMap, Maybe, Singleton};
use super::types::encode_anti_keys;
use crate::tableinfo::{mysql, FieldType, TableInfo};
// The encoding tests name these through `super::*`.
#[cfg(test)]
use {
    super::lattice::{Bool, DefaultValue, IndexType},
    crate::tableinfo::{ColumnInfo, IndexInfo},
};

mod column;
mod decode;
mod index;

use column::{ColumnLat, ColumnPolicy};
use index::{IndexLat, IndexPolicy};

/// A column or an index: shared between a table and its joins. Joining two
/// equal parts (the common case: most columns of two shards are the same)
/// just shares one of them, which keeps a join cheap and its memory small.
trait SharedPart: Lattice + PartialEq {
    /// `compare(x, x)` is `Equal`.
    fn compares_equal_to_itself(&self) -> bool {
        true
    }

    /// `join(x, x)` is `x`.
    fn joins_to_itself(&self) -> bool {
        true
    }
}

impl<T: SharedPart> Lattice for Arc<T> {
    fn compare(&self, other: &Self) -> Result<Ordering, Incompatible> {
        if (Arc::ptr_eq(self, other) || self == other) && self.compares_equal_to_itself() {
            return Ok(Ordering::Equal);
        }
        (**self).compare(other)
    }

    fn join(&self, other: &Self) -> Result<Self, Incompatible> {
        if (Arc::ptr_eq(self, other) || self == other) && self.joins_to_itself() {
            return Ok(Arc::clone(self));
        }
        (**self).join(other).map(Arc::new)
    }
}

/// A table in lattice form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TableLat {
    charset: Charset,
    collation: Collation,
    columns: LatticeMap<Arc<ColumnLat>, ColumnPolicy>,
    indices: LatticeMap<Arc<IndexLat>, IndexPolicy>,
    /// Compared as a number although DM's tracker always has 0; a real TiDB
    /// schema fed in here would make tables look ordered by their
    /// allocators (kept for TiDB parity).
    auto_inc_id: Int64,
    // TiDB keeps these three rigid ("relax these?"); so do we.
    shard_row_id_bits: Singleton<u64>,
    auto_random_bits: Singleton<u64>,
    pre_split_regions: Singleton<u64>,
    compression: Maybe<Singleton<String>>,
}

impl TableLat {
    fn new(ti: &TableInfo) -> Self {
        // Views, partitions and sequences are not encoded (as in TiDB).
        let has_explicit_primary = ti.indices.iter().any(|ii| ii.is_primary);
        let mut indices = BTreeMap::new();
        for ii in &ti.indices {
            indices.insert(Arc::from(ii.name.l.as_str()), Arc::new(IndexLat::new(ii)));
        }
        let mut columns = BTreeMap::new();
        for ci in &ti.columns {
            columns.insert(Arc::from(ci.name.l.as_str()), Arc::new(ColumnLat::new(ci)));
            if !has_explicit_primary && ci.field_type.flag & mysql::PRI_KEY_FLAG != 0 {
                indices.insert(
                    Arc::from("primary"),
                    Arc::new(IndexLat::implicit_primary(ci)),
                );
            }
        }
        TableLat {
            charset: Charset::new(&ti.charset),
            collation: Collation::new(&ti.collate),
            columns: LatticeMap::new(columns),
            indices: LatticeMap::new(indices),
            auto_inc_id: Int64(ti.auto_inc_id),
            shard_row_id_bits: Singleton(ti.shard_row_id_bits),
            auto_random_bits: Singleton(ti.auto_random_bits),
            pre_split_regions: Singleton(ti.pre_split_regions),
            compression: Maybe::<Singleton<String>>::from_string(&ti.compression),
        }
    }

    /// Recomputes every column's key flags from the joined indexes (a
    /// column's own flags cannot be joined bit-wise: index membership is
    /// richer than three bits) and rejects AUTO_INCREMENT columns that no
    /// index covers any more. Columns are checked in name order.
    fn fix_key_flags(&mut self) -> Result<(), Incompatible> {
        let mut key_flags: BTreeMap<&str, u64> = BTreeMap::new();
        for index in self.indices.entries.values() {
            let parts = index.parts();
            let Some((first, _)) = parts.first() else {
                continue;
            };
            if !index.not_primary.0 {
                for (column, _) in parts {
                    *key_flags.entry(column).or_default() |= mysql::PRI_KEY_FLAG;
                }
            } else if !index.not_unique.0 && parts.len() == 1 {
                *key_flags.entry(first).or_default() |= mysql::UNIQUE_KEY_FLAG;
            } else {
                // Only the first column of a multi-column or non-unique key
                // is flagged, as MySQL's SHOW COLUMNS does.
                *key_flags.entry(first).or_default() |= mysql::MULTIPLE_KEY_FLAG;
            }
        }
        for (name, column) in &mut self.columns.entries {
            let flag = match key_flags.get(&**name) {
                None if column.ty.is_auto_increment() => {
                    return Err(
                        Incompatible::new(IncompatibleKind::AutoTypeWithoutKey).at_map_key(name)
                    );
                }
                flag => flag.copied().unwrap_or(0),
            };
            if column.ty.anti_keys != Byte(encode_anti_keys(flag)) {
                // Copy-on-write: only columns whose key flags change.
                Arc::make_mut(column).ty.set_anti_key_flags(flag);
            }
        }
        Ok(())
    }
}

tuple_lattice!(TableLat {
    0 => charset,
    1 => collation,
    2 => columns,
    3 => indices,
    4 => auto_inc_id,
    5 => shard_row_id_bits,
    6 => auto_random_bits,
    7 => pre_split_regions,
    8 => compression,
});

/// An encoded table schema: what the optimistic lock compares and joins.
///
/// Cheap to clone (shared), immutable, and `Eq + Hash` by content (the hash
/// is computed once, on first use) so identical schemas can be interned.
#[derive(Clone)]
pub struct Table(Arc<TableInner>);

struct TableInner {
    lattice: TableLat,
    /// Content hash, computed on first use (interning) and then reused;
    /// joins that are never interned never pay for it.
    hash: OnceLock<u64>,
}

impl Table {
    /// Encodes a TiDB table schema (TiDB's `schemacmp.Encode`).
    pub fn from_table_info(ti: &TableInfo) -> Table {
        Table::from_lattice(TableLat::new(ti))
    }

    fn from_lattice(lattice: TableLat) -> Table {
        Table(Arc::new(TableInner {
            lattice,
            hash: OnceLock::new(),
        }))
    }

    fn content_hash(&self) -> u64 {
        *self.0.hash.get_or_init(|| {
            let mut hasher = DefaultHasher::new();
            self.0.lattice.hash(&mut hasher);
            hasher.finish()
        })
    }

    fn lattice(&self) -> &TableLat {
        &self.0.lattice
    }

    /// `Less`: `other` accepts everything `self` does and more; `Err` when
    /// neither contains the other.
    pub fn compare(&self, other: &Table) -> Result<Ordering, Incompatible> {
        self.lattice().compare(other.lattice())
    }

    /// The smallest schema containing both, with TiDB's fix-ups.
    pub fn join(&self, other: &Table) -> Result<Table, Incompatible> {
        let mut joined = self.lattice().join(other.lattice())?;
        joined.fix_key_flags()?;
        Ok(Table::from_lattice(joined))
    }

    /// Whether both handles share one allocation (a cheap equality test).
    pub fn ptr_eq(&self, other: &Table) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Column names (lower-case, sorted).
    pub fn column_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.lattice().columns.entries.keys().map(|k| &**k)
    }

    /// Index names (lower-case, sorted; `primary` for the primary key).
    pub fn index_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.lattice().indices.entries.keys().map(|k| &**k)
    }

    /// Whether a column with this exact lower-case name exists. Like DM, a
    /// mixed-case name never matches.
    pub fn has_column(&self, name: &str) -> bool {
        self.lattice().columns.entries.contains_key(name)
    }

    /// The decoded type of one column (exact lower-case name).
    pub fn column_field_type(&self, name: &str) -> Option<FieldType> {
        self.lattice()
            .columns
            .entries
            .get(name)
            .map(|c| c.ty.to_field_type())
    }

    /// Every column's decoded type by lower-case name (TiDB's
    /// `DecodeColumnFieldTypes`; DM reads `Flen` from it).
    pub fn column_field_types(&self) -> BTreeMap<String, FieldType> {
        self.lattice()
            .columns
            .entries
            .iter()
            .map(|(name, c)| (name.to_string(), c.ty.to_field_type()))
            .collect()
    }
}

impl PartialEq for Table {
    fn eq(&self, other: &Self) -> bool {
        self.ptr_eq(other)
            || (self.content_hash() == other.content_hash() && self.0.lattice == other.0.lattice)
    }
}

impl Eq for Table {}

impl Hash for Table {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.content_hash());
    }
}

impl fmt::Display for Table {
    /// TiDB's `Table.String()`: the debug `CREATE TABLE` named `tbl`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_create_table("tbl"))
    }
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Table({self})")
    }
}

#[cfg(test)]
mod tests;
