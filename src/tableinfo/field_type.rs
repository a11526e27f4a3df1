//! [`FieldType`] values built in code: one constructor per MySQL column
//! type with the length, scale, flags and charset TiDB gives it, the
//! builder methods that adjust them, and the accessors schemacmp reads.

use super::{mysql, FieldType};

/// Constructors of the types that take no length, scale or members: each
/// with TiDB's defaults, made by one of the kind constructors below.
macro_rules! fixed_types {
    ($($(#[$doc:meta])* $name:ident => $kind:ident($($arg:expr),+);)+) => {
        $($(#[$doc])*
        pub fn $name() -> Self {
            Self::$kind($($arg),+)
        })+
    };
}

impl FieldType {
    /// A bare type as Go's `types.NewFieldType`: unspecified length and
    /// scale, no flags, no charset.
    pub fn new(tp: u8) -> Self {
        FieldType {
            tp,
            flen: mysql::UNSPECIFIED_LENGTH,
            decimal: mysql::UNSPECIFIED_LENGTH,
            ..FieldType::default()
        }
    }

    /// The type schemacmp looks at: JSON for array-flagged types.
    pub fn get_type(&self) -> u8 {
        if self.array {
            mysql::TYPE_JSON
        } else {
            self.tp
        }
    }

    /// Whether all bits of `flag` are set.
    pub fn has_flag(&self, flag: u64) -> bool {
        self.flag & flag == flag
    }

    fn numeric(tp: u8, flen: i64, decimal: i64) -> Self {
        FieldType {
            flen,
            decimal,
            charset: mysql::CHARSET_BINARY.to_owned(),
            collate: mysql::COLLATION_BINARY.to_owned(),
            ..FieldType::new(tp)
        }
    }

    fn string(tp: u8, flen: i64) -> Self {
        FieldType {
            flen,
            decimal: 0,
            charset: mysql::CHARSET_UTF8MB4.to_owned(),
            collate: mysql::COLLATION_UTF8MB4_BIN.to_owned(),
            ..FieldType::new(tp)
        }
    }

    fn binary_string(tp: u8, flen: i64) -> Self {
        FieldType {
            flag: mysql::BINARY_FLAG,
            ..Self::numeric(tp, flen, 0)
        }
    }

    /// A type with fractional seconds: `base` characters, then a point and
    /// `fsp` digits when `fsp` > 0 (TiDB's length).
    fn temporal(tp: u8, base: i64, fsp: i64) -> Self {
        let flen = if fsp > 0 { base + 1 + fsp } else { base };
        FieldType {
            decimal: fsp,
            ..Self::binary_string(tp, flen)
        }
    }

    /// ENUM or SET: the members, in utf8mb4, no length.
    fn with_members(tp: u8, members: &[&str]) -> Self {
        FieldType {
            elems: members.iter().map(|m| (*m).to_owned()).collect(),
            ..Self::string(tp, mysql::UNSPECIFIED_LENGTH)
        }
    }

    fixed_types! {
        /// TINYINT (display width 4).
        tinyint => numeric(mysql::TYPE_TINY, 4, 0);
        /// SMALLINT (display width 6).
        smallint => numeric(mysql::TYPE_SHORT, 6, 0);
        /// MEDIUMINT (display width 9).
        mediumint => numeric(mysql::TYPE_INT24, 9, 0);
        /// INT (display width 11).
        int => numeric(mysql::TYPE_LONG, 11, 0);
        /// BIGINT (display width 20).
        bigint => numeric(mysql::TYPE_LONGLONG, 20, 0);
        /// FLOAT.
        float => numeric(mysql::TYPE_FLOAT, 12, mysql::UNSPECIFIED_LENGTH);
        /// DOUBLE.
        double => numeric(mysql::TYPE_DOUBLE, 22, mysql::UNSPECIFIED_LENGTH);
        /// DATE.
        date => binary_string(mysql::TYPE_DATE, 10);
        /// TINYTEXT in utf8mb4.
        tinytext => string(mysql::TYPE_TINY_BLOB, 255);
        /// TEXT in utf8mb4.
        text => string(mysql::TYPE_BLOB, 65_535);
        /// MEDIUMTEXT in utf8mb4.
        mediumtext => string(mysql::TYPE_MEDIUM_BLOB, 16_777_215);
        /// LONGTEXT in utf8mb4.
        longtext => string(mysql::TYPE_LONG_BLOB, 4_294_967_295);
        /// TINYBLOB.
        tinyblob => binary_string(mysql::TYPE_TINY_BLOB, 255);
        /// BLOB.
        blob => binary_string(mysql::TYPE_BLOB, 65_535);
        /// MEDIUMBLOB.
        mediumblob => binary_string(mysql::TYPE_MEDIUM_BLOB, 16_777_215);
        /// LONGBLOB.
        longblob => binary_string(mysql::TYPE_LONG_BLOB, 4_294_967_295);
        /// JSON.
        json => binary_string(mysql::TYPE_JSON, 4_294_967_295);
    }

    /// DECIMAL(precision, scale).
    pub fn decimal(precision: i64, scale: i64) -> Self {
        Self::numeric(mysql::TYPE_NEW_DECIMAL, precision, scale)
    }
    /// BIT(n).
    pub fn bit(n: i64) -> Self {
        FieldType {
            flag: mysql::UNSIGNED_FLAG,
            ..Self::numeric(mysql::TYPE_BIT, n, 0)
        }
    }
    /// DATETIME(fsp).
    pub fn datetime(fsp: i64) -> Self {
        Self::temporal(mysql::TYPE_DATETIME, 19, fsp)
    }
    /// TIMESTAMP(fsp).
    pub fn timestamp(fsp: i64) -> Self {
        Self::temporal(mysql::TYPE_TIMESTAMP, 19, fsp)
    }
    /// TIME(fsp).
    pub fn time(fsp: i64) -> Self {
        Self::temporal(mysql::TYPE_DURATION, 10, fsp)
    }
    /// YEAR(4).
    pub fn year() -> Self {
        FieldType {
            flag: mysql::ZEROFILL_FLAG | mysql::UNSIGNED_FLAG,
            ..Self::numeric(mysql::TYPE_YEAR, 4, 0)
        }
    }
    /// CHAR(n) in utf8mb4.
    pub fn char(n: i64) -> Self {
        Self::string(mysql::TYPE_STRING, n)
    }
    /// VARCHAR(n) in utf8mb4.
    pub fn varchar(n: i64) -> Self {
        Self::string(mysql::TYPE_VARCHAR, n)
    }
    /// BINARY(n).
    pub fn binary(n: i64) -> Self {
        Self::binary_string(mysql::TYPE_STRING, n)
    }
    /// VARBINARY(n).
    pub fn varbinary(n: i64) -> Self {
        Self::binary_string(mysql::TYPE_VARCHAR, n)
    }
    /// ENUM(members) in utf8mb4.
    pub fn enumeration(members: &[&str]) -> Self {
        Self::with_members(mysql::TYPE_ENUM, members)
    }
    /// SET(members) in utf8mb4.
    pub fn set(members: &[&str]) -> Self {
        Self::with_members(mysql::TYPE_SET, members)
    }

    /// Replaces the charset and collation.
    pub fn with_charset(mut self, charset: &str, collate: &str) -> Self {
        self.charset = charset.to_owned();
        self.collate = collate.to_owned();
        self
    }

    /// Replaces the length.
    pub fn with_flen(mut self, flen: i64) -> Self {
        self.flen = flen;
        self
    }

    /// Replaces the scale / fractional precision.
    pub fn with_decimal(mut self, decimal: i64) -> Self {
        self.decimal = decimal;
        self
    }

    /// Adds flag bits.
    pub fn with_flag(mut self, flag: u64) -> Self {
        self.flag |= flag;
        self
    }

    /// UNSIGNED.
    pub fn unsigned(self) -> Self {
        self.with_flag(mysql::UNSIGNED_FLAG)
    }
}
