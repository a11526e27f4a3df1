//! gRPC handlers of the worker and source half of `pb.Master`:
//! `RegisterWorker`, `ListMember`, `OfflineMember` and `OperateSource`
//! (DM `dm/master/server.go`). `admin.rs` dispatches here after its leader
//! check; a follower forwards the request to the leader one hop, as DM does.
//!
//! Failures are reported inside the response (`result=false`, `msg` = DM's
//! error string), never as a gRPC error, except "not leader and no leader".

use std::time::Duration;

use tonic::{Request, Response, Status};

use super::forward::{lead_or_forward, Forwarder};
use super::tasks::worker_query_status;
use super::Role;
use crate::coordinator::scheduler::{NewSource, SchedulerHandle};
use crate::election::LeaderValue;
use crate::error::Error;
use crate::etcd::Op;
use crate::etcd::Txn;
use crate::proto::{
    self, members, CommonWorkerResponse, ListLeaderMember, ListMasterMember, ListMemberRequest,
    ListMemberResponse, ListWorkerMember, MasterInfo, Members, OfflineMemberRequest,
    OfflineMemberResponse, OperateSourceRequest, OperateSourceResponse, RegisterWorkerRequest,
    RegisterWorkerResponse, SourceOp,
};
use crate::scheduler::SchedulerError;
use crate::source_config::{SourceConfig, SourceConfigError};
use crate::tls::TlsFiles;

/// How long `ListMember` waits for a master's `/health` (DM: 1 s).
const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);
/// DM's `waitOperationOk`: attempts and the pause between them.
const WAIT_ATTEMPTS: usize = 10;
const WAIT_INTERVAL: Duration = Duration::from_secs(1);
/// Timeout of one `pb.Worker/QueryStatus` during the wait.
const WORKER_RPC_TIMEOUT: Duration = Duration::from_secs(3);

const NO_FREE_WORKER: &str = "source is added but there is no free worker to bound";
const STOPPED_UNBOUND: &str = "source is stopped and hasn't bound to worker before being stopped";

/// `RegisterWorker`.
#[tracing::instrument(skip_all, fields(worker = %request.get_ref().name, addr = %request.get_ref().address))]
pub async fn register_worker(
    role: Role,
    forwarder: &Forwarder,
    request: Request<RegisterWorkerRequest>,
) -> Result<Response<RegisterWorkerResponse>, Status> {
    let scheduler = lead_or_forward!(role, forwarder, request, register_worker).scheduler;
    let req = request.into_inner();
    let response = match scheduler.register_worker(&req.name, &req.address).await {
        Ok(()) => RegisterWorkerResponse {
            result: true,
            msg: String::new(),
            // No `secret-key-path`: workers treat passwords as plaintext.
            secret_key: Vec::new(),
        },
        Err(error) => {
            tracing::warn!(%error, "register worker refused");
            RegisterWorkerResponse {
                result: false,
                msg: error.dm_string(),
                secret_key: Vec::new(),
            }
        }
    };
    Ok(Response::new(response))
}

/// `ListMember`: leader, masters, workers, in that order.
pub async fn list_member(
    role: Role,
    forwarder: &Forwarder,
    request: Request<ListMemberRequest>,
) -> Result<Response<ListMemberResponse>, Status> {
    let scheduler = lead_or_forward!(role, forwarder, request, list_member).scheduler;
    let mut req = request.into_inner();
    if !req.leader && !req.master && !req.worker {
        req.leader = true;
        req.master = true;
        req.worker = true;
    }
    let wanted = |name: &str| req.names.is_empty() || req.names.iter().any(|n| n == name);
    let mut members = Vec::new();
    if req.leader {
        let leader = match leader_info(&scheduler).await {
            Ok(Some(leader)) if wanted(&leader.id) => ListLeaderMember {
                msg: String::new(),
                name: leader.id,
                addr: leader.addr,
            },
            Ok(_) => ListLeaderMember::default(),
            Err(error) => ListLeaderMember {
                msg: error.dm_string(),
                ..Default::default()
            },
        };
        members.push(Members {
            member: Some(members::Member::Leader(leader)),
        });
    }
    if req.master {
        let master = match scheduler.etcd().member_list().await {
            Ok(list) => {
                let mut masters = Vec::new();
                for m in list.into_iter().filter(|m| wanted(&m.name)) {
                    let alive = match m.client_urls.first() {
                        Some(url) => health_answers(url).await,
                        None => false,
                    };
                    masters.push(MasterInfo {
                        name: m.name,
                        member_id: m.id,
                        alive,
                        peer_ur_ls: m.peer_urls,
                        client_ur_ls: m.client_urls,
                    });
                }
                masters.sort_by(|a, b| a.name.cmp(&b.name));
                ListMasterMember {
                    msg: String::new(),
                    masters,
                }
            }
            Err(error) => ListMasterMember {
                msg: error.dm_string(),
                masters: Vec::new(),
            },
        };
        members.push(Members {
            member: Some(members::Member::Master(master)),
        });
    }
    if req.worker {
        let worker = match scheduler.workers().await {
            Ok(views) => ListWorkerMember {
                msg: String::new(),
                workers: views
                    .into_iter()
                    .filter(|w| wanted(&w.name))
                    .map(|w| proto::WorkerInfo {
                        name: w.name,
                        addr: w.addr,
                        stage: w.stage.name().to_owned(),
                        source: w.source,
                    })
                    .collect(),
            },
            Err(error) => ListWorkerMember {
                msg: error.dm_string(),
                workers: Vec::new(),
            },
        };
        members.push(Members {
            member: Some(members::Member::Worker(worker)),
        });
    }
    Ok(Response::new(ListMemberResponse {
        result: true,
        msg: String::new(),
        members,
    }))
}

