//! A worker joined to the masters, started in DM's order
//! (`cmd/dm-worker/main.go`, `dm/worker/server.go` `Start`):
//! 1. `RegisterWorker` over the join addresses ([`join::register`]);
//! 2. bind `worker-addr`; an etcd client on the join addresses (the
//!    masters serve etcd's API on their own address);
//! 3. the keep-alive lease ([`join::keep_alive`]);
//! 4. the bound key read and watched by the [`SourceActor`];
//! 5. DM's `pb.Worker` gRPC on `worker-addr`.
//!
//! **Cancellation:** one root token. [`JoinedWorker::stop`] cancels it and
//! waits for the keep-alive to revoke its lease, so the master sees the
//! worker go at once; [`JoinedWorker::kill`] drops everything without a
//! revoke, as a crashed process would, and the key expires with its TTL.

use std::net::SocketAddr;
use std::sync::Arc;

use dm_master::etcd::{Etcd, EtcdOptions};
use dm_master::keys::KeySpace;
use dm_master::proto::worker_server::WorkerServer;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use crate::config::WorkerConfig;
use crate::error::Error;
use crate::ha::HaKeys;
use crate::join;
use crate::runner::ScenarioRunner;
use crate::service::WorkerService;
use crate::source::{self, SourceActor, Status};
use crate::subtasks::SubtaskRunner;

/// How a joined worker is started beyond its [`WorkerConfig`].
#[derive(Default)]
pub struct JoinOptions {
    /// Namespace of every etcd key (empty in production: DM's keys).
    pub space: KeySpace,
    /// **Test only.** etcd client endpoints used instead of the join
    /// addresses, for masters that do not serve etcd's API on their own
    /// address. Production workers reach etcd only through the masters.
    pub etcd_endpoints_for_tests: Option<Vec<String>>,
    /// Runs the bound source's subtasks; `None`: the [`ScenarioRunner`]
    /// over the scenario files of the worker's config.
    pub runner: Option<Box<dyn SubtaskRunner>>,
}

/// Why starting a joined worker failed; DM exits 2 for the first, 1 for
/// the rest.
#[derive(Debug)]
pub enum StartError {
    /// Every RegisterWorker round failed.
    Join(Error),
    /// Listening, etcd or the first bound read failed.
    Start(Error),
}

impl StartError {
    /// The process exit code DM's worker uses.
    pub fn exit_code(&self) -> i32 {
        match self {
            StartError::Join(_) => 2,
            StartError::Start(_) => 1,
        }
    }

    pub fn error(&self) -> &Error {
        match self {
            StartError::Join(e) | StartError::Start(e) => e,
        }
    }
}

/// A running joined worker.
pub struct JoinedWorker {
    config: Arc<WorkerConfig>,
    local_addr: SocketAddr,
    source: source::Handle,
    /// Cancels the keep-alive, the source actor, its watchers and the gRPC
    /// server.
    cancel: CancellationToken,
    /// The keep-alive task: awaited by `stop` (so the lease is revoked),
    /// aborted by `kill` (so it is not).
    keep_alive: JoinHandle<()>,
    /// The gRPC server task.
    server: JoinHandle<()>,
}

impl JoinedWorker {
    /// Joins and starts serving; returns once the worker is registered, its
    /// keep-alive started and its bound read.
    pub async fn start(
        config: WorkerConfig,
        options: JoinOptions,
    ) -> std::result::Result<JoinedWorker, StartError> {
        let config = Arc::new(config);
        let join_urls = config.join_urls();
        let tls = config.tls();
        join::register(
            &join_urls,
            &config.name,
            &config.advertise_addr,
            tls.as_ref(),
        )
        .await
        .map_err(StartError::Join)?;
        let listener = tokio::net::TcpListener::bind(&config.worker_addr)
            .await
            .map_err(|e| {
                StartError::Start(Error::Listen {
                    addr: config.worker_addr.clone(),
                    reason: e.to_string(),
                })
            })?;
        let local_addr = listener.local_addr().map_err(|e| {
            StartError::Start(Error::Listen {
                addr: config.worker_addr.clone(),
                reason: e.to_string(),
            })
        })?;
        let endpoints = options.etcd_endpoints_for_tests.unwrap_or(join_urls);
        let etcd_options = EtcdOptions {
            tls: tls.clone(),
            ..EtcdOptions::default()
        };
        let etcd = Etcd::connect(&endpoints, etcd_options)
            .await
            .map_err(|e| StartError::Start(e.into()))?;
        let runner = options.runner.unwrap_or_else(|| {
            Box::new(ScenarioRunner::new(
                config.clone(),
                etcd.clone(),
                options.space.clone(),
            ))
        });
        let keys = HaKeys::new(options.space);
        let cancel = CancellationToken::new();
        let source = SourceActor::spawn(
            etcd.clone(),
            keys.clone(),
            &config.name,
            runner,
            cancel.child_token(),
        )
        .await
        .map_err(|e| {
            cancel.cancel();
            StartError::Start(e)
        })?;
        let keep_alive = tokio::spawn(join::keep_alive(
            etcd,
            keys,
            config.name.clone(),
            config.keepalive_ttl,
            source.clone(),
            cancel.clone(),
        ));
        let service = WorkerServer::new(WorkerService::new(config.clone(), source.clone()));
        let shutdown = cancel.clone();
        let worker = config.name.clone();
        let server_tls = match &tls {
            Some(tls) => Some(tls.server_config().map_err(|e| {
                cancel.cancel();
                StartError::Start(Error::Master(dm_master::Error::Config(e.to_string())))
            })?),
            None => None,
        };
        let metrics = Arc::new(crate::http::WorkerMetrics::new());
        let cpu_metrics = metrics.clone();
        let cpu_cancel = cancel.clone();
        tokio::spawn(async move { cpu_metrics.refresh_cpu_usage_until(cpu_cancel).await });
        // pb.Worker and DM-worker's HTTP routes on one listener, as DM's
        // cmux serves them.
        let routes = tonic::service::Routes::new(service)
            .into_axum_router()
            .merge(crate::http::router(
                config.name.clone(),
                source.clone(),
                metrics,
            ))
            .fallback(dm_master::server::http::fallback);
        let server = tokio::spawn(async move {
            let served = dm_master::tls::serve_routes(routes, listener, server_tls, shutdown).await;
            if let Err(e) = served {
                error!(worker = %worker, error = %e, "pb.Worker server failed");
            }
        });
        info!(worker = %config.name, addr = %local_addr, advertise_addr = %config.advertise_addr, "dm-worker joined and serving");
        Ok(JoinedWorker {
            config,
            local_addr,
            source,
            cancel,
            keep_alive,
            server,
        })
    }

    /// The address the `pb.Worker` server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// The source and subtasks as `QueryStatus` reports them.
    pub async fn status(&self) -> Option<Status> {
        self.source.status().await
    }

    /// Graceful shutdown: the lease is revoked (the keep-alive key goes at
    /// once), watchers and the server stop.
    pub async fn stop(self) {
        self.cancel.cancel();
        let _ = self.keep_alive.await;
        let _ = self.server.await;
        info!(worker = %self.config.name, "dm-worker exit");
    }

    /// Stops like a killed process: no revoke, so the keep-alive key stays
    /// until its lease expires.
    pub async fn kill(self) {
        self.keep_alive.abort();
        let _ = self.keep_alive.await;
        self.cancel.cancel();
        let _ = self.server.await;
    }
}
