//! Object operations: GetObject (ranges, conditions, response-* overrides), HeadObject and
//! GetObjectMeta (`HEAD ?objectMeta`), PutObject, DeleteObject.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH};

use crate::body::{ObjectStream, OssBody, Source, StreamOptions};
use crate::error::OssError;
use crate::faults::offset_in;
use crate::hostile::{other_etag, Lie, OVERLONG_BYTES};
use crate::range::{self, Outcome};
use crate::response::{self, set_header, Resp};
use crate::server::Ctx;
use crate::store::{guess_content_type, Bucket, Content, ObjectMeta};

/// Largest single PUT OSS accepts.
const MAX_PUT: u64 = 5 << 30;

/// Sub-resources of object requests this server does not implement.
const UNSUPPORTED: &[&str] = &[
    "acl",
    "tagging",
    "symlink",
    "restore",
    "append",
    "uploads",
    "uploadId",
    "partNumber",
    "x-oss-process",
    "versionId",
];

fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// Whether an `If-Match`/`If-None-Match` value names `etag` (quoted or not, `*`, or a list).
fn etag_matches(header: &str, etag: &str) -> bool {
    header.split(',').any(|t| {
        let t = t.trim();
        let t = t.strip_prefix("W/").unwrap_or(t);
        t == "*" || t.trim_matches('"').eq_ignore_ascii_case(etag)
    })
}

/// `Err` 412, `Ok(true)` for 304 Not Modified, `Ok(false)` to go on (RFC 7232 order).
fn check_conditions(ctx: &Ctx, meta: &ObjectMeta) -> Result<bool, OssError> {
    let modified = whole_seconds(meta.last_modified);
    let date = |name: &str| {
        ctx.header(name)
            .and_then(|v| httpdate::parse_http_date(v).ok())
    };
    if let Some(v) = ctx.header("if-match") {
        if !etag_matches(v, &meta.etag) {
            return Err(OssError::precondition_failed("If-Match"));
        }
    } else if let Some(since) = date("if-unmodified-since") {
        if modified > since {
            return Err(OssError::precondition_failed("If-Unmodified-Since"));
        }
    }
    if let Some(v) = ctx.header("if-none-match") {
        return Ok(etag_matches(v, &meta.etag));
    }
    if let Some(since) = date("if-modified-since") {
        return Ok(modified <= since);
    }
    Ok(false)
}

fn object_headers(resp: &mut Resp, meta: &ObjectMeta, light: bool) {
    set_header(resp, "etag", &format!("\"{}\"", meta.etag));
    set_header(resp, "last-modified", &http_date(meta.last_modified));
    set_header(resp, "x-oss-hash-crc64ecma", &meta.crc64.to_string());
    if light {
        return;
    }
    set_header(resp, "content-type", &meta.content_type);
    set_header(resp, "accept-ranges", "bytes");
    set_header(resp, "x-oss-object-type", "Normal");
    set_header(resp, "x-oss-storage-class", "Standard");
}

