//! Optimism `Info`: a worker's report of the DDLs of one upstream table and
//! the table's schema around them, stored under `OPTIMISM_INFO`
//! `(task, source, up_schema, up_table)`.
//!
//! PURE: no async, no I/O. Field order and names follow
//! `dm/pkg/shardddl/optimism/info.go`; `ignore-conflict` comes last because
//! Go declares it after the unserialised metadata fields.
//!
//! The TiDB `TableInfo` values stay opaque JSON here, re-encoded in the key
//! order they were read in (a Go struct's field order), so a value read from
//! etcd is written back unchanged. They are kept as compact, interned text
//! ([`TableInfoJson`]), not as parsed `serde_json::Value` trees: a lock of
//! thousands of tables keeps every table's Info, a parsed `TableInfo` is
//! about seven times the size of its text, and the tables of one lock share
//! their columns' text.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::schemas::InfoSchemas;
use crate::gojson::{self, DecodeError, Fields, ObjectWriter, RawFields};
use crate::keys;

/// One TiDB `TableInfo` (or a Go nil pointer, `null`) as the compact JSON
/// text Go would write for it, keys in the order they were read in.
///
/// The text of an object is kept in interned chunks: each large top-level
/// field (`cols`, `index_info`, ...) is one chunk, each run of small fields
/// between them another. The tables of a shard lock have the same columns
/// and differ only in small fields such as `name`, so thousands of Infos
/// share one copy of each large field ([`intern`]). Clones share everything.
///
/// Invariant: the chunks joined by `,` inside `{}` are what
/// [`gojson::write_value`] writes for the value, so the text always parses
/// back to it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TableInfoJson(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    Null,
    /// The fields' text in chunks, without the braces.
    Object(Arc<[Arc<str>]>),
    /// Anything else (only built in code; a decoded Info holds objects).
    Other(Arc<str>),
}

/// A top-level field whose text is at least this long gets a chunk of its
/// own; shorter neighbours are grouped.
const LARGE_FIELD: usize = 64;

impl TableInfoJson {
    /// Go's nil pointer.
    pub fn null() -> Self {
        Self(Repr::Null)
    }

    /// The compact text of `value`, chunked and interned.
    pub fn from_value(value: &Value) -> Self {
        let Value::Object(fields) = value else {
            if value.is_null() {
                return Self::null();
            }
            let mut out = Vec::new();
            gojson::write_value(&mut out, value);
            return Self(Repr::Other(intern(&out)));
        };
        let mut chunker = Chunker::default();
        let mut field = Vec::new();
        for (key, v) in fields {
            field.clear();
            gojson::write_str(&mut field, key);
            field.push(b':');
            gojson::write_value(&mut field, v);
            chunker.push(&field);
        }
        chunker.finish()
    }

    /// The interned chunks of an object's text.
    #[cfg(test)]
    pub(crate) fn chunks(&self) -> &[Arc<str>] {
        match &self.0 {
            Repr::Object(chunks) => chunks,
            Repr::Null | Repr::Other(_) => &[],
        }
    }

    /// `true` for Go's nil pointer.
    pub fn is_null(&self) -> bool {
        matches!(self.0, Repr::Null)
    }

