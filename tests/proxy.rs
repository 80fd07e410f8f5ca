//! Loading through forward proxies: a real one (Debian's tinyproxy, installed by
//! tools/setup.sh), whose own log must show every request ossmc sent, and a small caching
//! proxy (tests/common/caching_proxy.rs) that answers ranges from a whole cached copy, to
//! show the ETag and CRC-64 checks still hold when a proxy, not OSS, answers.
//!
//! The tinyproxy tests are skipped, with a message, when `tinyproxy` is not installed,
//! except under CI (`CI` set), where they fail instead.

#[path = "common/caching_proxy.rs"]
mod caching_proxy;
mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use caching_proxy::{CachingProxy, Mode};
use common::*;
use ossmc::config::{ProxySetting, ProxyUrl};
use ossmc::{Config, Connector, ErrorKind};
use ossmc_testkit::oss_local::OssLocal;

// ---------------------------------------------------------------------------------------
// tinyproxy

/// A tinyproxy on 127.0.0.1 with its own config and log file, killed when dropped.
struct TinyProxy {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: TempDir,
}

fn tinyproxy_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin".into(), "/usr/sbin".into()])
        .map(|d| d.join("tinyproxy"))
        .find(|p| p.is_file())
}

/// The binary, or `None` (with a message) when the test should be skipped.
fn tinyproxy_or_skip(test: &str) -> Option<PathBuf> {
    let found = tinyproxy_binary();
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "tinyproxy is not installed, and CI is set: tools/setup.sh installs it"
        );
        eprintln!("SKIPPED {test}: tinyproxy is not installed (tools/setup.sh installs it)");
    }
    found
}

impl TinyProxy {
    /// Starts tinyproxy on a free port; `extra` lines are added to its config.
    fn start(binary: &Path, extra: &str) -> TinyProxy {
        // A free port: bind port 0, note it, release it. Another process may take it in
        // between; tinyproxy then exits at once and we try another.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let dir = TempDir::new("tinyproxy");
            let log = dir.path("tinyproxy.log");
            let conf = dir.path("tinyproxy.conf");
            std::fs::write(
                &conf,
                format!(
                    "Port {port}\nListen 127.0.0.1\nTimeout 60\nLogFile \"{}\"\nLogLevel Connect\n\
                     MaxClients 256\nAllow 127.0.0.1\n{extra}\n",
                    log.display()
                ),
            )
            .unwrap();
            let mut child = Command::new(binary)
                .args(["-d", "-c"])
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn tinyproxy");
            // Ready once it accepts a connection; gone if it could not listen.
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    eprintln!(
                        "tinyproxy exited ({status}) on port {port}: {}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return TinyProxy {
                        child,
                        port,
                        log,
                        _dir: dir,
                    };
                }
                assert!(
                    Instant::now() < deadline,
                    "tinyproxy did not start listening"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("tinyproxy could not be started");
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The request lines tinyproxy logged (`GET http://127.0.0.1:PORT/bkt/key HTTP/1.1`).
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once("): ").filter(|_| l.contains(" Request (")))
            .map(|(_, r)| r.to_owned())
            .collect()
    }
}

impl Drop for TinyProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// helpers

fn with_proxy(mut cfg: Config, url: &str) -> Config {
    cfg.proxy = ProxySetting::Url(ProxyUrl::parse(url).unwrap());
    cfg
}

/// Lists `bkt`, then reads every object through to its end in odd-sized pieces, checking
/// every byte. Returns the keys.
fn load_all(conn: &Connector) -> Vec<String> {
    let keys: Vec<String> = conn
        .list("bkt", "")
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert!(!keys.is_empty());
    for k in &keys {
        let mut r = conn.open(&format!("oss://bkt/{k}")).unwrap();
        read_checked(&mut r, (1 << 20) + 7).unwrap();
    }
    keys
}

/// The audit file's requests as (method, path without query, range).
fn audited(dir: &TempDir) -> Vec<(String, String, String)> {
    std::fs::read_to_string(dir.path("audit.log"))
        .unwrap()
        .lines()
        .map(|l| l.split('\t').collect::<Vec<&str>>())
        // Status 0: no response, the request never left (a pooled connection the proxy
        // had closed); it was sent again.
        .filter(|f| f[5] != "0")
        .map(|f| {
            let method = if f[1] == "HeadObject" { "HEAD" } else { "GET" };
            (
                method.to_owned(),
                format!("/{}/{}", f[2], f[3]),
                f[4].to_owned(),
            )
        })
        .collect()
}

