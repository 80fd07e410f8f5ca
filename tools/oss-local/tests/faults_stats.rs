//! Injected faults (fail, reset, corrupt; reproducible from the seed), `/_stats` counters
//! and their reset, and authentication being enforced unless `--no-auth`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

use common::{get, raw, start, stats, synthetic};
use ossmc_testkit::oss_local::{OssLocal, TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET};
use ossmc_testkit::synthetic::shard_key;

fn shard() -> String {
    shard_key("m", 1, 1)
}

fn shard_path() -> String {
    format!("/b01/{}", shard())
}

#[test]
fn fail_rate_one_fails_every_object_request_but_not_stats() {
    let s = start(&["--model", "b01/m:1:1", "--fail-rate", "1.0", "--seed", "7"]);
    let mut codes = Vec::new();
    for i in 0..20 {
        let r = if i % 2 == 0 {
            get(s.port, &shard_path(), &[])
        } else {
            get(s.port, "/b01?list-type=2", &[])
        };
        assert!(r.status == 503 || r.status == 500, "{}", r.status);
        let code = common::tag(&r.text(), "Code").unwrap();
        assert_eq!(
            code,
            if r.status == 503 {
                "SlowDown"
            } else {
                "InternalError"
            }
        );
        codes.push(code);
    }
    assert!(codes.iter().any(|c| c == "SlowDown") && codes.iter().any(|c| c == "InternalError"));
    let st = stats(&s);
    assert_eq!(st["faults"]["fail"], 20);
    assert_eq!(st["requests"]["GetObject"], 10);
    assert_eq!(st["requests"]["ListObjectsV2"], 10);
}

#[test]
fn faults_are_reproducible_from_the_seed() {
    let run = |seed: &str| {
        let s = start(&["--model", "b01/m:1:1", "--fail-rate", "0.5", "--seed", seed]);
        (0..32)
            .map(|_| get(s.port, &shard_path(), &[("range", "bytes=0-9")]).status)
            .collect::<Vec<_>>()
    };
    let a = run("11");
    assert_eq!(a, run("11"));
    assert!(a.contains(&206) && a.iter().any(|s| *s >= 500), "{a:?}");
    assert_ne!(a, run("12"));
}

#[test]
fn corrupt_rate_one_flips_exactly_one_byte() {
    let s = start(&["--model", "b01/m:1:1", "--corrupt-rate", "1.0"]);
    for range in [None, Some((1000u64, 600_000u64))] {
        let headers: Vec<(&str, String)> = range
            .iter()
            .map(|(a, b)| ("range", format!("bytes={a}-{b}")))
            .collect();
        let h: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let r = get(s.port, &shard_path(), &h);
        let (offset, len) = range.map_or((0, 1 << 20), |(a, b)| (a, (b - a + 1) as usize));
        assert_eq!(r.body.len(), len);
        assert_eq!(r.header("content-length").unwrap(), len.to_string());
        let want = synthetic(&shard(), offset, len);
        let diffs = r.body.iter().zip(&want).filter(|(a, b)| a != b).count();
        assert_eq!(diffs, 1);
    }
    assert_eq!(stats(&s)["faults"]["corrupt"], 2);
}

#[test]
fn reset_rate_one_cuts_the_body_short() {
    let s = start(&["--model", "b01/m:1:1", "--reset-rate", "1.0", "--seed", "3"]);
    for _ in 0..3 {
        let r = get(s.port, &shard_path(), &[]);
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-length").unwrap(),
            (1u64 << 20).to_string()
        );
        assert!(r.body.len() < 1 << 20, "{}", r.body.len());
        assert_eq!(
            r.body,
            synthetic(&shard(), 0, r.body.len()),
            "what was sent is correct"
        );
    }
    // HEAD and listings are not cut.
    assert_eq!(raw(s.port, "HEAD", &shard_path(), &[], b"").status, 200);
    assert_eq!(get(s.port, "/b01?list-type=2", &[]).status, 200);
    assert_eq!(stats(&s)["faults"]["reset"], 3);
}

