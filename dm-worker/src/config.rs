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

use crate::error::{Error, Result};
use dm_master::tls::TlsFiles;

mod file;
mod flags;

pub use flags::usage;
use flags::{parse_go_bool, scan_flags};

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

    /// DM's `adjust`: scheme stripped from the listen and advertise
    /// addresses, `advertise-addr` defaulted and checked, `name` defaulted,
    /// `join` scheme-wrapped.
    pub fn adjust(&mut self) -> Result<()> {
        self.worker_addr = unwrap_scheme(&self.worker_addr).to_owned();
        let (host, _) = valid_host_port(&self.worker_addr)?;
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
            let (host, port) = valid_host_port(&self.advertise_addr)?;
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
        // Beyond DM, which fails later, in its logger: a level or format
        // it would not take is refused with the other flags.
        match dm_master::logging::dm_level(&self.log_level) {
            Some(level) => self.log_level = level.to_owned(),
            None => {
                return Err(Error::ParseFlags {
                    reason: dm_master::logging::invalid_level_text(&self.log_level),
                })
            }
        }
        if dm_master::logging::dm_format(&self.log_format).is_none() {
            return Err(Error::ParseFlags {
                reason: dm_master::logging::invalid_format_text(&self.log_format),
            });
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

    /// The worker's TLS (`ssl-ca`, `ssl-cert`, `ssl-key`,
    /// `cert-allowed-cn`), on as soon as `ssl-ca` is set, as DM's
    /// `WrapSchemes` decides `https`: registration and etcd go to the
    /// masters over TLS, and the `pb.Worker` port serves TLS.
    pub fn tls(&self) -> Option<TlsFiles> {
        (!self.ssl_ca.is_empty()).then(|| TlsFiles {
            ca: self.ssl_ca.clone().into(),
            cert: self.ssl_cert.clone().into(),
            key: self.ssl_key.clone().into(),
            allowed_cn: self.cert_allowed_cn.clone(),
        })
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

/// [`split_host_port`] of a configured address, failing as DM's `adjust`
/// does (`host:port '<addr>' not valid`, with Go's cause).
fn valid_host_port(addr: &str) -> Result<(String, String)> {
    split_host_port(addr).map_err(|cause| Error::HostPortNotValid {
        message: format!("host:port '{addr}' not valid"),
        raw_cause: Some(cause),
    })
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
