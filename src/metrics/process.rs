//! `process_*` metrics (CPU seconds, resident memory, open file
//! descriptors, ...) under the Prometheus client's standard names, read from
//! Linux procfs at scrape time.

use prometheus::Opts;

/// Linux process metrics with the Prometheus client's standard names
/// (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
/// `process_open_fds`, ...), read from procfs at scrape time; elsewhere the
/// families are simply absent.
pub struct ProcessCollector {
    cpu_seconds: prometheus::Counter,
    open_fds: prometheus::Gauge,
    max_fds: prometheus::Gauge,
    virtual_memory: prometheus::Gauge,
    resident_memory: prometheus::Gauge,
    start_time: prometheus::Gauge,
    descs: Vec<prometheus::core::Desc>,
}

/// Linux's USER_HZ, the unit of `/proc/self/stat` CPU times.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

impl ProcessCollector {
    pub fn new() -> ProcessCollector {
        let counter = |name: &str, help: &str| {
            prometheus::Counter::with_opts(Opts::new(name, help)).expect("valid metric definition")
        };
        let gauge = |name: &str, help: &str| {
            prometheus::Gauge::with_opts(Opts::new(name, help)).expect("valid metric definition")
        };
        let cpu_seconds = counter(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
        );
        let open_fds = gauge("process_open_fds", "Number of open file descriptors.");
        let max_fds = gauge(
            "process_max_fds",
            "Maximum number of open file descriptors.",
        );
        let virtual_memory = gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
        );
        let resident_memory = gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
        );
        let start_time = gauge(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
        );
        use prometheus::core::Collector;
        let descs = [
            cpu_seconds.desc(),
            open_fds.desc(),
            max_fds.desc(),
            virtual_memory.desc(),
            resident_memory.desc(),
            start_time.desc(),
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        ProcessCollector {
            cpu_seconds,
            open_fds,
            max_fds,
            virtual_memory,
            resident_memory,
            start_time,
            descs,
        }
    }

    /// Reads procfs into the metrics; `None` where procfs is missing.
    fn refresh(&self) -> Option<()> {
        let stat = SelfStat::read()?;
        let cpu = stat.cpu_seconds()?;
        let seen = self.cpu_seconds.get();
        if cpu > seen {
            self.cpu_seconds.inc_by(cpu - seen);
        }
        self.virtual_memory.set(stat.field(20)?);
        if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
            if let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            {
                self.resident_memory.set(kb * 1024.0);
            }
        }
        if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
            self.open_fds.set(entries.count() as f64);
        }
        if let Ok(limits) = std::fs::read_to_string("/proc/self/limits") {
            if let Some(soft) = limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|v| v.parse::<f64>().ok())
            {
                self.max_fds.set(soft);
            }
        }
        if let Some(boot) = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<f64>().ok())
        }) {
            self.start_time
                .set(boot + stat.field(19)? / CLOCK_TICKS_PER_SECOND);
        }
        Some(())
    }
}

/// This process's user and system CPU time so far, in seconds, from procfs;
/// `None` where procfs is missing.
pub fn cpu_seconds() -> Option<f64> {
    SelfStat::read()?.cpu_seconds()
}

/// The fields of `/proc/self/stat` after the command name, which may
/// itself hold spaces.
struct SelfStat(Vec<String>);

impl SelfStat {
    fn read() -> Option<SelfStat> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let rest = &stat[stat.rfind(')')? + 1..];
        Some(SelfStat(
            rest.split_whitespace().map(str::to_owned).collect(),
        ))
    }

    /// Field `i` (0 is the state after the command name).
    fn field(&self, i: usize) -> Option<f64> {
        self.0.get(i)?.parse().ok()
    }

    /// User plus system time, in seconds.
    fn cpu_seconds(&self) -> Option<f64> {
        Some((self.field(11)? + self.field(12)?) / CLOCK_TICKS_PER_SECOND)
    }
}

impl Default for ProcessCollector {
    fn default() -> Self {
        ProcessCollector::new()
    }
}

impl prometheus::core::Collector for ProcessCollector {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        if self.refresh().is_none() {
            return Vec::new();
        }
        [
            self.cpu_seconds.collect(),
            self.open_fds.collect(),
            self.max_fds.collect(),
            self.virtual_memory.collect(),
            self.resident_memory.collect(),
            self.start_time.collect(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}
