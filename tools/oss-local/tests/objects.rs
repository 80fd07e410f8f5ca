//! GetObject, HeadObject, PutObject and DeleteObject against a real oss-local: ranges in
//! both modes, headers, conditions, uploads into --root and memory, path traversal,
//! malformed requests and virtual-hosted addressing.

mod common;

use common::{get, raw, start, synthetic, TempDir};
use ossmc_testkit::synthetic::{key_name, key_size, shard_key};

const SHARD_SIZE: u64 = 1 << 20;

fn shard() -> String {
    shard_key("m", 1, 2)
}

fn shard_path() -> String {
    format!("/b01/{}", shard())
}

#[test]
fn whole_object_and_headers() {
    let s = start(&["--model", "b01/m:2:1"]);
    // ureq: an ordinary client on a keep-alive connection.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{}{}", s.endpoint, shard_path());
    for _ in 0..2 {
        let mut r = agent.get(&url).call().unwrap();
        assert_eq!(r.status(), 200);
        let h = r.headers().clone();
        let body = r
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .unwrap();
        assert_eq!(body.len() as u64, SHARD_SIZE);
        assert_eq!(body, synthetic(&shard(), 0, SHARD_SIZE as usize));
        let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Xz, &body);
        assert_eq!(h["x-oss-hash-crc64ecma"].to_str().unwrap(), crc.to_string());
        assert_eq!(h["content-length"], SHARD_SIZE.to_string().as_str());
        assert_eq!(h["accept-ranges"], "bytes");
        assert_eq!(h["x-oss-object-type"], "Normal");
        assert_eq!(h["x-oss-storage-class"], "Standard");
        assert_eq!(h["last-modified"], "Fri, 14 Mar 2025 12:00:00 GMT");
        let etag = h["etag"].to_str().unwrap();
        assert!(
            etag.len() == 34 && etag.starts_with('"') && etag.ends_with('"'),
            "{etag}"
        );
        assert!(etag[1..33]
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c)));
        let id = h["x-oss-request-id"].to_str().unwrap();
        assert_eq!(id.len(), 24);
        assert!(h.contains_key("date"));
        assert_eq!(h["server"], "AliyunOSS");
    }
    let st = common::stats(&s);
    assert_eq!(
        st["connections"]["total"], 1,
        "keep-alive reused the connection: {st}"
    );
}

#[test]
fn ranges_in_both_modes() {
    let s = start(&["--model", "b01/m:2:1"]);
    let p = shard_path();
    let std = ("x-oss-range-behavior", "standard");
    let check = |headers: &[(&str, &str)], status: u16, range: Option<(u64, u64)>| {
        let r = get(s.port, &p, headers);
        assert_eq!(r.status, status, "{headers:?}: {}", r.text());
        match range {
            Some((a, b)) => {
                assert_eq!(
                    r.header("content-range").unwrap(),
                    format!("bytes {a}-{b}/{SHARD_SIZE}")
                );
                assert_eq!(r.body, synthetic(&shard(), a, (b - a + 1) as usize));
                assert_eq!(r.header("content-length").unwrap(), (b - a + 1).to_string());
            }
            None if status == 200 => {
                assert!(r.header("content-range").is_none());
                assert_eq!(r.body.len() as u64, SHARD_SIZE);
            }
            None => {}
        }
        r
    };
    let last = SHARD_SIZE - 1;
    check(&[("range", "bytes=0-499")], 206, Some((0, 499)));
    check(&[("range", "bytes=0-499"), std], 206, Some((0, 499)));
    check(&[("range", "bytes=1000-")], 206, Some((1000, last)));
    check(
        &[("range", "bytes=-300")],
        206,
        Some((SHARD_SIZE - 300, last)),
    );
    check(
        &[("range", "bytes=-300"), std],
        206,
        Some((SHARD_SIZE - 300, last)),
    );
    // End past the object: default ignores the range, standard clips it.
    check(&[("range", "bytes=1000-99999999")], 200, None);
    check(
        &[("range", "bytes=1000-99999999"), std],
        206,
        Some((1000, last)),
    );
    // Start past the object: default ignores, standard is 416 InvalidRange.
    check(&[("range", "bytes=99999999-")], 200, None);
    let r = check(&[("range", "bytes=99999999-"), std], 416, None);
    assert_eq!(common::tag(&r.text(), "Code").unwrap(), "InvalidRange");
    assert!(r.header("x-oss-request-id").is_some());
    // Malformed: ignored in both modes.
    check(&[("range", "bytes=5-3")], 200, None);
    check(&[("range", "byte=0-1"), std], 200, None);
    // Suffix longer than the object.
    check(&[("range", "bytes=-99999999")], 200, None);
    check(&[("range", "bytes=-99999999"), std], 206, Some((0, last)));
    // Unaligned offsets deep in the object.
    check(
        &[("range", "bytes=777777-777800"), std],
        206,
        Some((777_777, 777_800)),
    );
}

