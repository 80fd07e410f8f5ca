//! ListObjects (V1) and ListObjectsV2 against a real oss-local: paging with tokens,
//! markers and start-after, delimiters, `encoding-type=url` with awkward keys, UTF-8 byte
//! order, and the synthetic key sets.

mod common;

use std::collections::BTreeSet;

use common::{get, raw, start, tag, tags, unescape, url_decode, url_encode};
use ossmc_testkit::oss_local::OssLocal;
use ossmc_testkit::synthetic::key_name;

/// Keys with spaces, `+ % ? # = & < > " '`, control characters and unicode.
const ODD_KEYS: &[&str] = &[
    "Zebra.txt",
    "a/b/c.txt",
    "apple.txt",
    "ctl/\u{1}start",
    "ctl/tab\tend",
    "data set/a b+c%20?x#y=z.bin",
    "plus/1+1=2",
    "xml/&<>\"'.txt",
    "éclair.txt",
    "文件/数据.bin",
];

fn server_with_odd_keys() -> OssLocal {
    let s = start(&["--bucket", "b01"]);
    for k in ODD_KEYS {
        let r = raw(
            s.port,
            "PUT",
            &format!("/b01/{}", url_encode(k, false)),
            &[],
            k.as_bytes(),
        );
        assert_eq!(r.status, 200, "{k:?}");
    }
    s
}

/// Lists everything with `query` (plus paging parameters), following the pages; returns
/// (keys, common prefixes, pages).
fn list_all(s: &OssLocal, query: &str, v2: bool) -> (Vec<String>, Vec<String>, usize) {
    let mut keys = Vec::new();
    let mut prefixes = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut q = query.to_owned();
        if v2 {
            q.push_str("&list-type=2");
        }
        if let Some(n) = &next {
            q.push_str(&if v2 {
                format!("&continuation-token={n}")
            } else {
                format!("&marker={}", url_encode(n, false))
            });
        }
        let r = get(s.port, &format!("/b01?{q}"), &[]);
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        let xml = r.text();
        pages += 1;
        let url = tag(&xml, "EncodingType").as_deref() == Some("url");
        let dec = |t: &str| if url { url_decode(t) } else { unescape(t) };
        let page_keys: Vec<String> = tags(&xml, "Key").iter().map(|k| dec(k)).collect();
        let cps: Vec<String> = tags(&xml, "CommonPrefixes")
            .iter()
            .map(|c| dec(&tag(c, "Prefix").unwrap()))
            .collect();
        if v2 {
            assert_eq!(
                tag(&xml, "KeyCount").unwrap(),
                (page_keys.len() + cps.len()).to_string()
            );
        }
        keys.extend(page_keys);
        prefixes.extend(cps);
        match tag(&xml, "IsTruncated").as_deref() {
            Some("true") => {
                next = Some(if v2 {
                    let t = tag(&xml, "NextContinuationToken").expect("token when truncated");
                    assert!(
                        t.bytes()
                            .all(|c| c.is_ascii_alphanumeric() || b"-_.~".contains(&c)),
                        "{t}"
                    );
                    t
                } else {
                    dec(&tag(&xml, "NextMarker").expect("NextMarker when truncated"))
                });
            }
            Some("false") => {
                assert!(
                    tag(&xml, "NextContinuationToken").is_none()
                        && tag(&xml, "NextMarker").is_none()
                );
                return (keys, prefixes, pages);
            }
            other => panic!("IsTruncated {other:?}"),
        }
        assert!(pages < 10_000);
    }
}

fn byte_sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    v
}

#[test]
fn url_encoded_listing_round_trips_awkward_keys_in_byte_order() {
    let s = server_with_odd_keys();
    for v2 in [false, true] {
        for max in [1, 3, 1000] {
            let (keys, prefixes, pages) =
                list_all(&s, &format!("encoding-type=url&max-keys={max}"), v2);
            assert_eq!(keys, byte_sorted(ODD_KEYS), "v2 {v2} max {max}");
            assert!(prefixes.is_empty());
            assert_eq!(pages, ODD_KEYS.len().div_ceil(max));
        }
    }
    let r = get(
        s.port,
        "/b01?list-type=2&encoding-type=url&prefix=data%20set%2F&delimiter=%2F",
        &[],
    );
    let xml = r.text();
    assert_eq!(
        tag(&xml, "Key").unwrap(),
        "data%20set%2Fa%20b%2Bc%2520%3Fx%23y%3Dz.bin"
    );
    assert_eq!(tag(&xml, "Prefix").unwrap(), "data%20set%2F");
    assert_eq!(tag(&xml, "Delimiter").unwrap(), "%2F");
    assert_eq!(tag(&xml, "EncodingType").unwrap(), "url");
}

