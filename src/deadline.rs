//! How long a response body may take, and what a timed-out body read was waiting for.
//!
//! The socket read timeout (`timeouts.readMs`) alone does not bound a request: a server that
//! sends one byte just before each read times out keeps a body alive forever. So every body
//! also has a deadline, counted from the end of the headers: one read timeout (the pause a
//! healthy server may make once) plus the body's size at the minimum rate
//! (`timeouts.minRateBps`). The size is the range asked for in a ranged GET; bodies whose size
//! is not known before the request (listing pages, error documents) are allowed
//! [`UNKNOWN_SIZE_BYTES`] at that rate, a fixed bound.

use std::time::Duration;

use crate::config::Config;

/// What the deadline of a body of unknown size allows for: a full 1000-entry listing page is
/// a few hundred KiB at most, an OSS error document well under 1 KiB.
pub(crate) const UNKNOWN_SIZE_BYTES: u64 = 256 << 10;

/// The deadline policy of one client.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyDeadline {
    read_timeout: Duration,
    min_rate_bps: u64,
}

impl BodyDeadline {
    /// The policy `config` asks for.
    pub(crate) fn new(config: &Config) -> BodyDeadline {
        BodyDeadline {
            read_timeout: config.read_timeout,
            min_rate_bps: config.min_rate_bps.max(1),
        }
    }

    /// The time a body of `size` bytes (`None`: not known before the request) may take once
    /// the headers arrived.
    pub(crate) fn for_body(&self, size: Option<u64>) -> Duration {
        let bytes = size.unwrap_or(UNKNOWN_SIZE_BYTES);
        // Whole milliseconds, rounded up; saturating so that no size overflows.
        let ms = bytes.saturating_mul(1000).div_ceil(self.min_rate_bps);
        self.read_timeout.saturating_add(Duration::from_millis(ms))
    }
}

/// Why a body read timed out, if it did: ureq hands its own timeouts through `std::io` as
/// wrapped errors of kind `Other`, not `TimedOut`.
pub(crate) enum BodyTimeout {
    /// No byte arrived for a whole read timeout.
    Stalled,
    /// The body as a whole took longer than its deadline.
    TooSlow,
}

impl BodyTimeout {
    /// Classifies a body read error; `None` when it is not a timeout.
    pub(crate) fn of(e: &std::io::Error) -> Option<BodyTimeout> {
        let wrapped = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<ureq::Error>());
        match wrapped {
            Some(ureq::Error::Timeout(ureq::Timeout::PerRead)) => Some(BodyTimeout::Stalled),
            Some(ureq::Error::Timeout(_)) => Some(BodyTimeout::TooSlow),
            _ if e.kind() == std::io::ErrorKind::TimedOut => Some(BodyTimeout::Stalled),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(read_ms: u64, min_rate_bps: u64) -> BodyDeadline {
        BodyDeadline::new(&Config {
            read_timeout: Duration::from_millis(read_ms),
            min_rate_bps,
            ..Config::default()
        })
    }

    #[test]
    fn deadlines_grow_with_the_size_at_the_minimum_rate() {
        let p = policy(2000, 32 << 10);
        assert_eq!(p.for_body(Some(0)), Duration::from_secs(2));
        assert_eq!(p.for_body(Some(64 << 10)), Duration::from_secs(4));
        // Unknown sizes get the fixed allowance: 256 KiB at 32 KiB/s.
        assert_eq!(p.for_body(None), Duration::from_secs(10));
        // Rounded up, never zero for a byte.
        assert_eq!(policy(0, 3).for_body(Some(1)), Duration::from_millis(334));
        // The default chunk at the default rate: 30 s + 256 s.
        let d = BodyDeadline::new(&Config::default());
        assert_eq!(d.for_body(Some(8 << 20)), Duration::from_secs(286));
        assert!(policy(1, 1).for_body(Some(u64::MAX)) > Duration::from_secs(1 << 50));
    }

    #[test]
    fn timeouts_are_told_apart_from_other_errors() {
        let wrapped = |t| std::io::Error::other(ureq::Error::Timeout(t));
        assert!(matches!(
            BodyTimeout::of(&wrapped(ureq::Timeout::PerRead)),
            Some(BodyTimeout::Stalled)
        ));
        assert!(matches!(
            BodyTimeout::of(&wrapped(ureq::Timeout::RecvBody)),
            Some(BodyTimeout::TooSlow)
        ));
        let timed_out = std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out");
        assert!(matches!(
            BodyTimeout::of(&timed_out),
            Some(BodyTimeout::Stalled)
        ));
        let eof = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "Peer disconnected");
        assert!(BodyTimeout::of(&eof).is_none());
        assert!(BodyTimeout::of(&std::io::Error::other(ureq::Error::BodyStalled)).is_none());
    }
}
