//! Column definitions (`sqlparser` AST) to TiDB `ColumnInfo`s, with the
//! rules of TiDB's DDL builder (`pkg/ddl`: `columnDefToCol`,
//! `setCharsetCollationFlenDecimal`, `processColumnFlags`,
//! `processDefaultValue`) and the parser's type defaults.
//!
//! PURE: no async, no I/O.
//!
//! Where we differ from TiDB (all noted where they happen): defaults are
//! normalised for the common literal forms only (numbers, strings, booleans,
//! hex / bit literals, `CURRENT_TIMESTAMP` and its synonyms); any other
//! default expression is kept as written with `default_is_expr`; date and
//! time literals are not re-formatted; generated-column expressions are
//! rendered with a small printer close to TiDB's restore format; spatial
//! types are rejected (TiDB rejects them too).

use dm_master::tableinfo::mysql;
use dm_master::tableinfo::{ColumnInfo, FieldType};
use serde_json::Value;
use sqlparser::ast::{
    BinaryOperator, CharacterLength, ColumnOption, DataType, EnumMember, ExactNumberInfo, Expr,
    FunctionArg, FunctionArgExpr, FunctionArguments, GeneratedExpressionMode, Ident, ObjectName,
    UnaryOperator, Value as SqlValue,
};
use sqlparser::tokenizer::Token;

mod charset;
mod default;
mod types;

pub(crate) use charset::*;
pub(crate) use default::*;
use types::*;

use super::dialect::{BINARY, ZEROFILL};
use super::lex::unescape_string;

/// The name an identifier stands for. Identifiers come from a parse without
/// unescaping, so a backquoted name still has its doubled backquotes.
pub(crate) fn ident_name(ident: &Ident) -> String {
    if ident.quote_style == Some('`') {
        ident.value.replace("``", "`")
    } else {
        ident.value.clone()
    }
}

/// The last part of an object name (charset and collation names).
pub(crate) fn object_name_last(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|part| part.as_ident())
        .map(ident_name)
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Columns.

/// A column built from its definition, and the keys it declares inline.
#[derive(Debug)]
pub(crate) struct BuiltColumn {
    pub column: ColumnInfo,
    /// `PRIMARY KEY` (or `KEY`) in the column definition.
    pub primary_key: bool,
    /// `UNIQUE [KEY]` in the column definition (or `SERIAL`).
    pub unique_key: bool,
}

