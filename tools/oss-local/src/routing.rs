//! Addressing: which bucket and key a request names (virtual-hosted `BUCKET.HOST` or path
//! style `/BUCKET/KEY`), percent-decoding of the path and the query.
//!
//! Rules (protocol notes §1): the query is split off at the first `?` (hyper does that);
//! path style splits the bucket off at the first literal `/`; the key is percent-decoded
//! byte-wise (`%2F` is `/`, `+` stays `+`) and must be UTF-8 of at most 1023 bytes.
//!
//! A `Host` is virtual-hosted when it is `LABEL.REST` with `LABEL` a valid bucket name and
//! `REST` non-empty, unless the host is an IP address, `localhost`, or a `--service-host`.
//! Because a service host like `oss.test` also has that shape, `LABEL` only counts as a
//! bucket when it exists, or when no existing bucket is named by the path instead and
//! `REST` looks like a host name (`localhost` or containing a dot).

use crate::error::OssError;

/// Longest key OSS accepts, in bytes.
pub const MAX_KEY_LEN: usize = 1023;

/// The resource a request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `None` for the service (`GET /`).
    pub bucket: Option<String>,
    /// The decoded key; `None` for bucket-level requests.
    pub key: Option<String>,
    /// Whether the bucket came from the `Host` header.
    pub virtual_hosted: bool,
}

/// Whether `name` is a valid OSS bucket name: 3–63 of `[a-z0-9-]`, starting with a letter
/// or digit and not ending with `-`.
pub fn valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// `host` without its `:port` (and without brackets for IPv6 literals).
pub fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Percent-decodes `s` byte-wise; `+` stays `+` and a `%` not followed by two hex digits is
/// kept as it is.
pub fn percent_decode(s: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(s).collect()
}

/// Decodes a key from the request path and checks it.
fn decode_key(raw: &str) -> Result<Option<String>, OssError> {
    if raw.is_empty() {
        return Ok(None);
    }
    let bytes = percent_decode(raw);
    let key = String::from_utf8(bytes).map_err(|_| {
        OssError::invalid_object_name(raw).with_message("The object name is not valid UTF-8.")
    })?;
    if key.len() > MAX_KEY_LEN {
        return Err(OssError::invalid_object_name(&key).with_message(format!(
            "The object name is longer than {MAX_KEY_LEN} bytes."
        )));
    }
    if key.starts_with('/') || key.starts_with('\\') {
        return Err(OssError::invalid_object_name(&key)
            .with_message("The object name must not start with '/' or '\\'."));
    }
    Ok(Some(key))
}

/// The bucket named by `host` when it is virtual-hosted.
fn host_bucket<'a>(
    host: &'a str,
    path: &str,
    exists: &dyn Fn(&str) -> bool,
    service_hosts: &[String],
) -> Option<&'a str> {
    let host = strip_port(host);
    if host.parse::<std::net::IpAddr>().is_ok()
        || host.eq_ignore_ascii_case("localhost")
        || service_hosts
            .iter()
            .any(|s| strip_port(s).eq_ignore_ascii_case(host))
    {
        return None;
    }
    let (label, rest) = host.split_once('.')?;
    if rest.is_empty() || !valid_bucket_name(label) {
        return None;
    }
    if exists(label) {
        return Some(label);
    }
    let first_segment = path.trim_start_matches('/').split('/').next().unwrap_or("");
    if !first_segment.is_empty() && exists(first_segment) {
        return None;
    }
    (rest.eq_ignore_ascii_case("localhost") || rest.contains('.')).then_some(label)
}

/// Works out the bucket and key of a request from its `Host` header and raw path (the
/// part before `?`). `exists` says whether a bucket exists.
pub fn resolve(
    host: Option<&str>,
    path: &str,
    exists: &dyn Fn(&str) -> bool,
    service_hosts: &[String],
) -> Result<Target, OssError> {
    let Some(path) = path.strip_prefix('/') else {
        return Err(OssError::invalid_argument(
            "The request path must start with '/'.",
        ));
    };
    if let Some(bucket) = host.and_then(|h| host_bucket(h, path, exists, service_hosts)) {
        return Ok(Target {
            bucket: Some(bucket.to_owned()),
            key: decode_key(path)?,
            virtual_hosted: true,
        });
    }
    if path.is_empty() {
        return Ok(Target {
            bucket: None,
            key: None,
            virtual_hosted: false,
        });
    }
    let (raw_bucket, raw_key) = path.split_once('/').unwrap_or((path, ""));
    let bucket = String::from_utf8(percent_decode(raw_bucket))
        .map_err(|_| OssError::invalid_argument("The bucket name is not valid UTF-8."))?;
    Ok(Target {
        bucket: Some(bucket),
        key: decode_key(raw_key)?,
        virtual_hosted: false,
    })
}

