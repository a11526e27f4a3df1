//! [`Fields`]: one JSON object decoded into a Go struct, field by field:
//! Go's case-insensitive name matching, repeated fields in document order,
//! `null` keeping the zero value, and typed getters for strings, numbers,
//! slices, maps and nested structs.

use serde_json::Value;

use super::decode::{
    decode_go_lossy, int_of, kind, replace_lone_surrogates, syntax, type_error, TopLevel,
};
use super::DecodeError;

/// Go's field-name folding (`encoding/json` `foldName`) compared against an
/// ASCII field name: ASCII letters fold to upper case, and the only non-ASCII
/// characters that fold onto ASCII letters are `ſ` (→ `S`) and the Kelvin
/// sign (→ `K`).
fn fold_matches(key: &str, field: &str) -> bool {
    let mut f = field.bytes();
    for c in key.chars() {
        let folded = match c {
            '\u{17f}' => b'S',
            '\u{212a}' => b'K',
            c if c.is_ascii() => (c as u8).to_ascii_uppercase(),
            _ => return false,
        };
        match f.next() {
            Some(b) if b.to_ascii_uppercase() == folded => {}
            _ => return false,
        }
    }
    f.next().is_none()
}

/// The fields of one JSON object decoded into a Go struct, in document order
/// (repeats kept), with typed getters that follow `json.Unmarshal`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fields {
    /// Go type name, used in error paths (`Info.ddls`).
    target: &'static str,
    entries: Vec<(String, Value)>,
}

impl Fields {
    /// Parse `bytes` as the JSON of the Go struct `target`. Top-level `null`
    /// gives no fields (Go leaves the struct zero); any other non-object is a
    /// type error.
    pub fn parse(bytes: &[u8], target: &'static str) -> Result<Self, DecodeError> {
        let text = decode_go_lossy(bytes);
        let text = replace_lone_surrogates(&text);
        let entries = match serde_json::from_str::<TopLevel>(&text).map_err(syntax)? {
            TopLevel::Null => Vec::new(),
            TopLevel::Object(entries) => entries,
            TopLevel::Other(found) => return Err(type_error(target, target, found)),
        };
        Ok(Self { target, entries })
    }

