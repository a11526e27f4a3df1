//! The master's configuration, read exactly as DM-master reads it: Go-style
//! command-line flags, an optional TOML file (`-config`), flags given on the
//! command line winning over the file, then DM's `adjust` (scheme wrapping,
//! defaults, validation). The result is validated once and passed
//! explicitly, never global.
//!
//! Invariants:
//! * every key of DM-master's TOML file is accepted; a key DM does not know
//!   is an error 38011 naming it (dotted, in document order);
//! * [`DmMasterConfig`] holds the adjusted values in DM's own string forms,
//!   so [`Config::master_cfg_toml`] renders the bytes `GetMasterCfg` returns;
//! * errors carry DM's codes and message texts ([`ConfigError`]).
//!
//! Pure: no async; the only I/O is reading the files named by the config
//! (`-config`, `secret-key-path`).

mod address;
mod adjust;
mod file;
pub mod flags;
pub mod toml_out;

pub use address::{split_host_port, unwrap_scheme, wrap_schemes, wrap_schemes_for_initial_cluster};
use file::apply_file;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use crate::tls::TlsFiles;

/// DM's sample `dm-master.toml`, printed by `-print-sample-config`.
pub const SAMPLE_CONFIG: &str = include_str!("config/dm-master.toml");

/// DM's default listen peer URL.
pub const DEFAULT_PEER_URLS: &str = "http://127.0.0.1:8291";
/// DM's election TTL.
pub const DEFAULT_ELECTION_TTL_SECS: i64 = 60;
const DEFAULT_RPC_TIMEOUT: &str = "30s";
const DEFAULT_RPC_RATE_LIMIT: f64 = 10.0;
const DEFAULT_RPC_RATE_BURST: i64 = 40;
const DEFAULT_MAX_TXN_OPS: u64 = 2048;
const DEFAULT_MAX_REQUEST_BYTES: u64 = 1_572_864;
const DEFAULT_QUOTA_BACKEND_BYTES: i64 = 2 * 1024 * 1024 * 1024;
const QUOTA_BACKEND_BYTES_LOWER_BOUND: i64 = 500 * 1024 * 1024;

/// A configuration error with DM's code and message text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    /// DM's error code (38010 flags, 38011 unknown keys, 38035 master-addr, ...).
    pub code: u32,
    /// DM's message text, what `dm-master` prints after `parse cmd flags err: `.
    pub message: String,
    /// The underlying cause (DM's RawCause), not part of the printed message.
    pub raw_cause: Option<String>,
}

impl ConfigError {
    fn new(code: u32, message: impl Into<String>) -> ConfigError {
        ConfigError {
            code,
            message: message.into(),
            raw_cause: None,
        }
    }

    fn caused(code: u32, message: impl Into<String>, cause: impl ToString) -> ConfigError {
        ConfigError {
            code,
            message: message.into(),
            raw_cause: Some(cause.to_string()),
        }
    }

    /// 38010 `parse config flag set`.
    pub fn flag_set(cause: impl ToString) -> ConfigError {
        ConfigError::caused(38010, "parse config flag set", cause)
    }
}

impl From<ConfigError> for crate::Error {
    fn from(e: ConfigError) -> crate::Error {
        crate::Error::Config(format!("[code={}] {}", e.code, e.message))
    }
}

/// DM-master's config struct after `adjust`, in DM's own field forms
/// (comma-joined URL lists, duration strings), in DM's field order.
#[derive(Debug, Clone, PartialEq)]
pub struct DmMasterConfig {
    pub log_level: String,
    pub log_file: String,
    pub log_format: String,
    pub log_rotate: String,
    pub rpc_timeout: String,
    pub rpc_rate_limit: f64,
    pub rpc_rate_burst: i64,
    pub master_addr: String,
    pub advertise_addr: String,
    pub config_file: String,
    pub name: String,
    pub data_dir: String,
    pub peer_urls: String,
    pub advertise_peer_urls: String,
    pub initial_cluster: String,
    pub initial_cluster_state: String,
    pub join: String,
    pub max_txn_ops: u64,
    pub max_request_bytes: u64,
    pub auto_compaction_mode: String,
    pub auto_compaction_retention: String,
    pub quota_backend_bytes: i64,
    pub openapi: bool,
    pub v1_sources_path: String,
    pub ssl_ca: String,
    pub ssl_cert: String,
    pub ssl_key: String,
    /// `None` when never set (DM omits the key from its TOML then).
    pub cert_allowed_cn: Option<Vec<String>>,
    pub ssl_ca_base64: String,
    pub ssl_key_base64: String,
    pub ssl_cert_base64: String,
    pub secret_key_path: String,
    pub experimental_openapi: bool,
}

