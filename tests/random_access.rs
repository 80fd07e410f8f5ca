//! Random access: seek, tell and read_at return the right bytes anywhere in the object,
//! and a bounded read returns None instead of blocking forever.

mod common;

use std::io::{Read, Seek, SeekFrom};
use std::time::Duration;

use common::*;
use ossmc::ErrorKind;
use ossmc_testkit::oss_local::OssLocal;
use ossmc_testkit::synthetic::shard_key;

#[test]
fn seek_tell_and_read_at_are_byte_exact() {
    let server = OssLocal::start(&["--model", "bkt/m:2:24"]);
    let dir = TempDir::new("random");
    let mut cfg = config(&dir);
    cfg.prefetch.chunk_size = 1 << 20;
    cfg.prefetch.memory_limit = 8 << 20; // streamed, with chunks dropped and fetched again
    let conn = connector(&server, cfg);
    let key = shard_key("m", 1, 2);
    let mut r = conn.open(&format!("oss://bkt/{key}")).unwrap();
    let size = r.size();
    assert_eq!(size, 24 << 20);
    let mut rng = fastrand::Rng::with_seed(7);
    let mut buf = vec![0u8; 3 << 20];
    for _ in 0..60 {
        let off = rng.u64(0..size + 10);
        let len = rng.usize(0..buf.len());
        let n = r.read_at(off, &mut buf[..len]).unwrap();
        assert_eq!(n as u64, len.min(size.saturating_sub(off) as usize) as u64);
        assert_synthetic(&key, off, &buf[..n]);
    }
    assert_eq!(r.tell(), 0, "read_at must not move the position");
    for _ in 0..40 {
        let off = rng.u64(0..size);
        assert_eq!(r.seek(SeekFrom::Start(off)).unwrap(), off);
        assert_eq!(r.tell(), off);
        let n = Read::read(&mut r, &mut buf[..rng.usize(1..1 << 20)]).unwrap();
        assert!(n > 0);
        assert_synthetic(&key, off, &buf[..n]);
        assert_eq!(r.tell(), off + n as u64);
    }
    assert_eq!(r.seek(SeekFrom::End(-10)).unwrap(), size - 10);
    let mut tail = Vec::new();
    r.read_to_end(&mut tail).unwrap();
    assert_eq!(tail.len(), 10);
    assert_synthetic(&key, size - 10, &tail);
    assert_eq!(r.seek(SeekFrom::Current(-4)).unwrap(), size - 4);
    assert_eq!(Seek::stream_position(&mut r).unwrap(), size - 4);
    let e = r.seek(SeekFrom::Current(-(size as i64))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(
        r.tell(),
        size - 4,
        "a failed seek must not move the position"
    );
    r.seek(SeekFrom::Start(size + 100)).unwrap();
    assert_eq!(r.read(&mut buf).unwrap(), 0);
    let stats = conn.prefetch_stats();
    assert!(
        stats.chunks_refetched > 0,
        "the test should make chunks come back: {stats:?}"
    );
    assert!(stats.peak_bytes_held <= 8 << 20, "{stats:?}");
}

#[test]
fn bounded_reads_return_none_while_data_is_on_its_way() {
    // Every request waits 300 ms, so a 1 ms wait cannot see data from a fresh open.
    let server = OssLocal::start(&["--model", "bkt/m:1:2", "--latency-ms", "300"]);
    let dir = TempDir::new("timeout");
    let conn = connector(&server, config(&dir));
    let key = shard_key("m", 1, 1);
    let mut r = conn.open(&format!("oss://bkt/{key}")).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    assert_eq!(
        r.read_timeout(&mut buf, Duration::from_millis(1)).unwrap(),
        None
    );
    assert_eq!(r.tell(), 0);
    let mut at = 0u64;
    while at < r.size() {
        if let Some(n) = r.read_timeout(&mut buf, Duration::from_millis(50)).unwrap() {
            assert_synthetic(&key, at, &buf[..n]);
            at += n as u64;
        }
    }
    assert_eq!(
        r.read_timeout(&mut buf, Duration::from_millis(1)).unwrap(),
        Some(0)
    );
}

#[test]
fn reading_at_random_stops_prefetching_the_rest_of_the_object() {
    // Every response waits 300 ms, so prefetching advances by one round of 8 requests at a
    // time. Two jumps make the object randomly read: its queued chunks leave the prefetch
    // queue, and only the chunks read (and the rounds already on their way) are fetched, not
    // the 64 chunks of the object.
    let server = OssLocal::start(&["--model", "bkt/r:1:64", "--latency-ms", "300"]);
    let dir = TempDir::new("random-mode");
    let mut cfg = config(&dir);
    cfg.prefetch.vcpus = 1;
    cfg.prefetch.workers = 8;
    cfg.prefetch.chunk_size = 1 << 20;
    cfg.prefetch.hold_limit = 0; // a held object is fetched whole for its CRC check
    let conn = connector(&server, cfg);
    let key = shard_key("r", 1, 1);
    let r = conn.open(&format!("oss://bkt/{key}")).unwrap();
    let mut buf = vec![0u8; 64 << 10];
    for mib in [40u64, 10, 50, 20, 60] {
        let off = (mib << 20) + 12345;
        assert_eq!(r.read_at(off, &mut buf).unwrap(), buf.len());
        assert_synthetic(&key, off, &buf);
    }
    let gets = stat(&server, "requests.GetObject");
    assert!(
        gets < 40,
        "{gets} ranged GETs for 5 random reads of a 64-chunk object"
    );
    // Read in order again, the object is prefetched again, and every byte is right.
    let mut r = r;
    r.seek(SeekFrom::Start(0)).unwrap();
    let data = read_all(&mut r).unwrap();
    assert_eq!(data.len(), 64 << 20);
    assert_synthetic(&key, 0, &data);
}