#[test]
fn list_reset_rate_one_cuts_listing_bodies_short() {
    let listing = "/b01?list-type=2&max-keys=1000&prefix=p%2F";
    let whole = get(start(&["--keys", "b01/p/:1000"]).port, listing, &[]).body;
    assert!(whole.len() > 100_000, "{}", whole.len());
    let s = start(&[
        "--keys",
        "b01/p/:1000",
        "--model",
        "b01/m:1:1",
        "--list-reset-rate",
        "1.0",
        "--seed",
        "5",
    ]);
    let mut lengths = Vec::new();
    for _ in 0..3 {
        let r = get(s.port, listing, &[]);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-length").unwrap(), whole.len().to_string());
        assert!(r.body.len() < whole.len(), "{}", r.body.len());
        assert_eq!(r.body, whole[..r.body.len()], "what was sent is correct");
        lengths.push(r.body.len());
    }
    assert!(lengths.windows(2).any(|w| w[0] != w[1]), "{lengths:?}");
    // Objects are not cut by it.
    assert_eq!(get(s.port, &shard_path(), &[]).body.len(), 1 << 20);
    assert_eq!(stats(&s)["faults"]["reset"], 3);
}

#[test]
fn list_reset_after_cuts_every_long_listing_at_the_same_byte() {
    let listing = "/b01?list-type=2&max-keys=1000&prefix=p%2F";
    let whole = get(start(&["--keys", "b01/p/:1000"]).port, listing, &[]).body;
    let s = start(&["--keys", "b01/p/:1000", "--list-reset-after", "50000"]);
    for _ in 0..2 {
        let r = get(s.port, listing, &[]);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-length").unwrap(), whole.len().to_string());
        assert_eq!(r.body, whole[..50_000]);
    }
    // A listing no longer than that is sent whole.
    let short = get(s.port, "/b01?list-type=2&max-keys=10&prefix=p%2F", &[]);
    assert!(short.body.len() < 50_000);
    assert!(
        short.text().ends_with("</ListBucketResult>"),
        "{}",
        short.text()
    );
    assert_eq!(stats(&s)["faults"]["reset"], 2);
}

#[test]
fn chunked_listings_announce_no_length_and_can_be_cut() {
    let listing = "/b01?list-type=2&max-keys=1000&prefix=p%2F";
    let whole = get(start(&["--keys", "b01/p/:1000"]).port, listing, &[]).body;
    let s = start(&["--keys", "b01/p/:1000", "--chunked-listings"]);
    let r = get(s.port, listing, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), None);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.header("content-type"), Some("application/xml"));
    assert_eq!(
        common::dechunk(&r.body).expect("a complete chunked body"),
        whole
    );
    // ListObjects (V1) too; an error is still sent whole.
    assert_eq!(
        get(s.port, "/b01?prefix=p%2F", &[]).header("transfer-encoding"),
        Some("chunked")
    );
    let e = get(s.port, "/b01?list-type=2&max-keys=0", &[]);
    assert_eq!(e.status, 400);
    assert!(e.header("content-length").is_some());
    assert_eq!(
        stats(&s)["bytes_sent"],
        0,
        "listing bytes are not object bytes"
    );

    let s = start(&[
        "--keys",
        "b01/p/:1000",
        "--chunked-listings",
        "--list-reset-rate",
        "1.0",
    ]);
    let r = get(s.port, listing, &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), None);
    assert_eq!(common::dechunk(&r.body), None, "the body must not end well");
    assert_eq!(stats(&s)["faults"]["reset"], 1);
}

