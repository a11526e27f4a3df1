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
// Charsets and collations.

/// Lower-cased charset name, with MySQL's `utf8mb3` spelled `utf8` as TiDB
/// does.
pub(crate) fn normalize_charset(charset: &str) -> String {
    let lower = charset.to_lowercase();
    if lower == "utf8mb3" {
        "utf8".to_owned()
    } else {
        lower
    }
}

/// Lower-cased collation name, `utf8mb3_*` spelled `utf8_*`.
pub(crate) fn normalize_collation(collation: &str) -> String {
    let lower = collation.to_lowercase();
    match lower.strip_prefix("utf8mb3_") {
        Some(rest) => format!("utf8_{rest}"),
        None => lower,
    }
}

/// TiDB's default collation of a charset: the binary one (`utf8mb4_bin`,
/// not MySQL 8's `utf8mb4_0900_ai_ci`).
pub(crate) fn default_collation(charset: &str) -> String {
    if charset == mysql::CHARSET_BINARY {
        mysql::COLLATION_BINARY.to_owned()
    } else {
        format!("{charset}_bin")
    }
}

/// The charset a collation belongs to (its name up to the first `_`).
pub(crate) fn charset_of_collation(collation: &str) -> String {
    if collation == mysql::COLLATION_BINARY {
        return mysql::CHARSET_BINARY.to_owned();
    }
    collation
        .split('_')
        .next()
        .map(normalize_charset)
        .unwrap_or_default()
}

/// Charset and collation from an explicit pair as TiDB's
/// `ResolveCharsetCollation` does; `None` when neither is given.
pub(crate) fn resolve_charset(
    charset: Option<&str>,
    collate: Option<&str>,
) -> Option<(String, String)> {
    match (charset, collate) {
        (_, Some(co)) => {
            let co = normalize_collation(co);
            Some((charset_of_collation(&co), co))
        }
        (Some(cs), None) => {
            let cs = normalize_charset(cs);
            let co = default_collation(&cs);
            Some((cs, co))
        }
        (None, None) => None,
    }
}

/// Bytes per character, for sizing `TEXT(n)`.
fn charset_max_len(charset: &str) -> i64 {
    match charset {
        "utf8mb4" => 4,
        "utf8" => 3,
        "gbk" | "gb18030" | "ucs2" => 2,
        _ => 1,
    }
}

/// Types whose values carry a charset (TiDB's `typesNeedCharset`).
fn needs_charset(tp: u8) -> bool {
    matches!(
        tp,
        mysql::TYPE_STRING
            | mysql::TYPE_VARCHAR
            | mysql::TYPE_VAR_STRING
            | mysql::TYPE_BLOB
            | mysql::TYPE_TINY_BLOB
            | mysql::TYPE_MEDIUM_BLOB
            | mysql::TYPE_LONG_BLOB
            | mysql::TYPE_ENUM
            | mysql::TYPE_SET
    )
}

/// Types TiDB evaluates as strings (`EvalType().IsStringKind()`), which get
/// the BINARY flag exactly when their charset is binary.
fn is_string_kind(tp: u8) -> bool {
    needs_charset(tp)
        || matches!(
            tp,
            mysql::TYPE_DATE
                | mysql::TYPE_DATETIME
                | mysql::TYPE_TIMESTAMP
                | mysql::TYPE_DURATION
                | mysql::TYPE_GEOMETRY
        )
}

/// Whether a column type has a (non-binary) charset (TiDB's
/// `field_types.HasCharset`).
pub(crate) fn has_charset(ft: &FieldType) -> bool {
    match ft.tp {
        mysql::TYPE_ENUM | mysql::TYPE_SET => true,
        tp if needs_charset(tp) => ft.flag & mysql::BINARY_FLAG == 0,
        _ => false,
    }
}

