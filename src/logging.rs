//! Where ossmc writes: each connector's log file (through the `log` facade and flexi_logger)
//! and its audit file (one tab-separated line per request).
//!
//! # Log routing
//! The `log` facade has one logger per process; each connector has its own `logPath` and
//! `logLevel`. The first connector installs a flexi_logger whose writer, the [`Router`], hands
//! every record to the writer of the connector the record belongs to:
//!
//! * A record belongs to the connector whose **scope** its thread is in ([`LogScope`]): the
//!   threads that work for a connector (prefetch fetchers, FastList workers) run in its scope,
//!   and the calls made on the caller's thread (creating the connector, list, open, read, and
//!   dropping it) enter its scope for their duration. The `log::info!` call sites need not
//!   know which connector they serve.
//! * Each connector keeps ossmc's records at its `logLevel` and above, other crates' records
//!   (ureq, rustls) at WARN and above, and writes them to its own file. Connectors with the
//!   same `logPath` share one writer.
//! * A record outside any connector's scope (a Rust host's own record, say) goes to every
//!   live connector's file that wants its level, once per file: nothing says which connector
//!   it concerns, so each one sees it.
//! * `log::max_level` follows the most verbose live connector (and is `Off` without one), so
//!   a DEBUG call costs nothing while no connector logs at DEBUG.
//! * A connector's writer goes away with the connector, its readers included.
//!
//! If the host program installed its own `log` logger before the first connector, ossmc's
//! records go to that logger, which decides what to keep and where; `logPath` is then only
//! checked, and `logLevel` is not used.
//!
//! Log and audit files default to `/var/log/oss-connector/`, which an unprivileged process
//! usually cannot create. A default path that cannot be written is therefore not an error:
//! ossmc says so once on stderr and goes on (that connector logs warnings and errors to
//! stderr; no audit). A path the user configured must work, and failing to open it is an
//! error naming the path.
//!
//! Both files escape line breaks and control characters in what they write ([`escape`]):
//! messages quote servers and keys, which must not forge lines or drive a terminal. A host's
//! own logger formats ossmc's records itself.

mod escape;

use std::cell::RefCell;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{LineWriter, Write as _};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Once, OnceLock};
use std::time::SystemTime;

use flexi_logger::writers::{FileLogWriter, LogWriter};
use flexi_logger::{
    DeferredNow, FileSpec, FlexiLoggerError, LogSpecification, Logger, LoggerHandle,
};
use log::{LevelFilter, Record};

use crate::config::{Config, LogPath};
use crate::error::{Error, ErrorKind, Result};
use escape::push_escaped;

static LOG_FALLBACK_WARNING: Once = Once::new();
static AUDIT_FALLBACK_WARNING: Once = Once::new();

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values stay consistent even if a holder panicked.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `logLevel` (0 DEBUG, 1 INFO, 2 WARN, 3 ERROR) as a filter.
fn level_filter(level: u8) -> LevelFilter {
    match level {
        0 => LevelFilter::Debug,
        1 => LevelFilter::Info,
        2 => LevelFilter::Warn,
        _ => LevelFilter::Error,
    }
}

/// Where the log goes, decided before anything global is touched.
#[derive(Debug, PartialEq, Eq)]
enum LogTarget {
    File(PathBuf),
    /// The default file is not writable: warnings and errors go to stderr.
    Stderr,
}

/// Opens `path` for appending, creating its directory; the error names the path.
fn open_append(path: &Path, what: &str) -> std::result::Result<File, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "cannot create the directory {} of the {what} file: {e}",
                dir.display()
            )
        })?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot write the {what} file {}: {e}", path.display()))
}

/// Decides the target; on a default path that fails, warns once on stderr.
fn log_target(p: &LogPath) -> Result<LogTarget> {
    match open_append(&p.path, "log") {
        Ok(_) => Ok(LogTarget::File(p.path.clone())),
        Err(why) if p.is_default => {
            LOG_FALLBACK_WARNING.call_once(|| {
                eprintln!("ossmc: {why}; logging warnings and errors to stderr instead (set logPath to choose a file)");
            });
            Ok(LogTarget::Stderr)
        }
        Err(why) => Err(Error::new(ErrorKind::Io, why)),
    }
}

