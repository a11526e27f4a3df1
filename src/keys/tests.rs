use super::*;

/// Encode `parts` as a full key, compare with `want`, and decode it back.
fn check<const N: usize>(adapter: KeyAdapter<N>, parts: [&str; N], want: &str) {
    let key = adapter.key(parts);
    assert_eq!(key, want, "encode {parts:?}");
    let decoded = adapter.decode(key.as_bytes()).expect("decode");
    assert_eq!(decoded, parts.map(str::to_owned), "decode {want}");
}

#[test]
fn full_keys_match_dm() {
    // Fixtures from DM's common_test.go and docs/protocol.md#keys.
    check(
        PESSIMISM_INFO,
        ["test", "mysql-replica-01"],
        "/dm-master/shardddl-pessimism/info/74657374/6d7973716c2d7265706c6963612d3031",
    );
    check(
        PESSIMISM_OPERATION,
        ["test", "mysql-replica-01"],
        "/dm-master/shardddl-pessimism/operation/74657374/6d7973716c2d7265706c6963612d3031",
    );
    check(
        OPTIMISM_INFO,
        ["test", "mysql_replica_01", "target_db", "target_table"],
        "/dm-master/shardddl-optimism/info/74657374/6d7973716c5f7265706c6963615f3031/7461726765745f6462/7461726765745f7461626c65",
    );
    check(
        OPTIMISM_OPERATION,
        ["t", "s", "d", "b"],
        "/dm-master/shardddl-optimism/operation/74/73/64/62",
    );
    check(
        OPTIMISM_SOURCE_TABLES,
        ["t", "s"],
        "/dm-master/shardddl-optimism/source-tables/74/73",
    );
    check(
        OPTIMISM_DROPPED_COLUMNS,
        ["test-`db`.`tbl`", "c", "s", "d", "b"],
        "/dm-master/shardddl-optimism/dropped-columns/746573742d606462602e6074626c60/63/73/64/62",
    );
    check(
        OPTIMISM_INIT_SCHEMA,
        ["t", "d", "b"],
        "/dm-master/shardddl-optimism/init-schema/74/64/62",
    );
    check(
        UPSTREAM_SUBTASK,
        ["mysql1", "test"],
        "/dm-master/upstream/subtask/6d7973716c31/74657374",
    );
    // Unicode (DM's fixture, including the variation selector).
    check(
        UPSTREAM_SUBTASK,
        ["mysql1", "中文1🀄️"],
        "/dm-master/upstream/subtask/6d7973716c31/e4b8ade6968731f09f8084efb88f",
    );
    // `/` inside a name is hex, so it cannot split the key.
    check(
        PESSIMISM_INFO,
        ["a/b", "mysql/01"],
        "/dm-master/shardddl-pessimism/info/612f62/6d7973716c2f3031",
    );
}

#[test]
fn empty_parts_vanish_like_go_path_join() {
    // DM joins with path.Join: an empty part leaves no `//` and no segment.
    assert_eq!(
        PESSIMISM_INFO.key(["", "s"]),
        "/dm-master/shardddl-pessimism/info/73"
    );
    assert_eq!(
        PESSIMISM_INFO.key(["t", ""]),
        "/dm-master/shardddl-pessimism/info/74"
    );
    assert_eq!(
        PESSIMISM_INFO.key(["", ""]),
        "/dm-master/shardddl-pessimism/info"
    );
    assert_eq!(
        PESSIMISM_INFO.prefix(&[""]),
        "/dm-master/shardddl-pessimism/info/"
    );
    // ... and so such keys do not decode, exactly as in DM.
    let err = PESSIMISM_INFO
        .decode(PESSIMISM_INFO.key(["", "s"]).as_bytes())
        .unwrap_err();
    assert!(matches!(
        err,
        KeyError::WrongArity {
            expected: 2,
            found: 1,
            ..
        }
    ));
    // Too many parts are counted too.
    let err = PESSIMISM_INFO
        .decode(b"/dm-master/shardddl-pessimism/info/74/73/64/65")
        .unwrap_err();
    assert!(matches!(
        err,
        KeyError::WrongArity {
            expected: 2,
            found: 4,
            ..
        }
    ));
}

