//! MySQL / TiDB constants carried inside `TableInfo` JSON: type codes
//! (`FieldType.Tp`), column flag bits (`FieldType.Flag`), schema states,
//! index types and default lengths. Values follow TiDB's `parser/mysql`.
//!
//! PURE: constants and tiny predicates only.

// Type codes (`Tp`).
/// DECIMAL in very old servers.
pub const TYPE_UNSPECIFIED: u8 = 0;
/// TINYINT, BOOL.
pub const TYPE_TINY: u8 = 1;
/// SMALLINT.
pub const TYPE_SHORT: u8 = 2;
/// INT.
pub const TYPE_LONG: u8 = 3;
/// FLOAT.
pub const TYPE_FLOAT: u8 = 4;
/// DOUBLE.
pub const TYPE_DOUBLE: u8 = 5;
/// NULL.
pub const TYPE_NULL: u8 = 6;
/// TIMESTAMP.
pub const TYPE_TIMESTAMP: u8 = 7;
/// BIGINT.
pub const TYPE_LONGLONG: u8 = 8;
/// MEDIUMINT.
pub const TYPE_INT24: u8 = 9;
/// DATE.
pub const TYPE_DATE: u8 = 10;
/// TIME.
pub const TYPE_DURATION: u8 = 11;
/// DATETIME.
pub const TYPE_DATETIME: u8 = 12;
/// YEAR.
pub const TYPE_YEAR: u8 = 13;
/// Old DATE.
pub const TYPE_NEWDATE: u8 = 14;
/// VARCHAR, VARBINARY.
pub const TYPE_VARCHAR: u8 = 15;
/// BIT.
pub const TYPE_BIT: u8 = 16;
/// VECTOR (FLOAT32 elements).
pub const TYPE_TIDB_VECTOR_FLOAT32: u8 = 0xe1;
/// JSON (also the effective type of array-flagged columns).
pub const TYPE_JSON: u8 = 0xf5;
/// DECIMAL.
pub const TYPE_NEW_DECIMAL: u8 = 0xf6;
/// ENUM.
pub const TYPE_ENUM: u8 = 0xf7;
/// SET.
pub const TYPE_SET: u8 = 0xf8;
/// TINYBLOB, TINYTEXT.
pub const TYPE_TINY_BLOB: u8 = 0xf9;
/// MEDIUMBLOB, MEDIUMTEXT.
pub const TYPE_MEDIUM_BLOB: u8 = 0xfa;
/// LONGBLOB, LONGTEXT.
pub const TYPE_LONG_BLOB: u8 = 0xfb;
/// BLOB, TEXT.
pub const TYPE_BLOB: u8 = 0xfc;
/// VAR_STRING.
pub const TYPE_VAR_STRING: u8 = 0xfd;
/// CHAR, BINARY.
pub const TYPE_STRING: u8 = 0xfe;
/// GEOMETRY.
pub const TYPE_GEOMETRY: u8 = 0xff;

// Flag bits (`Flag`).
/// NOT NULL.
pub const NOT_NULL_FLAG: u64 = 1;
/// Part of the primary key.
pub const PRI_KEY_FLAG: u64 = 1 << 1;
/// The only column of a unique key.
pub const UNIQUE_KEY_FLAG: u64 = 1 << 2;
/// First column of a non-unique or multi-column key.
pub const MULTIPLE_KEY_FLAG: u64 = 1 << 3;
/// BLOB / TEXT.
pub const BLOB_FLAG: u64 = 1 << 4;
/// UNSIGNED.
pub const UNSIGNED_FLAG: u64 = 1 << 5;
/// ZEROFILL.
pub const ZEROFILL_FLAG: u64 = 1 << 6;
/// BINARY.
pub const BINARY_FLAG: u64 = 1 << 7;
/// ENUM.
pub const ENUM_FLAG: u64 = 1 << 8;
/// AUTO_INCREMENT.
pub const AUTO_INCREMENT_FLAG: u64 = 1 << 9;
/// TIMESTAMP.
pub const TIMESTAMP_FLAG: u64 = 1 << 10;
/// SET.
pub const SET_FLAG: u64 = 1 << 11;
/// NOT NULL without a default (not set for AUTO_INCREMENT / TIMESTAMP).
pub const NO_DEFAULT_VALUE_FLAG: u64 = 1 << 12;
/// ON UPDATE CURRENT_TIMESTAMP.
pub const ON_UPDATE_NOW_FLAG: u64 = 1 << 13;
/// Part of some key.
pub const PART_KEY_FLAG: u64 = 1 << 14;
/// Numeric column (also the group flag).
pub const NUM_FLAG: u64 = 1 << 15;
/// Internal unique flag.
pub const UNIQUE_FLAG: u64 = 1 << 16;
/// Binary comparison.
pub const BIN_CMP_FLAG: u64 = 1 << 17;
/// Parse to JSON.
pub const PARSE_TO_JSON_FLAG: u64 = 1 << 18;
/// BOOL / BOOLEAN.
pub const IS_BOOLEAN_FLAG: u64 = 1 << 19;
/// Prevent NULL insert.
pub const PREVENT_NULL_INSERT_FLAG: u64 = 1 << 20;
/// ENUM / SET used as an integer.
pub const ENUM_SET_AS_INT_FLAG: u64 = 1 << 21;
/// Column dropped together with its index.
pub const DROP_COLUMN_INDEX_FLAG: u64 = 1 << 22;
/// Generated column.
pub const GENERATED_COLUMN_FLAG: u64 = 1 << 23;
/// Literal with a charset introducer.
pub const UNDERSCORE_CHARSET_FLAG: u64 = 1 << 24;

