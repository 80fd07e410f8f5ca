//! FastList against an in-memory bucket: exactness on many key-space shapes, the request
//! budget, and (in a discrete-event simulation with a fixed latency per request) how close the
//! schedule comes to keeping every request slot busy.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use super::*;

/// A sorted set of keys answering ListObjectsV2 like OSS does.
struct Bucket {
    keys: Vec<String>,
    prefix: String,
    requests: AtomicU64,
    /// Fail every n-th request (0 = never).
    fail_every: u64,
}

impl Bucket {
    fn new(mut keys: Vec<String>, prefix: &str) -> Bucket {
        keys.sort();
        keys.dedup();
        Bucket {
            keys,
            prefix: prefix.to_owned(),
            requests: AtomicU64::new(0),
            fail_every: 0,
        }
    }

    fn expected(&self) -> Vec<String> {
        self.keys
            .iter()
            .filter(|k| k.starts_with(&self.prefix))
            .cloned()
            .collect()
    }

    fn list(&self, job: &Job) -> Result<Page> {
        let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail_every != 0 && n % self.fail_every == 0 {
            return Err(Error::new(ErrorKind::ServerError, "injected failure"));
        }
        let after = job
            .continuation_token
            .as_deref()
            .or(job.start_after.as_deref());
        let from = match after {
            Some(a) => self.keys.partition_point(|k| k.as_str() <= a),
            None => 0,
        };
        let from = from.max(
            self.keys
                .partition_point(|k| k.as_str() < self.prefix.as_str()),
        );
        let mut objects = Vec::new();
        let mut common_prefixes: Vec<String> = Vec::new();
        let mut i = from;
        let mut last = String::new();
        while i < self.keys.len()
            && self.keys[i].starts_with(&self.prefix)
            && objects.len() + common_prefixes.len() < PAGE_KEYS
        {
            let key = &self.keys[i];
            let rolled = job.delimiter.as_deref().and_then(|d| {
                key[self.prefix.len()..]
                    .find(d)
                    .map(|at| key[..self.prefix.len() + at + d.len()].to_owned())
            });
            match rolled {
                Some(cp) => {
                    // Skip every key under this common prefix.
                    i = self
                        .keys
                        .partition_point(|k| k.as_str() < cp.as_str() || k.starts_with(&cp));
                    last = cp.clone();
                    common_prefixes.push(cp);
                    continue;
                }
                None => {
                    objects.push(ObjectInfo {
                        key: key.clone(),
                        size: i as u64,
                        etag: String::new(),
                        last_modified: SystemTime::UNIX_EPOCH,
                    });
                    last = key.clone();
                }
            }
            i += 1;
        }
        let is_truncated = i < self.keys.len() && self.keys[i].starts_with(&self.prefix);
        let next_token = is_truncated.then_some(last);
        Ok(Page {
            objects,
            common_prefixes,
            next_token,
            is_truncated,
        })
    }
}

impl PageSource for Bucket {
    fn page(&self, _cancel: &CancelToken, job: &Job) -> Result<Page> {
        self.list(job)
    }
}

struct SimResult {
    keys: Vec<String>,
    stats: PlanStats,
    /// Time to finish, in request latencies.
    makespan: f64,
}

/// Runs a plan with `w` requests in flight, each taking one latency unit (±10%).
fn simulate(bucket: &Bucket, w: usize, seed: u64) -> SimResult {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut plan = Plan::new(&bucket.prefix, w);
    let mut due: BTreeMap<(u64, u64), Job> = BTreeMap::new();
    let mut now = 0u64;
    let mut seq = 0u64;
    loop {
        while plan.in_flight() < w {
            let Some(job) = plan.next_job() else { break };
            seq += 1;
            due.insert((now + 1000 + rng.u64(0..200), seq), job);
        }
        if plan.is_done() {
            break;
        }
        let ((t, _), job) = due.pop_first().expect("a request in flight");
        if std::env::var_os("FASTLIST_TRACE").is_some() && t / 3_000 != now / 3_000 {
            println!("t={} in_flight={}", t / 1100, plan.in_flight());
            for line in plan.describe() {
                println!("   {line}");
            }
        }
        now = t;
        let page = bucket.list(&job).expect("page");
        plan.on_page(job.id, page).expect("valid page");
    }
    let stats = plan.stats();
    let keys = sorted_keys(plan.into_objects());
    SimResult {
        keys,
        stats,
        makespan: now as f64 / 1100.0,
    }
}

