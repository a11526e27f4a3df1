//! PURE. DM-worker's configuration: its command-line flags (Go `flag`
//! spellings: `-name x`, `--name x`, `-name=x`), its TOML file (DM's keys,
//! unknown keys refused), and the adjustments DM makes once both are read.
//!
//! **Precedence** is DM's: flags over the file over the defaults (DM parses
//! the flags, decodes the file over them, then parses the flags again).
//!
//! [`WorkerConfig::to_toml`] renders the config as DM's `GetWorkerCfg`
//! answers it (BurntSushi's encoder over Go's `worker.Config`: every field
//! in declaration order, nil slices left out).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use dm_master::task_config::quote_str as go_toml_string;

use crate::error::{Error, Result};

/// DM's default lease TTL of the keep-alive key, in seconds.
pub const DEFAULT_KEEPALIVE_TTL: i64 = 60;
/// DM's lease TTL while the worker runs relay, in seconds.
pub const DEFAULT_RELAY_KEEPALIVE_TTL: i64 = 30 * 60;

/// A validated DM-worker configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerConfig {
    /// Worker identity in every etcd key; defaults to `advertise_addr`.
    pub name: String,
    pub log_level: String,
    pub log_file: String,
    pub log_format: String,
    pub log_rotate: String,
    pub redact_info_log: bool,
    /// Master addresses, comma-separated, each scheme-wrapped (`http://`, or
    /// `https://` when `ssl_ca` is set) as DM's `WrapSchemes` does.
    pub join: String,
    /// Listen address of the `pb.Worker` gRPC server (scheme removed).
    pub worker_addr: String,
    /// Address registered with the master and dialled by it.
    pub advertise_addr: String,
    /// The TOML file read, as given (`--config`).
    pub config_file: String,
    /// Lease TTL of the keep-alive key, in seconds.
    pub keepalive_ttl: i64,
    /// Lease TTL while relay runs (relay is not supported; kept for DM's
    /// config surface).
    pub relay_keepalive_ttl: i64,
    pub relay_dir: String,
    pub ssl_ca: String,
    pub ssl_cert: String,
    pub ssl_key: String,
    pub cert_allowed_cn: Vec<String>,
    pub ssl_ca_base64: String,
    pub ssl_key_base64: String,
    pub ssl_cert_base64: String,
    /// Not DM's: the `[scenario]` table, task name → file of that task's
    /// upstream statements ([`crate::scenario::TaskScenario`]). It stands
    /// in for the binlog, which this worker does not read. A relative path
    /// is relative to the config file's directory.
    pub scenarios: std::collections::BTreeMap<String, String>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            name: String::new(),
            log_level: "info".into(),
            log_file: String::new(),
            log_format: "text".into(),
            log_rotate: String::new(),
            redact_info_log: false,
            join: String::new(),
            worker_addr: String::new(),
            advertise_addr: String::new(),
            config_file: String::new(),
            keepalive_ttl: DEFAULT_KEEPALIVE_TTL,
            relay_keepalive_ttl: DEFAULT_RELAY_KEEPALIVE_TTL,
            relay_dir: String::new(),
            ssl_ca: String::new(),
            ssl_cert: String::new(),
            ssl_key: String::new(),
            cert_allowed_cn: Vec::new(),
            ssl_ca_base64: String::new(),
            ssl_key_base64: String::new(),
            ssl_cert_base64: String::new(),
            scenarios: std::collections::BTreeMap::new(),
        }
    }
}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Run the worker with this configuration.
    Run(Box<WorkerConfig>),
    /// `-V`: print the version and exit 0.
    PrintVersion,
    /// `-print-sample-config`: print DM's sample file and exit 0.
    PrintSampleConfig,
    /// `-h` / `-help`: print the usage and exit 0.
    Help,
}

/// DM's sample worker file (`dm/worker/dm-worker.toml`).
pub const SAMPLE_CONFIG: &str = "# Worker Configuration.

#log configuration
log-level = \"info\"
log-file = \"dm-worker.log\"

#dm-worker listen address
worker-addr = \":8262\"
advertise-addr = \"127.0.0.1:8262\"
join = \"127.0.0.1:8261\"

relay-dir = \"/tmp/relay\"
";

/// The kind of value a flag takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Str,
    Int,
    /// Repeatable: every use appends (`-cert-allowed-cn`).
    List,
}

