//! DM's `SubTaskConfig`: generated per source from a task, encoded as the
//! exact TOML DM stores at `/dm-master/upstream/subtask/<source>/<task>`,
//! and decoded back (leniently, then `Adjust`ed) as DM's worker and a new
//! leader do.
//!
//! PURE. Invariant: every [`SubTaskConfig`] this module hands out has passed
//! [`SubTaskConfig::adjust`], so its TOML is what DM would store and a DM
//! worker accepts it.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::error::ConfigError;
use super::model::{
    BaList, BaTable, BinlogEventRule, DbConfig, Experimental, ExpressionFilter, Extractor,
    LoaderConfig, Meta, MydumperConfig, Security, SyncerConfig, TableRule, ValidatorConfig,
};
use super::password::{decrypt_or_plaintext, SecretKey};
use super::task_yaml::{
    adjust_loader, adjust_online_ddl_scheme, adjust_syncer_intervals, adjust_validator,
    check_shard_mode, has_load, TaskConfig,
};
use super::toml_writer::Table;
use super::units::check_file_size;
use crate::task::{RouteRule, ShardMode, SubTask};

/// DM's default online-DDL shadow and trash table rules.
pub const DEFAULT_SHADOW_TABLE_RULES: &str = "^_(.+)_(?:new|gho)$";
pub const DEFAULT_TRASH_TABLE_RULES: &str = "^_(.+)_(?:ghc|del|old)$";
/// DM's `MaxSourceIDLength`.
pub const MAX_SOURCE_ID_LENGTH: usize = 32;

/// The IDs DM's `InitIOCounters` gives a subtask. DM writes them with two
/// empty counter tables; a DM worker then dials through a connection named
/// by the UUID. All four keys are written together or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoCounters {
    pub uuid: String,
    pub dump_uuid: String,
}

/// DM's `SubTaskConfig`, field for field in DM's declaration order (the
/// order of the TOML it writes). `Default` is Go's zero value.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct SubTaskConfig {
    #[serde(rename = "is-sharding")]
    pub is_sharding: bool,
    #[serde(rename = "shard-mode")]
    pub shard_mode: String,
    #[serde(rename = "strict-optimistic-shard-mode")]
    pub strict_optimistic_shard_mode: bool,
    #[serde(rename = "online-ddl")]
    pub online_ddl: bool,
    #[serde(rename = "shadow-table-rules")]
    pub shadow_table_rules: Option<Vec<String>>,
    #[serde(rename = "trash-table-rules")]
    pub trash_table_rules: Option<Vec<String>>,
    #[serde(rename = "online-ddl-scheme")]
    pub online_ddl_scheme: String,
    #[serde(rename = "case-sensitive")]
    pub case_sensitive: bool,
    pub collation_compatible: String,
    pub name: String,
    pub mode: String,
    #[serde(rename = "ignore-checking-items")]
    pub ignore_checking_items: Option<Vec<String>>,
    #[serde(rename = "source-id")]
    pub source_id: String,
    #[serde(rename = "server-id")]
    pub server_id: u32,
    pub flavor: String,
    #[serde(rename = "meta-schema")]
    pub meta_schema: String,
    #[serde(rename = "heartbeat-update-interval")]
    pub heartbeat_update_interval: i64,
    #[serde(rename = "heartbeat-report-interval")]
    pub heartbeat_report_interval: i64,
    #[serde(rename = "enable-heartbeat")]
    pub enable_heartbeat: bool,
    pub timezone: String,
    pub meta: Option<Meta>,
    #[serde(rename = "relay-dir")]
    pub relay_dir: String,
    #[serde(rename = "use-relay")]
    pub use_relay: bool,
    pub from: DbConfig,
    pub to: DbConfig,
    #[serde(rename = "route-rules")]
    pub route_rules: Option<Vec<TableRule>>,
    #[serde(rename = "filter-rules")]
    pub filter_rules: Option<Vec<BinlogEventRule>>,
    /// Deprecated column mappings: only their count matters (must be 0).
    #[serde(rename = "mapping-rule")]
    pub mapping_rule: Option<Vec<IgnoredAny>>,
    #[serde(rename = "expression-filter")]
    pub expression_filter: Option<Vec<ExpressionFilter>>,
    #[serde(rename = "black-white-list")]
    pub black_white_list: Option<BaList>,
    #[serde(rename = "block-allow-list")]
    pub block_allow_list: Option<BaList>,
    #[serde(flatten)]
    pub mydumper: MydumperConfig,
    #[serde(flatten)]
    pub loader: LoaderConfig,
    #[serde(flatten)]
    pub syncer: SyncerConfig,
    #[serde(rename = "ValidatorCfg")]
    pub validator: ValidatorConfig,
    #[serde(rename = "log-level")]
    pub log_level: String,
    #[serde(rename = "log-file")]
    pub log_file: String,
    #[serde(rename = "log-format")]
    pub log_format: String,
    #[serde(rename = "log-rotate")]
    pub log_rotate: String,
    #[serde(rename = "pprof-addr")]
    pub pprof_addr: String,
    #[serde(rename = "status-addr")]
    pub status_addr: String,
    #[serde(rename = "clean-dump-file")]
    pub clean_dump_file: bool,
    #[serde(rename = "ansi-quotes")]
    pub ansi_quotes: bool,
    pub experimental: Experimental,
    pub uuid: String,
    #[serde(rename = "io-total-bytes")]
    pub io_total_bytes: Option<IgnoredAny>,
    #[serde(rename = "dump-uuid")]
    pub dump_uuid: String,
    #[serde(rename = "dump-io-total-bytes")]
    pub dump_io_total_bytes: Option<IgnoredAny>,
}

