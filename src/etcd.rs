//! The etcd boundary: the only module (with its children) that calls
//! `etcd_client`.
//!
//! Everything above this layer speaks in [`KeyValue`], [`WithRevision`],
//! [`txn::Txn`] and [`watch::WatchEvent`]; nothing above it sees gRPC types.
//!
//! **Invariant:** every read that later feeds a write returns the revision it
//! read at, and every multi-key write is one transaction whose compares state
//! its assumptions (see `txn`). Unconditional batches are the only writes that
//! may be split into several transactions.

pub mod member;
pub mod retry;
pub mod txn;
pub mod watch;

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    Client, CompactionOptions, ConnectOptions, GetOptions, KvClient, LeaseGrantOptions,
};

use crate::error::{Error, Result};

pub use member::Member;
pub use txn::{Compare, Fence, Op, OpResult, Txn, TxnOutcome};

/// How long one unary etcd request may take before we give up on it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// etcd's default `--max-txn-ops`: the most operations one txn may carry.
pub const DEFAULT_MAX_TXN_OPS: usize = 128;

/// Keys read per page by [`Etcd::get_prefix`]. A rebuild reads tens of
/// thousands of keys, and each page is a round trip: 10,000 subtask configs
/// or Infos are 2-5 MiB, so a few pages read everything.
const PAGE_SIZE: i64 = 10_000;

/// The largest range response decoded (the client's default is 4 MiB):
/// a page of large optimistic Infos (TableInfo JSON) is far bigger.
const MAX_RANGE_MESSAGE: usize = 256 * 1024 * 1024;

/// One key as stored in etcd, with the metadata the coordinators rely on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
    pub lease: i64,
}

impl KeyValue {
    /// Takes the key and value out of a response's entry (no copy).
    fn from_owned(kv: etcd_client::KeyValue) -> Self {
        let (create_revision, mod_revision, version, lease) = (
            kv.create_revision(),
            kv.mod_revision(),
            kv.version(),
            kv.lease(),
        );
        let (key, value) = kv.into_key_value();
        KeyValue {
            key,
            value,
            create_revision,
            mod_revision,
            version,
            lease,
        }
    }

    fn from_client(kv: &etcd_client::KeyValue) -> Self {
        KeyValue {
            key: kv.key().to_vec(),
            value: kv.value().to_vec(),
            create_revision: kv.create_revision(),
            mod_revision: kv.mod_revision(),
            version: kv.version(),
            lease: kv.lease(),
        }
    }

    /// The key as text for logs (etcd keys of ours are ASCII; anything else is
    /// shown lossily rather than failing a log line).
    pub fn key_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.key)
    }
}

/// A value together with the etcd revision it was read at (the header
/// revision of the response). Writes that depend on the read compare against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithRevision<T> {
    pub value: T,
    pub revision: i64,
}

/// Connection settings for [`Etcd::connect`].
#[derive(Debug, Clone)]
pub struct EtcdOptions {
    /// Operations per txn that the server accepts (`--max-txn-ops`).
    pub max_txn_ops: usize,
    /// Time allowed for the TCP/HTTP2 connection to an endpoint.
    pub connect_timeout: Duration,
    /// TLS to the cluster (`ssl-*` of the master config).
    pub tls: Option<crate::tls::TlsFiles>,
}

impl Default for EtcdOptions {
    fn default() -> Self {
        EtcdOptions {
            max_txn_ops: DEFAULT_MAX_TXN_OPS,
            connect_timeout: Duration::from_secs(5),
            tls: None,
        }
    }
}

/// HTTP/2 pings on every connection to etcd, idle or not: they notice a
/// dead server even on an idle watch stream.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(5);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(3);

/// The one plain-text endpoint of a client, as a channel of its own: with
/// a single endpoint there is nothing to balance, and etcd-client's
/// balanced channel (a discovery stream and power-of-two-choices over one
/// connection) costs every request a pass through it. `None` for several
/// endpoints or TLS, which take etcd-client's own channel.
fn direct_endpoint(
    endpoints: &[String],
    options: &EtcdOptions,
) -> Option<tonic::transport::Endpoint> {
    let [only] = endpoints else { return None };
    if options.tls.is_some() {
        return None;
    }
    let url = if only.starts_with("http://") {
        only.clone()
    } else if only.contains("://") {
        return None;
    } else {
        format!("http://{only}")
    };
    let endpoint = tonic::transport::Endpoint::from_shared(url).ok()?;
    Some(
        endpoint
            .connect_timeout(options.connect_timeout)
            .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
            .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
            .keep_alive_while_idle(true),
    )
}

