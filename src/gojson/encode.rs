//! Writing: `json.Marshal`'s bytes for strings (HTML-safe escaping,
//! invalid UTF-8 as U+FFFD), numbers, arbitrary values (object keys in
//! document or sorted order), `nil` vs empty slices, and [`ObjectWriter`]
//! for a Go struct's fields in declaration order.

use serde_json::{Number, Value};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Append `s` as a Go JSON string literal (with quotes).
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    write_valid(out, s);
    out.push(b'"');
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
    // Byte by byte: every character Go escapes is ASCII except U+2028 and
    // U+2029 (E2 80 A8 / E2 80 A9), and no other character's UTF-8 holds
    // an ASCII byte, so runs between escapes are copied as they are.
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (escape, len): (&[u8], usize) = match b {
            b'"' => (b"\\\"", 1),
            b'\\' => (b"\\\\", 1),
            b'\n' => (b"\\n", 1),
            b'\r' => (b"\\r", 1),
            b'\t' => (b"\\t", 1),
            // Go >= 1.22; older Go wrote \u0008 and \u000c (DM gap K6).
            0x08 => (b"\\b", 1),
            0x0c => (b"\\f", 1),
            0xe2 if bytes.get(i + 1) == Some(&0x80) && bytes.get(i + 2) == Some(&0xa8) => {
                (b"\\u2028", 3)
            }
            0xe2 if bytes.get(i + 1) == Some(&0x80) && bytes.get(i + 2) == Some(&0xa9) => {
                (b"\\u2029", 3)
            }
            // Other control characters and Go's HTML-safe set.
            b if b < 0x20 || b == b'<' || b == b'>' || b == b'&' => (&[][..], 1),
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        i += len;
        start = i;
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