/// The keys of a result in key order (a result comes in no particular order).
fn sorted_keys(objects: Vec<ObjectInfo>) -> Vec<String> {
    let mut keys: Vec<String> = objects.into_iter().map(|o| o.key).collect();
    keys.sort_unstable();
    keys
}

fn budget(n: usize, w: usize) -> f64 {
    1.3 * n.div_ceil(PAGE_KEYS) as f64 + 4.0 * w as f64
}

fn check_shape(name: &str, keys: Vec<String>, prefix: &str, w: usize) -> SimResult {
    let bucket = Bucket::new(keys, prefix);
    let expected = bucket.expected();
    let r = simulate(&bucket, w, 42);
    assert_eq!(r.keys.len(), expected.len(), "{name}: count");
    assert!(
        r.keys == expected,
        "{name}: keys differ from the plain listing"
    );
    let n = expected.len();
    let requests = bucket.requests.load(Ordering::SeqCst);
    let ideal = (n.div_ceil(PAGE_KEYS) as f64 / w as f64).max(1.0);
    println!(
        "{name:>14}: {n:>7} keys, {requests:>5} requests (budget {:>6.0}), {:>5.1} rounds (ideal {ideal:>5.1}) {:?}",
        budget(n, w),
        r.makespan,
        r.stats
    );
    assert!(
        requests as f64 <= budget(n, w),
        "{name}: {requests} requests over budget {}",
        budget(n, w)
    );
    r
}

fn synthetic(prefix: &str, n: u64) -> Vec<String> {
    (0..n)
        .map(|i| ossmc_testkit::synthetic::key_name(prefix, i))
        .collect()
}

fn flat(n: u64) -> Vec<String> {
    (1..=n).map(|i| format!("img/{i:07}.jpg")).collect()
}

fn deep(n: u64, seed: u64) -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n)
        .map(|i| {
            let depth = rng.usize(1..8);
            let mut k = String::from("tree/");
            for _ in 0..depth {
                k.push_str(&format!("n{}/", rng.u32(0..6)));
            }
            k.push_str(&format!("leaf{i}.dat"));
            k
        })
        .collect()
}

fn skewed(big: u64, small_dirs: u64) -> Vec<String> {
    let mut v: Vec<String> = (0..big).map(|i| format!("data/huge/{i:08}.bin")).collect();
    for d in 0..small_dirs {
        for f in 0..3 {
            v.push(format!("data/small{d:05}/f{f}.txt"));
        }
    }
    v
}

fn long_common(n: u64) -> Vec<String> {
    let common =
        "datasets/2024/imagenet/train/shards/very/long/common/path/that/everything/shares/";
    (0..n)
        .map(|i| format!("{common}part-{i:09}.parquet"))
        .collect()
}

fn special(n: u64) -> Vec<String> {
    let parts = [
        "a b", "c+d", "e%20f", "g?h", "i#j", "k=l", "m&n", "ünï", "文件", "😀", "\u{1}ctl", "~t",
    ];
    (0..n)
        .map(|i| {
            let a = parts[(i % 12) as usize];
            let b = parts[((i / 12) % 12) as usize];
            format!("{a}/{b} {i}+.bin")
        })
        .collect()
}