/// Uploads `body` to bucket `bkt`.
fn put(port: u16, key: &str, body: &[u8]) {
    put_unsigned(port, "bkt", key, body);
}

/// An oss-local without authentication, serving files under a scratch root.
fn writable_server() -> (OssLocal, TempDir) {
    let root = TempDir::new("root");
    std::fs::create_dir_all(root.path("bkt")).unwrap();
    let server = OssLocal::start(&["--no-auth", "--root", root.0.to_str().unwrap()]);
    (server, root)
}

/// Reads the whole object; every byte must equal `want` (the read may fail part way).
fn read_expecting(conn: &Connector, key: &str, want: &[u8]) -> ossmc::Result<()> {
    let mut r = conn.open(&format!("oss://bkt/{key}"))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0usize;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            assert_eq!(at, want.len(), "short read");
            return Ok(());
        }
        assert!(
            buf[..n] == want[at..at + n],
            "wrong bytes handed over at offset {at}"
        );
        at += n;
    }
}

// ---------------------------------------------------------------------------------------
// tinyproxy tests

#[test]
fn tinyproxy_logs_every_request_and_the_load_is_byte_exact() {
    let Some(bin) = tinyproxy_or_skip("tinyproxy_logs_every_request_and_the_load_is_byte_exact")
    else {
        return;
    };
    let tp = TinyProxy::start(&bin, "");
    // Authentication on: every V4 signature is checked by the server behind the proxy.
    let server = OssLocal::start(&["--model", "bkt/m:3:12"]);
    let dir = TempDir::new("tinyproxy-load");
    let mut cfg = config(&dir);
    cfg.prefetch.chunk_size = 1 << 20;
    let conn = Connector::new(
        &server.endpoint,
        good_credentials(),
        with_proxy(cfg, &tp.url()),
    )
    .expect("connector");
    let keys = load_all(&conn);
    drop(conn);

    let audit = audited(&dir);
    let seen = tp.requests();
    let origin = format!("http://127.0.0.1:{}", server.port);
    // Every request ossmc sent (its audit file) is in the proxy's log, as an absolute-form
    // request for the same path, and nothing else is.
    let mut want: Vec<String> = audit
        .iter()
        .map(|(m, p, _)| format!("{m} {origin}{p}"))
        .collect();
    let mut got: Vec<String> = seen
        .iter()
        .map(|l| {
            let l = l.strip_suffix(" HTTP/1.1").unwrap_or(l);
            l.split('?').next().unwrap().to_owned()
        })
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "tinyproxy log: {seen:#?}");
    // 3 objects of 12 MiB in 1 MiB ranges, a HEAD each, and at least one listing.
    let ranged = audit.iter().filter(|(_, _, r)| r != "-").count();
    assert_eq!(ranged, 36, "{audit:?}");
    assert_eq!(audit.iter().filter(|(m, _, _)| m == "HEAD").count(), 3);
    assert!(audit.len() >= 40);
    // The ranges reached the server as ranges (206), and it saw exactly these requests.
    assert_eq!(stat(&server, "status.206"), 36);
    assert_eq!(stat(&server, "total_requests"), audit.len() as u64);
    assert_eq!(keys.len(), 3);
    let log = std::fs::read_to_string(dir.path("connector.log")).unwrap();
    assert!(
        log.contains(&format!("proxy {} (from config proxy)", tp.url())),
        "{log}"
    );
}

#[test]
fn tinyproxy_passes_if_match_so_a_replaced_object_fails() {
    let Some(bin) = tinyproxy_or_skip("tinyproxy_passes_if_match_so_a_replaced_object_fails")
    else {
        return;
    };
    let tp = TinyProxy::start(&bin, "");
    let (server, _root) = writable_server();
    let old = content("old", 8 << 20);
    put(server.port, "obj.bin", &old);
    let dir = TempDir::new("tinyproxy-ifmatch");
    let mut cfg = config(&dir);
    cfg.prefetch.chunk_size = 1 << 20;
    cfg.prefetch.memory_limit = 2 << 20;
    cfg.prefetch.hold_limit = 0;
    let conn = connector(&server, with_proxy(cfg, &tp.url()));
    let mut r = conn.open("oss://bkt/obj.bin").unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let n = r.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], &old[..n]);
    let mut at = n;
    put(server.port, "obj.bin", &content("new", 8 << 20));
    let err = loop {
        match r.read(&mut buf) {
            Ok(0) => panic!("read the whole object although it was replaced"),
            Ok(k) => {
                assert_eq!(&buf[..k], &old[at..at + k], "new bytes at {at}");
                at += k;
            }
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::ObjectChanged, "{err}");
    assert_eq!(err.http_status(), Some(412), "{err}");
    assert!(tp
        .requests()
        .iter()
        .any(|l| l.starts_with("GET ") && l.contains("/bkt/obj.bin")));
}

