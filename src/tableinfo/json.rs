//! Go-compatible JSON decoding and order-preserving re-encoding for the
//! `tableinfo` structs.
//!
//! PURE: no async, no I/O.
//!
//! Decoding mirrors Go's `encoding/json` as used by TiDB and DM:
//! - unknown keys are accepted (and kept, see [`JsonExtra`]);
//! - missing keys and `null` leave the zero value;
//! - keys match exactly first, then case-insensitively (`"tp"` fills `Tp`);
//! - when several keys land on the same field, the last one wins;
//! - a value of the wrong JSON type, or a number that does not fit the Go
//!   field type (e.g. `1.5` or `300` for a `byte`), is an error.
//!
//! Re-encoding reproduces the source object: every key comes back at its
//! original position, unknown keys keep their original values, and typed
//! fields that the source lacked are inserted where TiDB would emit them.

use serde_json::{Map, Value};

/// Why a TiDB `TableInfo` JSON value could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableInfoError {
    /// A value has a JSON type that the Go field cannot hold.
    #[error("{path}: expected {expected}, found {found}")]
    UnexpectedType {
        /// JSONPath-like location, e.g. `$.cols[2].type.Flen`.
        path: String,
        /// What the field needs.
        expected: &'static str,
        /// What the JSON held.
        found: String,
    },
    /// A number does not fit the Go integer type of the field.
    #[error("{path}: number {number} does not fit {expected}")]
    OutOfRange {
        /// JSONPath-like location.
        path: String,
        /// The number as written.
        number: String,
        /// The Go type, e.g. `uint8`.
        expected: &'static str,
    },
    /// The text is not JSON at all.
    #[error("table info is not valid JSON: {message}")]
    Syntax {
        /// The parser's message.
        message: String,
    },
}

/// Location inside the JSON document, rendered only when an error occurs so
/// that successful decoding does not allocate for it.
pub(crate) struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    segment: Segment<'a>,
}

enum Segment<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

