//! The subtask half of the scheduler's decisions (DM `AddSubTasks`,
//! `RemoveSubTasks`, `UpdateExpectSubTaskStage`, docs/protocol.md#subtasks).
//!
//! PURE: the actor reads the task's stored subtask configs and stages at one
//! revision, asks these functions what to write, and writes it in one fenced
//! txn. Nothing is decided from memory that etcd does not hold, so a new
//! leader sees exactly the subtasks the old one wrote.

use std::collections::BTreeSet;

use super::SchedulerError;

/// One subtask config to store: its source and DM's TOML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubTask {
    pub source: String,
    pub toml: Vec<u8>,
}

/// What `OperateTask` does to the stage keys of the chosen sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStageOp {
    /// Put stage `Paused`.
    Pause,
    /// Put stage `Running`.
    Resume,
    /// Delete config and stage (stop-task).
    Delete,
}

/// `AddSubTasks(Running)`: the subtasks to write. Sources that already have
/// a config of the task are skipped; when all have one the start is refused
/// (46014); any new one on a source without a bound worker refuses the
/// whole start (46009), so nothing is written.
pub fn plan_start(
    task: &str,
    subtasks: Vec<NewSubTask>,
    configured: &BTreeSet<String>,
    bound: &BTreeSet<String>,
) -> Result<Vec<NewSubTask>, SchedulerError> {
    if subtasks.is_empty() {
        return Ok(subtasks);
    }
    let existing: Vec<String> = subtasks
        .iter()
        .filter(|s| configured.contains(&s.source))
        .map(|s| s.source.clone())
        .collect();
    if existing.len() == subtasks.len() {
        return Err(SchedulerError::SubTaskExists {
            task: task.to_owned(),
            sources: existing,
        });
    }
    let fresh: Vec<NewSubTask> = subtasks
        .into_iter()
        .filter(|s| !configured.contains(&s.source))
        .collect();
    let unbound: Vec<String> = fresh
        .iter()
        .filter(|s| !bound.contains(&s.source))
        .map(|s| s.source.clone())
        .collect();
    if !unbound.is_empty() {
        return Err(SchedulerError::SourcesUnbound { sources: unbound });
    }
    Ok(fresh)
}

/// The sources an `OperateTask` acts on: the requested ones, or every
/// source with a config of the task. `None` when there are none (DM answers
/// that with its own text, not an error code). A task with neither config
/// nor stage is 46016; a requested source without a stage is 46017.
pub fn plan_operate(
    task: &str,
    requested: &[String],
    configured: &BTreeSet<String>,
    staged: &BTreeSet<String>,
) -> Result<Option<Vec<String>>, SchedulerError> {
    let sources: Vec<String> = if requested.is_empty() {
        configured.iter().cloned().collect()
    } else {
        requested.to_vec()
    };
    if sources.is_empty() {
        return Ok(None);
    }
    if configured.is_empty() && staged.is_empty() {
        return Err(SchedulerError::SubTaskOpTaskNotExist {
            task: task.to_owned(),
        });
    }
    let missing: Vec<String> = sources
        .iter()
        .filter(|s| !staged.contains(*s))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(SchedulerError::SubTaskOpSourceNotExist { sources: missing });
    }
    Ok(Some(sources))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn sub(source: &str) -> NewSubTask {
        NewSubTask {
            source: source.into(),
            toml: b"x".to_vec(),
        }
    }

    #[test]
    fn start_skips_existing_and_refuses_when_all_exist() {
        let bound = set(&["s1", "s2"]);
        let fresh = plan_start("t", vec![sub("s1"), sub("s2")], &set(&["s1"]), &bound).unwrap();
        assert_eq!(fresh, vec![sub("s2")]);
        let all = plan_start("t", vec![sub("s1"), sub("s2")], &bound, &bound).unwrap_err();
        assert_eq!(
            all.dm_string(),
            "[code=46014:class=scheduler:scope=internal:level=medium], Message: subtasks with name t for sources [s1 s2] already exist, Workaround: Please use `query-status` command to see tasks."
        );
    }

    #[test]
    fn start_on_an_unbound_source_writes_nothing() {
        let err =
            plan_start("t", vec![sub("s1"), sub("s2")], &set(&[]), &set(&["s1"])).unwrap_err();
        assert_eq!(
            err.dm_string(),
            "[code=46009:class=dm-master:scope=internal:level=medium], Message: sources [s2] have not bound"
        );
    }

    #[test]
    fn operate_defaults_to_configured_sources_and_checks_stages() {
        let both = set(&["s1", "s2"]);
        assert_eq!(
            plan_operate("t", &[], &both, &both).unwrap(),
            Some(vec!["s1".to_string(), "s2".to_string()])
        );
        assert_eq!(plan_operate("t", &[], &set(&[]), &set(&[])).unwrap(), None);
        let unknown = plan_operate("t", &["s1".into()], &set(&[]), &set(&[])).unwrap_err();
        assert_eq!(
            unknown.dm_string(),
            "[code=46016:class=dm-master:scope=internal:level=medium], Message: subtasks with name t need to be operate not exist, Workaround: Please use `query-status` command to see tasks."
        );
        let missing = plan_operate("t", &["s3".into()], &both, &both).unwrap_err();
        assert_eq!(
            missing.dm_string(),
            "[code=46017:class=dm-master:scope=internal:level=medium], Message: sources [s3] need to be operate not exist"
        );
    }
}
