//! Lock behaviour, table-driven through [`check`]. Mirrors DM's
//! `pessimism/lock_test.go` (`TestLock`) plus the deliberate differences.

use super::*;

const C1: &str = "ALTER TABLE bar ADD COLUMN c1 INT";
const C2: &str = "ALTER TABLE bar ADD COLUMN c2 INT";
const ID: &str = "test-`foo`.`bar`";

#[derive(Clone, Copy)]
enum Op {
    TrySync(
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
    ),
    Force,
    Revert(&'static [&'static str]),
    Done(&'static str),
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn change(c: &Option<StateChange>) -> String {
    let side = |s: Option<SyncState>| match s {
        None => "-",
        Some(SyncState::Unsynced) => "U",
        Some(SyncState::Synced) => "S",
    };
    match c {
        None => "none".to_owned(),
        Some(c) => format!("{}->{}", side(c.from), side(c.to)),
    }
}

/// `remain=N resolved=B src:rd ...` where `r`/`d` mark ready/done.
fn render(lock: &Lock) -> String {
    let mut out = format!("remain={} resolved={}", lock.remain(), lock.is_resolved());
    for (source, ready) in lock.ready() {
        let done = if lock.is_done(source) { 'd' } else { '-' };
        let ready = if ready { 'r' } else { '-' };
        out.push_str(&format!(" {source}:{ready}{done}"));
    }
    out
}

/// Builds a lock (owner `s1`, DDLs `ddls`) over `sources`, applies each
/// step and compares `result | state` after it.
fn check(ddls: &[&str], sources: &[&str], steps: &[(Op, &str)]) {
    let mut lock = Lock::new(ID, "test", "s1", strings(ddls), &strings(sources));
    for (i, (op, want)) in steps.iter().enumerate() {
        let result = match *op {
            Op::TrySync(caller, ddls, sources) => {
                match lock.try_sync(caller, &strings(ddls), &strings(sources)) {
                    Ok(s) => format!(
                        "synced={} remain={} {}",
                        s.synced,
                        s.remain,
                        change(&s.change)
                    ),
                    Err(e) => format!("err {} {e}", e.code()),
                }
            }
            Op::Force => change(&lock.force_synced()),
            Op::Revert(sources) => change(&lock.revert_synced(&strings(sources))),
            Op::Done(source) => format!("known={}", lock.mark_done(source)),
        };
        let got = format!("{result} | {}", render(&lock));
        assert_eq!(got, *want, "step {i}");
    }
}

#[test]
fn dm_test_lock_single_source() {
    check(
        &[C1, C2],
        &["s1"],
        &[
            (
                Op::TrySync("s1", &[C2], &["s1"]),
                "err 38016 sharding ddls in ddl lock [ALTER TABLE bar ADD COLUMN c1 INT ALTER TABLE bar ADD COLUMN c2 INT] is different with [ALTER TABLE bar ADD COLUMN c2 INT] | remain=1 resolved=false s1:--",
            ),
            (
                Op::TrySync("s1", &[C1, C2], &["s1"]),
                "synced=true remain=0 U->S | remain=0 resolved=false s1:r-",
            ),
            (Op::Done("s1"), "known=true | remain=0 resolved=true s1:rd"),
        ],
    );
}

#[test]
fn dm_test_lock_joining_sources() {
    check(
        &[C1, C2],
        &["s1", "s2"],
        &[
            (
                Op::TrySync("s1", &[C1, C2], &["s2", "s3"]),
                "synced=false remain=2 none | remain=2 resolved=false s1:r- s2:-- s3:--",
            ),
            (
                Op::TrySync("s2", &[C1, C2], &[]),
                "synced=false remain=1 none | remain=1 resolved=false s1:r- s2:r- s3:--",
            ),
            (
                Op::TrySync("s3", &[C1, C2], &[]),
                "synced=true remain=0 U->S | remain=0 resolved=false s1:r- s2:r- s3:r-",
            ),
            (
                Op::Done("s1"),
                "known=true | remain=0 resolved=false s1:rd s2:r- s3:r-",
            ),
            (
                Op::Done("s2"),
                "known=true | remain=0 resolved=false s1:rd s2:rd s3:r-",
            ),
            (
                Op::Done("s3"),
                "known=true | remain=0 resolved=true s1:rd s2:rd s3:rd",
            ),
            // Marking an unknown source never adds it.
            (
                Op::Done("not-exist-source"),
                "known=false | remain=0 resolved=true s1:rd s2:rd s3:rd",
            ),
        ],
    );
}

#[test]
fn dm_test_lock_force_and_revert() {
    check(
        &[C1],
        &["s1", "s2"],
        &[
            (Op::Force, "U->S | remain=0 resolved=false s1:r- s2:r-"),
            // Forcing a synced lock moves no metric.
            (Op::Force, "none | remain=0 resolved=false s1:r- s2:r-"),
            (
                Op::Revert(&["s2"]),
                "S->U | remain=1 resolved=false s1:r- s2:--",
            ),
            // Reverting a source that is not ready, or unknown, changes
            // nothing; DM would still report Synced -> Un-synced when synced.
            (
                Op::Revert(&["s2", "s9"]),
                "none | remain=1 resolved=false s1:r- s2:--",
            ),
            (Op::Force, "U->S | remain=0 resolved=false s1:r- s2:r-"),
            (
                Op::Revert(&["s9"]),
                "none | remain=0 resolved=false s1:r- s2:r-",
            ),
        ],
    );
}

#[test]
fn ddl_comparison_is_an_order_insensitive_multiset() {
    check(
        &["a", "b"],
        &["s1", "s2", "s3"],
        &[
            // DM gap P14 in docs/dm-gaps.md: DM's CompareShardingDDLs accepts [a a] against [a b].
            (
                Op::TrySync("s1", &["a", "a"], &["s1"]),
                "err 38016 sharding ddls in ddl lock [a b] is different with [a a] | remain=3 resolved=false s1:-- s2:-- s3:--",
            ),
            (
                Op::TrySync("s1", &["a"], &[]),
                "err 38016 sharding ddls in ddl lock [a b] is different with [a] | remain=3 resolved=false s1:-- s2:-- s3:--",
            ),
            (
                Op::TrySync("s2", &["b", "a"], &[]),
                "synced=false remain=2 none | remain=2 resolved=false s1:-- s2:r- s3:--",
            ),
            (
                Op::TrySync("s3", &["a", "b"], &[]),
                "synced=false remain=1 none | remain=1 resolved=false s1:-- s2:r- s3:r-",
            ),
        ],
    );
}

#[test]
fn mismatch_changes_nothing_and_strangers_do_not_count() {
    check(
        &[C1],
        &["s1", "s2"],
        &[
            // A mismatch does not even merge new sources (as DM).
            (
                Op::TrySync("s1", &[C2], &["s1", "s9"]),
                "err 38016 sharding ddls in ddl lock [ALTER TABLE bar ADD COLUMN c1 INT] is different with [ALTER TABLE bar ADD COLUMN c2 INT] | remain=2 resolved=false s1:-- s2:--",
            ),
            // A caller outside the lock is not counted.
            (
                Op::TrySync("x", &[C1], &[]),
                "synced=false remain=2 none | remain=2 resolved=false s1:-- s2:--",
            ),
            // Re-entrant: a second Info of the same source counts once.
            (
                Op::TrySync("s1", &[C1], &[]),
                "synced=false remain=1 none | remain=1 resolved=false s1:r- s2:--",
            ),
            (
                Op::TrySync("s1", &[C1], &[]),
                "synced=false remain=1 none | remain=1 resolved=false s1:r- s2:--",
            ),
            // Sources are never removed: omitting s2 does not drop it.
            (
                Op::TrySync("s1", &[C1], &["s1"]),
                "synced=false remain=1 none | remain=1 resolved=false s1:r- s2:--",
            ),
        ],
    );
}

#[test]
fn duplicate_and_empty_source_lists() {
    // Duplicates count once (DM's remain would stay too high).
    check(
        &[C1],
        &["s2", "s1", "s2"],
        &[
            (
                Op::TrySync("s1", &[C1], &["s3", "s3"]),
                "synced=false remain=2 none | remain=2 resolved=false s1:r- s2:-- s3:--",
            ),
            (
                Op::TrySync("s2", &[C1], &[]),
                "synced=false remain=1 none | remain=1 resolved=false s1:r- s2:r- s3:--",
            ),
        ],
    );
    // A lock without sources is synced and resolved from the start; the
    // keeper never creates one (DM gap P10).
    check(
        &[C1],
        &[],
        &[(
            Op::TrySync("s1", &[C1], &[]),
            "synced=true remain=0 none | remain=0 resolved=true",
        )],
    );
}

#[test]
fn thousand_sources_stay_compact() {
    let sources: Vec<String> = (0..1000).map(|i| format!("mysql-replica-{i:04}")).collect();
    let mut lock = Lock::new(
        ID,
        "test",
        "mysql-replica-0000",
        vec![C1.to_owned()],
        &sources,
    );
    // Joining in two halves exercises the growth path as well.
    let more: Vec<String> = (1000..2000)
        .map(|i| format!("mysql-replica-{i:04}"))
        .collect();
    let all: Vec<String> = sources.iter().chain(&more).cloned().collect();
    for source in &all {
        let status = lock.try_sync(source, &[C1.to_owned()], &all);
        assert!(status.is_ok());
    }
    for source in &all {
        lock.mark_done(source);
    }
    assert!(lock.is_synced() && lock.is_resolved());
    assert_eq!(lock.source_count(), 2000);
    let per_source = lock.approx_heap_bytes() / lock.source_count();
    // 24 bytes of entry (at most doubled by growth) plus an 18-byte name.
    assert!(per_source <= 128, "{per_source} bytes per source");
    assert_eq!(lock.synced_sources().len(), 2000);
    assert!(lock.synced_sources().windows(2).all(|w| w[0] < w[1]));
}
