//! The connector's configuration: a typed [`Config`] with documented defaults, parsed from the
//! seed JSON format (`logLevel`, `logPath`, `auditPath`, `prefetch`, `fastList`) plus ossmc's
//! extensions (chunk size, memory limit, retries, timeouts, signature version, region, addressing).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};
pub use crate::proxy::{ProxySetting, ProxyUrl};

/// Which OSS signature the connector puts on its requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureVersion {
    /// `Authorization: OSS AK:SIG` (HMAC-SHA1).
    V1,
    /// `Authorization: OSS4-HMAC-SHA256 ...` (the default).
    #[default]
    V4,
}

/// How the bucket is put into the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// `https://BUCKET.host/KEY`.
    VirtualHosted,
    /// `https://host/BUCKET/KEY`.
    Path,
}

/// A log or audit file path, and whether it is the default one (a default path that cannot be
/// written is tolerated; a path the user chose must work).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPath {
    /// The file.
    pub path: PathBuf,
    /// True when the configuration did not name the file.
    pub is_default: bool,
}

/// Settings of the prefetcher that reads object data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefetchConfig {
    /// Number of worker groups (seed name `vcpus`); default 16.
    pub vcpus: usize,
    /// Concurrent requests per group; default 16.
    pub workers: usize,
    /// Bytes per ranged GET; default 8 MiB.
    pub chunk_size: usize,
    /// Most bytes held in prefetch buffers at once; default 2 GiB.
    pub memory_limit: usize,
    /// Objects up to this size (and at most half of `memory_limit`) are handed to readers
    /// only once their whole CRC-64 is verified; larger ones stream, with their final chunk
    /// withheld until it is. Default 64 MiB.
    pub hold_limit: usize,
}

impl PrefetchConfig {
    /// The most ranged GETs in flight at once (`vcpus * workers`).
    pub fn max_in_flight(&self) -> usize {
        self.vcpus * self.workers
    }
}

impl Default for PrefetchConfig {
    fn default() -> Self {
        PrefetchConfig {
            vcpus: 16,
            workers: 16,
            chunk_size: 8 << 20,
            memory_limit: 2 << 30,
            hold_limit: 64 << 20,
        }
    }
}

/// Settings of the parallel lister.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FastListConfig {
    /// Number of worker groups; default 1.
    pub vcpus: usize,
    /// Concurrent requests per group; default 16.
    pub workers: usize,
}

impl FastListConfig {
    /// The most listing requests in flight at once (`vcpus * workers`).
    pub fn max_in_flight(&self) -> usize {
        self.vcpus * self.workers
    }
}

impl Default for FastListConfig {
    fn default() -> Self {
        FastListConfig {
            vcpus: 1,
            workers: 16,
        }
    }
}

/// Retry policy for failed requests (exponential backoff with jitter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts per request, the first included; default 5. A listing page that breaks off
    /// after some objects arrived whole is continued after them by a request with attempts of
    /// its own.
    pub max_attempts: u32,
    /// Delay before the first retry; default 100 ms.
    pub base_delay: Duration,
    /// Upper bound of any delay; default 5 s.
    pub max_delay: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
        }
    }
}

