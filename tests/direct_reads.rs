//! Reads of bytes nobody fetched yet go straight into the caller's buffer (no chunk buffer,
//! no second copy), in parallel; they stay byte-exact under faults and corruption; the pace
//! finds a throttled link's plateau early; objects read again are prefetched again.

mod common;

use common::*;
use ossmc::ErrorKind;
use ossmc_testkit::oss_local::OssLocal;
use ossmc_testkit::synthetic::shard_key;

const MIB: u64 = 1 << 20;

fn uri(name: &str, i: u32, shards: u32) -> String {
    format!("oss://bkt/{}", shard_key(name, i, shards))
}

#[test]
fn a_large_read_of_unfetched_bytes_goes_straight_into_the_callers_buffer() {
    let server = OssLocal::start(&["--model", "bkt/m:1:64"]);
    let dir = TempDir::new("direct");
    let mut cfg = config(&dir);
    cfg.prefetch.chunk_size = (MIB) as usize;
    // Room for one chunk buffer: prefetching fills it and stops, so every other byte the
    // reader gets was fetched for it.
    cfg.prefetch.memory_limit = MIB as usize;
    let conn = connector(&server, cfg);
    let r = conn.open(&uri("m", 1, 1)).unwrap();
    let before = conn.prefetch_stats();
    assert!(before.chunks_fetched <= 1, "{before:?}");

    // A tensor-sized read in the middle of the object, not chunk-aligned at either end.
    let (offset, len) = (8 * MIB + 12_345, 40 * MIB as usize + 777);
    let mut buf = vec![0u8; len];
    assert_eq!(r.read_at(offset, &mut buf).unwrap(), len);
    assert_synthetic(r.key(), offset, &buf);
    let after = conn.prefetch_stats();
    assert_eq!(
        after.direct_bytes - before.direct_bytes,
        len as u64,
        "every byte of the read went straight to the caller: {after:?}"
    );
    assert!(
        after.direct_requests - before.direct_requests >= 8,
        "split into parallel ranged GETs: {after:?}"
    );
    // The single chunk buffer may have been (re)filled by prefetching meanwhile, but no
    // byte of the read came through one.
    assert!(after.buffers_created <= 1, "{after:?}");
    assert!(after.peak_bytes_held <= MIB, "{after:?}");
    let served = stat(&server, "bytes_sent");
    assert!(
        served <= len as u64 + 2 * MIB,
        "the read fetched {served} bytes for {len}: more than it needs"
    );
}

#[test]
fn a_whole_object_read_in_one_call_is_byte_exact_and_mostly_direct() {
    let server = OssLocal::start(&["--model", "bkt/m:2:64"]);
    let dir = TempDir::new("direct-whole");
    let conn = connector(&server, config(&dir));
    for i in 1..=2 {
        let mut r = conn.open(&uri("m", i, 2)).unwrap();
        let data = read_all(&mut r).unwrap();
        assert_eq!(data.len() as u64, r.size());
        assert_synthetic(r.key(), 0, &data);
    }
    let stats = conn.prefetch_stats();
    assert!(stats.direct_bytes >= 64 * MIB, "{stats:?}");
    assert_eq!(stats.bytes_fetched, 128 * MIB, "{stats:?}");
}

#[test]
fn direct_reads_stay_byte_exact_despite_errors_and_resets() {
    for seed in ["3", "4"] {
        let server = OssLocal::start(&[
            "--model",
            "bkt/m:2:64",
            "--fail-rate",
            "0.05",
            "--reset-rate",
            "0.03",
            "--seed",
            seed,
        ]);
        let dir = TempDir::new("direct-faults");
        let mut cfg = config(&dir);
        cfg.retry.max_attempts = 10;
        let conn = connector(&server, cfg);
        for i in 1..=2 {
            let r = conn.open(&uri("m", i, 2)).unwrap();
            let mut data = vec![0u8; r.size() as usize];
            assert_eq!(r.read_at(0, &mut data).unwrap(), data.len());
            assert_synthetic(r.key(), 0, &data);
            // And a random read, exact range.
            let mut part = vec![0u8; 9 << 20];
            r.read_at(20 * MIB + 3, &mut part).unwrap();
            assert_synthetic(r.key(), 20 * MIB + 3, &part);
        }
        assert!(conn.prefetch_stats().direct_bytes > 0);
        let faults = stat(&server, "faults.fail") + stat(&server, "faults.reset");
        assert!(faults > 0, "no fault was injected; the test proves nothing");
    }
}

