//! The master process: connects to etcd, serves gRPC `pb.Master`, etcd's
//! client API (proxied, `etcd_proxy`) and HTTP (`server::http`: `/status`,
//! `/metrics`, `/health`, ...) on one port (`--master-addr`), and runs the
//! coordinators while this master leads.
//!
//! `run(config, metrics, shutdown)` serves both `main` and the tests;
//! [`spawn`] starts a master in-process (tests bind `127.0.0.1:0`).

pub mod admin;
pub mod dashboard;
pub mod etcd_proxy;
pub mod forward;
pub mod gateway;
pub mod http;
pub mod managed_etcd;
pub mod members;
pub mod tasks;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::coordinator::optimist::{Optimist, OptimistHandle};
use crate::coordinator::pessimist::{Pessimist, PessimistHandle};
use crate::coordinator::scheduler::{SchedulerActor, SchedulerHandle};
use crate::coordinator::ActorContext;
use crate::election::{Election, ElectionHandle, Leadership};
use crate::error::{Error, Result};
use crate::etcd::{Etcd, EtcdOptions};
use crate::keys::KeySpace;
use crate::metrics::Metrics;

/// The version reported by `/status`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Handles on the coordinators of the current leader term.
#[derive(Clone)]
pub struct Coordinators {
    pub scheduler: SchedulerHandle,
    pub pessimist: PessimistHandle,
    pub optimist: OptimistHandle,
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
    /// The role's name as `/role` reports it.
    pub fn name(&self) -> &'static str {
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
    // No endpoints: this master runs a member of the masters' own etcd
    // cluster for its whole life, as DM's master embeds one.
    let mut member = None;
    if config.etcd_endpoints.is_empty() {
        let started =
            managed_etcd::EtcdMember::start(managed_etcd::MemberSpec::from_config(&config)).await?;
        config.etcd_endpoints = vec![started.client_url.clone()];
        member = Some(started);
    }
    let master = match spawn(config, KeySpace::default(), metrics).await {
        Ok(master) => master,
        Err(error) => {
            if let Some(member) = member {
                member.stop().await;
            }
            return Err(error);
        }
    };
    let cancel = master.cancel.clone();
    tokio::spawn(async move {
        shutdown.await;
        cancel.cancel();
    });
    master.wait().await;
    // The member stops after the master's tasks, so a leader still resigns
    // through it.
    if let Some(member) = member {
        member.stop().await;
    }
    Ok(())
}

/// A master running in this process.
pub struct Master {
    pub local_addr: SocketAddr,
    role: watch::Receiver<Role>,
    election: ElectionHandle,
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

