//! Join-semilattice primitives: the value kinds of TiDB's
//! `pkg/util/schemacmp/lattice.go`, plus the tuple and map combinators the
//! schema encodings are built from.
//!
//! PURE: no async, no I/O.
//!
//! Every kind implements [`Lattice`]: `compare` orders two values ("larger"
//! means more permissive) or reports why they are unordered, `join` returns
//! the least upper bound or reports why there is none. Each kind keeps Go's
//! quirks where they show in results or messages (see the per-type docs).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::sync::Arc;

use super::error::{go_float, Incompatible, IncompatibleKind};
use crate::tableinfo::mysql;

/// A join-semilattice element.
pub trait Lattice: Sized {
    /// `Less` when `self < other`, `Equal`, `Greater`, or `Err` when the two
    /// values are unordered.
    fn compare(&self, other: &Self) -> Result<Ordering, Incompatible>;

    /// The least upper bound of both values, or `Err` when none exists.
    fn join(&self, other: &Self) -> Result<Self, Incompatible>;
}

/// Go's `CombineCompareResult`: folds the order of one more component into
/// the order accumulated so far. Equal components do not change it; one
/// larger and one smaller component contradict each other.
pub fn combine(acc: Ordering, next: Ordering) -> Result<Ordering, Incompatible> {
    if acc == next || next == Ordering::Equal {
        Ok(acc)
    } else if acc == Ordering::Equal {
        Ok(next)
    } else {
        Err(Incompatible::new(IncompatibleKind::ContradictingOrders {
            left: acc as i8,
            right: next as i8,
        }))
    }
}

/// Accumulates a tuple comparison component by component, wrapping every
/// error with `at tuple index i` exactly like Go's `Tuple.Compare`.
pub(crate) struct TupleCompare(Ordering);

impl TupleCompare {
    pub(crate) fn new() -> Self {
        TupleCompare(Ordering::Equal)
    }

    pub(crate) fn field<L: Lattice>(
        &mut self,
        index: usize,
        a: &L,
        b: &L,
    ) -> Result<(), Incompatible> {
        let next = a.compare(b).map_err(|e| e.at_tuple_index(index))?;
        self.0 = combine(self.0, next).map_err(|e| e.at_tuple_index(index))?;
        Ok(())
    }

    pub(crate) fn finish(self) -> Ordering {
        self.0
    }
}

/// Joins one tuple component, wrapping the error with its index.
pub(crate) fn join_field<L: Lattice>(index: usize, a: &L, b: &L) -> Result<L, Incompatible> {
    a.join(b).map_err(|e| e.at_tuple_index(index))
}

/// Implements [`Lattice`] for a struct read as Go's `Tuple` of its fields,
/// listed with their tuple indexes: `compare` and `join` go component by
/// component in that order, and an error names the index of the component
/// that failed. With `then check`, the joined struct passes through
/// `check` (a rule on the whole value, reported without a tuple index).
macro_rules! tuple_lattice {
    ($name:ident { $($index:literal => $field:ident),+ $(,)? } $(then $check:path)?) => {
        impl $crate::schemacmp::lattice::Lattice for $name {
            fn compare(
                &self,
                other: &Self,
            ) -> Result<std::cmp::Ordering, $crate::schemacmp::error::Incompatible> {
                let mut acc = $crate::schemacmp::lattice::TupleCompare::new();
                $(acc.field($index, &self.$field, &other.$field)?;)+
                Ok(acc.finish())
            }

            fn join(
                &self,
                other: &Self,
            ) -> Result<Self, $crate::schemacmp::error::Incompatible> {
                let joined = $name {
                    $($field: $crate::schemacmp::lattice::join_field(
                        $index,
                        &self.$field,
                        &other.$field,
                    )?,)+
                };
                $(let joined = $check(joined)?;)?
                Ok(joined)
            }
        }
    };
}
pub(crate) use tuple_lattice;

