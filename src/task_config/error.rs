//! Errors of task and subtask configs, with DM's codes (`DM-config-200xx`),
//! message texts, levels and workarounds (`dm/errors.toml`).
//!
//! PURE. The edge renders them with [`ConfigError::dm_string`]; the class is
//! `config` inside the module and `dm-master` when reached through
//! StartTask/CheckTask (DM rewrites it there).

use thiserror::Error;

/// One task/subtask config error. `Display` is DM's message (the `%s` part
/// of `Message: …`), without code or workaround.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("checking item {item} is not supported\n{supported}")]
    CheckItemNotSupported { item: String, supported: String },
    /// A subtask TOML that does not decode (`context` is DM's annotation).
    #[error("{context}")]
    TomlDecode {
        context: &'static str,
        cause: String,
    },
    /// A task YAML that does not decode strictly.
    #[error("{context}")]
    YamlDecode {
        context: &'static str,
        cause: String,
    },
    #[error("task name should not be empty")]
    TaskNameEmpty,
    #[error("empty source-id not valid")]
    EmptySourceId,
    #[error("too long source-id not valid")]
    TooLongSourceId,
    #[error("online scheme {scheme} not supported")]
    OnlineSchemeNotSupported { scheme: String },
    #[error("invalid timezone string: {timezone}")]
    InvalidTimezone { timezone: String },
    /// DM's `ErrConfigInvalidTimezone.New(...)`: same code, fixed message.
    #[error("'SYSTEM' or 'Local' time_zone is not supported")]
    SystemTimezone,
    #[error("must specify `binlog-name` without GTID enabled for the source or specify `binlog-gtid` with GTID enabled for the source")]
    MetaInvalid,
    #[error("must specify at least one mysql-instances")]
    NoMySqlInstances,
    #[error("mysql-instance ({first}) and ({second}) have same source-id ({source_id})")]
    SameSourceId {
        first: usize,
        second: usize,
        source_id: String,
    },
    #[error("mydumper-config-name and mydumper should only specify one")]
    MydumperConflict,
    #[error("loader-config-name and loader should only specify one")]
    LoaderConflict,
    #[error("syncer-config-name and syncer should only specify one")]
    SyncerConflict,
    #[error("must specify a unique task name")]
    NeedUniqueTaskName,
    #[error(
        "please specify right task-mode, support `full`, `incremental`, `all`, `dump`, `load`"
    )]
    InvalidTaskMode,
    #[error("must specify target-database")]
    NeedTargetDb,
    #[error("mysql-instance({index})'s route-rules {name} not exist in routes")]
    RouteRuleNotFound { index: usize, name: String },
    #[error("mysql-instance({index})'s filter-rules {name} not exist in filters")]
    FilterRuleNotFound { index: usize, name: String },
    #[error("mysql-instance({index})'s list {name} not exist in block allow list")]
    BaListNotFound { index: usize, name: String },
    #[error("mysql-instance({index})'s mydumper config {name} not exist in mydumpers")]
    MydumperCfgNotFound { index: usize, name: String },
    #[error("mysql-instance({index})'s mydumper-path must specify a valid path to mydumper binary when task-mode is all or full")]
    MydumperPathNotValid { index: usize },
    #[error("mysql-instance({index})'s loader config {name} not exist in loaders")]
    LoaderCfgNotFound { index: usize, name: String },
    #[error("mysql-instance({index})'s syncer config {name} not exist in syncer")]
    SyncerCfgNotFound { index: usize, name: String },
    #[error("source {source_id} in deployment configuration not found")]
    SourceNotFound { source_id: String },
    #[error(
        "the following mysql configs have duplicate items, please remove the duplicates:\n{list}"
    )]
    DuplicateItems { list: String },
    #[error("shard mode {mode} not supported")]
    ShardModeNotSupported { mode: String },
    #[error("The configurations as following [{}] are set in global configuration but instances don't use them", names.join(" "))]
    GlobalConfigsUnused { names: Vec<String> },
    #[error("expression filter can only specify one of (insert, update, delete) expressions, but {name} has specified [{}]", fields.join(" "))]
    ExprFilterManyExpr { name: String, fields: Vec<String> },
    #[error("mysql-instance({index})'s expression-filters {name} not exist in expression-filter")]
    ExprFilterNotFound { index: usize, name: String },
    #[error("expression-filter name({name}) SQL({sql}) has wrong grammar: {cause}")]
    ExprFilterWrongGrammar {
        name: String,
        sql: String,
        cause: String,
    },
    #[error("expression-filter {name} has empty {field}")]
    ExprFilterEmptyName { name: String, field: &'static str },
    #[error("generate block allow list error")]
    GenBaList { cause: String },
    #[error("generate table router error")]
    GenTableRouter { cause: String },
    #[error("generate binlog event filter")]
    GenBinlogEventFilter { cause: String },
    #[error("invalid `chunk-filesize` {value}")]
    InvalidChunkFileSize { value: String },
    #[error("config '{rule_type}' regex pattern '{pattern}' invalid, reason: {reason}")]
    OnlineDdlInvalidRegex {
        rule_type: &'static str,
        pattern: String,
        reason: String,
    },
    #[error("collation compatible {value} not supported")]
    CollationNotSupported { value: String },
    #[error("invalid load mode '{mode}'")]
    InvalidLoadMode { mode: String },
    /// Subtasks of one task disagree on `import-mode` (same code as 20053).
    #[error(
        "found two import-mode {first} and {second} in task config, DM only supports one value"
    )]
    TwoImportModes { first: String, second: String },
    #[error("invalid load on-duplicate-logical or on-duplicate option '{value}'")]
    InvalidOnDuplicateLogical { value: String },
    #[error("invalid validation mode")]
    InvalidValidationMode,
    #[error("mysql-instance({index})'s continuous validator config {name} not exist")]
    ValidatorCfgNotFound { index: usize, name: String },
    #[error("loader's dir {dir} is s3 dir, but s3 is not supported")]
    LoaderS3NotSupported { dir: String },
    #[error("safe-mode-duration '{value}' parsed failed: {cause}")]
    InvalidSafeModeDuration { value: String, cause: String },
    #[error("safe-mode(true) conflicts with safe-mode-duration(0s)")]
    SafeModeConflict,
    #[error("invalid load on-duplicate-physical option '{value}'")]
    InvalidOnDuplicatePhysical { value: String },
    #[error("invalid load checksum-physical option '{value}'")]
    InvalidChecksumPhysical { value: String },
    #[error("column-mapping is not supported since v6.6.0")]
    ColumnMappingDeprecated,
    #[error("invalid load analyze option '{value}'")]
    InvalidAnalyze { value: String },
    #[error("cannot enable `strict-optimistic-shard-mode` while `shard-mode` is not `optimistic`")]
    StrictOptimisticShardMode,
    #[error("import-into mode does not support sharding (multi-source) scenario")]
    ImportIntoSharding,
    #[error("import-into mode requires shared storage (s3, gcs, azure, etc.) for loader's dir, but got local path '{dir}'")]
    ImportIntoNeedsSharedStorage { dir: String },
    #[error("`{option}` is not supported when foreign_key_checks=1")]
    ForeignKeyChecksOption { option: &'static str },
    /// A plain (code-less) error DM returns as is, e.g. go-units' size
    /// parse error for `max-pending-row-size`.
    #[error("{message}")]
    Plain { message: String },
    /// DM's `terror.Annotatef`: same code, message `<prefix>: <inner>`.
    #[error("{prefix}: {inner}")]
    Annotated {
        prefix: String,
        inner: Box<ConfigError>,
    },
}