#[test]
fn tinyproxy_with_basic_auth_and_the_password_stays_secret() {
    let Some(bin) = tinyproxy_or_skip("tinyproxy_with_basic_auth_and_the_password_stays_secret")
    else {
        return;
    };
    let tp = TinyProxy::start(&bin, "BasicAuth loader s3cr3t-pw");
    let server = OssLocal::start(&["--model", "bkt/m:1:2"]);
    let dir = TempDir::new("tinyproxy-auth");
    let good = tp.url().replace("http://", "http://loader:s3cr3t-pw@");
    let conn = Connector::new(
        &server.endpoint,
        good_credentials(),
        with_proxy(config(&dir), &good),
    )
    .expect("connector");
    load_all(&conn);
    drop(conn);
    assert!(!tp.requests().is_empty());

    // A wrong password: the proxy answers 407, and the load fails.
    let bad = tp.url().replace("http://", "http://loader:wr0ng-pw@");
    let conn = Connector::new(
        &server.endpoint,
        good_credentials(),
        with_proxy(config(&dir), &bad),
    )
    .expect("connector");
    let err = conn.list("bkt", "").unwrap_err();
    // tinyproxy answers 401 (not 407) to absolute-form requests without valid credentials.
    assert!(matches!(err.http_status(), Some(401 | 407)), "{err}");
    let text = format!("{err} {err:?} {:?}", with_proxy(config(&dir), &bad));
    drop(conn);
    let log = std::fs::read_to_string(dir.path("connector.log")).unwrap();
    let audit = std::fs::read_to_string(dir.path("audit.log")).unwrap();
    assert!(
        log.contains(&format!("proxy http://***@127.0.0.1:{}", tp.port)),
        "{log}"
    );
    for (what, s) in [("error", &text), ("log", &log), ("audit", &audit)] {
        assert!(
            !s.contains("s3cr3t-pw") && !s.contains("wr0ng-pw"),
            "{what}: {s}"
        );
    }
}

#[test]
fn no_proxy_sends_requests_past_tinyproxy() {
    let Some(bin) = tinyproxy_or_skip("no_proxy_sends_requests_past_tinyproxy") else {
        return;
    };
    let tp = TinyProxy::start(&bin, "");
    let server = OssLocal::start(&["--model", "bkt/m:2:4"]);
    for list in [vec!["127.0.0.1".to_owned()], vec!["*".to_owned()]] {
        let dir = TempDir::new("no-proxy");
        let mut cfg = with_proxy(config(&dir), &tp.url());
        cfg.no_proxy = Some(list);
        let conn = connector(&server, cfg);
        load_all(&conn);
    }
    // A list that does not match the host leaves the proxy in use.
    let dir = TempDir::new("no-proxy-other");
    let mut cfg = with_proxy(config(&dir), &tp.url());
    cfg.no_proxy = Some(vec!["127.0.0.10".to_owned(), "example.com".to_owned()]);
    assert!(tp.requests().is_empty(), "{:?}", tp.requests());
    load_all(&connector(&server, cfg));
    assert!(!tp.requests().is_empty());
}

#[test]
fn an_https_endpoint_goes_through_a_connect_tunnel() {
    let Some(bin) = tinyproxy_or_skip("an_https_endpoint_goes_through_a_connect_tunnel") else {
        return;
    };
    let tp = TinyProxy::start(&bin, "");
    // oss-local speaks no TLS, so the handshake inside the tunnel fails; what matters here
    // is the route: the proxy sees a CONNECT to the endpoint, never the request itself.
    let server = OssLocal::start(&["--model", "bkt/m:1:1"]);
    let dir = TempDir::new("tinyproxy-connect");
    let mut cfg = with_proxy(config(&dir), &tp.url());
    cfg.retry.max_attempts = 1;
    let endpoint = format!("https://127.0.0.1:{}", server.port);
    let conn = Connector::new(&endpoint, good_credentials(), cfg).expect("connector");
    let err = conn.list("bkt", "").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    let seen = tp.requests();
    assert_eq!(
        seen,
        vec![format!("CONNECT 127.0.0.1:{} HTTP/1.1", server.port)],
        "{seen:?}"
    );
    assert_eq!(stat(&server, "total_requests"), 0);
}