impl Default for DmMasterConfig {
    /// DM's flag defaults.
    fn default() -> Self {
        DmMasterConfig {
            log_level: "info".into(),
            log_file: String::new(),
            log_format: "text".into(),
            log_rotate: String::new(),
            rpc_timeout: String::new(),
            rpc_rate_limit: 0.0,
            rpc_rate_burst: 0,
            master_addr: String::new(),
            advertise_addr: String::new(),
            config_file: String::new(),
            name: String::new(),
            data_dir: String::new(),
            peer_urls: DEFAULT_PEER_URLS.into(),
            advertise_peer_urls: String::new(),
            initial_cluster: String::new(),
            initial_cluster_state: String::new(),
            join: String::new(),
            max_txn_ops: DEFAULT_MAX_TXN_OPS,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            auto_compaction_mode: "periodic".into(),
            auto_compaction_retention: "1h".into(),
            quota_backend_bytes: DEFAULT_QUOTA_BACKEND_BYTES,
            openapi: false,
            v1_sources_path: String::new(),
            ssl_ca: String::new(),
            ssl_cert: String::new(),
            ssl_key: String::new(),
            cert_allowed_cn: None,
            ssl_ca_base64: String::new(),
            ssl_key_base64: String::new(),
            ssl_cert_base64: String::new(),
            secret_key_path: String::new(),
            experimental_openapi: false,
        }
    }
}

/// Our own settings, beyond DM's keys (also accepted in the TOML file).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OwnSettings {
    /// `--etcd-endpoints`: comma-separated external etcd client URLs.
    pub etcd_endpoints: Option<String>,
    /// `--election-ttl`: leader lease TTL in seconds.
    pub election_ttl: Option<i64>,
}

/// Log output format (`log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub name: String,
    pub data_dir: PathBuf,
    /// Listen form as DM keeps it: `host:port`, `:port` (all interfaces).
    pub master_addr: String,
    /// `host:port` others use to reach this master.
    pub advertise_addr: String,
    /// Scheme-wrapped listen peer URLs.
    pub peer_urls: Vec<String>,
    /// Scheme-wrapped advertised peer URLs.
    pub advertise_peer_urls: Vec<String>,
    /// `name=url,...` with every URL scheme-wrapped.
    pub initial_cluster: String,
    /// `new` or `existing`.
    pub initial_cluster_state: String,
    /// Scheme-wrapped client URLs of an existing cluster to join.
    pub join: Vec<String>,
    /// External etcd client URLs; empty = run an embedded member.
    pub etcd_endpoints: Vec<String>,
    pub election_ttl: Duration,
    /// `Some` iff `ssl-ca` is set (DM switches TLS on `ssl-ca` alone).
    pub tls: Option<TlsFiles>,
    pub max_txn_ops: u64,
    pub max_request_bytes: u64,
    pub auto_compaction_mode: String,
    pub auto_compaction_retention: String,
    pub quota_backend_bytes: i64,
    /// Timeout of master → worker RPCs.
    pub rpc_timeout: Duration,
    /// DM's level name, lower-cased (`debug` ... `fatal`).
    pub log_level: String,
    pub log_format: LogFormat,
    /// Empty: log to stdout.
    pub log_file: Option<PathBuf>,
    /// The AES-256 key read from `secret-key-path`.
    pub secret_key: Option<[u8; 32]>,
    /// The adjusted config in DM's own forms (rendered by `GetMasterCfg`).
    pub dm: DmMasterConfig,
    /// Keys given that this master accepts but does not act on yet.
    pub unapplied_keys: Vec<String>,
    /// Warnings DM logs while adjusting (logged once logging is set up).
    pub adjust_warnings: Vec<String>,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    /// Run the master.
    Run(Box<Config>),
    /// Print this text on stdout and exit 0 (`-V`, `-print-sample-config`).
    Print(String),
    /// Print usage on stderr and exit 0 (`-h`).
    Help(String),
}

/// Keys the master reads but does not act on yet; naming them once at
/// start-up tells an operator which settings are inert.
const UNAPPLIED_KEYS: &[&str] = &[
    "log-rotate",
    "rpc-rate-limit",
    "rpc-rate-burst",
    "openapi",
    "experimental.openapi",
    "v1-sources-path",
    "ssl-ca-bytes",
    "ssl-key-bytes",
    "ssl-cert-bytes",
    "ssl-ca-base64",
    "ssl-key-base64",
    "ssl-cert-base64",
];

