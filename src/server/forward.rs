//! Follower → leader forwarding (DM `isLeaderAndNeedForward`): the same
//! request, one hop, over a cached connection to the leader's address.

use tokio::sync::Mutex;
use tonic::transport::Channel;
use tonic::{Response, Status};

use crate::proto::master_client::MasterClient;
use crate::proto::operator::lock_operator_client::LockOperatorClient;
use crate::proto::{
    ShowDdlLocksRequest, ShowDdlLocksResponse, UnlockDdlLockRequest, UnlockDdlLockResponse,
};

/// Keeps one lazily connected client to the current leader (over TLS when
/// the master has `ssl-*` set).
#[derive(Default)]
pub struct Forwarder {
    client: Mutex<Option<(String, MasterClient<Channel>)>>,
    /// The leader's `operator.LockOperator` (lock page, preview, inject).
    operator: Mutex<Option<(String, LockOperatorClient<Channel>)>>,
    tls: Option<crate::tls::TlsFiles>,
}

impl Forwarder {
    /// The TLS this master's clients use (`ssl-*`), for the leader and
    /// for dm-workers alike.
    pub fn tls(&self) -> Option<&crate::tls::TlsFiles> {
        self.tls.as_ref()
    }

    /// A forwarder whose connections use `tls`.
    pub fn with_tls(tls: Option<crate::tls::TlsFiles>) -> Forwarder {
        Forwarder {
            client: Mutex::new(None),
            operator: Mutex::new(None),
            tls,
        }
    }

    pub(crate) async fn client(&self, addr: &str) -> Result<MasterClient<Channel>, Status> {
        self.cached(&self.client, addr, MasterClient::new).await
    }

    /// The leader's operator service, cached like [`Self::client`].
    pub(crate) async fn operator_client(
        &self,
        addr: &str,
    ) -> Result<LockOperatorClient<Channel>, Status> {
        self.cached(&self.operator, addr, LockOperatorClient::new)
            .await
    }

    /// The client in `slot` when it talks to `addr`, else a new one over a
    /// fresh channel, kept for the next call.
    async fn cached<C: Clone>(
        &self,
        slot: &Mutex<Option<(String, C)>>,
        addr: &str,
        new: impl FnOnce(Channel) -> C,
    ) -> Result<C, Status> {
        let mut cached = slot.lock().await;
        if let Some((a, c)) = cached.as_ref() {
            if a == addr {
                return Ok(c.clone());
            }
        }
        let channel =
            crate::tls::grpc_channel(addr, self.tls.as_ref(), std::time::Duration::from_secs(3))
                .map_err(|e| Status::unavailable(format!("bad leader address {addr}: {e}")))?;
        let client = new(channel);
        *cached = Some((addr.to_string(), client.clone()));
        Ok(client)
    }

    pub async fn show_ddl_locks(
        &self,
        leader: &str,
        request: ShowDdlLocksRequest,
    ) -> Result<Response<ShowDdlLocksResponse>, Status> {
        tracing::debug!(leader, "forwarding ShowDDLLocks to the leader");
        self.client(leader).await?.show_ddl_locks(request).await
    }

    pub async fn unlock_ddl_lock(
        &self,
        leader: &str,
        request: UnlockDdlLockRequest,
    ) -> Result<Response<UnlockDdlLockResponse>, Status> {
        tracing::debug!(leader, "forwarding UnlockDDLLock to the leader");
        self.client(leader).await?.unlock_ddl_lock(request).await
    }
}

/// DM's `sharedLogic` for one RPC: the leader's coordinators, or (from a
/// handler returning `Result<Response<_>, Status>`) the request forwarded
/// one hop to the leader, or DM's "not leader" error while there is none.
/// Requests of the `Master` service go through [`Forwarder::client`]; name
/// another of its clients (`operator_client`) for another service.
macro_rules! lead_or_forward {
    ($role:expr, $forwarder:expr, $request:ident, $method:ident) => {
        $crate::server::forward::lead_or_forward!($role, $forwarder, client, $request, $method)
    };
    ($role:expr, $forwarder:expr, $client:ident, $request:ident, $method:ident) => {
        match $role {
            $crate::server::Role::Leader(coordinators) => coordinators,
            $crate::server::Role::Follower { addr } => {
                return $forwarder
                    .$client(&addr)
                    .await?
                    .$method($request.into_inner())
                    .await
            }
            $crate::server::Role::Starting | $crate::server::Role::Unknown => {
                return Err(tonic::Status::unknown(
                    $crate::error::Error::NotLeader.dm_string(),
                ))
            }
        }
    };
}
pub(crate) use lead_or_forward;
