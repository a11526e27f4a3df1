//! Tasks through the master: `StartTask`, `OperateTask`, `GetSubTaskCfg`
//! and `QueryStatus` against a real etcd with two in-process masters.
//! Workers are simulated as DM's worker talks to the master (RegisterWorker
//! over gRPC, a leased keep-alive key); they serve no `pb.Worker`, so every
//! worker is unreachable for the master's calls.

use std::time::Duration;

use dm_master::etcd::{Etcd, Op, Txn};
use dm_master::keys::{KeySpace, STAGE_SUBTASK, UPSTREAM_SUBTASK, WORKER_KEEP_ALIVE};
use dm_master::pessimism::{ops, Info};
use dm_master::proto::master_client::MasterClient;
use dm_master::proto::{
    CheckTaskRequest, GetSubTaskCfgRequest, OperateSourceRequest, OperateTaskRequest,
    OperateTaskResponse, QueryStatusListRequest, SourceOp, StartTaskRequest, StartTaskResponse,
    TaskOp,
};
use dm_master::task_config::SubTaskConfig;
use expect_test::expect;
use tonic::transport::Channel;

use crate::dmctl::dmctl_async;
use crate::master::TestMaster;
use crate::scheduler::source_yaml;
use crate::support::{free_port, unique_space, wait_until, EtcdServer};

const WAIT: Duration = Duration::from_secs(30);