#[test]
fn head_and_object_meta() {
    let s = start(&["--model", "b01/m:2:1", "--keys", "b01/k/:20"]);
    let p = shard_path();
    let full = get(s.port, &p, &[]);
    let h = raw(s.port, "HEAD", &p, &[], b"");
    assert_eq!(h.status, 200);
    assert!(h.body.is_empty());
    assert_eq!(h.header("content-length").unwrap(), SHARD_SIZE.to_string());
    for name in [
        "etag",
        "x-oss-hash-crc64ecma",
        "last-modified",
        "content-type",
    ] {
        assert_eq!(h.header(name), full.header(name), "{name}");
    }
    let m = raw(s.port, "HEAD", &format!("{p}?objectMeta"), &[], b"");
    assert_eq!(m.status, 200);
    assert_eq!(m.header("content-length").unwrap(), SHARD_SIZE.to_string());
    assert_eq!(m.header("etag"), full.header("etag"));
    // A --keys object: size and CRC of its synthetic bytes.
    let key = key_name("k/", 3);
    let r = get(
        s.port,
        &format!("/b01/{}", common::url_encode(&key, true)),
        &[],
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, synthetic(&key, 0, key_size(3) as usize));
    let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Xz, &r.body);
    assert_eq!(r.header("x-oss-hash-crc64ecma").unwrap(), crc.to_string());
}

#[test]
fn missing_things_are_404_with_xml_or_x_oss_err() {
    let s = start(&["--bucket", "b01"]);
    let r = get(s.port, "/b01/nope", &[]);
    assert_eq!(r.status, 404);
    let xml = r.text();
    assert_eq!(common::tag(&xml, "Code").unwrap(), "NoSuchKey");
    assert_eq!(
        common::tag(&xml, "RequestId").unwrap(),
        r.header("x-oss-request-id").unwrap()
    );
    assert!(common::tag(&xml, "HostId").is_some() && common::tag(&xml, "Message").is_some());
    let r = get(s.port, "/nobucket/x", &[]);
    assert_eq!(r.status, 404);
    assert_eq!(common::tag(&r.text(), "Code").unwrap(), "NoSuchBucket");
    let h = raw(s.port, "HEAD", "/b01/nope", &[], b"");
    assert_eq!(h.status, 404);
    assert!(h.body.is_empty());
    use base64::Engine as _;
    let err = base64::engine::general_purpose::STANDARD
        .decode(h.header("x-oss-err").expect("x-oss-err"))
        .unwrap();
    let err = String::from_utf8(err).unwrap();
    assert_eq!(common::tag(&err, "Code").unwrap(), "NoSuchKey");
    assert_eq!(
        common::tag(&err, "RequestId").unwrap(),
        h.header("x-oss-request-id").unwrap()
    );
}

