//! A source config as the BurntSushi TOML DM stores for Go workers: only
//! the keys Go's `SourceConfig` knows, in its order.

use std::fmt::Write as _;

use super::SourceConfig;
use crate::task_config::quote_str as toml_str;

impl SourceConfig {
    /// BurntSushi TOML of the config, as DM stores it.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, indent: &str, key: &str, value: &str| {
            let _ = writeln!(out, "{indent}{key} = {value}");
        };
        let b = |v: bool| v.to_string();
        line(&mut out, "", "enable", &b(self.enable));
        line(&mut out, "", "enable-gtid", &b(self.enable_gtid));
        line(&mut out, "", "auto-fix-gtid", &b(self.auto_fix_gtid));
        line(&mut out, "", "relay-dir", &toml_str(&self.relay_dir));
        line(&mut out, "", "meta-dir", &toml_str(&self.meta_dir));
        line(&mut out, "", "flavor", &toml_str(&self.flavor));
        line(&mut out, "", "charset", &toml_str(&self.charset));
        line(&mut out, "", "enable-relay", &b(self.enable_relay));
        line(
            &mut out,
            "",
            "relay-binlog-name",
            &toml_str(&self.relay_binlog_name),
        );
        line(
            &mut out,
            "",
            "relay-binlog-gtid",
            &toml_str(&self.relay_binlog_gtid),
        );
        line(&mut out, "", "source-id", &toml_str(&self.source_id));
        line(&mut out, "", "server-id", &self.server_id.to_string());
        line(&mut out, "", "case-sensitive", &b(self.case_sensitive));
        if self.filters.as_ref().is_some_and(Vec::is_empty) {
            line(&mut out, "", "filters", "[]");
        }

        let i = "  ";
        out.push_str("\n[from]\n");
        line(&mut out, i, "host", &toml_str(&self.from.host));
        line(&mut out, i, "port", &self.from.port.to_string());
        line(&mut out, i, "user", &toml_str(&self.from.user));
        line(&mut out, i, "password", &toml_str(&self.from.password));
        if let Some(packet) = self.from.max_allowed_packet {
            line(&mut out, i, "max-allowed-packet", &packet.to_string());
        }
        if let Some(session) = &self.from.session {
            out.push_str("  [from.session]\n");
            for (key, value) in session {
                line(&mut out, "    ", &toml_key(key), &toml_str(value));
            }
        }
        if let Some(sec) = &self.from.security {
            let ii = "    ";
            out.push_str("  [from.security]\n");
            line(&mut out, ii, "ssl-ca", &toml_str(&sec.ssl_ca));
            line(&mut out, ii, "ssl-cert", &toml_str(&sec.ssl_cert));
            line(&mut out, ii, "ssl-key", &toml_str(&sec.ssl_key));
            if let Some(cns) = &sec.cert_allowed_cn {
                line(
                    &mut out,
                    ii,
                    "cert-allowed-cn",
                    &toml_list(cns.iter().map(|s| toml_str(s))),
                );
            }
            for (key, bytes) in [
                ("ssl-ca-bytes", &sec.ssl_ca_bytes),
                ("ssl-key-bytes", &sec.ssl_key_bytes),
                ("ssl-cert-bytes", &sec.ssl_cert_bytes),
            ] {
                if let Some(bytes) = bytes {
                    line(
                        &mut out,
                        ii,
                        key,
                        &toml_list(bytes.iter().map(u8::to_string)),
                    );
                }
            }
            line(&mut out, ii, "ssl-ca-base64", &toml_str(&sec.ssl_ca_base64));
            line(
                &mut out,
                ii,
                "ssl-key-base64",
                &toml_str(&sec.ssl_key_base64),
            );
            line(
                &mut out,
                ii,
                "ssl-cert-base64",
                &toml_str(&sec.ssl_cert_base64),
            );
        }

        out.push_str("\n[purge]\n");
        line(&mut out, i, "interval", &self.purge.interval.to_string());
        line(&mut out, i, "expires", &self.purge.expires.to_string());
        line(
            &mut out,
            i,
            "remain-space",
            &self.purge.remain_space.to_string(),
        );

        let c = &self.checker;
        out.push_str("\n[checker]\n");
        line(&mut out, i, "check-enable", &b(c.check_enable));
        line(
            &mut out,
            i,
            "backoff-rollback",
            &toml_str(&c.backoff_rollback.to_string()),
        );
        line(
            &mut out,
            i,
            "backoff-max",
            &toml_str(&c.backoff_max.to_string()),
        );
        line(
            &mut out,
            i,
            "check-interval",
            &toml_str(&c.check_interval.to_string()),
        );
        line(
            &mut out,
            i,
            "backoff-min",
            &toml_str(&c.backoff_min.to_string()),
        );
        line(&mut out, i, "backoff-jitter", &b(c.backoff_jitter));
        line(&mut out, i, "backoff-factor", &go_float(c.backoff_factor));

        if let Some(tracer) = &self.tracer {
            out.push_str("\n[tracer]\n");
            for (key, value) in tracer {
                if let Some(text) = toml_scalar(value) {
                    line(&mut out, i, &toml_key(key), &text);
                }
            }
        }

        for rule in self.filters.iter().flatten() {
            out.push_str("\n[[filters]]\n");
            line(
                &mut out,
                i,
                "schema-pattern",
                &toml_str(&rule.schema_pattern),
            );
            line(&mut out, i, "table-pattern", &toml_str(&rule.table_pattern));
            if let Some(events) = &rule.events {
                line(
                    &mut out,
                    i,
                    "events",
                    &toml_list(events.iter().map(|s| toml_str(s))),
                );
            }
            if let Some(sqls) = &rule.sql_pattern {
                line(
                    &mut out,
                    i,
                    "sql-pattern",
                    &toml_list(sqls.iter().map(|s| toml_str(s))),
                );
            }
            line(&mut out, i, "action", &toml_str(&rule.action));
        }
        out
    }
}

fn toml_list(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(", "))
}

fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        key.to_owned()
    } else {
        toml_str(key)
    }
}

/// Go's shortest `%g` float with `.0` appended when it has no `.` or `e`.
fn go_float(f: f64) -> String {
    let text = format!("{f}");
    if text.contains('.') || text.contains('e') || text.contains("inf") || text.contains("NaN") {
        text
    } else {
        format!("{text}.0")
    }
}

fn toml_scalar(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Number(n) => Some(match n.as_f64() {
            Some(f) if !n.is_i64() && !n.is_u64() => go_float(f),
            _ => n.to_string(),
        }),
        serde_json::Value::String(s) => Some(toml_str(s)),
        _ => None,
    }
}
