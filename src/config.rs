//! The master's configuration: command-line flags over an optional TOML
//! file, validated once and passed explicitly (never global).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use serde::Deserialize;

use crate::error::{Error, Result};

/// Command-line flags of `dm-master` (each overrides the TOML file).
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "dm-master",
    version,
    about = "DM-compatible shard-DDL coordinator"
)]
pub struct Flags {
    /// TOML config file; flags given on the command line win over it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Human-readable name of this master (its election `id`).
    #[arg(long)]
    pub name: Option<String>,
    /// Address to listen on for gRPC and HTTP (`HOST:PORT`).
    #[arg(long = "master-addr")]
    pub master_addr: Option<String>,
    /// Address other masters and clients use to reach this one; defaults to
    /// `--master-addr`.
    #[arg(long = "advertise-addr")]
    pub advertise_addr: Option<String>,
    /// Comma-separated etcd client URLs.
    #[arg(long = "etcd-endpoints")]
    pub etcd_endpoints: Option<String>,
    /// Directory for local state (and the managed etcd's data).
    #[arg(long = "data-dir")]
    pub data_dir: Option<PathBuf>,
    /// Leader lease TTL in seconds (DM's default is 60).
    #[arg(long = "election-ttl")]
    pub election_ttl: Option<i64>,
    /// Log level: error, warn, info, debug, trace.
    #[arg(long = "log-level")]
    pub log_level: Option<String>,
    /// Log format: text or json.
    #[arg(long = "log-format")]
    pub log_format: Option<String>,
}

/// The TOML file form (DM's master config keys where they exist).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    pub name: Option<String>,
    #[serde(rename = "master-addr")]
    pub master_addr: Option<String>,
    #[serde(rename = "advertise-addr")]
    pub advertise_addr: Option<String>,
    #[serde(rename = "etcd-endpoints")]
    pub etcd_endpoints: Option<String>,
    #[serde(rename = "data-dir")]
    pub data_dir: Option<PathBuf>,
    #[serde(rename = "election-ttl")]
    pub election_ttl: Option<i64>,
    #[serde(rename = "log-level")]
    pub log_level: Option<String>,
    #[serde(rename = "log-format")]
    pub log_format: Option<String>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub name: String,
    pub master_addr: SocketAddr,
    pub advertise_addr: String,
    /// Empty: start and supervise a local etcd under `data_dir`.
    pub etcd_endpoints: Vec<String>,
    pub data_dir: PathBuf,
    pub election_ttl: Duration,
    pub log_level: String,
    pub log_format: LogFormat,
}

/// DM-master's default client port.
pub const DEFAULT_MASTER_ADDR: &str = "127.0.0.1:8261";
/// DM's election TTL.
pub const DEFAULT_ELECTION_TTL_SECS: i64 = 60;

impl Config {
    /// Merges flags over the file (if any) and validates the result.
    pub fn load(flags: Flags) -> Result<Config> {
        let file = match &flags.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Error::Config(format!("cannot read config file {}: {e}", path.display()))
                })?;
                toml::from_str::<FileConfig>(&text)
                    .map_err(|e| Error::Config(format!("config file {}: {e}", path.display())))?
            }
            None => FileConfig::default(),
        };
        Config::resolve(flags, file)
    }

    fn resolve(flags: Flags, file: FileConfig) -> Result<Config> {
        let name = flags
            .name
            .or(file.name)
            .unwrap_or_else(|| "dm-master".to_string());
        if name.is_empty() {
            return Err(Error::Config("--name must not be empty".into()));
        }
        let master_addr_text = flags
            .master_addr
            .or(file.master_addr)
            .unwrap_or_else(|| DEFAULT_MASTER_ADDR.to_string());
        let master_addr = parse_addr(&master_addr_text, "--master-addr")?;
        let advertise_addr = flags
            .advertise_addr
            .or(file.advertise_addr)
            .unwrap_or_else(|| advertise_default(master_addr));
        if !advertise_addr.contains(':') {
            return Err(Error::Config(format!(
                "--advertise-addr {advertise_addr:?} must be HOST:PORT"
            )));
        }
        let etcd_endpoints = flags
            .etcd_endpoints
            .or(file.etcd_endpoints)
            .map(|s| split_endpoints(&s))
            .transpose()?
            .unwrap_or_default();
        let data_dir = flags
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(format!("default.{name}")));
        let ttl = flags
            .election_ttl
            .or(file.election_ttl)
            .unwrap_or(DEFAULT_ELECTION_TTL_SECS);
        if !(1..=3600).contains(&ttl) {
            return Err(Error::Config(format!(
                "--election-ttl must be between 1 and 3600 seconds, got {ttl}"
            )));
        }
        let log_level = flags
            .log_level
            .or(file.log_level)
            .unwrap_or_else(|| "info".to_string());
        if !["error", "warn", "info", "debug", "trace"].contains(&log_level.as_str()) {
            return Err(Error::Config(format!(
                "--log-level must be one of error, warn, info, debug, trace; got {log_level:?}"
            )));
        }
        let log_format = match flags
            .log_format
            .or(file.log_format)
            .as_deref()
            .unwrap_or("text")
        {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(Error::Config(format!(
                    "--log-format must be text or json, got {other:?}"
                )))
            }
        };
        Ok(Config {
            name,
            master_addr,
            advertise_addr,
            etcd_endpoints,
            data_dir,
            election_ttl: Duration::from_secs(ttl as u64),
            log_level,
            log_format,
        })
    }

    /// A configuration for tests and embedding: listen on an ephemeral
    /// loopback port, talk to `endpoints`.
    pub fn for_endpoints(name: &str, endpoints: Vec<String>, data_dir: PathBuf) -> Config {
        Config {
            name: name.to_string(),
            master_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            advertise_addr: String::new(),
            etcd_endpoints: endpoints,
            data_dir,
            election_ttl: Duration::from_secs(DEFAULT_ELECTION_TTL_SECS as u64),
            log_level: "info".into(),
            log_format: LogFormat::Text,
        }
    }
}