/// The connector's configuration. `Config::default()` is what an empty JSON object gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// 0 DEBUG, 1 INFO, 2 WARN, 3 ERROR; default 1.
    pub log_level: u8,
    /// Default `/var/log/oss-connector/connector.log`.
    pub log_path: LogPath,
    /// Default `/var/log/oss-connector/audit.log`.
    pub audit_path: LogPath,
    /// Data prefetching.
    pub prefetch: PrefetchConfig,
    /// Parallel listing.
    pub fast_list: FastListConfig,
    /// Retries.
    pub retry: RetryConfig,
    /// TCP (and TLS) connect timeout; default 10 s.
    pub connect_timeout: Duration,
    /// Timeout of each socket read (not of a whole request); default 30 s.
    pub read_timeout: Duration,
    /// The slowest a response body may arrive, in bytes per second (`timeouts.minRateBps`);
    /// default 32 KiB/s. A body must arrive within `read_timeout` plus its size at this rate
    /// (a fixed 256 KiB for bodies whose size is not known in advance), so a server that
    /// trickles bytes cannot hold a request open forever; see `crate::deadline`.
    pub min_rate_bps: u64,
    /// V4 by default.
    pub signature_version: SignatureVersion,
    /// Region for V4 signing; `None` = derived from the endpoint.
    pub region: Option<String>,
    /// `None` = automatic (path style for an IP or `localhost`, virtual-hosted otherwise).
    pub addressing: Option<Addressing>,
    /// The forward proxy (`proxy`): from the environment by default (`http_proxy`,
    /// `https_proxy`, ...), a URL, or off. See `crate::proxy`.
    pub proxy: ProxySetting,
    /// Hosts reached without the proxy (`noProxy`), as patterns from
    /// [`crate::proxy::parse_no_proxy`]; `None` = from `no_proxy` / `NO_PROXY`.
    pub no_proxy: Option<Vec<String>>,
    /// The API to speak (`protocol`: `"oss"` or `"s3"`); `None` = from the endpoint (S3 for
    /// an `s3.` or `s3-` host, OSS otherwise).
    pub protocol: Option<crate::protocol::Protocol>,
}

/// Default `timeouts.minRateBps`: 32 KiB/s, far below what OSS serves a connection, yet
/// with the default 256 requests in flight only 64 Mbit/s in all.
pub const DEFAULT_MIN_RATE_BPS: u64 = 32 << 10;

/// Default log file.
pub const DEFAULT_LOG_PATH: &str = "/var/log/oss-connector/connector.log";
/// Default audit file.
pub const DEFAULT_AUDIT_PATH: &str = "/var/log/oss-connector/audit.log";

impl Default for Config {
    fn default() -> Self {
        Config {
            log_level: 1,
            log_path: LogPath {
                path: PathBuf::from(DEFAULT_LOG_PATH),
                is_default: true,
            },
            audit_path: LogPath {
                path: PathBuf::from(DEFAULT_AUDIT_PATH),
                is_default: true,
            },
            prefetch: PrefetchConfig::default(),
            fast_list: FastListConfig::default(),
            retry: RetryConfig::default(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            min_rate_bps: DEFAULT_MIN_RATE_BPS,
            signature_version: SignatureVersion::V4,
            region: None,
            addressing: None,
            proxy: ProxySetting::FromEnv,
            no_proxy: None,
            protocol: None,
        }
    }
}

/// Inclusive bounds of the integer settings (JSON name, min, max). Why these: vcpus*workers
/// bounds the threads and sockets a connector opens; the chunk size must amortize a request
/// without making single buffers huge; the delays and timeouts stay below ten minutes.
mod bounds {
    pub(crate) const LOG_LEVEL: (u64, u64) = (0, 3);
    pub(crate) const VCPUS: (u64, u64) = (1, 256);
    pub(crate) const WORKERS: (u64, u64) = (1, 1024);
    /// Most requests in flight for one pool (`vcpus * workers`).
    pub(crate) const MAX_IN_FLIGHT: usize = 4096;
    pub(crate) const CHUNK_SIZE: (u64, u64) = (64 << 10, 1 << 30);
    /// Upper end only; the lower end is the chunk size.
    pub(crate) const MEMORY_LIMIT_MAX: u64 = 1 << 40;
    pub(crate) const MAX_ATTEMPTS: (u64, u64) = (1, 100);
    pub(crate) const DELAY_MS: (u64, u64) = (0, 600_000);
    pub(crate) const CONNECT_MS: (u64, u64) = (1, 600_000);
    pub(crate) const READ_MS: (u64, u64) = (1, 3_600_000);
    /// From 1 B/s (no deadline to speak of) to 1 GiB/s.
    pub(crate) const MIN_RATE_BPS: (u64, u64) = (1, 1 << 30);
}

impl Config {
    /// Parses a JSON configuration (the seed format plus ossmc's extensions; absent fields and
    /// `null` keep their defaults). Returns the config and warnings, one per unknown field,
    /// for the caller to log. Errors name the field, or the line and column of a JSON error.
    pub fn from_json_str(text: &str) -> Result<(Config, Vec<String>)> {
        parse(text, "config")
    }

