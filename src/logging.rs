//! Where ossmc writes: the log file (through the `log` facade and flexi_logger, one logger per
//! process) and the audit file (one tab-separated line per request).
//!
//! Both default to `/var/log/oss-connector/`, which an unprivileged process usually cannot
//! create. A default path that cannot be written is therefore not an error: ossmc says so
//! once on stderr and goes on (log warnings and errors to stderr; no audit). A path the user
//! configured must work, and failing to open it is an error naming the path.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{LineWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::SystemTime;

use flexi_logger::{DeferredNow, FileSpec, LogSpecification, Logger, LoggerHandle};
use log::{LevelFilter, Record};

use crate::config::{Config, LogPath};
use crate::error::{Error, ErrorKind, Result};

/// The process-wide logger once started: its handle (kept so the logger lives) and the
/// file it writes, if any. `None` inside means another logger was already installed.
struct Started {
    _handle: Option<LoggerHandle>,
    file: Option<PathBuf>,
}

static LOGGER: Mutex<Option<Started>> = Mutex::new(None);
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

/// `2025-03-14T12:34:56.789Z INFO  [ossmc::client] message`, in UTC like the audit file.
fn log_format(
    w: &mut dyn std::io::Write,
    _now: &mut DeferredNow,
    record: &Record,
) -> std::io::Result<()> {
    write!(
        w,
        "{} {:<5} [{}] {}",
        rfc3339_millis(SystemTime::now()),
        record.level(),
        record.module_path().unwrap_or("?"),
        record.args()
    )
}

/// Starts the process-wide logger at `cfg.log_level`, writing to `cfg.log_path` (ossmc's
/// own modules at that level, other crates at WARN or above). Later calls keep the first
/// logger (and log a warning if they name another file). If the host program already
/// installed a `log` logger, ossmc's records go to that one.
pub(crate) fn init_logging(cfg: &Config) -> Result<()> {
    let mut started = lock(&LOGGER);
    if let Some(s) = started.as_ref() {
        if !cfg.log_path.is_default && s.file.as_deref() != Some(cfg.log_path.path.as_path()) {
            log::warn!(
                "the log file was chosen by the first connector of this process; logPath {} is ignored",
                cfg.log_path.path.display()
            );
        }
        return Ok(());
    }
    let level = level_filter(cfg.log_level);
    let target = log_target(&cfg.log_path)?;
    let ours = match target {
        LogTarget::File(_) => level,
        LogTarget::Stderr => level.min(LevelFilter::Warn),
    };
    let spec = LogSpecification::builder()
        .default(ours.min(LevelFilter::Warn))
        .module("ossmc", ours)
        .build();
    let logger = Logger::with(spec).format(log_format);
    let (logger, file) = match target {
        LogTarget::File(path) => {
            let spec = FileSpec::try_from(&path).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidConfig,
                    format!("logPath {} is not a file path: {e}", path.display()),
                )
            })?;
            (logger.log_to_file(spec).append(), Some(path))
        }
        LogTarget::Stderr => (logger.log_to_stderr(), None),
    };
    match logger.start() {
        Ok(handle) => {
            *started = Some(Started {
                _handle: Some(handle),
                file,
            })
        }
        Err(flexi_logger::FlexiLoggerError::Log(_)) => {
            // The host program has its own logger; ours would be a second one.
            *started = Some(Started {
                _handle: None,
                file: None,
            });
        }
        Err(e) => {
            return Err(Error::new(
                ErrorKind::Io,
                format!(
                    "cannot start logging to {}: {e}",
                    cfg.log_path.path.display()
                ),
            ))
        }
    }
    Ok(())
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

/// One audit line, newline included.
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

/// Keys may hold tabs and newlines; escape them (and `\`) so each record stays one line of
/// the same number of fields.
fn push_escaped(s: &mut String, field: &str) {
    for c in field.chars() {
        match c {
            '\t' => s.push_str("\\t"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\\' => s.push_str("\\\\"),
            c => s.push(c),
        }
    }
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

    #[test]
    fn logger_starts_once_and_writes_to_the_file() {
        let dir = TempDir::new("logger");
        let path = dir.0.join("connector.log");
        let cfg = config(
            LogPath {
                path: path.clone(),
                is_default: false,
            },
            LogPath {
                path: dir.0.join("a.log"),
                is_default: false,
            },
        );
        init_logging(&cfg).unwrap();
        // A second call is a no-op, even with a path that could not be written.
        let other = config(
            LogPath {
                path: dir.unwritable(),
                is_default: false,
            },
            cfg.audit_path.clone(),
        );
        init_logging(&other).unwrap();
        let ours = lock(&LOGGER).as_ref().and_then(|s| s.file.clone()) == Some(path.clone());
        if ours {
            // This test started the process's logger (other tests may have been first).
            log::info!("logging-test-marker");
            log::debug!("below the configured level");
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                text.contains("INFO  [ossmc::logging::tests] logging-test-marker"),
                "{text}"
            );
            assert!(!text.contains("below the configured level"));
        }
    }
}