/// DM-worker's flags (`dm/worker/config.go` `NewConfig`).
const FLAGS: &[(&str, Kind)] = &[
    ("V", Kind::Bool),
    ("print-sample-config", Kind::Bool),
    ("config", Kind::Str),
    ("worker-addr", Kind::Str),
    ("advertise-addr", Kind::Str),
    ("L", Kind::Str),
    ("log-file", Kind::Str),
    ("log-format", Kind::Str),
    ("redact-info-log", Kind::Bool),
    ("join", Kind::Str),
    ("name", Kind::Str),
    ("keepalive-ttl", Kind::Int),
    ("relay-keepalive-ttl", Kind::Int),
    ("ssl-ca", Kind::Str),
    ("ssl-cert", Kind::Str),
    ("ssl-key", Kind::Str),
    ("cert-allowed-cn", Kind::List),
];

/// The worker's usage text for `-h`.
pub fn usage() -> String {
    let mut out = String::from("Usage of worker:\n");
    for (name, kind) in FLAGS {
        let arg = match kind {
            Kind::Bool => "",
            Kind::Str | Kind::List => " string",
            Kind::Int => " int",
        };
        let _ = writeln!(out, "  -{name}{arg}");
    }
    out
}

/// One flag as given on the command line, in order.
type FlagUse = (&'static str, String);

/// Splits `args` (without the program name) into flag uses with Go's `flag`
/// rules: one or two dashes, `=value` or the next argument, booleans only
/// with `=`, parsing stops at `--` or the first non-flag argument.
fn scan_flags(args: &[String]) -> Result<(Vec<FlagUse>, Vec<String>)> {
    let mut uses = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg.len() < 2 || !arg.starts_with('-') {
            break;
        }
        let body = arg.strip_prefix("--").unwrap_or(&arg[1..]);
        if arg == "--" {
            i += 1;
            break;
        }
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(Error::ParseFlags {
                reason: format!("bad flag syntax: {arg}"),
            });
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (body, None),
        };
        if name == "h" || name == "help" {
            return Ok((vec![("help", String::new())], Vec::new()));
        }
        let Some(&(flag, kind)) = FLAGS.iter().find(|(n, _)| *n == name) else {
            return Err(Error::ParseFlags {
                reason: format!("flag provided but not defined: -{name}"),
            });
        };
        let value = match (kind, inline) {
            (Kind::Bool, None) => "true".to_owned(),
            (_, Some(v)) => v,
            (_, None) => {
                i += 1;
                args.get(i).cloned().ok_or_else(|| Error::ParseFlags {
                    reason: format!("flag needs an argument: -{name}"),
                })?
            }
        };
        if kind == Kind::Bool {
            parse_go_bool(&value).ok_or_else(|| Error::ParseFlags {
                reason: format!("invalid boolean value {value:?} for -{name}: parse error"),
            })?;
        }
        if kind == Kind::Int {
            value.parse::<i64>().map_err(|_| Error::ParseFlags {
                reason: format!("invalid value {value:?} for flag -{name}: parse error"),
            })?;
        }
        uses.push((flag, value));
        i += 1;
    }
    Ok((uses, args[i..].to_vec()))
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

impl WorkerConfig {
    /// Parses the command line (without the program name) as DM-worker does;
    /// `read_file` reads the `--config` file (injected so this stays pure).
    pub fn parse_args(
        args: &[String],
        read_file: impl FnOnce(&str) -> std::io::Result<String>,
    ) -> Result<Parsed> {
        let (uses, rest) = scan_flags(args)?;
        if uses.iter().any(|(f, _)| *f == "help") {
            return Ok(Parsed::Help);
        }
        let flag = |name: &str| {
            uses.iter()
                .rev()
                .find(|(f, _)| *f == name)
                .map(|(_, v)| v.as_str())
        };
        if flag("V").and_then(parse_go_bool) == Some(true) {
            return Ok(Parsed::PrintVersion);
        }
        if flag("print-sample-config").and_then(parse_go_bool) == Some(true) {
            return Ok(Parsed::PrintSampleConfig);
        }
        let mut cfg = WorkerConfig::default();
        if let Some(path) = flag("config").filter(|p| !p.is_empty()) {
            let text = read_file(path).map_err(|e| Error::DecodeConfigFile {
                reason: format!("open {path}: {e}"),
            })?;
            cfg.apply_toml(&text)?;
        }
        for (name, value) in &uses {
            cfg.apply_flag(name, value);
        }
        if let Some(first) = rest.first() {
            return Err(Error::InvalidFlag { arg: first.clone() });
        }
        cfg.adjust()?;
        Ok(Parsed::Run(Box::new(cfg)))
    }

