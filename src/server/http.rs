//! The HTTP/1.1 routes on the master port, as DM-master and its embedded
//! etcd answer them (docs/protocol.md#http):
//!
//! | Path | Answer |
//! |---|---|
//! | `/status` | DM's version text, `text/plain`, any method |
//! | `/metrics` | Prometheus text: `dm_master_*` families and `process_*` |
//! | `/health` | etcd's `{"health":"true","reason":""}` (503 and `false` when etcd does not answer) |
//! | `/version` | etcd's `{"etcdserver":"3.5.15","etcdcluster":"3.5.0"}` |
//! | `/role` | ours: this master's name, role and leader as JSON (tests and operators) |
//! | anything else | 404 `404 page not found` (Go's `http.NotFound`); a gRPC request for an unknown method keeps gRPC's `Unimplemented` |
//!
//! The `/apis/v1alpha1/` gateway and the lock page (`/dashboard/locks`,
//! `server::dashboard`) are added next to these by their own modules.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use axum::routing::{any, get};
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::etcd::Etcd;
use crate::metrics::Metrics;
use crate::server::{Role, VERSION};

/// etcd's `/version` body for the etcd release the master speaks to.
pub const ETCD_VERSION_BODY: &str = r#"{"etcdserver":"3.5.15","etcdcluster":"3.5.0"}"#;

/// How long `/health` waits for etcd (etcd's own handler uses 1 s + slack).
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// What the HTTP routes read.
#[derive(Clone)]
pub struct HttpState {
    pub name: String,
    pub role: watch::Receiver<Role>,
    pub metrics: Arc<Metrics>,
    pub etcd: Etcd,
}

/// DM's HTTP routes (without a fallback, so routers can be merged; see
/// [`fallback`]).
pub fn router(state: HttpState) -> axum::Router {
    let role_state = state.clone();
    let health_etcd = state.etcd.clone();
    let metrics = state.metrics.clone();
    axum::Router::new()
        .route(
            "/status",
            any(|| async {
                text_response(StatusCode::OK, "text/plain", crate::config::version_text())
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let text = metrics.render();
                async move { text_response(StatusCode::OK, "text/plain; version=0.0.4", text) }
            }),
        )
        .route(
            "/health",
            get(move || {
                let etcd = health_etcd.clone();
                async move { health(&etcd).await }
            }),
        )
        .route(
            "/version",
            get(|| async {
                text_response(
                    StatusCode::OK,
                    "application/json",
                    ETCD_VERSION_BODY.to_string(),
                )
            }),
        )
        .route(
            "/role",
            get(move || {
                let body = role_body(&role_state.name, &role_state.role.borrow());
                async move { text_response(StatusCode::OK, "application/json", body) }
            }),
        )
}

/// Unknown paths: gRPC keeps `Unimplemented`, HTTP gets Go's 404.
pub async fn fallback(request: Request<Body>) -> Response {
    let grpc = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    if grpc {
        let (parts, ()) = tonic::Status::unimplemented("")
            .into_http::<()>()
            .into_parts();
        return Response::from_parts(parts, Body::empty());
    }
    text_response(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        "404 page not found\n".to_string(),
    )
}

/// etcd's `/health`: a linearizable read of the key `health` (absent is fine).
async fn health(etcd: &Etcd) -> Response {
    match tokio::time::timeout(HEALTH_TIMEOUT, etcd.get("health")).await {
        Ok(Ok(_)) => text_response(
            StatusCode::OK,
            "application/json",
            r#"{"health":"true","reason":""}"#.to_string(),
        ),
        Ok(Err(error)) => {
            tracing::warn!(%error, "health check: etcd request failed");
            unhealthy(&error.to_string())
        }
        Err(_) => {
            tracing::warn!("health check: etcd did not answer in time");
            unhealthy("timeout")
        }
    }
}

fn unhealthy(reason: &str) -> Response {
    text_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "application/json",
        unhealthy_body(reason),
    )
}

/// etcd's `/health` body when the read failed.
fn unhealthy_body(reason: &str) -> String {
    go_json(&json!({ "health": "false", "reason": format!("QGET ERROR:{reason}") }))
}

pub fn text_response(status: StatusCode, content_type: &str, body: String) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap_or_default()
}

/// Our `/role` body: name, version, role and the leader this master sees.
pub fn role_body(name: &str, role: &Role) -> String {
    let leader = match role {
        Role::Leader(_) => Value::from(name),
        Role::Follower { addr } => Value::from(addr.as_str()),
        _ => Value::Null,
    };
    go_json(&json!({
        "name": name,
        "version": VERSION,
        "role": role.name(),
        "leader": leader,
        "health": true,
    }))
}

/// Compact JSON with Go's escaping, as etcd's and DM's handlers write it.
fn go_json(value: &Value) -> String {
    String::from_utf8_lossy(&crate::gojson::to_vec(value)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_bodies_keep_their_bytes() {
        let follower = Role::Follower {
            addr: "127.0.0.1:8261".into(),
        };
        assert_eq!(
            role_body("m<1>", &follower),
            format!(
                r#"{{"name":"m\u003c1\u003e","version":"{VERSION}","role":"follower","leader":"127.0.0.1:8261","health":true}}"#
            )
        );
        assert_eq!(
            role_body("m1", &Role::Unknown),
            format!(
                r#"{{"name":"m1","version":"{VERSION}","role":"unknown","leader":null,"health":true}}"#
            )
        );
    }

    #[test]
    fn unhealthy_body_is_etcds() {
        assert_eq!(
            unhealthy_body("timeout \"x\" & y"),
            r#"{"health":"false","reason":"QGET ERROR:timeout \"x\" \u0026 y"}"#
        );
    }
}
