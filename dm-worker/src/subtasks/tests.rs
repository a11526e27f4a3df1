use super::*;

fn subtask(task: &str, expected: Stage) -> Subtask {
    let toml = format!("name = \"{task}\"\nsource-id = \"s1\"\n");
    Subtask {
        task: task.into(),
        source: "s1".into(),
        expected,
        config: SubTaskConfig::from_toml(&toml).unwrap(),
        config_toml: toml,
    }
}

#[test]
fn upsert_set_stage_and_remove() {
    let mut view = SubtaskView::default();
    assert_eq!(
        view.upsert(subtask("t1", Stage::Running)),
        Change::Added(subtask("t1", Stage::Running))
    );
    assert_eq!(
        view.upsert(subtask("t1", Stage::Running)),
        Change::Unchanged
    );
    assert_eq!(
        view.set_stage("t1", Stage::Paused),
        Change::Updated(subtask("t1", Stage::Paused))
    );
    assert_eq!(view.set_stage("t1", Stage::Paused), Change::Unchanged);
    assert_eq!(view.set_stage("absent", Stage::Paused), Change::Unchanged);
    assert_eq!(view.remove("t1"), Change::Removed("t1".into()));
    assert_eq!(view.remove("t1"), Change::Unchanged);
    assert!(view.is_empty());
}

#[test]
fn replace_reports_removals_first_then_additions_and_updates() {
    let mut view = SubtaskView::default();
    view.replace(vec![
        subtask("a", Stage::Running),
        subtask("b", Stage::Running),
        subtask("c", Stage::Running),
    ]);
    let changes = view.replace(vec![
        subtask("b", Stage::Running),
        subtask("c", Stage::Paused),
        subtask("d", Stage::Invalid),
    ]);
    assert_eq!(
        changes,
        vec![
            Change::Removed("a".into()),
            Change::Updated(subtask("c", Stage::Paused)),
            Change::Added(subtask("d", Stage::Invalid)),
        ]
    );
    let tasks: Vec<&str> = view.subtasks().map(|s| s.task.as_str()).collect();
    assert_eq!(tasks, ["b", "c", "d"]);
    assert_eq!(
        view.clear(),
        vec![
            Change::Removed("b".into()),
            Change::Removed("c".into()),
            Change::Removed("d".into())
        ]
    );
    assert_eq!(view.len(), 0);
}
