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
    /// Comma-separated URLs the embedded etcd member listens on for peers.
    #[arg(long = "peer-urls")]
    pub peer_urls: Option<String>,
    /// Comma-separated peer URLs other members use; defaults to `--peer-urls`.
    #[arg(long = "advertise-peer-urls")]
    pub advertise_peer_urls: Option<String>,
    /// `name=peer-url,...` of the members forming a new cluster.
    #[arg(long = "initial-cluster")]
    pub initial_cluster: Option<String>,
    /// `new` or `existing`.
    #[arg(long = "initial-cluster-state")]
    pub initial_cluster_state: Option<String>,
    /// Comma-separated master addresses of a running cluster to join.
    #[arg(long = "join")]
    pub join: Option<String>,
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
    #[serde(rename = "peer-urls")]
    pub peer_urls: Option<String>,
    #[serde(rename = "advertise-peer-urls")]
    pub advertise_peer_urls: Option<String>,
    #[serde(rename = "initial-cluster")]
    pub initial_cluster: Option<String>,
    #[serde(rename = "initial-cluster-state")]
    pub initial_cluster_state: Option<String>,
    pub join: Option<String>,
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
    /// Listen peer URLs of the embedded member (scheme-wrapped).
    pub peer_urls: Vec<String>,
    /// Peer URLs the embedded member advertises (scheme-wrapped).
    pub advertise_peer_urls: Vec<String>,
    /// `name=url,...`, URLs scheme-wrapped.
    pub initial_cluster: String,
    /// `new` or `existing`.
    pub initial_cluster_state: String,
    /// Client URLs (master addresses, scheme-wrapped) of a cluster to join.
    pub join: Vec<String>,
}

/// DM-master's default client port.
pub const DEFAULT_MASTER_ADDR: &str = "127.0.0.1:8261";
/// DM-master's default peer URL.
pub const DEFAULT_PEER_URLS: &str = "http://127.0.0.1:8291";
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
        let cluster = EtcdClusterFlags {
            peer_urls: flags.peer_urls.or(file.peer_urls),
            advertise_peer_urls: flags.advertise_peer_urls.or(file.advertise_peer_urls),
            initial_cluster: flags.initial_cluster.or(file.initial_cluster),
            initial_cluster_state: flags.initial_cluster_state.or(file.initial_cluster_state),
            join: flags.join.or(file.join),
        }
        .adjust(&name, false)?;
        Ok(Config {
            name,
            master_addr,
            advertise_addr,
            etcd_endpoints,
            data_dir,
            election_ttl: Duration::from_secs(ttl as u64),
            log_level,
            log_format,
            peer_urls: cluster.peer_urls,
            advertise_peer_urls: cluster.advertise_peer_urls,
            initial_cluster: cluster.initial_cluster,
            initial_cluster_state: cluster.initial_cluster_state,
            join: cluster.join,
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
            peer_urls: vec![DEFAULT_PEER_URLS.into()],
            advertise_peer_urls: vec![DEFAULT_PEER_URLS.into()],
            initial_cluster: format!("{name}={DEFAULT_PEER_URLS}"),
            initial_cluster_state: "new".into(),
            join: Vec::new(),
        }
    }
}

/// The embedded etcd member's settings as given (file or flags), before
/// DM's adjustment (`dm/master/config.go` `adjust`).
#[derive(Debug, Clone, Default)]
pub struct EtcdClusterFlags {
    pub peer_urls: Option<String>,
    pub advertise_peer_urls: Option<String>,
    pub initial_cluster: Option<String>,
    pub initial_cluster_state: Option<String>,
    pub join: Option<String>,
}

/// The embedded etcd member's settings after DM's adjustment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdCluster {
    pub peer_urls: Vec<String>,
    pub advertise_peer_urls: Vec<String>,
    pub initial_cluster: String,
    pub initial_cluster_state: String,
    pub join: Vec<String>,
}

