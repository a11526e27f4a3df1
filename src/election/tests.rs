use super::*;

fn check(bytes: &str, value: LeaderValue) {
    assert_eq!(LeaderValue::decode(bytes.as_bytes()).unwrap(), value);
    assert_eq!(String::from_utf8(value.encode()).unwrap(), bytes);
}

#[test]
fn leader_value_golden() {
    check(
        r#"{"id":"master1","addr":"127.0.0.1:8261"}"#,
        LeaderValue {
            id: "master1".into(),
            addr: "127.0.0.1:8261".into(),
        },
    );
    check(r#"{"id":"","addr":""}"#, LeaderValue::default());
    check(
        r#"{"id":"m\u003c1\u003e","addr":"[::1]:8261"}"#,
        LeaderValue {
            id: "m<1>".into(),
            addr: "[::1]:8261".into(),
        },
    );
    assert_eq!(
        LeaderValue::decode(br#"{"ID":"a","Addr":"b","extra":1}"#).unwrap(),
        LeaderValue {
            id: "a".into(),
            addr: "b".into()
        }
    );
    assert!(LeaderValue::decode(br#"{"id":1}"#).is_err());
    assert!(LeaderValue::decode(b"not json").is_err());
}

mod standing {
    use super::super::candidates::{Candidates, Standing};
    use crate::etcd::watch::WatchEvent;
    use crate::etcd::{KeyValue, WithRevision};

    fn kv(key: &str, create_revision: i64) -> KeyValue {
        KeyValue {
            key: key.as_bytes().to_vec(),
            value: Vec::new(),
            create_revision,
            mod_revision: create_revision,
            version: 1,
            lease: 1,
        }
    }

    fn snapshot(keys: &[(&str, i64)], revision: i64) -> WatchEvent {
        WatchEvent::Resynced(WithRevision {
            value: keys.iter().map(|&(k, r)| kv(k, r)).collect(),
            revision,
        })
    }

    /// Applies `events`, then judges key `mine` created at `rev`; `expected`
    /// is the standing, with a follower given by its leader's key.
    fn check(events: Vec<WatchEvent>, mine: &str, rev: i64, expected: Result<&str, &str>) {
        let mut view = Candidates::default();
        for event in events {
            view.apply(event);
        }
        let got = match view.standing(mine.as_bytes(), rev) {
            Standing::Behind => Err("behind"),
            Standing::Gone => Err("gone"),
            Standing::Leader => Err("leader"),
            Standing::Follower(kv) => Ok(std::str::from_utf8(&kv.key).unwrap_or("?")),
        };
        assert_eq!(got, expected, "mine={mine}@{rev}");
    }

    #[test]
    fn judged_by_create_revision() {
        // No snapshot yet.
        check(vec![], "b", 5, Err("behind"));
        // Snapshot older than our campaign.
        check(vec![snapshot(&[("a", 3)], 4)], "b", 5, Err("behind"));
        // Our put arrives: queued behind `a`.
        check(
            vec![snapshot(&[("a", 3)], 4), WatchEvent::Put(kv("b", 5))],
            "b",
            5,
            Ok("a"),
        );
        // The leader goes: we lead.
        check(
            vec![
                snapshot(&[("a", 3), ("b", 5)], 6),
                WatchEvent::Delete {
                    key: b"a".to_vec(),
                    revision: 7,
                },
            ],
            "b",
            5,
            Err("leader"),
        );
        // Key order does not matter, create revision does.
        check(vec![snapshot(&[("z", 2), ("b", 5)], 6)], "b", 5, Ok("z"));
        check(
            vec![snapshot(&[("z", 9), ("b", 5)], 9)],
            "b",
            5,
            Err("leader"),
        );
        // A third candidate keeps following the new leader after a change.
        check(
            vec![
                snapshot(&[("a", 3), ("b", 5), ("c", 8)], 8),
                WatchEvent::Delete {
                    key: b"a".to_vec(),
                    revision: 9,
                },
            ],
            "c",
            8,
            Ok("b"),
        );
        // Our key deleted, or re-created at another revision: gone.
        check(vec![snapshot(&[("a", 3)], 6)], "b", 5, Err("gone"));
        check(vec![snapshot(&[("b", 7)], 7)], "b", 5, Err("gone"));
    }
}
