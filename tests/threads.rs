//! Dropping the connector stops every thread it started. (Its own test binary: other
//! tests running in parallel would change the thread count.)

mod common;

use common::*;
use ossmc_testkit::oss_local::OssLocal;
use ossmc_testkit::synthetic::shard_key;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn dropping_the_connector_leaves_no_thread() {
    let server = OssLocal::start(&["--model", "bkt/m:3:16"]);
    let dir = TempDir::new("threads");
    let before = threads();
    {
        let conn = connector(&server, config(&dir));
        let mut readers: Vec<_> = (1..=3)
            .map(|i| {
                conn.open(&format!("oss://bkt/{}", shard_key("m", i, 3)))
                    .unwrap()
            })
            .collect();
        // Read one object fully (in pieces small enough to stay on this thread), leave the
        // others mid-prefetch.
        let mut buf = vec![0u8; 1 << 20];
        while readers[0].read(&mut buf).unwrap() > 0 {}
        let stats = conn.prefetch_stats();
        assert!(
            stats.threads > 0 && threads() > before,
            "no fetcher ran: {stats:?}"
        );
        readers.pop();
        // Readers keep the connector alive; the last handle going away stops the threads.
        drop(conn);
        assert!(threads() > before);
    }
    assert_eq!(threads(), before, "threads left behind");
}
