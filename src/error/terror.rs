//! DM's error string (`dm/pkg/terror`), built in one place, and the errors
//! both shard modes share.
//!
//! PURE: no async, no I/O; the mode cores (`pessimism`, `optimism`) import
//! it without pulling in anything that talks to etcd.

use std::fmt;

/// Workaround of ErrMasterLockNotFound.
const WORKAROUND_LOCK_ID: &str = "Please use show-ddl-locks command to see lock id.";

/// The parts of one DM error, as `terror.Error` holds them.
#[derive(Debug, Clone, Copy)]
pub struct TError<'a> {
    pub code: i32,
    pub class: &'a str,
    pub level: &'a str,
    pub raw_cause: Option<&'a str>,
    pub workaround: &'a str,
}

impl TError<'_> {
    /// DM's `err.Error()`, as dmctl shows it and a worker reads it:
    /// `[code=N:class=C:scope=internal:level=L], Message: M[, RawCause: R][, Workaround: W]`.
    pub fn format(&self, message: impl fmt::Display) -> String {
        let mut out = format!(
            "[code={}:class={}:scope=internal:level={}], Message: {message}",
            self.code, self.class, self.level
        );
        if let Some(cause) = self.raw_cause {
            out.push_str(", RawCause: ");
            out.push_str(cause);
        }
        if !self.workaround.is_empty() {
            out.push_str(", Workaround: ");
            out.push_str(self.workaround);
        }
        out
    }
}

/// ErrMasterLockNotFound (38019): no lock with this ID, in either mode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lock with ID {lock_id} not found")]
pub struct LockNotFound {
    pub lock_id: String,
}

impl LockNotFound {
    pub const CODE: i32 = 38019;
    pub const WORKAROUND: &'static str = WORKAROUND_LOCK_ID;

    pub fn new(lock_id: impl Into<String>) -> LockNotFound {
        LockNotFound {
            lock_id: lock_id.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_string_has_dm_layout_with_optional_parts() {
        let plain = TError {
            code: 38043,
            class: "dm-master",
            level: "high",
            raw_cause: None,
            workaround: "",
        };
        assert_eq!(
            plain.format("master is not leader, and can't forward request to leader"),
            "[code=38043:class=dm-master:scope=internal:level=high], Message: master is not leader, and can't forward request to leader"
        );
        let full = TError {
            raw_cause: Some("c"),
            workaround: "w",
            ..plain
        };
        assert_eq!(
            full.format("m"),
            "[code=38043:class=dm-master:scope=internal:level=high], Message: m, RawCause: c, Workaround: w"
        );
    }
}
