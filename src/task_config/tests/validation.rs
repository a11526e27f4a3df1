//! Task YAML validation against DM's errors: each case edits [`BASE`]
//! into one DM error, with its code and text.

use super::*;

fn check(yaml: &str, code: i32, message: &str) {
    let err = TaskConfig::from_yaml(yaml).expect_err(yaml);
    assert_eq!(
        (err.code(), err.to_string().as_str()),
        (code, message),
        "task:\n{yaml}"
    );
}

#[test]
fn base_task_is_valid() {
    let task = TaskConfig::from_yaml(BASE).unwrap();
    let subtasks = task.subtask_configs(&sources(&["s1"])).unwrap();
    assert_eq!(subtasks[0].shard_mode(), ShardMode::None);
    assert_eq!(
        subtasks[0].filter_rules.as_ref().unwrap()[0].action,
        "Ignore"
    );
}

#[test]
fn task_validation_errors_match_dm() {
    let cases: Vec<(String, i32, &str)> = vec![
        (BASE.replace("name: test\n", ""), 20019, "must specify a unique task name"),
        (
            BASE.replace("task-mode: all", "task-mode: fast"),
            20020,
            "please specify right task-mode, support `full`, `incremental`, `all`, `dump`, `load`",
        ),
        (
            BASE.replace("task-mode: all", "task-mode: all\nshard-mode: eager"),
            20033,
            "shard mode eager not supported",
        ),
        (
            BASE.replace("task-mode: all", "task-mode: all\nstrict-optimistic-shard-mode: true"),
            20066,
            "cannot enable `strict-optimistic-shard-mode` while `shard-mode` is not `optimistic`",
        ),
        (
            BASE.replace(
                "task-mode: all",
                "task-mode: all\nshard-mode: pessimistic\nstrict-optimistic-shard-mode: true",
            ),
            20066,
            "cannot enable `strict-optimistic-shard-mode` while `shard-mode` is not `optimistic`",
        ),
        (
            BASE.replace("task-mode: all", "task-mode: all\ncolumn-mappings: {c: {}}"),
            20064,
            "column-mapping is not supported since v6.6.0",
        ),
        (
            BASE.replace("task-mode: all", "task-mode: all\ncollation_compatible: exact"),
            20052,
            "collation compatible exact not supported",
        ),
        (
            BASE.replace("task-mode: all", "task-mode: all\nonline-ddl-scheme: osc"),
            20007,
            "online scheme osc not supported",
        ),
        (
            BASE.replace("target-database:\n  host: 127.0.0.1\n  port: 4000\n  user: root\n  password: \"\"\n", ""),
            20021,
            "must specify target-database",
        ),
        (
            format!("{}mysql-instances: []\n", BASE.split("mysql-instances:").next().unwrap()),
            20013,
            "must specify at least one mysql-instances",
        ),
        (
            BASE.replace("  - source-id: s1\n", "  - source-id: \"\"\n"),
            20005,
            "mysql-instance: 0th: empty source-id not valid",
        ),
        (
            BASE.replace("    block-allow-list: bal\n", "    block-allow-list: bal\n  - source-id: s1\n"),
            20014,
            "mysql-instance (0) and (1) have same source-id (s1)",
        ),
        (
            BASE.replace("route-rules: [r1]", "route-rules: [r1, r2]"),
            20023,
            "mysql-instance(0)'s route-rules r2 not exist in routes",
        ),
        (
            BASE.replace("filter-rules: [f1]", "filter-rules: [f2]"),
            20024,
            "mysql-instance(0)'s filter-rules f2 not exist in filters",
        ),
        (
            BASE.replace("block-allow-list: bal\nroutes", "block-allow-list: nope\nroutes"),
            20026,
            "mysql-instance(0)'s list nope not exist in block allow list",
        ),
        (
            BASE.replace("    block-allow-list: bal\n", "    block-allow-list: nope\n"),
            20026,
            "mysql-instance(0)'s list nope not exist in block allow list",
        ),
        (
            BASE.replace("route-rules: [r1]", "route-rules: [r1]\n    mydumper-config-name: d"),
            20027,
            "mysql-instance(0)'s mydumper config d not exist in mydumpers",
        ),
        (
            BASE.replace("route-rules: [r1]", "route-rules: [r1]\n    loader-config-name: l"),
            20029,
            "mysql-instance(0)'s loader config l not exist in loaders",
        ),
        (
            BASE.replace("route-rules: [r1]", "route-rules: [r1]\n    syncer-config-name: y"),
            20030,
            "mysql-instance(0)'s syncer config y not exist in syncer",
        ),
        (
            BASE.replace("route-rules: [r1]", "route-rules: [r1]\n    validator-config-name: v"),
            20056,
            "mysql-instance(0)'s continuous validator config v not exist",
        ),
        (
            BASE.replace("route-rules: [r1]", "route-rules: [r1]\n    expression-filters: [e]"),
            20040,
            "mysql-instance(0)'s expression-filters e not exist in expression-filter",
        ),
        (
            BASE.replace(
                "route-rules: [r1]",
                "route-rules: [r1]\n    mydumper-config-name: d\n    mydumper: {threads: 2}",
            ),
            20015,
            "mysql-instance: 0th: mydumper-config-name and mydumper should only specify one",
        ),
        (
            BASE.replace(
                "route-rules: [r1]",
                "route-rules: [r1]\n    loader-config-name: d\n    loader: {pool-size: 2}",
            ),
            20016,
            "mysql-instance: 0th: loader-config-name and loader should only specify one",
        ),
        (
            BASE.replace(
                "route-rules: [r1]",
                "route-rules: [r1]\n    syncer-config-name: d\n    syncer: {batch: 2}",
            ),
            20017,
            "mysql-instance: 0th: syncer-config-name and syncer should only specify one",
        ),
        (
            BASE.replace("route-rules: [r1]", "route-rules: [r1, r1]")
                .replace("filter-rules: [f1]", "filter-rules: [f1, f1, f1]"),
            20032,
            "the following mysql configs have duplicate items, please remove the duplicates:\nmysql-instance(0)'s route-rules: r1\nmysql-instance(0)'s filter-rules: f1",
        ),
        (
            format!(
                "{}syncers:\n  zz: {{batch: 1}}\n",
                BASE.replace("filters:", "  r2: {schema-pattern: b, target-schema: b}\nfilters:")
            ),
            20038,
            "The configurations as following [r2 zz] are set in global configuration but instances don't use them",
        ),
        (
            BASE.replace(
                "route-rules: [r1]",
                "route-rules: [r1]\n    meta: {binlog-pos: 4}",
            ),
            20011,
            "mysql-instance: 0th: source s1: must specify `binlog-name` without GTID enabled for the source or specify `binlog-gtid` with GTID enabled for the source",
        ),
        (
            format!("{BASE}ignore-checking-items: [nope]\n"),
            20001,
            "",
        ),
        (
            format!("{BASE}timezone: SYSTEM\n"),
            20008,
            "'SYSTEM' or 'Local' time_zone is not supported",
        ),
        (
            format!("{BASE}timezone: \"+14:01\"\n"),
            20008,
            "invalid timezone string: +14:01",
        ),
        (
            format!("{BASE}expression-filter:\n  e: {{schema: a, table: \"\"}}\n"),
            20042,
            "expression-filter e has empty table",
        ),
        (
            format!("{BASE}expression-filter:\n  e: {{schema: a, table: b, insert-value-expr: \"c > 1\", delete-value-expr: \"c < 1\"}}\n"),
            20039,
            "expression filter can only specify one of (insert, update, delete) expressions, but e has specified [insert: [c > 1] delete: [c < 1]]",
        ),
        (
            format!("{BASE}validators:\n  v: {{mode: sometimes}}\n"),
            20055,
            "invalid validation mode",
        ),
        (
            format!("{BASE}loaders:\n  l: {{import-mode: bulk}}\n"),
            20053,
            "invalid load mode 'bulk'",
        ),
        (
            format!("{BASE}loaders:\n  l: {{on-duplicate-logical: merge}}\n"),
            20054,
            "invalid load on-duplicate-logical or on-duplicate option 'merge'",
        ),
        (
            BASE.replace("route-rules: [r1]", "route-rules: [r1]\n    syncer: {safe-mode-duration: soon}"),
            20060,
            "safe-mode-duration 'soon' parsed failed: time: invalid duration \"soon\"",
        ),
        (
            BASE.replace(
                "route-rules: [r1]",
                "route-rules: [r1]\n    syncer: {safe-mode: true, safe-mode-duration: 0s}",
            ),
            20061,
            "safe-mode(true) conflicts with safe-mode-duration(0s)",
        ),
        (
            BASE.replace("route-rules: [r1]", "route-rules: [r1]\n    mydumper: {mydumper-path: \"\"}"),
            20028,
            "mysql-instance(0)'s mydumper-path must specify a valid path to mydumper binary when task-mode is all or full",
        ),
        (
            format!("{BASE}foo: 1\n"),
            20003,
            "decode task config failed",
        ),
    ];
    for (yaml, code, message) in &cases {
        if message.is_empty() {
            let err = TaskConfig::from_yaml(yaml).expect_err(yaml);
            assert_eq!(err.code(), *code, "{yaml}");
        } else {
            check(yaml, *code, message);
        }
    }
}

