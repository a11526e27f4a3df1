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
use crate::gojson::{self, DecodeError, Fields, ObjectWriter};
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
        let mut chunks = Vec::new();
        let mut run = Vec::new();
        let mut field = Vec::new();
        for (key, v) in fields {
            field.clear();
            gojson::write_str(&mut field, key);
            field.push(b':');
            gojson::write_value(&mut field, v);
            if field.len() >= LARGE_FIELD {
                if !run.is_empty() {
                    chunks.push(intern(&run));
                    run.clear();
                }
                chunks.push(intern(&field));
            } else {
                if !run.is_empty() {
                    run.push(b',');
                }
                run.extend_from_slice(&field);
            }
        }
        if !run.is_empty() {
            chunks.push(intern(&run));
        }
        Self(Repr::Object(chunks.into()))
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

    /// The value parsed back; an error would mean the interned text is not
    /// the JSON writer's, which the invariant rules out, and says so rather
    /// than passing for a `null`.
    pub fn to_value(&self) -> Result<Value, String> {
        serde_json::from_str(&self.to_text())
            .map_err(|e| format!("interned table info text does not parse: {e}"))
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
        let f = Fields::parse(bytes, "Info")?;
        Self::from_either_shape(&f).map(|(info, _)| info)
    }

    /// [`Info::decode`], with the schemas of its TableInfos decoded from the
    /// JSON parsed here rather than from the Info's text (see
    /// [`InfoSchemas`]).
    pub fn decode_with_schemas(bytes: &[u8]) -> Result<(Self, InfoSchemas), DecodeError> {
        let mut f = Fields::parse(bytes, "Info")?;
        let (info, legacy) = Self::from_either_shape(&f)?;
        // The Info is built: its values can be moved out rather than copied.
        let before = f.take_last("table-info-before");
        let afters = if legacy {
            vec![f.take_last("table-info-after").unwrap_or(Value::Null)]
        } else {
            match f.take_last("table-info-after") {
                Some(Value::Array(afters)) => afters,
                _ => Vec::new(),
            }
        };
        Ok((info, InfoSchemas::from_values(before, afters)))
    }

    /// The Info in the current shape, or else in the legacy one (`true`).
    ///
    /// Like DM's `infoFromJSON`: if the current shape does not decode, try
    /// the shape written before DM v2.0.2 (`table-info-after` a single
    /// object, no `ignore-conflict`) and wrap that object into a one-element
    /// list; if that fails too, report the first error.
    fn from_either_shape(f: &Fields) -> Result<(Self, bool), DecodeError> {
        match Self::from_fields(f) {
            Ok(info) => Ok((info, false)),
            Err(first) => Self::from_legacy_fields(f)
                .map(|info| (info, true))
                .map_err(|_| first),
        }
    }

    fn from_fields(f: &Fields) -> Result<Self, DecodeError> {
        Self::from_shared_fields(f, |f| {
            let afters = f.object_list("table-info-after")?;
            let afters =
                afters.map(|afters| afters.iter().map(TableInfoJson::from_value).collect());
            Ok((afters, f.bool("ignore-conflict")?))
        })
    }

    /// DM's `OldInfo` and `toInfo()`. A missing or `null` old
    /// `table-info-after` becomes a one-element list holding `null`, as in DM.
    fn from_legacy_fields(f: &Fields) -> Result<Self, DecodeError> {
        Self::from_shared_fields(f, |f| {
            let after = f
                .object("table-info-after")?
                .map_or_else(TableInfoJson::null, TableInfoJson::from_value);
            Ok((Some(vec![after]), false))
        })
    }

    /// The fields both shapes share, read in DM's order, then
    /// `table-info-after` and `ignore-conflict` as `rest` reads them (so the
    /// first bad field is the one reported).
    fn from_shared_fields(
        f: &Fields,
        rest: impl FnOnce(&Fields) -> Result<(Option<Vec<TableInfoJson>>, bool), DecodeError>,
    ) -> Result<Self, DecodeError> {
        let task = f.str("task")?;
        let source = f.str("source")?;
        let up_schema = f.str("up-schema")?;
        let up_table = f.str("up-table")?;
        let down_schema = f.str("down-schema")?;
        let down_table = f.str("down-table")?;
        let ddls = f.str_list("ddls")?;
        let table_info_before = f.object("table-info-before")?;
        let (table_info_after, ignore_conflict) = rest(f)?;
        Ok(Self {
            task,
            source,
            up_schema,
            up_table,
            down_schema,
            down_table,
            ddls,
            table_info_before: table_info_before.map(TableInfoJson::from_value),
            table_info_after,
            ignore_conflict,
        })
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
