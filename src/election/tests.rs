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
