//! Charsets and collations: MySQL's names normalised, the default
//! collation of a charset and the reverse, the widths TiDB uses.

use super::*;

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
pub(super) fn charset_max_len(charset: &str) -> i64 {
    match charset {
        "utf8mb4" => 4,
        "utf8" => 3,
        "gbk" | "gb18030" | "ucs2" => 2,
        _ => 1,
    }
}

/// Types whose values carry a charset (TiDB's `typesNeedCharset`).
pub(super) fn needs_charset(tp: u8) -> bool {
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
pub(super) fn is_string_kind(tp: u8) -> bool {
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
pub(super) fn default_flen_decimal(tp: u8) -> (i64, i64) {
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
