//! Test support: a real etcd process per test binary (or per test when a test
//! needs to restart or compact it), unique key namespaces, and polling helpers.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use dm_master::etcd::{Etcd, EtcdOptions};
use dm_master::keys::KeySpace;

/// A real `etcd` process on loopback ports with its own data directory.
///
/// The process runs under a tiny shell guard that kills it when this test
/// binary's end of a pipe closes, so even a shared server (never dropped)
/// does not outlive the tests.
pub struct EtcdServer {
    guard: Child,
    etcd_pid: u32,
    pub endpoint: String,
    client_port: u16,
    peer_port: u16,
    data_dir: PathBuf,
    _dir: tempfile::TempDir,
}

fn etcd_binary() -> String {
    std::env::var("ETCD_BIN").unwrap_or_else(|_| "etcd".to_string())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

impl EtcdServer {
    /// Starts a fresh etcd and waits until it answers. Panics with install
    /// instructions when the binary is missing: tests never skip silently.
    pub fn start() -> EtcdServer {
        EtcdServer::start_on(free_port())
    }

    /// Starts a fresh etcd whose client URL uses `client_port`.
    pub fn start_on(client_port: u16) -> EtcdServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().join("etcd");
        let peer_port = free_port();
        let (guard, etcd_pid) = spawn_etcd(&data_dir, client_port, peer_port);
        let server = EtcdServer {
            guard,
            etcd_pid,
            endpoint: format!("http://127.0.0.1:{client_port}"),
            client_port,
            peer_port,
            data_dir,
            _dir: dir,
        };
        server.wait_ready();
        server
    }

    /// The one etcd shared by tests that only need their own key namespace.
    pub fn shared() -> &'static EtcdServer {
        static SHARED: OnceLock<EtcdServer> = OnceLock::new();
        SHARED.get_or_init(EtcdServer::start)
    }

    /// Kills the process (SIGKILL by PID), keeping the data directory.
    pub fn kill(&mut self) {
        if self.etcd_pid != 0 {
            let _ = Command::new("kill")
                .args(["-9", &self.etcd_pid.to_string()])
                .status();
        }
        let _ = self.guard.kill();
        let _ = self.guard.wait();
        self.etcd_pid = 0;
    }

    /// Starts etcd again on the same ports and data (an etcd restart).
    pub fn restart(&mut self) {
        self.kill();
        let (guard, pid) = spawn_etcd(&self.data_dir, self.client_port, self.peer_port);
        self.guard = guard;
        self.etcd_pid = pid;
        self.wait_ready();
    }

    /// Waits for etcd's own `/health` to say true (plain HTTP/1, so this
    /// works inside or outside an async runtime).
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if health_ok(self.client_port) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "etcd at {} did not become ready within 20 s",
                self.endpoint
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub async fn client(&self) -> Etcd {
        Etcd::connect(std::slice::from_ref(&self.endpoint), EtcdOptions::default())
            .await
            .expect("etcd client")
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn health_ok(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut body = String::new();
    let _ = stream.read_to_string(&mut body);
    body.contains("\"health\":\"true\"")
}

/// Spawns `etcd` with its data in `data_dir` under [`spawn_guarded`], its
/// log next to the data directory.
fn spawn_etcd(data_dir: &Path, client_port: u16, peer_port: u16) -> (Child, u32) {
    let bin = etcd_binary();
    let which = Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .output();
    if !matches!(which, Ok(ref o) if o.status.success()) {
        panic!(
            "the `etcd` binary was not found (looked for `{bin}`). Install it with \
             `sudo apt-get install -y etcd-server` or point ETCD_BIN at an etcd binary."
        );
    }
    let client = format!("http://127.0.0.1:{client_port}");
    let peer = format!("http://127.0.0.1:{peer_port}");
    let args = [
        "--name",
        "it",
        "--data-dir",
        &data_dir.display().to_string(),
        "--listen-client-urls",
        &client,
        "--advertise-client-urls",
        &client,
        "--listen-peer-urls",
        &peer,
        "--initial-advertise-peer-urls",
        &peer,
        "--initial-cluster",
        &format!("it={peer}"),
        "--logger",
        "zap",
    ]
    .map(str::to_owned);
    spawn_guarded(&bin, &args, Some(&data_dir.with_extension("log")))
}

/// Spawns `bin args` under `sh`, which prints the server's PID, then waits
/// for its stdin to close (this test process exiting, even without running
/// destructors) and kills the server by that PID. The server's output goes
/// to `log`, or nowhere.
pub fn spawn_guarded(bin: &str, args: &[String], log: Option<&Path>) -> (Child, u32) {
    let script = r#"bin="$1"; shift; "$bin" "$@" >"$LOG" 2>&1 & pid=$!; echo "$pid"; cat >/dev/null; kill -9 "$pid" 2>/dev/null"#;
    let mut guard = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("guard")
        .arg(bin)
        .args(args)
        .env("LOG", log.unwrap_or(Path::new("/dev/null")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn the guard of {bin}: {e}"));
    let stdout = guard.stdout.take().expect("guard stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("read the PID of {bin}: {e}"));
    let pid = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("the PID of {bin}: {line:?}"));
    (guard, pid)
}

/// A key namespace no other test uses, so tests can share one etcd.
pub fn unique_space(name: &str) -> KeySpace {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    KeySpace::new(format!("/it-{}-{name}-{n}", std::process::id()))
}

/// Polls `cond` until it holds or `timeout` passes; returns whether it held.
pub async fn wait_until<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if cond().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A loopback TCP proxy in front of a server, which a test can cut
/// (dropping every connection and refusing new ones) and restore, to make
/// a client lag behind or lose its streams.
pub struct TcpProxy {
    pub addr: std::net::SocketAddr,
    cut: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

impl TcpProxy {
    pub async fn start(upstream: std::net::SocketAddr) -> TcpProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut_tx, cut_rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if *cut_rx.borrow() {
                    continue; // refused: dropped at once
                }
                let mut cut = cut_rx.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.wait_for(|c| *c) => {}
                    }
                });
            }
        });
        TcpProxy {
            addr,
            cut: std::sync::Arc::new(cut_tx),
        }
    }

    /// Drops every proxied connection and refuses new ones.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}