/// Registers a worker and puts its keep-alive key under a lease that lives
/// for the whole test (the TTL outlasts it).
async fn join_worker(
    master: &mut MasterClient<Channel>,
    etcd: &Etcd,
    space: &KeySpace,
    name: &str,
) {
    let resp =
        crate::scheduler::register_worker(master, name, &format!("127.0.0.1:{}", free_port()))
            .await;
    assert!(resp.result, "register {name}: {}", resp.msg);
    let lease = etcd.lease_grant(600).await.unwrap();
    let value =
        format!(r#"{{"worker-name":"{name}","join-time":"2024-05-01T10:00:00.123456789+08:00"}}"#);
    etcd.txn(Txn::new("keep-alive").then([Op::put_with_lease(
        space.key(&WORKER_KEEP_ALIVE, [name]),
        value,
        lease,
    )]))
    .await
    .unwrap();
}

/// Waits until every listed source is bound.
async fn wait_bound(master: &mut MasterClient<Channel>, count: usize) {
    let bound = wait_until(WAIT, || {
        let mut m = master.clone();
        async move {
            let workers = crate::scheduler::workers(&mut m).await;
            workers
                .values()
                .filter(|(stage, _)| stage == "bound")
                .count()
                == count
        }
    })
    .await;
    assert!(bound, "{count} workers bound");
}

fn task_yaml(name: &str, mode: &str, sources: &[&str]) -> String {
    let mut yaml = format!(
        "name: {name}\ntask-mode: all\nshard-mode: {mode}\ntarget-database:\n  host: 127.0.0.1\n  port: 4000\n  user: root\n  password: \"\"\nmysql-instances:\n"
    );
    for source in sources {
        yaml.push_str(&format!(
            "  - source-id: {source}\n    block-allow-list: ba\n    route-rules: [r1]\n"
        ));
    }
    yaml.push_str(
        "block-allow-list:\n  ba:\n    do-dbs: [shard_db]\nroutes:\n  r1:\n    schema-pattern: shard_db\n    table-pattern: t*\n    target-schema: db\n    target-table: tb\n",
    );
    yaml
}

async fn start(master: &mut MasterClient<Channel>, yaml: String) -> StartTaskResponse {
    master
        .start_task(StartTaskRequest {
            task: yaml,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

async fn operate(
    master: &mut MasterClient<Channel>,
    op: TaskOp,
    task: &str,
    sources: &[&str],
) -> OperateTaskResponse {
    master
        .operate_task(OperateTaskRequest {
            op: op as i32,
            name: task.into(),
            sources: sources.iter().map(|s| s.to_string()).collect(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// Every key under the subtask config and stage prefixes, as text.
async fn task_keys(etcd: &Etcd, space: &KeySpace) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for prefix in [space.path(&UPSTREAM_SUBTASK), space.path(&STAGE_SUBTASK)] {
        for kv in etcd.get_prefix(&prefix).await.unwrap().value {
            out.push((
                kv.key_str().into_owned(),
                String::from_utf8_lossy(&kv.value).into_owned(),
            ));
        }
    }
    out
}

async fn stage_of(etcd: &Etcd, space: &KeySpace, source: &str, task: &str) -> Option<String> {
    etcd.get(space.key(&STAGE_SUBTASK, [source, task]))
        .await
        .unwrap()
        .value
        .map(|kv| String::from_utf8(kv.value).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_start_pause_resume_and_stop_through_the_master() {
    let space = unique_space("tasks");
    let etcd = EtcdServer::shared().client().await;
    let (m1, m2) = TestMaster::leader_and_follower(&space, WAIT).await;
    let mut leader = m1.client().await;
    let mut follower = m2.client().await;
    join_worker(&mut leader, &etcd, &space, "w1").await;
    join_worker(&mut leader, &etcd, &space, "w2").await;
    let created = leader
        .operate_source(OperateSourceRequest {
            op: SourceOp::StartSource as i32,
            config: vec![source_yaml("s1"), source_yaml("s2")],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(created.result, "{}", created.msg);
    wait_bound(&mut leader, 2).await;

    // A bad task YAML and an unknown source write nothing.
    let bad = start(&mut follower, "name: t1\ntask-mode: sideways\n".into()).await;
    assert!(!bad.result);
    assert!(bad.msg.starts_with("[code=20"), "{}", bad.msg);
    assert!(bad.msg.contains("class=dm-master"), "{}", bad.msg);
    let unknown = start(&mut leader, task_yaml("t1", "pessimistic", &["s1", "s9"])).await;
    assert!(!unknown.result);
    assert!(
        unknown.msg.starts_with("[code=20031:class=dm-master:scope=internal:level=medium], Message: source s9 in deployment configuration not found"),
        "{}",
        unknown.msg
    );
    let not_in_task = leader
        .start_task(StartTaskRequest {
            task: task_yaml("t1", "pessimistic", &["s1", "s2"]),
            sources: vec!["s3".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!not_in_task.result);
    assert_eq!(not_in_task.sources.len(), 1);
    assert_eq!(
        not_in_task.sources[0].msg,
        "source not found in task's config"
    );
    assert_eq!(task_keys(&etcd, &space).await, Vec::new());

    // Start through the follower: DM's TOML and Running stage per source.
    let started = start(&mut follower, task_yaml("t1", "pessimistic", &["s1", "s2"])).await;
    assert!(started.result, "{}", started.msg);
    let sources: Vec<&str> = started.sources.iter().map(|s| s.source.as_str()).collect();
    assert_eq!(sources, ["s1", "s2"]);
    for entry in &started.sources {
        // The simulated workers never answer, so DM's wait gives up.
        assert!(!entry.result);
        assert!(entry.msg.contains("code=38045"), "{}", entry.msg);
    }
    for source in ["s1", "s2"] {
        let stored = etcd
            .get(space.key(&UPSTREAM_SUBTASK, [source, "t1"]))
            .await
            .unwrap()
            .value
            .expect("subtask config stored");
        let text = String::from_utf8(stored.value).unwrap();
        let cfg = SubTaskConfig::from_toml(&text).unwrap();
        assert_eq!(cfg.name, "t1");
        assert_eq!(cfg.source_id, source);
        assert_eq!(cfg.to_toml(), text, "stored bytes are the config's TOML");
        assert_eq!(
            stage_of(&etcd, &space, source, "t1").await.as_deref(),
            Some(format!(r#"{{"expect":2,"source":"{source}","task":"t1"}}"#).as_str())
        );
    }
    let cfgs = leader
        .get_sub_task_cfg(GetSubTaskCfgRequest { name: "t1".into() })
        .await
        .unwrap()
        .into_inner();
    assert!(cfgs.result);
    assert_eq!(cfgs.cfgs.len(), 2);
    let none = leader
        .get_sub_task_cfg(GetSubTaskCfgRequest {
            name: "nope".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!none.result);
    assert_eq!(none.msg, "task not found");

    // A duplicate is refused and changes nothing.
    let before = task_keys(&etcd, &space).await;
    let again = start(&mut leader, task_yaml("t1", "pessimistic", &["s1", "s2"])).await;
    assert!(!again.result);
    assert_eq!(
        again.msg,
        "[code=46014:class=scheduler:scope=internal:level=medium], Message: subtasks with name t1 for sources [s1 s2] already exist, Workaround: Please use `query-status` command to see tasks."
    );
    assert_eq!(task_keys(&etcd, &space).await, before);

    // Pause one source, then resume the whole task.
    let paused = operate(&mut follower, TaskOp::Pause, "t1", &["s1"]).await;
    assert!(paused.result, "{}", paused.msg);
    assert_eq!(paused.op, TaskOp::Pause as i32);
    assert_eq!(
        stage_of(&etcd, &space, "s1", "t1").await.as_deref(),
        Some(r#"{"expect":3,"source":"s1","task":"t1"}"#)
    );
    assert_eq!(
        stage_of(&etcd, &space, "s2", "t1").await.as_deref(),
        Some(r#"{"expect":2,"source":"s2","task":"t1"}"#)
    );
    let resumed = operate(&mut leader, TaskOp::Resume, "t1", &[]).await;
    assert!(resumed.result, "{}", resumed.msg);
    assert_eq!(
        stage_of(&etcd, &space, "s1", "t1").await.as_deref(),
        Some(r#"{"expect":2,"source":"s1","task":"t1"}"#)
    );
    let unknown_task = operate(&mut leader, TaskOp::Pause, "nope", &["s1"]).await;
    assert!(!unknown_task.result);
    assert!(
        unknown_task.msg.starts_with("[code=46016:"),
        "{}",
        unknown_task.msg
    );
    let no_source = operate(&mut leader, TaskOp::Pause, "nope", &[]).await;
    assert_eq!(
        no_source.msg,
        "task nope has no source or not exist, please check the task name and status"
    );
    let unknown_source = operate(&mut leader, TaskOp::Pause, "t1", &["s7"]).await;
    assert_eq!(
        unknown_source.msg,
        "[code=46017:class=dm-master:scope=internal:level=medium], Message: sources [s7] need to be operate not exist"
    );
    let stop_op = operate(&mut leader, TaskOp::Stop, "t1", &[]).await;
    assert_eq!(
        stop_op.msg,
        "[code=38041:class=dm-master:scope=internal:level=medium], Message: invalid op Stop on task"
    );

    // query-status: both workers unreachable, each reported in its entry.
    let status = leader
        .query_status(QueryStatusListRequest {
            name: "t1".into(),
            sources: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(status.result, "{}", status.msg);
    let reported: Vec<(String, bool)> = status
        .sources
        .iter()
        .map(|e| {
            let s = e.source_status.clone().unwrap_or_default();
            (s.source, e.result)
        })
        .collect();
    assert_eq!(
        reported,
        [("s1".to_string(), false), ("s2".to_string(), false)]
    );
    for entry in &status.sources {
        assert!(entry.msg.contains("code=38008"), "{}", entry.msg);
        assert!(!entry.source_status.as_ref().unwrap().worker.is_empty());
    }

    // CheckTask answers DM's checker error: no upstream connections here.
    let check = leader
        .check_task(CheckTaskRequest {
            task: task_yaml("t1", "pessimistic", &["s1"]),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!check.result);
    assert!(
        check.msg.starts_with("[code=26005:class=dm-master"),
        "{}",
        check.msg
    );

    // A pessimistic lock is pending when the task stops: no shard-DDL key of
    // the task is left.
    let info = Info {
        task: "t1".into(),
        source: "s1".into(),
        schema: "db".into(),
        table: "tb".into(),
        ddls: Some(vec!["ALTER TABLE `db`.`tb` ADD COLUMN `c` INT".into()]),
    };
    etcd.put(ops::info_key(&space, "t1", "s1"), info.encode())
        .await
        .unwrap();
    let lock_seen = wait_until(WAIT, || {
        let mut m = leader.clone();
        async move {
            let locks = crate::grpc::show_locks_of(&mut m, "t1", &[]).await;
            !locks.locks.is_empty()
        }
    })
    .await;
    assert!(lock_seen, "the pessimistic lock is pending");
    let stopped = operate(&mut follower, TaskOp::Delete, "t1", &[]).await;
    assert!(stopped.result, "{}", stopped.msg);
    assert_eq!(task_keys(&etcd, &space).await, Vec::new());
    let shard_keys_of_task = |etcd: Etcd, space: KeySpace| async move {
        let mut keys = Vec::new();
        for prefix in [space.pessimism_prefix(), space.optimism_prefix()] {
            for kv in etcd.get_prefix(&prefix).await.unwrap().value {
                let key = kv.key_str().into_owned();
                let value = String::from_utf8_lossy(&kv.value).into_owned();
                let task_part = hex("t1");
                if value.contains("\"t1\"")
                    || key.contains(&format!("/{task_part}/"))
                    || key.ends_with(&format!("/{task_part}"))
                {
                    keys.push(key);
                }
            }
        }
        keys
    };
    let cleaned = wait_until(WAIT, || {
        let (etcd, space) = (etcd.clone(), space.clone());
        async move { shard_keys_of_task(etcd, space).await.is_empty() }
    })
    .await;
    assert!(
        cleaned,
        "shard DDL keys of t1 left: {:?}",
        shard_keys_of_task(etcd.clone(), space.clone()).await
    );
    let gone = operate(&mut leader, TaskOp::Delete, "t1", &[]).await;
    assert!(!gone.result);

    // A leader failover keeps a running task's keys, and the new leader
    // operates it.
    let started = start(&mut leader, task_yaml("t2", "optimistic", &["s1", "s2"])).await;
    assert!(started.result, "{}", started.msg);
    let before = task_keys(&etcd, &space).await;
    assert_eq!(before.len(), 4);

    // dmctl speaks to the master over gRPC and prints DM's JSON.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t2.yaml");
    std::fs::write(&file, task_yaml("t2", "optimistic", &["s1", "s2"])).unwrap();
    let addr = m2.local_addr.to_string();
    let file_arg = file.to_str().unwrap().to_owned();
    let (ok, out, err) = dmctl_async(&addr, &["start-task", &file_arg]).await;
    assert!(ok, "{err}");
    expect![[r#"
        {
            "result": false,
            "msg": "[code=46014:class=scheduler:scope=internal:level=medium], Message: subtasks with name t2 for sources [s1 s2] already exist, Workaround: Please use `query-status` command to see tasks.",
            "sources": [],
            "checkResult": ""
        }
    "#]].assert_eq(&out);
    let (ok, out, err) = dmctl_async(&addr, &["get-config", "subtask", "t2"]).await;
    assert!(ok, "{err}");
    let printed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(printed["result"], true);
    assert_eq!(printed["cfgs"].as_array().unwrap().len(), 2);
    let (ok, out, err) = dmctl_async(&addr, &["query-status", &file_arg]).await;
    assert!(ok, "{err}");
    let printed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(printed["result"], true);
    assert_eq!(printed["sources"][0]["sourceStatus"]["source"], "s1");
    assert_eq!(printed["sources"][1]["sourceStatus"]["source"], "s2");

    m1.stop().await;
    m2.wait_leader(WAIT).await.expect("m2 leads");
    assert_eq!(task_keys(&etcd, &space).await, before);
    let mut new_leader = m2.client().await;
    let paused = operate(&mut new_leader, TaskOp::Pause, "t2", &[]).await;
    assert!(paused.result, "{}", paused.msg);
    assert_eq!(
        stage_of(&etcd, &space, "s2", "t2").await.as_deref(),
        Some(r#"{"expect":3,"source":"s2","task":"t2"}"#)
    );
    m2.stop().await;
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}
