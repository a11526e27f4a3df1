use expect_test::expect;

use super::*;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn no_file(path: &str) -> std::io::Result<String> {
    Err(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!("no file {path} in this test"),
    ))
}

fn parse(list: &[&str]) -> Result<WorkerConfig> {
    parse_with_file(list, "")
}

fn parse_with_file(list: &[&str], file: &str) -> Result<WorkerConfig> {
    let file = file.to_owned();
    match WorkerConfig::parse_args(&args(list), move |_| Ok(file))? {
        Parsed::Run(cfg) => Ok(*cfg),
        other => panic!("expected a config, got {other:?}"),
    }
}

#[test]
fn go_flag_spellings_are_accepted() {
    for list in [
        &[
            "-name",
            "w1",
            "-worker-addr",
            "127.0.0.1:8262",
            "-join",
            "127.0.0.1:8261",
        ][..],
        &[
            "--name",
            "w1",
            "--worker-addr",
            "127.0.0.1:8262",
            "--join",
            "127.0.0.1:8261",
        ][..],
        &[
            "--name=w1",
            "-worker-addr=127.0.0.1:8262",
            "--join=127.0.0.1:8261",
        ][..],
    ] {
        let cfg = parse(list).unwrap();
        assert_eq!(cfg.name, "w1", "{list:?}");
        assert_eq!(cfg.worker_addr, "127.0.0.1:8262");
        assert_eq!(cfg.advertise_addr, "127.0.0.1:8262");
        assert_eq!(cfg.join, "http://127.0.0.1:8261");
        assert_eq!(cfg.keepalive_ttl, 60);
        assert_eq!(cfg.relay_keepalive_ttl, 1800);
    }
}

#[test]
fn defaults_and_adjustments_follow_dm() {
    // name defaults to the advertise address, which defaults to worker-addr.
    let cfg = parse(&["-worker-addr", "http://10.0.0.1:8262"]).unwrap();
    assert_eq!(cfg.worker_addr, "10.0.0.1:8262");
    assert_eq!(cfg.advertise_addr, "10.0.0.1:8262");
    assert_eq!(cfg.name, "10.0.0.1:8262");
    assert_eq!(cfg.log_level, "info");
    assert_eq!(cfg.log_format, "text");

    let cfg = parse(&[
        "-worker-addr",
        ":8262",
        "-advertise-addr",
        "https://10.0.0.2:8262",
        "-join",
        "a:1,http://b:2,https://c:3",
        "-keepalive-ttl",
        "5",
        "-L",
        "debug",
        "-log-file",
        "w.log",
        "-ssl-ca",
        "ca.pem",
        "-ssl-cert",
        "c.pem",
        "-ssl-key",
        "k.pem",
        "-cert-allowed-cn",
        "dm",
        "-cert-allowed-cn",
        "tidb",
    ])
    .unwrap();
    assert_eq!(cfg.advertise_addr, "10.0.0.2:8262");
    assert_eq!(cfg.name, "10.0.0.2:8262");
    // With ssl-ca every join address gets https://, replacing its scheme.
    assert_eq!(cfg.join, "https://a:1,https://b:2,https://c:3");
    assert_eq!(
        cfg.join_urls(),
        ["https://a:1", "https://b:2", "https://c:3"]
    );
    assert_eq!(cfg.keepalive_ttl, 5);
    assert_eq!(cfg.log_level, "debug");
    assert_eq!(cfg.log_file, "w.log");
    assert_eq!(cfg.cert_allowed_cn, ["dm", "tidb"]);
}

#[test]
fn flags_override_the_file_which_overrides_defaults() {
    let file = "name = \"from-file\"\nworker-addr = \"127.0.0.1:1\"\njoin = \"m:8261\"\nkeepalive-ttl = 7\nlog-level = \"warn\"\nrelay-dir = \"/tmp/relay\"\ncert-allowed-cn = [\"x\"]\n";
    let cfg = parse_with_file(&["-config", "w.toml", "-name", "from-flag"], file).unwrap();
    assert_eq!(cfg.name, "from-flag");
    assert_eq!(cfg.worker_addr, "127.0.0.1:1");
    assert_eq!(cfg.join, "http://m:8261");
    assert_eq!(cfg.keepalive_ttl, 7);
    assert_eq!(cfg.log_level, "warn");
    assert_eq!(cfg.relay_dir, "/tmp/relay");
    assert_eq!(cfg.config_file, "w.toml");
    assert_eq!(cfg.cert_allowed_cn, ["x"]);
}

