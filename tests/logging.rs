//! Each connector logs to its own `logPath` at its own `logLevel`, however many connectors a
//! process has: the records of its calls, of its prefetch fetchers and of its FastList
//! workers all go to its file, and none to another connector's.
//!
//! The tests of this binary share one process (and its `log` logger): each asserts only on
//! its own files and on names no other test uses, so their order does not matter.

mod common;

use std::path::Path;

use common::*;
use ossmc::{Connector, LogPath};
use ossmc_testkit::oss_local::OssLocal;
use ossmc_testkit::synthetic::shard_key;

/// A connector logging to `dir/name` at `level`.
fn logging_connector(server: &OssLocal, dir: &TempDir, name: &str, level: u8) -> Connector {
    let mut cfg = config(dir);
    cfg.log_level = level;
    cfg.log_path = LogPath {
        path: dir.path(name),
        is_default: false,
    };
    connector(server, cfg)
}

/// Lists (plainly and with FastList) and loads both shards of `bucket/name`.
fn work(conn: &Connector, bucket: &str, name: &str) {
    assert_eq!(conn.list(bucket, &format!("{name}/")).unwrap().len(), 2);
    assert_eq!(
        conn.fast_list(bucket, &format!("{name}/")).unwrap().len(),
        2
    );
    for i in 1..=2 {
        let mut r = conn
            .open(&format!("oss://{bucket}/{}", shard_key(name, i, 2)))
            .unwrap();
        read_checked(&mut r, 1 << 20).unwrap();
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn assert_has(text: &str, what: &str, file: &str) {
    assert!(
        text.lines().any(|l| l.contains(what)),
        "no line with {what:?} in {file}:\n{text}"
    );
}

#[test]
fn two_connectors_log_to_their_own_files_at_their_own_levels() {
    let server = OssLocal::start(&[
        "--model",
        "route-alpha/ma:2:6",
        "--model",
        "route-beta/mb:2:6",
    ]);
    let dir = TempDir::new("logroute");
    // A first, at INFO; B second, at DEBUG.
    let a = logging_connector(&server, &dir, "a.log", 1);
    let b = logging_connector(&server, &dir, "b/b.log", 0);
    // Both at work at the same time, on threads of their own.
    std::thread::scope(|s| {
        s.spawn(|| work(&a, "route-alpha", "ma"));
        s.spawn(|| work(&b, "route-beta", "mb"));
    });
    // B goes on after A is gone.
    drop(a);
    let r = b
        .open(&format!("oss://route-beta/{}", shard_key("mb", 2, 2)))
        .unwrap();
    let mut buf = vec![0u8; 1 << 20];
    r.read_at(3 << 20, &mut buf).unwrap();
    assert_synthetic(r.key(), 3 << 20, &buf);
    drop((r, b));

    let a_log = read(&dir.path("a.log"));
    let b_log = read(&dir.path("b/b.log"));
    // A: its INFO lines (creating it, its FastList, its prefetcher's summary on drop)...
    assert_has(&a_log, "INFO  [ossmc::connector] connector for", "a.log");
    assert_has(&a_log, "fast list of oss://route-alpha/ma/", "a.log");
    assert_has(&a_log, "INFO  [ossmc::prefetch] prefetcher: ", "a.log");
    // ...nothing below INFO, and nothing of B's.
    assert!(!a_log.contains(" DEBUG "), "DEBUG lines in a.log:\n{a_log}");
    assert!(
        !a_log.contains("route-beta"),
        "B's lines in a.log:\n{a_log}"
    );

    // B: DEBUG lines from the caller's thread (open, list), from its FastList workers and
    // its prefetch fetchers (every GetObject is sent by a fetcher).
    assert_has(&b_log, "INFO  [ossmc::connector] connector for", "b.log");
    assert_has(
        &b_log,
        "DEBUG [ossmc::prefetch] open oss://route-beta/mb/",
        "b.log",
    );
    assert_has(&b_log, "fast list of oss://route-beta/mb/", "b.log");
    let gets = b_log
        .lines()
        .filter(|l| l.contains("DEBUG [ossmc::client] GetObject GET") && l.contains("/route-beta/"))
        .count();
    assert!(
        gets >= 2,
        "B's fetchers' GetObject lines missing from b.log:\n{b_log}"
    );
    let lists = b_log
        .lines()
        .filter(|l| {
            l.contains("DEBUG [ossmc::client] ListObjectsV2 GET") && l.contains("route-beta")
        })
        .count();
    assert!(lists >= 2, "B's listing lines missing from b.log:\n{b_log}");
    // The object B opened after A was dropped.
    assert_has(
        &b_log,
        &format!("open oss://route-beta/{}", shard_key("mb", 2, 2)),
        "b.log",
    );
    assert!(
        !b_log.contains("route-alpha"),
        "A's lines in b.log:\n{b_log}"
    );
}

#[test]
fn connectors_sharing_a_log_file_each_keep_their_level() {
    let server = OssLocal::start(&[
        "--model",
        "share-info/mi:2:1",
        "--model",
        "share-debug/md:2:1",
    ]);
    let dir = TempDir::new("logshare");
    let info = logging_connector(&server, &dir, "shared.log", 1);
    let debug = logging_connector(&server, &dir, "shared.log", 0);
    work(&info, "share-info", "mi");
    work(&debug, "share-debug", "md");
    drop((info, debug));
    let log = read(&dir.path("shared.log"));
    assert_has(&log, "fast list of oss://share-info/mi/", "shared.log");
    assert_has(
        &log,
        "DEBUG [ossmc::prefetch] open oss://share-debug/md/",
        "shared.log",
    );
    let info_debug: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" DEBUG ") && l.contains("share-info"))
        .collect();
    assert!(
        info_debug.is_empty(),
        "DEBUG lines of the INFO connector: {info_debug:#?}"
    );
    // Two connectors: two creation lines, each written once.
    assert_eq!(log.matches("connector for").count(), 2, "{log}");
}