// Schema states (`state`).
/// Not yet created / dropped.
pub const STATE_NONE: u8 = 0;
/// Delete only.
pub const STATE_DELETE_ONLY: u8 = 1;
/// Write only.
pub const STATE_WRITE_ONLY: u8 = 2;
/// Write reorganization.
pub const STATE_WRITE_REORGANIZATION: u8 = 3;
/// Delete reorganization.
pub const STATE_DELETE_REORGANIZATION: u8 = 4;
/// Public (what DM's tracker emits for columns and indexes).
pub const STATE_PUBLIC: u8 = 5;
/// Replica only.
pub const STATE_REPLICA_ONLY: u8 = 6;
/// Global transaction only.
pub const STATE_GLOBAL_TXN_ONLY: u8 = 7;

// Index types (`index_type`); treated as opaque integers by schemacmp.
/// Invalid.
pub const INDEX_TYPE_INVALID: i64 = 0;
/// BTREE (the default).
pub const INDEX_TYPE_BTREE: i64 = 1;
/// HASH.
pub const INDEX_TYPE_HASH: i64 = 2;
/// RTREE.
pub const INDEX_TYPE_RTREE: i64 = 3;
/// HYPO.
pub const INDEX_TYPE_HYPO: i64 = 4;
/// VECTOR.
pub const INDEX_TYPE_VECTOR: i64 = 5;
/// INVERTED.
pub const INDEX_TYPE_INVERTED: i64 = 6;
/// HNSW (AST only).
pub const INDEX_TYPE_HNSW: i64 = 7;
/// FULLTEXT.
pub const INDEX_TYPE_FULLTEXT: i64 = 8;

/// Name TiDB prints for an index type (`ast.IndexType.String()`), empty for
/// unknown values.
pub fn index_type_name(index_type: i64) -> &'static str {
    match index_type {
        INDEX_TYPE_BTREE => "BTREE",
        INDEX_TYPE_HASH => "HASH",
        INDEX_TYPE_RTREE => "RTREE",
        INDEX_TYPE_HYPO => "HYPO",
        INDEX_TYPE_VECTOR => "VECTOR",
        INDEX_TYPE_INVERTED => "INVERTED",
        INDEX_TYPE_HNSW => "HNSW",
        INDEX_TYPE_FULLTEXT => "FULLTEXT",
        _ => "",
    }
}

// Charsets and collations.
/// The binary charset and collation name.
pub const CHARSET_BINARY: &str = "binary";
/// The binary collation name.
pub const COLLATION_BINARY: &str = "binary";
/// TiDB's default charset.
pub const CHARSET_UTF8MB4: &str = "utf8mb4";
/// TiDB's default collation.
pub const COLLATION_UTF8MB4_BIN: &str = "utf8mb4_bin";

/// `Flen` / `Decimal` value meaning "not specified".
pub const UNSPECIFIED_LENGTH: i64 = -1;
/// Current `TableInfo.version`.
pub const TABLE_INFO_VERSION: u16 = 5;
/// Current `ColumnInfo.version`.
pub const COLUMN_INFO_VERSION: u64 = 2;
/// Name TiDB gives the primary key index.
pub const PRIMARY_KEY_NAME: &str = "PRIMARY";

/// TINYINT, SMALLINT, MEDIUMINT, INT, BIGINT (not YEAR or BIT).
pub fn is_integer_type(tp: u8) -> bool {
    matches!(
        tp,
        TYPE_TINY | TYPE_SHORT | TYPE_INT24 | TYPE_LONG | TYPE_LONGLONG
    )
}

/// TINY/MEDIUM/LONG BLOB and BLOB (and the TEXT types sharing their codes).
pub fn is_blob_type(tp: u8) -> bool {
    matches!(
        tp,
        TYPE_TINY_BLOB | TYPE_MEDIUM_BLOB | TYPE_BLOB | TYPE_LONG_BLOB
    )
}

/// CHAR and VARCHAR (and their binary forms).
pub fn is_char_type(tp: u8) -> bool {
    matches!(tp, TYPE_STRING | TYPE_VARCHAR)
}
