//! Typed model of TiDB's `TableInfo` JSON, as carried in DM optimism Infos
//! (`table-info-before` / `table-info-after`) and in the downstream
//! checkpoint table.
//!
//! PURE: no async, no I/O.
//!
//! Invariants:
//! - Decoding follows Go's `encoding/json` rules (see the `json` child
//!   module): unknown keys are accepted, missing keys and `null` give zero
//!   values, keys match case-insensitively.
//! - Nothing is lost: keys the model does not interpret are kept in each
//!   struct's [`JsonExtra`] together with the source key order, so
//!   `TableInfo::from_json_value(v)?.to_json_value() == v` (same keys, same
//!   order) for every object TiDB emits.
//! - Values built in code use TiDB's own key order, so they look like what
//!   DM's schema tracker produces.
//!
//! Byte-exact text is not produced here: callers hand the
//! `serde_json::Value` to the project's Go-compatible JSON encoder.

mod field_type;
pub(crate) mod json;
pub mod mysql;
#[cfg(test)]
mod tests;

use serde_json::Value;

use json::json_object;
pub use json::{JsonExtra, TableInfoError};

json_object! {
    /// A case-insensitive name: `{"O": original, "L": lower-case}`.
    /// schemacmp keys columns and indexes by `L`.
    pub struct CIStr {
        /// The name as written.
        "O" => o: String,
        /// Lower-case form of `o`.
        "L" => l: String,
    }
}

impl CIStr {
    /// A name with its lower-case form, as TiDB's `model.NewCIStr`.
    pub fn new(name: &str) -> Self {
        CIStr {
            o: name.to_owned(),
            l: name.to_lowercase(),
            extra: JsonExtra::default(),
        }
    }
}

json_object! {
    /// A column type (`types.FieldType`), encoded by TiDB's custom
    /// marshaller with capitalised keys.
    pub struct FieldType {
        /// MySQL type code (`mysql::TYPE_*`).
        "Tp" => tp: u8,
        /// Flag bits (`mysql::*_FLAG`).
        "Flag" => flag: u64,
        /// Display length or precision; `-1` when unspecified.
        "Flen" => flen: i64,
        /// Scale or fractional-seconds precision; `-1` when unspecified.
        "Decimal" => decimal: i64,
        /// Character set (`binary` for non-string types).
        "Charset" => charset: String,
        /// Collation (`binary` for non-string types).
        "Collate" => collate: String,
        /// ENUM / SET members.
        "Elems" => elems: Vec<String>,
        /// Which ENUM / SET members were written as binary literals.
        "ElemsIsBinaryLit" => elems_is_binary_lit: Vec<bool>,
        /// Multi-valued index helper type; the effective type is then JSON.
        "Array" => array: bool,
    }
}

json_object! {
    /// A column (`model.ColumnInfo`).
    pub struct ColumnInfo {
        /// Column ID.
        "id" => id: i64,
        /// Column name.
        "name" => name: CIStr,
        /// Position in the table.
        "offset" => offset: i64,
        /// Value used to backfill rows added by ADD COLUMN.
        "origin_default" => origin_default: Value,
        /// BIT variant of `origin_default` (base64 bytes).
        "origin_default_bit" => origin_default_bit: Value,
        /// Current default; in practice a JSON string or `null`.
        "default" => default: Value,
        /// BIT default bytes (base64).
        "default_bit" => default_bit: Value,
        /// The default is an expression.
        "default_is_expr" => default_is_expr: bool,
        /// Generation expression; empty when not generated.
        "generated_expr_string" => generated_expr_string: String,
        /// Generated column is STORED.
        "generated_stored" => generated_stored: bool,
        /// Columns a generated column depends on.
        "dependences" => dependences: Value,
        /// The column type.
        "type" => field_type: FieldType,
        /// Target type during MODIFY COLUMN; omitted when `null`.
        "changing_type" [omitempty] => changing_type: Value,
        /// Schema state (`mysql::STATE_*`).
        "state" => state: u8,
        /// Column comment.
        "comment" => comment: String,
        /// Hidden expression-index helper column.
        "hidden" => hidden: bool,
        /// `{"relative_col_offset": n}` during schema changes.
        "change_state_info" => change_state_info: Value,
        /// ColumnInfo format version.
        "version" => version: u64,
    }
}

