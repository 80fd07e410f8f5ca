//! A server that lies (oss-local's hostile responses): a huge or wrong Content-Length at
//! open, a huge one on a range, a Content-Range other than the range asked for, 200 with the whole object instead
//! of 206, a body longer than the range, an object that looks replaced while If-Match is
//! ignored. Each read either ends with a clear error naming the object and what the server
//! did, or returns exact bytes; never a panic, a hang or a wrong byte.

mod common;

use common::*;
use ossmc::{Connector, ErrorKind, ObjectReader};
use ossmc_testkit::oss_local::OssLocal;
use ossmc_testkit::synthetic::shard_key;

/// The one 8 MiB synthetic shard of `bkt/m` (two 4 MiB chunks in the test config).
fn key() -> String {
    shard_key("m", 1, 1)
}

fn serve(extra: &[&str]) -> OssLocal {
    let mut args = vec!["--model", "bkt/m:1:8"];
    args.extend_from_slice(extra);
    OssLocal::start(&args)
}

fn open(conn: &Connector) -> ObjectReader {
    conn.open(&format!("oss://bkt/{}", key())).expect("open")
}

/// Reads the object through, checking every byte handed over; returns the error that ended
/// the read.
fn read_until_error(r: &mut ObjectReader) -> ossmc::Error {
    match read_checked(r, 1 << 20) {
        Ok(()) => panic!("{}: read whole from a lying server", r.key()),
        Err(e) => e,
    }
}

fn assert_names_object(e: &ossmc::Error) {
    assert_eq!(e.bucket(), Some("bkt"), "{e:?}");
    assert_eq!(e.key(), Some(key().as_str()), "{e:?}");
    assert!(e.to_string().contains(&key()), "{e}");
}

#[test]
fn a_huge_content_length_at_open_is_refused() {
    let server = serve(&["--huge-length-rate", "1"]);
    let dir = TempDir::new("huge-length");
    let conn = connector(&server, config(&dir));
    let e = conn
        .open(&format!("oss://bkt/{}", key()))
        .expect_err("an object of 2^64-1 bytes");
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert_names_object(&e);
    assert!(e.message().contains("18446744073709551615"), "{e}");
    assert!(e.message().contains("Content-Length"), "{e}");
    assert!(stat(&server, "faults.huge_length") >= 1);
    assert_eq!(stat(&server, "requests.GetObject"), 0);
}

#[test]
fn a_wrong_content_length_at_open_fails_the_read_clearly() {
    let server = serve(&["--wrong-length-rate", "1"]);
    let dir = TempDir::new("wrong-length");
    let conn = connector(&server, config(&dir));
    let mut r = open(&conn);
    assert_eq!(r.size(), (8 << 20) + 1, "the size the server announced");
    let e = read_until_error(&mut r);
    assert_eq!(e.kind(), ErrorKind::ObjectChanged, "{e}");
    assert_names_object(&e);
    assert!(
        e.message()
            .contains(&format!("was {} bytes at open", (8 << 20) + 1)),
        "{e}"
    );
    assert!(stat(&server, "faults.wrong_length") >= 1);
}

#[test]
fn a_content_range_other_than_the_one_asked_for_is_refused() {
    let server = serve(&["--wrong-range-rate", "1"]);
    let dir = TempDir::new("wrong-range");
    let conn = connector(&server, config(&dir));
    let mut r = open(&conn);
    let e = read_until_error(&mut r);
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert_names_object(&e);
    assert!(e.message().contains("Content-Range"), "{e}");
    assert!(stat(&server, "faults.wrong_range") >= 1);
}

#[test]
fn the_whole_object_instead_of_a_range_is_refused() {
    let server = serve(&["--whole-object-rate", "1"]);
    let dir = TempDir::new("whole-object");
    let conn = connector(&server, config(&dir));
    let mut r = open(&conn);
    let e = read_until_error(&mut r);
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert_names_object(&e);
    assert!(e.message().contains("200"), "{e}");
    assert!(stat(&server, "faults.whole_object") >= 1);
}

