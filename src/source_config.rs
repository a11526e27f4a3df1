//! DM's source config (`dm/config/source_config.go`): the YAML users give to
//! `operate-source create`, validated as DM validates it, and the TOML bytes
//! stored under `/dm-master/v2/upstream/config/<source>` for Go workers.
//!
//! PURE: no async, no I/O. The upstream facts DM reads on create (flavor,
//! server IDs, GTID mode) come in through [`UpstreamFacts`]; the reading
//! itself lives in `crate::upstream`.
//!
//! Invariants:
//! - Parsing is strict like yaml.v2's `UnmarshalStrict`: an unknown key is
//!   DM's 20003 error, and nothing is written.
//! - The TOML holds exactly the keys Go's `SourceConfig` knows, in BurntSushi
//!   order (docs/protocol.md#configs), so a Go worker's strict decode
//!   accepts it; `checker.backoff-max` is always written.
//! - Passwords are stored as given (DM decrypts only with a secret key, which
//!   this master does not hold, so it stores what the user gave).
//! - Relay is not supported: `enable-relay: true` is refused.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;

use crate::scheduler::error::dm_error_string;
use crate::task_config::quote_str as toml_str;

/// DM's `MaxSourceIDLength`.
pub const MAX_SOURCE_ID_LENGTH: usize = 32;
/// DM's `defaultRelayDir`.
pub const DEFAULT_RELAY_DIR: &str = "relay-dir";
/// DM's `defaultBaseServerID` (`math.MaxUint32 / 10`).
pub const BASE_SERVER_ID: u32 = u32::MAX / 10;

/// Why a source config was refused, with DM's code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceConfigError {
    /// ErrConfigYamlTransform (20003) `decode source config`, the parser's
    /// text as raw cause.
    Yaml { cause: String },
    /// ErrWorkerNeedSourceID (40005).
    NeedSourceId,
    /// ErrWorkerTooLongSourceID (40006).
    TooLongSourceId { source: String },
    /// ErrWorkerRelayBinlogName (40007).
    RelayBinlogName { name: String },
    /// ErrConfigCheckerMaxTooSmall (20043), durations in Go's text.
    CheckerMaxTooSmall { max: String, min: String },
    /// ErrConfigBinlogEventFilter (20037).
    BinlogEventFilter { cause: String },
    /// ErrNotSupportedFlavor (11010).
    NotSupportedFlavor { flavor: String },
    /// ErrInvalidServerID (11015).
    InvalidServerId { detail: String },
    /// ErrSourceCheckGTID (26007).
    CheckGtid { source: String, mode: String },
    /// The upstream could not be reached or read; `cause` is the driver's
    /// text (DM's ErrDBDriverError, 10001).
    Upstream { cause: String },
    /// `enable-relay: true`: relay is not supported by this master.
    RelayNotSupported,
}

impl SourceConfigError {
    pub fn code(&self) -> i32 {
        match self {
            SourceConfigError::Yaml { .. } => 20003,
            SourceConfigError::NeedSourceId => 40005,
            SourceConfigError::TooLongSourceId { .. } => 40006,
            SourceConfigError::RelayBinlogName { .. } => 40007,
            SourceConfigError::CheckerMaxTooSmall { .. } => 20043,
            SourceConfigError::BinlogEventFilter { .. } => 20037,
            SourceConfigError::NotSupportedFlavor { .. } => 11010,
            SourceConfigError::InvalidServerId { .. } => 11015,
            SourceConfigError::CheckGtid { .. } => 26007,
            SourceConfigError::Upstream { .. } => 10001,
            SourceConfigError::RelayNotSupported => 38100,
        }
    }

