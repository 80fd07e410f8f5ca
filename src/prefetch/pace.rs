//! How many ranged GETs to keep in flight: the configured `vcpus × workers` is a ceiling, not
//! a target.
//!
//! Where each connection is slow (real OSS, about 50 MB/s per connection and tens of
//! milliseconds per request) throughput grows with the number of requests in flight, and
//! hundreds are needed. Where the link or the CPU is the bottleneck (a fast local network, a
//! small machine), more requests only add threads, wakeups and memory: every request in
//! flight holds a chunk buffer that it fills slowly, so 256 requests of 8 MiB touch 2 GiB of
//! fresh memory before the first chunk completes, and the reader, who reads in order, waits
//! for all of them.
//!
//! So the prefetcher starts with a few requests in flight and doubles the count while that
//! pays: each request's own rate (bytes over its duration, latency included) times the
//! number in flight estimates what the level delivers. A level is judged on requests started
//! at that level (those started before a change would blur it) and only while every slot had
//! work: when fetchers wait for room or for chunks, the reader, not the network, sets the pace,
//! and the level says nothing. A doubling that gains less than [`GROW_GAIN`] ends the probing
//! at the better of the two levels. Probing starts again after [`REPROBE_ROUNDS`] rounds of
//! requests at the settled level (one noisy measurement must not cap a long load) and after
//! the prefetcher falls idle.

/// Requests in flight to start with (or the ceiling, if lower).
pub(crate) const INITIAL: usize = 16;

/// A level must deliver this much more than the previous one to keep doubling: each request
/// kept at least 70% of its rate. Where a bottleneck is shared, doubling halves every
/// request's rate (a gain of 1.0), and a lower bar lets measurement noise on a busy machine
/// look like a gain.
const GROW_GAIN: f64 = 1.4;

/// A level gaining less than this over the previous one is not worth its memory and threads.
const KEEP_GAIN: f64 = 1.05;

/// A settled level is probed again after this many requests per slot.
const REPROBE_ROUNDS: usize = 16;

/// The controller. Time is passed in, so the logic is tested without clocks.
#[derive(Debug)]
pub(crate) struct Pace {
    max: usize,
    limit: usize,
    /// Bumped at each change of `limit`; a request carries the generation it started in.
    generation: u64,
    /// Requests of this generation completed, their bytes and seconds.
    samples: usize,
    bytes: u64,
    secs: f64,
    /// Some slot went without work during this generation.
    starved: bool,
    /// The previous level and what it delivered (bytes per second).
    previous: Option<(usize, f64)>,
    settled: bool,
    /// Requests completed since the level settled.
    since_settled: usize,
    /// The first requests of a load also pay for connecting and for the server warming up:
    /// judged, they would make the first doubling look better than it is.
    warming_up: bool,
}

impl Pace {
    pub(crate) fn new(max: usize) -> Pace {
        let max = max.max(1);
        Pace {
            max,
            limit: INITIAL.min(max),
            generation: 0,
            samples: 0,
            bytes: 0,
            secs: 0.0,
            starved: false,
            previous: None,
            settled: INITIAL >= max,
            since_settled: 0,
            warming_up: true,
        }
    }

    /// Requests allowed in flight now.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// The configured most requests in flight.
    pub(crate) fn ceiling(&self) -> usize {
        self.max
    }

    /// The generation to give a request starting now.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// A slot had no chunk to fetch or no memory for one.
    pub(crate) fn starved(&mut self) {
        self.starved = true;
    }

    /// The prefetcher fell idle (nothing queued or in flight): the next load probes again,
    /// starting from the level this one settled on.
    pub(crate) fn restart(&mut self) {
        self.reprobe();
        self.warming_up = true;
    }

    /// Probes again from the current level (connections are up: no warm-up).
    fn reprobe(&mut self) {
        self.previous = None;
        self.settled = self.limit >= self.max;
        self.since_settled = 0;
        self.next_generation();
    }

    /// A request of `generation` fetched `bytes` in `secs`. Returns true when the limit grew.
    pub(crate) fn completed(&mut self, generation: u64, bytes: u64, secs: f64) -> bool {
        if self.settled {
            self.since_settled += 1;
            if self.since_settled >= REPROBE_ROUNDS * self.limit {
                self.reprobe();
            }
            return false;
        }
        if generation != self.generation || bytes == 0 {
            return false;
        }
        self.samples += 1;
        self.bytes += bytes;
        self.secs += secs.max(1e-6);
        // About half the slots' worth of requests, at least 4: enough to average out one slow
        // connection, few enough to decide within about one request's duration.
        if self.samples < (self.limit / 2).max(4) {
            return false;
        }
        if self.starved || self.warming_up {
            // The reader set the pace, or connections were still being made: measure this
            // level again.
            self.warming_up = false;
            self.next_generation();
            return false;
        }
        let delivered = self.limit as f64 * self.bytes as f64 / self.secs;
        match self.previous {
            Some((level, was)) if delivered < was * GROW_GAIN => {
                if delivered < was * KEEP_GAIN {
                    self.limit = level;
                }
                self.settled = true;
                self.next_generation();
                log::debug!("prefetch: {} requests in flight", self.limit);
                false
            }
            _ if self.limit >= self.max => {
                self.settled = true;
                false
            }
            _ => {
                self.previous = Some((self.limit, delivered));
                self.limit = (self.limit * 2).min(self.max);
                self.next_generation();
                true
            }
        }
    }

