//! etcd key layout shared with DM-workers.
//!
//! PURE: no async, no I/O. Every key this crate reads or writes is built here,
//! so a change of layout is a change of this file only.
//!
//! Keys are DM's *hex key adapters* (`dm/common/common.go`): a fixed prefix
//! ending in `/`, then the adapter's parts, each written as lowercase hex of its
//! UTF-8 bytes (so no part can contain `/`), joined with `/`.
//!
//! | Adapter | Prefix | Arity | Parts (in order) | Value |
//! |---|---|---|---|---|
//! | [`PESSIMISM_INFO`] | `/dm-master/shardddl-pessimism/info/` | 2 | task, source | pessimism `Info` JSON |
//! | [`PESSIMISM_OPERATION`] | `/dm-master/shardddl-pessimism/operation/` | 2 | task, source | pessimism `Operation` JSON |
//! | [`OPTIMISM_SOURCE_TABLES`] | `/dm-master/shardddl-optimism/source-tables/` | 2 | task, source | `SourceTables` JSON |
//! | [`OPTIMISM_INFO`] | `/dm-master/shardddl-optimism/info/` | 4 | task, source, up-schema, up-table | optimism `Info` JSON |
//! | [`OPTIMISM_OPERATION`] | `/dm-master/shardddl-optimism/operation/` | 4 | task, source, up-schema, up-table | optimism `Operation` JSON |
//! | [`OPTIMISM_DROPPED_COLUMNS`] | `/dm-master/shardddl-optimism/dropped-columns/` | 5 | lock-id, column, source, up-schema, up-table | JSON integer (`DropColumnStage`) |
//! | [`OPTIMISM_INIT_SCHEMA`] (deprecated) | `/dm-master/shardddl-optimism/init-schema/` | 3 | task, down-schema, down-table | left over by old clusters; only ever pruned |
//! | [`UPSTREAM_SUBTASK`] | `/dm-master/upstream/subtask/` | 2 | source, task | subtask config (read only) |
//! | [`WORKER_REGISTER`] | `/dm-worker/r/` | 1 | worker | `WorkerInfo` JSON |
//! | [`WORKER_KEEP_ALIVE`] | `/dm-worker/a/` | 1 | worker | keep-alive `WorkerEvent` JSON, leased by the worker |
//! | [`UPSTREAM_CONFIG`] | `/dm-master/v2/upstream/config/` | 1 | source | source config TOML |
//! | [`BOUND_WORKER`] | `/dm-master/bound-worker/` | 1 | worker | `SourceBound` JSON |
//! | [`LAST_BOUND_WORKER`] | `/dm-master/last-bound-worker/` | 1 | worker | `SourceBound` JSON (same bytes as the bound) |
//! | [`RELAY_WORKER`] | `/dm-master/relay-worker/` | 1 | worker | raw source ID bytes |
//! | [`STAGE_RELAY`] | `/dm-master/v2/stage/relay/` | 1 | source | `Stage` JSON without `task` |
//! | [`STAGE_SUBTASK`] | `/dm-master/stage/subtask/` | 2 | source, task | `Stage` JSON |
//! | [`STAGE_VALIDATOR`] | `/dm-master/stage/validator/` | 2 | source, task | `Stage` JSON |
//! | [`LOAD_TASK`] | `/dm-master/load-task/` | 2 | task, source | JSON string of a worker name |
//! | [`LIGHTNING_COORD`] | `/dm-master/lightning-coord/` | 2 | task, source | JSON string |
//! | [`TASK_CLI_ARGS`] | `/dm-master/task-cli-args/` | 2 | task, source | `TaskCliArgs` JSON |
//! | [`OPENAPI_TASK_TEMPLATE`] | `/dm-master/openapi-task-template/` | 1 | task | OpenAPI task JSON |
//! | [`PESSIMISM_PREFIX`] (not an adapter) | `/dm-master/shardddl-pessimism/` | – | – | every pessimism key: one watch sees Infos and Operations in revision order |
//! | [`OPTIMISM_PREFIX`] (not an adapter) | `/dm-master/shardddl-optimism/` | – | – | every optimism key, likewise |
//! | election (not hex) | `/dm-master/leader/` | – | lease ID as lowercase hex | `{"id":…,"addr":…}` |
//! | cluster ID (not hex) | `/dm-cluster/id` | – | – | 8 bytes, big-endian `u64` |
//!
//! Invariants:
//! - With exactly `arity` parts an adapter yields a *full key* (no trailing
//!   `/`), used for point get/put/delete/watch.
//! - With fewer parts it yields a *prefix* ending in `/`, used only for range
//!   reads and deletes. A full key is never used as a range prefix: `hex("mysql-1")`
//!   is a prefix of `hex("mysql-10")`.
//! - Empty parts vanish when joined (DM uses Go's `path.Join`), so keys with
//!   empty names are byte-identical to DM's and, like DM's, do not decode.
//! - A [`KeySpace`] namespace is prepended to every key. It is empty in
//!   production, so keys equal DM's; tests set a unique one to share one etcd.

