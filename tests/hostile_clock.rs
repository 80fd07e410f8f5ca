//! A server whose clock is off, or absurd: a `RequestTimeTooSkewed` answer's `Date` within a
//! day corrects the clock; one further off (up to `Fri, 31 Dec 9999 23:59:59 GMT`) fails the
//! request with an error naming that date, and the connector stays usable. Nothing hangs.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::*;
use ossmc::{ErrorKind, ObjectReader, SignatureVersion};
use ossmc_testkit::oss_local::OssLocal;
use ossmc_testkit::synthetic::shard_key;

/// Far beyond what failing or succeeding takes; before the fixes such reads waited forever.
const BOUND: Duration = Duration::from_secs(30);

/// Reads `len` bytes at `offset` on another thread, or `None` if it did not end in time.
fn read_bounded(r: ObjectReader, offset: u64, len: usize) -> Option<ossmc::Result<usize>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; len];
        let _ = tx.send(r.read_at(offset, &mut buf));
    });
    rx.recv_timeout(BOUND).ok()
}

#[test]
fn an_absurd_date_fails_the_read_clearly_and_the_connector_stays_usable() {
    let server = OssLocal::start(&["--model", "bkt/m:2:8", "--absurd-date-rate", "1"]);
    let key = shard_key("m", 1, 2);
    for version in [SignatureVersion::V4, SignatureVersion::V1] {
        let dir = TempDir::new("absurd-date");
        let mut cfg = config(&dir);
        cfg.signature_version = version;
        let conn = connector(&server, cfg);
        // Part of a chunk (through a chunk buffer), then whole chunks (straight into the
        // caller's buffer).
        for (offset, len) in [(100, 10), (0, 8 << 20)] {
            let r = conn.open(&format!("oss://bkt/{key}")).unwrap();
            let e = read_bounded(r, offset, len)
                .unwrap_or_else(|| panic!("{version:?}: the read of {len} bytes hung"))
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
            assert_eq!(e.code(), Some("RequestTimeTooSkewed"), "{e}");
            assert!(
                e.message().contains("Date: Fri, 31 Dec 9999 23:59:59 GMT"),
                "{version:?}: {e}"
            );
            assert_eq!(e.key(), Some(key.as_str()), "{e}");
        }
        // The absurd date was not learned: requests are still signed at the right time.
        let other = conn.open(&format!("oss://bkt/{}", shard_key("m", 2, 2)));
        assert!(other.is_ok(), "{version:?}: {:?}", other.err());
        assert!(conn.list("bkt", "m/").is_ok());
    }
    assert!(stat(&server, "faults.absurd_date") >= 4);
}

#[test]
fn a_server_clock_hours_off_is_corrected_for() {
    let server = OssLocal::start(&["--model", "bkt/m:1:8", "--skew-date-secs", "-7200"]);
    let dir = TempDir::new("skew-hours");
    let conn = connector(&server, config(&dir));
    let key = shard_key("m", 1, 1);
    let mut r = conn.open(&format!("oss://bkt/{key}")).unwrap();
    let data = read_all(&mut r).unwrap();
    assert_synthetic(&key, 0, &data);
    // Refused once, then signed at the server's time.
    assert_eq!(stat(&server, "status.403"), 1);
}

#[test]
fn a_server_clock_days_off_is_an_error_naming_its_date() {
    let server = OssLocal::start(&["--model", "bkt/m:1:1", "--skew-date-secs", "200000"]);
    let dir = TempDir::new("skew-days");
    let conn = connector(&server, config(&dir));
    let key = shard_key("m", 1, 1);
    for _ in 0..2 {
        let Err(e) = conn.open(&format!("oss://bkt/{key}")) else {
            panic!("a server clock days off was not refused");
        };
        assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
        assert!(
            e.message().contains("2 days ahead of the local clock"),
            "{e}"
        );
        assert!(e.message().contains("(Date: "), "{e}");
    }
    // One refusal per open: not retried with a correction of days.
    assert_eq!(stat(&server, "status.403"), 2);
}
