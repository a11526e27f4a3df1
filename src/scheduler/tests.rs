use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;

fn toml(source: &str) -> Vec<u8> {
    format!("source-id = \"{source}\"\n").into_bytes()
}

fn bound(source: &str, worker: &str) -> Effect {
    Effect::PutBounds(vec![SourceBound::new(source, worker)])
}

fn stage_of(s: &Scheduler, worker: &str) -> (WorkerStage, String) {
    let view = s
        .workers()
        .into_iter()
        .find(|w| w.name == worker)
        .expect("worker registered");
    (view.stage, view.source)
}

/// Registered and online workers.
fn with_workers(names: &[&str]) -> Scheduler {
    let mut s = Scheduler::default();
    for name in names {
        s.register(name, &format!("{name}:8262")).unwrap();
        s.worker_online(name).unwrap();
    }
    s
}

#[test]
fn register_is_idempotent_for_the_same_address_only() {
    let mut s = Scheduler::default();
    assert_eq!(
        s.register("w1", "h:1").unwrap(),
        Registered::New(vec![Effect::Register(WorkerInfo::new("w1", "h:1"))])
    );
    assert_eq!(s.register("w1", "h:1").unwrap(), Registered::Already);
    let err = s.register("w1", "h:2").unwrap_err();
    assert_eq!(
        err.dm_string(),
        r#"[code=46003:class=scheduler:scope=internal:level=medium], Message: dm-worker with name {"name":"w1","addr":"h:1"} already exists"#
    );
    // Registered is not usable: offline until the keep-alive key appears.
    assert_eq!(stage_of(&s, "w1").0, WorkerStage::Offline);
}

#[test]
fn two_sources_bind_two_workers_and_the_third_stays_free() {
    let mut s = with_workers(&["w1", "w2", "w3"]);
    assert_eq!(
        s.add_source("s1", toml("s1"), None).unwrap(),
        vec![
            Effect::PutSource {
                source: "s1".into(),
                toml: toml("s1")
            },
            bound("s1", "w1"),
        ]
    );
    s.add_source("s2", toml("s2"), None).unwrap();
    assert_eq!(stage_of(&s, "w1"), (WorkerStage::Bound, "s1".into()));
    assert_eq!(stage_of(&s, "w2"), (WorkerStage::Bound, "s2".into()));
    assert_eq!(stage_of(&s, "w3"), (WorkerStage::Free, String::new()));
    assert_eq!(
        s.add_source("s1", toml("s1"), None).unwrap_err(),
        SchedulerError::SourceExists {
            source: "s1".into()
        }
    );
}

#[test]
fn a_source_without_free_worker_is_stored_unbound() {
    let mut s = Scheduler::default();
    let effects = s.add_source("s1", toml("s1"), None).unwrap();
    assert_eq!(effects.len(), 1);
    assert!(s.worker_of("s1").is_none());
    s.register("w1", "h:1").unwrap();
    assert_eq!(s.worker_online("w1").unwrap(), vec![bound("s1", "w1")]);
}

#[test]
fn offline_worker_moves_its_source_to_a_free_worker() {
    let mut s = with_workers(&["w1", "w2", "w3"]);
    s.add_source("s1", toml("s1"), None).unwrap();
    s.add_source("s2", toml("s2"), None).unwrap();
    assert_eq!(
        s.worker_offline("w1").unwrap(),
        vec![Effect::DeleteBounds(vec!["w1".into()]), bound("s1", "w3")]
    );
    assert_eq!(stage_of(&s, "w1"), (WorkerStage::Offline, String::new()));
    assert_eq!(stage_of(&s, "w3"), (WorkerStage::Bound, "s1".into()));
    // Back online: its last source is taken, nothing else is unbound.
    assert_eq!(s.worker_online("w1").unwrap(), vec![]);
    assert_eq!(stage_of(&s, "w1"), (WorkerStage::Free, String::new()));
}

#[test]
fn a_returning_worker_gets_its_last_bound_source_first() {
    let mut s = with_workers(&["w1"]);
    s.add_source("b-src", toml("b-src"), None).unwrap();
    s.worker_offline("w1").unwrap();
    // "a-src" sorts first, but w1 last served "b-src".
    s.add_source("a-src", toml("a-src"), None).unwrap();
    assert_eq!(s.worker_online("w1").unwrap(), vec![bound("b-src", "w1")]);
}

#[test]
fn an_unbound_source_prefers_the_free_worker_that_last_served_it() {
    let mut s = with_workers(&["w1", "w2"]);
    s.add_source("s1", toml("s1"), None).unwrap(); // w1
    s.add_source("s2", toml("s2"), None).unwrap(); // w2
    s.remove_source("s2", &BTreeSet::new()).unwrap(); // w2 free, last-bound removed
    s.worker_offline("w1").unwrap(); // s1 → w2
    assert_eq!(s.worker_of("s1").unwrap().name, "w2");
    s.worker_online("w1").unwrap(); // free
    s.worker_offline("w2").unwrap(); // s1 → w1 (only free worker)
    assert_eq!(s.worker_of("s1").unwrap().name, "w1");
}

