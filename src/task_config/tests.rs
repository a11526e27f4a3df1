//! The task and subtask configs against DM's: golden subtask TOML, decoding
//! what is stored, defaults, adjustments and passwords; [`validation`] the
//! task YAML errors.

use std::collections::BTreeMap;

use expect_test::expect;

use super::*;
use crate::task::ShardMode;

mod validation;

const SPEC_TASK: &str = include_str!("testdata/spec_task.yaml");
const SPEC_SUBTASK: &str = include_str!("testdata/spec_subtask.toml");
const SHARDING_TASK: &str = include_str!("testdata/sharding_task.yaml");
const SHARDING_SUBTASK_01: &str = include_str!("testdata/sharding_subtask_01.toml");

fn source_from(password: &str) -> DbConfig {
    DbConfig {
        host: "127.0.0.1".into(),
        port: 3306,
        user: "root".into(),
        password: password.into(),
        ..DbConfig::default()
    }
}

fn sources(ids: &[&str]) -> BTreeMap<String, DbConfig> {
    ids.iter()
        .map(|id| (id.to_string(), source_from("123456")))
        .collect()
}

/// The subtasks StartTask would store for `yaml` against a TiDB downstream.
fn subtasks_for_tidb(yaml: &str, ids: &[&str]) -> Vec<SubTaskConfig> {
    let mut task = TaskConfig::from_yaml(yaml).expect("valid task");
    if let Some(to) = task.target_database.as_mut() {
        adjust_session_for_tidb(to);
    }
    task.subtask_configs(&sources(ids)).expect("subtasks")
}

#[test]
fn golden_subtask_toml_of_the_spec_example() {
    let mut subtasks = subtasks_for_tidb(SPEC_TASK, &["mysql-replica-01"]);
    assert_eq!(subtasks.len(), 1);
    let subtask = &mut subtasks[0];
    subtask.set_io_counters(IoCounters {
        uuid: "0f5b3a2e-6c1d-4b8e-9a77-2d3c4e5f6a7b".into(),
        dump_uuid: "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d".into(),
    });
    assert_eq!(subtask.to_toml(), SPEC_SUBTASK);
}

#[test]
fn golden_subtask_toml_of_dm_sharding_test_task() {
    let subtasks = subtasks_for_tidb(SHARDING_TASK, &["mysql-replica-01", "mysql-replica-02"]);
    assert_eq!(subtasks.len(), 2);
    assert_eq!(subtasks[0].to_toml(), SHARDING_SUBTASK_01);
    assert_eq!(subtasks[1].source_id, "mysql-replica-02");
    assert_eq!(
        subtasks[1].to_toml(),
        SHARDING_SUBTASK_01.replace("mysql-replica-01", "mysql-replica-02")
    );
}

#[test]
fn stored_toml_decodes_back_to_the_same_config_and_bytes() {
    for (yaml, ids) in [
        (SPEC_TASK, &["mysql-replica-01"][..]),
        (SHARDING_TASK, &["mysql-replica-01", "mysql-replica-02"][..]),
    ] {
        for mut subtask in subtasks_for_tidb(yaml, ids) {
            subtask.set_io_counters(IoCounters {
                uuid: "u".into(),
                dump_uuid: "d".into(),
            });
            let text = subtask.to_toml();
            let decoded = SubTaskConfig::from_toml(&text).expect("decodes");
            assert_eq!(decoded.to_toml(), text);
            assert_eq!(decoded.name, subtask.name);
            assert_eq!(decoded.route_rules, subtask.route_rules);
            assert_eq!(decoded.block_allow_list, subtask.block_allow_list);
            assert_eq!(decoded.to, subtask.to);
            assert!(decoded.io_total_bytes.is_some());
        }
    }
}

#[test]
fn decodes_the_old_four_field_subtask_toml() {
    let text = "is-sharding = true\nshard-mode = \"\"\nname = \"t\"\nsource-id = \"s\"\n\n[[route-rules]]\n  schema-pattern = \"a*\"\n  table-pattern = \"b*\"\n  target-schema = \"a\"\n  target-table = \"b\"\n";
    let cfg = SubTaskConfig::from_toml(text).expect("decodes");
    let input = cfg.registry_input();
    assert_eq!(input.task, "t");
    assert_eq!(input.source, "s");
    assert_eq!(input.mode, ShardMode::Pessimistic);
    assert_eq!(input.routes.len(), 1);
    assert_eq!(input.routes[0].target_table, "b");
    // Go's zero values, not DM's YAML defaults, for keys left out.
    assert_eq!(cfg.syncer.worker_count, 0);
    assert!(!cfg.online_ddl);
    // DM's subtask Adjust still fills its defaults.
    assert_eq!(cfg.syncer.safe_mode_duration, "60s");
    assert_eq!(cfg.validator.mode, "none");
}