    /// Reads and parses a JSON configuration file; see [`Config::from_json_str`].
    pub fn from_file(path: &Path) -> Result<(Config, Vec<String>)> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot read config file {}: {e}", path.display()),
            )
        })?;
        parse(&text, &format!("config {}", path.display()))
    }

    /// Checks the ranges [`Config::from_json_str`] enforces, for a config built in code.
    pub fn validate(&self) -> Result<()> {
        self.check()
            .map_err(|m| Error::new(ErrorKind::InvalidConfig, format!("config: {m}")))
    }

    fn check(&self) -> std::result::Result<(), String> {
        use bounds::*;
        let p = &self.prefetch;
        let l = &self.fast_list;
        let r = &self.retry;
        in_range("logLevel", self.log_level as u64, LOG_LEVEL)?;
        in_range("prefetch.vcpus", p.vcpus as u64, VCPUS)?;
        in_range("prefetch.workers", p.workers as u64, WORKERS)?;
        in_range("prefetch.chunkSize", p.chunk_size as u64, CHUNK_SIZE)?;
        in_range("fastList.vcpus", l.vcpus as u64, VCPUS)?;
        in_range("fastList.workers", l.workers as u64, WORKERS)?;
        in_range("retry.maxAttempts", r.max_attempts as u64, MAX_ATTEMPTS)?;
        in_range(
            "retry.baseDelayMs",
            r.base_delay.as_millis() as u64,
            DELAY_MS,
        )?;
        in_range("retry.maxDelayMs", r.max_delay.as_millis() as u64, DELAY_MS)?;
        in_range(
            "timeouts.connectMs",
            self.connect_timeout.as_millis() as u64,
            CONNECT_MS,
        )?;
        in_range(
            "timeouts.readMs",
            self.read_timeout.as_millis() as u64,
            READ_MS,
        )?;
        in_range("timeouts.minRateBps", self.min_rate_bps, MIN_RATE_BPS)?;
        for (name, pool) in [
            ("prefetch", (p.vcpus, p.workers)),
            ("fastList", (l.vcpus, l.workers)),
        ] {
            if pool.0 * pool.1 > MAX_IN_FLIGHT {
                return Err(format!(
                    "{name}.vcpus * {name}.workers must be at most {MAX_IN_FLIGHT}, got {} * {} = {}",
                    pool.0,
                    pool.1,
                    pool.0 * pool.1
                ));
            }
        }
        if (p.memory_limit as u64) < p.chunk_size as u64 || p.memory_limit as u64 > MEMORY_LIMIT_MAX
        {
            return Err(format!(
                "prefetch.memoryLimit must be between prefetch.chunkSize ({}) and {MEMORY_LIMIT_MAX} bytes, got {}",
                p.chunk_size, p.memory_limit
            ));
        }
        if r.max_delay < r.base_delay {
            return Err(format!(
                "retry.maxDelayMs ({}) must not be less than retry.baseDelayMs ({})",
                r.max_delay.as_millis(),
                r.base_delay.as_millis()
            ));
        }
        for (name, lp) in [("logPath", &self.log_path), ("auditPath", &self.audit_path)] {
            if lp.path.as_os_str().is_empty() {
                return Err(format!("{name} must not be empty"));
            }
        }
        if let Some(region) = &self.region {
            check_region(region)?;
        }
        Ok(())
    }
}