#[test]
fn a_repeated_keep_alive_put_nudges_the_bound() {
    let mut s = with_workers(&["w1"]);
    s.add_source("s1", toml("s1"), None).unwrap();
    assert_eq!(s.worker_online("w1").unwrap(), vec![bound("s1", "w1")]);
    assert_eq!(stage_of(&s, "w1"), (WorkerStage::Bound, "s1".into()));
}

#[test]
fn events_of_unregistered_workers_are_ignored() {
    let mut s = Scheduler::default();
    assert!(s.worker_online("ghost").is_none());
    assert!(s.worker_offline("ghost").is_none());
}

#[test]
fn stop_source_unbinds_and_rebinds_the_worker() {
    let mut s = with_workers(&["w1"]);
    s.add_source("s1", toml("s1"), None).unwrap();
    s.add_source("s2", toml("s2"), None).unwrap(); // unbound
    let tasks: BTreeSet<String> = ["t2".to_string(), "t1".to_string()].into();
    let err = s.remove_source("s1", &tasks).unwrap_err();
    assert_eq!(
        err.dm_string(),
        "[code=46010:class=dm-master:scope=internal:level=medium], Message: source with name s1 need to operate has existing tasks [t1 t2], Workaround: Please `stop-task` first."
    );
    assert_eq!(
        s.remove_source("s1", &BTreeSet::new()).unwrap(),
        vec![
            Effect::RemoveSource {
                source: "s1".into(),
                bound_worker: "w1".into()
            },
            bound("s2", "w1"),
        ]
    );
    assert_eq!(
        s.remove_source("s1", &BTreeSet::new()).unwrap_err().dm_string(),
        "[code=46008:class=scheduler:scope=internal:level=medium], Message: source config with ID s1 not exists"
    );
    assert_eq!(
        s.remove_source("s2", &BTreeSet::new()).unwrap()[0],
        Effect::RemoveSource {
            source: "s2".into(),
            bound_worker: "w1".into()
        }
    );
}

#[test]
fn add_source_with_worker_checks_the_worker() {
    let mut s = with_workers(&["w1", "w2"]);
    assert_eq!(
        s.add_source("s1", toml("s1"), Some("nobody")).unwrap_err(),
        SchedulerError::WorkerNotExist {
            worker: "nobody".into()
        }
    );
    s.add_source("s1", toml("s1"), Some("w2")).unwrap();
    assert_eq!(s.worker_of("s1").unwrap().name, "w2");
    assert_eq!(
        s.add_source("s2", toml("s2"), Some("w2")).unwrap_err().dm_string(),
        "[code=46033:class=scheduler:scope=internal:level=low], Message: dm-worker with name w2 not free"
    );
}

#[test]
fn only_offline_workers_can_be_removed() {
    let mut s = with_workers(&["w1"]);
    assert_eq!(
        s.remove_worker("w1").unwrap_err().dm_string(),
        "[code=46005:class=scheduler:scope=internal:level=medium], Message: dm-worker with name w1 is still online, Workaround: Please shut it down first."
    );
    s.worker_offline("w1").unwrap();
    assert_eq!(
        s.remove_worker("w1").unwrap(),
        vec![Effect::OfflineWorker("w1".into())]
    );
    assert_eq!(
        s.remove_worker("w1").unwrap_err().dm_string(),
        "[code=46004:class=scheduler:scope=internal:level=medium], Message: dm-worker with name w1 not exists"
    );
}

#[test]
fn rebuild_keeps_every_bound_that_still_holds() {
    let snapshot = Snapshot {
        workers: vec![
            WorkerInfo::new("w1", "h:1"),
            WorkerInfo::new("w2", "h:2"),
            WorkerInfo::new("w3", "h:3"),
            WorkerInfo::new("w4", "h:4"),
        ],
        alive: ["w1", "w2", "w4"].map(String::from).into(),
        bounds: vec![
            SourceBound::new("s1", "w1"),
            // w3 is offline: its bound is stale.
            SourceBound::new("s3", "w3"),
            // s9 has no config.
            SourceBound::new("s9", "w4"),
        ],
        invalid_bounds: vec![],
        last_bounds: vec![SourceBound::new("s1", "w1"), SourceBound::new("s3", "w3")],
        sources: BTreeMap::from([
            ("s1".to_string(), toml("s1")),
            ("s3".to_string(), toml("s3")),
        ]),
    };
    let (s, effects) = Scheduler::rebuild(snapshot);
    assert_eq!(
        effects,
        vec![
            Effect::DeleteBounds(vec!["w3".into(), "w4".into()]),
            bound("s1", "w1"),
            bound("s3", "w2"),
        ]
    );
    assert_eq!(stage_of(&s, "w1"), (WorkerStage::Bound, "s1".into()));
    assert_eq!(stage_of(&s, "w3"), (WorkerStage::Offline, String::new()));
    assert_eq!(stage_of(&s, "w4"), (WorkerStage::Free, String::new()));
    assert_eq!(s.last_bound("w3"), Some("s3"));
}