/// `2025-03-14T12:34:56.789Z INFO  [ossmc::client] message`, in UTC like the audit file,
/// with the message escaped so that it stays on this one line.
fn log_format(
    w: &mut dyn std::io::Write,
    _now: &mut DeferredNow,
    record: &Record,
) -> std::io::Result<()> {
    let mut line = format!(
        "{} {:<5} [{}] ",
        rfc3339_millis(SystemTime::now()),
        record.level(),
        record.module_path().unwrap_or("?"),
    );
    match record.args().as_str() {
        Some(text) => push_escaped(&mut line, text),
        None => push_escaped(&mut line, &record.args().to_string()),
    }
    w.write_all(line.as_bytes())
}

/// True for ossmc's own records (kept at the connector's level; others at WARN at most).
fn is_ours(target: &str) -> bool {
    target
        .strip_prefix("ossmc")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

/// Whether a connector at `level` keeps `record`.
fn admits(level: LevelFilter, record: &Record) -> bool {
    let cap = if is_ours(record.target()) {
        level
    } else {
        level.min(LevelFilter::Warn)
    };
    record.level() <= cap
}

/// A log file or stderr, written by one or more connectors.
enum Sink {
    /// flexi_logger's file writer, appending, one unbuffered write per line.
    File {
        path: PathBuf,
        writer: FileLogWriter,
    },
    Stderr,
}

impl Sink {
    fn new(target: &LogTarget) -> Result<Sink> {
        let path = match target {
            LogTarget::Stderr => return Ok(Sink::Stderr),
            LogTarget::File(path) => path,
        };
        let bad_path = |e: FlexiLoggerError| {
            Error::new(
                ErrorKind::InvalidConfig,
                format!("logPath {} is not a file path: {e}", path.display()),
            )
        };
        let spec = FileSpec::try_from(path).map_err(bad_path)?;
        let writer = FileLogWriter::builder(spec)
            .append()
            .format(log_format)
            .try_build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Io,
                    format!("cannot start logging to {}: {e}", path.display()),
                )
            })?;
        Ok(Sink::File {
            path: path.clone(),
            writer,
        })
    }

    fn is(&self, target: &LogTarget) -> bool {
        match (self, target) {
            (Sink::File { path, .. }, LogTarget::File(p)) => path == p,
            (Sink::Stderr, LogTarget::Stderr) => true,
            _ => false,
        }
    }

    fn write(&self, now: &mut DeferredNow, record: &Record) -> std::io::Result<()> {
        match self {
            Sink::File { writer, .. } => writer.write(now, record),
            Sink::Stderr => {
                let mut line = Vec::with_capacity(160);
                log_format(&mut line, now, record)?;
                line.push(b'\n');
                std::io::stderr().lock().write_all(&line)
            }
        }
    }

    fn flush(&self) -> std::io::Result<()> {
        match self {
            Sink::File { writer, .. } => writer.flush(),
            Sink::Stderr => std::io::stderr().flush(),
        }
    }
}

/// The process's `log` logger once the first connector was created: `Some(handle)` when it
/// is ours (the handle sets its spec), `None` when the host program's was there first.
static LOGGER: OnceLock<Option<LoggerHandle>> = OnceLock::new();
/// Held while installing. Not [`REGISTRY`]: flexi_logger may flush the [`Router`] meanwhile,
/// which takes the registry.
static INSTALLING: Mutex<bool> = Mutex::new(false);

/// The `log` logger ossmc installs: it hands records to our flexi_logger, built once this is
/// installed. Installing this first, rather than flexi_logger's own, leaves a host program's
/// logger and its `log::max_level` untouched when it was there first.
struct Forward;
static FORWARD: Forward = Forward;
static FLEXI: OnceLock<Box<dyn log::Log>> = OnceLock::new();

