//! The connector's configuration: a typed [`Config`] with documented defaults, parsed from the
//! seed JSON format (`logLevel`, `logPath`, `auditPath`, `prefetch`, `fastList`) plus ossmc's
//! extensions (chunk size, memory limit, retries, timeouts, signature version, region, addressing).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};

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
    /// Attempts per request, the first included; default 5.
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
    /// V4 by default.
    pub signature_version: SignatureVersion,
    /// Region for V4 signing; `None` = derived from the endpoint.
    pub region: Option<String>,
    /// `None` = automatic (path style for an IP or `localhost`, virtual-hosted otherwise).
    pub addressing: Option<Addressing>,
}

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
            signature_version: SignatureVersion::V4,
            region: None,
            addressing: None,
        }
    }
}

impl Config {
    /// Parses a JSON configuration. Returns the config and warnings (unknown fields).
    pub fn from_json_str(text: &str) -> Result<(Config, Vec<String>)> {
        let _ = text;
        Err(Error::new(
            ErrorKind::InvalidConfig,
            "config parsing is not implemented yet",
        ))
    }

    /// Reads and parses a JSON configuration file.
    pub fn from_file(path: &Path) -> Result<(Config, Vec<String>)> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot read config file {}: {e}", path.display()),
            )
        })?;
        Config::from_json_str(&text)
    }
}
