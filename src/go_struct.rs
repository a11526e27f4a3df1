//! Records stored as a Go struct's `encoding/json` bytes, declared once:
//! [`go_struct_json!`] takes the fields in Go's declaration order with their
//! JSON keys and writes both `decode` (lenient, as Go reads) and `encode`
//! (Go's bytes) from that one list, so the two directions cannot drift.
//!
//! `decode` first tries [`ExactReader`]: Go's own bytes of the record
//! (compact, the fields in order, strings without escapes) are read in one
//! pass without building a JSON tree. Anything else (an escape, an unknown
//! or repeated field, another order, whitespace, a `null` string, bytes
//! that are not UTF-8) goes through the general path, which reads it as
//! Go's `json.Unmarshal` does. A new leader decodes every stored Info
//! this way, so the common shape is the fast one.
//!
//! Invariant: when the exact reader yields a record, the general path
//! yields the same record (`tests` checks this on Go's encodings of
//! arbitrary records and on their mutations).
//!
//! PURE: no async, no I/O.

use crate::gojson::{DecodeError, Fields, ObjectWriter};

/// A field type of such a record: how it is read from the decoded fields
/// and written to the JSON object.
pub(crate) trait GoField: Sized {
    fn read(fields: &Fields, key: &str) -> Result<Self, DecodeError>;
    /// The value as Go's encoder writes it, or `None` to leave the whole
    /// record to the general path.
    fn read_exact(reader: &mut ExactReader<'_>) -> Option<Self>;
    fn write(&self, out: ObjectWriter, key: &str) -> ObjectWriter;
}

/// Reads a record in exactly the shape Go's `json.Marshal` writes it
/// (see the module docs); every method returns `None` on anything else.
pub(crate) struct ExactReader<'a> {
    rest: &'a str,
    first: bool,
}

impl<'a> ExactReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Option<Self> {
        let text = std::str::from_utf8(bytes).ok()?;
        Some(ExactReader {
            rest: text.strip_prefix('{')?,
            first: true,
        })
    }

    /// The next field must be `key`.
    pub(crate) fn key(&mut self, key: &str) -> Option<()> {
        if !std::mem::take(&mut self.first) {
            self.rest = self.rest.strip_prefix(',')?;
        }
        self.rest = self
            .rest
            .strip_prefix('"')?
            .strip_prefix(key)?
            .strip_prefix("\":")?;
        Some(())
    }

    /// The object ends here, and so does the value.
    pub(crate) fn finish(self) -> Option<()> {
        (self.rest == "}").then_some(())
    }

    fn literal(&mut self, word: &str) -> bool {
        match self.rest.strip_prefix(word) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// A string without escapes or control characters.
    fn plain_str(&mut self) -> Option<&'a str> {
        let body = self.rest.strip_prefix('"')?;
        let end = body
            .bytes()
            .position(|b| b == b'"' || b == b'\\' || b < 0x20)?;
        if body.as_bytes()[end] != b'"' {
            return None;
        }
        self.rest = &body[end + 1..];
        Some(&body[..end])
    }
}

impl GoField for String {
    fn read(fields: &Fields, key: &str) -> Result<Self, DecodeError> {
        fields.str(key)
    }
    fn read_exact(reader: &mut ExactReader<'_>) -> Option<Self> {
        reader.plain_str().map(str::to_owned)
    }
    fn write(&self, out: ObjectWriter, key: &str) -> ObjectWriter {
        out.str(key, self)
    }
}

impl GoField for bool {
    fn read(fields: &Fields, key: &str) -> Result<Self, DecodeError> {
        fields.bool(key)
    }
    fn read_exact(reader: &mut ExactReader<'_>) -> Option<Self> {
        if reader.literal("true") {
            Some(true)
        } else if reader.literal("false") {
            Some(false)
        } else {
            None
        }
    }
    fn write(&self, out: ObjectWriter, key: &str) -> ObjectWriter {
        out.bool(key, *self)
    }
}

/// A Go `[]string`: `None` is the nil slice (`null`), kept apart from an
/// empty one (`[]`) so values round-trip byte-exact.
impl GoField for Option<Vec<String>> {
    fn read(fields: &Fields, key: &str) -> Result<Self, DecodeError> {
        fields.str_list(key)
    }
    fn read_exact(reader: &mut ExactReader<'_>) -> Option<Self> {
        if reader.literal("null") {
            return Some(None);
        }
        if !reader.literal("[") {
            return None;
        }
        let mut items = Vec::new();
        if reader.literal("]") {
            return Some(Some(items));
        }
        loop {
            items.push(reader.plain_str()?.to_owned());
            if reader.literal("]") {
                return Some(Some(items));
            }
            if !reader.literal(",") {
                return None;
            }
        }
    }
    fn write(&self, out: ObjectWriter, key: &str) -> ObjectWriter {
        out.str_list(key, self.as_deref())
    }
}