use thiserror::Error;

/// DM's error code for `ErrDecodeEtcdKeyFail`.
pub const DECODE_ETCD_KEY_FAIL_CODE: i32 = 11110;

/// One of DM's hex key adapters: a prefix ending in `/` and a fixed number of
/// parts (`N`, DM's arity switch in `dm/common/common.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyAdapter<const N: usize> {
    prefix: &'static str,
}

/// `Encode(task, source)` → pessimism `Info`.
pub const PESSIMISM_INFO: KeyAdapter<2> = KeyAdapter::new("/dm-master/shardddl-pessimism/info/");
/// `Encode(task, source)` → pessimism `Operation`.
pub const PESSIMISM_OPERATION: KeyAdapter<2> =
    KeyAdapter::new("/dm-master/shardddl-pessimism/operation/");
/// `Encode(task, source)` → optimism `SourceTables`.
pub const OPTIMISM_SOURCE_TABLES: KeyAdapter<2> =
    KeyAdapter::new("/dm-master/shardddl-optimism/source-tables/");
/// `Encode(task, source, up_schema, up_table)` → optimism `Info`.
pub const OPTIMISM_INFO: KeyAdapter<4> = KeyAdapter::new("/dm-master/shardddl-optimism/info/");
/// `Encode(task, source, up_schema, up_table)` → optimism `Operation`.
pub const OPTIMISM_OPERATION: KeyAdapter<4> =
    KeyAdapter::new("/dm-master/shardddl-optimism/operation/");
/// `Encode(lock_id, column, source, up_schema, up_table)` → `DropColumnStage`.
pub const OPTIMISM_DROPPED_COLUMNS: KeyAdapter<5> =
    KeyAdapter::new("/dm-master/shardddl-optimism/dropped-columns/");
/// `Encode(task, down_schema, down_table)`: written by DM before v2.0 and no
/// longer read by anyone. Kept so old clusters can be pruned.
pub const OPTIMISM_INIT_SCHEMA: KeyAdapter<3> =
    KeyAdapter::new("/dm-master/shardddl-optimism/init-schema/");
/// `Encode(source, task)` → subtask config. Note the part order: source first.
pub const UPSTREAM_SUBTASK: KeyAdapter<2> = KeyAdapter::new("/dm-master/upstream/subtask/");