#[test]
fn raw_listing_escapes_xml_and_does_not_url_encode() {
    let s = server_with_odd_keys();
    let r = get(s.port, "/b01?list-type=2&prefix=xml%2F", &[]);
    let xml = r.text();
    assert_eq!(
        tag(&xml, "Key").unwrap(),
        "xml/&amp;&lt;&gt;&quot;&apos;.txt"
    );
    assert!(tag(&xml, "EncodingType").is_none());
    let r = get(s.port, "/b01?list-type=2&prefix=data", &[]);
    assert_eq!(
        tag(&r.text(), "Key").unwrap(),
        "data set/a b+c%20?x#y=z.bin"
    );
}

#[test]
fn contents_have_all_six_children_and_owner_rules() {
    let s = server_with_odd_keys();
    let v1 = get(s.port, "/b01?prefix=apple", &[]).text();
    let c = tag(&v1, "Contents").unwrap();
    for t in [
        "Key",
        "LastModified",
        "ETag",
        "Type",
        "Size",
        "StorageClass",
        "Owner",
    ] {
        assert!(tag(&c, t).is_some(), "{t} missing in {c}");
    }
    let lm = tag(&c, "LastModified").unwrap();
    assert!(
        lm.len() == 24 && lm.ends_with(".000Z") && &lm[10..11] == "T",
        "{lm}"
    );
    assert_eq!(tag(&c, "Size").unwrap(), "9");
    assert_eq!(tag(&c, "Type").unwrap(), "Normal");
    assert!(tag(&v1, "Marker").is_some(), "V1 always has Marker");
    assert_eq!(tag(&v1, "MaxKeys").unwrap(), "100");
    let v2 = get(s.port, "/b01?list-type=2&prefix=apple", &[]).text();
    assert!(tag(&v2, "Owner").is_none());
    let v2o = get(
        s.port,
        "/b01?list-type=2&prefix=apple&fetch-owner=true",
        &[],
    )
    .text();
    assert!(tag(&v2o, "Owner").is_some());
    // The listing ETag is the object's ETag.
    let head = raw(s.port, "HEAD", "/b01/apple.txt", &[], b"");
    assert_eq!(tag(&c, "ETag").unwrap(), head.header("etag").unwrap());
}