/// DM's error level tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Low,
    Medium,
    High,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
        }
    }
}

impl ConfigError {
    /// DM's error code; 0 for a plain error.
    pub fn code(&self) -> i32 {
        use ConfigError::*;
        match self {
            CheckItemNotSupported { .. } => 20001,
            TomlDecode { .. } => 20002,
            YamlDecode { .. } => 20003,
            TaskNameEmpty => 20004,
            EmptySourceId => 20005,
            TooLongSourceId => 20006,
            OnlineSchemeNotSupported { .. } => 20007,
            InvalidTimezone { .. } | SystemTimezone => 20008,
            MetaInvalid => 20011,
            NoMySqlInstances => 20013,
            SameSourceId { .. } => 20014,
            MydumperConflict => 20015,
            LoaderConflict => 20016,
            SyncerConflict => 20017,
            NeedUniqueTaskName => 20019,
            InvalidTaskMode => 20020,
            NeedTargetDb => 20021,
            RouteRuleNotFound { .. } => 20023,
            FilterRuleNotFound { .. } => 20024,
            BaListNotFound { .. } => 20026,
            MydumperCfgNotFound { .. } => 20027,
            MydumperPathNotValid { .. } => 20028,
            LoaderCfgNotFound { .. } => 20029,
            SyncerCfgNotFound { .. } => 20030,
            SourceNotFound { .. } => 20031,
            DuplicateItems { .. } => 20032,
            ShardModeNotSupported { .. } => 20033,
            GenBinlogEventFilter { .. } => 20037,
            GlobalConfigsUnused { .. } => 20038,
            ExprFilterManyExpr { .. } => 20039,
            ExprFilterNotFound { .. } => 20040,
            ExprFilterWrongGrammar { .. } => 20041,
            ExprFilterEmptyName { .. } => 20042,
            GenBaList { .. } => 20044,
            GenTableRouter { .. } => 20045,
            InvalidChunkFileSize { .. } => 20047,
            OnlineDdlInvalidRegex { .. } => 20048,
            CollationNotSupported { .. } => 20052,
            InvalidLoadMode { .. } | TwoImportModes { .. } => 20053,
            InvalidOnDuplicateLogical { .. } => 20054,
            InvalidValidationMode => 20055,
            ValidatorCfgNotFound { .. } => 20056,
            LoaderS3NotSupported { .. } => 20059,
            InvalidSafeModeDuration { .. } => 20060,
            SafeModeConflict => 20061,
            InvalidOnDuplicatePhysical { .. } => 20062,
            InvalidChecksumPhysical { .. } => 20063,
            ColumnMappingDeprecated => 20064,
            InvalidAnalyze { .. } => 20065,
            StrictOptimisticShardMode => 20066,
            ImportIntoSharding => 20068,
            ImportIntoNeedsSharedStorage { .. } => 20069,
            ForeignKeyChecksOption { .. } => 20070,
            Plain { .. } => 0,
            Annotated { inner, .. } => inner.code(),
        }
    }

