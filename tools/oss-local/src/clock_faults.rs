//! A server clock that is off, or absurd: `--skew-date-secs N` runs the server's clock N
//! seconds off the machine's (its `Date` headers say so, and requests are checked for skew
//! against it); `--absurd-date-rate P` answers a fraction of GetObject requests 403
//! `RequestTimeTooSkewed` with `Date: Fri, 31 Dec 9999 23:59:59 GMT`, a date no client
//! should believe.
//!
//! GetObject requests are numbered 0, 1, 2, … in the order the server starts handling them
//! (a numbering of their own, apart from the other faults'). Request `n` draws one number
//! `u` uniform in [0, 1) from ChaCha8 seeded with `--seed` XOR [`SEED_SALT`], stream `n`;
//! `u < P` makes it absurd.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::OssError;

/// The `Date` of an absurd answer: the last second HTTP dates can write.
pub const ABSURD_DATE: &str = "Fri, 31 Dec 9999 23:59:59 GMT";

/// Keeps these draws apart from the other faults' (which use `--seed` itself).
pub const SEED_SALT: u64 = 0x636c_6f63_6b5f_6461; // "clock_da"

/// The command-line options.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ClockArgs {
    /// Run the server's clock this many seconds ahead of the machine's (negative: behind):
    /// response `Date`s and the request-skew check use it.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub skew_date_secs: i64,

    /// Fraction of GetObject requests answered 403 RequestTimeTooSkewed with
    /// `Date: Fri, 31 Dec 9999 23:59:59 GMT`.
    #[arg(long, default_value_t = 0.0, value_parser = crate::cli::parse_probability)]
    pub absurd_date_rate: f64,
}

/// The server's clock and the absurd-date draws.
#[derive(Debug, Default)]
pub struct ClockFaults {
    skew_secs: i64,
    absurd_rate: f64,
    seed: u64,
    /// Number of the next GetObject request.
    counter: AtomicU64,
}

impl ClockFaults {
    pub fn new(args: &ClockArgs, seed: u64) -> ClockFaults {
        ClockFaults {
            skew_secs: args.skew_date_secs,
            absurd_rate: args.absurd_date_rate,
            seed,
            counter: AtomicU64::new(0),
        }
    }

    /// The server's time now.
    pub fn now(&self) -> SystemTime {
        let now = SystemTime::now();
        let d = Duration::from_secs(self.skew_secs.unsigned_abs());
        let skewed = if self.skew_secs >= 0 {
            now.checked_add(d)
        } else {
            now.checked_sub(d)
        };
        skewed.unwrap_or(now)
    }

    /// Whether the next GetObject request gets an absurd answer (draws its number).
    pub fn draw_absurd(&self) -> bool {
        if self.absurd_rate <= 0.0 {
            return false;
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ SEED_SALT);
        rng.set_stream(n);
        rng.random::<f64>() < self.absurd_rate
    }

    /// The answer to a request drawn absurd (send it with [`ClockFaults::date`]`(true)`).
    pub fn absurd_error(&self) -> OssError {
        OssError::new(
            403,
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large \
             (injected fault).",
        )
        .with("ServerTime", "9999-12-31T23:59:59.000Z")
    }

    /// The `Date` header a response should carry, when it is not the machine's time (which
    /// the HTTP stack adds by itself).
    pub fn date(&self, absurd: bool) -> Option<String> {
        if absurd {
            Some(ABSURD_DATE.to_owned())
        } else if self.skew_secs != 0 {
            Some(httpdate::fmt_http_date(self.now()))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(skew: i64, rate: f64, seed: u64) -> ClockFaults {
        ClockFaults::new(
            &ClockArgs {
                skew_date_secs: skew,
                absurd_date_rate: rate,
            },
            seed,
        )
    }

    #[test]
    fn absurd_draws_are_reproducible_and_follow_the_rate() {
        let draws = |c: &ClockFaults| (0..1000).map(|_| c.draw_absurd()).collect::<Vec<_>>();
        let a = draws(&faults(0, 0.3, 7));
        assert_eq!(a, draws(&faults(0, 0.3, 7)));
        assert_ne!(a, draws(&faults(0, 0.3, 8)));
        let n = a.iter().filter(|&&d| d).count();
        assert!((200..400).contains(&n), "{n}");
        assert!(draws(&faults(0, 1.0, 0)).iter().all(|&d| d));
        assert!(!draws(&faults(0, 0.0, 0)).iter().any(|&d| d));
    }

    #[test]
    fn the_skewed_clock_shows_in_the_date() {
        let c = faults(-7200, 0.0, 0);
        let behind = SystemTime::now().duration_since(c.now()).unwrap();
        assert!(behind >= Duration::from_secs(7199), "{behind:?}");
        let date = httpdate::parse_http_date(&c.date(false).unwrap()).unwrap();
        assert!(SystemTime::now().duration_since(date).unwrap() >= Duration::from_secs(7198));
        assert_eq!(c.date(true).as_deref(), Some(ABSURD_DATE));
        assert_eq!(faults(0, 0.5, 0).date(false), None);
        assert!(httpdate::parse_http_date(ABSURD_DATE).is_ok());
    }
}