/// `go_struct_json!(Type as "GoName" { field: "json-key", ... })`: the
/// `decode` and `encode` of a record whose fields are all [`GoField`]s,
/// listed in Go's order. `GoName` names the Go type in decode errors.
macro_rules! go_struct_json {
    ($ty:ident as $go_name:literal { $($field:ident: $key:literal),+ $(,)? }) => {
        impl $ty {
            /// Decode the value stored in etcd.
            pub fn decode(bytes: &[u8]) -> Result<$ty, $crate::gojson::DecodeError> {
                match Self::decode_exact(bytes) {
                    Some(record) => Ok(record),
                    None => Self::decode_general(bytes),
                }
            }

            /// Go's own bytes of the record, read in one pass (`None`:
            /// anything else).
            pub(crate) fn decode_exact(bytes: &[u8]) -> Option<$ty> {
                let mut reader = $crate::go_struct::ExactReader::new(bytes)?;
                $(
                    reader.key($key)?;
                    let $field = $crate::go_struct::GoField::read_exact(&mut reader)?;
                )+
                reader.finish()?;
                Some($ty { $($field,)+ })
            }

            /// Any JSON, read as Go's `json.Unmarshal` does.
            pub(crate) fn decode_general(bytes: &[u8]) -> Result<$ty, $crate::gojson::DecodeError> {
                let fields = $crate::gojson::Fields::parse(bytes, $go_name)?;
                Ok($ty {
                    $($field: $crate::go_struct::GoField::read(&fields, $key)?,)+
                })
            }

            /// Encode as Go does.
            pub fn encode(&self) -> Vec<u8> {
                let out = $crate::gojson::ObjectWriter::new();
                $(let out = $crate::go_struct::GoField::write(&self.$field, out, $key);)+
                out.finish()
            }
        }
    };
}
pub(crate) use go_struct_json;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    /// One field of every kind a record can have.
    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    struct Sample {
        name: String,
        flag: bool,
        items: Option<Vec<String>>,
    }

    go_struct_json!(Sample as "Sample" {
        name: "name",
        flag: "flag",
        items: "items",
    });

    fn sample() -> impl Strategy<Value = Sample> {
        // Quotes, backslashes, control characters, HTML characters Go
        // escapes, and any other character.
        let text = "([\"\\\\\u{0}-\u{1f}<>&a-z ]|\\PC){0,6}";
        (
            text,
            any::<bool>(),
            proptest::option::of(proptest::collection::vec(text, 0..3)),
        )
            .prop_map(|(name, flag, items)| Sample { name, flag, items })
    }

    /// Characters that change a JSON document's shape when inserted.
    const INSERTS: &[u8] = b"{}[]\",:\\ nulltruefalse\x00\xff";

    #[test]
    fn go_bytes_take_the_exact_path() {
        let record = Sample {
            name: "a `b`.c".into(),
            flag: true,
            items: Some(vec!["ALTER TABLE t ADD COLUMN c INT".into(), String::new()]),
        };
        let bytes = record.encode();
        assert_eq!(Sample::decode_exact(&bytes), Some(record.clone()));
        let nil = Sample {
            items: None,
            ..record
        };
        assert_eq!(Sample::decode_exact(&nil.encode()), Some(nil));
        // Shapes Go reads but does not write go the general way.
        for other in [
            &br#"{"name":"x","flag":true,"items":null,"more":1}"#[..],
            br#"{"flag":true,"name":"x","items":null}"#,
            br#"{"NAME":"x","flag":true,"items":null}"#,
            br#"{"name":"\u0078","flag":true,"items":null}"#,
            br#"{"name":"x", "flag":true,"items":null}"#,
            br#"{"name":"x","flag":true,"items":null} "#,
            br#"{"name":null,"flag":true,"items":null}"#,
        ] {
            assert_eq!(
                Sample::decode_exact(other),
                None,
                "{}",
                String::from_utf8_lossy(other)
            );
            assert_eq!(
                Sample::decode(other).unwrap().name,
                if other.starts_with(br#"{"name":null"#) {
                    ""
                } else {
                    "x"
                }
            );
        }
    }

    proptest! {
        #[test]
        fn exact_path_agrees_with_the_general_one(record in sample()) {
            let bytes = record.encode();
            prop_assert_eq!(Sample::decode(&bytes), Ok(record.clone()));
            if let Some(exact) = Sample::decode_exact(&bytes) {
                prop_assert_eq!(exact, record);
            }
        }

        #[test]
        fn mutated_values_read_alike_or_go_the_general_way(
            record in sample(),
            at in any::<prop::sample::Index>(),
            insert in prop::sample::select(INSERTS),
            delete in any::<bool>(),
        ) {
            let mut bytes = record.encode();
            let i = at.index(bytes.len() + 1);
            if delete && i < bytes.len() {
                bytes.remove(i);
            } else {
                bytes.insert(i, insert);
            }
            if let Some(exact) = Sample::decode_exact(&bytes) {
                prop_assert_eq!(Sample::decode_general(&bytes), Ok(exact));
            }
        }
    }
}
