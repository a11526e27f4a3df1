use std::collections::BTreeSet;

use super::*;
use crate::pessimism::keeper::{LockAction, LockKeeper};

const TASK: &str = "test";
const DDL: &str = "ALTER TABLE `db`.`tbl` ADD COLUMN `c2` INT";

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn lock_id() -> String {
    keys::lock_id(TASK, "db", "tbl")
}

/// A keeper where `ready` sources of a three-source task put their Info.
fn keeper_with(ready: &[&str]) -> LockKeeper {
    let mut keeper = LockKeeper::new();
    let sources = s(&["s1", "s2", "s3"]);
    for source in ready {
        keeper.on_info(&lock_id(), TASK, source, &s(&[DDL]), &sources);
    }
    keeper
}

fn request(source: &str) -> InjectRequest {
    InjectRequest {
        task: TASK.into(),
        source: source.into(),
        schema: "db".into(),
        table: "tbl".into(),
        ddls: s(&[DDL]),
    }
}

fn context<'a>(
    sources: &'a [String],
    current: Option<(&'a str, bool)>,
    injected: &'a BTreeSet<String>,
) -> InjectContext<'a> {
    InjectContext {
        task_sources: Some(sources),
        pessimistic: true,
        current,
        injected,
    }
}

#[test]
fn injected_info_is_dm_info_plus_one_field() {
    let info = Info {
        task: TASK.into(),
        source: "s3".into(),
        schema: "db".into(),
        table: "tbl".into(),
        ddls: Some(s(&[DDL])),
    };
    let bytes = encode_injected(&info);
    assert_eq!(
        String::from_utf8(bytes.clone()).unwrap(),
        r#"{"task":"test","source":"s3","schema":"db","table":"tbl","ddls":["ALTER TABLE `db`.`tbl` ADD COLUMN `c2` INT"],"injected":true}"#
    );
    // DM's decoder (and ours) read it as the same Info.
    assert_eq!(Info::decode(&bytes).unwrap(), info);
    assert!(is_injected(&bytes));
    assert!(!is_injected(&info.encode()));
    assert!(!is_injected(b"not json"));
    // The marker is read as JSON: escaped, it still counts; as a value or
    // set to false, it does not.
    assert!(is_injected(br#"{"task":"test","inj\u0065cted":true}"#));
    assert!(!is_injected(br#"{"task":"injected"}"#));
    assert!(!is_injected(br#"{"task":"test","injected":false}"#));
}

#[test]
fn inject_refusals() {
    let sources = s(&["s1", "s2", "s3"]);
    let none = BTreeSet::new();
    let keeper = keeper_with(&["s1", "s2"]);
    let id = lock_id();
    let cases: Vec<(InjectRequest, InjectContext<'_>, OperatorError)> = vec![
        (
            request("s2"),
            context(&sources, Some((&id, false)), &none),
            OperatorError::AlreadyReported {
                source_id: "s2".into(),
                lock_id: id.clone(),
            },
        ),
        (
            request("s3"),
            context(&sources, Some((&id, true)), &none),
            OperatorError::AlreadyInjected {
                source_id: "s3".into(),
                lock_id: id.clone(),
            },
        ),
        (
            request("s3"),
            context(&sources, Some(("test-`db`.`other`", false)), &none),
            OperatorError::OtherLockPending {
                source_id: "s3".into(),
                other: "test-`db`.`other`".into(),
            },
        ),
        (
            request("s9"),
            context(&sources, None, &none),
            OperatorError::SourceNotInTask {
                task: TASK.into(),
                source_id: "s9".into(),
            },
        ),
        (
            InjectRequest {
                ddls: s(&["ALTER TABLE `db`.`tbl` DROP COLUMN `c1`"]),
                ..request("s3")
            },
            context(&sources, None, &none),
            OperatorError::DdlMismatch {
                lock_id: id.clone(),
                ddls: s(&["ALTER TABLE `db`.`tbl` DROP COLUMN `c1`"]),
                lock_ddls: s(&[DDL]),
            },
        ),
        (
            InjectRequest {
                ddls: vec![],
                ..request("s3")
            },
            context(&sources, None, &none),
            OperatorError::NoDdl,
        ),
        (
            request("s3"),
            InjectContext {
                task_sources: None,
                ..context(&sources, None, &none)
            },
            OperatorError::UnknownTask { task: TASK.into() },
        ),
        (
            request("s3"),
            InjectContext {
                pessimistic: false,
                ..context(&sources, None, &none)
            },
            OperatorError::NotPessimistic { task: TASK.into() },
        ),
    ];
    for (req, ctx, want) in cases {
        assert_eq!(
            check_inject(&keeper, &req, ctx),
            Err(want.clone()),
            "{want}"
        );
        assert_eq!(want.code(), CODE_INJECT_REFUSED);
    }
    // Injecting the last source that could execute is refused.
    let two = s(&["s1", "s2"]);
    let injected = set(&["s1"]);
    assert_eq!(
        check_inject(
            &LockKeeper::new(),
            &request("s2"),
            context(&two, None, &injected)
        ),
        Err(OperatorError::NoExecutor {
            lock_id: id.clone()
        })
    );
    // The accepted case returns DM's Info.
    let info = check_inject(&keeper, &request("s3"), context(&sources, None, &none)).unwrap();
    assert_eq!(info.lock_id(), id);
    assert_eq!(info.ddls, Some(s(&[DDL])));
}

#[test]
fn injected_source_completes_the_lock_and_is_done_not_asked() {
    let mut keeper = keeper_with(&["s1", "s2"]);
    let id = lock_id();
    let injected = set(&["s3"]);
    let decision = keeper.on_info(&id, TASK, "s3", &s(&[DDL]), &s(&["s1", "s2", "s3"]));
    // The lock syncs and the owner (s1, a real source) is told to execute.
    match decision.action {
        LockAction::PutOwnerOp(ops) => assert_eq!(ops.sources, s(&["s1"])),
        other => panic!("{other:?}"),
    }
    let settled = settle_injected(&mut keeper, &id, &injected);
    assert_eq!(settled.marked_done, s(&["s3"]));
    assert!(!settled.resolved);
    // Owner done: only s2 is told to skip.
    match keeper.on_operation_done(&id, "s1") {
        crate::pessimism::keeper::DoneDecision::OwnerDone(LockAction::PutSkipOps(ops)) => {
            assert_eq!(ops.sources, s(&["s2"]))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        keeper.on_operation_done(&id, "s2"),
        crate::pessimism::keeper::DoneDecision::Resolved(_)
    ));
}

#[test]
fn owner_moves_off_an_injected_source() {
    let mut keeper = LockKeeper::new();
    let id = lock_id();
    let sources = s(&["s1", "s2", "s3"]);
    // The injected Info creates the lock, so it would own it.
    keeper.on_info(&id, TASK, "s1", &s(&[DDL]), &sources);
    let injected = set(&["s1"]);
    let settled = settle_injected(&mut keeper, &id, &injected);
    assert_eq!(settled.owner_moved, Some(("s1".into(), "s2".into())));
    // A ready real source is preferred.
    keeper.on_info(&id, TASK, "s3", &s(&[DDL]), &sources);
    keeper.find_lock_mut(&id).unwrap().set_owner("s1");
    let settled = settle_injected(&mut keeper, &id, &injected);
    assert_eq!(settled.owner_moved, Some(("s1".into(), "s3".into())));
    assert_eq!(
        check_unlock_owner(&keeper, &id, Some("s1"), &injected),
        Err(OperatorError::InjectedOwner {
            source_id: "s1".into(),
            lock_id: id.clone()
        })
    );
    assert_eq!(check_unlock_owner(&keeper, &id, None, &injected), Ok(()));
}

#[test]
fn preview_lists_what_unlock_writes_and_leaves_the_keeper_alone() {
    let keeper = keeper_with(&["s1", "s2"]);
    let before = keeper.clone();
    let id = lock_id();
    let preview = preview_unlock(&keeper, &id, None, &BTreeSet::new()).unwrap();
    assert_eq!(keeper, before);
    assert_eq!(preview.owner, "s1");
    assert_eq!(preview.exec.as_ref().unwrap().sources, s(&["s1"]));
    assert!(preview.exec.as_ref().unwrap().exec);
    // The forced lock tells s3 (which never reached the DDL) to skip too.
    let skip = preview.skip.as_ref().unwrap();
    assert_eq!((skip.exec, skip.sources.clone()), (false, s(&["s2", "s3"])));
    assert_eq!(preview.not_asked, Vec::<String>::new());
    assert_eq!(preview.unsynced, s(&["s3"]));
    assert_eq!(preview.delete_keys_of, s(&["s1", "s2", "s3"]));

    // Replacing the owner: s2 executes, s1 skips. The lock's own owner is
    // still s1, so s2's done sets nothing off: only the unlock's step asks.
    let preview = preview_unlock(&keeper, &id, Some("s2"), &BTreeSet::new()).unwrap();
    assert_eq!(preview.exec.unwrap().sources, s(&["s2"]));
    assert_eq!(preview.skip.unwrap().sources, s(&["s1"]));
    assert_eq!(preview.not_asked, s(&["s3"]));

    // The planner's own refusals come through.
    assert_eq!(
        preview_unlock(&keeper, &id, Some("s3"), &BTreeSet::new())
            .unwrap_err()
            .code(),
        38022
    );
    assert!(preview_unlock(&keeper, "test-`no`.`lock`", None, &BTreeSet::new()).is_err());
}

#[test]
fn preview_never_asks_an_injected_source() {
    let mut keeper = keeper_with(&["s1", "s3"]);
    let id = lock_id();
    let injected = set(&["s3"]);
    settle_injected(&mut keeper, &id, &injected);
    let preview = preview_unlock(&keeper, &id, None, &injected).unwrap();
    assert_eq!(preview.exec.unwrap().sources, s(&["s1"]));
    assert_eq!(preview.skip.unwrap().sources, s(&["s2"]));
    assert_eq!(preview.not_asked, s(&["s3"]));
    assert_eq!(preview.delete_keys_of, s(&["s1", "s2", "s3"]));
}
