//! Go value syntaxes DM's configs carry as text: `time.Duration`
//! (parse and `String()`), docker go-units sizes (`RAMInBytes`), DM's
//! `ParseFileSize` and its time-zone check.
//!
//! PURE: no I/O. The one place DM reads the system (the IANA time-zone
//! database) is approximated by a shape check, see [`check_timezone`].

use std::fmt;
use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::ConfigError;

const NANOS_PER_MICRO: i128 = 1_000;
const NANOS_PER_MILLI: i128 = 1_000_000;
const NANOS_PER_SECOND: i128 = 1_000_000_000;
const NANOS_PER_MINUTE: i128 = 60 * NANOS_PER_SECOND;
const NANOS_PER_HOUR: i128 = 60 * NANOS_PER_MINUTE;

/// A Go `time.Duration` (nanoseconds) written as its `String()` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct GoDuration(pub i64);

impl GoDuration {
    pub const fn from_secs(secs: i64) -> GoDuration {
        GoDuration(secs * 1_000_000_000)
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Go's `time.ParseDuration`, with its error texts.
    pub fn parse(text: &str) -> Result<GoDuration, String> {
        let invalid = || format!("time: invalid duration {}", go_quote(text));
        let mut rest = text;
        let mut negative = false;
        if let Some(r) = rest.strip_prefix('-') {
            negative = true;
            rest = r;
        } else if let Some(r) = rest.strip_prefix('+') {
            rest = r;
        }
        if rest == "0" {
            return Ok(GoDuration(0));
        }
        if rest.is_empty() {
            return Err(invalid());
        }
        let mut total: i128 = 0;
        while !rest.is_empty() {
            let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            let (int_part, after) = rest.split_at(int_len);
            let (frac_part, after) = match after.strip_prefix('.') {
                Some(a) => {
                    let n = a.bytes().take_while(u8::is_ascii_digit).count();
                    a.split_at(n)
                }
                None => ("", after),
            };
            if int_part.is_empty() && frac_part.is_empty() {
                return Err(invalid());
            }
            let unit_len = after
                .char_indices()
                .find(|(_, c)| *c == '.' || c.is_ascii_digit())
                .map(|(i, _)| i)
                .unwrap_or(after.len());
            let (unit, after) = after.split_at(unit_len);
            if unit.is_empty() {
                return Err(format!("time: missing unit in duration {}", go_quote(text)));
            }
            let scale = match unit {
                "ns" => 1,
                "us" | "µs" | "μs" => NANOS_PER_MICRO,
                "ms" => NANOS_PER_MILLI,
                "s" => NANOS_PER_SECOND,
                "m" => NANOS_PER_MINUTE,
                "h" => NANOS_PER_HOUR,
                _ => {
                    return Err(format!(
                        "time: unknown unit {} in duration {}",
                        go_quote(unit),
                        go_quote(text)
                    ))
                }
            };
            let whole: i128 = if int_part.is_empty() {
                0
            } else {
                int_part.parse().map_err(|_| invalid())?
            };
            let mut value = whole.checked_mul(scale).ok_or_else(invalid)?;
            let mut frac_scale = scale;
            for digit in frac_part.bytes() {
                frac_scale /= 10;
                value += i128::from(digit - b'0') * frac_scale;
            }
            total = total.checked_add(value).ok_or_else(invalid)?;
            if total > i128::from(i64::MAX) + i128::from(negative) {
                return Err(invalid());
            }
            rest = after;
        }
        let signed = if negative { -total } else { total };
        Ok(GoDuration(signed as i64))
    }
}

impl fmt::Display for GoDuration {
    /// Go's `Duration.String()`: `0s`, `1.5ms`, `10s`, `5m0s`, `1h0m0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let negative = self.0 < 0;
        let mut u = i128::from(self.0).unsigned_abs();
        let sign = if negative { "-" } else { "" };
        if u == 0 {
            return f.write_str("0s");
        }
        if u < NANOS_PER_SECOND as u128 {
            let (unit, precision) = if u < NANOS_PER_MICRO as u128 {
                ("ns", 0)
            } else if u < NANOS_PER_MILLI as u128 {
                ("µs", 3)
            } else {
                ("ms", 6)
            };
            let (whole, frac) = split_fraction(u, precision);
            return write!(f, "{sign}{whole}{frac}{unit}");
        }
        let (seconds_total, frac) = split_fraction(u, 9);
        u = seconds_total;
        let seconds = u % 60;
        u /= 60;
        if u == 0 {
            return write!(f, "{sign}{seconds}{frac}s");
        }
        let minutes = u % 60;
        let hours = u / 60;
        if hours == 0 {
            write!(f, "{sign}{minutes}m{seconds}{frac}s")
        } else {
            write!(f, "{sign}{hours}h{minutes}m{seconds}{frac}s")
        }
    }
}

