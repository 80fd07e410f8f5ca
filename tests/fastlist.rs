//! FastList against oss-local: the same objects as the normal list (each once) for many
//! counts and key-space shapes, within the request budget, exact under injected failures,
//! and failing as a whole when a part fails.

mod common;

use std::path::Path;

use common::*;
use ossmc::{Connector, ErrorKind, ObjectInfo};
use ossmc_testkit::oss_local::OssLocal;

/// Requests in flight with the default configuration (`fastList`: 1 vcpu × 16 workers).
const IN_FLIGHT: u64 = 16;

/// The most ListObjectsV2 requests a FastList of `n` keys may send (the delimiter probe
/// included).
fn budget(n: usize) -> f64 {
    1.3 * n.div_ceil(1000) as f64 + 4.0 * IN_FLIGHT as f64
}

fn summary(objects: &[ObjectInfo]) -> Vec<(String, u64, String)> {
    let mut v: Vec<(String, u64, String)> = objects
        .iter()
        .map(|o| (o.key.clone(), o.size, o.etag.clone()))
        .collect();
    v.sort();
    v
}

/// Lists `prefix` both ways; asserts the same objects, each once, and the request budget.
/// Returns the number of objects.
fn assert_same_as_list(server: &OssLocal, conn: &Connector, bucket: &str, prefix: &str) -> usize {
    let normal = conn.list(bucket, prefix).expect("normal list");
    let before = stat(server, "requests.ListObjectsV2");
    let fast = conn.fast_list(bucket, prefix).expect("fast list");
    let requests = stat(server, "requests.ListObjectsV2") - before;
    let expected = summary(&normal);
    let got = summary(&fast);
    assert_eq!(got.len(), fast.len());
    let mut keys: Vec<&str> = fast.iter().map(|o| o.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), fast.len(), "{prefix:?}: a key was listed twice");
    assert_eq!(got.len(), expected.len(), "{prefix:?}: object count");
    assert!(
        got == expected,
        "{prefix:?}: FastList differs from the normal list"
    );
    let n = normal.len();
    assert!(
        requests as f64 <= budget(n),
        "{prefix:?}: {requests} list requests for {n} keys, budget {}",
        budget(n)
    );
    println!(
        "{bucket}/{prefix}: {n} keys, {requests} requests (budget {:.0})",
        budget(n)
    );
    n
}

#[test]
fn synthetic_sets_of_every_size_match_the_normal_list() {
    let server = OssLocal::start(&[
        "--keys",
        "bkt/n1/:1",
        "--keys",
        "bkt/n999/:999",
        "--keys",
        "bkt/n1000/:1000",
        "--keys",
        "bkt/n1001/:1001",
        "--keys",
        "bkt/big/:250000",
    ]);
    let dir = TempDir::new("fastlist");
    let conn = connector(&server, config(&dir));
    assert_eq!(assert_same_as_list(&server, &conn, "bkt", "nothing/"), 0);
    assert_eq!(assert_same_as_list(&server, &conn, "bkt", "n1/"), 1);
    assert_eq!(assert_same_as_list(&server, &conn, "bkt", "n999/"), 999);
    assert_eq!(assert_same_as_list(&server, &conn, "bkt", "n1000/"), 1000);
    assert_eq!(assert_same_as_list(&server, &conn, "bkt", "n1001/"), 1001);
    assert_eq!(assert_same_as_list(&server, &conn, "bkt", "big/"), 250_000);
    // Parts of the big set: the flat directory, the non-ASCII one, a deep subtree.
    assert_same_as_list(&server, &conn, "bkt", "big/img/");
    assert_same_as_list(&server, &conn, "bkt", "big/ünïcødé/");
    assert_same_as_list(&server, &conn, "bkt", "big/deep/a1/");
    // The whole bucket, prefix "".
    assert_same_as_list(&server, &conn, "bkt", "");
    // Never more requests at once than configured.
    let peak = stat(&server, "in_flight.ListObjectsV2.peak");
    assert!(peak <= IN_FLIGHT, "{peak} list requests in flight at once");
}

fn touch(root: &Path, key: &str) {
    let p = root.join(key);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    // A few bytes that differ per key, so sizes are compared too.
    std::fs::write(&p, &key.as_bytes()[..key.len() % 7]).expect("write");
}