#[test]
fn prefixes() {
    let cases: &[(&[&str], &str)] = &[
        (&[], "/dm-master/shardddl-optimism/info/"),
        (&["test"], "/dm-master/shardddl-optimism/info/74657374/"),
        (&["t", "s"], "/dm-master/shardddl-optimism/info/74/73/"),
        (
            &["t", "s", "d"],
            "/dm-master/shardddl-optimism/info/74/73/64/",
        ),
        // Deliberately unlike DM: a full part list still ends in `/`.
        (
            &["t", "s", "d", "b"],
            "/dm-master/shardddl-optimism/info/74/73/64/62/",
        ),
    ];
    for (parts, want) in cases {
        assert_eq!(OPTIMISM_INFO.prefix(parts), *want, "{parts:?}");
    }
    assert_eq!(OPTIMISM_INFO.prefix(&[]), OPTIMISM_INFO.path());
    assert_eq!(OPTIMISM_DROPPED_COLUMNS.arity(), 5);
}

#[test]
fn prefix_of_one_source_does_not_cover_another() {
    let one = OPTIMISM_SOURCE_TABLES.prefix(&["task", "mysql-1"]);
    let ten = OPTIMISM_SOURCE_TABLES.key(["task", "mysql-10"]);
    let one_full = OPTIMISM_SOURCE_TABLES.key(["task", "mysql-1"]);
    // The hazard: the bare full key is a byte prefix of the other source's key.
    assert!(ten.starts_with(&one_full));
    // The `/`-terminated prefix is not.
    assert!(!ten.starts_with(&one));
    let info_1 = OPTIMISM_INFO.prefix(&["task", "mysql-1"]);
    assert!(!OPTIMISM_INFO
        .key(["task", "mysql-10", "d", "t"])
        .starts_with(&info_1));
    assert!(OPTIMISM_INFO
        .key(["task", "mysql-1", "d", "t"])
        .starts_with(&info_1));
}

#[test]
fn decode_errors() {
    let p = PESSIMISM_INFO;
    let cases: &[(&[u8], &str)] = &[
        (
            b"/dm-master/other/74/73",
            "fail to decode etcd key: the key /dm-master/other/74/73 is not under /dm-master/shardddl-pessimism/info/",
        ),
        (
            b"",
            "fail to decode etcd key: the key  is not under /dm-master/shardddl-pessimism/info/",
        ),
        (
            b"/dm-master/shardddl-pessimism/info/74/",
            "fail to decode etcd key: decoder is /dm-master/shardddl-pessimism/info/, the key is /dm-master/shardddl-pessimism/info/74/",
        ),
        (
            b"/dm-master/shardddl-pessimism/info/74/73/75",
            "fail to decode etcd key: decoder is /dm-master/shardddl-pessimism/info/, the key is /dm-master/shardddl-pessimism/info/74/73/75",
        ),
        (
            b"/dm-master/shardddl-pessimism/info/7g/73",
            "fail to decode etcd key: encoding/hex: invalid byte: U+0067 'g'",
        ),
        (
            b"/dm-master/shardddl-pessimism/info/747/73",
            "fail to decode etcd key: encoding/hex: odd length hex string",
        ),
        (
            // An invalid last byte of an odd length: Go reports the byte.
            b"/dm-master/shardddl-pessimism/info/74z/73",
            "fail to decode etcd key: encoding/hex: invalid byte: U+007A 'z'",
        ),
        (
            b"/dm-master/shardddl-pessimism/info/74/7\x01",
            "fail to decode etcd key: encoding/hex: invalid byte: U+0001",
        ),
        (
            b"/dm-master/shardddl-pessimism/info/ff/73",
            "fail to decode etcd key: part 0 of the key /dm-master/shardddl-pessimism/info/ff/73 is not valid UTF-8",
        ),
    ];
    for (key, want) in cases {
        let err = p.decode(key).expect_err(want);
        assert_eq!(err.to_string(), *want);
        assert_eq!(err.code(), 11110);
    }
    // Like DM: one trailing `/` is ignored; uppercase hex is accepted.
    assert_eq!(
        p.decode(b"/dm-master/shardddl-pessimism/info/74/73/")
            .unwrap(),
        ["t".to_owned(), "s".to_owned()]
    );
    assert_eq!(
        p.decode(b"/dm-master/shardddl-pessimism/info/4A/73")
            .unwrap(),
        ["J".to_owned(), "s".to_owned()]
    );
}

