//! The CPU of a pessimistic cold rebuild, per key: what a new leader does
//! with every value of its two range reads, and the planner after them.
//! The shapes are those of `dmbench rebuild` (a task of three sources, two
//! of which have an Info of the same DDL).
//!
//! - `subtask_config`: one subtask config TOML into the task registry
//!   (key decode, the registry scanner, the registry insert);
//! - `info`: one pessimism Info value decoded as the rebuild decodes it
//!   (the Info, its lock ID, the injected marker);
//! - `plan/10000_locks`: the rebuild planner over 20,000 Infos of 10,000
//!   tasks, the registry already filled, the records built from the
//!   decoded Infos included.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use dm_master::keys::{KeySpace, UPSTREAM_SUBTASK};
use dm_master::pessimism::keeper::{rebuild, InfoRecord};
use dm_master::pessimism::{operator, Info};
use dm_master::task::TaskRegistry;

const TASKS: usize = 10_000;
const SOURCES: usize = 3;

fn task(i: usize) -> String {
    format!("dmbench-rb-{i:06}")
}

fn source(i: usize) -> String {
    format!("dmbench-src-{i:02}")
}

/// A subtask config in the shape `dmbench` writes (DM's field order).
fn subtask_toml(task: &str, source: &str) -> String {
    format!(
        "is-sharding = true\nshard-mode = \"pessimistic\"\nonline-ddl = false\n\
         case-sensitive = false\nname = \"{task}\"\nmode = \"incremental\"\n\
         source-id = \"{source}\"\nmeta-schema = \"dm_meta\"\nflavor = \"mysql\"\n\n\
         [from]\nhost = \"127.0.0.1\"\nport = 3306\nuser = \"root\"\npassword = \"\"\n\n\
         [to]\nhost = \"127.0.0.1\"\nport = 1\nuser = \"root\"\npassword = \"\"\n"
    )
}

fn info(task: &str, source: &str) -> Info {
    Info {
        task: task.to_owned(),
        source: source.to_owned(),
        schema: "dmbench".to_owned(),
        table: "t".to_owned(),
        ddls: Some(vec![
            "ALTER TABLE `dmbench`.`t` ADD COLUMN `c1` INT".to_owned()
        ]),
    }
}

fn filled_registry(space: &KeySpace) -> TaskRegistry {
    let mut registry = TaskRegistry::new();
    for t in 0..TASKS {
        for s in 0..SOURCES {
            let (task, source) = (task(t), source(s));
            let key = space.key(&UPSTREAM_SUBTASK, [source.as_str(), task.as_str()]);
            registry
                .apply_put(
                    space,
                    key.as_bytes(),
                    subtask_toml(&task, &source).as_bytes(),
                )
                .expect("the config decodes");
        }
    }
    registry
}

fn bench_decode(c: &mut Criterion) {
    let space = KeySpace::default();
    let (task, source) = (task(4242), source(1));
    let key = space.key(&UPSTREAM_SUBTASK, [source.as_str(), task.as_str()]);
    let config = subtask_toml(&task, &source);
    let mut registry = TaskRegistry::new();
    c.bench_function("rebuild/subtask_config", |b| {
        b.iter(|| {
            registry
                .apply_put(
                    &space,
                    black_box(key.as_bytes()),
                    black_box(config.as_bytes()),
                )
                .expect("the config decodes")
        })
    });
    let value = info(&task, &source).encode();
    c.bench_function("rebuild/info", |b| {
        b.iter(|| {
            let value = black_box(value.as_slice());
            let info = Info::decode(value).expect("the Info decodes");
            (info.lock_id(), operator::is_injected(value), info)
        })
    });
}

fn bench_plan(c: &mut Criterion) {
    let space = KeySpace::default();
    let registry = filled_registry(&space);
    // Every task but the last source has its Info: 10,000 un-synced locks.
    let infos: Vec<Info> = (0..TASKS)
        .flat_map(|t| (0..SOURCES - 1).map(move |s| info(&task(t), &source(s))))
        .collect();
    c.bench_function("rebuild/plan/10000_locks", |b| {
        b.iter(|| {
            let records = infos.iter().map(InfoRecord::borrowing).collect();
            rebuild(records, Vec::new(), |task| registry.sources(task))
        })
    });
}

criterion_group!(benches, bench_decode, bench_plan);
criterion_main!(benches);