/// A cheap-to-clone handle on an etcd cluster: every clone shares one
/// client, so the write paths, which clone it for each background write, pay
/// one reference count rather than a copy of every service's channel.
#[derive(Clone)]
pub struct Etcd {
    shared: Arc<Connection>,
}

struct Connection {
    client: Client,
    /// The KV service with the decoding limit of a range page, made once
    /// rather than per request.
    kv: KvClient,
    endpoints: Vec<String>,
    max_txn_ops: usize,
    /// What the client was built with, for [`Etcd::separate_connection`].
    options: EtcdOptions,
}

impl std::fmt::Debug for Etcd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Etcd")
            .field("endpoints", &self.shared.endpoints)
            .finish()
    }
}

impl Etcd {
    /// Builds a client for `endpoints` (`http://host:port` or `host:port`).
    ///
    /// The connection itself is lazy: an unreachable cluster shows up as an
    /// error on the first request, not here.
    pub async fn connect(endpoints: &[String], options: EtcdOptions) -> Result<Etcd> {
        let max_txn_ops = options.max_txn_ops.max(1);
        let connect = ConnectOptions::new()
            .with_connect_timeout(options.connect_timeout)
            .with_keep_alive(KEEP_ALIVE_INTERVAL, KEEP_ALIVE_TIMEOUT)
            .with_keep_alive_while_idle(true);
        let connect = match &options.tls {
            Some(tls) => connect.with_tls(
                tls.etcd_options()
                    .map_err(|e| Error::Config(e.to_string()))?,
            ),
            None => connect,
        };
        let client = match direct_endpoint(endpoints, &options) {
            Some(endpoint) => {
                let channel = etcd_client::Channel::Tonic(endpoint.connect_lazy());
                Client::from_channel(channel, Some(connect)).await
            }
            None => Client::connect(endpoints, Some(connect)).await,
        }
        .map_err(|source| Error::Etcd {
            op: "connect",
            source,
        })?;
        let kv = client
            .kv_client()
            .max_decoding_message_size(MAX_RANGE_MESSAGE);
        Ok(Etcd {
            shared: Arc::new(Connection {
                client,
                kv,
                endpoints: endpoints.to_vec(),
                max_txn_ops,
                options,
            }),
        })
    }

    /// A client of the same cluster on its own connection, for a large read
    /// that would otherwise share one HTTP/2 connection (one flow-control
    /// window, one frame writer on the server) with another.
    pub async fn separate_connection(&self) -> Result<Etcd> {
        Etcd::connect(&self.shared.endpoints, self.shared.options.clone()).await
    }

    /// The endpoints this client was built with.
    pub fn endpoints(&self) -> &[String] {
        &self.shared.endpoints
    }

    /// The server's per-txn operation limit this client respects.
    pub fn max_txn_ops(&self) -> usize {
        self.shared.max_txn_ops
    }

    /// Reads one key.
    pub async fn get(&self, key: impl Into<Vec<u8>>) -> Result<WithRevision<Option<KeyValue>>> {
        self.get_with(key.into(), None).await
    }

    /// Reads one key as it was at `revision` (an error once etcd has
    /// compacted that revision away).
    pub async fn get_at(&self, key: impl Into<Vec<u8>>, revision: i64) -> Result<Option<KeyValue>> {
        let options = GetOptions::new().with_revision(revision);
        Ok(self.get_with(key.into(), Some(options)).await?.value)
    }

    async fn get_with(
        &self,
        key: Vec<u8>,
        options: Option<GetOptions>,
    ) -> Result<WithRevision<Option<KeyValue>>> {
        let kv = &self.shared.kv;
        let resp = unsent_retried("get", || {
            let mut kv = kv.clone();
            let (key, options) = (key.clone(), options.clone());
            async move { kv.get(key, options).await }
        })
        .await?;
        let revision = header_revision(resp.header());
        Ok(WithRevision {
            value: resp.kvs().first().map(KeyValue::from_client),
            revision,
        })
    }