/// GetObject, or HeadObject / GetObjectMeta when `head`.
pub async fn get(ctx: &Ctx, bucket: &Arc<Bucket>, key: &str, head: bool) -> Result<Resp, OssError> {
    if !head {
        if let Some(sub) = UNSUPPORTED.iter().find(|s| ctx.query.has(s)) {
            return Err(OssError::not_implemented(format!(
                "oss-local does not implement GET ?{sub} on objects."
            )));
        }
    }
    let obj = bucket
        .lookup(key)
        .await?
        .ok_or_else(|| OssError::no_such_key(key))?;
    let hostile = &ctx.app.hostile;
    let lie = hostile.draw(head);
    // A replaced object whose server ignores If-Match: another ETag, conditions unchecked.
    let replaced;
    let meta = if lie == Some(Lie::EtagChange) {
        hostile.sent(Lie::EtagChange);
        replaced = ObjectMeta {
            etag: other_etag(&obj.meta.etag),
            ..obj.meta.clone()
        };
        &replaced
    } else {
        if check_conditions(ctx, &obj.meta)? {
            let mut r = response::base(304, &ctx.request_id, OssBody::empty());
            object_headers(&mut r, &obj.meta, true);
            return Ok(r);
        }
        &obj.meta
    };
    let size = meta.size;
    if head {
        let announced = match lie {
            Some(Lie::HugeLength) => u64::MAX,
            Some(Lie::WrongLength) => size + 1,
            _ => size,
        };
        if let Some(l) = lie {
            hostile.sent(l);
        }
        let mut r = response::base(200, &ctx.request_id, OssBody::empty());
        object_headers(&mut r, meta, ctx.query.has("objectMeta"));
        r.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(announced));
        return Ok(r);
    }
    let standard = ctx
        .header("x-oss-range-behavior")
        .is_some_and(|v| v.eq_ignore_ascii_case("standard"));
    let (status, start, end) = match range::resolve(ctx.header("range"), size, standard) {
        Outcome::Full => (200, 0, size),
        Outcome::Partial { start, end } => (206, start, end + 1),
        Outcome::Unsatisfiable => {
            return Err(OssError::invalid_range()
                .with("RangeRequested", ctx.header("range").unwrap_or(""))
                .with("ActualObjectSize", size.to_string()))
        }
    };
    let (status, start, end) = match (lie, status) {
        (Some(Lie::WholeObject), 206) => {
            hostile.sent(Lie::WholeObject);
            (200, 0, size)
        }
        (Some(Lie::WrongRange), 206) if end < size => {
            hostile.sent(Lie::WrongRange);
            (206, start + 1, end + 1)
        }
        (Some(Lie::WrongRange), 206) if start > 0 => {
            hostile.sent(Lie::WrongRange);
            (206, start - 1, end - 1)
        }
        _ => (status, start, end),
    };
    let len = end - start;
    let synthetic = matches!(obj.content, Content::Synthetic { .. });
    // Overlong: the body runs on past the range (a synthetic object has bytes everywhere).
    let extra = match lie {
        Some(Lie::Overlong) if len > 0 && synthetic => OVERLONG_BYTES,
        Some(Lie::Overlong) if len > 0 => OVERLONG_BYTES.min(size - end),
        _ => 0,
    };
    if extra > 0 {
        hostile.sent(Lie::Overlong);
    }
    let (source, from, to) = match obj.content {
        // Another version of a synthetic object: every byte differs.
        Content::Synthetic { seed } if lie == Some(Lie::EtagChange) => {
            (Source::Synthetic { seed: !seed }, start, end)
        }
        Content::Synthetic { seed } => (Source::Synthetic { seed }, start, end + extra),
        content if lie == Some(Lie::EtagChange) && len > 0 => {
            // Another version of a stored object: its first byte differs.
            let mut bytes = range_bytes(content, start, end).await?.to_vec();
            bytes[0] ^= 0xFF;
            (Source::Memory(bytes.into()), 0, len)
        }
        Content::Memory(b) => (Source::Memory(b), start, end + extra),
        Content::File(p) => (Source::File(p), start, end + extra),
    };
    let opts = StreamOptions {
        throttle: ctx.conn.throttle.clone(),
        reset_after: ctx
            .draw
            .reset
            .filter(|_| len > 0)
            .map(|f| offset_in(f, len)),
        corrupt_at: ctx
            .draw
            .corrupt
            .or_else(|| {
                (len > 0)
                    .then(|| ctx.app.faults.corrupt_first.take())
                    .flatten()
            })
            .filter(|_| len > 0)
            .map(|f| offset_in(f, len)),
    };
    let body = if len == 0 {
        OssBody::empty()
    } else {
        let stream = ObjectStream::new(source, from, to, opts, ctx.app.stats.clone());
        // A length of our own in the header: the body must not announce one too.
        OssBody::Stream(Box::new(if extra > 0 || lie == Some(Lie::HugeGetLength) {
            stream.unannounced()
        } else {
            stream
        }))
    };
    let mut r = response::base(status, &ctx.request_id, body);
    object_headers(&mut r, meta, false);
    if lie == Some(Lie::HugeGetLength) && len > 0 {
        hostile.sent(Lie::HugeGetLength);
        r.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(u64::MAX));
    } else if extra == 0 {
        r.headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(len));
    }
    if status == 206 {
        set_header(
            &mut r,
            "content-range",
            &format!("bytes {}-{}/{size}", start, end - 1),
        );
    }
    for (param, header) in [
        ("response-content-type", "content-type"),
        ("response-content-language", "content-language"),
        ("response-expires", "expires"),
        ("response-cache-control", "cache-control"),
        ("response-content-disposition", "content-disposition"),
        ("response-content-encoding", "content-encoding"),
    ] {
        if let Some(v) = ctx.query.value(param) {
            set_header(&mut r, header, v);
        }
    }
    Ok(r)
}

