//! DM's `pb.Worker` gRPC service of a joined worker: `QueryStatus` and
//! `GetWorkerCfg` answer as DM's worker does (`dm/worker/server.go`); the
//! other RPCs answer gRPC `Unknown` with a DM-style "not supported" error,
//! never a bare `UNIMPLEMENTED`.
//!
//! Handlers translate the source actor's [`Status`] into proto messages here
//! and nowhere else.

use std::sync::Arc;

use dm_master::proto::worker_server::Worker;
use dm_master::proto::{
    sub_task_status, CheckSubtasksCanUpdateRequest, CheckSubtasksCanUpdateResponse,
    CommonWorkerResponse, GetValidationErrorRequest, GetValidationErrorResponse,
    GetValidationStatusRequest, GetValidationStatusResponse, GetWorkerCfgRequest,
    GetWorkerCfgResponse, HandleWorkerErrorRequest, OperateV1MetaRequest, OperateV1MetaResponse,
    OperateValidationErrorRequest, OperateValidationErrorResponse, OperateWorkerSchemaRequest,
    ProcessError, ProcessResult, PurgeRelayRequest, QueryStatusRequest, QueryStatusResponse,
    SourceStatus, SubTaskStatus, SyncStatus, UpdateValidationWorkerRequest,
};
use tonic::{Request, Response, Status as GrpcStatus};
use tracing::{info, warn};

use crate::config::WorkerConfig;
use crate::error::Error;
use crate::source::{self, Status};

/// `pb.UnitType::Sync`: the only unit a subtask of this worker has.
const UNIT_SYNC: i32 = 4;

/// The `pb.Worker` service of one joined worker.
pub struct WorkerService {
    config: Arc<WorkerConfig>,
    source: source::Handle,
}

impl WorkerService {
    pub fn new(config: Arc<WorkerConfig>, source: source::Handle) -> WorkerService {
        WorkerService { config, source }
    }
}

/// DM's worker `QueryStatus` answer for `status` (`name` empty: every
/// subtask; otherwise that one, or a "not started" entry for it).
pub fn query_status_response(
    worker: &str,
    status: Option<Status>,
    name: &str,
) -> QueryStatusResponse {
    let mut resp = QueryStatusResponse {
        result: true,
        source_status: Some(SourceStatus {
            worker: worker.to_owned(),
            ..SourceStatus::default()
        }),
        ..QueryStatusResponse::default()
    };
    let Some(Status {
        source: Some(source),
        subtasks,
    }) = status
    else {
        resp.result = false;
        resp.msg = Error::NoSourceHandled.dm_string();
        return resp;
    };
    if let Some(s) = resp.source_status.as_mut() {
        s.source = source;
    }
    let status_of = |s: &source::SubtaskStatus| SubTaskStatus {
        name: s.task.clone(),
        stage: s.run.stage.number(),
        unit: UNIT_SYNC,
        // DM fills `result` once a unit has stopped with errors.
        result: s.run.error.as_ref().map(|e| ProcessResult {
            is_canceled: false,
            errors: vec![ProcessError {
                err_code: e.code,
                err_class: e.class.to_owned(),
                err_scope: "internal".to_owned(),
                err_level: "high".to_owned(),
                message: e.message.clone(),
                raw_cause: String::new(),
                workaround: e.workaround.to_owned(),
            }],
            detail: Vec::new(),
        }),
        unresolved_ddl_lock_id: s.run.unresolved_ddl_lock_id.clone(),
        status: Some(sub_task_status::Status::Sync(SyncStatus {
            blocking_dd_ls: s.run.blocking_ddls.clone(),
            synced: s.run.synced,
            conflict_msg: s.run.conflict_message.clone(),
            ..SyncStatus::default()
        })),
        ..SubTaskStatus::default()
    };
    if name.is_empty() {
        resp.sub_task_status = subtasks.iter().map(status_of).collect();
    } else {
        resp.sub_task_status = vec![match subtasks.iter().find(|s| s.task == name) {
            Some(s) => status_of(s),
            None => SubTaskStatus {
                name: name.to_owned(),
                status: Some(sub_task_status::Status::Msg(format!(
                    "no sub task with name {name} has started"
                ))),
                ..SubTaskStatus::default()
            },
        }];
    }
    if resp.sub_task_status.is_empty() {
        resp.msg = "no sub task started".into();
    }
    resp
}

fn not_supported(rpc: &'static str) -> GrpcStatus {
    warn!(rpc, "request for an unsupported RPC");
    GrpcStatus::unknown(Error::NotSupported { rpc }.dm_string())
}

#[tonic::async_trait]
impl Worker for WorkerService {
    #[tracing::instrument(skip_all, fields(task = %request.get_ref().name))]
    async fn query_status(
        &self,
        request: Request<QueryStatusRequest>,
    ) -> Result<Response<QueryStatusResponse>, GrpcStatus> {
        let name = request.into_inner().name;
        info!(request = "QueryStatus", task = %name, "");
        let status = self.source.status().await;
        Ok(Response::new(query_status_response(
            &self.config.name,
            status,
            &name,
        )))
    }

    async fn get_worker_cfg(
        &self,
        _request: Request<GetWorkerCfgRequest>,
    ) -> Result<Response<GetWorkerCfgResponse>, GrpcStatus> {
        info!(request = "GetWorkerCfg", "");
        Ok(Response::new(GetWorkerCfgResponse {
            cfg: self.config.to_toml(),
        }))
    }

    async fn purge_relay(
        &self,
        _request: Request<PurgeRelayRequest>,
    ) -> Result<Response<CommonWorkerResponse>, GrpcStatus> {
        Err(not_supported("PurgeRelay"))
    }

    async fn operate_schema(
        &self,
        _request: Request<OperateWorkerSchemaRequest>,
    ) -> Result<Response<CommonWorkerResponse>, GrpcStatus> {
        Err(not_supported("OperateSchema"))
    }

    async fn operate_v1_meta(
        &self,
        _request: Request<OperateV1MetaRequest>,
    ) -> Result<Response<OperateV1MetaResponse>, GrpcStatus> {
        Err(not_supported("OperateV1Meta"))
    }

    async fn handle_error(
        &self,
        _request: Request<HandleWorkerErrorRequest>,
    ) -> Result<Response<CommonWorkerResponse>, GrpcStatus> {
        Err(not_supported("HandleError"))
    }

    async fn check_subtasks_can_update(
        &self,
        _request: Request<CheckSubtasksCanUpdateRequest>,
    ) -> Result<Response<CheckSubtasksCanUpdateResponse>, GrpcStatus> {
        Err(not_supported("CheckSubtasksCanUpdate"))
    }

    async fn get_worker_validator_status(
        &self,
        _request: Request<GetValidationStatusRequest>,
    ) -> Result<Response<GetValidationStatusResponse>, GrpcStatus> {
        Err(not_supported("GetWorkerValidatorStatus"))
    }

    async fn get_validator_error(
        &self,
        _request: Request<GetValidationErrorRequest>,
    ) -> Result<Response<GetValidationErrorResponse>, GrpcStatus> {
        Err(not_supported("GetValidatorError"))
    }

    async fn operate_validator_error(
        &self,
        _request: Request<OperateValidationErrorRequest>,
    ) -> Result<Response<OperateValidationErrorResponse>, GrpcStatus> {
        Err(not_supported("OperateValidatorError"))
    }

    async fn update_validator(
        &self,
        _request: Request<UpdateValidationWorkerRequest>,
    ) -> Result<Response<CommonWorkerResponse>, GrpcStatus> {
        Err(not_supported("UpdateValidator"))
    }
}

#[cfg(test)]
mod tests;
