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
use super::error::{go_float, Incompatible, IncompatibleKind};
use super::lattice::{
    join_field, Bool, Byte, DefaultValue, EqualitySingleton, IndexColumns, IndexType, Int64,
    Lattice, LatticeMap, MapPolicy, Maybe, Singleton, TupleCompare,
};
use super::types::{encode_anti_keys, ColumnType, NOT_PART_OF_KEYS};
use crate::tableinfo::{mysql, CIStr, ColumnInfo, FieldType, IndexColumn, IndexInfo, TableInfo};

/// A column in lattice form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ColumnLat {
    pub(crate) default: Maybe<Singleton<DefaultValue>>,
    pub(crate) generated_expr: Singleton<String>,
    pub(crate) generated_stored: Singleton<bool>,
    pub(crate) ty: ColumnType,
}

impl ColumnLat {
    fn new(ci: &ColumnInfo) -> Self {
        let default = if ci.default.is_null() {
            Maybe(None)
        } else {
            Maybe(Some(Singleton(DefaultValue(ci.default.clone()))))
        };
        ColumnLat {
            default,
            generated_expr: Singleton(ci.generated_expr_string.clone()),
            generated_stored: Singleton(ci.generated_stored),
            ty: ColumnType::new(&ci.field_type),
        }
    }
}

impl ColumnLat {
    /// `compare(x, x)` is `Equal`: false only for array / object defaults,
    /// which are never equal to anything (see [`DefaultValue`]).
    fn compares_equal_to_itself(&self) -> bool {
        !matches!(
            &self.default.0,
            Some(Singleton(DefaultValue(
                serde_json::Value::Array(_) | serde_json::Value::Object(_)
            )))
        )
    }

    /// `join(x, x)` is `x` (it fails for an AUTO_INCREMENT column in no key).
    fn joins_to_itself(&self) -> bool {
        self.compares_equal_to_itself()
            && !(self.ty.is_auto_increment() && self.ty.anti_keys.0 == NOT_PART_OF_KEYS)
    }
}

/// Columns are shared between a table and its joins: joining two equal
/// columns (the common case: most columns of two shards are the same) just
/// shares one of them, which keeps a join cheap and its memory small.
impl Lattice for Arc<ColumnLat> {
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

impl Lattice for ColumnLat {
    fn compare(&self, other: &Self) -> Result<Ordering, Incompatible> {
        let mut acc = TupleCompare::new();
        acc.field(0, &self.default, &other.default)?;
        acc.field(1, &self.generated_expr, &other.generated_expr)?;
        acc.field(2, &self.generated_stored, &other.generated_stored)?;
        acc.field(3, &self.ty, &other.ty)?;
        Ok(acc.finish())
    }

    fn join(&self, other: &Self) -> Result<Self, Incompatible> {
        Ok(ColumnLat {
            default: join_field(0, &self.default, &other.default)?,
            generated_expr: join_field(1, &self.generated_expr, &other.generated_expr)?,
            generated_stored: join_field(2, &self.generated_stored, &other.generated_stored)?,
            ty: join_field(3, &self.ty, &other.ty)?,
        })
    }
}

/// Columns: a column only one side has makes that side larger, unless it
/// cannot be absent (NOT NULL without default). Join keeps it, adjusted.
pub(crate) struct ColumnPolicy;

impl MapPolicy<Arc<ColumnLat>> for ColumnPolicy {
    const DELETE_INCOMPATIBLE: bool = false;

    fn compare_with_nil(column: &Arc<ColumnLat>) -> Result<Ordering, Incompatible> {
        if column.ty.has_default() {
            Ok(Ordering::Greater)
        } else {
            Err(Incompatible::new(
                IncompatibleKind::MissingColumnWithoutDefault,
            ))
        }
    }

    fn join_with_nil(column: &Arc<ColumnLat>) -> Result<Option<Arc<ColumnLat>>, Incompatible> {
        let mut adjusted = ColumnLat::clone(column);
        if adjusted.ty.set_flag_for_missing_column() && adjusted.ty.is_not_null() {
            let zero = serde_json::Value::String(adjusted.ty.standard_default_value());
            adjusted.default = Maybe(Some(Singleton(DefaultValue(zero))));
        }
        if adjusted == **column {
            Ok(Some(Arc::clone(column)))
        } else {
            Ok(Some(Arc::new(adjusted)))
        }
    }
}

/// An index in lattice form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct IndexLat {
    pub(crate) columns: EqualitySingleton<IndexColumns>,
    pub(crate) not_unique: Bool,
    pub(crate) not_primary: Bool,
    pub(crate) index_type: Singleton<IndexType>,
}

