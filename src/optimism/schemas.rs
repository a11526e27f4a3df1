//! The schemacmp schemas of one Info (`table-info-before` and each
//! `table-info-after`), decoded once per Info.
//!
//! PURE: no async, no I/O.
//!
//! An Info keeps its TableInfos as compact, interned text ([`TableInfoJson`])
//! because a lock holds every table's Info. TrySync needs them as
//! [`Table`]s. Reading them back from that text means printing and parsing
//! each TableInfo a second time, which on a 1,000-table lock was a third of
//! the work of answering an Info. So an Info just read from etcd hands its
//! parsed JSON to [`InfoSchemas::from_values`] before the values are dropped,
//! and TrySync takes the result. Infos with no parsed JSON at hand (rebuild,
//! re-evaluation of a blocked table, tests) use [`InfoSchemas::of`], which
//! gives the same schemas and the same errors from the text.

use serde_json::Value;

use super::error::OptimismError;
use super::info::{Info, TableInfoJson};
use crate::schemacmp::Table;
use crate::tableinfo::TableInfo;

/// One decoded schema, or why it does not decode (the TableInfo decoding
/// error's text; the field is named when it becomes an [`OptimismError`]).
pub(crate) type Decoded = Result<Table, String>;

/// The schemas of one Info, in the Info's order.
#[derive(Debug, Clone, PartialEq)]
pub struct InfoSchemas {
    /// `None` when the Info has no before-schema (`null`).
    before: Option<Decoded>,
    /// One per `table-info-after` element (none when it is `null`).
    afters: Vec<Decoded>,
}

impl InfoSchemas {
    /// The schemas of `info`, read from its JSON text.
    pub fn of(info: &Info) -> Self {
        Self {
            before: info.table_info_before.as_ref().map(decode_text),
            afters: info
                .table_info_after
                .iter()
                .flatten()
                .map(decode_text)
                .collect(),
        }
    }

    /// The schemas of an Info whose TableInfo JSON was just parsed: `before`
    /// is `table-info-before` (`None` for `null`), `afters` the elements of
    /// `table-info-after`. Gives what [`InfoSchemas::of`] gives for the Info
    /// built from the same values.
    pub fn from_values(before: Option<Value>, afters: Vec<Value>) -> Self {
        Self {
            before: before.map(decode_value),
            afters: afters.into_iter().map(decode_value).collect(),
        }
    }

    /// The before-schema, `None` when the Info has none; the error names
    /// the field `what`.
    pub(crate) fn before(&self, what: &str) -> Option<Result<&Table, OptimismError>> {
        self.before
            .as_ref()
            .map(|d| d.as_ref().map_err(|message| malformed(what, message)))
    }

    /// The before-schema and the after-schemas, each decoded or the reason
    /// it is not.
    pub(crate) fn into_parts(self) -> (Option<Decoded>, Vec<Decoded>) {
        (self.before, self.afters)
    }
}

/// The error of a schema that does not decode, naming its field.
pub(crate) fn malformed(what: &str, message: &str) -> OptimismError {
    OptimismError::MalformedTableInfo {
        what: what.to_owned(),
        message: message.to_owned(),
    }
}

const NULL_TABLE_INFO: &str = "null table info";

fn decode_text(json: &TableInfoJson) -> Decoded {
    decode_value(json.to_value()?)
}

fn decode_value(value: Value) -> Decoded {
    if value.is_null() {
        return Err(NULL_TABLE_INFO.to_owned());
    }
    TableInfo::from_json_value(value)
        .map(|ti| Table::from_table_info(&ti))
        .map_err(|e| e.to_string())
}

/// One schema of an Info read from its text, the error naming `what`.
pub(crate) fn decode_schema(json: &TableInfoJson, what: &str) -> Result<Table, OptimismError> {
    decode_text(json).map_err(|message| malformed(what, &message))
}
