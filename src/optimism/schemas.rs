//! The schemacmp schemas of one Info (`table-info-before` and each
//! `table-info-after`), decoded once per Info.
//!
//! PURE: no async, no I/O.
//!
//! An Info keeps its TableInfos as compact, interned text ([`TableInfoJson`])
//! because a lock holds every table's Info. TrySync needs them as
//! [`Table`]s. An Info read from a watch event decodes its schemas while
//! its TableInfo text is read (`Info::decode_with_schemas`), and TrySync
//! takes the result. Infos read otherwise (rebuild, re-evaluation of a
//! blocked table, tests) use [`InfoSchemas::of`], which gives the same
//! schemas and the same errors from the interned text. Both read the text
//! member by member and take the members seen before from a memo (see
//! `optimism::info::members`).

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

    /// The schemas of an Info whose TableInfos were just read: `before` is
    /// `table-info-before`'s (`None` for `null`), `afters` one per element
    /// of `table-info-after`. Gives what [`InfoSchemas::of`] gives for the
    /// Info read.
    pub(crate) fn from_decoded(before: Option<Decoded>, afters: Vec<Decoded>) -> Self {
        Self { before, afters }
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

pub(crate) const NULL_TABLE_INFO: &str = "null table info";

fn decode_text(json: &TableInfoJson) -> Decoded {
    json.decode_schema()
}

/// The schema of a parsed TableInfo value.
pub(crate) fn decode_value(value: Value) -> Decoded {
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
