use super::*;
use crate::gojson::assert_golden as check;

fn info(ddls: Option<&[&str]>) -> Info {
    Info {
        task: "test".into(),
        source: "mysql-replica-1".into(),
        schema: "foo".into(),
        table: "bar".into(),
        ddls: ddls.map(|d| d.iter().map(|s| s.to_string()).collect()),
    }
}

#[test]
fn info_golden() {
    // DM's info_test.go fixture.
    check(
        r#"{"task":"test","source":"mysql-replica-1","schema":"foo","table":"bar","ddls":["ALTER TABLE bar ADD COLUMN c1 INT","ALTER TABLE bar ADD COLUMN c2 INT"]}"#,
        &info(Some(&[
            "ALTER TABLE bar ADD COLUMN c1 INT",
            "ALTER TABLE bar ADD COLUMN c2 INT",
        ])),
        Info::decode,
        Info::encode,
    );
    // docs/protocol.md#value-pessimism-info example.
    check(
        r#"{"task":"test","source":"mysql-replica-01","schema":"shard_db","table":"shard_table","ddls":["ALTER TABLE `shard_db`.`shard_table` ADD COLUMN `c2` INT"]}"#,
        &Info {
            task: "test".into(),
            source: "mysql-replica-01".into(),
            schema: "shard_db".into(),
            table: "shard_table".into(),
            ddls: Some(vec![
                "ALTER TABLE `shard_db`.`shard_table` ADD COLUMN `c2` INT".into(),
            ]),
        },
        Info::decode,
        Info::encode,
    );
    // null and [] stay apart.
    check(
        r#"{"task":"test","source":"mysql-replica-1","schema":"foo","table":"bar","ddls":null}"#,
        &info(None),
        Info::decode,
        Info::encode,
    );
    check(
        r#"{"task":"test","source":"mysql-replica-1","schema":"foo","table":"bar","ddls":[]}"#,
        &info(Some(&[])),
        Info::decode,
        Info::encode,
    );
    // Escapes: HTML-safe set, U+2028, control bytes, quotes.
    check(
        r#"{"task":"t\u003c\u003e\u0026","source":"s\u2028\u2029","schema":"\u0001\b\f\n\r\t","table":"\"\\/","ddls":["中文"]}"#,
        &Info {
            task: "t<>&".into(),
            source: "s\u{2028}\u{2029}".into(),
            schema: "\u{1}\u{8}\u{c}\n\r\t".into(),
            table: "\"\\/".into(),
            ddls: Some(vec!["中文".into()]),
        },
        Info::decode,
        Info::encode,
    );
    assert_eq!(info(None).lock_id(), "test-`foo`.`bar`");
}

#[test]
fn info_tolerant_decode() {
    // Case-insensitive names, unknown and missing fields, invalid UTF-8.
    let got = Info::decode(
        b"{\"Task\":\"t\",\"SOURCE\":\"s\xff\",\"extra\":{\"x\":[1]},\"ddls\":[\"d\"]}",
    )
    .unwrap();
    assert_eq!(
        got,
        Info {
            task: "t".into(),
            source: "s\u{fffd}".into(),
            schema: String::new(),
            table: String::new(),
            ddls: Some(vec!["d".into()]),
        }
    );
    // What Go writes for that value: the decoded U+FFFD is a valid rune now.
    assert_eq!(
        String::from_utf8(got.encode()).unwrap(),
        "{\"task\":\"t\",\"source\":\"s\u{fffd}\",\"schema\":\"\",\"table\":\"\",\"ddls\":[\"d\"]}"
    );
    assert_eq!(Info::decode(b"{}").unwrap(), Info::default());
    assert_eq!(Info::decode(b"null").unwrap(), Info::default());
    for bad in [
        &b""[..],
        b"{",
        b"[]",
        b"{\"task\":1}",
        b"{\"ddls\":\"x\"}",
        b"{\"ddls\":[true]}",
    ] {
        assert!(Info::decode(bad).is_err(), "{bad:?}");
    }
}

fn op(done: bool) -> Operation {
    Operation {
        id: "test-ID".into(),
        task: "test".into(),
        source: "mysql-replica-1".into(),
        ddls: Some(vec!["ALTER TABLE bar ADD COLUMN c1 INT".into()]),
        exec: true,
        done,
    }
}

#[test]
fn operation_golden() {
    // DM's operation_test.go fixture.
    check(
        r#"{"id":"test-ID","task":"test","source":"mysql-replica-1","ddls":["ALTER TABLE bar ADD COLUMN c1 INT"],"exec":true,"done":false}"#,
        &op(false),
        Operation::decode,
        Operation::encode,
    );
    // The bytes the skipDone guard compares against.
    check(
        r#"{"id":"test-ID","task":"test","source":"mysql-replica-1","ddls":["ALTER TABLE bar ADD COLUMN c1 INT"],"exec":true,"done":true}"#,
        &op(false).with_done(true),
        Operation::decode,
        Operation::encode,
    );
    check(
        r#"{"id":"test-`db`.`tbl`","task":"test","source":"s","ddls":null,"exec":false,"done":false}"#,
        &Operation {
            id: "test-`db`.`tbl`".into(),
            task: "test".into(),
            source: "s".into(),
            ddls: None,
            exec: false,
            done: false,
        },
        Operation::decode,
        Operation::encode,
    );
    assert_eq!(op(true).with_done(false), op(false));
}

#[test]
fn operation_tolerant_decode() {
    let got = Operation::decode(br#"{"ID":"x","Exec":true,"done":null,"IsDeleted":true}"#).unwrap();
    assert_eq!(
        got,
        Operation {
            id: "x".into(),
            exec: true,
            ..Operation::default()
        }
    );
    for bad in [
        &b"{\"exec\":\"true\"}"[..],
        b"{\"done\":1}",
        b"\"op\"",
        b"{\"id\":\"x\"}{}",
    ] {
        assert!(Operation::decode(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn random_bytes_never_panic() {
    let seeds = [op(true).encode(), info(Some(&["a"])).encode()];
    for bytes in crate::decoder_fuzz::mutated_seeds(&seeds, 4000, 0x9e37_79b9_7f4a_7c15) {
        let _ = Info::decode(&bytes);
        let _ = Operation::decode(&bytes);
        // Whatever decodes must re-encode to something that decodes the same.
        if let Ok(o) = Operation::decode(&bytes) {
            assert_eq!(Operation::decode(&o.encode()).unwrap(), o);
        }
    }
}
