use super::*;

fn run(args: &[&str]) -> Result<Config, ConfigError> {
    match Config::parse_args(args)? {
        Invocation::Run(c) => Ok(*c),
        other => panic!("expected a config, got {other:?}"),
    }
}

/// DM's `dm/tests/dmctl_basic/conf/get_master1.toml` with its test
/// directory written as `$DM_TEST_DIR`.
const GET_MASTER1: &str = r#"log-level = "debug"
log-file = "$DM_TEST_DIR/dmctl_basic/master/log/dm-master.log"
log-format = "text"
log-rotate = ""
rpc-timeout = "30s"
rpc-rate-limit = 10.0
rpc-rate-burst = 40
master-addr = ":8261"
advertise-addr = "127.0.0.1:8261"
config-file = "$DM_TEST_DIR/dmctl_basic/master/dm-master.toml"
name = "master1"
data-dir = "default.master1"
peer-urls = "http://127.0.0.1:8291"
advertise-peer-urls = "http://127.0.0.1:8291"
initial-cluster = "master1=http://127.0.0.1:8291"
initial-cluster-state = "new"
join = ""
max-txn-ops = 2048
max-request-bytes = 1572864
auto-compaction-mode = "periodic"
auto-compaction-retention = "1h"
quota-backend-bytes = 2147483648
openapi = false
v1-sources-path = ""
ssl-ca = ""
ssl-cert = ""
ssl-key = ""
ssl-ca-base64 = ""
ssl-key-base64 = ""
ssl-cert-base64 = ""
secret-key-path = "$DM_TEST_DIR/dmctl_basic/master/key.txt"

[experimental]
"#;

#[test]
fn dm_sample_config_parses_with_dm_values() {
    let c = Config::from_toml(SAMPLE_CONFIG).unwrap();
    assert_eq!(c.master_addr, ":8261");
    assert_eq!(c.advertise_addr, "127.0.0.1:8261");
    assert_eq!(c.name, "dm-master");
    assert_eq!(c.data_dir, PathBuf::from("default.dm-master"));
    assert_eq!(c.peer_urls, vec!["http://127.0.0.1:8291"]);
    assert_eq!(c.initial_cluster, "dm-master=http://127.0.0.1:8291");
    assert_eq!(c.initial_cluster_state, "new");
    assert!(c.join.is_empty());
    assert_eq!(c.rpc_timeout, Duration::from_secs(30));
    assert_eq!(c.log_file, Some(PathBuf::from("dm-master.log")));
    assert_eq!(c.dm.rpc_rate_burst, 40);
    assert_eq!(c.max_txn_ops, 2048);
    assert_eq!(c.listen_addr().unwrap().to_string(), "0.0.0.0:8261");
}