    fn class(&self) -> &'static str {
        match self {
            SourceConfigError::Yaml { .. }
            | SourceConfigError::CheckerMaxTooSmall { .. }
            | SourceConfigError::BinlogEventFilter { .. } => "config",
            SourceConfigError::NeedSourceId
            | SourceConfigError::TooLongSourceId { .. }
            | SourceConfigError::RelayBinlogName { .. } => "dm-worker",
            SourceConfigError::NotSupportedFlavor { .. }
            | SourceConfigError::InvalidServerId { .. } => "functional",
            SourceConfigError::CheckGtid { .. } => "task-check",
            SourceConfigError::Upstream { .. } => "database",
            SourceConfigError::RelayNotSupported => "dm-master",
        }
    }

    fn level(&self) -> &'static str {
        match self {
            SourceConfigError::CheckerMaxTooSmall { .. }
            | SourceConfigError::BinlogEventFilter { .. }
            | SourceConfigError::NotSupportedFlavor { .. }
            | SourceConfigError::InvalidServerId { .. }
            | SourceConfigError::Upstream { .. }
            | SourceConfigError::RelayNotSupported => "high",
            _ => "medium",
        }
    }

    fn workaround(&self) -> &'static str {
        match self {
            SourceConfigError::Yaml { .. } => {
                "Please check the configuration file has correct YAML format."
            }
            SourceConfigError::CheckerMaxTooSmall { .. } => {
                "Please increase `backoff-max` config in task configuration file."
            }
            SourceConfigError::BinlogEventFilter { .. } => {
                "Please check the `filters` config in source and task configuration files."
            }
            SourceConfigError::NotSupportedFlavor { .. } => {
                "Please check `flavor` config in source configuration file."
            }
            SourceConfigError::CheckGtid { .. } => {
                "Please check the `enable-gtid` config in source configuration file."
            }
            SourceConfigError::Upstream { .. } => {
                "Please check the database connection and the database config in configuration file."
            }
            _ => "",
        }
    }

    fn raw_cause(&self) -> Option<&str> {
        match self {
            SourceConfigError::Yaml { cause }
            | SourceConfigError::BinlogEventFilter { cause }
            | SourceConfigError::Upstream { cause } => Some(cause),
            _ => None,
        }
    }

    /// DM's terror string.
    pub fn dm_string(&self) -> String {
        dm_error_string(
            self.code(),
            self.class(),
            self.level(),
            &self.to_string(),
            self.raw_cause(),
            self.workaround(),
        )
    }
}

impl std::fmt::Display for SourceConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceConfigError::Yaml { .. } => f.write_str("decode source config"),
            SourceConfigError::NeedSourceId => f.write_str("dm-worker should bind a non-empty source ID which represents a MySQL/MariaDB instance or a replica group. \n notice: if you use old version dm-ansible, please update to newest version."),
            SourceConfigError::TooLongSourceId { source } => write!(f, "the length of source ID {source} is more than max allowed value {MAX_SOURCE_ID_LENGTH}"),
            SourceConfigError::RelayBinlogName { name } => write!(f, "relay-binlog-name {name} not valid"),
            SourceConfigError::CheckerMaxTooSmall { max, min } => write!(f, "`backoff-max` value {max} is less than `backoff-min` value {min}"),
            SourceConfigError::BinlogEventFilter { .. } => f.write_str("generate binlog event filter"),
            SourceConfigError::NotSupportedFlavor { flavor } => write!(f, "flavor {flavor} not supported"),
            SourceConfigError::InvalidServerId { detail } => write!(f, "invalid server id {detail}"),
            SourceConfigError::CheckGtid { source, mode } => write!(f, "{source} has GTID_MODE = {mode} instead of ON"),
            SourceConfigError::Upstream { .. } => f.write_str("database driver error"),
            SourceConfigError::RelayNotSupported => f.write_str("enable-relay is not supported by this dm-master"),
        }
    }
}

impl std::error::Error for SourceConfigError {}

/// A Go `time.Duration` as DM's config `Duration` reads and prints it: the
/// task config's, one parser and printer for every config.
pub use crate::task_config::GoDuration;

/// `from.security` (`dm/config/security`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct Security {
    pub ssl_ca: String,
    pub ssl_cert: String,
    pub ssl_key: String,
    pub cert_allowed_cn: Option<Vec<String>>,
    pub ssl_ca_bytes: Option<Vec<u8>>,
    pub ssl_key_bytes: Option<Vec<u8>>,
    pub ssl_cert_bytes: Option<Vec<u8>>,
    pub ssl_ca_base64: String,
    pub ssl_key_base64: String,
    pub ssl_cert_base64: String,
}

/// `from` (`dm/config/dbconfig.DBConfig`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct DbConfig {
    pub host: String,
    pub port: i64,
    pub user: String,
    pub password: String,
    pub max_allowed_packet: Option<i64>,
    pub session: Option<BTreeMap<String, String>>,
    pub security: Option<Security>,
}

/// `purge`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct PurgeConfig {
    pub interval: i64,
    pub expires: i64,
    pub remain_space: i64,
}

impl Default for PurgeConfig {
    fn default() -> Self {
        PurgeConfig {
            interval: 3600,
            expires: 0,
            remain_space: 15,
        }
    }
}

/// `checker`; the last four are overwritten by DM's `Adjust` whatever the
/// user gives.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct CheckerConfig {
    pub check_enable: bool,
    pub backoff_rollback: GoDuration,
    pub backoff_max: GoDuration,
    pub check_interval: GoDuration,
    pub backoff_min: GoDuration,
    pub backoff_jitter: bool,
    pub backoff_factor: f64,
}