// ---------------------------------------------------------------------------------------
// no tinyproxy needed

#[test]
fn a_dead_proxy_fails_the_request_and_proxy_none_goes_direct() {
    let server = OssLocal::start(&["--model", "bkt/m:1:1"]);
    // A port nobody listens on.
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let dir = TempDir::new("dead-proxy");
    let mut cfg = with_proxy(config(&dir), &dead);
    cfg.retry.max_attempts = 2;
    let err = connector(&server, cfg).list("bkt", "").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    let mut cfg = config(&dir);
    cfg.proxy = ProxySetting::Off;
    load_all(&connector(&server, cfg));
}

#[test]
fn a_caching_proxy_answers_every_range_from_one_whole_copy() {
    let proxy = CachingProxy::start(Mode::default());
    // Authentication on: the proxy's whole-object fetch reuses the client's signed headers.
    let server = OssLocal::start(&["--model", "bkt/m:3:10"]);
    let dir = TempDir::new("cache-load");
    let mut cfg = config(&dir);
    cfg.prefetch.chunk_size = 1 << 20;
    let keys = load_all(&connector(&server, with_proxy(cfg, &proxy.url)));
    let served = proxy.served();
    let gets: Vec<_> = served.iter().filter(|s| s.range.is_some()).collect();
    assert_eq!(gets.len(), 30, "{served:#?}");
    let origin = format!("http://127.0.0.1:{}/bkt/m/", server.port);
    assert!(gets.iter().all(|s| s.method == "GET"
        && s.url.starts_with(&origin)
        && s.status == 206
        && (s.how == "hit" || s.how == "fill+hit")));
    // One whole fetch per object; the server never saw a range.
    assert_eq!(proxy.fills().len(), keys.len());
    assert_eq!(stat(&server, "status.206"), 0);
    assert_eq!(stat(&server, "requests.GetObject"), keys.len() as u64);

    // A second connector (another node behind the same proxy) gets every byte from the
    // cache: the server sees only its listing and HEADs.
    let before = stat(&server, "requests.GetObject");
    let dir2 = TempDir::new("cache-load-2");
    load_all(&connector(&server, with_proxy(config(&dir2), &proxy.url)));
    assert_eq!(stat(&server, "requests.GetObject"), before);
    assert_eq!(proxy.fills().len(), keys.len());
}

/// Loads `obj.bin` (`old`) through the proxy so it is cached, then replaces it on the
/// server with `new`, of the same size.
fn cache_then_replace(proxy: &CachingProxy, server: &OssLocal, old: &[u8], new: &[u8]) {
    put(server.port, "obj.bin", old);
    let dir = TempDir::new("stale-fill");
    let conn = connector(server, with_proxy(config(&dir), &proxy.url));
    read_expecting(&conn, "obj.bin", old).unwrap();
    put(server.port, "obj.bin", new);
    assert_eq!(proxy.fills().len(), 1);
}

#[test]
fn a_stale_cached_copy_is_never_handed_over() {
    let old = content("v1", 6 << 20);
    let new = content("v2", 6 << 20);
    for (honour_if_match, expect) in [(true, "412"), (false, "ignored If-Match")] {
        let (server, _root) = writable_server();
        let proxy = CachingProxy::start(Mode {
            honour_if_match,
            ..Mode::default()
        });
        cache_then_replace(&proxy, &server, &old, &new);
        // The HEAD goes through to the server and sees the new version's ETag; the cache
        // holds the old one. Whether the cache refuses the If-Match (412) or ignores it and
        // answers with the old ETag, ossmc hands over no byte and says the object changed.
        for hold_limit in [64 << 20, 0] {
            let dir = TempDir::new("stale");
            let mut cfg = with_proxy(config(&dir), &proxy.url);
            cfg.prefetch.hold_limit = hold_limit;
            let conn = connector(&server, cfg);
            let mut r = conn.open("oss://bkt/obj.bin").unwrap();
            let mut buf = vec![0u8; 1 << 20];
            let err = r.read(&mut buf).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ObjectChanged, "{err}");
            assert!(err.to_string().contains(expect), "{err}");
        }
        // Going around the cache gives the new version whole.
        let dir = TempDir::new("stale-direct");
        let mut cfg = config(&dir);
        cfg.proxy = ProxySetting::Off;
        read_expecting(&connector(&server, cfg), "obj.bin", &new).unwrap();
    }
}

