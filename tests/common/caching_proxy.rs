//! A small caching forward proxy for the proxy tests, in the spirit of Dragonfly's dfdaemon
//! or a CDN: the first GET of an object URL fetches the WHOLE object from upstream (no
//! `Range`, no `If-Match`, the client's other headers and signature kept), keeps it, and
//! answers every ranged GET from that copy itself (206 with its own `Content-Range`, passing
//! on the stored `ETag` and `x-oss-hash-crc64ecma`). HEADs and listings (URLs with a query)
//! pass through to upstream unless told otherwise.
//!
//! Knobs to make it misbehave the way real caches can: answer HEAD from the cache too
//! (`cache_head`), ignore `If-Match` (`honour_if_match: false`), damage one byte of every
//! copy it stores (`corrupt_at`), and answer ranges with 200 as Dragonfly's dfdaemon proxy
//! does (`ranges_as_200`).
//!
//! Plain HTTP/1.1 with `Content-Length` bodies only (what oss-local and ossmc speak); one
//! thread per client connection, keep-alive towards the client, one upstream connection per
//! upstream request.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// How the proxy behaves.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    /// Answer `If-Match` that differs from the cached ETag with 412 (RFC 9110); when false
    /// the stored copy is served whatever the request's `If-Match` says.
    pub honour_if_match: bool,
    /// Answer HEAD from the cache when the object is cached.
    pub cache_head: bool,
    /// Flip the bits of the byte at this offset of every object stored.
    pub corrupt_at: Option<u64>,
    /// Answer ranges with 200 (and the range's Content-Range and Content-Length), as
    /// Dragonfly's dfdaemon proxy does, instead of 206.
    pub ranges_as_200: bool,
}

impl Default for Mode {
    fn default() -> Self {
        Mode {
            honour_if_match: true,
            cache_head: false,
            corrupt_at: None,
            ranges_as_200: false,
        }
    }
}

/// One request the proxy handled: method, absolute URL, the `Range` asked for, and how it
/// was answered (`hit`, `fill+hit`, `pass`, `412`).
#[derive(Debug, Clone)]
pub struct Served {
    pub method: String,
    pub url: String,
    pub range: Option<String>,
    pub how: &'static str,
    pub status: u16,
}

struct Cached {
    etag: String,
    /// Headers passed on with every answer from the copy (`etag`, `x-oss-hash-crc64ecma`,
    /// `last-modified`, `content-type`).
    headers: Vec<(String, String)>,
    body: Arc<Vec<u8>>,
}

struct State {
    mode: Mode,
    cache: Mutex<HashMap<String, Arc<Cached>>>,
    served: Mutex<Vec<Served>>,
    /// Whole-object fetches from upstream.
    fills: Mutex<Vec<String>>,
    /// Held while filling, so that concurrent misses on one URL fetch it once (as caches
    /// and Dragonfly's single back-to-source download do).
    filling: Mutex<()>,
    stop: AtomicBool,
}

/// A running proxy on 127.0.0.1, stopped when dropped.
pub struct CachingProxy {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    port: u16,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

impl CachingProxy {
    pub fn start(mode: Mode) -> CachingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            mode,
            cache: Mutex::new(HashMap::new()),
            served: Mutex::new(Vec::new()),
            fills: Mutex::new(Vec::new()),
            filling: Mutex::new(()),
            stop: AtomicBool::new(false),
        });
        let st = Arc::clone(&state);
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = Arc::clone(&st);
                std::thread::spawn(move || {
                    let _ = serve_client(&st, conn);
                });
            }
        });
        CachingProxy {
            url: format!("http://127.0.0.1:{port}"),
            port,
            state,
            accept: Some(accept),
        }
    }

    /// Every request handled so far.
    pub fn served(&self) -> Vec<Served> {
        self.state.served.lock().unwrap().clone()
    }

    /// The URLs fetched whole from upstream, in order.
    pub fn fills(&self) -> Vec<String> {
        self.state.fills.lock().unwrap().clone()
    }
}

impl Drop for CachingProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

