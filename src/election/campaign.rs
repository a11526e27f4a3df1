//! The etcd side of a candidacy: the candidate's value as Go writes it
//! ([`LeaderValue`]), etcd's campaign / proclaim transaction on the
//! candidate key, the lease as it appears in the key, and the bounded lease
//! revoke of a closing session.

use super::CLOSE_TIMEOUT;
use crate::error::{Error, Result};
use crate::etcd::{Compare, Etcd, Op, Txn};
use crate::gojson::{DecodeError, Fields, ObjectWriter};

/// etcd's campaign transaction: `If(CreateRevision(key) = 0) Then(Put(key,
/// value, lease)) Else(Get(key))`. Returns our key's create revision, or
/// `None` when the key changed between the two steps of a proclaim.
pub(super) async fn put_candidate(
    etcd: &Etcd,
    key: &str,
    value: &[u8],
    lease_id: i64,
) -> Result<Option<i64>> {
    let txn = Txn::new("election campaign")
        .when([Compare::CreateRevision(key.as_bytes().to_vec(), 0)])
        .then([Op::put_with_lease(key, value, lease_id)])
        .otherwise([Op::get(key)]);
    let outcome = etcd.txn(txn).await?;
    if outcome.succeeded {
        return Ok(Some(outcome.revision));
    }
    // The key exists: an earlier attempt of this session landed although its
    // answer was lost. Keep its place in the queue.
    let Some(existing) = outcome.get_result(0).first() else {
        return Ok(None);
    };
    if existing.value == value {
        return Ok(Some(existing.create_revision));
    }
    // Proclaim our value on the key we already own (etcd's recipe does the same).
    let proclaim = Txn::new("election proclaim")
        .when([Compare::CreateRevision(
            key.as_bytes().to_vec(),
            existing.create_revision,
        )])
        .then([Op::put_with_lease(key, value, lease_id)]);
    let outcome = etcd.txn(proclaim).await?;
    Ok(outcome.succeeded.then_some(existing.create_revision))
}

/// Revokes a lease within [`CLOSE_TIMEOUT`]; a lease that no longer exists
/// counts as revoked.
pub(super) async fn revoke(etcd: &Etcd, lease_id: i64) -> Result<()> {
    match tokio::time::timeout(CLOSE_TIMEOUT, etcd.lease_revoke(lease_id)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) if error.is_lease_not_found() => Ok(()),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(Error::EtcdTimeout {
            op: "lease revoke",
            timeout: CLOSE_TIMEOUT,
        }),
    }
}

/// A lease ID as it appears in candidate keys (lowercase hex).
pub(super) fn hex(lease_id: i64) -> String {
    format!("{lease_id:x}")
}

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
