//! Transactions whose compares spell out their assumptions.
//!
//! A [`Txn`] is built from our own [`Compare`] and [`Op`] values and turned
//! into an etcd request only in [`crate::etcd::Etcd::txn`]. Every write of the
//! coordinators goes through here, so an optional leader fence (see
//! [`Txn::fenced`]) can be added in one place.

use etcd_client::{CompareOp, DeleteOptions, GetOptions, PutOptions, TxnOpResponse};

use super::{prefix_end, KeyValue};

/// One condition of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compare {
    /// The key does not exist (`Version(key) = 0`; DM's "missing").
    Absent(Vec<u8>),
    /// The key exists (`Version(key) > 0`).
    Exists(Vec<u8>),
    /// `Version(key) < version`: the key was not re-written since a read that
    /// saw `version - 1` (DM's optimistic delete guard).
    VersionBelow(Vec<u8>, i64),
    /// The key was last modified at exactly this revision.
    ModRevision(Vec<u8>, i64),
    /// The key was last modified before this revision.
    ModRevisionBelow(Vec<u8>, i64),
    /// The key was created at exactly this revision (leader fence, election).
    CreateRevision(Vec<u8>, i64),
    /// The stored value equals these bytes (false when the key is missing).
    ValueEquals(Vec<u8>, Vec<u8>),
    /// The stored value differs from these bytes (false when the key is missing).
    ValueNotEquals(Vec<u8>, Vec<u8>),
}

impl Compare {
    fn into_client(self) -> etcd_client::Compare {
        use etcd_client::Compare as C;
        match self {
            Compare::Absent(k) => C::version(k, CompareOp::Equal, 0),
            Compare::Exists(k) => C::version(k, CompareOp::Greater, 0),
            Compare::VersionBelow(k, v) => C::version(k, CompareOp::Less, v),
            Compare::ModRevision(k, r) => C::mod_revision(k, CompareOp::Equal, r),
            Compare::ModRevisionBelow(k, r) => C::mod_revision(k, CompareOp::Less, r),
            Compare::CreateRevision(k, r) => C::create_revision(k, CompareOp::Equal, r),
            Compare::ValueEquals(k, v) => C::value(k, CompareOp::Equal, v),
            Compare::ValueNotEquals(k, v) => C::value(k, CompareOp::NotEqual, v),
        }
    }
}

/// One operation of a transaction branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put {
        key: Vec<u8>,
        value: Vec<u8>,
        lease: i64,
    },
    Get {
        key: Vec<u8>,
    },
    GetPrefix {
        prefix: Vec<u8>,
    },
    Delete {
        key: Vec<u8>,
    },
    /// Deletes every key under a `/`-terminated prefix.
    DeletePrefix {
        prefix: Vec<u8>,
    },
}

impl Op {
    pub fn put(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Op {
        Op::Put {
            key: key.into(),
            value: value.into(),
            lease: 0,
        }
    }

    pub fn put_with_lease(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>, lease: i64) -> Op {
        Op::Put {
            key: key.into(),
            value: value.into(),
            lease,
        }
    }

    pub fn get(key: impl Into<Vec<u8>>) -> Op {
        Op::Get { key: key.into() }
    }

    pub fn get_prefix(prefix: impl Into<Vec<u8>>) -> Op {
        Op::GetPrefix {
            prefix: prefix.into(),
        }
    }

    pub fn delete(key: impl Into<Vec<u8>>) -> Op {
        Op::Delete { key: key.into() }
    }

    pub fn delete_prefix(prefix: impl Into<Vec<u8>>) -> Op {
        Op::DeletePrefix {
            prefix: prefix.into(),
        }
    }

    fn into_client(self) -> etcd_client::TxnOp {
        use etcd_client::TxnOp as T;
        match self {
            Op::Put { key, value, lease } => {
                let options = (lease != 0).then(|| PutOptions::new().with_lease(lease));
                T::put(key, value, options)
            }
            Op::Get { key } => T::get(key, None),
            Op::GetPrefix { prefix } => {
                let end = prefix_end(&prefix);
                T::get(prefix, Some(GetOptions::new().with_range(end)))
            }
            Op::Delete { key } => T::delete(key, None),
            Op::DeletePrefix { prefix } => {
                let end = prefix_end(&prefix);
                T::delete(prefix, Some(DeleteOptions::new().with_range(end)))
            }
        }
    }
}

/// A transaction: `If(compares) Then(then) Else(otherwise)`.
#[derive(Debug, Clone)]
pub struct Txn {
    name: &'static str,
    compares: Vec<Compare>,
    then: Vec<Op>,
    otherwise: Vec<Op>,
}

impl Txn {
    /// A transaction named after what it does (used in errors and logs).
    pub fn new(name: &'static str) -> Txn {
        Txn {
            name,
            compares: Vec::new(),
            then: Vec::new(),
            otherwise: Vec::new(),
        }
    }

