//! A TiDB `TableInfo` read from its JSON text member by member, its large
//! members (the columns, the indices) remembered by their text.
//!
//! PURE: no async, no I/O. The memo is process-wide behind a mutex, as the
//! chunk interner beside it is.
//!
//! Why: the Infos of one shard lock carry TableInfos that differ only in
//! small members (`id`, `name`), while the columns are the same text from
//! table to table. Parsing each Info into a value tree, re-encoding it to
//! intern its chunks and decoding it into a schema was most of the work of
//! answering an Info of a 1,000-table lock. A member whose text was read
//! before now costs a hash and a compare: its Go text and its decoded field
//! are taken from the memo.
//!
//! The result is what the value path gives ([`TableInfoJson::from_value`]
//! and `TableInfo::from_json_value` of the parsed text): members are read in
//! document order, a repeated key keeps its first position and its last
//! value (as a parsed object does), each member is decoded on its own into
//! the same struct (`TableInfo::decode_member`), and the first member that
//! does not decode is the error.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use indexmap::IndexMap;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

use super::{Chunker, TableInfoJson, LARGE_FIELD};
use crate::gojson;
use crate::optimism::schemas::{decode_value, Decoded, NULL_TABLE_INFO};
use crate::schemacmp::Table;
use crate::tableinfo::json::Path;
use crate::tableinfo::{TableInfo, TableInfoError};

/// One TableInfo read from its text: its interned Go text and, when asked
/// for, its schema (or why it has none).
pub(crate) struct ReadTableInfo {
    pub(crate) json: TableInfoJson,
    pub(crate) schema: Option<Decoded>,
}

/// Reads the TableInfo JSON `text` (an object or `null`, as an Info holds;
/// anything else takes the value path). `with_schema` also decodes it.
/// The error is the parser's: the text, or one of its members, is not JSON
/// (a member nested deeper than the parser allows).
pub(crate) fn read_table_info(
    text: &str,
    with_schema: bool,
) -> Result<ReadTableInfo, serde_json::Error> {
    Ok(match text.trim_start().as_bytes().first() {
        Some(b'n') if text.trim() == "null" => ReadTableInfo {
            json: TableInfoJson::null(),
            schema: with_schema.then(|| Err(NULL_TABLE_INFO.to_owned())),
        },
        Some(b'{') => read_members(serde_json::from_str(text)?, with_schema)?,
        _ => {
            let value: Value = serde_json::from_str(text)?;
            ReadTableInfo {
                json: TableInfoJson::from_value(&value),
                schema: with_schema.then(|| decode_value(value)),
            }
        }
    })
}

/// The schema of the TableInfo JSON `text` (see [`read_table_info`]).
pub(crate) fn schema_of(text: &str) -> Decoded {
    match read_table_info(text, true) {
        Ok(ReadTableInfo {
            schema: Some(schema),
            ..
        }) => schema,
        Ok(ReadTableInfo { schema: None, .. }) => {
            Err("table info schema was not decoded".to_owned())
        }
        Err(e) => Err(format!("table info text does not parse: {e}")),
    }
}

fn read_members(
    members: Members<'_>,
    with_schema: bool,
) -> Result<ReadTableInfo, serde_json::Error> {
    let mut chunker = Chunker::default();
    let mut table = with_schema.then(TableInfo::decoding);
    let mut error: Option<TableInfoError> = None;
    let mut field = Vec::new();
    for (key, raw) in members.0 {
        // A schema stops at the first member that does not decode.
        let decoding = table.as_mut().filter(|_| error.is_none());
        if raw.get().len() >= LARGE_FIELD {
            let member = remembered(&key, raw.get())?;
            chunker.push_interned(&member.text);
            match (decoding, &member.decoded) {
                (Some(table), Ok(decoded)) => table.copy_member(decoded, &key),
                (Some(_), Err(e)) => error = Some(e.clone()),
                (None, _) => {}
            }
        } else {
            let value: Value = serde_json::from_str(raw.get())?;
            field.clear();
            write_field(&mut field, &key, &value);
            chunker.push(&field);
            if let Some(table) = decoding {
                if let Err(e) = table.decode_member(key.into_owned(), value, &Path::root()) {
                    error = Some(e);
                }
            }
        }
    }
    Ok(ReadTableInfo {
        json: chunker.finish(),
        schema: table.map(|table| match error {
            Some(e) => Err(e.to_string()),
            None => Ok(Table::from_table_info(&table)),
        }),
    })
}

/// `"key":value` as Go writes a struct field.
fn write_field(out: &mut Vec<u8>, key: &str, value: &Value) {
    gojson::write_str(out, key);
    out.push(b':');
    gojson::write_value(out, value);
}

