//! etcd's client API on the master address.
//!
//! DM's master embeds etcd and serves etcd's gRPC services on `master-addr`,
//! next to `pb.Master`; DM-workers, dmctl and `etcdctl` use that address as
//! an etcd endpoint. We answer the same services on our one listener by
//! forwarding each call, unread, to the etcd this master uses (its own
//! member's private client URL, or the `--etcd-endpoints` cluster).
//!
//! Invariants:
//! - Bodies are streamed in both directions, frame by frame: a watch or a
//!   lease keep-alive stream stays open as long as the client and etcd keep
//!   it open, and nothing is buffered or decoded here, so message sizes,
//!   headers and trailers (`grpc-status`, etcd's error details) are etcd's.
//! - `MemberList` passes through unchanged. Each embedded member advertises
//!   its master's `advertise-addr` as its client URL (see
//!   `managed_etcd`), so a client that re-syncs its endpoints from
//!   `MemberList` lands on master addresses, which serve this API. An
//!   external cluster's members advertise their own client URLs, which
//!   serve etcd's API by definition.
//! - etcd being unreachable is answered per call with gRPC `Unavailable`
//!   (what an etcd client retries on), never by closing the listener.

use std::convert::Infallible;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::{Channel, Endpoint};
use tower::ServiceExt;

use crate::error::{Error, Result};

/// One of etcd's gRPC services, named as in etcd's `rpc.proto`.
pub trait EtcdService: Send + Sync + 'static {
    const NAME: &'static str;
}

macro_rules! etcd_services {
    ($($(#[$doc:meta])* $ty:ident => $name:literal,)*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub enum $ty {}
            impl EtcdService for $ty {
                const NAME: &'static str = $name;
            }
        )*
    };
}

etcd_services! {
    /// `Range`, `Put`, `DeleteRange`, `Txn`, `Compact`.
    Kv => "etcdserverpb.KV",
    /// The bidirectional `Watch` stream.
    Watch => "etcdserverpb.Watch",
    /// `LeaseGrant`, `LeaseRevoke`, the `LeaseKeepAlive` stream, `LeaseTimeToLive`, `LeaseLeases`.
    Lease => "etcdserverpb.Lease",
    /// `MemberList` (client endpoint sync), `MemberAdd`, `MemberRemove`, `MemberUpdate`, `MemberPromote`.
    Cluster => "etcdserverpb.Cluster",
    /// `Status`, `Alarm`, `Defragment`, `Hash`, `Snapshot`, `MoveLeader`.
    Maintenance => "etcdserverpb.Maintenance",
    /// Authentication RPCs (an etcd client calls `Authenticate` when given credentials).
    Auth => "etcdserverpb.Auth",
}

/// Forwards every call of etcd service `S` to etcd over `channel`.
pub struct Forward<S> {
    channel: Channel,
    service: PhantomData<fn() -> S>,
}

impl<S> Clone for Forward<S> {
    fn clone(&self) -> Self {
        Forward {
            channel: self.channel.clone(),
            service: PhantomData,
        }
    }
}

impl<S: EtcdService> NamedService for Forward<S> {
    const NAME: &'static str = S::NAME;
}

impl<S: EtcdService> tower::Service<http::Request<Body>> for Forward<S> {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<std::result::Result<(), Infallible>> {
        // Readiness of the etcd connection is awaited per call (`oneshot`),
        // so one slow connection never stalls the master's listener.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let channel = self.channel.clone();
        Box::pin(async move {
            let method = request.uri().path().to_string();
            match channel.oneshot(request).await {
                Ok(response) => Ok(response),
                Err(error) => {
                    tracing::warn!(service = S::NAME, %method, %error, "etcd unreachable for a proxied call");
                    Ok(
                        tonic::Status::unavailable(format!("etcd is unreachable: {error}"))
                            .into_http(),
                    )
                }
            }
        })
    }
}

/// A lazily connected channel to `endpoints` (client URLs), load-balanced
/// when there are several; reconnects on its own after etcd restarts.
pub fn channel(endpoints: &[String]) -> Result<Channel> {
    let mut built = Vec::with_capacity(endpoints.len());
    for url in endpoints {
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| Error::Config(format!("etcd endpoint {url:?} is not a valid URL: {e}")))?
            .connect_timeout(Duration::from_secs(3))
            // HTTP/2 pings notice a dead etcd under an idle watch stream.
            .http2_keep_alive_interval(Duration::from_secs(5))
            .keep_alive_timeout(Duration::from_secs(3))
            .keep_alive_while_idle(true);
        built.push(endpoint);
    }
    match built.len() {
        0 => Err(Error::Config("no etcd endpoint to proxy to".into())),
        1 => Ok(built.remove(0).connect_lazy()),
        _ => Ok(Channel::balance_list(built.into_iter())),
    }
}

/// Adds etcd's client services to `routes`, each forwarded over `channel`.
pub fn add_services(routes: Routes, channel: &Channel) -> Routes {
    fn forward<S>(channel: &Channel) -> Forward<S> {
        Forward {
            channel: channel.clone(),
            service: PhantomData,
        }
    }
    routes
        .add_service(forward::<Kv>(channel))
        .add_service(forward::<Watch>(channel))
        .add_service(forward::<Lease>(channel))
        .add_service(forward::<Cluster>(channel))
        .add_service(forward::<Maintenance>(channel))
        .add_service(forward::<Auth>(channel))
}
