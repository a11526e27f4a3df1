//! PURE. Operator decisions on pessimistic locks that DM does not have: the
//! unlock preview and injected Infos.
//!
//! * **Unlock preview.** [`preview_unlock`] runs DM's unlock planner
//!   ([`LockKeeper::prepare_unlock`] and the step functions the actor uses)
//!   on a scratch copy of one lock, assuming every source answers in time,
//!   and lists the distinct Operations the real unlock writes (the owner's
//!   `exec`, then the `skip`s that the owner's done sets off) and the
//!   sources whose Info and Operation keys are deleted. The keeper itself
//!   is not touched.
//! * **Injected Infos.** An operator may state that a source reached a DDL
//!   it will never report (its shard table was dropped upstream). The Info
//!   is stored under the source's normal Info key with one extra JSON field,
//!   `"injected":true`, after DM's five fields: Go's `encoding/json` ignores
//!   unknown fields, so DM workers and tools still read it as an Info.
//!
//! **Invariants of an injected source** (kept by [`settle_injected`], which
//! the actor calls after every change of a lock): it is never the owner
//! (the owner moves to a source that can execute), and once the lock is
//! synced it counts as done. The master therefore never writes an Operation
//! for it, so its worker, if one runs, is never asked to do anything; its
//! Info is deleted with the lock. [`check_inject`] refuses an inject that
//! would overwrite a reported Info, or leave a lock with nobody to execute.

use std::collections::BTreeSet;

use crate::gojson::go_slice;
use crate::keys;

use super::info::Info;
use super::keeper::{DoneDecision, LockAction, LockKeeper, OpsToPut, PessimismError};
use super::lock::same_ddls;

/// The JSON field that marks an Info written by the master for an operator.
pub const INJECTED_FIELD: &str = "injected";

/// DM has no error for these; the code is ours, next to DM's 38xxx master
/// codes (38100 is this master's "not supported").
pub const CODE_INJECT_REFUSED: i32 = 38101;

/// Why an inject (or an unlock naming an injected owner) is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorError {
    #[error("task {task} has no subtask config")]
    UnknownTask { task: String },
    #[error("task {task} is not in pessimistic shard mode")]
    NotPessimistic { task: String },
    #[error("source {source_id} is not a source of task {task}")]
    SourceNotInTask { task: String, source_id: String },
    #[error("an injected Info needs at least one DDL")]
    NoDdl,
    #[error("source {source_id} has already reported an Info for lock {lock_id}")]
    AlreadyReported { source_id: String, lock_id: String },
    #[error("an Info of source {source_id} is already injected for lock {lock_id}")]
    AlreadyInjected { source_id: String, lock_id: String },
    #[error(
        "source {source_id} has a pending Info for lock {other}; injecting would overwrite it"
    )]
    OtherLockPending { source_id: String, other: String },
    #[error(
        "DDLs {} differ from the DDLs {} of lock {lock_id}",
        go_slice(ddls),
        go_slice(lock_ddls)
    )]
    DdlMismatch {
        lock_id: String,
        ddls: Vec<String>,
        lock_ddls: Vec<String>,
    },
    #[error(
        "every other source of lock {lock_id} is injected too; no source would execute the DDL"
    )]
    NoExecutor { lock_id: String },
    #[error("source {source_id} is injected into lock {lock_id} and cannot execute its DDL")]
    InjectedOwner { source_id: String, lock_id: String },
    #[error(transparent)]
    Unlock(#[from] PessimismError),
}

impl OperatorError {
    /// The error code (DM's for unlock errors, ours otherwise).
    pub fn code(&self) -> i32 {
        match self {
            OperatorError::Unlock(e) => e.code(),
            _ => CODE_INJECT_REFUSED,
        }
    }
}

/// `info` as stored when injected: DM's bytes with `,"injected":true`
/// before the closing brace.
pub fn encode_injected(info: &Info) -> Vec<u8> {
    let mut bytes = info.encode();
    let closing = bytes.pop();
    debug_assert_eq!(closing, Some(b'}'));
    bytes.extend_from_slice(b",\"");
    bytes.extend_from_slice(INJECTED_FIELD.as_bytes());
    bytes.extend_from_slice(b"\":true}");
    bytes
}