impl log::Log for Forward {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        FLEXI.get().is_some_and(|l| l.enabled(metadata))
    }
    fn log(&self, record: &Record) {
        if let Some(l) = FLEXI.get() {
            l.log(record);
        }
    }
    fn flush(&self) {
        if let Some(l) = FLEXI.get() {
            l.flush();
        }
    }
}

/// The handle of our logger, installing it first if no logger is yet; `None` when the
/// host program has its own.
fn logger() -> Result<Option<&'static LoggerHandle>> {
    if let Some(l) = LOGGER.get() {
        return Ok(l.as_ref());
    }
    let mut forwarding = lock(&INSTALLING);
    if let Some(l) = LOGGER.get() {
        return Ok(l.as_ref());
    }
    if !*forwarding {
        if log::set_logger(&FORWARD).is_err() {
            // The host program has its own logger; ours would be a second one.
            return Ok(LOGGER.get_or_init(|| None).as_ref());
        }
        *forwarding = true;
    }
    // Sets `log::max_level` from the spec: off until a connector registers.
    let (flexi, handle) = Logger::with(spec(LevelFilter::Off))
        .log_to_writer(Box::new(Router))
        .build()
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot start logging: {e}")))?;
    let _ = FLEXI.set(flexi);
    Ok(LOGGER.get_or_init(|| Some(handle)).as_ref())
}

/// A live connector as the router sees it.
struct Live {
    id: u64,
    level: LevelFilter,
    sink: Arc<Sink>,
}

/// The live connectors, for records outside any scope and for the spec.
struct Registry {
    live: Vec<Live>,
    next_id: u64,
}

/// Never held while a record is logged or a connector's log dropped (either takes it).
static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    live: Vec::new(),
    next_id: 1,
});

impl Registry {
    /// flexi_logger's filter: ossmc's records at the most verbose live level, others' at
    /// WARN at most; `Off` without live connectors. It sets `log::max_level`.
    fn update_spec(&self) {
        if let Some(Some(handle)) = LOGGER.get() {
            let most = self
                .live
                .iter()
                .map(|l| l.level)
                .max()
                .unwrap_or(LevelFilter::Off);
            handle.set_new_spec(spec(most));
        }
    }
}

fn spec(most: LevelFilter) -> LogSpecification {
    LogSpecification::builder()
        .default(most.min(LevelFilter::Warn))
        .module("ossmc", most)
        .build()
}

/// One connector's log: its level and its writer. Created with the connector; the threads
/// and calls working for the connector [enter](ConnectorLog::enter) it. Dropping the last
/// reference (the connector, its readers and threads are gone) unregisters it.
pub(crate) struct ConnectorLog {
    id: u64,
    level: LevelFilter,
    /// `None` when the host program's logger gets the records.
    sink: Option<Arc<Sink>>,
}

impl ConnectorLog {
    /// Registers the log of a connector configured with `cfg`: its file (or stderr, for a
    /// default path that cannot be written) at its level. The first call of the process
    /// installs the logger. A configured path that cannot be written is an error naming it.
    pub(crate) fn open(cfg: &Config) -> Result<Arc<ConnectorLog>> {
        let target = log_target(&cfg.log_path)?;
        let level = match target {
            LogTarget::File(_) => level_filter(cfg.log_level),
            LogTarget::Stderr => level_filter(cfg.log_level).min(LevelFilter::Warn),
        };
        let ours = logger()?.is_some();
        let mut reg = lock(&REGISTRY);
        let id = reg.next_id;
        reg.next_id += 1;
        if !ours {
            return Ok(Arc::new(ConnectorLog {
                id,
                level,
                sink: None,
            }));
        }
        let shared = reg
            .live
            .iter()
            .find(|l| l.sink.is(&target))
            .map(|l| Arc::clone(&l.sink));
        let sink = match shared {
            Some(s) => s,
            None => Arc::new(Sink::new(&target)?),
        };
        reg.live.push(Live {
            id,
            level,
            sink: Arc::clone(&sink),
        });
        reg.update_spec();
        let sink = Some(sink);
        Ok(Arc::new(ConnectorLog { id, level, sink }))
    }

