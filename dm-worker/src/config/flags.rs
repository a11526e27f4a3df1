//! DM-worker's command-line flags as Go's `flag` package reads them: the
//! flag table and its usage text, the scan of `-name x`, `--name x` and
//! `-name=x` with Go's errors, and each flag applied to a [`WorkerConfig`].

use std::fmt::Write as _;

use super::WorkerConfig;
use crate::error::{Error, Result};

/// The kind of value a flag takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Str,
    Int,
    /// Repeatable: every use appends (`-cert-allowed-cn`).
    List,
}

/// DM-worker's flags (`dm/worker/config.go` `NewConfig`).
const FLAGS: &[(&str, Kind)] = &[
    ("V", Kind::Bool),
    ("print-sample-config", Kind::Bool),
    ("config", Kind::Str),
    ("worker-addr", Kind::Str),
    ("advertise-addr", Kind::Str),
    ("L", Kind::Str),
    ("log-file", Kind::Str),
    ("log-format", Kind::Str),
    ("redact-info-log", Kind::Bool),
    ("join", Kind::Str),
    ("name", Kind::Str),
    ("keepalive-ttl", Kind::Int),
    ("relay-keepalive-ttl", Kind::Int),
    ("ssl-ca", Kind::Str),
    ("ssl-cert", Kind::Str),
    ("ssl-key", Kind::Str),
    ("cert-allowed-cn", Kind::List),
];

/// The worker's usage text for `-h`.
pub fn usage() -> String {
    let mut out = String::from("Usage of worker:\n");
    for (name, kind) in FLAGS {
        let arg = match kind {
            Kind::Bool => "",
            Kind::Str | Kind::List => " string",
            Kind::Int => " int",
        };
        let _ = writeln!(out, "  -{name}{arg}");
    }
    out
}

/// One flag as given on the command line, in order.
type FlagUse = (&'static str, String);

/// Splits `args` (without the program name) into flag uses with Go's `flag`
/// rules: one or two dashes, `=value` or the next argument, booleans only
/// with `=`, parsing stops at `--` or the first non-flag argument.
pub(super) fn scan_flags(args: &[String]) -> Result<(Vec<FlagUse>, Vec<String>)> {
    let mut uses = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg.len() < 2 || !arg.starts_with('-') {
            break;
        }
        let body = arg.strip_prefix("--").unwrap_or(&arg[1..]);
        if arg == "--" {
            i += 1;
            break;
        }
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(Error::ParseFlags {
                reason: format!("bad flag syntax: {arg}"),
            });
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (body, None),
        };
        if name == "h" || name == "help" {
            return Ok((vec![("help", String::new())], Vec::new()));
        }
        let Some(&(flag, kind)) = FLAGS.iter().find(|(n, _)| *n == name) else {
            return Err(Error::ParseFlags {
                reason: format!("flag provided but not defined: -{name}"),
            });
        };
        let value = match (kind, inline) {
            (Kind::Bool, None) => "true".to_owned(),
            (_, Some(v)) => v,
            (_, None) => {
                i += 1;
                args.get(i).cloned().ok_or_else(|| Error::ParseFlags {
                    reason: format!("flag needs an argument: -{name}"),
                })?
            }
        };
        if kind == Kind::Bool {
            parse_go_bool(&value).ok_or_else(|| Error::ParseFlags {
                reason: format!("invalid boolean value {value:?} for -{name}: parse error"),
            })?;
        }
        if kind == Kind::Int {
            value.parse::<i64>().map_err(|_| Error::ParseFlags {
                reason: format!("invalid value {value:?} for flag -{name}: parse error"),
            })?;
        }
        uses.push((flag, value));
        i += 1;
    }
    Ok((uses, args[i..].to_vec()))
}

/// Go's `strconv.ParseBool`.
pub(super) fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

impl WorkerConfig {
    pub(super) fn apply_flag(&mut self, name: &str, value: &str) {
        let int = || value.parse::<i64>().unwrap_or_default();
        match name {
            "config" => self.config_file = value.into(),
            "worker-addr" => self.worker_addr = value.into(),
            "advertise-addr" => self.advertise_addr = value.into(),
            "L" => self.log_level = value.into(),
            "log-file" => self.log_file = value.into(),
            "log-format" => self.log_format = value.into(),
            "redact-info-log" => self.redact_info_log = parse_go_bool(value).unwrap_or(false),
            "join" => self.join = value.into(),
            "name" => self.name = value.into(),
            "keepalive-ttl" => self.keepalive_ttl = int(),
            "relay-keepalive-ttl" => self.relay_keepalive_ttl = int(),
            "ssl-ca" => self.ssl_ca = value.into(),
            "ssl-cert" => self.ssl_cert = value.into(),
            "ssl-key" => self.ssl_key = value.into(),
            "cert-allowed-cn" => self.cert_allowed_cn.push(value.into()),
            _ => {}
        }
    }
}