#[test]
fn dm_sample_config_is_accepted() {
    let cfg = parse_with_file(&["-config", "dm-worker.toml"], SAMPLE_CONFIG).unwrap();
    assert_eq!(cfg.worker_addr, ":8262");
    assert_eq!(cfg.advertise_addr, "127.0.0.1:8262");
    assert_eq!(cfg.name, "127.0.0.1:8262");
    assert_eq!(cfg.join, "http://127.0.0.1:8261");
    assert_eq!(cfg.log_file, "dm-worker.log");
}

fn check_error(list: &[&str], file: &str, code: i32, dm_string: &str) {
    let err = parse_with_file(list, file).unwrap_err();
    assert_eq!(err.code(), code, "{list:?}: {err}");
    assert_eq!(err.dm_string(), dm_string, "{list:?}");
}

#[test]
fn bad_input_gets_dm_codes_and_texts() {
    // Unknown keys are named in file order, as BurntSushi's Undecoded lists them.
    check_error(
        &["-config", "w.toml"],
        "name = \"w\"\nworker-addr = \"127.0.0.1:1\"\nmaster-addr = \"x\"\nenable-gtid = true\n",
        40004,
        "[code=40004:class=dm-worker:scope=internal:level=medium], Message: worker config contains unknown configuration options: master-addr,enable-gtid, Workaround: Please check configs in worker configurtion file.",
    );
    check_error(
        &["-nmae", "w"],
        "",
        40001,
        "[code=40001:class=dm-worker:scope=internal:level=medium], Message: parse dm-worker config flag set, RawCause: flag provided but not defined: -nmae",
    );
    check_error(
        &["-worker-addr", "127.0.0.1:1", "extra"],
        "",
        40002,
        "[code=40002:class=dm-worker:scope=internal:level=medium], Message: 'extra' is an invalid flag",
    );
    check_error(
        &[],
        "",
        40069,
        "[code=40069:class=dm-worker:scope=internal:level=high], Message: host:port '' not valid, RawCause: missing port in address, Workaround: Please check configs in worker configuration file.",
    );
    check_error(
        &["-worker-addr", "0.0.0.0:8262"],
        "",
        40069,
        "[code=40069:class=dm-worker:scope=internal:level=high], Message: worker-addr (0.0.0.0:8262) must include the 'host' part (should not be '0.0.0.0') when advertise-addr is not set, Workaround: Please check configs in worker configuration file.",
    );
    check_error(
        &["-worker-addr", "127.0.0.1"],
        "",
        40069,
        "[code=40069:class=dm-worker:scope=internal:level=high], Message: host:port '127.0.0.1' not valid, RawCause: address 127.0.0.1: missing port in address, Workaround: Please check configs in worker configuration file.",
    );
    let err = parse_with_file(&["-config", "w.toml"], "keepalive-ttl = \"x\"\n").unwrap_err();
    assert_eq!(err.code(), 40003, "{err}");
    let err = parse_with_file(&["-config", "w.toml"], "name = \n").unwrap_err();
    assert_eq!(err.code(), 40003, "{err}");
    let err = parse(&["-keepalive-ttl", "abc"]).unwrap_err();
    assert_eq!(err.code(), 40001, "{err}");
    let err = parse(&["-worker-addr"]).unwrap_err();
    assert_eq!(err.code(), 40001, "{err}");
}

#[test]
fn log_level_and_format_are_checked_with_the_flags() {
    let cfg = parse(&["-worker-addr", "127.0.0.1:1", "-L", "WARNING"]).unwrap();
    assert_eq!(cfg.log_level, "warn");
    let cfg = parse(&["-worker-addr", "127.0.0.1:1", "-L", "Fatal"]).unwrap();
    assert_eq!(cfg.log_level, "fatal");
    check_error(
        &["-worker-addr", "127.0.0.1:1", "-L", "loud"],
        "",
        40001,
        "[code=40001:class=dm-worker:scope=internal:level=medium], Message: parse dm-worker config flag set, RawCause: invalid log level \"loud\": use debug, info, warn, error, dpanic, panic or fatal",
    );
    check_error(
        &["-config", "w.toml"],
        "worker-addr = \"127.0.0.1:1\"\nlog-format = \"xml\"\n",
        40001,
        "[code=40001:class=dm-worker:scope=internal:level=medium], Message: parse dm-worker config flag set, RawCause: invalid log format \"xml\": use text or json",
    );
}