/// Whether a stored Info value carries the injected marker (a value that
/// is not a JSON object, or has no marker, is a worker's Info).
pub fn is_injected(value: &[u8]) -> bool {
    // Every Info of a cold start passes here: a value that names the field
    // neither plainly nor through an escape cannot carry it, and is not
    // parsed a second time.
    let finder = |needle: &[u8]| memchr::memmem::find(value, needle).is_some();
    if !finder(INJECTED_FIELD.as_bytes()) && !finder(b"\\u") {
        return false;
    }
    serde_json::from_slice::<serde_json::Value>(value)
        .ok()
        .and_then(|v| v.get(INJECTED_FIELD).and_then(serde_json::Value::as_bool))
        .unwrap_or(false)
}

/// An operator's request to inject an Info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectRequest {
    pub task: String,
    pub source: String,
    /// Downstream schema and table (what the lock ID is made of).
    pub schema: String,
    pub table: String,
    pub ddls: Vec<String>,
}

impl InjectRequest {
    /// The lock the Info belongs to.
    pub fn lock_id(&self) -> String {
        keys::lock_id(&self.task, &self.schema, &self.table)
    }
}

/// What the actor knows about the task and the source, for [`check_inject`].
#[derive(Debug, Clone, Copy)]
pub struct InjectContext<'a> {
    /// The task's sources, `None` when the task has no subtask config.
    pub task_sources: Option<&'a [String]>,
    pub pessimistic: bool,
    /// The source's current Info: its lock ID and whether it was injected.
    pub current: Option<(&'a str, bool)>,
    /// Sources of the task already injected into the same lock.
    pub injected: &'a BTreeSet<String>,
}

/// Checks an inject against the keeper and returns the Info to write.
pub fn check_inject(
    keeper: &LockKeeper,
    request: &InjectRequest,
    context: InjectContext<'_>,
) -> Result<Info, OperatorError> {
    let lock_id = request.lock_id();
    let Some(task_sources) = context.task_sources else {
        return Err(OperatorError::UnknownTask {
            task: request.task.clone(),
        });
    };
    if !context.pessimistic {
        return Err(OperatorError::NotPessimistic {
            task: request.task.clone(),
        });
    }
    if !task_sources.contains(&request.source) {
        return Err(OperatorError::SourceNotInTask {
            task: request.task.clone(),
            source_id: request.source.clone(),
        });
    }
    if request.ddls.is_empty() {
        return Err(OperatorError::NoDdl);
    }
    match context.current {
        Some((current, true)) if current == lock_id => {
            return Err(OperatorError::AlreadyInjected {
                source_id: request.source.clone(),
                lock_id,
            })
        }
        Some((current, false)) if current == lock_id => {
            return Err(OperatorError::AlreadyReported {
                source_id: request.source.clone(),
                lock_id,
            })
        }
        Some((other, _)) => {
            return Err(OperatorError::OtherLockPending {
                source_id: request.source.clone(),
                other: other.to_owned(),
            })
        }
        None => {}
    }
    if let Some(lock) = keeper.find_lock(&lock_id) {
        if !same_ddls(&request.ddls, lock.ddls()) {
            return Err(OperatorError::DdlMismatch {
                lock_id,
                ddls: request.ddls.clone(),
                lock_ddls: lock.ddls().to_vec(),
            });
        }
    }
    let executor_left = task_sources
        .iter()
        .any(|s| *s != request.source && !context.injected.contains(s));
    if !executor_left {
        return Err(OperatorError::NoExecutor { lock_id });
    }
    Ok(Info {
        task: request.task.clone(),
        source: request.source.clone(),
        schema: request.schema.clone(),
        table: request.table.clone(),
        ddls: Some(request.ddls.clone()),
    })
}

/// What [`settle_injected`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settled {
    /// `(from, to)` when the owner moved off an injected source.
    pub owner_moved: Option<(String, String)>,
    /// Injected sources marked done because the lock is synced.
    pub marked_done: Vec<String>,
    /// The lock is now resolved (every source done).
    pub resolved: bool,
}

/// Keeps the injected-source invariants on one lock: the owner is a source
/// that can execute (the first ready one, else the first one, by name), and
/// in a synced lock every injected source is done.
pub fn settle_injected(
    keeper: &mut LockKeeper,
    lock_id: &str,
    injected: &BTreeSet<String>,
) -> Settled {
    let mut settled = Settled::default();
    let Some(lock) = keeper.find_lock_mut(lock_id) else {
        return settled;
    };
    if injected.is_empty() {
        return settled;
    }
    if injected.contains(lock.owner()) {
        let can_execute = |s: &&str| !injected.contains(*s);
        let ready = lock
            .ready()
            .filter(|(_, ready)| *ready)
            .map(|(s, _)| s)
            .find(can_execute);
        let any = lock.sources().find(can_execute);
        if let Some(new_owner) = ready.or(any).map(str::to_owned) {
            settled.owner_moved = Some((lock.owner().to_owned(), new_owner.clone()));
            lock.set_owner(new_owner);
        }
    }
    if lock.is_synced() {
        for source in injected {
            if lock.contains(source) && !lock.is_done(source) {
                lock.mark_done(source);
                settled.marked_done.push(source.clone());
            }
        }
        settled.resolved = !settled.marked_done.is_empty() && lock.is_resolved();
    }
    settled
}

