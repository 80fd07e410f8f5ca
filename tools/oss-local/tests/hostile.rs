//! Hostile responses, seen on the wire: each does what the README's table says, is counted
//! in `/_stats`, and leaves other requests alone.

mod common;

use common::{dechunk, get, raw, start, stats, synthetic};
use ossmc_testkit::synthetic::shard_key;

/// The 1 MiB shard of `b01/m`.
fn path() -> String {
    format!("/b01/{}", shard_key("m", 1, 1))
}

fn range(a: u64, b: u64) -> String {
    format!("bytes={a}-{b}")
}

#[test]
fn huge_and_wrong_lengths_are_announced_on_head_only() {
    let s = start(&["--model", "b01/m:1:1", "--huge-length-rate", "1"]);
    let h = raw(s.port, "HEAD", &path(), &[], b"");
    assert_eq!(h.header("content-length"), Some("18446744073709551615"));
    let g = get(s.port, &path(), &[]);
    assert_eq!(g.body.len(), 1 << 20, "GetObject is left alone");
    assert_eq!(stats(&s)["faults"]["huge_length"], 1);

    let s = start(&["--model", "b01/m:1:1", "--wrong-length-rate", "1"]);
    let h = raw(s.port, "HEAD", &path(), &[], b"");
    assert_eq!(h.header("content-length"), Some("1048577"));
    assert_eq!(stats(&s)["faults"]["wrong_length"], 1);
}

#[test]
fn a_wrong_range_is_shifted_with_a_matching_content_range() {
    let s = start(&["--model", "b01/m:1:1", "--wrong-range-rate", "1"]);
    let key = shard_key("m", 1, 1);
    let r = get(s.port, &path(), &[("range", &range(100, 199))]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 101-200/1048576"));
    assert_eq!(r.body, synthetic(&key, 101, 100));
    let last = (1 << 20) - 1;
    let r = get(s.port, &path(), &[("range", &range(last - 9, last))]);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes {}-{}/1048576", last - 10, last - 1).as_str())
    );
    assert_eq!(stats(&s)["faults"]["wrong_range"], 2);
}

#[test]
fn the_whole_object_answers_a_range() {
    let s = start(&["--model", "b01/m:1:1", "--whole-object-rate", "1"]);
    let r = get(s.port, &path(), &[("range", &range(10, 19))]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-range"), None);
    assert_eq!(r.body.len(), 1 << 20);
    assert_eq!(stats(&s)["faults"]["whole_object"], 1);
}

#[test]
fn an_overlong_body_is_chunked_and_runs_past_the_range() {
    let s = start(&["--model", "b01/m:1:1", "--overlong-rate", "1"]);
    let key = shard_key("m", 1, 1);
    let r = get(s.port, &path(), &[("range", &range(0, 99))]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.header("content-range"), Some("bytes 0-99/1048576"));
    let body = dechunk(&r.body).expect("a complete chunked body");
    assert_eq!(body, synthetic(&key, 0, 116));
    assert_eq!(stats(&s)["faults"]["overlong"], 1);
}

#[test]
fn a_changed_etag_ignores_if_match_and_sends_other_bytes() {
    let s = start(&["--model", "b01/m:1:1"]);
    let etag = raw(s.port, "HEAD", &path(), &[], b"")
        .header("etag")
        .unwrap()
        .to_owned();
    drop(s);
    let s = start(&["--model", "b01/m:1:1", "--etag-change-rate", "1"]);
    let key = shard_key("m", 1, 1);
    let r = get(
        s.port,
        &path(),
        &[("range", &range(0, 99)), ("if-match", &etag)],
    );
    assert_eq!(r.status, 206, "If-Match is ignored");
    assert_ne!(r.header("etag"), Some(etag.as_str()));
    let own = synthetic(&key, 0, 100);
    assert_ne!(r.body, own);
    assert_eq!(stats(&s)["faults"]["etag_change"], 1);
}

#[test]
fn draws_are_reproducible_from_the_seed() {
    let args = [
        "--model",
        "b01/m:1:1",
        "--whole-object-rate",
        "0.5",
        "--seed",
        "3",
    ];
    let statuses = || {
        let s = start(&args);
        (0..20)
            .map(|_| get(s.port, &path(), &[("range", &range(0, 9))]).status)
            .collect::<Vec<_>>()
    };
    let a = statuses();
    assert_eq!(a, statuses());
    assert!(a.contains(&200) && a.contains(&206), "{a:?}");
}

#[test]
fn a_huge_get_length_is_announced_before_the_right_body() {
    let s = start(&["--model", "b01/m:1:1", "--huge-get-length-rate", "1"]);
    let key = shard_key("m", 1, 1);
    let r = get(s.port, &path(), &[("range", &range(0, 99))]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-length"), Some("18446744073709551615"));
    assert_eq!(r.body, synthetic(&key, 0, 100));
    assert_eq!(stats(&s)["faults"]["huge_get_length"], 1);
}
