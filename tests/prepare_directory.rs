//! `Connector::prepare_directory` and `ObjectReader::map` against oss-local: exact bytes when
//! the server corrupts responses (the CRC-64 check holds on the paths that write straight
//! into files and mapped memory), and a second run that fetches nothing.

mod common;

use common::*;
use ossmc::{ErrorKind, PrepareOptions};
use ossmc_testkit::oss_local::OssLocal;
use ossmc_testkit::synthetic;

const SHARDS: u32 = 3;
const MIB: u64 = 12;

fn shard_keys() -> Vec<String> {
    (1..=SHARDS)
        .map(|i| synthetic::shard_key("m", i, SHARDS))
        .collect()
}

fn quiet() -> PrepareOptions {
    PrepareOptions {
        progress: Some(false),
    }
}

#[test]
fn corrupted_responses_never_reach_the_files() {
    let server = OssLocal::start(&[
        "--model",
        &format!("bkt/m:{SHARDS}:{MIB}"),
        "--corrupt-rate",
        "0.1",
        "--seed",
        "11",
    ]);
    let dir = TempDir::new("prepare-corrupt");
    let conn = connector(&server, config(&dir));
    let out = dir.path("model");
    let report = conn
        .prepare_directory("oss://bkt/m", &out, &quiet())
        .expect("prepare_directory");
    assert_eq!(
        (report.files, report.fetched),
        (SHARDS as u64, SHARDS as u64)
    );
    for key in shard_keys() {
        let data = std::fs::read(out.join(key.strip_prefix("m/").unwrap())).unwrap();
        assert_eq!(data.len() as u64, MIB << 20, "{key}");
        assert_synthetic(&key, 0, &data);
    }
    assert!(
        stat(&server, "faults.corrupt") > 0 && conn.prefetch_stats().crc_mismatches > 0,
        "the server corrupted responses, and the checks caught them"
    );

    let gets = stat(&server, "requests.GetObject");
    let again = conn
        .prepare_directory("oss://bkt/m/", &out, &quiet())
        .expect("second run");
    assert_eq!((again.fetched, again.kept), (0, SHARDS as u64));
    assert_eq!(stat(&server, "requests.GetObject"), gets);
}

#[test]
fn a_mapped_object_is_exact_under_corruption_and_the_same_memory_on_every_call() {
    let server = OssLocal::start(&[
        "--model",
        &format!("bkt/m:{SHARDS}:{MIB}"),
        "--corrupt-rate",
        "0.1",
        "--seed",
        "5",
    ]);
    let dir = TempDir::new("map-corrupt");
    let conn = connector(&server, config(&dir));
    let keys = shard_keys();
    let mut readers: Vec<_> = keys
        .iter()
        .map(|k| conn.open_object("bkt", k).unwrap())
        .collect();
    for (key, r) in keys.iter().zip(readers.iter_mut()) {
        let first = r.map().expect("map").as_ptr();
        let bytes = r.map().unwrap();
        assert_eq!(bytes.as_ptr(), first);
        assert_eq!(bytes.len() as u64, MIB << 20);
        assert_synthetic(key, 0, bytes);
        assert_eq!(r.tell(), 0);
    }
}

#[test]
fn a_missing_prefix_is_an_empty_directory_and_a_missing_bucket_an_error() {
    let server = OssLocal::start(&["--model", "bkt/m:1:1"]);
    let dir = TempDir::new("prepare-missing");
    let conn = connector(&server, config(&dir));
    let report = conn
        .prepare_directory("oss://bkt/nothing-here", &dir.path("empty"), &quiet())
        .unwrap();
    assert_eq!(report.files, 0);
    let e = conn
        .prepare_directory("oss://nobucket/m", &dir.path("x"), &quiet())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchBucket);
    // A directory that cannot be created is an I/O error naming it.
    std::fs::write(dir.path("afile"), b"x").unwrap();
    let e = conn
        .prepare_directory("oss://bkt/m", &dir.path("afile").join("sub"), &quiet())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io);
    assert!(e.message().contains("afile"), "{e}");
}
