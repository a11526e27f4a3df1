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