    /// The keys under `prefix` at one revision, in key order, without their
    /// values (etcd still reads them, but does not send them).
    pub async fn get_prefix_keys(&self, prefix: &str) -> Result<WithRevision<Vec<Vec<u8>>>> {
        let mut keys = Vec::new();
        let end = prefix_end(prefix.as_bytes());
        let read = RangeRead {
            revision: None,
            keys_only: true,
        };
        let revision = self
            .get_range_paged_with(prefix.as_bytes(), &end, read, |page| {
                keys.extend(page.into_iter().map(|kv| kv.key));
                std::future::ready(())
            })
            .await?;
        Ok(WithRevision {
            value: keys,
            revision,
        })
    }

    /// Reads every key under `prefix` at one revision, in key order.
    ///
    /// Large prefixes are read in pages pinned to the first page's revision,
    /// so the result is one consistent snapshot whatever its size.
    pub async fn get_prefix(&self, prefix: &str) -> Result<WithRevision<Vec<KeyValue>>> {
        self.get_range(prefix.as_bytes(), &prefix_end(prefix.as_bytes()))
            .await
    }

    /// Reads every key in `[start, end)` at one revision, in key order.
    pub async fn get_range(&self, start: &[u8], end: &[u8]) -> Result<WithRevision<Vec<KeyValue>>> {
        let mut out = Vec::new();
        let revision = self
            .get_range_paged(start, end, |page| {
                out.extend(page);
                std::future::ready(())
            })
            .await?;
        Ok(WithRevision {
            value: out,
            revision,
        })
    }

    /// Every key under `prefix` at one revision, in key order, folded into
    /// `state` a page at a time by `fold` on a blocking thread; returns the
    /// state and the revision (see [`Etcd::get_range_paged`]).
    ///
    /// Decoding a large snapshot is CPU work: done on the runtime's
    /// workers, it held up whatever else they had to run, the reception of
    /// the next page included. The reader hands each page over (at most one
    /// waits, so raw pages are never piled up) and goes on reading. On an
    /// error the partial state is dropped and the caller starts again.
    pub async fn get_prefix_folded<S, F>(&self, prefix: &str, state: S, fold: F) -> Result<(S, i64)>
    where
        S: Send + 'static,
        F: FnMut(&mut S, Vec<KeyValue>) + Send + 'static,
    {
        self.get_prefix_folded_at(prefix, None, state, fold).await
    }

    /// [`Etcd::get_prefix_folded`] at `revision` (`None`: the latest).
    pub async fn get_prefix_folded_at<S, F>(
        &self,
        prefix: &str,
        revision: Option<i64>,
        state: S,
        fold: F,
    ) -> Result<(S, i64)>
    where
        S: Send + 'static,
        F: FnMut(&mut S, Vec<KeyValue>) + Send + 'static,
    {
        let (pages, mut arrived) = tokio::sync::mpsc::channel::<Vec<KeyValue>>(1);
        let folder = tokio::task::spawn_blocking(move || {
            let (mut state, mut fold) = (state, fold);
            while let Some(page) = arrived.blocking_recv() {
                fold(&mut state, page);
            }
            state
        });
        let end = prefix_end(prefix.as_bytes());
        let range = RangeRead {
            revision,
            keys_only: false,
        };
        let read = self
            .get_range_paged_with(prefix.as_bytes(), &end, range, |page| {
                let pages = &pages;
                async move {
                    // Closed only if the folder panicked: its join says so.
                    let _ = pages.send(page).await;
                }
            })
            .await;
        drop(pages);
        let state = match folder.await {
            Ok(state) => state,
            Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
            Err(join) => {
                return Err(Error::Etcd {
                    op: "get prefix",
                    source: etcd_client::Error::Internal(join.to_string()),
                })
            }
        };
        read.map(|revision| (state, revision))
    }

    /// Reads every key in `[start, end)` at one revision (the first page's),
    /// in key order, handing each page to `page` as it arrives, so a large
    /// range is never held whole. The next page is already requested while
    /// `page` runs (a caller decoding its page overlaps etcd's work on the
    /// next). Returns the revision. On an error some pages may have been
    /// handed over already: the caller starts again.
    pub async fn get_range_paged<Fut>(
        &self,
        start: &[u8],
        end: &[u8],
        page: impl FnMut(Vec<KeyValue>) -> Fut,
    ) -> Result<i64>
    where
        Fut: std::future::Future<Output = ()>,
    {
        self.get_range_paged_with(start, end, RangeRead::default(), page)
            .await
    }

