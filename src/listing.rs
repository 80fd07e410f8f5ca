//! Listing objects: ListObjectsV2 one page at a time ([`list_page`]) and page after page
//! ([`list_all`]).
//!
//! A response that breaks off part-way is worth what arrived: [`list_all`] keeps the objects
//! whose entries arrived whole and goes on after the last of them, and FastList takes them as
//! a shorter page ([`list_page_or_part`]). Only a response that brought nothing is tried
//! again, so a long listing survives a server or network that keeps breaking responses.
//!
//! Every request asks for `encoding-type=url`, so keys with control characters survive the
//! XML; the url-encoded fields are decoded with plain percent-decoding (`+` stays `+`).
//! [`list_page`] takes every paging parameter explicitly so that a parallel lister can split
//! a key space with `start-after` and walk each part with continuation tokens. Pages are
//! parsed by `page_xml`, in one pass and allocating only the keys and ETags kept.

use std::cell::RefCell;
use std::io::Read;
use std::time::SystemTime;

use crate::client::{Attempt, CancelToken, Client, Exchange, Request};
use crate::error::{Error, ErrorKind, Result};

mod page_xml;
pub(crate) mod rules;

pub(crate) use page_xml::{parse_page, parse_partial};
pub(crate) use rules::Progress;

/// Most keys a ListObjectsV2 page may hold.
pub(crate) const MAX_KEYS: u32 = 1000;

/// Most bytes of a listing page we accept (a 1000-key page is a few hundred KiB).
const MAX_PAGE_BYTES: u64 = 64 << 20;

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object's key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its ETag, as the server sent it (quoted).
    pub etag: String,
    /// When it was last modified.
    pub last_modified: SystemTime,
}

/// One ListObjectsV2 page.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// The objects of the page, in key order.
    pub objects: Vec<ObjectInfo>,
    /// The common prefixes (with a delimiter), in order.
    pub common_prefixes: Vec<String>,
    /// The token of the next page, when the listing is truncated.
    pub next_token: Option<String>,
    /// True when more pages follow.
    pub is_truncated: bool,
}

/// Lists one page of `bucket` under `prefix`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn list_page(
    client: &Client,
    cancel: &CancelToken,
    bucket: &str,
    prefix: &str,
    start_after: Option<&str>,
    continuation_token: Option<&str>,
    delimiter: Option<&str>,
    max_keys: u32,
) -> Result<Page> {
    let req = page_request(
        bucket,
        prefix,
        start_after,
        continuation_token,
        delimiter,
        max_keys,
    );
    let asked = Asked {
        prefix,
        max_keys,
        scheme: client.protocol().scheme(),
    };
    client.call(cancel, |ex| match fetch_page(ex, &req, &asked, false) {
        Fetched::Page(page) => Attempt::Done(page),
        Fetched::Broken(e, _) => Attempt::Retry(e),
        Fetched::Failed(a) => a,
    })
}

/// [`list_page`] without a delimiter, for a lister that goes on with `start-after` the last
/// key of each truncated page (FastList): a page whose body breaks off after some objects
/// arrived whole comes back as a truncated page of those objects, without a continuation
/// token, and the lister's next request for that part starts after them. Only a response
/// that broke off before its first object is tried again.
pub(crate) fn list_page_or_part(
    client: &Client,
    cancel: &CancelToken,
    bucket: &str,
    prefix: &str,
    start_after: Option<&str>,
    continuation_token: Option<&str>,
    max_keys: u32,
) -> Result<Page> {
    let req = page_request(
        bucket,
        prefix,
        start_after,
        continuation_token,
        None,
        max_keys,
    );
    let asked = Asked {
        prefix,
        max_keys,
        scheme: client.protocol().scheme(),
    };
    client.call(cancel, |ex| match fetch_page(ex, &req, &asked, true) {
        Fetched::Page(page) => Attempt::Done(page),
        Fetched::Broken(e, kept) if kept.is_empty() => Attempt::Retry(e),
        Fetched::Broken(e, kept) => {
            log::info!(
                "{e}; the {} objects before the break make a page of their own",
                kept.len()
            );
            Attempt::Done(Page {
                objects: kept,
                common_prefixes: Vec::new(),
                next_token: None,
                is_truncated: true,
            })
        }
        Fetched::Failed(a) => a,
    })
}

