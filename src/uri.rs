//! `oss://bucket/key` URIs, the bucket-name rules, and the percent-encoding OSS expects.
//!
//! Encoding follows the official SDKs: every UTF-8 byte outside the RFC 3986 unreserved set
//! `A-Z a-z 0-9 - _ . ~` becomes `%XX` with upper-case hex (space is `%20`, never `+`). Paths
//! keep `/` (as the v2 SDK does; the server decodes `%2F` and `/` alike), query values do not.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::error::{Error, ErrorKind, Result};
use crate::protocol::Protocol;

/// The longest object key OSS accepts, in bytes.
pub(crate) const MAX_KEY_BYTES: usize = 1023;

/// Everything but the unreserved set `A-Z a-z 0-9 - _ . ~`.
const QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// [`QUERY_SET`] keeping `/`.
const PATH_SET: &AsciiSet = &QUERY_SET.remove(b'/');

/// Splits `oss://bucket/key` into (bucket, key).
///
/// The bucket must follow the OSS naming rules and the key must be 1 to 1023 bytes that do
/// not start with `/` (OSS rejects such keys). Everything after the bucket's `/` is the key,
/// literally: `?`, `#` and `%` are ordinary key characters.
pub fn parse_oss_uri(uri: &str) -> Result<(String, String)> {
    parse_object_uri(uri, Protocol::Oss)
}

/// Splits `oss://bucket/prefix` (or `oss://bucket`) into (bucket, prefix) for a call that
/// works on every object under a "directory": a non-empty prefix gets a trailing `/`, so
/// `oss://b/models/qwen` and `oss://b/models/qwen/` both mean the keys under `models/qwen/`.
pub fn parse_oss_dir_uri(uri: &str) -> Result<(String, String)> {
    parse_dir_uri(uri, Protocol::Oss)
}

/// The rest of `uri` after `protocol`'s scheme (compared without regard to case).
fn strip_scheme(uri: &str, protocol: Protocol) -> Result<&str> {
    let scheme = protocol.scheme();
    match uri.get(..scheme.len()) {
        Some(s) if s.eq_ignore_ascii_case(scheme) => Ok(&uri[scheme.len()..]),
        _ => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("URI must start with {scheme} (got {uri:?})"),
        )),
    }
}

/// [`parse_oss_uri`] for `protocol`'s scheme and bucket rules (`s3://bucket/key`).
pub fn parse_object_uri(uri: &str, protocol: Protocol) -> Result<(String, String)> {
    let invalid =
        |why: &str| Error::new(ErrorKind::InvalidArgument, format!("{why} (got {uri:?})"));
    let rest = strip_scheme(uri, protocol)?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(invalid("URI has no bucket"));
    }
    protocol.validate_bucket(bucket)?;
    if key.is_empty() {
        return Err(invalid("URI has no object key"));
    }
    validate_key(key)?;
    Ok((bucket.to_owned(), key.to_owned()))
}

/// [`parse_oss_dir_uri`] for `protocol`'s scheme and bucket rules (`s3://bucket/prefix`).
pub fn parse_dir_uri(uri: &str, protocol: Protocol) -> Result<(String, String)> {
    let invalid =
        |why: &str| Error::new(ErrorKind::InvalidArgument, format!("{why} (got {uri:?})"));
    let rest = strip_scheme(uri, protocol)?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(invalid("URI has no bucket"));
    }
    protocol.validate_bucket(bucket)?;
    if prefix.is_empty() {
        return Ok((bucket.to_owned(), String::new()));
    }
    validate_key(prefix)?;
    let mut prefix = prefix.to_owned();
    if !prefix.ends_with('/') {
        prefix.push('/');
    }
    Ok((bucket.to_owned(), prefix))
}

/// Checks the OSS bucket-name rules: 3 to 63 characters of `a-z`, `0-9` and `-`, starting
/// with a letter or digit and not ending in `-`.
pub fn validate_bucket_name(name: &str) -> Result<()> {
    let b = name.as_bytes();
    let ok = (3..=63).contains(&b.len())
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-';
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "invalid bucket name {name:?}: 3-63 chars of a-z, 0-9 and -, \
                 starting with a letter or digit, not ending in -"
            ),
        ))
    }
}

/// Checks the S3 bucket-name rules: 3 to 63 characters of `a-z`, `0-9`, `.` and `-`,
/// starting and ending with a letter or digit, without `..`, and not an IP address.
pub fn validate_s3_bucket_name(name: &str) -> Result<()> {
    let b = name.as_bytes();
    let ok = (3..=63).contains(&b.len())
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
        && name.parse::<std::net::Ipv4Addr>().is_err();
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "invalid bucket name {name:?}: 3-63 chars of a-z, 0-9, . and -, \
                 starting and ending with a letter or digit, not an IP address"
            ),
        ))
    }
}

/// Checks an object key: 1 to 1023 bytes, not starting with `/` or `\`.
pub fn validate_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "the object key is empty",
        ));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "the object key is {} bytes long; OSS allows at most {MAX_KEY_BYTES}",
                key.len()
            ),
        ));
    }
    if key.starts_with('/') || key.starts_with('\\') {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "the object key {key:?} starts with {:?}, which OSS rejects",
                &key[..1]
            ),
        ));
    }
    Ok(())
}