    /// [`Etcd::get_range_paged`] at a given revision, or of keys only.
    async fn get_range_paged_with<Fut>(
        &self,
        start: &[u8],
        end: &[u8],
        range: RangeRead,
        mut page: impl FnMut(Vec<KeyValue>) -> Fut,
    ) -> Result<i64>
    where
        Fut: std::future::Future<Output = ()>,
    {
        let kv = &self.shared.kv;
        // No sort option: etcd returns a range in key order anyway, and any
        // sort order (even by key, ascending) makes it read the whole rest
        // of the range from its store for every page, then cut it to the
        // limit (`rangeLimit` in etcd's apply code), so the pages of an
        // N-page read would cost N(N+1)/2 pages of work.
        let mut options = GetOptions::new()
            .with_range(end.to_vec())
            .with_limit(PAGE_SIZE);
        if range.keys_only {
            options = options.with_keys_only();
        }
        if let Some(revision) = range.revision {
            options = options.with_revision(revision);
        }
        // Each request runs as its own task so that it proceeds while this
        // one runs `page`; dropping the read aborts it.
        let request = |from: Vec<u8>, options: GetOptions| {
            let kv = kv.clone();
            tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
                unsent_retried("get prefix", || {
                    let mut kv = kv.clone();
                    let (from, options) = (from.clone(), options.clone());
                    async move { kv.get(from, Some(options)).await }
                })
                .await
            }))
        };
        let mut in_flight = request(start.to_vec(), options.clone());
        let mut revision = range.revision.unwrap_or(0);
        loop {
            let mut resp = match in_flight.await {
                Ok(read) => read?,
                Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
                Err(join) => {
                    return Err(Error::Etcd {
                        op: "get prefix",
                        source: etcd_client::Error::Internal(join.to_string()),
                    })
                }
            };
            if revision == 0 {
                revision = header_revision(resp.header());
            }
            let more = resp.more();
            let kvs = resp.take_kvs();
            let next = match kvs.last() {
                Some(last) if more => {
                    // Next page starts right after the last key read, at the
                    // first page's revision.
                    let mut next = last.key().to_vec();
                    next.push(0);
                    Some(request(next, options.clone().with_revision(revision)))
                }
                _ => None,
            };
            page(kvs.into_iter().map(KeyValue::from_owned).collect()).await;
            match next {
                Some(next) => in_flight = next,
                None => break,
            }
        }
        Ok(revision)
    }

    /// Writes one key unconditionally and returns the new revision.
    pub async fn put(&self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Result<i64> {
        let (key, value) = (key.into(), value.into());
        let kv = &self.shared.kv;
        let resp = unsent_retried("put", || {
            let mut kv = kv.clone();
            let (key, value) = (key.clone(), value.clone());
            async move { kv.put(key, value, None).await }
        })
        .await?;
        Ok(header_revision(resp.header()))
    }

    /// Runs one transaction. A txn with more operations than the server allows
    /// is refused here rather than by etcd, with a clear error.
    pub async fn txn(&self, txn: Txn) -> Result<TxnOutcome> {
        let ops = txn.op_count().max(txn.compares().len());
        if ops > self.shared.max_txn_ops {
            return Err(Error::TxnTooLarge {
                op: txn.name(),
                ops,
                limit: self.shared.max_txn_ops,
            });
        }
        let name = txn.name();
        // A txn may carry range reads as large as a page of `get_range`.
        let kv = &self.shared.kv;
        let txn = txn.into_client();
        let resp = unsent_retried(name, || {
            let mut kv = kv.clone();
            let txn = txn.clone();
            async move { kv.txn(txn).await }
        })
        .await?;
        Ok(TxnOutcome::from_client(&resp))
    }

    /// Runs a transaction under the leader fence (when given): the fence is
    /// compared, and when the txn fails because the leader key is gone or was
    /// re-created, the result is [`Error::LeadershipLost`] rather than an
    /// ordinary failed compare, so callers stop instead of retrying.
    pub async fn txn_fenced(&self, txn: Txn, fence: Option<&Fence>) -> Result<TxnOutcome> {
        let Some(fence) = fence else {
            return self.txn(txn).await;
        };
        let txn = txn
            .fenced(Some(fence))
            .otherwise([Op::get(fence.key.clone())]);
        let mut outcome = self.txn(txn).await?;
        if !outcome.succeeded {
            let leader = match outcome.results.pop() {
                Some(OpResult::Get(kvs)) => kvs.into_iter().next(),
                _ => None,
            };
            if leader.map(|kv| kv.create_revision) != Some(fence.create_revision) {
                return Err(Error::LeadershipLost {
                    key: String::from_utf8_lossy(&fence.key).into_owned(),
                    term: fence.create_revision,
                });
            }
        }
        Ok(outcome)
    }

    /// [`Etcd::batch`] under the leader fence: every chunk carries it.
    pub async fn batch_fenced(
        &self,
        name: &'static str,
        ops: Vec<Op>,
        fence: Option<&Fence>,
    ) -> Result<i64> {
        let mut revision = 0;
        let mut ops = ops.into_iter().peekable();
        // The fence's compare counts against the same limit as the operations.
        let chunk_size = (self.shared.max_txn_ops - usize::from(fence.is_some())).max(1);
        while ops.peek().is_some() {
            let chunk: Vec<Op> = ops.by_ref().take(chunk_size).collect();
            let outcome = self.txn_fenced(Txn::new(name).then(chunk), fence).await?;
            revision = outcome.revision;
        }
        Ok(revision)
    }

    /// Writes an unconditional batch, split into as many txns as
    /// `max_txn_ops` requires. Atomicity holds per chunk only, so this is for
    /// batches whose every operation is independently safe (deletes of keys
    /// that are being removed anyway, puts nobody compares against).
    /// Returns the revision of the last chunk (0 for an empty batch).
    pub async fn batch(&self, name: &'static str, ops: Vec<Op>) -> Result<i64> {
        self.batch_fenced(name, ops, None).await
    }

    /// Compacts the key-value history up to `revision` (used by tests and
    /// operators; the coordinators never compact).
    pub async fn compact(&self, revision: i64) -> Result<()> {
        let mut kv = self.shared.kv.clone();
        timed(
            "compact",
            kv.compact(revision, Some(CompactionOptions::new().with_physical())),
        )
        .await?;
        Ok(())
    }

    /// Grants a lease of `ttl_secs` seconds and returns its ID.
    pub async fn lease_grant(&self, ttl_secs: i64) -> Result<i64> {
        let mut lease = self.shared.client.lease_client();
        let resp = timed(
            "lease grant",
            lease.grant(ttl_secs, None::<LeaseGrantOptions>),
        )
        .await?;
        Ok(resp.id())
    }

    /// Grants a lease and reports the TTL etcd actually granted: etcd raises
    /// TTLs below its floor (2 s on 3.4), and the election times its
    /// keep-alives and its safety deadline from the granted value.
    pub async fn lease_grant_ttl(&self, ttl_secs: i64) -> Result<GrantedLease> {
        let mut lease = self.shared.client.lease_client();
        let resp = timed(
            "lease grant",
            lease.grant(ttl_secs, None::<LeaseGrantOptions>),
        )
        .await?;
        Ok(GrantedLease {
            id: resp.id(),
            ttl_secs: resp.ttl(),
        })
    }

    /// Revokes a lease (deleting every key attached to it).
    pub async fn lease_revoke(&self, id: i64) -> Result<()> {
        let mut lease = self.shared.client.lease_client();
        timed("lease revoke", lease.revoke(id)).await?;
        Ok(())
    }

    /// Opens a keep-alive stream for a lease.
    pub async fn lease_keeper(&self, id: i64) -> Result<LeaseKeeper> {
        let mut lease = self.shared.client.lease_client();
        let (keeper, stream) = timed("lease keep-alive", lease.keep_alive(id)).await?;
        Ok(LeaseKeeper { keeper, stream })
    }

    pub(crate) fn client(&self) -> &Client {
        &self.shared.client
    }
}