#[test]
fn key_space_holds_only_its_adapters_keys_in_its_namespace() {
    let ks = KeySpace::new("/t42");
    let op = ks.key(&PESSIMISM_OPERATION, ["t", "s"]);
    assert!(ks.holds(&PESSIMISM_OPERATION, op.as_bytes()));
    assert!(!ks.holds(&PESSIMISM_INFO, op.as_bytes()));
    // The same key without the namespace, or in another one, is not held.
    let bare = KeySpace::default().key(&PESSIMISM_OPERATION, ["t", "s"]);
    assert!(!ks.holds(&PESSIMISM_OPERATION, bare.as_bytes()));
    assert!(KeySpace::default().holds(&PESSIMISM_OPERATION, bare.as_bytes()));
    assert!(!KeySpace::new("/t4").holds(&PESSIMISM_OPERATION, op.as_bytes()));
    // Held is only the prefix: a held key may still fail to decode.
    let bad = format!("{}zz/73", ks.path(&PESSIMISM_OPERATION));
    assert!(ks.holds(&PESSIMISM_OPERATION, bad.as_bytes()));
    assert!(ks.decode(&PESSIMISM_OPERATION, bad.as_bytes()).is_err());
}

#[test]
fn key_space_namespaces_every_key() {
    let ks = KeySpace::new("/t42");
    assert_eq!(ks.namespace(), "/t42");
    assert_eq!(
        ks.key(&PESSIMISM_OPERATION, ["t", "s"]),
        "/t42/dm-master/shardddl-pessimism/operation/74/73"
    );
    assert_eq!(
        ks.prefix(&PESSIMISM_OPERATION, &["t"]),
        "/t42/dm-master/shardddl-pessimism/operation/74/"
    );
    assert_eq!(
        ks.path(&PESSIMISM_OPERATION),
        "/t42/dm-master/shardddl-pessimism/operation/"
    );
    assert_eq!(ks.leader_prefix(), "/t42/dm-master/leader/");
    assert_eq!(
        ks.leader_key(0x694d7a2b1c3e5f01),
        "/t42/dm-master/leader/694d7a2b1c3e5f01"
    );
    assert_eq!(ks.leader_key(-26), "/t42/dm-master/leader/-1a");
    assert_eq!(ks.cluster_id_key(), "/t42/dm-cluster/id");
    assert_eq!(
        ks.decode(
            &PESSIMISM_OPERATION,
            b"/t42/dm-master/shardddl-pessimism/operation/74/73"
        )
        .unwrap(),
        ["t".to_owned(), "s".to_owned()]
    );
    // A key of the default (empty) namespace is outside `/t42`.
    let err = ks
        .decode(
            &PESSIMISM_OPERATION,
            b"/dm-master/shardddl-pessimism/operation/74/73",
        )
        .unwrap_err();
    assert!(matches!(err, KeyError::WrongPrefix { .. }), "{err}");
    let err = ks
        .decode(
            &PESSIMISM_OPERATION,
            b"/t42/dm-master/shardddl-pessimism/operation/74/",
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "fail to decode etcd key: decoder is /t42/dm-master/shardddl-pessimism/operation/, the key is /t42/dm-master/shardddl-pessimism/operation/74/"
    );

    let dm = KeySpace::default();
    assert_eq!(
        dm.key(&PESSIMISM_INFO, ["t", "s"]),
        PESSIMISM_INFO.key(["t", "s"])
    );
    assert_eq!(dm.leader_key(1), "/dm-master/leader/1");
    assert_eq!(dm.cluster_id_key(), "/dm-cluster/id");
}

