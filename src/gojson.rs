//! Go `encoding/json`, byte for byte, for the values DM keeps in etcd.
//!
//! PURE: no async, no I/O.
//!
//! Several etcd transaction guards compare stored bytes with bytes the writer
//! computes (docs/protocol.md#go-json, #transactions), so what we write must be exactly what
//! `json.Marshal` writes: compact, struct fields in declaration order, map keys
//! sorted by bytes, `nil` as `null`, and Go's HTML-safe string escaping.
//!
//! Reading follows `json.Unmarshal` into a struct: unknown fields are ignored,
//! names match exactly or else case-insensitively (Go's folding), a missing
//! field or a `null` keeps the zero value (a `null` slice is `nil`, kept apart
//! from `[]` as `None`), a repeated field is applied in document order, and a
//! value of the wrong JSON type is a [`DecodeError`]. Bytes that are not UTF-8
//! become U+FFFD one byte at a time, as Go does, before parsing.
//!
//! Invariant: nothing here panics on input; every failure is a `DecodeError`.

use std::borrow::Cow;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};
use thiserror::Error;

/// A value that Go's `json.Unmarshal` would refuse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Not JSON at all (or JSON that Go and we both reject).
    #[error("invalid JSON: {message}")]
    Syntax { message: String },
    /// A JSON value of the wrong type for its Go destination. `path` names the
    /// Go type and field, e.g. `Info.ddls`.
    #[error("json: cannot unmarshal {found} into Go value {path} of type {expected}")]
    Type {
        path: String,
        expected: &'static str,
        found: String,
    },
    /// Well-typed JSON whose value the destination cannot hold.
    #[error("value {value} out of range for {path}")]
    OutOfRange { path: String, value: String },
}

/// Formats a list of strings the way Go's `%s`/`%v` prints a `[]string`:
/// `[a b c]`, `[]` when empty. Not JSON, but kept with the other Go
/// encodings: DM's error texts print DDL lists this way.
pub fn go_slice(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Append `s` as a Go JSON string literal (with quotes).
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    write_bytes_as_str(out, s.as_bytes());
}

/// Append arbitrary bytes as Go encodes a `string` holding them: as
/// [`write_str`], and each byte that is not part of valid UTF-8 becomes
/// `\ufffd`.
pub fn write_bytes_as_str(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    let mut rest = s;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                write_valid(out, valid);
                rest = &[];
            }
            Err(e) => {
                let (valid, bad) = rest.split_at(e.valid_up_to());
                // `valid` is valid UTF-8 by construction.
                write_valid(out, std::str::from_utf8(valid).unwrap_or_default());
                out.extend_from_slice(b"\\ufffd");
                // Go's decoder rejects one byte at a time.
                rest = &bad[1..];
            }
        }
    }
    out.push(b'"');
}

fn write_valid(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape: Option<&[u8]> = match c {
            '"' => Some(b"\\\""),
            '\\' => Some(b"\\\\"),
            '\n' => Some(b"\\n"),
            '\r' => Some(b"\\r"),
            '\t' => Some(b"\\t"),
            // Go >= 1.22; older Go wrote \u0008 and \u000c (DM gap K6).
            '\u{8}' => Some(b"\\b"),
            '\u{c}' => Some(b"\\f"),
            '\u{2028}' => Some(b"\\u2028"),
            '\u{2029}' => Some(b"\\u2029"),
            // Other control characters and Go's HTML-safe set.
            c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => None,
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        match escape {
            Some(e) => out.extend_from_slice(e),
            None => {
                let b = c as u32 as u8;
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        start = i + c.len_utf8();
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Append a JSON number as Go writes a value of that kind: integers in
/// decimal, floats as `strconv.AppendFloat(f, 'f' or 'e', -1, 64)` with Go's
/// exponent clean-up.
pub fn write_number(out: &mut Vec<u8>, n: &Number) {
    if let Some(i) = n.as_i64() {
        out.extend_from_slice(i.to_string().as_bytes());
    } else if let Some(u) = n.as_u64() {
        out.extend_from_slice(u.to_string().as_bytes());
    } else if let Some(f) = n.as_f64() {
        out.extend_from_slice(go_float(f).as_bytes());
    }
}

fn go_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust's `{:e}` gives the shortest round-trip digits like Go's `-1`
        // precision; Go writes the exponent sign always and at least two
        // digits, then strips the zero of `e-0X`. Exponents here are either
        // <= -7 or >= 21, so only the `+` needs adding.
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mant, exp)) if !exp.starts_with('-') => format!("{mant}e+{exp}"),
            _ => s,
        }
    } else {
        format!("{f}")
    }
}