#[test]
fn latency_and_rate_cap_still_deliver_correct_bytes() {
    let s = start(&[
        "--model",
        "b01/m:1:1",
        "--latency-ms",
        "5",
        "--rate-mbps",
        "50",
    ]);
    let r = get(s.port, &shard_path(), &[("range", "bytes=10-300009")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body, synthetic(&shard(), 10, 300_000));
}

#[test]
fn stats_count_operations_statuses_bytes_and_resets() {
    let s = start(&["--model", "b01/m:1:1"]);
    assert_eq!(
        get(s.port, &shard_path(), &[("range", "bytes=0-99")]).status,
        206
    );
    assert_eq!(
        get(s.port, &shard_path(), &[("range", "bytes=0-899")]).status,
        206
    );
    assert_eq!(raw(s.port, "HEAD", &shard_path(), &[], b"").status, 200);
    assert_eq!(
        raw(
            s.port,
            "HEAD",
            &format!("{}?objectMeta", shard_path()),
            &[],
            b""
        )
        .status,
        200
    );
    assert_eq!(get(s.port, "/b01/nope", &[]).status, 404);
    assert_eq!(raw(s.port, "PUT", "/b01/new", &[], b"abc").status, 200);
    assert_eq!(get(s.port, "/b01", &[]).status, 200);
    assert_eq!(get(s.port, "/b01?list-type=2", &[]).status, 200);
    let st = stats(&s);
    assert_eq!(st["requests"]["GetObject"], 3);
    assert_eq!(st["requests"]["HeadObject"], 1);
    assert_eq!(st["requests"]["GetObjectMeta"], 1);
    assert_eq!(st["requests"]["PutObject"], 1);
    assert_eq!(st["requests"]["ListObjects"], 1);
    assert_eq!(st["requests"]["ListObjectsV2"], 1);
    assert_eq!(st["total_requests"], 8);
    assert_eq!(st["status"]["206"], 2);
    assert_eq!(st["status"]["404"], 1);
    assert_eq!(st["status"]["200"], 5);
    // Only object bodies count as bytes sent.
    assert_eq!(st["bytes_sent"], 1000);
    assert_eq!(st["connections"]["total"], 8);
    // GET /_stats?reset returns the counters, then zeroes them.
    let r = get(s.port, "/_stats?reset", &[]);
    let before: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(before["total_requests"], 8);
    assert_eq!(stats(&s)["total_requests"], 0);
    get(s.port, &shard_path(), &[("range", "bytes=0-9")]);
    let r = raw(s.port, "POST", "/_stats/reset", &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(stats(&s)["requests"]["GetObject"], 0);
}

/// Sends a GET on a new connection and reads only the response head.
fn start_get(port: u16, path: &str) -> BufReader<TcpStream> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(c, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut r = BufReader::new(c);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        if line == "\r\n" {
            return r;
        }
    }
}

#[test]
fn in_flight_and_connections_show_client_concurrency() {
    // 8 MiB at 1 MB/s: the bodies stay in flight while this test looks.
    let s = start(&["--model", "b01/m:1:8", "--rate-mbps", "1"]);
    let conns: Vec<_> = (0..4).map(|_| start_get(s.port, &shard_path())).collect();
    let st = stats(&s);
    assert_eq!(st["in_flight"]["GetObject"]["current"], 4, "{st}");
    assert_eq!(st["in_flight"]["GetObject"]["peak"], 4);
    assert_eq!(st["connections"]["open"], 4);
    assert_eq!(st["connections"]["peak"], 4);
    drop(conns);
}

#[test]
fn authentication_is_enforced_without_no_auth() {
    let s = OssLocal::start(&["--model", "b01/m:1:1"]);
    let r = get(s.port, &shard_path(), &[]);
    assert_eq!(r.status, 403);
    assert_eq!(common::tag(&r.text(), "Code").unwrap(), "AccessDenied");
    let h = raw(s.port, "HEAD", &shard_path(), &[], b"");
    assert_eq!(h.status, 403);
    assert!(h.header("x-oss-err").is_some());
    // A V1-signed request passes.
    use base64::Engine as _;
    use hmac::Mac as _;
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let to_sign = format!("GET\n\n\n{date}\n/b01/{}", shard());
    let mut mac =
        hmac::Hmac::<sha1::Sha1>::new_from_slice(TEST_ACCESS_KEY_SECRET.as_bytes()).unwrap();
    mac.update(to_sign.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let auth = format!("OSS {TEST_ACCESS_KEY_ID}:{sig}");
    let r = get(
        s.port,
        &shard_path(),
        &[
            ("date", &date),
            ("authorization", &auth),
            ("range", "bytes=0-9"),
        ],
    );
    assert_eq!(r.status, 206, "{}", r.text());
    assert_eq!(r.body, synthetic(&shard(), 0, 10));
    // A wrong signature is SignatureDoesNotMatch with the string to sign.
    let bad = format!("OSS {TEST_ACCESS_KEY_ID}:AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    let r = get(
        s.port,
        &shard_path(),
        &[("date", &date), ("authorization", &bad)],
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        common::tag(&r.text(), "Code").unwrap(),
        "SignatureDoesNotMatch"
    );
    // /_stats needs no signature.
    assert_eq!(stats(&s)["status"]["403"], 3);
}
