//! Reading a document as Go does: lossy UTF-8 one byte at a time, lone
//! surrogate escapes as U+FFFD, the kind names and errors `json.Unmarshal`
//! reports, and the top-level shape (`null`, an object, anything else).

use std::borrow::Cow;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Number, Value};

use super::fields::names_field;
use super::DecodeError;

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
pub(super) fn replace_lone_surrogates(s: &str) -> Cow<'_, str> {
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

pub(super) fn syntax(e: serde_json::Error) -> DecodeError {
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

pub(super) fn number_error(n: &Number, path: &str) -> DecodeError {
    DecodeError::Type {
        path: path.to_owned(),
        expected: "int",
        found: format!("number {n}"),
    }
}

pub(super) fn type_error(path: &str, expected: &'static str, found: &str) -> DecodeError {
    DecodeError::Type {
        path: path.to_owned(),
        expected,
        found: found.to_owned(),
    }
}

/// The top level of a document decoded into a Go struct.
pub(super) enum TopLevel {
    Null,
    /// The members, parsed, and those left as text (see [`TopLevelSeed`]).
    Object(Vec<(String, Value)>, Vec<(String, Box<RawValue>)>),
    Other(&'static str),
}

impl TopLevel {
    /// Reads `text` (already as Go reads it, see [`decode_go_lossy`]),
    /// leaving as text the members whose key names one of `deferred`.
    pub(super) fn read(text: &str, deferred: &[&str]) -> Result<Self, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(text);
        let top = TopLevelSeed { deferred }.deserialize(&mut de)?;
        de.end()?;
        Ok(top)
    }
}

/// Reads the top level; a member whose key names a field in `deferred` (as
/// Go matches names, see [`names_field`]) is kept as its text.
struct TopLevelSeed<'a> {
    deferred: &'a [&'a str],
}

impl<'de> DeserializeSeed<'de> for TopLevelSeed<'_> {
    type Value = TopLevel;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<TopLevel, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevelSeed<'_> {
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
        let mut raw = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            if self.deferred.iter().any(|field| names_field(&k, field)) {
                raw.push((k, map.next_value::<Box<RawValue>>()?));
            } else {
                entries.push((k, map.next_value::<Value>()?));
            }
        }
        Ok(TopLevel::Object(entries, raw))
    }
}
