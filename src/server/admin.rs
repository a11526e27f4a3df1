//! gRPC `pb.Master` handlers: leader check first, then handle or forward
//! (DM's `sharedLogic`). Proto and domain types meet only here.

use std::sync::Arc;

use tokio::sync::watch;
use tonic::{Request, Response, Status};

use super::forward::Forwarder;
use super::Role;
use crate::error::Error;
use crate::keys::parse_lock_id;
use crate::lock_view::LockView;
use crate::optimism::keeper::UnlockAction;
use crate::proto;
use crate::proto::master_server::Master;
use crate::proto::{
    DdlLock, ShowDdlLocksRequest, ShowDdlLocksResponse, UnlockDdlLockRequest, UnlockDdlLockResponse,
};
use crate::task::ShardMode;

/// How long a request waits for a master that is becoming leader (DM waits
/// about 1 s; a rebuild of many locks can take longer, DM gap E5 in docs/dm-gaps.md).
const STARTING_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The `pb.Master` service of one master.
pub struct MasterService {
    role: watch::Receiver<Role>,
    forwarder: Arc<Forwarder>,
}

impl MasterService {
    pub fn new(role: watch::Receiver<Role>, forwarder: Arc<Forwarder>) -> MasterService {
        MasterService { role, forwarder }
    }

    /// Waits out a short `Starting` phase, then says who answers.
    async fn current_role(&self) -> Role {
        let mut role = self.role.clone();
        let settled = tokio::time::timeout(STARTING_WAIT, async {
            role.wait_for(|r| !matches!(r, Role::Starting))
                .await
                .map(|r| r.clone())
        })
        .await;
        match settled {
            Ok(Ok(r)) => r,
            _ => Role::Unknown,
        }
    }
}

/// One `pb.DDLLock`: the mode goes onto the wire as DM's string.
impl From<LockView> for DdlLock {
    fn from(view: LockView) -> DdlLock {
        DdlLock {
            id: view.id,
            task: view.task,
            mode: view.mode.as_str().to_owned(),
            owner: view.owner,
            dd_ls: view.ddls,
            synced: view.synced,
            unsynced: view.unsynced,
        }
    }
}

/// The one mapping of the crate's errors to gRPC: DM-master returns its
/// terror values from handlers, which grpc-go sends as `Unknown` with the
/// full DM error string.
impl From<Error> for Status {
    fn from(error: Error) -> Status {
        Status::unknown(error.dm_string())
    }
}

fn not_leader() -> Status {
    Error::NotLeader.into()
}

/// DM `ShowDDLLocks`: pessimistic locks first, then optimistic ones. A mode
/// that fails to list does not fail the call: DM answers `result: true` with
/// the locks it has and says which mode may have lost its owner and DDLs.
/// Only when neither mode answers is the error returned.
fn show_ddl_locks_response(
    pessimistic: Result<Vec<DdlLock>, Error>,
    optimistic: Result<Vec<DdlLock>, Error>,
) -> Result<ShowDdlLocksResponse, Error> {
    let (locks, failed) = match (pessimistic, optimistic) {
        (Ok(mut p), Ok(o)) => {
            p.extend(o);
            (p, None)
        }
        (Ok(p), Err(e)) => (p, Some((ShardMode::Optimistic, e))),
        (Err(e), Ok(o)) => (o, Some((ShardMode::Pessimistic, e))),
        (Err(e), Err(_)) => return Err(e),
    };
    let msg = match &failed {
        _ if locks.is_empty() => "no DDL lock exists".to_string(),
        Some((mode, error)) => format!(
            "may lost owner and ddls info for {} locks, err: {}",
            mode.as_str(),
            error.dm_string()
        ),
        None => String::new(),
    };
    if let Some((mode, error)) = &failed {
        tracing::warn!(mode = mode.as_str(), %error, "listing shard DDL locks failed");
    }
    Ok(ShowDdlLocksResponse {
        result: true,
        msg,
        locks,
    })
}

/// An RPC of DM's `pb.Master` that this master does not implement.
fn not_supported(rpc: &'static str) -> Status {
    tracing::warn!(rpc, "request for an unsupported RPC");
    Error::NotSupported { rpc }.into()
}