    /// Makes this thread's records this connector's until the guard is dropped (then the
    /// thread's previous scope is back).
    pub(crate) fn enter(self: &Arc<Self>) -> LogScope {
        enter(Some(Arc::clone(self)))
    }

    fn write(&self, now: &mut DeferredNow, record: &Record) -> std::io::Result<()> {
        match &self.sink {
            Some(sink) if admits(self.level, record) => sink.write(now, record),
            _ => Ok(()),
        }
    }
}

impl Drop for ConnectorLog {
    fn drop(&mut self) {
        let mut reg = lock(&REGISTRY);
        let gone = reg
            .live
            .iter()
            .position(|l| l.id == self.id)
            .map(|i| reg.live.swap_remove(i));
        if gone.is_some() {
            reg.update_spec();
        }
        drop(reg);
        // The writer, if this was its last connector, flushes and closes here.
        drop(gone);
    }
}

impl std::fmt::Debug for ConnectorLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let to = match self.sink.as_deref() {
            Some(Sink::File { path, .. }) => path.display().to_string(),
            Some(Sink::Stderr) => "stderr".to_owned(),
            None => "the host's logger".to_owned(),
        };
        f.debug_struct("ConnectorLog")
            .field("level", &self.level)
            .field("to", &to)
            .finish()
    }
}

thread_local! {
    /// The connector this thread works for now.
    static CURRENT: RefCell<Option<Arc<ConnectorLog>>> = const { RefCell::new(None) };
}

/// The connector scope this thread is in, to hand to threads it starts.
pub(crate) fn current() -> Option<Arc<ConnectorLog>> {
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// Enters `log`'s scope (`None`: no connector's) on this thread until the guard is dropped.
pub(crate) fn enter(log: Option<Arc<ConnectorLog>>) -> LogScope {
    let prev = CURRENT.try_with(|c| c.replace(log)).ok().flatten();
    LogScope {
        prev,
        _thread: PhantomData,
    }
}

/// A thread's stay in a connector's scope; dropping it restores the previous scope. Stays
/// on its thread.
#[must_use = "the scope ends when the guard is dropped"]
pub(crate) struct LogScope {
    prev: Option<Arc<ConnectorLog>>,
    _thread: PhantomData<*const ()>,
}

impl Drop for LogScope {
    fn drop(&mut self) {
        let prev = self.prev.take();
        // The replaced scope is dropped outside the thread-local's borrow: it may be the
        // connector's last reference.
        let left = CURRENT.try_with(|c| c.replace(prev)).ok().flatten();
        drop(left);
    }
}

/// The writer of our flexi_logger: a record goes to the connector whose scope its thread
/// is in, or, outside any, to every live connector that wants it (each file once).
struct Router;

impl LogWriter for Router {
    fn write(&self, now: &mut DeferredNow, record: &Record) -> std::io::Result<()> {
        if let Some(log) = current() {
            return log.write(now, record);
        }
        let sinks = {
            let reg = lock(&REGISTRY);
            let mut sinks: Vec<Arc<Sink>> = Vec::new();
            for l in &reg.live {
                if admits(l.level, record) && !sinks.iter().any(|s| Arc::ptr_eq(s, &l.sink)) {
                    sinks.push(Arc::clone(&l.sink));
                }
            }
            sinks
        };
        let mut result = Ok(());
        for s in &sinks {
            result = result.and(s.write(now, record));
        }
        result
    }

    fn flush(&self) -> std::io::Result<()> {
        let sinks: Vec<Arc<Sink>> = lock(&REGISTRY)
            .live
            .iter()
            .map(|l| Arc::clone(&l.sink))
            .collect();
        let mut result = Ok(());
        for s in &sinks {
            result = result.and(s.flush());
        }
        result
    }
}

/// The audit file: one line per request, tab-separated:
/// time (RFC 3339 UTC, ms), operation, bucket, key, range (`a-b` or `-`), HTTP status
/// (0 = no response), bytes, milliseconds, request id (`-` if none).
///
/// Lines go through a line-buffered writer behind a mutex: one `write` per line, so a
/// crash loses nothing already recorded and records cost microseconds.
pub(crate) struct Audit {
    out: Option<Mutex<LineWriter<File>>>,
    path: Option<PathBuf>,
}

/// One request, as the audit file records it.
pub(crate) struct AuditRecord<'a> {
    /// `GetObject`, `HeadObject`, `ListObjectsV2`...
    pub op: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
    /// Inclusive byte range, if the request had one.
    pub range: Option<(u64, u64)>,
    /// 0 = no response.
    pub http_status: u16,
    /// Body bytes received.
    pub bytes: u64,
    /// Duration of the request.
    pub millis: u64,
    /// `x-oss-request-id`, empty if none.
    pub request_id: &'a str,
}

