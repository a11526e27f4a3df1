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
#[serde(default, deny_unknown_fields)]
pub struct Security {
    #[serde(rename = "ssl-ca")]
    pub ssl_ca: String,
    #[serde(rename = "ssl-cert")]
    pub ssl_cert: String,
    #[serde(rename = "ssl-key")]
    pub ssl_key: String,
    #[serde(rename = "cert-allowed-cn")]
    pub cert_allowed_cn: Option<Vec<String>>,
    #[serde(rename = "ssl-ca-bytes")]
    pub ssl_ca_bytes: Option<Vec<u8>>,
    #[serde(rename = "ssl-key-bytes")]
    pub ssl_key_bytes: Option<Vec<u8>>,
    #[serde(rename = "ssl-cert-bytes")]
    pub ssl_cert_bytes: Option<Vec<u8>>,
    #[serde(rename = "ssl-ca-base64")]
    pub ssl_ca_base64: String,
    #[serde(rename = "ssl-key-base64")]
    pub ssl_key_base64: String,
    #[serde(rename = "ssl-cert-base64")]
    pub ssl_cert_base64: String,
}

/// A start position (`meta` of an instance, `[meta]` of a subtask).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Meta {
    #[serde(rename = "binlog-name")]
    pub binlog_name: String,
    #[serde(rename = "binlog-pos")]
    pub binlog_pos: u32,
    #[serde(rename = "binlog-gtid")]
    pub binlog_gtid: String,
}

/// TiDB's table-router `TableRule` (a `routes` entry).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TableRule {
    #[serde(rename = "schema-pattern")]
    pub schema_pattern: String,
    #[serde(rename = "table-pattern")]
    pub table_pattern: String,
    #[serde(rename = "target-schema")]
    pub target_schema: String,
    #[serde(rename = "target-table")]
    pub target_table: String,
    #[serde(rename = "extract-table")]
    pub extract_table: Option<Extractor>,
    #[serde(rename = "extract-schema")]
    pub extract_schema: Option<Extractor>,
    #[serde(rename = "extract-source")]
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
#[serde(default, deny_unknown_fields)]
pub struct BinlogEventRule {
    #[serde(rename = "schema-pattern")]
    pub schema_pattern: String,
    #[serde(rename = "table-pattern")]
    pub table_pattern: String,
    pub events: Option<Vec<String>>,
    #[serde(rename = "sql-pattern")]
    pub sql_pattern: Option<Vec<String>>,
    pub action: String,
}

/// TiDB's table-filter `MySQLReplicationRules` (a `block-allow-list` entry).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BaList {
    #[serde(rename = "do-tables")]
    pub do_tables: Option<Vec<BaTable>>,
    #[serde(rename = "do-dbs")]
    pub do_dbs: Option<Vec<String>>,
    #[serde(rename = "ignore-tables")]
    pub ignore_tables: Option<Vec<BaTable>>,
    #[serde(rename = "ignore-dbs")]
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
#[serde(default, deny_unknown_fields)]
pub struct ExpressionFilter {
    pub schema: String,
    pub table: String,
    #[serde(rename = "insert-value-expr")]
    pub insert_value_expr: String,
    #[serde(rename = "update-old-value-expr")]
    pub update_old_value_expr: String,
    #[serde(rename = "update-new-value-expr")]
    pub update_new_value_expr: String,
    #[serde(rename = "delete-value-expr")]
    pub delete_value_expr: String,
}

/// DM's dump unit config (embedded, so its keys are top-level subtask keys).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MydumperConfig {
    #[serde(rename = "mydumper-path")]
    pub mydumper_path: String,
    pub threads: i64,
    /// yaml.v2 accepts `chunk-filesize: 64` into this string field.
    #[serde(rename = "chunk-filesize", deserialize_with = "go_string")]
    pub chunk_filesize: String,
    #[serde(rename = "statement-size")]
    pub statement_size: u64,
    pub rows: u64,
    #[serde(rename = "where")]
    pub where_: String,
    #[serde(rename = "skip-tz-utc")]
    pub skip_tz_utc: bool,
    #[serde(rename = "extra-args")]
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
#[serde(default)]
pub struct LoaderConfig {
    #[serde(rename = "pool-size")]
    pub pool_size: i64,
    pub dir: String,
    #[serde(rename = "sorting-dir-physical")]
    pub sorting_dir_physical: String,
    #[serde(rename = "import-mode")]
    pub import_mode: String,
    #[serde(rename = "on-duplicate")]
    pub on_duplicate: String,
    #[serde(rename = "on-duplicate-logical")]
    pub on_duplicate_logical: String,
    #[serde(rename = "on-duplicate-physical")]
    pub on_duplicate_physical: String,
    #[serde(rename = "disk-quota-physical")]
    pub disk_quota_physical: ByteSize,
    #[serde(rename = "checksum-physical")]
    pub checksum_physical: String,
    pub analyze: String,
    #[serde(rename = "range-concurrency")]
    pub range_concurrency: i64,
    #[serde(rename = "compress-kv-pairs")]
    pub compress_kv_pairs: String,
    #[serde(rename = "pd-addr")]
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
#[serde(default)]
pub struct SyncerConfig {
    #[serde(rename = "meta-file")]
    pub meta_file: String,
    #[serde(rename = "worker-count")]
    pub worker_count: i64,
    pub batch: i64,
    #[serde(rename = "queue-size")]
    pub queue_size: i64,
    #[serde(rename = "checkpoint-flush-interval")]
    pub checkpoint_flush_interval: i64,
    pub compact: bool,
    #[serde(rename = "multiple-rows")]
    pub multiple_rows: bool,
    #[serde(rename = "max-retry")]
    pub max_retry: i64,
    #[serde(rename = "auto-fix-gtid")]
    pub auto_fix_gtid: bool,
    #[serde(rename = "enable-gtid")]
    pub enable_gtid: bool,
    #[serde(rename = "disable-detect")]
    pub disable_detect: bool,
    #[serde(rename = "safe-mode")]
    pub safe_mode: bool,
    #[serde(rename = "safe-mode-duration", deserialize_with = "go_string")]
    pub safe_mode_duration: String,
    #[serde(rename = "enable-ansi-quotes")]
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
#[serde(default)]
pub struct ValidatorConfig {
    pub mode: String,
    #[serde(rename = "worker-count")]
    pub worker_count: i64,
    #[serde(rename = "validate-interval")]
    pub validate_interval: GoDuration,
    #[serde(rename = "check-interval")]
    pub check_interval: GoDuration,
    #[serde(rename = "row-error-delay")]
    pub row_error_delay: GoDuration,
    #[serde(rename = "meta-flush-interval")]
    pub meta_flush_interval: GoDuration,
    #[serde(rename = "batch-query-size")]
    pub batch_query_size: i64,
    #[serde(rename = "max-pending-row-size", deserialize_with = "go_string")]
    pub max_pending_row_size: String,
    #[serde(rename = "max-pending-row-count")]
    pub max_pending_row_count: i64,
    /// TOML only (`yaml:"-"` in DM).
    #[serde(rename = "start-time", skip_serializing)]
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
