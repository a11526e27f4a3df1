//! The master process: connects to etcd, serves gRPC `pb.Master` and HTTP
//! (`/status`, `/metrics`) on one port (`--master-addr`), and runs the
//! coordinators while this master leads.
//!
//! `run(config, metrics, shutdown)` serves both `main` and the tests;
//! [`spawn`] starts a master in-process (tests bind `127.0.0.1:0`).

pub mod admin;
pub mod forward;
pub mod managed_etcd;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::coordinator::pessimist::{Pessimist, PessimistHandle};
use crate::error::{Error, Result};
use crate::etcd::{Etcd, EtcdOptions};
use crate::keys::KeySpace;
use crate::metrics::Metrics;

/// The version reported by `/status`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Handles on the coordinators of the current leader term.
#[derive(Clone)]
pub struct Coordinators {
    pub pessimist: PessimistHandle,
}

/// What this master is right now; admin requests read it to decide whether
/// to answer, forward, or refuse.
#[derive(Clone, Default)]
pub enum Role {
    /// Becoming leader: coordinators are being rebuilt.
    Starting,
    /// No leader known (election in progress, etcd unreachable).
    #[default]
    Unknown,
    /// This master leads; its coordinators answer.
    Leader(Coordinators),
    /// Another master leads at `addr`.
    Follower { addr: String },
}

impl Role {
    fn name(&self) -> &'static str {
        match self {
            Role::Starting => "starting",
            Role::Unknown => "unknown",
            Role::Leader(_) => "leader",
            Role::Follower { .. } => "follower",
        }
    }
}

/// Runs a master until `shutdown` resolves.
pub async fn run(
    config: Config,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let mut config = config;
    // No endpoints: run our own etcd under --data-dir for the master's life.
    let mut managed = None;
    if config.etcd_endpoints.is_empty() {
        let etcd = managed_etcd::ManagedEtcd::start(&config.data_dir, &config.name).await?;
        config.etcd_endpoints = vec![etcd.endpoint.clone()];
        managed = Some(etcd);
    }
    let master = spawn(config, KeySpace::default(), metrics).await?;
    let cancel = master.cancel.clone();
    tokio::spawn(async move {
        shutdown.await;
        cancel.cancel();
    });
    if let Some(etcd) = managed.as_mut() {
        // Supervise: a managed etcd that dies takes the master down with a
        // clear error instead of leaving it retrying forever.
        loop {
            tokio::select! {
                _ = master.cancel.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {
                    if let Some(status) = etcd.exited() {
                        tracing::error!(%status, "managed etcd exited");
                        master.stop().await;
                        return Err(Error::Config(format!("managed etcd exited ({status})")));
                    }
                }
            }
        }
    }
    master.wait().await;
    if let Some(etcd) = managed {
        etcd.stop().await;
    }
    Ok(())
}