/// `Encode(worker)` → `WorkerInfo`, written by RegisterWorker.
pub const WORKER_REGISTER: KeyAdapter<1> = KeyAdapter::new("/dm-worker/r/");
/// `Encode(worker)` → keep-alive `WorkerEvent`, put by the worker under its
/// own lease; the master only reads and watches it.
pub const WORKER_KEEP_ALIVE: KeyAdapter<1> = KeyAdapter::new("/dm-worker/a/");
/// `Encode(source)` → source config TOML (DM v2.0.2 and later).
pub const UPSTREAM_CONFIG: KeyAdapter<1> = KeyAdapter::new("/dm-master/v2/upstream/config/");
/// `Encode(worker)` → `SourceBound` the worker serves now.
pub const BOUND_WORKER: KeyAdapter<1> = KeyAdapter::new("/dm-master/bound-worker/");
/// `Encode(worker)` → the worker's last `SourceBound`, kept across unbinds.
pub const LAST_BOUND_WORKER: KeyAdapter<1> = KeyAdapter::new("/dm-master/last-bound-worker/");
/// `Encode(worker)` → raw source ID the worker pulls relay for.
pub const RELAY_WORKER: KeyAdapter<1> = KeyAdapter::new("/dm-master/relay-worker/");
/// `Encode(source)` → expected relay `Stage`.
pub const STAGE_RELAY: KeyAdapter<1> = KeyAdapter::new("/dm-master/v2/stage/relay/");
/// `Encode(source, task)` → expected subtask `Stage`. Source first.
pub const STAGE_SUBTASK: KeyAdapter<2> = KeyAdapter::new("/dm-master/stage/subtask/");
/// `Encode(source, task)` → expected validator `Stage`. Source first.
pub const STAGE_VALIDATOR: KeyAdapter<2> = KeyAdapter::new("/dm-master/stage/validator/");
/// `Encode(task, source)` → worker holding the dump files. Task first.
pub const LOAD_TASK: KeyAdapter<2> = KeyAdapter::new("/dm-master/load-task/");
/// `Encode(task, source)` → physical-import coordination state. Task first.
pub const LIGHTNING_COORD: KeyAdapter<2> = KeyAdapter::new("/dm-master/lightning-coord/");
/// `Encode(task, source)` → `TaskCliArgs`. Task first.
pub const TASK_CLI_ARGS: KeyAdapter<2> = KeyAdapter::new("/dm-master/task-cli-args/");
/// `Encode(task)` → OpenAPI task template.
pub const OPENAPI_TASK_TEMPLATE: KeyAdapter<1> =
    KeyAdapter::new("/dm-master/openapi-task-template/");
/// Common prefix of every pessimism adapter: one watch over it delivers
/// Infos and Operations in one revision order.
pub const PESSIMISM_PREFIX: &str = "/dm-master/shardddl-pessimism/";
/// Common prefix of every optimism adapter: one watch over it delivers
/// SourceTables, Infos, Operations and dropped columns in revision order.
pub const OPTIMISM_PREFIX: &str = "/dm-master/shardddl-optimism/";

/// Prefix of the election candidates' keys (etcd `concurrency.Election`).
pub const LEADER_PREFIX: &str = "/dm-master/leader/";
/// Key holding the 8-byte cluster ID.
pub const CLUSTER_ID_KEY: &str = "/dm-cluster/id";

/// Why an etcd key could not be decoded. Every message starts like DM's
/// `ErrDecodeEtcdKeyFail` (`fail to decode etcd key: ...`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// The key is not under the namespace and the adapter's prefix. DM would
    /// strip nothing and usually fail on the arity instead; we say why.
    #[error("fail to decode etcd key: the key {key} is not under {prefix}")]
    WrongPrefix { prefix: String, key: String },
    /// The key does not have exactly `expected` parts (a range prefix, or a key
    /// with an empty part, which DM's encoding drops).
    #[error("fail to decode etcd key: decoder is {prefix}, the key is {key}")]
    WrongArity {
        prefix: String,
        key: String,
        expected: usize,
        found: usize,
    },
    /// A part is not valid hex. `reason` is Go's `encoding/hex` message.
    #[error("fail to decode etcd key: {reason}")]
    BadHex {
        key: String,
        part: usize,
        reason: String,
    },
    /// A part's bytes are not UTF-8. Go would keep them in a `string`; a Rust
    /// `String` cannot, and DM never writes such names.
    #[error("fail to decode etcd key: part {part} of the key {key} is not valid UTF-8")]
    NonUtf8Part { key: String, part: usize },
}

impl KeyError {
    /// DM's error code (`ErrDecodeEtcdKeyFail`).
    pub fn code(&self) -> i32 {
        DECODE_ETCD_KEY_FAIL_CODE
    }
}

impl<const N: usize> KeyAdapter<N> {
    const fn new(prefix: &'static str) -> Self {
        Self { prefix }
    }