/// What the shard-DDL coordinators need of a subtask (the task registry's
/// input), see [`SubTaskConfig::registry_input`].
pub type RegistryInput = SubTask;

impl TaskConfig {
    /// DM's `TaskConfigToSubTaskConfigs` + `Adjust(true)`: one subtask per
    /// instance, in instance order. `sources` maps a source ID to its
    /// source config's `from` (as the master holds it). An instance whose
    /// source is missing → 20031. All subtasks must share one
    /// `import-mode` (20053).
    ///
    /// The counter IDs are left empty ([`SubTaskConfig::set_io_counters`]
    /// adds fresh ones, which needs randomness this module does not have).
    pub fn subtask_configs(
        &self,
        sources: &BTreeMap<String, DbConfig>,
    ) -> Result<Vec<SubTaskConfig>, ConfigError> {
        let target = self
            .target_database
            .clone()
            .ok_or(ConfigError::NeedTargetDb)?;
        let mut subtasks = Vec::with_capacity(self.mysql_instances.len());
        for inst in &self.mysql_instances {
            let from = sources.get(&inst.source_id).cloned().ok_or_else(|| {
                ConfigError::SourceNotFound {
                    source_id: inst.source_id.clone(),
                }
            })?;
            let mut cfg = SubTaskConfig {
                is_sharding: self.is_sharding,
                shard_mode: self.shard_mode.clone(),
                strict_optimistic_shard_mode: self.strict_optimistic_shard_mode,
                online_ddl: self.online_ddl,
                shadow_table_rules: self.shadow_table_rules.clone(),
                trash_table_rules: self.trash_table_rules.clone(),
                ignore_checking_items: self.ignore_checking_items.clone(),
                name: self.name.clone(),
                mode: self.task_mode.clone(),
                case_sensitive: self.case_sensitive,
                collation_compatible: self.collation_compatible.clone(),
                source_id: inst.source_id.clone(),
                meta_schema: self.meta_schema.clone(),
                heartbeat_update_interval: self.heartbeat_update_interval,
                heartbeat_report_interval: self.heartbeat_report_interval,
                enable_heartbeat: false,
                timezone: self.timezone.clone(),
                meta: inst.meta.clone(),
                from,
                to: target.clone(),
                route_rules: Some(
                    inst.route_rules
                        .iter()
                        .filter_map(|n| self.routes.get(n).cloned())
                        .collect(),
                ),
                filter_rules: Some(
                    inst.filter_rules
                        .iter()
                        .filter_map(|n| self.filters.get(n).cloned())
                        .collect(),
                ),
                mapping_rule: Some(Vec::new()),
                expression_filter: Some(
                    inst.expression_filters
                        .iter()
                        .filter_map(|n| self.expression_filter.get(n).cloned())
                        .collect(),
                ),
                block_allow_list: self.block_allow_list.get(&inst.ba_list_name).cloned(),
                mydumper: inst
                    .mydumper
                    .clone()
                    .unwrap_or_else(MydumperConfig::dm_default),
                loader: inst.loader.clone().unwrap_or_else(LoaderConfig::dm_default),
                syncer: inst.syncer.clone().unwrap_or_else(SyncerConfig::dm_default),
                validator: inst.validator.clone(),
                clean_dump_file: self.clean_dump_file,
                experimental: self.experimental.clone(),
                ..SubTaskConfig::default()
            };
            cfg.adjust()?;
            subtasks.push(cfg);
        }
        if let Some(first) = subtasks.first() {
            let mode = first.loader.import_mode.clone();
            if let Some(other) = subtasks.iter().find(|s| s.loader.import_mode != mode) {
                return Err(ConfigError::TwoImportModes {
                    first: mode,
                    second: other.loader.import_mode.clone(),
                });
            }
        }
        Ok(subtasks)
    }
}

