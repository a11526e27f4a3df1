//! `QueryStatus`: the scheduler's subtasks, each worker asked in turn
//! (a worker that does not answer gets its own entry), DM's hints for
//! pessimistic locks, and entries for subtasks no worker reports.

use super::*;

/// `QueryStatus` (docs/protocol.md#wait-for-worker).
#[tracing::instrument(skip_all, fields(task = %request.get_ref().name))]
pub async fn query_status(
    role: Role,
    forwarder: &Forwarder,
    request: Request<QueryStatusListRequest>,
) -> Result<Response<QueryStatusListResponse>, Status> {
    let coordinators = lead_or_forward!(role, forwarder, request, query_status);
    let req = request.into_inner();
    let refused = |msg: String| {
        Ok(Response::new(QueryStatusListResponse {
            result: false,
            msg,
            sources: Vec::new(),
        }))
    };
    let scheduler = &coordinators.scheduler;
    let bound = match scheduler.sources().await {
        Ok(b) => b,
        Err(e) => return refused(e.dm_string()),
    };
    let task_configs = match all_subtasks(scheduler).await {
        Ok(t) => t,
        Err(e) => return refused(e.dm_string()),
    };
    let sources: Vec<String> = if !req.sources.is_empty() {
        let missing: Vec<String> = req
            .sources
            .iter()
            .filter(|s| !bound.iter().any(|(id, _)| id == *s))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return refused(format!(
                "sources {} haven't been added",
                crate::gojson::go_slice(&missing)
            ));
        }
        req.sources.clone()
    } else if !req.name.is_empty() {
        let of_task: Vec<String> = task_configs
            .iter()
            .filter(|(_, task)| *task == req.name)
            .map(|(source, _)| source.clone())
            .collect();
        if of_task.is_empty() {
            return refused(format!("task {} has no source or not exist", req.name));
        }
        of_task
    } else {
        bound
            .iter()
            .filter(|(_, w)| w.is_some())
            .map(|(id, _)| id.clone())
            .collect()
    };
    let mut calls = tokio::task::JoinSet::new();
    let mut entries: Vec<QueryStatusResponse> = Vec::new();
    for source in &sources {
        match bound
            .iter()
            .find(|(id, _)| id == source)
            .and_then(|(_, w)| w.clone())
        {
            Some(worker) => {
                let (source, name) = (source.clone(), req.name.clone());
                let tls = forwarder.tls().cloned();
                calls.spawn(async move {
                    let mut entry = match worker_query_status(&worker.addr, &name, tls.as_ref(), WORKER_RPC_TIMEOUT).await {
                        Ok(resp) => resp,
                        Err(error) => {
                            tracing::warn!(%source, worker = %worker.name, %error, "worker did not answer query-status");
                            QueryStatusResponse {
                                result: false,
                                msg: error,
                                source_status: Some(SourceStatus {
                                    worker: worker.name.clone(),
                                    ..Default::default()
                                }),
                                sub_task_status: Vec::new(),
                            }
                        }
                    };
                    let status = entry.source_status.get_or_insert_with(Default::default);
                    status.source = source;
                    if status.worker.is_empty() {
                        status.worker = worker.name;
                    }
                    entry
                });
            }
            None => entries.push(QueryStatusResponse {
                result: false,
                msg: dm_error_string(
                    38029,
                    "dm-master",
                    "high",
                    &format!("{source} relevant worker-client not found"),
                    None,
                    "Please use list-member command to see if the some workers are offline.",
                ),
                source_status: Some(SourceStatus {
                    source: source.clone(),
                    ..Default::default()
                }),
                sub_task_status: Vec::new(),
            }),
        }
    }
    while let Some(done) = calls.join_next().await {
        if let Ok(entry) = done {
            entries.push(entry);
        }
    }
    add_pessimistic_hints(&coordinators, &mut entries).await;
    if req.name.is_empty() {
        add_missing_subtasks(&mut entries, &task_configs, &req.sources);
    }
    entries.sort_by(|a, b| entry_source(a).cmp(entry_source(b)));
    Ok(Response::new(QueryStatusListResponse {
        result: true,
        msg: String::new(),
        sources: entries,
    }))
}

