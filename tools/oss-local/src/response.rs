//! Building responses: the headers every response carries (`x-oss-request-id`, `Server`),
//! OSS error bodies (XML; for HEAD, no body and the XML base64-encoded in `x-oss-err`), and
//! request ids.

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, SERVER};
use hyper::{Response, StatusCode};

use crate::body::OssBody;
use crate::error::OssError;
use crate::listing_xml::xml_escape;

/// The response type of every handler.
pub type Resp = Response<OssBody>;

/// The header carrying the request id.
pub const X_OSS_REQUEST_ID: &str = "x-oss-request-id";

/// A new request id: 24 upper-case hex digits, unique within the process and unlikely to
/// repeat across processes (the first 8 digits come from the start time and pid).
pub fn new_request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static PREFIX: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let prefix = *PREFIX.get_or_init(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as u32);
        t ^ std::process::id().rotate_left(16)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix:08X}{n:016X}")
}

/// Sets a header from a string, skipping values that cannot be header values.
pub fn set_header(resp: &mut Resp, name: &'static str, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(v) => {
            resp.headers_mut().insert(HeaderName::from_static(name), v);
        }
        Err(_) => log::warn!("not sending header {name}: its value is not a valid header value"),
    }
}

/// A response with `status` and `body`, carrying the common headers.
pub fn base(status: u16, request_id: &str, body: OssBody) -> Resp {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(SERVER, HeaderValue::from_static("AliyunOSS"));
    set_header(&mut resp, X_OSS_REQUEST_ID, request_id);
    resp
}

/// A 200 XML response.
pub fn xml(request_id: &str, body: String) -> Resp {
    let len = body.len();
    let mut resp = base(200, request_id, OssBody::full(body));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    resp.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

/// The XML body of an error.
pub fn error_xml(e: &OssError, request_id: &str, host_id: &str) -> String {
    let mut s = String::with_capacity(512);
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n");
    let mut elem = |name: &str, value: &str| {
        s.push_str("  <");
        s.push_str(name);
        s.push('>');
        xml_escape(value, &mut s);
        s.push_str("</");
        s.push_str(name);
        s.push_str(">\n");
    };
    elem("Code", e.code);
    elem("Message", &e.message);
    elem("RequestId", request_id);
    elem("HostId", host_id);
    for (name, value) in &e.extra {
        elem(name, value);
    }
    if let Some(ec) = e.ec {
        elem("EC", ec);
    }
    s.push_str("</Error>\n");
    s
}

/// The response for an error: XML body, or for HEAD no body and `x-oss-err`.
pub fn error(e: &OssError, request_id: &str, host_id: &str, head: bool) -> Resp {
    let xml = error_xml(e, request_id, host_id);
    let mut resp = if head {
        let mut r = base(e.status, request_id, OssBody::empty());
        let encoded = base64::engine::general_purpose::STANDARD.encode(xml.as_bytes());
        set_header(&mut r, "x-oss-err", &encoded);
        r.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(0));
        r
    } else {
        let len = xml.len();
        let mut r = base(e.status, request_id, OssBody::full(xml));
        r.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(len));
        r
    };
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    if let Some(ec) = e.ec {
        set_header(&mut resp, "x-oss-ec", ec);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_24_upper_hex_and_unique() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        for id in [a, b] {
            assert_eq!(id.len(), 24);
            assert!(
                id.bytes()
                    .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(&c)),
                "{id}"
            );
        }
    }

    #[test]
    fn error_xml_has_the_required_elements() {
        let e = OssError::no_such_key("a<b").with_ec("0026-00000001");
        let x = error_xml(&e, "ID", "b.localhost");
        for part in [
            "<Code>NoSuchKey</Code>",
            "<RequestId>ID</RequestId>",
            "<HostId>b.localhost</HostId>",
            "<Key>a&lt;b</Key>",
            "<EC>0026-00000001</EC>",
        ] {
            assert!(x.contains(part), "{part} missing from {x}");
        }
        let r = error(&e, "ID", "h", true);
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()["x-oss-ec"], "0026-00000001");
        let b64 = r.headers()["x-oss-err"].to_str().unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            x.replace("<HostId>b.localhost", "<HostId>h")
        );
    }
}