    /// The raw prefix, ending in `/` (DM's `Path()`).
    pub fn path(&self) -> &'static str {
        self.prefix
    }

    /// Number of parts of a full key.
    pub fn arity(&self) -> usize {
        N
    }

    /// Full key for exactly `N` parts, no trailing `/` (DM's `Encode` with all
    /// parts), without namespace.
    pub fn key(&self, parts: [&str; N]) -> String {
        let mut out = self.join(&parts);
        // Every part empty: Go's path.Join leaves the prefix without its `/`,
        // and DM adds none back because the part count equals the arity.
        if out.is_empty() {
            out.push_str(self.prefix.trim_end_matches('/'));
        }
        out
    }

    /// Range prefix for the given leading parts, always ending in `/`, without
    /// namespace. With fewer than `N` parts this equals DM's `Encode`; zero
    /// parts give [`Self::path`].
    ///
    /// Deliberately unlike DM: with `N` or more parts DM returns the bare full
    /// key, which as a range prefix also matches `mysql-10` when asked for
    /// `mysql-1` (DM gap K1). Here the result still ends in `/`, so it
    /// matches only keys strictly below it.
    pub fn prefix(&self, parts: &[&str]) -> String {
        let mut out = self.join(parts);
        if out.is_empty() {
            out.push_str(self.prefix.trim_end_matches('/'));
        }
        out.push('/');
        out
    }

    /// Decode a full key (without namespace) into its `N` parts. Like DM, one
    /// trailing `/` is ignored, so a prefix with `N` parts decodes too.
    pub fn decode(&self, key: &[u8]) -> Result<[String; N], KeyError> {
        let shown = || String::from_utf8_lossy(key).into_owned();
        let trimmed = key.strip_suffix(b"/").unwrap_or(key);
        let rest = trimmed
            .strip_prefix(self.prefix.as_bytes())
            .ok_or_else(|| KeyError::WrongPrefix {
                prefix: self.prefix.to_owned(),
                key: shown(),
            })?;
        // Split into the array directly (no Vec per key: a cold start
        // decodes every key).
        let mut split = rest.split(|b| *b == b'/');
        let mut pieces: [&[u8]; N] = [&[]; N];
        let mut found = 0;
        for piece in split.by_ref().take(N) {
            pieces[found] = piece;
            found += 1;
        }
        let extra = split.next().map_or(0, |_| 1 + split.count());
        if found < N || extra > 0 {
            return Err(KeyError::WrongArity {
                prefix: self.prefix.to_owned(),
                key: shown(),
                expected: N,
                found: found + extra,
            });
        }
        let mut out: [String; N] = std::array::from_fn(|_| String::new());
        for (part, (slot, piece)) in out.iter_mut().zip(pieces).enumerate() {
            let bytes = decode_go_hex(piece).map_err(|reason| KeyError::BadHex {
                key: shown(),
                part,
                reason,
            })?;
            *slot = String::from_utf8(bytes)
                .map_err(|_| KeyError::NonUtf8Part { key: shown(), part })?;
        }
        Ok(out)
    }

    /// Prefix without its trailing `/`, then `/hex` for each non-empty part.
    /// Returns an empty string when no part is non-empty (callers decide how
    /// the bare prefix ends).
    fn join(&self, parts: &[&str]) -> String {
        if parts.iter().all(|p| p.is_empty()) {
            return String::new();
        }
        let mut out = String::with_capacity(
            self.prefix.len() + parts.iter().map(|p| 2 * p.len() + 1).sum::<usize>(),
        );
        out.push_str(self.prefix.trim_end_matches('/'));
        for part in parts.iter().filter(|p| !p.is_empty()) {
            out.push('/');
            out.push_str(&hex::encode(part));
        }
        out
    }
}

/// The namespace in which all keys live. Empty by default, so keys are DM's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct KeySpace {
    /// Prepended verbatim to every key, e.g. `/t42` gives
    /// `/t42/dm-master/...`. Two namespaces that share etcd must not be
    /// prefixes of one another's keys, so give them distinct path segments.
    namespace: String,
}

