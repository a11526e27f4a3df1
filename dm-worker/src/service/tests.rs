use super::*;
use crate::ha::Stage;
use crate::source::SubtaskStatus;
use crate::subtasks::{RunError, RunStatus};

fn bound(subtasks: &[(&str, Stage, &str)]) -> Option<Status> {
    Some(Status {
        source: Some("mysql-replica-01".into()),
        subtasks: subtasks
            .iter()
            .map(|(task, stage, lock)| SubtaskStatus {
                task: (*task).into(),
                run: RunStatus {
                    stage: *stage,
                    unresolved_ddl_lock_id: (*lock).into(),
                    ..RunStatus::default()
                },
            })
            .collect(),
    })
}

#[test]
fn unbound_worker_answers_40070() {
    for status in [
        None,
        Some(Status {
            source: None,
            subtasks: vec![],
        }),
    ] {
        let resp = query_status_response("worker1", status, "");
        assert!(!resp.result);
        assert_eq!(
            resp.msg,
            "[code=40070:class=dm-worker:scope=internal:level=high], Message: no mysql source is being handled in the worker"
        );
        let source = resp.source_status.unwrap();
        assert_eq!(source.worker, "worker1");
        assert_eq!(source.source, "");
        assert!(resp.sub_task_status.is_empty());
    }
}

#[test]
fn bound_worker_reports_one_status_per_subtask() {
    let resp = query_status_response(
        "worker1",
        bound(&[
            ("task-a", Stage::Running, "task-a-`db`.`tbl`"),
            ("task-b", Stage::Paused, ""),
        ]),
        "",
    );
    assert!(resp.result);
    assert_eq!(resp.msg, "");
    let source = resp.source_status.clone().unwrap();
    assert_eq!(
        (source.source.as_str(), source.worker.as_str()),
        ("mysql-replica-01", "worker1")
    );
    let got: Vec<(&str, i32, i32, &str)> = resp
        .sub_task_status
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.stage,
                s.unit,
                s.unresolved_ddl_lock_id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("task-a", 2, UNIT_SYNC, "task-a-`db`.`tbl`"),
            ("task-b", 3, UNIT_SYNC, "")
        ]
    );
}

#[test]
fn named_and_missing_subtasks() {
    let resp = query_status_response("w", bound(&[("t", Stage::Running, "")]), "t");
    assert_eq!(resp.sub_task_status.len(), 1);
    assert_eq!(resp.sub_task_status[0].name, "t");
    let resp = query_status_response("w", bound(&[("t", Stage::Running, "")]), "other");
    assert!(resp.result);
    assert_eq!(resp.msg, "");
    assert_eq!(
        resp.sub_task_status[0].status,
        Some(sub_task_status::Status::Msg(
            "no sub task with name other has started".into()
        ))
    );
    let resp = query_status_response("w", bound(&[]), "");
    assert!(resp.result);
    assert_eq!(resp.msg, "no sub task started");
}

#[test]
fn a_failed_subtask_reports_dm_process_error_and_sync_fields() {
    let status = Some(Status {
        source: Some("mysql-replica-01".into()),
        subtasks: vec![SubtaskStatus {
            task: "t".into(),
            run: RunStatus {
                stage: Stage::Paused,
                unresolved_ddl_lock_id: "t-`db`.`tb`".into(),
                blocking_ddls: vec!["ALTER TABLE `db`.`tb` ADD COLUMN `c` INT".into()],
                conflict_message: "conflict".into(),
                synced: false,
                error: Some(RunError {
                    code: 36062,
                    class: "sync-unit",
                    message: "fail".into(),
                    workaround: "Please use show-ddl-locks command for more details.",
                }),
            },
        }],
    });
    let resp = query_status_response("w", status, "");
    let st = &resp.sub_task_status[0];
    assert_eq!(st.stage, 3);
    let errors = &st
        .result
        .as_ref()
        .expect("result of a failed subtask")
        .errors;
    assert_eq!(
        (
            errors[0].err_code,
            errors[0].err_class.as_str(),
            errors[0].err_scope.as_str(),
            errors[0].err_level.as_str()
        ),
        (36062, "sync-unit", "internal", "high")
    );
    let Some(sub_task_status::Status::Sync(sync)) = &st.status else {
        panic!("a sync status")
    };
    assert_eq!(
        sync.blocking_dd_ls,
        ["ALTER TABLE `db`.`tb` ADD COLUMN `c` INT"]
    );
    assert_eq!(sync.conflict_msg, "conflict");
    assert!(!sync.synced);
}
