//! Helpers shared by the integration tests: starting a server without authentication, a
//! raw HTTP/1.1 client for requests a normal client would refuse to send (odd paths,
//! explicit `Host`), and small XML/JSON readers.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;

use ossmc_testkit::oss_local::OssLocal;

/// Starts oss-local with `--no-auth` and `args`.
pub fn start(args: &[&str]) -> OssLocal {
    let mut all = vec!["--no-auth"];
    all.extend_from_slice(args);
    OssLocal::start(&all)
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request on a fresh connection (`Connection: close`) and reads the response.
/// `path` is sent exactly as given; `headers` are `(name, value)`; a `Host` header is added
/// unless given.
pub fn raw(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    s.write_all(req.as_bytes()).expect("send");
    s.write_all(body).expect("send body");
    let mut data = Vec::new();
    // A reset connection ends the read with an error; what arrived before it counts.
    let _ = s.read_to_end(&mut data);
    parse(&data, method == "HEAD")
}

fn parse(data: &[u8], head: bool) -> Resp {
    let end = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(data)));
    let head_text = std::str::from_utf8(&data[..end]).expect("ASCII head");
    let mut lines = head_text.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = if head {
        Vec::new()
    } else {
        data[end + 4..].to_vec()
    };
    Resp {
        status,
        headers,
        body,
    }
}

/// GET `path` with extra headers.
pub fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> Resp {
    raw(port, "GET", path, headers, b"")
}

/// The texts of every `<tag>` element, in order (not nested tags of the same name).
pub fn tags(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        rest = &rest[i + open.len()..];
        let j = rest.find(&close).expect("closing tag");
        out.push(rest[..j].to_owned());
        rest = &rest[j + close.len()..];
    }
    out
}

/// The first `<tag>` text.
pub fn tag(xml: &str, tag: &str) -> Option<String> {
    tags(xml, tag).into_iter().next()
}

/// Reverses XML escaping of text.
pub fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Percent-decodes (`+` stays `+`).
pub fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(h, 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Percent-encodes everything outside `A-Z a-z 0-9 - _ . ~` (and `/` when `keep_slash`).
pub fn url_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || b"-_.~".contains(&c) || (keep_slash && c == b'/') {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// The `/_stats` document.
pub fn stats(server: &OssLocal) -> serde_json::Value {
    serde_json::from_str(&server.stats_json()).expect("stats JSON")
}

/// Synthetic bytes `offset..offset + len` of `key`.
pub fn synthetic(key: &str, offset: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    ossmc_testkit::synthetic::fill(ossmc_testkit::synthetic::seed(key), offset, &mut v);
    v
}

/// A fresh empty directory under the system temp dir, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p =
            std::env::temp_dir().join(format!("oss-local-test-{}-{name}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Decodes a chunked body (`Transfer-Encoding: chunked`); `None` unless it is complete and
/// well-formed, its last chunk included.
pub fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return (body == b"\r\n").then_some(out);
        }
        if body.len() < size + 2 || &body[size..size + 2] != b"\r\n" {
            return None;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}
