//! Edits of one `TableInfo`, with TiDB's rules: column IDs and positions,
//! origin defaults, index naming, key parts and the column key flags.
//!
//! PURE: no async, no I/O.
//!
//! Invariants after every edit: column offsets equal their positions; every
//! index part's offset points at its column; the key flags (`PRI_KEY`,
//! `UNIQUE_KEY`, `MULTIPLE_KEY`) are exactly those TiDB's
//! `AddIndexColumnFlag` gives for the current indexes. (TiDB updates the
//! flags incrementally and can leave stale ones behind after DROP COLUMN;
//! recomputing them keeps two shards that reached the same schema by
//! different paths equal for schemacmp.)

use dm_master::tableinfo::mysql;
use dm_master::tableinfo::{CIStr, ColumnInfo, IndexColumn, IndexInfo, TableInfo};
use serde_json::Value;
use sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, IndexColumn as AstIndexColumn,
    IndexOption, IndexType, MySQLColumnPosition, TableConstraint, Value as SqlValue,
};

use super::column::{ident_name, object_name_last};
use super::lex::unescape_string;

/// The position of column `name` (case-insensitive).
pub(crate) fn column_position(ti: &TableInfo, name: &str) -> Option<usize> {
    let lower = name.to_lowercase();
    ti.columns.iter().position(|c| c.name.l == lower)
}

/// Restores the offset invariants.
pub(crate) fn fix_offsets(ti: &mut TableInfo) {
    for (i, column) in ti.columns.iter_mut().enumerate() {
        column.offset = i64::try_from(i).unwrap_or(i64::MAX);
    }
    let positions: Vec<String> = ti.columns.iter().map(|c| c.name.l.clone()).collect();
    for index in &mut ti.indices {
        for part in &mut index.columns {
            if let Some(p) = positions.iter().position(|n| *n == part.name.l) {
                part.offset = i64::try_from(p).unwrap_or(i64::MAX);
            }
        }
    }
}

/// Recomputes the key flags from the indexes (TiDB's `AddIndexColumnFlag`
/// applied to every index).
pub(crate) fn recompute_key_flags(ti: &mut TableInfo) {
    let key_flags = mysql::PRI_KEY_FLAG | mysql::UNIQUE_KEY_FLAG | mysql::MULTIPLE_KEY_FLAG;
    for column in &mut ti.columns {
        column.field_type.flag &= !key_flags;
    }
    let mut marks: Vec<(String, u64)> = Vec::new();
    for index in &ti.indices {
        let Some(first) = index.columns.first() else {
            continue;
        };
        if index.is_primary {
            marks.extend(
                index
                    .columns
                    .iter()
                    .map(|c| (c.name.l.clone(), mysql::PRI_KEY_FLAG)),
            );
        } else if index.is_unique && index.columns.len() == 1 {
            marks.push((first.name.l.clone(), mysql::UNIQUE_KEY_FLAG));
        } else {
            marks.push((first.name.l.clone(), mysql::MULTIPLE_KEY_FLAG));
        }
    }
    for (name, flag) in marks {
        if let Some(column) = ti.columns.iter_mut().find(|c| c.name.l == name) {
            column.field_type.flag |= flag;
        }
    }
}

/// Where a column goes: TiDB's `LocateOffsetToMove` for a column currently
/// at `current`.
fn target_offset(
    ti: &TableInfo,
    current: usize,
    position: Option<&MySQLColumnPosition>,
) -> Result<usize, String> {
    match position {
        None => Ok(current),
        Some(MySQLColumnPosition::First) => Ok(0),
        Some(MySQLColumnPosition::After(ident)) => {
            let name = ident_name(ident);
            let after = column_position(ti, &name)
                .ok_or_else(|| format!("unknown column `{name}` in AFTER"))?;
            Ok(if current <= after { after } else { after + 1 })
        }
    }
}

fn move_column(ti: &mut TableInfo, from: usize, to: usize) {
    if from != to && from < ti.columns.len() && to < ti.columns.len() {
        let column = ti.columns.remove(from);
        ti.columns.insert(to, column);
    }
    fix_offsets(ti);
}

/// Appends a column with the next column ID and moves it to `position`
/// (TiDB's `InitAndAddColumnToTable` + `MoveColumnInfo`).
pub(crate) fn add_column(
    ti: &mut TableInfo,
    mut column: ColumnInfo,
    position: Option<&MySQLColumnPosition>,
) -> Result<(), String> {
    // Check AFTER before changing anything.
    if let Some(MySQLColumnPosition::After(ident)) = position {
        let name = ident_name(ident);
        if column_position(ti, &name).is_none() {
            return Err(format!("unknown column `{name}` in AFTER"));
        }
    }
    ti.max_col_id += 1;
    column.id = ti.max_col_id;
    column.state = mysql::STATE_PUBLIC;
    let current = ti.columns.len();
    ti.columns.push(column);
    let to = target_offset(ti, current, position)?;
    move_column(ti, current, to);
    Ok(())
}

