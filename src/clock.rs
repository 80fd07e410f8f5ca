//! The correction of the local clock learned from the server: a request refused with
//! `RequestTimeTooSkewed` carries the server's `Date`, and later requests are signed at local
//! time plus the difference.
//!
//! The `Date` comes from the network, so the correction is bounded: a server whose clock is
//! more than [`MAX_CORRECTION`] off the local one (or one that sends an absurd date, such as
//! `Fri, 31 Dec 9999 23:59:59 GMT`) is not believed. That request fails with an error naming
//! the server's date, and the correction in use is left as it was, so the connector keeps
//! signing sensible times.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use crate::error::{Error, ErrorKind, Result};

/// The most the local clock is corrected by: a real clock a day off is already broken, and a
/// server date further off than that is more likely wrong than the local clock.
pub(crate) const MAX_CORRECTION: Duration = Duration::from_secs(24 * 3600);

/// What a `RequestTimeTooSkewed` response taught.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Correction {
    /// The correction is now `secs` (server time minus local time).
    Learned { secs: i64 },
    /// The response had no `Date` (or one that is not an HTTP date): nothing learned.
    NoDate,
    /// The server's `Date` is further off than [`MAX_CORRECTION`]: not kept. The message
    /// says so, naming the date.
    TooFar(String),
}

/// Server time minus local time, in seconds (0 until a correction is learned).
#[derive(Debug, Default)]
pub(crate) struct ClockOffset {
    secs: AtomicI64,
}

impl ClockOffset {
    pub(crate) fn new() -> ClockOffset {
        ClockOffset::default()
    }

    /// The time to sign requests with: local time plus the correction.
    pub(crate) fn now(&self) -> Result<SystemTime> {
        let secs = self.secs.load(Ordering::Relaxed);
        let now = SystemTime::now();
        let d = Duration::from_secs(secs.unsigned_abs());
        let corrected = if secs >= 0 {
            now.checked_add(d)
        } else {
            now.checked_sub(d)
        };
        corrected.ok_or_else(|| {
            Error::new(
                ErrorKind::Internal,
                format!("the local clock corrected by {secs} s is out of range"),
            )
        })
    }

    /// Learns the correction from the `Date` of a `RequestTimeTooSkewed` response.
    pub(crate) fn learn(&self, date: Option<&str>) -> Correction {
        self.learn_at(date, SystemTime::now())
    }

    fn learn_at(&self, date: Option<&str>, local: SystemTime) -> Correction {
        let Some((text, server)) =
            date.and_then(|d| httpdate::parse_http_date(d).ok().map(|t| (d, t)))
        else {
            return Correction::NoDate;
        };
        let (off, ahead) = match server.duration_since(local) {
            Ok(d) => (d, true),
            Err(e) => (e.duration(), false),
        };
        if off > MAX_CORRECTION {
            return Correction::TooFar(format!(
                "the server's clock (Date: {}) is {} days {} the local clock, more than the \
                 {} day a clock is corrected by; not retrying",
                text.trim(),
                off.as_secs() / 86_400,
                if ahead { "ahead of" } else { "behind" },
                MAX_CORRECTION.as_secs() / 86_400,
            ));
        }
        // Within a day: fits an i64 many times over.
        let secs = off.as_secs() as i64;
        let secs = if ahead { secs } else { -secs };
        self.secs.store(secs, Ordering::Relaxed);
        Correction::Learned { secs }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    /// 2025-03-14T12:34:56Z.
    fn local() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_741_955_696)
    }

    #[test]
    fn a_server_within_a_day_corrects_the_clock() {
        let c = ClockOffset::new();
        assert_eq!(
            c.learn_at(Some("Fri, 14 Mar 2025 13:34:56 GMT"), local()),
            Correction::Learned { secs: 3600 }
        );
        assert_eq!(
            c.learn_at(Some("Thu, 13 Mar 2025 12:35:56 GMT"), local()),
            Correction::Learned { secs: -86_340 }
        );
        let now = c.now().unwrap();
        let behind = SystemTime::now().duration_since(now).unwrap();
        assert!(behind >= Duration::from_secs(86_340), "{behind:?}");
    }

    #[test]
    fn an_absurd_date_is_an_error_naming_it_and_is_not_kept() {
        let c = ClockOffset::new();
        c.learn_at(Some("Fri, 14 Mar 2025 13:34:56 GMT"), local());
        for (date, way) in [
            ("Fri, 31 Dec 9999 23:59:59 GMT", "ahead of"),
            ("Thu, 01 Jan 1970 00:00:00 GMT", "behind"),
            ("Sun, 16 Mar 2025 12:34:57 GMT", "ahead of"),
        ] {
            match c.learn_at(Some(date), local()) {
                Correction::TooFar(m) => {
                    assert!(m.contains(date) && m.contains(way), "{m}");
                }
                other => panic!("{date}: {other:?}"),
            }
        }
        assert_eq!(c.secs.load(Ordering::Relaxed), 3600, "the correction kept");
        assert!(c.now().is_ok());
    }

    #[test]
    fn a_missing_or_garbled_date_teaches_nothing() {
        let c = ClockOffset::new();
        for date in [
            None,
            Some(""),
            Some("yesterday"),
            Some("Fri, 31 Dec 99999 GMT"),
        ] {
            assert_eq!(c.learn_at(date, local()), Correction::NoDate);
        }
        assert_eq!(c.secs.load(Ordering::Relaxed), 0);
    }
}
