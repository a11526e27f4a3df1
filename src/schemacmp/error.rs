//! The incompatibility error and the Go formatting it needs.
//!
//! PURE: no async, no I/O.
//!
//! [`Incompatible`] is structured (a kind plus the path of tuple indexes and
//! map keys leading to it) and renders TiDB's exact text on demand, e.g.
//! `at tuple index 2: at map key "c": at tuple index 3: at tuple index 0:
//! incompatible mysql type (3 vs 5)`. DM shows that text to users, so it must
//! match TiDB's byte for byte.

use std::fmt;

/// Why two lattice values have no order (compare) or no upper bound (join).
#[derive(Clone, PartialEq, Eq)]
pub struct Incompatible(Box<Inner>);

#[derive(Clone, PartialEq, Eq)]
struct Inner {
    kind: IncompatibleKind,
    /// Innermost segment first, so wrapping on the way out is a push.
    path: Vec<PathSegment>,
}

/// One step of the path from the outer value to the clash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSegment {
    /// `at tuple index N: `
    TupleIndex(usize),
    /// `at map key "K": ` (column or index name)
    MapKey(String),
}

/// The clash itself. Values are kept as TiDB prints them with `%v`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IncompatibleKind {
    /// Two values of different lattice kinds (Go `%T` names).
    TypeMismatch {
        /// Go type name of the left value.
        left: &'static str,
        /// Go type name of the right value.
        right: &'static str,
    },
    /// Tuples of different lengths.
    TupleLength {
        /// Left length.
        left: usize,
        /// Right length.
        right: usize,
    },
    /// Two different unordered values.
    DistinctSingletons {
        /// Left value, as Go's `%v` prints it.
        left: String,
        /// Right value, as Go's `%v` prints it.
        right: String,
    },
    /// MySQL type codes outside one ordered family.
    MysqlType {
        /// Left type code.
        left: u8,
        /// Right type code.
        right: u8,
    },
    /// Charsets outside the latin1/utf8 → utf8mb4 ladder.
    Charset {
        /// Left charset as written.
        left: String,
        /// Right charset as written.
        right: String,
    },
    /// Collations with different suffixes or outside the ladder.
    Collation {
        /// Left collation as written.
        left: String,
        /// Right collation as written.
        right: String,
    },
    /// Neither bit set contains the other.
    NonInclusiveBitSets {
        /// Left bits.
        left: u64,
        /// Right bits.
        right: u64,
    },
    /// One component is larger and another smaller.
    ContradictingOrders {
        /// Order accumulated so far (-1 or 1).
        left: i8,
        /// Order of the next component (-1 or 1).
        right: i8,
    },
    /// String lists differ at a position both have.
    StringList {
        /// First differing position.
        index: usize,
        /// Left member.
        left: String,
        /// Right member.
        right: String,
    },
    /// The join would leave an AUTO_INCREMENT column outside every key.
    AutoTypeWithoutKey,
    /// A NOT NULL column without default exists on one side only.
    MissingColumnWithoutDefault,
}

impl Incompatible {
    /// A bare error (no path yet).
    pub fn new(kind: IncompatibleKind) -> Self {
        Incompatible(Box::new(Inner {
            kind,
            path: Vec::new(),
        }))
    }

    /// What clashed.
    pub fn kind(&self) -> &IncompatibleKind {
        &self.0.kind
    }

    /// Where it clashed, outermost segment first.
    pub fn path(&self) -> impl Iterator<Item = &PathSegment> + '_ {
        self.0.path.iter().rev()
    }

    /// The column the error is about, when it is inside the column map of a
    /// table (`at tuple index 2: at map key "c": ...`) or is the table's
    /// AUTO_INCREMENT check (`at map key "c": ...`).
    pub fn column(&self) -> Option<&str> {
        let mut path = self.path();
        match (path.next(), path.next()) {
            (Some(PathSegment::TupleIndex(2)), Some(PathSegment::MapKey(name))) => Some(name),
            (Some(PathSegment::MapKey(name)), _) => Some(name),
            _ => None,
        }
    }

    pub(crate) fn at_tuple_index(mut self, index: usize) -> Self {
        self.0.path.push(PathSegment::TupleIndex(index));
        self
    }

    pub(crate) fn at_map_key(mut self, key: &str) -> Self {
        self.0.path.push(PathSegment::MapKey(key.to_owned()));
        self
    }
}