impl KeySpace {
    /// A key space whose keys all start with `namespace`.
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
        }
    }

    /// The namespace prepended to every key.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Namespaced [`KeyAdapter::path`].
    pub fn path<const N: usize>(&self, adapter: &KeyAdapter<N>) -> String {
        format!("{}{}", self.namespace, adapter.path())
    }

    /// Namespaced [`KeyAdapter::key`].
    pub fn key<const N: usize>(&self, adapter: &KeyAdapter<N>, parts: [&str; N]) -> String {
        format!("{}{}", self.namespace, adapter.key(parts))
    }

    /// Namespaced [`KeyAdapter::prefix`].
    pub fn prefix<const N: usize>(&self, adapter: &KeyAdapter<N>, parts: &[&str]) -> String {
        format!("{}{}", self.namespace, adapter.prefix(parts))
    }

    /// Whether `key` lies under `adapter`'s path in this namespace. It
    /// allocates nothing, so a caller can tell kinds of key apart before
    /// decoding: a failed [`KeySpace::decode`] builds its error's text.
    pub fn holds<const N: usize>(&self, adapter: &KeyAdapter<N>, key: &[u8]) -> bool {
        key.strip_prefix(self.namespace.as_bytes())
            .is_some_and(|rest| rest.starts_with(adapter.path().as_bytes()))
    }

    /// [`KeySpace::decode`] for a caller that tries one kind of key after
    /// another and skips what does not decode: a key of another kind costs
    /// only the prefix check.
    pub fn decode_if_held<const N: usize>(
        &self,
        adapter: &KeyAdapter<N>,
        key: &[u8],
    ) -> Option<[String; N]> {
        if !self.holds(adapter, key) {
            return None;
        }
        self.decode(adapter, key).ok()
    }

    /// Strip the namespace, then [`KeyAdapter::decode`].
    pub fn decode<const N: usize>(
        &self,
        adapter: &KeyAdapter<N>,
        key: &[u8],
    ) -> Result<[String; N], KeyError> {
        let rest =
            key.strip_prefix(self.namespace.as_bytes())
                .ok_or_else(|| KeyError::WrongPrefix {
                    prefix: self.path(adapter),
                    key: String::from_utf8_lossy(key).into_owned(),
                })?;
        // Report the key and prefix the caller sees, namespace included.
        let full_key = || String::from_utf8_lossy(key).into_owned();
        adapter.decode(rest).map_err(|e| match e {
            KeyError::WrongPrefix { .. } => KeyError::WrongPrefix {
                prefix: self.path(adapter),
                key: full_key(),
            },
            KeyError::WrongArity {
                expected, found, ..
            } => KeyError::WrongArity {
                prefix: self.path(adapter),
                key: full_key(),
                expected,
                found,
            },
            KeyError::BadHex { part, reason, .. } => KeyError::BadHex {
                key: full_key(),
                part,
                reason,
            },
            KeyError::NonUtf8Part { part, .. } => KeyError::NonUtf8Part {
                key: full_key(),
                part,
            },
        })
    }

    /// Range prefix of every pessimism key ([`PESSIMISM_PREFIX`]).
    pub fn pessimism_prefix(&self) -> String {
        format!("{}{}", self.namespace, PESSIMISM_PREFIX)
    }

    /// Range prefix of every optimism key ([`OPTIMISM_PREFIX`]).
    pub fn optimism_prefix(&self) -> String {
        format!("{}{}", self.namespace, OPTIMISM_PREFIX)
    }

    /// Key of a pessimism Info ([`PESSIMISM_INFO`]).
    pub fn pessimism_info(&self, task: &str, source: &str) -> String {
        self.key(&PESSIMISM_INFO, [task, source])
    }

    /// Key of a pessimism Operation ([`PESSIMISM_OPERATION`]).
    pub fn pessimism_operation(&self, task: &str, source: &str) -> String {
        self.key(&PESSIMISM_OPERATION, [task, source])
    }

    /// Key of a source's SourceTables ([`OPTIMISM_SOURCE_TABLES`]).
    pub fn optimism_source_tables(&self, task: &str, source: &str) -> String {
        self.key(&OPTIMISM_SOURCE_TABLES, [task, source])
    }

    /// Key of an optimism Info ([`OPTIMISM_INFO`]).
    pub fn optimism_info(&self, task: &str, table: &TableKey) -> String {
        self.key(
            &OPTIMISM_INFO,
            [task, &table.source, &table.schema, &table.table],
        )
    }

    /// Key of an optimism Operation ([`OPTIMISM_OPERATION`]).
    pub fn optimism_operation(&self, task: &str, table: &TableKey) -> String {
        self.key(
            &OPTIMISM_OPERATION,
            [task, &table.source, &table.schema, &table.table],
        )
    }

    /// Key of one table's dropped-column record ([`OPTIMISM_DROPPED_COLUMNS`]).
    pub fn optimism_dropped_column(&self, lock_id: &str, column: &str, table: &TableKey) -> String {
        self.key(
            &OPTIMISM_DROPPED_COLUMNS,
            [lock_id, column, &table.source, &table.schema, &table.table],
        )
    }

    /// Range prefix of all election candidates (`/dm-master/leader/`).
    ///
    /// DM's `LeaderInfo` ranges over `/dm-master/leader` without the slash,
    /// which would also match unrelated keys such as `/dm-master/leaderX`; the
    /// candidates all live under the slash form.
    pub fn leader_prefix(&self) -> String {
        format!("{}{}", self.namespace, LEADER_PREFIX)
    }

    /// The candidate key of the session with this lease: Go's `%x` of the
    /// `int64` lease ID (lowercase, no padding, `-` for negatives).
    pub fn leader_key(&self, lease_id: i64) -> String {
        let sign = if lease_id < 0 { "-" } else { "" };
        format!(
            "{}{}{}{:x}",
            self.namespace,
            LEADER_PREFIX,
            sign,
            lease_id.unsigned_abs()
        )
    }

    /// Key holding the cluster ID (`/dm-cluster/id`).
    pub fn cluster_id_key(&self) -> String {
        format!("{}{}", self.namespace, CLUSTER_ID_KEY)
    }
}