impl<'a> Path<'a> {
    pub(crate) fn root() -> Path<'static> {
        Path {
            parent: None,
            segment: Segment::Root,
        }
    }

    pub(crate) fn key(&'a self, key: &'a str) -> Path<'a> {
        Path {
            parent: Some(self),
            segment: Segment::Key(key),
        }
    }

    fn index(&'a self, index: usize) -> Path<'a> {
        Path {
            parent: Some(self),
            segment: Segment::Index(index),
        }
    }

    fn render(&self) -> String {
        let mut segments = Vec::new();
        let mut cursor = Some(self);
        while let Some(path) = cursor {
            segments.push(&path.segment);
            cursor = path.parent;
        }
        let mut out = String::from("$");
        for segment in segments.into_iter().rev() {
            match segment {
                Segment::Root => {}
                Segment::Key(key) => {
                    out.push('.');
                    out.push_str(key);
                }
                Segment::Index(index) => {
                    out.push('[');
                    out.push_str(&index.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(_) => "string".to_owned(),
        Value::Array(_) => "array".to_owned(),
        Value::Object(_) => "object".to_owned(),
    }
}

fn unexpected(path: &Path<'_>, expected: &'static str, found: &Value) -> TableInfoError {
    TableInfoError::UnexpectedType {
        path: path.render(),
        expected,
        found: describe(found),
    }
}

/// A field of a TiDB struct that knows its Go JSON rules.
pub(crate) trait JsonField: Sized + Default {
    /// Decodes `value`; `null` always yields the zero value.
    fn decode(value: Value, path: &Path<'_>) -> Result<Self, TableInfoError>;

    /// Encodes the field. `keep_empty_array` tells list fields that the
    /// source held `[]` rather than `null` (Go keeps that distinction: a nil
    /// slice encodes as `null`, an empty one as `[]`).
    fn encode(&self, keep_empty_array: bool) -> Value;

    /// Whether the field holds its zero value (for Go's `omitempty`).
    fn is_zero(&self) -> bool {
        false
    }
}

/// Go integer fields. `$read` reads the JSON number in the type's own
/// signedness; a number that only `$other_sign` accepts (a negative number
/// for an unsigned type, one beyond `i64` for a signed one) is out of range,
/// as is one that does not fit the narrower Rust type.
macro_rules! json_integer {
    ($read:ident, $other_sign:ident: $($ty:ty => $go:literal),*) => {$(
        impl JsonField for $ty {
            fn decode(value: Value, path: &Path<'_>) -> Result<Self, TableInfoError> {
                match &value {
                    Value::Null => Ok(0),
                    Value::Number(n) => {
                        let out_of_range = || TableInfoError::OutOfRange {
                            path: path.render(),
                            number: n.to_string(),
                            expected: $go,
                        };
                        match n.$read() {
                            Some(v) => <$ty>::try_from(v).map_err(|_| out_of_range()),
                            None if n.$other_sign() => Err(out_of_range()),
                            None => Err(unexpected(path, "integer", &value)),
                        }
                    }
                    _ => Err(unexpected(path, "integer", &value)),
                }
            }

            fn encode(&self, _keep_empty_array: bool) -> Value {
                Value::from(*self)
            }

            fn is_zero(&self) -> bool {
                *self == 0
            }
        }
    )*};
}

json_integer!(as_i64, is_u64: i64 => "int64");
json_integer!(as_u64, is_i64: u8 => "uint8", u16 => "uint16", u64 => "uint64");

impl JsonField for bool {
    fn decode(value: Value, path: &Path<'_>) -> Result<Self, TableInfoError> {
        match value {
            Value::Null => Ok(false),
            Value::Bool(b) => Ok(b),
            other => Err(unexpected(path, "boolean", &other)),
        }
    }

    fn encode(&self, _keep_empty_array: bool) -> Value {
        Value::Bool(*self)
    }

    fn is_zero(&self) -> bool {
        !*self
    }
}

impl JsonField for String {
    fn decode(value: Value, path: &Path<'_>) -> Result<Self, TableInfoError> {
        match value {
            Value::Null => Ok(String::new()),
            Value::String(s) => Ok(s),
            other => Err(unexpected(path, "string", &other)),
        }
    }

    fn encode(&self, _keep_empty_array: bool) -> Value {
        Value::String(self.clone())
    }

    fn is_zero(&self) -> bool {
        self.is_empty()
    }
}

/// Fields that TiDB declares as `interface{}`, raw bytes or nested objects
/// this model does not interpret: kept verbatim.
impl JsonField for Value {
    fn decode(value: Value, _path: &Path<'_>) -> Result<Self, TableInfoError> {
        Ok(value)
    }

    fn encode(&self, _keep_empty_array: bool) -> Value {
        self.clone()
    }

    fn is_zero(&self) -> bool {
        self.is_null()
    }
}

impl<T: JsonField> JsonField for Vec<T> {
    fn decode(value: Value, path: &Path<'_>) -> Result<Self, TableInfoError> {
        match value {
            Value::Null => Ok(Vec::new()),
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| T::decode(item, &path.index(i)))
                .collect(),
            other => Err(unexpected(path, "array", &other)),
        }
    }

    fn encode(&self, keep_empty_array: bool) -> Value {
        if self.is_empty() && !keep_empty_array {
            Value::Null
        } else {
            Value::Array(self.iter().map(|item| item.encode(false)).collect())
        }
    }

    fn is_zero(&self) -> bool {
        self.is_empty()
    }
}

/// Returns the object behind `value`, `None` for `null`, or an error.
pub(crate) fn object_or_null(
    value: Value,
    path: &Path<'_>,
) -> Result<Option<Map<String, Value>>, TableInfoError> {
    match value {
        Value::Null => Ok(None),
        Value::Object(map) => Ok(Some(map)),
        other => Err(unexpected(path, "object", &other)),
    }
}

/// Top-level decoding requires an object: a `null` table info means "no
/// schema", which callers model with `Option`, not with an empty table.
pub(crate) fn require_object(value: &Value) -> Result<(), TableInfoError> {
    match value {
        Value::Object(_) => Ok(()),
        other => Err(unexpected(&Path::root(), "object", other)),
    }
}

/// Go's field matching: an exact key first, then a case-insensitive one.
pub(crate) fn lookup_key(keys: &[&str], key: &str) -> Option<usize> {
    keys.iter()
        .position(|k| *k == key)
        .or_else(|| keys.iter().position(|k| fold_eq(k, key)))
}

fn fold_eq(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// Everything of a decoded JSON object that the typed fields do not carry:
/// the keys this model does not know (with their values) and the order in
/// which all keys appeared, so that re-encoding reproduces the object.
///
/// A value built in code (not decoded) has an empty `JsonExtra` and encodes
/// every typed field with TiDB's own key order. A decoded value only gains
/// the typed fields its source lacked when they no longer hold the zero
/// value, so objects from older TiDB versions round-trip unchanged.
///
/// Equality looks at the unknown keys and their values only: two structs
/// with the same content are equal whatever key order their sources had.
#[derive(Clone, Debug, Default)]
pub struct JsonExtra {
    /// The value came from JSON (absent zero fields stay absent).
    decoded: bool,
    /// Source keys in order: typed fields by index, unknown keys by value.
    slots: Vec<Slot>,
    /// Bit `i` set: typed field `i` appeared in the source.
    present: u64,
    /// Bit `i` set: typed field `i` held `[]` (not `null`) in the source.
    empty_arrays: u64,
}

impl PartialEq for JsonExtra {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Slot {
    Known(u8),
    Unknown(String, Value),
}

impl JsonExtra {
    /// The value of a key that no typed field interprets.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Keys no typed field interprets, in source order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> + '_ {
        self.slots.iter().filter_map(|slot| match slot {
            Slot::Unknown(k, v) => Some((k.as_str(), v)),
            Slot::Known(_) => None,
        })
    }

    /// Number of keys no typed field interprets.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether every source key was interpreted by a typed field.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn mark_decoded(&mut self) {
        self.decoded = true;
    }

    pub(crate) fn record_known(&mut self, index: usize, value: &Value) {
        self.record_known_as(
            index,
            matches!(value, Value::Array(items) if items.is_empty()),
        );
    }

    /// [`JsonExtra::record_known`] of a value that was (or was not) `[]`.
    pub(crate) fn record_known_as(&mut self, index: usize, empty_array: bool) {
        let bit = 1u64 << index;
        if self.present & bit == 0 {
            self.present |= bit;
            // `index` < 64 is checked at compile time by `json_object!`.
            self.slots.push(Slot::Known(index as u8));
        }
        if empty_array {
            self.empty_arrays |= bit;
        } else {
            self.empty_arrays &= !bit;
        }
    }

    pub(crate) fn record_unknown(&mut self, key: String, value: Value) {
        for slot in &mut self.slots {
            if let Slot::Unknown(k, v) = slot {
                if *k == key {
                    *v = value;
                    return;
                }
            }
        }
        self.slots.push(Slot::Unknown(key, value));
    }

    pub(crate) fn is_present(&self, index: usize) -> bool {
        self.present & (1u64 << index) != 0
    }

    pub(crate) fn was_empty_array(&self, index: usize) -> bool {
        self.empty_arrays & (1u64 << index) != 0
    }

    /// Builds the output object. `values[i]` is the encoding of typed field
    /// `i` (`None` when `omitempty` drops it). Typed fields absent from the
    /// source are placed just before the next typed field that follows them
    /// in TiDB's order, which keeps TiDB's order for partial objects.
    pub(crate) fn write(
        &self,
        keys: &[&str],
        mut values: Vec<Option<Value>>,
    ) -> Map<String, Value> {
        let mut out = Map::with_capacity(values.len() + self.slots.len());
        let mut emitted = 0u64;
        let mut emit = |out: &mut Map<String, Value>, emitted: &mut u64, i: usize| {
            *emitted |= 1u64 << i;
            if let (Some(key), Some(Some(value))) =
                (keys.get(i), values.get_mut(i).map(Option::take))
            {
                out.insert((*key).to_owned(), value);
            }
        };
        for slot in &self.slots {
            match slot {
                Slot::Known(index) => {
                    let index = usize::from(*index);
                    for i in 0..index {
                        if !self.is_present(i) && emitted & (1u64 << i) == 0 {
                            emit(&mut out, &mut emitted, i);
                        }
                    }
                    emit(&mut out, &mut emitted, index);
                }
                Slot::Unknown(key, value) => {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
        for i in 0..keys.len() {
            if emitted & (1u64 << i) == 0 {
                emit(&mut out, &mut emitted, i);
            }
        }
        out
    }
}

/// Encodes one typed field. A zero value is dropped when Go's `omitempty`
/// applies or when the decoded source lacked the key; a key the source
/// carried is always kept, so a round trip reproduces it.
pub(crate) fn encode_field<T: JsonField>(
    field: &T,
    extra: &JsonExtra,
    index: usize,
    omitempty: bool,
) -> Option<Value> {
    if (omitempty || extra.decoded) && field.is_zero() && !extra.is_present(index) {
        None
    } else {
        Some(field.encode(extra.was_empty_array(index)))
    }
}

/// Declares a TiDB struct: its typed fields with their JSON keys in TiDB's
/// emission order, plus the decoding / encoding glue and serde impls.
macro_rules! json_object {
    (@omit) => { false };
    (@omit omitempty) => { true };
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $key:literal $([$omit:ident])? => $field:ident : $ty:ty,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $ty,
            )*
            /// Keys this model does not interpret and the source key order,
            /// so that re-encoding a decoded value loses nothing.
            pub extra: $crate::tableinfo::JsonExtra,
        }

        impl $name {
            /// JSON keys of the typed fields, in TiDB's emission order.
            pub const JSON_KEYS: &'static [&'static str] = &[$($key),*];

            pub(crate) fn decode_json(
                value: serde_json::Value,
                path: &$crate::tableinfo::json::Path<'_>,
            ) -> Result<Self, $crate::tableinfo::TableInfoError> {
                let Some(map) = $crate::tableinfo::json::object_or_null(value, path)? else {
                    return Ok(Self::default());
                };
                let mut out = Self::decoding();
                for (key, value) in map {
                    out.decode_member(key, value, path)?;
                }
                Ok(out)
            }

            /// The zero value that members are decoded into, one by one.
            pub(crate) fn decoding() -> Self {
                let mut out = Self::default();
                out.extra.mark_decoded();
                out
            }

            /// Decodes one member of the object into `self`, as
            /// `decode_json` does for each member in turn.
            pub(crate) fn decode_member(
                &mut self,
                key: String,
                value: serde_json::Value,
                path: &$crate::tableinfo::json::Path<'_>,
            ) -> Result<(), $crate::tableinfo::TableInfoError> {
                use $crate::tableinfo::json::JsonField as _;
                let Some(index) = $crate::tableinfo::json::lookup_key(Self::JSON_KEYS, &key) else {
                    self.extra.record_unknown(key, value);
                    return Ok(());
                };
                self.extra.record_known(index, &value);
                let mut position = 0usize;
                $(
                    if index == position {
                        self.$field = <$ty>::decode(value, &path.key($key))?;
                        return Ok(());
                    }
                    position += 1;
                )*
                debug_assert!(position == Self::JSON_KEYS.len());
                Ok(())
            }

            /// Applies member `key` as `from` decoded it, `from` being
            /// [`Self::decoding`] after one [`Self::decode_member`] of that
            /// key: `self` ends as if it had decoded the member itself.
            /// (Only `TableInfo`'s top level is read member by member.)
            #[allow(dead_code)]
            pub(crate) fn copy_member(&mut self, from: &Self, key: &str) {
                let Some(index) = $crate::tableinfo::json::lookup_key(Self::JSON_KEYS, key) else {
                    if let Some(value) = from.extra.get(key) {
                        self.extra.record_unknown(key.to_owned(), value.clone());
                    }
                    return;
                };
                self.extra.record_known_as(index, from.extra.was_empty_array(index));
                let mut position = 0usize;
                $(
                    if index == position {
                        self.$field.clone_from(&from.$field);
                        return;
                    }
                    position += 1;
                )*
                debug_assert!(position == Self::JSON_KEYS.len());
            }

            pub(crate) fn encode_json(&self) -> serde_json::Value {
                let mut values = Vec::with_capacity(Self::JSON_KEYS.len());
                let mut position = 0usize;
                $(
                    values.push($crate::tableinfo::json::encode_field(
                        &self.$field,
                        &self.extra,
                        position,
                        $crate::tableinfo::json::json_object!(@omit $($omit)?),
                    ));
                    position += 1;
                )*
                debug_assert!(position == Self::JSON_KEYS.len());
                serde_json::Value::Object(self.extra.write(Self::JSON_KEYS, values))
            }
        }

        // `JsonExtra` tracks typed fields in a 64-bit mask.
        const _: () = assert!($name::JSON_KEYS.len() <= 64);

        impl $crate::tableinfo::json::JsonField for $name {
            fn decode(
                value: serde_json::Value,
                path: &$crate::tableinfo::json::Path<'_>,
            ) -> Result<Self, $crate::tableinfo::TableInfoError> {
                Self::decode_json(value, path)
            }

            fn encode(&self, _keep_empty_array: bool) -> serde_json::Value {
                self.encode_json()
            }

            fn is_zero(&self) -> bool {
                true $(&& self.$field.is_zero())* && self.extra.is_empty()
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.encode_json().serialize(serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <serde_json::Value as serde::Deserialize>::deserialize(deserializer)?;
                $crate::tableinfo::json::require_object(&value).map_err(serde::de::Error::custom)?;
                Self::decode_json(value, &$crate::tableinfo::json::Path::root())
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use json_object;
