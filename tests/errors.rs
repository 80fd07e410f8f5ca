//! Errors say what went wrong: bad URIs, missing buckets and keys, refused credentials; and
//! no secret ever appears in an error, a Debug output, the log or the audit file.

mod common;

use std::sync::Arc;

use common::*;
use ossmc::{Connector, Credentials, ErrorKind, StaticProvider};
use ossmc_testkit::oss_local::{OssLocal, TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET};

#[test]
fn bad_uris_are_invalid_arguments() {
    let server = OssLocal::start(&["--model", "bkt/m:1:1"]);
    let dir = TempDir::new("uris");
    let conn = connector(&server, config(&dir));
    for bad in [
        "s3://bkt/k",
        "oss://",
        "oss://bkt",
        "oss://bkt/",
        "oss://B_ad/k",
        "bkt/k",
        "",
    ] {
        let e = conn.open(bad).expect_err(bad);
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}: {e}");
        assert!(!e.message().is_empty());
    }
    let long = format!("oss://bkt/{}", "k".repeat(2000));
    assert_eq!(
        conn.open(&long).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        conn.list("No_Such", "").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    // Nothing was sent for any of them.
    assert_eq!(stat(&server, "total_requests"), 0);
}

#[test]
fn missing_buckets_and_keys_fail_at_open_with_a_request_id() {
    let server = OssLocal::start(&["--model", "bkt/m:1:1"]);
    let dir = TempDir::new("missing");
    let conn = connector(&server, config(&dir));
    let e = conn.open("oss://nobkt/m/x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchBucket, "{e}");
    assert_eq!(e.http_status(), Some(404));
    assert!(e.request_id().is_some_and(|r| !r.is_empty()), "{e:?}");
    assert_eq!(e.bucket(), Some("nobkt"));

    let e = conn.open("oss://bkt/m/none.safetensors").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchKey, "{e}");
    assert!(e.request_id().is_some(), "{e:?}");
    assert_eq!(e.key(), Some("m/none.safetensors"));
    assert!(
        e.to_string().contains("oss://bkt/m/none.safetensors"),
        "{e}"
    );

    let e = conn.list("nobkt", "").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchBucket, "{e}");
    assert!(e.request_id().is_some(), "{e:?}");
}

fn refused(server: &OssLocal, creds: Credentials, dir: &TempDir) -> Vec<ossmc::Error> {
    let conn = Connector::new(
        &server.endpoint,
        Arc::new(StaticProvider::new(creds)),
        config(dir),
    )
    .unwrap();
    let key = ossmc_testkit::synthetic::shard_key("m", 1, 1);
    vec![
        conn.open(&format!("oss://bkt/{key}")).unwrap_err(),
        conn.list("bkt", "").unwrap_err(),
    ]
}

#[test]
fn wrong_credentials_are_access_denied_with_a_request_id() {
    let server = OssLocal::start(&["--model", "bkt/m:1:1"]);
    let dir = TempDir::new("creds");
    for creds in [
        Credentials::new(TEST_ACCESS_KEY_ID, "WrongSecretValue999"),
        Credentials::new("LTAI5tUnknownKeyId", TEST_ACCESS_KEY_SECRET),
    ] {
        for e in refused(&server, creds, &dir) {
            assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
            assert_eq!(e.http_status(), Some(403), "{e:?}");
            assert!(e.code().is_some(), "{e:?}");
            assert!(e.request_id().is_some_and(|r| !r.is_empty()), "{e:?}");
            assert!(!format!("{e} {e:?}").contains("WrongSecretValue999"));
        }
    }
}

#[test]
fn secrets_never_appear_in_debug_output_errors_or_logs() {
    const SECRET: &str = "SuperSecretValue-8d7f6e";
    const TOKEN: &str = "CAISSecretToken-77aa55";
    let server = OssLocal::start(&["--model", "bkt/m:1:4"]);
    let dir = TempDir::new("secrets");
    let creds = Credentials::new(TEST_ACCESS_KEY_ID, SECRET).with_security_token(TOKEN);
    let conn = Connector::new(
        &server.endpoint,
        Arc::new(StaticProvider::new(creds)),
        config(&dir),
    )
    .unwrap();
    let mut text = format!("{conn:?}");
    for e in [
        conn.open(&format!(
            "oss://bkt/{}",
            ossmc_testkit::synthetic::shard_key("m", 1, 1)
        ))
        .unwrap_err(),
        conn.open("oss://bkt/missing").unwrap_err(),
        conn.list("bkt", "m/").unwrap_err(),
    ] {
        text.push_str(&format!("{e} {e:?}"));
    }
    // Also a successful load with good credentials, logged at debug level.
    let good = connector(&server, config(&dir));
    let mut r = good
        .open(&format!(
            "oss://bkt/{}",
            ossmc_testkit::synthetic::shard_key("m", 1, 1)
        ))
        .unwrap();
    read_all(&mut r).unwrap();
    drop(r);
    text.push_str(&format!("{good:?}"));
    drop((conn, good));
    // Both connectors log to this file at DEBUG, whatever other connectors the process has.
    let log = std::fs::read_to_string(dir.path("connector.log")).unwrap();
    assert!(log.contains(" DEBUG "), "no DEBUG lines in the log: {log}");
    let audit = std::fs::read_to_string(dir.path("audit.log")).unwrap();
    assert!(audit.lines().count() >= 4, "audit file too short: {audit}");
    for (what, s) in [("debug/errors", &text), ("log", &log), ("audit", &audit)] {
        assert!(!s.contains(SECRET), "the secret leaked into the {what}");
        assert!(!s.contains(TOKEN), "the token leaked into the {what}");
        assert!(
            !s.contains(TEST_ACCESS_KEY_SECRET),
            "the secret leaked into the {what}"
        );
    }
}