/// DM's `AdjustTargetDBSessionCfg` for a TiDB ≥ 3.0.0 downstream (the
/// caller knows the version): session keys lower-cased and
/// `tidb_txn_mode = "optimistic"` added unless present. Other downstreams
/// keep their session unchanged, so this is not called for them.
pub fn adjust_session_for_tidb(to: &mut DbConfig) {
    let mut lowered: BTreeMap<String, String> = to
        .session
        .take()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.to_lowercase(), v))
        .collect();
    lowered
        .entry("tidb_txn_mode".into())
        .or_insert_with(|| "optimistic".into());
    to.session = Some(lowered);
}

impl SubTaskConfig {
    /// DM's `SubTaskConfig.Decode`: lenient TOML (unknown keys ignored, a
    /// known key of the wrong type → 20002), then [`SubTaskConfig::adjust`].
    pub fn from_toml(text: &str) -> Result<SubTaskConfig, ConfigError> {
        let mut cfg: SubTaskConfig = toml::from_str(text).map_err(|e| ConfigError::TomlDecode {
            context: "decode subtask config from data",
            cause: e.to_string(),
        })?;
        cfg.adjust()?;
        Ok(cfg)
    }

    /// The TOML bytes DM's BurntSushi encoder writes for this config.
    pub fn to_toml(&self) -> String {
        self.to_table().encode()
    }

    /// Gives the subtask the counter IDs DM's `InitIOCounters` generates.
    pub fn set_io_counters(&mut self, ids: IoCounters) {
        self.uuid = ids.uuid;
        self.dump_uuid = ids.dump_uuid;
        self.io_total_bytes = Some(IgnoredAny);
        self.dump_io_total_bytes = Some(IgnoredAny);
    }

    /// DM's password step of `Adjust` with the master's secret key: `from`
    /// and `to` passwords that are DM ciphertext become plaintext (stored
    /// so, as DM does); anything else is kept.
    pub fn decrypt_passwords(&mut self, key: Option<&SecretKey>) {
        for db in [&mut self.from, &mut self.to] {
            if !db.password.is_empty() {
                db.password = decrypt_or_plaintext(key, &db.password);
            }
        }
    }

    /// The effective shard mode (after `adjust`).
    pub fn shard_mode(&self) -> ShardMode {
        // `adjust` rejected unknown values; a raw one reads as `is-sharding` says.
        ShardMode::from_config(&self.shard_mode, self.is_sharding).unwrap_or(if self.is_sharding {
            ShardMode::Pessimistic
        } else {
            ShardMode::None
        })
    }

