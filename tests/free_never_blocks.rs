//! Closing an object and freeing the connector never wait for a server that went silent:
//! fetchers stuck in a request are cancelled and left to stop by themselves.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ossmc_testkit::oss_local::OssLocal;
use ossmc_testkit::synthetic::shard_key;

/// Well under the read timeout (30 s) a stuck fetcher would otherwise be joined for.
const PROMPT: Duration = Duration::from_secs(2);

/// Waits until the server has left `n` GetObject requests unanswered.
fn wait_for_stalls(server: &OssLocal, n: u64) {
    let give_up = Instant::now() + Duration::from_secs(30);
    while stat(server, "faults.stall") < n {
        assert!(Instant::now() < give_up, "no GetObject reached the server");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn closing_and_freeing_return_promptly_while_the_server_is_silent() {
    let server = OssLocal::start(&["--model", "bkt/m:2:16", "--stall-get-rate", "1"]);
    let dir = TempDir::new("free-silent");
    let cfg = config(&dir);
    assert!(
        cfg.read_timeout >= Duration::from_secs(10),
        "{:?}",
        cfg.read_timeout
    );
    let conn = connector(&server, cfg);
    let readers: Vec<_> = (1..=2)
        .map(|i| {
            conn.open(&format!("oss://bkt/{}", shard_key("m", i, 2)))
                .unwrap()
        })
        .collect();
    // Prefetching started: its requests hang.
    wait_for_stalls(&server, 2);
    let t = Instant::now();
    drop(readers);
    drop(conn);
    let took = t.elapsed();
    assert!(took < PROMPT, "closing and freeing took {took:?}");
}

#[test]
fn freeing_the_connector_first_then_closing_the_last_object_is_prompt_too() {
    let server = OssLocal::start(&["--model", "bkt/m:1:16", "--stall-get-rate", "1"]);
    let dir = TempDir::new("free-silent-last");
    let conn = connector(&server, config(&dir));
    let reader = conn
        .open(&format!("oss://bkt/{}", shard_key("m", 1, 1)))
        .unwrap();
    wait_for_stalls(&server, 1);
    let t = Instant::now();
    // The reader keeps the connector alive: closing it is what stops the fetchers.
    drop(conn);
    drop(reader);
    let took = t.elapsed();
    assert!(took < PROMPT, "closing the last object took {took:?}");
}

#[test]
fn a_timed_read_returns_soon_after_its_time_while_the_server_is_silent() {
    // A 64 MiB read of a fresh object: the chunks prefetching has not started are fetched
    // straight into the caller's buffer. When the time runs out those requests are cancelled,
    // and the read must not return before they end, since they write into its buffer. On a
    // silent server they used to end only at the read timeout (30 s).
    let server = OssLocal::start(&["--model", "bkt/m:1:64", "--stall-get-rate", "1"]);
    let dir = TempDir::new("timed-read-silent");
    let cfg = config(&dir);
    assert!(cfg.read_timeout >= Duration::from_secs(10));
    let conn = connector(&server, cfg);
    let reader = conn
        .open(&format!("oss://bkt/{}", shard_key("m", 1, 1)))
        .unwrap();
    let mut buf = vec![0u8; 64 << 20];
    let t = Instant::now();
    let got = reader.read_at_timeout(0, &mut buf, Duration::from_millis(200));
    let took = t.elapsed();
    assert!(matches!(got, Ok(None)), "{got:?}");
    assert!(took < PROMPT, "a 200 ms read took {took:?}");
    let direct = conn.prefetch_stats();
    drop(reader);
    drop(conn);
    assert!(stat(&server, "faults.stall") > 0, "{direct:?}");
}