/// Append `v`, objects keeping their own key order. Use for values that stand
/// for Go structs (fixed field order), such as a TiDB `TableInfo` read back
/// from etcd with its order preserved.
pub fn write_value(out: &mut Vec<u8>, v: &Value) {
    write_value_impl(out, v, false);
}

/// Append `v` with every object's keys sorted by bytes, as Go writes maps.
pub fn write_value_sorted(out: &mut Vec<u8>, v: &Value) {
    write_value_impl(out, v, true);
}

/// [`write_value`] into a fresh buffer.
pub fn to_vec(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value(&mut out, v);
    out
}

/// [`write_value_sorted`] into a fresh buffer.
pub fn to_vec_sorted(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_value_sorted(&mut out, v);
    out
}

fn write_value_impl(out: &mut Vec<u8>, v: &Value, sorted: bool) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            write_array(out, items, |out, item| write_value_impl(out, item, sorted));
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            if sorted {
                entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            }
            out.push(b'{');
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, k);
                out.push(b':');
                write_value_impl(out, item, sorted);
            }
            out.push(b'}');
        }
    }
}

/// `[a,b,...]`, each item written by `write_item`.
fn write_array<T>(out: &mut Vec<u8>, items: &[T], mut write_item: impl FnMut(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_item(out, item);
    }
    out.push(b']');
}

/// A Go slice: `None` is a nil slice (`null`), else [`write_array`].
fn write_slice<T>(
    out: &mut Vec<u8>,
    items: Option<&[T]>,
    write_item: impl FnMut(&mut Vec<u8>, &T),
) {
    match items {
        None => out.extend_from_slice(b"null"),
        Some(items) => write_array(out, items, write_item),
    }
}

/// Writes one compact JSON object, fields in call order (a Go struct's
/// declaration order).
///
/// ```text
/// let bytes = ObjectWriter::new().str("id", "x").bool("done", false).finish();
/// assert_eq!(bytes, br#"{"id":"x","done":false}"#);
/// ```
#[derive(Debug)]
pub struct ObjectWriter {
    out: Vec<u8>,
    empty: bool,
}

impl Default for ObjectWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ObjectWriter {
    pub fn new() -> Self {
        Self {
            out: vec![b'{'],
            empty: true,
        }
    }

    fn key(&mut self, key: &str) {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        write_str(&mut self.out, key);
        self.out.push(b':');
    }

    /// A Go `string` field.
    pub fn str(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        write_str(&mut self.out, value);
        self
    }

    /// A Go `[]string` field: `None` is a nil slice (`null`).
    pub fn str_list(mut self, key: &str, value: Option<&[String]>) -> Self {
        self.key(key);
        write_slice(&mut self.out, value, |out, item| write_str(out, item));
        self
    }

    /// A Go `bool` field.
    pub fn bool(mut self, key: &str, value: bool) -> Self {
        self.key(key);
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
        self
    }

    /// A Go integer field.
    pub fn int(mut self, key: &str, value: i64) -> Self {
        self.key(key);
        self.out.extend_from_slice(value.to_string().as_bytes());
        self
    }