    /// The task registry's input for this subtask: task, source, shard
    /// mode and routes (the part of a route the coordinators use).
    pub fn registry_input(&self) -> RegistryInput {
        SubTask {
            task: self.name.clone(),
            source: self.source_id.clone(),
            mode: self.shard_mode(),
            routes: self
                .route_rules
                .iter()
                .flatten()
                .map(|r| RouteRule {
                    schema_pattern: r.schema_pattern.clone(),
                    table_pattern: r.table_pattern.clone(),
                    target_schema: r.target_schema.clone(),
                    target_table: r.target_table.clone(),
                })
                .collect(),
        }
    }

    /// DM's `SubTaskConfig.Adjust(true)`, in DM's order. Idempotent: a
    /// config that passed it passes again unchanged (the worker and a new
    /// leader adjust what the master stored).
    pub fn adjust(&mut self) -> Result<(), ConfigError> {
        if self.name.is_empty() {
            return Err(ConfigError::TaskNameEmpty);
        }
        if self.source_id.is_empty() {
            return Err(ConfigError::EmptySourceId);
        }
        if self.source_id.len() > MAX_SOURCE_ID_LENGTH {
            return Err(ConfigError::TooLongSourceId);
        }
        check_shard_mode(
            &mut self.shard_mode,
            self.is_sharding,
            self.strict_optimistic_shard_mode,
        )?;
        let import_into = self.loader.import_mode.eq_ignore_ascii_case("import-into");
        if import_into && (!self.shard_mode.is_empty() || self.is_sharding) {
            return Err(ConfigError::ImportIntoSharding);
        }
        if import_into && (self.loader.dir.trim().is_empty() || is_local_path(&self.loader.dir)) {
            return Err(ConfigError::ImportIntoNeedsSharedStorage {
                dir: self.loader.dir.clone(),
            });
        }
        if self.mapping_rule.as_ref().is_some_and(|m| !m.is_empty()) {
            return Err(ConfigError::ColumnMappingDeprecated);
        }
        adjust_online_ddl_scheme(&self.online_ddl_scheme, &mut self.online_ddl)?;
        self.shadow_table_rules = Some(adjust_online_table_rules(
            "shadow-table-rules",
            self.shadow_table_rules.take(),
            DEFAULT_SHADOW_TABLE_RULES,
        )?);
        self.trash_table_rules = Some(adjust_online_table_rules(
            "trash-table-rules",
            self.trash_table_rules.take(),
            DEFAULT_TRASH_TABLE_RULES,
        )?);
        if self.meta_schema.is_empty() {
            self.meta_schema = "dm_meta".into();
        }
        if has_load(&self.mode) && self.mode != "load&sync" && self.mode != "load" {
            let is_s3 = url_scheme(&self.loader.dir) == Some("s3");
            if is_s3 && self.loader.import_mode == "loader" {
                return Err(ConfigError::LoaderS3NotSupported {
                    dir: self.loader.dir.clone(),
                });
            }
            let suffix = if is_s3 {
                format!("/{}.{}", self.name, self.source_id)
            } else {
                format!(".{}", self.name)
            };
            self.loader.dir = adjust_path(&self.loader.dir, &suffix);
        }
        if has_load(&self.mode) && self.loader.sorting_dir_physical.is_empty() {
            self.loader.sorting_dir_physical = if is_local_path(&self.loader.dir) {
                format!("{}.sorting", self.loader.dir)
            } else {
                format!("./sorting.{}", url_path_escape(&self.name))
            };
        }
        adjust_syncer_intervals(&mut self.syncer)?;
        if foreign_key_checks_on(self.to.session.as_ref()) {
            if self.syncer.compact {
                return Err(ConfigError::ForeignKeyChecksOption { option: "compact" });
            }
            if self.syncer.multiple_rows {
                return Err(ConfigError::ForeignKeyChecksOption {
                    option: "multiple-rows",
                });
            }
        }
        if !self.timezone.is_empty() {
            set_session_time_zone(&mut self.from, &self.timezone);
            set_session_time_zone(&mut self.to, &self.timezone);
        }
        if self.block_allow_list.is_none() && self.black_white_list.is_some() {
            self.block_allow_list = self.black_white_list.clone();
        }
        if !self.case_sensitive {
            self.lower_case_patterns();
        }
        self.check_rules()?;
        check_file_size(&self.mydumper.chunk_filesize).map_err(|_| {
            ConfigError::InvalidChunkFileSize {
                value: self.mydumper.chunk_filesize.clone(),
            }
        })?;
        adjust_loader(&mut self.loader)?;
        adjust_validator(&mut self.validator)?;
        Ok(())
    }