/// Bytes `start..end` of stored (not synthetic) content, read into memory.
async fn range_bytes(content: Content, start: u64, end: u64) -> Result<Bytes, OssError> {
    match content {
        Content::Memory(b) => Ok(b.slice(start as usize..end as usize)),
        Content::File(p) => tokio::task::spawn_blocking(move || {
            use std::os::unix::fs::FileExt;
            let mut buf = vec![0u8; (end - start) as usize];
            std::fs::File::open(&p)?.read_exact_at(&mut buf, start)?;
            Ok::<_, std::io::Error>(Bytes::from(buf))
        })
        .await
        .map_err(|e| OssError::internal(format!("reading the object failed: {e}")))?
        .map_err(|e| OssError::internal(format!("reading the object failed: {e}"))),
        Content::Synthetic { .. } => Err(OssError::internal("synthetic content is not stored")),
    }
}

/// PutObject.
pub async fn put(
    ctx: &Ctx,
    bucket: &Arc<Bucket>,
    key: &str,
    mut body: Incoming,
) -> Result<Resp, OssError> {
    if let Some(sub) = UNSUPPORTED.iter().find(|s| ctx.query.has(s)) {
        return Err(OssError::not_implemented(format!(
            "oss-local does not implement PUT ?{sub} on objects."
        )));
    }
    if ctx.headers.contains_key("x-oss-copy-source") {
        return Err(OssError::not_implemented(
            "oss-local does not implement CopyObject.",
        ));
    }
    let mut chunks = Vec::new();
    let mut total = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            OssError::new(
                400,
                "IncompleteBody",
                format!("The request body could not be read: {e}."),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            total += data.len() as u64;
            if total > MAX_PUT {
                return Err(OssError::new(
                    400,
                    "EntityTooLarge",
                    "Your proposed upload exceeds the maximum allowed size.",
                ));
            }
            chunks.push(data);
        }
    }
    if let Some(want) = ctx.header("content-md5") {
        use md5::{Digest as _, Md5};
        let mut h = Md5::new();
        for c in &chunks {
            h.update(c);
        }
        let got = base64::engine::general_purpose::STANDARD.encode(h.finalize());
        if got != want.trim() {
            return Err(OssError::new(
                400,
                "InvalidDigest",
                "The Content-MD5 you specified is not valid.",
            ));
        }
    }
    let content_type = ctx
        .header("content-type")
        .map_or_else(|| guess_content_type(key).to_owned(), str::to_owned);
    let meta = bucket.put(key, chunks, content_type).await?;
    let mut r = response::base(200, &ctx.request_id, OssBody::empty());
    set_header(&mut r, "etag", &format!("\"{}\"", meta.etag));
    set_header(&mut r, "x-oss-hash-crc64ecma", &meta.crc64.to_string());
    if let Ok(md5) = hex::decode(&meta.etag) {
        set_header(
            &mut r,
            "content-md5",
            &base64::engine::general_purpose::STANDARD.encode(md5),
        );
    }
    r.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(0));
    Ok(r)
}

/// DeleteObject: 204 whether or not the object existed.
pub fn delete(ctx: &Ctx, bucket: &Arc<Bucket>, key: &str) -> Result<Resp, OssError> {
    if let Some(sub) = UNSUPPORTED.iter().find(|s| ctx.query.has(s)) {
        return Err(OssError::not_implemented(format!(
            "oss-local does not implement DELETE ?{sub} on objects."
        )));
    }
    bucket.delete(key)?;
    let mut r = response::base(204, &ctx.request_id, OssBody::empty());
    r.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(0));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_matching() {
        assert!(etag_matches("\"ABC\"", "ABC"));
        assert!(etag_matches("abc", "ABC"));
        assert!(etag_matches("\"X\", \"ABC\"", "ABC"));
        assert!(etag_matches("*", "ABC"));
        assert!(etag_matches("W/\"ABC\"", "ABC"));
        assert!(!etag_matches("\"ABD\"", "ABC"));
    }
}