    /// A field holding `value` as read (objects in their own key order).
    pub fn value(mut self, key: &str, value: &Value) -> Self {
        self.key(key);
        write_value(&mut self.out, value);
        self
    }

    /// A Go pointer field: `None` is `nil` (`null`).
    pub fn opt_value(self, key: &str, value: Option<&Value>) -> Self {
        match value {
            Some(v) => self.value(key, v),
            None => self.null(key),
        }
    }

    /// A Go slice-of-pointers field: `None` is a nil slice (`null`).
    pub fn value_list(mut self, key: &str, value: Option<&[Value]>) -> Self {
        self.key(key);
        write_slice(&mut self.out, value, write_value);
        self
    }

    /// A `null` field.
    pub fn null(mut self, key: &str) -> Self {
        self.key(key);
        self.out.extend_from_slice(b"null");
        self
    }

    /// A field whose value is already Go-encoded JSON (not checked).
    pub fn raw_json(mut self, key: &str, json: &[u8]) -> Self {
        self.key(key);
        self.out.extend_from_slice(json);
        self
    }

    /// Close the object and return its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.out.push(b'}');
        self.out
    }
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/// Bytes from etcd as Go would read them into a `string`: each byte that is
/// not part of valid UTF-8 becomes U+FFFD on its own. (Rust's
/// `String::from_utf8_lossy` replaces a whole truncated sequence with one
/// U+FFFD, which Go does not.)
pub fn decode_go_lossy(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.push_str(valid);
                return Cow::Owned(out);
            }
            Err(e) => {
                let (valid, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push('\u{fffd}');
                rest = &bad[1..];
            }
        }
    }
}

/// Go turns a `\uXXXX` escape of a lone UTF-16 surrogate into U+FFFD, where
/// serde_json refuses the document; rewrite such escapes to `\ufffd` first.
fn replace_lone_surrogates(s: &str) -> Cow<'_, str> {
    if !s.contains("\\u") {
        return Cow::Borrowed(s);
    }
    fn hex4(b: &[u8]) -> Option<u32> {
        let digits = b.get(..4)?;
        let text = std::str::from_utf8(digits).ok()?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        u32::from_str_radix(text, 16).ok()
    }
    let b = s.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    let mut in_string = false;
    while i < b.len() {
        match b[i] {
            b'"' => {
                in_string = !in_string;
                i += 1;
            }
            b'\\' if in_string => {
                let surrogate = if b.get(i + 1) == Some(&b'u') {
                    // `i + 1` is in bounds, so `i + 2` is a valid start.
                    hex4(&b[i + 2..]).filter(|u| (0xd800..0xe000).contains(u))
                } else {
                    None
                };
                if let Some(u) = surrogate {
                    let paired = (0xd800..0xdc00).contains(&u)
                        && b.get(i + 6) == Some(&b'\\')
                        && b.get(i + 7) == Some(&b'u')
                        && hex4(&b[i + 8..]).is_some_and(|l| (0xdc00..0xe000).contains(&l));
                    if paired {
                        i += 12;
                    } else {
                        let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
                        o.push_str(&s[copied..i]);
                        o.push_str("\\ufffd");
                        i += 6;
                        copied = i;
                    }
                } else {
                    // Skip the escaped character (ASCII for valid JSON; a
                    // multi-byte one is invalid and serde_json says so).
                    i += 2;
                }
            }
            _ => i += 1,
        }
    }
    match out {
        None => Cow::Borrowed(s),
        Some(mut o) => {
            o.push_str(s.get(copied..).unwrap_or_default());
            Cow::Owned(o)
        }
    }
}

/// Parse any JSON document the way Go reads it (lossy UTF-8, lone surrogates
/// as U+FFFD). Objects keep their key order; a repeated key keeps its first
/// position and its last value.
pub fn parse_value(bytes: &[u8]) -> Result<Value, DecodeError> {
    let text = decode_go_lossy(bytes);
    let text = replace_lone_surrogates(&text);
    serde_json::from_str(&text).map_err(syntax)
}

