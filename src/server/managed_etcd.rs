//! The embedded default: with no `--etcd-endpoints`, the master starts a
//! local single-member etcd (the `etcd` binary on PATH, or `$ETCD_BIN`) with
//! its data under `--data-dir`, supervises it, and stops it on shutdown.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::error::{Error, Result};
use crate::etcd::{Etcd, EtcdOptions};

/// A child etcd process; killed when dropped.
pub struct ManagedEtcd {
    child: Child,
    pub endpoint: String,
}

const INSTALL_HINT: &str = "the `etcd` binary was not found on PATH: install it (Debian/Ubuntu: `sudo apt-get install -y etcd-server`), set ETCD_BIN, or pass --etcd-endpoints";

impl ManagedEtcd {
    /// Starts etcd with data in `data_dir/etcd` on free loopback ports and
    /// waits until it answers. The member advertises `advertise_client_url`
    /// (its master's address, which proxies etcd's API) as its client URL,
    /// so clients that sync endpoints from `MemberList` reach the master.
    pub async fn start(
        data_dir: &Path,
        name: &str,
        advertise_client_url: &str,
    ) -> Result<ManagedEtcd> {
        let bin = std::env::var("ETCD_BIN").unwrap_or_else(|_| "etcd".to_string());
        let io = |op: &'static str| move |source| Error::Io { op, source };
        std::fs::create_dir_all(data_dir).map_err(io("create --data-dir"))?;
        let client_port = free_port().map_err(io("pick a port for etcd"))?;
        let peer_port = free_port().map_err(io("pick a port for etcd"))?;
        let client = format!("http://127.0.0.1:{client_port}");
        let peer = format!("http://127.0.0.1:{peer_port}");
        let log =
            std::fs::File::create(data_dir.join("etcd.log")).map_err(io("create etcd.log"))?;
        let child = Command::new(&bin)
            .args(["--name", name])
            .arg("--data-dir")
            .arg(data_dir.join("etcd"))
            .args([
                "--listen-client-urls",
                &client,
                "--advertise-client-urls",
                advertise_client_url,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", &format!("{name}={peer}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Error::Config(INSTALL_HINT.to_string())
                } else {
                    Error::Io {
                        op: "start etcd",
                        source: e,
                    }
                }
            })?;
        let mut managed = ManagedEtcd {
            child,
            endpoint: client,
        };
        managed.wait_ready().await?;
        tracing::info!(endpoint = %managed.endpoint, data_dir = %data_dir.display(), "managed etcd started");
        Ok(managed)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let etcd =
            Etcd::connect(std::slice::from_ref(&self.endpoint), EtcdOptions::default()).await?;
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Error::Config(format!(
                    "managed etcd exited at start ({status}); see etcd.log under --data-dir"
                )));
            }
            if etcd.get("/").await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(Error::Config(
            "managed etcd did not become ready within 20 s; see etcd.log under --data-dir".into(),
        ))
    }

    /// Whether the child has exited (supervision).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stops etcd (SIGKILL through tokio; its data is durable on disk).
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