impl IndexLat {
    fn new(ii: &IndexInfo) -> Self {
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
    fn implicit_primary(ci: &ColumnInfo) -> Self {
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

    fn parts(&self) -> &[(String, i64)] {
        &self.columns.0 .0
    }
}

/// Indexes are shared between a table and its joins, like columns.
impl Lattice for Arc<IndexLat> {
    fn compare(&self, other: &Self) -> Result<Ordering, Incompatible> {
        if Arc::ptr_eq(self, other) || self == other {
            return Ok(Ordering::Equal);
        }
        (**self).compare(other)
    }

    fn join(&self, other: &Self) -> Result<Self, Incompatible> {
        if Arc::ptr_eq(self, other) || self == other {
            return Ok(Arc::clone(self));
        }
        (**self).join(other).map(Arc::new)
    }
}

impl Lattice for IndexLat {
    fn compare(&self, other: &Self) -> Result<Ordering, Incompatible> {
        let mut acc = TupleCompare::new();
        acc.field(0, &self.columns, &other.columns)?;
        acc.field(1, &self.not_unique, &other.not_unique)?;
        acc.field(2, &self.not_primary, &other.not_primary)?;
        acc.field(3, &self.index_type, &other.index_type)?;
        Ok(acc.finish())
    }

    fn join(&self, other: &Self) -> Result<Self, Incompatible> {
        Ok(IndexLat {
            columns: join_field(0, &self.columns, &other.columns)?,
            not_unique: join_field(1, &self.not_unique, &other.not_unique)?,
            not_primary: join_field(2, &self.not_primary, &other.not_primary)?,
            index_type: join_field(3, &self.index_type, &other.index_type)?,
        })
    }
}

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

impl Lattice for TableLat {
    fn compare(&self, other: &Self) -> Result<Ordering, Incompatible> {
        let mut acc = TupleCompare::new();
        acc.field(0, &self.charset, &other.charset)?;
        acc.field(1, &self.collation, &other.collation)?;
        acc.field(2, &self.columns, &other.columns)?;
        acc.field(3, &self.indices, &other.indices)?;
        acc.field(4, &self.auto_inc_id, &other.auto_inc_id)?;
        acc.field(5, &self.shard_row_id_bits, &other.shard_row_id_bits)?;
        acc.field(6, &self.auto_random_bits, &other.auto_random_bits)?;
        acc.field(7, &self.pre_split_regions, &other.pre_split_regions)?;
        acc.field(8, &self.compression, &other.compression)?;
        Ok(acc.finish())
    }

    fn join(&self, other: &Self) -> Result<Self, Incompatible> {
        Ok(TableLat {
            charset: join_field(0, &self.charset, &other.charset)?,
            collation: join_field(1, &self.collation, &other.collation)?,
            columns: join_field(2, &self.columns, &other.columns)?,
            indices: join_field(3, &self.indices, &other.indices)?,
            auto_inc_id: join_field(4, &self.auto_inc_id, &other.auto_inc_id)?,
            shard_row_id_bits: join_field(5, &self.shard_row_id_bits, &other.shard_row_id_bits)?,
            auto_random_bits: join_field(6, &self.auto_random_bits, &other.auto_random_bits)?,
            pre_split_regions: join_field(7, &self.pre_split_regions, &other.pre_split_regions)?,
            compression: join_field(8, &self.compression, &other.compression)?,
        })
    }
}

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

    /// Decodes the schema back into a `TableInfo` named `name`.
    ///
    /// What the encoding does not keep cannot come back: columns and
    /// indexes are ordered by name, names are lower-case (the primary key is
    /// `PRIMARY`), IDs are renumbered from 1, and comments, partitions and
    /// the like are empty. Good for inspecting a joined schema; it is not
    /// the upstream table.
    pub fn to_table_info(&self, name: &str) -> TableInfo {
        let lat = self.lattice();
        let mut ti =
            TableInfo::new(name).with_charset(lat.charset.as_str(), lat.collation.as_str());
        ti.auto_inc_id = lat.auto_inc_id.0;
        ti.shard_row_id_bits = lat.shard_row_id_bits.0;
        ti.auto_random_bits = lat.auto_random_bits.0;
        ti.pre_split_regions = lat.pre_split_regions.0;
        ti.compression = lat
            .compression
            .0
            .as_ref()
            .map(|c| c.0.clone())
            .unwrap_or_default();
        for (column_name, column) in &lat.columns.entries {
            let mut ci = ColumnInfo::new(column_name, column.ty.to_field_type());
            if let Some(Singleton(DefaultValue(value))) = &column.default.0 {
                ci.default = value.clone();
            }
            ci.generated_expr_string = column.generated_expr.0.clone();
            ci.generated_stored = column.generated_stored.0;
            ti.push_column(ci);
        }
        for (index_name, index) in &lat.indices.entries {
            let is_primary = !index.not_primary.0;
            let mut ii = IndexInfo::with_parts(
                index_name,
                index
                    .parts()
                    .iter()
                    .map(|(column, length)| IndexColumn::prefix(column, *length))
                    .collect(),
            );
            if is_primary {
                ii.name = CIStr {
                    o: mysql::PRIMARY_KEY_NAME.to_owned(),
                    ..CIStr::new(index_name)
                };
            }
            ii.is_unique = !index.not_unique.0;
            ii.is_primary = is_primary;
            ii.index_type = index.index_type.0 .0;
            for part in &mut ii.columns {
                let offset = ti.columns.iter().position(|c| c.name.l == part.name.l);
                part.offset = offset.and_then(|o| i64::try_from(o).ok()).unwrap_or(0);
            }
            // Key flags are already part of the decoded column types.
            ti.max_idx_id += 1;
            ii.id = ti.max_idx_id;
            ti.indices.push(ii);
        }
        ti
    }

    /// A debug `CREATE TABLE` statement in TiDB's format (columns and
    /// indexes sorted by name; not byte-exact, not meant to be executed).
    pub fn to_create_table(&self, name: &str) -> String {
        let lat = self.lattice();
        let mut out = String::from("CREATE TABLE ");
        write_name(&mut out, name);
        out.push('(');
        for (i, (column_name, column)) in lat.columns.entries.iter().enumerate() {
            if i != 0 {
                out.push_str(", ");
            }
            write_column(&mut out, column_name, column);
        }
        for (index_name, index) in &lat.indices.entries {
            out.push_str(", ");
            write_index(&mut out, index_name, index);
        }
        out.push(')');
        if !lat.charset.as_str().is_empty() {
            out.push_str(" CHARSET ");
            out.push_str(&lat.charset.as_str().to_uppercase());
        }
        if !lat.collation.as_str().is_empty() {
            out.push_str(" COLLATE ");
            out.push_str(&lat.collation.as_str().to_uppercase());
        }
        if lat.shard_row_id_bits.0 > 0 {
            out.push_str(&format!(" SHARD_ROW_ID_BITS {}", lat.shard_row_id_bits.0));
        }
        if lat.auto_random_bits.0 > 0 {
            out.push_str(&format!(
                "/* AUTO_RANDOM_BITS {} */",
                lat.auto_random_bits.0
            ));
        }
        if let Some(Singleton(compression)) = &lat.compression.0 {
            out.push_str(" COMPRESSION ");
            write_string(&mut out, compression);
        }
        out
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

fn write_name(out: &mut String, name: &str) {
    out.push('`');
    out.push_str(&name.replace('`', "``"));
    out.push('`');
}

fn write_string(out: &mut String, s: &str) {
    out.push('\'');
    out.push_str(&s.replace('\'', "''"));
    out.push('\'');
}

fn write_column(out: &mut String, name: &str, column: &ColumnLat) {
    let ft = column.ty.to_field_type();
    write_name(out, name);
    out.push(' ');
    write_field_type(out, &ft);
    if !column.generated_expr.0.is_empty() {
        out.push_str(" GENERATED ALWAYS AS (");
        out.push_str(&column.generated_expr.0);
        out.push(')');
    }
    if column.generated_stored.0 {
        out.push_str(" STORED");
    }
    if ft.flag & mysql::NOT_NULL_FLAG != 0 {
        out.push_str(" NOT NULL");
    }
    if let Some(Singleton(DefaultValue(value))) = &column.default.0 {
        out.push_str(" DEFAULT ");
        out.push_str(&match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => {
                n.as_f64().map(go_float).unwrap_or_else(|| n.to_string())
            }
            other => other.to_string(),
        });
    }
    if ft.flag & mysql::AUTO_INCREMENT_FLAG != 0 {
        out.push_str(" AUTO_INCREMENT");
    }
}

fn write_index(out: &mut String, name: &str, index: &IndexLat) {
    if !index.not_primary.0 {
        out.push_str("PRIMARY KEY");
    } else if !index.not_unique.0 {
        out.push_str("UNIQUE KEY ");
        write_name(out, name);
    } else {
        out.push_str("KEY ");
        write_name(out, name);
    }
    let index_type = index.index_type.0 .0;
    if index_type != mysql::INDEX_TYPE_BTREE {
        out.push_str(" USING ");
        out.push_str(mysql::index_type_name(index_type));
    }
    out.push_str(" (");
    for (i, (column, length)) in index.parts().iter().enumerate() {
        if i != 0 {
            out.push_str(", ");
        }
        write_name(out, column);
        if *length != mysql::UNSPECIFIED_LENGTH {
            out.push_str(&format!("({length})"));
        }
    }
    out.push(')');
}

/// TiDB's `types.TypeToStr`: the type keyword, with the binary spelling for
/// binary-charset strings (`BLOB`, `VARBINARY`).
fn type_keyword(tp: u8, charset: &str) -> String {
    let name = match tp {
        mysql::TYPE_BIT => "bit",
        mysql::TYPE_BLOB => "text",
        mysql::TYPE_DATE => "date",
        mysql::TYPE_DATETIME => "datetime",
        mysql::TYPE_UNSPECIFIED => "unspecified",
        mysql::TYPE_NEW_DECIMAL => "decimal",
        mysql::TYPE_DOUBLE => "double",
        mysql::TYPE_ENUM => "enum",
        mysql::TYPE_FLOAT => "float",
        mysql::TYPE_GEOMETRY => "geometry",
        mysql::TYPE_INT24 => "mediumint",
        mysql::TYPE_JSON => "json",
        mysql::TYPE_LONG => "int",
        mysql::TYPE_LONGLONG => "bigint",
        mysql::TYPE_LONG_BLOB => "longtext",
        mysql::TYPE_MEDIUM_BLOB => "mediumtext",
        mysql::TYPE_NULL => "null",
        mysql::TYPE_SET => "set",
        mysql::TYPE_SHORT => "smallint",
        mysql::TYPE_STRING => "char",
        mysql::TYPE_DURATION => "time",
        mysql::TYPE_TIMESTAMP => "timestamp",
        mysql::TYPE_TINY => "tinyint",
        mysql::TYPE_TINY_BLOB => "tinytext",
        mysql::TYPE_VARCHAR => "varchar",
        mysql::TYPE_VAR_STRING => "var_string",
        mysql::TYPE_YEAR => "year",
        mysql::TYPE_TIDB_VECTOR_FLOAT32 => "vector",
        _ => "",
    };
    let name = if charset != mysql::CHARSET_BINARY {
        name.to_owned()
    } else if mysql::is_blob_type(tp) {
        name.replacen("text", "blob", 1)
    } else if mysql::is_char_type(tp) {
        name.replacen("char", "binary", 1)
    } else {
        name.to_owned()
    };
    name.to_uppercase()
}

/// TiDB's `FieldType.Restore`.
fn write_field_type(out: &mut String, ft: &FieldType) {
    let tp = ft.tp;
    out.push_str(&type_keyword(tp, &ft.charset));
    let (precision, scale) = match tp {
        mysql::TYPE_ENUM | mysql::TYPE_SET => {
            out.push('(');
            for (i, member) in ft.elems.iter().enumerate() {
                if i != 0 {
                    out.push(',');
                }
                write_string(out, member);
            }
            out.push(')');
            (mysql::UNSPECIFIED_LENGTH, mysql::UNSPECIFIED_LENGTH)
        }
        mysql::TYPE_TIMESTAMP | mysql::TYPE_DATETIME | mysql::TYPE_DURATION => {
            (ft.decimal, mysql::UNSPECIFIED_LENGTH)
        }
        mysql::TYPE_UNSPECIFIED
        | mysql::TYPE_FLOAT
        | mysql::TYPE_DOUBLE
        | mysql::TYPE_NEW_DECIMAL => (ft.flen, ft.decimal),
        _ => (ft.flen, mysql::UNSPECIFIED_LENGTH),
    };
    if precision != mysql::UNSPECIFIED_LENGTH {
        out.push_str(&format!("({precision}"));
        if scale != mysql::UNSPECIFIED_LENGTH {
            out.push_str(&format!(",{scale}"));
        }
        out.push(')');
    }
    if ft.flag & mysql::UNSIGNED_FLAG != 0 {
        out.push_str(" UNSIGNED");
    }
    if ft.flag & mysql::ZEROFILL_FLAG != 0 {
        out.push_str(" ZEROFILL");
    }
    if ft.flag & mysql::BINARY_FLAG != 0 && ft.charset != mysql::CHARSET_BINARY {
        out.push_str(" BINARY");
    }
    if mysql::is_char_type(tp) || mysql::is_blob_type(tp) {
        if !ft.charset.is_empty() && ft.charset != mysql::CHARSET_BINARY {
            out.push_str(" CHARACTER SET ");
            out.push_str(&ft.charset.to_uppercase());
        }
        if !ft.collate.is_empty() && ft.collate != mysql::COLLATION_BINARY {
            out.push_str(" COLLATE ");
            out.push_str(&ft.collate);
        }
    }
}

#[cfg(test)]
mod tests;