/// One upstream table of an optimistic lock: (source, upstream schema,
/// upstream table), the last three parts of its Info and Operation keys.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableKey {
    pub source: String,
    pub schema: String,
    pub table: String,
}

impl TableKey {
    pub fn new(source: &str, schema: &str, table: &str) -> TableKey {
        TableKey {
            source: source.to_owned(),
            schema: schema.to_owned(),
            table: table.to_owned(),
        }
    }

    /// DM's owner string for show-ddl-locks: ``source-`schema`.`table` ``.
    pub fn owner_string(&self) -> String {
        lock_id(&self.source, &self.schema, &self.table)
    }
}

/// DM's lock ID: `task-` followed by TiDB's `dbutil.TableName(schema, table)`,
/// i.e. both names backtick-quoted with inner backticks doubled
/// (`dm/pkg/utils/common.go` GenDDLLockID).
pub fn lock_id(task: &str, schema: &str, table: &str) -> String {
    // Built in place: a cold start computes one per stored Info.
    let mut id = String::with_capacity(task.len() + schema.len() + table.len() + 6);
    id.push_str(task);
    id.push_str("-`");
    push_backquoted(&mut id, schema);
    id.push_str("`.`");
    push_backquoted(&mut id, table);
    id.push('`');
    id
}

/// `name` with each backquote doubled (MySQL's quoting inside backquotes).
fn push_backquoted(out: &mut String, name: &str) {
    let mut parts = name.split('`');
    out.push_str(parts.next().unwrap_or_default());
    for part in parts {
        out.push_str("``");
        out.push_str(part);
    }
}

/// The three groups DM's lock-ID regex captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedLockId {
    pub task: String,
    /// As captured: inner backticks stay doubled, as in DM.
    pub schema: String,
    /// As captured: inner backticks stay doubled, as in DM.
    pub table: String,
}

