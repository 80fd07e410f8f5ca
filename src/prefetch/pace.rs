//! How many ranged GETs to keep in flight: the configured `vcpus × workers` is a ceiling, not
//! a target.
//!
//! Where each connection is slow (real OSS, about 50 MB/s per connection and tens of
//! milliseconds per request) throughput grows with the number of requests in flight, and
//! hundreds are needed. Where the link or the CPU is the bottleneck (a fast local network, a
//! small machine), more requests only add threads, wakeups, memory and CPU per byte: fewer
//! connections with larger reads win.
//!
//! So the prefetcher starts with [`INITIAL`] requests in flight and judges each level by two
//! figures: what it delivers (each request's own rate, bytes over its duration, latency
//! included, times the number in flight: the level's bandwidth-delay product at work) and
//! the process's CPU seconds per byte received while it ran. The first level is judged on
//! its first responses, and the next is four times as many requests: on a link whose
//! connections are each throttled, that reaches the plateau within a few request durations,
//! not one doubling per round trip. Growth goes on (by four while the gain stays nearly
//! linear, else by two) while each step pays: at least [`GROW_GAIN`] for a doubling, and not
//! at the price of more CPU per byte without a real gain. A step that does not pay goes back
//! to the previous level, which is then tried at half (and so on down to [`MIN`]) while
//! fewer requests deliver as much for less CPU.
//!
//! A level is judged on requests started at that level (those started before a change would
//! blur it) and only while every slot had work: when fetchers wait for room or for chunks, the
//! reader, not the network, sets the pace, and the level says nothing. Probing starts again
//! after [`REPROBE_ROUNDS`] rounds of requests at the settled level (one noisy measurement
//! must not cap a long load) and after the prefetcher falls idle.
//!
//! Time and CPU are passed in ([`Meter`]), so the logic is tested without clocks.

/// Requests in flight to start with (or the ceiling, if lower).
pub(crate) const INITIAL: usize = 16;

/// Fewest requests in flight the pace goes down to.
pub(crate) const MIN: usize = 4;

/// A doubling must deliver this much more to keep growing: each request kept at least 70%
/// of its rate. Where a bottleneck is shared, doubling halves every request's rate (a gain of
/// 1.0), and a lower bar lets measurement noise on a busy machine look like a gain.
const GROW_GAIN: f64 = 1.4;

/// A step gaining less than this is not worth its memory and threads (nor is a smaller gain
/// measurable on a busy machine, where runs vary by ±30%).
const KEEP_GAIN: f64 = 1.2;

/// A step that costs this much more CPU per byte...
const CPU_WORSE: f64 = 1.10;
/// ...must gain at least this much to be kept.
const CPU_WORTH: f64 = 1.25;

/// Going down a level is kept when it delivers at least this share of the level above...
const DOWN_KEEPS: f64 = 0.95;
/// ...for at most this share of its CPU per byte.
const DOWN_SAVES: f64 = 0.97;

/// Above this rate per request (bytes per second), connections are not what limits the
/// link (cloud object stores give tens of MB/s per connection): a first step up only
/// doubles rather than leaping.
const FAST_CONNECTION: f64 = 200e6;

/// A level is judged when its requests in flight averaged at least this share of it.
const FILLED: f64 = 0.75;

/// A settled level is probed again after this many requests per slot.
const REPROBE_ROUNDS: usize = 16;

/// The process's CPU seconds, the bytes received so far (counted as they arrive, not when a
/// request completes) and the time, read when a level starts and when it is judged.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Meter {
    pub cpu_secs: f64,
    pub bytes: u64,
    /// Seconds since some fixed moment.
    pub wall_secs: f64,
    /// Requests in flight × seconds, summed since the same moment.
    pub in_flight_secs: f64,
}

/// What a level delivered.
#[derive(Debug, Clone, Copy)]
struct Level {
    limit: usize,
    /// Bytes per second: requests in flight × each request's rate.
    delivered: f64,
    /// CPU seconds per byte received while it ran, if measured.
    cpu_per_byte: Option<f64>,
}