#[test]
fn corrupted_bytes_read_directly_never_complete_a_read() {
    // Held objects (32 MiB within the hold limit) and streamed ones (64 MiB above it), read
    // whole in one call: the read returns only verified bytes, or fails as Corrupted.
    for (mib, hold_limit) in [(32u64, 32 << 20), (64, 16 << 20)] {
        let model = format!("bkt/c:4:{mib}");
        let server = OssLocal::start(&["--model", &model, "--corrupt-rate", "0.2", "--seed", "9"]);
        let dir = TempDir::new("direct-corrupt");
        let mut cfg = config(&dir);
        cfg.prefetch.hold_limit = hold_limit;
        let conn = connector(&server, cfg);
        let mut outcomes = Vec::new();
        for i in 1..=4 {
            let r = conn.open(&uri("c", i, 4)).unwrap();
            let mut data = vec![0u8; r.size() as usize];
            match r.read_at(0, &mut data) {
                Ok(n) => {
                    assert_eq!(n, data.len());
                    assert_synthetic(r.key(), 0, &data);
                    outcomes.push(true);
                }
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
                    outcomes.push(false);
                }
            }
        }
        let stats = conn.prefetch_stats();
        assert!(stat(&server, "faults.corrupt") > 0, "nothing corrupted");
        assert!(
            stats.crc_mismatches > 0,
            "corruption went unnoticed: {stats:?}"
        );
        assert!(stats.direct_bytes > 0, "{stats:?}");
    }
}

#[test]
fn the_pace_reaches_a_throttled_links_plateau_within_the_first_tenth_of_a_load() {
    // 20 MB/s per connection, at most 32 requests in flight: the plateau is 32 x 20 MB/s.
    let server = OssLocal::start(&["--model", "bkt/p:4:128", "--rate-mbps", "20"]);
    let dir = TempDir::new("pace-ramp");
    let mut cfg = config(&dir);
    cfg.prefetch.vcpus = 1;
    cfg.prefetch.workers = 32;
    cfg.prefetch.chunk_size = MIB as usize;
    // Room for the requests in flight the plateau needs, whatever the reader's pace (the
    // share of the limit prefetching may hold ahead of a reader that keeps reading).
    cfg.prefetch.memory_limit = 1 << 30;
    let conn = connector(&server, cfg);
    let mut readers: Vec<_> = (1..=4)
        .map(|i| conn.open(&uri("p", i, 4)).unwrap())
        .collect();
    for r in readers.iter_mut() {
        read_checked(r, 4 << 20).unwrap();
    }
    let stats = conn.prefetch_stats();
    let total = 4 * 128 * MIB;
    // Requests in flight are what the rate scales with on such a link (each connection
    // delivers its 20 MB/s): 80% of the plateau is 80% of the ceiling.
    let reached = stats
        .pace_steps
        .iter()
        .find(|&&(_, limit)| limit * 10 >= 32 * 8)
        .unwrap_or_else(|| panic!("the pace never reached 80% of the ceiling: {stats:?}"));
    assert!(
        reached.0 * 10 <= total,
        "80% of the plateau only after {} of {total} bytes: {stats:?}",
        reached.0
    );
    let peak = stat(&server, "in_flight.GetObject.peak");
    assert!(
        peak >= 26,
        "the server saw at most {peak} GETs at once: {stats:?}"
    );
}

#[test]
fn an_object_read_again_after_seeking_back_is_prefetched_and_its_chunks_recycled() {
    // Room for 6 chunks of 1 MiB: reading a 32 MiB object twice must recycle the chunks of
    // the first pass and of the second (a chunk fetched again and read again is droppable
    // like any read chunk), never stall, and keep within the limit.
    let server = OssLocal::start(&["--model", "bkt/s:1:32"]);
    let dir = TempDir::new("reread");
    let mut cfg = config(&dir);
    cfg.prefetch.chunk_size = MIB as usize;
    cfg.prefetch.memory_limit = 6 * MIB as usize;
    cfg.prefetch.hold_limit = 0;
    let conn = connector(&server, cfg);
    let mut r = conn.open(&uri("s", 1, 1)).unwrap();
    for _ in 0..3 {
        r.seek(std::io::SeekFrom::Start(0)).unwrap();
        read_checked(&mut r, 256 << 10).unwrap();
    }
    let stats = conn.prefetch_stats();
    assert!(stats.peak_bytes_held <= 6 * MIB, "{stats:?}");
    assert!(stats.chunks_refetched >= 32, "{stats:?}");
    // Each pass fetched the object once more (within a few chunks dropped early), no more.
    assert!(
        stats.bytes_fetched <= 3 * 32 * MIB + 8 * MIB,
        "chunks fetched over and over: {stats:?}"
    );
}