/// Splits `value` into its integer part and Go's fraction text (`.5`,
/// trailing zeros dropped, empty when zero) at `precision` decimal digits.
fn split_fraction(value: u128, precision: u32) -> (u128, String) {
    let scale = 10u128.pow(precision);
    let (whole, frac) = (value / scale, value % scale);
    if frac == 0 {
        return (whole, String::new());
    }
    let digits = format!("{frac:0width$}", width = precision as usize);
    (whole, format!(".{}", digits.trim_end_matches('0')))
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<GoDuration, D::Error> {
        let text = super::model::go_string(d)?;
        GoDuration::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Lightning's `ByteSize`: an integer, or a go-units size text in YAML and
/// TOML (`"10G"`); written as the integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ByteSize(pub i64);

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ByteSize, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(i) => Ok(ByteSize(i)),
            Raw::Text(t) => ram_in_bytes(&t)
                .map(ByteSize)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// docker go-units `RAMInBytes`: binary (1024-based) sizes such as `500m`,
/// `10G`, `1.5 KiB`; error `invalid size: '<text>'`.
pub fn ram_in_bytes(text: &str) -> Result<i64, String> {
    static SIZE: OnceLock<Regex> = OnceLock::new();
    let re = SIZE.get_or_init(|| {
        Regex::new(r"^(\d+(\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$").expect("static regex")
    });
    let invalid = || format!("invalid size: '{text}'");
    let caps = re.captures(text).ok_or_else(invalid)?;
    let number: f64 = caps[1].parse().map_err(|_| invalid())?;
    let multiplier: f64 = match caps.get(3).map(|m| m.as_str().to_ascii_lowercase()) {
        None => 1.0,
        Some(unit) => match unit.as_str() {
            "k" => 1024f64,
            "m" => 1024f64.powi(2),
            "g" => 1024f64.powi(3),
            "t" => 1024f64.powi(4),
            _ => 1024f64.powi(5),
        },
    };
    Ok((number * multiplier) as i64)
}

/// DM's `ParseFileSize` check for `chunk-filesize`: empty, a MiB count, or
/// a go-units size.
pub fn check_file_size(text: &str) -> Result<(), String> {
    if text.is_empty() || text.parse::<u64>().is_ok() {
        return Ok(());
    }
    ram_in_bytes(text).map(|_| ())
}

/// DM's `ParseTimeZone`: `SYSTEM`/`Local` refused; an offset must lie in
/// `-12:59`…`+14:00`. DM also accepts any name its IANA database knows;
/// without reading the system we accept names of IANA shape (`UTC`,
/// `Asia/Shanghai`, `Etc/GMT+8`).
pub fn check_timezone(tz: &str) -> Result<(), ConfigError> {
    if tz == "SYSTEM" || tz == "Local" {
        return Err(ConfigError::SystemTimezone);
    }
    let invalid = || ConfigError::InvalidTimezone {
        timezone: tz.to_string(),
    };
    if let Some(offset) = tz.strip_prefix('+').or_else(|| tz.strip_prefix('-')) {
        let (hours, minutes) = offset.split_once(':').ok_or_else(invalid)?;
        let ok_digits = |s: &str, max_len: usize| {
            !s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit())
        };
        if !ok_digits(hours, 2) || !ok_digits(minutes, 2) {
            return Err(invalid());
        }
        let (h, m): (u32, u32) = (
            hours.parse().map_err(|_| invalid())?,
            minutes.parse().map_err(|_| invalid())?,
        );
        if m >= 60 {
            return Err(invalid());
        }
        let limit = if tz.starts_with('-') {
            12 * 60 + 59
        } else {
            14 * 60
        };
        if h * 60 + m > limit {
            return Err(invalid());
        }
        return Ok(());
    }
    static IANA: OnceLock<Regex> = OnceLock::new();
    let re = IANA.get_or_init(|| {
        Regex::new(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*$").expect("static regex")
    });
    if re.is_match(tz) {
        Ok(())
    } else {
        Err(invalid())
    }
}

/// Go's `strconv.Quote` for the ASCII texts DM quotes in errors.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
