//! Shorthands for building TiDB-like schemas in tests, mirroring what
//! TiDB's DDL produces for the `CREATE TABLE` texts of TiDB's own tests.

use super::Table;
use crate::tableinfo::{ColumnInfo, FieldType, IndexColumn, IndexInfo, TableInfo};

/// A table named `tb` in utf8mb4 / utf8mb4_bin with the given columns and
/// indexes (key flags set as TiDB's DDL sets them).
pub(crate) fn table(columns: Vec<ColumnInfo>, indexes: Vec<IndexInfo>) -> TableInfo {
    let mut t = TableInfo::new("tb");
    for column in columns {
        t.push_column(column);
    }
    for index in indexes {
        t.push_index(index);
    }
    t
}

/// A nullable column without default.
pub(crate) fn col(name: &str, field_type: FieldType) -> ColumnInfo {
    ColumnInfo::new(name, field_type)
}

/// `KEY name (columns)`.
pub(crate) fn key(name: &str, columns: &[&str]) -> IndexInfo {
    IndexInfo::new(name, columns)
}

/// `KEY name (column(length))`.
pub(crate) fn prefix_key(name: &str, column: &str, length: i64) -> IndexInfo {
    IndexInfo::with_parts(name, vec![IndexColumn::prefix(column, length)])
}

/// `UNIQUE KEY name (columns)`.
pub(crate) fn unique(name: &str, columns: &[&str]) -> IndexInfo {
    IndexInfo::new(name, columns).unique()
}

/// `PRIMARY KEY (columns)`.
pub(crate) fn primary(columns: &[&str]) -> IndexInfo {
    IndexInfo::primary(columns)
}

/// Encodes.
pub(crate) fn enc(t: &TableInfo) -> Table {
    Table::from_table_info(t)
}