/// A master running in this process.
pub struct Master {
    pub local_addr: SocketAddr,
    role: watch::Receiver<Role>,
    /// Cancelling it stops every task of the master.
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Master {
    /// Stops the master and waits for all its tasks.
    pub async fn stop(self) {
        self.cancel.cancel();
        self.wait().await;
    }

    async fn wait(&self) {
        self.cancel.cancelled().await;
        self.tracker.close();
        self.tracker.wait().await;
        tracing::info!(addr = %self.local_addr, "dm-master stopped");
    }

    /// The current role.
    pub fn role(&self) -> Role {
        self.role.borrow().clone()
    }

    /// Waits (up to `timeout`) until this master leads and returns its
    /// coordinators.
    pub async fn wait_leader(&self, timeout: Duration) -> Option<Coordinators> {
        let mut role = self.role.clone();
        let leading = tokio::time::timeout(timeout, async {
            role.wait_for(|r| matches!(r, Role::Leader(_)))
                .await
                .map(|r| r.clone())
        })
        .await;
        match leading {
            Ok(Ok(Role::Leader(c))) => Some(c),
            _ => None,
        }
    }

    /// The pessimist of this master once it leads (waits up to 10 s).
    pub async fn pessimist(&self) -> PessimistHandle {
        self.wait_leader(Duration::from_secs(10))
            .await
            .map(|c| c.pessimist)
            .expect("master did not become leader within 10 s")
    }
}

/// Binds the listener, starts serving and the coordinators; returns once
/// serving.
pub async fn spawn(config: Config, space: KeySpace, metrics: Arc<Metrics>) -> Result<Master> {
    if config.etcd_endpoints.is_empty() {
        return Err(Error::Config(
            "--etcd-endpoints is required (e.g. --etcd-endpoints http://127.0.0.1:2379)".into(),
        ));
    }
    let etcd = Etcd::connect(&config.etcd_endpoints, EtcdOptions::default()).await?;
    let listener = tokio::net::TcpListener::bind(config.master_addr)
        .await
        .map_err(|source| Error::Io {
            op: "bind --master-addr",
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| Error::Io {
        op: "read listener address",
        source,
    })?;
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    let (role_tx, role_rx) = watch::channel(Role::Starting);

    // Until leader election lands, a single master leads from the start.
    metrics.start_leader_counter.inc();
    let pessimist = Pessimist::spawn(
        etcd.clone(),
        space.clone(),
        None,
        metrics.clone(),
        &tracker,
        cancel.child_token(),
    );
    role_tx.send_replace(Role::Leader(Coordinators { pessimist }));

    serve(
        listener,
        config.name.clone(),
        role_rx.clone(),
        metrics.clone(),
        &tracker,
        cancel.clone(),
    );
    tracing::info!(name = %config.name, addr = %local_addr, endpoints = ?config.etcd_endpoints, "dm-master started");
    Ok(Master {
        local_addr,
        role: role_rx,
        cancel,
        tracker,
    })
}

/// Serves gRPC and HTTP on one listener: tonic's routes turned into an axum
/// router with the HTTP routes added, served with HTTP/1 accepted.
fn serve(
    listener: tokio::net::TcpListener,
    name: String,
    role: watch::Receiver<Role>,
    metrics: Arc<Metrics>,
    tracker: &TaskTracker,
    cancel: CancellationToken,
) {
    let service = admin::MasterService::new(role.clone(), Arc::new(forward::Forwarder::default()));
    let status_role = role.clone();
    let router =
        tonic::service::Routes::new(crate::proto::master_server::MasterServer::new(service))
            .into_axum_router()
            .route(
                "/status",
                axum::routing::get(move || {
                    let body = status_body(&name, &status_role.borrow());
                    async move { json_response(body) }
                }),
            )
            .route(
                "/metrics",
                axum::routing::get(move || {
                    let text = metrics.render();
                    async move {
                        axum::response::Response::builder()
                            .header("content-type", "text/plain; version=0.0.4")
                            .body(axum::body::Body::from(text))
                            .unwrap_or_default()
                    }
                }),
            );
    tracker.spawn(async move {
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let served = tonic::transport::Server::builder()
            .accept_http1(true)
            .add_routes(tonic::service::Routes::from(router))
            .serve_with_incoming_shutdown(incoming, cancel.cancelled())
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "server failed");
        }
    });
}

fn status_body(name: &str, role: &Role) -> String {
    let leader = match role {
        Role::Leader(_) => json_str(name),
        Role::Follower { addr } => json_str(addr),
        _ => "null".to_string(),
    };
    format!(
        "{{\"name\":{},\"version\":{},\"role\":{},\"leader\":{},\"health\":true}}",
        json_str(name),
        json_str(VERSION),
        json_str(role.name()),
        leader
    )
}

fn json_response(body: String) -> axum::response::Response {
    axum::response::Response::builder()
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body))
        .unwrap_or_default()
}

fn json_str(s: &str) -> String {
    let mut out = Vec::new();
    crate::gojson::write_str(&mut out, s);
    String::from_utf8_lossy(&out).into_owned()
}
