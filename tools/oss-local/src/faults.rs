//! Injected faults and network shaping, all reproducible from `--seed`.
//!
//! Scheme: object and listing requests (never `/_stats`) are numbered 0, 1, 2, … in the
//! order the server starts handling them. Request `n` draws six numbers uniform in [0, 1)
//! from ChaCha8 seeded with `--seed`, stream `n`, always in this order:
//! `u0 < fail-rate` answers 503 `SlowDown` (`u1 < 0.5`) or 500 `InternalError`;
//! `u2 < reset-rate` drops the connection of a GetObject after `floor(u3 · body length)`
//! body bytes, and `u2 < list-reset-rate` does the same to a ListObjects/ListObjectsV2
//! body after `floor(u3 · body length)` bytes; `u4 < corrupt-rate` flips (XOR 0xFF) the body byte at
//! `floor(u5 · body length)` of a GetObject. A given seed and request sequence therefore
//! always gives the same faults, whatever the rates of the other kinds.
//!
//! `--latency-ms` delays every object/listing response before its headers;
//! `--rate-mbps` caps each connection's body bytes with a token bucket;
//! `--chunked-listings` sends listing bodies chunked, without a Content-Length;
//! `--list-reset-after N` cuts every listing body longer than N bytes after N bytes;
//! `--corrupt-first N` flips a byte of each of the first N GetObject bodies, the `k`-th at
//! `floor(frac(k · 0.618…) · body length)` (so two of them never corrupt the same place alike).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::OssError;

/// Fault settings from the command line.
#[derive(Debug, Clone, Default)]
pub struct FaultConfig {
    pub fail_rate: f64,
    pub reset_rate: f64,
    /// Rate of listing responses whose connection is dropped part-way through the body.
    pub list_reset_rate: f64,
    pub corrupt_rate: f64,
    /// The first GetObject responses with a body to corrupt (`--corrupt-first`).
    pub corrupt_first: std::sync::Arc<CorruptFirst>,
    pub seed: u64,
    /// Listing bodies go out chunked (no Content-Length), in frames of [`LIST_FRAME`] bytes.
    pub chunked_listings: bool,
    /// Every listing body longer than this is cut after this many bytes (no draw involved).
    pub list_reset_after: Option<u64>,
    pub latency: Duration,
    /// Bytes per second per connection; 0 = unlimited.
    pub rate_bytes_per_sec: f64,
    /// Hostile listing answers (`--listing-fault`), drawn apart from the faults above.
    pub hostile_listing: std::sync::Arc<crate::hostile_listing::HostileListing>,
    /// Trickled and stalled bodies (`slow_body`).
    pub slow_bodies: crate::slow_body::SlowBodies,
}

/// The faults drawn for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draw {
    /// `Some(true)`: 503 SlowDown, `Some(false)`: 500 InternalError.
    pub fail: Option<bool>,
    /// Fraction of the body after which the connection is dropped (GetObject).
    pub reset: Option<f64>,
    /// Fraction of the body after which the connection is dropped (listings).
    pub list_reset: Option<f64>,
    /// Fraction of the body where one byte is flipped.
    pub corrupt: Option<f64>,
}

impl Draw {
    /// The error of a failed request.
    pub fn error(&self) -> Option<OssError> {
        self.fail.map(|slow_down| {
            if slow_down {
                OssError::new(
                    503,
                    "SlowDown",
                    "Please reduce your request rate (injected fault).",
                )
            } else {
                OssError::internal(
                    "We encountered an internal error. Please try again (injected fault).",
                )
            }
        })
    }
}

/// `--corrupt-first N`: how many GetObject bodies are still to be corrupted.
#[derive(Debug, Default)]
pub struct CorruptFirst {
    total: u64,
    taken: std::sync::atomic::AtomicU64,
}

impl CorruptFirst {
    pub fn new(total: u64) -> CorruptFirst {
        CorruptFirst {
            total,
            taken: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// For a GetObject body: the fraction of it where one byte is flipped, while any of the
    /// first N are left.
    pub fn take(&self) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let k = self
            .taken
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (k < self.total).then(|| (k as f64 * 0.618_033_988_749_895).fract())
    }
}

/// Frame size of listing bodies sent chunked (`--chunked-listings`).
pub const LIST_FRAME: usize = 16 * 1024;

/// The offset `fraction` of the way into a body of `len` bytes (always `< len`).
pub fn offset_in(fraction: f64, len: u64) -> u64 {
    ((fraction * len as f64) as u64).min(len.saturating_sub(1))
}

impl FaultConfig {
    /// Whether any fault may be drawn at all.
    pub fn any(&self) -> bool {
        self.fail_rate > 0.0
            || self.reset_rate > 0.0
            || self.list_reset_rate > 0.0
            || self.corrupt_rate > 0.0
    }

