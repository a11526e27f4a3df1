use std::time::Duration;

use dm_master::keys::KeySpace;

use super::*;

#[test]
fn keys_are_dm_hex_keys() {
    let keys = HaKeys::default();
    assert_eq!(keys.keep_alive("worker1"), "/dm-worker/a/776f726b657231");
    assert_eq!(
        keys.bound("worker1"),
        "/dm-master/bound-worker/776f726b657231"
    );
    assert_eq!(
        keys.source_config("mysql-replica-1"),
        "/dm-master/v2/upstream/config/6d7973716c2d7265706c6963612d31"
    );
    assert_eq!(
        keys.subtask_stage_prefix("s1"),
        "/dm-master/stage/subtask/7331/"
    );
    assert_eq!(
        keys.subtask_stage("s1", "t1"),
        "/dm-master/stage/subtask/7331/7431"
    );
    assert_eq!(
        keys.subtask_config_prefix("s1"),
        "/dm-master/upstream/subtask/7331/"
    );
    assert_eq!(
        keys.subtask_config("s1", "t1"),
        "/dm-master/upstream/subtask/7331/7431"
    );
    let namespaced = HaKeys::new(KeySpace::new("/ns"));
    assert_eq!(namespaced.keep_alive("w"), "/ns/dm-worker/a/77");
    assert_eq!(
        namespaced.subtask_config("s1", "t1"),
        "/ns/dm-master/upstream/subtask/7331/7431"
    );
}

#[test]
fn tasks_are_read_only_from_keys_of_the_source() {
    let keys = HaKeys::default();
    assert_eq!(
        keys.stage_task("s1", keys.subtask_stage("s1", "task-a").as_bytes()),
        Some("task-a".to_owned())
    );
    assert_eq!(
        keys.config_task("s1", keys.subtask_config("s1", "task-a").as_bytes()),
        Some("task-a".to_owned())
    );
    // `s1` is a string prefix of `s10`, not its key.
    assert_eq!(
        keys.stage_task("s1", keys.subtask_stage("s10", "t").as_bytes()),
        None
    );
    let prefix = keys.subtask_stage_prefix("s1");
    assert_eq!(
        keys.stage_task("s1", format!("{prefix}zz").as_bytes()),
        None
    );
    assert_eq!(keys.stage_task("s1", format!("{prefix}7").as_bytes()), None);
    assert_eq!(
        keys.stage_task("s1", keys.subtask_config("s1", "t").as_bytes()),
        None
    );
}

#[test]
fn worker_event_is_go_json() {
    // 2024-05-01T10:00:00.123456789Z
    let at = Duration::new(1_714_557_600, 123_456_789);
    let event = worker_event("worker1", at);
    assert_eq!(
        String::from_utf8(event.encode()).unwrap(),
        r#"{"worker-name":"worker1","join-time":"2024-05-01T10:00:00.123456789Z"}"#
    );
    // Go escapes <, > and & in strings.
    assert_eq!(
        String::from_utf8(worker_event("a<b>&\"", at).encode()).unwrap(),
        r#"{"worker-name":"a\u003cb\u003e\u0026\"","join-time":"2024-05-01T10:00:00.123456789Z"}"#
    );
}

#[test]
fn join_time_trims_fraction_like_go() {
    let cases = [
        (Duration::new(0, 0), "1970-01-01T00:00:00Z"),
        (
            Duration::new(1_714_557_600, 100_000_000),
            "2024-05-01T10:00:00.1Z",
        ),
        (
            Duration::new(1_714_557_600, 120),
            "2024-05-01T10:00:00.00000012Z",
        ),
        (Duration::new(951_782_400, 0), "2000-02-29T00:00:00Z"),
        (Duration::new(4_102_444_799, 0), "2099-12-31T23:59:59Z"),
    ];
    for (at, want) in cases {
        assert_eq!(go_rfc3339_nano_utc(at), want);
    }
}

#[test]
fn bound_and_stage_values_decode() {
    assert_eq!(
        SourceBound::decode(br#"{"source":"mysql-replica-1","worker":"dm-worker-1"}"#).unwrap(),
        SourceBound {
            source: "mysql-replica-1".into(),
            worker: "dm-worker-1".into()
        }
    );
    assert!(SourceBound::decode(b"not json").is_err());
    assert_eq!(
        StageRecord::decode(br#"{"expect":3,"source":"mysql-replica-1","task":"task1"}"#).unwrap(),
        StageRecord {
            expect: Stage::Paused,
            source: "mysql-replica-1".into(),
            task: "task1".into()
        }
    );
    // Relay stages have no task.
    assert_eq!(
        StageRecord::decode(br#"{"expect":2,"source":"s"}"#)
            .unwrap()
            .task,
        ""
    );
    assert!(StageRecord::decode(br#"{"expect":"Running"}"#).is_err());
    // Go's decoder: case-insensitive names, unknown fields ignored.
    assert_eq!(
        StageRecord::decode(br#"{"Expect":2,"SOURCE":"s","task":"t","x":1}"#).unwrap(),
        StageRecord {
            expect: Stage::Running,
            source: "s".into(),
            task: "t".into()
        }
    );
}

#[test]
fn stage_numbers_and_names_are_pb_stage() {
    for n in 0..=8 {
        assert_eq!(Stage::from_number(n).number() as i64, n);
    }
    assert_eq!(Stage::from_number(42), Stage::Invalid);
    assert_eq!(Stage::Invalid.name(), "InvalidStage");
    assert_eq!(Stage::Running.to_string(), "Running");
}
