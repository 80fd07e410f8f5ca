//! Helpers shared by the integration tests: a connector for an oss-local, a scratch
//! directory for log files, and synthetic-byte checks.

#![allow(dead_code)]

pub mod moto;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use ossmc::{Config, Connector, Credentials, LogPath, ObjectReader, StaticProvider};
use ossmc_testkit::oss_local::{OssLocal, TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET};
use ossmc_testkit::synthetic;

/// A scratch directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "ossmc-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A test configuration: logs and audit in `dir`, small concurrency, fast retries.
pub fn config(dir: &TempDir) -> Config {
    let mut c = Config {
        log_level: 0,
        log_path: LogPath {
            path: dir.path("connector.log"),
            is_default: false,
        },
        audit_path: LogPath {
            path: dir.path("audit.log"),
            is_default: false,
        },
        ..Config::default()
    };
    c.prefetch.vcpus = 2;
    c.prefetch.workers = 4;
    c.prefetch.chunk_size = 4 << 20;
    c.prefetch.memory_limit = 256 << 20;
    c.retry.base_delay = std::time::Duration::from_millis(5);
    c.retry.max_delay = std::time::Duration::from_millis(50);
    c.retry.max_attempts = 6;
    c
}

/// The credentials oss-local accepts.
pub fn good_credentials() -> Arc<StaticProvider> {
    Arc::new(StaticProvider::new(Credentials::new(
        TEST_ACCESS_KEY_ID,
        TEST_ACCESS_KEY_SECRET,
    )))
}

/// A connector for `server` with `config`.
pub fn connector(server: &OssLocal, config: Config) -> Connector {
    Connector::new(&server.endpoint, good_credentials(), config).expect("connector")
}

/// Reads the rest of the object.
pub fn read_all(r: &mut ObjectReader) -> ossmc::Result<Vec<u8>> {
    let mut out = vec![0u8; (r.size() - r.tell()) as usize];
    let mut at = 0;
    while at < out.len() {
        let n = r.read(&mut out[at..])?;
        assert!(n > 0, "read returned 0 before the end of {}", r.key());
        at += n;
    }
    let mut probe = [0u8; 16];
    assert_eq!(r.read(&mut probe)?, 0, "bytes past the end of {}", r.key());
    Ok(out)
}

/// Asserts `data` is the synthetic content of `key` from `offset`.
pub fn assert_synthetic(key: &str, offset: u64, data: &[u8]) {
    if let Some(p) = synthetic::first_mismatch(synthetic::seed(key), offset, data) {
        panic!("{key}: wrong byte at offset {}", offset + p as u64);
    }
}

/// A number from the /_stats JSON at a dotted path, e.g. `ops.GetObject.200`.
pub fn stat(server: &OssLocal, path: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(&server.stats_json()).expect("stats json");
    let mut cur = &v;
    for part in path.split('.') {
        cur = match cur.get(part) {
            Some(c) => c,
            None => return 0,
        };
    }
    cur.as_u64().unwrap_or(0)
}

/// Reads the whole object in `piece`-byte reads, checking every piece as it arrives.
/// Returns the error that ended the read, if any.
pub fn read_checked(r: &mut ObjectReader, piece: usize) -> ossmc::Result<()> {
    let mut buf = vec![0u8; piece];
    let mut at = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        assert_synthetic(r.key(), at, &buf[..n]);
        at += n as u64;
    }
    assert_eq!(at, r.size(), "{}: short object", r.key());
    Ok(())
}

/// Uploads `body` to oss-local with a plain unsigned PUT (the server runs with --no-auth).
pub fn put_unsigned(port: u16, bucket: &str, key: &str, body: &[u8]) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "PUT /{bucket}/{key} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 200"), "PUT failed: {resp}");
}

/// `len` synthetic bytes of their own for `tag` (a version of an object's content).
pub fn content(tag: &str, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    synthetic::fill(synthetic::seed(tag), 0, &mut v);
    v
}