    /// DM's case-insensitive filters and routers lower-case their rules in
    /// place, so the stored TOML carries lower-cased patterns (targets keep
    /// their case).
    fn lower_case_patterns(&mut self) {
        for list in [&mut self.block_allow_list, &mut self.black_white_list]
            .into_iter()
            .flatten()
        {
            for dbs in [&mut list.do_dbs, &mut list.ignore_dbs]
                .into_iter()
                .flatten()
            {
                for db in dbs.iter_mut() {
                    *db = db.to_lowercase();
                }
            }
            for tables in [&mut list.do_tables, &mut list.ignore_tables]
                .into_iter()
                .flatten()
            {
                for t in tables.iter_mut() {
                    t.db_name = t.db_name.to_lowercase();
                    t.tbl_name = t.tbl_name.to_lowercase();
                }
            }
        }
        for r in self.route_rules.iter_mut().flatten() {
            r.schema_pattern = r.schema_pattern.to_lowercase();
            r.table_pattern = r.table_pattern.to_lowercase();
        }
        for f in self.filter_rules.iter_mut().flatten() {
            f.schema_pattern = f.schema_pattern.to_lowercase();
            f.table_pattern = f.table_pattern.to_lowercase();
        }
    }

    /// The rule checks DM's router and binlog-filter constructors make.
    fn check_rules(&self) -> Result<(), ConfigError> {
        check_route_rules(self.route_rules.as_deref().unwrap_or_default())?;
        for f in self.filter_rules.iter().flatten() {
            if !["do", "ignore", "error"].contains(&f.action.to_lowercase().as_str()) {
                return Err(ConfigError::GenBinlogEventFilter {
                    cause: format!("action {} is not valid", f.action),
                });
            }
            for pattern in f.sql_pattern.iter().flatten() {
                if let Err(e) = regex::Regex::new(&format!("(?i){pattern}")) {
                    return Err(ConfigError::GenBinlogEventFilter {
                        cause: format!("compile regular expression {pattern}: {e}"),
                    });
                }
            }
        }
        Ok(())
    }