/// A lease as etcd granted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantedLease {
    pub id: i64,
    /// The TTL etcd granted, in seconds (at least the server's floor).
    pub ttl_secs: i64,
}

/// A lease's keep-alive stream: send one keep-alive and read its answer.
pub struct LeaseKeeper {
    keeper: etcd_client::LeaseKeeper,
    stream: etcd_client::LeaseKeepAliveStream,
}

impl LeaseKeeper {
    /// Refreshes the lease once; returns the remaining TTL in seconds
    /// (0 or less means the lease is gone).
    pub async fn keep_alive_once(&mut self) -> Result<i64> {
        self.keeper
            .keep_alive()
            .await
            .map_err(|source| Error::Etcd {
                op: "lease keep-alive",
                source,
            })?;
        match self.stream.message().await {
            Ok(Some(resp)) => Ok(resp.ttl()),
            Ok(None) => Ok(0),
            Err(source) => Err(Error::Etcd {
                op: "lease keep-alive",
                source,
            }),
        }
    }
}

/// Runs one etcd request under [`REQUEST_TIMEOUT`], mapping its error.
pub(crate) async fn timed<T>(
    op: &'static str,
    fut: impl std::future::Future<Output = std::result::Result<T, etcd_client::Error>>,
) -> Result<T> {
    match tokio::time::timeout(REQUEST_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(classify(op, source)),
        Err(_) => Err(Error::EtcdTimeout {
            op,
            timeout: REQUEST_TIMEOUT,
        }),
    }
}

