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

use thiserror::Error;
// The codec tests name these through `super::*`.
#[cfg(test)]
use {serde_json::Value, std::borrow::Cow};

mod decode;
mod encode;
mod fields;

pub use decode::{decode_go_lossy, int_of, kind, parse_value};
pub use encode::{
    to_vec, to_vec_sorted, write_bytes_as_str, write_number, write_str, write_value,
    write_value_sorted, ObjectWriter,
};
pub use fields::{empty_struct, map_entries, Fields, RawFields};

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
