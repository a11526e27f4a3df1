//! A small DM cluster of real processes: two `dm-master`s on one etcd and
//! three joined `dm-worker`s (their etcd traffic through the masters'
//! address), driven by `dmctl` as an operator would.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cluster::MasterProcess;
use crate::dmctl::dmctl_text;
use crate::support::{free_port, wait_until, EtcdServer};

const MASTER: &str = env!("CARGO_BIN_EXE_dm-master");

/// The worker's keep-alive lease TTL in these tests (etcd's floor is 2 s).
pub const KEEPALIVE_TTL_SECS: u64 = 3;
/// How long a condition of the cluster may take to settle on a loaded
/// machine; assertions wait on conditions, never on time.
pub const SETTLE: Duration = Duration::from_secs(30);

/// The `dm-worker` binary built next to `dm-master` (`cargo test
/// --workspace` builds both; `cargo test --test it` alone does not build
/// the other package's binary, so one older than a source it was built
/// from, as cargo's dep-info file lists them, is refused rather than run).
fn worker_bin() -> std::path::PathBuf {
    let path = std::path::Path::new(MASTER).with_file_name("dm-worker");
    let built = std::fs::metadata(&path).and_then(|m| m.modified());
    let Ok(built) = built else {
        panic!(
            "{} is missing: run the tests with `cargo test --workspace` so the worker binary is built",
            path.display()
        );
    };
    if let Some((changed, source)) = newest_source(&path.with_extension("d")) {
        assert!(
            changed <= built,
            "{} is older than {}: run `cargo build -p dm-worker` or `cargo test --workspace` first",
            path.display(),
            source
        );
    }
    path
}

/// The most recently modified source in cargo's dep-info file `dep_info`
/// (`binary: source source ...`, a space in a path escaped as `\ `).
fn newest_source(dep_info: &std::path::Path) -> Option<(std::time::SystemTime, String)> {
    let text = std::fs::read_to_string(dep_info).ok()?;
    let (_, sources) = text.lines().next()?.split_once(": ")?;
    let sources = sources.replace("\\ ", "\0");
    sources
        .split_whitespace()
        .map(|source| source.replace('\0', " "))
        .filter_map(|source| {
            let changed = std::fs::metadata(&source).and_then(|m| m.modified()).ok()?;
            Some((changed, source))
        })
        .max()
}

/// A joined `dm-worker` process, killed by PID when dropped.
pub struct WorkerProcess {
    pub name: String,
    child: Option<Child>,
    addr: String,
    join: String,
    log: std::path::PathBuf,
    /// A worker config file (`--config`), given before the flags.
    config: Option<std::path::PathBuf>,
}

impl WorkerProcess {
    pub fn start(name: &str, join: &str, dir: &std::path::Path) -> WorkerProcess {
        WorkerProcess::start_with_config(name, join, dir, None)
    }

    /// Starts a worker that also reads `config` (e.g. its `[scenario]`
    /// table).
    pub fn start_with_config(
        name: &str,
        join: &str,
        dir: &std::path::Path,
        config: Option<std::path::PathBuf>,
    ) -> WorkerProcess {
        let mut worker = WorkerProcess {
            name: name.to_string(),
            child: None,
            addr: format!("127.0.0.1:{}", free_port()),
            join: join.to_string(),
            log: dir.join(format!("{name}.log")),
            config,
        };
        worker.spawn();
        worker
    }

    fn spawn(&mut self) {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut command = Command::new(worker_bin());
        if let Some(config) = &self.config {
            command.arg("--config").arg(config);
        }
        let child = command
            .args(["--name", &self.name])
            .args(["--worker-addr", &self.addr])
            .args(["--join", &self.join])
            .args(["--keepalive-ttl", &KEEPALIVE_TTL_SECS.to_string()])
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn dm-worker");
        self.child = Some(child);
    }