json_object! {
    /// One key part of an index (`model.IndexColumn`).
    pub struct IndexColumn {
        /// Column name.
        "name" => name: CIStr,
        /// Column offset in the table.
        "offset" => offset: i64,
        /// Prefix length; `-1` for the whole column.
        "length" => length: i64,
    }
}

json_object! {
    /// An index (`model.IndexInfo`).
    pub struct IndexInfo {
        /// Index ID.
        "id" => id: i64,
        /// Index name; the primary key is `PRIMARY` / `primary`.
        "idx_name" => name: CIStr,
        /// Table name (empty in DM tracker output).
        "tbl_name" => table: CIStr,
        /// Key parts, in order.
        "idx_cols" => columns: Vec<IndexColumn>,
        /// Schema state.
        "state" => state: u8,
        /// Backfill state.
        "backfill_state" => backfill_state: i64,
        /// Index comment.
        "comment" => comment: String,
        /// Index type (`mysql::INDEX_TYPE_*`).
        "index_type" => index_type: i64,
        /// UNIQUE.
        "is_unique" => is_unique: bool,
        /// PRIMARY KEY.
        "is_primary" => is_primary: bool,
        /// INVISIBLE.
        "is_invisible" => is_invisible: bool,
        /// Global index of a partitioned table.
        "is_global" => is_global: bool,
        /// Multi-valued index.
        "mv_index" => mv_index: bool,
        /// Vector index options.
        "vector_index" => vector_index: Value,
    }
}

json_object! {
    /// A table schema (`model.TableInfo`).
    pub struct TableInfo {
        /// Table ID (0 in DM tracker output).
        "id" => id: i64,
        /// Table name.
        "name" => name: CIStr,
        /// Table default charset.
        "charset" => charset: String,
        /// Table default collation.
        "collate" => collate: String,
        /// Columns in table order.
        "cols" => columns: Vec<ColumnInfo>,
        /// Indexes (the PRIMARY entry is absent when the PK is the int handle).
        "index_info" => indices: Vec<IndexInfo>,
        /// CHECK constraints.
        "constraint_info" => constraints: Value,
        /// Foreign keys.
        "fk_info" => foreign_keys: Value,
        /// Schema state.
        "state" => state: u8,
        /// A single integer PK is the row handle.
        "pk_is_handle" => pk_is_handle: bool,
        /// Clustered non-integer PK.
        "is_common_handle" => is_common_handle: bool,
        /// Common handle format version.
        "common_handle_version" => common_handle_version: u16,
        /// Table comment.
        "comment" => comment: String,
        /// AUTO_INCREMENT base.
        "auto_inc_id" => auto_inc_id: i64,
        /// Extra auto-increment allocator state; omitted when 0.
        "auto_inc_id_extra" [omitempty] => auto_inc_id_extra: i64,
        /// AUTO_ID_CACHE.
        "auto_id_cache" => auto_id_cache: i64,
        /// AUTO_RANDOM allocator base.
        "auto_rand_id" => auto_rand_id: i64,
        /// Largest column ID handed out.
        "max_col_id" => max_col_id: i64,
        /// Largest index ID handed out.
        "max_idx_id" => max_idx_id: i64,
        /// Largest foreign key ID handed out.
        "max_fk_id" => max_fk_id: i64,
        /// Largest constraint ID handed out.
        "max_cst_id" => max_cst_id: i64,
        /// Last update timestamp (TSO).
        "update_timestamp" => update_timestamp: u64,
        /// Schema ID before a cross-schema rename; omitted when 0.
        "old_schema_id" [omitempty] => old_schema_id: i64,
        /// SHARD_ROW_ID_BITS (Go field without a JSON tag, hence the key).
        "ShardRowIDBits" => shard_row_id_bits: u64,
        /// Maximum SHARD_ROW_ID_BITS.
        "max_shard_row_id_bits" => max_shard_row_id_bits: u64,
        /// AUTO_RANDOM shard bits.
        "auto_random_bits" => auto_random_bits: u64,
        /// AUTO_RANDOM range bits.
        "auto_random_range_bits" => auto_random_range_bits: u64,
        /// PRE_SPLIT_REGIONS.
        "pre_split_regions" => pre_split_regions: u64,
        /// Partitioning.
        "partition" => partition: Value,
        /// COMPRESSION; empty for none.
        "compression" => compression: String,
        /// View definition.
        "view" => view: Value,
        /// Sequence definition.
        "sequence" => sequence: Value,
        /// Table lock (the real key is capitalised).
        "Lock" => lock: Value,
        /// TableInfo format version.
        "version" => version: u16,
        /// TiFlash replica settings.
        "tiflash_replica" => tiflash_replica: Value,
        /// Columnar table.
        "is_columnar" => is_columnar: bool,
        /// Temporary table type.
        "temp_table_type" => temp_table_type: u8,
        /// Cached table status.
        "cache_table_status" => cache_table_status: i64,
        /// Placement policy reference.
        "policy_ref_info" => policy_ref_info: Value,
        /// Statistics options.
        "stats_options" => stats_options: Value,
        /// EXCHANGE PARTITION state.
        "exchange_partition_info" => exchange_partition_info: Value,
        /// TTL settings.
        "ttl_info" => ttl_info: Value,
        /// Schema revision.
        "revision" => revision: u64,
    }
}

