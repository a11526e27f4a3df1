//! Test support: a real MariaDB server per test binary, on a free loopback
//! port with a temporary data directory, and a unique database per test.
//!
//! The fixture installs nothing: when `mariadbd` or `mariadb-install-db` is
//! missing it fails loudly with install instructions (`scripts/install-deps`
//! installs them). Like the etcd fixture, the server runs under a shell
//! guard that kills it by PID when this test binary exits.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use dm_worker::executor::{Executor, ExecutorOptions};
use sqlx::mysql::MySqlConnectOptions;

use crate::support::{free_port, spawn_guarded};

/// A `mariadbd` process on `127.0.0.1:port`, user `root` without password.
pub struct MariaDb {
    guard: Child,
    pid: u32,
    pub port: u16,
    _dir: tempfile::TempDir,
}

/// `$env` if set, else the first of `candidates` that exists on `PATH` or
/// as a path. Panics with install instructions when none does.
fn binary(env: &str, candidates: &[&str]) -> String {
    if let Ok(path) = std::env::var(env) {
        return path;
    }
    for candidate in candidates {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {candidate}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if found || Path::new(candidate).is_file() {
            return (*candidate).to_owned();
        }
    }
    panic!(
        "MariaDB was not found (looked for {candidates:?}). Install it with \
         `scripts/install-deps` (or `sudo apt-get install -y mariadb-server`), \
         or point {env} at the binary."
    );
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl MariaDb {
    /// Initialises a data directory, starts the server and waits until it
    /// greets clients.
    pub fn start() -> MariaDb {
        let server = binary("MARIADBD_BIN", &["mariadbd", "/usr/sbin/mariadbd"]);
        let install = binary(
            "MARIADB_INSTALL_DB_BIN",
            &["mariadb-install-db", "/usr/bin/mariadb-install-db"],
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        // mariadbd refuses to run as root unless told to.
        let user: Vec<String> = if running_as_root() {
            vec!["--user=root".to_owned()]
        } else {
            Vec::new()
        };
        let output = Command::new(&install)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(&user)
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {install}: {e}"));
        assert!(
            output.status.success(),
            "{install} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let port = free_port();
        let log = dir.path().join("mariadb.err");
        let mut args = vec![
            "--no-defaults".to_owned(),
            format!("--datadir={}", data.display()),
            "--bind-address=127.0.0.1".to_owned(),
            format!("--port={port}"),
            format!("--socket={}", dir.path().join("mariadb.sock").display()),
            format!("--pid-file={}", dir.path().join("mariadb.pid").display()),
            "--skip-name-resolve".to_owned(),
            format!("--log-error={}", log.display()),
        ];
        args.extend(user);
        let (guard, pid) = spawn_guarded(&server, &args, None);
        let db = MariaDb {
            guard,
            pid,
            port,
            _dir: dir,
        };
        db.wait_ready(&log);
        db
    }

    /// The one server shared by the tests of this binary.
    pub fn shared() -> &'static MariaDb {
        static SHARED: OnceLock<MariaDb> = OnceLock::new();
        SHARED.get_or_init(MariaDb::start)
    }

    /// Waits for the server's handshake packet (protocol version 10).
    fn wait_ready(&self, log: &PathBuf) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if greets(self.port) {
                return;
            }
            let alive = Command::new("kill")
                .args(["-0", &self.pid.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if !alive || Instant::now() >= deadline {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                panic!(
                    "MariaDB on port {} did not become ready:\n{text}",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Connection options for `root` on this server.
    pub fn connect_options(&self) -> MySqlConnectOptions {
        MySqlConnectOptions::new()
            .host("127.0.0.1")
            .port(self.port)
            .username("root")
    }

    /// An executor with quick retries, for tests.
    pub fn executor(&self) -> Executor {
        Executor::new(self.connect_options(), quick_retries())
    }

    /// Creates a database no other test uses and returns its name.
    pub async fn fresh_database(&self, name: &str) -> String {
        let database = unique_database(name);
        let mut executor = self.executor();
        executor
            .execute_one(&format!("CREATE DATABASE `{database}`"))
            .await
            .expect("create test database");
        executor.close().await;
        database
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-9", &self.pid.to_string()])
            .status();
        let _ = self.guard.kill();
        let _ = self.guard.wait();
    }
}

/// Retries short enough for tests: 3 attempts, 50 ms first pause.
pub fn quick_retries() -> ExecutorOptions {
    ExecutorOptions {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        connect_timeout: Duration::from_secs(2),
    }
}

/// A database name no other test of this process uses.
pub fn unique_database(name: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("it_{}_{name}_{n}", std::process::id())
}

/// Whether a MySQL server on `port` sends its greeting.
fn greets(port: u16) -> bool {
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut head = [0u8; 5];
    // 3-byte length, sequence number, then the protocol version.
    stream.read_exact(&mut head).is_ok() && head[4] == 10
}