    /// Gives up leadership now (another master takes over at once).
    pub async fn resign(&self) {
        self.election.resign().await;
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

    /// The optimist of this master once it leads (waits up to 10 s;
    /// `NotLeader` if it does not lead by then).
    pub async fn optimist(&self) -> Result<OptimistHandle> {
        self.wait_leader(Duration::from_secs(10))
            .await
            .map(|c| c.optimist)
            .ok_or(Error::NotLeader)
    }

    /// The scheduler of this master once it leads (waits up to 10 s;
    /// `NotLeader` if it does not lead by then).
    pub async fn scheduler(&self) -> Result<SchedulerHandle> {
        self.wait_leader(Duration::from_secs(10))
            .await
            .map(|c| c.scheduler)
            .ok_or(Error::NotLeader)
    }

    /// The pessimist of this master once it leads (waits up to 10 s;
    /// `NotLeader` if it does not lead by then).
    pub async fn pessimist(&self) -> Result<PessimistHandle> {
        self.wait_leader(Duration::from_secs(10))
            .await
            .map(|c| c.pessimist)
            .ok_or(Error::NotLeader)
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
    let etcd = Etcd::connect(
        &config.etcd_endpoints,
        EtcdOptions {
            // The scheme says whether etcd speaks TLS: an external plaintext
            // cluster keeps working when only the master port is secured.
            tls: config.tls.clone().filter(|_| {
                config
                    .etcd_endpoints
                    .iter()
                    .any(|e| e.starts_with("https://"))
            }),
            ..EtcdOptions::default()
        },
    )
    .await?;
    let server_tls = match &config.tls {
        Some(tls) => Some(
            tls.server_config()
                .map_err(|e| Error::Config(e.to_string()))?,
        ),
        None => None,
    };
    let etcd_channel = etcd_proxy::channel(&config.etcd_endpoints)?;
    let listener = tokio::net::TcpListener::bind(config.listen_addr()?)
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

    let election = Election::spawn(
        etcd.clone(),
        space.clone(),
        config.name.clone(),
        config.advertise_addr.clone(),
        config.election_ttl,
        &tracker,
        cancel.clone(),
    );
    tracker.spawn(lead(
        LeaderContext {
            etcd: etcd.clone(),
            space: space.clone(),
            metrics: metrics.clone(),
        },
        election.clone(),
        role_tx,
        cancel.clone(),
    ));

    serve(
        listener,
        server_tls,
        config.tls.clone(),
        etcd_channel,
        http::HttpState {
            name: config.name.clone(),
            role: role_rx.clone(),
            metrics: metrics.clone(),
            etcd: etcd.clone(),
        },
        &tracker,
        cancel.clone(),
    );
    tracing::info!(name = %config.name, addr = %local_addr, endpoints = ?config.etcd_endpoints, "dm-master started");
    Ok(Master {
        local_addr,
        role: role_rx,
        election,
        cancel,
        tracker,
    })
}

/// What a leader term needs to start its coordinators.
struct LeaderContext {
    etcd: Etcd,
    space: KeySpace,
    metrics: Arc<Metrics>,
}

/// Follows the election: on winning a term, starts the coordinators under
/// the term's token with the term's fence and publishes `Role::Leader`; when
/// the term ends, stops them (waiting for their tasks) and drops the
/// leader-only metrics before anything else can start. A coordinator that
/// finds its fence broken cancels the term's token itself
/// ([`Error::ends_term`]): both coordinators stop at once and this loop
/// resigns, without waiting for the election to notice the lost lease.
async fn lead(
    ctx: LeaderContext,
    election: ElectionHandle,
    role: watch::Sender<Role>,
    cancel: CancellationToken,
) {
    let mut leadership = election.leadership();
    loop {
        let current = leadership.borrow_and_update().clone();
        match current {
            Leadership::Leader(term) => {
                role.send_replace(Role::Starting);
                ctx.metrics.start_leader_counter.inc();
                tracing::info!(term = term.id(), "became leader, starting coordinators");
                // The term's own tracker: the election waits on it before it
                // reports a lost term.
                let term_tracker = term.work.clone();
                let term_cancel = term.cancel.child_token();
                // The scheduler starts first, as DM's does.
                let actors = ActorContext {
                    etcd: ctx.etcd.clone(),
                    space: ctx.space.clone(),
                    fence: Some(term.fence.clone()),
                    metrics: ctx.metrics.clone(),
                };
                let scheduler =
                    SchedulerActor::spawn(actors.clone(), &term_tracker, term_cancel.clone());
                let pessimist =
                    Pessimist::spawn(actors.clone(), &term_tracker, term_cancel.clone());
                let optimist = Optimist::spawn(actors, &term_tracker, term_cancel.clone());
                role.send_replace(Role::Leader(Coordinators {
                    scheduler,
                    pessimist,
                    optimist,
                }));
                tokio::select! {
                    _ = term_cancel.cancelled() => {}
                    _ = cancel.cancelled() => {}
                }
                let fence_broken = !term.cancel.is_cancelled() && !cancel.is_cancelled();
                term_cancel.cancel();
                term_tracker.close();
                term_tracker.wait().await;
                ctx.metrics.on_retire_leader();
                role.send_replace(Role::Unknown);
                tracing::info!(term = term.id(), "leader term over, coordinators stopped");
                if fence_broken {
                    // A coordinator saw our leader key replaced: give the
                    // term up so the election starts over cleanly.
                    election.resign().await;
                }
            }
            Leadership::Follower(leader) => {
                role.send_replace(Role::Follower { addr: leader.addr });
            }
            Leadership::Unknown => {
                role.send_replace(Role::Unknown);
            }
        }
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            changed = leadership.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

/// Serves gRPC (`pb.Master` and etcd's proxied services) and HTTP on one
/// listener: tonic's routes turned into an axum router with DM's HTTP routes
/// (`server::http`) merged in, served with HTTP/1 accepted; unknown paths
/// answer as [`http::fallback`] says.
#[allow(clippy::too_many_arguments)]
fn serve(
    listener: tokio::net::TcpListener,
    server_tls: Option<Arc<rustls::ServerConfig>>,
    client_tls: Option<crate::tls::TlsFiles>,
    etcd_channel: tonic::transport::Channel,
    state: http::HttpState,
    tracker: &TaskTracker,
    cancel: CancellationToken,
) {
    let forwarder = Arc::new(forward::Forwarder::with_tls(client_tls));
    let service = admin::MasterService::new(state.role.clone(), forwarder.clone());
    let dashboard = dashboard::Dashboard::new(state.role.clone(), forwarder.clone());
    let routes =
        tonic::service::Routes::new(crate::proto::master_server::MasterServer::new(service))
            .add_service(
                crate::proto::operator::lock_operator_server::LockOperatorServer::new(
                    dashboard.clone(),
                ),
            );
    let router = etcd_proxy::add_services(routes, &etcd_channel)
        .into_axum_router()
        .merge(gateway::router(state.role.clone(), forwarder))
        .merge(dashboard.router())
        .merge(http::router(state))
        .fallback(http::fallback);
    tracker.spawn(async move {
        let served = crate::tls::serve_routes(router, listener, server_tls, cancel).await;
        if let Err(error) = served {
            tracing::error!(%error, "server failed");
        }
    });
}
