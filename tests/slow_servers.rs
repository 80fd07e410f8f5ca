//! Servers that keep a request alive without delivering: bodies that trickle and bodies that
//! never come after the headers. Every attempt ends by the body's deadline (or the read
//! timeout), is retried like any timeout, and the call fails with ErrorKind::Timeout.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ossmc::{Config, ErrorKind};
use ossmc_testkit::oss_local::OssLocal;

/// What the issue asks of each attempt with the defaults and `timeouts.readMs` = 2000.
const ATTEMPT_BOUND: Duration = Duration::from_secs(15);
const ATTEMPTS: u32 = 2;

/// The test configuration with the default `timeouts.minRateBps`, a 2 s read timeout, two
/// attempts per request and one request in flight.
fn slow_config(dir: &TempDir) -> Config {
    let mut c = config(dir);
    c.read_timeout = Duration::from_millis(2000);
    c.retry.max_attempts = ATTEMPTS;
    c.prefetch.vcpus = 1;
    c.prefetch.workers = 1;
    c.prefetch.chunk_size = 64 << 10;
    c.fast_list.vcpus = 1;
    c.fast_list.workers = 1;
    c
}

#[test]
fn a_trickled_range_times_out_each_attempt() {
    let server = OssLocal::start(&["--model", "bkt/m:1:1", "--trickle-bytes-per-sec", "256"]);
    let dir = TempDir::new("trickled-range");
    let conn = connector(&server, slow_config(&dir));
    let key = ossmc_testkit::synthetic::shard_key("m", 1, 1);
    let reader = conn.open(&format!("oss://bkt/{key}")).unwrap();
    let started = Instant::now();
    let mut buf = vec![0u8; 64 << 10];
    // At 256 B/s the 64 KiB range would take over four minutes per attempt.
    let e = reader.read_at(0, &mut buf).unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.message().contains("arrived too slowly"), "{e}");
    // The second attempt resumed after the bytes the first one got: "N of M bytes", M < 64 KiB.
    assert!(e.message().contains("bytes within its deadline of"), "{e}");
    assert_eq!(e.key(), Some(key.as_str()));
    assert!(took < ATTEMPT_BOUND * ATTEMPTS, "{took:?}");
    // Each attempt was a request of its own, trickled.
    assert!(stat(&server, "requests.GetObject") >= u64::from(ATTEMPTS));
    assert!(stat(&server, "faults.trickle") >= u64::from(ATTEMPTS));
}

#[test]
fn a_trickled_list_page_times_out_each_attempt() {
    // Short keys: an entry or two of a page arrive whole before each deadline. They are kept,
    // but the tries still count, or the listing would go on for hours.
    let server = OssLocal::start(&["--keys", "bkt/k/:2000", "--trickle-bytes-per-sec", "64"]);
    let dir = TempDir::new("trickled-list");
    let conn = connector(&server, slow_config(&dir));
    let started = Instant::now();
    let e = conn.list("bkt", "").unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.message().contains("arrived too slowly"), "{e}");
    assert!(
        e.message().contains("objects before the break are kept"),
        "{e}"
    );
    assert_eq!(e.bucket(), Some("bkt"));
    assert!(took < ATTEMPT_BOUND * ATTEMPTS, "{took:?}");
    assert_eq!(stat(&server, "requests.ListObjectsV2"), u64::from(ATTEMPTS));
    assert_eq!(stat(&server, "faults.trickle"), u64::from(ATTEMPTS));
}

#[test]
fn a_stall_after_the_headers_is_a_timeout() {
    let server = OssLocal::start(&[
        "--model",
        "bkt/m:1:1",
        "--keys",
        "bkt/k/:5",
        "--stall-after-headers",
    ]);
    let dir = TempDir::new("stall");
    let conn = connector(&server, slow_config(&dir));
    let key = ossmc_testkit::synthetic::shard_key("m", 1, 1);
    // HEAD has no body, so opening works.
    let reader = conn.open(&format!("oss://bkt/{key}")).unwrap();
    let mut buf = vec![0u8; 4096];
    let e = reader.read_at(0, &mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        e.message().contains("stalled after 0 of 65536 bytes"),
        "{e}"
    );
    let e = conn.list("bkt", "k/").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.message().contains("stalled after 0 "), "{e}");
    assert!(stat(&server, "faults.stall_after_headers") >= 2 * u64::from(ATTEMPTS));
}

#[test]
fn a_trickled_error_body_ends_at_its_deadline() {
    // The NoSuchBucket document would take minutes at 1 B/s; the status is enough.
    let server = OssLocal::start(&["--bucket", "bkt", "--trickle-bytes-per-sec", "1"]);
    let dir = TempDir::new("trickled-error");
    let conn = connector(&server, slow_config(&dir));
    let started = Instant::now();
    let e = conn.list("nobkt", "").unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::NoSuchBucket, "{e}");
    assert_eq!(e.http_status(), Some(404));
    assert!(
        e.message()
            .contains("no error document: it arrived too slowly"),
        "{e}"
    );
    assert!(took < ATTEMPT_BOUND, "{took:?}");
    assert_eq!(stat(&server, "faults.trickle"), 1);
}
