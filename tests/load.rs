//! Loading a sharded model end to end: byte-exact, with faults, with corruption.

mod common;

use common::*;
use ossmc::ErrorKind;
use ossmc_testkit::oss_local::OssLocal;
use ossmc_testkit::synthetic::shard_key;

fn load_model(server: &OssLocal, cfg: ossmc::Config, shards: u32) -> Vec<ossmc::Result<()>> {
    let conn = connector(server, cfg);
    let mut readers: Vec<_> = (1..=shards)
        .map(|i| conn.open(&format!("oss://bkt/{}", shard_key("m", i, shards))).expect("open"))
        .collect();
    let results = readers
        .iter_mut()
        .map(|r| {
            let data = read_all(r)?;
            assert_synthetic(r.key(), 0, &data);
            Ok(())
        })
        .collect();
    let stats = conn.prefetch_stats();
    assert!(
        stats.peak_bytes_held <= stats.memory_limit,
        "memory limit exceeded: {stats:?}"
    );
    results
}

#[test]
fn a_sharded_model_loads_byte_exact() {
    let server = OssLocal::start(&["--model", "bkt/m:4:64"]);
    let dir = TempDir::new("load");
    for r in load_model(&server, config(&dir), 4) {
        r.expect("load");
    }
}