/// The ListObjectsV2 request for one page.
fn page_request<'a>(
    bucket: &'a str,
    prefix: &str,
    start_after: Option<&str>,
    continuation_token: Option<&str>,
    delimiter: Option<&str>,
    max_keys: u32,
) -> Request<'a> {
    let mut query: Vec<(String, String)> = vec![
        ("list-type".into(), "2".into()),
        ("encoding-type".into(), "url".into()),
        ("max-keys".into(), max_keys.clamp(1, MAX_KEYS).to_string()),
        ("prefix".into(), prefix.to_owned()),
    ];
    if let Some(t) = continuation_token {
        query.push(("continuation-token".into(), t.to_owned()));
    }
    if let Some(s) = start_after {
        query.push(("start-after".into(), s.to_owned()));
    }
    if let Some(d) = delimiter {
        query.push(("delimiter".into(), d.to_owned()));
    }
    Request {
        op: "ListObjectsV2",
        method: "GET",
        bucket,
        key: None,
        query,
        headers: Vec::new(),
        range: None,
    }
}

/// What one ListObjectsV2 request came to.
enum Fetched<T> {
    /// The whole page.
    Page(Page),
    /// The body broke off: the error, and (when asked for) the objects whose entries were
    /// complete before the break, in order.
    Broken(Error, Vec<ObjectInfo>),
    /// No page: the attempt's outcome (an error response, a malformed page...).
    Failed(Attempt<T>),
}

/// What a request asked for, to check its page against and to name in errors.
struct Asked<'a> {
    prefix: &'a str,
    max_keys: u32,
    /// The connector's URI scheme (`oss://`, `s3://`), for messages.
    scheme: &'static str,
}

/// The error for a page that breaks the listing rules ([`rules`]): the server's answer, so
/// it is not tried again.
fn refused(bucket: &str, asked: &Asked<'_>, why: &str) -> Error {
    Error::new(
        ErrorKind::Protocol,
        format!(
            "listing {}{bucket}/{}: {why}; the listing is abandoned",
            asked.scheme, asked.prefix
        ),
    )
    .with_object(bucket, None)
}

/// Sends `req` and reads its page; with `keep_partial`, a body that breaks off still yields
/// the objects complete before the break.
///
/// A body that arrived whole but is not a well-formed page (cut short, garbled) is tried
/// again like a broken connection: a proxy or a server under stress can send one, and the
/// next try usually gets the page. A well-formed page that breaks the listing rules is
/// refused for good.
fn fetch_page<T>(
    ex: &mut Exchange<'_>,
    req: &Request<'_>,
    asked: &Asked<'_>,
    keep_partial: bool,
) -> Fetched<T> {
    let mut resp = match ex.send(req) {
        Ok(r) => r,
        Err(a) => return Fetched::Failed(a),
    };
    let announced = resp.content_length();
    let expected = announced.unwrap_or(0).min(MAX_PAGE_BYTES) as usize;
    PAGE_BUF.with_borrow_mut(|buf| {
        let read = read_body(&mut resp.reader(), buf, expected);
        let outcome = match read {
            Err((e, got)) => {
                let kept = if keep_partial {
                    parse_partial(&buf[..got])
                } else {
                    Vec::new()
                };
                match rules::check_objects(None, &kept) {
                    Ok(()) => Fetched::Broken(
                        ex.client().body_error(req, &e, got as u64, announced),
                        kept,
                    ),
                    Err(why) => Fetched::Failed(Attempt::Fail(refused(req.bucket, asked, &why))),
                }
            }
            Ok(n) => match parse_page(&buf[..n]) {
                Ok(page) => match rules::check_page(&page, asked.max_keys.clamp(1, MAX_KEYS)) {
                    Ok(()) => Fetched::Page(page),
                    Err(why) => Fetched::Failed(Attempt::Fail(refused(req.bucket, asked, &why))),
                },
                Err(msg) => Fetched::Failed(Attempt::Retry(
                    Error::new(
                        ErrorKind::Protocol,
                        format!(
                            "listing {}{}/{}: the ListObjectsV2 response ({n} bytes) is \
                             malformed: {msg}",
                            asked.scheme, req.bucket, asked.prefix
                        ),
                    )
                    .with_object(req.bucket, None),
                )),
            },
        };
        // An unusually big page is not worth keeping memory for.
        if buf.len() > KEEP_PAGE_BUF {
            *buf = Vec::new();
        }
        outcome
    })
}

