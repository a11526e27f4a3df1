//! Joining the masters as DM's worker does (`dm/worker/join.go`,
//! `dm/pkg/ha/keepalive.go`): `RegisterWorker` rounds over the `--join`
//! addresses, then a keep-alive key under the worker's own lease.
//!
//! **Invariants:**
//! * registration tries every join address in order, at most
//!   [`REGISTER_ROUNDS`] rounds, [`REGISTER_TIMEOUT`] for the dial and for the
//!   call, [`ROUND_PAUSE`] between rounds; only a `result=true` answer ends it;
//! * the keep-alive key `/dm-worker/a/<hex name>` lives exactly as long as
//!   the lease this worker granted; the lease is revoked whenever a
//!   keep-alive lease ends (loss or shutdown), so the master sees the
//!   DELETE at once instead of after the TTL;
//! * a lost keep-alive stops the source (subtasks removed), waits
//!   [`ROUND_PAUSE`], and takes a new lease, new PUT; the
//!   worker does not register again.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dm_master::etcd::{Etcd, Op, Txn};
use dm_master::proto::master_client::MasterClient;
use dm_master::proto::RegisterWorkerRequest;
use dm_master::tls::TlsFiles;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::unwrap_scheme;
use crate::error::{Error, Result};
use crate::ha::{worker_event, HaKeys};
use crate::source;

/// Rounds of RegisterWorker over all join addresses (DM's `retryTimes`).
pub const REGISTER_ROUNDS: usize = 5;
/// Dial timeout, and call timeout, of one RegisterWorker attempt.
pub const REGISTER_TIMEOUT: Duration = Duration::from_secs(3);
/// Pause after a failed round, and before a new keep-alive lease.
pub const ROUND_PAUSE: Duration = Duration::from_secs(1);
/// Timeout of the grant and put that start a keep-alive lease (DM's
/// `DefaultRequestTimeout`).
const LEASE_START_TIMEOUT: Duration = Duration::from_secs(10);
/// Timeout of the revoke that ends a lease (DM's `DefaultRevokeLeaseTimeout`).
const REVOKE_TIMEOUT: Duration = Duration::from_secs(3);

/// Registers `name` at `advertise_addr` with the first master that accepts
/// it. Returns DM's 40077 error once every round failed.
pub async fn register(
    endpoints: &[String],
    name: &str,
    advertise_addr: &str,
    tls: Option<&TlsFiles>,
) -> Result<()> {
    let request = RegisterWorkerRequest {
        name: name.to_owned(),
        address: advertise_addr.to_owned(),
    };
    let mut last_error = String::new();
    for round in 1..=REGISTER_ROUNDS {
        for endpoint in endpoints {
            match register_once(endpoint, request.clone(), tls).await {
                Ok(()) => {
                    info!(worker = %name, endpoint = %endpoint, "registered with the master");
                    return Ok(());
                }
                Err(reason) => {
                    error!(worker = %name, endpoint = %endpoint, error = %reason, "fail to register worker");
                    last_error = reason;
                }
            }
        }
        warn!(
            retry = round,
            total = REGISTER_ROUNDS,
            "retry to connect master"
        );
        tokio::time::sleep(ROUND_PAUSE).await;
    }
    Err(Error::FailConnectMaster {
        endpoints: format!("[{}]", endpoints.join(" ")),
        reason: last_error,
    })
}

/// One attempt: a blocking dial (retried until [`REGISTER_TIMEOUT`], as
/// gRPC-Go's `WithBlock` does), then the call under its own timeout.
async fn register_once(
    endpoint: &str,
    request: RegisterWorkerRequest,
    tls: Option<&TlsFiles>,
) -> std::result::Result<(), String> {
    let target = unwrap_scheme(endpoint);
    let deadline = Instant::now() + REGISTER_TIMEOUT;
    let channel = loop {
        let dial = dm_master::tls::grpc_connect(target, tls, REGISTER_TIMEOUT);
        match tokio::time::timeout_at(deadline.into(), dial).await {
            Ok(Ok(channel)) => break channel,
            Ok(Err(_)) if Instant::now() + Duration::from_millis(100) < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            _ => return Err("context deadline exceeded".into()),
        }
    };
    let mut client = MasterClient::new(channel);
    let resp = tokio::time::timeout(REGISTER_TIMEOUT, client.register_worker(request))
        .await
        .map_err(|_| "context deadline exceeded".to_owned())?
        .map_err(|status| {
            format!(
                "rpc error: code = {:?} desc = {}",
                status.code(),
                status.message()
            )
        })?
        .into_inner();
    if resp.result {
        Ok(())
    } else {
        Err(resp.msg)
    }
}

