//! A connector speaking the S3 API against moto, an S3 implementation written by others:
//! listing, FastList, open and read (byte-exact), the CRC-64/NVME check, errors, and
//! `prepare_directory`, through the Rust API and the C ABI. Skipped (with a message) when moto
//! is not installed.

mod common;

use std::ffi::CString;

use common::moto::{crc64nvme, Moto};
use common::*;
use ossmc::{Config, Connector, Credentials, ErrorKind, PrepareOptions, Protocol, StaticProvider};
use ossmc_testkit::synthetic;

const BUCKET: &str = "models";
const MIB: usize = 1 << 20;

fn bytes_of(key: &str, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    synthetic::fill(synthetic::seed(key), 0, &mut v);
    v
}

fn s3_config(dir: &TempDir) -> Config {
    let mut c = config(dir);
    c.protocol = Some(Protocol::S3);
    // Small chunks: several ranged GETs per object, so chunk CRCs are combined.
    c.prefetch.chunk_size = 1 << 20;
    c
}

fn s3_connector(moto: &Moto, config: Config) -> Connector {
    let creds = StaticProvider::new(Credentials::new("AKIDTEST", "secret/for+moto"));
    Connector::new(&moto.endpoint, std::sync::Arc::new(creds), config).expect("connector")
}

/// The objects: (key, size, whether stored with its CRC-64/NVME).
fn objects() -> Vec<(String, usize, bool)> {
    vec![
        (
            "m/model-00001-of-00003.safetensors".into(),
            3 * MIB + 17,
            true,
        ),
        ("m/model-00002-of-00003.safetensors".into(), 2 * MIB, true),
        (
            "m/model-00003-of-00003.safetensors".into(),
            MIB / 2 + 3,
            false,
        ),
        ("m/sub dir/ünï cødé+%.json".into(), 1000, true),
        ("m/empty".into(), 0, false),
        ("other/x.bin".into(), 10, false),
    ]
}

fn populate(moto: &Moto) {
    moto.create_bucket(BUCKET);
    for (key, size, with_crc) in objects() {
        let data = bytes_of(&key, size);
        moto.put(BUCKET, &key, &data, with_crc.then(|| crc64nvme(&data)));
    }
}

#[test]
fn list_fastlist_open_and_prepare_over_the_s3_api() {
    let Some(moto) = Moto::start() else { return };
    populate(&moto);
    let dir = TempDir::new("s3-moto");
    let conn = s3_connector(&moto, s3_config(&dir));
    assert_eq!(conn.protocol(), Protocol::S3);

    let mut want: Vec<(String, u64)> = objects()
        .into_iter()
        .filter(|(k, _, _)| k.starts_with("m/"))
        .map(|(k, s, _)| (k, s as u64))
        .collect();
    want.sort();
    let listed: Vec<(String, u64)> = conn
        .list(BUCKET, "m/")
        .expect("list")
        .into_iter()
        .map(|o| (o.key, o.size))
        .collect();
    assert_eq!(listed, want);
    let mut fast: Vec<(String, u64)> = conn
        .fast_list(BUCKET, "m/")
        .expect("fast list")
        .into_iter()
        .map(|o| (o.key, o.size))
        .collect();
    fast.sort();
    assert_eq!(fast, want);
    // A page at a time, with a continuation token from moto.
    let cancel = ossmc::CancelToken::new();
    let page = conn
        .list_page(BUCKET, "m/", None, None, None, 2, &cancel)
        .expect("page");
    assert_eq!(page.objects.len(), 2);
    let token = page.next_token.expect("a truncated page has a token");
    let page2 = conn
        .list_page(BUCKET, "m/", None, Some(&token), None, 1000, &cancel)
        .expect("page 2");
    assert_eq!(page2.objects[0].key, want[2].0);

    // Open everything first, then read: byte-exact, with the NVME checksum where stored.
    let mut readers: Vec<_> = objects()
        .into_iter()
        .map(|(k, _, _)| conn.open(&format!("s3://{BUCKET}/{k}")).expect("open"))
        .collect();
    for ((key, size, with_crc), r) in objects().into_iter().zip(readers.iter_mut()) {
        let data = read_all(r).expect("read");
        assert_eq!(data.len(), size, "{key}");
        assert!(data == bytes_of(&key, size), "{key}: bytes differ");
        let expected = with_crc.then(|| crc64nvme(&data));
        assert_eq!(r.crc64(), expected, "{key}");
    }
    drop(readers);
    assert_eq!(conn.prefetch_stats().crc_mismatches, 0);

    // Errors map onto the same kinds as OSS's.
    let e = conn.open(&format!("s3://{BUCKET}/m/nope")).unwrap_err();
    assert_eq!(
        (e.kind(), e.http_status()),
        (ErrorKind::NoSuchKey, Some(404))
    );
    let e = conn.list("no-such-bucket", "").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoSuchBucket, "{e}");
    assert_eq!(e.code(), Some("NoSuchBucket"));
    let e = conn.open(&format!("oss://{BUCKET}/m/empty")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().starts_with("URI must start with s3://"), "{e}");

    // prepare_directory: every object under the prefix, byte-exact; a second run keeps them.
    let out = dir.path("model");
    let quiet = PrepareOptions {
        progress: Some(false),
    };
    let report = conn
        .prepare_directory(&format!("s3://{BUCKET}/m"), &out, &quiet)
        .expect("prepare_directory");
    assert_eq!((report.files, report.fetched), (5, 5));
    for (key, size, _) in objects()
        .into_iter()
        .filter(|(k, _, _)| k.starts_with("m/"))
    {
        let data = std::fs::read(out.join(key.strip_prefix("m/").unwrap())).unwrap();
        assert!(data == bytes_of(&key, size), "{key}");
    }
    let again = conn
        .prepare_directory(&format!("s3://{BUCKET}/m/"), &out, &quiet)
        .expect("second run");
    assert_eq!((again.kept, again.fetched), (5, 0));

    // The audit file: a line per response, written when the response is dropped, with the
    // body bytes read and S3's request id (moto's x-amzn-requestid).
    drop(conn);
    let audit = std::fs::read_to_string(dir.path("audit.log")).unwrap();
    let (key, size, _) = &objects()[0];
    let mut got = 0u64;
    let mut whole = 0;
    for line in audit.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f[1] != "GetObject" || f[3] != key {
            continue;
        }
        let (a, b) = f[4].split_once('-').expect("a range");
        let asked = b.parse::<u64>().unwrap() - a.parse::<u64>().unwrap() + 1;
        let bytes: u64 = f[6].parse().unwrap();
        assert_eq!(f[5], "206", "{line}");
        assert!(bytes <= asked, "{line}");
        assert!(f[8].len() > 10, "a request id: {line}");
        whole += usize::from(bytes == asked);
        got += bytes;
    }
    assert!(
        got >= *size as u64 && whole > 0,
        "GetObject bytes {got} of {size}:\n{audit}"
    );
    assert!(audit
        .lines()
        .any(|l| l.contains("\tHeadObject\t") && l.contains(key.as_str())));
    let log = std::fs::read_to_string(dir.path("connector.log")).unwrap();
    assert!(
        log.contains(&format!("fast list of s3://{BUCKET}/m/")),
        "{log}"
    );
    assert!(
        log.contains(&format!("prepare_directory s3://{BUCKET}/m/")),
        "{log}"
    );
}

