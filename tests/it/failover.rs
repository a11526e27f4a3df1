//! Several `dm-master` processes on one etcd: one leads, followers forward,
//! the leader is killed, terminated or paused, and locks still resolve with
//! every DDL executed once and no write of a deposed leader landing.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dm_master::etcd::Etcd;
use dm_master::keys::KeySpace;
use dm_master::pessimism::ops;
use dm_master::proto::master_client::MasterClient;
use dm_worker::shardddl::pessimist::PessimistClient;
use tokio_util::sync::CancellationToken;

use crate::grpc::{http_get, show_locks, unlock, wait_for_lock_count};
use crate::history::History;
use crate::pessimism::register_task;
use crate::support::{answered, free_port, put_ddl, wait_until, EtcdServer};

const MASTER: &str = env!("CARGO_BIN_EXE_dm-master");
const TTL_SECS: u64 = 2;
const DDL: &str = "ALTER TABLE `db`.`tb` ADD COLUMN c2 INT";

struct MasterProcess {
    child: Child,
    addr: String,
    dir: tempfile::TempDir,
}

impl MasterProcess {
    fn start(name: &str, endpoint: &str) -> MasterProcess {
        let dir = tempfile::tempdir().unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new(MASTER)
            .args([
                "--name",
                name,
                "--master-addr",
                &addr,
                "--etcd-endpoints",
                endpoint,
            ])
            .args(["--election-ttl", &TTL_SECS.to_string()])
            .arg("--data-dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .arg("--log-file")
            .arg(dir.path().join("master.log"))
            .stderr(std::fs::File::create(dir.path().join("master.stderr")).unwrap())
            .spawn()
            .unwrap();
        MasterProcess { child, addr, dir }
    }

    async fn role(&self) -> String {
        let status = http_get(self.addr.parse().unwrap(), "/role").await;
        ["leader", "follower", "starting", "unknown"]
            .into_iter()
            .find(|r| status.contains(&format!("\"role\":\"{r}\"")))
            .unwrap_or("down")
            .to_string()
    }

    fn signal(&self, sig: &str) {
        Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("master.log")).unwrap_or_default()
    }

    async fn client(&self) -> MasterClient<tonic::transport::Channel> {
        MasterClient::connect(format!("http://{}", self.addr))
            .await
            .unwrap()
    }
}

impl Drop for MasterProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts two masters and returns (leader, follower) once the roles settle.
async fn two_masters(endpoint: &str) -> (MasterProcess, MasterProcess) {
    let a = MasterProcess::start("master-a", endpoint);
    let b = MasterProcess::start("master-b", endpoint);
    let settled = wait_until(Duration::from_secs(20), || async {
        let roles = [a.role().await, b.role().await];
        roles.contains(&"leader".to_string()) && roles.contains(&"follower".to_string())
    })
    .await;
    assert!(settled, "one master leads and the other follows");
    if a.role().await == "leader" {
        (a, b)
    } else {
        (b, a)
    }
}

/// Task `t` of sources s1 and s2 on a fresh etcd whose shard-DDL keys
/// `history` records from the start, two masters settled on it, and s1's
/// Info of [`DDL`] put at revision `r1`: a lock waiting for s2.
struct LockUnderTwoMasters {
    /// Kept for the test's duration: dropping it stops etcd.
    _server: EtcdServer,
    etcd: Etcd,
    history: History,
    leader: MasterProcess,
    follower: MasterProcess,
    cancel: CancellationToken,
    c1: PessimistClient,
    c2: PessimistClient,
    r1: i64,
}

impl LockUnderTwoMasters {
    async fn start() -> Self {
        let server = EtcdServer::start();
        let etcd = server.client().await;
        let space = KeySpace::default();
        let history = History::record(&etcd, &space).await;
        register_task(&etcd, &space, "t", &["s1", "s2"]).await;
        let (leader, follower) = two_masters(&server.endpoint).await;
        let cancel = CancellationToken::new();
        let c1 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s1");
        let c2 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s2");
        let r1 = put_ddl(&c1, DDL, &cancel).await;
        Self {
            _server: server,
            etcd,
            history,
            leader,
            follower,
            cancel,
            c1,
            c2,
            r1,
        }
    }
}