impl Default for CheckerConfig {
    fn default() -> Self {
        CheckerConfig {
            check_enable: true,
            backoff_rollback: GoDuration::from_secs(300),
            backoff_max: GoDuration::from_secs(300),
            check_interval: GoDuration::default(),
            backoff_min: GoDuration::default(),
            backoff_jitter: false,
            backoff_factor: 0.0,
        }
    }
}

impl CheckerConfig {
    fn adjust(&mut self) {
        self.check_interval = GoDuration::from_secs(5);
        self.backoff_min = GoDuration::from_secs(1);
        self.backoff_jitter = true;
        self.backoff_factor = 2.0;
    }
}

/// One source-level binlog event filter (`tidb-tools` `BinlogEventRule`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct BinlogEventRule {
    pub schema_pattern: String,
    pub table_pattern: String,
    pub events: Option<Vec<String>>,
    pub sql_pattern: Option<Vec<String>>,
    pub action: String,
}

/// DM's `SourceConfig` after `SourceCfgFromYaml` (defaults, then the YAML).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "kebab-case")]
pub struct SourceConfig {
    pub enable: bool,
    pub enable_gtid: bool,
    pub auto_fix_gtid: bool,
    pub relay_dir: String,
    pub meta_dir: String,
    pub flavor: String,
    pub charset: String,
    pub enable_relay: bool,
    pub relay_binlog_name: String,
    pub relay_binlog_gtid: String,
    pub source_id: String,
    pub from: DbConfig,
    pub purge: PurgeConfig,
    pub checker: CheckerConfig,
    pub server_id: u32,
    /// Deprecated; kept only for DM's strict parse (scalar values).
    pub tracer: Option<BTreeMap<String, serde_json::Value>>,
    pub case_sensitive: bool,
    pub filters: Option<Vec<BinlogEventRule>>,
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            enable: true,
            enable_gtid: false,
            auto_fix_gtid: false,
            relay_dir: String::new(),
            meta_dir: String::new(),
            flavor: String::new(),
            charset: String::new(),
            enable_relay: false,
            relay_binlog_name: String::new(),
            relay_binlog_gtid: String::new(),
            source_id: String::new(),
            from: DbConfig::default(),
            purge: PurgeConfig::default(),
            checker: CheckerConfig::default(),
            server_id: 0,
            tracer: None,
            case_sensitive: false,
            filters: None,
        }
    }
}

/// What DM reads from the upstream on create (`SourceConfig.Adjust`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamFacts {
    /// `SELECT VERSION()`.
    pub version: String,
    /// The upstream's own `server_id` and its replicas' (`SHOW SLAVE HOSTS`).
    pub server_ids: Vec<u32>,
    /// `@@GLOBAL.gtid_mode` (MySQL only; empty when not read).
    pub gtid_mode: String,
}

impl SourceConfig {
    /// `SourceCfgFromYaml`: DM's defaults, the YAML parsed strictly, then
    /// `adjust` (hidden checker values, `auto-fix-gtid` forced false).
    pub fn from_yaml(text: &str) -> Result<SourceConfig, SourceConfigError> {
        let mut cfg: SourceConfig =
            serde_norway::from_str(text).map_err(|e| SourceConfigError::Yaml {
                cause: yaml_cause(&e),
            })?;
        cfg.checker.adjust();
        cfg.auto_fix_gtid = false;
        Ok(cfg)
    }

    /// `Verify`, and the relay refusal.
    pub fn verify(&self) -> Result<(), SourceConfigError> {
        if self.source_id.is_empty() {
            return Err(SourceConfigError::NeedSourceId);
        }
        if self.source_id.len() > MAX_SOURCE_ID_LENGTH {
            return Err(SourceConfigError::TooLongSourceId {
                source: self.source_id.clone(),
            });
        }
        if !self.relay_binlog_name.is_empty() && !valid_binlog_name(&self.relay_binlog_name) {
            return Err(SourceConfigError::RelayBinlogName {
                name: self.relay_binlog_name.clone(),
            });
        }
        for rule in self.filters.iter().flatten() {
            if !matches!(
                rule.action.to_ascii_lowercase().as_str(),
                "do" | "ignore" | "error"
            ) {
                return Err(SourceConfigError::BinlogEventFilter {
                    cause: format!("action {} is invalid", rule.action),
                });
            }
        }
        if self.checker.backoff_max < self.checker.backoff_min {
            return Err(SourceConfigError::CheckerMaxTooSmall {
                max: self.checker.backoff_max.to_string(),
                min: self.checker.backoff_min.to_string(),
            });
        }
        if self.enable_relay {
            return Err(SourceConfigError::RelayNotSupported);
        }
        Ok(())
    }