/// The members of one object, a repeated key at its first position with its
/// last value.
struct Members<'a>(IndexMap<Cow<'a, str>, &'a RawValue>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = IndexMap::new();
                while let Some(MemberKey(key)) = map.next_key()? {
                    members.insert(key, map.next_value()?);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(MembersVisitor)
    }
}

/// A member's key, borrowed from the text unless it has escapes.
#[derive(serde::Deserialize)]
struct MemberKey<'a>(#[serde(borrow)] Cow<'a, str>);

/// One large member as read once: its Go text (interned) and the struct
/// holding just that member decoded, or why it does not decode.
struct Member {
    key: Box<str>,
    raw: Box<str>,
    text: Arc<str>,
    decoded: Result<TableInfo, TableInfoError>,
}

/// At most this many large members are remembered. When full, the memo is
/// emptied: the members of the locks being answered come back at once, and
/// a bound keeps memory flat however many distinct schemas pass through.
const MEMO_CAPACITY: usize = 256;

struct Memo {
    hasher: RandomState,
    buckets: HashMap<u64, Vec<Arc<Member>>>,
    len: usize,
}

static MEMO: LazyLock<Mutex<Memo>> = LazyLock::new(|| {
    Mutex::new(Memo {
        hasher: RandomState::new(),
        buckets: HashMap::new(),
        len: 0,
    })
});

/// The member `key` with the value text `raw`, read now or before.
fn remembered(key: &str, raw: &str) -> Result<Arc<Member>, serde_json::Error> {
    let hash = {
        let memo = MEMO.lock().unwrap_or_else(PoisonError::into_inner);
        let hash = memo.hasher.hash_one((key, raw));
        if let Some(member) = memo.buckets.get(&hash).and_then(|bucket| {
            bucket
                .iter()
                .find(|m| &*m.key == key && &*m.raw == raw)
                .cloned()
        }) {
            return Ok(member);
        }
        hash
    };
    // Read outside the lock: other readers need not wait for it.
    let member = Arc::new(read_member(key, raw)?);
    let mut memo = MEMO.lock().unwrap_or_else(PoisonError::into_inner);
    if memo.len >= MEMO_CAPACITY {
        memo.buckets.clear();
        memo.len = 0;
    }
    memo.buckets
        .entry(hash)
        .or_default()
        .push(Arc::clone(&member));
    memo.len += 1;
    Ok(member)
}