/// A decoded query string: `name=value` pairs in order. `name`, `name=` and an absent
/// name are told apart only where an API cares ([`Query::value`] treats them alike).
#[derive(Debug, Default, Clone)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses a raw query string (without `?`). Names and values are percent-decoded and
    /// must be UTF-8.
    ///
    /// A `+` in a name or value is a space, as in HTML form encoding: oss2 sends spaces in
    /// query values that way (and a literal plus as `%2B`), and real OSS accepts it.
    pub fn parse(raw: &str) -> Result<Query, OssError> {
        let mut pairs = Vec::new();
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let decode = |s: &str| {
                String::from_utf8(percent_decode(&s.replace('+', " "))).map_err(|_| {
                    OssError::invalid_argument(format!(
                        "The query parameter {name:?} is not valid UTF-8 once decoded."
                    ))
                })
            };
            pairs.push((decode(name)?, decode(value)?));
        }
        Ok(Query { pairs })
    }

    /// Whether `name` appears at all (with or without a value).
    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(n, _)| n == name)
    }

    /// The value of `name`; `None` when it is absent or empty.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exists(b: &str) -> bool {
        b == "examplebucket" || b == "b01"
    }

    fn r(host: &str, path: &str) -> Target {
        resolve(Some(host), path, &exists, &[]).unwrap()
    }

    fn t(bucket: Option<&str>, key: Option<&str>, vh: bool) -> Target {
        Target {
            bucket: bucket.map(Into::into),
            key: key.map(Into::into),
            virtual_hosted: vh,
        }
    }

    #[test]
    fn path_style_for_ips_and_localhost() {
        assert_eq!(
            r("127.0.0.1:9000", "/b01/dir%2Fa%20b%2Bc.bin"),
            t(Some("b01"), Some("dir/a b+c.bin"), false)
        );
        assert_eq!(
            r("localhost:9000", "/b01/dir/a+b"),
            t(Some("b01"), Some("dir/a+b"), false)
        );
        assert_eq!(r("[::1]:9000", "/b01"), t(Some("b01"), None, false));
        assert_eq!(r("127.0.0.1", "/b01/"), t(Some("b01"), None, false));
        assert_eq!(r("127.0.0.1", "/"), t(None, None, false));
    }

    #[test]
    fn virtual_hosted_buckets() {
        assert_eq!(
            r("examplebucket.localhost:9000", "/a%2Fb"),
            t(Some("examplebucket"), Some("a/b"), true)
        );
        assert_eq!(
            r("examplebucket.oss-cn-hangzhou.aliyuncs.com", "/"),
            t(Some("examplebucket"), None, true)
        );
        // Not existing, but clearly BUCKET.HOST: answered NoSuchBucket later.
        assert_eq!(
            r("nobucket.oss.test:1", "/k"),
            t(Some("nobucket"), Some("k"), true)
        );
        // A bare service host followed by an existing bucket in the path.
        assert_eq!(r("oss.test:1", "/b01/k"), t(Some("b01"), Some("k"), false));
        assert_eq!(
            r("oss-cn-hangzhou.aliyuncs.com", "/b01/k"),
            t(Some("b01"), Some("k"), false)
        );
        // Not a valid bucket label: path style.
        assert_eq!(
            r("Upper.localhost", "/b01/k"),
            t(Some("b01"), Some("k"), false)
        );
        let svc = vec!["oss.example.com".to_owned()];
        assert_eq!(
            resolve(Some("oss.example.com:80"), "/nob/k", &exists, &svc).unwrap(),
            t(Some("nob"), Some("k"), false)
        );
    }

    #[test]
    fn bad_keys_are_rejected() {
        let e = resolve(Some("127.0.0.1"), "/b01/%FF", &exists, &[]).unwrap_err();
        assert_eq!(e.code, "InvalidObjectName");
        let long = format!("/b01/{}", "a".repeat(1024));
        assert_eq!(
            resolve(Some("127.0.0.1"), &long, &exists, &[])
                .unwrap_err()
                .code,
            "InvalidObjectName"
        );
        let ok = format!("/b01/{}", "a".repeat(1023));
        assert!(resolve(Some("127.0.0.1"), &ok, &exists, &[]).is_ok());
        assert_eq!(
            resolve(Some("127.0.0.1"), "/b01//x", &exists, &[])
                .unwrap_err()
                .code,
            "InvalidObjectName"
        );
    }

    #[test]
    fn query_decoding() {
        let q = Query::parse("list-type=2&prefix=a%2Fb+c%2Bd&delimiter=&objectMeta&x=%25").unwrap();
        assert_eq!(q.value("list-type"), Some("2"));
        // Form encoding, as oss2 sends: `+` is a space, `%2B` a plus.
        assert_eq!(q.value("prefix"), Some("a/b c+d"));
        assert_eq!(q.value("delimiter"), None);
        assert!(q.has("delimiter") && q.has("objectMeta") && !q.has("marker"));
        assert_eq!(q.value("x"), Some("%"));
        assert!(Query::parse("prefix=%C3").is_err());
    }

    #[test]
    fn bucket_names() {
        assert!(valid_bucket_name("examplebucket"));
        assert!(valid_bucket_name("b-1"));
        assert!(!valid_bucket_name("ab"));
        assert!(!valid_bucket_name("-ab"));
        assert!(!valid_bucket_name("ab-"));
        assert!(!valid_bucket_name("Ab1"));
        assert!(!valid_bucket_name("_stats"));
    }
}
