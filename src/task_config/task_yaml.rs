//! DM's task YAML (`TaskConfig`): strict decoding with DM's defaults, then
//! DM's `adjust` checks in DM's order (`dm/config/task.go`).
//!
//! PURE. Invariant: a [`TaskConfig`] returned by [`TaskConfig::from_yaml`]
//! has passed every check, and each instance's unit configs are resolved
//! (named entry, else inline, else DM's defaults), so subtask generation
//! cannot fail on the task's own content.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

pub(crate) use super::adjust::{
    adjust_loader, adjust_online_ddl_scheme, adjust_syncer_intervals, adjust_validator,
    check_shard_mode, has_load,
};
use super::adjust::{check_expression_filter, has_dump, validate_checking_item, verify_meta};
use super::error::ConfigError;
use super::model::{
    BaList, BinlogEventRule, DbConfig, Experimental, ExpressionFilter, LoaderConfig, Meta,
    MydumperConfig, SyncerConfig, TableRule, ValidatorConfig,
};
use super::units::check_timezone;
use crate::task::ShardMode;

mod decode;

use decode::{unit_on_dm_defaults, units_on_dm_defaults, yaml_v2_cause};

/// The six task modes.
pub const TASK_MODES: [&str; 6] = ["full", "incremental", "all", "dump", "load", "load&sync"];

/// One `mysql-instances` entry.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "kebab-case", default, deny_unknown_fields)]
pub struct MySqlInstance {
    pub source_id: String,
    pub meta: Option<Meta>,
    pub filter_rules: Vec<String>,
    pub column_mapping_rules: Vec<String>,
    pub route_rules: Vec<String>,
    pub expression_filters: Vec<String>,
    #[serde(rename = "black-white-list")]
    pub bw_list_name: String,
    #[serde(rename = "block-allow-list")]
    pub ba_list_name: String,
    pub mydumper_config_name: String,
    #[serde(deserialize_with = "unit_on_dm_defaults")]
    pub mydumper: Option<MydumperConfig>,
    pub mydumper_thread: i64,
    pub loader_config_name: String,
    #[serde(deserialize_with = "unit_on_dm_defaults")]
    pub loader: Option<LoaderConfig>,
    pub loader_thread: i64,
    pub syncer_config_name: String,
    #[serde(deserialize_with = "unit_on_dm_defaults")]
    pub syncer: Option<SyncerConfig>,
    pub syncer_thread: i64,
    pub validator_config_name: String,
    /// Resolved by `adjust` (`yaml:"-"` in DM).
    #[serde(skip)]
    pub validator: ValidatorConfig,
}

/// DM's task YAML, after decoding and (through [`TaskConfig::from_yaml`])
/// DM's checks and defaults.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", default, deny_unknown_fields)]
pub struct TaskConfig {
    pub name: String,
    pub task_mode: String,
    pub is_sharding: bool,
    pub shard_mode: String,
    pub strict_optimistic_shard_mode: bool,
    pub ignore_checking_items: Option<Vec<String>>,
    pub meta_schema: String,
    pub enable_heartbeat: bool,
    pub heartbeat_update_interval: i64,
    pub heartbeat_report_interval: i64,
    pub timezone: String,
    pub case_sensitive: bool,
    #[serde(rename = "collation_compatible")]
    pub collation_compatible: String,
    pub target_database: Option<DbConfig>,
    pub mysql_instances: Vec<MySqlInstance>,
    pub online_ddl: bool,
    pub shadow_table_rules: Option<Vec<String>>,
    pub trash_table_rules: Option<Vec<String>>,
    pub online_ddl_scheme: String,
    pub routes: BTreeMap<String, TableRule>,
    pub filters: BTreeMap<String, BinlogEventRule>,
    /// Deprecated and refused when non-empty (20064); kept opaque.
    pub column_mappings: BTreeMap<String, serde::de::IgnoredAny>,
    pub expression_filter: BTreeMap<String, ExpressionFilter>,
    pub black_white_list: BTreeMap<String, BaList>,
    pub block_allow_list: BTreeMap<String, BaList>,
    #[serde(deserialize_with = "units_on_dm_defaults")]
    pub mydumpers: BTreeMap<String, MydumperConfig>,
    #[serde(deserialize_with = "units_on_dm_defaults")]
    pub loaders: BTreeMap<String, LoaderConfig>,
    #[serde(deserialize_with = "units_on_dm_defaults")]
    pub syncers: BTreeMap<String, SyncerConfig>,
    #[serde(deserialize_with = "units_on_dm_defaults")]
    pub validators: BTreeMap<String, ValidatorConfig>,
    pub clean_dump_file: bool,
    pub ansi_quotes: bool,
    /// Deprecated: accepted with a warning in StartTask's response.
    pub remove_meta: bool,
    pub experimental: Experimental,
}