/// TiDB's default length and scale per type (`GetDefaultFieldLengthAndDecimal`).
fn default_flen_decimal(tp: u8) -> (i64, i64) {
    match tp {
        mysql::TYPE_TINY => (4, 0),
        mysql::TYPE_SHORT => (6, 0),
        mysql::TYPE_INT24 => (9, 0),
        mysql::TYPE_LONG => (11, 0),
        mysql::TYPE_LONGLONG => (20, 0),
        mysql::TYPE_FLOAT => (12, mysql::UNSPECIFIED_LENGTH),
        mysql::TYPE_DOUBLE => (22, mysql::UNSPECIFIED_LENGTH),
        mysql::TYPE_NEW_DECIMAL => (10, 0),
        mysql::TYPE_DATE | mysql::TYPE_DURATION => (10, 0),
        mysql::TYPE_DATETIME | mysql::TYPE_TIMESTAMP => (19, 0),
        mysql::TYPE_YEAR => (4, 0),
        mysql::TYPE_BIT => (1, 0),
        mysql::TYPE_STRING => (1, 0),
        mysql::TYPE_VARCHAR | mysql::TYPE_VAR_STRING => (5, 0),
        mysql::TYPE_TINY_BLOB => (255, 0),
        mysql::TYPE_BLOB => (65_535, 0),
        mysql::TYPE_MEDIUM_BLOB => (16_777_215, 0),
        mysql::TYPE_LONG_BLOB | mysql::TYPE_JSON => (4_294_967_295, 0),
        _ => (mysql::UNSPECIFIED_LENGTH, 0),
    }
}

// ---------------------------------------------------------------------------
// Types.

/// A column type as written, before charset and default lengths.
#[derive(Debug)]
struct BaseType {
    tp: u8,
    flen: i64,
    decimal: i64,
    flag: u64,
    /// Charset fixed by the type itself (`binary` for BINARY / BLOB, `utf8`
    /// for the national types).
    charset: Option<&'static str>,
    elems: Vec<String>,
    /// `SERIAL`: BIGINT UNSIGNED NOT NULL AUTO_INCREMENT UNIQUE.
    serial: bool,
}

impl BaseType {
    fn new(tp: u8) -> Self {
        BaseType {
            tp,
            flen: mysql::UNSPECIFIED_LENGTH,
            decimal: mysql::UNSPECIFIED_LENGTH,
            flag: 0,
            charset: None,
            elems: Vec::new(),
            serial: false,
        }
    }
    fn len(mut self, n: Option<u64>) -> Self {
        if let Some(n) = n {
            self.flen = i64::try_from(n).unwrap_or(i64::MAX);
        }
        self
    }
    fn unsigned(mut self) -> Self {
        self.flag |= mysql::UNSIGNED_FLAG;
        self
    }
    fn binary(mut self) -> Self {
        self.flag |= mysql::BINARY_FLAG;
        self.charset = Some(mysql::CHARSET_BINARY);
        self
    }
    fn exact(mut self, info: &ExactNumberInfo) -> Self {
        match info {
            ExactNumberInfo::None => {}
            ExactNumberInfo::Precision(p) => {
                self.flen = i64::try_from(*p).unwrap_or(i64::MAX);
            }
            ExactNumberInfo::PrecisionAndScale(p, s) => {
                self.flen = i64::try_from(*p).unwrap_or(i64::MAX);
                self.decimal = *s;
            }
        }
        self
    }
    /// FLOAT(p): single precision up to 24 digits, double up to 53, with
    /// default lengths; FLOAT(p, s) keeps both numbers.
    fn float(info: &ExactNumberInfo) -> Result<Self, String> {
        match info {
            ExactNumberInfo::Precision(p) if *p > 53 => {
                Err(format!("FLOAT({p}) has more than 53 digits of precision"))
            }
            ExactNumberInfo::Precision(p) if *p > 24 => Ok(BaseType::new(mysql::TYPE_DOUBLE)),
            ExactNumberInfo::Precision(_) => Ok(BaseType::new(mysql::TYPE_FLOAT)),
            other => Ok(BaseType::new(mysql::TYPE_FLOAT).exact(other)),
        }
    }
    fn time(tp: u8, base: i64, fsp: Option<u64>) -> Self {
        let mut t = BaseType::new(tp);
        t.flen = base;
        if let Some(fsp) = fsp {
            let fsp = i64::try_from(fsp).unwrap_or(0);
            t.decimal = fsp;
            if fsp > 0 {
                t.flen = base + 1 + fsp;
            }
        }
        t
    }
}

