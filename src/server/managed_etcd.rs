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

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::etcd::member::Member;
use crate::etcd::retry::Backoff;
use crate::etcd::{Etcd, EtcdOptions};
use crate::tls::TlsFiles;

const INSTALL_HINT: &str = "the `etcd` binary was not found on PATH: install it (Debian/Ubuntu: `sudo apt-get install -y etcd-server`), set ETCD_BIN, or pass --etcd-endpoints";

/// How long a starting member may take to serve a linearizable read. DM
/// waits 10 s; a member of a new multi-member cluster waits for its peers
/// to start, and a busy machine needs longer, so we allow a minute.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A member that ran this long before dying starts over at `FIRST_BACKOFF`.
const STABLE_UPTIME: Duration = Duration::from_secs(60);

/// Starts `"$0" "$@"` in the background, stops it when stdin closes, and
/// exits with its status when it exits.
/// (A background list reads `/dev/null` unless redirected, hence fd 3.)
const GUARD_SCRIPT: &str = r#"exec 3<&0
"$0" "$@" 3<&- &
pid=$!
{
  cat <&3 >/dev/null
  kill -TERM "$pid" 2>/dev/null
  n=0
  while kill -0 "$pid" 2>/dev/null && [ "$n" -lt 100 ]; do sleep 0.1; n=$((n+1)); done
  kill -KILL "$pid" 2>/dev/null
} &
exec 3<&-
wait "$pid""#;

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

/// The command line of the member, reused for every restart.
struct Launch {
    bin: String,
    args: Vec<OsString>,
    member: String,
}

impl Launch {
    fn new(spec: &MemberSpec, plan: &Bootstrap, client_url: &str) -> Launch {
        let mut args: Vec<OsString> = Vec::new();
        let mut arg = |flag: &str, value: &str| {
            args.push(flag.into());
            args.push(value.into());
        };
        arg("--name", &spec.name);
        arg("--data-dir", &spec.data_dir.display().to_string());
        arg("--listen-client-urls", client_url);
        arg("--advertise-client-urls", &spec.advertise_client_url);
        arg("--listen-peer-urls", &spec.peer_urls.join(","));
        arg(
            "--initial-advertise-peer-urls",
            &spec.advertise_peer_urls.join(","),
        );
        if let Bootstrap::Start {
            initial_cluster,
            state,
        } = plan
        {
            arg("--initial-cluster", initial_cluster);
            arg("--initial-cluster-state", state);
        }
        let limits = &spec.limits;
        arg("--max-txn-ops", &limits.max_txn_ops.to_string());
        arg("--max-request-bytes", &limits.max_request_bytes.to_string());
        arg("--auto-compaction-mode", &limits.auto_compaction_mode);
        arg(
            "--auto-compaction-retention",
            &limits.auto_compaction_retention,
        );
        arg(
            "--quota-backend-bytes",
            &limits.quota_backend_bytes.to_string(),
        );
        let mut peer_client_cert_auth = false;
        if let Some(tls) = &spec.tls {
            arg("--peer-trusted-ca-file", &tls.ca.display().to_string());
            arg("--peer-cert-file", &tls.cert.display().to_string());
            arg("--peer-key-file", &tls.key.display().to_string());
            // DM's etcd asks peers for certificates only with
            // cert-allowed-cn, and checks only its first CN.
            if let Some(cn) = tls.allowed_cn.first() {
                arg("--peer-cert-allowed-cn", cn);
                peer_client_cert_auth = true;
            }
        }
        // DM raises the embedded etcd's log level to WARN.
        arg("--logger", "zap");
        arg("--log-level", "warn");
        if peer_client_cert_auth {
            args.push("--peer-client-cert-auth=true".into());
        }
        Launch {
            bin: std::env::var("ETCD_BIN").unwrap_or_else(|_| "etcd".to_string()),
            args,
            member: spec.name.clone(),
        }
    }

    fn spawn(&self) -> Result<MemberProcess> {
        if !binary_exists(&self.bin) {
            return Err(Error::Config(INSTALL_HINT.to_string()));
        }
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(GUARD_SCRIPT)
            .arg(&self.bin)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| Error::Io {
                op: "start etcd",
                source,
            })?;
        let stdin = child.stdin.take();
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(forward_log(self.member.clone(), stderr));
        }
        Ok(MemberProcess {
            child,
            stdin,
            started: Instant::now(),
        })
    }
}

/// One run of the guarded etcd process.
struct MemberProcess {
    child: Child,
    /// Dropping it tells the guard to stop etcd.
    stdin: Option<ChildStdin>,
    started: Instant,
}

impl MemberProcess {
    async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait().await
    }

    async fn stop(mut self) {
        self.stdin.take();
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
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

/// etcd's own log lines (WARN and above) as the master's, component
/// `embed etcd` as in DM.
async fn forward_log(member: String, stderr: tokio::process::ChildStderr) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::warn!(component = "embed etcd", member = %member, "{line}");
    }
}

fn binary_exists(bin: &str) -> bool {
    if bin.contains('/') {
        return Path::new(bin).is_file();
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(bin).is_file()))
        .unwrap_or(false)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

fn write_private_file(path: &Path, content: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, content)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
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
