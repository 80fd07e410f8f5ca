//! Listing returns every object across pages, with sizes, in key order.

mod common;

use common::*;
use ossmc_testkit::oss_local::OssLocal;
use ossmc_testkit::synthetic::{key_name, key_size};

#[test]
fn list_returns_every_object_across_pages() {
    let server = OssLocal::start(&["--keys", "bkt/p/:2500", "--model", "bkt/m:1:1"]);
    let dir = TempDir::new("list");
    let conn = connector(&server, config(&dir));
    let objects = conn.list("bkt", "p/").unwrap();
    let mut expected: Vec<(String, u64)> = (0..2500)
        .map(|i| (key_name("p/", i), key_size(i)))
        .collect();
    expected.sort();
    let got: Vec<(String, u64)> = objects.iter().map(|o| (o.key.clone(), o.size)).collect();
    assert_eq!(got.len(), expected.len());
    assert_eq!(got, expected);
    assert!(objects.iter().all(|o| !o.etag.is_empty()));
    assert!(
        stat(&server, "requests.ListObjectsV2") >= 3,
        "2500 keys need 3 pages"
    );

    // A prefix inside the set, and one matching nothing.
    let some = conn.list("bkt", "p/img/").unwrap();
    assert_eq!(
        some.len(),
        expected
            .iter()
            .filter(|(k, _)| k.starts_with("p/img/"))
            .count()
    );
    assert!(conn.list("bkt", "nothing-here/").unwrap().is_empty());
    let model = conn.list("bkt", "m/").unwrap();
    assert_eq!(model.len(), 1);
    assert_eq!(model[0].size, 1 << 20);
}

#[test]
fn list_page_exposes_paging_for_parallel_listing() {
    let server = OssLocal::start(&["--keys", "bkt/p/:30"]);
    let dir = TempDir::new("page");
    let conn = connector(&server, config(&dir));
    let cancel = ossmc::CancelToken::new();
    let first = conn
        .list_page("bkt", "p/", None, None, None, 10, &cancel)
        .unwrap();
    assert_eq!(first.objects.len(), 10);
    assert!(first.is_truncated);
    let token = first.next_token.clone().unwrap();
    let second = conn
        .list_page("bkt", "p/", None, Some(&token), None, 10, &cancel)
        .unwrap();
    assert!(second.objects[0].key > first.objects[9].key);
    let after = conn
        .list_page(
            "bkt",
            "p/",
            Some(&first.objects[9].key),
            None,
            None,
            10,
            &cancel,
        )
        .unwrap();
    assert_eq!(after.objects, second.objects);
    let dirs = conn
        .list_page("bkt", "p/", None, None, Some("/"), 1000, &cancel)
        .unwrap();
    assert!(!dirs.common_prefixes.is_empty());
    assert!(dirs
        .common_prefixes
        .iter()
        .all(|p| p.starts_with("p/") && p.ends_with('/')));
    cancel.cancel();
    let e = conn
        .list_page("bkt", "p/", None, None, None, 10, &cancel)
        .unwrap_err();
    assert_eq!(e.kind(), ossmc::ErrorKind::Cancelled);
}

#[test]
fn interrupt_stops_a_list_call_waiting_to_retry() {
    // Every request fails with a 5xx and the first retry waits a minute: only interrupt()
    // can end the call in time.
    let server = OssLocal::start(&["--keys", "bkt/p/:10", "--fail-rate", "1"]);
    let dir = TempDir::new("interrupt");
    let mut cfg = config(&dir);
    cfg.retry.base_delay = std::time::Duration::from_secs(60);
    cfg.retry.max_delay = std::time::Duration::from_secs(60);
    let conn = connector(&server, cfg);
    let lister = {
        let conn = conn.clone();
        std::thread::spawn(move || conn.list("bkt", "p/"))
    };
    // Wait (without a timing guess) until the first attempt has been answered; the delay
    // before the second is at least a millisecond and at most a minute.
    while stat(&server, "status.503") + stat(&server, "status.500") == 0 {
        std::thread::yield_now();
    }
    conn.interrupt();
    let e = lister.join().unwrap().unwrap_err();
    assert_eq!(e.kind(), ossmc::ErrorKind::Cancelled, "{e}");
    assert!(stat(&server, "requests.ListObjectsV2") >= 1);
}