/// s2 has put its Info at `r2` into the lock of s1's Info at `r1`: the
/// owner s1 executes, s2 skips, both report done, and every key of the
/// lock goes; each wait lasts at most `within`.
async fn resolve_lock(
    etcd: &Etcd,
    (c1, r1): (&PessimistClient, i64),
    (c2, r2): (&PessimistClient, i64),
    cancel: &CancellationToken,
    within: Duration,
) {
    let op1 = answered(c1, r1, cancel, within).await;
    assert!(op1.exec);
    c1.done(&op1).await.unwrap();
    let op2 = answered(c2, r2, cancel, within).await;
    assert!(!op2.exec, "the DDL is executed once, by the owner only");
    c2.done(&op2).await.unwrap();
    assert!(wait_until(within, || async { lock_keys(etcd).await == 0 }).await);
}

impl LockUnderTwoMasters {
    /// s2 puts its Info and the lock resolves ([`resolve_lock`]).
    async fn resolve(&self) {
        let r2 = put_ddl(&self.c2, DDL, &self.cancel).await;
        resolve_lock(
            &self.etcd,
            (&self.c1, self.r1),
            (&self.c2, r2),
            &self.cancel,
            Duration::from_secs(15),
        )
        .await;
    }
}

async fn lock_keys(etcd: &Etcd) -> usize {
    etcd.get_prefix(&ops::pessimism_prefix(&KeySpace::default()))
        .await
        .unwrap()
        .value
        .len()
}

#[tokio::test]
async fn kill_9_of_the_leader_mid_lock_and_the_follower_finishes_it() {
    let locked = LockUnderTwoMasters::start().await;
    let (leader, follower) = (&locked.leader, &locked.follower);

    // The follower answers ShowDDLLocks with the leader's locks.
    let mut via_follower = follower.client().await;
    let seen = wait_for_lock_count(&via_follower, 1).await;
    assert!(seen, "a follower forwards ShowDDLLocks to the leader");
    let lock = show_locks(&mut via_follower).await.locks.remove(0);
    assert_eq!(
        (lock.owner.as_str(), lock.unsynced.clone()),
        ("s1", vec!["s2".to_string()])
    );

    // Mid-lock: the leader dies without a word.
    let killed_at = Instant::now();
    leader.signal("-9");
    let took_over = wait_until(Duration::from_secs(TTL_SECS + 5), || async {
        follower.role().await == "leader"
    })
    .await;
    let takeover = killed_at.elapsed();
    assert!(took_over);
    assert!(
        takeover <= Duration::from_secs(TTL_SECS + 1),
        "takeover took {takeover:?}, more than TTL + 1 s"
    );

    // The lock resolves under the new leader; each source acts once.
    locked.resolve().await;
    locked.history.check_done_is_final().await;
    eprintln!("takeover after kill -9: {takeover:?}");
}

#[tokio::test]
async fn sigterm_hands_leadership_over_within_a_second() {
    let server = EtcdServer::start();
    let (leader, follower) = two_masters(&server.endpoint).await;
    let stopped_at = Instant::now();
    leader.signal("-TERM");
    let took_over = wait_until(Duration::from_secs(5), || async {
        follower.role().await == "leader"
    })
    .await;
    let handover = stopped_at.elapsed();
    assert!(took_over);
    assert!(
        handover <= Duration::from_secs(1),
        "handover took {handover:?}"
    );
    eprintln!("handover after SIGTERM: {handover:?}");
}

#[tokio::test]
async fn unlock_through_a_follower_gives_the_leaders_answer() {
    let lock = LockUnderTwoMasters::start().await;
    let mut client = lock.follower.client().await;
    let missing = unlock(&mut client, "t-`no`.`lock`", |_| {}).await;
    assert!(!missing.result);
    assert!(missing.msg.contains("code=38019"), "{}", missing.msg);
    assert!(wait_for_lock_count(&client, 1).await);
    let forced = unlock(&mut client, "t-`db`.`tb`", |r| r.force_remove = true).await;
    assert!(forced.result, "{}", forced.msg);
    let after = show_locks(&mut client).await;
    assert_eq!(after.msg, "no DDL lock exists");
}