impl Default for TaskConfig {
    /// `NewTaskConfig()`: the values a key left out of the YAML keeps.
    fn default() -> TaskConfig {
        TaskConfig {
            name: String::new(),
            task_mode: String::new(),
            is_sharding: false,
            shard_mode: String::new(),
            strict_optimistic_shard_mode: false,
            ignore_checking_items: None,
            meta_schema: "dm_meta".into(),
            enable_heartbeat: false,
            heartbeat_update_interval: 1,
            heartbeat_report_interval: 10,
            timezone: String::new(),
            case_sensitive: false,
            collation_compatible: "loose".into(),
            target_database: None,
            mysql_instances: Vec::new(),
            online_ddl: true,
            shadow_table_rules: None,
            trash_table_rules: None,
            online_ddl_scheme: String::new(),
            routes: BTreeMap::new(),
            filters: BTreeMap::new(),
            column_mappings: BTreeMap::new(),
            expression_filter: BTreeMap::new(),
            black_white_list: BTreeMap::new(),
            block_allow_list: BTreeMap::new(),
            mydumpers: BTreeMap::new(),
            loaders: BTreeMap::new(),
            syncers: BTreeMap::new(),
            validators: BTreeMap::new(),
            clean_dump_file: true,
            ansi_quotes: false,
            remove_meta: false,
            experimental: Experimental::default(),
        }
    }
}

impl TaskConfig {
    /// DM's `FromYaml`: strict decode (20003 `decode task config failed`)
    /// then [`TaskConfig::adjust`].
    pub fn from_yaml(text: &str) -> Result<TaskConfig, ConfigError> {
        let mut cfg = TaskConfig::raw_decode(text)?;
        cfg.adjust()?;
        Ok(cfg)
    }

    /// DM's `RawDecode`: strict decode only, no defaults applied beyond
    /// `NewTaskConfig`'s.
    pub fn raw_decode(text: &str) -> Result<TaskConfig, ConfigError> {
        // An empty document decodes to the defaults in yaml.v2.
        if text.trim().is_empty() {
            return Ok(TaskConfig::default());
        }
        serde_norway::from_str::<TaskConfig>(text).map_err(|e| ConfigError::YamlDecode {
            context: "decode task config failed",
            cause: yaml_v2_cause(&e),
        })
    }

