//! A dynamically typed lattice value, so table-driven tests can put values
//! of different kinds side by side (`Tuple(Byte 123, Bool false)`) the way
//! TiDB's `lattice_test.go` does. Test-only: the shipped encodings are
//! statically typed.

use std::cmp::Ordering;

use super::error::{Incompatible, IncompatibleKind};
use super::lattice::{
    BitSet, Bool, Byte, EqualitySingleton, FieldTp, Int, Int64, Lattice, Maybe, Singleton,
    SingletonValue, StringList, Tuple, Uint,
};

fn type_mismatch(left: &'static str, right: &'static str) -> Incompatible {
    Incompatible::new(IncompatibleKind::TypeMismatch { left, right })
}

/// A dynamically typed singleton payload for [`LatticeValue`], compared like Go's
/// `interface{}` equality (different types are distinct).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// Go `int`.
    Int(i64),
    /// Go `bool`.
    Bool(bool),
    /// Go `[]byte`-like payload.
    Bytes(Vec<u8>),
}

impl SingletonValue for Scalar {
    fn go_string(&self) -> String {
        match self {
            Scalar::Int(v) => v.to_string(),
            Scalar::Bool(v) => v.to_string(),
            Scalar::Bytes(v) => {
                let parts: Vec<String> = v.iter().map(u8::to_string).collect();
                format!("[{}]", parts.join(" "))
            }
        }
    }
}

/// A dynamically typed lattice value, for heterogeneous tuples such as
/// `Tuple(Byte 123, Bool false)`. Values of different kinds are
/// incompatible with Go's `type mismatch (%T vs %T)` message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LatticeValue {
    /// [`Bool`].
    Bool(Bool),
    /// [`Singleton`].
    Singleton(Singleton<Scalar>),
    /// [`EqualitySingleton`].
    EqualitySingleton(EqualitySingleton<Scalar>),
    /// [`BitSet`].
    BitSet(BitSet),
    /// [`Byte`].
    Byte(Byte),
    /// [`Int`].
    Int(Int),
    /// [`Int64`].
    Int64(Int64),
    /// [`Uint`].
    Uint(Uint),
    /// [`FieldTp`].
    FieldTp(FieldTp),
    /// [`StringList`].
    StringList(StringList),
    /// [`Maybe`].
    Maybe(Maybe<Box<LatticeValue>>),
    /// [`Tuple`].
    Tuple(Tuple<LatticeValue>),
}

impl LatticeValue {
    /// The Go `%T` of the corresponding TiDB lattice type.
    pub fn go_type_name(&self) -> &'static str {
        match self {
            LatticeValue::Bool(_) => "schemacmp.Bool",
            LatticeValue::Singleton(_) => "schemacmp.singleton",
            LatticeValue::EqualitySingleton(_) => "schemacmp.equalitySingleton",
            LatticeValue::BitSet(_) => "schemacmp.BitSet",
            LatticeValue::Byte(_) => "schemacmp.Byte",
            LatticeValue::Int(_) => "schemacmp.Int",
            LatticeValue::Int64(_) => "schemacmp.Int64",
            LatticeValue::Uint(_) => "schemacmp.Uint",
            LatticeValue::FieldTp(_) => "schemacmp.fieldTp",
            LatticeValue::StringList(_) => "schemacmp.StringList",
            LatticeValue::Maybe(_) => "schemacmp.maybe",
            LatticeValue::Tuple(_) => "schemacmp.Tuple",
        }
    }

    fn mismatch(&self, other: &Self) -> Incompatible {
        type_mismatch(self.go_type_name(), other.go_type_name())
    }
}

impl Lattice for LatticeValue {
    fn compare(&self, other: &Self) -> Result<Ordering, Incompatible> {
        match (self, other) {
            (LatticeValue::Bool(a), LatticeValue::Bool(b)) => a.compare(b),
            (LatticeValue::Singleton(a), LatticeValue::Singleton(b)) => a.compare(b),
            (LatticeValue::EqualitySingleton(a), LatticeValue::EqualitySingleton(b)) => {
                a.compare(b)
            }
            (LatticeValue::BitSet(a), LatticeValue::BitSet(b)) => a.compare(b),
            (LatticeValue::Byte(a), LatticeValue::Byte(b)) => a.compare(b),
            (LatticeValue::Int(a), LatticeValue::Int(b)) => a.compare(b),
            (LatticeValue::Int64(a), LatticeValue::Int64(b)) => a.compare(b),
            (LatticeValue::Uint(a), LatticeValue::Uint(b)) => a.compare(b),
            (LatticeValue::FieldTp(a), LatticeValue::FieldTp(b)) => a.compare(b),
            (LatticeValue::StringList(a), LatticeValue::StringList(b)) => a.compare(b),
            (LatticeValue::Maybe(a), LatticeValue::Maybe(b)) => a.compare(b),
            (LatticeValue::Tuple(a), LatticeValue::Tuple(b)) => a.compare(b),
            _ => Err(self.mismatch(other)),
        }
    }

    fn join(&self, other: &Self) -> Result<Self, Incompatible> {
        Ok(match (self, other) {
            (LatticeValue::Bool(a), LatticeValue::Bool(b)) => LatticeValue::Bool(a.join(b)?),
            (LatticeValue::Singleton(a), LatticeValue::Singleton(b)) => {
                LatticeValue::Singleton(a.join(b)?)
            }
            (LatticeValue::EqualitySingleton(a), LatticeValue::EqualitySingleton(b)) => {
                LatticeValue::EqualitySingleton(a.join(b)?)
            }
            (LatticeValue::BitSet(a), LatticeValue::BitSet(b)) => LatticeValue::BitSet(a.join(b)?),
            (LatticeValue::Byte(a), LatticeValue::Byte(b)) => LatticeValue::Byte(a.join(b)?),
            (LatticeValue::Int(a), LatticeValue::Int(b)) => LatticeValue::Int(a.join(b)?),
            (LatticeValue::Int64(a), LatticeValue::Int64(b)) => LatticeValue::Int64(a.join(b)?),
            (LatticeValue::Uint(a), LatticeValue::Uint(b)) => LatticeValue::Uint(a.join(b)?),
            (LatticeValue::FieldTp(a), LatticeValue::FieldTp(b)) => {
                LatticeValue::FieldTp(a.join(b)?)
            }
            (LatticeValue::StringList(a), LatticeValue::StringList(b)) => {
                LatticeValue::StringList(a.join(b)?)
            }
            (LatticeValue::Maybe(a), LatticeValue::Maybe(b)) => LatticeValue::Maybe(a.join(b)?),
            (LatticeValue::Tuple(a), LatticeValue::Tuple(b)) => LatticeValue::Tuple(a.join(b)?),
            _ => return Err(self.mismatch(other)),
        })
    }
}