/// A request or response head: the first line and the headers (names lower-cased).
struct Head {
    line: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads a head; `None` at a clean end of stream.
fn read_head(r: &mut impl BufRead) -> std::io::Result<Option<Head>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let line = line.trim_end().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    Ok(Some(Head { line, headers }))
}

fn serve_client(st: &State, conn: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    while let Some(req) = read_head(&mut reader)? {
        if st.stop.load(Ordering::SeqCst) {
            break;
        }
        let mut parts = req.line.split(' ');
        let (method, target) = (
            parts.next().unwrap_or("").to_owned(),
            parts.next().unwrap_or("").to_owned(),
        );
        let Some(rest) = target.strip_prefix("http://") else {
            // Not a forward-proxy request (origin form, or CONNECT): refuse.
            record(st, &method, &target, &req, "refused", 400);
            write_response(
                &mut out,
                400,
                &[],
                b"absolute-form http:// requests only",
                false,
            )?;
            continue;
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let range = req.get("range").map(str::to_owned);
        let cacheable = method == "GET" && !path.contains('?');
        let cached = st.cache.lock().unwrap().get(&target).cloned();
        if method == "HEAD" && st.mode.cache_head {
            if let Some(c) = cached {
                let mut h = c.headers.clone();
                h.push(("content-length".into(), c.body.len().to_string()));
                record(st, &method, &target, &req, "hit", 200);
                write_response(&mut out, 200, &h, b"", true)?;
                continue;
            }
        }
        if !cacheable {
            let (status, headers, body) = upstream(authority, &method, path, &req, &[])?;
            let mut h = headers;
            h.push(("content-length".into(), body_len(&method, &h, &body)));
            record(st, &method, &target, &req, "pass", status);
            write_response(&mut out, status, &h, &body, method == "HEAD")?;
            continue;
        }
        let filling = cached.is_none().then(|| st.filling.lock().unwrap());
        let cached = match cached {
            Some(c) => Some(c),
            None => st.cache.lock().unwrap().get(&target).cloned(),
        };
        let (c, how) = match cached {
            Some(c) => (c, "hit"),
            None => {
                // Fill: the whole object, without the client's Range and If-Match.
                let (status, headers, mut body) =
                    upstream(authority, "GET", path, &req, &["range", "if-match"])?;
                if status != 200 {
                    let mut h = headers;
                    h.push(("content-length".into(), body.len().to_string()));
                    record(st, &method, &target, &req, "pass", status);
                    write_response(&mut out, status, &h, &body, false)?;
                    continue;
                }
                if let Some(at) = st.mode.corrupt_at {
                    if let Some(b) = body.get_mut(at as usize) {
                        *b ^= 0xff;
                    }
                }
                let keep = [
                    "etag",
                    "x-oss-hash-crc64ecma",
                    "last-modified",
                    "content-type",
                ];
                let headers: Vec<(String, String)> = headers
                    .into_iter()
                    .filter(|(n, _)| keep.contains(&n.as_str()))
                    .collect();
                let etag = headers
                    .iter()
                    .find(|(n, _)| n == "etag")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let c = Arc::new(Cached {
                    etag,
                    headers,
                    body: Arc::new(body),
                });
                st.fills.lock().unwrap().push(target.clone());
                st.cache
                    .lock()
                    .unwrap()
                    .insert(target.clone(), Arc::clone(&c));
                (c, "fill+hit")
            }
        };
        drop(filling);
        if st.mode.honour_if_match {
            if let Some(m) = req.get("if-match") {
                if m != c.etag && m != "*" {
                    let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold (cached copy)</Message><RequestId>CACHE</RequestId></Error>";
                    let h = vec![
                        ("content-type".into(), "application/xml".into()),
                        ("x-oss-request-id".into(), "CACHE".into()),
                        ("content-length".into(), body.len().to_string()),
                    ];
                    record(st, &method, &target, &req, "412", 412);
                    write_response(&mut out, 412, &h, body, false)?;
                    continue;
                }
            }
        }
        let total = c.body.len() as u64;
        let mut h = c.headers.clone();
        h.push(("x-oss-request-id".into(), "CACHE".into()));
        let (status, slice) = match range.as_deref().and_then(|r| parse_range(r, total)) {
            Some((a, b)) => {
                h.push(("content-range".into(), format!("bytes {a}-{b}/{total}")));
                let status = if st.mode.ranges_as_200 { 200 } else { 206 };
                (status, &c.body[a as usize..=b as usize])
            }
            None => (200, &c.body[..]),
        };
        h.push(("content-length".into(), slice.len().to_string()));
        record(st, &method, &target, &req, how, status);
        write_response(&mut out, status, &h, slice, false)?;
    }
    let _ = out.shutdown(Shutdown::Both);
    Ok(())
}

fn body_len(method: &str, headers: &[(String, String)], body: &[u8]) -> String {
    if method == "HEAD" {
        // A HEAD answer says the object's length, not the (empty) body's.
        headers
            .iter()
            .find(|(n, _)| n == "x-proxy-upstream-length")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| "0".into())
    } else {
        body.len().to_string()
    }
}