fn read_member(key: &str, raw: &str) -> Result<Member, serde_json::Error> {
    let value: Value = serde_json::from_str(raw)?;
    let mut text = Vec::new();
    write_field(&mut text, key, &value);
    let mut decoded = TableInfo::decoding();
    let decoded = decoded
        .decode_member(key.to_owned(), value, &Path::root())
        .map(|()| decoded);
    Ok(Member {
        key: key.into(),
        raw: raw.into(),
        text: super::intern(&text),
        decoded,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    /// Reads `text` member by member, twice (the second time from the
    /// memo), and checks both against the value path.
    fn check_same_as_value_path(text: &str) {
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            return;
        };
        let json = TableInfoJson::from_value(&value);
        let schema = decode_value(value);
        for _ in 0..2 {
            let read = read_table_info(text, true).expect("parses");
            assert_eq!(read.json, json, "{text}");
            assert_eq!(read.schema.as_ref(), Some(&schema), "{text}");
            assert_eq!(
                read_table_info(text, false).expect("parses").json,
                json,
                "{text}"
            );
        }
    }

    fn fixtures() -> Vec<Value> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let mut out: Vec<_> = std::fs::read_dir(dir)
            .expect("tests/fixtures")
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|e| e == "json"))
            .map(|path| {
                serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("JSON")
            })
            .collect();
        assert!(!out.is_empty());
        out.push(Value::Null);
        out
    }

    /// Values of every JSON type, for members that must reject most of them.
    fn wrong_values() -> Vec<Value> {
        vec![
            json!(null),
            json!(1),
            json!(-1),
            json!(1.5),
            json!(300),
            json!("x"),
            json!(true),
            json!([]),
            json!([1]),
            json!({}),
            json!({"Tp": "x"}),
            json!([{"name": 1}]),
            json!([{"type": {"Flen": "wide", "Tp": 3}}, {"id": 2}]),
        ]
    }

    fn object_text(members: &[(String, Value)]) -> String {
        let fields: Vec<String> = members
            .iter()
            .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), v))
            .collect();
        format!("{{{}}}", fields.join(","))
    }

    #[test]
    fn fixtures_and_their_variants_read_as_the_value_path_reads_them() {
        let mut texts = Vec::new();
        for fixture in fixtures() {
            texts.push(fixture.to_string());
            // Whitespace: the memo's key is the text, its chunk Go's text.
            texts.push(serde_json::to_string_pretty(&fixture).expect("JSON"));
            let Value::Object(map) = &fixture else {
                continue;
            };
            let members: Vec<(String, Value)> =
                map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            for i in 0..members.len() {
                for (w, wrong) in wrong_values().into_iter().enumerate() {
                    // One member of the wrong type.
                    let mut changed = members.clone();
                    changed[i].1 = wrong.clone();
                    texts.push(object_text(&changed));
                    if w % 4 != i % 4 {
                        continue;
                    }
                    // A repeat: a bad value first, the good one last, and
                    // the other way round; a repeat in other letter case.
                    let mut repeated = members.clone();
                    repeated.insert(i, (members[i].0.clone(), wrong.clone()));
                    texts.push(object_text(&repeated));
                    let mut repeated = members.clone();
                    repeated.push((members[i].0.clone(), wrong.clone()));
                    texts.push(object_text(&repeated));
                    let mut folded = members.clone();
                    folded.push((members[i].0.to_uppercase(), wrong));
                    texts.push(object_text(&folded));
                }
                // A member removed; an unknown member, large and small.
                let mut removed = members.clone();
                removed.remove(i);
                texts.push(object_text(&removed));
                let mut unknown = members.clone();
                unknown.insert(i, ("x_unknown".into(), json!({"big": "y".repeat(80)})));
                unknown.insert(i, ("y_unknown".into(), json!(1)));
                texts.push(object_text(&unknown));
            }
            // Each column's members of the wrong type (inside the large
            // `cols` member, so from the memo on the second read).
            if let Some(Value::Array(cols)) = map.get("cols") {
                for (c, col) in cols.iter().enumerate() {
                    let Value::Object(col) = col else { continue };
                    for (k, key) in col.keys().enumerate() {
                        let wrong_ones = wrong_values().into_iter().enumerate();
                        for (_, wrong) in wrong_ones.filter(|(w, _)| w % 4 == (c + k) % 4) {
                            let mut changed = fixture.clone();
                            changed["cols"][c][key.as_str()] = wrong;
                            texts.push(changed.to_string());
                        }
                    }
                }
            }
        }
        for seed in crate::decoder_fuzz::mutated_seeds(
            &texts[..8]
                .iter()
                .map(|t| t.clone().into_bytes())
                .collect::<Vec<_>>(),
            2_000,
            0x5eed,
        ) {
            if let Ok(text) = String::from_utf8(seed) {
                texts.push(text);
            }
        }
        assert!(texts.len() > 1_000, "{} texts", texts.len());
        for text in &texts {
            check_same_as_value_path(text);
        }
    }

    /// A table built by copying each member from a struct that decoded
    /// only that member is the table decoded whole, down to what its
    /// re-encoding keeps (key order, `[]` against `null`, unknown keys).
    #[test]
    fn members_copied_one_by_one_make_the_table_decoded_whole() {
        let mut texts = Vec::new();
        for fixture in fixtures() {
            let Value::Object(map) = &fixture else {
                continue;
            };
            texts.push(fixture.to_string());
            let mut edited = map.clone();
            edited.insert("index_info".into(), json!([]));
            edited.insert("Charset".into(), json!("latin1"));
            edited.insert("z_unknown".into(), json!({"a": [1, 2]}));
            edited.shift_remove("collate");
            texts.push(Value::Object(edited).to_string());
        }
        for text in texts {
            let whole = TableInfo::from_json_str(&text).expect("decodes");
            let members: Members<'_> = serde_json::from_str(&text).expect("an object");
            let mut copied = TableInfo::decoding();
            for (key, raw) in members.0 {
                let mut one = TableInfo::decoding();
                let value = serde_json::from_str(raw.get()).expect("a member");
                one.decode_member(key.to_string(), value, &Path::root())
                    .expect("decodes");
                copied.copy_member(&one, &key);
            }
            assert_eq!(copied, whole, "{text}");
            assert_eq!(copied.to_json_value(), whole.to_json_value(), "{text}");
        }
    }

    #[test]
    fn tables_that_differ_in_small_members_share_the_large_ones() {
        let fixture = fixtures().remove(0);
        let mut other = fixture.clone();
        other["name"] = json!({"O": "another_table", "L": "another_table"});
        let a = read_table_info(&fixture.to_string(), true).expect("parses");
        let b = read_table_info(&other.to_string(), true).expect("parses");
        assert_ne!(a.json, b.json);
        // The columns' chunk is one allocation, and so is the memo's text.
        let cols = |t: &TableInfoJson| {
            t.chunks()
                .iter()
                .find(|c| c.starts_with("\"cols\":"))
                .cloned()
                .expect("a cols chunk")
        };
        assert!(Arc::ptr_eq(&cols(&a.json), &cols(&b.json)));
        assert_eq!(a.schema, b.schema);
    }
}