    fn apply_flag(&mut self, name: &str, value: &str) {
        let int = || value.parse::<i64>().unwrap_or_default();
        match name {
            "config" => self.config_file = value.into(),
            "worker-addr" => self.worker_addr = value.into(),
            "advertise-addr" => self.advertise_addr = value.into(),
            "L" => self.log_level = value.into(),
            "log-file" => self.log_file = value.into(),
            "log-format" => self.log_format = value.into(),
            "redact-info-log" => self.redact_info_log = parse_go_bool(value).unwrap_or(false),
            "join" => self.join = value.into(),
            "name" => self.name = value.into(),
            "keepalive-ttl" => self.keepalive_ttl = int(),
            "relay-keepalive-ttl" => self.relay_keepalive_ttl = int(),
            "ssl-ca" => self.ssl_ca = value.into(),
            "ssl-cert" => self.ssl_cert = value.into(),
            "ssl-key" => self.ssl_key = value.into(),
            "cert-allowed-cn" => self.cert_allowed_cn.push(value.into()),
            _ => {}
        }
    }

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
        let text = |slot: &mut String| match value {
            toml::Value::String(s) => {
                *slot = s.clone();
                Ok(())
            }
            _ => Err(KeyProblem::Type("string")),
        };
        let int = |slot: &mut i64| match value {
            toml::Value::Integer(n) => {
                *slot = *n;
                Ok(())
            }
            _ => Err(KeyProblem::Type("int64")),
        };
        match key {
            "name" => text(&mut self.name),
            "log-level" => text(&mut self.log_level),
            "log-file" => text(&mut self.log_file),
            "log-format" => text(&mut self.log_format),
            "log-rotate" => text(&mut self.log_rotate),
            "redact-info-log" => match value {
                toml::Value::Boolean(b) => {
                    self.redact_info_log = *b;
                    Ok(())
                }
                _ => Err(KeyProblem::Type("bool")),
            },
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
            "cert-allowed-cn" => match value {
                toml::Value::Array(items) => {
                    let mut cns = Vec::new();
                    for item in items {
                        match item {
                            toml::Value::String(s) => cns.push(s.clone()),
                            _ => return Err(KeyProblem::Type("string")),
                        }
                    }
                    self.cert_allowed_cn = cns;
                    Ok(())
                }
                _ => Err(KeyProblem::Type("[]string")),
            },
            // Certificate bytes inline: accepted (DM decodes them), unused
            // because TLS material is read from the path keys.
            "ssl-ca-bytes" | "ssl-key-bytes" | "ssl-cert-bytes" => Ok(()),
            "scenario" => match value {
                toml::Value::Table(files) => {
                    let mut scenarios = std::collections::BTreeMap::new();
                    for (task, file) in files {
                        match file {
                            toml::Value::String(path) => {
                                scenarios.insert(task.clone(), path.clone());
                            }
                            _ => return Err(KeyProblem::Type("string")),
                        }
                    }
                    self.scenarios = scenarios;
                    Ok(())
                }
                _ => Err(KeyProblem::Type("map[string]string")),
            },
            _ => Err(KeyProblem::Unknown),
        }
    }

    /// DM's `adjust`: scheme stripped from the listen and advertise
    /// addresses, `advertise-addr` defaulted and checked, `name` defaulted,
    /// `join` scheme-wrapped.
    pub fn adjust(&mut self) -> Result<()> {
        self.worker_addr = unwrap_scheme(&self.worker_addr).to_owned();
        let (host, _) =
            split_host_port(&self.worker_addr).map_err(|cause| Error::HostPortNotValid {
                message: format!("host:port '{}' not valid", self.worker_addr),
                raw_cause: Some(cause),
            })?;
        if self.advertise_addr.is_empty() {
            if host.is_empty() || host == "0.0.0.0" {
                return Err(Error::HostPortNotValid {
                    message: format!("worker-addr ({}) must include the 'host' part (should not be '0.0.0.0') when advertise-addr is not set", self.worker_addr),
                    raw_cause: None,
                });
            }
            self.advertise_addr = self.worker_addr.clone();
        } else {
            self.advertise_addr = unwrap_scheme(&self.advertise_addr).to_owned();
            let (host, port) =
                split_host_port(&self.advertise_addr).map_err(|cause| Error::HostPortNotValid {
                    message: format!("host:port '{}' not valid", self.advertise_addr),
                    raw_cause: Some(cause),
                })?;
            if host.is_empty() || host == "0.0.0.0" || port.is_empty() {
                // DM passes this text to `Generate` of a `%s` template, so
                // the advertise address stays unformatted in its message.
                return Err(Error::HostPortNotValid {
                    message: format!("host:port 'advertise-addr (%s) must include the 'host' part and should not be '0.0.0.0'' not valid%!(EXTRA string={})", self.advertise_addr),
                    raw_cause: None,
                });
            }
        }
        if self.name.is_empty() {
            self.name = self.advertise_addr.clone();
        }
        if !self.join.is_empty() {
            self.join = wrap_schemes(&self.join, !self.ssl_ca.is_empty());
        }
        if self.keepalive_ttl <= 0 {
            return Err(Error::ParseFlags {
                reason: format!("keepalive-ttl must be positive, got {}", self.keepalive_ttl),
            });
        }
        Ok(())
    }

    /// The scenario file of `task`, resolved against the config file's
    /// directory.
    pub fn scenario_path(&self, task: &str) -> Option<std::path::PathBuf> {
        let file = std::path::Path::new(self.scenarios.get(task)?);
        let base = std::path::Path::new(&self.config_file).parent();
        Some(match base {
            Some(dir) if file.is_relative() => dir.join(file),
            _ => file.to_path_buf(),
        })
    }

    /// The master endpoints of `join` (DM's `GetJoinURLs`: split on commas).
    pub fn join_urls(&self) -> Vec<String> {
        self.join.split(',').map(str::to_owned).collect()
    }

    /// The config as DM's `GetWorkerCfg` returns it (Go's TOML encoder over
    /// `worker.Config`, including the embedded TLS fields).
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        let mut s = |key: &str, value: &str| {
            let _ = writeln!(out, "{key} = {}", go_toml_string(value));
        };
        s("name", &self.name);
        s("log-level", &self.log_level);
        s("log-file", &self.log_file);
        s("log-format", &self.log_format);
        s("log-rotate", &self.log_rotate);
        let _ = writeln!(out, "redact-info-log = {}", self.redact_info_log);
        let mut s = |key: &str, value: &str| {
            let _ = writeln!(out, "{key} = {}", go_toml_string(value));
        };
        s("join", &self.join);
        s("worker-addr", &self.worker_addr);
        s("advertise-addr", &self.advertise_addr);
        s("config-file", &self.config_file);
        let _ = writeln!(out, "keepalive-ttl = {}", self.keepalive_ttl);
        let _ = writeln!(out, "relay-keepalive-ttl = {}", self.relay_keepalive_ttl);
        let mut s = |key: &str, value: &str| {
            let _ = writeln!(out, "{key} = {}", go_toml_string(value));
        };
        s("relay-dir", &self.relay_dir);
        s("ssl-ca", &self.ssl_ca);
        s("ssl-cert", &self.ssl_cert);
        s("ssl-key", &self.ssl_key);
        if !self.cert_allowed_cn.is_empty() {
            let items: Vec<String> = self
                .cert_allowed_cn
                .iter()
                .map(|c| go_toml_string(c))
                .collect();
            let _ = writeln!(out, "cert-allowed-cn = [{}]", items.join(", "));
        }
        let mut s = |key: &str, value: &str| {
            let _ = writeln!(out, "{key} = {}", go_toml_string(value));
        };
        s("ssl-ca-base64", &self.ssl_ca_base64);
        s("ssl-key-base64", &self.ssl_key_base64);
        s("ssl-cert-base64", &self.ssl_cert_base64);
        out
    }
}