fn char_len(len: &Option<CharacterLength>) -> Result<Option<u64>, String> {
    match len {
        None => Ok(None),
        Some(CharacterLength::IntegerLength { length, .. }) => Ok(Some(*length)),
        Some(CharacterLength::Max) => Err("length MAX is not MySQL".to_owned()),
    }
}

fn custom_args(args: &[String]) -> Result<Vec<i64>, String> {
    args.iter()
        .map(|a| {
            a.trim()
                .parse::<i64>()
                .map_err(|_| format!("`{a}` is not a number"))
        })
        .collect()
}

fn base_type(data_type: &DataType) -> Result<BaseType, String> {
    use mysql::*;
    let t = match data_type {
        DataType::TinyInt(n) => BaseType::new(TYPE_TINY).len(*n),
        DataType::TinyIntUnsigned(n) => BaseType::new(TYPE_TINY).len(*n).unsigned(),
        DataType::SmallInt(n) | DataType::Int2(n) => BaseType::new(TYPE_SHORT).len(*n),
        DataType::SmallIntUnsigned(n) | DataType::Int2Unsigned(n) => {
            BaseType::new(TYPE_SHORT).len(*n).unsigned()
        }
        DataType::MediumInt(n) => BaseType::new(TYPE_INT24).len(*n),
        DataType::MediumIntUnsigned(n) => BaseType::new(TYPE_INT24).len(*n).unsigned(),
        DataType::Int(n) | DataType::Integer(n) | DataType::Int4(n) => {
            BaseType::new(TYPE_LONG).len(*n)
        }
        DataType::IntUnsigned(n) | DataType::IntegerUnsigned(n) | DataType::Int4Unsigned(n) => {
            BaseType::new(TYPE_LONG).len(*n).unsigned()
        }
        DataType::BigInt(n) | DataType::Int8(n) => BaseType::new(TYPE_LONGLONG).len(*n),
        DataType::BigIntUnsigned(n) | DataType::Int8Unsigned(n) => {
            BaseType::new(TYPE_LONGLONG).len(*n).unsigned()
        }
        // BOOL is TINYINT(1).
        DataType::Bool | DataType::Boolean => BaseType::new(TYPE_TINY).len(Some(1)),
        DataType::Decimal(info) | DataType::Numeric(info) | DataType::Dec(info) => {
            BaseType::new(TYPE_NEW_DECIMAL).exact(info)
        }
        DataType::DecimalUnsigned(info) | DataType::DecUnsigned(info) => {
            BaseType::new(TYPE_NEW_DECIMAL).exact(info).unsigned()
        }
        DataType::Float(info) => BaseType::float(info)?,
        DataType::FloatUnsigned(info) => BaseType::float(info)?.unsigned(),
        DataType::Float4 | DataType::Float32 => BaseType::new(TYPE_FLOAT),
        DataType::Double(info) => BaseType::new(TYPE_DOUBLE).exact(info),
        DataType::DoubleUnsigned(info) => BaseType::new(TYPE_DOUBLE).exact(info).unsigned(),
        // REAL is DOUBLE unless the REAL_AS_FLOAT SQL mode is on.
        DataType::DoublePrecision | DataType::Real | DataType::Float8 | DataType::Float64 => {
            BaseType::new(TYPE_DOUBLE)
        }
        DataType::DoublePrecisionUnsigned | DataType::RealUnsigned => {
            BaseType::new(TYPE_DOUBLE).unsigned()
        }
        DataType::Bit(n) => BaseType::new(TYPE_BIT).len(*n),
        DataType::Date => BaseType::new(TYPE_DATE),
        DataType::Datetime(fsp) => BaseType::time(TYPE_DATETIME, 19, *fsp),
        DataType::Timestamp(fsp, _) => BaseType::time(TYPE_TIMESTAMP, 19, *fsp),
        DataType::Time(fsp, _) => BaseType::time(TYPE_DURATION, 10, *fsp),
        DataType::Char(len) | DataType::Character(len) => {
            BaseType::new(TYPE_STRING).len(char_len(len)?)
        }
        DataType::Varchar(len) | DataType::CharacterVarying(len) | DataType::CharVarying(len) => {
            BaseType::new(TYPE_VARCHAR).len(char_len(len)?)
        }
        DataType::Nvarchar(len) => {
            let mut t = BaseType::new(TYPE_VARCHAR).len(char_len(len)?);
            t.charset = Some("utf8");
            t
        }
        DataType::Binary(n) => BaseType::new(TYPE_STRING).len(*n).binary(),
        DataType::Varbinary(len) => {
            let n = match len {
                None => None,
                Some(sqlparser::ast::BinaryLength::IntegerLength { length }) => Some(*length),
                Some(sqlparser::ast::BinaryLength::Max) => {
                    return Err("length MAX is not MySQL".to_owned())
                }
            };
            BaseType::new(TYPE_VARCHAR).len(n).binary()
        }
        DataType::TinyText => BaseType::new(TYPE_TINY_BLOB),
        DataType::Text => BaseType::new(TYPE_BLOB),
        DataType::MediumText => BaseType::new(TYPE_MEDIUM_BLOB),
        DataType::LongText => BaseType::new(TYPE_LONG_BLOB),
        DataType::TinyBlob => BaseType::new(TYPE_TINY_BLOB).binary(),
        DataType::Blob(n) => BaseType::new(TYPE_BLOB).len(*n).binary(),
        DataType::MediumBlob => BaseType::new(TYPE_MEDIUM_BLOB).binary(),
        DataType::LongBlob => BaseType::new(TYPE_LONG_BLOB).binary(),
        DataType::JSON => BaseType::new(TYPE_JSON).binary(),
        DataType::Enum(members, _) => {
            let mut t = BaseType::new(TYPE_ENUM);
            t.elems = members
                .iter()
                .map(|m| match m {
                    EnumMember::Name(raw) | EnumMember::NamedValue(raw, _) => unescape_string(raw),
                })
                .collect();
            t
        }
        DataType::Set(members) => {
            let mut t = BaseType::new(TYPE_SET);
            t.elems = members.iter().map(|m| unescape_string(m)).collect();
            t
        }
        DataType::Custom(name, args) => {
            let upper = object_name_last(name).to_ascii_uppercase();
            let args = custom_args(args)?;
            let arg = |i: usize| args.get(i).copied();
            match upper.as_str() {
                "YEAR" => {
                    let mut t = BaseType::new(TYPE_YEAR);
                    if let Some(n) = arg(0) {
                        t.flen = n;
                    }
                    t
                }
                "FIXED" => {
                    let mut t = BaseType::new(TYPE_NEW_DECIMAL);
                    t.flen = arg(0).unwrap_or(mysql::UNSPECIFIED_LENGTH);
                    t.decimal = arg(1).unwrap_or(mysql::UNSPECIFIED_LENGTH);
                    t
                }
                "NCHAR" => {
                    let mut t = BaseType::new(TYPE_STRING);
                    t.flen = arg(0).unwrap_or(mysql::UNSPECIFIED_LENGTH);
                    t.charset = Some("utf8");
                    t
                }
                "TEXT" => {
                    let mut t = BaseType::new(TYPE_BLOB);
                    t.flen = arg(0).unwrap_or(mysql::UNSPECIFIED_LENGTH);
                    t
                }
                "MIDDLEINT" => {
                    let mut t = BaseType::new(TYPE_INT24);
                    t.flen = arg(0).unwrap_or(mysql::UNSPECIFIED_LENGTH);
                    t
                }
                "SERIAL" => {
                    let mut t = BaseType::new(TYPE_LONGLONG).unsigned();
                    t.serial = true;
                    t
                }
                "GEOMETRY" | "POINT" | "LINESTRING" | "POLYGON" | "MULTIPOINT"
                | "MULTILINESTRING" | "MULTIPOLYGON" | "GEOMETRYCOLLECTION" => {
                    return Err(format!("spatial type {upper} is not supported"))
                }
                _ => return Err(format!("unknown column type {upper}")),
            }
        }
        other => return Err(format!("column type {other} is not a MySQL type")),
    };
    Ok(t)
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
// Defaults.

/// Sets `default` / `default_is_expr` from a DEFAULT expression.
pub(crate) fn set_default(column: &mut ColumnInfo, expr: &Expr) -> Result<(), String> {
    column.default_bit = Value::Null;
    // TiDB keeps a BIT default as its bytes: `default` holds them as a
    // string (Go's JSON turns invalid UTF-8 into U+FFFD, as here) and
    // `default_bit` holds them base64-encoded.
    if column.field_type.tp == mysql::TYPE_BIT {
        if let Some(bytes) = bit_default_bytes(expr) {
            column.default = Value::String(String::from_utf8_lossy(&bytes).into_owned());
            column.default_bit = Value::String(base64(&bytes));
            column.default_is_expr = false;
            return Ok(());
        }
    }
    match default_value(expr, &column.field_type)? {
        DefaultKind::Null => {
            column.default = Value::Null;
            column.default_is_expr = false;
        }
        DefaultKind::Literal(s) => {
            column.default = Value::String(s);
            column.default_is_expr = false;
        }
        DefaultKind::Expression(s) => {
            column.default = Value::String(s);
            column.default_is_expr = true;
        }
    }
    Ok(())
}

/// A normalised DEFAULT.
#[derive(Debug, Clone, PartialEq)]
enum DefaultKind {
    Null,
    Literal(String),
    Expression(String),
}

/// Names MySQL accepts for "now" in a DEFAULT.
fn is_now_function(name: &str) -> bool {
    matches!(
        name.to_ascii_uppercase().as_str(),
        "CURRENT_TIMESTAMP" | "NOW" | "LOCALTIME" | "LOCALTIMESTAMP"
    )
}

fn function_args(args: &FunctionArguments) -> Vec<&Expr> {
    match args {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn default_value(expr: &Expr, ft: &FieldType) -> Result<DefaultKind, String> {
    match expr {
        Expr::Value(v) => literal_default(&v.value, ft),
        Expr::Nested(inner) => match default_value(inner, ft)? {
            // `(literal)` evaluates to the literal; anything else stays an
            // expression default.
            d @ (DefaultKind::Null | DefaultKind::Literal(_)) => Ok(d),
            DefaultKind::Expression(_) => Ok(DefaultKind::Expression(render_expr(inner))),
        },
        Expr::UnaryOp { op, expr: inner } => match (op, inner.as_ref()) {
            (UnaryOperator::Minus, Expr::Value(v)) => match &v.value {
                SqlValue::Number(n, _) => {
                    Ok(DefaultKind::Literal(number_for(&format!("-{n}"), ft)))
                }
                _ => Ok(DefaultKind::Expression(render_expr(expr))),
            },
            (UnaryOperator::Plus, Expr::Value(v)) => literal_default(&v.value, ft),
            _ => Ok(DefaultKind::Expression(render_expr(expr))),
        },
        Expr::Prefixed { value, .. } => default_value(value, ft),
        Expr::Identifier(ident) if is_now_function(&ident.value) => Ok(now_default(ft, None)),
        Expr::Function(f) => {
            let name = object_name_last(&f.name);
            let args = function_args(&f.args);
            if is_now_function(&name) {
                let fsp = match args.as_slice() {
                    [] => None,
                    [Expr::Value(v)] => match &v.value {
                        SqlValue::Number(n, _) => n.parse::<i64>().ok(),
                        _ => None,
                    },
                    _ => return Ok(DefaultKind::Expression(render_expr(expr))),
                };
                Ok(now_default(ft, fsp))
            } else if name.eq_ignore_ascii_case("CURRENT_DATE")
                || name.eq_ignore_ascii_case("CURDATE")
            {
                Ok(DefaultKind::Literal("CURRENT_DATE".to_owned()))
            } else {
                Ok(DefaultKind::Expression(render_expr(expr)))
            }
        }
        _ => Ok(DefaultKind::Expression(render_expr(expr))),
    }
}

/// `CURRENT_TIMESTAMP[(fsp)]` as TiDB stores it for DATETIME / TIMESTAMP.
fn now_default(ft: &FieldType, fsp: Option<i64>) -> DefaultKind {
    match fsp {
        Some(n) if n > 0 => DefaultKind::Literal(format!("CURRENT_TIMESTAMP({n})")),
        _ if ft.decimal > 0 && matches!(ft.tp, mysql::TYPE_DATETIME | mysql::TYPE_TIMESTAMP) => {
            DefaultKind::Literal(format!("CURRENT_TIMESTAMP({})", ft.decimal))
        }
        _ => DefaultKind::Literal("CURRENT_TIMESTAMP".to_owned()),
    }
}

fn literal_default(value: &SqlValue, ft: &FieldType) -> Result<DefaultKind, String> {
    let d = match value {
        SqlValue::Null => DefaultKind::Null,
        SqlValue::Boolean(b) => DefaultKind::Literal(if *b { "1" } else { "0" }.to_owned()),
        SqlValue::Number(n, _) => DefaultKind::Literal(number_for(n, ft)),
        SqlValue::SingleQuotedString(raw) | SqlValue::NationalStringLiteral(raw) => {
            DefaultKind::Literal(string_for(&unescape_string(raw), ft))
        }
        SqlValue::HexStringLiteral(hex) => {
            let bytes = hex_bytes(hex).ok_or_else(|| format!("bad hex literal X'{hex}'"))?;
            DefaultKind::Literal(bytes_for(&bytes, ft))
        }
        SqlValue::SingleQuotedByteStringLiteral(bits) => {
            let bytes = bit_bytes(bits).ok_or_else(|| format!("bad bit literal B'{bits}'"))?;
            DefaultKind::Literal(bytes_for(&bytes, ft))
        }
        other => DefaultKind::Expression(other.to_string()),
    };
    Ok(d)
}

/// A numeric literal as TiDB stores it for the column type: integer types
/// round to an integer, FLOAT / DOUBLE print the shortest form, other types
/// keep the text.
fn number_for(text: &str, ft: &FieldType) -> String {
    let text = text.strip_prefix('+').unwrap_or(text);
    if mysql::is_integer_type(ft.tp) {
        let is_plain_integer = text
            .strip_prefix('-')
            .unwrap_or(text)
            .chars()
            .all(|c| c.is_ascii_digit());
        if is_plain_integer {
            return normalize_integer(text);
        }
        if let Ok(f) = text.parse::<f64>() {
            return format!("{}", f.round());
        }
    }
    if matches!(ft.tp, mysql::TYPE_FLOAT | mysql::TYPE_DOUBLE) {
        if let Ok(f) = text.parse::<f64>() {
            return format!("{f}");
        }
    }
    if ft.tp == mysql::TYPE_BIT {
        if let Ok(n) = text.parse::<u64>() {
            return bytes_for(&n.to_be_bytes(), ft);
        }
    }
    if ft.tp == mysql::TYPE_ENUM {
        if let Some(member) = text
            .parse::<usize>()
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| ft.elems.get(i))
        {
            return member.clone();
        }
    }
    text.to_owned()
}

/// `-007` → `-7`, `000` → `0`.
fn normalize_integer(text: &str) -> String {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", text),
    };
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_owned()
    } else {
        format!("{sign}{trimmed}")
    }
}