    /// dmctl `start-task`'s local check before sending the file: a line
    /// starting with `is-sharding` that says false while `shard-mode` is
    /// set, or a line starting with `shard-mode` left empty while
    /// `is-sharding` is true, is refused with this text (dmctl prints it and
    /// exits 1). `self` is the raw decode of `text`.
    pub fn dmctl_sharding_conflict(&self, text: &str) -> Option<&'static str> {
        const CONFLICT: &str = "The behaviour of `is-sharding` and `shard-mode` is conflicting. `is-sharding` is deprecated, please use `shard-mode` only.";
        let set = |key: &str| text.split('\n').any(|line| line.starts_with(key));
        let conflict = (set("is-sharding") && !self.is_sharding && !self.shard_mode.is_empty())
            || (set("shard-mode") && self.shard_mode.is_empty() && self.is_sharding);
        conflict.then_some(CONFLICT)
    }

    /// `shard-mode` as the coordinators read it (after `adjust`).
    pub fn is_optimistic(&self) -> bool {
        ShardMode::from_config(&self.shard_mode, self.is_sharding) == Some(ShardMode::Optimistic)
    }

    /// DM's `TaskConfig.adjust`: checks in DM's order, first failure wins.
    pub fn adjust(&mut self) -> Result<(), ConfigError> {
        if self.name.is_empty() {
            return Err(ConfigError::NeedUniqueTaskName);
        }
        if !TASK_MODES.contains(&self.task_mode.as_str()) {
            return Err(ConfigError::InvalidTaskMode);
        }
        if self.meta_schema.is_empty() {
            self.meta_schema = "dm_meta".into();
        }
        check_shard_mode(
            &mut self.shard_mode,
            self.is_sharding,
            self.strict_optimistic_shard_mode,
        )?;
        if !self.column_mappings.is_empty() {
            return Err(ConfigError::ColumnMappingDeprecated);
        }
        match self.collation_compatible.as_str() {
            "" => self.collation_compatible = "loose".into(),
            "loose" | "strict" => {}
            other => {
                return Err(ConfigError::CollationNotSupported {
                    value: other.to_string(),
                })
            }
        }
        for item in self.ignore_checking_items.iter().flatten() {
            validate_checking_item(item)?;
        }
        adjust_online_ddl_scheme(&self.online_ddl_scheme, &mut self.online_ddl)?;
        if self.target_database.is_none() {
            return Err(ConfigError::NeedTargetDb);
        }
        if self.mysql_instances.is_empty() {
            return Err(ConfigError::NoMySqlInstances);
        }
        for (name, filter) in &self.expression_filter {
            check_expression_filter(name, filter)?;
        }
        for validator in self.validators.values_mut() {
            adjust_validator(validator)?;
        }
        if self.block_allow_list.is_empty() && !self.black_white_list.is_empty() {
            self.block_allow_list = self.black_white_list.clone();
        }

        let mut first_index_of: BTreeMap<String, usize> = BTreeMap::new();
        let mut used: BTreeSet<(&'static str, String)> = BTreeSet::new();
        let mut duplicates: Vec<String> = Vec::new();
        let instance_count = self.mysql_instances.len();
        let task_mode = self.task_mode.clone();
        for (i, inst) in self.mysql_instances.iter_mut().enumerate() {
            inst.verify_and_adjust()
                .map_err(|e| e.annotate(format!("mysql-instance: {}", ordinal(i))))?;
            if let Some(&first) = first_index_of.get(&inst.source_id) {
                return Err(ConfigError::SameSourceId {
                    first,
                    second: i,
                    source_id: inst.source_id.clone(),
                });
            }
            first_index_of.insert(inst.source_id.clone(), i);
            if task_mode == "incremental" {
                if let Some(meta) = &inst.meta {
                    verify_meta(meta).map_err(|e| e.annotate(format!("mysql-instance: {i}")))?;
                }
            }
            for name in &inst.route_rules {
                if !self.routes.contains_key(name) {
                    return Err(ConfigError::RouteRuleNotFound {
                        index: i,
                        name: name.clone(),
                    });
                }
                used.insert(("route", name.clone()));
            }
            for name in &inst.filter_rules {
                if !self.filters.contains_key(name) {
                    return Err(ConfigError::FilterRuleNotFound {
                        index: i,
                        name: name.clone(),
                    });
                }
                used.insert(("filter", name.clone()));
            }
            if !inst.ba_list_name.is_empty()
                && !self.block_allow_list.contains_key(&inst.ba_list_name)
            {
                return Err(ConfigError::BaListNotFound {
                    index: i,
                    name: inst.ba_list_name.clone(),
                });
            }

            if !inst.mydumper_config_name.is_empty() {
                let named = self
                    .mydumpers
                    .get(&inst.mydumper_config_name)
                    .ok_or_else(|| ConfigError::MydumperCfgNotFound {
                        index: i,
                        name: inst.mydumper_config_name.clone(),
                    })?;
                used.insert(("mydumper", inst.mydumper_config_name.clone()));
                inst.mydumper = Some(named.clone());
            }
            let mydumper = match inst.mydumper.as_mut() {
                None => inst.mydumper.insert(MydumperConfig::dm_default()),
                Some(m) => {
                    if m.chunk_filesize.is_empty() {
                        m.chunk_filesize = "64".into();
                    }
                    m
                }
            };
            if inst.mydumper_thread != 0 {
                mydumper.threads = inst.mydumper_thread;
            }
            if has_dump(&task_mode) && mydumper.mydumper_path.is_empty() {
                return Err(ConfigError::MydumperPathNotValid { index: i });
            }

            if !inst.loader_config_name.is_empty() {
                let named = self.loaders.get(&inst.loader_config_name).ok_or_else(|| {
                    ConfigError::LoaderCfgNotFound {
                        index: i,
                        name: inst.loader_config_name.clone(),
                    }
                })?;
                used.insert(("loader", inst.loader_config_name.clone()));
                inst.loader = Some(named.clone());
            }
            let loader = inst.loader.get_or_insert_with(LoaderConfig::dm_default);
            if inst.loader_thread != 0 {
                loader.pool_size = inst.loader_thread;
            }
            if instance_count > 1 && loader.import_mode.eq_ignore_ascii_case("import-into") {
                return Err(ConfigError::ImportIntoSharding);
            }

            if !inst.syncer_config_name.is_empty() {
                let named = self.syncers.get(&inst.syncer_config_name).ok_or_else(|| {
                    ConfigError::SyncerCfgNotFound {
                        index: i,
                        name: inst.syncer_config_name.clone(),
                    }
                })?;
                used.insert(("syncer", inst.syncer_config_name.clone()));
                inst.syncer = Some(named.clone());
            }
            let syncer = inst.syncer.get_or_insert_with(SyncerConfig::dm_default);
            adjust_syncer_intervals(syncer)?;
            if inst.syncer_thread != 0 {
                syncer.worker_count = inst.syncer_thread;
            }

            inst.validator = ValidatorConfig::dm_default();
            if !inst.validator_config_name.is_empty() {
                let named = self
                    .validators
                    .get(&inst.validator_config_name)
                    .ok_or_else(|| ConfigError::ValidatorCfgNotFound {
                        index: i,
                        name: inst.validator_config_name.clone(),
                    })?;
                used.insert(("validator", inst.validator_config_name.clone()));
                inst.validator = named.clone();
            }

            for name in &inst.expression_filters {
                if !self.expression_filter.contains_key(name) {
                    return Err(ConfigError::ExprFilterNotFound {
                        index: i,
                        name: name.clone(),
                    });
                }
                used.insert(("expr", name.clone()));
            }

            for (label, list) in [
                ("route-rules", &inst.route_rules),
                ("filter-rules", &inst.filter_rules),
                ("column-mapping-rules", &inst.column_mapping_rules),
                ("expression-filters", &inst.expression_filters),
            ] {
                let dupes = duplicate_names(list);
                if !dupes.is_empty() {
                    duplicates.push(format!(
                        "mysql-instance({i})'s {label}: {}",
                        dupes.join(", ")
                    ));
                }
            }
        }
        if !duplicates.is_empty() {
            return Err(ConfigError::DuplicateItems {
                list: duplicates.join("\n"),
            });
        }

        let mut unused: Vec<String> = Vec::new();
        let mut collect = |kind: &'static str, names: Vec<&String>| {
            for name in names {
                if !used.contains(&(kind, name.clone())) {
                    unused.push(name.clone());
                }
            }
        };
        collect("route", self.routes.keys().collect());
        collect("filter", self.filters.keys().collect());
        collect("mydumper", self.mydumpers.keys().collect());
        for loader in self.loaders.values_mut() {
            adjust_loader(loader)?;
        }
        collect("loader", self.loaders.keys().collect());
        collect("syncer", self.syncers.keys().collect());
        collect("expr", self.expression_filter.keys().collect());
        collect("validator", self.validators.keys().collect());
        if !unused.is_empty() {
            unused.sort();
            return Err(ConfigError::GlobalConfigsUnused { names: unused });
        }

        if !self.timezone.is_empty() {
            check_timezone(&self.timezone)?;
        }
        if self.enable_heartbeat
            || self.heartbeat_update_interval != 1
            || self.heartbeat_report_interval != 10
        {
            // Deprecated: DM switches it off and keeps the intervals.
            self.enable_heartbeat = false;
        }
        Ok(())
    }
}

