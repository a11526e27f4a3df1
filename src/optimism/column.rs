//! The value under `OPTIMISM_DROPPED_COLUMNS`
//! `(lock_id, column, source, up_schema, up_table)`: how far one upstream
//! table got in dropping a column (`dm/pkg/shardddl/optimism/column.go`).
//!
//! PURE: no async, no I/O. The value is a bare JSON integer.

use crate::gojson::{self, DecodeError};

/// Stage of a partially dropped column for one upstream table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum DropColumnStage {
    /// `0`: the drop is recorded; no `done` yet for this table.
    #[default]
    NotDone = 0,
    /// `1`: the table's operation is done, but it did not carry the real
    /// `DROP COLUMN`.
    PartiallyDone = 1,
    /// `2`: the table's done operation carried the `DROP COLUMN`, i.e. it was
    /// executed downstream.
    Done = 2,
}

impl DropColumnStage {
    /// The integer written to etcd.
    pub fn as_i64(self) -> i64 {
        self as i64
    }

    /// From the integer; `None` for values DM never writes.
    pub fn from_i64(n: i64) -> Option<Self> {
        match n {
            0 => Some(Self::NotDone),
            1 => Some(Self::PartiallyDone),
            2 => Some(Self::Done),
            _ => None,
        }
    }

    /// Decode the stored value. `null` is `NotDone` (Go's zero; DM itself
    /// would keep the previous key's value, because it reuses one variable
    /// across keys). An integer outside 0..=2 is an error: only the master
    /// writes these values and it never writes others.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        const PATH: &str = "DropColumnStage";
        let v = gojson::parse_value(bytes)?;
        if v.is_null() {
            return Ok(Self::NotDone);
        }
        let n = gojson::int_of(&v, PATH)?;
        Self::from_i64(n).ok_or_else(|| DecodeError::OutOfRange {
            path: PATH.to_owned(),
            value: n.to_string(),
        })
    }

    /// Encode as Go does (`0`, `1` or `2`).
    pub fn encode(self) -> Vec<u8> {
        self.as_i64().to_string().into_bytes()
    }
}