/// How often a request that could not reach any server is sent again.
const UNSENT_RETRIES: u32 = 4;

/// [`timed`], sent again (to the next endpoint the client balances to) when
/// the connection could not be made: the request never reached a server, so
/// repeating it is safe for every operation, guarded or not. This is what
/// lets a client whose endpoints include a master that just died carry on
/// through the others.
async fn unsent_retried<T, F, Fut>(op: &'static str, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, etcd_client::Error>>,
{
    let mut tries = 0;
    loop {
        match timed(op, attempt()).await {
            Err(e) if tries < UNSENT_RETRIES && never_sent(&e) => {
                tries += 1;
                tracing::debug!(op, tries, error = %e, "etcd endpoint unreachable, sending again");
                tokio::time::sleep(Duration::from_millis(20 * u64::from(tries))).await;
            }
            other => return other,
        }
    }
}

/// Whether the request failed before reaching any server (no connection).
fn never_sent(error: &Error) -> bool {
    matches!(
        error,
        Error::Etcd {
            source: etcd_client::Error::GRpcStatus(status),
            ..
        } if status.code() == tonic::Code::Unavailable && status.message().contains("connect error")
    )
}

/// etcd reports a read below the compaction point as `OutOfRange`; give it a
/// typed variant so callers resync instead of failing.
fn classify(op: &'static str, source: etcd_client::Error) -> Error {
    if let etcd_client::Error::GRpcStatus(status) = &source {
        if status.code() == tonic::Code::OutOfRange && status.message().contains("compacted") {
            return Error::Compacted { revision: 0 };
        }
    }
    Error::Etcd { op, source }
}

fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> i64 {
    header.map(|h| h.revision()).unwrap_or(0)
}

/// How a paged range read reads: at a given revision (`None`: the first
/// page's, the latest) and with or without the values.
#[derive(Debug, Clone, Copy, Default)]
struct RangeRead {
    revision: Option<i64>,
    keys_only: bool,
}

/// The range end that covers every key starting with `prefix` (etcd's
/// `GetPrefixRangeEnd`): the prefix with its last byte below 0xff incremented.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xff (or empty): range to the end of the keyspace.
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(list: &[&str]) -> Vec<String> {
        list.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn one_plain_endpoint_gets_a_channel_of_its_own() {
        let options = EtcdOptions::default();
        let with_scheme = direct_endpoint(&endpoints(&["http://127.0.0.1:2379"]), &options)
            .expect("a single http endpoint is direct");
        assert_eq!(with_scheme.uri().to_string(), "http://127.0.0.1:2379/");
        let bare = direct_endpoint(&endpoints(&["127.0.0.1:2379"]), &options)
            .expect("a host:port endpoint is direct, as http");
        assert_eq!(bare.uri().to_string(), "http://127.0.0.1:2379/");
    }

    #[test]
    fn several_endpoints_https_or_tls_keep_the_balanced_channel() {
        let plain = EtcdOptions::default();
        let two = endpoints(&["http://127.0.0.1:2379", "http://127.0.0.1:2380"]);
        assert!(direct_endpoint(&two, &plain).is_none());
        assert!(direct_endpoint(&endpoints(&["https://127.0.0.1:2379"]), &plain).is_none());
        assert!(direct_endpoint(&[], &plain).is_none());
        let tls = EtcdOptions {
            tls: Some(crate::tls::TlsFiles {
                ca: "ca.pem".into(),
                cert: "cert.pem".into(),
                key: "key.pem".into(),
                allowed_cn: Vec::new(),
            }),
            ..EtcdOptions::default()
        };
        assert!(direct_endpoint(&endpoints(&["127.0.0.1:2379"]), &tls).is_none());
    }
}