impl MySqlInstance {
    /// DM's `MySQLInstance.VerifyAndAdjust`.
    fn verify_and_adjust(&mut self) -> Result<(), ConfigError> {
        if self.source_id.is_empty() {
            return Err(ConfigError::EmptySourceId);
        }
        if let Some(meta) = &self.meta {
            verify_meta(meta).map_err(|e| e.annotate(format!("source {}", self.source_id)))?;
        }
        if !self.mydumper_config_name.is_empty() && self.mydumper.is_some() {
            return Err(ConfigError::MydumperConflict);
        }
        if !self.loader_config_name.is_empty() && self.loader.is_some() {
            return Err(ConfigError::LoaderConflict);
        }
        if !self.syncer_config_name.is_empty() && self.syncer.is_some() {
            return Err(ConfigError::SyncerConflict);
        }
        if self.ba_list_name.is_empty() && !self.bw_list_name.is_empty() {
            self.ba_list_name = self.bw_list_name.clone();
        }
        Ok(())
    }
}

/// DM's `checkDuplicateString`: every name given more than once, in order
/// of its second occurrence.
fn duplicate_names(names: &[String]) -> Vec<String> {
    let mut seen: BTreeMap<&str, bool> = BTreeMap::new();
    let mut dupes = Vec::new();
    for name in names {
        match seen.get_mut(name.as_str()) {
            Some(reported) if !*reported => {
                dupes.push(name.clone());
                *reported = true;
            }
            Some(_) => {}
            None => {
                seen.insert(name, false);
            }
        }
    }
    dupes
}

/// go-humanize `Ordinal`: 0th, 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st.
fn ordinal(n: usize) -> String {
    let suffix = match (n % 100, n % 10) {
        (11..=13, _) => "th",
        (_, 1) => "st",
        (_, 2) => "nd",
        (_, 3) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}