fn syntax(e: serde_json::Error) -> DecodeError {
    DecodeError::Syntax {
        message: e.to_string(),
    }
}

/// Go's name for the kind of JSON value found, for error messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Go's `json.Unmarshal` of an integer destination (`strconv.ParseInt` of the
/// literal): fractions, exponents and overflow are type errors.
pub fn int_of(v: &Value, path: &str) -> Result<i64, DecodeError> {
    match v {
        Value::Number(n) if n.is_i64() => n.as_i64().ok_or_else(|| number_error(n, path)),
        Value::Number(n) => Err(number_error(n, path)),
        other => Err(type_error(path, "int", kind(other))),
    }
}

fn number_error(n: &Number, path: &str) -> DecodeError {
    DecodeError::Type {
        path: path.to_owned(),
        expected: "int",
        found: format!("number {n}"),
    }
}

fn type_error(path: &str, expected: &'static str, found: &str) -> DecodeError {
    DecodeError::Type {
        path: path.to_owned(),
        expected,
        found: found.to_owned(),
    }
}

/// The top level of a document decoded into a Go struct.
enum TopLevel {
    Null,
    Object(Vec<(String, Value)>),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<TopLevel, E> {
        Ok(TopLevel::Null)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("bool"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("number"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("string"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TopLevel, A::Error> {
        // Consume the array so trailing-garbage checks still run.
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(TopLevel::Other("array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            entries.push((k, v));
        }
        Ok(TopLevel::Object(entries))
    }
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
        let mut out = None;
        for v in self.all(field) {
            out = match v {
                Value::Null => None,
                Value::Array(items) => Some(
                    items
                        .iter()
                        .map(|item| match item {
                            Value::Null => Ok(String::new()),
                            Value::String(s) => Ok(s.clone()),
                            other => Err(type_error(&self.path(field), "string", kind(other))),
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                other => return Err(type_error(&self.path(field), "[]string", kind(other))),
            };
        }
        Ok(out)
    }

    /// A Go pointer-to-struct field, kept as an opaque object: `null` (or
    /// absent) is `None`. A repeated field keeps the last object (Go would
    /// merge the objects' fields into one struct).
    pub fn object(&self, field: &str) -> Result<Option<Value>, DecodeError> {
        let mut out = None;
        for v in self.all(field) {
            out = match v {
                Value::Null => None,
                Value::Object(_) => Some(v.clone()),
                other => return Err(type_error(&self.path(field), "struct", kind(other))),
            };
        }
        Ok(out)
    }

    /// A Go slice of pointers to structs: `null` (or absent) is `None`; a
    /// `null` element stays `Value::Null` (a nil pointer).
    pub fn object_list(&self, field: &str) -> Result<Option<Vec<Value>>, DecodeError> {
        let mut out = None;
        for v in self.all(field) {
            out = match v {
                Value::Null => None,
                Value::Array(items) => {
                    for item in items {
                        if !matches!(item, Value::Null | Value::Object(_)) {
                            return Err(type_error(&self.path(field), "struct", kind(item)));
                        }
                    }
                    Some(items.clone())
                }
                other => return Err(type_error(&self.path(field), "[]struct", kind(other))),
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

/// Golden check of a wire codec: `bytes` decodes to `value`, and `value`
/// encodes to exactly `bytes`.
#[cfg(test)]
pub(crate) fn assert_golden<T: std::fmt::Debug + PartialEq>(
    bytes: &str,
    value: &T,
    decode: fn(&[u8]) -> Result<T, DecodeError>,
    encode: fn(&T) -> Vec<u8>,
) {
    assert_eq!(
        &decode(bytes.as_bytes()).expect(bytes),
        value,
        "decode {bytes}"
    );
    assert_eq!(
        String::from_utf8(encode(value)).unwrap(),
        bytes,
        "encode {value:?}"
    );
}

#[cfg(test)]
mod tests;