#[test]
fn shapes_of_key_spaces_under_a_root_match_the_normal_list() {
    let dir = TempDir::new("fastlist-root");
    let root = dir.path("root");
    let b = root.join("shapes");
    // Flat names.
    for i in 1..=3000 {
        touch(&b, &format!("flat/img/{i:07}.jpg"));
    }
    // A deep tree, uneven.
    let mut rng = fastrand::Rng::with_seed(11);
    for i in 0..2500 {
        let mut k = String::from("deep/");
        for _ in 0..rng.usize(1..7) {
            k.push_str(&format!("n{}/", rng.u32(0..4)));
        }
        k.push_str(&format!("leaf{i}.dat"));
        touch(&b, &k);
    }
    // One huge directory beside many small ones.
    for i in 0..2500 {
        touch(&b, &format!("skew/huge/{i:06}.bin"));
    }
    for d in 0..300 {
        touch(&b, &format!("skew/small{d:04}/a.txt"));
        touch(&b, &format!("skew/small{d:04}/b.txt"));
    }
    // Everything under a long common prefix.
    let common = "long/datasets/2024/imagenet/train/shards/a/very/long/common/path/shared/by/all/";
    for i in 0..2200 {
        touch(&b, &format!("{common}part-{i:09}.parquet"));
    }
    // Non-ASCII and the characters that need encoding in a query.
    let parts = [
        "a b", "c+d", "e%20f", "g?h", "i#j", "k=l", "m&n", "ünï", "文件", "😀", "~t",
    ];
    for i in 0..2400 {
        let a = parts[i % parts.len()];
        let c = parts[(i / parts.len()) % parts.len()];
        touch(&b, &format!("special/{a}/{c} {i}+%=&?#.bin"));
    }
    // A prefix that is itself a key.
    touch(&b, "pk/x");
    for i in 0..1500 {
        touch(&b, &format!("pk/x{i:05}"));
    }

    let root_arg = root.to_str().expect("utf-8 path");
    let server = OssLocal::start(&["--root", root_arg]);
    let conn = connector(&server, config(&dir));
    assert_eq!(assert_same_as_list(&server, &conn, "shapes", "flat/"), 3000);
    assert_eq!(
        assert_same_as_list(&server, &conn, "shapes", "flat/img/000"),
        3000
    );
    assert_eq!(assert_same_as_list(&server, &conn, "shapes", "deep/"), 2500);
    assert_eq!(assert_same_as_list(&server, &conn, "shapes", "skew/"), 3100);
    assert_eq!(assert_same_as_list(&server, &conn, "shapes", "long/"), 2200);
    assert_eq!(assert_same_as_list(&server, &conn, "shapes", common), 2200);
    assert_eq!(
        assert_same_as_list(&server, &conn, "shapes", "special/"),
        2400
    );
    let unicode = (0..2400).filter(|i| i % parts.len() == 7).count();
    assert_eq!(
        assert_same_as_list(&server, &conn, "shapes", "special/ünï/"),
        unicode
    );
    assert_eq!(assert_same_as_list(&server, &conn, "shapes", "pk/x"), 1501);
    let with_key = conn.fast_list("shapes", "pk/x").expect("fast list");
    assert!(
        with_key.iter().any(|o| o.key == "pk/x"),
        "the key equal to the prefix is listed"
    );
    assert_eq!(
        assert_same_as_list(&server, &conn, "shapes", "no/such/prefix"),
        0
    );
    let total = assert_same_as_list(&server, &conn, "shapes", "");
    assert_eq!(total, 3000 + 2500 + 3100 + 2200 + 2400 + 1501);
}

#[test]
fn injected_failures_are_retried_and_the_result_stays_exact() {
    let server = OssLocal::start(&[
        "--keys",
        "bkt/p/:60000",
        "--fail-rate",
        "0.05",
        "--seed",
        "7",
    ]);
    let dir = TempDir::new("fastlist-faults");
    let conn = connector(&server, config(&dir));
    let n = assert_same_as_list(&server, &conn, "bkt", "p/");
    assert_eq!(n, 60_000);
    assert!(stat(&server, "faults.fail") > 0, "no fault was injected");
}

#[test]
fn pages_that_break_off_are_continued_and_the_result_stays_exact() {
    let keys = ["--keys", "bkt/p/:30000"];
    let dir = TempDir::new("fastlist-broken-pages");
    let clean = OssLocal::start(&keys);
    let want = summary(&connector(&clean, config(&dir)).list("bkt", "p/").unwrap());
    // Every response longer than 50000 bytes breaks off there (a full page is about 200 KB),
    // whatever order the requests come in: retrying a page cannot help, going on after the
    // objects that arrived whole can.
    let server = OssLocal::start(&[
        keys[0],
        keys[1],
        "--chunked-listings",
        "--list-reset-after",
        "50000",
    ]);
    let fast = connector(&server, config(&dir))
        .fast_list("bkt", "p/")
        .unwrap();
    let got = summary(&fast);
    assert_eq!(got.len(), fast.len());
    assert!(
        got == want,
        "FastList differs from the listing without faults"
    );
    let mut keys: Vec<&str> = fast.iter().map(|o| o.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), fast.len(), "a key was listed twice");
    assert!(stat(&server, "faults.reset") >= 30);
}

#[test]
fn a_part_that_keeps_failing_fails_the_whole_call() {
    let server = OssLocal::start(&[
        "--keys",
        "bkt/p/:30000",
        "--fail-rate",
        "0.3",
        "--seed",
        "3",
    ]);
    let dir = TempDir::new("fastlist-fail");
    let mut cfg = config(&dir);
    cfg.retry.max_attempts = 1;
    let conn = connector(&server, cfg);
    let err = conn
        .fast_list("bkt", "p/")
        .expect_err("a failed part must fail the call");
    assert_eq!(err.kind(), ErrorKind::ServerError, "{err}");
    assert!(err.http_status().is_some_and(|s| s >= 500), "{err}");
}

#[test]
fn a_missing_bucket_and_a_bad_bucket_name_are_errors() {
    let server = OssLocal::start(&["--keys", "bkt/p/:10"]);
    let dir = TempDir::new("fastlist-nobucket");
    let conn = connector(&server, config(&dir));
    let err = conn
        .fast_list("no-such-bucket", "p/")
        .expect_err("missing bucket");
    assert_eq!(err.kind(), ErrorKind::NoSuchBucket, "{err}");
    let err = conn.fast_list("Bad_Name", "p/").expect_err("invalid name");
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
}
