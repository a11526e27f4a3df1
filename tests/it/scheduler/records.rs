//! DM's records as a Go dm-worker reads them: the bound, last-bound,
//! worker and source-config keys decoded with DM's field names and types.

use serde::Deserialize;

use super::*;

/// DM's `ha.SourceBound` with its JSON field names (`dm/pkg/ha/bound.go`).
#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct GoSourceBound {
    source: String,
    worker: String,
}

/// DM's `ha.WorkerInfo` (`dm/pkg/ha/worker.go`).
#[derive(Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
struct GoWorkerInfo {
    name: String,
    addr: String,
}

/// The part of DM's `config.SourceConfig` TOML a worker relies on, with
/// its key names and types.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "kebab-case")]
struct GoSourceConfig {
    enable: bool,
    enable_gtid: bool,
    enable_relay: bool,
    flavor: String,
    source_id: String,
    server_id: u32,
    from: GoDbConfig,
    purge: GoPurge,
    checker: GoChecker,
}

#[derive(Deserialize, Debug)]
struct GoDbConfig {
    host: String,
    port: i64,
    user: String,
    password: String,
}

#[derive(Deserialize, Debug)]
struct GoPurge {
    interval: i64,
}

#[derive(Deserialize, Debug)]
#[serde(rename_all = "kebab-case")]
struct GoChecker {
    check_enable: bool,
    backoff_max: String,
    backoff_min: String,
}

/// The keys of worker `w1` (at `w1_addr`) bound to source `s1` hold DM's
/// bytes and decode into DM's types.
pub(super) async fn assert_dms_records(etcd: &Etcd, space: &KeySpace, w1_addr: &str) {
    let bound = value(etcd, space.key(&BOUND_WORKER, ["w1"])).await.unwrap();
    assert_eq!(bound, br#"{"source":"s1","worker":"w1"}"#);
    assert_eq!(
        value(etcd, space.key(&LAST_BOUND_WORKER, ["w1"]))
            .await
            .unwrap(),
        bound
    );
    let parsed: GoSourceBound = serde_json::from_slice(&bound).unwrap();
    assert_eq!(parsed.source, "s1");
    assert_eq!(parsed.worker, "w1");
    let info = value(etcd, space.key(&WORKER_REGISTER, ["w1"]))
        .await
        .unwrap();
    assert_eq!(
        info,
        format!(r#"{{"name":"w1","addr":"{w1_addr}"}}"#).into_bytes()
    );
    let info: GoWorkerInfo = serde_json::from_slice(&info).unwrap();
    assert_eq!(info.name, "w1");
    let toml_bytes = value(etcd, space.key(&UPSTREAM_CONFIG, ["s1"]))
        .await
        .unwrap();
    let cfg: GoSourceConfig = toml::from_str(std::str::from_utf8(&toml_bytes).unwrap()).unwrap();
    assert!(cfg.enable && !cfg.enable_gtid && !cfg.enable_relay);
    assert_eq!(
        (cfg.flavor.as_str(), cfg.source_id.as_str(), cfg.server_id),
        ("mysql", "s1", 101)
    );
    assert_eq!(
        (
            cfg.from.host.as_str(),
            cfg.from.port,
            cfg.from.user.as_str(),
            cfg.from.password.as_str()
        ),
        ("127.0.0.1", 3306, "root", "123456")
    );
    assert_eq!(cfg.purge.interval, 3600);
    assert!(cfg.checker.check_enable);
    assert_eq!(
        (
            cfg.checker.backoff_max.as_str(),
            cfg.checker.backoff_min.as_str()
        ),
        ("5m0s", "1s")
    );
}