    /// Every value given for `field`, in document order. A key names the field
    /// if it equals it, or else if it equals it after Go's case folding.
    pub fn all<'a>(&'a self, field: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.entries
            .iter()
            .filter(move |(k, _)| k == field || fold_matches(k, field))
            .map(|(_, v)| v)
    }

    /// Error path for `field`, e.g. `Info.ddls`.
    pub fn path(&self, field: &str) -> String {
        format!("{}.{}", self.target, field)
    }

    /// A Go `string` field: `null` keeps the previous value.
    pub fn str(&self, field: &str) -> Result<String, DecodeError> {
        let mut out = String::new();
        for v in self.all(field) {
            match v {
                Value::Null => {}
                Value::String(s) => out.clone_from(s),
                other => return Err(type_error(&self.path(field), "string", kind(other))),
            }
        }
        Ok(out)
    }

    /// A Go `bool` field: `null` keeps the previous value.
    pub fn bool(&self, field: &str) -> Result<bool, DecodeError> {
        let mut out = false;
        for v in self.all(field) {
            match v {
                Value::Null => {}
                Value::Bool(b) => out = *b,
                other => return Err(type_error(&self.path(field), "bool", kind(other))),
            }
        }
        Ok(out)
    }

    /// A Go `int64` field: `null` keeps the previous value.
    pub fn int(&self, field: &str) -> Result<i64, DecodeError> {
        let mut out = 0;
        for v in self.all(field) {
            if !v.is_null() {
                out = int_of(v, &self.path(field))?;
            }
        }
        Ok(out)
    }

    /// A Go `[]string` field: `null` (or absent) is `None`, `[]` is
    /// `Some(vec![])`; a `null` element is `""`.
    pub fn str_list(&self, field: &str) -> Result<Option<Vec<String>>, DecodeError> {
        self.nullable(field, |v| match v {
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::Null => Ok(String::new()),
                    Value::String(s) => Ok(s.clone()),
                    other => Err(type_error(&self.path(field), "string", kind(other))),
                })
                .collect(),
            other => Err(type_error(&self.path(field), "[]string", kind(other))),
        })
    }

    /// A Go pointer-to-struct field, kept as an opaque object: `null` (or
    /// absent) is `None`. A repeated field keeps the last object (Go would
    /// merge the objects' fields into one struct).
    pub fn object<'a>(&'a self, field: &'a str) -> Result<Option<&'a Value>, DecodeError> {
        self.nullable(field, |v| match v {
            Value::Object(_) => Ok(v),
            other => Err(type_error(&self.path(field), "struct", kind(other))),
        })
    }

    /// Moves out the last value given for `field`, which is what
    /// [`Fields::object`] or [`Fields::object_list`] reads; `None` when that
    /// is `null` or absent. Call it once those have accepted the field.
    pub fn take_last(&mut self, field: &str) -> Option<Value> {
        let (_, value) = self
            .entries
            .iter_mut()
            .rev()
            .find(|(k, _)| k == field || fold_matches(k, field))?;
        match std::mem::take(value) {
            Value::Null => None,
            value => Some(value),
        }
    }

    /// A Go slice of pointers to structs: `null` (or absent) is `None`; a
    /// `null` element stays `Value::Null` (a nil pointer).
    pub fn object_list<'a>(&'a self, field: &'a str) -> Result<Option<&'a [Value]>, DecodeError> {
        self.nullable(field, |v| match v {
            Value::Array(items) => {
                for item in items {
                    if !matches!(item, Value::Null | Value::Object(_)) {
                        return Err(type_error(&self.path(field), "struct", kind(item)));
                    }
                }
                Ok(items.as_slice())
            }
            other => Err(type_error(&self.path(field), "[]struct", kind(other))),
        })
    }

    /// A nilable Go field (slice or pointer): each value given replaces the
    /// previous one, `null` makes it nil (`None`); `decode` reads a value
    /// that is not `null`.
    fn nullable<'a, T>(
        &'a self,
        field: &'a str,
        mut decode: impl FnMut(&'a Value) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        let mut out = None;
        for v in self.all(field) {
            out = match v {
                Value::Null => None,
                v => Some(decode(v)?),
            };
        }
        Ok(out)
    }

    /// A Go map field with value type `T`: each given object is merged into
    /// the map (Go decodes into the existing map), `null` resets it.
    /// `Ok(None)` means nil. `each` decodes one entry's value.
    pub fn map<T>(
        &self,
        field: &str,
        mut each: impl FnMut(&Value) -> Result<T, DecodeError>,
    ) -> Result<Option<Vec<(String, T)>>, DecodeError> {
        let mut out: Option<Vec<(String, T)>> = None;
        for v in self.all(field) {
            match v {
                Value::Null => out = None,
                Value::Object(m) => {
                    let acc = out.get_or_insert_with(Vec::new);
                    for (k, item) in m {
                        acc.push((k.clone(), each(item)?));
                    }
                }
                other => return Err(type_error(&self.path(field), "map", kind(other))),
            }
        }
        Ok(out)
    }
}

/// Decode a JSON object into `(key, T)` pairs (a nested Go map); `null` is an
/// empty map.
pub fn map_entries<T>(
    v: &Value,
    path: &str,
    mut each: impl FnMut(&Value) -> Result<T, DecodeError>,
) -> Result<Vec<(String, T)>, DecodeError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Object(m) => m
            .iter()
            .map(|(k, item)| Ok((k.clone(), each(item)?)))
            .collect(),
        other => Err(type_error(path, "map", kind(other))),
    }
}

/// Check that `v` could be decoded into an empty Go struct (`struct{}`): any
/// object or `null`.
pub fn empty_struct(v: &Value, path: &str) -> Result<(), DecodeError> {
    match v {
        Value::Null | Value::Object(_) => Ok(()),
        other => Err(type_error(path, "struct {}", kind(other))),
    }
}