fn in_range(name: &str, v: u64, (lo, hi): (u64, u64)) -> std::result::Result<(), String> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(format!(
            "{name} must be an integer between {lo} and {hi}, got {v}"
        ))
    }
}

fn check_region(region: &str) -> std::result::Result<(), String> {
    let ok = !region.is_empty()
        && region
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "region must be a region id such as \"cn-hangzhou\", got {region:?}"
        ))
    }
}

/// Parses `text`; `origin` ("config" or "config PATH") starts every message.
fn parse(text: &str, origin: &str) -> Result<(Config, Vec<String>)> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        // serde_json's Display ends in " at line L column C"; say it once, in our words.
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let what = full.strip_suffix(&suffix).unwrap_or(&full);
        Error::new(
            ErrorKind::InvalidConfig,
            format!(
                "{origin}: invalid JSON at line {}, column {}: {what}",
                e.line(),
                e.column()
            ),
        )
    })?;
    let mut p = Parser {
        origin,
        warnings: Vec::new(),
    };
    let cfg = p
        .config(&value)
        .map_err(|m| Error::new(ErrorKind::InvalidConfig, format!("{origin}: {m}")))?;
    Ok((cfg, p.warnings))
}

/// Walks the JSON value; errors are messages without the origin.
struct Parser<'a> {
    origin: &'a str,
    warnings: Vec<String>,
}

type Msg<T> = std::result::Result<T, String>;

