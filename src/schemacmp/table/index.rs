//! An index in lattice form ([`IndexLat`]: key parts, not unique, not
//! primary, index type), the implicit primary key of a PK-is-handle table,
//! and how an index only one side has compares and joins ([`IndexPolicy`]).

use std::cmp::Ordering;
use std::sync::Arc;

use super::super::error::Incompatible;
use super::super::lattice::{
    tuple_lattice, Bool, EqualitySingleton, IndexColumns, IndexType, MapPolicy, Singleton,
};
use super::SharedPart;
use crate::tableinfo::{mysql, ColumnInfo, IndexInfo};

/// An index in lattice form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct IndexLat {
    pub(crate) columns: EqualitySingleton<IndexColumns>,
    pub(crate) not_unique: Bool,
    pub(crate) not_primary: Bool,
    pub(crate) index_type: Singleton<IndexType>,
}

impl IndexLat {
    pub(super) fn new(ii: &IndexInfo) -> Self {
        let columns = ii
            .columns
            .iter()
            .map(|c| (c.name.l.clone(), c.length))
            .collect();
        IndexLat {
            columns: EqualitySingleton(IndexColumns(columns)),
            not_unique: Bool(!ii.is_unique),
            not_primary: Bool(!ii.is_primary),
            index_type: Singleton(IndexType(ii.index_type)),
        }
    }

    /// The primary key of a PK-is-handle table, which has no index entry:
    /// it encodes exactly like an explicit one-column BTREE primary key.
    pub(super) fn implicit_primary(ci: &ColumnInfo) -> Self {
        IndexLat {
            columns: EqualitySingleton(IndexColumns(vec![(
                ci.name.l.clone(),
                mysql::UNSPECIFIED_LENGTH,
            )])),
            not_unique: Bool(false),
            not_primary: Bool(false),
            index_type: Singleton(IndexType(mysql::INDEX_TYPE_BTREE)),
        }
    }

    pub(super) fn parts(&self) -> &[(String, i64)] {
        &self.columns.0 .0
    }
}

/// Indexes are shared between a table and its joins, like columns.
impl SharedPart for IndexLat {}

tuple_lattice!(IndexLat {
    0 => columns,
    1 => not_unique,
    2 => not_primary,
    3 => index_type,
});

/// Indexes: an extra index makes a table smaller; the join keeps only the
/// indexes every side has and silently drops same-name indexes that differ.
pub(crate) struct IndexPolicy;

impl MapPolicy<Arc<IndexLat>> for IndexPolicy {
    const DELETE_INCOMPATIBLE: bool = true;

    fn compare_with_nil(_index: &Arc<IndexLat>) -> Result<Ordering, Incompatible> {
        Ok(Ordering::Less)
    }

    fn join_with_nil(_index: &Arc<IndexLat>) -> Result<Option<Arc<IndexLat>>, Incompatible> {
        Ok(None)
    }
}
