//! DM-master's command line, parsed with Go's `flag` package rules:
//! `-name value`, `-name=value`, `--name value`, `--name=value`; boolean
//! flags take no separate value (`-V`, `-openapi=false`); parsing stops at
//! the first non-flag argument or after `--`. `cert-allowed-cn` repeats.

use super::{parse_go_duration, ConfigError, DmMasterConfig, OwnSettings};

/// The kinds of value a flag takes.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Bool,
    Text,
}

/// Every flag: name, kind, usage (DM's texts; ours last).
const FLAGS: &[(&str, Kind, &str)] = &[
    ("V", Kind::Bool, "prints version and exit"),
    ("print-sample-config", Kind::Bool, "print sample config file of dm-worker"),
    ("openapi", Kind::Bool, "enable openapi"),
    ("config", Kind::Text, "path to config file"),
    ("master-addr", Kind::Text, "master API server and status addr"),
    ("advertise-addr", Kind::Text, "advertise address for client traffic (default \"${master-addr}\")"),
    ("L", Kind::Text, "log level: debug, info, warn, error, fatal"),
    ("log-file", Kind::Text, "log file path"),
    ("log-format", Kind::Text, "the format of the log, \"text\" or \"json\""),
    ("name", Kind::Text, "human-readable name for this DM-master member"),
    ("data-dir", Kind::Text, "path to the data directory (default \"default.${name}\")"),
    ("initial-cluster", Kind::Text, "initial cluster configuration for bootstrapping, e.g. dm-master=http://127.0.0.1:8291"),
    ("initial-cluster-state", Kind::Text, "initial cluster state: new or existing"),
    ("peer-urls", Kind::Text, "URLs for peer traffic"),
    ("advertise-peer-urls", Kind::Text, "advertise URLs for peer traffic (default \"${peer-urls}\")"),
    ("join", Kind::Text, "join to an existing cluster (usage: cluster's \"${master-addr}\" list, e.g. \"127.0.0.1:8261,127.0.0.1:18261\""),
    ("max-txn-ops", Kind::Text, "etcd's max-txn-ops, default value is 2048"),
    ("max-request-bytes", Kind::Text, "etcd's max-request-bytes"),
    ("auto-compaction-mode", Kind::Text, "etcd's auto-compaction-mode, either 'periodic' or 'revision'"),
    ("auto-compaction-retention", Kind::Text, "etcd's auto-compaction-retention, accept values like '5h' or '5' (5 hours in 'periodic' mode or 5 revisions in 'revision')"),
    ("quota-backend-bytes", Kind::Text, "etcd's storage quota in bytes"),
    ("ssl-ca", Kind::Text, "path of file that contains list of trusted SSL CAs for connection"),
    ("ssl-cert", Kind::Text, "path of file that contains X509 certificate in PEM format for connection"),
    ("ssl-key", Kind::Text, "path of file that contains X509 key in PEM format for connection"),
    ("cert-allowed-cn", Kind::Text, "the trusted common name that allowed to visit"),
    ("v1-sources-path", Kind::Text, "directory path used to store source config files when upgrading from v1.0.x"),
    ("secret-key-path", Kind::Text, "path of file that contains secret key for encrypting and decrypting password, the secret key should be a hex AES-256 key of length 64"),
    ("rpc-timeout", Kind::Text, "timeout of master to worker RPCs, a Go duration such as 30s"),
    ("etcd-endpoints", Kind::Text, "comma-separated client URLs of an external etcd cluster (default: run an embedded etcd member)"),
    ("election-ttl", Kind::Text, "leader lease TTL in seconds (default 60)"),
    ("log-level", Kind::Text, "same as -L"),
];

/// The command line split into what was given.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Flags given with a value (`name`, `value`), in command-line order.
    pub given: Vec<(String, String)>,
    pub help: bool,
    pub print_version: bool,
    pub print_sample_config: bool,
    /// Arguments after the last flag.
    pub positional: Vec<String>,
}

