//! The embedded etcd member: without `--etcd-endpoints`, each master runs one
//! member of the masters' own etcd cluster (the real `etcd` binary on PATH,
//! or `$ETCD_BIN`), as DM's master embeds one.
//!
//! DM's semantics (`dm/master/etcd.go`, `config.go` `genEmbedEtcdConfig`):
//! the member is named `name`, keeps its data in `data-dir`, talks to peers
//! on `peer-urls` / `advertise-peer-urls`, and forms a new cluster from
//! `initial-cluster` / `initial-cluster-state`. With `join`, a new master
//! first adds itself to the running cluster (`MemberAdd` through a master
//! address) and records the resulting initial cluster in `<data-dir>/join`;
//! a master whose data directory already holds a WAL restarts on it.
//!
//! Invariants:
//! - The member listens for clients on a private loopback port only, and
//!   advertises its master's `advertise-addr` as its client URL, so
//!   `MemberList` sends clients to master addresses (which proxy etcd's API,
//!   see `etcd_proxy`).
//! - The member lives exactly as long as its master: it runs under a small
//!   shell guard whose stdin is a pipe from the master; when the master
//!   exits for any reason (even SIGKILL) the pipe closes and the guard stops
//!   etcd (SIGTERM, then SIGKILL after 10 s).
//! - A member that dies while the master runs is restarted on the same
//!   ports and data with exponential backoff (1 s doubling to 30 s, reset
//!   after a minute of uptime); the master keeps serving meanwhile (its
//!   etcd calls fail over or retry as for any etcd outage).

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::etcd::retry::Backoff;
use crate::etcd::{Etcd, EtcdOptions};
// The launch and bootstrap tests name these through `super::*`.
#[cfg(test)]
use {crate::etcd::member::Member, crate::tls::TlsFiles, std::path::PathBuf};

mod plan;
mod process;

pub use plan::{
    bootstrap, check_join, initial_cluster_after_add, Bootstrap, EtcdLimits, MemberSpec,
};
use process::{create_private_dir, free_port, write_private_file, Launch, MemberProcess};

/// How long a starting member may take to serve a linearizable read. DM
/// waits 10 s; a member of a new multi-member cluster waits for its peers
/// to start, and a busy machine needs longer, so we allow a minute.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A member that ran this long before dying starts over at `FIRST_BACKOFF`.
const STABLE_UPTIME: Duration = Duration::from_secs(60);

/// The running member and its supervisor.
pub struct EtcdMember {
    /// The private client URL (loopback) the master's own client uses.
    pub client_url: String,
    cancel: CancellationToken,
    supervisor: JoinHandle<()>,
}

impl EtcdMember {
    /// Prepares the data directory (joining first when asked), starts the
    /// member, waits until it serves a linearizable read, and supervises it.
    pub async fn start(spec: MemberSpec) -> Result<EtcdMember> {
        let io = |op: &'static str| move |source| Error::Io { op, source };
        create_private_dir(&spec.data_dir).map_err(io("create --data-dir"))?;
        let wal_exists = spec.data_dir.join("member").join("wal").is_dir();
        let join_path = spec.data_dir.join("join");
        let join_file = std::fs::read_to_string(&join_path).ok();
        let plan = match bootstrap(&spec, wal_exists, join_file.as_deref())? {
            Bootstrap::AddSelf => {
                let initial_cluster = add_self(&spec).await?;
                write_private_file(&join_path, &initial_cluster)
                    .map_err(io("write <data-dir>/join"))?;
                Bootstrap::Start {
                    initial_cluster,
                    state: "existing".into(),
                }
            }
            plan => plan,
        };
        let client_port = free_port().map_err(io("pick a client port for etcd"))?;
        let client_url = format!("http://127.0.0.1:{client_port}");
        let launch = Launch::new(&spec, &plan, &client_url);
        tracing::info!(member = %spec.name, data_dir = %spec.data_dir.display(), ?plan, client_url = %client_url, advertise_client_url = %spec.advertise_client_url, "starting etcd member");
        let mut process = launch.spawn()?;
        wait_ready(&client_url, &mut process).await?;
        tracing::info!(member = %spec.name, "etcd member ready");
        let cancel = CancellationToken::new();
        let supervisor = tokio::spawn(supervise(launch, process, cancel.clone()));
        Ok(EtcdMember {
            client_url,
            cancel,
            supervisor,
        })
    }