/// `false < true`; join is `||`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Bool(pub bool);

impl Lattice for Bool {
    fn compare(&self, other: &Self) -> Result<Ordering, Incompatible> {
        Ok(self.0.cmp(&other.0))
    }

    fn join(&self, other: &Self) -> Result<Self, Incompatible> {
        Ok(Bool(self.0 || other.0))
    }
}

/// A payload of [`Singleton`] / [`EqualitySingleton`]: how Go compares it
/// (`==` on the dynamic value, or a custom `Equals`) and prints it (`%v`).
///
/// Structural `Eq`/`Hash` (used for interning) may be stricter than
/// `same` (used by the lattice), e.g. JSON numbers `1` and `1.0`.
pub trait SingletonValue: Clone + fmt::Debug + Eq + Hash {
    /// Go's equality for this value.
    fn same(&self, other: &Self) -> bool {
        self == other
    }

    /// Go's `%v` rendering, used in `distinct singletons (a vs b)`.
    fn go_string(&self) -> String;
}

/// Numbers and booleans: Go's `%v` prints them as `Display` does.
macro_rules! displayed_singleton_values {
    ($($ty:ty),+) => {
        $(impl SingletonValue for $ty {
            fn go_string(&self) -> String {
                self.to_string()
            }
        })+
    };
}

displayed_singleton_values!(i64, u64, bool);

impl SingletonValue for String {
    fn go_string(&self) -> String {
        self.clone()
    }
}

fn compare_singletons<T: SingletonValue>(a: &T, b: &T) -> Result<Ordering, Incompatible> {
    if a.same(b) {
        Ok(Ordering::Equal)
    } else {
        Err(Incompatible::new(IncompatibleKind::DistinctSingletons {
            left: a.go_string(),
            right: b.go_string(),
        }))
    }
}

/// A singleton kind: equal payloads compare equal (and join to
/// themselves), distinct ones are incompatible.
macro_rules! singleton_kind {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub struct $name<T>(pub T);

        impl<T: SingletonValue> Lattice for $name<T> {
            fn compare(&self, other: &Self) -> Result<Ordering, Incompatible> {
                compare_singletons(&self.0, &other.0)
            }

            fn join(&self, other: &Self) -> Result<Self, Incompatible> {
                compare_singletons(&self.0, &other.0).map(|_| self.clone())
            }
        }
    };
}

singleton_kind!(
    /// An unordered value: equal values compare equal, distinct ones are
    /// incompatible.
    Singleton
);
singleton_kind!(
    /// Go's `EqualitySingleton`: a [`Singleton`] whose payload defines its
    /// own equality (index column lists). A distinct kind so that
    /// type-mismatch messages name it as Go does.
    EqualitySingleton
);

/// A set of bits ordered by inclusion; join is union.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BitSet(pub u64);

impl Lattice for BitSet {
    fn compare(&self, other: &Self) -> Result<Ordering, Incompatible> {
        let (a, b) = (self.0, other.0);
        if a == b {
            Ok(Ordering::Equal)
        } else if a & !b == 0 {
            Ok(Ordering::Less)
        } else if b & !a == 0 {
            Ok(Ordering::Greater)
        } else {
            Err(Incompatible::new(IncompatibleKind::NonInclusiveBitSets {
                left: a,
                right: b,
            }))
        }
    }

    fn join(&self, other: &Self) -> Result<Self, Incompatible> {
        Ok(BitSet(self.0 | other.0))
    }
}