thread_local! {
    /// This thread's buffer for listing responses, zero-filled once and reused: a page is a
    /// few hundred KiB, and a fresh buffer per page costs zeroing and page faults every time.
    static PAGE_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The largest page buffer a thread keeps between requests.
const KEEP_PAGE_BUF: usize = 1 << 20;

/// Reads a response body (at most [`MAX_PAGE_BYTES`]) into `buf`, which is kept at its full,
/// initialized length so that nothing is zeroed again; returns the number of bytes read, or
/// the error with the number read before it.
fn read_body(
    body: &mut impl Read,
    buf: &mut Vec<u8>,
    expected: usize,
) -> std::result::Result<usize, (std::io::Error, usize)> {
    const MAX: usize = MAX_PAGE_BYTES as usize;
    // One byte more than announced, so the end of the body is seen without growing.
    if buf.len() <= expected {
        buf.resize(expected + 1, 0);
    }
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            if filled >= MAX {
                return Ok(filled);
            }
            buf.resize((filled * 2).clamp(64 << 10, MAX), 0);
        }
        match body.read(&mut buf[filled..]) {
            Ok(0) => return Ok(filled),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err((e, filled)),
        }
    }
}

/// Lists every object of `bucket` under `prefix`, page after page.
///
/// A page whose body breaks off is not thrown away: the objects whose entries arrived whole
/// are kept, and the listing goes on with `start-after` the last of them (the same keys, in
/// the same order, as the continuation token would have given), as a request of its own
/// ([`Attempt::Progress`]). So a listing only fails when `retry.max_attempts` tries in a row
/// get no further, however long it is and however often its responses break.
///
/// Keys must strictly increase across the whole listing (an honest OSS lists in UTF-8 byte
/// order, and going on after the last key kept relies on it): a key out of order is an
/// error, not something to sort out, since it means the server repeats or skips keys. That
/// also makes every page with keys progress, so only pages without keys can loop; those end
/// the listing at a repeated continuation token or after
/// [`rules::MAX_PAGES_WITHOUT_KEYS`] of them in a row ([`Progress`]).
pub(crate) fn list_all(
    client: &Client,
    cancel: &CancelToken,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<ObjectInfo>> {
    let asked = Asked {
        prefix,
        max_keys: MAX_KEYS,
        scheme: client.protocol().scheme(),
    };
    let mut all: Vec<ObjectInfo> = Vec::new();
    let mut progress = Progress::default();
    // Where the next page starts: after a continuation token (the previous page was whole),
    // or after the last key kept (the previous response broke off); never both.
    let mut token: Option<String> = None;
    let mut after: Option<String> = None;
    loop {
        let page = client.call(cancel, |ex| {
            let req = page_request(
                bucket,
                prefix,
                after.as_deref(),
                token.as_deref(),
                None,
                MAX_KEYS,
            );
            match fetch_page(ex, &req, &asked, true) {
                Fetched::Page(page) => Attempt::Done(page),
                Fetched::Broken(e, kept) => {
                    let Some(last) = kept.last() else {
                        return Attempt::Retry(e);
                    };
                    if let Err(why) = progress.objects(&kept) {
                        return Attempt::Fail(refused(bucket, &asked, &why));
                    }
                    let message = format!(
                        "{}; the {} objects before the break are kept (the last {:?}) and the \
                         listing goes on after them",
                        e.message(),
                        kept.len(),
                        last.key
                    );
                    after = Some(last.key.clone());
                    token = None;
                    all.extend(kept);
                    let e = Error::new(e.kind(), message).with_object(bucket, None);
                    // A body that ran out of time still counts as a try: a server trickling
                    // an entry or two per deadline would otherwise hold the listing for hours.
                    if e.kind() == ErrorKind::Timeout {
                        Attempt::Retry(e)
                    } else {
                        Attempt::Progress(e)
                    }
                }
                Fetched::Failed(a) => a,
            }
        })?;
        progress
            .objects(&page.objects)
            .map_err(|why| refused(bucket, &asked, &why))?;
        let had_keys = !page.objects.is_empty();
        all.extend(page.objects);
        if !page.is_truncated {
            return Ok(all);
        }
        let Some(t) = page.next_token else {
            return Err(refused(
                bucket,
                &asked,
                "the server says more pages follow but gives no continuation token",
            ));
        };
        progress
            .token(&t, had_keys)
            .map_err(|why| refused(bucket, &asked, &why))?;
        token = Some(t);
        after = None;
    }
}

/// The exact form OSS sends, `YYYY-MM-DDTHH:MM:SS.mmmZ`, without the general parser.
pub(crate) fn parse_fixed_utc(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 24
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[23] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss, ms) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..23)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from the civil date (proleptic Gregorian), after H. Hinnant.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(secs * 1000 + ms as u64))
}

