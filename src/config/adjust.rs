//! DM-master's `adjust` of a parsed configuration: scheme wrapping, DM's
//! defaults and validation with DM's codes and texts, then our own checks
//! of the settings we add; with the two files it may read (the host name,
//! the secret key).

use std::path::PathBuf;
use std::time::Duration;

use super::address::{
    split_endpoints, split_host_port, unwrap_scheme, wrap_schemes, wrap_schemes_for_initial_cluster,
};
use super::{
    parse_go_duration, Config, ConfigError, DmMasterConfig, OwnSettings, DEFAULT_ELECTION_TTL_SECS,
    DEFAULT_PEER_URLS, DEFAULT_RPC_RATE_BURST, DEFAULT_RPC_RATE_LIMIT, DEFAULT_RPC_TIMEOUT,
    QUOTA_BACKEND_BYTES_LOWER_BOUND,
};
use crate::tls::TlsFiles;

impl Config {
    /// DM's `adjust`, then our own validation of what we add.
    pub fn adjust(mut dm: DmMasterConfig, own: OwnSettings) -> Result<Config, ConfigError> {
        let mut warnings = Vec::new();
        dm.master_addr = unwrap_scheme(&dm.master_addr).to_string();
        let (host, port) = split_host_port(&dm.master_addr).map_err(|cause| {
            ConfigError::caused(
                38035,
                format!("host:port '{}' not valid", dm.master_addr),
                cause,
            )
        })?;
        if dm.advertise_addr.is_empty() {
            if host.is_empty() || host == "0.0.0.0" || port.is_empty() {
                return Err(ConfigError::new(
                    38035,
                    format!(
                        "master-addr ({}) must include the 'host' part (should not be '0.0.0.0') when advertise-addr is not set",
                        dm.master_addr
                    ),
                ));
            }
            dm.advertise_addr = dm.master_addr.clone();
        } else {
            dm.advertise_addr = unwrap_scheme(&dm.advertise_addr).to_string();
            let invalid = || format!("advertise address {} not valid", dm.advertise_addr);
            let (host, port) = split_host_port(&dm.advertise_addr)
                .map_err(|cause| ConfigError::caused(38042, invalid(), cause))?;
            if host.is_empty() || host == "0.0.0.0" || port.is_empty() {
                return Err(ConfigError::new(38042, invalid()));
            }
        }

        if dm.rpc_timeout.is_empty() {
            dm.rpc_timeout = DEFAULT_RPC_TIMEOUT.into();
        }
        let rpc_timeout = parse_go_duration(&dm.rpc_timeout)
            .map_err(|cause| ConfigError::caused(38014, "parse rpc timeout str", cause))?;
        positive_or_default(
            "rpc-rate-limit",
            &mut dm.rpc_rate_limit,
            DEFAULT_RPC_RATE_LIMIT,
            &mut warnings,
        );
        positive_or_default(
            "rpc-rate-burst",
            &mut dm.rpc_rate_burst,
            DEFAULT_RPC_RATE_BURST,
            &mut warnings,
        );

        if dm.name.is_empty() {
            let hostname = hostname()
                .map_err(|cause| ConfigError::caused(38036, "get hostname fail", cause))?;
            dm.name = format!("dm-master-{hostname}");
        }
        if dm.data_dir.is_empty() {
            dm.data_dir = format!("default.{}", dm.name);
        }
        let https = !dm.ssl_ca.is_empty();
        if dm.peer_urls.is_empty() {
            dm.peer_urls = DEFAULT_PEER_URLS.into();
        } else {
            dm.peer_urls = wrap_schemes(&dm.peer_urls, https);
        }
        if dm.advertise_peer_urls.is_empty() {
            dm.advertise_peer_urls = dm.peer_urls.clone();
        } else {
            dm.advertise_peer_urls = wrap_schemes(&dm.advertise_peer_urls, https);
        }
        if dm.initial_cluster.is_empty() {
            dm.initial_cluster = dm
                .advertise_peer_urls
                .split(',')
                .map(|u| format!("{}={u}", dm.name))
                .collect::<Vec<_>>()
                .join(",");
        } else {
            dm.initial_cluster = wrap_schemes_for_initial_cluster(&dm.initial_cluster, https);
        }
        if dm.initial_cluster_state.is_empty() {
            dm.initial_cluster_state = "new".into();
        }
        if !dm.join.is_empty() {
            dm.join = wrap_schemes(&dm.join, https);
        }
        if dm.quota_backend_bytes < QUOTA_BACKEND_BYTES_LOWER_BOUND {
            warnings.push(format!(
                "quota-backend-bytes is too low, will adjust it from {} to {QUOTA_BACKEND_BYTES_LOWER_BOUND}",
                dm.quota_backend_bytes
            ));
            dm.quota_backend_bytes = QUOTA_BACKEND_BYTES_LOWER_BOUND;
        }
        if dm.experimental_openapi {
            dm.openapi = true;
            dm.experimental_openapi = false;
            warnings.push("openapi is a GA feature and removed from experimental features, so this configuration may have no affect in feature release, please set openapi=true in dm-master config file".into());
        }
        let secret_key = load_secret_key(&dm.secret_key_path)?;

        // Beyond DM: values DM would only reject later, deeper down.
        let log_level = match crate::logging::dm_level(&dm.log_level) {
            Some(level) => level.to_string(),
            None => {
                return Err(ConfigError::new(
                    38010,
                    crate::logging::invalid_level_text(&dm.log_level),
                ))
            }
        };
        let Some(log_format) = crate::logging::dm_format(&dm.log_format) else {
            return Err(ConfigError::new(
                38010,
                crate::logging::invalid_format_text(&dm.log_format),
            ));
        };
        let tls = if https {
            if dm.ssl_cert.is_empty() || dm.ssl_key.is_empty() {
                return Err(ConfigError::new(
                    38037,
                    "fail to generate config item tls for embed etcd: ssl-ca is set, so ssl-cert and ssl-key must be set too",
                ));
            }
            Some(TlsFiles {
                ca: PathBuf::from(&dm.ssl_ca),
                cert: PathBuf::from(&dm.ssl_cert),
                key: PathBuf::from(&dm.ssl_key),
                allowed_cn: dm.cert_allowed_cn.clone().unwrap_or_default(),
            })
        } else {
            None
        };
        let etcd_endpoints = match own.etcd_endpoints.as_deref() {
            Some(text) => split_endpoints(text, https)?,
            None => Vec::new(),
        };
        let ttl = own.election_ttl.unwrap_or(DEFAULT_ELECTION_TTL_SECS);
        if !(1..=3600).contains(&ttl) {
            return Err(ConfigError::new(
                38010,
                format!("election-ttl must be between 1 and 3600 seconds, got {ttl}"),
            ));
        }
        let split = |s: &str| -> Vec<String> {
            s.split(',')
                .filter(|u| !u.is_empty())
                .map(str::to_string)
                .collect()
        };
        Ok(Config {
            name: dm.name.clone(),
            data_dir: PathBuf::from(&dm.data_dir),
            master_addr: dm.master_addr.clone(),
            advertise_addr: dm.advertise_addr.clone(),
            peer_urls: split(&dm.peer_urls),
            advertise_peer_urls: split(&dm.advertise_peer_urls),
            initial_cluster: dm.initial_cluster.clone(),
            initial_cluster_state: dm.initial_cluster_state.clone(),
            join: split(&dm.join),
            etcd_endpoints,
            election_ttl: Duration::from_secs(ttl as u64),
            tls,
            max_txn_ops: dm.max_txn_ops,
            max_request_bytes: dm.max_request_bytes,
            auto_compaction_mode: dm.auto_compaction_mode.clone(),
            auto_compaction_retention: dm.auto_compaction_retention.clone(),
            quota_backend_bytes: dm.quota_backend_bytes,
            rpc_timeout,
            log_level,
            log_format,
            log_file: (!dm.log_file.is_empty()).then(|| PathBuf::from(&dm.log_file)),
            secret_key,
            dm,
            unapplied_keys: Vec::new(),
            adjust_warnings: warnings,
        })
    }
}