pub(super) fn entry_source(entry: &QueryStatusResponse) -> &str {
    entry
        .source_status
        .as_ref()
        .map(|s| s.source.as_str())
        .unwrap_or("")
}

/// Every (source, task) with a stored subtask config, by source.
pub(super) async fn all_subtasks(
    scheduler: &SchedulerHandle,
) -> Result<Vec<(String, String)>, Error> {
    scheduler.all_subtasks().await
}

/// DM's hint for pessimistic locks a worker does not report: one sharding
/// group per pessimistic lock of the task the source takes part in, when
/// the worker reports no unresolved group.
pub(super) async fn add_pessimistic_hints(
    coordinators: &Coordinators,
    entries: &mut [QueryStatusResponse],
) {
    let Ok(locks) = coordinators.pessimist.show_locks(None, &[]).await else {
        return;
    };
    if locks.is_empty() {
        return;
    }
    for entry in entries.iter_mut() {
        let source = entry_source(entry).to_owned();
        for status in &mut entry.sub_task_status {
            let Some(sub_task_status::Status::Sync(sync)) = status.status.as_mut() else {
                continue;
            };
            if !sync.unresolved_groups.is_empty() {
                continue;
            }
            for lock in locks.iter().filter(|l| {
                l.task == status.name
                    && (l.synced.contains(&source) || l.unsynced.contains(&source))
            }) {
                let target = lock
                    .id
                    .strip_prefix(&format!("{}-", lock.task))
                    .unwrap_or(&lock.id)
                    .to_owned();
                sync.unresolved_groups.push(ShardingGroup {
                    target,
                    unsynced: vec![PESSIMISTIC_HINT.to_owned()],
                    ..Default::default()
                });
            }
        }
    }
}

/// DM's fake entries: every (task, source) with a config but no answer.
pub(super) fn add_missing_subtasks(
    entries: &mut Vec<QueryStatusResponse>,
    task_configs: &[(String, String)],
    requested: &[String],
) {
    let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (source, task) in task_configs {
        if !requested.is_empty() && !requested.contains(source) {
            continue;
        }
        let answered = entries.iter().any(|e| {
            entry_source(e) == source && e.sub_task_status.iter().any(|s| &s.name == task)
        });
        if !answered {
            missing
                .entry(source.clone())
                .or_default()
                .push(task.clone());
        }
    }
    for (source, tasks) in missing {
        entries.push(QueryStatusResponse {
            result: false,
            msg: format!(
                "can't find task={} from dm-worker for source={source}, please use dmctl list-member to check if worker is offline.",
                tasks.join(",")
            ),
            source_status: Some(SourceStatus {
                source,
                worker: "source not bound".to_owned(),
                ..Default::default()
            }),
            sub_task_status: tasks
                .into_iter()
                .map(|name| SubTaskStatus {
                    name,
                    ..Default::default()
                })
                .collect(),
        });
    }
}

/// A dm-worker's `QueryStatus` answer for task `name` (every subtask when
/// empty), or DM's 38008 text with the cause (no connection, a refused TLS
/// handshake, no answer within `timeout`).
pub(crate) async fn worker_query_status(
    addr: &str,
    name: &str,
    tls: Option<&TlsFiles>,
    timeout: Duration,
) -> Result<QueryStatusResponse, String> {
    let grpc_error = |e: &dyn std::fmt::Display| {
        dm_error_string(
            38008,
            "dm-master",
            "high",
            "grpc request error",
            Some(&e.to_string()),
            "",
        )
    };
    // Over TLS when this master's clients use it, as DM dials its workers
    // with the master's `ssl-*` files.
    let channel = crate::tls::grpc_connect(addr, tls, timeout)
        .await
        .map_err(|e| grpc_error(&e))?;
    let mut client = WorkerClient::new(channel);
    let call = client.query_status(QueryStatusRequest {
        name: name.to_owned(),
    });
    match tokio::time::timeout(timeout, call).await {
        Ok(answer) => answer.map(Response::into_inner).map_err(|e| grpc_error(&e)),
        Err(_) => Err(grpc_error(&"context deadline exceeded")),
    }
}