#[test]
fn get_master_cfg_rendering_matches_dm_fixture() {
    // DM's dmctl_basic test writes a key file and starts master1 with -L debug.
    let dir = tempfile_dir();
    let key = dir.join("key.txt");
    std::fs::write(&key, format!("{}\n", "a".repeat(64))).unwrap();
    let cfg = dir.join("dm-master.toml");
    std::fs::write(
        &cfg,
        format!(
            "name = \"master1\"\nmaster-addr = \":8261\"\nadvertise-addr = \"127.0.0.1:8261\"\n\
             peer-urls = \"127.0.0.1:8291\"\ninitial-cluster = \"master1=http://127.0.0.1:8291\"\n\
             secret-key-path = \"{}\"\n",
            key.display()
        ),
    )
    .unwrap();
    let log = dir.join("log/dm-master.log");
    let c = run(&[
        "--config",
        &cfg.display().to_string(),
        "-L=debug",
        "--log-file",
        &log.display().to_string(),
    ])
    .unwrap();
    assert_eq!(c.secret_key, Some([0xaa; 32]));
    let rendered = c.master_cfg_toml().replace(
        &dir.display().to_string(),
        "$DM_TEST_DIR/dmctl_basic/master",
    );
    assert_eq!(rendered, GET_MASTER1);
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "dm-master-config-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn go_flag_spellings_are_all_accepted() {
    for args in [
        &["-master-addr", "h:1", "-name", "x"][..],
        &["-master-addr=h:1", "-name=x"][..],
        &["--master-addr=h:1", "--name=x"][..],
        &["--master-addr", "h:1", "--name", "x"][..],
    ] {
        let c = run(args).unwrap();
        assert_eq!((c.master_addr.as_str(), c.name.as_str()), ("h:1", "x"));
    }
    let c = run(&[
        "--master-addr",
        "h:1",
        "--peer-urls",
        "10.0.0.1:8291",
        "--advertise-peer-urls",
        "10.0.0.2:8291",
        "--name",
        "m",
        "--join",
        "a:8261,http://b:8261",
        "--initial-cluster-state",
        "existing",
        "--cert-allowed-cn",
        "a",
        "--cert-allowed-cn",
        "b",
    ])
    .unwrap();
    assert_eq!(c.peer_urls, vec!["http://10.0.0.1:8291"]);
    assert_eq!(c.advertise_peer_urls, vec!["http://10.0.0.2:8291"]);
    assert_eq!(c.initial_cluster, "m=http://10.0.0.2:8291");
    assert_eq!(c.join, vec!["http://a:8261", "http://b:8261"]);
    assert_eq!(c.initial_cluster_state, "existing");
    assert_eq!(c.dm.cert_allowed_cn, Some(vec!["a".into(), "b".into()]));
}

#[test]
fn flags_given_win_over_the_file_which_wins_over_flag_defaults() {
    let dir = tempfile_dir();
    let cfg = dir.join("m.toml");
    std::fs::write(
        &cfg,
        "name = \"file\"\nlog-level = \"debug\"\nmaster-addr = \"h:1\"\netcd-endpoints = \"e:2379\"\nelection-ttl = 5\n",
    )
    .unwrap();
    let path = cfg.display().to_string();
    let c = run(&["-config", &path, "-name", "flag"]).unwrap();
    assert_eq!(c.name, "flag");
    assert_eq!(c.log_level, "debug");
    assert_eq!(c.etcd_endpoints, vec!["http://e:2379"]);
    assert_eq!(c.election_ttl, Duration::from_secs(5));
    assert_eq!(c.dm.config_file, path);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_keys_are_named_in_dm_text() {
    let err =
        Config::from_toml("nmae = \"x\"\n[experimental]\nfoo = 1\n[bar]\nbaz = 2\n").unwrap_err();
    assert_eq!(err.code, 38011);
    assert_eq!(
        err.message,
        "master config contained unknown configuration options: nmae,experimental.foo,bar,bar.baz"
    );
    let err = Config::from_toml("name = 1").unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (38013, "config toml transform")
    );
}

#[test]
fn adjust_errors_have_dm_codes_and_texts() {
    let cases: &[(&[&str], u32, &str)] = &[
        (&["--master-addr", "nowhere"], 38035, "host:port 'nowhere' not valid"),
        (
            &["--master-addr", ":8261"],
            38035,
            "master-addr (:8261) must include the 'host' part (should not be '0.0.0.0') when advertise-addr is not set",
        ),
        (
            &["--master-addr", "0.0.0.0:8261"],
            38035,
            "master-addr (0.0.0.0:8261) must include the 'host' part (should not be '0.0.0.0') when advertise-addr is not set",
        ),
        (
            &["--master-addr", ":8261", "--advertise-addr", "0.0.0.0:8261"],
            38042,
            "advertise address 0.0.0.0:8261 not valid",
        ),
        (&["--master-addr", "h:1", "extra"], 38012, "'extra' is an invalid flag"),
        (&["--no-such-flag"], 38010, "parse config flag set"),
        (&["--master-addr"], 38010, "parse config flag set"),
    ];
    for (args, code, message) in cases {
        let err = run(args).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (*code, *message),
            "{args:?}"
        );
    }
    let err = Config::from_toml("master-addr = \"h:1\"\nrpc-timeout = \"soon\"").unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (38014, "parse rpc timeout str")
    );
    let err = Config::from_toml("master-addr = \"h:1\"\nsecret-key-path = \"/nonexistent/k\"")
        .unwrap_err();
    assert_eq!(err.code, 20067);
    assert!(err
        .message
        .starts_with("invalid secret key path or content: "));
}