#[test]
fn unreadable_config_file_is_a_decode_error() {
    let err = WorkerConfig::parse_args(&args(&["-config", "missing.toml"]), no_file).unwrap_err();
    assert_eq!(err.code(), 40003);
}

#[test]
fn version_sample_and_help() {
    let run = |list: &[&str]| WorkerConfig::parse_args(&args(list), no_file).unwrap();
    assert_eq!(run(&["-V"]), Parsed::PrintVersion);
    assert_eq!(run(&["--print-sample-config"]), Parsed::PrintSampleConfig);
    assert_eq!(run(&["-h"]), Parsed::Help);
    assert_eq!(run(&["--help"]), Parsed::Help);
    assert!(usage().contains("  -keepalive-ttl int\n"));
}

#[test]
fn get_worker_cfg_toml_is_go_encoded() {
    let cfg = parse(&[
        "-name",
        "worker1",
        "-worker-addr",
        "0.0.0.0:8262",
        "-advertise-addr",
        "127.0.0.1:8262",
        "-join",
        "127.0.0.1:8261",
    ])
    .unwrap();
    expect![[r#"
        name = "worker1"
        log-level = "info"
        log-file = ""
        log-format = "text"
        log-rotate = ""
        redact-info-log = false
        join = "http://127.0.0.1:8261"
        worker-addr = "0.0.0.0:8262"
        advertise-addr = "127.0.0.1:8262"
        config-file = ""
        keepalive-ttl = 60
        relay-keepalive-ttl = 1800
        relay-dir = ""
        ssl-ca = ""
        ssl-cert = ""
        ssl-key = ""
        ssl-ca-base64 = ""
        ssl-key-base64 = ""
        ssl-cert-base64 = ""
    "#]]
    .assert_eq(&cfg.to_toml());
    // What we render parses back to the same config.
    let mut back = WorkerConfig::default();
    back.apply_toml(&cfg.to_toml()).unwrap();
    back.adjust().unwrap();
    assert_eq!(back, cfg);
}

#[test]
fn split_host_port_matches_go() {
    type Split<'a> = std::result::Result<(&'a str, &'a str), &'a str>;
    let cases: &[(&str, Split)] = &[
        ("127.0.0.1:80", Ok(("127.0.0.1", "80"))),
        (":8262", Ok(("", "8262"))),
        ("[::1]:80", Ok(("::1", "80"))),
        ("host:", Ok(("host", ""))),
        ("", Err("missing port in address")),
        ("h", Err("address h: missing port in address")),
        ("::1:80", Err("address ::1:80: too many colons in address")),
        ("[::1:80", Err("address [::1:80: missing ']' in address")),
    ];
    for (input, want) in cases {
        let got = split_host_port(input);
        let want = want
            .map(|(h, p)| (h.to_owned(), p.to_owned()))
            .map_err(str::to_owned);
        assert_eq!(got, want, "{input}");
    }
}

#[test]
fn wrap_and_unwrap_schemes() {
    assert_eq!(
        wrap_schemes("a:1,,https://b:2", false),
        "http://a:1,,http://b:2"
    );
    assert_eq!(wrap_schemes("http://a:1", true), "https://a:1");
    assert_eq!(unwrap_scheme("https://a:1"), "a:1");
    assert_eq!(unwrap_scheme("a:1"), "a:1");
}

#[test]
fn scenario_files_are_named_per_task_relative_to_the_config_file() {
    let file = "name = \"w\"\nworker-addr = \"127.0.0.1:8262\"\njoin = \"127.0.0.1:8261\"\n[scenario]\nshard_merge = \"scenarios/shard.toml\"\nabs = \"/srv/abs.toml\"\n";
    let cfg = parse_with_file(&["--config", "/etc/dm/worker.toml"], file).unwrap();
    assert_eq!(
        cfg.scenario_path("shard_merge"),
        Some(std::path::PathBuf::from("/etc/dm/scenarios/shard.toml"))
    );
    assert_eq!(
        cfg.scenario_path("abs"),
        Some(std::path::PathBuf::from("/srv/abs.toml"))
    );
    assert_eq!(cfg.scenario_path("other"), None);
    let err = parse_with_file(&["--config", "w.toml"], "[scenario]\nt = 1\n").unwrap_err();
    assert_eq!(err.code(), 40003, "{err}");
}