/// The current leader from the election keys: the candidate with the
/// lowest create revision.
async fn leader_info(scheduler: &SchedulerHandle) -> Result<Option<LeaderValue>, Error> {
    let kvs = scheduler
        .etcd()
        .get_prefix(&scheduler.space().leader_prefix())
        .await?;
    let Some(first) = kvs.value.iter().min_by_key(|kv| kv.create_revision) else {
        return Ok(None);
    };
    Ok(LeaderValue::decode(&first.value).ok())
}

/// DM counts a master alive when a GET of `<client URL>/health` gets any
/// HTTP answer within a second.
async fn health_answers(client_url: &str) -> bool {
    let Some(host) = client_url
        .strip_prefix("http://")
        .or_else(|| client_url.strip_prefix("https://"))
        .map(|rest| rest.trim_end_matches('/'))
    else {
        return false;
    };
    let probe = async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(host).await.ok()?;
        if client_url.starts_with("https://") {
            // A TLS endpoint that accepts the connection is answering.
            return Some(());
        }
        let request = format!("GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 5];
        stream.read_exact(&mut head).await.ok()?;
        (&head == b"HTTP/").then_some(())
    };
    matches!(
        tokio::time::timeout(HEALTH_TIMEOUT, probe).await,
        Ok(Some(()))
    )
}

/// `OfflineMember`.
#[tracing::instrument(skip_all, fields(kind = %request.get_ref().r#type, name = %request.get_ref().name))]
pub async fn offline_member(
    role: Role,
    forwarder: &Forwarder,
    request: Request<OfflineMemberRequest>,
) -> Result<Response<OfflineMemberResponse>, Status> {
    let scheduler = lead_or_forward!(role, forwarder, request, offline_member).scheduler;
    let req = request.into_inner();
    let result = match req.r#type.as_str() {
        "worker" => scheduler.remove_worker(&req.name).await,
        "master" => remove_master(&scheduler, &req.name).await,
        other => Err(SchedulerError::InvalidOfflineType {
            kind: other.to_owned(),
        }
        .into()),
    };
    let response = match result {
        Ok(()) => {
            tracing::info!("member offlined");
            OfflineMemberResponse {
                result: true,
                msg: String::new(),
            }
        }
        Err(error) => {
            tracing::warn!(%error, "offline member refused");
            OfflineMemberResponse {
                result: false,
                msg: error.dm_string(),
            }
        }
    };
    Ok(Response::new(response))
}

/// DM: find the etcd member by name, delete its election candidate key,
/// remove the member.
async fn remove_master(scheduler: &SchedulerHandle, name: &str) -> Result<(), Error> {
    let etcd = scheduler.etcd();
    let members = etcd.member_list().await?;
    let member = members
        .into_iter()
        .find(|m| m.name == name)
        .ok_or_else(|| SchedulerError::MasterNotExist {
            name: name.to_owned(),
        })?;
    let candidates = etcd.get_prefix(&scheduler.space().leader_prefix()).await?;
    let keys: Vec<Op> = candidates
        .value
        .iter()
        .filter(|kv| LeaderValue::decode(&kv.value).is_ok_and(|v| v.id == name))
        .map(|kv| Op::delete(kv.key.clone()))
        .collect();
    if !keys.is_empty() {
        etcd.txn(Txn::new("delete election candidate").then(keys))
            .await?;
    }
    etcd.member_remove(member.id).await
}