#[test]
#[ignore = "a debugging aid: FASTLIST_TRACE=1 FASTLIST_SHAPE=synthetic FASTLIST_N=250000"]
fn trace_one_shape() {
    let n: u64 = std::env::var("FASTLIST_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(250_000);
    let w: usize = std::env::var("FASTLIST_W")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let shape = std::env::var("FASTLIST_SHAPE").unwrap_or_else(|_| "synthetic".into());
    let (keys, prefix) = match shape.as_str() {
        "flat" => (flat(n), "img/"),
        "deep" => (deep(n, 3), "tree/"),
        "skewed" => (skewed(n, n / 10), "data/"),
        "long" => (long_common(n), ""),
        "special" => (special(n), ""),
        _ => (synthetic("", n), ""),
    };
    check_shape(&shape, keys, prefix, w);
}

#[test]
fn small_counts_match_the_plain_listing() {
    for n in [0u64, 1, 999, 1000, 1001, 2500] {
        let r = check_shape(&format!("flat{n}"), flat(n), "img/", 16);
        assert_eq!(r.keys.len() as u64, n);
    }
    // Under 1000 keys one page is enough, plus the delimiter probe sent beside it.
    let b = Bucket::new(flat(999), "img/");
    let r = simulate(&b, 16, 1);
    assert_eq!(b.requests.load(Ordering::SeqCst), 2);
    assert_eq!((r.stats.continuations, r.stats.probes), (1, 1));
    // With fewer than four requests in flight the probe is not worth its slot.
    let b = Bucket::new(flat(999), "img/");
    simulate(&b, 2, 1);
    assert_eq!(b.requests.load(Ordering::SeqCst), 1);
}

#[test]
fn shapes_match_the_plain_listing_within_the_request_budget() {
    check_shape("synthetic", synthetic("", 250_000), "", 16);
    check_shape("flat", flat(250_000), "img/", 16);
    check_shape("flat-noprefix", flat(100_000), "", 16);
    check_shape("deep", deep(120_000, 3), "tree/", 16);
    check_shape("skewed", skewed(150_000, 20_000), "data/", 16);
    check_shape("long-common", long_common(100_000), "", 16);
    check_shape("special", special(60_000), "", 16);
    check_shape("w1", synthetic("p/", 20_000), "p/", 1);
    check_shape("w64", synthetic("p/", 200_000), "p/", 64);
}

#[test]
fn prefixes_that_match_nothing_or_are_keys() {
    let mut keys = synthetic("x/", 5000);
    keys.push("x/".into());
    keys.push("x".into());
    keys.push("y".into());
    let r = check_shape("prefix-is-key", keys.clone(), "x/", 16);
    assert_eq!(r.keys.first().map(String::as_str), Some("x/"));
    let r = check_shape("prefix-is-key2", keys.clone(), "x", 16);
    assert_eq!(r.keys.first().map(String::as_str), Some("x"));
    let r = check_shape("no-match", keys, "nothing/", 16);
    assert!(r.keys.is_empty());
}

#[test]
fn a_million_keys_keep_sixteen_requests_busy() {
    let r = check_shape("synthetic-1M", synthetic("", 1_000_000), "", 16);
    // 1000 pages over 16 slots is 62.5 latencies; allow a startup of a few round trips.
    assert!(
        r.makespan < 62.5 * 1.25 + 8.0,
        "took {} latencies",
        r.makespan
    );
    let r = check_shape("flat-1M", flat(1_000_000), "img/", 16);
    assert!(
        r.makespan < 62.5 * 1.25 + 8.0,
        "took {} latencies",
        r.makespan
    );
}

#[test]
fn threads_list_exactly_and_a_failure_fails_the_call() {
    let bucket = Bucket::new(synthetic("t/", 30_000), "t/");
    let (objects, stats) = fast_list(&bucket, "t/", 8, &CancelToken::new()).expect("list");
    assert_eq!(sorted_keys(objects), bucket.expected());
    assert_eq!(stats.requests, bucket.requests.load(Ordering::SeqCst));

    let mut failing = Bucket::new(synthetic("t/", 30_000), "t/");
    failing.fail_every = 7;
    let err = fast_list(&failing, "t/", 8, &CancelToken::new()).expect_err("must fail");
    assert_eq!(err.kind(), ErrorKind::ServerError);
    assert!(err.to_string().contains("injected failure"), "{err}");
}

#[test]
fn a_failed_probe_only_loses_the_hints() {
    /// Fails every delimiter listing.
    struct NoDelimiter(Bucket);
    impl PageSource for NoDelimiter {
        fn page(&self, c: &CancelToken, job: &Job) -> Result<Page> {
            if job.delimiter.is_some() {
                return Err(Error::new(ErrorKind::ServerError, "no delimiters here"));
            }
            self.0.page(c, job)
        }
    }
    let source = NoDelimiter(Bucket::new(synthetic("t/", 20_000), "t/"));
    let (objects, stats) = fast_list(&source, "t/", 16, &CancelToken::new()).expect("list");
    assert_eq!(stats.probes, 1);
    assert_eq!(sorted_keys(objects), source.0.expected());
}

#[test]
fn a_cancelled_call_returns_cancelled() {
    let bucket = Bucket::new(synthetic("t/", 30_000), "t/");
    let cancel = CancelToken::new();
    cancel.cancel();
    let err = fast_list(&bucket, "t/", 4, &cancel).expect_err("cancelled");
    assert_eq!(err.kind(), ErrorKind::Cancelled);
}

#[test]
fn misbehaving_pages_are_rejected() {
    struct Repeats;
    impl PageSource for Repeats {
        fn page(&self, _c: &CancelToken, _job: &Job) -> Result<Page> {
            let o = |k: &str| ObjectInfo {
                key: k.into(),
                size: 0,
                etag: String::new(),
                last_modified: SystemTime::UNIX_EPOCH,
            };
            Ok(Page {
                objects: vec![o("p/b"), o("p/a")],
                common_prefixes: Vec::new(),
                next_token: None,
                is_truncated: false,
            })
        }
    }
    let err = fast_list(&Repeats, "p/", 4, &CancelToken::new()).expect_err("out of order");
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(err.to_string().contains("out of order"), "{err}");
}

#[test]
fn an_empty_truncated_page_is_followed_by_its_token() {
    /// Answers the first request with an empty truncated page whose token resumes at the start.
    struct Hiccup {
        inner: Bucket,
        first: std::sync::atomic::AtomicBool,
        seen: std::sync::Mutex<HashMap<u64, Option<String>>>,
    }
    impl PageSource for Hiccup {
        fn page(&self, c: &CancelToken, job: &Job) -> Result<Page> {
            self.seen
                .lock()
                .unwrap()
                .insert(job.id, job.continuation_token.clone());
            if self.first.swap(false, Ordering::SeqCst) {
                return Ok(Page {
                    objects: Vec::new(),
                    common_prefixes: Vec::new(),
                    next_token: Some("h/".into()),
                    is_truncated: true,
                });
            }
            self.inner.page(c, job)
        }
    }
    let h = Hiccup {
        inner: Bucket::new(synthetic("h/", 3000), "h/"),
        first: true.into(),
        seen: Default::default(),
    };
    let (objects, _) = fast_list(&h, "h/", 4, &CancelToken::new()).expect("list");
    assert_eq!(objects.len(), 3000);
    assert!(h
        .seen
        .lock()
        .unwrap()
        .values()
        .any(|t| t.as_deref() == Some("h/")));
}

#[test]
fn pages_without_keys_cannot_keep_a_part_going_forever() {
    /// Answers every listing request with an empty truncated page; `cycle`: its token
    /// alternates between two values, else each token is new.
    struct Nowhere {
        cycle: bool,
        requests: AtomicU64,
    }
    impl PageSource for Nowhere {
        fn page(&self, _c: &CancelToken, job: &Job) -> Result<Page> {
            let n = self.requests.fetch_add(1, Ordering::SeqCst);
            let token = match (self.cycle, job.continuation_token.as_deref()) {
                (true, Some("A")) => "B".to_owned(),
                (true, _) => "A".to_owned(),
                (false, _) => format!("t{n}"),
            };
            Ok(Page {
                objects: Vec::new(),
                common_prefixes: Vec::new(),
                next_token: Some(token),
                is_truncated: true,
            })
        }
    }
    for cycle in [true, false] {
        let source = Nowhere {
            cycle,
            requests: AtomicU64::new(0),
        };
        let err = fast_list(&source, "p/", 4, &CancelToken::new()).expect_err("a loop");
        assert_eq!(err.kind(), ErrorKind::Protocol);
        let want = if cycle {
            "continuation token \"A\" again"
        } else {
            "pages in a row without a key"
        };
        assert!(err.to_string().contains(want), "{err}");
        assert!(err.to_string().contains("prefix \"p/\""), "{err}");
        // Each part gives up after the cap; a few parts may be in flight at once.
        let sent = source.requests.load(Ordering::SeqCst);
        assert!(
            sent <= 8 * u64::from(crate::listing::rules::MAX_PAGES_WITHOUT_KEYS),
            "{sent} requests"
        );
    }
}