/// The value TiDB backfills existing rows with when a column is added
/// (`generateOriginDefaultValue`): the default, or the type's zero value for
/// a NOT NULL column without one. Where TiDB evaluates `CURRENT_TIMESTAMP`
/// to the current time, we keep the text: the value is not compared by
/// schemacmp, and a pure tracker has no clock.
pub(crate) fn origin_default(column: &ColumnInfo) -> Value {
    if !column.default.is_null() {
        return column.default.clone();
    }
    if column.field_type.flag & mysql::NOT_NULL_FLAG == 0 {
        return Value::Null;
    }
    let ft = &column.field_type;
    let zero = match ft.tp {
        mysql::TYPE_ENUM => ft.elems.first().cloned().unwrap_or_default(),
        mysql::TYPE_SET => String::new(),
        mysql::TYPE_DATE => "0000-00-00".to_owned(),
        mysql::TYPE_DATETIME | mysql::TYPE_TIMESTAMP => {
            if ft.decimal > 0 {
                format!(
                    "0000-00-00 00:00:00.{}",
                    "0".repeat(usize::try_from(ft.decimal).unwrap_or(0))
                )
            } else {
                "0000-00-00 00:00:00".to_owned()
            }
        }
        mysql::TYPE_DURATION => "00:00:00".to_owned(),
        mysql::TYPE_JSON => "null".to_owned(),
        tp if mysql::is_integer_type(tp)
            || matches!(
                tp,
                mysql::TYPE_FLOAT | mysql::TYPE_DOUBLE | mysql::TYPE_NEW_DECIMAL | mysql::TYPE_YEAR
            ) =>
        {
            "0".to_owned()
        }
        _ => String::new(),
    };
    Value::String(zero)
}

/// Drops a column: it leaves every index, and indexes left without columns
/// go (TiDB's tracker `dropColumn`). Returns whether the column existed.
pub(crate) fn drop_column(ti: &mut TableInfo, name: &str) -> Result<bool, String> {
    let Some(position) = column_position(ti, name) else {
        return Ok(false);
    };
    if ti.columns.len() == 1 {
        return Err(format!(
            "can't drop only column `{name}` in table `{}`",
            ti.name.o
        ));
    }
    let lower = name.to_lowercase();
    ti.columns.remove(position);
    for index in &mut ti.indices {
        index.columns.retain(|c| c.name.l != lower);
    }
    ti.indices.retain(|i| !i.columns.is_empty());
    fix_offsets(ti);
    recompute_key_flags(ti);
    Ok(true)
}

/// Renames a column and the index parts that name it.
pub(crate) fn rename_column_everywhere(ti: &mut TableInfo, old: &str, new: &str) {
    let old_lower = old.to_lowercase();
    if let Some(column) = ti.columns.iter_mut().find(|c| c.name.l == old_lower) {
        column.name = CIStr::new(new);
    }
    for index in &mut ti.indices {
        for part in &mut index.columns {
            if part.name.l == old_lower {
                part.name = CIStr::new(new);
            }
        }
    }
}

/// Replaces column `old` by `column` in place (new column ID, same offset),
/// renames its index parts, then moves it to `position` (TiDB's tracker
/// `handleModifyColumn`).
pub(crate) fn replace_column(
    ti: &mut TableInfo,
    old: &str,
    mut column: ColumnInfo,
    position: Option<&MySQLColumnPosition>,
) -> Result<(), String> {
    let at = column_position(ti, old).ok_or_else(|| format!("unknown column `{old}`"))?;
    let new_name = column.name.o.clone();
    if !new_name.eq_ignore_ascii_case(old) && column_position(ti, &new_name).is_some() {
        return Err(format!("duplicate column name `{new_name}`"));
    }
    if let Some(MySQLColumnPosition::After(ident)) = position {
        let after = ident_name(ident);
        if after.eq_ignore_ascii_case(old) || column_position(ti, &after).is_none() {
            return Err(format!("unknown column `{after}` in AFTER"));
        }
    }
    let previous = &ti.columns[at];
    column.origin_default = previous.origin_default.clone();
    column.state = mysql::STATE_PUBLIC;
    ti.max_col_id += 1;
    column.id = ti.max_col_id;
    let old_lower = old.to_lowercase();
    let new_index_name = CIStr::new(&new_name);
    // Prefix lengths only make sense on string columns.
    let prefixable =
        mysql::is_char_type(column.field_type.tp) || mysql::is_blob_type(column.field_type.tp);
    for index in &mut ti.indices {
        for part in &mut index.columns {
            if part.name.l == old_lower {
                part.name = new_index_name.clone();
                if !prefixable {
                    part.length = mysql::UNSPECIFIED_LENGTH;
                }
            }
        }
    }
    ti.columns[at] = column;
    let to = target_offset(ti, at, position)?;
    move_column(ti, at, to);
    recompute_key_flags(ti);
    Ok(())
}