fn check_lock(id: &str, want: Option<(&str, &str, &str)>) {
    let got = parse_lock_id(id);
    let got = got
        .as_ref()
        .map(|p| (p.task.as_str(), p.schema.as_str(), p.table.as_str()));
    assert_eq!(got, want, "{id:?}");
}

#[test]
fn lock_ids() {
    assert_eq!(lock_id("test", "db", "tbl"), "test-`db`.`tbl`");
    // DM's utils test: backticks are doubled...
    assert_eq!(lock_id("test", "d`b", "tb`l"), "test-`d``b`.`tb``l`");
    assert_eq!(lock_id("", "", ""), "-``.``");
    assert_eq!(lock_id("任务", "库", "表"), "任务-`库`.`表`");

    check_lock("test-`db`.`tbl`", Some(("test", "db", "tbl")));
    // ...and stay doubled when parsed back, as in DM.
    check_lock("test-`d``b`.`tb``l`", Some(("test", "d``b", "tb``l")));
    check_lock("invalid-lock-id", None);
    check_lock("", None);
    check_lock("-``.``", Some(("", "", "")));
    check_lock("任务-`库`.`表`", Some(("任务", "库", "表")));
    // Greedy group 1: the last `-`` wins.
    check_lock("a-b-`x`.`y`", Some(("a-b", "x", "y")));
    check_lock("t-`a-`b`.`c`", Some(("t-`a", "b", "c")));
    // Greedy group 2 backtracks to the last `` `?` `` that still matches.
    check_lock("t-`a`.`b`.`c`", Some(("t", "a`.`b", "c")));
    // `.` is any one character, even a multi-byte one or a backtick.
    check_lock("t-`a`é`b`", Some(("t", "a", "b")));
    check_lock("t-`a```b`", Some(("t", "a", "b")));
    // Unanchored: trailing text after the last backtick is ignored.
    check_lock("t-`a`.`b`xyz", Some(("t", "a", "b")));
    // `.` never matches `\n`: the match stays on one line, the first that has one.
    check_lock("x\nt-`a`.`b`", Some(("t", "a", "b")));
    check_lock("t-`a`.`b`\nu-`c`.`d`", Some(("t", "a", "b")));
    check_lock("t-`a\n`.`b`", None);
    check_lock("t-`a`\n`b`", None);
}

#[test]
fn ha_keys_match_dm() {
    // Hex of "dm-worker-1" and "mysql-replica-01", part orders as DM's
    // `dm/common/common.go` adapters.
    let w = "646d2d776f726b65722d31";
    let s = "6d7973716c2d7265706c6963612d3031";
    let t = "74657374";
    check(
        WORKER_REGISTER,
        ["dm-worker-1"],
        &format!("/dm-worker/r/{w}"),
    );
    check(
        WORKER_KEEP_ALIVE,
        ["dm-worker-1"],
        &format!("/dm-worker/a/{w}"),
    );
    check(
        UPSTREAM_CONFIG,
        ["mysql-replica-01"],
        &format!("/dm-master/v2/upstream/config/{s}"),
    );
    check(
        BOUND_WORKER,
        ["dm-worker-1"],
        &format!("/dm-master/bound-worker/{w}"),
    );
    check(
        LAST_BOUND_WORKER,
        ["dm-worker-1"],
        &format!("/dm-master/last-bound-worker/{w}"),
    );
    check(
        RELAY_WORKER,
        ["dm-worker-1"],
        &format!("/dm-master/relay-worker/{w}"),
    );
    check(
        STAGE_RELAY,
        ["mysql-replica-01"],
        &format!("/dm-master/v2/stage/relay/{s}"),
    );
    check(
        STAGE_SUBTASK,
        ["mysql-replica-01", "test"],
        &format!("/dm-master/stage/subtask/{s}/{t}"),
    );
    check(
        STAGE_VALIDATOR,
        ["mysql-replica-01", "test"],
        &format!("/dm-master/stage/validator/{s}/{t}"),
    );
    check(
        LOAD_TASK,
        ["test", "mysql-replica-01"],
        &format!("/dm-master/load-task/{t}/{s}"),
    );
    check(
        LIGHTNING_COORD,
        ["test", "mysql-replica-01"],
        &format!("/dm-master/lightning-coord/{t}/{s}"),
    );
    check(
        TASK_CLI_ARGS,
        ["test", "mysql-replica-01"],
        &format!("/dm-master/task-cli-args/{t}/{s}"),
    );
    check(
        OPENAPI_TASK_TEMPLATE,
        ["test"],
        &format!("/dm-master/openapi-task-template/{t}"),
    );
    // T-remove-source of a source bound to nobody deletes these
    // (non-existent) keys, as DM does.
    assert_eq!(BOUND_WORKER.key([""]), "/dm-master/bound-worker");
    assert_eq!(LAST_BOUND_WORKER.key([""]), "/dm-master/last-bound-worker");
}

