//! The schedule of one FastList: which ranges of the key space are still unlisted, which
//! requests are in flight, and which request to send next. No I/O happens here, so the same
//! code runs against a server and against the in-memory simulations of the tests.
//!
//! The unlisted part of the key space is a set of disjoint *intervals* `(lo, hi]` of key tails
//! (what follows the prefix); `lo = None` is "before every key" (so a key equal to the prefix
//! is included), `hi = None` is "after every key". Every request is
//! `start-after = prefix + lo` of some interval, and its page *covers* `(start, last key]`
//! (or everything after `start` when the page is the last one). The keys a page holds are
//! exactly the keys of the range it covers, so a page's keys are kept for whatever still
//! unlisted intervals that range meets, and those parts become listed. A key is therefore
//! kept at most once (its interval is gone afterwards) and the call ends when no interval
//! is left, with every key kept exactly once, however requests overlap or return.
//!
//! What to send next, in order of preference:
//! 1. *Continue* an interval nobody is listing: `start-after` its `lo`.
//! 2. *Gallop*: while the last interval is open-ended, split it 2, 4, 8… page widths past its
//!    start (a width measured on the pages seen there), a few probes at a time, so the extent
//!    of the key space is found in a few round trips and every probe that lands on keys
//!    starts a new part.
//! 3. *Split* the interval with the most keys still expected (its density, measured on its
//!    latest page, times its width) so the page in flight at its start and the rest are
//!    shared evenly; only intervals worth at least a few pages are split, which bounds the
//!    requests that come back partly empty.
//!
//! Splitting happens only when a request slot is free and no interval waits for
//! continuation, so the number of parts stays close to the number of requests in flight.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Bound::{Excluded, Unbounded};
use std::sync::Arc;

use super::keyspace::{self, Alphabet};
use crate::error::{Error, ErrorKind, Result};
use crate::listing::{ObjectInfo, Page, Progress};

/// Keys per ListObjectsV2 page (the page size the lister asks for).
pub(crate) const PAGE_KEYS: usize = crate::listing::MAX_KEYS as usize;

/// An interval worth fewer keys than this is not split.
const SPLIT_MIN_KEYS: f64 = 2.5 * PAGE_KEYS as f64;

/// The delimiter of the probe of the top level.
const PROBE_DELIMITER: &str = "/";

/// Longest gallop, in powers of two of a page width.
const MAX_GALLOP_LEVEL: u32 = 48;

/// The alphabet of a page is learned from every `SAMPLE_EVERY`-th key (plus the first and
/// last); it only guides where splits go.
const SAMPLE_EVERY: usize = 8;

/// The lower bound of an interval, exclusive: `None` is before every key.
type Lo = Option<String>;

/// One request to send: `ListObjectsV2` under the plan's prefix with these parameters and
/// `max-keys` = [`PAGE_KEYS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Identifies the answer: pass it back to [`Plan::on_page`].
    pub id: u64,
    /// The full `start-after` key (prefix included), if any.
    pub start_after: Option<String>,
    /// A continuation token, only after a page that was empty but said more follow.
    pub continuation_token: Option<String>,
    /// A delimiter: only for the probe of the top level of the key space.
    pub delimiter: Option<String>,
}

/// Counters of what the plan did, for logs, tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanStats {
    /// Requests handed out.
    pub requests: u64,
    /// Requests that continued an interval from its start.
    pub continuations: u64,
    /// Requests that probed past the open end.
    pub gallops: u64,
    /// Requests that split an interval in the middle.
    pub splits: u64,
    /// Pages none of whose keys were new.
    pub useless_pages: u64,
    /// Delimiter listings sent (0 or 1).
    pub probes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Continue,
    Gallop,
    Split,
    /// The one delimiter listing at the start, for split hints.
    Probe,
}

#[derive(Debug)]
struct InFlight {
    /// Tail of the `start-after` key (`None`: no start-after).
    start: Lo,
    kind: Kind,
    /// For a split: the evidence of the interval it split, given back to the lower part if
    /// the upper part turns out empty (the split was a miss, the lower part is still big).
    parent_evidence: u32,
    /// For a request that goes on with a continuation token after pages without keys: the
    /// tokens of those pages, so that a server going round in circles (or handing out new
    /// tokens forever) ends the listing.
    run: Progress,
}

