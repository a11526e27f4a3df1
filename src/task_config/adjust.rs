//! DM's `adjust` checks shared by the task config and the subtask config
//! (`dm/config/task.go`, `subtask.go`): shard mode, online DDL, unit
//! configs, checking items, expression filters. Each check is DM's, with
//! DM's error, in the order the callers run them.

use super::error::ConfigError;
use super::model::{ExpressionFilter, LoaderConfig, Meta, SyncerConfig, ValidatorConfig};
use super::units::{ram_in_bytes, GoDuration};
use crate::task::ShardMode;

/// DM's checking items (`AllCheckingItems` and `AdditionalCheckingItems`).
const CHECKING_ITEMS: [(&str, &str); 23] = [
    ("all", "all checking items"),
    (
        "auto_increment_ID",
        "conflict auto increment ID of shard tables checking item",
    ),
    ("binlog_db", "binlog db checking item"),
    ("binlog_enable", "binlog enable checking item"),
    ("binlog_format", "binlog format checking item"),
    ("binlog_row_image", "binlog row image checking item"),
    ("conn_number", "connection number checking item"),
    (
        "downstream_mutex_features",
        "physical import mode downstream incompatible feature checking item",
    ),
    (
        "downstream_table_empty",
        "physical import mode downstream table empty checking item",
    ),
    (
        "downstream_version",
        "physical import mode downstream TiDB/PD/TiKV version checking item",
    ),
    (
        "dump_privilege",
        "dump privileges of source DB checking item",
    ),
    (
        "empty_region",
        "physical import mode empty region checking item",
    ),
    ("free_space", "downstream free space checking item"),
    ("meta_position", "meta position valid checking item"),
    ("online_ddl", "online ddl checking item"),
    (
        "region_distribution",
        "physical import mode region distribution checking item",
    ),
    (
        "replication_privilege",
        "replication privileges of source DB checking item",
    ),
    (
        "schema_of_shard_tables",
        "consistent schema of shard tables checking item",
    ),
    ("server_id", "server_id checking item"),
    ("table_schema", "table schema compatibility checking item"),
    ("target_privilege", "privileges of target DB checking item"),
    ("version", "MySQL/MariaDB version checking item"),
    (
        "primary_key",
        "primary key checking item (Aliyun RDS precheck)",
    ),
];

pub(crate) fn verify_meta(meta: &Meta) -> Result<(), ConfigError> {
    if meta.binlog_name.is_empty() && meta.binlog_gtid.is_empty() {
        return Err(ConfigError::MetaInvalid);
    }
    Ok(())
}

/// Shared by task and subtask adjust: shard mode values, the
/// `is-sharding` fallback, and the strict-optimistic rule.
pub(crate) fn check_shard_mode(
    shard_mode: &mut String,
    is_sharding: bool,
    strict_optimistic: bool,
) -> Result<(), ConfigError> {
    let mode = ShardMode::from_config(shard_mode, is_sharding).ok_or_else(|| {
        ConfigError::ShardModeNotSupported {
            mode: shard_mode.clone(),
        }
    })?;
    // Fills in the `is-sharding` fallback; a valid value is kept as it is
    // (and not copied: every subtask config of a cold start passes here).
    if shard_mode.as_str() != mode.as_str() {
        *shard_mode = mode.as_str().to_owned();
    }
    if strict_optimistic && mode != ShardMode::Optimistic {
        return Err(ConfigError::StrictOptimisticShardMode);
    }
    Ok(())
}

pub(crate) fn adjust_online_ddl_scheme(
    scheme: &str,
    online_ddl: &mut bool,
) -> Result<(), ConfigError> {
    match scheme {
        "" => Ok(()),
        "pt" | "gh-ost" => {
            *online_ddl = true;
            Ok(())
        }
        other => Err(ConfigError::OnlineSchemeNotSupported {
            scheme: other.to_string(),
        }),
    }
}

pub(crate) fn validate_checking_item(item: &str) -> Result<(), ConfigError> {
    if CHECKING_ITEMS.iter().any(|(name, _)| *name == item) {
        return Ok(());
    }
    // DM prints its item maps in Go's random map order; ours is fixed.
    let mut supported = String::from(
        "************ supporting checking items ************\n name:\t\tdescription\n",
    );
    for (name, description) in CHECKING_ITEMS {
        supported.push_str(&format!("{name}:\t{description}\n"));
    }
    supported.push_str("************ supporting checking items ************\n");
    Err(ConfigError::CheckItemNotSupported {
        item: item.to_string(),
        supported,
    })
}

pub(crate) fn check_expression_filter(
    name: &str,
    filter: &ExpressionFilter,
) -> Result<(), ConfigError> {
    if filter.schema.is_empty() {
        return Err(ConfigError::ExprFilterEmptyName {
            name: name.into(),
            field: "schema",
        });
    }
    if filter.table.is_empty() {
        return Err(ConfigError::ExprFilterEmptyName {
            name: name.into(),
            field: "table",
        });
    }
    let mut set_fields = Vec::new();
    let check = |expr: &str| -> Result<(), ConfigError> {
        check_sql_expression(expr).map_err(|cause| ConfigError::ExprFilterWrongGrammar {
            name: name.into(),
            sql: expr.into(),
            cause,
        })
    };
    if !filter.insert_value_expr.is_empty() {
        check(&filter.insert_value_expr)?;
        set_fields.push(format!("insert: [{}]", filter.insert_value_expr));
    }
    if !filter.update_old_value_expr.is_empty() || !filter.update_new_value_expr.is_empty() {
        if !filter.update_old_value_expr.is_empty() {
            check(&filter.update_old_value_expr)?;
        }
        if !filter.update_new_value_expr.is_empty() {
            check(&filter.update_new_value_expr)?;
        }
        set_fields.push(format!(
            "update (old value): [{}] update (new value): [{}]",
            filter.update_old_value_expr, filter.update_new_value_expr
        ));
    }
    if !filter.delete_value_expr.is_empty() {
        check(&filter.delete_value_expr)?;
        set_fields.push(format!("delete: [{}]", filter.delete_value_expr));
    }
    if set_fields.len() > 1 {
        return Err(ConfigError::ExprFilterManyExpr {
            name: name.into(),
            fields: set_fields,
        });
    }
    Ok(())
}