// ---------------------------------------------------------------------------
// Indexes.

/// An index as declared, before it is checked against the table.
#[derive(Debug, Clone)]
pub(crate) struct IndexSpec {
    /// Declared name (`None`: anonymous).
    pub name: Option<String>,
    pub primary: bool,
    pub unique: bool,
    /// Key parts: column name and prefix length (-1 for the whole column).
    pub parts: Vec<(String, i64)>,
    pub index_type: i64,
    pub comment: String,
}

impl IndexSpec {
    /// The anonymous BTREE key a column definition's `PRIMARY KEY`
    /// (`primary`) or `UNIQUE` declares on that whole column.
    pub(crate) fn column_key(column: &str, primary: bool) -> Self {
        Self {
            name: None,
            primary,
            unique: true,
            parts: vec![(column.to_owned(), mysql::UNSPECIFIED_LENGTH)],
            index_type: mysql::INDEX_TYPE_BTREE,
            comment: String::new(),
        }
    }
}

fn index_type_code(t: &IndexType) -> i64 {
    match t {
        IndexType::BTree => mysql::INDEX_TYPE_BTREE,
        IndexType::Hash => mysql::INDEX_TYPE_HASH,
        IndexType::Custom(ident) if ident.value.eq_ignore_ascii_case("RTREE") => {
            mysql::INDEX_TYPE_RTREE
        }
        _ => mysql::INDEX_TYPE_BTREE,
    }
}

fn options_type_comment(options: &[IndexOption], using: Option<&IndexType>) -> (i64, String) {
    let mut index_type = using.map_or(mysql::INDEX_TYPE_BTREE, index_type_code);
    let mut comment = String::new();
    for option in options {
        match option {
            IndexOption::Using(t) => index_type = index_type_code(t),
            IndexOption::Comment(raw) => comment = unescape_string(raw),
        }
    }
    (index_type, comment)
}

/// Key parts: `col` or `col(length)`. Expression parts (functional
/// indexes) are rejected: TiDB models them with hidden columns, which this
/// tracker does not build.
pub(crate) fn key_parts(columns: &[AstIndexColumn]) -> Result<Vec<(String, i64)>, String> {
    columns
        .iter()
        .map(|c| match &c.column.expr {
            Expr::Identifier(ident) => Ok((ident_name(ident), mysql::UNSPECIFIED_LENGTH)),
            Expr::Function(f) => {
                let length = match &f.args {
                    FunctionArguments::List(list) => match list.args.as_slice() {
                        [FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(v)))] => {
                            match &v.value {
                                SqlValue::Number(n, _) => n.parse::<i64>().ok(),
                                _ => None,
                            }
                        }
                        _ => None,
                    },
                    _ => None,
                };
                match (length, f.name.0.len()) {
                    (Some(length), 1) => Ok((object_name_last(&f.name), length)),
                    _ => Err(format!(
                        "expression index part `{}` is not supported",
                        c.column.expr
                    )),
                }
            }
            other => Err(format!("expression index part `{other}` is not supported")),
        })
        .collect()
}

/// The index a table constraint declares; `None` for constraints that make
/// no index in TiDB (FOREIGN KEY, CHECK, FULLTEXT, SPATIAL).
pub(crate) fn index_spec(constraint: &TableConstraint) -> Result<Option<IndexSpec>, String> {
    use TableConstraint as C;
    // `(primary, unique)` of each kind of key definition.
    const PRIMARY: (bool, bool) = (true, true);
    const UNIQUE: (bool, bool) = (false, true);
    const PLAIN: (bool, bool) = (false, false);
    let (name, (primary, unique), columns, options, using) = match constraint {
        C::PrimaryKey(k) => (None, PRIMARY, &k.columns, &k.index_options, &k.index_type),
        C::Unique(k) => {
            let name = k.index_name.as_ref().or(k.name.as_ref()).map(ident_name);
            (name, UNIQUE, &k.columns, &k.index_options, &k.index_type)
        }
        C::Index(k) => {
            let name = k.name.as_ref().map(ident_name);
            (name, PLAIN, &k.columns, &k.index_options, &k.index_type)
        }
        C::ForeignKey(_) | C::Check(_) | C::FulltextOrSpatial(_) => return Ok(None),
        C::PrimaryKeyUsingIndex(_) | C::UniqueUsingIndex(_) | C::Exclude(_) => {
            return Err(format!("constraint `{constraint}` is not MySQL"))
        }
    };
    let (index_type, comment) = options_type_comment(options, using.as_ref());
    Ok(Some(IndexSpec {
        name,
        primary,
        unique,
        parts: key_parts(columns)?,
        index_type,
        comment,
    }))
}

