//! Waiting for workers to reach a stage after a task request (DM's
//! `waitOperationOk`): each source's worker asked until its subtask is in
//! the expected stage, with DM's attempts and interval.

use super::*;
use crate::server::members::{not_reached_msg, worker_errors_msg};

/// What a worker must show before a source's entry is final (docs/protocol.md#wait-for-worker).
#[derive(Debug, Clone, Copy)]
pub(super) enum Expect {
    Stage(StageKind),
    Removed,
}

/// DM's `waitOperationOk` for each source, concurrently, sorted by source.
pub(super) async fn wait_sources(
    scheduler: &SchedulerHandle,
    tls: Option<&TlsFiles>,
    task: &str,
    sources: &[String],
    expect: Expect,
) -> Vec<CommonWorkerResponse> {
    let mut set = tokio::task::JoinSet::new();
    let mut out = Vec::new();
    for (source, worker) in scheduler.bound_workers(sources).await {
        match worker {
            Some(worker) => {
                set.spawn(wait_worker(
                    source,
                    worker.name,
                    worker.addr,
                    tls.cloned(),
                    task.to_owned(),
                    expect,
                ));
            }
            None => out.push(CommonWorkerResponse {
                result: false,
                msg: format!("{source} relevant worker-client not found"),
                source,
                worker: String::new(),
            }),
        }
    }
    while let Some(done) = set.join_next().await {
        if let Ok(entry) = done {
            out.push(entry);
        }
    }
    out.sort_by(|a, b| a.source.cmp(&b.source));
    out
}

pub(super) async fn wait_worker(
    source: String,
    worker: String,
    addr: String,
    tls: Option<TlsFiles>,
    task: String,
    expect: Expect,
) -> CommonWorkerResponse {
    let entry = |result: bool, msg: String| CommonWorkerResponse {
        result,
        msg,
        source: source.clone(),
        worker: worker.clone(),
    };
    let mut unanswered = None;
    for attempt in 0..WAIT_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(WAIT_INTERVAL).await;
        }
        let status = match worker_query_status(&addr, &task, tls.as_ref(), WORKER_RPC_TIMEOUT).await
        {
            Ok(status) => status,
            Err(error) => {
                unanswered = Some(error);
                continue;
            }
        };
        match outcome(&status, &task, expect) {
            Some(Ok(())) => return entry(true, String::new()),
            Some(Err(msg)) => return entry(false, msg),
            None => {}
        }
    }
    if let Some(error) = unanswered {
        tracing::warn!(%task, %source, %worker, %error, "worker did not reach the expected stage; its last query-status failed");
    }
    entry(false, not_reached_msg())
}

/// Whether a worker's answer ends the wait: `Some(Ok)` reached,
/// `Some(Err(msg))` failed with the worker's errors, `None` not yet.
pub(super) fn outcome(
    status: &QueryStatusResponse,
    task: &str,
    expect: Expect,
) -> Option<Result<(), String>> {
    let subtasks = &status.sub_task_status;
    match expect {
        Expect::Removed => {
            let gone = subtasks.is_empty()
                || (subtasks.len() == 1
                    && matches!(&subtasks[0].status,
                        Some(sub_task_status::Status::Msg(m)) if *m == format!("no sub task with name {task} has started")));
            gone.then_some(Ok(()))
        }
        Expect::Stage(stage) => {
            let [only] = subtasks.as_slice() else {
                return None;
            };
            if only.name != task {
                return None;
            }
            let errors: Vec<String> = only
                .result
                .as_ref()
                .map(|r| r.errors.iter().map(|e| e.message.clone()).collect())
                .unwrap_or_default();
            if !errors.is_empty() {
                return Some(Err(worker_errors_msg(&errors)));
            }
            let reached = only.stage == stage as i32
                || (stage == StageKind::Running && only.stage == StageKind::Finished as i32);
            reached.then_some(Ok(()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subtask(name: &str, stage: StageKind) -> SubTaskStatus {
        SubTaskStatus {
            name: name.into(),
            stage: stage as i32,
            ..Default::default()
        }
    }

    #[test]
    fn a_wait_ends_on_the_expected_stage_only() {
        let running = QueryStatusResponse {
            sub_task_status: vec![subtask("t", StageKind::Running)],
            ..Default::default()
        };
        assert_eq!(
            outcome(&running, "t", Expect::Stage(StageKind::Running)),
            Some(Ok(()))
        );
        assert_eq!(
            outcome(&running, "t", Expect::Stage(StageKind::Paused)),
            None
        );
        assert_eq!(outcome(&running, "t", Expect::Removed), None);
        let gone = QueryStatusResponse {
            sub_task_status: vec![SubTaskStatus {
                name: "t".into(),
                status: Some(sub_task_status::Status::Msg(
                    "no sub task with name t has started".into(),
                )),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(outcome(&gone, "t", Expect::Removed), Some(Ok(())));
    }

    #[test]
    fn unanswered_subtasks_get_dms_fake_entry() {
        let mut entries = Vec::new();
        add_missing_subtasks(
            &mut entries,
            &[("s1".into(), "a".into()), ("s1".into(), "b".into())],
            &[],
        );
        assert_eq!(entries.len(), 1);
        assert_eq!(
            entries[0].msg,
            "can't find task=a,b from dm-worker for source=s1, please use dmctl list-member to check if worker is offline."
        );
        assert_eq!(
            entries[0].source_status.as_ref().unwrap().worker,
            "source not bound"
        );
    }
}
