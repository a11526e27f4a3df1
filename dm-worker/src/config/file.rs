//! DM-worker's TOML file: decoded over a [`WorkerConfig`] with
//! BurntSushi's rules (unknown keys listed by dotted path, 40004; a value of
//! the wrong type, 40003), and the config rendered back as `GetWorkerCfg`
//! answers it.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use dm_master::task_config::quote_str as go_toml_string;

use super::WorkerConfig;
use crate::error::{Error, Result};

impl WorkerConfig {
    /// Decodes DM's worker TOML over `self`. Keys Go's `worker.Config` does
    /// not have are refused (40004) with their dotted paths; a value of the
    /// wrong type is a decode error (40003).
    pub fn apply_toml(&mut self, text: &str) -> Result<()> {
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| Error::DecodeConfigFile {
                    reason: e.message().to_owned(),
                })?;
        let mut undecoded = Vec::new();
        for (key, value) in &table {
            if let Err(e) = self.apply_toml_key(key, value) {
                match e {
                    KeyProblem::Unknown => collect_paths(key, value, &mut undecoded),
                    KeyProblem::Type(expected) => {
                        return Err(Error::DecodeConfigFile {
                            reason: format!(
                                "toml: (last key {key:?}): incompatible types: TOML value has type {}; destination has type {expected}",
                                toml_type(value)
                            ),
                        })
                    }
                }
            }
        }
        if !undecoded.is_empty() {
            return Err(Error::UndecodedConfigItems {
                items: undecoded.join(","),
            });
        }
        Ok(())
    }

    fn apply_toml_key(
        &mut self,
        key: &str,
        value: &toml::Value,
    ) -> std::result::Result<(), KeyProblem> {
        let text = |slot: &mut String| typed(value, "string", str_value).map(|v| *slot = v);
        let int =
            |slot: &mut i64| typed(value, "int64", toml::Value::as_integer).map(|v| *slot = v);
        match key {
            "name" => text(&mut self.name),
            "log-level" => text(&mut self.log_level),
            "log-file" => text(&mut self.log_file),
            "log-format" => text(&mut self.log_format),
            "log-rotate" => text(&mut self.log_rotate),
            "redact-info-log" => {
                typed(value, "bool", toml::Value::as_bool).map(|b| self.redact_info_log = b)
            }
            "join" => text(&mut self.join),
            "worker-addr" => text(&mut self.worker_addr),
            "advertise-addr" => text(&mut self.advertise_addr),
            "config-file" => text(&mut self.config_file),
            "keepalive-ttl" => int(&mut self.keepalive_ttl),
            "relay-keepalive-ttl" => int(&mut self.relay_keepalive_ttl),
            "relay-dir" => text(&mut self.relay_dir),
            "ssl-ca" => text(&mut self.ssl_ca),
            "ssl-cert" => text(&mut self.ssl_cert),
            "ssl-key" => text(&mut self.ssl_key),
            "ssl-ca-base64" => text(&mut self.ssl_ca_base64),
            "ssl-key-base64" => text(&mut self.ssl_key_base64),
            "ssl-cert-base64" => text(&mut self.ssl_cert_base64),
            "cert-allowed-cn" => {
                let items = typed(value, "[]string", toml::Value::as_array)?;
                self.cert_allowed_cn = items
                    .iter()
                    .map(|item| typed(item, "string", str_value))
                    .collect::<std::result::Result<_, _>>()?;
                Ok(())
            }
            // Certificate bytes inline: accepted (DM decodes them), unused
            // because TLS material is read from the path keys.
            "ssl-ca-bytes" | "ssl-key-bytes" | "ssl-cert-bytes" => Ok(()),
            "scenario" => {
                let files = typed(value, "map[string]string", toml::Value::as_table)?;
                self.scenarios = files
                    .iter()
                    .map(|(task, file)| Ok((task.clone(), typed(file, "string", str_value)?)))
                    .collect::<std::result::Result<_, _>>()?;
                Ok(())
            }
            _ => Err(KeyProblem::Unknown),
        }
    }

    /// The config as DM's `GetWorkerCfg` returns it (Go's TOML encoder over
    /// `worker.Config`, including the embedded TLS fields).
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let mut line = |key: &str, value: String| {
            let _ = writeln!(out, "{key} = {value}");
        };
        let s = go_toml_string;
        line("name", s(&self.name));
        line("log-level", s(&self.log_level));
        line("log-file", s(&self.log_file));
        line("log-format", s(&self.log_format));
        line("log-rotate", s(&self.log_rotate));
        line("redact-info-log", self.redact_info_log.to_string());
        line("join", s(&self.join));
        line("worker-addr", s(&self.worker_addr));
        line("advertise-addr", s(&self.advertise_addr));
        line("config-file", s(&self.config_file));
        line("keepalive-ttl", self.keepalive_ttl.to_string());
        line("relay-keepalive-ttl", self.relay_keepalive_ttl.to_string());
        line("relay-dir", s(&self.relay_dir));
        line("ssl-ca", s(&self.ssl_ca));
        line("ssl-cert", s(&self.ssl_cert));
        line("ssl-key", s(&self.ssl_key));
        // A nil slice is left out, as BurntSushi's encoder does.
        if !self.cert_allowed_cn.is_empty() {
            let items: Vec<String> = self.cert_allowed_cn.iter().map(|c| s(c)).collect();
            line("cert-allowed-cn", format!("[{}]", items.join(", ")));
        }
        line("ssl-ca-base64", s(&self.ssl_ca_base64));
        line("ssl-key-base64", s(&self.ssl_key_base64));
        line("ssl-cert-base64", s(&self.ssl_cert_base64));
        out
    }
}

enum KeyProblem {
    Unknown,
    Type(&'static str),
}

/// The value of a key read as one Go type (`expected`, for the error), or
/// the type error when the TOML value is of another type.
fn typed<'v, T>(
    value: &'v toml::Value,
    expected: &'static str,
    read: impl FnOnce(&'v toml::Value) -> Option<T>,
) -> std::result::Result<T, KeyProblem> {
    read(value).ok_or(KeyProblem::Type(expected))
}

fn str_value(value: &toml::Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

/// Dotted paths of an unknown key (and of its children when it is a table),
/// as BurntSushi's `MetaData.Undecoded` lists them.
fn collect_paths(prefix: &str, value: &toml::Value, out: &mut Vec<String>) {
    out.push(prefix.to_owned());
    if let toml::Value::Table(table) = value {
        let children: BTreeSet<&String> = table.keys().collect();
        for key in children {
            collect_paths(&format!("{prefix}.{key}"), &table[key.as_str()], out);
        }
    }
}

fn toml_type(value: &toml::Value) -> &'static str {
    match value {
        toml::Value::String(_) => "String",
        toml::Value::Integer(_) => "Integer",
        toml::Value::Float(_) => "Float",
        toml::Value::Boolean(_) => "Boolean",
        toml::Value::Datetime(_) => "Datetime",
        toml::Value::Array(_) => "Array",
        toml::Value::Table(_) => "Hash",
    }
}