    fn next_generation(&mut self) {
        self.generation += 1;
        self.samples = 0;
        self.bytes = 0;
        self.secs = 0.0;
        self.starved = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds a level `n` requests of 8 MiB, each taking `secs_for(limit)`.
    fn run_level(p: &mut Pace, secs_for: impl Fn(usize) -> f64) -> bool {
        let g = p.generation();
        let limit = p.limit();
        let mut grew = false;
        for _ in 0..limit.max(4) {
            grew |= p.completed(g, 8 << 20, secs_for(limit));
        }
        grew
    }

    /// A controller past its warm-up round (whose requests are never judged).
    fn warmed(max: usize) -> Pace {
        let mut p = Pace::new(max);
        let limit = p.limit();
        assert!(
            !run_level(&mut p, |_| 1.0),
            "the warm-up round is not judged"
        );
        assert_eq!(p.limit(), limit);
        p
    }

    #[test]
    fn per_connection_limits_keep_doubling_to_the_ceiling() {
        // 50 MB/s per connection whatever the count: every doubling doubles the total.
        let mut p = warmed(256);
        assert_eq!(p.limit(), 16);
        let per_request = (8 << 20) as f64 / 50e6;
        for want in [32, 64, 128, 256] {
            assert!(run_level(&mut p, |_| per_request));
            assert_eq!(p.limit(), want);
        }
        assert!(!run_level(&mut p, |_| per_request));
        assert_eq!(p.limit(), 256);
    }

    #[test]
    fn a_shared_bottleneck_settles_on_the_smaller_level() {
        // 2 GB/s shared by every request: doubling gains nothing.
        let mut p = warmed(256);
        let shared = |n: usize| (8 << 20) as f64 / (2e9 / n as f64);
        assert!(run_level(&mut p, shared));
        assert_eq!(p.limit(), 32);
        assert!(!run_level(&mut p, shared));
        assert_eq!(p.limit(), 16, "back to the level that delivered as much");
        // Settled: further completions change nothing for a while...
        assert!(!run_level(&mut p, |_| 0.001));
        assert_eq!(p.limit(), 16);
        // ...then the level is probed again: where more requests now pay, the limit grows.
        let settled_generation = p.generation();
        let mut completions = 0;
        while p.generation() == settled_generation {
            p.completed(settled_generation, 8 << 20, 0.1);
            completions += 1;
        }
        assert!(
            completions >= REPROBE_ROUNDS * 16 / 2,
            "reprobed after {completions}"
        );
        assert!(run_level(&mut p, |_| 0.1));
        assert_eq!(p.limit(), 32);
    }

    #[test]
    fn a_link_that_saturates_midway_keeps_the_last_level_that_paid() {
        // 50 MB/s per connection up to 2 GB/s in total.
        let mut p = warmed(256);
        let capped = |n: usize| (8 << 20) as f64 / (50e6f64).min(2e9 / n as f64);
        while run_level(&mut p, capped) {}
        // 16 -> 32 (1.6 GB/s) -> 64 (2 GB/s, +25%: kept, but not worth doubling again).
        assert_eq!(p.limit(), 64);
    }

    #[test]
    fn starved_levels_and_stale_requests_are_not_judged() {
        let mut p = warmed(256);
        let g = p.generation();
        p.starved();
        for _ in 0..8 {
            assert!(!p.completed(g, 8 << 20, 0.1));
        }
        assert_eq!(
            p.limit(),
            16,
            "a starved level is measured again, not grown"
        );
        // Requests of an old generation are ignored.
        for _ in 0..100 {
            assert!(!p.completed(g, 8 << 20, 0.1));
        }
        assert_eq!(p.limit(), 16);
        assert!(run_level(&mut p, |_| 0.1));
        assert_eq!(p.limit(), 32);
    }

    #[test]
    fn a_low_ceiling_is_never_exceeded_and_restart_probes_again() {
        let mut p = warmed(8);
        assert_eq!(p.limit(), 8);
        assert!(!run_level(&mut p, |_| 0.1));
        assert_eq!(p.limit(), 8);

        let mut p = warmed(256);
        let shared = |n: usize| (8 << 20) as f64 / (2e9 / n as f64);
        while run_level(&mut p, shared) {}
        assert_eq!(p.limit(), 16);
        p.restart();
        assert!(!run_level(&mut p, |_| 0.1), "warming up again");
        assert!(run_level(&mut p, |_| 0.1), "probing again after a restart");
        assert_eq!(p.limit(), 32);
    }
}
