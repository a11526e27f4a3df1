//! DM's `SubTaskConfig.Adjust`: the checks and defaults a subtask config
//! passes before it is stored, and again when a worker or a new leader
//! reads it back (idempotent), with the rule and path helpers they use.

use std::collections::BTreeMap;

use super::{
    SubTaskConfig, DEFAULT_SHADOW_TABLE_RULES, DEFAULT_TRASH_TABLE_RULES, MAX_SOURCE_ID_LENGTH,
};
use crate::task_config::error::ConfigError;
use crate::task_config::model::{DbConfig, TableRule};
use crate::task_config::task_yaml::{
    adjust_loader, adjust_online_ddl_scheme, adjust_syncer_intervals, adjust_validator,
    check_shard_mode, has_load,
};
use crate::task_config::units::check_file_size;

impl SubTaskConfig {
    /// DM's `SubTaskConfig.Adjust(true)`, in DM's order. Idempotent: a
    /// config that passed it passes again unchanged (the worker and a new
    /// leader adjust what the master stored).
    pub fn adjust(&mut self) -> Result<(), ConfigError> {
        check_identity(
            &self.name,
            &self.source_id,
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
}

/// The first steps of DM's `SubTaskConfig.Adjust`: task name and source ID
/// given (the ID not too long), then the shard mode (see
/// `check_shard_mode`). Also run by the registry's lean decoding of a
/// stored subtask.
pub(in crate::task_config) fn check_identity(
    name: &str,
    source_id: &str,
    shard_mode: &mut String,
    is_sharding: bool,
    strict_optimistic: bool,
) -> Result<(), ConfigError> {
    if name.is_empty() {
        return Err(ConfigError::TaskNameEmpty);
    }
    if source_id.is_empty() {
        return Err(ConfigError::EmptySourceId);
    }
    if source_id.len() > MAX_SOURCE_ID_LENGTH {
        return Err(ConfigError::TooLongSourceId);
    }
    check_shard_mode(shard_mode, is_sharding, strict_optimistic)
}

/// The checks DM's table-router constructor makes on route rules.
pub(in crate::task_config) fn check_route_rules(rules: &[TableRule]) -> Result<(), ConfigError> {
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

/// DM's `adjustOnlineTableRules`: empty → the default rule; otherwise each
/// rule anchored with `^`/`$` and required to have exactly one group.
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