/// The listing of `keys` keys under `bkt/p/` from an oss-local without faults.
fn clean_listing(keys: &str, dir: &TempDir) -> Vec<ossmc::ObjectInfo> {
    let clean = OssLocal::start(&["--keys", &format!("bkt/p/:{keys}")]);
    connector(&clean, config(dir)).list("bkt", "p/").unwrap()
}

#[test]
fn pages_broken_off_midway_are_retried_and_the_listing_stays_exact() {
    // Half of the responses break off part-way through a chunked body, with two attempts per
    // request: before broken pages were resumed, nearly every listing of 20 pages gave up.
    let dir = TempDir::new("list-broken-pages");
    let want = clean_listing("20000", &dir);
    assert_eq!(want.len(), 20_000);
    for chunked in [true, false] {
        let mut args = vec![
            "--keys",
            "bkt/p/:20000",
            "--list-reset-rate",
            "0.5",
            "--seed",
            "2",
        ];
        if chunked {
            args.push("--chunked-listings");
        }
        let server = OssLocal::start(&args);
        let mut cfg = config(&dir);
        cfg.retry.max_attempts = 2;
        let conn = connector(&server, cfg);
        let got = conn.list("bkt", "p/").unwrap();
        // Same keys, sizes, ETags and dates, in the same order.
        assert!(got == want, "the listing differs (chunked: {chunked})");
        assert!(
            stat(&server, "faults.reset") >= 10,
            "too few pages broke off: {}",
            stat(&server, "faults.reset")
        );
    }
}

#[test]
fn pages_that_always_break_off_at_the_same_byte_are_continued_exactly() {
    // Every response longer than 50000 bytes (a page of 1000 keys is about 200 KB) breaks
    // off there, every time: trying the same page again cannot help, going on after the
    // objects that arrived can.
    let dir = TempDir::new("list-cut-pages");
    let want = clean_listing("5000", &dir);
    let server = OssLocal::start(&[
        "--keys",
        "bkt/p/:5000",
        "--chunked-listings",
        "--list-reset-after",
        "50000",
    ]);
    let got = connector(&server, config(&dir)).list("bkt", "p/").unwrap();
    assert!(got == want, "the listing differs");
    assert!(stat(&server, "faults.reset") >= 20);
}

#[test]
fn a_listing_that_gets_no_further_fails_with_a_clear_error() {
    // Every response breaks off: the objects are kept as they come, but the last page (the
    // one that would say the listing is complete) never arrives whole.
    for (chunked, of) in [(true, "bytes (length not announced): "), (false, " of ")] {
        let mut args = vec!["--keys", "bkt/p/:40", "--list-reset-rate", "1"];
        if chunked {
            args.push("--chunked-listings");
        }
        let server = OssLocal::start(&args);
        let dir = TempDir::new("list-no-progress");
        let conn = connector(&server, config(&dir));
        let e = conn.list("bkt", "p/").unwrap_err();
        assert_eq!(e.kind(), ossmc::ErrorKind::Network, "{e}");
        assert!(
            e.message()
                .starts_with("ListObjectsV2 response body broke off after "),
            "{e}"
        );
        assert!(e.message().contains(of), "{e}");
        assert!(!e.message().contains(" of 0 bytes"), "{e}");
        assert_eq!(e.bucket(), Some("bkt"));
        // config() allows 6 tries in a row without progress; the tries that kept objects
        // come on top.
        assert!(stat(&server, "requests.ListObjectsV2") >= 6);
    }
}
