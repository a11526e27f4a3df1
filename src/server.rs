//! The master process: connects to etcd, serves HTTP (`/status`,
//! `/metrics`) on `--master-addr`, and runs the coordinators until shutdown.
//!
//! `run(config, metrics, shutdown)` serves both `main` and the tests;
//! [`spawn`] starts a master in-process on an ephemeral port.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::get;
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

/// Runs a master until `shutdown` resolves.
pub async fn run(
    config: Config,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let master = spawn(config, KeySpace::default(), metrics).await?;
    let cancel = master.cancel.clone();
    tokio::spawn(async move {
        shutdown.await;
        cancel.cancel();
    });
    master.wait().await;
    Ok(())
}

/// A master running in this process.
pub struct Master {
    pub local_addr: SocketAddr,
    pub pessimist: PessimistHandle,
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
}

/// Binds the listener and starts the coordinators; returns once serving.
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

    let pessimist = Pessimist::spawn(
        etcd.clone(),
        space.clone(),
        None,
        metrics.clone(),
        &tracker,
        cancel.child_token(),
    );

    let state = Arc::new(HttpState {
        name: config.name.clone(),
        metrics: metrics.clone(),
    });
    let app = axum::Router::new()
        .route("/status", get(status))
        .route("/metrics", get(metrics_text))
        .with_state(state);
    let http_cancel = cancel.clone();
    tracker.spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { http_cancel.cancelled().await })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "http server failed");
        }
    });
    tracing::info!(name = %config.name, addr = %local_addr, endpoints = ?config.etcd_endpoints, "dm-master started");
    Ok(Master {
        local_addr,
        pessimist,
        cancel,
        tracker,
    })
}

struct HttpState {
    name: String,
    metrics: Arc<Metrics>,
}

async fn status(
    axum::extract::State(state): axum::extract::State<Arc<HttpState>>,
) -> axum::response::Response {
    let body = format!(
        "{{\"name\":{},\"version\":{},\"health\":true}}",
        json_str(&state.name),
        json_str(VERSION)
    );
    axum::response::Response::builder()
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body))
        .unwrap_or_default()
}

async fn metrics_text(
    axum::extract::State(state): axum::extract::State<Arc<HttpState>>,
) -> axum::response::Response {
    axum::response::Response::builder()
        .header("content-type", "text/plain; version=0.0.4")
        .body(axum::body::Body::from(state.metrics.render()))
        .unwrap_or_default()
}

fn json_str(s: &str) -> String {
    let mut out = Vec::new();
    crate::gojson::write_str(&mut out, s);
    String::from_utf8_lossy(&out).into_owned()
}
