use super::*;

const DM_SUBTASK: &str = r#"is-sharding = true
shard-mode = ""
strict-optimistic-shard-mode = false
online-ddl = false
shadow-table-rules = ["^_(.+)_(?:new|gho)$"]
name = "test"
mode = "all"
source-id = "mysql-replica-01"
server-id = 429523137
flavor = "mysql"
meta-schema = "dm_meta"
timezone = ""

[from]
  host = "127.0.0.1"
  port = 3306
  user = "root"
  password = ""

[to]
  host = "127.0.0.1"
  port = 4000

[[route-rules]]
  schema-pattern = "shard_db_*"
  table-pattern = "shard_table_*"
  target-schema = "shard_db"
  target-table = "shard_table"
"#;

fn key(space: &KeySpace, source: &str, task: &str) -> Vec<u8> {
    space.key(&UPSTREAM_SUBTASK, [source, task]).into_bytes()
}

fn check(toml_text: &str, expected: Result<(&str, &str, ShardMode), &str>) {
    match (SubTaskConfig::parse(toml_text), expected) {
        (Ok(cfg), Ok((task, source, mode))) => {
            assert_eq!(cfg.name, task);
            assert_eq!(cfg.source_id, source);
            assert_eq!(cfg.mode(), Ok(mode));
        }
        (Err(e), Err(fragment)) => assert!(e.contains(fragment), "{e} lacks {fragment}"),
        (got, want) => panic!("got {got:?}, want {want:?}"),
    }
}

#[test]
fn parses_subtask_configs_like_dm() {
    check(
        DM_SUBTASK,
        Ok(("test", "mysql-replica-01", ShardMode::Pessimistic)),
    );
    check(
        "name = \"t\"\nsource-id = \"s\"\nshard-mode = \"optimistic\"\n",
        Ok(("t", "s", ShardMode::Optimistic)),
    );
    check(
        "name = \"t\"\nsource-id = \"s\"\n",
        Ok(("t", "s", ShardMode::None)),
    );
    check(
        "name = \"t\"\nsource-id = \"s\"\nshard-mode = \"eventual\"\n",
        Err("not supported"),
    );
    check("source-id = \"s\"\n", Err("task name should not be empty"));
    check("name = \"t\"\n", Err("empty source-id not valid"));
    check("name = [", Err(""));
}

#[test]
fn routes_are_read() {
    let cfg = SubTaskConfig::parse(DM_SUBTASK).unwrap();
    assert_eq!(
        cfg.route_rules,
        vec![RouteRule {
            schema_pattern: "shard_db_*".into(),
            table_pattern: "shard_table_*".into(),
            target_schema: "shard_db".into(),
            target_table: "shard_table".into(),
        }]
    );
    // Our writer's output parses back to the same config.
    assert_eq!(SubTaskConfig::parse(&cfg.to_toml()).unwrap(), cfg);
}

#[test]
fn registry_tracks_puts_and_deletes() {
    let space = KeySpace::default();
    let mut reg = TaskRegistry::new();
    let mk = |source: &str, mode: &str| {
        SubTaskConfig {
            name: "task\"1".into(),
            source_id: source.into(),
            is_sharding: true,
            shard_mode: mode.into(),
            route_rules: vec![],
        }
        .to_toml()
    };
    let k1 = key(&space, "mysql-1", "task\"1");
    let k10 = key(&space, "mysql-10", "task\"1");
    assert_eq!(
        reg.apply_put(&space, &k1, mk("mysql-1", "pessimistic").as_bytes()),
        Ok(RegistryChange::Task("task\"1".into()))
    );
    reg.apply_put(&space, &k10, mk("mysql-10", "pessimistic").as_bytes())
        .unwrap();
    assert_eq!(reg.sources("task\"1"), vec!["mysql-1", "mysql-10"]);
    assert_eq!(reg.mode("task\"1"), Some(ShardMode::Pessimistic));
    // Any optimistic subtask makes the task optimistic, as in DM's server.
    reg.apply_put(&space, &k10, mk("mysql-10", "optimistic").as_bytes())
        .unwrap();
    assert_eq!(reg.mode("task\"1"), Some(ShardMode::Optimistic));
    assert_eq!(
        reg.apply_delete(&k1),
        RegistryChange::Task("task\"1".into())
    );
    assert_eq!(reg.sources("task\"1"), vec!["mysql-10"]);
    assert_eq!(reg.apply_delete(&k1), RegistryChange::None);
    assert_eq!(
        reg.apply_delete(&k10),
        RegistryChange::Task("task\"1".into())
    );
    assert!(!reg.contains("task\"1"));
    assert_eq!(reg.mode("task\"1"), None);
}

