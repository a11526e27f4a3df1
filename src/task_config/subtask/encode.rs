//! A subtask config as DM's BurntSushi TOML encoder writes the Go struct:
//! field for field, in declaration order, so the stored bytes are DM's.

use super::SubTaskConfig;
use crate::task_config::model::{
    BaList, BaTable, BinlogEventRule, DbConfig, ExpressionFilter, Extractor, Security, TableRule,
};
use crate::task_config::toml_writer::Table;

impl SubTaskConfig {
    /// This config as the BurntSushi encoder sees the Go struct.
    pub(super) fn to_table(&self) -> Table {
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
