//! PURE. The HA keys and values a joined worker reads and writes, with DM's
//! bytes (`dm/pkg/ha/{keepalive,bound,stage}.go`, `dm/common/common.go`).
//!
//! | Key | Parts | Value | Worker's use |
//! |---|---|---|---|
//! | `/dm-worker/a/` | worker | [`WorkerEvent`] JSON, leased | put under its own lease |
//! | `/dm-master/bound-worker/` | worker | [`SourceBound`] JSON | get, then watch the exact key |
//! | `/dm-master/v2/upstream/config/` | source | source config TOML | presence check when bound |
//! | `/dm-master/upstream/subtask/` | source, task | subtask config TOML | get the source's prefix, read at a revision |
//! | `/dm-master/stage/subtask/` | source, task | [`Stage`] JSON | get, then watch the source's prefix |
//!
//! Parts are lowercase hex of their bytes, joined by `/` (DM's hex key
//! adapter). **Invariant:** a value whose identity fields differ from its
//! key is treated as absent, as DM's readers do.

use std::fmt::Write as _;

use dm_master::keys::{KeySpace, UPSTREAM_SUBTASK};
use serde::Deserialize;

const KEEP_ALIVE: &str = "/dm-worker/a/";
const BOUND_WORKER: &str = "/dm-master/bound-worker/";
const UPSTREAM_CONFIG: &str = "/dm-master/v2/upstream/config/";
const STAGE_SUBTASK: &str = "/dm-master/stage/subtask/";

fn hex(out: &mut String, part: &str) {
    for b in part.as_bytes() {
        let _ = write!(out, "{b:02x}");
    }
}

fn unhex(part: &str) -> Option<String> {
    if !part.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..part.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(part.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

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

    fn one(&self, prefix: &str, part: &str) -> String {
        let mut key = format!("{}{prefix}", self.space.namespace());
        hex(&mut key, part);
        key
    }

    /// `/dm-worker/a/<hex worker>`.
    pub fn keep_alive(&self, worker: &str) -> String {
        self.one(KEEP_ALIVE, worker)
    }

    /// `/dm-master/bound-worker/<hex worker>`.
    pub fn bound(&self, worker: &str) -> String {
        self.one(BOUND_WORKER, worker)
    }

    /// `/dm-master/v2/upstream/config/<hex source>`.
    pub fn source_config(&self, source: &str) -> String {
        self.one(UPSTREAM_CONFIG, source)
    }

    /// `/dm-master/stage/subtask/<hex source>/`: every subtask stage of a source.
    pub fn subtask_stage_prefix(&self, source: &str) -> String {
        let mut key = self.one(STAGE_SUBTASK, source);
        key.push('/');
        key
    }

    /// `/dm-master/stage/subtask/<hex source>/<hex task>`.
    pub fn subtask_stage(&self, source: &str, task: &str) -> String {
        let mut key = self.subtask_stage_prefix(source);
        hex(&mut key, task);
        key
    }

    /// `/dm-master/upstream/subtask/<hex source>/`: every subtask config of a source.
    pub fn subtask_config_prefix(&self, source: &str) -> String {
        self.space.prefix(&UPSTREAM_SUBTASK, &[source])
    }

    /// `/dm-master/upstream/subtask/<hex source>/<hex task>`.
    pub fn subtask_config(&self, source: &str, task: &str) -> String {
        self.space.key(&UPSTREAM_SUBTASK, [source, task])
    }

    /// The task named by a key under [`Self::subtask_stage_prefix`] or
    /// [`Self::subtask_config_prefix`] of `source`.
    pub fn task_of(&self, source_prefix: &str, key: &[u8]) -> Option<String> {
        let rest = std::str::from_utf8(key).ok()?.strip_prefix(source_prefix)?;
        unhex(rest.trim_end_matches('/'))
    }
}

/// DM's `pb.Stage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
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

/// A value that does not decode as DM's record (DM's `ErrHAInvalidItem`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct BadValue {
    pub what: &'static str,
    pub value: String,
    pub reason: String,
}

fn decode<'a, T: Deserialize<'a>>(what: &'static str, bytes: &'a [u8]) -> Result<T, BadValue> {
    serde_json::from_slice(bytes).map_err(|e| BadValue {
        what,
        value: String::from_utf8_lossy(bytes).into_owned(),
        reason: e.to_string(),
    })
}

/// DM's `SourceBound`: `{"source":"<source>","worker":"<worker>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SourceBound {
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub worker: String,
}

impl SourceBound {
    pub fn decode(bytes: &[u8]) -> Result<SourceBound, BadValue> {
        decode("source bound", bytes)
    }
}

/// DM's subtask/relay `Stage` record: `{"expect":N,"source":"…","task":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRecord {
    pub expect: Stage,
    pub source: String,
    pub task: String,
}

impl StageRecord {
    pub fn decode(bytes: &[u8]) -> Result<StageRecord, BadValue> {
        #[derive(Deserialize)]
        struct Wire {
            #[serde(default)]
            expect: i64,
            #[serde(default)]
            source: String,
            #[serde(default)]
            task: String,
        }
        let wire: Wire = decode("stage", bytes)?;
        Ok(StageRecord {
            expect: Stage::from_number(wire.expect),
            source: wire.source,
            task: wire.task,
        })
    }
}

/// DM's keep-alive `WorkerEvent`: `{"worker-name":"…","join-time":"…"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerEvent {
    pub worker_name: String,
    /// When the worker started this keep-alive, as Go's `time.Time` JSON.
    pub join_time: String,
}

impl WorkerEvent {
    /// An event for `worker_name` joining at `since_epoch` (UTC).
    pub fn new(worker_name: &str, since_epoch: std::time::Duration) -> WorkerEvent {
        WorkerEvent {
            worker_name: worker_name.to_owned(),
            join_time: go_rfc3339_nano_utc(since_epoch),
        }
    }

    /// Go's `json.Marshal` bytes of the event.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = b"{\"worker-name\":".to_vec();
        dm_master::gojson::write_str(&mut out, &self.worker_name);
        out.extend_from_slice(b",\"join-time\":");
        dm_master::gojson::write_str(&mut out, &self.join_time);
        out.push(b'}');
        out
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