    /// Append the JSON text to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match &self.0 {
            Repr::Null => out.extend_from_slice(b"null"),
            Repr::Other(text) => out.extend_from_slice(text.as_bytes()),
            Repr::Object(chunks) => {
                out.push(b'{');
                for (i, chunk) in chunks.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(chunk.as_bytes());
                }
                out.push(b'}');
            }
        }
    }

    /// The JSON text.
    pub fn to_text(&self) -> String {
        let mut out = Vec::new();
        self.write_to(&mut out);
        // Chunks are UTF-8 (see `intern`), so this never replaces anything.
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The schema of this TableInfo, or why it has none (see
    /// [`InfoSchemas`]).
    pub(crate) fn decode_schema(&self) -> Result<crate::schemacmp::Table, String> {
        members::schema_of(&self.to_text())
    }
}

/// Groups an object's fields into chunks, in order: a field whose text is
/// [`LARGE_FIELD`] long or more is a chunk of its own, the fields between
/// such are joined into one. Every reader of a TableInfo chunks through it,
/// so the same object always gives the same chunks.
#[derive(Default)]
struct Chunker {
    chunks: Vec<Arc<str>>,
    run: Vec<u8>,
}

impl Chunker {
    /// Adds the text of one field, `"key":value`.
    fn push(&mut self, field: &[u8]) {
        if field.len() >= LARGE_FIELD {
            self.end_run();
            self.chunks.push(intern(field));
        } else {
            self.extend_run(field);
        }
    }

    /// [`Chunker::push`] of a field whose text is already interned.
    fn push_interned(&mut self, field: &Arc<str>) {
        if field.len() >= LARGE_FIELD {
            self.end_run();
            self.chunks.push(Arc::clone(field));
        } else {
            self.extend_run(field.as_bytes());
        }
    }

    fn extend_run(&mut self, field: &[u8]) {
        if !self.run.is_empty() {
            self.run.push(b',');
        }
        self.run.extend_from_slice(field);
    }

    fn end_run(&mut self) {
        if !self.run.is_empty() {
            self.chunks.push(intern(&self.run));
            self.run.clear();
        }
    }

    fn finish(mut self) -> TableInfoJson {
        self.end_run();
        TableInfoJson(Repr::Object(self.chunks.into()))
    }
}

/// The one shared copy of `text` (UTF-8 from the JSON writer).
///
/// A process-wide set of weak references, so a chunk lives as long as some
/// Info holds it. Dead entries are dropped from their bucket when it is
/// visited and from the whole set each time it has doubled.
fn intern(text: &[u8]) -> Arc<str> {
    use std::collections::HashMap;
    use std::hash::{BuildHasher, RandomState};
    use std::sync::{LazyLock, Mutex, PoisonError, Weak};

    struct Chunks {
        hasher: RandomState,
        buckets: HashMap<u64, Vec<Weak<str>>>,
        sweep_at: usize,
    }
    static CHUNKS: LazyLock<Mutex<Chunks>> = LazyLock::new(|| {
        Mutex::new(Chunks {
            hasher: RandomState::new(),
            buckets: HashMap::new(),
            sweep_at: 1024,
        })
    });

    let text = String::from_utf8_lossy(text);
    let mut chunks = CHUNKS.lock().unwrap_or_else(PoisonError::into_inner);
    let hash = chunks.hasher.hash_one(&*text);
    let bucket = chunks.buckets.entry(hash).or_default();
    bucket.retain(|w| w.strong_count() > 0);
    if let Some(shared) = bucket
        .iter()
        .filter_map(Weak::upgrade)
        .find(|c| **c == *text)
    {
        return shared;
    }
    let shared: Arc<str> = Arc::from(&*text);
    bucket.push(Arc::downgrade(&shared));
    if chunks.buckets.len() > chunks.sweep_at {
        chunks.buckets.retain(|_, bucket| {
            bucket.retain(|w| w.strong_count() > 0);
            !bucket.is_empty()
        });
        chunks.sweep_at = (chunks.buckets.len() * 2).max(1024);
    }
    shared
}

impl From<Value> for TableInfoJson {
    fn from(value: Value) -> Self {
        Self::from_value(&value)
    }
}

impl From<&Value> for TableInfoJson {
    fn from(value: &Value) -> Self {
        Self::from_value(value)
    }
}

impl fmt::Debug for TableInfoJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

mod members;

const BEFORE: &str = "table-info-before";
const AFTER: &str = "table-info-after";

/// An Info read without its TableInfos, and their text: `table-info-before`
/// (`None` for `null`) and the elements of `table-info-after`.
type Shape<'a> = (Info, Option<&'a str>, Option<Vec<&'a str>>);

/// JSON keys in order: `task`, `source`, `up-schema`, `up-table`,
/// `down-schema`, `down-table`, `ddls`, `table-info-before`,
/// `table-info-after`, `ignore-conflict`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Info {
    pub task: String,
    pub source: String,
    pub up_schema: String,
    pub up_table: String,
    pub down_schema: String,
    pub down_table: String,
    /// `None` is `null`, `Some(vec![])` is `[]`.
    pub ddls: Option<Vec<String>>,
    /// TiDB `TableInfo` before the DDLs; `None` is `null`.
    pub table_info_before: Option<TableInfoJson>,
    /// TiDB `TableInfo` after each DDL; `None` is `null`. An element may be
    /// [`TableInfoJson::null`] (a nil pointer in Go).
    pub table_info_after: Option<Vec<TableInfoJson>>,
    /// Set by the worker to ask the master to skip conflict detection.
    pub ignore_conflict: bool,
}