    /// DM's level tag of the code.
    pub fn level(&self) -> Level {
        match self.code() {
            20061 => Level::Low,
            20034..=20049 | 20055 | 20057..=20059 | 20064 | 20067..=20069 => Level::High,
            _ => Level::Medium,
        }
    }

    /// The underlying error DM reports as `RawCause`, if any.
    pub fn raw_cause(&self) -> Option<&str> {
        use ConfigError::*;
        match self {
            TomlDecode { cause, .. }
            | YamlDecode { cause, .. }
            | GenBaList { cause }
            | GenTableRouter { cause }
            | GenBinlogEventFilter { cause } => Some(cause),
            Annotated { inner, .. } => inner.raw_cause(),
            _ => None,
        }
    }

    /// DM's workaround text of the code (`""` when it has none).
    pub fn workaround(&self) -> &'static str {
        match self.code() {
            20001 => "Please check `ignore-checking-items` config in task configuration file, which can be set including `all`/`dump_privilege`/`replication_privilege`/`version`/`binlog_enable`/`binlog_format`/`binlog_row_image`/`table_schema`/`schema_of_shard_tables`/`auto_increment_ID`.",
            20002 => "Please check the configuration file has correct TOML format.",
            20003 => "Please check the configuration file has correct YAML format.",
            20004 | 20019 => "Please check the `name` config in task configuration file.",
            20005 => "Please check the `source-id` config in configuration file.",
            20006 => "Please check the `source-id` config in configuration file. The max source id length is 32.",
            20007 => "Please check the `online-ddl-scheme` config in task configuration file. Only `ghost` and `pt` are currently supported.",
            20008 => "Please check the `timezone` config in task configuration file.",
            20011 | 20022 => "Please check the `meta` config in task configuration file.",
            20012..=20014 | 20032 => "Please check the `mysql-instances` config in task configuration file.",
            20015 => "Please check the `mydumper-config-name` and `mydumper` config in task configuration file.",
            20016 => "Please check the `loader-config-name` and `loader` config in task configuration file.",
            20017 => "Please check the `syncer-config-name` and `syncer` config in task configuration file.",
            20020 => "Please check the `task-mode` config in task configuration file.",
            20021 => "Please check the `target-database` config in task configuration file.",
            20023 => "Please check the `route-rules` config in task configuration file.",
            20024 => "Please check the `filter-rules` config in task configuration file.",
            20026 | 20044 => "Please check the `block-allow-list` config in task configuration file.",
            20027 => "Please check the `mydumper-config-name` config in task configuration file.",
            20028 => "Please check the `mydumper-path` config in task configuration file.",
            20029 => "Please check the `loader-config-name` config in task configuration file.",
            20030 => "Please check the `syncer-config-name` config in task configuration file.",
            20031 => "Please use `operate-source create source-config-file-path` to add source.",
            20033 => "Please check the `shard-mode` config in task configuration file, which can be set to `pessimistic`/`optimistic`.",
            20037 => "Please check the `filters` config in source and task configuration files.",
            20038 => "Please check the configuration files.",
            20039 => "If you want to filter by A or B, please write two filters.",
            20040..=20042 => "Please check the `expression-filters` config in task configuration file.",
            20045 => "Please check the `routes` config in task configuration file.",
            20047 => "Please check the `chunk-filesize` config in task configuration file.",
            20048 => "Please check if params is correctly in the configuration file.",
            20052 => "Please check the `collation_compatible` config in task configuration file, which can be set to `loose`/`strict`.",
            20053 => "Please choose a valid value in ['logical', 'physical', 'import-into']",
            20054 => "Please choose a valid value in ['replace', 'error', 'ignore'] or leave it empty.",
            20055 => "Please check `validation-mode` config in task configuration file.",
            20056 => "Please check the `validator-config-name` config in task configuration file.",
            20059 => "Please check the `dir` config in task configuration file and you can use `Lightning` by set config `import-mode` be `sql` which supports s3 instead.",
            20060 => "Please check the `safe-mode-duration` is correct.",
            20061 => "Please set safe-mode to false or safe-mode-duration to non-zero.",
            20062 => "Please choose a valid value in ['none', 'manual'] or leave it empty.",
            20063 | 20065 => "Please choose a valid value in ['required', 'optional', 'off'] or leave it empty.",
            20064 => "Please use extract-table/extract-schema/extract-source to handle data conflict when merge tables. See https://docs.pingcap.com/tidb/v6.4/task-configuration-file-full#task-configuration-file-template-advanced",
            20066 => "Please set `shard-mode` to `optimistic` if you want to enable `strict-optimistic-shard-mode`.",
            20068 => "Please use 'physical' or 'logical' mode for sharding scenarios, or disable sharding mode to use 'import-into'.",
            20069 => "Please use a shared storage URI like s3://bucket/path",
            20070 => "Please disable `foreign_key_checks`, or disable this syncer option in task configuration file.",
            _ => "",
        }
    }

    /// DM's `terror.Annotatef(err, prefix)`.
    pub fn annotate(self, prefix: impl Into<String>) -> ConfigError {
        ConfigError::Annotated {
            prefix: prefix.into(),
            inner: Box::new(self),
        }
    }

    /// The full DM error string:
    /// `[code=N:class=C:scope=internal:level=L], Message: M[, RawCause: R][, Workaround: W]`.
    /// `class` is `config` where DM's config package returns it and
    /// `dm-master` where StartTask/CheckTask rewrite it. A plain error is
    /// its message alone.
    pub fn dm_string(&self, class: &str) -> String {
        if self.code() == 0 {
            return self.to_string();
        }
        let mut out = format!(
            "[code={}:class={}:scope=internal:level={}], Message: {}",
            self.code(),
            class,
            self.level().as_str(),
            self
        );
        if let Some(cause) = self.raw_cause() {
            out.push_str(", RawCause: ");
            out.push_str(cause);
        }
        let workaround = self.workaround();
        if !workaround.is_empty() {
            out.push_str(", Workaround: ");
            out.push_str(workaround);
        }
        out
    }
}