impl EtcdClusterFlags {
    /// DM's rules: empty peer URLs take the default, advertise peer URLs
    /// default to the peer URLs, every URL gets `http://` (`https://` with
    /// TLS) in place of any scheme it had, the initial cluster defaults to
    /// `<name>=<advertise peer url>` for each, the state to `new`.
    pub fn adjust(self, name: &str, tls: bool) -> Result<EtcdCluster> {
        let given = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let peer_urls = wrap_schemes(
            &given(self.peer_urls).unwrap_or_else(|| DEFAULT_PEER_URLS.to_string()),
            tls,
        );
        let advertise_peer_urls = match given(self.advertise_peer_urls) {
            Some(urls) => wrap_schemes(&urls, tls),
            None => peer_urls.clone(),
        };
        let initial_cluster = match given(self.initial_cluster) {
            Some(cluster) => cluster
                .split(',')
                .map(|item| match item.split('=').collect::<Vec<_>>()[..] {
                    [member, url] => format!("{member}={}", wrap_scheme(url, tls)),
                    _ => item.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            None => advertise_peer_urls
                .iter()
                .map(|url| format!("{name}={url}"))
                .collect::<Vec<_>>()
                .join(","),
        };
        let initial_cluster_state =
            given(self.initial_cluster_state).unwrap_or_else(|| "new".to_string());
        if !["new", "existing"].contains(&initial_cluster_state.as_str()) {
            return Err(Error::Config(format!(
                "initial-cluster-state must be new or existing, got {initial_cluster_state:?}"
            )));
        }
        let join = given(self.join)
            .map(|j| wrap_schemes(&j, tls))
            .unwrap_or_default();
        Ok(EtcdCluster {
            peer_urls,
            advertise_peer_urls,
            initial_cluster,
            initial_cluster_state,
            join,
        })
    }
}

/// DM's `WrapSchemes`: each comma item, trimmed, non-empty, scheme-wrapped.
pub fn wrap_schemes(list: &str, tls: bool) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| wrap_scheme(s, tls))
        .collect()
}

/// `http://` (or `https://`) in place of any scheme; a host-less `:port`
/// listens on all interfaces (`0.0.0.0`), as DM's etcd URL parsing does.
pub fn wrap_scheme(url: &str, tls: bool) -> String {
    let rest = url.trim().split_once("://").map_or(url.trim(), |(_, r)| r);
    let rest = if rest.starts_with(':') {
        format!("0.0.0.0{rest}")
    } else {
        rest.to_string()
    };
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{rest}")
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
    fn etcd_cluster_settings_follow_dm_adjust() {
        let c = EtcdClusterFlags::default().adjust("m1", false).unwrap();
        assert_eq!(c.peer_urls, vec!["http://127.0.0.1:8291"]);
        assert_eq!(c.advertise_peer_urls, c.peer_urls);
        assert_eq!(c.initial_cluster, "m1=http://127.0.0.1:8291");
        assert_eq!(c.initial_cluster_state, "new");
        assert!(c.join.is_empty());

        // tiup's forms: scheme-less peer URLs, :port, a scheme to replace.
        let c = EtcdClusterFlags {
            peer_urls: Some("0.0.0.0:8291".into()),
            advertise_peer_urls: Some("10.0.0.1:8291, https://10.0.0.2:8291".into()),
            initial_cluster: Some("a=10.0.0.1:8291,b=http://10.0.0.2:8291,odd".into()),
            initial_cluster_state: Some("existing".into()),
            join: Some("10.0.0.1:8261,:8261".into()),
        }
        .adjust("a", false)
        .unwrap();
        assert_eq!(c.peer_urls, vec!["http://0.0.0.0:8291"]);
        assert_eq!(
            c.advertise_peer_urls,
            vec!["http://10.0.0.1:8291", "http://10.0.0.2:8291"]
        );
        assert_eq!(
            c.initial_cluster,
            "a=http://10.0.0.1:8291,b=http://10.0.0.2:8291,odd"
        );
        assert_eq!(c.join, vec!["http://10.0.0.1:8261", "http://0.0.0.0:8261"]);

        // Default initial cluster from several advertise peer URLs; TLS.
        let c = EtcdClusterFlags {
            advertise_peer_urls: Some("h1:1,h2:2".into()),
            ..Default::default()
        }
        .adjust("n", true)
        .unwrap();
        assert_eq!(c.initial_cluster, "n=https://h1:1,n=https://h2:2");
        assert_eq!(c.peer_urls, vec!["https://127.0.0.1:8291"]);

        let err = EtcdClusterFlags {
            initial_cluster_state: Some("old".into()),
            ..Default::default()
        }
        .adjust("n", false)
        .unwrap_err();
        assert!(err.to_string().contains("initial-cluster-state"), "{err}");
    }

    #[test]
    fn unknown_file_keys_are_errors() {
        assert!(toml::from_str::<FileConfig>("nmae = \"x\"").is_err());
        let f: FileConfig = toml::from_str("name = \"x\"\nelection-ttl = 3").unwrap();
        assert_eq!(f.election_ttl, Some(3));
    }
}
