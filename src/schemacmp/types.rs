//! The column type lattice (TiDB `type.go`): a TiDB `FieldType` encoded as a
//! 10-component tuple, with one extra join rule for AUTO_INCREMENT.
//!
//! PURE: no async, no I/O.
//!
//! | idx | component | lattice |
//! |-----|-----------|---------|
//! | 0 | type code | [`FieldTp`] (integer and blob families ordered) |
//! | 1 | `Flen` | [`Int`]; DECIMAL: [`Singleton`] |
//! | 2 | `Decimal` | [`Int`]; DECIMAL: [`Singleton`] |
//! | 3 | other flag bits | [`Singleton`] (any difference conflicts) |
//! | 4 | nullable | [`Bool`] |
//! | 5 | anti-keys | [`Byte`]: not a key > multiple > unique > primary |
//! | 6 | default flag | [`Maybe`] of [`Singleton`]: `AUTO_INCREMENT` / `NO_DEFAULT_VALUE` bits, `None` = NOT NULL without default |
//! | 7 | charset | [`Charset`] |
//! | 8 | collation | [`Collation`] |
//! | 9 | ENUM/SET members | [`StringList`] (appending only) |

use std::cmp::Ordering;

use super::charset::{Charset, Collation};
use super::error::{Incompatible, IncompatibleKind};
use super::lattice::{
    tuple_lattice, Bool, Byte, FieldTp, Int, Lattice, Maybe, Singleton, StringList,
};
use crate::tableinfo::{mysql, FieldType};

const FLAG_MASK_KEYS: u64 = mysql::PRI_KEY_FLAG | mysql::UNIQUE_KEY_FLAG | mysql::MULTIPLE_KEY_FLAG;
const FLAG_MASK_DEFAULT: u64 = mysql::AUTO_INCREMENT_FLAG | mysql::NO_DEFAULT_VALUE_FLAG;

/// Anti-keys value of a column that is part of no key (the top).
pub(crate) const NOT_PART_OF_KEYS: u8 = u8::MAX;

/// Maps key flags to a byte where "no key" is largest, then multiple key,
/// unique key, primary key: reversing the bits puts PRI above UNI above MUL,
/// and negating flips the order.
pub(crate) fn encode_anti_keys(flag: u64) -> u8 {
    // Masked to bits 1..=3, so the value fits in a byte.
    !((flag & FLAG_MASK_KEYS) as u8).reverse_bits()
}

/// Inverse of [`encode_anti_keys`].
pub(crate) fn decode_anti_keys(encoded: u8) -> u64 {
    u64::from((!encoded).reverse_bits())
}

/// `Flen` / `Decimal`: ordered for every type except DECIMAL, where
/// precision and scale must match exactly.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Length {
    Ordered(Int),
    Exact(Singleton<i64>),
}

impl Length {
    fn new(tp: u8, value: i64) -> Self {
        if tp == mysql::TYPE_NEW_DECIMAL {
            Length::Exact(Singleton(value))
        } else {
            Length::Ordered(Int(value))
        }
    }

    pub(crate) fn value(&self) -> i64 {
        match self {
            Length::Ordered(Int(v)) | Length::Exact(Singleton(v)) => *v,
        }
    }

    fn go_type_name(&self) -> &'static str {
        match self {
            Length::Ordered(_) => "schemacmp.Int",
            Length::Exact(_) => "schemacmp.singleton",
        }
    }

    fn mismatch(&self, other: &Self) -> Incompatible {
        Incompatible::new(IncompatibleKind::TypeMismatch {
            left: self.go_type_name(),
            right: other.go_type_name(),
        })
    }
}

impl Lattice for Length {
    fn compare(&self, other: &Self) -> Result<Ordering, Incompatible> {
        match (self, other) {
            (Length::Ordered(a), Length::Ordered(b)) => a.compare(b),
            (Length::Exact(a), Length::Exact(b)) => a.compare(b),
            _ => Err(self.mismatch(other)),
        }
    }

    fn join(&self, other: &Self) -> Result<Self, Incompatible> {
        match (self, other) {
            (Length::Ordered(a), Length::Ordered(b)) => a.join(b).map(Length::Ordered),
            (Length::Exact(a), Length::Exact(b)) => a.join(b).map(Length::Exact),
            _ => Err(self.mismatch(other)),
        }
    }
}

/// A column type in lattice form (TiDB's `Type(ft)`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ColumnType {
    pub(crate) tp: FieldTp,
    pub(crate) flen: Length,
    pub(crate) decimal: Length,
    pub(crate) other_flags: Singleton<u64>,
    pub(crate) nullable: Bool,
    pub(crate) anti_keys: Byte,
    pub(crate) default_flag: Maybe<Singleton<u64>>,
    pub(crate) charset: Charset,
    pub(crate) collation: Collation,
    pub(crate) elems: StringList,
}

impl ColumnType {
    /// An AUTO_INCREMENT column must stay part of a key: the rule on a
    /// joined column type. The error is not tuple-wrapped, as in TiDB.
    fn keeps_auto_increment_in_a_key(joined: ColumnType) -> Result<ColumnType, Incompatible> {
        if joined.is_auto_increment() && joined.anti_keys.0 == NOT_PART_OF_KEYS {
            return Err(Incompatible::new(IncompatibleKind::AutoTypeWithoutKey));
        }
        Ok(joined)
    }

