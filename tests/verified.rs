//! `ObjectReader::verified`: true exactly when every byte of the object was checked against
//! the server's CRC-64.

mod common;

use common::*;
use ossmc_testkit::oss_local::OssLocal;
use ossmc_testkit::synthetic::shard_key;

#[test]
fn an_object_is_verified_once_every_byte_was_checked() {
    let server = OssLocal::start(&["--model", "bkt/m:1:16"]);
    let dir = TempDir::new("verified");
    let mut cfg = config(&dir);
    cfg.prefetch.chunk_size = 1 << 20;
    // Room for 4 of the 16 chunks: without a reader the object cannot be fetched whole, so
    // it cannot be verified yet.
    cfg.prefetch.memory_limit = 4 << 20;
    let conn = connector(&server, cfg);
    let mut r = conn
        .open(&format!("oss://bkt/{}", shard_key("m", 1, 1)))
        .unwrap();
    assert!(
        !r.verified(),
        "nothing read, at most 4 of 16 chunks fetched"
    );
    read_checked(&mut r, 1 << 20).unwrap();
    assert!(r.verified(), "read through: every byte checked");

    let key = shard_key("m", 1, 1);
    let mut whole = conn.open(&format!("oss://bkt/{key}")).unwrap();
    assert_synthetic(&key, 0, whole.map().unwrap());
    assert!(whole.verified(), "mapped whole: every byte checked");
}
