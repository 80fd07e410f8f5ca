//! Closing objects gives their memory back to the operating system: the process's resident
//! set falls back near where it was before the load, not just the prefetcher's books.
//!
//! One test in this file on purpose: it measures the whole process's resident memory, which
//! another test running beside it would disturb.

mod common;

use common::*;
use ossmc_testkit::oss_local::OssLocal;
use ossmc_testkit::synthetic::shard_key;

const MIB: u64 = 1 << 20;

/// The process's resident set size in bytes (`VmRSS` of /proc/self/status).
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS in /proc/self/status");
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .expect("VmRSS value");
    kib * 1024
}

fn uri(i: u32, shards: u32) -> String {
    format!("oss://bkt/{}", shard_key("m", i, shards))
}

/// Reads the object to its end through one 4 MiB buffer, spot-checking the bytes.
fn drain(r: &mut ossmc::ObjectReader) {
    let mut buf = vec![0u8; 4 << 20];
    let mut at = 0u64;
    loop {
        let n = r.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        if at % (16 * MIB) == 0 {
            assert_synthetic(r.key(), at, &buf[..n]);
        }
        at += n as u64;
    }
    assert_eq!(at, r.size());
}

/// Spare buffers go back to the system once the connector has been idle for a moment (about
/// a second): waits for that, failing if it never happens.
fn wait_for_idle_pool(conn: &ossmc::Connector) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while conn.prefetch_stats().bytes_pooled > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "spare buffers kept by an idle connector: {:?}",
            conn.prefetch_stats()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn closing_objects_returns_their_memory_to_the_system() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("no /proc/self/status: resident memory cannot be measured here");
        return;
    }
    let shards = 4;
    let server = OssLocal::start(&["--model", &format!("bkt/m:{shards}:64")]);
    let dir = TempDir::new("memory-release");
    let mut cfg = config(&dir);
    cfg.prefetch.chunk_size = 8 << 20;
    cfg.prefetch.memory_limit = 512 << 20;
    let conn = connector(&server, cfg);

    // A first load and close settles the allocator (a freed large block changes how the
    // C allocator serves later ones) and starts the fetcher threads and connections, so
    // the baseline includes them.
    let mut warm = conn.open(&uri(1, shards)).expect("open");
    drain(&mut warm);
    drop(warm);
    wait_for_idle_pool(&conn);
    let baseline = rss();

    // Every shard open at once, read to the end: 256 MiB in chunk buffers.
    let mut readers: Vec<_> = (1..=shards)
        .map(|i| conn.open(&uri(i, shards)).expect("open"))
        .collect();
    for r in &mut readers {
        drain(r);
    }
    let loaded = rss();
    // One shard stays open (read to its end): of the others' buffers, at most one round of
    // requests' worth stays as spare buffers (reused by the next load, so it costs no fresh
    // memory).
    let last = readers.pop().expect("a reader");
    drop(readers);
    let stats = conn.prefetch_stats();
    let round = stats.pace_limit as u64 * 8 * MIB;
    assert_eq!(stats.open_objects, 1, "{stats:?}");
    assert!(
        stats.bytes_pooled <= round,
        "more spare buffers than a round of requests: {stats:?}"
    );
    assert_eq!(stats.bytes_held, 64 * MIB, "{stats:?}");
    let one_open = rss();
    let pooled_then = stats.bytes_pooled / MIB;
    drop(last);
    let stats = conn.prefetch_stats();
    assert_eq!((stats.bytes_held, stats.open_objects), (0, 0), "{stats:?}");
    assert!(stats.bytes_pooled <= round, "{stats:?}");
    wait_for_idle_pool(&conn);
    let closed = rss();
    let above = |x: u64| x.saturating_sub(baseline) / MIB;
    eprintln!(
        "RSS above baseline: loaded {} MiB, one object open {} MiB, all closed {} MiB",
        above(loaded),
        above(one_open),
        above(closed)
    );
    // Closing gave the chunks back: the 64 MiB shard left open plus slack, then slack only.
    assert!(
        above(one_open) < 64 + 64 + pooled_then,
        "RSS stayed {} MiB above its baseline with one 64 MiB object open and {pooled_then} MiB \
         of spare buffers",
        above(one_open)
    );
    assert!(
        above(closed) < 64,
        "RSS stayed {} MiB above its baseline after every object was closed",
        above(closed)
    );
    // The load really held its chunks in memory (else the checks above prove nothing): read
    // chunks are recycled for later ones, and the last shard's 64 MiB were held at the end.
    // Measured against the RSS after closing rather than the baseline: memory the allocator
    // held at the baseline and gave back during the load would otherwise hide part of it.
    let held_then = loaded.saturating_sub(closed) / MIB;
    assert!(
        held_then >= 32,
        "only {held_then} MiB more resident while loaded than after closing everything"
    );
}