enum KeyProblem {
    Unknown,
    Type(&'static str),
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

/// DM's `UnwrapScheme`: drops a leading `http://` or `https://`.
pub fn unwrap_scheme(s: &str) -> &str {
    s.strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .unwrap_or(s)
}

/// DM's `WrapSchemes`: every comma-separated item gets `http://` (or
/// `https://`), replacing a scheme it had; empty items stay empty.
pub fn wrap_schemes(s: &str, https: bool) -> String {
    let scheme = if https { "https://" } else { "http://" };
    s.split(',')
        .map(|item| {
            if item.is_empty() {
                String::new()
            } else {
                format!("{scheme}{}", unwrap_scheme(item))
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Go's `net.SplitHostPort`, with its error texts.
pub fn split_host_port(hostport: &str) -> std::result::Result<(String, String), String> {
    let addr_err = |why: &str| {
        if hostport.is_empty() {
            why.to_owned()
        } else {
            format!("address {hostport}: {why}")
        }
    };
    let Some(colon) = hostport.rfind(':') else {
        return Err(addr_err("missing port in address"));
    };
    let (host, port) = (&hostport[..colon], &hostport[colon + 1..]);
    let host = if let Some(inner) = host.strip_prefix('[') {
        let Some(inner) = inner.strip_suffix(']') else {
            return Err(addr_err("missing ']' in address"));
        };
        inner
    } else {
        if host.contains(':') {
            return Err(addr_err("too many colons in address"));
        }
        if host.contains('[') || host.contains(']') {
            return Err(addr_err("unexpected '[' in address"));
        }
        host
    };
    if port.contains('[') || port.contains(']') {
        return Err(addr_err("unexpected ']' in address"));
    }
    Ok((host.to_owned(), port.to_owned()))
}

#[cfg(test)]
mod tests;