    /// Stops the member (graceful, then forced) and its supervisor.
    pub async fn stop(self) {
        self.cancel.cancel();
        let _ = self.supervisor.await;
    }
}

/// `MemberAdd` of our advertise peer URLs through the join endpoints, after
/// DM's checks; returns the initial cluster to start with.
async fn add_self(spec: &MemberSpec) -> Result<String> {
    let options = EtcdOptions {
        connect_timeout: Duration::from_secs(30),
        tls: spec.tls.clone(),
        ..EtcdOptions::default()
    };
    let etcd = Etcd::connect(&spec.join, options).await?;
    let deadline = Instant::now() + READY_TIMEOUT;
    let (added, members) = loop {
        let members = etcd.member_list().await?;
        check_join(&spec.name, &members)?;
        match etcd.member_add(&spec.advertise_peer_urls).await {
            Ok(added) => break added,
            // etcd refuses a new voter ("unhealthy cluster") until every
            // member has been connected for a few seconds, e.g. right after
            // a restart; the refusal changed nothing, so asking again is safe.
            Err(error) if error.is_refused_as_unavailable() && Instant::now() < deadline => {
                tracing::warn!(member = %spec.name, %error, "etcd refused the new member for now; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => return Err(error),
        }
    };
    tracing::info!(member = %spec.name, id = added.id, join = ?spec.join, "added this master's etcd member to the cluster");
    Ok(initial_cluster_after_add(&spec.name, added.id, &members))
}

/// Restarts the member with backoff whenever it exits, until cancelled.
async fn supervise(launch: Launch, process: MemberProcess, cancel: CancellationToken) {
    let mut current = Some(process);
    let mut backoff = Backoff::steady(FIRST_BACKOFF, MAX_BACKOFF);
    let mut retry_in = backoff.next_delay();
    loop {
        if let Some(process) = current.as_mut() {
            let status = tokio::select! {
                _ = cancel.cancelled() => {
                    if let Some(process) = current.take() {
                        process.stop().await;
                    }
                    tracing::info!(member = %launch.member, "etcd member stopped");
                    return;
                }
                status = process.wait() => status,
            };
            if process.started.elapsed() >= STABLE_UPTIME {
                backoff.reset();
                retry_in = backoff.next_delay();
            }
            match status {
                Ok(status) => {
                    tracing::error!(member = %launch.member, %status, ?retry_in, "etcd member exited; restarting it")
                }
                Err(error) => {
                    tracing::error!(member = %launch.member, %error, ?retry_in, "etcd member lost; restarting it")
                }
            }
            current = None;
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(retry_in) => {}
        }
        retry_in = backoff.next_delay();
        match launch.spawn() {
            Ok(process) => {
                tracing::info!(member = %launch.member, "etcd member restarted");
                current = Some(process);
            }
            Err(error) => {
                tracing::error!(member = %launch.member, %error, ?retry_in, "cannot restart etcd member");
            }
        }
    }
}

/// Waits until the member serves a linearizable read; fails early when it
/// exits.
async fn wait_ready(client_url: &str, process: &mut MemberProcess) -> Result<()> {
    let etcd = Etcd::connect(&[client_url.to_string()], EtcdOptions::default()).await?;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(Some(status)) = process.child.try_wait() {
            return Err(Error::Config(format!(
                "fail to start embed etcd: etcd exited at start ({status}); see the `embed etcd` log lines"
            )));
        }
        let probe = tokio::time::timeout(Duration::from_secs(2), etcd.get("/")).await;
        if matches!(probe, Ok(Ok(_))) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Config(format!(
                "fail to start embed etcd: start embed etcd timeout {}s",
                READY_TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(join: &[&str]) -> MemberSpec {
        MemberSpec {
            name: "m4".into(),
            data_dir: PathBuf::from("/nonexistent"),
            peer_urls: vec!["http://127.0.0.1:8294".into()],
            advertise_peer_urls: vec!["http://127.0.0.1:8294".into()],
            initial_cluster: "m4=http://127.0.0.1:8294".into(),
            initial_cluster_state: "new".into(),
            join: join.iter().map(|s| s.to_string()).collect(),
            advertise_client_url: "http://127.0.0.1:8264".into(),
            limits: EtcdLimits {
                max_txn_ops: 2048,
                max_request_bytes: 1_572_864,
                auto_compaction_mode: "periodic".into(),
                auto_compaction_retention: "1h".into(),
                quota_backend_bytes: 2_147_483_648,
            },
            tls: None,
        }
    }

    fn flag<'a>(launch: &'a Launch, name: &str) -> Option<&'a str> {
        let at = launch.args.iter().position(|a| a == name)?;
        launch.args.get(at + 1).and_then(|v| v.to_str())
    }

    #[test]
    fn the_member_gets_dms_limits_and_peer_tls() {
        let plan = Bootstrap::Start {
            initial_cluster: "m4=https://127.0.0.1:8294".into(),
            state: "new".into(),
        };
        let plain = Launch::new(&spec(&[]), &plan, "http://127.0.0.1:1");
        assert_eq!(flag(&plain, "--max-txn-ops"), Some("2048"));
        assert_eq!(flag(&plain, "--quota-backend-bytes"), Some("2147483648"));
        assert_eq!(flag(&plain, "--auto-compaction-retention"), Some("1h"));
        assert!(flag(&plain, "--peer-cert-file").is_none());

        let mut secured = spec(&[]);
        secured.tls = Some(TlsFiles {
            ca: "/c/ca.pem".into(),
            cert: "/c/m.pem".into(),
            key: "/c/m.key".into(),
            allowed_cn: vec!["dm".into(), "other".into()],
        });
        let launch = Launch::new(&secured, &plan, "http://127.0.0.1:1");
        assert_eq!(flag(&launch, "--peer-trusted-ca-file"), Some("/c/ca.pem"));
        assert_eq!(flag(&launch, "--peer-cert-file"), Some("/c/m.pem"));
        assert_eq!(flag(&launch, "--peer-key-file"), Some("/c/m.key"));
        assert!(launch
            .args
            .iter()
            .any(|a| a == "--peer-client-cert-auth=true"));
        assert_eq!(flag(&launch, "--peer-cert-allowed-cn"), Some("dm"));
        secured.tls.as_mut().unwrap().allowed_cn.clear();
        let no_cn = Launch::new(&secured, &plan, "http://127.0.0.1:1");
        assert!(!no_cn
            .args
            .iter()
            .any(|a| a == "--peer-client-cert-auth=true"));
    }

    fn member(id: u64, name: &str, peer: &str) -> Member {
        Member {
            id,
            name: name.into(),
            peer_urls: vec![peer.into()],
            client_urls: Vec::new(),
            is_learner: false,
        }
    }

    #[test]
    fn bootstrap_follows_dm_prepare_join() {
        let new = spec(&[]);
        assert_eq!(
            bootstrap(&new, false, None).unwrap(),
            Bootstrap::Start {
                initial_cluster: "m4=http://127.0.0.1:8294".into(),
                state: "new".into()
            }
        );
        assert_eq!(bootstrap(&new, true, None).unwrap(), Bootstrap::Restart);

        let joining = spec(&["http://127.0.0.1:8261"]);
        assert_eq!(
            bootstrap(&joining, false, None).unwrap(),
            Bootstrap::AddSelf
        );
        assert_eq!(
            bootstrap(&joining, false, Some("a=http://x:1,m4=http://y:2\n")).unwrap(),
            Bootstrap::Start {
                initial_cluster: "a=http://x:1,m4=http://y:2".into(),
                state: "existing".into()
            }
        );
        assert_eq!(
            bootstrap(&joining, true, Some("ignored")).unwrap(),
            Bootstrap::Restart
        );

        let own = spec(&["http://127.0.0.1:8264"]);
        let err = bootstrap(&own, false, None).unwrap_err().to_string();
        assert!(
            err.contains("join self 127.0.0.1:8264 is forbidden"),
            "{err}"
        );
    }

    #[test]
    fn join_checks_and_initial_cluster_after_add() {
        let running = [
            member(1, "m1", "http://h1:8291"),
            member(2, "m2", "http://h2:8291"),
        ];
        check_join("m4", &running).unwrap();
        let err = check_join("m2", &running).unwrap_err().to_string();
        assert!(err.contains("joining a duplicate member m2"), "{err}");
        let half = [
            member(1, "m1", "http://h1:8291"),
            member(9, "", "http://h9:8291"),
        ];
        let err = check_join("m4", &half).unwrap_err().to_string();
        assert!(err.contains("has not joined successfully"), "{err}");

        let after = [
            member(1, "m1", "http://h1:8291"),
            member(2, "m2", "http://h2:8291"),
            member(7, "", "http://h4:8291"),
        ];
        assert_eq!(
            initial_cluster_after_add("m4", 7, &after),
            "m1=http://h1:8291,m2=http://h2:8291,m4=http://h4:8291"
        );
    }
}
