//! One ranged GET of an object into its final buffer, with the chunk's CRC computed as the
//! bytes arrive (while they are still in cache), resumed at the right offset after a broken
//! body, and accepted only if the server answered exactly the range asked for.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::crc::ChunkCrc;
use crate::client::{Attempt, CancelToken, Client, Request};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::CrcKind;

/// What the reader and the prefetcher know about an open object (from its HEAD).
#[derive(Debug)]
pub(crate) struct ObjectMeta {
    pub bucket: String,
    pub key: String,
    /// As the server sent it (quoted); sent back in `If-Match`.
    pub etag: String,
    pub size: u64,
    /// The whole object's CRC-64 (OSS's `x-oss-hash-crc64ecma`, S3's
    /// `x-amz-checksum-crc64nvme`), if the server sent one.
    pub crc64: Option<u64>,
    /// The polynomial of `crc64` (and of every chunk CRC computed for the object).
    pub crc_kind: CrcKind,
    /// The URI scheme of the connector's protocol with its `://` (`oss://`, `s3://`), for
    /// messages.
    pub scheme: &'static str,
}

impl ObjectMeta {
    /// The object's URI (`oss://bucket/key`, `s3://bucket/key`), for messages.
    pub(crate) fn uri(&self) -> String {
        format!("{}{}/{}", self.scheme, self.bucket, self.key)
    }
}

/// Fetches `buf.len()` bytes of the object from `start` into `buf`; returns their CRC-64 (0
/// when the object has no CRC to check).
///
/// Every request carries `If-Match` with the ETag from open, so a replaced object fails with
/// [`ErrorKind::ObjectChanged`] instead of mixing versions. A body that breaks off is resumed
/// from the first missing byte (the bytes already in `buf` and in the CRC stay), so no byte is
/// appended twice. Every byte received is added to `received` as it arrives.
pub(crate) fn fetch_range(
    client: &Client,
    cancel: &CancelToken,
    meta: &Arc<ObjectMeta>,
    start: u64,
    buf: &mut [u8],
    received: &AtomicU64,
) -> Result<u64> {
    let len = buf.len();
    let mut filled = 0usize;
    let mut crc = ChunkCrc::new(meta.crc_kind);
    // Without the server's CRC there is nothing to check a chunk's CRC against: skip it (about
    // 5% of a load's CPU).
    let check = meta.crc64.is_some();
    if len == 0 {
        return Ok(0);
    }
    client.call(cancel, |ex| {
        let a = start + filled as u64;
        let b = start + len as u64 - 1;
        let req = Request {
            op: "GetObject",
            method: "GET",
            bucket: &meta.bucket,
            key: Some(&meta.key),
            query: Vec::new(),
            headers: vec![
                ("if-match".to_owned(), meta.etag.clone()),
                ("range".to_owned(), format!("bytes={a}-{b}")),
            ],
            range: Some((a, b)),
        };
        let mut resp = match ex.send(&req) {
            Ok(r) => r,
            Err(Attempt::Fail(e)) if e.kind() == ErrorKind::ObjectChanged => {
                return Attempt::Fail(object_changed(meta, e.request_id()));
            }
            Err(Attempt::Fail(e)) if e.http_status() == Some(416) => {
                // Every range asked for lies within the size from open.
                return Attempt::Fail(size_disagrees(
                    meta,
                    &format!("refused bytes {a}-{b} as out of range"),
                    416,
                    e.request_id(),
                ));
            }
            Err(a) => return a,
        };
        // A server that ignores If-Match answers with another version: its ETag gives it
        // away before any of its bytes is read.
        match resp.header("etag").map(str::trim) {
            Some(etag) if !etag.eq_ignore_ascii_case(&meta.etag) => {
                return Attempt::Fail(
                    Error::new(
                        ErrorKind::ObjectChanged,
                        format!(
                            "the object was replaced while it was being read: GetObject for \
                             bytes {a}-{b} answered HTTP {} with ETag {etag}, not {} (the \
                             server ignored If-Match)",
                            resp.status, meta.etag
                        ),
                    )
                    .with_response(resp.status, Some(&resp.request_id))
                    .with_object(&meta.bucket, Some(&meta.key)),
                );
            }
            _ => {}
        }
        let want = b - a + 1;
        match resp.status {
            206 => {
                let cr = resp.header("content-range");
                match check_content_range(cr, a, b, meta.size) {
                    RangeAnswer::Match => {}
                    RangeAnswer::OtherSize => {
                        // Same range of a different-sized object: it was replaced.
                        let what = format!(
                            "answered bytes {a}-{b} with Content-Range {:?}",
                            cr.unwrap_or("")
                        );
                        return Attempt::Fail(size_disagrees(
                            meta,
                            &what,
                            resp.status,
                            Some(&resp.request_id),
                        ));
                    }
                    RangeAnswer::Wrong => {
                        return Attempt::Fail(
                            Error::new(
                                ErrorKind::Protocol,
                                format!(
                                    "GetObject asked for bytes {a}-{b} and got Content-Range {cr:?} \
                                     (request id {})",
                                    resp.request_id
                                ),
                            )
                            .with_object(&meta.bucket, Some(&meta.key)),
                        );
                    }
                }
            }
            200 if a == 0 && b + 1 == meta.size => {}
            // Dragonfly's dfdaemon proxy answers a ranged GET with 200 and the Content-Range
            // and Content-Length of the range. Taken as a 206 only when both say exactly the
            // range asked for (the body's length is checked below too), so a 200 carrying
            // the whole object is still refused before any of its bytes is read.
            200 if check_content_range(resp.header("content-range"), a, b, meta.size)
                == RangeAnswer::Match
                && resp
                    .header("content-length")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    == Some(want) => {}
            s => {
                return Attempt::Fail(
                    Error::new(
                        ErrorKind::Protocol,
                        format!(
                            "GetObject asked for bytes {a}-{b} and got HTTP {s} instead of 206 \
                             (request id {})",
                            resp.request_id
                        ),
                    )
                    .with_object(&meta.bucket, Some(&meta.key)),
                );
            }
        }
        if let Some(cl) = resp.header("content-length").and_then(|v| v.trim().parse::<u64>().ok())
        {
            if cl != want {
                return Attempt::Fail(
                    Error::new(
                        ErrorKind::Protocol,
                        format!(
                            "GetObject for bytes {a}-{b} announced {cl} bytes instead of {want} \
                             (request id {})",
                            resp.request_id
                        ),
                    )
                    .with_object(&meta.bucket, Some(&meta.key)),
                );
            }
        }
        let before = filled;
        let mut reader = resp.reader();
        while filled < len {
            if cancel.is_cancelled() {
                drop(reader);
                return Attempt::Fail(Error::new(ErrorKind::Cancelled, "the object was closed"));
            }
            match reader.read(&mut buf[filled..]) {
                Ok(0) => {
                    drop(reader);
                    let e = std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the connection closed early",
                    );
                    return Attempt::Retry(ex.client().body_error(&req, &e, (filled - before) as u64, Some(want)));
                }
                Ok(n) => {
                    if check {
                        crc.update(&buf[filled..filled + n]);
                    }
                    filled += n;
                    received.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    drop(reader);
                    return Attempt::Retry(ex.client().body_error(&req, &e, (filled - before) as u64, Some(want)));
                }
            }
        }
        // Reading to the end of the body lets ureq put the connection back in its pool.
        let mut probe = [0u8; 1];
        let extra = reader.read(&mut probe).unwrap_or(0);
        drop(reader);
        if extra != 0 {
            return Attempt::Fail(
                Error::new(
                    ErrorKind::Protocol,
                    format!(
                        "GetObject for bytes {a}-{b} sent more than the {want} bytes asked \
                         for (request id {})",
                        resp.request_id
                    ),
                )
                .with_object(&meta.bucket, Some(&meta.key)),
            );
        }
        Attempt::Done(crc.finish())
    })
}

