//! Listings against a hostile server (oss-local `--listing-fault`): continuation tokens that
//! go round in circles or never end, pages that start over, keys with NUL, XML cut short or
//! garbled. The normal list and FastList end with an error that names the bucket, the
//! prefix and what the server did, after a bounded number of requests, or recover exactly.

mod common;

use common::*;
use ossmc::{Connector, ErrorKind};
use ossmc_testkit::oss_local::OssLocal;
use ossmc_testkit::synthetic::key_name;

/// Keys under `p/` in the test bucket: three pages of the normal list.
const KEYS: u64 = 2500;

/// The most pages without a key a listing follows (the library's cap).
const MAX_PAGES_WITHOUT_KEYS: u64 = 100;

/// Most requests a FastList sends before a failing part stops it: each of its requests in
/// flight (1 vcpu × 16 workers, and the delimiter probe) may follow its own chain.
const FAST_IN_FLIGHT: u64 = 17;

fn start(mode: &str, rate: &str) -> (OssLocal, Connector, TempDir) {
    let keys = format!("bkt/p/:{KEYS}");
    let server = OssLocal::start(&[
        "--keys",
        &keys,
        "--listing-fault",
        mode,
        "--listing-fault-rate",
        rate,
        "--seed",
        "11",
    ]);
    let dir = TempDir::new("hostile-list");
    let conn = connector(&server, config(&dir));
    (server, conn, dir)
}

fn list_requests(server: &OssLocal) -> u64 {
    stat(server, "requests.ListObjectsV2")
}

/// Asserts a protocol error naming the listing and containing `what`.
fn assert_refused(e: &ossmc::Error, what: &str) {
    let text = e.to_string();
    assert_eq!(e.kind(), ErrorKind::Protocol, "{text}");
    assert!(text.contains(what), "{text:?} lacks {what:?}");
    assert!(text.contains("bkt") && text.contains("p/"), "{text}");
}

fn expected_keys() -> Vec<String> {
    let mut v: Vec<String> = (0..KEYS).map(|i| key_name("p/", i)).collect();
    v.sort();
    v
}

#[test]
fn cycling_continuation_tokens_end_the_listing() {
    let (server, conn, _dir) = start("cycle-tokens", "1");
    let e = conn.list("bkt", "p/").expect_err("a cycle");
    assert_refused(&e, "again without listing a key");
    // First page (token A), then B, then A again.
    assert_eq!(list_requests(&server), 3);

    let e = conn.fast_list("bkt", "p/").expect_err("a cycle");
    assert_refused(&e, "again without listing a key");
    assert!(list_requests(&server) - 3 <= 3 * FAST_IN_FLIGHT);
}

#[test]
fn endless_new_tokens_end_the_listing() {
    let (server, conn, _dir) = start("endless-tokens", "1");
    let e = conn.list("bkt", "p/").expect_err("no end");
    assert_refused(&e, "pages in a row without a key");
    assert_eq!(list_requests(&server), MAX_PAGES_WITHOUT_KEYS);

    let e = conn.fast_list("bkt", "p/").expect_err("no end");
    assert_refused(&e, "pages in a row without a key");
    assert!(
        list_requests(&server) - MAX_PAGES_WITHOUT_KEYS <= MAX_PAGES_WITHOUT_KEYS * FAST_IN_FLIGHT
    );
}

#[test]
fn a_listing_that_starts_over_is_refused() {
    let (server, conn, _dir) = start("repeat-pages", "1");
    let e = conn.list("bkt", "p/").expect_err("keys repeat");
    assert_refused(&e, "keys must come in increasing order");
    assert_eq!(list_requests(&server), 2);
    assert_eq!(stat(&server, "faults.listing"), 1);
    // FastList goes on with start-after, which this server answers honestly.
    let mut got: Vec<String> = conn
        .fast_list("bkt", "p/")
        .expect("fast list")
        .into_iter()
        .map(|o| o.key)
        .collect();
    got.sort();
    assert_eq!(got, expected_keys());
}

#[test]
fn a_key_with_nul_is_an_error_not_a_cut_key() {
    let (server, conn, _dir) = start("nul-key", "1");
    let e = conn.list("bkt", "p/").expect_err("NUL");
    assert_refused(&e, "which contains NUL");
    // The server's answer, not a transport fault: not tried again.
    assert_eq!(list_requests(&server), 1);

    let e = conn.fast_list("bkt", "p/").expect_err("NUL");
    assert_refused(&e, "which contains NUL");
}

/// Broken XML now and then is retried and the listing comes out exact; broken XML every
/// time fails clearly after the configured attempts.
fn broken_xml(mode: &str) {
    let (server, conn, _dir) = start(mode, "0.3");
    let keys: Vec<String> = conn
        .list("bkt", "p/")
        .expect("list")
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys, expected_keys());
    assert!(stat(&server, "faults.listing") > 0, "no fault was drawn");
    let mut fast: Vec<String> = conn
        .fast_list("bkt", "p/")
        .expect("fast list")
        .into_iter()
        .map(|o| o.key)
        .collect();
    fast.sort();
    assert_eq!(fast, expected_keys());

    let (server, conn, dir) = start(mode, "1");
    let attempts = u64::from(config(&dir).retry.max_attempts);
    let e = conn.list("bkt", "p/").expect_err("always broken");
    assert_refused(&e, "is malformed");
    assert_eq!(list_requests(&server), attempts);
    let e = conn.fast_list("bkt", "p/").expect_err("always broken");
    assert_refused(&e, "is malformed");
}