/// Builds a column the way TiDB's `columnDefToCol` does. `table_charset` /
/// `table_collate` are the table defaults; `start_not_null` is set when a
/// MODIFY / CHANGE keeps a primary-key column (TiDB makes it NOT NULL before
/// reading the new options).
pub(crate) fn build_column(
    name: &str,
    data_type: &DataType,
    options: &[&ColumnOption],
    table_charset: &str,
    table_collate: &str,
    start_not_null: bool,
) -> Result<BuiltColumn, String> {
    let base = base_type(data_type).map_err(|e| format!("column `{name}`: {e}"))?;

    // Attributes that shape the type: charset, collation, BINARY, ZEROFILL.
    let mut explicit_charset = base.charset.map(str::to_owned);
    let mut explicit_collate = None;
    let mut binary_attr = false;
    let mut zerofill = false;
    for option in options {
        match option {
            ColumnOption::CharacterSet(cs) => {
                explicit_charset = Some(normalize_charset(&object_name_last(cs)));
            }
            ColumnOption::Collation(co) => {
                explicit_collate = Some(normalize_collation(&object_name_last(co)));
            }
            ColumnOption::DialectSpecific(tokens) => match dialect_word(tokens).as_deref() {
                Some(BINARY) => binary_attr = true,
                Some(ZEROFILL) => zerofill = true,
                _ => {}
            },
            _ => {}
        }
    }

    let mut ft = FieldType::new(base.tp);
    ft.flen = base.flen;
    ft.decimal = base.decimal;
    ft.flag = base.flag;
    ft.elems = base.elems;
    if zerofill {
        ft.flag |= mysql::ZEROFILL_FLAG;
    }

    // Charset and collation (TiDB: getCharsetAndCollateInColumnDef,
    // ResolveCharsetCollation, OverwriteCollationWithBinaryFlag).
    if needs_charset(ft.tp) {
        let column_level =
            resolve_charset(explicit_charset.as_deref(), explicit_collate.as_deref());
        let both_given = explicit_charset.is_some() && explicit_collate.is_some();
        let (cs, mut co) =
            column_level.unwrap_or_else(|| (table_charset.to_owned(), table_collate.to_owned()));
        if binary_attr && !both_given {
            co = default_collation(&cs);
        }
        ft.charset = cs;
        ft.collate = co;
    } else {
        ft.charset = mysql::CHARSET_BINARY.to_owned();
        ft.collate = mysql::COLLATION_BINARY.to_owned();
    }

    // Default length and scale (setCharsetCollationFlenDecimal).
    let (default_flen, default_decimal) = default_flen_decimal(ft.tp);
    if ft.decimal == mysql::UNSPECIFIED_LENGTH {
        ft.decimal = default_decimal;
    }
    if ft.flen == mysql::UNSPECIFIED_LENGTH {
        ft.flen = default_flen;
        if ft.flag & mysql::UNSIGNED_FLAG != 0
            && ft.tp != mysql::TYPE_LONGLONG
            && mysql::is_integer_type(ft.tp)
        {
            ft.flen -= 1;
        }
    } else if ft.tp == mysql::TYPE_BLOB {
        // TEXT(n) / BLOB(n) pick the smallest blob type that holds n
        // characters (adjustBlobTypesFlen).
        let bytes = ft.flen.saturating_mul(charset_max_len(&ft.charset));
        let (tp, flen) = if bytes <= 255 {
            (mysql::TYPE_TINY_BLOB, 255)
        } else if bytes <= 65_535 {
            (mysql::TYPE_BLOB, 65_535)
        } else if bytes <= 16_777_215 {
            (mysql::TYPE_MEDIUM_BLOB, 16_777_215)
        } else {
            (mysql::TYPE_LONG_BLOB, 4_294_967_295)
        };
        ft.tp = tp;
        ft.flen = flen;
    }

    process_column_flags(&mut ft);

    let mut column = ColumnInfo::new(name, ft);
    if start_not_null {
        column.field_type.flag |= mysql::NOT_NULL_FLAG;
    }
    let mut built = BuiltColumn {
        column,
        primary_key: false,
        unique_key: false,
    };
    if base.serial {
        built.column.field_type.flag |= mysql::NOT_NULL_FLAG | mysql::AUTO_INCREMENT_FLAG;
        built.unique_key = true;
    }

    let mut has_default = false;
    for option in options {
        let flag = &mut built.column.field_type.flag;
        match option {
            ColumnOption::NotNull => *flag |= mysql::NOT_NULL_FLAG,
            ColumnOption::Null => *flag &= !mysql::NOT_NULL_FLAG,
            ColumnOption::DialectSpecific(tokens)
                if dialect_word(tokens).as_deref() == Some("AUTO_INCREMENT") =>
            {
                *flag |= mysql::AUTO_INCREMENT_FLAG | mysql::NOT_NULL_FLAG;
            }
            ColumnOption::PrimaryKey(_) => {
                *flag |= mysql::PRI_KEY_FLAG | mysql::NOT_NULL_FLAG;
                built.primary_key = true;
            }
            ColumnOption::Unique(_) => {
                *flag |= mysql::UNIQUE_KEY_FLAG;
                built.unique_key = true;
            }
            ColumnOption::Default(expr) => {
                has_default = true;
                set_default(&mut built.column, expr)
                    .map_err(|e| format!("column `{name}`: {e}"))?;
            }
            ColumnOption::OnUpdate(_) => *flag |= mysql::ON_UPDATE_NOW_FLAG,
            ColumnOption::Comment(raw) => built.column.comment = unescape_string(raw),
            ColumnOption::Generated {
                generation_expr: Some(expr),
                generation_expr_mode,
                ..
            } => {
                built.column.generated_expr_string = render_expr(expr);
                built.column.generated_stored =
                    matches!(generation_expr_mode, Some(GeneratedExpressionMode::Stored));
            }
            ColumnOption::Generated {
                generation_expr: None,
                ..
            } => return Err(format!("column `{name}`: identity columns are not MySQL")),
            // Charset, collation, BINARY and ZEROFILL were read above;
            // CHECK, REFERENCES, INVISIBLE, SRID and the rest do not change
            // the TableInfo (TiDB ignores them here too).
            _ => {}
        }
    }

    process_default_value(&mut built.column, has_default);
    Ok(built)
}