/// Parses `2025-03-14T12:00:00.000Z` (fraction optional).
pub(crate) fn parse_iso8601(s: &str) -> Option<SystemTime> {
    if let Some(t) = parse_fixed_utc(s) {
        return Some(t);
    }
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    Some(SystemTime::from(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult>
  <Name>examplebucket</Name>
  <Prefix>models%2F</Prefix>
  <MaxKeys>3</MaxKeys>
  <Delimiter>%2F</Delimiter>
  <EncodingType>url</EncodingType>
  <IsTruncated>true</IsTruncated>
  <NextContinuationToken>bW9kZWxzL3F3ZW4v</NextContinuationToken>
  <KeyCount>3</KeyCount>
  <Contents>
    <Key>models%2FREADME.md</Key>
    <LastModified>2025-03-14T12:00:00.000Z</LastModified>
    <ETag>"5B3C1A2E053D763E1B002CC607C5A0FE"</ETag>
    <Type>Normal</Type>
    <Size>2048</Size>
    <StorageClass>Standard</StorageClass>
    <Owner><ID>1234567890123456</ID><DisplayName>1234567890123456</DisplayName></Owner>
  </Contents>
  <Contents>
    <Key>models%2Fa%20b%2Bc.json</Key>
    <LastModified>2025-03-14T12:00:01.000Z</LastModified>
    <ETag>"0CC175B9C0F1B6A831C399E269772661-3"</ETag>
    <Type>Multipart</Type>
    <Size>314572800</Size>
    <StorageClass>Standard</StorageClass>
  </Contents>
  <CommonPrefixes><Prefix>models%2Fqwen%2F</Prefix></CommonPrefixes>
</ListBucketResult>"#;

    #[test]
    fn parses_the_reference_page() {
        let p = parse_page(PAGE.as_bytes()).unwrap();
        assert!(p.is_truncated);
        assert_eq!(p.next_token.as_deref(), Some("bW9kZWxzL3F3ZW4v"));
        assert_eq!(p.objects.len(), 2);
        assert_eq!(p.objects[0].key, "models/README.md");
        assert_eq!(p.objects[0].size, 2048);
        assert_eq!(p.objects[0].etag, "\"5B3C1A2E053D763E1B002CC607C5A0FE\"");
        assert_eq!(
            p.objects[0]
                .last_modified
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            1_741_953_600
        );
        // `+` arrives as %2B and a literal `+` would stay `+`.
        assert_eq!(p.objects[1].key, "models/a b+c.json");
        assert_eq!(p.common_prefixes, vec!["models/qwen/".to_owned()]);
    }

    #[test]
    fn plus_stays_plus_and_raw_pages_are_not_decoded() {
        let xml =
            "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>\
                   <Contents><Key>a+b%20c%01</Key><Size>1</Size></Contents></ListBucketResult>";
        let p = parse_page(xml.as_bytes()).unwrap();
        assert_eq!(p.objects[0].key, "a+b c\u{1}");
        assert!(!p.is_truncated);
        assert_eq!(p.next_token, None);
        let raw = "<ListBucketResult><IsTruncated>false</IsTruncated>\
                   <Contents><Key>a%20&amp;b</Key><Size>1</Size></Contents></ListBucketResult>";
        assert_eq!(parse_page(raw.as_bytes()).unwrap().objects[0].key, "a%20&b");
    }

    #[test]
    fn bodies_are_read_whole_into_a_reused_buffer() {
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut buf = Vec::new();
        // Announced right, announced short (the buffer grows), announced long.
        for expected in [body.len(), 10, body.len() + 5000] {
            let n = read_body(&mut &body[..], &mut buf, expected).unwrap();
            assert_eq!(&buf[..n], &body[..]);
        }
        let n = read_body(&mut &b""[..], &mut buf, 0).unwrap();
        assert_eq!(n, 0);
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
                if b.len() > 3 {
                    b[..3].copy_from_slice(b"abc");
                }
                Err(std::io::Error::other("reset"))
            }
        }
        let (e, got) = read_body(&mut Broken, &mut buf, 10).unwrap_err();
        assert_eq!(got, 0);
        assert_eq!(e.to_string(), "reset");
    }

    #[test]
    fn malformed_pages_are_rejected() {
        assert!(parse_page(b"<Error><Code>x</Code></Error>").is_err());
        assert!(parse_page(b"<ListBucketResult></ListBucketResult>").is_err());
        assert!(parse_page(
            b"<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>x</Size></Contents></ListBucketResult>"
        )
        .is_err());
    }
}