/// Percent-encodes a key for the request path: every byte outside `A-Za-z0-9-_.~` and `/`.
pub(crate) fn encode_key_path(key: &str) -> String {
    utf8_percent_encode(key, PATH_SET).to_string()
}

/// Percent-encodes a query name or value: every byte outside `A-Za-z0-9-_.~` (`/` included).
pub(crate) fn encode_query_value(v: &str) -> String {
    utf8_percent_encode(v, QUERY_SET).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_uris_name_a_bucket_and_a_prefix_ending_in_a_slash() {
        let dir = |u: &str| parse_oss_dir_uri(u).unwrap();
        assert_eq!(dir("oss://bkt"), ("bkt".into(), "".into()));
        assert_eq!(dir("oss://bkt/"), ("bkt".into(), "".into()));
        assert_eq!(
            dir("oss://bkt/models/qwen"),
            ("bkt".into(), "models/qwen/".into())
        );
        assert_eq!(
            dir("oss://bkt/models/qwen/"),
            ("bkt".into(), "models/qwen/".into())
        );
        for bad in ["s3://bkt/x", "oss:///x", "oss://B/x", "oss://bkt//x"] {
            let e = parse_oss_dir_uri(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
        }
    }

    fn err(uri: &str) -> String {
        let e = parse_oss_uri(uri).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        e.message().to_owned()
    }

    #[test]
    fn s3_uris_use_their_scheme_and_bucket_rules() {
        assert_eq!(
            parse_object_uri("s3://my.bucket-1/models/a b.bin", Protocol::S3).unwrap(),
            ("my.bucket-1".to_owned(), "models/a b.bin".to_owned())
        );
        assert_eq!(
            parse_dir_uri("S3://bkt/models", Protocol::S3).unwrap(),
            ("bkt".to_owned(), "models/".to_owned())
        );
        let e = parse_object_uri("oss://bkt/k", Protocol::S3).unwrap_err();
        assert_eq!(
            e.message(),
            "URI must start with s3:// (got \"oss://bkt/k\")"
        );
        let e = parse_object_uri("s3://bkt/k", Protocol::Oss).unwrap_err();
        assert_eq!(
            e.message(),
            "URI must start with oss:// (got \"s3://bkt/k\")"
        );
        for bad in [
            "s3://a..b/k",
            "s3://.ab/k",
            "s3://ab./k",
            "s3://192.168.1.1/k",
            "s3://Ab/k",
        ] {
            let e = parse_object_uri(bad, Protocol::S3).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}");
        }
        // Dots are S3's, not OSS's.
        assert!(parse_object_uri("oss://my.bucket/k", Protocol::Oss).is_err());
    }

    #[test]
    fn parses_bucket_and_key_literally() {
        assert_eq!(
            parse_oss_uri("oss://examplebucket/models/qwen/a b+c?d#e=f%.bin").unwrap(),
            (
                "examplebucket".to_owned(),
                "models/qwen/a b+c?d#e=f%.bin".to_owned()
            )
        );
        assert_eq!(
            parse_oss_uri("OSS://abc/k").unwrap(),
            ("abc".to_owned(), "k".to_owned())
        );
        assert_eq!(parse_oss_uri("oss://abc/dir/").unwrap().1, "dir/");
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(err("s3://bucket/key").starts_with("URI must start with oss://"));
        assert!(err("bucket/key").starts_with("URI must start with oss://"));
        assert!(err("oss://").starts_with("URI has no bucket"));
        assert!(err("oss:///key").starts_with("URI has no bucket"));
        assert!(err("oss://bucket").starts_with("URI has no object key"));
        assert!(err("oss://bucket/").starts_with("URI has no object key"));
        assert_eq!(
            err("oss://Ab/key"),
            "invalid bucket name \"Ab\": 3-63 chars of a-z, 0-9 and -, \
             starting with a letter or digit, not ending in -"
        );
        assert!(err("oss://bucket//abs").contains("starts with \"/\""));
        let long = format!("oss://bucket/{}", "k".repeat(1024));
        assert_eq!(
            err(&long),
            "the object key is 1024 bytes long; OSS allows at most 1023"
        );
        assert!(parse_oss_uri(&format!("oss://bucket/{}", "k".repeat(1023))).is_ok());
    }

    #[test]
    fn bucket_name_rules() {
        for ok in ["abc", "a-b", "0bucket", &"a".repeat(63)] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "-abc",
            "abc-",
            "aBc",
            "a_b",
            "a.b",
            "",
            &"a".repeat(64),
            "ab\u{e9}",
        ] {
            assert!(validate_bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn encoding_uses_the_unreserved_set_with_upper_case_hex() {
        let key = "data set/ünïcødé 文件+100%?a#b=c.bin";
        assert_eq!(
            encode_key_path(key),
            "data%20set/%C3%BCn%C3%AFc%C3%B8d%C3%A9%20%E6%96%87%E4%BB%B6%2B100%25%3Fa%23b%3Dc.bin"
        );
        assert_eq!(
            encode_query_value("Cg5tb2RlbHMvcXdlbi9h+/="),
            "Cg5tb2RlbHMvcXdlbi9h%2B%2F%3D"
        );
        assert_eq!(encode_query_value("AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(encode_query_value("a b*'()!"), "a%20b%2A%27%28%29%21");
    }
}
