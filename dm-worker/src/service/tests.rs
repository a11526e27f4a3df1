use super::*;
use crate::ha::Stage;
use crate::source::SubtaskStatus;

fn bound(subtasks: &[(&str, Stage, &str)]) -> Option<Status> {
    Some(Status {
        source: Some("mysql-replica-01".into()),
        subtasks: subtasks
            .iter()
            .map(|(task, stage, lock)| SubtaskStatus {
                task: (*task).into(),
                stage: *stage,
                unresolved_ddl_lock_id: (*lock).into(),
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
