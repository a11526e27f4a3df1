//! The master's logs as DM writes them (pingcap/log): TiDB's unified text
//! format or zap's JSON, to stdout or a `log-file` rotated like lumberjack
//! with the values DM uses (300 MB, keep every backup, local-time names).
//!
//! Line format (text):
//! `[2006/01/02 15:04:05.000 -07:00] [LEVEL] [file.rs:line] ["message"] [key=value]...`
//! A message, key or value is quoted when it holds a byte <= 0x20, `\`,
//! `"`, `[`, `]` or `=`. Span fields follow the event's own fields, so
//! `task`, `source`, `lock_id` set on a span appear on every line inside it.
//! No ANSI colours are ever written.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::{Config, LogFormat};

/// lumberjack's size limit as DM gets it (pingcap/log's default).
pub const MAX_LOG_FILE_BYTES: u64 = 300 * 1024 * 1024;

/// Installs the global subscriber for `config`; `RUST_LOG` overrides the
/// level filter when set. Errors read as DM's `init logger error <message>`.
pub fn init(config: &Config) -> Result<(), String> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(tracing_level(&config.log_level)));
    let writer = match &config.log_file {
        Some(path) => LogWriter::File(Arc::new(
            RotatingFile::open(path, MAX_LOG_FILE_BYTES)
                .map_err(|e| format!("can't open log file {}: {e}", path.display()))?,
        )),
        None => LogWriter::Stdout,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(writer)
        .fmt_fields(UnifiedFields);
    let result = match config.log_format {
        LogFormat::Text => builder.event_format(UnifiedFormat::Text).try_init(),
        LogFormat::Json => builder.event_format(UnifiedFormat::Json).try_init(),
    };
    result.map_err(|e| e.to_string())
}

/// DM's level names onto tracing's (which has no DPANIC/PANIC/FATAL).
pub fn tracing_level(dm_level: &str) -> &'static str {
    match dm_level {
        "debug" => "debug",
        "info" => "info",
        "warn" | "warning" => "warn",
        _ => "error",
    }
}

/// Where log lines go.
#[derive(Clone)]
pub enum LogWriter {
    Stdout,
    File(Arc<RotatingFile>),
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = Box<dyn Write + 'a>;

    fn make_writer(&'a self) -> Self::Writer {
        match self {
            LogWriter::Stdout => Box::new(io::stdout()),
            LogWriter::File(file) => Box::new(RotatingWriter(file)),
        }
    }
}

struct RotatingWriter<'a>(&'a RotatingFile);

impl Write for RotatingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all_rotating(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A log file rotated like lumberjack: when a write would take it past
/// `max_bytes`, it is renamed to `<stem>-<2006-01-02T15-04-05.000>.<ext>`
/// (local time) and a new file is started; backups are never deleted.
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    state: Mutex<(File, u64)>,
}

impl RotatingFile {
    /// Opens (appending) or creates `path`, creating its directory.
    pub fn open(path: &Path, max_bytes: u64) -> io::Result<RotatingFile> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            max_bytes,
            state: Mutex::new((file, size)),
        })
    }

    fn write_all_rotating(&self, buf: &[u8]) -> io::Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.1 > 0 && state.1 + buf.len() as u64 > self.max_bytes {
            std::fs::rename(&self.path, self.backup_name(chrono::Local::now()))?;
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            *state = (file, 0);
        }
        state.0.write_all(buf)?;
        state.1 += buf.len() as u64;
        Ok(())
    }

    /// lumberjack's backup name for a rotation at `at`.
    pub fn backup_name(&self, at: chrono::DateTime<chrono::Local>) -> PathBuf {
        let file_name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (stem, ext) = match file_name.rfind('.') {
            Some(dot) => (&file_name[..dot], &file_name[dot..]),
            None => (file_name.as_str(), ""),
        };
        let stamp = at.format("%Y-%m-%dT%H-%M-%S%.3f");
        self.path.with_file_name(format!("{stem}-{stamp}{ext}"))
    }
}

/// The event formats of pingcap/log.
#[derive(Debug, Clone, Copy)]
pub enum UnifiedFormat {
    Text,
    Json,
}

impl<S, N> FormatEvent<S, N> for UnifiedFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut fields = Collected::default();
        event.record(&mut fields);
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let ext = span.extensions();
                if let Some(formatted) = ext.get::<FormattedFields<N>>() {
                    fields.fields.extend(decode_span_fields(formatted.as_str()));
                }
            }
        }
        let meta = event.metadata();
        let file = meta
            .file()
            .map(|f| f.rsplit(['/', '\\']).next().unwrap_or(f))
            .unwrap_or("<unknown>");
        let caller = format!("{file}:{}", meta.line().unwrap_or(0));
        let now = chrono::Local::now();
        let line = match self {
            UnifiedFormat::Text => text_line(&now, *meta.level(), &caller, &fields),
            UnifiedFormat::Json => json_line(&now, *meta.level(), &caller, &fields),
        };
        writer.write_str(&line)
    }
}