impl fmt::Display for Incompatible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for segment in self.path() {
            match segment {
                PathSegment::TupleIndex(i) => write!(f, "at tuple index {i}: ")?,
                PathSegment::MapKey(k) => write!(f, "at map key {}: ", go_quote(k))?,
            }
        }
        fmt::Display::fmt(&self.0.kind, f)
    }
}

impl fmt::Debug for Incompatible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Incompatible({self})")
    }
}

impl std::error::Error for Incompatible {}

impl fmt::Display for IncompatibleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IncompatibleKind::TypeMismatch { left, right } => {
                write!(f, "type mismatch ({left} vs {right})")
            }
            IncompatibleKind::TupleLength { left, right } => {
                write!(f, "tuple length mismatch ({left} vs {right})")
            }
            IncompatibleKind::DistinctSingletons { left, right } => {
                write!(f, "distinct singletons ({left} vs {right})")
            }
            IncompatibleKind::MysqlType { left, right } => {
                write!(f, "incompatible mysql type ({left} vs {right})")
            }
            IncompatibleKind::Charset { left, right } => {
                write!(f, "incompatible mysql charset ({left} vs {right})")
            }
            IncompatibleKind::Collation { left, right } => {
                write!(f, "incompatible mysql collation ({left} vs {right})")
            }
            IncompatibleKind::NonInclusiveBitSets { left, right } => {
                write!(f, "non-inclusive bit sets ({left:#x} vs {right:#x})")
            }
            IncompatibleKind::ContradictingOrders { left, right } => {
                write!(f, "combining contradicting orders ({left} && {right})")
            }
            IncompatibleKind::StringList { index, left, right } => write!(
                f,
                "at string list index {index}: distinct values ({} vs {})",
                go_quote(left),
                go_quote(right)
            ),
            IncompatibleKind::AutoTypeWithoutKey => {
                f.write_str("auto type but not defined as a key")
            }
            IncompatibleKind::MissingColumnWithoutDefault => {
                f.write_str("column with no default value cannot be missing")
            }
        }
    }
}

/// Go's `%q` / `strconv.Quote`: double quotes, backslash escapes, and
/// `\x`/`\u`/`\U` escapes for characters Go does not consider printable.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if go_is_print(c) => out.push(c),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Approximates Go's `unicode.IsPrint`: the ASCII space is printable; other
/// spaces, controls, private-use and the common invisible format characters
/// are not. (Unassigned code points, which Go also escapes, are printed.)
fn go_is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(
        c,
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e000}'..='\u{f8ff}'
            | '\u{e0000}'..='\u{e007f}'
            | '\u{f0000}'..='\u{10ffff}'
    )
}

/// Go's `%v` for a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): the
/// shortest round-trip digits, in exponent form when the exponent is below
/// -4 or at least 6 (`1e+06`, `1.5e-05`, `123456`).
pub(crate) fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // Rust's `{:e}` yields the shortest round-trip digits, e.g. `-1.25e-7`.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}{dot}{rest}e{exp_sign}{:02}", exponent.abs());
    }
    // Plain notation: the decimal point sits after `exponent + 1` digits.
    let point = exponent + 1;
    let body = if point <= 0 {
        let zeros = usize::try_from(-point).unwrap_or(0);
        format!("0.{}{digits}", "0".repeat(zeros))
    } else {
        let point = usize::try_from(point).unwrap_or(0);
        if digits.len() <= point {
            format!("{digits}{}", "0".repeat(point - digits.len()))
        } else {
            let (int, frac) = digits.split_at(point);
            format!("{int}.{frac}")
        }
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests;
