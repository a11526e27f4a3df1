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
    BaList, BinlogEventRule, DbConfig, Experimental, ExpressionFilter, LoaderConfig, Meta,
    MydumperConfig, SyncerConfig, TableRule, ValidatorConfig,
};
use super::password::{decrypt_or_plaintext, SecretKey};
use super::task_yaml::TaskConfig;
use crate::task::{RouteRule, ShardMode, SubTask};

mod adjust;
mod encode;

pub(super) use adjust::{check_identity, check_route_rules};

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
#[serde(rename_all = "kebab-case", default)]
pub struct SubTaskConfig {
    pub is_sharding: bool,
    pub shard_mode: String,
    pub strict_optimistic_shard_mode: bool,
    pub online_ddl: bool,
    pub shadow_table_rules: Option<Vec<String>>,
    pub trash_table_rules: Option<Vec<String>>,
    pub online_ddl_scheme: String,
    pub case_sensitive: bool,
    #[serde(rename = "collation_compatible")]
    pub collation_compatible: String,
    pub name: String,
    pub mode: String,
    pub ignore_checking_items: Option<Vec<String>>,
    pub source_id: String,
    pub server_id: u32,
    pub flavor: String,
    pub meta_schema: String,
    pub heartbeat_update_interval: i64,
    pub heartbeat_report_interval: i64,
    pub enable_heartbeat: bool,
    pub timezone: String,
    pub meta: Option<Meta>,
    pub relay_dir: String,
    pub use_relay: bool,
    pub from: DbConfig,
    pub to: DbConfig,
    pub route_rules: Option<Vec<TableRule>>,
    pub filter_rules: Option<Vec<BinlogEventRule>>,
    /// Deprecated column mappings: only their count matters (must be 0).
    pub mapping_rule: Option<Vec<IgnoredAny>>,
    pub expression_filter: Option<Vec<ExpressionFilter>>,
    pub black_white_list: Option<BaList>,
    pub block_allow_list: Option<BaList>,
    #[serde(flatten)]
    pub mydumper: MydumperConfig,
    #[serde(flatten)]
    pub loader: LoaderConfig,
    #[serde(flatten)]
    pub syncer: SyncerConfig,
    #[serde(rename = "ValidatorCfg")]
    pub validator: ValidatorConfig,
    pub log_level: String,
    pub log_file: String,
    pub log_format: String,
    pub log_rotate: String,
    pub pprof_addr: String,
    pub status_addr: String,
    pub clean_dump_file: bool,
    pub ansi_quotes: bool,
    pub experimental: Experimental,
    pub uuid: String,
    pub io_total_bytes: Option<IgnoredAny>,
    pub dump_uuid: String,
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
}
