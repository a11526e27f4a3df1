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
//!
//! The master's runtime thread holds its lines until it runs out of work
//! ([`hold_lines_on_this_thread`]); a `SIGKILL` loses at most the lines of
//! the runtime turn in progress, a panic or an exit loses none.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::registry::LookupSpan;

use crate::config::{Config, LogFormat};

/// lumberjack's size limit as DM gets it (pingcap/log's default).
pub const MAX_LOG_FILE_BYTES: u64 = 300 * 1024 * 1024;

/// Installs the global subscriber for `config`; `RUST_LOG` overrides the
/// level filter when set. Errors read as DM's `init logger error <message>`.
pub fn init(config: &Config) -> Result<(), String> {
    init_with(
        &config.log_level,
        config.log_file.as_deref(),
        config.log_format,
    )
}

/// Installs the global subscriber from DM's `log-level`, `log-file` (none:
/// stdout) and `log-format`, as both DM-master and DM-worker take them.
pub fn init_with(level: &str, file: Option<&Path>, format: LogFormat) -> Result<(), String> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(tracing_level(level)));
    let output = match file {
        Some(path) => Output::File(Arc::new(
            RotatingFile::open(path, MAX_LOG_FILE_BYTES)
                .map_err(|e| format!("can't open log file {}: {e}", path.display()))?,
        )),
        None => Output::Stdout,
    };
    let format = match format {
        LogFormat::Text => UnifiedFormat::Text,
        LogFormat::Json => UnifiedFormat::Json,
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(LineLayer { format, output })
        .try_init()
        .map_err(|e| e.to_string())?;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        write_held_lines();
        previous(info);
    }));
    Ok(())
}

/// Held lines past this size are written at once.
const HELD_BYTES_LIMIT: usize = 64 * 1024;

/// Lines a thread holds, and where they go.
struct Held {
    text: String,
    output: Option<Output>,
}

thread_local! {
    /// The lines this thread holds until [`write_held_lines`]; `None` on
    /// threads that write each line at once.
    static HELD: std::cell::RefCell<Option<Held>> = const { std::cell::RefCell::new(None) };
}

/// From now on this thread holds its lines until [`write_held_lines`]. The
/// master's runtime thread does, and writes them when it runs out of work
/// (tokio's `on_thread_park`), so a line's `write` never stands between an
/// etcd answer and the next request, nor competes with etcd for a core
/// while etcd answers, and a burst of lines leaves in one `write`. Lines
/// keep their order and their time of logging.
pub fn hold_lines_on_this_thread() {
    HELD.with(|held| {
        held.borrow_mut().get_or_insert_with(|| Held {
            text: String::new(),
            output: None,
        });
    });
}

/// Writes what this thread holds; from now on it writes each line at once.
pub fn stop_holding_lines() {
    write_held_lines();
    HELD.with(|held| {
        if let Ok(mut held) = held.try_borrow_mut() {
            *held = None;
        }
    });
}

/// Writes the lines this thread holds, in order.
pub fn write_held_lines() {
    let taken = HELD.with(|held| {
        let mut held = held.try_borrow_mut().ok()?;
        let held = held.as_mut()?;
        Some((std::mem::take(&mut held.text), held.output.clone()?))
    });
    if let Some((text, output)) = taken {
        output.write_text(&text);
    }
}

/// The layer that formats each enabled event as pingcap/log does.
struct LineLayer {
    format: UnifiedFormat,
    output: Output,
}

/// A span's fields, recorded once when the span is created.
struct SpanFields(Collected);

impl<S> tracing_subscriber::Layer<S> for LineLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut collected = Collected::default();
        attrs.record(&mut collected);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(collected));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let mut fields = Collected::default();
        event.record(&mut fields);
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(own)) = span.extensions().get::<SpanFields>() {
                    fields.extend_fields(own);
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
        let line = match self.format {
            UnifiedFormat::Text => text_line(&now, *meta.level(), &caller, &fields),
            UnifiedFormat::Json => json_line(&now, *meta.level(), &caller, &fields),
        };
        let unheld = HELD.with(|held| match held.try_borrow_mut() {
            Ok(mut held) => match held.as_mut() {
                Some(held) => {
                    held.text.push_str(&line);
                    held.output.get_or_insert_with(|| self.output.clone());
                    (held.text.len() > HELD_BYTES_LIMIT).then(|| std::mem::take(&mut held.text))
                }
                None => Some(line),
            },
            Err(_) => Some(line),
        });
        if let Some(text) = unheld {
            self.output.write_text(&text);
        }
    }
}