/// A string literal for the column type: numbers for numeric columns
/// (MySQL converts `'3'`), trailing blanks dropped for ENUM (MySQL strips
/// them from members), as is otherwise.
fn string_for(value: &str, ft: &FieldType) -> String {
    let numeric =
        mysql::is_integer_type(ft.tp) || matches!(ft.tp, mysql::TYPE_FLOAT | mysql::TYPE_DOUBLE);
    if numeric && value.trim().parse::<f64>().is_ok() {
        return number_for(value.trim(), ft);
    }
    if ft.tp == mysql::TYPE_ENUM {
        return value.trim_end_matches(' ').to_owned();
    }
    value.to_owned()
}

/// Hex / bit literal bytes for the column type: an unsigned integer for
/// numeric columns, the bytes themselves (as text) otherwise.
fn bytes_for(bytes: &[u8], ft: &FieldType) -> String {
    let numeric = mysql::is_integer_type(ft.tp)
        || matches!(
            ft.tp,
            mysql::TYPE_FLOAT | mysql::TYPE_DOUBLE | mysql::TYPE_NEW_DECIMAL
        );
    if numeric {
        let n = bytes
            .iter()
            .fold(0u128, |acc, b| acc.wrapping_shl(8) | u128::from(*b));
        return n.to_string();
    }
    // BIT keeps the minimal big-endian bytes (TiDB's BinaryLiteral).
    let start = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// The bytes of a literal BIT default: numbers and hex / bit literals as
/// minimal big-endian bytes (TiDB's `BinaryLiteral`), strings as they are.
fn bit_default_bytes(expr: &Expr) -> Option<Vec<u8>> {
    let minimal = |bytes: Vec<u8>| {
        let start = bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bytes.len().saturating_sub(1));
        bytes[start..].to_vec()
    };
    match expr {
        Expr::Nested(inner) => bit_default_bytes(inner),
        Expr::Value(v) => match &v.value {
            SqlValue::Number(n, _) => n
                .parse::<u64>()
                .ok()
                .map(|n| minimal(n.to_be_bytes().to_vec())),
            SqlValue::HexStringLiteral(hex) => hex_bytes(hex).map(minimal),
            SqlValue::SingleQuotedByteStringLiteral(bits) => bit_bytes(bits).map(minimal),
            SqlValue::SingleQuotedString(raw) => Some(unescape_string(raw).into_bytes()),
            _ => None,
        },
        _ => None,
    }
}

/// Standard base64 with padding, as Go's `encoding/json` writes `[]byte`.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let index = usize::try_from((n >> (18 - 6 * i)) & 63).unwrap_or(0);
                out.push(char::from(ALPHABET[index]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    let padded = if hex.len() % 2 == 1 {
        format!("0{hex}")
    } else {
        hex.to_owned()
    };
    (0..padded.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(padded.get(i..i + 2)?, 16).ok())
        .collect()
}

fn bit_bytes(bits: &str) -> Option<Vec<u8>> {
    if !bits.chars().all(|c| c == '0' || c == '1') {
        return None;
    }
    let pad = (8 - bits.len() % 8) % 8;
    let padded = format!("{}{bits}", "0".repeat(pad));
    (0..padded.len())
        .step_by(8)
        .map(|i| u8::from_str_radix(padded.get(i..i + 8)?, 2).ok())
        .collect()
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