#[test]
fn subtask_toml_errors_carry_dm_codes() {
    let cases: &[(&str, i32, &str)] = &[
        ("name = \"t\"\n", 20005, "empty source-id not valid"),
        (
            "source-id = \"s\"\n",
            20004,
            "task name should not be empty",
        ),
        (
            "name = \"t\"\nsource-id = \"s\"\n[to]\nport = \"4000\"\n",
            20002,
            "decode subtask config from data",
        ),
        (
            "name = \"t\"\nsource-id = \"s\"\nshard-mode = \"x\"\n",
            20033,
            "shard mode x not supported",
        ),
        (
            "name = \"t\"\nsource-id = \"s\"\nstrict-optimistic-shard-mode = true\n",
            20066,
            "cannot enable `strict-optimistic-shard-mode` while `shard-mode` is not `optimistic`",
        ),
        (
            "name = \"t\"\nsource-id = \"012345678901234567890123456789012\"\n",
            20006,
            "too long source-id not valid",
        ),
        (
            "name = \"t\"\nsource-id = \"s\"\nchunk-filesize = \"x\"\n",
            20047,
            "invalid `chunk-filesize` x",
        ),
    ];
    for (text, code, message) in cases {
        let err = SubTaskConfig::from_toml(text).expect_err(text);
        assert_eq!(
            (err.code(), err.to_string().as_str()),
            (*code, *message),
            "{text}"
        );
    }
}

#[test]
fn strict_optimistic_mode_is_carried_through() {
    let yaml = SPEC_TASK.replace(
        "shard-mode: pessimistic",
        "shard-mode: optimistic\nstrict-optimistic-shard-mode: true",
    );
    let subtasks = subtasks_for_tidb(&yaml, &["mysql-replica-01"]);
    let text = subtasks[0].to_toml();
    assert!(text.contains("shard-mode = \"optimistic\"\nstrict-optimistic-shard-mode = true\n"));
    let decoded = SubTaskConfig::from_toml(&text).unwrap();
    assert!(decoded.strict_optimistic_shard_mode);
    assert_eq!(decoded.registry_input().mode, ShardMode::Optimistic);
}

#[test]
fn unknown_source_is_dm_error_20031() {
    let task = TaskConfig::from_yaml(SPEC_TASK).unwrap();
    let err = task.subtask_configs(&sources(&["other"])).unwrap_err();
    assert_eq!(err.code(), 20031);
    assert_eq!(
        err.dm_string("dm-master"),
        "[code=20031:class=dm-master:scope=internal:level=medium], Message: source mysql-replica-01 in deployment configuration not found, Workaround: Please use `operate-source create source-config-file-path` to add source."
    );
}

#[test]
fn case_insensitive_tasks_store_lower_cased_patterns() {
    let yaml = SPEC_TASK
        .replace("shard_db_*\"]", "Shard_DB_*\"]")
        .replace(
            "schema-pattern: \"shard_db_*\"",
            "schema-pattern: \"SHARD_db_*\"",
        )
        .replace("target-schema: shard_db", "target-schema: Shard_Db");
    let subtask = &subtasks_for_tidb(&yaml, &["mysql-replica-01"])[0];
    let routes = subtask.route_rules.as_ref().unwrap();
    assert_eq!(routes[0].schema_pattern, "shard_db_*");
    assert_eq!(routes[0].target_schema, "Shard_Db");
    let ba = subtask.block_allow_list.as_ref().unwrap();
    assert_eq!(ba.do_dbs.as_deref(), Some(&["shard_db_*".to_string()][..]));
}

#[test]
fn task_defaults_follow_dm() {
    let task = TaskConfig::from_yaml(SHARDING_TASK).unwrap();
    assert_eq!(task.shard_mode, "pessimistic");
    assert!(task.is_sharding);
    assert!(task.online_ddl);
    assert!(task.clean_dump_file);
    assert_eq!(task.collation_compatible, "loose");
    let inst = &task.mysql_instances[0];
    // `chunk-filesize: 64` is an integer in the YAML, coerced like yaml.v2.
    assert_eq!(inst.mydumper.as_ref().unwrap().chunk_filesize, "64");
    assert_eq!(
        inst.mydumper.as_ref().unwrap().mydumper_path,
        "./bin/mydumper"
    );
    assert_eq!(inst.syncer.as_ref().unwrap().queue_size, 1024);
    assert_eq!(inst.validator.mode, "none");
}

/// A valid base task; each case edits it into one DM error.
const BASE: &str = r#"name: test
task-mode: all
target-database:
  host: 127.0.0.1
  port: 4000
  user: root
  password: ""
mysql-instances:
  - source-id: s1
    route-rules: [r1]
    filter-rules: [f1]
    block-allow-list: bal
routes:
  r1: {schema-pattern: "a*", target-schema: a}