    /// Encodes a TiDB field type. The effective type is JSON for
    /// array-flagged types, as TiDB's `GetType()`.
    pub fn new(ft: &FieldType) -> Self {
        let tp = ft.get_type();
        let flag = ft.flag;
        let default_flag =
            if flag & mysql::AUTO_INCREMENT_FLAG != 0 || flag & mysql::NO_DEFAULT_VALUE_FLAG == 0 {
                Maybe(Some(Singleton(flag & FLAG_MASK_DEFAULT)))
            } else {
                Maybe(None)
            };
        ColumnType {
            tp: FieldTp(tp),
            flen: Length::new(tp, ft.flen),
            decimal: Length::new(tp, ft.decimal),
            other_flags: Singleton(
                flag & !(FLAG_MASK_DEFAULT | mysql::NOT_NULL_FLAG | FLAG_MASK_KEYS),
            ),
            nullable: Bool(flag & mysql::NOT_NULL_FLAG == 0),
            anti_keys: Byte(encode_anti_keys(flag)),
            default_flag,
            charset: Charset::new(&ft.charset),
            collation: Collation::new(&ft.collate),
            elems: StringList(ft.elems.clone()),
        }
    }

    /// Decodes back to a field type (TiDB's `Unwrap`): the flag is rebuilt
    /// from its components; `ElemsIsBinaryLit` and `Array` are not encoded.
    pub fn to_field_type(&self) -> FieldType {
        let mut flag = self.other_flags.0 | decode_anti_keys(self.anti_keys.0);
        if !self.nullable.0 {
            flag |= mysql::NOT_NULL_FLAG;
        }
        flag |= match &self.default_flag.0 {
            Some(Singleton(x)) => *x,
            None => mysql::NO_DEFAULT_VALUE_FLAG,
        };
        FieldType {
            tp: self.tp.0,
            flag,
            flen: self.flen.value(),
            decimal: self.decimal.value(),
            charset: self.charset.as_str().to_owned(),
            collate: self.collation.as_str().to_owned(),
            elems: self.elems.0.clone(),
            ..FieldType::default()
        }
    }

    /// The type code.
    pub fn type_code(&self) -> u8 {
        self.tp.0
    }

    /// The (joined) display length.
    pub fn flen(&self) -> i64 {
        self.flen.value()
    }

    /// Whether the column may be absent from a table (it has a default, is
    /// nullable, or is AUTO_INCREMENT).
    pub(crate) fn has_default(&self) -> bool {
        self.default_flag.0.is_some()
    }

    pub(crate) fn is_not_null(&self) -> bool {
        !self.nullable.0
    }

    pub(crate) fn is_auto_increment(&self) -> bool {
        matches!(self.default_flag.0, Some(Singleton(x)) if x & mysql::AUTO_INCREMENT_FLAG != 0)
    }

    pub(crate) fn set_anti_key_flags(&mut self, flag: u64) {
        self.anti_keys = Byte(encode_anti_keys(flag));
    }

    /// Adjusts a column that only one side of a table join has: it can be
    /// part of no key, and it gets a default. Returns whether it had none.
    pub(crate) fn set_flag_for_missing_column(&mut self) -> bool {
        self.anti_keys = Byte(NOT_PART_OF_KEYS);
        match self.default_flag.0 {
            Some(Singleton(x)) if x & mysql::NO_DEFAULT_VALUE_FLAG == 0 => false,
            Some(Singleton(x)) => {
                self.default_flag = Maybe(Some(Singleton(x & !mysql::NO_DEFAULT_VALUE_FLAG)));
                true
            }
            None => {
                self.default_flag = Maybe(Some(Singleton(0)));
                true
            }
        }
    }

    /// The value TiDB fills into existing rows of a NOT NULL column without
    /// default (`getStandardDefaultValue`).
    ///
    /// Two deliberate differences from TiDB, which would panic: an ENUM
    /// without members gets `""`, and a binary CHAR with a negative length
    /// gets `""`. The NUL padding of binary CHAR is capped at MySQL's
    /// maximum CHAR length (255) and the fractional-seconds tail at 64
    /// digits, so hostile input cannot allocate without bound.
    pub(crate) fn standard_default_value(&self) -> String {
        let decimal = self.decimal.value();
        let tail = if decimal > 0 {
            format!(
                ".{}",
                "0".repeat(usize::try_from(decimal.min(64)).unwrap_or(0))
            )
        } else {
            String::new()
        };
        match self.tp.0 {
            mysql::TYPE_TINY
            | mysql::TYPE_INT24
            | mysql::TYPE_SHORT
            | mysql::TYPE_LONG
            | mysql::TYPE_LONGLONG
            | mysql::TYPE_FLOAT
            | mysql::TYPE_DOUBLE
            | mysql::TYPE_NEW_DECIMAL => "0".to_owned(),
            mysql::TYPE_TIMESTAMP | mysql::TYPE_DATETIME => format!("0000-00-00 00:00:00{tail}"),
            mysql::TYPE_DATE => "0000-00-00".to_owned(),
            mysql::TYPE_DURATION => format!("00:00:00{tail}"),
            mysql::TYPE_YEAR => "0000".to_owned(),
            mysql::TYPE_JSON => "null".to_owned(),
            mysql::TYPE_TIDB_VECTOR_FLOAT32 => "[]".to_owned(),
            mysql::TYPE_ENUM => self.elems.0.first().cloned().unwrap_or_default(),
            mysql::TYPE_STRING if self.collation.as_str() == mysql::COLLATION_BINARY => {
                let len = usize::try_from(self.flen.value().clamp(0, 255)).unwrap_or(0);
                "\0".repeat(len)
            }
            _ => String::new(),
        }
    }
}

tuple_lattice!(ColumnType {
    0 => tp,
    1 => flen,
    2 => decimal,
    3 => other_flags,
    4 => nullable,
    5 => anti_keys,
    6 => default_flag,
    7 => charset,
    8 => collation,
    9 => elems,
} then ColumnType::keeps_auto_increment_in_a_key);

#[cfg(test)]
mod tests;