/// DM's fallback for a rate setting: zero or less becomes `default`, and a
/// value below zero is also named in a warning.
fn positive_or_default<T>(key: &str, value: &mut T, default: T, warnings: &mut Vec<String>)
where
    T: Copy + Default + PartialOrd + std::fmt::Display,
{
    if *value <= T::default() {
        if *value != T::default() {
            warnings.push(format!(
                "invalid {key} {value}, default value {default} used"
            ));
        }
        *value = default;
    }
}

fn hostname() -> Result<String, String> {
    if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let name = name.trim();
        if !name.is_empty() {
            return Ok(name.to_string());
        }
    }
    std::env::var("HOSTNAME").map_err(|e| format!("hostname unknown: {e}"))
}

fn load_secret_key(path: &str) -> Result<Option<[u8; 32]>, ConfigError> {
    if path.is_empty() {
        return Ok(None);
    }
    let bad = |cause: String| {
        ConfigError::new(
            20067,
            format!("invalid secret key path or content: {cause}"),
        )
    };
    let content = std::fs::read_to_string(path).map_err(|e| bad(format!("open {path}: {e}")))?;
    let bytes = crate::keys::decode_go_hex(content.trim().as_bytes()).map_err(bad)?;
    let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
        bad(format!(
            "the secret key must be a hex AES-256 key of length 64, but got length {}",
            b.len() * 2
        ))
    })?;
    Ok(Some(key))
}
