//! Scenario parsing and routing, without etcd or a downstream.

use super::*;

const HEAD: &str = r#"
task = "t"
source = "s"
mode = "pessimistic"
[[route]]
schema = "db_*"
table = "tb_*"
target-schema = "db"
target-table = "tb"
"#;

#[test]
fn parses_steps_and_routes() {
    let text = format!(
        "{HEAD}[[step]]\nschema = \"db_1\"\nsql = \"CREATE TABLE tb_1 (id INT)\"\n[[step]]\npause-ms = 5\n"
    );
    let s = Scenario::parse(&text).unwrap();
    assert_eq!(s.mode, Mode::Pessimistic);
    assert_eq!(s.steps.len(), 2);
    assert_eq!(s.steps[1].pause_ms, Some(5));
    let cfg = s.subtask();
    assert_eq!(cfg.shard_mode, "pessimistic");
    assert_eq!(cfg.route_rules[0].schema_pattern, "db_*");
}

#[test]
fn routes_with_suffix_wildcards() {
    let s = Scenario::parse(HEAD).unwrap();
    let r = s.router();
    let cases = [
        (("db_1", "tb_2"), Some(("db", "tb"))),
        (("db_1", ""), Some(("db", ""))),
        (("db_1", "other"), None),
        (("dbx", "tb_1"), None),
    ];
    for ((schema, table), want) in cases {
        let got = r.target(&TableName::new(schema, table));
        assert_eq!(
            got,
            want.map(|(s, t)| TableName::new(s, t)),
            "{schema}.{table}"
        );
    }
    assert!(matches("exact", "exact") && !matches("exact", "exact2"));
}

#[test]
fn rejects_bad_scenarios_clearly() {
    let cases = [
        ("task = ", "bad TOML"),
        ("task = \"t\"\nsource = \"s\"\nmode = \"sometimes\"\n", "bad TOML"),
        ("task = \"t\"\nsource = \"s\"\nmode = \"optimistic\"\nextra = 1\n", "extra"),
        (
            "task = \"t\"\nsource = \"s\"\nmode = \"optimistic\"\n[[step]]\nsql = \"DROP TABLE x\"\n",
            "step 1",
        ),
        (
            "task = \"t\"\nsource = \"s\"\nmode = \"optimistic\"\n[[step]]\nschema = \"d\"\nsql = \"DROP TABLE x\"\npause-ms = 1\n",
            "step 1",
        ),
        ("task = \"\"\nsource = \"s\"\nmode = \"optimistic\"\n", "must not be empty"),
    ];
    for (text, want) in cases {
        let err = Scenario::parse(text).expect_err(text).to_string();
        assert!(err.contains(want), "{text}: {err}");
    }
}

#[test]
fn dry_run_names_the_failing_step_and_statement() {
    let text = format!(
        "{HEAD}[[step]]\nschema = \"db_1\"\nsql = \"CREATE TABLE tb_1 (id INT)\"\n[[step]]\nschema = \"db_1\"\nsql = \"ALTER TABLE tb_9 ADD COLUMN c INT\"\n"
    );
    let err = dry_run(&Scenario::parse(&text).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("step 2") && err.contains("tb_9"), "{err}");
}

/// DM's own sharding test subtask (pessimistic, routes
/// `sharding*`.`t*` → `db_target`.`t_target` and a schema rule).
fn dm_subtask() -> dm_master::task_config::SubTaskConfig {
    dm_master::task_config::SubTaskConfig::from_toml(include_str!(
        "../../../src/task_config/testdata/sharding_subtask_01.toml"
    ))
    .expect("DM's sharding subtask decodes")
}