/// Splits `args` by Go's `flag` rules.
pub fn parse(args: &[String]) -> Result<Parsed, ConfigError> {
    let mut parsed = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg.len() < 2 || !arg.starts_with('-') {
            break;
        }
        let mut body = &arg[1..];
        if let Some(rest) = body.strip_prefix('-') {
            if rest.is_empty() {
                // `--` ends the flags.
                i += 1;
                break;
            }
            body = rest;
        }
        if body.starts_with('-') || body.starts_with('=') {
            return Err(ConfigError::flag_set(format!("bad flag syntax: {arg}")));
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        i += 1;
        let Some((_, kind, _)) = FLAGS.iter().find(|(n, _, _)| *n == name) else {
            if name == "h" || name == "help" {
                parsed.help = true;
                return Ok(parsed);
            }
            return Err(ConfigError::flag_set(format!(
                "flag provided but not defined: -{name}"
            )));
        };
        let value = match (kind, inline) {
            (Kind::Bool, Some(v)) => {
                parse_bool(&v).ok_or_else(|| {
                    ConfigError::flag_set(format!(
                        "invalid boolean value {v:?} for -{name}: parse error"
                    ))
                })?;
                v
            }
            (Kind::Bool, None) => "true".to_string(),
            (Kind::Text, Some(v)) => v,
            (Kind::Text, None) => {
                let Some(v) = args.get(i) else {
                    return Err(ConfigError::flag_set(format!(
                        "flag needs an argument: -{name}"
                    )));
                };
                i += 1;
                v.clone()
            }
        };
        match name {
            "V" => parsed.print_version = parse_bool(&value).unwrap_or(false),
            "print-sample-config" => {
                parsed.print_sample_config = parse_bool(&value).unwrap_or(false)
            }
            _ => parsed.given.push((name.to_string(), value)),
        }
    }
    parsed.positional = args[i..].to_vec();
    Ok(parsed)
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Sets every given flag on the config.
pub fn apply(
    given: &[(String, String)],
    dm: &mut DmMasterConfig,
    own: &mut OwnSettings,
) -> Result<(), ConfigError> {
    // `cert-allowed-cn` appends per occurrence; a second pass over the same
    // flags must not double them, so collect them afresh.
    let mut cns: Option<Vec<String>> = None;
    for (name, value) in given {
        let invalid = || {
            ConfigError::flag_set(format!(
                "invalid value {value:?} for flag -{name}: parse error"
            ))
        };
        let v = value.clone();
        match name.as_str() {
            "openapi" => dm.openapi = parse_bool(value).ok_or_else(invalid)?,
            "config" => dm.config_file = v,
            "master-addr" => dm.master_addr = v,
            "advertise-addr" => dm.advertise_addr = v,
            "L" | "log-level" => dm.log_level = v,
            "log-file" => dm.log_file = v,
            "log-format" => dm.log_format = v,
            "name" => dm.name = v,
            "data-dir" => dm.data_dir = v,
            "initial-cluster" => dm.initial_cluster = v,
            "initial-cluster-state" => dm.initial_cluster_state = v,
            "peer-urls" => dm.peer_urls = v,
            "advertise-peer-urls" => dm.advertise_peer_urls = v,
            "join" => dm.join = v,
            "max-txn-ops" => dm.max_txn_ops = value.parse().map_err(|_| invalid())?,
            "max-request-bytes" => dm.max_request_bytes = value.parse().map_err(|_| invalid())?,
            "auto-compaction-mode" => dm.auto_compaction_mode = v,
            "auto-compaction-retention" => dm.auto_compaction_retention = v,
            "quota-backend-bytes" => {
                dm.quota_backend_bytes = value.parse().map_err(|_| invalid())?
            }
            "ssl-ca" => dm.ssl_ca = v,
            "ssl-cert" => dm.ssl_cert = v,
            "ssl-key" => dm.ssl_key = v,
            "cert-allowed-cn" => cns.get_or_insert_with(Vec::new).push(v),
            "v1-sources-path" => dm.v1_sources_path = v,
            "secret-key-path" => dm.secret_key_path = v,
            "rpc-timeout" => {
                parse_go_duration(value).map_err(|_| invalid())?;
                dm.rpc_timeout = v
            }
            "etcd-endpoints" => own.etcd_endpoints = Some(v),
            "election-ttl" => {
                let secs = match value.parse::<i64>() {
                    Ok(secs) => secs,
                    // A Go duration is accepted too (`5s`).
                    Err(_) => parse_go_duration(value).map_err(|_| invalid())?.as_secs() as i64,
                };
                own.election_ttl = Some(secs)
            }
            _ => {}
        }
    }
    if cns.is_some() {
        dm.cert_allowed_cn = cns;
    }
    Ok(())
}

/// Go's `flag.PrintDefaults` form of the usage text.
pub fn usage() -> String {
    let mut out = String::from("Usage of dm-master:\n");
    for (name, kind, help) in FLAGS {
        let arg = if *kind == Kind::Text { " string" } else { "" };
        out.push_str(&format!("  -{name}{arg}\n    \t{help}\n"));
    }
    out
}