#[test]
fn mode_prefixes_cover_their_adapters() {
    let space = KeySpace::new("/ns");
    assert_eq!(
        space.pessimism_prefix(),
        "/ns/dm-master/shardddl-pessimism/"
    );
    assert_eq!(space.optimism_prefix(), "/ns/dm-master/shardddl-optimism/");
    for path in [PESSIMISM_INFO.path(), PESSIMISM_OPERATION.path()] {
        assert!(path.starts_with(PESSIMISM_PREFIX), "{path}");
    }
    for path in [
        OPTIMISM_SOURCE_TABLES.path(),
        OPTIMISM_INFO.path(),
        OPTIMISM_OPERATION.path(),
        OPTIMISM_DROPPED_COLUMNS.path(),
        OPTIMISM_INIT_SCHEMA.path(),
    ] {
        assert!(path.starts_with(OPTIMISM_PREFIX), "{path}");
    }
    let table = TableKey::new("s", "d", "b");
    assert_eq!(
        space.pessimism_info("t", "s"),
        space.key(&PESSIMISM_INFO, ["t", "s"])
    );
    assert_eq!(
        space.pessimism_operation("t", "s"),
        space.key(&PESSIMISM_OPERATION, ["t", "s"])
    );
    assert_eq!(
        space.optimism_source_tables("t", "s"),
        "/ns/dm-master/shardddl-optimism/source-tables/74/73"
    );
    assert_eq!(
        space.optimism_info("t", &table),
        "/ns/dm-master/shardddl-optimism/info/74/73/64/62"
    );
    assert_eq!(
        space.optimism_operation("t", &table),
        "/ns/dm-master/shardddl-optimism/operation/74/73/64/62"
    );
    assert_eq!(
        space.optimism_dropped_column("t-`d`.`b`", "c", &table),
        space.key(&OPTIMISM_DROPPED_COLUMNS, ["t-`d`.`b`", "c", "s", "d", "b"])
    );
    assert_eq!(table.owner_string(), "s-`d`.`b`");
}

#[test]
fn go_hex_reads_either_case_and_reports_in_gos_order() {
    assert_eq!(decode_go_hex(b""), Ok(vec![]));
    assert_eq!(decode_go_hex(b"4A6bff00"), Ok(vec![0x4a, 0x6b, 0xff, 0x00]));
    assert_eq!(
        decode_go_hex(b"4g6"),
        Err("encoding/hex: invalid byte: U+0067 'g'".to_owned())
    );
    assert_eq!(
        decode_go_hex(b"4a6"),
        Err("encoding/hex: odd length hex string".to_owned())
    );
}

#[test]
fn go_hex_decodes_every_byte_and_refuses_every_other_digit() {
    let all: Vec<u8> = (0..=255).collect();
    assert_eq!(decode_go_hex(hex::encode(&all).as_bytes()), Ok(all.clone()));
    assert_eq!(decode_go_hex(hex::encode_upper(&all).as_bytes()), Ok(all));
    for bad in (0..=255u8).filter(|b| !b.is_ascii_hexdigit()) {
        for text in [[b'a', bad], [bad, b'0']] {
            let error = decode_go_hex(&text).unwrap_err();
            assert!(
                error.starts_with("encoding/hex: invalid byte: U+"),
                "{text:?}: {error}"
            );
        }
    }
}