impl Parser<'_> {
    fn config(&mut self, v: &Value) -> Msg<Config> {
        use bounds::*;
        let mut c = Config::default();
        for (k, v) in self.object("the configuration", v)? {
            if v.is_null() {
                continue;
            }
            match k.as_str() {
                "logLevel" => c.log_level = int(k, v, LOG_LEVEL)? as u8,
                "logPath" => {
                    c.log_path = LogPath {
                        path: path(k, v)?,
                        is_default: false,
                    }
                }
                "auditPath" => {
                    c.audit_path = LogPath {
                        path: path(k, v)?,
                        is_default: false,
                    }
                }
                "prefetch" => {
                    for (k, v) in self.section(k, v)? {
                        let name = format!("prefetch.{k}");
                        match k.as_str() {
                            "vcpus" => c.prefetch.vcpus = int(&name, v, VCPUS)? as usize,
                            "workers" => c.prefetch.workers = int(&name, v, WORKERS)? as usize,
                            "chunkSize" => {
                                c.prefetch.chunk_size = int(&name, v, CHUNK_SIZE)? as usize
                            }
                            "memoryLimit" => {
                                let n = int(&name, v, (1, MEMORY_LIMIT_MAX))?;
                                c.prefetch.memory_limit = usize::try_from(n).map_err(|_| {
                                    format!("{name} is too large for this platform, got {n}")
                                })?;
                            }
                            "holdLimit" => {
                                let n = int(&name, v, (0, MEMORY_LIMIT_MAX))?;
                                c.prefetch.hold_limit = usize::try_from(n).map_err(|_| {
                                    format!("{name} is too large for this platform, got {n}")
                                })?;
                            }
                            _ => self.unknown(&name),
                        }
                    }
                }
                "fastList" => {
                    for (k, v) in self.section(k, v)? {
                        let name = format!("fastList.{k}");
                        match k.as_str() {
                            "vcpus" => c.fast_list.vcpus = int(&name, v, VCPUS)? as usize,
                            "workers" => c.fast_list.workers = int(&name, v, WORKERS)? as usize,
                            _ => self.unknown(&name),
                        }
                    }
                }
                "retry" => {
                    for (k, v) in self.section(k, v)? {
                        let name = format!("retry.{k}");
                        match k.as_str() {
                            "maxAttempts" => {
                                c.retry.max_attempts = int(&name, v, MAX_ATTEMPTS)? as u32
                            }
                            "baseDelayMs" => c.retry.base_delay = millis(&name, v, DELAY_MS)?,
                            "maxDelayMs" => c.retry.max_delay = millis(&name, v, DELAY_MS)?,
                            _ => self.unknown(&name),
                        }
                    }
                }
                "timeouts" => {
                    for (k, v) in self.section(k, v)? {
                        let name = format!("timeouts.{k}");
                        match k.as_str() {
                            "connectMs" => c.connect_timeout = millis(&name, v, CONNECT_MS)?,
                            "readMs" => c.read_timeout = millis(&name, v, READ_MS)?,
                            "minRateBps" => c.min_rate_bps = int(&name, v, MIN_RATE_BPS)?,
                            _ => self.unknown(&name),
                        }
                    }
                }
                "signatureVersion" => {
                    c.signature_version = match string(k, v)?.to_ascii_lowercase().as_str() {
                        "v4" => SignatureVersion::V4,
                        "v1" => SignatureVersion::V1,
                        _ => {
                            return Err(format!(
                                "signatureVersion must be \"v4\" or \"v1\", got {}",
                                shown(v)
                            ))
                        }
                    }
                }
                "region" => {
                    let region = string(k, v)?;
                    check_region(region)?;
                    c.region = Some(region.to_owned());
                }
                "addressing" => {
                    c.addressing = match string(k, v)? {
                        "virtual-hosted" => Some(Addressing::VirtualHosted),
                        "path" => Some(Addressing::Path),
                        "auto" => None,
                        _ => return Err(bad_addressing(v)),
                    }
                }
                "proxy" => {
                    c.proxy = ProxySetting::parse(string(k, v).map_err(|_| {
                        format!(
                            "proxy must be a string (a URL such as \"http://proxy.example:3128\", \
                         or \"none\"), got {}",
                            shown_redacted(v)
                        )
                    })?)?
                }
                "noProxy" => c.no_proxy = Some(no_proxy(k, v)?),
                "protocol" => {
                    c.protocol = match string(k, v)?.to_ascii_lowercase().as_str() {
                        "auto" => None,
                        p => Some(p.parse().map_err(|_| {
                            format!(
                                r#"protocol must be "oss", "s3" or "auto", got {}"#,
                                shown(v)
                            )
                        })?),
                    }
                }
                _ => self.unknown(k),
            }
        }
        // Ranges of single fields were checked above; this adds the cross-field rules.
        c.check()?;
        Ok(c)
    }

    fn object<'v>(&self, name: &str, v: &'v Value) -> Msg<&'v Map<String, Value>> {
        v.as_object()
            .ok_or_else(|| format!("{name} must be a JSON object, got {}", shown(v)))
    }

    /// A section's fields, skipping `null` ones.
    fn section<'v>(&self, name: &str, v: &'v Value) -> Msg<Vec<(&'v String, &'v Value)>> {
        Ok(self
            .object(name, v)?
            .iter()
            .filter(|(_, v)| !v.is_null())
            .collect())
    }

    fn unknown(&mut self, name: &str) {
        self.warnings
            .push(format!("{}: unknown field {name:?} ignored", self.origin));
    }
}

fn bad_addressing(v: &Value) -> String {
    format!(
        r#"addressing must be "virtual-hosted", "path" or "auto", got {}"#,
        shown(v)
    )
}

/// A value as the user wrote it, shortened, for error messages.
fn shown(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        format!("{}...", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

/// `shown`, with what looks like user information in a URL replaced by `***`.
fn shown_redacted(v: &Value) -> String {
    crate::proxy::redact(&shown(v))
}

/// `noProxy`: a comma-separated string or an array of strings, each entry a host name, a
/// domain (`.example.com`, `*.example.com`), an IP address or `*`.
fn no_proxy(name: &str, v: &Value) -> Msg<Vec<String>> {
    let list = match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{name} entries must be strings, got {}", shown(i)))
            })
            .collect::<Msg<Vec<_>>>()?
            .join(","),
        _ => {
            return Err(format!(
                "{name} must be a string of comma-separated hosts or an array of hosts, got {}",
                shown(v)
            ))
        }
    };
    let (ok, bad) = crate::proxy::parse_no_proxy(&list);
    if let Some(b) = bad.first() {
        return Err(format!(
            "{name} entry {b:?} is not a host name, domain, IP address or * (CIDR blocks and \
             ports are not supported)"
        ));
    }
    Ok(ok)
}

