//! Records stored as a Go struct's `encoding/json` bytes, declared once:
//! [`go_struct_json!`] takes the fields in Go's declaration order with their
//! JSON keys and writes both `decode` (lenient, as Go reads) and `encode`
//! (Go's bytes) from that one list, so the two directions cannot drift.
//!
//! PURE: no async, no I/O.

use crate::gojson::{DecodeError, Fields, ObjectWriter};

/// A field type of such a record: how it is read from the decoded fields
/// and written to the JSON object.
pub(crate) trait GoField: Sized {
    fn read(fields: &Fields, key: &str) -> Result<Self, DecodeError>;
    fn write(&self, out: ObjectWriter, key: &str) -> ObjectWriter;
}

impl GoField for String {
    fn read(fields: &Fields, key: &str) -> Result<Self, DecodeError> {
        fields.str(key)
    }
    fn write(&self, out: ObjectWriter, key: &str) -> ObjectWriter {
        out.str(key, self)
    }
}

impl GoField for bool {
    fn read(fields: &Fields, key: &str) -> Result<Self, DecodeError> {
        fields.bool(key)
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