impl Config {
    /// Parses `args` (without the program name) as DM-master's `Config.Parse`.
    pub fn parse_args<S: AsRef<str>>(args: &[S]) -> Result<Invocation, ConfigError> {
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
        let parsed = flags::parse(&args)?;
        if parsed.help {
            return Ok(Invocation::Help(flags::usage()));
        }
        if parsed.print_version {
            return Ok(Invocation::Print(format!("{}\n", version_text())));
        }
        if parsed.print_sample_config {
            return Ok(Invocation::Print(format!("{SAMPLE_CONFIG}\n")));
        }
        let mut dm = DmMasterConfig::default();
        let mut own = OwnSettings::default();
        let mut given: Vec<String> = Vec::new();
        // Flags first (so `config` is known), then the file over the flag
        // values, then the explicitly given flags again over the file.
        flags::apply(&parsed.given, &mut dm, &mut own)?;
        if !dm.config_file.is_empty() {
            let path = dm.config_file.clone();
            let text = std::fs::read_to_string(&path)
                .map_err(|e| ConfigError::caused(38013, "config toml transform", e))?;
            given.extend(apply_file(&text, &mut dm, &mut own)?);
            // The file cannot move itself.
            dm.config_file = path;
        }
        flags::apply(&parsed.given, &mut dm, &mut own)?;
        given.extend(parsed.given.iter().map(|(k, _)| k.clone()));
        if let Some(arg) = parsed.positional.first() {
            return Err(ConfigError::new(
                38012,
                format!("'{arg}' is an invalid flag"),
            ));
        }
        let mut config = Config::adjust(dm, own)?;
        let mut unapplied: Vec<String> = UNAPPLIED_KEYS
            .iter()
            .filter(|k| given.iter().any(|g| g == *k))
            .map(|k| k.to_string())
            .collect();
        unapplied.dedup();
        config.unapplied_keys = unapplied;
        Ok(Invocation::Run(Box::new(config)))
    }

    /// DM's `Config.FromContent`: a TOML document over DM's defaults, adjusted.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let mut dm = DmMasterConfig::default();
        let mut own = OwnSettings::default();
        apply_file(text, &mut dm, &mut own)?;
        Config::adjust(dm, own)
    }

    /// A configuration for tests and embedding: listen on an ephemeral
    /// loopback port, talk to `endpoints`.
    pub fn for_endpoints(name: &str, endpoints: Vec<String>, data_dir: PathBuf) -> Config {
        let dm = DmMasterConfig {
            name: name.to_string(),
            master_addr: "127.0.0.1:0".into(),
            data_dir: data_dir.display().to_string(),
            ..DmMasterConfig::default()
        };
        let own = OwnSettings {
            etcd_endpoints: Some(endpoints.join(",")),
            election_ttl: None,
        };
        let mut config = Config::adjust(dm, own).expect("a loopback test configuration is valid");
        // Tests learn the bound port from the listener; nothing is advertised.
        config.advertise_addr = String::new();
        config.etcd_endpoints = endpoints;
        config
    }

    /// The socket address to bind for `master_addr` (`:port` = all interfaces).
    pub fn listen_addr(&self) -> crate::Result<SocketAddr> {
        listen_socket_addr(&self.master_addr)
    }

    /// The adjusted config as TOML, byte for byte what DM's `GetMasterCfg`
    /// (and `dmctl get-config master <name>`) shows.
    pub fn master_cfg_toml(&self) -> String {
        toml_out::render(&self.dm)
    }
}

/// Resolves a DM listen address (`:8261`, `0.0.0.0:8261`, `host:8261`).
pub fn listen_socket_addr(addr: &str) -> crate::Result<SocketAddr> {
    let addr = unwrap_scheme(addr);
    let full = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_string()
    };
    full.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| crate::Error::Config(format!("host:port '{addr}' not valid")))
}

/// The version text of `-V` and `/status` (DM's `GetRawInfo` lines).
pub fn version_text() -> String {
    format!(
        "Release Version: v{}\nGit Commit Hash: {}\nGit Branch: {}\nUTC Build Time: {}\nGo Version: {}\nFailpoint Build: false\n",
        env!("CARGO_PKG_VERSION"),
        option_env!("DM_GIT_HASH").unwrap_or("None"),
        option_env!("DM_GIT_BRANCH").unwrap_or("None"),
        option_env!("DM_BUILD_TIME").unwrap_or("None"),
        option_env!("DM_TOOLCHAIN").unwrap_or("None"),
    )
}

/// Go's `time.ParseDuration` (units ns, us, µs, ms, s, m, h; sign; fractions)
/// for a timeout: a negative duration is a valid Go value but no timeout.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let nanos = crate::task_config::GoDuration::parse(text)?.0;
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| format!("time: negative duration \"{text}\""))
}

#[cfg(test)]
mod tests;