/// The server contradicts the size it reported at open: the object was replaced, or the
/// server is inconsistent. Either way none of its bytes are used.
fn size_disagrees(
    meta: &ObjectMeta,
    what: &str,
    http_status: u16,
    request_id: Option<&str>,
) -> Error {
    Error::new(
        ErrorKind::ObjectChanged,
        format!(
            "GetObject {what} (HTTP {http_status}), but the object was {} bytes at open: it \
             was replaced or the server is inconsistent",
            meta.size
        ),
    )
    .with_response(http_status, request_id)
    .with_object(&meta.bucket, Some(&meta.key))
}

/// How a 206 response's Content-Range compares with the range asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeAnswer {
    /// Exactly `bytes a-b/size`.
    Match,
    /// The range asked for, of an object of another size.
    OtherSize,
    /// Missing, malformed, or another range.
    Wrong,
}

/// Checks the Content-Range of the response to a GET of bytes `a..=b` of an object of `size`
/// bytes.
pub(crate) fn check_content_range(cr: Option<&str>, a: u64, b: u64, size: u64) -> RangeAnswer {
    let Some(cr) = cr.map(str::trim) else {
        return RangeAnswer::Wrong;
    };
    if cr == format!("bytes {a}-{b}/{size}") {
        RangeAnswer::Match
    } else if cr.starts_with(&format!("bytes {a}-{b}/")) {
        RangeAnswer::OtherSize
    } else {
        RangeAnswer::Wrong
    }
}

fn object_changed(meta: &ObjectMeta, request_id: Option<&str>) -> Error {
    Error::from_oss(
        412,
        Some("PreconditionFailed".to_owned()),
        format!(
            "the object was replaced while it was being read (its ETag is no longer {})",
            meta.etag
        ),
        request_id.map(str::to_owned),
    )
    .with_object(&meta.bucket, Some(&meta.key))
}
