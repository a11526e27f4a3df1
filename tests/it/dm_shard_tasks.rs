//! Sharded tasks end to end through a small DM cluster of real processes:
//! two `dm-master`s, two joined `dm-worker`s playing their subtasks'
//! upstream statements from scenario files, a real MariaDB downstream, and
//! `dmctl` as the operator.
//!
//! The second source's scenario idles (a long `pause-ms` step) before its
//! shard DDL, so a lock is pending with the first source synced; pausing
//! that subtask ends the idle step, and resuming it lets the DDL through.
//! Nothing here waits on time: every step waits on a condition.

use std::path::{Path, PathBuf};

use dm_master::keys::{
    KeySpace, OPTIMISM_INFO, OPTIMISM_OPERATION, OPTIMISM_SOURCE_TABLES, PESSIMISM_INFO,
    PESSIMISM_OPERATION,
};
use serde_json::Value;

use crate::cluster::MasterProcess;
use crate::dm_cluster::{
    leader_of, query_status, start_two_masters, WorkerProcess, KEEPALIVE_TTL_SECS, SETTLE,
};
use crate::dmctl::dmctl_text;
use crate::mariadb::{unique_database, MariaDb};
use crate::support::{wait_until, EtcdServer};

const SOURCES: [&str; 2] = ["s1", "s2"];

/// Two masters on one etcd, two workers whose configs name the scenario
/// file of every task, and both sources created and bound.
struct Cluster {
    etcd: EtcdServer,
    masters: Vec<MasterProcess>,
    workers: Vec<WorkerProcess>,
    /// Both masters' addresses, as dmctl's `--master-addr`.
    join: String,
    dir: tempfile::TempDir,
}