macro_rules! ordered_number {
    ($(#[$meta:meta])* $name:ident($ty:ty)) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $name(pub $ty);

        impl Lattice for $name {
            fn compare(&self, other: &Self) -> Result<Ordering, Incompatible> {
                Ok(self.0.cmp(&other.0))
            }

            fn join(&self, other: &Self) -> Result<Self, Incompatible> {
                Ok($name(self.0.max(other.0)))
            }
        }
    };
}

ordered_number!(
    /// A byte in numeric order; join is max.
    Byte(u8)
);
ordered_number!(
    /// Go `int` in numeric order; join is max.
    Int(i64)
);
ordered_number!(
    /// Go `int64` in numeric order; join is max.
    Int64(i64)
);
ordered_number!(
    /// Go `uint` in numeric order; join is max.
    Uint(u64)
);

/// A MySQL type code. Equal codes are equal; integer types are ordered
/// TINYINT < SMALLINT < MEDIUMINT < INT < BIGINT, blob/text types
/// TINY < (plain) < MEDIUM < LONG; anything else is incompatible.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FieldTp(pub u8);

/// Integer widening order (Go `compareMySQLIntegerType`).
fn integer_rank(tp: u8) -> u8 {
    match tp {
        mysql::TYPE_TINY => 0,
        mysql::TYPE_SHORT => 1,
        mysql::TYPE_INT24 => 2,
        mysql::TYPE_LONG => 3,
        _ => 4,
    }
}

/// Blob widening order (Go `compareMySQLBlobType`).
fn blob_rank(tp: u8) -> u8 {
    match tp {
        mysql::TYPE_TINY_BLOB => 0,
        mysql::TYPE_BLOB => 1,
        mysql::TYPE_MEDIUM_BLOB => 2,
        _ => 3,
    }
}

impl FieldTp {
    fn order(self, other: Self) -> Option<Ordering> {
        let (a, b) = (self.0, other.0);
        if a == b {
            Some(Ordering::Equal)
        } else if mysql::is_integer_type(a) && mysql::is_integer_type(b) {
            Some(integer_rank(a).cmp(&integer_rank(b)))
        } else if mysql::is_blob_type(a) && mysql::is_blob_type(b) {
            Some(blob_rank(a).cmp(&blob_rank(b)))
        } else {
            None
        }
    }
}

impl Lattice for FieldTp {
    fn compare(&self, other: &Self) -> Result<Ordering, Incompatible> {
        self.order(*other).ok_or_else(|| {
            Incompatible::new(IncompatibleKind::MysqlType {
                left: self.0,
                right: other.0,
            })
        })
    }

    fn join(&self, other: &Self) -> Result<Self, Incompatible> {
        match self.compare(other)? {
            Ordering::Less => Ok(*other),
            _ => Ok(*self),
        }
    }
}

/// A list where `a <= b` iff `a` is a prefix of `b` (ENUM / SET members
/// appended at the end).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct StringList(pub Vec<String>);

impl Lattice for StringList {
    fn compare(&self, other: &Self) -> Result<Ordering, Incompatible> {
        for (index, (a, b)) in self.0.iter().zip(&other.0).enumerate() {
            if a != b {
                return Err(Incompatible::new(IncompatibleKind::StringList {
                    index,
                    left: a.clone(),
                    right: b.clone(),
                }));
            }
        }
        Ok(self.0.len().cmp(&other.0.len()))
    }

    fn join(&self, other: &Self) -> Result<Self, Incompatible> {
        match self.compare(other)? {
            Ordering::Greater => Ok(self.clone()),
            _ => Ok(other.clone()),
        }
    }
}

/// Adds a bottom element (`None`) below every value of the inner lattice.
/// Inner join errors come back unwrapped, as in Go.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Maybe<L>(pub Option<L>);

impl<L: Lattice + Clone> Lattice for Maybe<L> {
    fn compare(&self, other: &Self) -> Result<Ordering, Incompatible> {
        match (&self.0, &other.0) {
            (None, None) => Ok(Ordering::Equal),
            (None, Some(_)) => Ok(Ordering::Less),
            (Some(_), None) => Ok(Ordering::Greater),
            (Some(a), Some(b)) => a.compare(b),
        }
    }

    fn join(&self, other: &Self) -> Result<Self, Incompatible> {
        match (&self.0, &other.0) {
            (None, _) => Ok(other.clone()),
            (_, None) => Ok(self.clone()),
            (Some(a), Some(b)) => Ok(Maybe(Some(a.join(b)?))),
        }
    }
}

impl Maybe<Singleton<String>> {
    /// Go's `MaybeSingletonString`: the empty string is `None`.
    pub fn from_string(s: &str) -> Self {
        if s.is_empty() {
            Maybe(None)
        } else {
            Maybe(Some(Singleton(s.to_owned())))
        }
    }
}

/// A fixed-length list compared component-wise: equal components are
/// neutral, and the others must all point the same way.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tuple<L>(pub Vec<L>);

impl<L: Lattice> Lattice for Tuple<L> {
    fn compare(&self, other: &Self) -> Result<Ordering, Incompatible> {
        check_tuple_lengths(self.0.len(), other.0.len())?;
        let mut acc = TupleCompare::new();
        for (index, (a, b)) in self.0.iter().zip(&other.0).enumerate() {
            acc.field(index, a, b)?;
        }
        Ok(acc.finish())
    }

    fn join(&self, other: &Self) -> Result<Self, Incompatible> {
        check_tuple_lengths(self.0.len(), other.0.len())?;
        self.0
            .iter()
            .zip(&other.0)
            .enumerate()
            .map(|(index, (a, b))| join_field(index, a, b))
            .collect::<Result<Vec<_>, _>>()
            .map(Tuple)
    }
}

fn check_tuple_lengths(left: usize, right: usize) -> Result<(), Incompatible> {
    if left == right {
        Ok(())
    } else {
        Err(Incompatible::new(IncompatibleKind::TupleLength {
            left,
            right,
        }))
    }
}

/// How a [`LatticeMap`] treats a key present on one side only.
pub trait MapPolicy<V> {
    /// Drop keys whose values cannot be joined instead of failing.
    const DELETE_INCOMPATIBLE: bool;

    /// Order of "value present" against "key absent".
    fn compare_with_nil(value: &V) -> Result<Ordering, Incompatible>;

    /// The joined entry for a key present on one side only (`None` drops it).
    fn join_with_nil(value: &V) -> Result<Option<V>, Incompatible>;
}

/// String-keyed map of lattice values with a [`MapPolicy`] for missing keys.
///
/// Go iterates its maps in random order, which only changes *which* error is
/// reported. Here the left map's keys are visited in sorted order, then the
/// keys only the right map has, also sorted, so messages are deterministic
/// and, where Go's own order is forced (left keys before right-only keys),
/// identical to Go's.
pub struct LatticeMap<V, P> {
    /// Entries by key (column or index name, lower-case). Keys are shared so
    /// that a join copies no strings.
    pub entries: BTreeMap<Arc<str>, V>,
    policy: PhantomData<fn() -> P>,
}

impl<V, P> LatticeMap<V, P> {
    /// Wraps the entries.
    pub fn new(entries: BTreeMap<Arc<str>, V>) -> Self {
        LatticeMap {
            entries,
            policy: PhantomData,
        }
    }

    /// Visits left keys (with the right value if any), then right-only keys.
    fn visit<E>(
        &self,
        other: &Self,
        mut action: impl FnMut(&Arc<str>, Option<&V>, Option<&V>) -> Result<(), E>,
    ) -> Result<(), E> {
        for (key, a) in &self.entries {
            action(key, Some(a), other.entries.get(key))?;
        }
        for (key, b) in &other.entries {
            if !self.entries.contains_key(key) {
                action(key, None, Some(b))?;
            }
        }
        Ok(())
    }
}

impl<V: Lattice + Clone, P: MapPolicy<V>> Lattice for LatticeMap<V, P> {
    fn compare(&self, other: &Self) -> Result<Ordering, Incompatible> {
        let mut acc = Ordering::Equal;
        self.visit(other, |key, a, b| {
            let next = match (a, b) {
                (Some(a), Some(b)) => a.compare(b),
                (Some(a), None) => P::compare_with_nil(a),
                (None, Some(b)) => P::compare_with_nil(b).map(Ordering::reverse),
                (None, None) => Ok(Ordering::Equal),
            }
            .map_err(|e| e.at_map_key(key))?;
            acc = combine(acc, next).map_err(|e| e.at_map_key(key))?;
            Ok(())
        })?;
        Ok(acc)
    }

    fn join(&self, other: &Self) -> Result<Self, Incompatible> {
        let mut entries = BTreeMap::new();
        self.visit(other, |key, a, b| {
            let joined = match (a, b) {
                (Some(a), Some(b)) => a.join(b).map(Some),
                (Some(v), None) | (None, Some(v)) => P::join_with_nil(v),
                (None, None) => Ok(None),
            };
            match joined {
                Ok(Some(value)) => {
                    entries.insert(Arc::clone(key), value);
                }
                Ok(None) => {}
                Err(_) if P::DELETE_INCOMPATIBLE => {}
                Err(e) => return Err(e.at_map_key(key)),
            }
            Ok(())
        })?;
        Ok(LatticeMap::new(entries))
    }
}

impl<V: Clone, P> Clone for LatticeMap<V, P> {
    fn clone(&self) -> Self {
        LatticeMap::new(self.entries.clone())
    }
}

impl<V: fmt::Debug, P> fmt::Debug for LatticeMap<V, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(&self.entries).finish()
    }
}