#[test]
fn a_cache_that_also_answers_head_serves_the_old_version_whole() {
    // A cache that answers HEAD too is consistent: the old version, all of it, its own CRC.
    // ossmc cannot know the server has a newer one; it never mixes the two.
    let (server, _root) = writable_server();
    let proxy = CachingProxy::start(Mode {
        cache_head: true,
        ..Mode::default()
    });
    let old = content("v1", 6 << 20);
    cache_then_replace(&proxy, &server, &old, &content("v2", 6 << 20));
    let dir = TempDir::new("stale-head");
    let conn = connector(&server, with_proxy(config(&dir), &proxy.url));
    read_expecting(&conn, "obj.bin", &old).unwrap();
}

#[test]
fn a_corrupted_cached_copy_fails_its_crc_check() {
    let size = 6usize << 20;
    let damaged = (size / 2 + 12345) as u64;
    let good = content("good", size);
    for hold_limit in [64usize << 20, 0] {
        let (server, _root) = writable_server();
        let proxy = CachingProxy::start(Mode {
            corrupt_at: Some(damaged),
            ..Mode::default()
        });
        put(server.port, "obj.bin", &good);
        let dir = TempDir::new("corrupt");
        let mut cfg = with_proxy(config(&dir), &proxy.url);
        cfg.prefetch.chunk_size = 1 << 20;
        cfg.prefetch.hold_limit = hold_limit;
        let conn = connector(&server, cfg);
        let mut r = conn.open("oss://bkt/obj.bin").unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut at = 0usize;
        let err = loop {
            match r.read(&mut buf) {
                Ok(0) => panic!("read a corrupted object to its end without an error"),
                Ok(n) => {
                    // A held object hands over nothing unverified; a streamed one may hand
                    // over the damaged chunk, but never completes.
                    assert!(hold_limit == 0, "a held object handed over bytes");
                    if buf[..n] != good[at..at + n] {
                        assert!((at..at + n).contains(&(damaged as usize)));
                    }
                    at += n;
                }
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), ErrorKind::Corrupted, "{err}");
        // Both rounds came from the cache: the damaged copy was fetched whole only once.
        assert_eq!(proxy.fills().len(), 1);
        let ranged = proxy.served().iter().filter(|s| s.range.is_some()).count();
        assert!(
            ranged >= 12,
            "hold_limit {hold_limit}: {ranged} ranged requests"
        );
    }
}

#[test]
fn ranges_answered_with_200_and_their_content_range_load_like_206s() {
    // Dragonfly's dfdaemon proxy answers a ranged GET it serves with status 200, the range's
    // Content-Range and Content-Length (read from its source; not run here). ossmc takes
    // such an answer as a 206 when both headers say exactly the range asked for.
    let proxy = CachingProxy::start(Mode {
        ranges_as_200: true,
        ..Mode::default()
    });
    let server = OssLocal::start(&["--model", "bkt/m:2:10"]);
    let dir = TempDir::new("cache-200");
    let mut cfg = config(&dir);
    cfg.prefetch.chunk_size = 1 << 20;
    cfg.prefetch.hold_limit = 0;
    let conn = connector(&server, with_proxy(cfg, &proxy.url));
    let keys = load_all(&conn);
    // Random access too: direct reads of a few bytes in the middle.
    let mut r = conn.open(&format!("oss://bkt/{}", keys[1])).unwrap();
    let mut buf = vec![0u8; 1000];
    for at in [5_000_000u64, 123, 9_999_000] {
        r.seek(std::io::SeekFrom::Start(at)).unwrap();
        let n = r.read(&mut buf).unwrap();
        assert!(n > 0);
        assert_synthetic(r.key(), at, &buf[..n]);
    }
    let served = proxy.served();
    assert!(served
        .iter()
        .filter(|s| s.range.is_some())
        .all(|s| s.status == 200));
    assert!(served.iter().filter(|s| s.range.is_some()).count() >= 20);

    // The same answers from a damaged copy still fail the CRC-64 check.
    let proxy = CachingProxy::start(Mode {
        ranges_as_200: true,
        corrupt_at: Some(3 << 20),
        ..Mode::default()
    });
    let dir = TempDir::new("cache-200-corrupt");
    let conn = connector(&server, with_proxy(config(&dir), &proxy.url));
    let mut r = conn.open(&format!("oss://bkt/{}", keys[0])).unwrap();
    let err = read_all(&mut r).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupted, "{err}");
}
