//! Errors of the scheduler and of the member RPCs, with DM's codes, classes,
//! levels and texts (`dm/pkg/terror/error_list.go`).
//!
//! PURE. `Display` is DM's message part; [`SchedulerError::dm_string`] is the
//! full terror string dmctl prints.

use std::fmt;

use crate::gojson::go_slice;

/// Every refusal of the scheduler core and the member/source RPCs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchedulerError {
    /// ErrSchedulerNotStarted (46001).
    NotStarted,
    /// ErrSchedulerWorkerExist (46003): the name is registered with another
    /// address; `info_json` is the stored WorkerInfo's JSON, as DM prints it.
    WorkerExists { info_json: String },
    /// ErrSchedulerWorkerNotExist (46004).
    WorkerNotExist { worker: String },
    /// ErrSchedulerWorkerOnline (46005).
    WorkerOnline { worker: String },
    /// ErrSchedulerSourceCfgExist (46007).
    SourceExists { source: String },
    /// ErrSchedulerSourceCfgNotExist (46008).
    SourceNotExist { source: String },
    /// ErrSchedulerSourceOpTaskExist (46010); `tasks` sorted.
    SourceHasTasks { source: String, tasks: Vec<String> },
    /// ErrSchedulerWorkerNotFree (46033).
    WorkerNotFree { worker: String },
    /// ErrMasterMasterNameNotExist (38048).
    MasterNotExist { name: String },
    /// ErrMasterInvalidOfflineType (38049).
    InvalidOfflineType { kind: String },
    /// ErrMasterInvalidOperateOp (38041): `invalid op <op> on <what>`.
    InvalidOperateOp { op: String, what: String },
    /// ErrSchedulerSourcesUnbound (46009): new subtasks on unbound sources.
    SourcesUnbound { sources: Vec<String> },
    /// ErrSchedulerSubTaskExist (46014): every given source already has a
    /// subtask of the task.
    SubTaskExists { task: String, sources: Vec<String> },
    /// ErrSchedulerSubTaskOpTaskNotExist (46016).
    SubTaskOpTaskNotExist { task: String },
    /// ErrSchedulerSubTaskOpSourceNotExist (46017).
    SubTaskOpSourceNotExist { sources: Vec<String> },
}

impl SchedulerError {
    pub fn code(&self) -> i32 {
        match self {
            SchedulerError::NotStarted => 46001,
            SchedulerError::WorkerExists { .. } => 46003,
            SchedulerError::WorkerNotExist { .. } => 46004,
            SchedulerError::WorkerOnline { .. } => 46005,
            SchedulerError::SourceExists { .. } => 46007,
            SchedulerError::SourceNotExist { .. } => 46008,
            SchedulerError::SourceHasTasks { .. } => 46010,
            SchedulerError::WorkerNotFree { .. } => 46033,
            SchedulerError::MasterNotExist { .. } => 38048,
            SchedulerError::InvalidOfflineType { .. } => 38049,
            SchedulerError::InvalidOperateOp { .. } => 38041,
            SchedulerError::SourcesUnbound { .. } => 46009,
            SchedulerError::SubTaskExists { .. } => 46014,
            SchedulerError::SubTaskOpTaskNotExist { .. } => 46016,
            SchedulerError::SubTaskOpSourceNotExist { .. } => 46017,
        }
    }

    pub fn class(&self) -> &'static str {
        match self {
            SchedulerError::SourceHasTasks { .. }
            | SchedulerError::MasterNotExist { .. }
            | SchedulerError::InvalidOfflineType { .. }
            | SchedulerError::InvalidOperateOp { .. }
            | SchedulerError::SourcesUnbound { .. }
            | SchedulerError::SubTaskOpTaskNotExist { .. }
            | SchedulerError::SubTaskOpSourceNotExist { .. } => "dm-master",
            _ => "scheduler",
        }
    }

    pub fn level(&self) -> &'static str {
        match self {
            SchedulerError::NotStarted => "high",
            SchedulerError::WorkerNotFree { .. }
            | SchedulerError::MasterNotExist { .. }
            | SchedulerError::InvalidOfflineType { .. } => "low",
            _ => "medium",
        }
    }

    pub fn workaround(&self) -> &'static str {
        match self {
            SchedulerError::WorkerOnline { .. } => "Please shut it down first.",
            SchedulerError::SourceHasTasks { .. } => "Please `stop-task` first.",
            SchedulerError::MasterNotExist { .. } => {
                "Please use list-member command to see masters."
            }
            SchedulerError::InvalidOfflineType { .. } => "Please use master/worker.",
            SchedulerError::SubTaskExists { .. } | SchedulerError::SubTaskOpTaskNotExist { .. } => {
                "Please use `query-status` command to see tasks."
            }
            _ => "",
        }
    }

    /// `[code=N:class=C:scope=internal:level=L], Message: M[, Workaround: W]`.
    pub fn dm_string(&self) -> String {
        dm_error_string(
            self.code(),
            self.class(),
            self.level(),
            &self.to_string(),
            None,
            self.workaround(),
        )
    }
}

/// DM's terror text with an optional raw cause.
pub fn dm_error_string(
    code: i32,
    class: &str,
    level: &str,
    message: &str,
    raw_cause: Option<&str>,
    workaround: &str,
) -> String {
    let mut out =
        format!("[code={code}:class={class}:scope=internal:level={level}], Message: {message}");
    if let Some(cause) = raw_cause {
        out.push_str(", RawCause: ");
        out.push_str(cause);
    }
    if !workaround.is_empty() {
        out.push_str(", Workaround: ");
        out.push_str(workaround);
    }
    out
}

impl fmt::Display for SchedulerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchedulerError::NotStarted => f.write_str("the scheduler has not started"),
            SchedulerError::WorkerExists { info_json } => {
                write!(f, "dm-worker with name {info_json} already exists")
            }
            SchedulerError::WorkerNotExist { worker } => {
                write!(f, "dm-worker with name {worker} not exists")
            }
            SchedulerError::WorkerOnline { worker } => {
                write!(f, "dm-worker with name {worker} is still online")
            }
            SchedulerError::SourceExists { source } => {
                write!(f, "source config with ID {source} already exists")
            }
            SchedulerError::SourceNotExist { source } => {
                write!(f, "source config with ID {source} not exists")
            }
            SchedulerError::SourceHasTasks { source, tasks } => write!(
                f,
                "source with name {source} need to operate has existing tasks {}",
                go_slice(tasks)
            ),
            SchedulerError::WorkerNotFree { worker } => {
                write!(f, "dm-worker with name {worker} not free")
            }
            SchedulerError::MasterNotExist { name } => {
                write!(f, "dm-master with name {name} not exists")
            }
            SchedulerError::InvalidOfflineType { kind } => {
                write!(f, "offline member type {kind} is invalid")
            }
            SchedulerError::InvalidOperateOp { op, what } => write!(f, "invalid op {op} on {what}"),
            SchedulerError::SourcesUnbound { sources } => {
                write!(f, "sources {} have not bound", go_slice(sources))
            }
            SchedulerError::SubTaskExists { task, sources } => write!(
                f,
                "subtasks with name {task} for sources {} already exist",
                go_slice(sources)
            ),
            SchedulerError::SubTaskOpTaskNotExist { task } => {
                write!(f, "subtasks with name {task} need to be operate not exist")
            }
            SchedulerError::SubTaskOpSourceNotExist { sources } => write!(
                f,
                "sources {} need to be operate not exist",
                go_slice(sources)
            ),
        }
    }
}

impl std::error::Error for SchedulerError {}
