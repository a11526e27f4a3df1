//! The `-config` TOML file of DM-master: every key DM knows is applied to
//! the config (with DM's type errors), a key it does not know is an error
//! 38011, and the keys set are reported so that flags given on the command
//! line can win over them.

use super::{ConfigError, DmMasterConfig, OwnSettings};

/// Applies a TOML document over `dm`; returns the keys it set (dotted).
pub(super) fn apply_file(
    text: &str,
    dm: &mut DmMasterConfig,
    own: &mut OwnSettings,
) -> Result<Vec<String>, ConfigError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e| ConfigError::caused(38013, "config toml transform", e))?;
    let mut unknown = Vec::new();
    let mut set = Vec::new();
    for (key, value) in &table {
        let known = set_file_key(key, value, dm, own)?;
        match known {
            KeyUse::Known => set.push(key.clone()),
            KeyUse::Unknown => collect_keys(key, value, &mut unknown),
            KeyUse::Experimental => {
                if let toml::Value::Table(inner) = value {
                    for (k, v) in inner {
                        if k == "openapi" {
                            dm.experimental_openapi = expect_bool(v)?;
                            set.push("experimental.openapi".into());
                        } else {
                            collect_keys(&format!("experimental.{k}"), v, &mut unknown);
                        }
                    }
                } else {
                    return Err(type_error("experimental"));
                }
            }
        }
    }
    if !unknown.is_empty() {
        return Err(ConfigError::new(
            38011,
            format!(
                "master config contained unknown configuration options: {}",
                unknown.join(",")
            ),
        ));
    }
    Ok(set)
}

/// BurntSushi's `Undecoded()`: an unknown table is listed, then its keys.
fn collect_keys(key: &str, value: &toml::Value, out: &mut Vec<String>) {
    out.push(key.to_string());
    if let toml::Value::Table(inner) = value {
        for (k, v) in inner {
            collect_keys(&format!("{key}.{k}"), v, out);
        }
    }
}

enum KeyUse {
    Known,
    Unknown,
    Experimental,
}

fn type_error(key: &str) -> ConfigError {
    ConfigError::caused(
        38013,
        "config toml transform",
        format!("toml: incompatible type for key {key}"),
    )
}

fn expect_bool(v: &toml::Value) -> Result<bool, ConfigError> {
    v.as_bool().ok_or_else(|| type_error("bool"))
}

fn set_file_key(
    key: &str,
    value: &toml::Value,
    dm: &mut DmMasterConfig,
    own: &mut OwnSettings,
) -> Result<KeyUse, ConfigError> {
    let string = || -> Result<String, ConfigError> {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| type_error(key))
    };
    let unsigned = || -> Result<u64, ConfigError> {
        value
            .as_integer()
            .and_then(|i| u64::try_from(i).ok())
            .ok_or_else(|| type_error(key))
    };
    let signed =
        || -> Result<i64, ConfigError> { value.as_integer().ok_or_else(|| type_error(key)) };
    match key {
        "log-level" => dm.log_level = string()?,
        "log-file" => dm.log_file = string()?,
        "log-format" => dm.log_format = string()?,
        "log-rotate" => dm.log_rotate = string()?,
        "rpc-timeout" => dm.rpc_timeout = string()?,
        "rpc-rate-limit" => {
            dm.rpc_rate_limit = value
                .as_float()
                .or_else(|| value.as_integer().map(|i| i as f64))
                .ok_or_else(|| type_error(key))?
        }
        "rpc-rate-burst" => dm.rpc_rate_burst = signed()?,
        "master-addr" => dm.master_addr = string()?,
        "advertise-addr" => dm.advertise_addr = string()?,
        "config-file" => dm.config_file = string()?,
        "name" => dm.name = string()?,
        "data-dir" => dm.data_dir = string()?,
        "peer-urls" => dm.peer_urls = string()?,
        "advertise-peer-urls" => dm.advertise_peer_urls = string()?,
        "initial-cluster" => dm.initial_cluster = string()?,
        "initial-cluster-state" => dm.initial_cluster_state = string()?,
        "join" => dm.join = string()?,
        "max-txn-ops" => dm.max_txn_ops = unsigned()?,
        "max-request-bytes" => dm.max_request_bytes = unsigned()?,
        "auto-compaction-mode" => dm.auto_compaction_mode = string()?,
        "auto-compaction-retention" => dm.auto_compaction_retention = string()?,
        "quota-backend-bytes" => dm.quota_backend_bytes = signed()?,
        "openapi" => dm.openapi = expect_bool(value)?,
        "v1-sources-path" => dm.v1_sources_path = string()?,
        "ssl-ca" => dm.ssl_ca = string()?,
        "ssl-cert" => dm.ssl_cert = string()?,
        "ssl-key" => dm.ssl_key = string()?,
        "cert-allowed-cn" => {
            let items = value.as_array().ok_or_else(|| type_error(key))?;
            let mut cns = Vec::with_capacity(items.len());
            for item in items {
                cns.push(item.as_str().ok_or_else(|| type_error(key))?.to_string());
            }
            dm.cert_allowed_cn = Some(cns);
        }
        // Byte arrays of DM's embedded `Security`: accepted, not used by the master.
        "ssl-ca-bytes" | "ssl-key-bytes" | "ssl-cert-bytes" => {}
        "ssl-ca-base64" => dm.ssl_ca_base64 = string()?,
        "ssl-key-base64" => dm.ssl_key_base64 = string()?,
        "ssl-cert-base64" => dm.ssl_cert_base64 = string()?,
        "secret-key-path" => dm.secret_key_path = string()?,
        "experimental" => return Ok(KeyUse::Experimental),
        // Ours.
        "etcd-endpoints" => own.etcd_endpoints = Some(string()?),
        "election-ttl" => own.election_ttl = Some(signed()?),
        _ => return Ok(KeyUse::Unknown),
    }
    Ok(KeyUse::Known)
}