impl TableInfo {
    /// Decodes a TiDB `TableInfo` JSON object (Go `encoding/json` rules).
    pub fn from_json_value(value: Value) -> Result<Self, TableInfoError> {
        json::require_object(&value)?;
        Self::decode_json(value, &json::Path::root())
    }

    /// Decodes a TiDB `TableInfo` from JSON text.
    pub fn from_json_str(text: &str) -> Result<Self, TableInfoError> {
        let value: Value = serde_json::from_str(text).map_err(|e| TableInfoError::Syntax {
            message: e.to_string(),
        })?;
        Self::from_json_value(value)
    }

    /// Encodes back to a JSON object. A decoded value comes back with the
    /// same keys in the same order; a value built in code uses TiDB's order.
    pub fn to_json_value(&self) -> Value {
        self.encode_json()
    }

    /// An empty table the way DM's tracker starts one: table ID 0, TiDB's
    /// default charset and collation, current format version.
    pub fn new(name: &str) -> Self {
        TableInfo {
            name: CIStr::new(name),
            charset: mysql::CHARSET_UTF8MB4.to_owned(),
            collate: mysql::COLLATION_UTF8MB4_BIN.to_owned(),
            version: mysql::TABLE_INFO_VERSION,
            ..TableInfo::default()
        }
    }

    /// Sets the table default charset and collation.
    pub fn with_charset(mut self, charset: &str, collate: &str) -> Self {
        self.charset = charset.to_owned();
        self.collate = collate.to_owned();
        self
    }

    /// Appends a column, assigning the next column ID and its offset.
    pub fn with_column(mut self, column: ColumnInfo) -> Self {
        self.push_column(column);
        self
    }

    /// Appends a column in place; see [`TableInfo::with_column`].
    pub fn push_column(&mut self, mut column: ColumnInfo) {
        self.max_col_id += 1;
        column.id = self.max_col_id;
        column.offset = i64::try_from(self.columns.len()).unwrap_or(i64::MAX);
        self.columns.push(column);
    }

    /// Appends an index the way TiDB's DDL does: assigns the next index ID,
    /// resolves key-part offsets, and sets the column key flags (PRIMARY:
    /// every key column gets `PRI_KEY` and becomes NOT NULL; a one-column
    /// UNIQUE gets `UNIQUE_KEY`; otherwise the first column gets
    /// `MULTIPLE_KEY`).
    pub fn with_index(mut self, index: IndexInfo) -> Self {
        self.push_index(index);
        self
    }

    /// Appends an index in place; see [`TableInfo::with_index`].
    pub fn push_index(&mut self, mut index: IndexInfo) {
        self.max_idx_id += 1;
        index.id = self.max_idx_id;
        if index.state == mysql::STATE_NONE {
            index.state = mysql::STATE_PUBLIC;
        }
        for part in &mut index.columns {
            if let Some(offset) = self.columns.iter().position(|c| c.name.l == part.name.l) {
                part.offset = i64::try_from(offset).unwrap_or(i64::MAX);
            }
        }
        let names: Vec<String> = index.columns.iter().map(|c| c.name.l.clone()).collect();
        if index.is_primary {
            for name in &names {
                if let Some(column) = self.column_mut(name) {
                    column.field_type.flag |= mysql::PRI_KEY_FLAG;
                    column.set_not_null();
                }
            }
        } else if let Some(first) = names.first() {
            let flag = if index.is_unique && names.len() == 1 {
                mysql::UNIQUE_KEY_FLAG
            } else {
                mysql::MULTIPLE_KEY_FLAG
            };
            if let Some(column) = self.column_mut(first) {
                column.field_type.flag |= flag;
            }
        }
        self.indices.push(index);
    }

