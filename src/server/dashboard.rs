//! The lock page and the operator calls DM does not have (ours, not DM's).
//!
//! | Route / RPC | Answer |
//! |---|---|
//! | `GET /dashboard/locks` | the lock page: plain HTML, CSS and a little JavaScript from the binary; it polls `locks.json` every second |
//! | `GET /dashboard/locks.json` | locks of both modes (owner, DDLs, synced, unsynced, blocking, injected, done, age, optimistic conflicts, whether the task is in strict optimistic mode) and the workers with their bound sources |
//! | `GET /dashboard/unlock-preview?lock=ID[&owner=S]` | what `UnlockDDLLock` would write for a pessimistic lock |
//! | `operator.LockOperator/LockPage`, `PreviewUnlock`, `InjectInfo` | the same over gRPC (dmctl), in our own proto package |
//!
//! Served by the leader; a follower forwards the gRPC call one hop to the
//! leader, as DM's `pb.Master` calls are forwarded, and the HTTP routes go
//! through the same functions. Nothing here keeps lock state: the page is a
//! view of the coordinators' answers at the moment of the call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::RawQuery;
use axum::http::{header, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use tokio::sync::watch;
use tonic::{Request, Status};

use super::forward::{lead_or_forward, Forwarder};
use super::{Coordinators, Role};
use crate::coordinator::pessimist::UnlockWrites;
use crate::error::Error;
use crate::optimism::Operation as OptimisticOperation;
use crate::pessimism::operator::InjectRequest;
use crate::proto::operator::lock_operator_server::LockOperator;
use crate::proto::operator::{
    InjectInfoRequest, InjectInfoResponse, JsonReply, LockPageRequest, PreviewUnlockRequest,
};

/// The page, served as is.
const LOCKS_HTML: &str = include_str!("dashboard/locks.html");

/// When the leader first listed each optimistic lock (the optimist keeps no
/// age); pessimistic ages come from the pessimist.
type FirstSeen = Arc<Mutex<HashMap<String, Instant>>>;

/// The `operator.LockOperator` service and the page's routes share this.
#[derive(Clone)]
pub struct Dashboard {
    role: watch::Receiver<Role>,
    forwarder: Arc<Forwarder>,
    first_seen: FirstSeen,
}

impl Dashboard {
    pub fn new(role: watch::Receiver<Role>, forwarder: Arc<Forwarder>) -> Dashboard {
        Dashboard {
            role,
            forwarder,
            first_seen: FirstSeen::default(),
        }
    }

    /// The page's routes.
    pub fn router(self) -> axum::Router {
        let json_page = self.clone();
        let preview = self;
        axum::Router::new()
            .route(
                "/dashboard/locks",
                axum::routing::get(|| async {
                    reply(
                        StatusCode::OK,
                        "text/html; charset=utf-8",
                        LOCKS_HTML.into(),
                    )
                }),
            )
            .route(
                "/dashboard/locks.json",
                axum::routing::get(move || {
                    let dashboard = json_page.clone();
                    async move {
                        json_reply(dashboard.lock_page(Request::new(LockPageRequest {})).await)
                    }
                }),
            )
            .route(
                "/dashboard/unlock-preview",
                axum::routing::get(move |RawQuery(query): RawQuery| {
                    let dashboard = preview.clone();
                    async move {
                        let query = query.unwrap_or_default();
                        let request = PreviewUnlockRequest {
                            lock_id: query_value(&query, "lock").unwrap_or_default(),
                            replace_owner: query_value(&query, "owner").unwrap_or_default(),
                        };
                        json_reply(dashboard.preview_unlock(Request::new(request)).await)
                    }
                }),
            )
    }

    async fn page_json(&self, coordinators: &Coordinators) -> Result<Value, Error> {
        let pessimistic = coordinators.pessimist.lock_details().await?;
        let optimistic = coordinators.optimist.show_locks(None, &[]).await?;
        let conflicts = coordinators.optimist.conflicts().await?;
        let workers = coordinators.scheduler.workers().await?;
        let mut locks: Vec<Value> = pessimistic
            .into_iter()
            .map(|detail| {
                let v = detail.view;
                let synced = v.unsynced.is_empty();
                // Un-synced: the sources that have not reached the DDL hold
                // it; synced: the ones not done yet.
                let blocking: Vec<&String> = if synced {
                    v.synced
                        .iter()
                        .filter(|s| !detail.done.contains(s))
                        .collect()
                } else {
                    v.unsynced.iter().collect()
                };
                json!({
                    "id": v.id, "task": v.task, "mode": v.mode.as_str(), "owner": v.owner,
                    "ddls": v.ddls, "synced": v.synced, "unsynced": v.unsynced,
                    "blocking": blocking, "injected": detail.injected, "done": detail.done,
                    "age_seconds": detail.age_seconds.floor(),
                    "conflicts": [],
                    "strict": false,
                })
            })
            .collect();
        let now = Instant::now();
        let ages: HashMap<String, f64> = {
            let mut first_seen = self
                .first_seen
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            first_seen.retain(|id, _| optimistic.iter().any(|l| l.id == *id));
            optimistic
                .iter()
                .map(|l| {
                    let seen = *first_seen.entry(l.id.clone()).or_insert(now);
                    (l.id.clone(), now.duration_since(seen).as_secs_f64().floor())
                })
                .collect()
        };
        let mut strict_tasks: HashMap<String, bool> = HashMap::new();
        for v in &optimistic {
            if !strict_tasks.contains_key(&v.task) {
                // A task whose configs cannot be read is shown as not strict.
                let configs = coordinators
                    .scheduler
                    .subtask_configs(&v.task)
                    .await
                    .unwrap_or_default();
                let strict = configs
                    .values()
                    .any(|toml| crate::task::strict_optimistic_shard_mode(toml));
                strict_tasks.insert(v.task.clone(), strict);
            }
        }
        for v in optimistic {
            let strict = strict_tasks.get(&v.task).copied().unwrap_or(false);
            let lock_conflicts: Vec<&OptimisticOperation> =
                conflicts.iter().filter(|op| op.id == v.id).collect();
            let mut blocking: Vec<String> = v.unsynced.clone();
            for op in &lock_conflicts {
                let table = format!("{}-`{}`.`{}`", op.source, op.up_schema, op.up_table);
                if !blocking.contains(&table) {
                    blocking.push(table);
                }
            }
            let conflicts_json: Vec<Value> = lock_conflicts
                .iter()
                .map(|op| {
                    json!({
                        "table": format!("{}-`{}`.`{}`", op.source, op.up_schema, op.up_table),
                        "stage": op.conflict_stage.as_str(),
                        "message": op.conflict_message,
                    })
                })
                .collect();
            locks.push(json!({
                "id": v.id, "task": v.task, "mode": v.mode.as_str(), "owner": v.owner,
                "ddls": v.ddls, "synced": v.synced, "unsynced": v.unsynced,
                "blocking": blocking, "injected": [], "done": [],
                "age_seconds": ages.get(&v.id).copied().unwrap_or(0.0),
                "conflicts": conflicts_json,
                "strict": strict,
            }));
        }
        let workers: Vec<Value> = workers
            .into_iter()
            .map(|w| json!({ "name": w.name, "addr": w.addr, "stage": w.stage.name(), "source": w.source }))
            .collect();
        Ok(json!({ "locks": locks, "workers": workers }))
    }
}

#[tonic::async_trait]
impl LockOperator for Dashboard {
    async fn lock_page(
        &self,
        request: Request<LockPageRequest>,
    ) -> Result<tonic::Response<JsonReply>, Status> {
        let role = self.role.borrow().clone();
        let coordinators =
            lead_or_forward!(role, self.forwarder, operator_client, request, lock_page);
        let page = self.page_json(&coordinators).await?;
        Ok(tonic::Response::new(JsonReply {
            result: true,
            msg: String::new(),
            json: page.to_string(),
        }))
    }

    #[tracing::instrument(skip_all, fields(lock_id = %request.get_ref().lock_id))]
    async fn preview_unlock(
        &self,
        request: Request<PreviewUnlockRequest>,
    ) -> Result<tonic::Response<JsonReply>, Status> {
        let role = self.role.borrow().clone();
        let coordinators = lead_or_forward!(
            role,
            self.forwarder,
            operator_client,
            request,
            preview_unlock
        );
        let req = request.into_inner();
        let owner = Some(req.replace_owner.as_str()).filter(|o| !o.is_empty());
        let reply = match coordinators
            .pessimist
            .preview_unlock(&req.lock_id, owner)
            .await
        {
            Ok(writes) => JsonReply {
                result: true,
                msg: String::new(),
                json: preview_json(&writes).to_string(),
            },
            Err(error) => JsonReply {
                result: false,
                msg: error.dm_string(),
                json: String::new(),
            },
        };
        Ok(tonic::Response::new(reply))
    }

    #[tracing::instrument(skip_all, fields(task = %request.get_ref().task, source = %request.get_ref().source))]
    async fn inject_info(
        &self,
        request: Request<InjectInfoRequest>,
    ) -> Result<tonic::Response<InjectInfoResponse>, Status> {
        let role = self.role.borrow().clone();
        let coordinators =
            lead_or_forward!(role, self.forwarder, operator_client, request, inject_info);
        let req = request.into_inner();
        let result = coordinators
            .pessimist
            .inject(InjectRequest {
                task: req.task,
                source: req.source,
                schema: req.database,
                table: req.table,
                ddls: req.ddls,
            })
            .await;
        Ok(tonic::Response::new(match result {
            Ok(()) => InjectInfoResponse {
                result: true,
                msg: String::new(),
            },
            Err(error) => InjectInfoResponse {
                result: false,
                msg: error.dm_string(),
            },
        }))
    }
}

/// The preview as dmctl and the page print it: each Operation with its key
/// and the exact value bytes, then the deleted keys.
pub fn preview_json(writes: &UnlockWrites) -> Value {
    let p = &writes.preview;
    let puts: Vec<Value> = writes
        .puts
        .iter()
        .map(|(key, op)| {
            json!({
                "key": key,
                "source": op.source,
                "action": if op.exec { "exec" } else { "skip" },
                "value": String::from_utf8_lossy(&op.encode()),
            })
        })
        .collect();
    json!({
        "lock_id": p.lock_id,
        "task": p.task,
        "owner": p.owner,
        "ddls": p.ddls,
        "operations": puts,
        "not_asked": p.not_asked,
        "unsynced": p.unsynced,
        "deletes": writes.deletes,
    })
}

fn json_reply(answer: Result<tonic::Response<JsonReply>, Status>) -> Response {
    match answer {
        Ok(r) if r.get_ref().result => {
            reply(StatusCode::OK, "application/json", r.into_inner().json)
        }
        Ok(r) => reply(
            StatusCode::BAD_REQUEST,
            "application/json",
            json!({ "error": r.into_inner().msg }).to_string(),
        ),
        Err(status) => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "application/json",
            json!({ "error": status.message() }).to_string(),
        ),
    }
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from(body))
        .unwrap_or_default()
}

/// One percent-decoded query parameter.
fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| super::gateway::percent_decode(value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_decoded() {
        let q = "lock=test-%60db%60.%60tbl%60&owner=mysql-02";
        assert_eq!(query_value(q, "lock").as_deref(), Some("test-`db`.`tbl`"));
        assert_eq!(query_value(q, "owner").as_deref(), Some("mysql-02"));
        assert_eq!(query_value(q, "other"), None);
    }

    #[test]
    fn strict_mode_is_read_from_the_subtask_toml() {
        use crate::task::strict_optimistic_shard_mode as strict;
        assert!(strict(
            b"name = \"t\"\nstrict-optimistic-shard-mode = true\n"
        ));
        assert!(!strict(
            b"name = \"t\"\nstrict-optimistic-shard-mode = false\n"
        ));
        assert!(!strict(b"name = \"t\"\n"));
        assert!(!strict(b"not toml ["));
    }

    #[test]
    fn the_page_polls_its_json_and_marks_blocking_sources() {
        assert!(LOCKS_HTML.contains("locks.json"));
        assert!(LOCKS_HTML.contains("blocking"));
        assert!(LOCKS_HTML.contains("name=\"viewport\""));
    }
}