fn parse_addr(text: &str, flag: &str) -> Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    let trimmed = text
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    trimmed
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| Error::Config(format!("{flag} {text:?} is not a valid HOST:PORT")))
}

fn advertise_default(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    }
}

fn split_endpoints(text: &str) -> Result<Vec<String>> {
    let endpoints: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.contains("://") {
                s.to_string()
            } else {
                format!("http://{s}")
            }
        })
        .collect();
    if endpoints.is_empty() {
        return Err(Error::Config("--etcd-endpoints is empty".into()));
    }
    for e in &endpoints {
        let rest = e.split_once("://").map(|(_, r)| r).unwrap_or(e);
        if !rest.contains(':') {
            return Err(Error::Config(format!(
                "etcd endpoint {e:?} must include a port"
            )));
        }
    }
    Ok(endpoints)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> Flags {
        Flags::try_parse_from(std::iter::once("dm-master").chain(args.iter().copied()))
            .expect("flags parse")
    }

    #[test]
    fn defaults_and_overrides() {
        let c = Config::resolve(flags(&[]), FileConfig::default()).unwrap();
        assert_eq!(c.master_addr.to_string(), DEFAULT_MASTER_ADDR);
        assert_eq!(c.advertise_addr, DEFAULT_MASTER_ADDR);
        assert!(c.etcd_endpoints.is_empty());
        assert_eq!(c.election_ttl, Duration::from_secs(60));
        let file = FileConfig {
            name: Some("from-file".into()),
            election_ttl: Some(5),
            ..Default::default()
        };
        let c = Config::resolve(
            flags(&[
                "--name",
                "m1",
                "--etcd-endpoints",
                "127.0.0.1:2379, http://h:1",
            ]),
            file,
        )
        .unwrap();
        assert_eq!(c.name, "m1");
        assert_eq!(c.election_ttl, Duration::from_secs(5));
        assert_eq!(
            c.etcd_endpoints,
            vec!["http://127.0.0.1:2379", "http://h:1"]
        );
    }

    #[test]
    fn invalid_values_are_rejected_with_the_flag_named() {
        for (args, fragment) in [
            (&["--master-addr", "nowhere"][..], "--master-addr"),
            (&["--election-ttl", "0"][..], "--election-ttl"),
            (&["--log-format", "xml"][..], "--log-format"),
            (&["--log-level", "loud"][..], "--log-level"),
            (&["--etcd-endpoints", ","][..], "--etcd-endpoints"),
            (&["--etcd-endpoints", "http://hostonly"][..], "port"),
        ] {
            let err = Config::resolve(flags(args), FileConfig::default()).unwrap_err();
            assert!(err.to_string().contains(fragment), "{err}");
        }
    }

    #[test]
    fn unknown_file_keys_are_errors() {
        assert!(toml::from_str::<FileConfig>("nmae = \"x\"").is_err());
        let f: FileConfig = toml::from_str("name = \"x\"\nelection-ttl = 3").unwrap();
        assert_eq!(f.election_ttl, Some(3));
    }
}
