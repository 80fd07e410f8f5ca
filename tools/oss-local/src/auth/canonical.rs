//! Canonicalization shared by the V1 and V4 verifiers: query parsing with percent-decoding,
//! OSS URI encoding, header lookup, HMAC helpers and constant-time comparison.
//!
//! Everything works on bytes: a decoded key or query value need not be ASCII, and the
//! string to sign is hashed exactly as built, never through a lossy conversion.

use hmac::{Hmac, Mac};
use hyper::HeaderMap;
use percent_encoding::percent_decode;
use sha1::Sha1;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::OssError;

/// One query parameter, with name and value decoded (`+` is a space, as oss2 sends it;
/// a literal plus comes as `%2B`). A bare `name` and `name=` both give an empty value.
pub(crate) struct Param {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
}

/// The parameters of a query string, in the order received.
pub(crate) struct Query {
    params: Vec<Param>,
}

impl Query {
    /// Splits a raw query (without `?`) on `&` and the first `=` of each part, then decodes.
    /// Empty parts (`a&&b`) carry nothing and are skipped.
    pub fn parse(raw: &str) -> Query {
        let params = raw
            .split('&')
            .filter(|part| !part.is_empty())
            .map(|part| {
                let (name, value) = part.split_once('=').unwrap_or((part, ""));
                Param {
                    name: decode_query_component(name),
                    value: decode_query_component(value),
                }
            })
            .collect();
        Query { params }
    }

    /// All parameters, in the order received.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Whether a parameter of this (decoded) name is present, with or without a value.
    pub fn contains(&self, name: &str) -> bool {
        self.params.iter().any(|p| p.name == name.as_bytes())
    }

    /// The value of an authentication parameter, which may appear at most once: a second
    /// copy would let the signed and the checked value differ.
    pub fn single(&self, name: &str) -> Result<Option<&[u8]>, OssError> {
        let mut found = self.params.iter().filter(|p| p.name == name.as_bytes());
        let first = found.next();
        if found.next().is_some() {
            return Err(OssError::invalid_argument(format!(
                "The query parameter {name} appears more than once."
            )));
        }
        Ok(first.map(|p| p.value.as_slice()))
    }

    /// Like [`Query::single`], for a parameter that must be present and valid UTF-8.
    pub fn required_str(&self, name: &str) -> Result<&str, OssError> {
        let value = self.single(name)?.ok_or_else(|| {
            OssError::invalid_argument(format!(
                "The presigned URL lacks the query parameter {name}."
            ))
        })?;
        std::str::from_utf8(value).map_err(|_| {
            OssError::invalid_argument(format!("The query parameter {name} is not valid UTF-8."))
        })
    }
}

/// Percent-decodes `text` byte-wise. A `%` not followed by two hex digits stays as it is.
pub(crate) fn decode(text: &str) -> Vec<u8> {
    percent_decode(text.as_bytes()).collect()
}

/// Decodes one query name or value the way OSS does: `+` is a space (oss2 sends spaces in
/// query values as `+` and a literal plus as `%2B`), then percent-decoding. Paths keep `+`.
pub(crate) fn decode_query_component(text: &str) -> Vec<u8> {
    if text.contains('+') {
        decode(&text.replace('+', " "))
    } else {
        decode(text)
    }
}

/// Appends the OSS URI encoding of `bytes` to `out`: every byte outside
/// `A-Z a-z 0-9 - _ . ~` (and `/` when `keep_slash`) becomes `%XX` with upper-case hex.
pub(crate) fn uri_encode_into(bytes: &[u8], keep_slash: bool, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
        if unreserved || (keep_slash && b == b'/') {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]]);
        }
    }
}

/// The OSS URI encoding of `bytes` as a new buffer (see [`uri_encode_into`]).
pub(crate) fn uri_encode(bytes: &[u8], keep_slash: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    uri_encode_into(bytes, keep_slash, &mut out);
    out
}