    /// This config as the BurntSushi encoder sees the Go struct.
    fn to_table(&self) -> Table {
        let mut t = Table::new();
        t.bool("is-sharding", self.is_sharding)
            .str("shard-mode", &self.shard_mode)
            .bool(
                "strict-optimistic-shard-mode",
                self.strict_optimistic_shard_mode,
            )
            .bool("online-ddl", self.online_ddl)
            .strs("shadow-table-rules", self.shadow_table_rules.as_deref())
            .strs("trash-table-rules", self.trash_table_rules.as_deref())
            .str("online-ddl-scheme", &self.online_ddl_scheme)
            .bool("case-sensitive", self.case_sensitive)
            .str("collation_compatible", &self.collation_compatible)
            .str("name", &self.name)
            .str("mode", &self.mode)
            .strs(
                "ignore-checking-items",
                self.ignore_checking_items.as_deref(),
            )
            .str("source-id", &self.source_id)
            .int("server-id", i64::from(self.server_id))
            .str("flavor", &self.flavor)
            .str("meta-schema", &self.meta_schema)
            .int("heartbeat-update-interval", self.heartbeat_update_interval)
            .int("heartbeat-report-interval", self.heartbeat_report_interval)
            .bool("enable-heartbeat", self.enable_heartbeat)
            .str("timezone", &self.timezone);
        if let Some(meta) = &self.meta {
            let mut m = Table::new();
            m.str("binlog-name", &meta.binlog_name)
                .int("binlog-pos", i64::from(meta.binlog_pos))
                .str("binlog-gtid", &meta.binlog_gtid);
            t.table("meta", m);
        }
        t.str("relay-dir", &self.relay_dir)
            .bool("use-relay", self.use_relay)
            .table("from", db_table(&self.from))
            .table("to", db_table(&self.to))
            .tables(
                "route-rules",
                self.route_rules
                    .as_ref()
                    .map(|rs| rs.iter().map(route_table).collect()),
            )
            .tables(
                "filter-rules",
                self.filter_rules
                    .as_ref()
                    .map(|fs| fs.iter().map(filter_table).collect()),
            )
            .tables(
                "mapping-rule",
                self.mapping_rule
                    .as_ref()
                    .map(|m| m.iter().map(|_| Table::new()).collect()),
            )
            .tables(
                "expression-filter",
                self.expression_filter
                    .as_ref()
                    .map(|es| es.iter().map(expression_table).collect()),
            );
        if let Some(bw) = &self.black_white_list {
            t.table("black-white-list", ba_table(bw));
        }
        if let Some(ba) = &self.block_allow_list {
            t.table("block-allow-list", ba_table(ba));
        }
        let d = &self.mydumper;
        t.str("mydumper-path", &d.mydumper_path)
            .int("threads", d.threads)
            .str("chunk-filesize", &d.chunk_filesize)
            .int("statement-size", d.statement_size as i64)
            .int("rows", d.rows as i64)
            .str("where", &d.where_)
            .bool("skip-tz-utc", d.skip_tz_utc)
            .str("extra-args", &d.extra_args);
        let l = &self.loader;
        t.int("pool-size", l.pool_size)
            .str("dir", &l.dir)
            .str("sorting-dir-physical", &l.sorting_dir_physical)
            .str("import-mode", &l.import_mode)
            .str("on-duplicate", &l.on_duplicate)
            .str("on-duplicate-logical", &l.on_duplicate_logical)
            .str("on-duplicate-physical", &l.on_duplicate_physical)
            .int("disk-quota-physical", l.disk_quota_physical.0)
            .str("checksum-physical", &l.checksum_physical)
            .str("analyze", &l.analyze)
            .int("range-concurrency", l.range_concurrency)
            .str("compress-kv-pairs", &l.compress_kv_pairs)
            .str("pd-addr", &l.pd_addr);
        let s = &self.syncer;
        t.str("meta-file", &s.meta_file)
            .int("worker-count", s.worker_count)
            .int("batch", s.batch)
            .int("queue-size", s.queue_size)
            .int("checkpoint-flush-interval", s.checkpoint_flush_interval)
            .bool("compact", s.compact)
            .bool("multiple-rows", s.multiple_rows)
            .int("max-retry", s.max_retry)
            .bool("auto-fix-gtid", s.auto_fix_gtid)
            .bool("enable-gtid", s.enable_gtid)
            .bool("disable-detect", s.disable_detect)
            .bool("safe-mode", s.safe_mode)
            .str("safe-mode-duration", &s.safe_mode_duration)
            .bool("enable-ansi-quotes", s.enable_ansi_quotes);
        let v = &self.validator;
        let mut vt = Table::new();
        vt.str("mode", &v.mode)
            .int("worker-count", v.worker_count)
            .str("validate-interval", &v.validate_interval.to_string())
            .str("check-interval", &v.check_interval.to_string())
            .str("row-error-delay", &v.row_error_delay.to_string())
            .str("meta-flush-interval", &v.meta_flush_interval.to_string())
            .int("batch-query-size", v.batch_query_size)
            .str("max-pending-row-size", &v.max_pending_row_size)
            .int("max-pending-row-count", v.max_pending_row_count)
            .str("start-time", &v.start_time);
        t.table("ValidatorCfg", vt)
            .str("log-level", &self.log_level)
            .str("log-file", &self.log_file)
            .str("log-format", &self.log_format)
            .str("log-rotate", &self.log_rotate)
            .str("pprof-addr", &self.pprof_addr)
            .str("status-addr", &self.status_addr)
            .bool("clean-dump-file", self.clean_dump_file)
            .bool("ansi-quotes", self.ansi_quotes);
        let mut experimental = Table::new();
        experimental.bool(
            "async-checkpoint-flush",
            self.experimental.async_checkpoint_flush,
        );
        t.table("experimental", experimental)
            .str("uuid", &self.uuid);
        if self.io_total_bytes.is_some() {
            t.table("io-total-bytes", Table::new());
        }
        t.str("dump-uuid", &self.dump_uuid);
        if self.dump_io_total_bytes.is_some() {
            t.table("dump-io-total-bytes", Table::new());
        }
        t
    }
}

