//! The log file (flexi_logger, one per process) and the per-request audit file.

use crate::config::Config;
use crate::error::Result;

/// Starts the process-wide logger; later calls are no-ops.
pub(crate) fn init_logging(cfg: &Config) -> Result<()> {
    let _ = cfg;
    Ok(())
}

/// The audit file: one line per request.
pub(crate) struct Audit {}

/// One request, as the audit file records it.
pub(crate) struct AuditRecord<'a> {
    pub op: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
    pub range: Option<(u64, u64)>,
    /// 0 = no response.
    pub http_status: u16,
    pub bytes: u64,
    pub millis: u64,
    pub request_id: &'a str,
}

impl Audit {
    /// Opens the audit file of `cfg`.
    pub(crate) fn open(cfg: &Config) -> Result<Audit> {
        let _ = cfg;
        Ok(Audit {})
    }

    /// Records one request.
    pub(crate) fn record(&self, r: &AuditRecord) {
        let _ = r;
    }
}