#[tonic::async_trait]
impl Master for MasterService {
    #[tracing::instrument(skip_all, fields(task = %request.get_ref().task))]
    async fn show_ddl_locks(
        &self,
        request: Request<ShowDdlLocksRequest>,
    ) -> Result<Response<ShowDdlLocksResponse>, Status> {
        let coordinators = match self.current_role().await {
            Role::Leader(c) => c,
            Role::Follower { addr } => {
                return self
                    .forwarder
                    .show_ddl_locks(&addr, request.into_inner())
                    .await
            }
            Role::Starting | Role::Unknown => return Err(not_leader()),
        };
        let req = request.into_inner();
        let task = Some(req.task.as_str()).filter(|t| !t.is_empty());
        let pessimistic = coordinators
            .pessimist
            .show_locks(task, &req.sources)
            .await
            .map(|views| views.into_iter().map(DdlLock::from).collect());
        let optimistic = coordinators
            .optimist
            .show_locks(task, &req.sources)
            .await
            .map(|views| views.into_iter().map(DdlLock::from).collect());
        Ok(Response::new(show_ddl_locks_response(
            pessimistic,
            optimistic,
        )?))
    }

    #[tracing::instrument(skip_all, fields(lock_id = %request.get_ref().id))]
    async fn unlock_ddl_lock(
        &self,
        request: Request<UnlockDdlLockRequest>,
    ) -> Result<Response<UnlockDdlLockResponse>, Status> {
        let coordinators = match self.current_role().await {
            Role::Leader(c) => c,
            Role::Follower { addr } => {
                return self
                    .forwarder
                    .unlock_ddl_lock(&addr, request.into_inner())
                    .await
            }
            Role::Starting | Role::Unknown => return Err(not_leader()),
        };
        let req = request.into_inner();
        let reply = |result: Result<(), String>| {
            Ok(Response::new(match result {
                Ok(()) => UnlockDdlLockResponse {
                    result: true,
                    msg: String::new(),
                },
                Err(msg) => UnlockDdlLockResponse { result: false, msg },
            }))
        };
        let Some(parsed) = parse_lock_id(&req.id).filter(|p| !p.task.is_empty()) else {
            return reply(Err("can't find task name from lock-ID".into()));
        };
        let mode = coordinators.pessimist.task_mode(&parsed.task).await?;
        match mode {
            Some(ShardMode::Optimistic) => {
                if req.sources.len() != 1 {
                    return reply(Err("optimistic locks should have only one source".into()));
                }
                let Some(action) = UnlockAction::from_proto(req.op) else {
                    // DM passes other ops through and leaves the DDLs as
                    // they are; nothing sensible can be unlocked with them.
                    return reply(Err(format!("unlock op {} is not exec or skip", req.op)));
                };
                let result = coordinators
                    .optimist
                    .unlock_lock(&req.id, &req.sources[0], &req.database, &req.table, action)
                    .await
                    .map_err(|e| {
                        tracing::warn!(lock_id = %req.id, error = %e, "unlock failed");
                        e.dm_string()
                    });
                reply(result)
            }
            other => {
                // A task with no subtask config can only be cleaned up: DM
                // forces the removal then.
                let force = req.force_remove || other.is_none();
                let owner = Some(req.replace_owner.as_str()).filter(|o| !o.is_empty());
                let result = coordinators
                    .pessimist
                    .unlock_lock(&req.id, owner, force)
                    .await
                    .map_err(|e| {
                        tracing::warn!(lock_id = %req.id, error = %e, "unlock failed");
                        e.dm_string()
                    });
                reply(result)
            }
        }
    }