#[test]
fn put_then_get_in_memory_and_under_root() {
    let dir = TempDir::new("put");
    for args in [
        vec!["--bucket", "b01"],
        vec!["--bucket", "b01", "--root", dir.path()],
    ] {
        let s = start(&args);
        let body: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let key = "dir/ünï cødé+x.bin";
        let path = format!("/b01/{}", common::url_encode(key, false));
        let put = raw(
            s.port,
            "PUT",
            &path,
            &[("content-type", "application/x-test")],
            &body,
        );
        assert_eq!(put.status, 200, "{}", put.text());
        use md5::Digest as _;
        let md5 = hex::encode_upper(md5::Md5::digest(&body));
        assert_eq!(put.header("etag").unwrap(), format!("\"{md5}\""));
        let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Xz, &body).to_string();
        assert_eq!(put.header("x-oss-hash-crc64ecma").unwrap(), crc);
        let r = get(s.port, &path, &[]);
        assert_eq!(r.status, 200);
        assert_eq!(r.body, body);
        assert_eq!(r.header("etag").unwrap(), format!("\"{md5}\""));
        assert_eq!(r.header("x-oss-hash-crc64ecma").unwrap(), crc);
        assert_eq!(r.header("content-type").unwrap(), "application/x-test");
        let r = get(s.port, &path, &[("range", "bytes=100-199")]);
        assert_eq!(r.status, 206);
        assert_eq!(r.body, &body[100..200]);
        // Overwrite, then delete.
        let put2 = raw(s.port, "PUT", &path, &[], b"short");
        assert_eq!(put2.status, 200);
        assert_eq!(get(s.port, &path, &[]).body, b"short");
        assert_eq!(raw(s.port, "DELETE", &path, &[], b"").status, 204);
        assert_eq!(get(s.port, &path, &[]).status, 404);
        assert_eq!(raw(s.port, "DELETE", &path, &[], b"").status, 204);
    }
    // The file landed under the root, and no temporary was left behind.
    let s = start(&["--root", dir.path()]);
    assert_eq!(
        raw(s.port, "PUT", "/b01/a/b.txt", &[], b"hello").status,
        200
    );
    assert_eq!(std::fs::read(dir.0.join("b01/a/b.txt")).unwrap(), b"hello");
    let names: Vec<_> = std::fs::read_dir(dir.0.join("b01/a"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    // A file placed under the root before start is served too.
    drop(s);
    std::fs::create_dir_all(dir.0.join("b02/x")).unwrap();
    std::fs::write(dir.0.join("b02/x/y.json"), b"{}").unwrap();
    let s = start(&["--root", dir.path()]);
    let r = get(s.port, "/b02/x%2Fy.json", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"{}");
    assert_eq!(r.header("content-type").unwrap(), "application/json");
    let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Xz, b"{}").to_string();
    assert_eq!(r.header("x-oss-hash-crc64ecma").unwrap(), crc);
}

#[test]
fn content_md5_is_checked() {
    let s = start(&["--bucket", "b01"]);
    let r = raw(
        s.port,
        "PUT",
        "/b01/x",
        &[("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")],
        b"not empty",
    );
    assert_eq!(r.status, 400);
    assert_eq!(common::tag(&r.text(), "Code").unwrap(), "InvalidDigest");
    let r = raw(
        s.port,
        "PUT",
        "/b01/x",
        &[("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")],
        b"",
    );
    assert_eq!(r.status, 200);
}

#[test]
fn path_traversal_never_escapes_the_root() {
    let dir = TempDir::new("traversal");
    let root = dir.0.join("root");
    std::fs::create_dir_all(root.join("b01")).unwrap();
    std::fs::write(dir.0.join("secret.txt"), b"secret").unwrap();
    std::fs::write(root.join("top.txt"), b"top").unwrap();
    let s = start(&["--root", root.to_str().unwrap()]);
    for path in [
        "/b01/..%2F..%2Fsecret.txt",
        "/b01/../../secret.txt",
        "/b01/%2E%2E/%2E%2E/secret.txt",
        "/b01/a/..%2F..%2F..%2Fsecret.txt",
        "/b01/..%2Ftop.txt",
        "/b01/%2Fetc%2Fpasswd",
        "/b01/x%00y",
        "/b01/.%2Ftop.txt",
    ] {
        let r = get(s.port, path, &[]);
        assert!(r.status == 404 || r.status == 400, "{path}: {}", r.status);
        assert!(r.body != b"secret" && r.body != b"top", "{path}");
        let put = raw(s.port, "PUT", path, &[], b"owned");
        assert!(put.status == 400, "{path}: PUT answered {}", put.status);
        assert!(common::tag(&put.text(), "Code").is_some());
    }
    assert_eq!(std::fs::read(dir.0.join("secret.txt")).unwrap(), b"secret");
    assert_eq!(std::fs::read(root.join("top.txt")).unwrap(), b"top");
    let stray: Vec<_> = walk(&dir.0);
    assert_eq!(stray.len(), 2, "{stray:?}");
}