    /// SIGKILL: no lease revoke, the keep-alive key lives until its TTL.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-9", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// An HTTP GET of `path` on the worker's port (DM-worker's HTTP routes
    /// beside pb.Worker): status line, headers and body.
    pub async fn http_get(&self, path: &str) -> String {
        crate::grpc::http_get(self.addr.parse().expect("a socket address"), path).await
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `(name, stage, source)` of every worker, as `dmctl list-member --worker`
/// prints them.
pub async fn workers(addrs: &str) -> Vec<(String, String, String)> {
    let (ok, out) = dmctl_text(addrs, &["list-member", "--worker"]).await;
    if !ok {
        return Vec::new();
    }
    let Ok(listed) = serde_json::from_str::<Value>(&out) else {
        return Vec::new();
    };
    let field = |w: &Value, k: &str| w[k].as_str().unwrap_or_default().to_string();
    listed["members"][0]["worker"]["workers"]
        .as_array()
        .map(|ws| {
            ws.iter()
                .map(|w| (field(w, "name"), field(w, "stage"), field(w, "source")))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until the workers' view equals `expected` (in any order): each
/// worker as (name, stage, source).
async fn wait_workers(addrs: &str, expected: &[(&str, &str, &str)]) -> bool {
    let mut expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(n, st, so)| (n.to_string(), st.to_string(), so.to_string()))
        .collect();
    expected.sort();
    wait_until(SETTLE, || {
        let expected = expected.clone();
        async move { workers(addrs).await == expected }
    })
    .await
}

/// [`wait_workers`], failing with `why` and the view last seen.
async fn expect_workers(addrs: &str, expected: &[(&str, &str, &str)], why: &str) {
    let held = wait_workers(addrs, expected).await;
    assert!(held, "{why}: {:?}", workers(addrs).await);
}

/// The worker bound to `source`, if any.
async fn bound_worker(addrs: &str, source: &str) -> Option<String> {
    workers(addrs)
        .await
        .into_iter()
        .find(|(_, stage, s)| stage == "bound" && s == source)
        .map(|(name, _, _)| name)
}

/// A pessimistic task over both sources (the downstream is never dialled:
/// the workers only track their subtasks).
const TASK_YAML: &str = "name: t1\ntask-mode: all\nshard-mode: pessimistic\ntarget-database:\n  host: 127.0.0.1\n  port: 4000\n  user: root\n  password: \"\"\nmysql-instances:\n  - source-id: s1\n    block-allow-list: ba\n    route-rules: [r1]\n  - source-id: s2\n    block-allow-list: ba\n    route-rules: [r1]\nblock-allow-list:\n  ba:\n    do-dbs: [shard_db]\nroutes:\n  r1:\n    schema-pattern: shard_db\n    table-pattern: t*\n    target-schema: db\n    target-table: tb\n";

/// Whether dmctl's `query-status <task>` succeeded, and `(source,
/// subtask)` of the sources that answered.
pub async fn query_status(addrs: &str, task: &str) -> (bool, Vec<(String, Value)>) {
    let (ok, out) = dmctl_text(addrs, &["query-status", task]).await;
    let Ok(status) = serde_json::from_str::<Value>(&out) else {
        return (false, Vec::new());
    };
    let subtasks = status["sources"]
        .as_array()
        .map(|sources| {
            sources
                .iter()
                .filter(|s| s["result"] == true)
                .map(|s| {
                    (
                        s["sourceStatus"]["source"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        s["subTaskStatus"][0].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (ok, subtasks)
}

/// Waits until `query-status <task>` shows, per source in order, a
/// subtask reported by its worker in the given stage.
async fn wait_stages(addrs: &str, task: &str, expected: &[&str]) -> bool {
    let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
    wait_until(SETTLE, || {
        let expected = expected.clone();
        async move {
            let (ok, subtasks) = query_status(addrs, task).await;
            let stages: Vec<String> = subtasks
                .iter()
                .map(|(_, st)| st["stage"].as_str().unwrap_or_default().to_string())
                .collect();
            ok && stages == expected
        }
    })
    .await
}

fn source_yaml(id: &str, server_id: u32) -> String {
    // flavor and server-id given: the master does not probe the upstream.
    format!(
        "source-id: {id}\nflavor: mysql\nserver-id: {server_id}\nenable-gtid: false\nfrom:\n  host: 127.0.0.1\n  user: root\n  password: \"\"\n  port: 3306\n"
    )
}

/// Two `dm-master` processes `m1`, `m2` on `etcd` (data and logs in `dir`),
/// once one of them leads; with both addresses as dmctl's `--master-addr`.
pub async fn start_two_masters(
    etcd: &EtcdServer,
    dir: &std::path::Path,
) -> (Vec<MasterProcess>, String) {
    let masters: Vec<MasterProcess> = (1..=2)
        .map(|i| {
            let addr = format!("127.0.0.1:{}", free_port());
            let data = dir.join(format!("m{i}"));
            MasterProcess::spawn(
                &addr,
                &[
                    "--name",
                    &format!("m{i}"),
                    "--etcd-endpoints",
                    &etcd.endpoint,
                    "--election-ttl",
                    "2",
                    "--data-dir",
                    data.to_str().unwrap(),
                ],
                &dir.join(format!("m{i}.log")),
            )
        })
        .collect();
    let join = format!("{},{}", masters[0].addr, masters[1].addr);
    let led = wait_until(SETTLE, || async {
        leader_of(&[&masters[0], &masters[1]]).await.is_some()
    })
    .await;
    assert!(led, "one master leads: {}", masters[0].log());
    (masters, join)
}

pub async fn leader_of(masters: &[&MasterProcess]) -> Option<usize> {
    for (i, m) in masters.iter().enumerate() {
        if m.role().await == "leader" {
            return Some(i);
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_workers_register_get_sources_bound_and_fail_over() {
    // The binaries use DM's real key layout (no namespace): private etcd.
    let etcd = EtcdServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut masters, join) = start_two_masters(&etcd, dir.path()).await;

    // Three joined workers register and keep alive through the masters.
    let mut workers_p: Vec<WorkerProcess> = ["w1", "w2", "w3"]
        .iter()
        .map(|n| WorkerProcess::start(n, &join, dir.path()))
        .collect();
    let all_free = wait_workers(
        &join,
        &[("w1", "free", ""), ("w2", "free", ""), ("w3", "free", "")],
    )
    .await;
    assert!(
        all_free,
        "all workers register and come online: {:?}\n{}",
        workers(&join).await,
        workers_p[0].log()
    );
    // DM-worker's log lines are pingcap/log's, like the master's: a
    // collector that parses DM's logs parses ours, with no colour codes.
    let log = workers_p[0].log();
    let dm_line = |line: &str| {
        let level = line.split("] [").nth(1).unwrap_or("");
        line.starts_with("[20") && ["DEBUG", "INFO", "WARN", "ERROR"].contains(&level)
    };
    assert!(
        log.lines().any(|l| l.contains("[INFO] [")) && log.lines().all(dm_line),
        "the worker logs in DM's text format:\n{log}"
    );

    // A bad source YAML gets DM's error and writes nothing.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "source-id: s9\nfrom:\n  host: 127.0.0.1\n  port: not-a-port\n",
    )
    .unwrap();
    let (_, out) = dmctl_text(&join, &["operate-source", "create", bad.to_str().unwrap()]).await;
    assert!(
        out.contains("\"result\": false") || out.contains("Error:"),
        "{out}"
    );
    let client = etcd.client().await;
    let configs = client
        .get_prefix("/dm-master/v2/upstream/config/")
        .await
        .unwrap()
        .value;
    assert!(configs.is_empty(), "a refused source writes nothing");

    // Two sources are bound to two workers; the third stays free.
    let mut files = Vec::new();
    for (i, id) in ["s1", "s2"].iter().enumerate() {
        let path = dir.path().join(format!("{id}.yaml"));
        std::fs::write(&path, source_yaml(id, 101 + i as u32)).unwrap();
        files.push(path.to_str().unwrap().to_string());
    }
    let mut args = vec!["operate-source", "create"];
    args.extend(files.iter().map(String::as_str));
    let (ok, out) = dmctl_text(&join, &args).await;
    assert!(ok, "{out}");
    let created: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["result"], true, "{out}");
    let two_bound = wait_until(SETTLE, || async {
        let ws = workers(&join).await;
        ws.iter().filter(|(_, st, _)| st == "bound").count() == 2
            && ws.iter().filter(|(_, st, _)| st == "free").count() == 1
    })
    .await;
    assert!(two_bound, "{:?}", workers(&join).await);

    // A task through the master: the real workers pick up their subtasks
    // and report the stage the master asked for in query-status.
    let task = dir.path().join("task.yaml");
    std::fs::write(&task, TASK_YAML).unwrap();
    let (ok, out) = dmctl_text(&join, &["start-task", task.to_str().unwrap()]).await;
    assert!(ok, "{out}");
    let started: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(started["result"], true, "{out}");
    assert!(
        wait_stages(&join, "t1", &["Running", "Running"]).await,
        "{}",
        dmctl_text(&join, &["query-status", "t1"]).await.1
    );
    let (ok, out) = dmctl_text(&join, &["pause-task", "t1"]).await;
    assert!(ok, "{out}");
    assert!(
        wait_stages(&join, "t1", &["Paused", "Paused"]).await,
        "{}",
        dmctl_text(&join, &["query-status", "t1"]).await.1
    );
    let (ok, out) = dmctl_text(&join, &["resume-task", "t1"]).await;
    assert!(ok, "{out}");
    assert!(
        wait_stages(&join, "t1", &["Running", "Running"]).await,
        "{}",
        dmctl_text(&join, &["query-status", "t1"]).await.1
    );

    let owner_of_s1 = bound_worker(&join, "s1").await.unwrap();
    let owner_of_s2 = bound_worker(&join, "s2").await.unwrap();
    let free = other(owner_of_s1.as_str(), &owner_of_s2);

    // kill -9 of a bound worker: once its lease expires, its source moves to
    // the free worker.
    let killed_at = Instant::now();
    process(&mut workers_p, &owner_of_s1).kill();
    let moved = wait_until(SETTLE, || async {
        bound_worker(&join, "s1").await.as_deref() == Some(free.as_str())
    })
    .await;
    let took = killed_at.elapsed();
    assert!(moved, "s1 moves to {free}: {:?}", workers(&join).await);
    eprintln!(
        "s1 moved from a killed worker to the free one in {took:?} (keep-alive TTL {KEEPALIVE_TTL_SECS} s)"
    );
    expect_workers(
        &join,
        &[
            (owner_of_s1.as_str(), "offline", ""),
            (free.as_str(), "bound", "s1"),
            (owner_of_s2.as_str(), "bound", "s2"),
        ],
        "s1 is bound to the free worker, its old owner offline",
    )
    .await;

    // Now s1's new owner dies too, with no free worker left: s1 is unbound.
    // The first worker restarts and gets its last-bound source back.
    process(&mut workers_p, &free).kill();
    assert!(
        wait_until(SETTLE, || async {
            bound_worker(&join, "s1").await.is_none()
        })
        .await,
        "{:?}",
        workers(&join).await
    );
    process(&mut workers_p, &owner_of_s1).spawn();
    expect_workers(
        &join,
        &[
            (owner_of_s1.as_str(), "bound", "s1"),
            (free.as_str(), "offline", ""),
            (owner_of_s2.as_str(), "bound", "s2"),
        ],
        "the restarted worker gets its last-bound source back",
    )
    .await;
    process(&mut workers_p, &free).spawn();
    expect_workers(
        &join,
        &[
            (owner_of_s1.as_str(), "bound", "s1"),
            (free.as_str(), "free", ""),
            (owner_of_s2.as_str(), "bound", "s2"),
        ],
        "the other restarted worker is free",
    )
    .await;

    // Killing the leader master keeps every bound.
    let before = bounds(&client).await;
    let leader = leader_of(&[&masters[0], &masters[1]]).await.unwrap();
    masters[leader].kill();
    let survivor = 1 - leader;
    let new_leader = wait_until(SETTLE, || async {
        masters[survivor].role().await == "leader"
    })
    .await;
    assert!(new_leader, "{}", masters[survivor].log());
    let survivor_addr = masters[survivor].addr.clone();
    assert!(
        wait_until(SETTLE, || async {
            workers(&survivor_addr)
                .await
                .iter()
                .filter(|(_, st, _)| st == "bound")
                .count()
                == 2
        })
        .await,
        "{:?}",
        workers(&survivor_addr).await
    );
    assert_eq!(
        bounds(&client).await,
        before,
        "a new leader keeps every bound (same keys, same create revisions)"
    );

    // offline-member: refused for an online worker, works for an offline one.
    let (ok, out) = dmctl_text(
        &survivor_addr,
        &["offline-member", "--worker", "--name", &free],
    )
    .await;
    assert!(!ok, "an online worker cannot be offlined: {out}");
    assert!(out.contains("is still online"), "{out}");
    process(&mut workers_p, &free).kill();
    assert!(
        wait_until(SETTLE, || async {
            workers(&survivor_addr)
                .await
                .iter()
                .any(|(n, st, _)| n == &free && st == "offline")
        })
        .await,
        "{:?}",
        workers(&survivor_addr).await
    );
    let (ok, out) = dmctl_text(
        &survivor_addr,
        &["offline-member", "--worker", "--name", &free],
    )
    .await;
    assert!(ok, "{out}");
    assert!(
        wait_until(SETTLE, || async {
            !workers(&survivor_addr)
                .await
                .iter()
                .any(|(n, _, _)| n == &free)
        })
        .await
    );
}

fn process<'a>(workers: &'a mut [WorkerProcess], name: &str) -> &'a mut WorkerProcess {
    workers.iter_mut().find(|w| w.name == name).unwrap()
}

/// The third worker's name, given the other two of w1..w3.
fn other(a: &str, b: &str) -> String {
    ["w1", "w2", "w3"]
        .into_iter()
        .find(|n| *n != a && *n != b)
        .unwrap()
        .to_string()
}

/// Every bound key with its create revision.
async fn bounds(client: &dm_master::etcd::Etcd) -> Vec<(String, i64)> {
    client
        .get_prefix("/dm-master/bound-worker/")
        .await
        .unwrap()
        .value
        .into_iter()
        .map(|kv| {
            (
                String::from_utf8_lossy(&kv.key).into_owned(),
                kv.create_revision,
            )
        })
        .collect()
}