impl Audit {
    /// Opens (appends to) the audit file of `cfg`. The default path failing gives a disabled
    /// audit and one warning on stderr; a configured path failing is an error.
    pub(crate) fn open(cfg: &Config) -> Result<Audit> {
        let p = &cfg.audit_path;
        match open_append(&p.path, "audit") {
            Ok(f) => Ok(Audit {
                out: Some(Mutex::new(LineWriter::new(f))),
                path: Some(p.path.clone()),
            }),
            Err(why) if p.is_default => {
                AUDIT_FALLBACK_WARNING.call_once(|| {
                    eprintln!(
                        "ossmc: {why}; requests are not audited (set auditPath to choose a file)"
                    );
                });
                Ok(Audit::disabled())
            }
            Err(why) => Err(Error::new(ErrorKind::Io, why)),
        }
    }

    /// An audit that records nothing.
    pub(crate) fn disabled() -> Audit {
        Audit {
            out: None,
            path: None,
        }
    }

    /// True when records are written somewhere.
    pub(crate) fn is_enabled(&self) -> bool {
        self.out.is_some()
    }

    /// Records one request. A failing write is logged (once per audit) and otherwise ignored:
    /// auditing must not fail a read.
    pub(crate) fn record(&self, r: &AuditRecord) {
        let Some(out) = &self.out else { return };
        let line = format_record(SystemTime::now(), r);
        let mut w = lock(out);
        if let Err(e) = w.write_all(line.as_bytes()) {
            drop(w);
            static WRITE_WARNING: Once = Once::new();
            WRITE_WARNING.call_once(|| {
                log::warn!(
                    "cannot write the audit file {}: {e}",
                    self.path.as_deref().unwrap_or(Path::new("?")).display()
                )
            });
        }
    }
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("enabled", &self.is_enabled())
            .field("path", &self.path)
            .finish()
    }
}

/// One audit line, newline included. Keys and request ids are escaped, so that each record
/// stays one line of the same number of fields.
fn format_record(now: SystemTime, r: &AuditRecord) -> String {
    let mut s = String::with_capacity(128 + r.key.len());
    s.push_str(&rfc3339_millis(now));
    for field in [r.op, r.bucket, r.key] {
        s.push('\t');
        push_escaped(&mut s, field);
    }
    // Writing to a String cannot fail.
    let _ = match r.range {
        Some((a, b)) => write!(s, "\t{a}-{b}"),
        None => write!(s, "\t-"),
    };
    let _ = write!(s, "\t{}\t{}\t{}\t", r.http_status, r.bytes, r.millis);
    if r.request_id.is_empty() {
        s.push('-');
    } else {
        push_escaped(&mut s, r.request_id);
    }
    s.push('\n');
    s
}