#[tokio::test]
async fn a_paused_leader_cannot_write_after_losing_its_lease() {
    let lock = LockUnderTwoMasters::start().await;
    let (etcd, history, old, new) = (&lock.etcd, &lock.history, &lock.leader, &lock.follower);
    let mut via_new = new.client().await;
    assert!(wait_for_lock_count(&via_new, 1).await);

    // Freeze the leader past its lease; the other master takes over.
    old.signal("-STOP");
    assert!(
        wait_until(Duration::from_secs(TTL_SECS + 5), || async {
            new.role().await == "leader"
        })
        .await
    );
    // Under the new leader the whole lock runs to completion: every key of
    // it is deleted.
    lock.resolve().await;
    let revision_before_resume = etcd.get("/").await.unwrap().revision;

    // Resume the deposed leader: it still believes in its term and has the
    // s2 Info and the done Operations to catch up on. Had any of its writes
    // landed, the history would show a shard DDL key written after the
    // resume.
    old.signal("-CONT");
    assert!(
        wait_until(Duration::from_secs(15), || async {
            old.log().contains("leader term over, coordinators stopped")
        })
        .await,
        "the old leader ends its term"
    );
    // And the old leader is a follower again, answering through the leader.
    assert!(
        wait_until(Duration::from_secs(10), || async {
            old.role().await == "follower"
        })
        .await
    );
    history.check_done_is_final().await;
    assert_eq!(
        history.shard_ddl_writes_after(revision_before_resume),
        0,
        "no write of the old leader landed"
    );
    assert_eq!(lock_keys(etcd).await, 0);
    let shown = show_locks(&mut via_new).await;
    assert_eq!(shown.msg, "no DDL lock exists");
    // Both coordinators of the old term stopped before the election loop
    // reported the loss (it waits for the term's work before it does).
    let log = old.log();
    let at = |line: &str| {
        log.find(line)
            .unwrap_or_else(|| panic!("the old leader logs {line:?}:\n{log}"))
    };
    let reported = ["session lost, term ends", "leader key deleted, term ends"]
        .into_iter()
        .filter_map(|line| log.find(line))
        .min()
        .unwrap_or_else(|| panic!("the election loop reports the loss:\n{log}"));
    assert!(at("pessimist stopped") < reported, "{log}");
    assert!(at("optimist stopped") < reported, "{log}");
}

#[tokio::test]
async fn a_master_started_before_etcd_waits_and_then_leads() {
    // etcd is not there yet: the master must stay up, retrying.
    let etcd_port = free_port();
    let endpoint = format!("http://127.0.0.1:{etcd_port}");
    let master = MasterProcess::start("early", &endpoint);
    let serving = wait_until(Duration::from_secs(10), || async {
        master.role().await == "unknown"
    })
    .await;
    assert!(
        serving,
        "the master serves /status while etcd is unreachable"
    );
    // The behaviour under test is that nothing happens: the master keeps
    // serving through a while of retries without etcd.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(master.role().await, "unknown", "and does not crash");
    // Now etcd comes up on that port.
    let server = EtcdServer::start_on(etcd_port);
    let etcd = server.client().await;
    let leads = wait_until(Duration::from_secs(30), || async {
        master.role().await == "leader"
    })
    .await;
    assert!(leads, "the master leads once etcd is reachable");
    let space = KeySpace::default();
    register_task(&etcd, &space, "t", &["s1"]).await;
    let c1 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s1");
    let cancel = CancellationToken::new();
    let (op, _) = tokio::time::timeout(
        Duration::from_secs(15),
        c1.sync_ddl(&c1.info("db", "tb", vec![DDL.into()]), &cancel, |_, _| {
            std::future::ready(Ok(()))
        }),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(op.exec);
    let log = master.log();
    assert!(
        log.contains("retrying") || log.contains("retry"),
        "retries are logged"
    );
}

#[tokio::test]
async fn etcd_restarted_under_a_running_master_and_coordination_goes_on() {
    let mut server = EtcdServer::start();
    let etcd = server.client().await;
    let space = KeySpace::default();
    register_task(&etcd, &space, "t", &["s1", "s2"]).await;
    let master = MasterProcess::start("steady", &server.endpoint);
    assert!(
        wait_until(Duration::from_secs(20), || async {
            master.role().await == "leader"
        })
        .await
    );
    let cancel = CancellationToken::new();
    let c1 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s1");
    let c2 = PessimistClient::new(etcd.clone(), space.clone(), "t", "s2");
    let r1 = put_ddl(&c1, DDL, &cancel).await;
    server.restart();
    let r2 = loop {
        match c2
            .put_info(&c2.info("db", "tb", vec![DDL.into()]), &cancel)
            .await
        {
            Ok(r) => break r,
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    resolve_lock(
        &etcd,
        (&c1, r1),
        (&c2, r2),
        &cancel,
        Duration::from_secs(30),
    )
    .await;
}
