//! The rule, connection and unit objects shared by DM's task YAML and its
//! subtask TOML, with DM's key names.
//!
//! PURE. `Default` is Go's zero value (what DM's TOML decoder leaves for a
//! missing key); DM's YAML defaults are the `dm_default()` constructors,
//! applied by the YAML decoder before the user's keys (DM's custom
//! `UnmarshalYAML`s). Nil versus empty matters on the wire (BurntSushi
//! omits nil, writes `[]` for empty), so optional lists are `Option<Vec<_>>`.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::units::{ByteSize, GoDuration};

/// DM's `dbconfig.DBConfig`: `target-database` in the task, `from`/`to` in
/// the subtask.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DbConfig {
    pub host: String,
    pub port: i64,
    pub user: String,
    /// Plaintext or DM ciphertext, stored as given (DM without a secret key).
    pub password: String,
    #[serde(rename = "max-allowed-packet")]
    pub max_allowed_packet: Option<i64>,
    /// Session variables; `None` is Go's nil map (not written).
    pub session: Option<BTreeMap<String, String>>,
    pub security: Option<Security>,
}

/// DM's `security.Security` (TLS for a database connection).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default, deny_unknown_fields)]
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

/// A start position (`meta` of an instance, `[meta]` of a subtask).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default, deny_unknown_fields)]
pub struct Meta {
    pub binlog_name: String,
    pub binlog_pos: u32,
    pub binlog_gtid: String,
}

/// TiDB's table-router `TableRule` (a `routes` entry).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default, deny_unknown_fields)]
pub struct TableRule {
    pub schema_pattern: String,
    pub table_pattern: String,
    pub target_schema: String,
    pub target_table: String,
    pub extract_table: Option<Extractor>,
    pub extract_schema: Option<Extractor>,
    pub extract_source: Option<Extractor>,
}

/// One of the three extractors of a route (`extract-table`,
/// `extract-schema`, `extract-source`); the regexp key depends on which, so
/// all three spellings are accepted and the writer uses the right one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Extractor {
    #[serde(rename = "target-column")]
    pub target_column: String,
    #[serde(
        rename = "table-regexp",
        alias = "schema-regexp",
        alias = "source-regexp"
    )]
    pub regexp: String,
}

/// DM's binlog-filter `BinlogEventRule` (a `filters` entry).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default, deny_unknown_fields)]
pub struct BinlogEventRule {
    pub schema_pattern: String,
    pub table_pattern: String,
    pub events: Option<Vec<String>>,
    pub sql_pattern: Option<Vec<String>>,
    pub action: String,
}

/// TiDB's table-filter `MySQLReplicationRules` (a `block-allow-list` entry).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default, deny_unknown_fields)]
pub struct BaList {
    pub do_tables: Option<Vec<BaTable>>,
    pub do_dbs: Option<Vec<String>>,
    pub ignore_tables: Option<Vec<BaTable>>,
    pub ignore_dbs: Option<Vec<String>>,
}

/// A qualified table of a block-allow list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BaTable {
    #[serde(rename = "db-name")]
    pub db_name: String,
    #[serde(rename = "tbl-name")]
    pub tbl_name: String,
}

/// DM's `ExpressionFilter` (an `expression-filter` entry).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default, deny_unknown_fields)]
pub struct ExpressionFilter {
    pub schema: String,
    pub table: String,
    pub insert_value_expr: String,
    pub update_old_value_expr: String,
    pub update_new_value_expr: String,
    pub delete_value_expr: String,
}

/// DM's dump unit config (embedded, so its keys are top-level subtask keys).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct MydumperConfig {
    pub mydumper_path: String,
    pub threads: i64,
    /// yaml.v2 accepts `chunk-filesize: 64` into this string field.
    #[serde(deserialize_with = "go_string")]
    pub chunk_filesize: String,
    pub statement_size: u64,
    pub rows: u64,
    #[serde(rename = "where")]
    pub where_: String,
    pub skip_tz_utc: bool,
    pub extra_args: String,
}

