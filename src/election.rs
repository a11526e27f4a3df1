//! Leader election. For now only the value each candidate stores under its
//! key below `/dm-master/leader/` (DM's `CampaignerInfo`,
//! `dm/pkg/election/election.go`).
//!
//! PURE (this part): no async, no I/O.

use crate::gojson::{DecodeError, Fields, ObjectWriter};

/// A candidate's identity. JSON keys in order: `id`, `addr`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaderValue {
    /// The master's name.
    pub id: String,
    /// The address other masters forward requests to.
    pub addr: String,
}

impl LeaderValue {
    /// Decode a candidate key's value.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let f = Fields::parse(bytes, "CampaignerInfo")?;
        Ok(Self {
            id: f.str("id")?,
            addr: f.str("addr")?,
        })
    }

    /// Encode as Go does. Campaign compares this with the stored bytes to
    /// decide whether to proclaim, so it must be byte-exact.
    pub fn encode(&self) -> Vec<u8> {
        ObjectWriter::new()
            .str("id", &self.id)
            .str("addr", &self.addr)
            .finish()
    }
}

#[cfg(test)]
mod tests;