#[test]
fn unknown_keys_are_refused_with_yaml_v2_text() {
    let err = TaskConfig::from_yaml(&format!("{BASE}foo: 1\n")).unwrap_err();
    assert_eq!(
        err.raw_cause(),
        Some("yaml: unmarshal errors:\n  line 19: field foo not found in type config.TaskConfig")
    );
    let err = TaskConfig::from_yaml(
        &BASE.replace("  - source-id: s1\n", "  - source-id: s1\n    sauce: x\n"),
    )
    .unwrap_err();
    assert_eq!(err.code(), 20003);
    assert!(
        err.raw_cause()
            .unwrap()
            .ends_with("field sauce not found in type config.MySQLInstance"),
        "{err:?}"
    );
    let err = TaskConfig::from_yaml(&format!("{BASE}syncers:\n  s: {{batchs: 1}}\n")).unwrap_err();
    assert_eq!(err.code(), 20003);
    assert!(err
        .raw_cause()
        .unwrap()
        .contains("field batchs not found in type config.rawSyncerConfig"));
}

#[test]
fn dm_string_has_code_class_level_and_workaround() {
    let err =
        TaskConfig::from_yaml(&BASE.replace("task-mode: all", "task-mode: all\nshard-mode: eager"))
            .unwrap_err();
    assert_eq!(
        err.dm_string("dm-master"),
        "[code=20033:class=dm-master:scope=internal:level=medium], Message: shard mode eager not supported, Workaround: Please check the `shard-mode` config in task configuration file, which can be set to `pessimistic`/`optimistic`."
    );
    let err = TaskConfig::from_yaml(&format!("{BASE}foo: 1\n")).unwrap_err();
    assert_eq!(
        err.dm_string("config"),
        "[code=20003:class=config:scope=internal:level=medium], Message: decode task config failed, RawCause: yaml: unmarshal errors:\n  line 19: field foo not found in type config.TaskConfig, Workaround: Please check the configuration file has correct YAML format."
    );
}
