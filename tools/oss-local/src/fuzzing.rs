//! Entry points for oss-local's fuzz targets and for the corpus replay test: each takes the
//! raw fuzz input, runs one request parser on it and checks what the parser promises.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::header::{HeaderName, HeaderValue};
use hyper::HeaderMap;

use crate::auth::{verify, AuthConfig, AuthRequest};
use crate::range::{resolve, Outcome};
use crate::routing::{self, Query, MAX_KEY_LEN};

/// A fuzz entry point: takes the raw input.
pub type Entry = fn(&[u8]);

/// The targets, by name: the corpus directory `fuzz/corpus/<name>/` of each.
pub const TARGETS: &[(&str, Entry)] = &[
    ("local_routing", local_routing),
    ("local_query", local_query),
    ("local_range", local_range),
    ("local_auth", local_auth),
];

/// Routing: `Host` value, a newline, then the raw path. A routed key is a valid key.
pub fn local_routing(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (host, path) = text.split_once('\n').unwrap_or(("", text));
    let host = (!host.is_empty()).then_some(host);
    // Some buckets exist, some do not.
    let exists = |b: &str| !b.contains('x');
    let service = ["oss-cn-hangzhou.aliyuncs.com".to_owned()];
    if let Ok(t) = routing::resolve(host, path, &exists, &service) {
        if let Some(key) = &t.key {
            assert!(!key.is_empty() && key.len() <= MAX_KEY_LEN);
            assert!(!key.starts_with('/') && !key.starts_with('\\'));
        }
        if t.virtual_hosted {
            assert!(routing::valid_bucket_name(t.bucket.as_deref().unwrap()));
        }
    }
    let _ = routing::strip_port(text);
}

/// A raw query string, as the router and as the signature verifiers decode it.
pub fn local_query(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(q) = Query::parse(text) {
        let _ = (q.has("prefix"), q.value("max-keys"));
    }
    let q = crate::auth::canonical::Query::parse(text);
    let _ = q.single("x-oss-credential");
    let _ = q.required_str("Expires");
}

/// A `Range` header: the object size (8 bytes, little-endian), a mode byte, then the header.
/// A partial answer lies inside the object.
pub fn local_range(data: &[u8]) {
    if data.len() < 9 {
        return;
    }
    let size = u64::from_le_bytes(data[..8].try_into().unwrap());
    let standard = data[8] & 1 == 1;
    let Ok(header) = std::str::from_utf8(&data[9..]) else {
        return;
    };
    match resolve(Some(header), size, standard) {
        Outcome::Partial { start, end } => assert!(start <= end && end < size),
        Outcome::Unsatisfiable => assert!(standard),
        Outcome::Full => {}
    }
}

const AK: &str = "LTAI5tTestAccessKeyId";
const SECRET: &str = "TestAccessKeySecret123";
const TOKEN: &str = "CAISTestSecurityToken/Exa+mple==";
/// 2025-03-14 12:34:56 UTC, the clock the seed requests were signed at.
const VECTOR_EPOCH: u64 = 1_741_955_696;

/// A request as text (`METHOD /path?query HTTP/1.1`, then `Name: value` lines), verified the
/// way the server does after routing it (bucket from the Host's first label), with the
/// credentials and clock the seed requests were signed with.
pub fn local_auth(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) else {
            continue;
        };
        headers.append(n, v);
    }
    let (path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let bucket = host.split('.').next().unwrap_or("");
    let key = String::from_utf8(routing::percent_decode(
        path.strip_prefix('/').unwrap_or(path),
    ))
    .unwrap_or_default();
    let token = text.contains("security-token").then(|| TOKEN.to_owned());
    let cfg = AuthConfig {
        access_key_id: AK.to_owned(),
        access_key_secret: SECRET.to_owned(),
        security_token: token,
        region: "cn-hangzhou".to_owned(),
        enabled: true,
    };
    let req = AuthRequest {
        method,
        bucket: (!bucket.is_empty()).then_some(bucket),
        key: (!key.is_empty()).then_some(key.as_str()),
        raw_query,
        headers: &headers,
        now: UNIX_EPOCH + Duration::from_secs(VECTOR_EPOCH),
    };
    let _ = verify(&cfg, &req);
    // The same request far from the time it was signed at.
    let _ = verify(
        &cfg,
        &AuthRequest {
            now: SystemTime::UNIX_EPOCH,
            ..req
        },
    );
}