impl MydumperConfig {
    /// `DefaultMydumperConfig()`.
    pub fn dm_default() -> MydumperConfig {
        MydumperConfig {
            mydumper_path: "./bin/mydumper".into(),
            threads: 4,
            chunk_filesize: "64".into(),
            skip_tz_utc: true,
            ..MydumperConfig::default()
        }
    }
}

/// DM's load unit config (embedded). Its `security` (PD TLS) is settable
/// only through DM's OpenAPI and is not modelled.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct LoaderConfig {
    pub pool_size: i64,
    pub dir: String,
    pub sorting_dir_physical: String,
    pub import_mode: String,
    pub on_duplicate: String,
    pub on_duplicate_logical: String,
    pub on_duplicate_physical: String,
    pub disk_quota_physical: ByteSize,
    pub checksum_physical: String,
    pub analyze: String,
    pub range_concurrency: i64,
    pub compress_kv_pairs: String,
    pub pd_addr: String,
}

impl LoaderConfig {
    /// `DefaultLoaderConfig()`.
    pub fn dm_default() -> LoaderConfig {
        LoaderConfig {
            pool_size: 16,
            dir: "./dumped_data".into(),
            import_mode: "logical".into(),
            on_duplicate_logical: "replace".into(),
            ..LoaderConfig::default()
        }
    }
}

/// DM's sync unit config (embedded).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct SyncerConfig {
    pub meta_file: String,
    pub worker_count: i64,
    pub batch: i64,
    pub queue_size: i64,
    pub checkpoint_flush_interval: i64,
    pub compact: bool,
    pub multiple_rows: bool,
    pub max_retry: i64,
    pub auto_fix_gtid: bool,
    pub enable_gtid: bool,
    pub disable_detect: bool,
    pub safe_mode: bool,
    #[serde(deserialize_with = "go_string")]
    pub safe_mode_duration: String,
    pub enable_ansi_quotes: bool,
}

impl SyncerConfig {
    /// `DefaultSyncerConfig()`.
    pub fn dm_default() -> SyncerConfig {
        SyncerConfig {
            worker_count: 16,
            batch: 100,
            queue_size: 1024,
            checkpoint_flush_interval: 30,
            safe_mode_duration: "60s".into(),
            ..SyncerConfig::default()
        }
    }
}

/// DM's continuous validator config (`validators` entry, `[ValidatorCfg]`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
pub struct ValidatorConfig {
    pub mode: String,
    pub worker_count: i64,
    pub validate_interval: GoDuration,
    pub check_interval: GoDuration,
    pub row_error_delay: GoDuration,
    pub meta_flush_interval: GoDuration,
    pub batch_query_size: i64,
    #[serde(deserialize_with = "go_string")]
    pub max_pending_row_size: String,
    pub max_pending_row_count: i64,
    /// TOML only (`yaml:"-"` in DM).
    #[serde(skip_serializing)]
    pub start_time: String,
}

impl ValidatorConfig {
    /// `defaultValidatorConfig()`: only the mode is set before `Adjust`.
    pub fn dm_default() -> ValidatorConfig {
        ValidatorConfig {
            mode: "none".into(),
            ..ValidatorConfig::default()
        }
    }
}

/// `experimental` of a task and a subtask.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Experimental {
    #[serde(rename = "async-checkpoint-flush")]
    pub async_checkpoint_flush: bool,
}

/// A string field that, like yaml.v2, also takes a number or a bool scalar
/// as its text.
pub(crate) fn go_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Str(String),
        Int(i64),
        UInt(u64),
        Float(f64),
        Bool(bool),
    }
    Ok(match Scalar::deserialize(d)? {
        Scalar::Str(s) => s,
        Scalar::Int(i) => i.to_string(),
        Scalar::UInt(u) => u.to_string(),
        Scalar::Float(f) => f.to_string(),
        Scalar::Bool(b) => b.to_string(),
    })
}
