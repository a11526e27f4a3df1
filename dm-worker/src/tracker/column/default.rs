//! DEFAULT values: literals normalised as TiDB stores them (numbers,
//! strings, hex and bit literals, `CURRENT_TIMESTAMP` and synonyms), any
//! other expression kept as written.

use super::*;

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
pub(super) enum DefaultKind {
    Null,
    Literal(String),
    Expression(String),
}

/// Names MySQL accepts for "now" in a DEFAULT.
pub(super) fn is_now_function(name: &str) -> bool {
    matches!(
        name.to_ascii_uppercase().as_str(),
        "CURRENT_TIMESTAMP" | "NOW" | "LOCALTIME" | "LOCALTIMESTAMP"
    )
}

pub(super) fn function_args(args: &FunctionArguments) -> Vec<&Expr> {
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

pub(super) fn default_value(expr: &Expr, ft: &FieldType) -> Result<DefaultKind, String> {
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
pub(super) fn now_default(ft: &FieldType, fsp: Option<i64>) -> DefaultKind {
    match fsp {
        Some(n) if n > 0 => DefaultKind::Literal(format!("CURRENT_TIMESTAMP({n})")),
        _ if ft.decimal > 0 && matches!(ft.tp, mysql::TYPE_DATETIME | mysql::TYPE_TIMESTAMP) => {
            DefaultKind::Literal(format!("CURRENT_TIMESTAMP({})", ft.decimal))
        }
        _ => DefaultKind::Literal("CURRENT_TIMESTAMP".to_owned()),
    }
}

pub(super) fn literal_default(value: &SqlValue, ft: &FieldType) -> Result<DefaultKind, String> {
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
pub(super) fn number_for(text: &str, ft: &FieldType) -> String {
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
pub(super) fn normalize_integer(text: &str) -> String {
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
pub(super) fn string_for(value: &str, ft: &FieldType) -> String {
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
pub(super) fn bytes_for(bytes: &[u8], ft: &FieldType) -> String {
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
pub(super) fn bit_default_bytes(expr: &Expr) -> Option<Vec<u8>> {
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

/// The bytes of a hex literal; an odd number of digits reads as if led by `0`.
pub(super) fn hex_bytes(digits: &str) -> Option<Vec<u8>> {
    if digits.len() % 2 == 1 {
        hex::decode(format!("0{digits}")).ok()
    } else {
        hex::decode(digits).ok()
    }
}

pub(super) fn bit_bytes(bits: &str) -> Option<Vec<u8>> {
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