/// `OperateSource` create / update / stop / show.
pub async fn operate_source(
    role: Role,
    forwarder: &Forwarder,
    request: Request<OperateSourceRequest>,
) -> Result<Response<OperateSourceResponse>, Status> {
    let scheduler = lead_or_forward!(role, forwarder, request, operate_source).scheduler;
    let req = request.into_inner();
    let op = SourceOp::try_from(req.op).unwrap_or(SourceOp::InvalidSourceOp);
    let failed = |msg: String| {
        Ok(Response::new(OperateSourceResponse {
            result: false,
            msg,
            sources: Vec::new(),
        }))
    };
    let creating = matches!(op, SourceOp::StartSource | SourceOp::UpdateSource);
    let mut configs = Vec::new();
    for text in &req.config {
        match parse_source(text, creating).await {
            Ok(cfg) => configs.push(cfg),
            Err(error) => {
                tracing::warn!(%error, "source config refused");
                return failed(error.dm_string());
            }
        }
    }
    // Create and show answer with each source as its worker serves it;
    // stop with what it waited for.
    let sources = match op {
        SourceOp::StartSource => {
            let worker = Some(req.worker_name.as_str()).filter(|w| !w.is_empty());
            let mut added: Vec<String> = Vec::new();
            for cfg in &configs {
                let source = NewSource {
                    id: cfg.source_id.clone(),
                    toml: cfg.to_toml().into_bytes(),
                };
                if let Err(error) = scheduler.add_source(source, worker).await {
                    tracing::warn!(source = %cfg.source_id, %error, "create source failed");
                    // DM removes what this request added before failing.
                    for id in &added {
                        if let Err(undo) = scheduler.remove_source(id).await {
                            tracing::warn!(source = %id, error = %undo, "undoing create source failed");
                        }
                    }
                    return failed(error.dm_string());
                }
                added.push(cfg.source_id.clone());
            }
            Answer::Serving(added)
        }
        SourceOp::UpdateSource => {
            return failed("Update worker config is not supported by dm-ha now".into())
        }
        SourceOp::StopSource => {
            let mut ids = req.source_id.clone();
            ids.extend(configs.iter().map(|c| c.source_id.clone()));
            let bound_before = scheduler.sources().await.unwrap_or_default();
            for id in &ids {
                if let Err(error) = scheduler.remove_source(id).await {
                    tracing::warn!(source = %id, %error, "stop source failed");
                    return failed(error.dm_string());
                }
            }
            let mut unbound = Vec::new();
            let mut waits = Vec::new();
            for id in &ids {
                match bound_before
                    .iter()
                    .find(|(s, _)| s == id)
                    .and_then(|(_, w)| w.clone())
                {
                    Some(worker) => waits.push((id.clone(), worker)),
                    None => unbound.push(no_worker_entry(id, STOPPED_UNBOUND)),
                }
            }
            let mut answered = wait_all(&scheduler, forwarder.tls(), waits, Expect::Stopped).await;
            unbound.append(&mut answered);
            Answer::Done(unbound)
        }
        SourceOp::ShowSource => {
            let mut ids = req.source_id.clone();
            ids.extend(configs.iter().map(|c| c.source_id.clone()));
            if ids.is_empty() {
                ids = scheduler
                    .sources()
                    .await
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect();
            }
            Answer::Serving(ids)
        }
        SourceOp::InvalidSourceOp => {
            return failed(
                SchedulerError::InvalidOperateOp {
                    op: op.as_str_name().to_owned(),
                    what: "source".into(),
                }
                .dm_string(),
            )
        }
    };
    let sources = match sources {
        Answer::Serving(ids) => {
            source_answers(
                &scheduler,
                forwarder.tls(),
                &ids,
                Expect::Serving,
                NO_FREE_WORKER,
            )
            .await
        }
        Answer::Done(sources) => sources,
    };
    Ok(Response::new(OperateSourceResponse {
        result: true,
        msg: String::new(),
        sources,
    }))
}

/// What an `OperateSource` arm answers with.
enum Answer {
    /// These sources, each as its worker serves it.
    Serving(Vec<String>),
    /// These entries, complete.
    Done(Vec<CommonWorkerResponse>),
}

/// DM's `parseSourceConfig` (+ `checkAndAdjustSourceConfigFunc` on create
/// and update: the upstream is read for flavor, server-id and GTID mode).
async fn parse_source(text: &str, creating: bool) -> Result<SourceConfig, SourceConfigError> {
    let mut cfg = SourceConfig::from_yaml(text)?;
    if !creating {
        return Ok(cfg);
    }
    cfg.verify()?;
    let facts = crate::upstream::read_facts(&cfg).await?;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut next = seed;
    cfg.adjust_with_upstream(&facts, || {
        // A small LCG is enough to pick server-id candidates.
        next = next.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        next >> 8
    })?;
    Ok(cfg)
}