/// Parse a lock ID the way DM does (`ExtractTaskFromLockID` and
/// `ExtractDBAndTableFromLockID`): Go's `regexp` ``(.*)\-\`(.*)\`.\`(.*)\` ``
/// with `FindStringSubmatch`. That is an unanchored, leftmost, greedy
/// (backtracking-priority) match in which `.` matches any character but `\n`.
/// `None` where DM gets no match (and returns empty names).
///
/// The captured names are not unquoted, and because every group is greedy an
/// ID whose names contain `` `.` `` or ``-` `` splits where the regex says, not
/// where [`lock_id`] joined: both exactly as in DM.
pub fn parse_lock_id(id: &str) -> Option<ParsedLockId> {
    // No group can span a newline, so the whole match sits on one line; and
    // since group 1 can absorb any prefix of that line, the leftmost match
    // starts at the start of the first line that has a match.
    id.split('\n').find_map(parse_lock_id_line)
}

fn parse_lock_id_line(line: &str) -> Option<ParsedLockId> {
    let bytes = line.as_bytes();
    // Group 1 is greedy: try the last `-` first.
    for i in (0..bytes.len()).rev() {
        if bytes[i] != b'-' || bytes.get(i + 1) != Some(&b'`') {
            continue;
        }
        let g2_start = i + 2;
        // Group 2 is greedy: try the last closing backtick first.
        for j in (g2_start..bytes.len()).rev() {
            if bytes[j] != b'`' {
                continue;
            }
            // `.` matches exactly one character (never `\n`, absent here).
            let Some(dot) = line[j + 1..].chars().next() else {
                continue;
            };
            let open = j + 1 + dot.len_utf8();
            if bytes.get(open) != Some(&b'`') {
                continue;
            }
            let g3_start = open + 1;
            // Group 3 is greedy and nothing follows its closing backtick, so
            // it ends at the last backtick of the line, if any.
            let Some(k) = line[g3_start..].rfind('`') else {
                continue;
            };
            return Some(ParsedLockId {
                task: line[..i].to_owned(),
                schema: line[g2_start..j].to_owned(),
                table: line[g3_start..g3_start + k].to_owned(),
            });
        }
    }
    None
}

/// Go's `hex.DecodeString`: either case is accepted; an invalid byte is
/// reported before an odd length, with Go's messages (what DM prints for
/// any hex it reads: keys, secret key files).
pub fn decode_go_hex(s: &[u8]) -> Result<Vec<u8>, String> {
    // A table lookup per digit: a cold start decodes every key, and the
    // `hex` crate's iterator-based decode was a tenth of a rebuild's CPU.
    // Only a failure scans again, for Go's message (the first invalid byte,
    // else the odd length).
    let pairs = s.chunks_exact(2);
    if pairs.remainder().is_empty() {
        let mut out = Vec::with_capacity(s.len() / 2);
        for pair in pairs {
            let (high, low) = (HEX_DIGIT[pair[0] as usize], HEX_DIGIT[pair[1] as usize]);
            if (high | low) > 0x0f {
                return Err(go_hex_error(s));
            }
            out.push(high << 4 | low);
        }
        return Ok(out);
    }
    Err(go_hex_error(s))
}

/// The value of each hex digit of either case; `0xff` for any other byte.
const HEX_DIGIT: [u8; 256] = {
    let mut table = [0xff; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        table[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Go's error for hex that does not decode: the first invalid byte, else
/// the odd length.
fn go_hex_error(s: &[u8]) -> String {
    match s.iter().find(|b| !b.is_ascii_hexdigit()) {
        Some(&bad) => go_invalid_byte(bad),
        None => "encoding/hex: odd length hex string".to_owned(),
    }
}

/// Go's `InvalidByteError` text: `%#U` of the byte as a rune, which quotes the
/// character only when Go considers it printable.
fn go_invalid_byte(b: u8) -> String {
    let printable = matches!(b, 0x20..=0x7e | 0xa1..=0xff) && b != 0xad;
    if printable {
        format!(
            "encoding/hex: invalid byte: U+{:04X} '{}'",
            b,
            char::from(b)
        )
    } else {
        format!("encoding/hex: invalid byte: U+{b:04X}")
    }
}

#[cfg(test)]
mod tests;