impl Cluster {
    async fn start(tasks: &[&str]) -> Cluster {
        let etcd = EtcdServer::start();
        let dir = tempfile::tempdir().unwrap();
        let (masters, join) = start_two_masters(&etcd, dir.path()).await;

        let mut config = format!("keepalive-ttl = {KEEPALIVE_TTL_SECS}\n\n[scenario]\n");
        for task in tasks {
            config.push_str(&format!("{task} = \"{task}.toml\"\n"));
        }
        let workers: Vec<WorkerProcess> = ["w1", "w2"]
            .iter()
            .map(|name| {
                let path = dir.path().join(format!("{name}.toml"));
                std::fs::write(&path, &config).unwrap();
                WorkerProcess::start_with_config(name, &join, dir.path(), Some(path))
            })
            .collect();
        let cluster = Cluster {
            etcd,
            masters,
            workers,
            join,
            dir,
        };
        let db = MariaDb::shared();
        let mut args = vec!["operate-source".to_string(), "create".to_string()];
        for (i, id) in SOURCES.iter().enumerate() {
            let path = cluster.dir.path().join(format!("{id}.yaml"));
            // flavor and server-id given: the master does not probe it.
            std::fs::write(
                &path,
                format!(
                    "source-id: {id}\nflavor: mysql\nserver-id: {}\nenable-gtid: false\nfrom:\n  host: 127.0.0.1\n  user: root\n  password: \"\"\n  port: {}\n",
                    101 + i,
                    db.port
                ),
            )
            .unwrap();
            args.push(path.to_str().unwrap().to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // A follower that has not learned the leader yet refuses with 38043
        // and writes nothing: ask again until the cluster has settled.
        let last = std::sync::Mutex::new(String::new());
        let created = wait_until(SETTLE, || async {
            let (ok, out) = dmctl_text(&cluster.join, &args).await;
            *last.lock().unwrap() = out;
            ok
        })
        .await;
        assert!(created, "{}", last.lock().unwrap());
        let bound = wait_until(SETTLE, || async {
            crate::dm_cluster::workers(&cluster.join)
                .await
                .iter()
                .filter(|(_, stage, _)| stage == "bound")
                .count()
                == 2
        })
        .await;
        assert!(bound, "both sources bound: {}", cluster.logs());
        cluster
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// Asserts that `cond` comes to hold within [`SETTLE`], showing the
    /// processes' logs if it does not.
    async fn settles<F, Fut>(&self, cond: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        assert!(wait_until(SETTLE, cond).await, "{}", self.logs());
    }

    /// `stop-task <task>` through `addrs`: it succeeds and no shard-DDL
    /// key of the task is left.
    async fn stop_task_leaving_no_keys(&self, addrs: &str, task: &str) {
        let stopped = self.dmctl(addrs, &["stop-task", task]).await;
        assert_eq!(stopped["result"], true, "{stopped}");
        let clean = wait_until(SETTLE, || async {
            self.shard_ddl_keys(task).await.is_empty()
        })
        .await;
        assert!(
            clean,
            "stop-task leaves no shard-DDL key: {:?}",
            self.shard_ddl_keys(task).await
        );
    }

    /// Pauses `task`'s subtask on s2 and resumes it, so that its worker
    /// runs its scenario again.
    async fn pause_and_resume_s2(&self, task: &str) {
        self.pause_and_resume(task, "s2").await;
    }

    /// Pauses and resumes `source`'s subtask of `task`: a scenario idling
    /// in a `pause-ms` step goes on with its next step.
    async fn pause_and_resume(&self, task: &str, source: &str) {
        self.dmctl(&self.join, &["pause-task", "-s", source, task])
            .await;
        assert!(wait_subtask(&self.join, task, source, |st| st["stage"] == "Paused").await);
        self.dmctl(&self.join, &["resume-task", "-s", source, task])
            .await;
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for m in &self.masters {
            out.push_str(&format!("--- master {}\n{}\n", m.addr, tail(&m.log())));
        }
        for w in &self.workers {
            out.push_str(&format!("--- worker {}\n{}\n", w.name, tail(&w.log())));
        }
        out
    }

    /// Writes the task YAML and starts it; returns the response JSON.
    async fn start_task(&self, task: &str, yaml: &str) -> Value {
        let file = self.path(&format!("{task}.yaml"));
        std::fs::write(&file, yaml).unwrap();
        let (ok, out) = dmctl_text(&self.join, &["start-task", file.to_str().unwrap()]).await;
        assert!(ok, "{out}");
        serde_json::from_str(&out).unwrap()
    }

    /// Starts `task` in shard `mode` (plus `extra` task YAML) into a fresh
    /// downstream database, its sources running `s1_alters` and
    /// `s2_alters` ([`write_scenario`]); returns the database and
    /// dmctl's answer.
    async fn start_scenario(
        &self,
        task: &str,
        mode: &str,
        extra: &str,
        s1_alters: &[&str],
        s2_alters: &[&str],
    ) -> (String, Value) {
        let target = unique_database(task);
        // An optimistic lock knows the tables of the sources that have
        // announced theirs: were s1's DDLs in before s2's subtask started,
        // the lock would resolve with s1's tables alone. So s1 waits after
        // its CREATEs until both sources' tables are known
        // (`await-tables-of`), then goes on.
        let s1_waits_for_s2 = mode == "optimistic";
        write_scenario(self.dir.path(), task, s1_alters, s2_alters, s1_waits_for_s2);
        let started = self
            .start_task(task, &task_yaml(task, mode, &target, extra))
            .await;
        if s1_waits_for_s2 {
            self.settles(|| async {
                self.both_sources_announced(task).await
                    && self.workers.iter().any(|w| w.log().contains(S1_WAITS))
            })
            .await;
        }
        (target, started)
    }

    /// Whether both sources put their SourceTables of `task`.
    async fn both_sources_announced(&self, task: &str) -> bool {
        let space = KeySpace::default();
        let client = self.etcd.client().await;
        for source in SOURCES {
            let key = space.key(&OPTIMISM_SOURCE_TABLES, [task, source]);
            if client.get(key).await.unwrap().value.is_none() {
                return false;
            }
        }
        true
    }

    async fn dmctl(&self, addrs: &str, args: &[&str]) -> Value {
        let (ok, out) = dmctl_text(addrs, args).await;
        assert!(ok, "dmctl {args:?}: {out}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("dmctl {args:?}: {e}: {out}"))
    }

    /// Every etcd key of `task` under the shard-DDL prefixes of both modes.
    async fn shard_ddl_keys(&self, task: &str) -> Vec<String> {
        self.shard_ddl_keys_of(&[task]).await
    }

    /// The keys of `[task]` or `[task, source]` under the shard-DDL
    /// prefixes of both modes.
    async fn shard_ddl_keys_of(&self, parts: &[&str]) -> Vec<String> {
        let space = KeySpace::default();
        let client = self.etcd.client().await;
        let mut keys = Vec::new();
        for prefix in [
            space.prefix(&PESSIMISM_INFO, parts),
            space.prefix(&PESSIMISM_OPERATION, parts),
            space.prefix(&OPTIMISM_INFO, parts),
            space.prefix(&OPTIMISM_OPERATION, parts),
            space.prefix(&OPTIMISM_SOURCE_TABLES, parts),
        ] {
            for kv in client.get_prefix(&prefix).await.unwrap().value {
                keys.push(String::from_utf8_lossy(&kv.key).into_owned());
            }
        }
        if let [task, source] = parts {
            // A SourceTables key ends with the source: not a prefix.
            let key = space.key(&OPTIMISM_SOURCE_TABLES, [*task, *source]);
            if client.get(key.clone()).await.unwrap().value.is_some() {
                keys.push(key);
            }
        }
        keys
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A task over both sources: upstream `up_<task>_<n>.t*` routed to
/// `<target>.tb` on the shared MariaDB.
fn task_yaml(task: &str, mode: &str, target: &str, extra: &str) -> String {
    let db = MariaDb::shared();
    format!(
        "name: {task}\ntask-mode: incremental\nshard-mode: {mode}\n{extra}target-database:\n  host: 127.0.0.1\n  port: {}\n  user: root\n  password: \"\"\nmysql-instances:\n  - source-id: s1\n    block-allow-list: ba\n    route-rules: [r1]\n  - source-id: s2\n    block-allow-list: ba\n    route-rules: [r1]\nblock-allow-list:\n  ba:\n    do-dbs: [\"up_{task}_*\"]\nroutes:\n  r1:\n    schema-pattern: \"up_{task}_*\"\n    table-pattern: \"t*\"\n    target-schema: {target}\n    target-table: tb\n",
        db.port
    )
}

/// The scenario file of a task: each source creates its upstream database
/// and two shard tables; s1 then (in an optimistic task, once both
/// sources' tables are announced) runs `s1_alters` on both tables; s2
/// idles until its subtask is paused, then runs `s2_alters`.
/// What a worker logs when s1's scenario reaches the wait for both
/// sources' tables that [`write_scenario`] gives it after its CREATEs.
const S1_WAITS: &str = "[s1] step 4: waiting for the tables of s1, s2";

fn write_scenario(
    dir: &Path,
    task: &str,
    s1_alters: &[&str],
    s2_alters: &[&str],
    s1_waits_for_s2: bool,
) {
    let mut text = format!("task = \"{task}\"\n");
    for (n, alters) in [(1, s1_alters), (2, s2_alters)] {
        let source = format!("s{n}");
        let schema = format!("up_{task}_{n}");
        let mut step = |sql: &str| {
            text.push_str(&format!(
                "\n[[step]]\nsource = \"{source}\"\nschema = \"{schema}\"\nsql = \"{sql}\"\n"
            ))
        };
        step(&format!("CREATE DATABASE {schema}"));
        for t in 1..=2 {
            step(&format!("CREATE TABLE t{t} (id INT PRIMARY KEY)"));
        }
        if n == 1 && s1_waits_for_s2 {
            // Go on once both sources' tables are announced.
            text.push_str(&format!(
                "\n[[step]]\nsource = \"{source}\"\nawait-tables-of = [\"s1\", \"s2\"]\n"
            ));
        }
        if n == 2 {
            // Idle upstream until the test pauses this subtask.
            text.push_str(&format!(
                "\n[[step]]\nsource = \"{source}\"\npause-ms = 600000\n"
            ));
        }
        for alter in alters {
            for t in 1..=2 {
                text.push_str(&format!(
                    "\n[[step]]\nsource = \"{source}\"\nschema = \"{schema}\"\nsql = \"ALTER TABLE t{t} {alter}\"\n"
                ));
            }
        }
    }
    std::fs::write(dir.join(format!("{task}.toml")), text).unwrap();
}

/// The lock `id` as `shard-ddl-lock` prints it, when it exists.
async fn lock(addrs: &str, task: &str, id: &str) -> Option<Value> {
    let (ok, out) = dmctl_text(addrs, &["shard-ddl-lock", task]).await;
    let shown: Value = serde_json::from_str(&out).ok()?;
    if !ok {
        return None;
    }
    shown["locks"]
        .as_array()?
        .iter()
        .find(|l| l["ID"] == id)
        .cloned()
}

async fn no_lock_of(addrs: &str, task: &str) -> bool {
    let (ok, out) = dmctl_text(addrs, &["shard-ddl-lock", task]).await;
    let Ok(shown) = serde_json::from_str::<Value>(&out) else {
        return false;
    };
    ok && shown["locks"].as_array().is_some_and(Vec::is_empty)
}

/// `(source, subtask)` of `query-status <task>`, for the sources that
/// answered.
async fn subtasks(addrs: &str, task: &str) -> Vec<(String, Value)> {
    query_status(addrs, task).await.1
}

/// The subtask of `source` in `query-status <task>`.
async fn subtask(addrs: &str, task: &str, source: &str) -> Option<Value> {
    subtasks(addrs, task)
        .await
        .into_iter()
        .find(|(s, _)| s == source)
        .map(|(_, st)| st)
}

async fn wait_subtask(
    addrs: &str,
    task: &str,
    source: &str,
    cond: impl Fn(&Value) -> bool,
) -> bool {
    wait_until(SETTLE, || async {
        subtask(addrs, task, source)
            .await
            .is_some_and(|st| cond(&st))
    })
    .await
}

/// `COLUMN_NAME`s of `db.tb` on the shared MariaDB, in order.
async fn columns(db: &str) -> Vec<String> {
    let mut executor = MariaDb::shared().executor();
    let cols = executor
        .columns(&dm_worker::tracker::TableName::new(db, "tb"))
        .await
        .map(|cols| cols.into_iter().map(|c| c.name).collect())
        .unwrap_or_default();
    executor.close().await;
    cols
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pessimistic_task_resolves_through_pause_resume_and_a_master_failover() {
    let mut cluster = Cluster::start(&["pess", "pess_stop"]).await;
    let (target, started) = cluster
        .start_scenario(
            "pess",
            "pessimistic",
            "",
            &["ADD COLUMN c INT"],
            &["ADD COLUMN c INT"],
        )
        .await;
    assert_eq!(started["result"], true, "{started}");

    // s1 reached the DDL on both its tables; s2 idles: the lock is pending.
    let lock_id = format!("pess-`{target}`.`tb`");
    let pending = wait_until(SETTLE, || async {
        lock(&cluster.join, "pess", &lock_id)
            .await
            .is_some_and(|l| {
                l["synced"] == serde_json::json!(["s1"])
                    && l["unsynced"] == serde_json::json!(["s2"])
            })
    })
    .await;
    assert!(pending, "the lock waits for s2: {}", cluster.logs());
    let s1_waits = wait_subtask(&cluster.join, "pess", "s1", |st| {
        st["stage"] == "Running" && st["unresolvedDDLLockID"] == lock_id.as_str()
    })
    .await;
    assert!(
        s1_waits,
        "query-status names the lock s1 waits on: {:?}",
        subtask(&cluster.join, "pess", "s1").await
    );
    assert!(columns(&target).await.iter().all(|c| c != "c"));

    // Pause s2 around the pending lock.
    let paused = cluster
        .dmctl(&cluster.join, &["pause-task", "-s", "s2", "pess"])
        .await;
    assert_eq!(paused["result"], true, "{paused}");
    assert!(
        wait_subtask(&cluster.join, "pess", "s2", |st| st["stage"] == "Paused").await,
        "{:?}",
        subtask(&cluster.join, "pess", "s2").await
    );
    assert_eq!(
        subtask(&cluster.join, "pess", "s1").await.unwrap()["stage"],
        "Running",
        "only s2 is paused"
    );
    // The workers' ports answer DM-worker's HTTP routes as well: each
    // subtask's stage as `dm_worker_task_state` (2 Running, 3 Paused).
    let mut scraped = String::new();
    for worker in &cluster.workers {
        scraped.push_str(&worker.http_get("/metrics").await);
    }
    let stage_of = |source: &str| {
        let series =
            format!("dm_worker_task_state{{source_id=\"{source}\",task=\"pess\",worker=\"w");
        scraped
            .lines()
            .find(|l| l.starts_with(&series))
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_owned)
    };
    assert_eq!(stage_of("s1").as_deref(), Some("2"), "{scraped}");
    assert_eq!(stage_of("s2").as_deref(), Some("3"), "{scraped}");
    assert!(scraped.contains("\ndm_worker_cpu_usage "), "{scraped}");
    assert!(
        scraped.contains("\nprocess_resident_memory_bytes "),
        "{scraped}"
    );
    let status = cluster.workers[0].http_get("/status").await;
    assert!(
        status.starts_with("HTTP/1.1 200") && status.contains("\r\n\r\nRelease Version: v"),
        "{status}"
    );
    let unknown = cluster.workers[0].http_get("/debug/pprof/").await;
    assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");

    // The leader master dies while the task runs and the lock is pending.
    let leader = leader_of(&[&cluster.masters[0], &cluster.masters[1]])
        .await
        .expect("a leader");
    cluster.masters[leader].kill();
    let survivor = cluster.masters[1 - leader].addr.clone();
    let new_leader = wait_until(SETTLE, || async {
        cluster.masters[1 - leader].role().await == "leader"
    })
    .await;
    assert!(new_leader, "{}", cluster.logs());
    assert!(
        wait_until(SETTLE, || async {
            lock(&survivor, "pess", &lock_id).await.is_some()
        })
        .await,
        "the new leader rebuilds the pending lock: {}",
        cluster.logs()
    );

    // Resume through the survivor: s2 reaches the DDL, the lock resolves
    // with exactly one execution downstream.
    let resumed = cluster
        .dmctl(&survivor, &["resume-task", "-s", "s2", "pess"])
        .await;
    assert_eq!(resumed["result"], true, "{resumed}");
    assert!(
        wait_until(SETTLE, || async { no_lock_of(&survivor, "pess").await }).await,
        "the lock resolves: {}",
        cluster.logs()
    );
    assert_eq!(columns(&target).await, ["id", "c"]);
    for source in SOURCES {
        let caught_up = wait_subtask(&survivor, "pess", source, |st| {
            st["stage"] == "Running"
                && st["unresolvedDDLLockID"] == ""
                && st["sync"]["synced"] == true
        })
        .await;
        assert!(
            caught_up,
            "{source}: {:?}",
            subtask(&survivor, "pess", source).await
        );
    }
    // The DDL was applied downstream once (a step replayed after a failed
    // etcd write finds it already applied).
    let applied: usize = cluster
        .workers
        .iter()
        .map(|w| {
            w.log()
                .lines()
                .filter(|l| {
                    l.contains("downstream: ALTER TABLE")
                        && l.contains("ADD COLUMN")
                        && l.contains("(Applied)")
                })
                .count()
        })
        .sum();
    assert_eq!(applied, 1, "one owner applied the DDL: {}", cluster.logs());

    // A stop-task while a lock is pending leaves no shard-DDL key of it.
    let (stop_target, _) = cluster
        .start_scenario(
            "pess_stop",
            "pessimistic",
            "",
            &["ADD COLUMN d INT"],
            &["ADD COLUMN d INT"],
        )
        .await;
    let stop_lock = format!("pess_stop-`{stop_target}`.`tb`");
    cluster
        .settles(|| async { lock(&survivor, "pess_stop", &stop_lock).await.is_some() })
        .await;
    cluster
        .stop_task_leaving_no_keys(&survivor, "pess_stop")
        .await;
    assert!(no_lock_of(&survivor, "pess_stop").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optimistic_tasks_resolve_and_strict_mode_stops_on_a_conflict() {
    let cluster = Cluster::start(&["opt", "strict"]).await;
    let (target, _) = cluster
        .start_scenario(
            "opt",
            "optimistic",
            "",
            &["ADD COLUMN c INT"],
            &["ADD COLUMN c INT"],
        )
        .await;
    let lock_id = format!("opt-`{target}`.`tb`");
    // s1's tables added the column at once (optimistic); the lock waits for
    // s2's tables.
    let pending = wait_until(SETTLE, || async {
        lock(&cluster.join, "opt", &lock_id)
            .await
            .is_some_and(|l| l["unsynced"].as_array().is_some_and(|u| !u.is_empty()))
    })
    .await;
    assert!(pending, "{}", cluster.logs());
    cluster
        .settles(|| async { columns(&target).await == ["id", "c"] })
        .await;
    cluster.pause_and_resume_s2("opt").await;
    cluster
        .settles(|| async { no_lock_of(&cluster.join, "opt").await })
        .await;
    assert_eq!(columns(&target).await, ["id", "c"]);
    let s2_done = wait_subtask(&cluster.join, "opt", "s2", |st| {
        st["stage"] == "Running" && st["sync"]["synced"] == true
    })
    .await;
    assert!(s2_done, "{:?}", subtask(&cluster.join, "opt", "s2").await);

    // Strict optimistic mode: s2's conflicting column type stops its subtask
    // with the conflict, without waiting.
    let (strict_target, _) = cluster
        .start_scenario(
            "strict",
            "optimistic",
            "strict-optimistic-shard-mode: true\n",
            &["ADD COLUMN c INT"],
            &["ADD COLUMN c VARCHAR(10)"],
        )
        .await;
    let strict_lock = format!("strict-`{strict_target}`.`tb`");
    cluster
        .settles(|| async { lock(&cluster.join, "strict", &strict_lock).await.is_some() })
        .await;
    cluster.pause_and_resume_s2("strict").await;
    let conflict = wait_subtask(&cluster.join, "strict", "s2", |st| {
        st["stage"] == "Paused"
            && st["result"]["errors"][0]["ErrCode"] == 36062
            && st["result"]["errors"][0]["Message"]
                .as_str()
                .is_some_and(|m| m.contains("because schema conflict detected"))
    })
    .await;
    assert!(
        conflict,
        "the conflict stops s2: {:?}\n{}",
        subtask(&cluster.join, "strict", "s2").await,
        cluster.logs()
    );
    assert_eq!(columns(&strict_target).await, ["id", "c"]);

    // stop-task -s s2 removes s2's metadata only: its tables leave the
    // lock, which then resolves with s1's tables.
    let stopped = cluster
        .dmctl(&cluster.join, &["stop-task", "-s", "s2", "strict"])
        .await;
    assert_eq!(stopped["result"], true, "{stopped}");
    let s2_gone = wait_until(SETTLE, || async {
        cluster
            .shard_ddl_keys_of(&["strict", "s2"])
            .await
            .is_empty()
            && no_lock_of(&cluster.join, "strict").await
    })
    .await;
    assert!(
        s2_gone,
        "{:?}\n{}",
        cluster.shard_ddl_keys_of(&["strict", "s2"]).await,
        cluster.logs()
    );
    assert!(
        !cluster
            .shard_ddl_keys_of(&["strict", "s1"])
            .await
            .is_empty(),
        "s1's SourceTables stay while its subtask runs"
    );

    // Stopping the rest of the task removes all its metadata.
    cluster
        .stop_task_leaving_no_keys(&cluster.join, "strict")
        .await;
}