#[test]
fn truncated_xml_is_retried() {
    broken_xml("truncated-xml");
}

#[test]
fn malformed_xml_is_retried() {
    broken_xml("malformed-xml");
}

/// The C ABI: `ossmc_list` fails with `OSSMC_PROTOCOL` and a message saying what the server
/// sent, and hands out no list whose keys a C caller would see cut at the NUL.
#[test]
fn the_c_api_refuses_a_key_with_nul() {
    use ossmc::ffi::connector::{ossmc_connector, ossmc_connector_free, ossmc_connector_new};
    use ossmc::ffi::last_error::{ossmc_error_detail, ossmc_last_error};
    use ossmc::ffi::list::{ossmc_list, ossmc_listing};
    use ossmc::ffi::status::{OSSMC_OK, OSSMC_PROTOCOL};
    use ossmc_testkit::oss_local::{TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET};
    use std::ffi::{CStr, CString};

    let server = OssLocal::start(&["--keys", "bkt/p/:20", "--listing-fault", "nul-key"]);
    let dir = TempDir::new("hostile-list-c");
    let cred = dir.path("credentials.json");
    std::fs::write(
        &cred,
        format!(r#"{{"AccessKeyId":"{TEST_ACCESS_KEY_ID}","AccessKeySecret":"{TEST_ACCESS_KEY_SECRET}"}}"#),
    )
    .unwrap();
    let conf = dir.path("config.json");
    let logs = (dir.path("connector.log"), dir.path("audit.log"));
    std::fs::write(
        &conf,
        serde_json::json!({
            "logPath": logs.0.to_str().unwrap(),
            "auditPath": logs.1.to_str().unwrap(),
            "retry": {"maxAttempts": 2, "baseDelayMs": 5, "maxDelayMs": 20},
        })
        .to_string(),
    )
    .unwrap();
    let c = |s: &str| CString::new(s).unwrap();
    let (endpoint, cred, conf) = (
        c(&server.endpoint),
        c(cred.to_str().unwrap()),
        c(conf.to_str().unwrap()),
    );
    let mut conn: *mut ossmc_connector = std::ptr::null_mut();
    let status =
        unsafe { ossmc_connector_new(endpoint.as_ptr(), cred.as_ptr(), conf.as_ptr(), &mut conn) };
    assert_eq!(status, OSSMC_OK);
    let (bucket, prefix) = (c("bkt"), c("p/"));
    for fast in [0, 1] {
        let mut list: *mut ossmc_listing = std::ptr::null_mut();
        let status = unsafe { ossmc_list(conn, bucket.as_ptr(), prefix.as_ptr(), fast, &mut list) };
        assert_eq!(status, OSSMC_PROTOCOL, "fast={fast}");
        assert!(list.is_null());
        let mut detail = std::mem::MaybeUninit::<ossmc_error_detail>::zeroed();
        assert_eq!(unsafe { ossmc_last_error(detail.as_mut_ptr()) }, OSSMC_OK);
        let detail = unsafe { detail.assume_init() };
        assert_eq!(detail.status, OSSMC_PROTOCOL);
        let message = unsafe { CStr::from_ptr(detail.message) }.to_str().unwrap();
        assert!(message.contains("which contains NUL"), "{message}");
        assert!(message.contains("oss://bkt/p/"), "{message}");
    }
    unsafe { ossmc_connector_free(conn) };
}

/// Pages beyond what OSS can send: a key longer than 1023 bytes, a size no object has, more
/// entries than `max-keys`. Each is the server's answer, refused without another try.
#[test]
fn pages_beyond_the_limits_are_refused() {
    for (mode, what) in [
        ("overlong-key", "bytes long (OSS keys are at most 1023)"),
        (
            "huge-size",
            "with size 18446744073709551615 (not a possible object size)",
        ),
        ("extra-entries", "1001 entries in a page of at most 1000"),
    ] {
        let (server, conn, _dir) = start(mode, "1");
        let e = conn.list("bkt", "p/").expect_err(mode);
        assert_refused(&e, what);
        assert_eq!(list_requests(&server), 1, "{mode}");
        let e = conn.fast_list("bkt", "p/").expect_err(mode);
        assert_refused(&e, what);
    }
}

/// A server that ignores `start-after`: the normal list goes on after the last object of a
/// broken page with it, and gets the same keys again; it must stop there, not keep the
/// keys and ask again forever. FastList splits with `start-after` and stops too.
#[test]
fn a_listing_that_does_not_advance_after_a_break_is_refused() {
    let keys = format!("bkt/p/:{KEYS}");
    let server = OssLocal::start(&[
        "--keys",
        &keys,
        "--listing-fault",
        "ignore-start-after",
        "--list-reset-after",
        "20000",
    ]);
    let dir = TempDir::new("hostile-list");
    let conn = connector(&server, config(&dir));
    let e = conn.list("bkt", "p/").expect_err("no progress");
    assert_refused(&e, "keys must come in increasing order");
    // The broken first page, then the same keys again.
    assert_eq!(list_requests(&server), 2);
    assert_eq!(stat(&server, "faults.listing"), 1);

    let e = conn.fast_list("bkt", "p/").expect_err("no progress");
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert!(
        e.to_string().contains("not after the start-after key"),
        "{e}"
    );
}