    /// The faults of request number `n`.
    pub fn draw(&self, n: u64) -> Draw {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(n);
        let u: [f64; 6] = std::array::from_fn(|_| rng.random::<f64>());
        Draw {
            fail: (u[0] < self.fail_rate).then_some(u[1] < 0.5),
            reset: (u[2] < self.reset_rate).then_some(u[3]),
            // The same draws as `reset`: the two never apply to the same request.
            list_reset: (u[2] < self.list_reset_rate).then_some(u[3]),
            corrupt: (u[4] < self.corrupt_rate).then_some(u[5]),
        }
    }
}

/// A per-connection token bucket shared by the responses of one keep-alive connection.
pub struct Throttle {
    rate: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl Throttle {
    /// A bucket for `rate_bytes_per_sec` (> 0).
    pub fn new(rate_bytes_per_sec: f64) -> Throttle {
        // 5 ms of credit at most, and none at first: even a short response on a fresh
        // connection is throttled (unlike nginx's limit_rate, which lets a first chunk out).
        let burst = (rate_bytes_per_sec * 0.005).max(16.0 * 1024.0);
        Throttle {
            rate: rate_bytes_per_sec,
            burst,
            state: Mutex::new((0.0, Instant::now())),
        }
    }

    /// The frame size that keeps sending smooth at this rate.
    pub fn chunk(&self) -> usize {
        (self.burst as usize).clamp(16 * 1024, crate::bufpool::BUF_SIZE)
    }

    /// Takes `n` bytes of credit, returning how long to wait before sending them. Credit
    /// may go negative (a debt), so the long-run rate is exact.
    pub fn take(&self, n: usize) -> Duration {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let tokens =
            (s.0 + now.duration_since(s.1).as_secs_f64() * self.rate).min(self.burst) - n as f64;
        *s = (tokens, now);
        if tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-tokens / self.rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_reproducible_and_follow_rates() {
        let c = FaultConfig {
            fail_rate: 0.3,
            reset_rate: 0.2,
            corrupt_rate: 0.1,
            seed: 42,
            ..Default::default()
        };
        let a: Vec<Draw> = (0..1000).map(|n| c.draw(n)).collect();
        let b: Vec<Draw> = (0..1000).map(|n| c.draw(n)).collect();
        assert_eq!(a, b);
        let fails = a.iter().filter(|d| d.fail.is_some()).count();
        assert!((200..400).contains(&fails), "{fails}");
        let other = FaultConfig {
            seed: 43,
            ..c.clone()
        };
        assert_ne!(a, (0..1000).map(|n| other.draw(n)).collect::<Vec<_>>());
        let always = FaultConfig {
            fail_rate: 1.0,
            reset_rate: 1.0,
            list_reset_rate: 1.0,
            corrupt_rate: 1.0,
            ..Default::default()
        };
        assert!((0..100).all(|n| {
            let d = always.draw(n);
            d.fail.is_some() && d.reset.is_some() && d.list_reset.is_some() && d.corrupt.is_some()
        }));
        let never = FaultConfig::default();
        assert_eq!(
            never.draw(7),
            Draw {
                fail: None,
                reset: None,
                list_reset: None,
                corrupt: None
            }
        );
    }

    #[test]
    fn offsets_stay_inside_the_body() {
        assert_eq!(offset_in(0.0, 10), 0);
        assert_eq!(offset_in(0.999_999_999_999, 10), 9);
        assert_eq!(offset_in(0.5, 1), 0);
    }

    #[test]
    fn throttle_accumulates_debt() {
        let t = Throttle::new(1_000_000.0);
        // Credit never exceeds the burst (16 KiB here), so 100 kB must wait.
        assert!(t.take(100_000) > Duration::from_millis(50));
        let wait = t.take(1_000_000);
        assert!(wait > Duration::from_millis(900), "{wait:?}");
    }
}