#[test]
fn listen_forms_and_schemes() {
    let c = run(&[
        "--master-addr",
        "http://:8261",
        "--advertise-addr",
        "https://h:8261",
    ])
    .unwrap();
    assert_eq!(c.master_addr, ":8261");
    assert_eq!(c.advertise_addr, "h:8261");
    assert!(listen_socket_addr(":8261").unwrap().ip().is_unspecified());
    assert_eq!(listen_socket_addr("[::1]:8261").unwrap().port(), 8261);
    assert_eq!(
        wrap_schemes_for_initial_cluster("a=h:1,b=https://h:2,junk", true),
        "a=https://h:1,b=https://h:2,junk"
    );
    assert_eq!(
        wrap_schemes("h:1,http://g:2", false),
        "http://h:1,http://g:2"
    );
}

#[test]
fn version_sample_help_and_warnings() {
    match Config::parse_args(&["-V"]).unwrap() {
        Invocation::Print(text) => assert!(text.starts_with("Release Version: v"), "{text}"),
        other => panic!("{other:?}"),
    }
    match Config::parse_args(&["-print-sample-config"]).unwrap() {
        Invocation::Print(text) => assert_eq!(text, format!("{SAMPLE_CONFIG}\n")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Config::parse_args(&["-h"]).unwrap(),
        Invocation::Help(_)
    ));
    let c = run(&["--master-addr", "h:1", "-L", "WARNING", "-openapi"]).unwrap();
    assert_eq!(c.log_level, "warn");
    assert_eq!(c.unapplied_keys, vec!["openapi"]);
    let c = Config::from_toml(
        "master-addr = \"h:1\"\nquota-backend-bytes = 1\n[experimental]\nopenapi = true",
    )
    .unwrap();
    assert_eq!(c.quota_backend_bytes, 500 * 1024 * 1024);
    assert!(c.dm.openapi && !c.dm.experimental_openapi);
    assert_eq!(c.adjust_warnings.len(), 2);
}

#[test]
fn ssl_ca_switches_schemes_and_tls() {
    let c = run(&[
        "--master-addr",
        "h:1",
        "--ssl-ca",
        "ca.pem",
        "--ssl-cert",
        "c.pem",
        "--ssl-key",
        "k.pem",
        "--peer-urls",
        "http://h:2",
        "--join",
        "j:1",
    ])
    .unwrap();
    assert_eq!(c.peer_urls, vec!["https://h:2"]);
    assert_eq!(c.join, vec!["https://j:1"]);
    assert_eq!(
        c.tls.as_ref().map(|t| t.ca.clone()),
        Some(PathBuf::from("ca.pem"))
    );
    assert_eq!(
        run(&["--master-addr", "h:1", "--ssl-ca", "ca.pem"])
            .unwrap_err()
            .code,
        38037
    );
}

#[test]
fn go_durations() {
    assert_eq!(parse_go_duration("30s").unwrap(), Duration::from_secs(30));
    assert_eq!(
        parse_go_duration("1h2m").unwrap(),
        Duration::from_secs(3720)
    );
    assert_eq!(
        parse_go_duration("1.5s").unwrap(),
        Duration::from_millis(1500)
    );
    assert_eq!(
        parse_go_duration("10ms").unwrap(),
        Duration::from_millis(10)
    );
    assert!(parse_go_duration("10").is_err());
    assert!(parse_go_duration("").is_err());
}