fn walk(d: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn conditional_requests() {
    let s = start(&["--model", "b01/m:2:1"]);
    let p = shard_path();
    let etag = get(s.port, &p, &[("range", "bytes=0-0")])
        .header("etag")
        .unwrap()
        .to_owned();
    let before = "Thu, 13 Mar 2025 00:00:00 GMT";
    let at = "Fri, 14 Mar 2025 12:00:00 GMT";
    let after = "Sat, 15 Mar 2025 00:00:00 GMT";
    let status = |h: &[(&str, &str)]| get(s.port, &p, h).status;
    assert_eq!(status(&[("if-match", &etag), ("range", "bytes=0-9")]), 206);
    assert_eq!(status(&[("if-match", "\"0000\"")]), 412);
    assert_eq!(status(&[("if-none-match", &etag)]), 304);
    assert_eq!(
        status(&[("if-none-match", "\"0000\""), ("range", "bytes=0-9")]),
        206
    );
    assert_eq!(status(&[("if-modified-since", at)]), 304);
    assert_eq!(status(&[("if-modified-since", after)]), 304);
    assert_eq!(
        status(&[("if-modified-since", before), ("range", "bytes=0-9")]),
        206
    );
    assert_eq!(status(&[("if-unmodified-since", before)]), 412);
    assert_eq!(
        status(&[("if-unmodified-since", at), ("range", "bytes=0-9")]),
        206
    );
    let r = get(s.port, &p, &[("if-match", "\"0000\"")]);
    assert_eq!(
        common::tag(&r.text(), "Code").unwrap(),
        "PreconditionFailed"
    );
    assert_eq!(
        raw(s.port, "HEAD", &p, &[("if-none-match", &etag)], b"").status,
        304
    );
}

#[test]
fn malformed_requests_get_400_xml() {
    let s = start(&["--bucket", "b01"]);
    for (path, code) in [
        ("/b01/%FF%FE", "InvalidObjectName"),
        ("/b01?max-keys=0", "InvalidArgument"),
        ("/b01?max-keys=abc", "InvalidArgument"),
        (
            "/b01?list-type=2&continuation-token=%2B%2F%3D",
            "InvalidArgument",
        ),
        ("/b01?list-type=2&continuation-token=!!!", "InvalidArgument"),
        ("/b01?encoding-type=xml", "InvalidArgument"),
        ("/b01?prefix=%C3", "InvalidArgument"),
    ] {
        let r = get(s.port, path, &[]);
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert_eq!(common::tag(&r.text(), "Code").unwrap(), code, "{path}");
        assert!(r.header("x-oss-request-id").is_some());
    }
    let long = format!("/b01/{}", "k".repeat(1024));
    let r = get(s.port, &long, &[]);
    assert_eq!(r.status, 400);
    assert_eq!(common::tag(&r.text(), "Code").unwrap(), "InvalidObjectName");
    // A 1023-byte key is fine.
    let ok = format!("/b01/{}", "k".repeat(1023));
    assert_eq!(raw(s.port, "PUT", &ok, &[], b"x").status, 200);
    assert_eq!(get(s.port, &ok, &[]).body, b"x");
    // Unsupported operations are errors with XML, not crashes.
    let r = raw(s.port, "POST", "/b01/x?uploads", &[], b"");
    assert_eq!(r.status, 501);
    assert_eq!(common::tag(&r.text(), "Code").unwrap(), "NotImplemented");
    let r = raw(s.port, "PATCH", "/b01/x", &[], b"");
    assert_eq!(r.status, 405);
    assert_eq!(common::tag(&r.text(), "Code").unwrap(), "MethodNotAllowed");
    let r = get(s.port, "/b01?acl", &[]);
    assert_eq!(r.status, 501);
    // The server is still alive.
    assert_eq!(get(s.port, "/b01/k", &[]).status, 404);
}

#[test]
fn virtual_hosted_addressing() {
    let s = start(&["--model", "b01/m:2:1"]);
    let key = common::url_encode(&shard(), false);
    for host in [
        "b01.localhost",
        "b01.oss-cn-hangzhou.aliyuncs.com",
        "b01.127.0.0.1",
    ] {
        let h = format!("{host}:{}", s.port);
        let r = get(
            s.port,
            &format!("/{key}"),
            &[("host", &h), ("range", "bytes=0-9")],
        );
        assert_eq!(r.status, 206, "{host}: {}", r.text());
        assert_eq!(r.body, synthetic(&shard(), 0, 10));
        let r = get(s.port, "/?list-type=2&prefix=m%2F", &[("host", &h)]);
        assert_eq!(r.status, 200);
        assert_eq!(common::tags(&r.text(), "Key").len(), 2);
    }
    // A bare service host with path style still works, and 127.0.0.1 is never a bucket label.
    let h = format!("oss.test:{}", s.port);
    assert_eq!(
        get(
            s.port,
            &format!("/b01/{key}"),
            &[("host", &h), ("range", "bytes=0-9")]
        )
        .status,
        206
    );
    let r = get(s.port, "/x", &[("host", "nob.localhost")]);
    assert_eq!(common::tag(&r.text(), "Code").unwrap(), "NoSuchBucket");
}