/// A `log-level` as DM's logger accepts it, lower-cased; `warning` is read
/// as `warn` (DM fails on it: gap C1 in docs/dm-gaps.md, operators mean
/// `warn`). `None` for anything else.
pub fn dm_level(level: &str) -> Option<&'static str> {
    Some(match level.to_lowercase().as_str() {
        "debug" => "debug",
        "info" => "info",
        "warn" | "warning" => "warn",
        "error" => "error",
        "dpanic" => "dpanic",
        "panic" => "panic",
        "fatal" => "fatal",
        _ => return None,
    })
}

/// The text of a `log-level` that [`dm_level`] refuses.
pub fn invalid_level_text(level: &str) -> String {
    format!(
        "invalid log level {:?}: use debug, info, warn, error, dpanic, panic or fatal",
        level.to_lowercase()
    )
}

/// A `log-format` as DM's logger accepts it: `text` (also when empty) or
/// `json`; `None` for anything else.
pub fn dm_format(format: &str) -> Option<LogFormat> {
    match format {
        "" | "text" => Some(LogFormat::Text),
        "json" => Some(LogFormat::Json),
        _ => None,
    }
}

/// The text of a `log-format` that [`dm_format`] refuses.
pub fn invalid_format_text(format: &str) -> String {
    format!("invalid log format {format:?}: use text or json")
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
enum Output {
    Stdout,
    File(Arc<RotatingFile>),
}

impl Output {
    /// Writes whole lines; a failed write is reported on stderr (there is
    /// no other place left to report it).
    fn write_text(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        let written = match self {
            Output::Stdout => {
                let mut stdout = io::stdout().lock();
                stdout
                    .write_all(text.as_bytes())
                    .and_then(|()| stdout.flush())
            }
            Output::File(file) => file.write_text(text),
        };
        if let Err(e) = written {
            eprintln!("dm-master: cannot write the log: {e}");
        }
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

    /// Writes `text` (whole lines) with as few `write`s as rotation
    /// allows: one per file it lands in. A line never straddles two files.
    fn write_text(&self, text: &str) -> io::Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (mut batch_start, mut batch_end) = (0, 0);
        for line in text.split_inclusive('\n') {
            let size = state.1 + (batch_end - batch_start) as u64;
            if size > 0 && size + line.len() as u64 > self.max_bytes {
                state
                    .0
                    .write_all(&text.as_bytes()[batch_start..batch_end])?;
                std::fs::rename(&self.path, self.backup_name(chrono::Local::now()))?;
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?;
                *state = (file, 0);
                batch_start = batch_end;
            }
            batch_end += line.len();
        }
        state
            .0
            .write_all(&text.as_bytes()[batch_start..batch_end])?;
        state.1 += (batch_end - batch_start) as u64;
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

/// An event's message and fields as text. Every value is written into one
/// buffer, and the names are the callsite's static ones, so a line costs no
/// allocation per field.
#[derive(Default)]
struct Collected {
    text: String,
    message: std::ops::Range<usize>,
    fields: Vec<(&'static str, std::ops::Range<usize>)>,
}

impl Collected {
    fn message(&self) -> &str {
        &self.text[self.message.clone()]
    }

    fn fields(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        self.fields
            .iter()
            .map(|(name, range)| (*name, &self.text[range.clone()]))
    }

    /// Appends `other`'s fields (a span's) after this one's.
    fn extend_fields(&mut self, other: &Collected) {
        for (name, value) in other.fields() {
            let start = self.text.len();
            self.text.push_str(value);
            self.fields.push((name, start..self.text.len()));
        }
    }

    fn record_text(&mut self, field: &Field, start: usize) {
        let range = start..self.text.len();
        if field.name() == "message" {
            self.message = range;
        } else {
            self.fields.push((field.name(), range));
        }
    }
}

impl Visit for Collected {
    fn record_str(&mut self, field: &Field, value: &str) {
        let start = self.text.len();
        self.text.push_str(value);
        self.record_text(field, start);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let start = self.text.len();
        let _ = write!(self.text, "{value:?}");
        self.record_text(field, start);
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
    if !fields.message().is_empty() {
        line.push_str(" [");
        push_quoted_if_needed(&mut line, fields.message());
        line.push(']');
    }
    for (k, v) in fields.fields() {
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
    object.insert("message".into(), fields.message().into());
    for (k, v) in fields.fields() {
        object.insert(k.into(), v.into());
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

    /// What the visitor collects for an event with this message and fields.
    fn collected(message: &str, fields: &[(&'static str, &str)]) -> Collected {
        let mut out = Collected::default();
        out.text.push_str(message);
        out.message = 0..message.len();
        for (name, value) in fields {
            let start = out.text.len();
            out.text.push_str(value);
            out.fields.push((name, start..out.text.len()));
        }
        out
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
        let fields = collected(
            "receive dm-worker keep alive event",
            &[
                ("operation", "DELETE"),
                ("bound", "{\"source\":\"source-0\",\"worker\":\"w\"}"),
            ],
        );
        let line = text_line(&at(), Level::INFO, "keepalive.rs:213", &fields);
        let offset = at().format("%:z").to_string();
        assert_eq!(
            line,
            format!(
                "[2022/11/21 03:07:13.448 {offset}] [INFO] [keepalive.rs:213] [\"receive dm-worker keep alive event\"] [operation=DELETE] [bound=\"{{\\\"source\\\":\\\"source-0\\\",\\\"worker\\\":\\\"w\\\"}}\"]\n"
            )
        );
        let no_message = collected("", &[("request", "QueryStatus")]);
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
        let fields = collected("m", &[("task", "t")]);
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
        file.write_text("12345678\n").unwrap();
        file.write_text("abc\n").unwrap();
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

    fn temp_log(name: &str, max_bytes: u64) -> (PathBuf, Output) {
        let dir = std::env::temp_dir().join(format!("dm-master-log-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("dm-master.log");
        let file = RotatingFile::open(&path, max_bytes).unwrap();
        (path, Output::File(Arc::new(file)))
    }

    fn with_layer(output: &Output, f: impl FnOnce()) {
        use tracing_subscriber::layer::SubscriberExt;
        let subscriber = tracing_subscriber::registry().with(LineLayer {
            format: UnifiedFormat::Text,
            output: output.clone(),
        });
        tracing::subscriber::with_default(subscriber, f);
    }

    #[test]
    fn held_lines_are_written_in_order_when_asked_then_at_once_after_stop() {
        let (path, output) = temp_log("held", MAX_LOG_FILE_BYTES);
        let read = || std::fs::read_to_string(&path).unwrap();
        with_layer(&output, || {
            tracing::info!("before holding");
            assert!(read().contains("[\"before holding\"]"), "{}", read());
            hold_lines_on_this_thread();
            tracing::info!(task = "t", "first held");
            tracing::warn!(lock_id = "l", "second held");
            assert!(
                !read().contains("held"),
                "a held line was written: {}",
                read()
            );
            write_held_lines();
            let text = read();
            let first = text.find("[\"first held\"] [task=t]").expect(&text);
            let second = text.find("[WARN]").expect(&text);
            assert!(first < second, "{text}");
            assert!(text.contains("[\"second held\"] [lock_id=l]"), "{text}");
            stop_holding_lines();
            tracing::info!("after holding");
            assert!(read().contains("[\"after holding\"]"), "{}", read());
        });
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn held_lines_past_the_limit_are_written_at_once() {
        let (path, output) = temp_log("held-limit", MAX_LOG_FILE_BYTES);
        with_layer(&output, || {
            hold_lines_on_this_thread();
            let value = "v".repeat(1024);
            let lines = HELD_BYTES_LIMIT / 1024 + 10;
            for _ in 0..lines {
                tracing::info!(value = %value, "big");
            }
            let written = std::fs::read_to_string(&path).unwrap().lines().count();
            assert!(
                written > 0 && written < lines,
                "{written} of {lines} lines written before the held ones were"
            );
            stop_holding_lines();
            let written = std::fs::read_to_string(&path).unwrap().lines().count();
            assert_eq!(written, lines);
        });
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn span_fields_follow_the_events_own() {
        let (path, output) = temp_log("span", MAX_LOG_FILE_BYTES);
        with_layer(&output, || {
            let outer = tracing::info_span!("actor", mode = "pessimistic");
            let _outer = outer.enter();
            let inner = tracing::info_span!("request", task = "t 1");
            let _inner = inner.enter();
            let lock_id = "t-`db`.`tb`";
            tracing::info!(source = "s", count = 3, %lock_id, ids = ?["a"], "inside {}", 7);
        });
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("[\"inside 7\"] [source=s] [count=3] [lock_id=t-`db`.`tb`] [ids=\"[\\\"a\\\"]\"] [mode=pessimistic] [task=\"t 1\"]\n"),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn one_batch_of_lines_is_split_at_the_rotation_without_breaking_a_line() {
        let (path, output) = temp_log("batch", 10);
        output.write_text("12345678\nabc\nde\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "abc\nde\n");
        let backups: Vec<String> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .flatten()
            .filter(|e| e.path() != path)
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect();
        assert_eq!(backups, ["12345678\n"]);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
