use super::*;
use crate::etcd::Op;

#[test]
fn records_encode_to_dm_bytes() {
    // Examples of docs/protocol.md#scheduler-values (DM's ha tests).
    let info = WorkerInfo::new("dm-worker-1", "192.168.0.100:8262");
    assert_eq!(
        info.encode(),
        br#"{"name":"dm-worker-1","addr":"192.168.0.100:8262"}"#
    );
    let bound = SourceBound::new("mysql-replica-1", "dm-worker-1");
    assert_eq!(
        bound.encode(),
        br#"{"source":"mysql-replica-1","worker":"dm-worker-1"}"#
    );
    let relay = Stage {
        expect: StageKind::Running,
        source: "mysql-replica-1".into(),
        task: String::new(),
    };
    assert_eq!(
        relay.encode(),
        br#"{"expect":2,"source":"mysql-replica-1"}"#
    );
    let subtask = Stage {
        expect: StageKind::Paused,
        source: "mysql-replica-1".into(),
        task: "task1".into(),
    };
    assert_eq!(
        subtask.encode(),
        br#"{"expect":3,"source":"mysql-replica-1","task":"task1"}"#
    );
    let event = WorkerEvent {
        worker_name: "w<1>".into(),
        join_time: "2024-05-01T10:00:00.123456789+08:00".into(),
    };
    // Go escapes <, > and & in strings.
    assert_eq!(
        event.encode(),
        br#"{"worker-name":"w\u003c1\u003e","join-time":"2024-05-01T10:00:00.123456789+08:00"}"#
    );
}

#[test]
fn records_decode_like_go() {
    // Case-insensitive names, unknown fields, and null are accepted as Go does.
    let info = WorkerInfo::decode(br#"{"Name":"w1","ADDR":"h:1","extra":1}"#).unwrap();
    assert_eq!(info, WorkerInfo::new("w1", "h:1"));
    let event =
        WorkerEvent::decode(br#"{"worker-name":"w1","join-time":"2024-05-01T10:00:00.5+08:00"}"#)
            .unwrap();
    assert_eq!(event.worker_name, "w1");
    let stage = Stage::decode(br#"{"expect":2,"source":"s"}"#).unwrap();
    assert_eq!(stage.expect, StageKind::Running);
    assert_eq!(stage.task, "");
    assert!(SourceBound::decode(br#"{"source":1}"#).is_err());
    assert!(WorkerInfo::decode(b"[]").is_err());
}

#[test]
fn transactions_follow_dm_order() {
    let space = KeySpace::default();
    let txn = put_bounds_txn(&space, &[SourceBound::new("s1", "w1")]);
    let value = br#"{"source":"s1","worker":"w1"}"#.to_vec();
    assert_eq!(
        txn.then_ops(),
        &[
            Op::put("/dm-master/bound-worker/7731", value.clone()),
            Op::put("/dm-master/last-bound-worker/7731", value),
        ]
    );
    let txn = remove_source_txn(&space, "s1", "");
    assert_eq!(
        txn.then_ops(),
        &[
            Op::delete("/dm-master/v2/upstream/config/7331"),
            Op::delete("/dm-master/v2/stage/relay/7331"),
            Op::delete("/dm-master/bound-worker"),
            Op::delete("/dm-master/last-bound-worker"),
        ]
    );
    let txn = offline_worker_txn(&space, "w1");
    assert_eq!(
        txn.then_ops(),
        &[
            Op::delete("/dm-worker/r/7731"),
            Op::delete("/dm-master/relay-worker/7731"),
        ]
    );
}