fn db_table(db: &DbConfig) -> Table {
    let mut t = Table::new();
    t.str("host", &db.host)
        .int("port", db.port)
        .str("user", &db.user)
        .str("password", &db.password);
    if let Some(packet) = db.max_allowed_packet {
        t.int("max-allowed-packet", packet);
    }
    if let Some(session) = &db.session {
        let mut s = Table::new();
        for (k, v) in session {
            s.str(k, v);
        }
        t.table("session", s);
    }
    if let Some(sec) = &db.security {
        t.table("security", security_table(sec));
    }
    t
}

fn security_table(sec: &Security) -> Table {
    let mut t = Table::new();
    t.str("ssl-ca", &sec.ssl_ca)
        .str("ssl-cert", &sec.ssl_cert)
        .str("ssl-key", &sec.ssl_key)
        .strs("cert-allowed-cn", sec.cert_allowed_cn.as_deref())
        .bytes("ssl-ca-bytes", sec.ssl_ca_bytes.as_deref())
        .bytes("ssl-key-bytes", sec.ssl_key_bytes.as_deref())
        .bytes("ssl-cert-bytes", sec.ssl_cert_bytes.as_deref())
        .str("ssl-ca-base64", &sec.ssl_ca_base64)
        .str("ssl-key-base64", &sec.ssl_key_base64)
        .str("ssl-cert-base64", &sec.ssl_cert_base64);
    t
}

fn route_table(r: &TableRule) -> Table {
    let mut t = Table::new();
    for (key, extractor, regexp_key) in [
        ("extract-table", &r.extract_table, "table-regexp"),
        ("extract-schema", &r.extract_schema, "schema-regexp"),
        ("extract-source", &r.extract_source, "source-regexp"),
    ] {
        if let Some(Extractor {
            target_column,
            regexp,
        }) = extractor
        {
            let mut e = Table::new();
            e.str("target-column", target_column)
                .str(regexp_key, regexp);
            t.table(key, e);
        }
    }
    t.str("schema-pattern", &r.schema_pattern)
        .str("table-pattern", &r.table_pattern)
        .str("target-schema", &r.target_schema)
        .str("target-table", &r.target_table);
    t
}

fn filter_table(f: &BinlogEventRule) -> Table {
    let mut t = Table::new();
    t.str("schema-pattern", &f.schema_pattern)
        .str("table-pattern", &f.table_pattern)
        .strs("events", f.events.as_deref())
        .strs("sql-pattern", f.sql_pattern.as_deref())
        .str("action", &f.action);
    t
}

fn expression_table(e: &ExpressionFilter) -> Table {
    let mut t = Table::new();
    t.str("schema", &e.schema)
        .str("table", &e.table)
        .str("insert-value-expr", &e.insert_value_expr)
        .str("update-old-value-expr", &e.update_old_value_expr)
        .str("update-new-value-expr", &e.update_new_value_expr)
        .str("delete-value-expr", &e.delete_value_expr);
    t
}

fn ba_table(ba: &BaList) -> Table {
    let tables = |ts: &Option<Vec<BaTable>>| {
        ts.as_ref().map(|ts| {
            ts.iter()
                .map(|bt| {
                    let mut t = Table::new();
                    t.str("db-name", &bt.db_name).str("tbl-name", &bt.tbl_name);
                    t
                })
                .collect()
        })
    };
    let mut t = Table::new();
    t.tables("do-tables", tables(&ba.do_tables))
        .strs("do-dbs", ba.do_dbs.as_deref())
        .tables("ignore-tables", tables(&ba.ignore_tables))
        .strs("ignore-dbs", ba.ignore_dbs.as_deref());
    t
}