    /// The column whose name matches case-insensitively.
    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        let lower = name.to_lowercase();
        self.columns.iter().find(|c| c.name.l == lower)
    }

    /// Mutable access to the column whose name matches case-insensitively.
    pub fn column_mut(&mut self, name: &str) -> Option<&mut ColumnInfo> {
        let lower = name.to_lowercase();
        self.columns.iter_mut().find(|c| c.name.l == lower)
    }

    /// The index whose name matches case-insensitively.
    pub fn index(&self, name: &str) -> Option<&IndexInfo> {
        let lower = name.to_lowercase();
        self.indices.iter().find(|i| i.name.l == lower)
    }
}

impl ColumnInfo {
    /// A public, nullable column without default, as DM's tracker emits it
    /// (ID and offset are set by [`TableInfo::with_column`]).
    pub fn new(name: &str, field_type: FieldType) -> Self {
        ColumnInfo {
            name: CIStr::new(name),
            field_type,
            state: mysql::STATE_PUBLIC,
            version: mysql::COLUMN_INFO_VERSION,
            ..ColumnInfo::default()
        }
    }

    /// NOT NULL. Like TiDB, a NOT NULL column without a default (and not
    /// AUTO_INCREMENT) also gets `NO_DEFAULT_VALUE`.
    pub fn not_null(mut self) -> Self {
        self.set_not_null();
        self
    }

    fn set_not_null(&mut self) {
        let flag = &mut self.field_type.flag;
        *flag |= mysql::NOT_NULL_FLAG;
        if self.default.is_null() && *flag & mysql::AUTO_INCREMENT_FLAG == 0 {
            *flag |= mysql::NO_DEFAULT_VALUE_FLAG;
        }
    }

    /// DEFAULT `value` (TiDB stores defaults as JSON strings).
    pub fn default_value(mut self, value: impl Into<Value>) -> Self {
        self.default = value.into();
        if !self.default.is_null() {
            self.field_type.flag &= !mysql::NO_DEFAULT_VALUE_FLAG;
        }
        self
    }

    /// AUTO_INCREMENT (which never carries `NO_DEFAULT_VALUE`).
    pub fn auto_increment(mut self) -> Self {
        self.field_type.flag |= mysql::AUTO_INCREMENT_FLAG;
        self.field_type.flag &= !mysql::NO_DEFAULT_VALUE_FLAG;
        self
    }

    /// `GENERATED ALWAYS AS (expr)`, VIRTUAL or STORED.
    pub fn generated(mut self, expr: &str, stored: bool) -> Self {
        self.generated_expr_string = expr.to_owned();
        self.generated_stored = stored;
        self
    }

    /// Column comment.
    pub fn with_comment(mut self, comment: &str) -> Self {
        self.comment = comment.to_owned();
        self
    }
}

impl IndexColumn {
    /// A whole-column key part.
    pub fn new(name: &str) -> Self {
        IndexColumn {
            name: CIStr::new(name),
            offset: 0,
            length: mysql::UNSPECIFIED_LENGTH,
            extra: JsonExtra::default(),
        }
    }

    /// A prefix key part, `name(length)`.
    pub fn prefix(name: &str, length: i64) -> Self {
        IndexColumn {
            length,
            ..IndexColumn::new(name)
        }
    }
}

impl IndexInfo {
    /// A non-unique BTREE index over whole columns.
    pub fn new(name: &str, columns: &[&str]) -> Self {
        Self::with_parts(name, columns.iter().map(|c| IndexColumn::new(c)).collect())
    }

    /// A non-unique BTREE index over the given key parts.
    pub fn with_parts(name: &str, columns: Vec<IndexColumn>) -> Self {
        IndexInfo {
            name: CIStr::new(name),
            table: CIStr::new(""),
            columns,
            state: mysql::STATE_PUBLIC,
            index_type: mysql::INDEX_TYPE_BTREE,
            ..IndexInfo::default()
        }
    }

    /// The primary key over whole columns.
    pub fn primary(columns: &[&str]) -> Self {
        IndexInfo {
            is_unique: true,
            is_primary: true,
            ..IndexInfo::new(mysql::PRIMARY_KEY_NAME, columns)
        }
    }

    /// UNIQUE.
    pub fn unique(mut self) -> Self {
        self.is_unique = true;
        self
    }

    /// `USING <type>`.
    pub fn using(mut self, index_type: i64) -> Self {
        self.index_type = index_type;
        self
    }
}