/// Where keys were seen near an interval: a page's first and last tails, its key count, and
/// the characters its keys use at each position.
///
/// The alphabet is the page's own, not one for the whole listing: keys in different parts
/// of a bucket have different shapes (`img/0000123.jpg` beside `d17/s03/f0045.bin`), and
/// arithmetic near a part should only produce names shaped like that part's.
#[derive(Debug, Clone)]
struct Sample {
    first: String,
    last: String,
    count: usize,
    alpha: Arc<Alphabet>,
}

#[derive(Debug)]
struct Interval {
    /// Upper bound, inclusive; `None` is after every key.
    hi: Option<String>,
    /// The request expected to list this interval's start (sent at or before `lo`).
    pending: Option<u64>,
    sample: Option<Sample>,
    /// Full pages in a row that this interval's own requests listed inside it since it was
    /// last split: the evidence that it holds many keys.
    evidence: u32,
}

impl Interval {
    fn new(hi: Option<String>, pending: Option<u64>, sample: Option<Sample>) -> Interval {
        Interval {
            hi,
            pending,
            sample,
            evidence: 0,
        }
    }
}

/// The schedule of one FastList (see the module documentation).
#[derive(Debug)]
pub struct Plan {
    prefix: String,
    intervals: BTreeMap<Lo, Interval>,
    in_flight: HashMap<u64, InFlight>,
    /// Requests decided outside `next_job` (a resend with a continuation token).
    ready: VecDeque<Job>,
    next_id: u64,
    max_in_flight: usize,
    /// How many gallop probes may be unanswered at once.
    max_gallops: usize,
    /// Keys kept so far.
    kept: usize,
    /// Whether the delimiter probe was sent (or is not worth sending).
    probed: bool,
    /// Tails known to start a non-empty part of the key space (the probe's common prefixes
    /// and keys): split points that never make an empty part.
    hints: BTreeSet<String>,
    /// Characters seen at each position anywhere (page bounds, hints): for galloping past
    /// the part of the key space a page's own alphabet describes.
    global: Alphabet,
    gallop_level: u32,
    gallops_in_flight: usize,
    /// The keys kept so far, page after page in the order pages came.
    objects: Vec<ObjectInfo>,
    stats: PlanStats,
}

impl Plan {
    /// A plan to list every key under `prefix` with up to `max_in_flight` requests at once.
    pub fn new(prefix: &str, max_in_flight: usize) -> Plan {
        let mut intervals = BTreeMap::new();
        intervals.insert(None, Interval::new(None, None, None));
        Plan {
            prefix: prefix.to_owned(),
            intervals,
            in_flight: HashMap::new(),
            ready: VecDeque::new(),
            next_id: 0,
            max_in_flight: max_in_flight.max(1),
            max_gallops: (max_in_flight / 4).clamp(1, 8),
            kept: 0,
            probed: max_in_flight < 4,
            hints: BTreeSet::new(),
            global: Alphabet::new(),
            gallop_level: 1,
            gallops_in_flight: 0,
            objects: Vec::new(),
            stats: PlanStats::default(),
        }
    }

    /// True when every key has been listed.
    pub fn is_done(&self) -> bool {
        self.intervals.is_empty()
    }

    /// Requests handed out and not answered yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// What the plan did so far.
    pub fn stats(&self) -> PlanStats {
        self.stats
    }

    /// The next request worth sending, if any. Call while a request slot is free.
    pub fn next_job(&mut self) -> Option<Job> {
        if let Some(job) = self.ready.pop_front() {
            return Some(job);
        }
        if self.intervals.is_empty() {
            return None;
        }
        let idle = self
            .intervals
            .iter()
            .find(|(_, iv)| iv.pending.is_none())
            .map(|(lo, _)| lo.clone());
        if let Some(lo) = idle {
            let id = self.issue(lo.clone(), Kind::Continue);
            if let Some(iv) = self.intervals.get_mut(&lo) {
                iv.pending = Some(id);
            }
            return Some(self.job(id));
        }
        if !self.probed {
            self.probed = true;
            let id = self.issue(None, Kind::Probe);
            let mut job = self.job(id);
            job.delimiter = Some(PROBE_DELIMITER.to_owned());
            return Some(job);
        }
        if !self.may_speculate() {
            return None;
        }
        if let Some(job) = self.gallop() {
            return Some(job);
        }
        self.split()
    }

