//! An object replaced while it is being read fails with ObjectChanged; no byte of the new
//! version is ever mixed into the old one.

mod common;

use common::*;
use ossmc::ErrorKind;
use ossmc_testkit::oss_local::OssLocal;

#[test]
fn an_object_replaced_mid_load_gives_object_changed() {
    let root = TempDir::new("root");
    std::fs::create_dir_all(root.path("bkt")).unwrap();
    let server = OssLocal::start(&["--no-auth", "--root", root.0.to_str().unwrap()]);
    let old = content("old", 16 << 20);
    let new = content("new", 16 << 20);
    put_unsigned(server.port, "bkt", "obj.bin", &old);

    let dir = TempDir::new("changed");
    let mut cfg = config(&dir);
    cfg.prefetch.chunk_size = 1 << 20;
    // Room for 4 of the 16 chunks: the rest can only be fetched after the replacement.
    cfg.prefetch.memory_limit = 4 << 20;
    let conn = connector(&server, cfg);
    let mut r = conn.open("oss://bkt/obj.bin").unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let n = r.read(&mut buf).unwrap();
    assert!(n > 0);
    assert_eq!(&buf[..n], &old[..n]);
    let mut at = n;

    put_unsigned(server.port, "bkt", "obj.bin", &new);

    let err = loop {
        match r.read(&mut buf) {
            Ok(0) => panic!("the whole object was read although it was replaced mid-load"),
            Ok(k) => {
                assert_eq!(
                    &buf[..k],
                    &old[at..at + k],
                    "bytes of the new version leaked in at {at}"
                );
                at += k;
            }
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::ObjectChanged, "{err}");
    assert_eq!(err.http_status(), Some(412));
    assert!(err.request_id().is_some(), "{err:?}");
    assert!(at < old.len());

    // A fresh open sees the new version whole.
    drop(r);
    let mut r = conn.open("oss://bkt/obj.bin").unwrap();
    assert!(read_all(&mut r).unwrap() == new);
}
