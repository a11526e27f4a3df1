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

use serde::Deserialize;

mod encode;
mod error;

pub use error::SourceConfigError;

/// DM's `MaxSourceIDLength`.
pub const MAX_SOURCE_ID_LENGTH: usize = 32;
/// DM's `defaultRelayDir`.
pub const DEFAULT_RELAY_DIR: &str = "relay-dir";
/// DM's `defaultBaseServerID` (`math.MaxUint32 / 10`).
pub const BASE_SERVER_ID: u32 = u32::MAX / 10;

/// A Go `time.Duration` as DM's config `Duration` reads and prints it: the
/// task config's, one parser and printer for every config.
pub use crate::task_config::GoDuration;

/// `from` (`dm/config/dbconfig.DBConfig`) and its `security`
/// (`dm/config/security`): the task config's, so a source's `from` copies
/// into each subtask as it is.
pub use crate::task_config::{DbConfig, Security};

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

/// One source-level binlog event filter: the task config's `filters` entry
/// (`tidb-tools` `BinlogEventRule`).
pub use crate::task_config::BinlogEventRule;

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

#[cfg(test)]
mod tests;
