//! The member's process: its etcd command line ([`Launch`]), the shell
//! guard that stops etcd when the master's pipe closes, one guarded run
//! ([`MemberProcess`]) with etcd's log lines forwarded, and the private
//! files and loopback port it needs.

use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use super::plan::{Bootstrap, MemberSpec};
use crate::error::{Error, Result};

const INSTALL_HINT: &str = "the `etcd` binary was not found on PATH: install it (Debian/Ubuntu: `sudo apt-get install -y etcd-server`), set ETCD_BIN, or pass --etcd-endpoints";

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

/// The command line of the member, reused for every restart.
pub(super) struct Launch {
    pub(super) bin: String,
    pub(super) args: Vec<OsString>,
    pub(super) member: String,
}

impl Launch {
    pub(super) fn new(spec: &MemberSpec, plan: &Bootstrap, client_url: &str) -> Launch {
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

    pub(super) fn spawn(&self) -> Result<MemberProcess> {
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
pub(super) struct MemberProcess {
    pub(super) child: Child,
    /// Dropping it tells the guard to stop etcd.
    pub(super) stdin: Option<ChildStdin>,
    pub(super) started: Instant,
}

impl MemberProcess {
    pub(super) async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait().await
    }

    pub(super) async fn stop(mut self) {
        self.stdin.take();
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
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

pub(super) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
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

pub(super) fn write_private_file(path: &Path, content: &str) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, content)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
}

pub(super) fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
