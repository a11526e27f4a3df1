//! Leader election against a real etcd: one leader among candidates,
//! hand-over on resign, shutdown and lease loss, fencing of an ended term,
//! and recovery when etcd restarts or is down at start.
//!
//! Leases use etcd's floor TTL (2 s). Hand-over times are printed (run with
//! `--nocapture` to see them).

use std::time::{Duration, Instant};

use dm_master::election::{Election, ElectionHandle, LeaderValue, Leadership, Term};
use dm_master::error::Error;
use dm_master::etcd::{Etcd, Op, Txn};
use dm_master::keys::KeySpace;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::support::{unique_space, wait_until, EtcdServer};

const TTL: Duration = Duration::from_secs(2);
/// Generous bound for things that have no hand-over deadline of their own.
const SETTLE: Duration = Duration::from_secs(10);
const HANDOVER: Duration = Duration::from_secs(1);

/// One master's election, with what it takes to shut it down.
struct Member {
    handle: ElectionHandle,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Member {
    fn start(etcd: Etcd, space: &KeySpace, id: &str) -> Member {
        let tracker = TaskTracker::new();
        let cancel = CancellationToken::new();
        let handle = Election::spawn(
            etcd,
            space.clone(),
            id.to_string(),
            format!("{id}.local:8261"),
            TTL,
            &tracker,
            cancel.clone(),
        );
        Member {
            handle,
            cancel,
            tracker,
        }
    }

    fn state(&self) -> Leadership {
        self.handle.leadership().borrow().clone()
    }

    fn term(&self) -> Option<Term> {
        self.state().term().cloned()
    }

    fn follows(&self, leader: &Member) -> bool {
        matches!(self.state(), Leadership::Follower(v) if &v == leader.handle.own())
    }

    async fn stop(self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

/// Polls a synchronous condition.
async fn eventually(timeout: Duration, cond: impl Fn() -> bool) -> bool {
    wait_until(timeout, || {
        let held = cond();
        async move { held }
    })
    .await
}

/// Waits until exactly one of `a`, `b` leads and the other follows it;
/// returns (leader, follower).
async fn settled<'m>(a: &'m Member, b: &'m Member) -> (&'m Member, &'m Member) {
    let ok = eventually(SETTLE, || {
        (a.handle.is_leader() && b.follows(a)) || (b.handle.is_leader() && a.follows(b))
    })
    .await;
    assert!(
        ok,
        "no settled election: a={:?} b={:?}",
        a.state(),
        b.state()
    );
    if a.handle.is_leader() {
        (a, b)
    } else {
        (b, a)
    }
}

/// A put fenced by `term` (the way coordinators write).
/// Members `a` and `b` campaigning in a key space of their own on
/// `server`, with a client of it.
async fn two_members(server: &EtcdServer, name: &str) -> (Etcd, KeySpace, Member, Member) {
    let space = unique_space(name);
    let a = Member::start(server.client().await, &space, "a");
    let b = Member::start(server.client().await, &space, "b");
    (server.client().await, space, a, b)
}

/// `server` after [`EtcdServer::restart`], run off the async workers
/// since it blocks.
async fn restarted(mut server: EtcdServer) -> EtcdServer {
    tokio::task::spawn_blocking(move || {
        server.restart();
        server
    })
    .await
    .unwrap()
}

async fn fenced_put(etcd: &Etcd, space: &KeySpace, term: &Term) -> dm_master::Result<bool> {
    let key = format!("{}/probe", space.namespace());
    let txn = Txn::new("probe").then([Op::put(key, "v")]);
    Ok(etcd.txn_fenced(txn, Some(&term.fence)).await?.succeeded)
}

#[tokio::test]
async fn two_candidates_one_leads_the_other_follows() {
    let (etcd, space, a, b) = two_members(EtcdServer::shared(), "election-two").await;
    let (leader, follower) = settled(&a, &b).await;

    let term = leader.term().expect("the leader has a term");
    assert!(!term.cancel.is_cancelled());
    // The fence names the first-created candidate key, which holds the
    // leader's value, under the term's lease.
    let keys = etcd.get_prefix(&space.leader_prefix()).await.unwrap().value;
    assert_eq!(keys.len(), 2, "one candidate key per member");
    let first = keys.iter().min_by_key(|kv| kv.create_revision).unwrap();
    assert_eq!(first.key, term.fence.key);
    assert_eq!(first.create_revision, term.fence.create_revision);
    assert_eq!(first.lease, term.lease_id);
    assert_eq!(term.fence.key, space.leader_key(term.lease_id).into_bytes());
    assert_eq!(
        LeaderValue::decode(&first.value).unwrap(),
        *leader.handle.own()
    );
    assert_eq!(
        follower.handle.leader().await.as_ref(),
        Some(leader.handle.own())
    );
    assert_eq!(
        leader.handle.leader().await.as_ref(),
        Some(leader.handle.own())
    );
    assert!(fenced_put(&etcd, &space, &term).await.unwrap());

    a.stop().await;
    b.stop().await;
    assert!(
        etcd.get_prefix(&space.leader_prefix())
            .await
            .unwrap()
            .value
            .is_empty(),
        "stopped members leave no candidate key behind"
    );
}

#[tokio::test]
async fn resign_hands_over_at_once_and_ends_the_term() {
    let server = EtcdServer::shared();
    let space = unique_space("election-resign");
    let a = Member::start(server.client().await, &space, "a");
    assert!(eventually(SETTLE, || a.handle.is_leader()).await);
    let b = Member::start(server.client().await, &space, "b");
    assert!(eventually(SETTLE, || b.follows(&a)).await);
    let old = a.term().unwrap();

    let started = Instant::now();
    a.handle.resign().await;
    assert!(
        old.cancel.is_cancelled(),
        "the term ends before resign returns"
    );
    assert!(!a.handle.is_leader());
    assert!(eventually(HANDOVER, || b.handle.is_leader()).await);
    eprintln!("resign hand-over: {:?}", started.elapsed());
    let new = b.term().unwrap();
    assert_ne!(new.fence, old.fence);
    assert!(new.fence.create_revision > old.fence.create_revision);

    // The old leader queues again behind the new one.
    assert!(eventually(SETTLE, || a.follows(&b)).await);
    // Resigning when not leading (twice in a row) changes nothing.
    a.handle.resign().await;
    a.handle.resign().await;
    assert!(b.handle.is_leader());
    assert_eq!(b.term().unwrap().fence, new.fence);
    assert!(a.follows(&b));

    // The new leader resigns: leadership comes back, with yet another term.
    b.handle.resign().await;
    assert!(eventually(HANDOVER, || a.handle.is_leader()).await);
    assert!(new.cancel.is_cancelled());
    let third = a.term().unwrap();
    assert!(third.fence.create_revision > new.fence.create_revision);
    assert!(eventually(SETTLE, || b.follows(&a)).await);

    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_fenced_write_fails_once_the_term_has_ended() {
    let (etcd, space, a, b) = two_members(EtcdServer::shared(), "election-fence").await;
    let (leader, follower) = settled(&a, &b).await;
    let old = leader.term().unwrap();
    assert!(fenced_put(&etcd, &space, &old).await.unwrap());

    leader.handle.resign().await;
    assert!(eventually(HANDOVER, || follower.handle.is_leader()).await);
    match fenced_put(&etcd, &space, &old).await {
        Err(Error::LeadershipLost { key, term }) => {
            assert_eq!(key.as_bytes(), old.fence.key.as_slice());
            assert_eq!(term, old.fence.create_revision);
        }
        other => panic!("a write of the ended term must fail, got {other:?}"),
    }
    let new = follower.term().unwrap();
    assert!(fenced_put(&etcd, &space, &new).await.unwrap());

    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn shutdown_of_the_leader_hands_over_at_once() {
    let (etcd, _, a, b) = two_members(EtcdServer::shared(), "election-shutdown").await;
    let leader_is_a = settled(&a, &b).await.0.handle.own().id == "a";
    let (leader, follower) = if leader_is_a { (a, b) } else { (b, a) };
    let old = leader.term().unwrap();
    let old_key = String::from_utf8(old.fence.key.clone()).unwrap();

    let started = Instant::now();
    let stopping = leader.handle.clone();
    leader.stop().await;
    assert!(eventually(HANDOVER, || follower.handle.is_leader()).await);
    eprintln!("shutdown hand-over: {:?}", started.elapsed());
    assert!(old.cancel.is_cancelled());
    assert!(matches!(
        *stopping.leadership().borrow(),
        Leadership::Unknown
    ));
    // The key and the lease are gone (not left to expire).
    assert!(etcd.get(old_key).await.unwrap().value.is_none());
    // Resigning a stopped election is harmless.
    stopping.resign().await;
    assert_ne!(follower.term().unwrap().fence, old.fence);

    follower.stop().await;
}

#[tokio::test]
async fn a_revoked_leader_lease_hands_over_within_the_ttl() {
    let (etcd, space, a, b) = two_members(EtcdServer::shared(), "election-revoke").await;
    let (leader, follower) = settled(&a, &b).await;
    let old = leader.term().unwrap();

    // The lease vanishes under the leader (as when etcd expires it).
    let started = Instant::now();
    etcd.lease_revoke(old.lease_id).await.unwrap();
    assert!(eventually(TTL + HANDOVER, || follower.handle.is_leader()).await);
    eprintln!("lease-loss hand-over: {:?}", started.elapsed());
    assert!(eventually(HANDOVER, || old.cancel.is_cancelled()).await);
    // The old leader comes back as a follower, with a new session.
    assert!(eventually(SETTLE, || leader.follows(follower)).await);
    let keys = etcd.get_prefix(&space.leader_prefix()).await.unwrap().value;
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|kv| kv.lease != old.lease_id));

    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_crashed_leader_is_replaced_when_its_lease_expires() {
    let server = EtcdServer::shared();
    let space = unique_space("election-crash");
    let etcd = server.client().await;
    // A leader that crashed: its key is there, nobody keeps its lease alive.
    let started = Instant::now();
    let lease = etcd.lease_grant(TTL.as_secs() as i64).await.unwrap();
    let ghost = LeaderValue {
        id: "ghost".into(),
        addr: "ghost.local:8261".into(),
    };
    let campaign = Txn::new("ghost campaign").then([Op::put_with_lease(
        space.leader_key(lease),
        ghost.encode(),
        lease,
    )]);
    assert!(etcd.txn(campaign).await.unwrap().succeeded);

    let b = Member::start(server.client().await, &space, "b");
    assert!(
        eventually(
            SETTLE,
            || matches!(b.state(), Leadership::Follower(v) if v == ghost)
        )
        .await
    );
    assert!(eventually(TTL + HANDOVER, || b.handle.is_leader()).await);
    eprintln!(
        "crashed-leader hand-over: {:?} after its lease was granted",
        started.elapsed()
    );
    b.stop().await;
}

#[tokio::test]
async fn a_leader_exists_again_after_etcd_restarts() {
    let mut server = EtcdServer::start();
    let (_, space, a, b) = two_members(&server, "election-restart").await;
    let (leader, _) = settled(&a, &b).await;
    let before = leader.term().unwrap();

    server = restarted(server).await;

    // Settled again, and the leader's term really holds: its fenced write lands.
    let etcd = server.client().await;
    let current = || match (a.state(), b.state()) {
        (Leadership::Leader(t), _) if b.follows(&a) => Some(t),
        (_, Leadership::Leader(t)) if a.follows(&b) => Some(t),
        _ => None,
    };
    let ok = wait_until(Duration::from_secs(30), || async {
        match current() {
            Some(term) => matches!(fenced_put(&etcd, &space, &term).await, Ok(true)),
            None => false,
        }
    })
    .await;
    assert!(
        ok,
        "no leader after the restart: a={:?} b={:?}",
        a.state(),
        b.state()
    );
    let after = current().expect("still settled");
    eprintln!("after etcd restart: term {} -> {}", before.id(), after.id());
    if after.fence != before.fence {
        assert!(before.cancel.is_cancelled());
    }

    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn an_election_started_while_etcd_is_down_elects_once_it_is_up() {
    let mut server = EtcdServer::start();
    let space = unique_space("election-down");
    server.kill();
    let a = Member::start(server.client().await, &space, "a");
    assert!(matches!(a.state(), Leadership::Unknown));
    let server = restarted(server).await;
    assert!(eventually(Duration::from_secs(30), || a.handle.is_leader()).await);
    let etcd = server.client().await;
    assert!(fenced_put(&etcd, &space, &a.term().unwrap()).await.unwrap());
    a.stop().await;
}

#[tokio::test]
async fn a_leader_cut_off_from_etcd_steps_down_before_its_lease_expires() {
    let mut server = EtcdServer::start();
    let (_, space, a, b) = two_members(&server, "election-outage").await;
    let (leader, _) = settled(&a, &b).await;
    let old = leader.term().unwrap();

    // etcd goes away for longer than the TTL. The last keep-alive was sent
    // before the kill, so the lease cannot expire on the server before
    // `killed + TTL`: the term must be over before that.
    let killed = Instant::now();
    server.kill();
    assert!(eventually(TTL, || old.cancel.is_cancelled()).await);
    let stepped_down = killed.elapsed();
    eprintln!("leader stepped down {stepped_down:?} after etcd went away");
    assert!(stepped_down < TTL, "{stepped_down:?}");
    assert!(
        eventually(HANDOVER, || {
            matches!(a.state(), Leadership::Unknown) && matches!(b.state(), Leadership::Unknown)
        })
        .await
    );

    let server = restarted(server).await;
    let (leader, _) = settled(&a, &b).await;
    let new = leader.term().unwrap();
    assert_ne!(new.fence, old.fence);
    let etcd = server.client().await;
    assert!(fenced_put(&etcd, &space, &new).await.unwrap());
    // The sessions of before the outage were revoked, not left to expire.
    assert!(
        wait_until(SETTLE, || async {
            let keys = etcd.get_prefix(&space.leader_prefix()).await.unwrap().value;
            keys.len() == 2 && keys.iter().all(|kv| kv.lease != old.lease_id)
        })
        .await
    );

    a.stop().await;
    b.stop().await;
}