/// The value of a header as bytes; several occurrences are joined with `,` (the HTTP rule for
/// combining a repeated field). `None` when absent.
pub(crate) fn header(headers: &HeaderMap, name: &str) -> Option<Vec<u8>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    let mut joined = first.as_bytes().to_vec();
    for more in values {
        joined.push(b',');
        joined.extend_from_slice(more.as_bytes());
    }
    Some(joined)
}

/// Appends `name:value\n` for each header of `headers` whose name `signed` accepts, names
/// sorted (HeaderMap's are lower-case already) and each once, repeated values joined: the
/// canonical header block shared by V1 (`x-oss-*` only) and V4.
pub(crate) fn write_canonical_headers(
    out: &mut Vec<u8>,
    headers: &HeaderMap,
    signed: impl Fn(&str) -> bool,
) {
    let mut names: Vec<&str> = headers
        .keys()
        .map(|n| n.as_str())
        .filter(|n| signed(n))
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(&header(headers, name).unwrap_or_default());
        out.push(b'\n');
    }
}

/// The value of a header that must be text (a date, an Authorization header).
/// `Ok(None)` when absent; an error naming the header when it is not UTF-8.
pub(crate) fn header_str(headers: &HeaderMap, name: &str) -> Result<Option<String>, OssError> {
    match header(headers, name) {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            OssError::invalid_argument(format!("The {name} header is not valid UTF-8."))
        }),
    }
}

/// HMAC-SHA1, the V1 signature primitive.
pub(crate) fn hmac_sha1(key: &[u8], message: &[u8]) -> [u8; 20] {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA256, the V4 signing-key and signature primitive.
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Compares a provided signature (or token) with the expected one in time independent of
/// where they first differ, so a client cannot find a valid signature byte by byte.
pub(crate) fn constant_time_eq(provided: &[u8], expected: &[u8]) -> bool {
    provided.ct_eq(expected).into()
}

/// Bytes as upper-case hex pairs separated by spaces, the form of OSS's `StringToSignBytes`.
pub(crate) fn spaced_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&format!("{b:02X}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parse_decodes_plus_as_space() {
        let q = Query::parse("prefix=models%2Fqwen%2F&delimiter=&objectMeta&&t=a+b%2B%zz");
        let got: Vec<(&[u8], &[u8])> = q
            .params()
            .iter()
            .map(|p| (p.name.as_slice(), p.value.as_slice()))
            .collect();
        assert_eq!(
            got,
            vec![
                (&b"prefix"[..], &b"models/qwen/"[..]),
                (b"delimiter", b""),
                (b"objectMeta", b""),
                (b"t", b"a b+%zz"),
            ]
        );
        assert!(q.contains("objectMeta"));
        assert!(!q.contains("marker"));
    }

    #[test]
    fn query_single_rejects_duplicates() {
        let q = Query::parse("Signature=a&Signature=b");
        assert_eq!(q.single("Signature").unwrap_err().code, "InvalidArgument");
        assert_eq!(Query::parse("x=1").single("x").unwrap(), Some(&b"1"[..]));
        assert_eq!(Query::parse("x=1").single("y").unwrap(), None);
    }

    #[test]
    fn uri_encode_matches_the_sdks() {
        let key = "data set/ünïcødé 文件+100%?a#b=c.bin";
        assert_eq!(
            uri_encode(key.as_bytes(), true),
            b"data%20set/%C3%BCn%C3%AFc%C3%B8d%C3%A9%20%E6%96%87%E4%BB%B6%2B100%25%3Fa%23b%3Dc.bin"
        );
        assert_eq!(uri_encode(b"a/b~-_.Z9", false), b"a%2Fb~-_.Z9");
    }

    #[test]
    fn repeated_headers_are_joined() {
        let mut h = HeaderMap::new();
        h.append("x-oss-meta-a", "1".parse().unwrap());
        h.append("x-oss-meta-a", "2".parse().unwrap());
        assert_eq!(header(&h, "x-oss-meta-a").unwrap(), b"1,2");
        assert!(header(&h, "x-oss-meta-b").is_none());
    }

    #[test]
    fn spaced_hex_format() {
        assert_eq!(spaced_hex(b"GET\n"), "47 45 54 0A");
        assert_eq!(spaced_hex(b""), "");
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