    /// Whether create must read the upstream (flavor or server-id unset, or
    /// a MySQL GTID check).
    pub fn needs_upstream(&self) -> bool {
        self.flavor.is_empty()
            || self.server_id == 0
            || (self.enable_gtid && self.flavor != "mariadb")
    }

    /// `SourceConfig.Adjust` on create, with the upstream's answers.
    /// `random` picks a server ID candidate in `[0, 100000)`.
    pub fn adjust_with_upstream(
        &mut self,
        facts: &UpstreamFacts,
        mut random: impl FnMut() -> u32,
    ) -> Result<(), SourceConfigError> {
        if self.flavor.is_empty() || self.server_id == 0 {
            if self.flavor.is_empty() {
                self.flavor = if facts.version.to_ascii_lowercase().contains("mariadb") {
                    "mariadb".into()
                } else {
                    "mysql".into()
                };
            } else if self.flavor != "mysql" && self.flavor != "mariadb" {
                return Err(SourceConfigError::NotSupportedFlavor {
                    flavor: self.flavor.clone(),
                });
            }
            if self.server_id == 0 {
                let mut chosen = None;
                for _ in 0..5 {
                    let candidate = BASE_SERVER_ID + random() % 100_000;
                    if !facts.server_ids.contains(&candidate) {
                        chosen = Some(candidate);
                        break;
                    }
                }
                self.server_id = chosen.ok_or_else(|| SourceConfigError::InvalidServerId {
                    detail: "can't find a random available server ID".into(),
                })?;
            }
        }
        if self.enable_gtid && self.flavor != "mariadb" && facts.gtid_mode != "ON" {
            return Err(SourceConfigError::CheckGtid {
                source: self.source_id.clone(),
                mode: facts.gtid_mode.clone(),
            });
        }
        if self.relay_dir.is_empty() {
            self.relay_dir = DEFAULT_RELAY_DIR.into();
        }
        Ok(())
    }