/// `2025-03-14T12:34:56.789Z`.
fn rfc3339_millis(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, UNIX_EPOCH};

    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> TempDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "ossmc-logging-{tag}-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
        /// A path no one can create, root included: its "directory" is a regular file.
        fn unwritable(&self) -> PathBuf {
            let file = self.0.join("not-a-dir");
            std::fs::write(&file, b"").unwrap();
            file.join("x.log")
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn config(log: LogPath, audit: LogPath) -> Config {
        Config {
            log_path: log,
            audit_path: audit,
            ..Config::default()
        }
    }

    fn record<'a>(key: &'a str, range: Option<(u64, u64)>) -> AuditRecord<'a> {
        AuditRecord {
            op: "GetObject",
            bucket: "bkt",
            key,
            range,
            http_status: 206,
            bytes: 1_048_576,
            millis: 12,
            request_id: "65F2F0A0E1B2C3D4E5F60718",
        }
    }

    #[test]
    fn audit_lines_are_tab_separated_and_escaped() {
        let t = UNIX_EPOCH + Duration::from_millis(1_741_955_696_789);
        assert_eq!(
            format_record(t, &record("models/a.bin", Some((0, 1_048_575)))),
            "2025-03-14T12:34:56.789Z\tGetObject\tbkt\tmodels/a.bin\t0-1048575\t206\t1048576\t12\t65F2F0A0E1B2C3D4E5F60718\n"
        );
        let r = AuditRecord {
            http_status: 0,
            bytes: 0,
            request_id: "",
            ..record("a\tb\nc\\d", None)
        };
        assert_eq!(
            format_record(t, &r),
            "2025-03-14T12:34:56.789Z\tGetObject\tbkt\ta\\tb\\nc\\\\d\t-\t0\t0\t12\t-\n"
        );
    }

    #[test]
    fn audit_appends_one_line_per_record() {
        let dir = TempDir::new("audit");
        let path = dir.0.join("sub/dir/audit.log");
        let cfg = config(
            LogPath {
                path: dir.0.join("c.log"),
                is_default: false,
            },
            LogPath {
                path: path.clone(),
                is_default: false,
            },
        );
        let audit = Audit::open(&cfg).unwrap();
        assert!(audit.is_enabled());
        audit.record(&record("k1", Some((0, 9))));
        // Flushed per line: visible before the audit is dropped.
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1);
        assert!(
            text.ends_with("\tk1\t0-9\t206\t1048576\t12\t65F2F0A0E1B2C3D4E5F60718\n"),
            "{text}"
        );
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| (0..250).for_each(|_| audit.record(&record("k2", None))));
            }
        });
        drop(audit);
        // A second audit appends.
        Audit::open(&cfg).unwrap().record(&record("k3", None));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1002);
        assert!(
            text.lines().all(|l| l.split('\t').count() == 9),
            "torn line in {text}"
        );
        assert!(text.lines().last().unwrap().contains("\tk3\t"));
    }

    #[test]
    fn unwritable_paths_fail_only_when_configured() {
        let dir = TempDir::new("unwritable");
        let bad = dir.unwritable();
        let ok = LogPath {
            path: dir.0.join("ok.log"),
            is_default: false,
        };

        let e = Audit::open(&config(
            ok.clone(),
            LogPath {
                path: bad.clone(),
                is_default: false,
            },
        ))
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(
            e.message()
                .contains(&bad.parent().unwrap().display().to_string()),
            "{}",
            e.message()
        );
        let audit = Audit::open(&config(
            ok.clone(),
            LogPath {
                path: bad.clone(),
                is_default: true,
            },
        ))
        .unwrap();
        assert!(!audit.is_enabled());
        audit.record(&record("k", None));

        let e = log_target(&LogPath {
            path: bad.clone(),
            is_default: false,
        })
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(
            e.message().starts_with("cannot create the directory"),
            "{}",
            e.message()
        );
        assert_eq!(
            log_target(&LogPath {
                path: bad,
                is_default: true
            })
            .unwrap(),
            LogTarget::Stderr
        );
        assert_eq!(log_target(&ok).unwrap(), LogTarget::File(ok.path.clone()));
    }

    #[test]
    fn levels_map_to_filters() {
        assert_eq!(level_filter(0), LevelFilter::Debug);
        assert_eq!(level_filter(1), LevelFilter::Info);
        assert_eq!(level_filter(2), LevelFilter::Warn);
        assert_eq!(level_filter(3), LevelFilter::Error);
    }

    fn log_config(path: PathBuf, level: u8) -> Config {
        Config {
            log_level: level,
            log_path: LogPath {
                path,
                is_default: false,
            },
            ..Config::default()
        }
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// Tests share the process's logger: this one must be ours (nothing else installs one
    /// in the test binaries).
    fn assert_routed(log: &ConnectorLog) {
        assert!(log.sink.is_some(), "another logger was installed: {log:?}");
    }

    #[test]
    fn log_lines_escape_what_could_forge_lines_or_drive_a_terminal() {
        let message =
            "server said: nope\n[2099-01-01T00:00:00.000Z INFO  [ossmc::client] FAKE LINE\x1b[31m";
        let mut line = Vec::new();
        log_format(
            &mut line,
            &mut DeferredNow::new(),
            &Record::builder()
                .args(format_args!("{message}"))
                .level(log::Level::Warn)
                .module_path(Some("ossmc::client"))
                .build(),
        )
        .unwrap();
        let line = String::from_utf8(line).unwrap();
        assert!(!line.contains('\n') && !line.contains('\x1b'), "{line:?}");
        assert!(
            line.ends_with(
                " WARN  [ossmc::client] server said: nope\\n[2099-01-01T00:00:00.000Z INFO  \
                 [ossmc::client] FAKE LINE\\x1b[31m"
            ),
            "{line:?}"
        );
    }

    #[test]
    fn each_connector_logs_to_its_own_file_at_its_own_level() {
        let dir = TempDir::new("route");
        let (a_path, b_path) = (dir.0.join("a.log"), dir.0.join("b/b.log"));
        let a = ConnectorLog::open(&log_config(a_path.clone(), 1)).unwrap();
        let b = ConnectorLog::open(&log_config(b_path.clone(), 0)).unwrap();
        assert_routed(&a);
        // B is at DEBUG: the facade lets DEBUG records through while B lives.
        assert!(log::max_level() >= LevelFilter::Debug);
        {
            let _a = a.enter();
            log::info!("route-a-info");
            log::debug!("route-a-debug");
            log::warn!(target: "ureq::pool", "route-a-other-crate-warn");
            log::info!(target: "ureq::pool", "route-a-other-crate-info");
            {
                // Nested: B's scope, then A's again.
                let _b = b.enter();
                log::debug!("route-b-nested-debug");
            }
            log::info!("route-a-after-nested");
            // A thread started for B, while this thread is in A's scope.
            let b2 = Arc::clone(&b);
            std::thread::spawn(move || {
                let _b = b2.enter();
                log::debug!("route-b-thread-debug");
            })
            .join()
            .unwrap();
        }
        {
            let _b = b.enter();
            log::debug!("route-b-debug");
            log::info!(target: "rustls::conn", "route-b-other-crate-info");
        }
        let (a_text, b_text) = (read(&a_path), read(&b_path));
        for want in [
            "INFO  [ossmc::logging::tests] route-a-info",
            // Other crates' records are filtered by their target (lines show the module).
            "WARN  [ossmc::logging::tests] route-a-other-crate-warn",
            "route-a-after-nested",
        ] {
            assert!(
                a_text.contains(want),
                "{want} missing from a.log:\n{a_text}"
            );
        }
        for want in [
            "DEBUG [ossmc::logging::tests] route-b-debug",
            "route-b-nested-debug",
            "route-b-thread-debug",
        ] {
            assert!(
                b_text.contains(want),
                "{want} missing from b.log:\n{b_text}"
            );
        }
        // Below A's level, other crates below WARN, and nothing of the other connector.
        assert!(!a_text.contains(" DEBUG "), "{a_text}");
        assert!(!a_text.contains("other-crate-info"), "{a_text}");
        assert!(!b_text.contains("other-crate-info"), "{b_text}");
        assert!(!a_text.contains("route-b"), "{a_text}");
        assert!(!b_text.contains("route-a"), "{b_text}");
    }

    #[test]
    fn records_outside_any_scope_go_to_every_live_connector_once() {
        let dir = TempDir::new("unscoped");
        let (shared, own) = (dir.0.join("shared.log"), dir.0.join("own.log"));
        let a = ConnectorLog::open(&log_config(shared.clone(), 2)).unwrap();
        let b = ConnectorLog::open(&log_config(shared.clone(), 1)).unwrap();
        let c = ConnectorLog::open(&log_config(own.clone(), 3)).unwrap();
        assert_routed(&a);
        // Same path, one writer.
        assert!(Arc::ptr_eq(
            a.sink.as_ref().unwrap(),
            b.sink.as_ref().unwrap()
        ));
        assert!(!Arc::ptr_eq(
            a.sink.as_ref().unwrap(),
            c.sink.as_ref().unwrap()
        ));
        // Not in any scope, even if a previous test left one behind on this thread.
        let _none = enter(None);
        log::warn!("unscoped-warn-marker");
        log::info!("unscoped-info-marker");
        log::error!("unscoped-error-marker");
        let (s, o) = (read(&shared), read(&own));
        assert_eq!(s.matches("unscoped-warn-marker").count(), 1, "{s}");
        // B (INFO) wants it though A (WARN) does not.
        assert_eq!(s.matches("unscoped-info-marker").count(), 1, "{s}");
        assert_eq!(s.matches("unscoped-error-marker").count(), 1, "{s}");
        assert_eq!(o.matches("unscoped-error-marker").count(), 1, "{o}");
        assert!(!o.contains("unscoped-warn-marker"), "{o}");
        // A connector gone no longer receives records.
        drop(c);
        log::error!("unscoped-after-drop");
        assert!(!read(&own).contains("unscoped-after-drop"));
        assert!(read(&shared).contains("unscoped-after-drop"));
        drop((a, b));
    }

    #[test]
    fn a_default_path_that_cannot_be_written_logs_warnings_to_stderr() {
        let dir = TempDir::new("stderr");
        let cfg = Config {
            log_level: 0,
            log_path: LogPath {
                path: dir.unwritable(),
                is_default: true,
            },
            ..Config::default()
        };
        let log = ConnectorLog::open(&cfg).unwrap();
        assert_routed(&log);
        assert!(matches!(log.sink.as_deref(), Some(Sink::Stderr)));
        assert_eq!(log.level, LevelFilter::Warn);
        // A configured path that cannot be written is an error naming it.
        let bad = dir.unwritable();
        let e = ConnectorLog::open(&log_config(bad.clone(), 0)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(
            e.message()
                .contains(&bad.parent().unwrap().display().to_string()),
            "{}",
            e.message()
        );
    }

    #[test]
    fn only_ossmc_modules_are_ours() {
        for (target, ours) in [
            ("ossmc", true),
            ("ossmc::client", true),
            ("ossmc_testkit", false),
            ("ureq::unversioned", false),
        ] {
            assert_eq!(is_ours(target), ours, "{target}");
        }
        let spec = spec(LevelFilter::Debug);
        assert!(spec.enabled(log::Level::Debug, "ossmc::client"));
        assert!(!spec.enabled(log::Level::Info, "ureq::pool"));
        assert!(spec.enabled(log::Level::Warn, "ureq::pool"));
        assert!(!super::spec(LevelFilter::Off).enabled(log::Level::Error, "ossmc"));
    }
}