/// Notes a request as served. Called before its answer is written, so a client that has the
/// answer always finds the request recorded.
fn record(st: &State, method: &str, url: &str, req: &Head, how: &'static str, status: u16) {
    st.served.lock().unwrap().push(Served {
        method: method.to_owned(),
        url: url.to_owned(),
        range: req.get("range").map(str::to_owned),
        how,
        status,
    });
}

/// `bytes=a-b` (or `bytes=a-`) within `total`.
fn parse_range(r: &str, total: u64) -> Option<(u64, u64)> {
    let (a, b) = r.strip_prefix("bytes=")?.split_once('-')?;
    let a: u64 = a.parse().ok()?;
    let b: u64 = if b.is_empty() {
        total.checked_sub(1)?
    } else {
        b.parse::<u64>().ok()?.min(total.checked_sub(1)?)
    };
    (a <= b).then_some((a, b))
}

/// Status, headers and body of an upstream response.
type Answer = (u16, Vec<(String, String)>, Vec<u8>);

/// Sends one request to `authority` (a new connection) with the client's headers, less the
/// hop-by-hop ones and `drop`; returns status, headers (less hop-by-hop) and body.
fn upstream(
    authority: &str,
    method: &str,
    path: &str,
    req: &Head,
    drop: &[&str],
) -> std::io::Result<Answer> {
    let hop = [
        "connection",
        "proxy-connection",
        "proxy-authorization",
        "keep-alive",
    ];
    let mut s = TcpStream::connect(authority)?;
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    for (n, v) in &req.headers {
        if !hop.contains(&n.as_str()) && !drop.contains(&n.as_str()) {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    head.push_str("connection: close\r\n\r\n");
    s.write_all(head.as_bytes())?;
    let mut r = BufReader::new(s);
    let resp = read_head(&mut r)?.ok_or(std::io::ErrorKind::UnexpectedEof)?;
    let status: u16 = resp
        .line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(502);
    let len = resp
        .get("content-length")
        .and_then(|v| v.parse::<usize>().ok());
    let mut body = Vec::new();
    if method != "HEAD" {
        match len {
            Some(n) => {
                body.resize(n, 0);
                r.read_exact(&mut body)?;
            }
            None => {
                r.read_to_end(&mut body)?;
            }
        }
    }
    let mut headers: Vec<(String, String)> = resp
        .headers
        .into_iter()
        .filter(|(n, _)| {
            !hop.contains(&n.as_str()) && n != "content-length" && n != "transfer-encoding"
        })
        .collect();
    if method == "HEAD" {
        headers.push((
            "x-proxy-upstream-length".into(),
            len.unwrap_or(0).to_string(),
        ));
    }
    Ok((status, headers, body))
}

fn write_response(
    out: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        206 => "Partial Content",
        400 => "Bad Request",
        412 => "Precondition Failed",
        _ => "Status",
    };
    let mut h = format!("HTTP/1.1 {status} {reason}\r\n");
    for (n, v) in headers {
        if n != "x-proxy-upstream-length" {
            h.push_str(&format!("{n}: {v}\r\n"));
        }
    }
    h.push_str("\r\n");
    out.write_all(h.as_bytes())?;
    if !head_only {
        out.write_all(body)?;
    }
    out.flush()
}
