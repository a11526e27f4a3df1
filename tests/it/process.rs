//! The `dm-master` and `dmctl` binaries as processes, as operators use them.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dm_master::keys::{KeySpace, UPSTREAM_SUBTASK};
use dm_master::pessimism::ops;

use crate::dmctl::{dmctl_text, DMCTL};
use crate::support::{
    free_port, put_shard_table_ddl, put_shard_table_ddl_of, wait_until, EtcdServer,
};

const MASTER: &str = env!("CARGO_BIN_EXE_dm-master");

#[test]
fn invalid_configuration_exits_with_code_2_and_dm_message_on_stdout() {
    for (args, message) in [
        (
            &["--master-addr", "not-an-address"][..],
            "host:port 'not-an-address' not valid",
        ),
        (
            &[
                "--master-addr",
                "h:1",
                "--election-ttl",
                "0",
                "--etcd-endpoints",
                "127.0.0.1:1",
            ][..],
            "election-ttl must be between 1 and 3600 seconds",
        ),
        (
            &["--master-addr", "h:1", "--log-format", "yaml"][..],
            "invalid log format",
        ),
        (&["-no-such-flag"][..], "parse config flag set"),
    ] {
        let out = Command::new(MASTER).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.starts_with("parse cmd flags err: ") && stdout.contains(message),
            "{args:?}: {stdout}"
        );
    }
}

/// The master binary as `name` on `addr` with `args` and its data in
/// `data_dir`; its output discarded.
fn spawn_quiet_master(name: &str, addr: &str, args: &[&str], data_dir: &std::path::Path) -> Child {
    Command::new(MASTER)
        .args(["--name", name, "--master-addr", addr])
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn an_unknown_config_key_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("m.toml");
    std::fs::write(
        &cfg,
        "name = \"m\"\nnmae = \"typo\"\n[experimental]\nfoo = 1\n",
    )
    .unwrap();
    let out = Command::new(MASTER)
        .arg("-config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "parse cmd flags err: master config contained unknown configuration options: nmae,experimental.foo\n"
    );
}

#[tokio::test]
async fn dm_sample_config_starts_a_master_that_answers_status() {
    let server = EtcdServer::start();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // DM's own sample file, only ports and paths replaced.
    let sample = dm_master::config::SAMPLE_CONFIG
        .replace(":8261", &format!(":{port}"))
        .replace("\"dm-master.log\"", "\"master.log\"")
        .replace(
            "default.dm-master",
            &dir.path().join("data").display().to_string(),
        );
    let cfg = dir.path().join("dm-master.toml");
    std::fs::write(&cfg, sample).unwrap();
    let mut master = Command::new(MASTER)
        .arg("-config")
        .arg(&cfg)
        .args(["--etcd-endpoints", &server.endpoint])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let answered = wait_until(Duration::from_secs(20), || async {
        crate::grpc::http_get(addr, "/status")
            .await
            .contains("Release Version: v")
    })
    .await;
    let log = std::fs::read_to_string(dir.path().join("master.log")).unwrap_or_default();
    let _ = master.kill();
    let _ = master.wait();
    assert!(answered, "the master answers /status\n{log}");
    assert!(
        log.contains("[INFO] ["),
        "DM's text log format in log-file:\n{log}"
    );
    assert!(log.contains("[\"Welcome to dm-master\"]"), "{log}");
    assert!(
        log.contains("configuration options accepted but not applied")
            && log.contains("rpc-rate-burst"),
        "one warning names the inert keys:\n{log}"
    );
}

#[test]
fn version_and_sample_config_print_and_exit_0() {
    let out = Command::new(MASTER).arg("-V").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Release Version: v"), "{text}");
    assert!(text.contains("\nFailpoint Build: false\n"), "{text}");
    let out = Command::new(MASTER)
        .arg("--print-sample-config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("master-addr = \":8261\""));
}

#[test]
fn dmctl_needs_a_master_address_and_says_so_as_dm() {
    let out = Command::new(DMCTL)
        .arg("shard-ddl-lock")
        .env_remove("DM_MASTER_ADDR")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error: --master-addr not provided, this parameter is required when interacting with the dm-master, you can also use environment variable 'DM_MASTER_ADDR' to specify the value. Use `dmctl --help` to see more help messages\n"
    );
    let dead = format!("127.0.0.1:{}", free_port());
    let out = Command::new(DMCTL)
        .arg("shard-ddl-lock")
        .env("DM_MASTER_ADDR", &dead)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("[code=48001:class=dmctl:scope=internal:level=high], Message: can't connect to {dead}, RawCause: ")),
        "{err}"
    );
    let out = Command::new(DMCTL).arg("-V").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("Release Version: v"));
}

