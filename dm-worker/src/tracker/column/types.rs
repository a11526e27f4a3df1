//! Column types: `sqlparser`'s `DataType` to TiDB's type code, length,
//! decimals, flags and elements, with the parser's defaults.

use super::*;

/// A column type as written, before charset and default lengths.
#[derive(Debug)]
pub(super) struct BaseType {
    pub(super) tp: u8,
    pub(super) flen: i64,
    pub(super) decimal: i64,
    pub(super) flag: u64,
    /// Charset fixed by the type itself (`binary` for BINARY / BLOB, `utf8`
    /// for the national types).
    pub(super) charset: Option<&'static str>,
    pub(super) elems: Vec<String>,
    /// `SERIAL`: BIGINT UNSIGNED NOT NULL AUTO_INCREMENT UNIQUE.
    pub(super) serial: bool,
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

pub(super) fn char_len(len: &Option<CharacterLength>) -> Result<Option<u64>, String> {
    match len {
        None => Ok(None),
        Some(CharacterLength::IntegerLength { length, .. }) => Ok(Some(*length)),
        Some(CharacterLength::Max) => Err("length MAX is not MySQL".to_owned()),
    }
}

pub(super) fn custom_args(args: &[String]) -> Result<Vec<i64>, String> {
    args.iter()
        .map(|a| {
            a.trim()
                .parse::<i64>()
                .map_err(|_| format!("`{a}` is not a number"))
        })
        .collect()
}

pub(super) fn base_type(data_type: &DataType) -> Result<BaseType, String> {
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