#[test]
fn delimiter_paging_across_synthetic_keys_matches_a_reference() {
    let count = 3000u64;
    let s = start(&["--keys", &format!("b01/p/:{count}")]);
    let all: BTreeSet<String> = (0..count).map(|i| key_name("p/", i)).collect();
    // Everything, in pages of 1000 (V2) and 7 (V1).
    let (keys, _, pages) = list_all(&s, "prefix=p%2F&max-keys=1000", true);
    assert_eq!(pages, 3);
    let mut want: Vec<String> = all.iter().cloned().collect();
    want.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(keys, want);
    // One level with a delimiter, in small pages: keys directly under p/ plus prefixes.
    for (v2, max) in [(true, 7), (false, 5), (true, 1000)] {
        let (keys, prefixes, _) = list_all(
            &s,
            &format!("prefix=p%2F&delimiter=%2F&max-keys={max}&encoding-type=url"),
            v2,
        );
        let mut want_prefixes: Vec<String> = all
            .iter()
            .map(|k| {
                let rest = &k[2..];
                format!("p/{}", &rest[..=rest.find('/').unwrap()])
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        want_prefixes.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        assert!(keys.is_empty());
        assert_eq!(prefixes, want_prefixes, "v2 {v2} max {max}");
    }
    // A deeper level.
    let (keys, prefixes, _) =
        list_all(&s, "prefix=p%2Fdeep%2Fa1%2F&delimiter=%2F&max-keys=2", true);
    assert!(keys.is_empty());
    assert_eq!(
        prefixes,
        (0..5)
            .map(|b| format!("p/deep/a1/b{b}/"))
            .collect::<Vec<_>>()
    );
    // start-after in the middle.
    let mid = &want[1234];
    let r = get(
        s.port,
        &format!(
            "/b01?list-type=2&max-keys=3&start-after={}",
            url_encode(mid, false)
        ),
        &[],
    );
    let xml = r.text();
    let got: Vec<String> = tags(&xml, "Key").iter().map(|k| unescape(k)).collect();
    assert_eq!(got, want[1235..1238]);
    assert_eq!(unescape(&tag(&xml, "StartAfter").unwrap()), *mid);
}

#[test]
fn tokens_resume_after_common_prefixes_and_are_echoed() {
    let s = server_with_odd_keys();
    let r = get(s.port, "/b01?list-type=2&delimiter=%2F&max-keys=2", &[]);
    let xml = r.text();
    assert_eq!(tags(&xml, "Key"), ["Zebra.txt"]);
    assert_eq!(tags(&xml, "Prefix")[1..], ["a/"]);
    let token = tag(&xml, "NextContinuationToken").unwrap();
    let r = get(
        s.port,
        &format!("/b01?list-type=2&delimiter=%2F&max-keys=2&continuation-token={token}"),
        &[],
    );
    let xml = r.text();
    assert_eq!(tag(&xml, "ContinuationToken").unwrap(), token);
    assert_eq!(tags(&xml, "Key"), ["apple.txt"]);
    assert_eq!(tags(&xml, "Prefix")[1..], ["ctl/"]);
    // The token wins over start-after.
    let r = get(
        s.port,
        &format!(
            "/b01?list-type=2&delimiter=%2F&max-keys=2&start-after=zzz&continuation-token={token}"
        ),
        &[],
    );
    assert_eq!(tags(&r.text(), "Key"), ["apple.txt"]);
    // V1 marker equal to a common prefix skips it.
    let r = get(s.port, "/b01?delimiter=%2F&max-keys=2&marker=a%2F", &[]);
    let xml = r.text();
    assert_eq!(tags(&xml, "Key"), ["apple.txt"]);
    assert_eq!(tag(&xml, "NextMarker").unwrap(), "ctl/");
}

#[test]
fn empty_parameters_are_absent_and_missing_bucket_is_404() {
    let s = server_with_odd_keys();
    // What oss2 sends for a first V2 page.
    let r = get(s.port, "/b01?list-type=2&prefix=&delimiter=&continuation-token=&start-after=&fetch-owner=false&max-keys=1000&encoding-type=url", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(tags(&r.text(), "Key").len(), ODD_KEYS.len());
    let r = get(s.port, "/nob?list-type=2", &[]);
    assert_eq!(r.status, 404);
    assert_eq!(tag(&r.text(), "Code").unwrap(), "NoSuchBucket");
}

#[test]
fn root_directory_buckets_list_files_in_byte_order() {
    let dir = common::TempDir::new("list");
    let b = dir.0.join("b01");
    for k in ["b/x.txt", "a b/c", "é.txt", "A.txt", "b/y/z.txt"] {
        let p = b.join(k);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, k.as_bytes()).unwrap();
    }
    let s = start(&["--root", dir.path()]);
    let (keys, _, _) = list_all(&s, "max-keys=2", true);
    assert_eq!(
        keys,
        byte_sorted(&["A.txt", "a b/c", "b/x.txt", "b/y/z.txt", "é.txt"])
    );
    let (keys, prefixes, _) = list_all(&s, "prefix=b%2F&delimiter=%2F", false);
    assert_eq!(keys, ["b/x.txt"]);
    assert_eq!(prefixes, ["b/y/"]);
    let r = get(s.port, "/b01?prefix=a%20b%2F", &[]);
    assert_eq!(tag(&r.text(), "Size").unwrap(), "5");
}

#[test]
fn list_buckets() {
    let s = start(&["--bucket", "b01", "--model", "b02/m:1:0"]);
    let r = get(s.port, "/", &[]);
    assert_eq!(r.status, 200);
    let names = tags(&r.text(), "Name");
    assert_eq!(names, ["b01", "b02"]);
}

#[test]
fn an_upload_hides_a_synthetic_object_once_and_delete_restores_it() {
    let s = start(&["--keys", "b01/p/:50"]);
    let key = key_name("p/", 3);
    let path = format!("/b01/{}", url_encode(&key, false));
    assert_eq!(raw(s.port, "PUT", &path, &[], b"12345").status, 200);
    let (keys, _, _) = list_all(&s, "prefix=p%2F&max-keys=7", true);
    assert_eq!(keys.len(), 50);
    assert_eq!(keys.iter().filter(|k| **k == key).count(), 1);
    let r = get(
        s.port,
        &format!(
            "/b01?list-type=2&max-keys=1&start-after={}",
            url_encode(&key[..key.len() - 1], false)
        ),
        &[],
    );
    assert_eq!(unescape(&tag(&r.text(), "Key").unwrap()), key);
    assert_eq!(tag(&r.text(), "Size").unwrap(), "5");
    assert_eq!(get(s.port, &path, &[]).body, b"12345");
    // Deleting the upload brings the synthetic object back; that one cannot be deleted.
    assert_eq!(raw(s.port, "DELETE", &path, &[], b"").status, 204);
    let r = get(s.port, &path, &[]);
    assert_eq!(
        r.body,
        common::synthetic(&key, 0, ossmc_testkit::synthetic::key_size(3) as usize)
    );
    let r = raw(s.port, "DELETE", &path, &[], b"");
    assert_eq!(r.status, 403);
    assert_eq!(tag(&r.text(), "Code").unwrap(), "AccessDenied");
}