impl Info {
    /// Decode the value stored in etcd, in either of DM's shapes (see
    /// `from_either_shape`).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::read(bytes, false).map(|(info, _)| info)
    }

    /// [`Info::decode`], with the schemas of its TableInfos decoded while
    /// their text is read rather than from the Info's interned text (see
    /// [`InfoSchemas`]).
    pub fn decode_with_schemas(bytes: &[u8]) -> Result<(Self, InfoSchemas), DecodeError> {
        let (info, schemas) = Self::read(bytes, true)?;
        let schemas = schemas.unwrap_or_else(|| InfoSchemas::of(&info));
        Ok((info, schemas))
    }

    /// The TableInfo members are not parsed with the other fields: each
    /// TableInfo is read from its text by [`members::read_table_info`],
    /// which remembers the members that repeat from table to table.
    fn read(bytes: &[u8], with_schemas: bool) -> Result<(Self, Option<InfoSchemas>), DecodeError> {
        let (f, tables) = Fields::parse_deferring(bytes, "Info", &[BEFORE, AFTER])?;
        let (shape, before, afters) = Self::from_either_shape(&f, &tables)?;
        let read = |text: &str| {
            members::read_table_info(text, with_schemas).map_err(|e| DecodeError::Syntax {
                message: e.to_string(),
            })
        };
        let mut before = before.map(read).transpose()?;
        let mut afters = afters
            .map(|afters| afters.into_iter().map(read).collect::<Result<Vec<_>, _>>())
            .transpose()?;
        // The schemas are moved out: the texts go on into the Info.
        let schemas = with_schemas.then(|| {
            InfoSchemas::from_decoded(
                before.as_mut().and_then(|b| b.schema.take()),
                afters
                    .iter_mut()
                    .flatten()
                    .filter_map(|a| a.schema.take())
                    .collect(),
            )
        });
        let info = Self {
            table_info_before: before.map(|b| b.json),
            table_info_after: afters.map(|afters| afters.into_iter().map(|a| a.json).collect()),
            ..shape
        };
        Ok((info, schemas))
    }

    /// The Info in the current shape, or else in the legacy one, without
    /// its TableInfos, and the text of those: `table-info-before` (`None`
    /// for `null`) and each element of `table-info-after`.
    ///
    /// Like DM's `infoFromJSON`: if the current shape does not decode, try
    /// the shape written before DM v2.0.2 (`table-info-after` a single
    /// object, no `ignore-conflict`) and wrap that object into a one-element
    /// list; if that fails too, report the first error.
    fn from_either_shape<'a>(f: &Fields, tables: &'a RawFields) -> Result<Shape<'a>, DecodeError> {
        Self::from_fields(f, tables)
            .or_else(|first| Self::from_legacy_fields(f, tables).map_err(|_| first))
    }

    fn from_fields<'a>(f: &Fields, tables: &'a RawFields) -> Result<Shape<'a>, DecodeError> {
        Self::from_shared_fields(f, tables, |f, tables| {
            Ok((tables.object_list(AFTER)?, f.bool("ignore-conflict")?))
        })
    }

    /// DM's `OldInfo` and `toInfo()`. A missing or `null` old
    /// `table-info-after` becomes a one-element list holding `null`, as in DM.
    fn from_legacy_fields<'a>(f: &Fields, tables: &'a RawFields) -> Result<Shape<'a>, DecodeError> {
        Self::from_shared_fields(f, tables, |_, tables| {
            let after = tables.object(AFTER)?.unwrap_or("null");
            Ok((Some(vec![after]), false))
        })
    }

    /// The fields both shapes share, read in DM's order, then
    /// `table-info-after` and `ignore-conflict` as `rest` reads them (so the
    /// first bad field is the one reported).
    fn from_shared_fields<'a>(
        f: &Fields,
        tables: &'a RawFields,
        rest: impl FnOnce(&Fields, &'a RawFields) -> Result<(Option<Vec<&'a str>>, bool), DecodeError>,
    ) -> Result<Shape<'a>, DecodeError> {
        let task = f.str("task")?;
        let source = f.str("source")?;
        let up_schema = f.str("up-schema")?;
        let up_table = f.str("up-table")?;
        let down_schema = f.str("down-schema")?;
        let down_table = f.str("down-table")?;
        let ddls = f.str_list("ddls")?;
        let before = tables.object(BEFORE)?;
        let (afters, ignore_conflict) = rest(f, tables)?;
        let info = Self {
            task,
            source,
            up_schema,
            up_table,
            down_schema,
            down_table,
            ddls,
            table_info_before: None,
            table_info_after: None,
            ignore_conflict,
        };
        Ok((info, before, afters))
    }

    /// Encode as Go does (always the current shape).
    pub fn encode(&self) -> Vec<u8> {
        ObjectWriter::new()
            .str("task", &self.task)
            .str("source", &self.source)
            .str("up-schema", &self.up_schema)
            .str("up-table", &self.up_table)
            .str("down-schema", &self.down_schema)
            .str("down-table", &self.down_table)
            .str_list("ddls", self.ddls.as_deref())
            .raw_json("table-info-before", &self.encode_before())
            .raw_json("table-info-after", &self.encode_afters())
            .bool("ignore-conflict", self.ignore_conflict)
            .finish()
    }

    /// `table-info-before` as a Go pointer: `null` or the object.
    fn encode_before(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match &self.table_info_before {
            None => out.extend_from_slice(b"null"),
            Some(before) => before.write_to(&mut out),
        }
        out
    }

    /// `table-info-after` as a Go slice of pointers: `null` or `[..]`.
    fn encode_afters(&self) -> Vec<u8> {
        let Some(afters) = &self.table_info_after else {
            return b"null".to_vec();
        };
        let mut out = Vec::new();
        out.push(b'[');
        for (i, after) in afters.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            after.write_to(&mut out);
        }
        out.push(b']');
        out
    }

    /// ID of the lock this Info belongs to: one per (task, downstream table).
    pub fn lock_id(&self) -> String {
        keys::lock_id(&self.task, &self.down_schema, &self.down_table)
    }
}
