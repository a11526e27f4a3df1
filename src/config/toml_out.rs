//! Renders the adjusted master config as BurntSushi's TOML encoder writes
//! DM's `Config` (`GetMasterCfg`): struct field order, `key = value` lines,
//! nil lists omitted, the `[experimental]` table last.

use std::fmt::Write;

use super::DmMasterConfig;
use crate::task_config::quote_str as quote;

/// The TOML text of `cfg`, byte for byte as DM's `Config.Toml()`.
pub fn render(cfg: &DmMasterConfig) -> String {
    let mut out = String::new();
    let s = |out: &mut String, key: &str, v: &str| {
        let _ = writeln!(out, "{key} = {}", quote(v));
    };
    s(&mut out, "log-level", &cfg.log_level);
    s(&mut out, "log-file", &cfg.log_file);
    s(&mut out, "log-format", &cfg.log_format);
    s(&mut out, "log-rotate", &cfg.log_rotate);
    s(&mut out, "rpc-timeout", &cfg.rpc_timeout);
    let _ = writeln!(out, "rpc-rate-limit = {}", float(cfg.rpc_rate_limit));
    let _ = writeln!(out, "rpc-rate-burst = {}", cfg.rpc_rate_burst);
    s(&mut out, "master-addr", &cfg.master_addr);
    s(&mut out, "advertise-addr", &cfg.advertise_addr);
    s(&mut out, "config-file", &cfg.config_file);
    s(&mut out, "name", &cfg.name);
    s(&mut out, "data-dir", &cfg.data_dir);
    s(&mut out, "peer-urls", &cfg.peer_urls);
    s(&mut out, "advertise-peer-urls", &cfg.advertise_peer_urls);
    s(&mut out, "initial-cluster", &cfg.initial_cluster);
    s(
        &mut out,
        "initial-cluster-state",
        &cfg.initial_cluster_state,
    );
    s(&mut out, "join", &cfg.join);
    let _ = writeln!(out, "max-txn-ops = {}", cfg.max_txn_ops);
    let _ = writeln!(out, "max-request-bytes = {}", cfg.max_request_bytes);
    s(&mut out, "auto-compaction-mode", &cfg.auto_compaction_mode);
    s(
        &mut out,
        "auto-compaction-retention",
        &cfg.auto_compaction_retention,
    );
    let _ = writeln!(out, "quota-backend-bytes = {}", cfg.quota_backend_bytes);
    let _ = writeln!(out, "openapi = {}", cfg.openapi);
    s(&mut out, "v1-sources-path", &cfg.v1_sources_path);
    s(&mut out, "ssl-ca", &cfg.ssl_ca);
    s(&mut out, "ssl-cert", &cfg.ssl_cert);
    s(&mut out, "ssl-key", &cfg.ssl_key);
    if let Some(cns) = &cfg.cert_allowed_cn {
        let items: Vec<String> = cns.iter().map(|c| quote(c)).collect();
        let _ = writeln!(out, "cert-allowed-cn = [{}]", items.join(", "));
    }
    s(&mut out, "ssl-ca-base64", &cfg.ssl_ca_base64);
    s(&mut out, "ssl-key-base64", &cfg.ssl_key_base64);
    s(&mut out, "ssl-cert-base64", &cfg.ssl_cert_base64);
    s(&mut out, "secret-key-path", &cfg.secret_key_path);
    out.push_str("\n[experimental]\n");
    if cfg.experimental_openapi {
        out.push_str("  openapi = true\n");
    }
    out
}

/// A float as BurntSushi writes it: shortest form, `.0` when integral.
fn float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}
