//! [`Fields`]: one JSON object decoded into a Go struct, field by field:
//! Go's case-insensitive name matching, repeated fields in document order,
//! `null` keeping the zero value, and typed getters for strings, numbers,
//! slices, maps and nested structs.

use serde_json::value::RawValue;
use serde_json::Value;

use super::decode::{
    decode_go_lossy, int_of, kind, replace_lone_surrogates, syntax, type_error, TopLevel,
};
use super::DecodeError;

/// Whether the JSON key `key` fills the Go field named `field`: the same
/// name, or else the same after Go's case folding.
pub(super) fn names_field(key: &str, field: &str) -> bool {
    key == field || fold_matches(key, field)
}

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
        Self::parse_deferring(bytes, target, &[]).map(|(fields, _)| fields)
    }

    /// [`Fields::parse`], except that the fields named in `deferred` are
    /// not parsed into values: their members are returned as text, to be
    /// read by what knows their type (a large nested struct whose parts
    /// repeat from one document to the next).
    pub fn parse_deferring(
        bytes: &[u8],
        target: &'static str,
        deferred: &[&str],
    ) -> Result<(Self, RawFields), DecodeError> {
        let text = decode_go_lossy(bytes);
        let text = replace_lone_surrogates(&text);
        let (entries, raw) = match TopLevel::read(&text, deferred).map_err(syntax)? {
            TopLevel::Null => (Vec::new(), Vec::new()),
            TopLevel::Object(entries, raw) => (entries, raw),
            TopLevel::Other(found) => return Err(type_error(target, target, found)),
        };
        Ok((
            Self { target, entries },
            RawFields {
                target,
                entries: raw,
            },
        ))
    }

    /// Every value given for `field`, in document order. A key names the field
    /// if it equals it, or else if it equals it after Go's case folding.
    pub fn all<'a>(&'a self, field: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.entries
            .iter()
            .filter(move |(k, _)| names_field(k, field))
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

/// The members that [`Fields::parse_deferring`] kept as text, in document
/// order (repeats kept), with the typed getters of [`Fields`] for struct
/// fields: a type is checked from the text's first character, and the
/// value is handed out as text.
#[derive(Debug)]
pub struct RawFields {
    target: &'static str,
    entries: Vec<(String, Box<RawValue>)>,
}

impl RawFields {
    fn all<'a>(&'a self, field: &'a str) -> impl Iterator<Item = &'a RawValue> + 'a {
        self.entries
            .iter()
            .filter(move |(k, _)| names_field(k, field))
            .map(|(_, v)| &**v)
    }

    fn path(&self, field: &str) -> String {
        format!("{}.{}", self.target, field)
    }

    /// [`Fields::object`] as text: the last object given, `None` for
    /// `null` or absent; a value of another type is the error.
    pub fn object<'a>(&'a self, field: &'a str) -> Result<Option<&'a str>, DecodeError> {
        let mut out = None;
        for v in self.all(field) {
            out = match raw_kind(v) {
                "null" => None,
                "object" => Some(v.get()),
                other => return Err(type_error(&self.path(field), "struct", other)),
            };
        }
        Ok(out)
    }

    /// [`Fields::object_list`] as text: the elements of the last array
    /// given, each an object or `null`; `None` for `null` or absent.
    pub fn object_list<'a>(&'a self, field: &'a str) -> Result<Option<Vec<&'a str>>, DecodeError> {
        let mut out = None;
        for v in self.all(field) {
            out = match raw_kind(v) {
                "null" => None,
                "array" => {
                    let items: Vec<&RawValue> = serde_json::from_str(v.get()).map_err(syntax)?;
                    for item in &items {
                        if !matches!(raw_kind(item), "null" | "object") {
                            return Err(type_error(&self.path(field), "struct", raw_kind(item)));
                        }
                    }
                    Some(items.into_iter().map(RawValue::get).collect())
                }
                other => return Err(type_error(&self.path(field), "[]struct", other)),
            };
        }
        Ok(out)
    }
}

/// Go's name for the kind of a JSON value kept as text (see [`kind`]),
/// read from its first character: the text is JSON the parser accepted.
fn raw_kind(v: &RawValue) -> &'static str {
    match v.get().trim_start().as_bytes().first() {
        Some(b'n') => "null",
        Some(b't' | b'f') => "bool",
        Some(b'"') => "string",
        Some(b'[') => "array",
        Some(b'{') => "object",
        _ => "number",
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
