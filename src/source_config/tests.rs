use super::*;

const SAMPLE: &str = r#"
server-id: 429523137
source-id: mysql-replica-01
flavor: mysql
enable-gtid: false
from:
  host: 127.0.0.1
  user: root
  password: "123456"
  port: 3306
filters:
  - schema-pattern: dmctl
    table-pattern: t_1
    sql-pattern: ["alter table .* add column aaa int"]
    action: Ignore
"#;

#[test]
fn sample_encodes_to_dm_toml_bytes() {
    let mut cfg = SourceConfig::from_yaml(SAMPLE).unwrap();
    cfg.verify().unwrap();
    assert!(!cfg.needs_upstream());
    cfg.adjust_with_upstream(&UpstreamFacts::default(), || 0)
        .unwrap();
    // docs/protocol.md#configs.
    let want = r#"enable = true
enable-gtid = false
auto-fix-gtid = false
relay-dir = "relay-dir"
meta-dir = ""
flavor = "mysql"
charset = ""
enable-relay = false
relay-binlog-name = ""
relay-binlog-gtid = ""
source-id = "mysql-replica-01"
server-id = 429523137
case-sensitive = false

[from]
  host = "127.0.0.1"
  port = 3306
  user = "root"
  password = "123456"

[purge]
  interval = 3600
  expires = 0
  remain-space = 15

[checker]
  check-enable = true
  backoff-rollback = "5m0s"
  backoff-max = "5m0s"
  check-interval = "5s"
  backoff-min = "1s"
  backoff-jitter = true
  backoff-factor = 2.0

[[filters]]
  schema-pattern = "dmctl"
  table-pattern = "t_1"
  sql-pattern = ["alter table .* add column aaa int"]
  action = "Ignore"
"#;
    assert_eq!(cfg.to_toml(), want);
}

#[test]
fn the_toml_reads_back_with_every_value() {
    let mut cfg = SourceConfig::from_yaml(
        "source-id: s\nflavor: mariadb\nserver-id: 7\nfrom: {host: h, port: 1, user: u, password: \"p\\\"q\", session: {time_zone: '+00:00', 'a b': x}}\nchecker: {backoff-max: 1h30m}\n",
    )
    .unwrap();
    cfg.adjust_with_upstream(&UpstreamFacts::default(), || 0)
        .unwrap();
    let text = cfg.to_toml();
    let value: toml::Value = toml::from_str(&text).unwrap();
    assert_eq!(value["from"]["password"].as_str(), Some("p\"q"));
    assert_eq!(value["from"]["session"]["a b"].as_str(), Some("x"));
    assert_eq!(value["checker"]["backoff-max"].as_str(), Some("1h30m0s"));
    assert!(text.contains("  [from.session]\n    \"a b\" = \"x\"\n    time_zone = \"+00:00\"\n"));
}

#[test]
fn strict_parse_and_verify_give_dm_errors() {
    let err = SourceConfig::from_yaml("source-id: s\nno-such-key: 1\n").unwrap_err();
    assert_eq!(
        err.dm_string(),
        "[code=20003:class=config:scope=internal:level=medium], Message: decode source config, RawCause: yaml: unmarshal errors:\n  line 2: field no-such-key not found in type config.SourceConfig, Workaround: Please check the configuration file has correct YAML format."
    );
    let err = SourceConfig::from_yaml("flavor: mysql\n")
        .unwrap()
        .verify()
        .unwrap_err();
    assert_eq!(err.code(), 40005);
    let err = SourceConfig::from_yaml(&format!("source-id: {}\n", "x".repeat(33)))
        .unwrap()
        .verify()
        .unwrap_err();
    assert_eq!(
        err.dm_string(),
        format!("[code=40006:class=dm-worker:scope=internal:level=medium], Message: the length of source ID {} is more than max allowed value 32", "x".repeat(33))
    );
    let err = SourceConfig::from_yaml("source-id: s\nchecker: {backoff-max: 500ms}\n")
        .unwrap()
        .verify()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`backoff-max` value 500ms is less than `backoff-min` value 1s"
    );
    let err = SourceConfig::from_yaml("source-id: s\nenable-relay: true\n")
        .unwrap()
        .verify()
        .unwrap_err();
    assert_eq!(err, SourceConfigError::RelayNotSupported);
    let err = SourceConfig::from_yaml("source-id: s\nrelay-binlog-name: bad\n")
        .unwrap()
        .verify()
        .unwrap_err();
    assert_eq!(err.code(), 40007);
    assert_eq!(
        SourceConfig::from_yaml("port: [").unwrap_err().code(),
        20003
    );
}

#[test]
fn upstream_fills_flavor_and_server_id_like_dm() {
    let mut cfg = SourceConfig::from_yaml("source-id: s\n").unwrap();
    assert!(cfg.needs_upstream());
    let facts = UpstreamFacts {
        version: "10.11.6-MariaDB-log".into(),
        server_ids: vec![BASE_SERVER_ID + 1],
        gtid_mode: String::new(),
    };
    let mut picks = [1u32, 2].into_iter();
    cfg.adjust_with_upstream(&facts, || picks.next().unwrap_or(0))
        .unwrap();
    assert_eq!(cfg.flavor, "mariadb");
    assert_eq!(cfg.server_id, BASE_SERVER_ID + 2);
    assert_eq!(cfg.relay_dir, "relay-dir");

    let mut cfg = SourceConfig::from_yaml("source-id: s\nserver-id: 0\nflavor: tidb\n").unwrap();
    assert_eq!(
        cfg.adjust_with_upstream(&facts, || 0).unwrap_err().code(),
        11010
    );
    let mut cfg = SourceConfig::from_yaml("source-id: s\n").unwrap();
    let taken = UpstreamFacts {
        server_ids: vec![BASE_SERVER_ID],
        ..facts.clone()
    };
    assert_eq!(
        cfg.adjust_with_upstream(&taken, || 0).unwrap_err().code(),
        11015
    );
    let mut cfg =
        SourceConfig::from_yaml("source-id: s\nflavor: mysql\nserver-id: 3\nenable-gtid: true\n")
            .unwrap();
    let off = UpstreamFacts {
        gtid_mode: "OFF".into(),
        ..facts
    };
    assert_eq!(
        cfg.adjust_with_upstream(&off, || 0)
            .unwrap_err()
            .to_string(),
        "s has GTID_MODE = OFF instead of ON"
    );
}

#[test]
fn go_durations() {
    for (text, shown) in [
        ("5m", "5m0s"),
        ("1h", "1h0m0s"),
        ("1.5s", "1.5s"),
        ("300ms", "300ms"),
        ("0", "0s"),
        ("2h3m4.5s", "2h3m4.5s"),
        ("1us", "1µs"),
    ] {
        assert_eq!(
            GoDuration::parse(text).unwrap().to_string(),
            shown,
            "{text}"
        );
    }
    assert!(GoDuration::parse("5").is_err());
    assert!(GoDuration::parse("5x").is_err());
}