filters:
  f1: {schema-pattern: "a*", events: ["drop database"], action: Ignore}
block-allow-list:
  bal: {do-dbs: ["a*"]}
"#;

#[test]
fn go_durations_print_like_go() {
    for (nanos, text) in [
        (0i64, "0s"),
        (1, "1ns"),
        (1_500, "1.5µs"),
        (1_500_000, "1.5ms"),
        (10_000_000_000, "10s"),
        (1_500_000_000, "1.5s"),
        (300_000_000_000, "5m0s"),
        (1_800_000_000_000, "30m0s"),
        (3_600_000_000_000, "1h0m0s"),
        (-90_000_000_000, "-1m30s"),
    ] {
        assert_eq!(GoDuration(nanos).to_string(), text);
        assert_eq!(GoDuration::parse(text), Ok(GoDuration(nanos)), "{text}");
    }
    assert_eq!(
        GoDuration::parse("1h30m"),
        Ok(GoDuration(5_400_000_000_000))
    );
    assert_eq!(
        GoDuration::parse("5"),
        Err("time: missing unit in duration \"5\"".into())
    );
    assert_eq!(
        GoDuration::parse("5d"),
        Err("time: unknown unit \"d\" in duration \"5d\"".into())
    );
}

#[test]
fn subtask_adjust_is_idempotent() {
    for mut subtask in subtasks_for_tidb(SHARDING_TASK, &["mysql-replica-01", "mysql-replica-02"]) {
        let before = subtask.clone();
        subtask.adjust().unwrap();
        assert_eq!(subtask, before);
    }
}

#[test]
fn timezone_goes_into_both_sessions() {
    let yaml = format!("{BASE}timezone: \"+08:00\"\n");
    let task = TaskConfig::from_yaml(&yaml).unwrap();
    let subtask = &task.subtask_configs(&sources(&["s1"])).unwrap()[0];
    let text = subtask.to_toml();
    assert!(text.contains("\n[from]\n  host = \"127.0.0.1\"\n  port = 3306\n  user = \"root\"\n  password = \"123456\"\n  [from.session]\n    time_zone = \"+08:00\"\n"), "{text}");
    assert!(
        text.contains("  [to.session]\n    time_zone = \"+08:00\"\n"),
        "{text}"
    );
}

#[test]
fn source_config_from_becomes_the_subtask_from() {
    let source = crate::source_config::SourceConfig::from_yaml(
        "source-id: s1\nfrom:\n  host: 10.0.0.1\n  port: 3307\n  user: dm\n  password: pw\n  session: {sql_mode: ''}\n",
    )
    .expect("source yaml");
    let mut from = BTreeMap::new();
    from.insert("s1".to_string(), source.from.clone());
    let task = TaskConfig::from_yaml(BASE).unwrap();
    let subtask = &task.subtask_configs(&from).unwrap()[0];
    assert!(subtask.to_toml().contains(
        "\n[from]\n  host = \"10.0.0.1\"\n  port = 3307\n  user = \"dm\"\n  password = \"pw\"\n  [from.session]\n    sql_mode = \"\"\n\n[to]\n"
    ));
}