#[test]
fn bad_values_leave_the_registry_unchanged() {
    let space = KeySpace::default();
    let mut reg = TaskRegistry::new();
    let k = key(&space, "s", "t");
    assert!(reg.apply_put(&space, &k, b"name = [").is_err());
    assert!(reg.apply_put(&space, &k, &[0xff, 0xfe]).is_err());
    assert!(reg
        .apply_put(
            &space,
            b"/dm-master/upstream/subtask/zz",
            b"name=\"t\"\nsource-id=\"s\""
        )
        .is_err());
    assert_eq!(reg.tasks().count(), 0);
}

#[test]
fn registry_reads_dm_full_subtask_toml() {
    let space = KeySpace::default();
    let mut reg = TaskRegistry::new();
    let full = include_str!("../task_config/testdata/spec_subtask.toml");
    let k = key(&space, "mysql-replica-01", "test");
    assert_eq!(
        reg.apply_put(&space, &k, full.as_bytes()),
        Ok(RegistryChange::Task("test".into()))
    );
    let subtask = reg.subtask("test", "mysql-replica-01").unwrap();
    assert_eq!(subtask.mode, ShardMode::Pessimistic);
    assert_eq!(subtask.routes[0].target_table, "shard_table");
    // A value DM's worker would refuse is refused here too, with DM's text.
    let bad = full.replace("shard-mode = \"pessimistic\"", "shard-mode = \"eager\"");
    let err = reg.apply_put(&space, &k, bad.as_bytes()).unwrap_err();
    assert!(err.starts_with("[code=20033:class=config"), "{err}");
}

#[test]
fn a_config_under_another_subtasks_key_is_removed_by_that_key() {
    let space = KeySpace::new("/ns");
    let mut reg = TaskRegistry::new();
    let cfg = |task: &str, source: &str| {
        SubTaskConfig {
            name: task.into(),
            source_id: source.into(),
            is_sharding: true,
            ..SubTaskConfig::default()
        }
        .to_toml()
    };
    let own = key(&space, "s1", "t");
    let odd = key(&space, "s1", "other");
    reg.apply_put(&space, &own, cfg("t", "s1").as_bytes())
        .unwrap();
    reg.apply_put(&space, &odd, cfg("t", "s2").as_bytes())
        .unwrap();
    assert_eq!(reg.sources("t"), vec!["s1", "s2"]);
    // The key named after (s2, t) never held a config.
    assert_eq!(
        reg.apply_delete(&key(&space, "s2", "t")),
        RegistryChange::None
    );
    assert_eq!(reg.apply_delete(&odd), RegistryChange::Task("t".into()));
    assert_eq!(reg.sources("t"), vec!["s1"]);
    // A PUT that renames the task under the same key moves the entry.
    reg.apply_put(&space, &own, cfg("t2", "s1").as_bytes())
        .unwrap();
    assert!(!reg.contains("t"));
    assert_eq!(reg.sources("t2"), vec!["s1"]);
    assert_eq!(reg.apply_delete(&own), RegistryChange::Task("t2".into()));
    assert_eq!(reg.tasks().count(), 0);
}