impl Level {
    /// `self.cpu_per_byte / other.cpu_per_byte`, or 1 when either is unknown.
    fn cpu_ratio(&self, other: &Level) -> f64 {
        match (self.cpu_per_byte, other.cpu_per_byte) {
            (Some(a), Some(b)) if b > 0.0 => a / b,
            _ => 1.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Up,
    Down,
}

/// The controller.
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
    /// Some slot went without work because the readers had enough ahead of them while none
    /// was waiting: the readers, not the link, set the pace.
    reader_bound: bool,
    /// The meter when this generation started (read at its first completion).
    start: Option<Meter>,
    /// The level before the current one, and what it delivered.
    previous: Option<Level>,
    direction: Direction,
    /// Growth factor of the next step up (4 at first, 2 once growth slows).
    step: usize,
    /// Bytes per second the last judged level delivered (0 until one is judged).
    rate: f64,

    /// Has tried going down from the level it settled on since the last probe.
    tried_down: bool,
    settled: bool,
    /// Requests completed since the level settled.
    since_settled: usize,
    /// The first window after a (re)start pays for connecting and for every request starting
    /// at once: it is measured, not judged (it would make the next level look better).
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
            reader_bound: false,
            start: None,
            previous: None,
            direction: Direction::Up,
            step: 4,
            rate: 0.0,
            tried_down: false,
            settled: false,
            since_settled: 0,
            warming_up: true,
        }
    }

    /// Requests allowed in flight now.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// What the link delivers, bytes per second, as last measured (0 before).
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    #[cfg(test)]
    pub(crate) fn set_rate_for_tests(&mut self, rate: f64) {
        self.rate = rate;
    }

    /// The configured most requests in flight.
    pub(crate) fn ceiling(&self) -> usize {
        self.max
    }

    /// The generation to give a request starting now.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// A slot had no chunk to fetch or no memory for one: this level's figures say little.
    pub(crate) fn starved(&mut self) {
        self.starved = true;
    }

    /// A slot had chunks to fetch, but they were held back (the readers had enough ahead of
    /// them): the readers, not the link, set the pace.
    pub(crate) fn reader_bound(&mut self) {
        self.starved = true;
        self.reader_bound = true;
    }

    /// The prefetcher fell idle (nothing queued or in flight): the next load probes again,
    /// starting from the level this one settled on, from `now`.
    pub(crate) fn restart(&mut self, now: Meter) {
        // The first load leaps; later ones start from where the last one settled, and step.
        let step = if self.generation == 0 { 4 } else { 2 };
        self.reprobe(step);
        self.warming_up = true;
        self.start = Some(now);
    }

    /// Probes again from the current level, growing by `step` first.
    fn reprobe(&mut self, step: usize) {
        self.previous = None;
        self.direction = Direction::Up;
        self.step = step;
        self.tried_down = false;
        self.settled = false;
        self.since_settled = 0;
        self.next_generation();
    }

    /// A request of `generation` fetched `bytes` in `secs`; `meter` reads the process's CPU
    /// time and bytes received (called only when a level starts or is judged). Returns true
    /// when the limit grew.
    pub(crate) fn completed(
        &mut self,
        generation: u64,
        bytes: u64,
        secs: f64,
        meter: impl Fn() -> Meter,
    ) -> bool {
        if self.settled {
            self.since_settled += 1;
            if self.since_settled >= REPROBE_ROUNDS * self.limit {
                self.reprobe(2);
                self.start = Some(meter());
            }
            return false;
        }
        if generation != self.generation || bytes == 0 {
            return false;
        }
        if self.start.is_none() {
            self.start = Some(meter());
        }
        self.samples += 1;
        self.bytes += bytes;
        self.secs += secs.max(1e-6);
        // About half the slots' worth of requests, at least 4 and at most 16: enough to average
        // out one slow connection, few enough to decide within about one request's duration.
        if self.samples < (self.limit / 2).clamp(4, 16) {
            return false;
        }
        let now = meter();
        if self.warming_up {
            // Same level, same generation: only the window starts again.
            self.warming_up = false;
            self.reset_window();
            self.start = Some(now);
            return false;
        }
        // How many requests were in flight on average: a level the work did not fill says
        // nothing about the link.
        let used = self.start.and_then(|s| {
            let wall = now.wall_secs - s.wall_secs;
            (wall > 1e-4).then(|| (now.in_flight_secs - s.in_flight_secs) / wall)
        });
        let filled = used.is_some_and(|u| u >= FILLED * self.limit as f64);
        if !filled && (self.starved || self.reader_bound) {
            // When work was there but held back (the readers had enough ahead of them, or a
            // read's pieces were fewer than the slots), more requests would only fetch further
            // ahead into memory: after a step up, go back to the level before; a step down
            // that still keeps up is kept. When the queue ran dry (the end of a load), measure
            // this level again.
            if self.reader_bound {
                match (self.direction, self.previous) {
                    (Direction::Up, Some(prev)) => {
                        // Back to what was used, at least the level before.
                        let used = used.unwrap_or(0.0).ceil() as usize;
                        self.limit = used.clamp(prev.limit, self.limit);
                        self.settle();
                    }
                    (Direction::Down, Some(_)) => self.settle(),
                    _ => {}
                }
            }
            self.next_generation();
            self.start = Some(now);
            return false;
        }
        let cpu_per_byte = self.start.and_then(|s| {
            let bytes = now.bytes.saturating_sub(s.bytes);
            (bytes > 0).then(|| (now.cpu_secs - s.cpu_secs).max(0.0) / bytes as f64)
        });
        // What the link delivered while this level ran: bytes received over the time, counted
        // as they arrive. (Each request's own rate times the requests in flight would need every
        // request of the level: the first to complete are the fast ones.)
        let delivered = self
            .start
            .and_then(|s| {
                let wall = now.wall_secs - s.wall_secs;
                (wall > 1e-4).then(|| now.bytes.saturating_sub(s.bytes) as f64 / wall)
            })
            .unwrap_or(self.limit as f64 * self.bytes as f64 / self.secs);
        let here = Level {
            limit: self.limit,
            delivered,
            cpu_per_byte,
        };
        self.rate = delivered;
        log::debug!(
            "prefetch pace: judged {} in flight ({} requests at {:.0} MB/s each): {:.0} MB/s, \
             {:.3} CPU s/GB ({:?}, previous {:?})",
            here.limit,
            self.samples,
            self.bytes as f64 / self.secs / 1e6,
            here.delivered / 1e6,
            here.cpu_per_byte.unwrap_or(0.0) * 1e9,
            self.direction,
            self.previous.map(|p| (p.limit, (p.delivered / 1e6) as u64)),
        );
        let grew = self.decide(here);
        self.next_generation();
        self.start = Some(now);
        if grew || self.settled {
            log::debug!(
                "prefetch: {} requests in flight ({:.0} MB/s at {})",
                self.limit,
                here.delivered / 1e6,
                here.limit
            );
        }
        grew
    }

    /// Moves to the next level after judging `here`. Returns true when the limit grew.
    fn decide(&mut self, here: Level) -> bool {
        match (self.direction, self.previous) {
            (Direction::Up, None) => {
                let per_request = self.bytes as f64 / self.secs;
                let step = if per_request > FAST_CONNECTION {
                    2
                } else {
                    self.step
                };
                self.grow(here, step)
            }
            (Direction::Up, Some(prev)) => {
                let gain = here.delivered / prev.delivered.max(1.0);
                let cpu = here.cpu_ratio(&prev);
                let worth = gain >= KEEP_GAIN && !(cpu > CPU_WORSE && gain < CPU_WORTH);
                let step = (here.limit as f64 / prev.limit as f64).max(1.0);
                if !worth {
                    // Back to the level that delivered as much, then see if fewer do too.
                    self.limit = prev.limit;
                    self.go_down_or_settle(prev);
                    false
                } else if gain >= 0.8 * step && here.limit < self.max {
                    self.grow(here, 4)
                } else if gain >= GROW_GAIN.min(0.7 * step) && here.limit < self.max {
                    self.grow(here, 2)
                } else {
                    self.settle();
                    false
                }
            }
            (Direction::Down, Some(upper)) => {
                let kept = here.delivered / upper.delivered.max(1.0);
                let cpu = here.cpu_ratio(&upper);
                if kept >= KEEP_GAIN || (kept >= DOWN_KEEPS && cpu <= DOWN_SAVES) {
                    self.go_down_or_settle(here);
                } else {
                    self.limit = upper.limit;
                    self.settle();
                }
                false
            }
            (Direction::Down, None) => {
                self.settle();
                false
            }
        }
    }

    fn grow(&mut self, here: Level, factor: usize) -> bool {
        if here.limit >= self.max {
            self.settle();
            return false;
        }
        self.previous = Some(here);
        self.limit = (here.limit * factor).min(self.max);
        true
    }

    /// From level `at` (now the limit), tries half as many requests, once per probe.
    fn go_down_or_settle(&mut self, at: Level) {
        let half = at.limit / 2;
        if half < MIN || (self.tried_down && self.direction == Direction::Up) {
            self.settle();
            return;
        }
        self.tried_down = true;
        self.direction = Direction::Down;
        self.previous = Some(at);
        self.limit = half;
    }

    fn settle(&mut self) {
        self.settled = true;
        self.since_settled = 0;
    }

    fn next_generation(&mut self) {
        self.generation += 1;
        self.reset_window();
    }

    /// Forgets the requests measured so far: a new measurement window begins.
    fn reset_window(&mut self) {
        self.samples = 0;
        self.bytes = 0;
        self.secs = 0.0;
        self.starved = false;
        self.reader_bound = false;
        self.start = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHUNK: u64 = 8 << 20;

    /// A simulated link: each request's duration and the CPU seconds per byte at `limit`
    /// requests in flight.
    struct Link {
        secs: fn(usize) -> f64,
        cpu_per_byte: fn(usize) -> f64,
        /// Share of the slots busy.
        fill: f64,
        meter: Meter,
    }

    impl Link {
        fn new(secs: fn(usize) -> f64) -> Link {
            Link {
                secs,
                cpu_per_byte: |_| 1e-9,
                fill: 1.0,
                meter: Meter::default(),
            }
        }

        /// Feeds the current level enough completions to be judged. Returns whether it grew.
        fn run_level(&mut self, p: &mut Pace) -> bool {
            let g = p.generation();
            let limit = p.limit();
            let mut grew = false;
            for _ in 0..(limit / 2).clamp(4, 16) {
                let secs = (self.secs)(limit);
                // Every slot busy: `limit` requests complete per request duration.
                self.meter.wall_secs += secs / limit as f64;
                self.meter.in_flight_secs += secs * self.fill;
                self.meter.bytes += CHUNK;
                self.meter.cpu_secs += CHUNK as f64 * (self.cpu_per_byte)(limit);
                let m = self.meter;
                grew |= p.completed(g, CHUNK, secs, || m);
            }
            grew
        }

        /// Runs levels until the pace settles; returns the levels visited.
        fn settle(&mut self, p: &mut Pace) -> Vec<usize> {
            let mut seen = vec![p.limit()];
            for _ in 0..20 {
                self.run_level(p);
                if seen.last() != Some(&p.limit()) {
                    seen.push(p.limit());
                }
                if p.settled {
                    return seen;
                }
            }
            panic!("never settled: {seen:?}");
        }
    }

    /// A controller past its warm-up window.
    fn fresh(max: usize) -> Pace {
        let mut p = Pace::new(max);
        p.warming_up = false;
        p
    }

    #[test]
    fn the_warm_up_window_is_measured_not_judged() {
        let mut p = Pace::new(256);
        let mut link = Link::new(throttled);
        assert!(!link.run_level(&mut p));
        assert_eq!(p.limit(), 16);
        assert!(link.run_level(&mut p));
        assert_eq!(p.limit(), 64);
    }

    /// 50 MB/s per connection whatever the count.
    fn throttled(_: usize) -> f64 {
        CHUNK as f64 / 50e6
    }

    /// 2 GB/s shared by every request.
    fn shared(n: usize) -> f64 {
        CHUNK as f64 / (2e9 / n as f64)
    }

    #[test]
    fn per_connection_limits_reach_the_ceiling_in_two_steps() {
        let mut p = fresh(256);
        let mut link = Link::new(throttled);
        assert_eq!(p.limit(), 16);
        // The first level is judged on its first responses, then growth is by four while it
        // stays linear: 16 -> 64 -> 256.
        assert!(link.run_level(&mut p));
        assert_eq!(p.limit(), 64);
        assert!(link.run_level(&mut p));
        assert_eq!(p.limit(), 256);
        assert!(!link.run_level(&mut p));
        assert_eq!(p.limit(), 256);
        assert!(p.settled);
    }

    #[test]
    fn a_shared_bottleneck_goes_back_and_then_down_while_fewer_cost_less() {
        let mut p = fresh(256);
        let mut link = Link::new(shared);
        // CPU per byte grows with the connections (wakeups, buffers): fewer win.
        link.cpu_per_byte = |n| 1e-9 * (1.0 + n as f64 / 16.0);
        let seen = link.settle(&mut p);
        // 64 gains nothing: back to 16 and at once half of it, then half again.
        assert_eq!(seen, vec![16, 64, 8, 4], "{seen:?}");
        assert_eq!(p.limit(), 4);
    }

    #[test]
    fn fast_connections_only_double_at_first() {
        let mut p = fresh(256);
        // 16 requests at 250 MB/s each: nothing a cloud store throttles per connection.
        let mut link = Link::new(|_| CHUNK as f64 / 250e6);
        assert!(link.run_level(&mut p));
        assert_eq!(p.limit(), 32);
    }

    #[test]
    fn a_shared_bottleneck_without_a_cpu_difference_stays_where_it_started() {
        let mut p = fresh(256);
        let mut link = Link::new(shared);
        let seen = link.settle(&mut p);
        // 64 gains nothing: back to 16; 8 delivers as much but costs the same: 16 it is.
        assert_eq!(seen, vec![16, 64, 8, 16], "{seen:?}");
    }

    #[test]
    fn more_cpu_per_byte_for_a_small_gain_is_not_worth_it() {
        let mut p = fresh(256);
        // 16 -> 64 gains 15% (a link nearly saturated) but costs 30% more CPU per byte.
        let mut link = Link::new(|n| {
            CHUNK as f64
                / (if n > 16 {
                    1.15e9 / n as f64
                } else {
                    1e9 / n as f64
                })
        });
        link.cpu_per_byte = |n| if n > 16 { 1.3e-9 } else { 1e-9 };
        assert!(link.run_level(&mut p));
        assert_eq!(p.limit(), 64);
        assert!(!link.run_level(&mut p));
        assert_eq!(p.limit(), 8, "back to 16, then trying fewer");
    }

    #[test]
    fn a_link_that_saturates_midway_keeps_the_last_level_that_paid() {
        // 50 MB/s per connection up to 2 GB/s in total.
        let mut p = fresh(256);
        let mut link = Link::new(|n| CHUNK as f64 / (50e6f64).min(2e9 / n as f64));
        let seen = link.settle(&mut p);
        // 16 (0.8 GB/s) -> 64 (2 GB/s, +150%: kept; not linear, so the next try doubles)
        // -> 128 (2 GB/s: no gain) -> back to 64, half of it tried (1.6 GB/s) -> 64.
        assert_eq!(seen, vec![16, 64, 128, 32, 64], "{seen:?}");
    }

    #[test]
    fn starved_levels_and_stale_requests_are_not_judged() {
        let mut p = fresh(256);
        let m = Meter::default();
        let g = p.generation();
        p.starved();
        // No request in flight meanwhile (the meter does not move): nothing to judge.
        for _ in 0..8 {
            assert!(!p.completed(g, CHUNK, 0.1, || m));
        }
        assert_eq!(
            p.limit(),
            16,
            "a starved level is measured again, not grown"
        );
        // Requests of an old generation are ignored.
        for _ in 0..100 {
            assert!(!p.completed(g, CHUNK, 0.1, || m));
        }
        assert_eq!(p.limit(), 16);
        let mut link = Link::new(throttled);
        assert!(link.run_level(&mut p));
        assert_eq!(p.limit(), 64);
    }

    #[test]
    fn a_step_up_without_the_work_to_fill_it_goes_back() {
        let mut p = fresh(256);
        let mut link = Link::new(shared);
        assert!(link.run_level(&mut p));
        assert_eq!(p.limit(), 64);
        // Half the slots busy because the queue ran dry (the end of a load): measured again.
        link.fill = 0.5;
        p.starved();
        link.run_level(&mut p);
        assert_eq!(p.limit(), 64);
        assert!(!p.settled);
        // Half the slots busy because the readers have enough ahead of them: back to what
        // was used (at least the level before).
        p.reader_bound();
        link.run_level(&mut p);
        assert_eq!(p.limit(), 32);
        assert!(p.settled);
    }

    #[test]
    fn a_low_ceiling_is_never_exceeded_and_restart_probes_again() {
        let mut p = fresh(8);
        let mut link = Link::new(throttled);
        assert_eq!(p.limit(), 8);
        assert!(!link.run_level(&mut p));
        assert_eq!(p.limit(), 8);

        let mut p = fresh(256);
        let mut link = Link::new(shared);
        link.cpu_per_byte = |n| 1e-9 * (1.0 + n as f64 / 16.0);
        link.settle(&mut p);
        assert_eq!(p.limit(), 4);
        p.restart(link.meter);
        let mut link = Link::new(throttled);
        assert!(!link.run_level(&mut p), "warming up again");
        assert!(link.run_level(&mut p), "probing again after a restart");
        assert_eq!(p.limit(), 8, "from where it settled, doubling");
    }

    #[test]
    fn a_settled_level_is_probed_again_after_a_while() {
        let mut p = fresh(256);
        let mut link = Link::new(|n| CHUNK as f64 / (50e6f64).min(2e9 / n as f64));
        link.settle(&mut p);
        assert_eq!(p.limit(), 64);
        let settled_generation = p.generation();
        let m = Meter::default();
        let mut completions = 0;
        while p.generation() == settled_generation {
            p.completed(settled_generation, CHUNK, 0.1, || m);
            completions += 1;
        }
        assert_eq!(completions, REPROBE_ROUNDS * 64);
        // Where more requests now pay, the limit grows (by two: a reprobe is cautious).
        let mut link = Link::new(throttled);
        assert!(link.run_level(&mut p));
        assert_eq!(p.limit(), 128);
    }
}