/// The name of a table constraint as TiDB's `setEmptyConstraintName` sees
/// it (FULLTEXT keys take part in naming although they make no index).
pub(crate) fn constraint_name(constraint: &TableConstraint) -> Option<String> {
    match constraint {
        TableConstraint::PrimaryKey(pk) => pk.name.as_ref().map(ident_name),
        TableConstraint::Unique(u) => u.index_name.as_ref().or(u.name.as_ref()).map(ident_name),
        TableConstraint::Index(i) => i.name.as_ref().map(ident_name),
        TableConstraint::FulltextOrSpatial(f) => f.opt_index_name.as_ref().map(ident_name),
        _ => None,
    }
}

/// TiDB's name for an anonymous index over `first_column`: the column name,
/// then `_2`, `_3`, ... until `taken` says no (`primary` is never used).
pub(crate) fn anonymous_index_name(first_column: &str, taken: impl Fn(&str) -> bool) -> String {
    let mut name = first_column.to_owned();
    let mut id = 2;
    if name.eq_ignore_ascii_case(mysql::PRIMARY_KEY_NAME) {
        name = format!("{first_column}_{id}");
        id += 1;
    }
    while taken(&name.to_lowercase()) {
        name = format!("{first_column}_{id}");
        id += 1;
    }
    name
}

/// How adding a primary key treats its columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrimaryNotNull {
    /// CREATE TABLE: NOT NULL, and `NO_DEFAULT_VALUE` when there is no
    /// default (TiDB's `setColumnFlagWithConstraint`).
    WithNoDefault,
    /// ALTER TABLE ADD PRIMARY KEY: NOT NULL only (`UpdateColsNull2NotNull`).
    Plain,
}

/// Checks `spec` against the table and appends the index with the next
/// index ID; `name` is the final name (TiDB's `BuildIndexInfo`).
pub(crate) fn push_index(
    ti: &mut TableInfo,
    spec: &IndexSpec,
    name: &str,
    not_null: PrimaryNotNull,
) -> Result<(), String> {
    let mut parts = Vec::with_capacity(spec.parts.len());
    for (column_name, length) in &spec.parts {
        let position = column_position(ti, column_name)
            .ok_or_else(|| format!("key column `{column_name}` doesn't exist in table"))?;
        let column = &ti.columns[position];
        // A prefix as long as a CHAR / VARCHAR column is the whole column.
        let length = if *length != mysql::UNSPECIFIED_LENGTH
            && mysql::is_char_type(column.field_type.tp)
            && *length == column.field_type.flen
        {
            mysql::UNSPECIFIED_LENGTH
        } else {
            *length
        };
        let mut part = if length == mysql::UNSPECIFIED_LENGTH {
            IndexColumn::new(&column.name.o)
        } else {
            IndexColumn::prefix(&column.name.o, length)
        };
        part.offset = i64::try_from(position).unwrap_or(i64::MAX);
        parts.push(part);
    }
    let mut index = IndexInfo::with_parts(name, parts).using(spec.index_type);
    index.is_unique = spec.unique || spec.primary;
    index.is_primary = spec.primary;
    index.comment = spec.comment.clone();
    ti.max_idx_id += 1;
    index.id = ti.max_idx_id;
    if spec.primary {
        for (column_name, _) in &spec.parts {
            if let Some(p) = column_position(ti, column_name) {
                let column = &mut ti.columns[p];
                let flag = &mut column.field_type.flag;
                *flag |= mysql::NOT_NULL_FLAG;
                if not_null == PrimaryNotNull::WithNoDefault
                    && column.default.is_null()
                    && *flag & mysql::AUTO_INCREMENT_FLAG == 0
                {
                    *flag |= mysql::NO_DEFAULT_VALUE_FLAG;
                }
            }
        }
    }
    ti.indices.push(index);
    recompute_key_flags(ti);
    Ok(())
}

/// Drops the index named `name` (case-insensitive); returns whether it
/// existed.
pub(crate) fn drop_index(ti: &mut TableInfo, name: &str) -> bool {
    let lower = name.to_lowercase();
    let before = ti.indices.len();
    ti.indices.retain(|i| i.name.l != lower);
    let dropped = ti.indices.len() != before;
    if dropped {
        recompute_key_flags(ti);
    }
    dropped
}

/// A fresh table as TiDB's tracker builds it for CREATE TABLE.
pub(crate) fn new_table(name: &str, charset: &str, collate: &str, comment: &str) -> TableInfo {
    let mut ti = TableInfo::new(name).with_charset(charset, collate);
    ti.comment = comment.to_owned();
    ti
}