fn int(name: &str, v: &Value, (lo, hi): (u64, u64)) -> Msg<u64> {
    match v.as_u64() {
        Some(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(format!(
            "{name} must be an integer between {lo} and {hi}, got {}",
            shown(v)
        )),
    }
}

fn millis(name: &str, v: &Value, range: (u64, u64)) -> Msg<Duration> {
    int(name, v, range).map(Duration::from_millis)
}

fn string<'v>(name: &str, v: &'v Value) -> Msg<&'v str> {
    v.as_str()
        .ok_or_else(|| format!("{name} must be a string, got {}", shown(v)))
}

fn path(name: &str, v: &Value) -> Msg<PathBuf> {
    match v.as_str() {
        Some(s) if !s.is_empty() => Ok(PathBuf::from(s)),
        _ => Err(format!(
            "{name} must be a non-empty string (a file path), got {}",
            shown(v)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(text: &str) -> String {
        let e = Config::from_json_str(text).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        e.message().to_owned()
    }

    /// The sample printed in the seed documentation, verbatim: it lacks a comma after the
    /// `prefetch` object.
    const SEED_SAMPLE: &str = r#"{
    "logLevel": 1,
    "logPath": "/var/log/oss-connector/connector.log",
    "auditPath": "/var/log/oss-connector/audit.log",
    "prefetch": {
        "vcpus": 24,
        "workers": 32
    }
    "fastList": {
        "vcpus": 2,
        "workers": 16
    }
}
"#;

    #[test]
    fn seed_sample_reports_the_missing_comma() {
        assert_eq!(
            parse_err(SEED_SAMPLE),
            "config: invalid JSON at line 9, column 5: expected `,` or `}`"
        );
    }

    #[test]
    fn seed_sample_with_the_comma_parses() {
        let fixed = SEED_SAMPLE.replace("    }\n    \"fastList\"", "    },\n    \"fastList\"");
        let (c, warnings) = Config::from_json_str(&fixed).unwrap();
        assert!(warnings.is_empty());
        assert_eq!((c.prefetch.vcpus, c.prefetch.workers), (24, 32));
        assert_eq!((c.fast_list.vcpus, c.fast_list.workers), (2, 16));
        assert_eq!(c.prefetch.max_in_flight(), 768);
        assert_eq!(c.fast_list.max_in_flight(), 32);
        // Paths given explicitly are not defaults, even when equal to them.
        assert!(!c.log_path.is_default);
        assert_eq!(c.log_path.path, PathBuf::from(DEFAULT_LOG_PATH));
    }

    #[test]
    fn empty_object_gives_the_documented_defaults() {
        let (c, w) = Config::from_json_str("{}").unwrap();
        assert!(w.is_empty());
        assert_eq!(c, Config::default());
        assert_eq!(c.log_level, 1);
        assert_eq!(
            c.log_path,
            LogPath {
                path: DEFAULT_LOG_PATH.into(),
                is_default: true
            }
        );
        assert_eq!(
            c.audit_path,
            LogPath {
                path: DEFAULT_AUDIT_PATH.into(),
                is_default: true
            }
        );
        assert_eq!((c.prefetch.vcpus, c.prefetch.workers), (16, 16));
        assert_eq!(
            (
                c.prefetch.chunk_size,
                c.prefetch.memory_limit,
                c.prefetch.hold_limit
            ),
            (8 << 20, 2 << 30, 64 << 20)
        );
        assert_eq!((c.fast_list.vcpus, c.fast_list.workers), (1, 16));
        assert_eq!(c.retry.max_attempts, 5);
        assert_eq!(c.retry.base_delay, Duration::from_millis(100));
        assert_eq!(c.retry.max_delay, Duration::from_secs(5));
        assert_eq!(c.connect_timeout, Duration::from_secs(10));
        assert_eq!(c.read_timeout, Duration::from_secs(30));
        assert_eq!(c.min_rate_bps, 32 << 10);
        assert_eq!(c.signature_version, SignatureVersion::V4);
        assert_eq!((c.region.clone(), c.addressing), (None, None));
        assert!(c.validate().is_ok());
    }

    #[test]
    fn extensions_parse() {
        let (c, w) = Config::from_json_str(
            r#"{"logLevel": 0, "logPath": "/tmp/x.log", "prefetch": {"chunkSize": 1048576,
                "memoryLimit": 67108864, "holdLimit": 0}, "retry": {"maxAttempts": 3, "baseDelayMs": 10,
                "maxDelayMs": 1000}, "timeouts": {"connectMs": 500, "readMs": 2000,
                "minRateBps": 4096},
                "signatureVersion": "V1", "region": "cn-beijing", "addressing": "path",
                "auditPath": null}"#,
        )
        .unwrap();
        assert!(w.is_empty());
        assert_eq!(c.log_level, 0);
        assert_eq!(
            c.log_path,
            LogPath {
                path: "/tmp/x.log".into(),
                is_default: false
            }
        );
        assert!(c.audit_path.is_default);
        assert_eq!(
            (
                c.prefetch.chunk_size,
                c.prefetch.memory_limit,
                c.prefetch.hold_limit
            ),
            (1 << 20, 64 << 20, 0)
        );
        assert_eq!(c.retry.max_attempts, 3);
        assert_eq!(c.retry.base_delay, Duration::from_millis(10));
        assert_eq!(c.retry.max_delay, Duration::from_millis(1000));
        assert_eq!(c.connect_timeout, Duration::from_millis(500));
        assert_eq!(c.read_timeout, Duration::from_millis(2000));
        assert_eq!(c.min_rate_bps, 4096);
        assert_eq!(c.signature_version, SignatureVersion::V1);
        assert_eq!(c.region.as_deref(), Some("cn-beijing"));
        assert_eq!(c.addressing, Some(Addressing::Path));
        let (c, _) = Config::from_json_str(r#"{"addressing": "virtual-hosted"}"#).unwrap();
        assert_eq!(c.addressing, Some(Addressing::VirtualHosted));
        let (c, _) = Config::from_json_str(r#"{"protocol": "s3"}"#).unwrap();
        assert_eq!(c.protocol, Some(crate::Protocol::S3));
        let (c, _) = Config::from_json_str(r#"{"protocol": "auto"}"#).unwrap();
        assert_eq!(c.protocol, None);
    }

    #[test]
    fn wrong_types_and_ranges_name_the_field() {
        for (text, msg) in [
            (r#"{"prefetch": {"workers": "x"}}"#, r#"prefetch.workers must be an integer between 1 and 1024, got "x""#),
            (r#"{"prefetch": {"workers": 0}}"#, "prefetch.workers must be an integer between 1 and 1024, got 0"),
            (r#"{"prefetch": {"vcpus": 2.5}}"#, "prefetch.vcpus must be an integer between 1 and 256, got 2.5"),
            (r#"{"logLevel": -1}"#, "logLevel must be an integer between 0 and 3, got -1"),
            (r#"{"logLevel": 4}"#, "logLevel must be an integer between 0 and 3, got 4"),
            (r#"{"fastList": {"workers": true}}"#, "fastList.workers must be an integer between 1 and 1024, got true"),
            (r#"{"prefetch": {"vcpus": 64, "workers": 128}}"#,
             "prefetch.vcpus * prefetch.workers must be at most 4096, got 64 * 128 = 8192"),
            (r#"{"prefetch": {"chunkSize": 1024}}"#,
             "prefetch.chunkSize must be an integer between 65536 and 1073741824, got 1024"),
            (r#"{"prefetch": {"chunkSize": 1073741824, "memoryLimit": 1048576}}"#,
             "prefetch.memoryLimit must be between prefetch.chunkSize (1073741824) and 1099511627776 bytes, got 1048576"),
            (r#"{"retry": {"baseDelayMs": 500, "maxDelayMs": 100}}"#,
             "retry.maxDelayMs (100) must not be less than retry.baseDelayMs (500)"),
            (r#"{"timeouts": {"readMs": 0}}"#, "timeouts.readMs must be an integer between 1 and 3600000, got 0"),
            (r#"{"timeouts": {"minRateBps": 0}}"#, "timeouts.minRateBps must be an integer between 1 and 1073741824, got 0"),
            (r#"{"prefetch": 3}"#, "prefetch must be a JSON object, got 3"),
            (r#"{"logPath": ""}"#, r#"logPath must be a non-empty string (a file path), got """#),
            (r#"{"logPath": 5}"#, "logPath must be a non-empty string (a file path), got 5"),
            (r#"{"signatureVersion": "v2"}"#, r#"signatureVersion must be "v4" or "v1", got "v2""#),
            (r#"{"addressing": "cname"}"#, r#"addressing must be "virtual-hosted", "path" or "auto", got "cname""#),
            (r#"{"protocol": "gcs"}"#, r#"protocol must be "oss", "s3" or "auto", got "gcs""#),
            (r#"{"region": "CN Hangzhou"}"#, r#"region must be a region id such as "cn-hangzhou", got "CN Hangzhou""#),
            ("[1, 2]", "the configuration must be a JSON object, got [1,2]"),
        ] {
            assert_eq!(parse_err(text), format!("config: {msg}"), "{text}");
        }
    }

    #[test]
    fn json_errors_give_line_and_column() {
        assert_eq!(
            parse_err(""),
            "config: invalid JSON at line 1, column 0: EOF while parsing a value"
        );
        assert_eq!(
            parse_err("{\n  \"logLevel\": 1,\n}"),
            "config: invalid JSON at line 3, column 1: trailing comma"
        );
    }

    #[test]
    fn unknown_fields_are_warnings() {
        let (c, w) =
            Config::from_json_str(r#"{"logLevl": 2, "prefetch": {"worker": 3, "vcpus": 2}}"#)
                .unwrap();
        assert_eq!(c.log_level, 1);
        assert_eq!(c.prefetch.vcpus, 2);
        assert_eq!(
            w,
            vec![
                "config: unknown field \"logLevl\" ignored".to_owned(),
                "config: unknown field \"prefetch.worker\" ignored".to_owned(),
            ]
        );
    }

    #[test]
    fn files_are_named_in_messages() {
        let dir = std::env::temp_dir().join(format!("ossmc-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        std::fs::write(&path, SEED_SAMPLE).unwrap();
        let e = Config::from_file(&path).unwrap_err();
        assert_eq!(
            e.message(),
            format!(
                "config {}: invalid JSON at line 9, column 5: expected `,` or `}}`",
                path.display()
            )
        );
        std::fs::write(&path, r#"{"prefetch": {"workers": "x"}}"#).unwrap();
        let e = Config::from_file(&path).unwrap_err();
        assert_eq!(
            e.message(),
            format!(
                "config {}: prefetch.workers must be an integer between 1 and 1024, got \"x\"",
                path.display()
            )
        );
        let missing = dir.join("missing.json");
        let e = Config::from_file(&missing).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(e
            .message()
            .starts_with(&format!("cannot read config file {}:", missing.display())));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn validate_checks_configs_built_in_code() {
        let mut c = Config::default();
        c.prefetch.workers = 0;
        assert_eq!(
            c.validate().unwrap_err().message(),
            "config: prefetch.workers must be an integer between 1 and 1024, got 0"
        );
    }
}
