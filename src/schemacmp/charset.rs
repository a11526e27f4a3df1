//! Charset and collation lattices (TiDB `charset_collation.go`): the only
//! ordered conversions are latin1 → utf8mb4 and utf8 (utf8mb3) → utf8mb4,
//! for collations only between names with the same suffix.
//!
//! PURE: no async, no I/O.
//!
//! Both keep the string as written: messages and joins show the original
//! (`UTF8MB3` joined with `utf8` stays `UTF8MB3`), while ordering uses the
//! normalised family. Known asymmetry kept from TiDB: two "other" charsets
//! compare case-sensitively, two "other" collations case-insensitively.
//!
//! This follows the TiDB version pinned by DM, where latin1 and utf8 have no
//! join; later TiDB versions join them to utf8mb4.

use std::cmp::Ordering;

use super::error::{Incompatible, IncompatibleKind};
use super::lattice::Lattice;

/// Which rung of the ladder a charset or collation is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Family {
    Other,
    Latin1,
    Utf8,
    Utf8mb4,
}

/// Order between two families, `None` when unordered (including two
/// different "other" values, which callers decide).
fn family_order(a: Family, b: Family) -> Option<Ordering> {
    use Family::*;
    match (a, b) {
        _ if a == b => Some(Ordering::Equal),
        (Utf8 | Latin1, Utf8mb4) => Some(Ordering::Less),
        (Utf8mb4, Utf8 | Latin1) => Some(Ordering::Greater),
        _ => None,
    }
}

/// A table or column charset.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Charset {
    value: String,
    family: Family,
}

impl Charset {
    /// Classifies `cs` (case-insensitive; `utf8mb3` is `utf8`).
    pub fn new(cs: &str) -> Self {
        let normalized = cs.to_lowercase();
        let family = match normalized.as_str() {
            "latin1" => Family::Latin1,
            "utf8" | "utf8mb3" => Family::Utf8,
            "utf8mb4" => Family::Utf8mb4,
            _ => Family::Other,
        };
        Charset {
            value: cs.to_owned(),
            family,
        }
    }

    /// The charset as written.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    fn error(&self, other: &Self) -> Incompatible {
        Incompatible::new(IncompatibleKind::Charset {
            left: self.value.clone(),
            right: other.value.clone(),
        })
    }
}

impl Lattice for Charset {
    fn compare(&self, other: &Self) -> Result<Ordering, Incompatible> {
        if self.family == Family::Other && other.family == Family::Other {
            // Deliberately case-sensitive, as in TiDB.
            return if self.value == other.value {
                Ok(Ordering::Equal)
            } else {
                Err(self.error(other))
            };
        }
        family_order(self.family, other.family).ok_or_else(|| self.error(other))
    }

    fn join(&self, other: &Self) -> Result<Self, Incompatible> {
        match self.compare(other)? {
            Ordering::Less => Ok(other.clone()),
            _ => Ok(self.clone()),
        }
    }
}

/// A table or column collation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Collation {
    value: String,
    family: Family,
    /// Part after the charset prefix, lower-case; the whole lower-case name
    /// for "other" collations.
    suffix: String,
}

impl Collation {
    /// Splits `co` into charset family and suffix (case-insensitive;
    /// `utf8mb3_` is `utf8_`).
    pub fn new(co: &str) -> Self {
        let mut normalized = co.to_lowercase();
        if let Some(rest) = normalized.strip_prefix("utf8mb3_") {
            normalized = format!("utf8_{rest}");
        }
        let (family, suffix) = if let Some(rest) = normalized.strip_prefix("utf8mb4_") {
            (Family::Utf8mb4, rest.to_owned())
        } else if let Some(rest) = normalized.strip_prefix("utf8_") {
            (Family::Utf8, rest.to_owned())
        } else if let Some(rest) = normalized.strip_prefix("latin1_") {
            (Family::Latin1, rest.to_owned())
        } else {
            (Family::Other, normalized)
        };
        Collation {
            value: co.to_owned(),
            family,
            suffix,
        }
    }

    /// The collation as written.
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

impl Lattice for Collation {
    fn compare(&self, other: &Self) -> Result<Ordering, Incompatible> {
        let error = || {
            Incompatible::new(IncompatibleKind::Collation {
                left: self.value.clone(),
                right: other.value.clone(),
            })
        };
        if self.suffix != other.suffix {
            return Err(error());
        }
        family_order(self.family, other.family).ok_or_else(error)
    }

    fn join(&self, other: &Self) -> Result<Self, Incompatible> {
        match self.compare(other)? {
            Ordering::Less => Ok(other.clone()),
            _ => Ok(self.clone()),
        }
    }
}

#[cfg(test)]
mod tests;