#[test]
fn the_whole_object_is_used_when_the_range_was_the_whole_object() {
    let server = serve(&["--whole-object-rate", "1"]);
    let dir = TempDir::new("whole-object-one-chunk");
    let mut cfg = config(&dir);
    cfg.prefetch.chunk_size = 16 << 20;
    let conn = connector(&server, cfg);
    let mut r = open(&conn);
    read_checked(&mut r, 1 << 20).expect("one chunk: the whole object is the range");
    assert!(r.verified());
    assert!(stat(&server, "status.200") >= 1);
}

#[test]
fn a_body_longer_than_the_range_is_refused() {
    let server = serve(&["--overlong-rate", "1"]);
    let dir = TempDir::new("overlong");
    let conn = connector(&server, config(&dir));
    let mut r = open(&conn);
    let e = read_until_error(&mut r);
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert_names_object(&e);
    assert!(e.message().contains("more than"), "{e}");
    assert!(stat(&server, "faults.overlong") >= 1);
}

#[test]
fn another_version_behind_an_ignored_if_match_never_reaches_the_caller() {
    let server = serve(&["--etag-change-rate", "1"]);
    let dir = TempDir::new("etag-change");
    let conn = connector(&server, config(&dir));
    let mut r = open(&conn);
    let e = read_until_error(&mut r);
    assert_eq!(e.kind(), ErrorKind::ObjectChanged, "{e}");
    assert_names_object(&e);
    assert!(e.message().contains("ETag"), "{e}");
    assert!(e.request_id().is_some(), "{e:?}");
    assert_eq!(
        e.http_status(),
        Some(206),
        "the status the server really sent"
    );
    assert!(stat(&server, "faults.etag_change") >= 1);
}

#[test]
fn some_responses_of_another_version_never_mix_into_a_read() {
    // About a third of the GETs answer from another version: whatever is read before the
    // error is the object's own bytes (read_checked checks each one).
    let server = serve(&["--etag-change-rate", "0.3", "--seed", "5"]);
    let dir = TempDir::new("etag-change-some");
    let mut cfg = config(&dir);
    cfg.prefetch.chunk_size = 1 << 20;
    let conn = connector(&server, cfg);
    let mut r = open(&conn);
    let e = read_until_error(&mut r);
    assert_eq!(e.kind(), ErrorKind::ObjectChanged, "{e}");
    assert!(stat(&server, "faults.etag_change") >= 1);
}

#[test]
fn prepare_directory_and_map_refuse_another_version_too() {
    let server = serve(&["--etag-change-rate", "1"]);
    let dir = TempDir::new("etag-change-prepare");
    let conn = connector(&server, config(&dir));
    let out = dir.path("model");
    let e = conn
        .prepare_directory(
            "oss://bkt/m",
            &out,
            &ossmc::PrepareOptions {
                progress: Some(false),
            },
        )
        .expect_err("every GET answers another version");
    assert_eq!(e.kind(), ErrorKind::ObjectChanged, "{e}");
    let final_file = out.join(key().strip_prefix("m/").unwrap());
    assert!(
        !final_file.exists(),
        "a file of mixed versions was put in place"
    );

    let mut r = open(&conn);
    let e = r.map().expect_err("every GET answers another version");
    assert_eq!(e.kind(), ErrorKind::ObjectChanged, "{e}");
    assert!(!r.verified());
}

#[test]
fn a_huge_content_length_on_a_range_is_refused() {
    let server = serve(&["--huge-get-length-rate", "1"]);
    let dir = TempDir::new("huge-get-length");
    let conn = connector(&server, config(&dir));
    let mut r = open(&conn);
    let e = read_until_error(&mut r);
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    assert_names_object(&e);
    assert!(e.message().contains("18446744073709551615"), "{e}");
    assert!(stat(&server, "faults.huge_get_length") >= 1);
}