    /// BurntSushi TOML of the config, as DM stores it.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, indent: &str, key: &str, value: &str| {
            let _ = writeln!(out, "{indent}{key} = {value}");
        };
        let b = |v: bool| v.to_string();
        line(&mut out, "", "enable", &b(self.enable));
        line(&mut out, "", "enable-gtid", &b(self.enable_gtid));
        line(&mut out, "", "auto-fix-gtid", &b(self.auto_fix_gtid));
        line(&mut out, "", "relay-dir", &toml_str(&self.relay_dir));
        line(&mut out, "", "meta-dir", &toml_str(&self.meta_dir));
        line(&mut out, "", "flavor", &toml_str(&self.flavor));
        line(&mut out, "", "charset", &toml_str(&self.charset));
        line(&mut out, "", "enable-relay", &b(self.enable_relay));
        line(
            &mut out,
            "",
            "relay-binlog-name",
            &toml_str(&self.relay_binlog_name),
        );
        line(
            &mut out,
            "",
            "relay-binlog-gtid",
            &toml_str(&self.relay_binlog_gtid),
        );
        line(&mut out, "", "source-id", &toml_str(&self.source_id));
        line(&mut out, "", "server-id", &self.server_id.to_string());
        line(&mut out, "", "case-sensitive", &b(self.case_sensitive));
        if self.filters.as_ref().is_some_and(Vec::is_empty) {
            line(&mut out, "", "filters", "[]");
        }

        let i = "  ";
        out.push_str("\n[from]\n");
        line(&mut out, i, "host", &toml_str(&self.from.host));
        line(&mut out, i, "port", &self.from.port.to_string());
        line(&mut out, i, "user", &toml_str(&self.from.user));
        line(&mut out, i, "password", &toml_str(&self.from.password));
        if let Some(packet) = self.from.max_allowed_packet {
            line(&mut out, i, "max-allowed-packet", &packet.to_string());
        }
        if let Some(session) = &self.from.session {
            out.push_str("  [from.session]\n");
            for (key, value) in session {
                line(&mut out, "    ", &toml_key(key), &toml_str(value));
            }
        }
        if let Some(sec) = &self.from.security {
            let ii = "    ";
            out.push_str("  [from.security]\n");
            line(&mut out, ii, "ssl-ca", &toml_str(&sec.ssl_ca));
            line(&mut out, ii, "ssl-cert", &toml_str(&sec.ssl_cert));
            line(&mut out, ii, "ssl-key", &toml_str(&sec.ssl_key));
            if let Some(cns) = &sec.cert_allowed_cn {
                line(
                    &mut out,
                    ii,
                    "cert-allowed-cn",
                    &toml_list(cns.iter().map(|s| toml_str(s))),
                );
            }
            for (key, bytes) in [
                ("ssl-ca-bytes", &sec.ssl_ca_bytes),
                ("ssl-key-bytes", &sec.ssl_key_bytes),
                ("ssl-cert-bytes", &sec.ssl_cert_bytes),
            ] {
                if let Some(bytes) = bytes {
                    line(
                        &mut out,
                        ii,
                        key,
                        &toml_list(bytes.iter().map(u8::to_string)),
                    );
                }
            }
            line(&mut out, ii, "ssl-ca-base64", &toml_str(&sec.ssl_ca_base64));
            line(
                &mut out,
                ii,
                "ssl-key-base64",
                &toml_str(&sec.ssl_key_base64),
            );
            line(
                &mut out,
                ii,
                "ssl-cert-base64",
                &toml_str(&sec.ssl_cert_base64),
            );
        }

        out.push_str("\n[purge]\n");
        line(&mut out, i, "interval", &self.purge.interval.to_string());
        line(&mut out, i, "expires", &self.purge.expires.to_string());
        line(
            &mut out,
            i,
            "remain-space",
            &self.purge.remain_space.to_string(),
        );

        let c = &self.checker;
        out.push_str("\n[checker]\n");
        line(&mut out, i, "check-enable", &b(c.check_enable));
        line(
            &mut out,
            i,
            "backoff-rollback",
            &toml_str(&c.backoff_rollback.to_string()),
        );
        line(
            &mut out,
            i,
            "backoff-max",
            &toml_str(&c.backoff_max.to_string()),
        );
        line(
            &mut out,
            i,
            "check-interval",
            &toml_str(&c.check_interval.to_string()),
        );
        line(
            &mut out,
            i,
            "backoff-min",
            &toml_str(&c.backoff_min.to_string()),
        );
        line(&mut out, i, "backoff-jitter", &b(c.backoff_jitter));
        line(&mut out, i, "backoff-factor", &go_float(c.backoff_factor));

        if let Some(tracer) = &self.tracer {
            out.push_str("\n[tracer]\n");
            for (key, value) in tracer {
                if let Some(text) = toml_scalar(value) {
                    line(&mut out, i, &toml_key(key), &text);
                }
            }
        }

        for rule in self.filters.iter().flatten() {
            out.push_str("\n[[filters]]\n");
            line(
                &mut out,
                i,
                "schema-pattern",
                &toml_str(&rule.schema_pattern),
            );
            line(&mut out, i, "table-pattern", &toml_str(&rule.table_pattern));
            if let Some(events) = &rule.events {
                line(
                    &mut out,
                    i,
                    "events",
                    &toml_list(events.iter().map(|s| toml_str(s))),
                );
            }
            if let Some(sqls) = &rule.sql_pattern {
                line(
                    &mut out,
                    i,
                    "sql-pattern",
                    &toml_list(sqls.iter().map(|s| toml_str(s))),
                );
            }
            line(&mut out, i, "action", &toml_str(&rule.action));
        }
        out
    }
}

/// yaml.v2's text for an unknown key, which users and scripts grep for;
/// other parser messages are serde_norway's.
fn yaml_cause(error: &serde_norway::Error) -> String {
    let text = error.to_string();
    if let Some(rest) = text.split("unknown field `").nth(1) {
        let field = rest.split('`').next().unwrap_or_default();
        let line = error.location().map(|l| l.line()).unwrap_or(0);
        return format!(
            "yaml: unmarshal errors:\n  line {line}: field {field} not found in type config.SourceConfig"
        );
    }
    text
}

/// DM's `utils.VerifyFilename` for binlog names: `<base>.<digits>`.
fn valid_binlog_name(name: &str) -> bool {
    match name.rsplit_once('.') {
        Some((base, seq)) => {
            !base.is_empty() && !seq.is_empty() && seq.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

fn toml_list(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(", "))
}

fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        key.to_owned()
    } else {
        toml_str(key)
    }
}

/// Go's shortest `%g` float with `.0` appended when it has no `.` or `e`.
fn go_float(f: f64) -> String {
    let text = format!("{f}");
    if text.contains('.') || text.contains('e') || text.contains("inf") || text.contains("NaN") {
        text
    } else {
        format!("{text}.0")
    }
}

fn toml_scalar(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) => Some(match n.as_f64() {
            Some(f) if !n.is_i64() && !n.is_u64() => go_float(f),
            _ => n.to_string(),
        }),
        serde_json::Value::String(s) => Some(toml_str(s)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
