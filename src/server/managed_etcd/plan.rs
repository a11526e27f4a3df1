//! PURE. What the member is started from and how: the [`MemberSpec`] taken
//! from the master's config, DM's bootstrap decision from the data
//! directory and `join` (new cluster, restart, or add ourselves first), and
//! DM's checks and initial cluster around `MemberAdd`.

use std::path::PathBuf;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::etcd::member::Member;
use crate::tls::TlsFiles;

/// What the embedded member is started from (taken from [`Config`]).
#[derive(Debug, Clone)]
pub struct MemberSpec {
    pub name: String,
    pub data_dir: PathBuf,
    pub peer_urls: Vec<String>,
    pub advertise_peer_urls: Vec<String>,
    pub initial_cluster: String,
    pub initial_cluster_state: String,
    /// Master addresses (client URLs) of a running cluster to join.
    pub join: Vec<String>,
    /// The client URL the member advertises: its master's address.
    pub advertise_client_url: String,
    /// DM's etcd limits and compaction (`max-txn-ops`, `max-request-bytes`,
    /// `auto-compaction-*`, `quota-backend-bytes`).
    pub limits: EtcdLimits,
    /// `ssl-*` files: TLS (and, with `cert-allowed-cn`, client
    /// certificates with its first CN, as DM's etcd listeners) on the peer
    /// URLs and for the join client. The member's client listener is a
    /// private loopback port that only this master dials; the master address
    /// in front of it terminates TLS for every client.
    pub tls: Option<TlsFiles>,
}

/// The etcd settings DM passes to its embedded member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdLimits {
    pub max_txn_ops: u64,
    pub max_request_bytes: u64,
    pub auto_compaction_mode: String,
    pub auto_compaction_retention: String,
    pub quota_backend_bytes: i64,
}

impl MemberSpec {
    pub fn from_config(config: &Config) -> MemberSpec {
        MemberSpec {
            name: config.name.clone(),
            data_dir: config.data_dir.clone(),
            peer_urls: config.peer_urls.clone(),
            advertise_peer_urls: config.advertise_peer_urls.clone(),
            initial_cluster: config.initial_cluster.clone(),
            initial_cluster_state: config.initial_cluster_state.clone(),
            join: config.join.clone(),
            advertise_client_url: format!(
                "{}://{}",
                if config.tls.is_some() {
                    "https"
                } else {
                    "http"
                },
                config.advertise_addr
            ),
            limits: EtcdLimits {
                max_txn_ops: config.max_txn_ops,
                max_request_bytes: config.max_request_bytes,
                auto_compaction_mode: config.auto_compaction_mode.clone(),
                auto_compaction_retention: config.auto_compaction_retention.clone(),
                quota_backend_bytes: config.quota_backend_bytes,
            },
            tls: config.tls.clone(),
        }
    }
}

/// How the member bootstraps, decided from its data directory and `join`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bootstrap {
    /// Data exists: etcd restarts on it (initial cluster flags unused).
    Restart,
    /// Start a member of a cluster described by `initial_cluster`.
    Start {
        initial_cluster: String,
        state: String,
    },
    /// Join: add ourselves through the join endpoints first.
    AddSelf,
}

/// DM's decision (`prepareJoinEtcd`), without I/O: `wal_exists` is
/// `<data-dir>/member/wal`, `join_file` the content of `<data-dir>/join`.
pub fn bootstrap(
    spec: &MemberSpec,
    wal_exists: bool,
    join_file: Option<&str>,
) -> Result<Bootstrap> {
    if spec.join.is_empty() {
        return Ok(if wal_exists {
            Bootstrap::Restart
        } else {
            Bootstrap::Start {
                initial_cluster: spec.initial_cluster.clone(),
                state: spec.initial_cluster_state.clone(),
            }
        });
    }
    // DM compares the scheme-wrapped join with a scheme-less address, so its
    // check never fires (DM gap C2 in docs/dm-gaps.md); we compare like with like.
    if spec.join.contains(&spec.advertise_client_url) {
        return Err(Error::Config(format!(
            "fail to join embed etcd: join self {} is forbidden",
            spec.advertise_client_url.trim_start_matches("http://")
        )));
    }
    if wal_exists {
        return Ok(Bootstrap::Restart);
    }
    if let Some(content) = join_file {
        return Ok(Bootstrap::Start {
            initial_cluster: content.trim().to_string(),
            state: "existing".into(),
        });
    }
    Ok(Bootstrap::AddSelf)
}

/// DM's initial cluster after `MemberAdd`: `<name>=<peer url>` for every
/// peer URL of every member, our new member (no name yet) named `name`.
pub fn initial_cluster_after_add(name: &str, added_id: u64, members: &[Member]) -> String {
    members
        .iter()
        .flat_map(|m| {
            let member_name = if m.id == added_id || m.name.is_empty() {
                name
            } else {
                m.name.as_str()
            };
            m.peer_urls
                .iter()
                .map(move |url| format!("{member_name}={url}"))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Checks the running cluster before adding ourselves (DM's checks).
pub fn check_join(name: &str, members: &[Member]) -> Result<()> {
    if members.iter().any(|m| m.name.is_empty()) {
        return Err(Error::Config(
            "fail to join embed etcd: there is a member that has not joined successfully, continue the join or remove it".into(),
        ));
    }
    if members.iter().any(|m| m.name == name) {
        return Err(Error::Config(format!(
            "fail to join embed etcd: missing data or joining a duplicate member {name}"
        )));
    }
    Ok(())
}