impl<V: PartialEq, P> PartialEq for LatticeMap<V, P> {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl<V: Eq, P> Eq for LatticeMap<V, P> {}

impl<V: Hash, P> Hash for LatticeMap<V, P> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.entries.hash(state);
    }
}

impl<L: Lattice> Lattice for Box<L> {
    fn compare(&self, other: &Self) -> Result<Ordering, Incompatible> {
        (**self).compare(other)
    }

    fn join(&self, other: &Self) -> Result<Self, Incompatible> {
        (**self).join(other).map(Box::new)
    }
}

/// A JSON column default as a singleton payload.
///
/// Go decodes `default` into `interface{}` and compares with `==`: strings,
/// booleans and numbers (as float64) compare by value and type, so `"1"`
/// differs from `1`. Arrays and objects would make Go panic; here they are
/// simply never equal to anything (TiDB never stores them).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DefaultValue(pub serde_json::Value);

impl SingletonValue for DefaultValue {
    fn same(&self, other: &Self) -> bool {
        use serde_json::Value as J;
        match (&self.0, &other.0) {
            (J::String(a), J::String(b)) => a == b,
            (J::Bool(a), J::Bool(b)) => a == b,
            (J::Number(a), J::Number(b)) => match (a.as_f64(), b.as_f64()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
            (J::Null, J::Null) => true,
            _ => false,
        }
    }

    fn go_string(&self) -> String {
        use serde_json::Value as J;
        match &self.0 {
            J::String(s) => s.clone(),
            J::Bool(b) => b.to_string(),
            J::Number(n) => n.as_f64().map(go_float).unwrap_or_else(|| n.to_string()),
            J::Null => "<nil>".to_owned(),
            other => other.to_string(),
        }
    }
}

/// Index key parts `(column L name, prefix length)`; `-1` = whole column.
/// Printed like Go prints the `[]indexColumn` slice: `[{a -1} {b 10}]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct IndexColumns(pub Vec<(String, i64)>);

impl SingletonValue for IndexColumns {
    fn go_string(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(name, length)| format!("{{{name} {length}}}"))
            .collect();
        format!("[{}]", parts.join(" "))
    }
}

/// An index type code, printed with TiDB's names (`BTREE`, `HASH`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IndexType(pub i64);

impl SingletonValue for IndexType {
    fn go_string(&self) -> String {
        mysql::index_type_name(self.0).to_owned()
    }
}

#[cfg(test)]
mod tests;