/// Formats span fields so [`UnifiedFormat`] can read them back: one
/// `key\u{1f}value\u{1e}` record per field (separators no value holds).
pub struct UnifiedFields;

impl<'writer> FormatFields<'writer> for UnifiedFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> std::fmt::Result {
        let mut collected = Collected::default();
        fields.record(&mut collected);
        for (k, v) in collected.fields {
            write!(writer, "{k}\u{1f}{v}\u{1e}")?;
        }
        Ok(())
    }
}

fn decode_span_fields(text: &str) -> Vec<(String, String)> {
    text.split('\u{1e}')
        .filter_map(|record| record.split_once('\u{1f}'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// An event's message and fields as strings.
#[derive(Default)]
struct Collected {
    message: String,
    fields: Vec<(String, String)>,
}

impl Visit for Collected {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.fields
                .push((field.name().to_string(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.fields.push((field.name().to_string(), text));
        }
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG | Level::TRACE => "DEBUG",
    }
}

/// pingcap/log's time layout `2006/01/02 15:04:05.000 -07:00`.
fn time_text(now: &chrono::DateTime<chrono::Local>) -> String {
    let mut out = String::with_capacity(30);
    push_time(&mut out, now);
    out
}

/// [`time_text`] appended to `out`, from the fields rather than a format
/// string: chrono parses a format string anew on every call, and the
/// master writes a line per step of a lock.
fn push_time<Tz: chrono::TimeZone>(out: &mut String, now: &chrono::DateTime<Tz>) {
    use chrono::{Datelike, Offset, Timelike};
    let offset = now.offset().fix().local_minus_utc();
    let (sign, offset) = if offset < 0 {
        ('-', -offset)
    } else {
        ('+', offset)
    };
    let _ = write!(
        out,
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02}.{:03} {sign}{:02}:{:02}",
        now.year(),
        now.month(),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        // A leap second is `59.1000` in chrono; Go prints it as `59.999`.
        (now.nanosecond() / 1_000_000).min(999),
        offset / 3600,
        offset % 3600 / 60,
    );
}

fn text_line(
    now: &chrono::DateTime<chrono::Local>,
    level: Level,
    caller: &str,
    fields: &Collected,
) -> String {
    let mut line = String::with_capacity(128);
    line.push('[');
    push_time(&mut line, now);
    line.push_str("] [");
    line.push_str(level_name(level));
    line.push_str("] [");
    line.push_str(caller);
    line.push(']');
    if !fields.message.is_empty() {
        line.push_str(" [");
        push_quoted_if_needed(&mut line, &fields.message);
        line.push(']');
    }
    for (k, v) in &fields.fields {
        line.push_str(" [");
        push_quoted_if_needed(&mut line, k);
        line.push('=');
        push_quoted_if_needed(&mut line, v);
        line.push(']');
    }
    line.push('\n');
    line
}

fn json_line(
    now: &chrono::DateTime<chrono::Local>,
    level: Level,
    caller: &str,
    fields: &Collected,
) -> String {
    let mut object = serde_json::Map::new();
    object.insert("level".into(), level_name(level).into());
    object.insert("time".into(), time_text(now).into());
    object.insert("caller".into(), caller.into());
    object.insert("message".into(), fields.message.clone().into());
    for (k, v) in &fields.fields {
        object.insert(k.clone(), v.clone().into());
    }
    let mut line = serde_json::Value::Object(object).to_string();
    line.push('\n');
    line
}

/// Whether pingcap/log wraps `s` in quotes.
fn needs_quotes(s: &str) -> bool {
    s.bytes()
        .any(|b| b <= 0x20 || matches!(b, b'\\' | b'"' | b'[' | b']' | b'='))
}

/// `s` as pingcap/log writes a message, key or value.
pub fn quote_if_needed(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_quoted_if_needed(&mut out, s);
    out
}

/// [`quote_if_needed`] appended to `out`.
fn push_quoted_if_needed(out: &mut String, s: &str) {
    if !needs_quotes(s) {
        out.push_str(s);
        return;
    }
    out.reserve(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> chrono::DateTime<chrono::Local> {
        chrono::Local
            .with_ymd_and_hms(2022, 11, 21, 3, 7, 13)
            .unwrap()
            + chrono::Duration::milliseconds(448)
    }

    #[test]
    fn quoting_follows_pingcap_log() {
        assert_eq!(quote_if_needed("DELETE"), "DELETE");
        assert_eq!(
            quote_if_needed("/dm-worker/a/646d"),
            "/dm-worker/a/646d",
            "slashes need no quotes"
        );
        assert_eq!(quote_if_needed("a b"), "\"a b\"");
        assert_eq!(quote_if_needed("name:\"test\" "), "\"name:\\\"test\\\" \"");
        assert_eq!(quote_if_needed("a=b"), "\"a=b\"");
        assert_eq!(quote_if_needed("[x]"), "\"[x]\"");
        assert_eq!(quote_if_needed("a\\b"), "\"a\\\\b\"");
        assert_eq!(quote_if_needed("l1\nl2\tx\r"), "\"l1\\nl2\\tx\\r\"");
        assert_eq!(quote_if_needed(""), "");
    }

    #[test]
    fn text_line_has_dm_shape() {
        let fields = Collected {
            message: "receive dm-worker keep alive event".into(),
            fields: vec![
                ("operation".into(), "DELETE".into()),
                (
                    "bound".into(),
                    "{\"source\":\"source-0\",\"worker\":\"w\"}".into(),
                ),
            ],
        };
        let line = text_line(&at(), Level::INFO, "keepalive.rs:213", &fields);
        let offset = at().format("%:z").to_string();
        assert_eq!(
            line,
            format!(
                "[2022/11/21 03:07:13.448 {offset}] [INFO] [keepalive.rs:213] [\"receive dm-worker keep alive event\"] [operation=DELETE] [bound=\"{{\\\"source\\\":\\\"source-0\\\",\\\"worker\\\":\\\"w\\\"}}\"]\n"
            )
        );
        let no_message = Collected {
            message: String::new(),
            fields: vec![("request".into(), "QueryStatus".into())],
        };
        let line = text_line(&at(), Level::TRACE, "server.rs:1", &no_message);
        assert!(
            line.ends_with("] [DEBUG] [server.rs:1] [request=QueryStatus]\n"),
            "{line}"
        );
    }

    /// The time is written from its fields as chrono's format string
    /// `%Y/%m/%d %H:%M:%S%.3f %:z` writes it, for offsets east and west.
    #[test]
    fn time_text_is_pingcap_logs_layout() {
        use chrono::{FixedOffset, TimeZone};
        assert_eq!(
            time_text(&at()),
            at().format("%Y/%m/%d %H:%M:%S%.3f %:z").to_string()
        );
        for offset in [0, 8 * 3600, -(5 * 3600 + 30 * 60), 45 * 60, -(12 * 3600)] {
            let zone = FixedOffset::east_opt(offset).unwrap();
            for (secs, millis) in [(0, 0), (1_669_000_033, 7), (4_102_444_799, 999)] {
                let t = zone.timestamp_opt(secs, millis * 1_000_000).unwrap();
                let mut text = String::new();
                push_time(&mut text, &t);
                assert_eq!(text, t.format("%Y/%m/%d %H:%M:%S%.3f %:z").to_string());
            }
        }
    }

    #[test]
    fn json_line_has_zap_keys_in_order() {
        let fields = Collected {
            message: "m".into(),
            fields: vec![("task".into(), "t".into())],
        };
        let line = json_line(&at(), Level::WARN, "a.rs:2", &fields);
        let offset = at().format("%:z").to_string();
        assert_eq!(
            line,
            format!("{{\"level\":\"WARN\",\"time\":\"2022/11/21 03:07:13.448 {offset}\",\"caller\":\"a.rs:2\",\"message\":\"m\",\"task\":\"t\"}}\n")
        );
    }

    #[test]
    fn file_rotates_past_the_limit_with_lumberjack_names() {
        let dir = std::env::temp_dir().join(format!("dm-master-log-{}", std::process::id()));
        let path = dir.join("sub/dm-master.log");
        let file = RotatingFile::open(&path, 10).unwrap();
        assert_eq!(
            file.backup_name(at()),
            dir.join("sub/dm-master-2022-11-21T03-07-13.448.log")
        );
        file.write_all_rotating(b"12345678\n").unwrap();
        file.write_all_rotating(b"abc\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "abc\n");
        let backups: Vec<_> = std::fs::read_dir(dir.join("sub"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("dm-master-") && n.ends_with(".log"))
            .collect();
        assert_eq!(backups.len(), 1, "{backups:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn span_fields_round_trip() {
        assert_eq!(
            decode_span_fields("task\u{1f}t 1\u{1e}mode\u{1f}pessimistic\u{1e}"),
            vec![
                ("task".to_string(), "t 1".to_string()),
                ("mode".to_string(), "pessimistic".to_string())
            ]
        );
    }
}
