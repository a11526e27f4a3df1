//! PURE. The HA keys and values a joined worker reads and writes, on the
//! master library's key adapters and `ha` records (Go's bytes):
//!
//! | Key | Parts | Value | Worker's use |
//! |---|---|---|---|
//! | `/dm-worker/a/` | worker | `WorkerEvent` JSON, leased | put under its own lease |
//! | `/dm-master/bound-worker/` | worker | `SourceBound` JSON | get, then watch the exact key |
//! | `/dm-master/v2/upstream/config/` | source | source config TOML | presence check when bound |
//! | `/dm-master/upstream/subtask/` | source, task | subtask config TOML | get the source's prefix |
//! | `/dm-master/stage/subtask/` | source, task | `Stage` JSON | get, then watch the source's prefix |
//!
//! **Invariant:** a value whose identity fields differ from its key is
//! treated as absent, as DM's readers do (checked by the source actor).

use dm_master::keys::{
    KeyAdapter, KeySpace, BOUND_WORKER, STAGE_SUBTASK, UPSTREAM_CONFIG, UPSTREAM_SUBTASK,
    WORKER_KEEP_ALIVE,
};

pub use dm_master::ha::{SourceBound, WorkerEvent};

/// The worker's keys in one key space (empty namespace in production).
#[derive(Debug, Clone, Default)]
pub struct HaKeys {
    space: KeySpace,
}

impl HaKeys {
    pub fn new(space: KeySpace) -> HaKeys {
        HaKeys { space }
    }

    pub fn space(&self) -> &KeySpace {
        &self.space
    }

    /// `/dm-worker/a/<hex worker>`.
    pub fn keep_alive(&self, worker: &str) -> String {
        self.space.key(&WORKER_KEEP_ALIVE, [worker])
    }

    /// `/dm-master/bound-worker/<hex worker>`.
    pub fn bound(&self, worker: &str) -> String {
        self.space.key(&BOUND_WORKER, [worker])
    }

    /// `/dm-master/v2/upstream/config/<hex source>`.
    pub fn source_config(&self, source: &str) -> String {
        self.space.key(&UPSTREAM_CONFIG, [source])
    }

    /// `/dm-master/stage/subtask/<hex source>/`: every subtask stage of a source.
    pub fn subtask_stage_prefix(&self, source: &str) -> String {
        self.space.prefix(&STAGE_SUBTASK, &[source])
    }

    /// `/dm-master/stage/subtask/<hex source>/<hex task>`.
    pub fn subtask_stage(&self, source: &str, task: &str) -> String {
        self.space.key(&STAGE_SUBTASK, [source, task])
    }

    /// `/dm-master/upstream/subtask/<hex source>/`: every subtask config of a source.
    pub fn subtask_config_prefix(&self, source: &str) -> String {
        self.space.prefix(&UPSTREAM_SUBTASK, &[source])
    }

    /// `/dm-master/upstream/subtask/<hex source>/<hex task>`.
    pub fn subtask_config(&self, source: &str, task: &str) -> String {
        self.space.key(&UPSTREAM_SUBTASK, [source, task])
    }

    /// The task of a subtask stage key of `source`.
    pub fn stage_task(&self, source: &str, key: &[u8]) -> Option<String> {
        self.task_of(&STAGE_SUBTASK, source, key)
    }

    /// The task of a subtask config key of `source`.
    pub fn config_task(&self, source: &str, key: &[u8]) -> Option<String> {
        self.task_of(&UPSTREAM_SUBTASK, source, key)
    }

    fn task_of(&self, adapter: &KeyAdapter<2>, source: &str, key: &[u8]) -> Option<String> {
        let [key_source, task] = self.space.decode(adapter, key).ok()?;
        (key_source == source).then_some(task)
    }
}

/// DM's `pb.Stage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Stage {
    #[default]
    Invalid,
    New,
    Running,
    Paused,
    Stopped,
    Finished,
    Pausing,
    Resuming,
    Stopping,
}

impl Stage {
    /// From the numeric `pb.Stage`; unknown numbers read as `Invalid`.
    pub fn from_number(n: i64) -> Stage {
        match n {
            1 => Stage::New,
            2 => Stage::Running,
            3 => Stage::Paused,
            4 => Stage::Stopped,
            5 => Stage::Finished,
            6 => Stage::Pausing,
            7 => Stage::Resuming,
            8 => Stage::Stopping,
            _ => Stage::Invalid,
        }
    }

    /// The numeric `pb.Stage`.
    pub fn number(self) -> i32 {
        match self {
            Stage::Invalid => 0,
            Stage::New => 1,
            Stage::Running => 2,
            Stage::Paused => 3,
            Stage::Stopped => 4,
            Stage::Finished => 5,
            Stage::Pausing => 6,
            Stage::Resuming => 7,
            Stage::Stopping => 8,
        }
    }

    /// The `pb.Stage` enum name (`InvalidStage` for 0), as logs and dmctl show it.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Invalid => "InvalidStage",
            Stage::New => "New",
            Stage::Running => "Running",
            Stage::Paused => "Paused",
            Stage::Stopped => "Stopped",
            Stage::Finished => "Finished",
            Stage::Pausing => "Pausing",
            Stage::Resuming => "Resuming",
            Stage::Stopping => "Stopping",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// DM's subtask `Stage` record with its `expect` as a [`Stage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRecord {
    pub expect: Stage,
    pub source: String,
    pub task: String,
}

impl StageRecord {
    pub fn decode(bytes: &[u8]) -> Result<StageRecord, dm_master::gojson::DecodeError> {
        let record = dm_master::ha::Stage::decode(bytes)?;
        Ok(StageRecord {
            expect: Stage::from_number(record.expect as i64),
            source: record.source,
            task: record.task,
        })
    }
}

/// The keep-alive value for `worker_name` joining at `since_epoch` (UTC).
pub fn worker_event(worker_name: &str, since_epoch: std::time::Duration) -> WorkerEvent {
    WorkerEvent {
        worker_name: worker_name.to_owned(),
        join_time: go_rfc3339_nano_utc(since_epoch),
    }
}

/// Go's `time.Time.MarshalJSON` text (RFC 3339 with nanoseconds, trailing
/// fractional zeros trimmed) of an instant in UTC (`Z`). Go writes the
/// process's local offset; the master reads only `worker-name`.
pub fn go_rfc3339_nano_utc(since_epoch: std::time::Duration) -> String {
    let secs = since_epoch.as_secs() as i64;
    let nanos = since_epoch.subsec_nanos();
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests;