#[tokio::test]
async fn master_process_with_dmctl_end_to_end_and_sigterm() {
    // The binaries use DM's real key layout (no namespace): private etcd.
    let server = EtcdServer::start();
    let etcd = server.client().await;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let log_file = dir.path().join("master.log");
    let mut master = spawn_quiet_master(
        "p1",
        &addr,
        &[
            "--etcd-endpoints",
            &server.endpoint,
            "--log-file",
            &log_file.display().to_string(),
        ],
        dir.path(),
    );
    let up = wait_until(Duration::from_secs(20), || async {
        tokio::net::TcpStream::connect(&addr).await.is_ok()
    })
    .await;
    assert!(up, "master listens");
    // Listening comes before winning the election; on a loaded machine the
    // first term can take longer than a request waits for it.
    let leads = wait_until(Duration::from_secs(30), || async {
        dmctl_text(&addr, &["shard-ddl-lock"]).await.0
    })
    .await;
    assert!(leads, "the master leads and answers dmctl");

    let (ok, out) = tokio::task::spawn_blocking({
        let endpoint = server.endpoint.clone();
        move || {
            Command::new(DMCTL)
                .args([
                    "etcd-start-task",
                    "--etcd-endpoints",
                    &endpoint,
                    "--name",
                    "test",
                ])
                .args(["-s", "mysql-replica-01,mysql-replica-02"])
                .args(["--route", "shard_db_*,shard_table_*,shard_db,shard_table"])
                .output()
                .map(|o| {
                    (
                        o.status.success(),
                        String::from_utf8_lossy(&o.stdout).into_owned(),
                    )
                })
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(ok, "{out}");
    let space = KeySpace::default();
    assert_eq!(
        etcd.get_prefix(&space.path(&UPSTREAM_SUBTASK))
            .await
            .unwrap()
            .value
            .len(),
        2
    );

    // A dead master first in the list: dmctl fails over to the next one;
    // DM's single-dash spelling of the global flag is accepted.
    let dead = format!("127.0.0.1:{}", free_port());
    let list = format!("{dead},{addr}");
    let (ok, out) = tokio::task::spawn_blocking(move || {
        let o = Command::new(DMCTL)
            .arg(format!("-master-addr={list}"))
            .arg("shard-ddl-lock")
            .output()
            .unwrap();
        (
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        )
    })
    .await
    .unwrap();
    assert!(ok, "{out}");
    assert!(out.contains("\"msg\": \"no DDL lock exists\""), "{out}");

    put_shard_table_ddl(&etcd, &space).await;
    let listed = wait_until(Duration::from_secs(10), || async {
        let (_, out) = dmctl_text(&addr, &["shard-ddl-lock", "test"]).await;
        out.contains("\"ID\": \"test-`shard_db`.`shard_table`\"")
    })
    .await;
    assert!(listed);
    let (_, out) = dmctl_text(&addr, &["shard-ddl-lock", "test"]).await;
    assert!(out.contains("\"owner\": \"mysql-replica-01\""), "{out}");
    assert!(
        out.contains("\"unsynced\": [\n                \"mysql-replica-02\""),
        "{out}"
    );

    let (_, out) = dmctl_text(
        &addr,
        &[
            "shard-ddl-lock",
            "unlock",
            "test-`shard_db`.`shard_table`",
            "-a",
            "bogus",
        ],
    )
    .await;
    assert!(out.contains("only exec/skip are acceptable"), "{out}");

    // The second source's Info syncs the lock: the owner's Operation is
    // written in the background, and the step's log line comes after it
    // went out, never lost.
    put_shard_table_ddl_of(&etcd, &space, "mysql-replica-02").await;
    let logged = wait_until(Duration::from_secs(10), || async {
        let log = std::fs::read_to_string(&log_file).unwrap_or_default();
        log.contains("[\"info applied to lock\"] [task=test] [source=mysql-replica-02] [lock_id=test-`shard_db`.`shard_table`] [synced=true]")
            && log.contains("[\"operations put\"] [task=test] [lock_id=test-`shard_db`.`shard_table`] [exec=true]")
    })
    .await;
    let log = std::fs::read_to_string(&log_file).unwrap_or_default();
    assert!(
        logged,
        "the synced step and its Operation are logged:\n{log}"
    );

    // The sources finish the DDL as DM-workers do (owner first), so the
    // lock resolves and its keys are gone before the task stops.
    let cancel = tokio_util::sync::CancellationToken::new();
    for source in ["mysql-replica-01", "mysql-replica-02"] {
        let worker = dm_worker::shardddl::pessimist::PessimistClient::new(
            etcd.clone(),
            space.clone(),
            "test",
            source,
        );
        let op = worker
            .wait_operation(0, &cancel)
            .await
            .expect("the source gets its Operation");
        assert_eq!(op.exec, source == "mysql-replica-01", "{op:?}");
        worker.done(&op).await.expect("the Operation is done");
    }
    let resolved = wait_until(Duration::from_secs(10), || async {
        etcd.get_prefix(&ops::pessimism_prefix(&space))
            .await
            .is_ok_and(|kvs| kvs.value.is_empty())
    })
    .await;
    assert!(resolved, "the resolved lock's keys are deleted");

    // etcd-stop-task removes the subtask configs and the task's shard-DDL keys.
    let endpoint = server.endpoint.clone();
    let (ok, out) = tokio::task::spawn_blocking(move || {
        let o = Command::new(DMCTL)
            .args(["etcd-stop-task", "--etcd-endpoints", &endpoint, "test"])
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    })
    .await
    .unwrap();
    assert!(ok, "{out}");
    assert!(etcd
        .get_prefix(&space.path(&UPSTREAM_SUBTASK))
        .await
        .unwrap()
        .value
        .is_empty());
    let left: Vec<String> = etcd
        .get_prefix(&ops::pessimism_prefix(&space))
        .await
        .unwrap()
        .value
        .iter()
        .map(|kv| format!("{} = {}", kv.key_str(), String::from_utf8_lossy(&kv.value)))
        .collect();
    assert!(
        left.is_empty(),
        "shard-DDL keys left after etcd-stop-task: {left:?}\n{}",
        std::fs::read_to_string(&log_file).unwrap_or_default()
    );
    let gone = wait_until(Duration::from_secs(10), || async {
        dmctl_text(&addr, &["shard-ddl-lock"])
            .await
            .1
            .contains("no DDL lock exists")
    })
    .await;
    assert!(gone, "the stopped task's lock is dropped");

    // SIGTERM stops the master cleanly and quickly.
    let pid = master.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let stopped = wait_until(Duration::from_secs(5), || {
        let done = matches!(master.try_wait(), Ok(Some(_)));
        async move { done }
    })
    .await;
    assert!(stopped, "master exits after SIGTERM");
    assert_eq!(master.wait().unwrap().code(), Some(0));
}

#[tokio::test]
async fn without_endpoints_the_master_runs_and_stops_its_own_etcd() {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let peer = format!("http://127.0.0.1:{}", free_port());
    let mut master = spawn_quiet_master("solo", &addr, &["--peer-urls", &peer], dir.path());
    let status = wait_until(Duration::from_secs(20), || async {
        crate::grpc::http_get(addr.parse().unwrap(), "/role")
            .await
            .contains("\"role\":\"leader\"")
    })
    .await;
    assert!(status, "the master leads on its own etcd");
    assert!(
        dir.path().join("member").is_dir(),
        "etcd data lives in --data-dir, as DM's"
    );
    let etcd_dir = dir.path().display().to_string();
    let etcd_running = || process_with_arg_running(&etcd_dir);
    assert!(etcd_running());
    Command::new("kill")
        .args(["-TERM", &master.id().to_string()])
        .status()
        .unwrap();
    let stopped = wait_until(Duration::from_secs(10), || {
        let done = matches!(master.try_wait(), Ok(Some(_)));
        async move { done }
    })
    .await;
    assert!(stopped);
    assert!(
        wait_until(Duration::from_secs(5), || {
            let running = etcd_running();
            async move { !running }
        })
        .await,
        "the managed etcd stops with the master"
    );
}

#[test]
fn a_missing_etcd_binary_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(MASTER)
        .args(["--master-addr", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path())
        .env("ETCD_BIN", "/nonexistent/etcd")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("apt-get install -y etcd-server"), "{err}");
}

/// Whether some process has `arg` in its command line (reads /proc).
pub fn process_with_arg_running(arg: &str) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .map(|cmd| cmd.split(|b| *b == 0).any(|part| part == arg.as_bytes()))
            .unwrap_or(false)
    })
}