    /// Whether a request that may come back partly useless (a gallop or a split) fits the
    /// request budget: about 1.2 requests per page of keys kept so far, plus three rounds of
    /// requests in flight. Continuations are always allowed; since there are never more
    /// intervals than requests in flight, they add at most one partial page per interval.
    fn may_speculate(&self) -> bool {
        let allowed = 1.2 * self.kept as f64 / PAGE_KEYS as f64 + 3.0 * self.max_in_flight as f64;
        (self.stats.requests as f64) < allowed
    }

    /// Takes in the answer to job `id`.
    ///
    /// Fails when the page contradicts the listing's rules (keys outside the prefix, out of
    /// order, not after `start-after`), which would make the result wrong.
    pub fn on_page(&mut self, id: u64, mut page: Page) -> Result<()> {
        let Some(mut req) = self.in_flight.remove(&id) else {
            return Ok(());
        };
        if req.kind == Kind::Gallop {
            self.gallops_in_flight = self.gallops_in_flight.saturating_sub(1);
        }
        if req.kind == Kind::Probe {
            // Only hints: a delimiter listing rolls keys up, so it lists no range completely.
            let p = self.prefix.len();
            // Common prefixes only: keys are dense where they are, and splitting between
            // neighbouring keys makes parts of one key.
            for name in &page.common_prefixes {
                if let Some(t) = name
                    .get(p..)
                    .filter(|t| !t.is_empty() && name.starts_with(&self.prefix))
                {
                    self.global.learn(t);
                    self.hints.insert(t.to_owned());
                }
            }
            return Ok(());
        }
        self.check_page(&req, &page)?;
        if page.is_truncated && page.objects.is_empty() {
            // Nothing listed, yet more follows: go on from the server's position.
            let Some(token) = page.next_token.take() else {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    "a ListObjectsV2 page came back empty, truncated and without a continuation token",
                ));
            };
            req.run.token(&token, false).map_err(|why| {
                Error::new(
                    ErrorKind::Protocol,
                    format!(
                        "fast list under prefix {:?}, part after {:?}: {why}",
                        self.prefix,
                        req.start.as_deref().unwrap_or("")
                    ),
                )
            })?;
            let new_id = self.issue(req.start.clone(), req.kind);
            if let Some(next) = self.in_flight.get_mut(&new_id) {
                next.run = std::mem::take(&mut req.run);
            }
            self.repoint(id, Some(new_id));
            let mut job = self.job(new_id);
            job.continuation_token = Some(token);
            self.ready.push_back(job);
            return Ok(());
        }
        let p = self.prefix.len();
        let n = page.objects.len();
        let end: Option<String> = if page.is_truncated {
            page.objects.last().map(|o| o.key[p..].to_owned())
        } else {
            None
        };
        let sample = (page.is_truncated && n >= 2).then(|| {
            let mut alpha = Alphabet::new();
            for (i, o) in page.objects.iter().enumerate() {
                if i == 0 || i + 1 == n || i % SAMPLE_EVERY == 0 {
                    alpha.learn(&o.key[p..]);
                }
            }
            self.global.learn(&page.objects[0].key[p..]);
            self.global.learn(&page.objects[n - 1].key[p..]);
            Sample {
                first: page.objects[0].key[p..].to_owned(),
                last: page.objects[n - 1].key[p..].to_owned(),
                count: n,
                alpha: Arc::new(alpha),
            }
        });
        let start = req.start;

        // Intervals that meet (start, end]: the one holding start, then those after it.
        let mut met: Vec<Lo> = Vec::new();
        if let Some((lo, iv)) = self.intervals.range(..=start.clone()).next_back() {
            if above(iv.hi.as_deref(), start.as_deref()) {
                met.push(lo.clone());
            }
        }
        for (lo, _) in self.intervals.range((Excluded(start.clone()), Unbounded)) {
            if below_end(lo.as_deref(), end.as_deref()) {
                met.push(lo.clone());
            } else {
                break;
            }
        }

        fn tail(o: &ObjectInfo, p: usize) -> &str {
            &o.key[p..]
        }
        let mut keep: Vec<std::ops::Range<usize>> = Vec::new();
        let mut own_empty = false;
        for lo in met {
            let Some(iv) = self.intervals.remove(&lo) else {
                continue;
            };
            let own = iv.pending == Some(id);
            let pending = if own { None } else { iv.pending };
            // Keys above max(lo, start) and at most min(hi, end).
            let from = max_lo(lo.as_deref(), start.as_deref());
            let i0 = match from {
                None => 0,
                Some(f) => page.objects.partition_point(|o| tail(o, p) <= f),
            };
            let upto = min_hi(iv.hi.as_deref(), end.as_deref());
            let i1 = match upto {
                None => n,
                Some(u) => page.objects.partition_point(|o| tail(o, p) <= u),
            };
            if i0 < i1 {
                keep.push(i0..i1);
            } else if own {
                own_empty = true;
            }
            if lo < start {
                // Unreachable with how requests are made (each starts at an interval's
                // lower bound), kept so the bookkeeping stays right whatever happens.
                self.intervals
                    .insert(lo, Interval::new(start.clone(), pending, iv.sample.clone()));
            }
            if let Some(e) = &end {
                if above(iv.hi.as_deref(), Some(e)) {
                    let mut rest = Interval::new(iv.hi, pending, sample.clone().or(iv.sample));
                    // A full page of this interval's own keys: more evidence that it is big.
                    if own && i0 == 0 && n == PAGE_KEYS {
                        rest.evidence = iv.evidence + 1;
                    }
                    self.intervals.insert(Some(e.clone()), rest);
                }
            }
        }
        // An interval whose start this request was meant to list but that it did not reach
        // (another page listed that part first) needs a request of its own now.
        self.repoint(id, None);
        if own_empty && req.parent_evidence > 0 {
            if let Some((_, left)) = self.intervals.range_mut(..start.clone()).next_back() {
                if left.hi == start {
                    left.evidence = left.evidence.max(req.parent_evidence);
                }
            }
        }
        if keep.is_empty() {
            self.stats.useless_pages += 1;
        }
        self.kept += keep.iter().map(|r| r.len()).sum::<usize>();
        self.take_keys(&mut page.objects, keep);
        Ok(())
    }

    /// Takes in the failure of job `id` (after the source's own retries). A failed part fails
    /// the listing, returned as `Err`; the delimiter probe only gives hints, so its failure is
    /// logged and the listing goes on without them.
    pub fn on_error(&mut self, id: u64, error: Error) -> Result<()> {
        match self.in_flight.get(&id).map(|r| r.kind) {
            Some(Kind::Probe) => {
                self.in_flight.remove(&id);
                log::info!(
                    "fast list: the delimiter probe failed, going on without hints: {error}"
                );
                Ok(())
            }
            _ => Err(error),
        }
    }

    /// Every key listed, once [`Plan::is_done`]; not in key order (pages are kept in the
    /// order they came, so nothing is left to do once the last one is in).
    pub fn into_objects(mut self) -> Vec<ObjectInfo> {
        self.objects.shrink_to_fit();
        self.objects
    }

    /// The unlisted intervals with their expected key counts, for debugging the schedule.
    #[cfg(test)]
    pub fn describe(&self) -> Vec<String> {
        let head = format!(
            "requests={} kept={} speculate={}",
            self.stats.requests,
            self.kept,
            self.may_speculate()
        );
        std::iter::once(head)
            .chain(self.intervals.iter().map(|(lo, iv)| {
                let est = iv.sample.as_ref().and_then(|s| {
                    let d = self.ln_density(s)?;
                    let w =
                        keyspace::ln_width(&s.alpha, lo.as_deref().unwrap_or(""), iv.hi.as_deref());
                    Some((d + w).exp())
                });
                format!(
                    "({lo:?}, {:?}] pending={:?} evidence={} est={est:?}",
                    iv.hi, iv.pending, iv.evidence
                )
            }))
            .collect()
    }

    fn issue(&mut self, start: Lo, kind: Kind) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.stats.requests += 1;
        match kind {
            Kind::Continue => self.stats.continuations += 1,
            Kind::Gallop => {
                self.stats.gallops += 1;
                self.gallops_in_flight += 1;
            }
            Kind::Split => self.stats.splits += 1,
            Kind::Probe => self.stats.probes += 1,
        }
        self.in_flight.insert(
            id,
            InFlight {
                start,
                kind,
                parent_evidence: 0,
                run: Progress::default(),
            },
        );
        id
    }

    fn job(&self, id: u64) -> Job {
        let start = self.in_flight.get(&id).and_then(|r| r.start.as_deref());
        Job {
            id,
            start_after: start.map(|t| format!("{}{t}", self.prefix)),
            continuation_token: None,
            delimiter: None,
        }
    }

    /// Intervals waiting for request `old` now wait for `new` (or for nobody).
    fn repoint(&mut self, old: u64, new: Option<u64>) {
        for iv in self.intervals.values_mut() {
            if iv.pending == Some(old) {
                iv.pending = new;
            }
        }
    }

    fn check_page(&self, req: &InFlight, page: &Page) -> Result<()> {
        let p = &self.prefix;
        let mut prev: Option<&str> = None;
        for o in &page.objects {
            let bad = if !o.key.starts_with(p.as_str()) {
                Some("outside the prefix")
            } else if prev.is_some_and(|q| o.key.as_str() <= q) {
                Some("out of order")
            } else if prev.is_none() && req.start.as_deref().is_some_and(|s| &o.key[p.len()..] <= s)
            {
                Some("not after the start-after key")
            } else {
                None
            };
            if let Some(why) = bad {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!("a ListObjectsV2 page returned key {:?} {why}", o.key),
                ));
            }
            prev = Some(&o.key);
        }
        Ok(())
    }

    /// Moves the objects in `ranges` (disjoint, increasing) out of `objects` into the
    /// result.
    fn take_keys(&mut self, objects: &mut Vec<ObjectInfo>, ranges: Vec<std::ops::Range<usize>>) {
        if ranges.len() == 1 && ranges[0].start == 0 && ranges[0].end == objects.len() {
            self.objects.append(objects);
            return;
        }
        for r in ranges.into_iter().rev() {
            self.objects.extend(objects.drain(r));
        }
    }

    /// The alphabet to measure `(lo, hi]` with: the sample's own, plus the characters of
    /// `hi` when they are new to it (a bound in another part of the key space must read as
    /// far away, not as the nearest character the page knows).
    fn alpha_for<'a>(s: &'a Sample, lo: Option<&str>, hi: Option<&str>) -> Cow<'a, Alphabet> {
        let new = |x: Option<&str>| x.is_some_and(|t| !s.alpha.knows(t));
        if new(lo) || new(hi) {
            let mut a = (*s.alpha).clone();
            a.learn(lo.unwrap_or(""));
            a.learn(hi.unwrap_or(""));
            Cow::Owned(a)
        } else {
            Cow::Borrowed(&*s.alpha)
        }
    }

    /// ln(expected keys per unit of width) near an interval, from its sample.
    fn ln_density(&self, s: &Sample) -> Option<f64> {
        ln_density_with(&s.alpha, s)
    }

    fn gallop(&mut self) -> Option<Job> {
        let (lo, iv) = self.intervals.iter().next_back()?;
        if iv.hi.is_some() {
            return None;
        }
        let lo = lo.clone();
        // Only once a page says there is more than one page to list.
        if iv.evidence > 0 {
            if let Some(h) = self.median_hint(lo.as_deref(), None) {
                return Some(self.split_at(lo, h, Kind::Split));
            }
        }
        if self.gallops_in_flight >= self.max_gallops {
            return None;
        }
        let sample = self.intervals.get(&lo)?.sample.clone()?;
        let ln_page = (PAGE_KEYS as f64).ln() - self.ln_density(&sample)?;
        let ln_dist = ln_page + f64::from(self.gallop_level) * std::f64::consts::LN_2;
        let plen = self.prefix.len();
        let a = &sample.alpha;
        // Past what the page's own alphabet can express: halve what is left, in the
        // characters seen anywhere.
        let point = keyspace::point_after(a, plen, lo.as_deref(), None, ln_dist)
            .or_else(|| keyspace::point_between(&self.global, plen, lo.as_deref(), None, 0.5))?;
        self.gallop_level = (self.gallop_level + 1).min(MAX_GALLOP_LEVEL);
        Some(self.split_at(lo, point, Kind::Gallop))
    }

    /// The middle one of the hints strictly inside `(lo, hi)`.
    fn median_hint(&self, lo: Option<&str>, hi: Option<&str>) -> Option<String> {
        let from = match lo {
            Some(l) => Excluded(l.to_owned()),
            None => Unbounded,
        };
        let to = match hi {
            Some(h) => Excluded(h.to_owned()),
            None => Unbounded,
        };
        let inside = self.hints.range::<String, _>((from, to));
        let count = inside.clone().count();
        inside.clone().nth(count / 2).cloned()
    }

    fn split(&mut self) -> Option<Job> {
        let mut candidates: Vec<(f64, Lo)> = Vec::new();
        for (lo, iv) in &self.intervals {
            let (Some(hi), Some(s)) = (iv.hi.as_deref(), iv.sample.as_ref()) else {
                continue;
            };
            if iv.evidence == 0 {
                continue;
            }
            let a = Self::alpha_for(s, lo.as_deref(), Some(hi));
            // The density is measured with the same alphabet as the width.
            let Some(d) = ln_density_with(&a, s) else {
                continue;
            };
            let w = keyspace::ln_width(&a, lo.as_deref().unwrap_or(""), Some(hi));
            // A chain that keeps returning full pages is likely to go on doing so, whatever
            // the width model says.
            let est = (d + w)
                .exp()
                .max(f64::from(iv.evidence.saturating_sub(1)) * PAGE_KEYS as f64);
            if est >= SPLIT_MIN_KEYS {
                candidates.push((est, lo.clone()));
            }
        }
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (est, lo) in candidates {
            let Some(iv) = self.intervals.get(&lo) else {
                continue;
            };
            let Some(s) = iv.sample.as_ref() else {
                continue;
            };
            // The page in flight at lo lists about PAGE_KEYS keys; share the rest evenly.
            let fraction = 0.5 + 0.5 * PAGE_KEYS as f64 / est;
            let a = Self::alpha_for(s, lo.as_deref(), iv.hi.as_deref());
            let target = keyspace::point_between(
                &a,
                self.prefix.len(),
                lo.as_deref(),
                iv.hi.as_deref(),
                fraction,
            );
            // A known start of a non-empty part near the target is better than the target.
            let point = self
                .hint_near(lo.as_deref(), iv.hi.as_deref(), target.as_deref())
                .or(target);
            if let Some(point) = point {
                return Some(self.split_at(lo, point, Kind::Split));
            }
        }
        None
    }

    /// The hint strictly inside `(lo, hi)` nearest to `target` (the first at or after it, or
    /// else the last before it); the middle one when there is no target.
    fn hint_near(
        &self,
        lo: Option<&str>,
        hi: Option<&str>,
        target: Option<&str>,
    ) -> Option<String> {
        let Some(t) = target else {
            return self.median_hint(lo, hi);
        };
        let from = match lo {
            Some(l) => Excluded(l.to_owned()),
            None => Unbounded,
        };
        let to = match hi {
            Some(h) => Excluded(h.to_owned()),
            None => Unbounded,
        };
        let mut inside = self.hints.range::<String, _>((from, to));
        inside
            .clone()
            .find(|h| h.as_str() >= t)
            .or_else(|| inside.next_back())
            .cloned()
    }

    /// Splits the interval starting at `lo` at `point` and sends a request for the new upper
    /// part.
    fn split_at(&mut self, lo: Lo, point: String, kind: Kind) -> Job {
        let at: Lo = Some(point);
        let id = self.issue(at.clone(), kind);
        if let Some(iv) = self.intervals.get_mut(&lo) {
            let hi = std::mem::replace(&mut iv.hi, at.clone());
            let sample = iv.sample.clone();
            if let Some(r) = self.in_flight.get_mut(&id) {
                r.parent_evidence = iv.evidence;
            }
            iv.evidence = 0;
            self.intervals
                .insert(at, Interval::new(hi, Some(id), sample));
        }
        self.job(id)
    }
}

/// ln(keys per unit of width) on the sample's page, measured with `alpha`.
fn ln_density_with(alpha: &Alphabet, s: &Sample) -> Option<f64> {
    let w = keyspace::ln_width(alpha, &s.first, Some(&s.last));
    w.is_finite().then(|| ((s.count - 1) as f64).ln() - w)
}

/// `hi > x` for an upper bound (`None` = after everything) and a lower bound (`None` =
/// before everything).
fn above(hi: Option<&str>, x: Option<&str>) -> bool {
    match (hi, x) {
        (None, _) | (_, None) => true,
        (Some(h), Some(x)) => h > x,
    }
}

/// `lo < end` for a lower bound and a covered range's end (`None` = after everything).
fn below_end(lo: Option<&str>, end: Option<&str>) -> bool {
    match (lo, end) {
        (_, None) | (None, _) => true,
        (Some(l), Some(e)) => l < e,
    }
}

fn max_lo<'a>(a: Option<&'a str>, b: Option<&'a str>) -> Option<&'a str> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(x), Some(y)) => Some(x.max(y)),
    }
}

fn min_hi<'a>(a: Option<&'a str>, b: Option<&'a str>) -> Option<&'a str> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(x), Some(y)) => Some(x.min(y)),
    }
}