#[test]
fn a_wrong_crc64nvme_is_caught_as_corruption() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket(BUCKET);
    let key = "bad/crc.bin";
    let data = bytes_of(key, 2 * MIB + 5);
    // moto stores the checksum it is given: a wrong one stands in for corrupted bytes.
    moto.put(BUCKET, key, &data, Some(crc64nvme(&data) ^ 1));
    let dir = TempDir::new("s3-moto-crc");
    let conn = s3_connector(&moto, s3_config(&dir));
    let mut r = conn.open(&format!("s3://{BUCKET}/{key}")).expect("open");
    let e = read_all(&mut r).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
    assert!(
        e.to_string().contains(&format!("s3://{BUCKET}/{key}")),
        "{e}"
    );
}

#[test]
fn the_c_abi_opens_s3_uris() {
    let Some(moto) = Moto::start() else { return };
    moto.create_bucket(BUCKET);
    let key = "c/abi.bin";
    let data = bytes_of(key, MIB + 1);
    moto.put(BUCKET, key, &data, Some(crc64nvme(&data)));
    let dir = TempDir::new("s3-moto-c");
    let cfg = dir.path("config.json");
    std::fs::write(
        &cfg,
        format!(
            r#"{{"protocol": "s3", "logPath": "{}", "auditPath": "{}"}}"#,
            dir.path("c.log").display(),
            dir.path("audit.log").display()
        ),
    )
    .unwrap();
    let creds = dir.path("creds");
    std::fs::write(
        &creds,
        "[default]\naws_access_key_id = AKIDC\naws_secret_access_key = c/secret\n",
    )
    .unwrap();
    // No credentials path: an S3 connector reads the AWS shared credentials file. The
    // environment is process-wide; no other test in this binary reads these variables.
    std::env::remove_var("AWS_ACCESS_KEY_ID");
    std::env::remove_var("AWS_SECRET_ACCESS_KEY");
    std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", &creds);
    let endpoint = CString::new(moto.endpoint.clone()).unwrap();
    let cfg = CString::new(cfg.to_str().unwrap()).unwrap();
    let mut conn = std::ptr::null_mut();
    unsafe {
        assert_eq!(
            ossmc::ffi::connector::ossmc_connector_new(
                endpoint.as_ptr(),
                std::ptr::null(),
                cfg.as_ptr(),
                &mut conn
            ),
            0
        );
        let uri = CString::new(format!("s3://{BUCKET}/{key}")).unwrap();
        let mut obj = std::ptr::null_mut();
        assert_eq!(
            ossmc::ffi::object::ossmc_open(conn, uri.as_ptr(), &mut obj),
            0
        );
        let mut buf = vec![0u8; data.len() + 10];
        let mut got = 0usize;
        loop {
            let mut n = 0usize;
            let rc = ossmc::ffi::object::ossmc_read(
                obj,
                buf[got..].as_mut_ptr().cast(),
                buf.len() - got,
                &mut n,
            );
            assert_eq!(rc, 0);
            if n == 0 {
                break;
            }
            got += n;
        }
        assert_eq!(got, data.len());
        assert!(buf[..got] == data[..]);
        ossmc::ffi::object::ossmc_close(obj);
        let bad = CString::new(format!("oss://{BUCKET}/{key}")).unwrap();
        let mut obj = std::ptr::null_mut();
        assert_eq!(
            ossmc::ffi::object::ossmc_open(conn, bad.as_ptr(), &mut obj),
            ossmc::ffi::status::OSSMC_INVALID_URI
        );
        ossmc::ffi::connector::ossmc_connector_free(conn);
    }
    std::env::remove_var("AWS_SHARED_CREDENTIALS_FILE");
}