/// DM parses `SELECT <expr>` with TiDB's parser; we use sqlparser's MySQL
/// dialect, so the grammar error text differs from TiDB's.
fn check_sql_expression(expr: &str) -> Result<(), String> {
    let sql = format!("select {expr}");
    sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::MySqlDialect {}, &sql)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// DM's `ValidatorConfig.Adjust`.
pub(crate) fn adjust_validator(v: &mut ValidatorConfig) -> Result<(), ConfigError> {
    if v.mode.is_empty() {
        v.mode = "none".into();
    }
    if !matches!(v.mode.as_str(), "none" | "fast" | "full") {
        return Err(ConfigError::InvalidValidationMode);
    }
    if v.worker_count <= 0 {
        v.worker_count = 4;
    }
    for (field, default_secs) in [
        (&mut v.validate_interval, 10),
        (&mut v.check_interval, 5),
        (&mut v.row_error_delay, 30 * 60),
        (&mut v.meta_flush_interval, 5 * 60),
    ] {
        if field.is_zero() {
            *field = GoDuration::from_secs(default_secs);
        }
    }
    if v.batch_query_size == 0 {
        v.batch_query_size = 100;
    }
    if v.max_pending_row_size.is_empty() {
        v.max_pending_row_size = "500m".into();
    }
    ram_in_bytes(&v.max_pending_row_size).map_err(|message| ConfigError::Plain { message })?;
    if v.max_pending_row_count == 0 {
        v.max_pending_row_count = i64::from(i32::MAX);
    }
    Ok(())
}

/// DM's `LoaderConfig.adjust`.
pub(crate) fn adjust_loader(l: &mut LoaderConfig) -> Result<(), ConfigError> {
    if l.import_mode.is_empty()
        || l.import_mode.eq_ignore_ascii_case("sql")
        || l.import_mode.eq_ignore_ascii_case("loader")
    {
        l.import_mode = "logical".into();
    }
    l.import_mode = l.import_mode.to_lowercase();
    if !matches!(
        l.import_mode.as_str(),
        "logical" | "physical" | "import-into"
    ) {
        return Err(ConfigError::InvalidLoadMode {
            mode: l.import_mode.clone(),
        });
    }
    if l.pool_size == 0 {
        l.pool_size = 16;
    }
    fn lowered_or(value: &mut String, default: &str) {
        if value.is_empty() {
            *value = default.into();
        }
        *value = value.to_lowercase();
    }
    lowered_or(&mut l.on_duplicate_logical, "replace");
    if !matches!(
        l.on_duplicate_logical.as_str(),
        "replace" | "error" | "ignore"
    ) {
        return Err(ConfigError::InvalidOnDuplicateLogical {
            value: l.on_duplicate_logical.clone(),
        });
    }
    lowered_or(&mut l.on_duplicate_physical, "none");
    if !matches!(l.on_duplicate_physical.as_str(), "none" | "manual") {
        return Err(ConfigError::InvalidOnDuplicatePhysical {
            value: l.on_duplicate_physical.clone(),
        });
    }
    lowered_or(&mut l.checksum_physical, "required");
    if !matches!(
        l.checksum_physical.as_str(),
        "required" | "optional" | "off"
    ) {
        return Err(ConfigError::InvalidChecksumPhysical {
            value: l.checksum_physical.clone(),
        });
    }
    lowered_or(&mut l.analyze, "optional");
    if !matches!(l.analyze.as_str(), "required" | "optional" | "off") {
        return Err(ConfigError::InvalidAnalyze {
            value: l.analyze.clone(),
        });
    }
    Ok(())
}

/// Syncer defaults and checks shared by task and subtask adjust.
pub(crate) fn adjust_syncer_intervals(s: &mut SyncerConfig) -> Result<(), ConfigError> {
    if s.queue_size == 0 {
        s.queue_size = 1024;
    }
    if s.checkpoint_flush_interval == 0 {
        s.checkpoint_flush_interval = 30;
    }
    if s.safe_mode_duration.is_empty() {
        s.safe_mode_duration = format!("{}s", 2 * s.checkpoint_flush_interval);
    }
    let duration = GoDuration::parse(&s.safe_mode_duration).map_err(|cause| {
        ConfigError::InvalidSafeModeDuration {
            value: s.safe_mode_duration.clone(),
            cause,
        }
    })?;
    if s.safe_mode && duration.is_zero() {
        return Err(ConfigError::SafeModeConflict);
    }
    Ok(())
}

pub(crate) fn has_dump(mode: &str) -> bool {
    matches!(mode, "all" | "full" | "dump")
}

pub(crate) fn has_load(mode: &str) -> bool {
    matches!(mode, "all" | "full" | "load" | "load&sync")
}