/// DM's `adjustOnlineTableRules`: empty → the default rule; otherwise each
/// rule anchored with `^`/`$` and required to have exactly one group.
/// The checks DM's table-router constructor makes on route rules.
pub(super) fn check_route_rules(rules: &[TableRule]) -> Result<(), ConfigError> {
    for r in rules {
        let cause = if r.schema_pattern.is_empty() {
            Some("schema pattern of table route rule should not be empty".to_string())
        } else if r.target_schema.is_empty() {
            Some("target schema of table route rule should not be empty".to_string())
        } else {
            [
                ("table", &r.extract_table),
                ("schema", &r.extract_schema),
                ("source", &r.extract_source),
            ]
            .into_iter()
            .find_map(|(kind, ex)| {
                let ex = ex.as_ref()?;
                if regex::Regex::new(&ex.regexp).is_err() {
                    Some(format!(
                        "{kind} extractor {kind} regexp illegal {}",
                        ex.regexp
                    ))
                } else if ex.target_column.is_empty() {
                    Some(format!("{kind} extractor target column cannot be empty"))
                } else {
                    None
                }
            })
        };
        if let Some(cause) = cause {
            return Err(ConfigError::GenTableRouter { cause });
        }
    }
    Ok(())
}

fn adjust_online_table_rules(
    rule_type: &'static str,
    rules: Option<Vec<String>>,
    default: &str,
) -> Result<Vec<String>, ConfigError> {
    let rules = rules.unwrap_or_default();
    if rules.is_empty() {
        return Ok(vec![default.to_string()]);
    }
    rules
        .into_iter()
        .map(|rule| {
            let mut anchored = rule;
            if !anchored.starts_with('^') {
                anchored.insert(0, '^');
            }
            if !anchored.ends_with('$') {
                anchored.push('$');
            }
            let invalid = |reason: String| ConfigError::OnlineDdlInvalidRegex {
                rule_type,
                pattern: anchored.clone(),
                reason,
            };
            let re = regex::Regex::new(&anchored)
                .map_err(|e| invalid(format!("fail to compile: {e}")))?;
            if re.captures_len() != 2 {
                return Err(invalid(
                    "rule isn't contains exactly one submatch".to_string(),
                ));
            }
            Ok(anchored)
        })
        .collect()
}

/// The scheme of a storage URL (`s3`, `gcs`, `file`), `None` for a path.
fn url_scheme(raw: &str) -> Option<&str> {
    let (scheme, _) = raw.split_once("://")?;
    let valid = scheme.chars().next()?.is_ascii_alphabetic()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

/// DM's `IsLocalDiskPath`.
fn is_local_path(raw: &str) -> bool {
    !raw.is_empty() && matches!(url_scheme(raw), None | Some("file"))
}

/// DM's `storage.AdjustPath`: append `suffix` once, trailing `/` trimmed.
fn adjust_path(raw: &str, suffix: &str) -> String {
    if raw.is_empty() {
        return String::new();
    }
    let trimmed = raw.trim_end_matches('/');
    if trimmed.ends_with(suffix) {
        raw.to_string()
    } else {
        format!("{trimmed}{suffix}")
    }
}

/// Go's `url.PathEscape`.
fn url_path_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_' | b'.' | b'~' | b'$' | b'&' | b'+' | b',' | b':' | b'=' | b'@'
            );
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// DM's `IsForeignKeyChecksEnabled`.
fn foreign_key_checks_on(session: Option<&BTreeMap<String, String>>) -> bool {
    let Some(session) = session else {
        return false;
    };
    session
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("foreign_key_checks"))
        .is_some_and(|(_, v)| {
            let v = v.trim_matches(|c| c == ' ' || c == '\'' || c == '"');
            v.eq_ignore_ascii_case("on") || v == "1"
        })
}

/// DM's `AdjustDBTimeZone`: set `time_zone`, overwriting the value of a
/// differently-cased existing key in place.
fn set_session_time_zone(db: &mut DbConfig, tz: &str) {
    let session = db.session.get_or_insert_with(BTreeMap::new);
    let existing = session
        .keys()
        .find(|k| k.eq_ignore_ascii_case("time_zone"))
        .cloned();
    session.insert(existing.unwrap_or_else(|| "time_zone".into()), tz.into());
}