/// The tables after the plain keys, for a task using every rule kind.
#[test]
fn rule_tables_are_written_in_dm_order() {
    let yaml = r#"name: rules
task-mode: incremental
shard-mode: optimistic
case-sensitive: true
ignore-checking-items: [version]
target-database:
  host: 127.0.0.1
  port: 3306
  user: root
  password: "p\"w"
  max-allowed-packet: 67108864
  security:
    ssl-ca: /ca.pem
    ssl-ca-bytes: [45, 45]
mysql-instances:
  - source-id: s1
    meta: {binlog-name: mysql-bin.000001, binlog-pos: 4}
    route-rules: [r1]
    filter-rules: [f1]
    expression-filters: [e1]
    block-allow-list: bal
routes:
  r1:
    schema-pattern: "Db*"
    table-pattern: "t*"
    target-schema: db
    target-table: t
    extract-table: {table-regexp: "t_(.*)", target-column: c_table}
    extract-source: {source-regexp: "(.*)", target-column: c_source}
filters:
  f1: {schema-pattern: "Db*", events: ["truncate table", "drop table"], sql-pattern: ["^DROP\\s+"], action: Ignore}
expression-filter:
  e1: {schema: db, table: t, insert-value-expr: "c % 2 = 0"}
block-allow-list:
  bal:
    ignore-dbs: [mysql]
    do-tables: [{db-name: Db1, tbl-name: t1}]
"#;
    let task = TaskConfig::from_yaml(yaml).unwrap();
    let subtask = &task.subtask_configs(&sources(&["s1"])).unwrap()[0];
    let text = subtask.to_toml();
    assert!(text.contains("\nignore-checking-items = [\"version\"]\nsource-id = \"s1\"\n"));
    assert!(text.contains("\ndump-uuid = \"\"\n\n[meta]\n  binlog-name = \"mysql-bin.000001\"\n  binlog-pos = 4\n  binlog-gtid = \"\"\n\n[from]\n"));
    // From the line `[to]` up to the line `[ValidatorCfg]`.
    let tail = &text[text.find("\n[to]").unwrap() + 1..text.find("\n[ValidatorCfg]").unwrap()];
    expect![[r#"
        [to]
          host = "127.0.0.1"
          port = 3306
          user = "root"
          password = "p\"w"
          max-allowed-packet = 67108864
          [to.security]
            ssl-ca = "/ca.pem"
            ssl-cert = ""
            ssl-key = ""
            ssl-ca-bytes = [45, 45]
            ssl-ca-base64 = ""
            ssl-key-base64 = ""
            ssl-cert-base64 = ""

        [[route-rules]]
          schema-pattern = "Db*"
          table-pattern = "t*"
          target-schema = "db"
          target-table = "t"
          [route-rules.extract-table]
            target-column = "c_table"
            table-regexp = "t_(.*)"
          [route-rules.extract-source]
            target-column = "c_source"
            source-regexp = "(.*)"

        [[filter-rules]]
          schema-pattern = "Db*"
          table-pattern = ""
          events = ["truncate table", "drop table"]
          sql-pattern = ["^DROP\\s+"]
          action = "Ignore"

        [[expression-filter]]
          schema = "db"
          table = "t"
          insert-value-expr = "c % 2 = 0"
          update-old-value-expr = ""
          update-new-value-expr = ""
          delete-value-expr = ""

        [block-allow-list]
          ignore-dbs = ["mysql"]

          [[block-allow-list.do-tables]]
            db-name = "Db1"
            tbl-name = "t1"
    "#]]
    .assert_eq(tail);
    // Incremental tasks neither suffix `dir` nor compute a sorting dir.
    assert!(text.contains("\ndir = \"./dumped_data\"\nsorting-dir-physical = \"\"\n"));
    let decoded = SubTaskConfig::from_toml(&text).unwrap();
    assert_eq!(decoded.to_toml(), text);
    assert_eq!(&decoded, subtask);
}

#[test]
fn dm_ciphertext_passwords_decrypt_with_the_secret_key() {
    // NIST SP 800-38A F.3.17 (CFB128-AES256), first block.
    let key =
        SecretKey::from_hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4\n")
            .unwrap();
    let iv: [u8; 16] = core::array::from_fn(|i| i as u8);
    let plaintext: Vec<u8> = (0..16)
        .map(|i| {
            u8::from_str_radix(&"6bc1bee22e409f96e93d7e117393172a"[2 * i..2 * i + 2], 16).unwrap()
        })
        .collect();
    let expected_ct = "dc7e84bfda79164b7ecd8486985d3860";
    let mut raw = iv.to_vec();
    raw.push(b'@');
    raw.extend((0..16).map(|i| u8::from_str_radix(&expected_ct[2 * i..2 * i + 2], 16).unwrap()));
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &raw);
    assert_eq!(
        key.decrypt(&b64).map(String::into_bytes),
        Some(
            String::from_utf8_lossy(&plaintext)
                .into_owned()
                .into_bytes()
        )
    );

    let cipher = key.encrypt([7; 16], "123456");
    assert_eq!(key.decrypt(&cipher).as_deref(), Some("123456"));
    assert_eq!(decrypt_or_plaintext(Some(&key), &cipher), "123456");
    assert_eq!(decrypt_or_plaintext(None, &cipher), cipher);
    assert_eq!(decrypt_or_plaintext(Some(&key), "plain"), "plain");

    let task =
        TaskConfig::from_yaml(&BASE.replace("password: \"\"", &format!("password: \"{cipher}\"")))
            .unwrap();
    let mut subtask = task.subtask_configs(&sources(&["s1"])).unwrap().remove(0);
    subtask.decrypt_passwords(Some(&key));
    assert_eq!(subtask.to.password, "123456");
    assert_eq!(subtask.from.password, "123456");
    assert!(SecretKey::from_hex("abc").is_err());
}

#[test]
fn dmctl_refuses_conflicting_sharding_lines() {
    let check = |text: &str| {
        TaskConfig::raw_decode(text)
            .unwrap()
            .dmctl_sharding_conflict(text)
            .is_some()
    };
    assert!(check("is-sharding: false\nshard-mode: optimistic\n"));
    assert!(check("is-sharding: true\nshard-mode: \"\"\n"));
    assert!(!check("is-sharding: true\n"));
    assert!(!check("shard-mode: optimistic\n"));
    assert!(!check("is-sharding: true\nshard-mode: pessimistic\n"));
}