#[test]
fn a_subtask_scenario_takes_mode_routes_and_its_source_steps_from_the_subtask() {
    let file = TaskScenario::parse(
        "task = \"test\"\n\
         [[step]]\nschema = \"sharding1\"\nsql = \"CREATE DATABASE sharding1\"\n\
         [[step]]\nsource = \"mysql-replica-01\"\nschema = \"sharding1\"\nsql = \"CREATE TABLE t1 (id INT)\"\n\
         [[step]]\nsource = \"mysql-replica-02\"\nschema = \"sharding2\"\nsql = \"CREATE TABLE t2 (id INT)\"\n\
         [[step]]\nsource = \"mysql-replica-01\"\npause-ms = 10\n",
    )
    .unwrap();
    let config = dm_subtask();
    let s = Scenario::for_subtask(&file, &config).unwrap();
    assert_eq!(
        (s.task.as_str(), s.source.as_str()),
        ("test", "mysql-replica-01")
    );
    assert_eq!(s.mode, Mode::Pessimistic);
    assert!(!s.registers_subtask && !s.strict_optimistic);
    let sqls: Vec<Option<&str>> = s.steps.iter().map(|st| st.sql.as_deref()).collect();
    assert_eq!(
        sqls,
        [
            Some("CREATE DATABASE sharding1"),
            Some("CREATE TABLE t1 (id INT)"),
            None
        ],
        "shared steps and this source's steps, in file order"
    );
    let routes = s.router();
    assert_eq!(
        routes.target(&TableName::new("sharding1", "t1")),
        Some(TableName::new("db_target", "t_target"))
    );

    let mut strict = config.clone();
    strict.shard_mode = "optimistic".into();
    strict.strict_optimistic_shard_mode = true;
    let s = Scenario::for_subtask(&file, &strict).unwrap();
    assert_eq!(s.mode, Mode::Optimistic);
    assert!(s.strict_optimistic);

    let mut unsharded = config.clone();
    unsharded.shard_mode.clear();
    unsharded.is_sharding = false;
    assert_eq!(
        Scenario::for_subtask(&file, &unsharded).unwrap().mode,
        Mode::Unsharded
    );

    let other = TaskScenario::parse("task = \"other\"\n").unwrap();
    let err = Scenario::for_subtask(&other, &config)
        .unwrap_err()
        .to_string();
    assert!(err.contains("for task other, not for test"), "{err}");
    let err = TaskScenario::parse("tsak = \"x\"\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field"), "{err}");
}

#[test]
fn dm_patterns_match_with_star_and_question_mark() {
    let cases = [
        ("sharding*", "sharding12", true),
        ("sharding*", "shard", false),
        ("t?", "t1", true),
        ("t?", "t12", false),
        ("*_log", "app_log", true),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "axxbyy", false),
        ("", "anything", true),
    ];
    for (pattern, name, want) in cases {
        assert_eq!(matches(pattern, name), want, "{pattern} vs {name}");
    }
}

#[test]
fn a_route_without_target_table_keeps_the_table_name() {
    let routes = [Route {
        schema: "db_*".into(),
        table: String::new(),
        target_schema: "db".into(),
        target_table: String::new(),
    }];
    assert_eq!(
        Routes(&routes).target(&TableName::new("db_1", "orders")),
        Some(TableName::new("db", "orders"))
    );
}

#[test]
fn an_await_tables_step_stands_alone_in_an_optimistic_scenario() {
    let optimistic = HEAD.replace("pessimistic", "optimistic");
    let text = format!(
        "{optimistic}[[step]]\nawait-tables-of = [\"s\", \"s2\"]\n[[step]]\nschema = \"db_1\"\nsql = \"ALTER TABLE tb_1 ADD COLUMN c INT\"\n"
    );
    let s = Scenario::parse(&text).unwrap();
    assert_eq!(
        s.steps[0].await_tables_of.as_deref(),
        Some(&["s".to_owned(), "s2".to_owned()][..])
    );
    assert_eq!(s.steps[1].await_tables_of, None);

    let with_sql = format!(
        "{optimistic}[[step]]\nawait-tables-of = [\"s2\"]\nschema = \"db_1\"\nsql = \"DROP TABLE tb_1\"\n"
    );
    let err = Scenario::parse(&with_sql).unwrap_err().to_string();
    assert!(
        err.contains("step 1: `await-tables-of` stands alone"),
        "{err}"
    );

    let pessimistic = format!("{HEAD}[[step]]\nawait-tables-of = [\"s2\"]\n");
    let err = Scenario::parse(&pessimistic).unwrap_err().to_string();
    assert!(err.contains("needs an optimistic task"), "{err}");
}

/// The example scenarios shipped with the worker and the demo's task
/// scenarios are what users copy: each must parse as the kind it is.
#[test]
fn shipped_scenarios_parse() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut examples = 0;
    for entry in std::fs::read_dir(root.join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let s = Scenario::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!s.steps.is_empty(), "{}: no steps", path.display());
        examples += 1;
    }
    assert_eq!(examples, 4, "dm-worker/scenarios/ holds four examples");
    for name in ["scenario-pessimistic.toml", "scenario-optimistic.toml"] {
        let path = root.join("../demo").join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        TaskScenario::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}