/// Refuses an unlock whose owner would be an injected source.
pub fn check_unlock_owner(
    keeper: &LockKeeper,
    lock_id: &str,
    replace_owner: Option<&str>,
    injected: &BTreeSet<String>,
) -> Result<(), OperatorError> {
    let owner = replace_owner
        .filter(|o| !o.is_empty())
        .map(str::to_owned)
        .or_else(|| keeper.find_lock(lock_id).map(|l| l.owner().to_owned()));
    match owner {
        Some(source) if injected.contains(&source) => Err(OperatorError::InjectedOwner {
            source_id: source,
            lock_id: lock_id.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// What an unlock would write, in the order it writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnlockPreview {
    pub lock_id: String,
    pub task: String,
    pub owner: String,
    pub ddls: Vec<String>,
    /// Step 6: the owner's `exec` Operation (`None` when the owner is done).
    pub exec: Option<OpsToPut>,
    /// `skip` Operations: every non-owner not done when the owner is done
    /// (un-synced sources included, the lock being forced synced).
    pub skip: Option<OpsToPut>,
    /// Sources never asked: injected ones and those already done.
    pub not_asked: Vec<String>,
    /// Step 8: the sources whose Info and Operation keys are deleted.
    pub delete_keys_of: Vec<String>,
    /// Sources that had not reached the DDL (DM reports them after a
    /// failed skip).
    pub unsynced: Vec<String>,
}

/// The unlock plan of `lock_id` as the real unlock would carry it out when
/// every source answers in time; `keeper` is not changed.
pub fn preview_unlock(
    keeper: &LockKeeper,
    lock_id: &str,
    replace_owner: Option<&str>,
    injected: &BTreeSet<String>,
) -> Result<UnlockPreview, OperatorError> {
    check_unlock_owner(keeper, lock_id, replace_owner, injected)?;
    let mut scratch = keeper.scratch_copy(lock_id);
    let plan = scratch.prepare_unlock(lock_id, replace_owner)?;
    settle_injected(&mut scratch, lock_id, injected);
    let exec = (!scratch.unlock_owner_done(&plan)).then(|| plan.owner_op());
    // The owner's done reaches the lock through the normal path first: a
    // force-synced lock then tells every undone non-owner to skip, the
    // sources that never reached the DDL included (as DM does). The unlock
    // itself then asks its pending synced non-owners (a subset) again.
    let mut skip_sources: BTreeSet<String> = BTreeSet::new();
    if exec.is_some() {
        if let DoneDecision::OwnerDone(LockAction::PutSkipOps(ops)) =
            scratch.on_operation_done(lock_id, &plan.owner)
        {
            skip_sources.extend(ops.sources);
        }
    }
    if let Some(ops) = scratch.unlock_skip_ops(&plan) {
        skip_sources.extend(ops.sources);
    }
    let skip = (!skip_sources.is_empty()).then(|| OpsToPut {
        lock_id: plan.lock_id.clone(),
        task: plan.task.clone(),
        ddls: plan.ddls.clone(),
        exec: false,
        sources: skip_sources.into_iter().collect(),
        skip_done: true,
    });
    let asked: BTreeSet<&String> = exec
        .iter()
        .chain(skip.iter())
        .flat_map(|o| o.sources.iter())
        .collect();
    let cleanup = scratch.finish_unlock(&plan);
    let not_asked = cleanup
        .sources
        .iter()
        .filter(|s| !asked.contains(s) && **s != plan.owner)
        .cloned()
        .collect();
    Ok(UnlockPreview {
        lock_id: plan.lock_id.clone(),
        task: plan.task.clone(),
        owner: plan.owner.clone(),
        ddls: plan.ddls.clone(),
        exec,
        skip,
        not_asked,
        delete_keys_of: cleanup.sources,
        unsynced: plan.unsynced,
    })
}

#[cfg(test)]
mod tests;