/// The first word of a `ColumnOption::DialectSpecific`.
fn dialect_word(tokens: &[Token]) -> Option<String> {
    match tokens.first() {
        Some(Token::Word(w)) => Some(w.value.to_ascii_uppercase()),
        _ => None,
    }
}

/// TiDB's `processColumnFlags`: flags a column takes from its type.
fn process_column_flags(ft: &mut FieldType) {
    if is_string_kind(ft.tp) {
        if ft.charset == mysql::CHARSET_BINARY {
            ft.flag |= mysql::BINARY_FLAG;
        } else {
            ft.flag &= !mysql::BINARY_FLAG;
        }
    }
    if ft.tp == mysql::TYPE_BIT {
        ft.flag &= !mysql::BINARY_FLAG;
        ft.flag |= mysql::UNSIGNED_FLAG;
    }
    if ft.tp == mysql::TYPE_YEAR {
        ft.flag &= !mysql::BINARY_FLAG;
        ft.flag |= mysql::ZEROFILL_FLAG;
    }
    if ft.flag & mysql::ZEROFILL_FLAG != 0 {
        ft.flag |= mysql::UNSIGNED_FLAG;
    }
}

/// TiDB's `processDefaultValue`: a NOT NULL YEAR without default gets
/// `0000`; a NOT NULL column without default (not AUTO_INCREMENT) gets
/// `NO_DEFAULT_VALUE`. (TiDB's TIMESTAMP special case needs
/// `explicit_defaults_for_timestamp = OFF`, which TiDB never has.)
fn process_default_value(column: &mut ColumnInfo, has_default: bool) {
    if has_default {
        return;
    }
    let flag = column.field_type.flag;
    if flag & mysql::NOT_NULL_FLAG == 0 {
        return;
    }
    if column.field_type.tp == mysql::TYPE_YEAR {
        column.default = Value::String("0000".to_owned());
    }
    if flag & mysql::AUTO_INCREMENT_FLAG == 0 {
        column.field_type.flag |= mysql::NO_DEFAULT_VALUE_FLAG;
    }
}

// ---------------------------------------------------------------------------
// Expressions.

/// An expression in the style of TiDB's restore format for generated columns
/// and expression defaults: backquoted column names, lower-case function
/// names and word operators, spaces around binary operators. Forms the
/// printer does not know are printed by `sqlparser`.
pub(crate) fn render_expr(expr: &Expr) -> String {
    match expr {
        Expr::Identifier(ident) => quoted(&ident_name(ident)),
        Expr::CompoundIdentifier(parts) => parts
            .last()
            .map(|p| quoted(&ident_name(p)))
            .unwrap_or_default(),
        Expr::Nested(inner) => format!("({})", render_expr(inner)),
        Expr::BinaryOp { left, op, right } => format!(
            "{} {} {}",
            render_expr(left),
            operator(op),
            render_expr(right)
        ),
        Expr::UnaryOp { op, expr: inner } => match op {
            UnaryOperator::Not => format!("not {}", render_expr(inner)),
            other => format!("{other}{}", render_expr(inner)),
        },
        Expr::Function(f) => {
            let args: Vec<String> = function_args(&f.args)
                .into_iter()
                .map(render_expr)
                .collect();
            match &f.args {
                FunctionArguments::None => object_name_last(&f.name).to_lowercase(),
                _ => format!(
                    "{}({})",
                    object_name_last(&f.name).to_lowercase(),
                    args.join(", ")
                ),
            }
        }
        other => other.to_string(),
    }
}

fn operator(op: &BinaryOperator) -> String {
    let text = op.to_string();
    if text.chars().all(|c| c.is_ascii_alphabetic() || c == ' ') {
        text.to_lowercase()
    } else {
        text
    }
}

/// A backquoted identifier.
pub(crate) fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}