    // RPCs this master does not serve yet answer DM-style errors, never a
    // bare UNIMPLEMENTED (README lists them).
    async fn start_task(
        &self,
        request: Request<proto::StartTaskRequest>,
    ) -> Result<Response<proto::StartTaskResponse>, Status> {
        super::tasks::start_task(self.current_role().await, &self.forwarder, request).await
    }
    async fn operate_task(
        &self,
        request: Request<proto::OperateTaskRequest>,
    ) -> Result<Response<proto::OperateTaskResponse>, Status> {
        super::tasks::operate_task(self.current_role().await, &self.forwarder, request).await
    }
    async fn update_task(
        &self,
        _request: Request<proto::UpdateTaskRequest>,
    ) -> Result<Response<proto::UpdateTaskResponse>, Status> {
        Err(not_supported("UpdateTask"))
    }
    async fn query_status(
        &self,
        request: Request<proto::QueryStatusListRequest>,
    ) -> Result<Response<proto::QueryStatusListResponse>, Status> {
        super::tasks::query_status(self.current_role().await, &self.forwarder, request).await
    }
    async fn operate_worker_relay_task(
        &self,
        _request: Request<proto::OperateWorkerRelayRequest>,
    ) -> Result<Response<proto::OperateWorkerRelayResponse>, Status> {
        Err(not_supported("OperateWorkerRelayTask"))
    }
    async fn purge_worker_relay(
        &self,
        _request: Request<proto::PurgeWorkerRelayRequest>,
    ) -> Result<Response<proto::PurgeWorkerRelayResponse>, Status> {
        Err(not_supported("PurgeWorkerRelay"))
    }
    async fn check_task(
        &self,
        request: Request<proto::CheckTaskRequest>,
    ) -> Result<Response<proto::CheckTaskResponse>, Status> {
        super::tasks::check_task(self.current_role().await, &self.forwarder, request).await
    }
    async fn operate_source(
        &self,
        request: Request<proto::OperateSourceRequest>,
    ) -> Result<Response<proto::OperateSourceResponse>, Status> {
        super::members::operate_source(self.current_role().await, &self.forwarder, request).await
    }
    async fn register_worker(
        &self,
        request: Request<proto::RegisterWorkerRequest>,
    ) -> Result<Response<proto::RegisterWorkerResponse>, Status> {
        super::members::register_worker(self.current_role().await, &self.forwarder, request).await
    }
    async fn offline_member(
        &self,
        request: Request<proto::OfflineMemberRequest>,
    ) -> Result<Response<proto::OfflineMemberResponse>, Status> {
        super::members::offline_member(self.current_role().await, &self.forwarder, request).await
    }
    async fn operate_leader(
        &self,
        _request: Request<proto::OperateLeaderRequest>,
    ) -> Result<Response<proto::OperateLeaderResponse>, Status> {
        Err(not_supported("OperateLeader"))
    }
    async fn list_member(
        &self,
        request: Request<proto::ListMemberRequest>,
    ) -> Result<Response<proto::ListMemberResponse>, Status> {
        super::members::list_member(self.current_role().await, &self.forwarder, request).await
    }
    async fn operate_schema(
        &self,
        _request: Request<proto::OperateSchemaRequest>,
    ) -> Result<Response<proto::OperateSchemaResponse>, Status> {
        Err(not_supported("OperateSchema"))
    }
    async fn get_sub_task_cfg(
        &self,
        request: Request<proto::GetSubTaskCfgRequest>,
    ) -> Result<Response<proto::GetSubTaskCfgResponse>, Status> {
        super::tasks::get_sub_task_cfg(self.current_role().await, &self.forwarder, request).await
    }
    async fn get_cfg(
        &self,
        _request: Request<proto::GetCfgRequest>,
    ) -> Result<Response<proto::GetCfgResponse>, Status> {
        Err(not_supported("GetCfg"))
    }
    async fn handle_error(
        &self,
        _request: Request<proto::HandleErrorRequest>,
    ) -> Result<Response<proto::HandleErrorResponse>, Status> {
        Err(not_supported("HandleError"))
    }
    async fn get_master_cfg(
        &self,
        _request: Request<proto::GetMasterCfgRequest>,
    ) -> Result<Response<proto::GetMasterCfgResponse>, Status> {
        Err(not_supported("GetMasterCfg"))
    }
    async fn transfer_source(
        &self,
        _request: Request<proto::TransferSourceRequest>,
    ) -> Result<Response<proto::TransferSourceResponse>, Status> {
        Err(not_supported("TransferSource"))
    }
    async fn operate_relay(
        &self,
        _request: Request<proto::OperateRelayRequest>,
    ) -> Result<Response<proto::OperateRelayResponse>, Status> {
        Err(not_supported("OperateRelay"))
    }
    async fn start_validation(
        &self,
        _request: Request<proto::StartValidationRequest>,
    ) -> Result<Response<proto::StartValidationResponse>, Status> {
        Err(not_supported("StartValidation"))
    }
    async fn stop_validation(
        &self,
        _request: Request<proto::StopValidationRequest>,
    ) -> Result<Response<proto::StopValidationResponse>, Status> {
        Err(not_supported("StopValidation"))
    }
    async fn get_validation_status(
        &self,
        _request: Request<proto::GetValidationStatusRequest>,
    ) -> Result<Response<proto::GetValidationStatusResponse>, Status> {
        Err(not_supported("GetValidationStatus"))
    }
    async fn get_validation_error(
        &self,
        _request: Request<proto::GetValidationErrorRequest>,
    ) -> Result<Response<proto::GetValidationErrorResponse>, Status> {
        Err(not_supported("GetValidationError"))
    }
    async fn operate_validation_error(
        &self,
        _request: Request<proto::OperateValidationErrorRequest>,
    ) -> Result<Response<proto::OperateValidationErrorResponse>, Status> {
        Err(not_supported("OperateValidationError"))
    }
    async fn update_validation(
        &self,
        _request: Request<proto::UpdateValidationRequest>,
    ) -> Result<Response<proto::UpdateValidationResponse>, Status> {
        Err(not_supported("UpdateValidation"))
    }
    async fn encrypt(
        &self,
        _request: Request<proto::EncryptRequest>,
    ) -> Result<Response<proto::EncryptResponse>, Status> {
        Err(not_supported("Encrypt"))
    }
    async fn list_task_configs(
        &self,
        _request: Request<()>,
    ) -> Result<Response<proto::ListTaskConfigsResponse>, Status> {
        Err(not_supported("ListTaskConfigs"))
    }
    async fn list_source_configs(
        &self,
        _request: Request<()>,
    ) -> Result<Response<proto::ListSourceConfigsResponse>, Status> {
        Err(not_supported("ListSourceConfigs"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(id: &str, mode: ShardMode) -> DdlLock {
        DdlLock::from(LockView {
            id: id.into(),
            task: "t".into(),
            mode,
            owner: "s1".into(),
            ddls: vec![],
            synced: vec![],
            unsynced: vec![],
        })
    }

    #[test]
    fn an_error_becomes_unknown_with_dms_string() {
        let status = Status::from(Error::NotLeader);
        assert_eq!(status.code(), tonic::Code::Unknown);
        assert_eq!(
            status.message(),
            "[code=38043:class=dm-master:scope=internal:level=high], Message: master is not leader, and can't forward request to leader"
        );
    }

    #[test]
    fn show_ddl_locks_lists_pessimistic_then_optimistic() {
        let both = show_ddl_locks_response(
            Ok(vec![lock("p", ShardMode::Pessimistic)]),
            Ok(vec![lock("o", ShardMode::Optimistic)]),
        )
        .unwrap();
        assert!(both.result);
        assert_eq!(both.msg, "");
        let ids: Vec<&str> = both.locks.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids, ["p", "o"]);
        let none = show_ddl_locks_response(Ok(vec![]), Ok(vec![])).unwrap();
        assert_eq!(none.msg, "no DDL lock exists");
    }

    #[test]
    fn show_ddl_locks_with_one_mode_failing_answers_like_dm() {
        let optimist_down = Error::NotStarted {
            component: "optimist",
        };
        let partial = show_ddl_locks_response(
            Ok(vec![lock("p", ShardMode::Pessimistic)]),
            Err(optimist_down),
        )
        .unwrap();
        assert!(partial.result);
        assert_eq!(partial.locks.len(), 1);
        assert_eq!(
            partial.msg,
            "may lost owner and ddls info for optimistic locks, err: [code=38047:class=dm-master:scope=internal:level=medium], Message: the shardddl optimist has not started"
        );
        // DM checks for "no lock" first.
        let empty = show_ddl_locks_response(
            Ok(vec![]),
            Err(Error::NotStarted {
                component: "optimist",
            }),
        )
        .unwrap();
        assert_eq!(empty.msg, "no DDL lock exists");
        let pessimist_down = show_ddl_locks_response(
            Err(Error::NotStarted {
                component: "pessimist",
            }),
            Ok(vec![lock("o", ShardMode::Optimistic)]),
        )
        .unwrap();
        assert!(pessimist_down
            .msg
            .starts_with("may lost owner and ddls info for pessimistic locks, err: [code=38046:"));
        assert!(show_ddl_locks_response(Err(Error::NotLeader), Err(Error::NotLeader)).is_err());
    }
}