/// Keeps the worker's keep-alive key alive until `cancel`, starting a new
/// lease after every loss. `source` hears of each loss.
pub async fn keep_alive(
    etcd: Etcd,
    keys: HaKeys,
    name: String,
    ttl_secs: i64,
    source: source::Handle,
    cancel: CancellationToken,
) {
    loop {
        info!(worker = %name, ttl = ttl_secs, "start to keepalive with master");
        let why = hold_lease(&etcd, &keys, &name, ttl_secs, &cancel).await;
        if cancel.is_cancelled() {
            info!(worker = %name, "keepalive with master goroutine exited");
            return;
        }
        warn!(worker = %name, reason = %why, "keepalive with master paused, stopping the source");
        source.keep_alive_lost().await;
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(ROUND_PAUSE) => {}
        }
    }
}

/// One keep-alive lease: grant, put, refresh every third of the TTL until
/// the lease is lost or `cancel`; then revoke. Returns why it ended.
async fn hold_lease(
    etcd: &Etcd,
    keys: &HaKeys,
    name: &str,
    ttl_secs: i64,
    cancel: &CancellationToken,
) -> String {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let value = worker_event(name, since_epoch).encode();
    let key = keys.keep_alive(name);
    let start = async {
        let lease = etcd.lease_grant_ttl(ttl_secs).await?;
        let put = Txn::new("keep-alive put").then([Op::put_with_lease(key, value, lease.id)]);
        if let Err(e) = etcd.txn(put).await {
            // The key was never written; do not leave a granted lease behind.
            let _ = tokio::time::timeout(REVOKE_TIMEOUT, etcd.lease_revoke(lease.id)).await;
            return Err(e);
        }
        Ok::<_, dm_master::Error>(lease)
    };
    let lease = tokio::select! {
        _ = cancel.cancelled() => return "cancelled".into(),
        r = tokio::time::timeout(LEASE_START_TIMEOUT, start) => match r {
            Ok(Ok(lease)) => lease,
            Ok(Err(e)) => return format!("failed to put worker keepalive with lease: {e}"),
            Err(_) => return "granting the keep-alive lease timed out".into(),
        },
    };
    info!(worker = %name, lease = lease.id, ttl = lease.ttl_secs, "keep-alive key put");
    let why = tokio::select! {
        _ = cancel.cancelled() => "cancelled".to_owned(),
        why = refresh(etcd, lease.id, lease.ttl_secs) => why,
    };
    match tokio::time::timeout(REVOKE_TIMEOUT, etcd.lease_revoke(lease.id)).await {
        Ok(Ok(())) => info!(worker = %name, lease = lease.id, "keep-alive lease revoked"),
        Ok(Err(e)) => warn!(worker = %name, lease = lease.id, error = %e, "fail to revoke lease"),
        Err(_) => warn!(worker = %name, lease = lease.id, "fail to revoke lease: timed out"),
    }
    why
}

/// Refreshes the lease like etcd's Go client: a keep-alive every third of
/// the TTL; the lease counts as lost when etcd answers TTL ≤ 0 or no
/// keep-alive has succeeded for a whole TTL. Returns why it was lost.
async fn refresh(etcd: &Etcd, lease: i64, ttl_secs: i64) -> String {
    let ttl = Duration::from_secs(ttl_secs.max(1) as u64);
    let mut deadline = Instant::now() + ttl;
    let mut keeper = None;
    loop {
        if Instant::now() >= deadline {
            return "keep alive channel is closed: no keep-alive answered within the TTL".into();
        }
        if keeper.is_none() {
            match etcd.lease_keeper(lease).await {
                Ok(k) => keeper = Some(k),
                Err(e) => {
                    warn!(lease, error = %e, "opening the keep-alive stream failed, retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            }
        }
        let Some(k) = keeper.as_mut() else { continue };
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, k.keep_alive_once()).await {
            Ok(Ok(remaining)) if remaining <= 0 => {
                return "keep alive channel is closed: the lease is gone".into();
            }
            Ok(Ok(remaining)) => {
                deadline = Instant::now() + Duration::from_secs(remaining as u64);
                tokio::time::sleep(ttl / 3).await;
            }
            Ok(Err(e)) => {
                warn!(lease, error = %e, "keep-alive failed, reopening the stream");
                keeper = None;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(_) => {}
        }
    }
}