    pub fn when(mut self, compares: impl IntoIterator<Item = Compare>) -> Txn {
        self.compares.extend(compares);
        self
    }

    pub fn then(mut self, ops: impl IntoIterator<Item = Op>) -> Txn {
        self.then.extend(ops);
        self
    }

    pub fn otherwise(mut self, ops: impl IntoIterator<Item = Op>) -> Txn {
        self.otherwise.extend(ops);
        self
    }

    /// Adds the leader fence: the txn only succeeds while `fence` still names
    /// the leader key this master created. A deposed leader's write then fails
    /// instead of landing (DM has no such guard; see DM gap E1 in docs/dm-gaps.md).
    pub fn fenced(mut self, fence: Option<&Fence>) -> Txn {
        if let Some(f) = fence {
            self.compares
                .push(Compare::CreateRevision(f.key.clone(), f.create_revision));
        }
        self
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn compares(&self) -> &[Compare] {
        &self.compares
    }

    /// The operations of the `Then` branch, in order.
    pub fn then_ops(&self) -> &[Op] {
        &self.then
    }

    /// Operations etcd counts against `--max-txn-ops` (the larger branch).
    pub fn op_count(&self) -> usize {
        self.then.len().max(self.otherwise.len())
    }

    pub(super) fn into_client(self) -> etcd_client::Txn {
        etcd_client::Txn::new()
            .when(
                self.compares
                    .into_iter()
                    .map(Compare::into_client)
                    .collect::<Vec<_>>(),
            )
            .and_then(
                self.then
                    .into_iter()
                    .map(Op::into_client)
                    .collect::<Vec<_>>(),
            )
            .or_else(
                self.otherwise
                    .into_iter()
                    .map(Op::into_client)
                    .collect::<Vec<_>>(),
            )
    }
}

/// The leader key a term was won with: coordinator writes of that term
/// compare its create revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub key: Vec<u8>,
    pub create_revision: i64,
}

/// The answer of one operation of the branch that ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    Put,
    Get(Vec<KeyValue>),
    Delete { deleted: i64 },
}

/// What a transaction did: which branch ran, at which revision, and the
/// answers of that branch's operations (in order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOutcome {
    pub succeeded: bool,
    pub revision: i64,
    pub results: Vec<OpResult>,
}

impl TxnOutcome {
    pub(super) fn from_client(resp: &etcd_client::TxnResponse) -> TxnOutcome {
        let results = resp
            .op_responses()
            .into_iter()
            .map(|r| match r {
                TxnOpResponse::Put(_) => OpResult::Put,
                TxnOpResponse::Get(g) => {
                    OpResult::Get(g.kvs().iter().map(KeyValue::from_client).collect())
                }
                TxnOpResponse::Delete(d) => OpResult::Delete {
                    deleted: d.deleted(),
                },
                TxnOpResponse::Txn(_) => OpResult::Put,
            })
            .collect();
        TxnOutcome {
            succeeded: resp.succeeded(),
            revision: resp.header().map(|h| h.revision()).unwrap_or(0),
            results,
        }
    }

    /// The key-values returned by the `index`-th operation if it was a get.
    pub fn get_result(&self, index: usize) -> &[KeyValue] {
        match self.results.get(index) {
            Some(OpResult::Get(kvs)) => kvs,
            _ => &[],
        }
    }
}