#[derive(Clone, Copy)]
enum Expect {
    /// The worker reports the source (create, show).
    Serving,
    /// The worker no longer reports the source (stop).
    Stopped,
}

fn no_worker_entry(source: &str, msg: &str) -> CommonWorkerResponse {
    CommonWorkerResponse {
        result: true,
        msg: msg.to_owned(),
        source: source.to_owned(),
        worker: String::new(),
    }
}

/// Entries without a worker first, then each bound source as its worker
/// reports it (sorted by source).
async fn source_answers(
    scheduler: &SchedulerHandle,
    tls: Option<&TlsFiles>,
    ids: &[String],
    expect: Expect,
    no_worker_msg: &str,
) -> Vec<CommonWorkerResponse> {
    let mut out = Vec::new();
    let mut waits = Vec::new();
    for (id, worker) in scheduler.bound_workers(ids).await {
        match worker {
            Some(worker) => waits.push((id, worker)),
            None => out.push(no_worker_entry(&id, no_worker_msg)),
        }
    }
    out.extend(wait_all(scheduler, tls, waits, expect).await);
    out
}

async fn wait_all(
    scheduler: &SchedulerHandle,
    tls: Option<&TlsFiles>,
    waits: Vec<(String, crate::ha::WorkerInfo)>,
    expect: Expect,
) -> Vec<CommonWorkerResponse> {
    let futures = waits
        .into_iter()
        .map(|(source, worker)| wait_worker(scheduler, tls.cloned(), source, worker, expect));
    let mut out: Vec<CommonWorkerResponse> = futures_join(futures).await;
    out.sort_by(|a, b| a.source.cmp(&b.source));
    out
}

async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for f in futures {
        set.spawn(f);
    }
    let mut out = Vec::new();
    while let Some(done) = set.join_next().await {
        if let Ok(v) = done {
            out.push(v);
        }
    }
    out
}

/// DM's 38045 text for a worker that never showed the expected state.
pub(super) fn not_reached_msg() -> String {
    crate::scheduler::error::dm_error_string(
        38045,
        "dm-master",
        "medium",
        "fail to get expected result",
        None,
        "",
    )
}

/// DM's 38032 text for the errors a worker reported while it was waited
/// for.
pub(super) fn worker_errors_msg(errors: &[String]) -> String {
    crate::scheduler::error::dm_error_string(
        38032,
        "dm-master",
        "high",
        &format!("some error occurs in dm-worker: {}", errors.join(", ")),
        None,
        "Please execute `query-status` to check status.",
    )
}

/// DM's `waitOperationOk` for one source: polls the worker's
/// `QueryStatus` until it shows the expected state.
fn wait_worker(
    scheduler: &SchedulerHandle,
    tls: Option<TlsFiles>,
    source: String,
    worker: crate::ha::WorkerInfo,
    expect: Expect,
) -> impl std::future::Future<Output = CommonWorkerResponse> + Send + 'static {
    let scheduler = scheduler.clone();
    async move {
        let entry = |result: bool, msg: String| CommonWorkerResponse {
            result,
            msg,
            source: source.clone(),
            worker: worker.name.clone(),
        };
        let mut unanswered = None;
        for attempt in 0..WAIT_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(WAIT_INTERVAL).await;
            }
            if matches!(expect, Expect::Stopped) {
                let online = scheduler.workers().await.ok().and_then(|ws| {
                    ws.into_iter()
                        .find(|w| w.name == worker.name)
                        .map(|w| w.stage != crate::scheduler::WorkerStage::Offline)
                });
                if online != Some(true) {
                    return entry(true, String::new());
                }
            }
            let status =
                match worker_query_status(&worker.addr, "", tls.as_ref(), WORKER_RPC_TIMEOUT).await
                {
                    Ok(status) => status,
                    Err(error) => {
                        unanswered = Some(error);
                        continue;
                    }
                };
            let reported = status
                .source_status
                .as_ref()
                .map(|s| s.source.clone())
                .unwrap_or_default();
            match expect {
                Expect::Serving if reported == source => {
                    let errors: Vec<String> = status
                        .source_status
                        .and_then(|s| s.result)
                        .map(|r| r.errors.into_iter().map(|e| e.message).collect())
                        .unwrap_or_default();
                    let msg = if errors.is_empty() {
                        String::new()
                    } else {
                        worker_errors_msg(&errors)
                    };
                    return entry(true, msg);
                }
                Expect::Stopped if reported != source => return entry(true, String::new()),
                _ => {}
            }
        }
        if let Some(error) = unanswered {
            tracing::warn!(%source, worker = %worker.name, %error, "worker did not reach the expected state; its last query-status failed");
        }
        entry(false, not_reached_msg())
    }
}