impl EtcdServer {
    /// The client address (for proxies).
    pub fn client_addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.client_port))
    }
}

/// Waits (at most `within`) for the pessimistic Operation answering an Info
/// put at `info_revision`; panics with the step named when none comes.
pub async fn answered(
    client: &dm_worker::shardddl::pessimist::PessimistClient,
    info_revision: i64,
    cancel: &tokio_util::sync::CancellationToken,
    within: Duration,
) -> dm_master::pessimism::Operation {
    tokio::time::timeout(within, client.wait_operation(info_revision, cancel))
        .await
        .expect("no Operation answered the Info in time")
        .expect("waiting for the Operation failed")
}

/// Puts `client`'s Info of `ddl` on `db`.`tb`; returns the Info's revision.
pub async fn put_ddl(
    client: &dm_worker::shardddl::pessimist::PessimistClient,
    ddl: &str,
    cancel: &tokio_util::sync::CancellationToken,
) -> i64 {
    client
        .put_info(&client.info("db", "tb", vec![ddl.into()]), cancel)
        .await
        .expect("put the Info")
}

/// Source `mysql-replica-01` of task `test` puts the Info of DM's fixture
/// DDL on `shard_db`.`shard_table` (lock `test-`shard_db`.`shard_table``);
/// returns the DDL.
pub async fn put_shard_table_ddl(etcd: &Etcd, space: &KeySpace) -> &'static str {
    put_shard_table_ddl_of(etcd, space, "mysql-replica-01").await
}

/// [`put_shard_table_ddl`] from `source`.
pub async fn put_shard_table_ddl_of(etcd: &Etcd, space: &KeySpace, source: &str) -> &'static str {
    let ddl = "ALTER TABLE `shard_db`.`shard_table` ADD COLUMN `c2` INT";
    let client = dm_worker::shardddl::pessimist::PessimistClient::new(
        etcd.clone(),
        space.clone(),
        "test",
        source,
    );
    let cancel = tokio_util::sync::CancellationToken::new();
    client
        .put_info(
            &client.info("shard_db", "shard_table", vec![ddl.into()]),
            &cancel,
        )
        .await
        .expect("put the Info");
    ddl
}