#[test]
fn reconcile_applies_the_difference_only() {
    let mut s = with_workers(&["w1", "w2"]);
    s.add_source("s1", toml("s1"), None).unwrap();
    let alive: BTreeSet<String> = ["w2".to_string()].into();
    assert_eq!(
        s.reconcile_alive(&alive),
        vec![Effect::DeleteBounds(vec!["w1".into()]), bound("s1", "w2")]
    );
    assert_eq!(s.reconcile_alive(&alive), vec![]);
}

#[derive(Debug, Clone)]
enum Step {
    Register(u8),
    Online(u8),
    Offline(u8),
    AddSource(u8),
    RemoveSource(u8),
    RemoveWorker(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..5).prop_map(Step::Register),
        (0u8..5).prop_map(Step::Online),
        (0u8..5).prop_map(Step::Offline),
        (0u8..5).prop_map(Step::AddSource),
        (0u8..5).prop_map(Step::RemoveSource),
        (0u8..5).prop_map(Step::RemoveWorker),
    ]
}

proptest! {
    /// Whatever happens: a source is bound to one online worker at most, a
    /// worker serves one source at most, no online worker stays free while a
    /// source is unbound, and a rebuild from what the effects wrote yields
    /// the same bounds.
    #[test]
    fn binding_invariants_hold(steps in proptest::collection::vec(step(), 1..60)) {
        let mut s = Scheduler::default();
        // What etcd holds after applying every effect.
        let mut registered: BTreeMap<String, WorkerInfo> = BTreeMap::new();
        let mut alive: BTreeSet<String> = BTreeSet::new();
        let mut stored_bounds: BTreeMap<String, SourceBound> = BTreeMap::new();
        let mut stored_last: BTreeMap<String, SourceBound> = BTreeMap::new();
        let mut stored_sources: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for step in steps {
            let effects = match step {
                Step::Register(i) => match s.register(&format!("w{i}"), "h:1") {
                    Ok(Registered::New(e)) => e,
                    _ => vec![],
                },
                Step::Online(i) => {
                    let name = format!("w{i}");
                    if registered.contains_key(&name) { alive.insert(name.clone()); }
                    s.worker_online(&name).unwrap_or_default()
                }
                Step::Offline(i) => {
                    let name = format!("w{i}");
                    alive.remove(&name);
                    s.worker_offline(&name).unwrap_or_default()
                }
                Step::AddSource(i) => s.add_source(&format!("s{i}"), toml("x"), None).unwrap_or_default(),
                Step::RemoveSource(i) => s.remove_source(&format!("s{i}"), &BTreeSet::new()).unwrap_or_default(),
                Step::RemoveWorker(i) => s.remove_worker(&format!("w{i}")).unwrap_or_default(),
            };
            for effect in effects {
                match effect {
                    Effect::Register(info) => { registered.insert(info.name.clone(), info); }
                    Effect::OfflineWorker(w) => { registered.remove(&w); }
                    Effect::PutSource { source, toml } => { stored_sources.insert(source, toml); }
                    Effect::PutBounds(bs) => for b in bs {
                        stored_bounds.insert(b.worker.clone(), b.clone());
                        stored_last.insert(b.worker.clone(), b);
                    },
                    Effect::DeleteBounds(ws) => for w in ws { stored_bounds.remove(&w); },
                    Effect::RemoveSource { source, bound_worker } => {
                        stored_sources.remove(&source);
                        stored_bounds.remove(&bound_worker);
                        stored_last.remove(&bound_worker);
                    }
                }
            }
            let views = s.workers();
            let mut served = BTreeSet::new();
            for v in &views {
                if v.stage == WorkerStage::Bound {
                    prop_assert!(alive.contains(&v.name));
                    prop_assert!(served.insert(v.source.clone()), "source bound twice");
                    prop_assert_eq!(stored_bounds.get(&v.name).map(|b| b.source.clone()), Some(v.source.clone()));
                }
            }
            prop_assert_eq!(stored_bounds.len(), served.len());
            let unbound = s.source_ids().iter().any(|id| !served.contains(id));
            let free = views.iter().any(|v| v.stage == WorkerStage::Free);
            prop_assert!(!(unbound && free), "a free worker and an unbound source");
        }
        // A new leader keeps every bound.
        let snapshot = Snapshot {
            workers: registered.values().cloned().collect(),
            alive: alive.iter().filter(|w| registered.contains_key(*w)).cloned().collect(),
            bounds: stored_bounds.values().cloned().collect(),
            invalid_bounds: vec![],
            last_bounds: stored_last.values().cloned().collect(),
            sources: stored_sources,
        };
        let (rebuilt, effects) = Scheduler::rebuild(snapshot);
        for effect in &effects {
            prop_assert!(!matches!(effect, Effect::DeleteBounds(_)), "rebuild unbound {:?}", effect);
        }
        let before: Vec<(String, String)> = s.workers().into_iter().map(|v| (v.name, v.source)).collect();
        let after: Vec<(String, String)> = rebuilt.workers().into_iter().map(|v| (v.name, v.source)).collect();
        prop_assert_eq!(before, after);
    }
}
