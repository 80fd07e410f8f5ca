//! OSS request signatures: V4 (`OSS4-HMAC-SHA256`, the default) and V1 (`OSS AK:SIG`), as
//! specified in the protocol notes (§2) and checked against the official SDKs' vectors.
//!
//! Both sign the *decoded* bucket, key and parameters, so the wire encoding of the path does
//! not matter. V4 signs every `x-oss-*` header, `content-type`/`content-md5`, and `host` when
//! the request has one (`AdditionalHeaders=host`, like Alibaba's own connector). V1 signs the
//! `x-oss-*` headers and only an allow-list of sub-resources from the query.
//!
//! Hot path: a loader sends thousands of ranged GETs per second, so the V4 signing key (four
//! HMACs) is derived once per (secret, day, region) and kept in a small process-wide cache.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::config::SignatureVersion;
use crate::credentials::Credentials;
use crate::error::{Error, ErrorKind, Result};
use crate::secret::Secret;
use crate::uri::{encode_key_path, encode_query_value};

/// What a signature covers.
pub(crate) struct SigningRequest<'a> {
    /// `GET`, `HEAD`...
    pub method: &'a str,
    /// `None` for service-level requests.
    pub bucket: Option<&'a str>,
    /// The decoded key; `None` for bucket-level requests.
    pub key: Option<&'a str>,
    /// Decoded names and values, exactly the parameters sent (empty value = `name` or `name=`).
    pub query: &'a [(String, String)],
    /// Lower-case names: every header that will be sent (incl. `host`), except those
    /// [`sign`] adds.
    pub headers: &'a [(String, String)],
}

/// The payload hash V4 requests carry: OSS accepts no other value.
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
const V4_ALGORITHM: &str = "OSS4-HMAC-SHA256";

/// V1 query parameters that are part of the signed resource; everything else (notably the
/// listing parameters other than `continuation-token`) is left out, as the SDKs do.
const V1_SUB_RESOURCES: &[&str] = &[
    "acl",
    "append",
    "bucketInfo",
    "callback",
    "callback-var",
    "continuation-token",
    "delete",
    "location",
    "objectMeta",
    "partNumber",
    "position",
    "regionList",
    "resourceGroup",
    "restore",
    "security-token",
    "sequential",
    "stat",
    "symlink",
    "tagging",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
];

/// Returns the headers to add to the request: `x-oss-date` (V4) or `date` (V1),
/// `x-oss-content-sha256` (V4), `x-oss-security-token` (when the credentials have one) and
/// `authorization`. `region` is the V4 scope region (unused by V1). The headers are zeroed
/// when dropped: the security token is among them.
///
/// `now` outside the years 1970 to 9999 (a wildly wrong clock, or a correction learned from
/// a server's absurd `Date`) cannot be written in either signature's date format: that is
/// an error, not a panic (the formatting libraries panic on such times).
pub(crate) fn sign(
    version: SignatureVersion,
    region: &str,
    creds: &Credentials,
    now: SystemTime,
    req: &SigningRequest,
) -> Result<Zeroizing<Vec<(String, String)>>> {
    check_signable(now)?;
    Ok(Zeroizing::new(match version {
        SignatureVersion::V4 => sign_v4(region, creds, now, req),
        SignatureVersion::V1 => sign_v1(creds, now, req),
    }))
}

/// The first second after 9999-12-31T23:59:59Z: HTTP dates have four-digit years.
const END_OF_YEAR_9999: Duration = Duration::from_secs(253_402_300_800);

/// Whether `now` can be written as a V1 (HTTP date) and V4 (`YYYYMMDDTHHMMSSZ`) date.
pub(crate) fn check_signable(now: SystemTime) -> Result<()> {
    match now.duration_since(UNIX_EPOCH) {
        Ok(d) if d < END_OF_YEAR_9999 => Ok(()),
        _ => Err(Error::new(
            ErrorKind::Internal,
            format!(
                "cannot sign a request dated {now:?}: request times must lie between the \
                 years 1970 and 9999"
            ),
        )),
    }
}

fn sign_v4(
    region: &str,
    creds: &Credentials,
    now: SystemTime,
    req: &SigningRequest,
) -> Vec<(String, String)> {
    let datetime = v4_datetime(now);
    let mut added = Vec::with_capacity(4);
    added.push(("x-oss-date".to_owned(), datetime.clone()));
    added.push((
        "x-oss-content-sha256".to_owned(),
        UNSIGNED_PAYLOAD.to_owned(),
    ));
    if let Some(token) = &creds.security_token {
        added.push(("x-oss-security-token".to_owned(), token.expose().to_owned()));
    }
    let canonical = v4_canonical_request(req, &added);
    let date = &datetime[..8];
    let string_to_sign = v4_string_to_sign(&datetime, region, &canonical);
    let key = signing_key(creds.access_key_secret.expose(), date, region);
    let signature = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()));
    let additional = if has_header(req.headers, "host") {
        ",AdditionalHeaders=host"
    } else {
        ""
    };
    added.push((
        "authorization".to_owned(),
        format!(
            "{V4_ALGORITHM} Credential={}/{date}/{region}/oss/aliyun_v4_request{additional},Signature={signature}",
            creds.access_key_id
        ),
    ));
    added
}

fn sign_v1(creds: &Credentials, now: SystemTime, req: &SigningRequest) -> Vec<(String, String)> {
    let date = httpdate::fmt_http_date(now);
    let token = creds.security_token.as_ref().map(Secret::expose);
    let string_to_sign = v1_string_to_sign(req, &date, token);
    let signature = base64::engine::general_purpose::STANDARD.encode(hmac_sha1(
        creds.access_key_secret.expose().as_bytes(),
        string_to_sign.as_bytes(),
    ));
    let mut added = Vec::with_capacity(3);
    added.push(("date".to_owned(), date));
    if let Some(token) = token {
        added.push(("x-oss-security-token".to_owned(), token.to_owned()));
    }
    added.push((
        "authorization".to_owned(),
        format!("OSS {}:{signature}", creds.access_key_id),
    ));
    added
}

/// `YYYYMMDDTHHMMSSZ` in UTC.
pub(crate) fn v4_datetime(now: SystemTime) -> String {
    let t = time::OffsetDateTime::from(now);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn has_header(headers: &[(String, String)], name: &str) -> bool {
    headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
}

/// `/bucket/key` (`/bucket/` for bucket requests, `/` for the service), decoded.
fn resource(req: &SigningRequest) -> String {
    match (req.bucket, req.key) {
        (Some(b), Some(k)) => format!("/{b}/{k}"),
        (Some(b), None) => format!("/{b}/"),
        (None, _) => "/".to_owned(),
    }
}

/// The V4 canonical request (six lines). `added` are the headers [`sign`] adds; they are
/// signed as if they were in `req.headers` (and replace any header of the same name there).
pub(crate) fn v4_canonical_request(req: &SigningRequest, added: &[(String, String)]) -> String {
    let mut headers: Vec<(String, &str)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.as_str()))
        .filter(|(n, _)| !added.iter().any(|(a, _)| a == n))
        .chain(
            added
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.as_str())),
        )
        .filter(|(n, _)| {
            n.starts_with("x-oss-") || n == "content-type" || n == "content-md5" || n == "host"
        })
        .collect();
    headers.sort_by(|a, b| a.0.cmp(&b.0));
    let additional = if headers.iter().any(|(n, _)| n == "host") {
        "host"
    } else {
        ""
    };

    let mut query: Vec<(String, String)> = req
        .query
        .iter()
        .map(|(n, v)| (encode_query_value(n), encode_query_value(v)))
        .collect();
    query.sort();

    let mut out = String::with_capacity(256);
    out.push_str(req.method);
    out.push('\n');
    out.push_str(&encode_key_path(&resource(req)));
    out.push('\n');
    for (i, (n, v)) in query.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(n);
        if !v.is_empty() {
            out.push('=');
            out.push_str(v);
        }
    }
    out.push('\n');
    for (n, v) in &headers {
        out.push_str(n);
        out.push(':');
        out.push_str(v.trim());
        out.push('\n');
    }
    out.push('\n');
    out.push_str(additional);
    out.push('\n');
    out.push_str(UNSIGNED_PAYLOAD);
    out
}

/// The V4 string to sign for a canonical request made at `datetime` (`YYYYMMDDTHHMMSSZ`).
pub(crate) fn v4_string_to_sign(datetime: &str, region: &str, canonical_request: &str) -> String {
    format!(
        "{V4_ALGORITHM}\n{datetime}\n{}/{region}/oss/aliyun_v4_request\n{}",
        &datetime[..datetime.len().min(8)],
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// The V1 string to sign. `date` fills the Date slot unless the request has `x-oss-date`;
/// `token` is signed as the `x-oss-security-token` header [`sign`] adds.
pub(crate) fn v1_string_to_sign(req: &SigningRequest, date: &str, token: Option<&str>) -> String {
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let mut oss_headers: Vec<(String, &str)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.as_str()))
        .filter(|(n, _)| {
            n.starts_with("x-oss-") && !(token.is_some() && n == "x-oss-security-token")
        })
        .chain(token.map(|t| ("x-oss-security-token".to_owned(), t)))
        .collect();
    oss_headers.sort_by(|a, b| a.0.cmp(&b.0));

    let mut sub: Vec<(&str, &str)> = req
        .query
        .iter()
        .filter(|(n, _)| V1_SUB_RESOURCES.contains(&n.as_str()) || n.starts_with("response-"))
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    sub.sort();

    let mut out = String::with_capacity(256);
    for part in [
        req.method,
        header("content-md5").unwrap_or(""),
        header("content-type").unwrap_or(""),
        header("x-oss-date").unwrap_or(date),
    ] {
        out.push_str(part);
        out.push('\n');
    }
    for (n, v) in &oss_headers {
        out.push_str(n);
        out.push(':');
        out.push_str(v);
        out.push('\n');
    }
    out.push_str(&resource(req));
    for (i, (n, v)) in sub.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(n);
        if !v.is_empty() {
            out.push('=');
            out.push_str(v);
        }
    }
    out
}

pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn hmac_sha1(key: &[u8], data: &[u8]) -> [u8; 20] {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The V4 key chain, uncached: k1 = HMAC("aliyun_v4" + secret, date), then region, "oss",
/// "aliyun_v4_request".
fn derive_signing_key(secret: &str, date: &str, region: &str) -> [u8; 32] {
    let k1_key = Zeroizing::new(format!("aliyun_v4{secret}"));
    let k1 = hmac_sha256(k1_key.as_bytes(), date.as_bytes());
    let k2 = hmac_sha256(&k1, region.as_bytes());
    let k3 = hmac_sha256(&k2, b"oss");
    hmac_sha256(&k3, b"aliyun_v4_request")
}

/// A derived key, found by a hash of the secret (so the cache does not hold secrets).
struct CachedKey {
    secret_hash: [u8; 32],
    /// Which key chain derived it (`oss` or `s3`): the same secret, day and region give
    /// different keys.
    chain: &'static str,
    date: String,
    region: String,
    key: [u8; 32],
}

/// A few entries suffice: one per (credentials, region) a process uses on a given day.
const KEY_CACHE_ENTRIES: usize = 8;
static KEY_CACHE: Mutex<Vec<CachedKey>> = Mutex::new(Vec::new());

/// The V4 signing key for (secret, date `YYYYMMDD`, region), cached.
fn signing_key(secret: &str, date: &str, region: &str) -> [u8; 32] {
    cached_key("oss", secret, date, region, derive_signing_key)
}

/// The signing key `derive` makes of (secret, date, region) with key chain `chain`, from the
/// process-wide cache.
pub(crate) fn cached_key(
    chain: &'static str,
    secret: &str,
    date: &str,
    region: &str,
    derive: fn(&str, &str, &str) -> [u8; 32],
) -> [u8; 32] {
    let secret_hash: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    // A poisoned lock only means another thread panicked mid-update of a plain Vec: usable.
    let mut cache = KEY_CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(hit) = cache.iter().find(|c| {
        c.secret_hash == secret_hash && c.chain == chain && c.date == date && c.region == region
    }) {
        return hit.key;
    }
    let key = derive(secret, date, region);
    if cache.len() >= KEY_CACHE_ENTRIES {
        cache.remove(0);
    }
    cache.push(CachedKey {
        secret_hash,
        chain,
        date: date.to_owned(),
        region: region.to_owned(),
        key,
    });
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const AK: &str = "LTAI5tTestAccessKeyId";
    const SECRET: &str = "TestAccessKeySecret123";
    const TOKEN: &str = "CAISTestSecurityToken/Exa+mple==";
    const REGION: &str = "cn-hangzhou";
    const BUCKET: &str = "examplebucket";
    const HOST: &str = "examplebucket.oss-cn-hangzhou.aliyuncs.com";
    const KEY_A: &str = "models/qwen/model-00001-of-00004.safetensors";
    const KEY_C: &str = "data set/ünïcødé 文件+100%?a#b=c.bin";

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_741_955_696)
    }

    fn creds(token: bool) -> Credentials {
        Credentials {
            access_key_id: AK.into(),
            access_key_secret: SECRET.into(),
            security_token: token.then(|| TOKEN.into()),
            expiration: None,
        }
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    /// ListObjectsV2 parameters as oss2 sends them (listing B).
    fn listing_b() -> Vec<(String, String)> {
        pairs(&[
            ("list-type", "2"),
            ("prefix", "models/qwen/"),
            ("delimiter", ""),
            ("continuation-token", "Cg5tb2RlbHMvcXdlbi9h+/="),
            ("start-after", ""),
            ("fetch-owner", "false"),
            ("max-keys", "1000"),
            ("encoding-type", "url"),
        ])
    }

    fn header<'a>(added: &'a [(String, String)], name: &str) -> Option<&'a str> {
        added
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn v1(req: &SigningRequest, token: bool) -> (String, String) {
        let date = httpdate::fmt_http_date(now());
        let sts = v1_string_to_sign(req, &date, token.then_some(TOKEN));
        let added = sign(SignatureVersion::V1, REGION, &creds(token), now(), req).unwrap();
        assert_eq!(
            header(&added, "date"),
            Some("Fri, 14 Mar 2025 12:34:56 GMT")
        );
        assert_eq!(
            header(&added, "x-oss-security-token"),
            token.then_some(TOKEN)
        );
        (sts, header(&added, "authorization").unwrap().to_owned())
    }

    #[test]
    fn v1_a_get_with_range() {
        let headers = pairs(&[
            ("host", HOST),
            ("x-oss-range-behavior", "standard"),
            ("range", "bytes=0-1048575"),
        ]);
        let req = SigningRequest {
            method: "GET",
            bucket: Some(BUCKET),
            key: Some(KEY_A),
            query: &[],
            headers: &headers,
        };
        let (sts, auth) = v1(&req, false);
        assert_eq!(sts, "GET\n\n\nFri, 14 Mar 2025 12:34:56 GMT\nx-oss-range-behavior:standard\n/examplebucket/models/qwen/model-00001-of-00004.safetensors");
        assert_eq!(
            auth,
            "OSS LTAI5tTestAccessKeyId:eBSyiw/GsmYgHNIbouwHPxF5XnA="
        );
    }

    #[test]
    fn v1_b_listing_signs_only_the_continuation_token() {
        let headers = pairs(&[("host", HOST)]);
        let query = listing_b();
        let req = SigningRequest {
            method: "GET",
            bucket: Some(BUCKET),
            key: None,
            query: &query,
            headers: &headers,
        };
        let (sts, auth) = v1(&req, true);
        assert_eq!(sts, "GET\n\n\nFri, 14 Mar 2025 12:34:56 GMT\nx-oss-security-token:CAISTestSecurityToken/Exa+mple==\n/examplebucket/?continuation-token=Cg5tb2RlbHMvcXdlbi9h+/=");
        assert_eq!(
            auth,
            "OSS LTAI5tTestAccessKeyId:uzX9vgi8FZi3C7Wwi5mvPB8GxD8="
        );
    }

    #[test]
    fn v1_b_v2_sdk_form_signs_content_type_and_md5() {
        let headers = pairs(&[
            ("host", HOST),
            ("content-type", "application/octet-stream"),
            ("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
        ]);
        let query = pairs(&[
            ("encoding-type", "url"),
            ("list-type", "2"),
            ("continuation-token", "Cg5tb2RlbHMvcXdlbi9h+/="),
            ("max-keys", "1000"),
            ("prefix", "models/qwen/"),
        ]);
        let req = SigningRequest {
            method: "GET",
            bucket: Some(BUCKET),
            key: None,
            query: &query,
            headers: &headers,
        };
        let (sts, auth) = v1(&req, false);
        assert_eq!(sts, "GET\n1B2M2Y8AsgTpgAmY7PhCfg==\napplication/octet-stream\nFri, 14 Mar 2025 12:34:56 GMT\n/examplebucket/?continuation-token=Cg5tb2RlbHMvcXdlbi9h+/=");
        assert_eq!(
            auth,
            "OSS LTAI5tTestAccessKeyId:fhU2bJkUoEqFfblWpjTBpbC+7cU="
        );
    }

    #[test]
    fn v1_c_key_is_signed_decoded() {
        let headers = pairs(&[("host", HOST)]);
        let req = SigningRequest {
            method: "GET",
            bucket: Some(BUCKET),
            key: Some(KEY_C),
            query: &[],
            headers: &headers,
        };
        let (sts, auth) = v1(&req, false);
        assert_eq!(sts, "GET\n\n\nFri, 14 Mar 2025 12:34:56 GMT\n/examplebucket/data set/ünïcødé 文件+100%?a#b=c.bin");
        assert_eq!(
            auth,
            "OSS LTAI5tTestAccessKeyId:0ZYyA9/apGxmvNgrzaaGS56fjac="
        );
    }

    #[test]
    fn v1_d_listing_v1_signs_no_query() {
        let headers = pairs(&[("host", HOST)]);
        let query = pairs(&[
            ("prefix", "models/qwen/"),
            ("delimiter", "/"),
            ("marker", "models/qwen/a"),
            ("max-keys", "100"),
            ("encoding-type", "url"),
        ]);
        let req = SigningRequest {
            method: "GET",
            bucket: Some(BUCKET),
            key: None,
            query: &query,
            headers: &headers,
        };
        let (sts, auth) = v1(&req, false);
        assert_eq!(
            sts,
            "GET\n\n\nFri, 14 Mar 2025 12:34:56 GMT\n/examplebucket/"
        );
        assert_eq!(
            auth,
            "OSS LTAI5tTestAccessKeyId:f+OWYT7FlZi3iz/1UUK+0n4h/6M="
        );
    }

    #[test]
    fn v1_sub_resources_are_sorted_and_bare_when_empty() {
        let query = pairs(&[
            ("versionId", "v1"),
            ("acl", ""),
            ("prefix", "x"),
            ("response-content-type", "a/b"),
        ]);
        let req = SigningRequest {
            method: "GET",
            bucket: Some(BUCKET),
            key: Some("k"),
            query: &query,
            headers: &[],
        };
        let sts = v1_string_to_sign(&req, "D", None);
        assert_eq!(
            sts,
            "GET\n\n\nD\n/examplebucket/k?acl&response-content-type=a/b&versionId=v1"
        );
    }

    /// Signs with V4 and checks the canonical request and string to sign against the vector.
    fn v4(req: &SigningRequest, token: bool, canonical: &str, string_to_sign: &str) -> String {
        let added = sign(SignatureVersion::V4, REGION, &creds(token), now(), req).unwrap();
        assert_eq!(header(&added, "x-oss-date"), Some("20250314T123456Z"));
        assert_eq!(
            header(&added, "x-oss-content-sha256"),
            Some("UNSIGNED-PAYLOAD")
        );
        assert_eq!(
            header(&added, "x-oss-security-token"),
            token.then_some(TOKEN)
        );
        let without_auth: Vec<_> = added
            .iter()
            .filter(|(n, _)| n != "authorization")
            .cloned()
            .collect();
        let c = v4_canonical_request(req, &without_auth);
        assert_eq!(c, canonical);
        assert_eq!(
            v4_string_to_sign("20250314T123456Z", REGION, &c),
            string_to_sign
        );
        header(&added, "authorization").unwrap().to_owned()
    }

    #[test]
    fn v4_key_chain() {
        let k1 = hmac_sha256(format!("aliyun_v4{SECRET}").as_bytes(), b"20250314");
        assert_eq!(
            hex::encode(k1),
            "e790cc6e01dac6700dc3167855f7bc00642ed14f7a0c8b6d99f5b262b1bf367a"
        );
        let k2 = hmac_sha256(&k1, REGION.as_bytes());
        assert_eq!(
            hex::encode(k2),
            "65f350fbe80ce7137b9547ad74db239a84111792704a555848782eb1fab99feb"
        );
        let k3 = hmac_sha256(&k2, b"oss");
        assert_eq!(
            hex::encode(k3),
            "36aab58ef11f9faa816ba164100eadf8a7cda01f733f01a37ba518162ef008b9"
        );
        let want = "9b18a02825278f664a9c175cc59cdb7aa1f59f5370f67e7a0c12a2f289eed0a5";
        assert_eq!(
            hex::encode(derive_signing_key(SECRET, "20250314", REGION)),
            want
        );
        // Cached and uncached agree, including on a second lookup.
        assert_eq!(hex::encode(signing_key(SECRET, "20250314", REGION)), want);
        assert_eq!(hex::encode(signing_key(SECRET, "20250314", REGION)), want);
        assert_ne!(
            signing_key(SECRET, "20250315", REGION),
            signing_key(SECRET, "20250314", REGION)
        );
        assert_ne!(
            signing_key("other", "20250314", REGION),
            signing_key(SECRET, "20250314", REGION)
        );
    }

    #[test]
    fn v4_a_get_with_range_without_host() {
        let headers = pairs(&[
            ("x-oss-range-behavior", "standard"),
            ("range", "bytes=0-1048575"),
        ]);
        let req = SigningRequest {
            method: "GET",
            bucket: Some(BUCKET),
            key: Some(KEY_A),
            query: &[],
            headers: &headers,
        };
        let auth = v4(&req, false,
            "GET\n/examplebucket/models/qwen/model-00001-of-00004.safetensors\n\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20250314T123456Z\nx-oss-range-behavior:standard\n\n\nUNSIGNED-PAYLOAD",
            "OSS4-HMAC-SHA256\n20250314T123456Z\n20250314/cn-hangzhou/oss/aliyun_v4_request\n299f6111097b4b62ff378736c50e98b40a9342940f4f671db4955a2a190c9d21");
        assert_eq!(auth, "OSS4-HMAC-SHA256 Credential=LTAI5tTestAccessKeyId/20250314/cn-hangzhou/oss/aliyun_v4_request,Signature=b8d39ff701143a3f4dd82358123d4a66a6cb063a954555aa02b3844c5f9cad51");
    }

    #[test]
    fn v4_a_prime_signs_host() {
        let headers = pairs(&[
            ("host", HOST),
            ("range", "bytes=0-1048575"),
            ("x-oss-range-behavior", "standard"),
            ("date", "ignored"),
        ]);
        let req = SigningRequest {
            method: "GET",
            bucket: Some(BUCKET),
            key: Some(KEY_A),
            query: &[],
            headers: &headers,
        };
        let auth = v4(&req, false,
            "GET\n/examplebucket/models/qwen/model-00001-of-00004.safetensors\n\nhost:examplebucket.oss-cn-hangzhou.aliyuncs.com\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20250314T123456Z\nx-oss-range-behavior:standard\n\nhost\nUNSIGNED-PAYLOAD",
            "OSS4-HMAC-SHA256\n20250314T123456Z\n20250314/cn-hangzhou/oss/aliyun_v4_request\neb3f91de9406ea9ec02e5f11a3c4aaf2b69e30a1f2db7568a9bd35e63d742d2f");
        assert_eq!(auth, "OSS4-HMAC-SHA256 Credential=LTAI5tTestAccessKeyId/20250314/cn-hangzhou/oss/aliyun_v4_request,AdditionalHeaders=host,Signature=55294f1bcafa67fd3f05c2f7ece69d86feeeac180c224cfd7245dbb0b0991424");
    }

    #[test]
    fn v4_b_listing_with_token() {
        let query = listing_b();
        let req = SigningRequest {
            method: "GET",
            bucket: Some(BUCKET),
            key: None,
            query: &query,
            headers: &[],
        };
        let auth = v4(&req, true,
            "GET\n/examplebucket/\ncontinuation-token=Cg5tb2RlbHMvcXdlbi9h%2B%2F%3D&delimiter&encoding-type=url&fetch-owner=false&list-type=2&max-keys=1000&prefix=models%2Fqwen%2F&start-after\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20250314T123456Z\nx-oss-security-token:CAISTestSecurityToken/Exa+mple==\n\n\nUNSIGNED-PAYLOAD",
            "OSS4-HMAC-SHA256\n20250314T123456Z\n20250314/cn-hangzhou/oss/aliyun_v4_request\n0b8cafdd69030dc83a5a77724f4f35452bfb5e735aea390b8b7909ccb75b0449");
        assert_eq!(auth, "OSS4-HMAC-SHA256 Credential=LTAI5tTestAccessKeyId/20250314/cn-hangzhou/oss/aliyun_v4_request,Signature=70ee30431cb01255afe8de00cdfac25ed4898115b9785bca5ffe88749abf4d4a");
    }

    #[test]
    fn v4_b2_signs_content_type_and_md5() {
        let headers = pairs(&[
            ("content-type", "application/octet-stream"),
            ("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
            ("date", "Fri, 14 Mar 2025 12:34:56 GMT"),
        ]);
        let query = pairs(&[
            ("encoding-type", "url"),
            ("list-type", "2"),
            ("continuation-token", "Cg5tb2RlbHMvcXdlbi9h+/="),
            ("max-keys", "1000"),
            ("prefix", "models/qwen/"),
        ]);
        let req = SigningRequest {
            method: "GET",
            bucket: Some(BUCKET),
            key: None,
            query: &query,
            headers: &headers,
        };
        let auth = v4(&req, true,
            "GET\n/examplebucket/\ncontinuation-token=Cg5tb2RlbHMvcXdlbi9h%2B%2F%3D&encoding-type=url&list-type=2&max-keys=1000&prefix=models%2Fqwen%2F\ncontent-md5:1B2M2Y8AsgTpgAmY7PhCfg==\ncontent-type:application/octet-stream\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20250314T123456Z\nx-oss-security-token:CAISTestSecurityToken/Exa+mple==\n\n\nUNSIGNED-PAYLOAD",
            "OSS4-HMAC-SHA256\n20250314T123456Z\n20250314/cn-hangzhou/oss/aliyun_v4_request\n38228229b149e8843bf0f12a60da57bee8dce424eadeaf03e7f13920a12461e6");
        assert_eq!(auth, "OSS4-HMAC-SHA256 Credential=LTAI5tTestAccessKeyId/20250314/cn-hangzhou/oss/aliyun_v4_request,Signature=5267c8ad9bfca181900f76ee1e18893db90bb67252a8139c28524b1d64de7290");
    }

    #[test]
    fn v4_c_key_is_re_encoded_keeping_slashes() {
        let req = SigningRequest {
            method: "GET",
            bucket: Some(BUCKET),
            key: Some(KEY_C),
            query: &[],
            headers: &[],
        };
        let auth = v4(&req, false,
            "GET\n/examplebucket/data%20set/%C3%BCn%C3%AFc%C3%B8d%C3%A9%20%E6%96%87%E4%BB%B6%2B100%25%3Fa%23b%3Dc.bin\n\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20250314T123456Z\n\n\nUNSIGNED-PAYLOAD",
            "OSS4-HMAC-SHA256\n20250314T123456Z\n20250314/cn-hangzhou/oss/aliyun_v4_request\n5734c20d91a669df4b7014452cec70df384c5a99619a5be703ca7a89cf638841");
        assert_eq!(auth, "OSS4-HMAC-SHA256 Credential=LTAI5tTestAccessKeyId/20250314/cn-hangzhou/oss/aliyun_v4_request,Signature=e212252a3dd9691c2fa5b037e65993a34199ff31d5947e303abdddeaf30386a7");
    }

    #[test]
    fn service_and_bucket_resources() {
        let req = SigningRequest {
            method: "GET",
            bucket: None,
            key: None,
            query: &[],
            headers: &[],
        };
        assert_eq!(v1_string_to_sign(&req, "D", None), "GET\n\n\nD\n/");
        assert!(v4_canonical_request(&req, &[]).starts_with("GET\n/\n\n"));
    }

    #[test]
    fn times_outside_the_four_digit_years_are_an_error_not_a_panic() {
        let req = SigningRequest {
            method: "GET",
            bucket: Some(BUCKET),
            key: Some(KEY_A),
            query: &[],
            headers: &[],
        };
        let last = UNIX_EPOCH + END_OF_YEAR_9999 - Duration::from_secs(1);
        let too_late = [
            UNIX_EPOCH + END_OF_YEAR_9999,
            // What a `Date: Fri, 31 Dec 9999 23:59:59 GMT` learned as a clock offset gives.
            last + (last.duration_since(UNIX_EPOCH).unwrap()),
        ];
        let too_early = UNIX_EPOCH - Duration::from_secs(1);
        for version in [SignatureVersion::V4, SignatureVersion::V1] {
            let added = sign(version, REGION, &creds(false), last, &req).unwrap();
            assert!(header(&added, "authorization").is_some());
            for t in too_late.iter().chain([&too_early]) {
                let e = sign(version, REGION, &creds(false), *t, &req).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::Internal);
                assert!(
                    e.message().contains("between the years 1970 and 9999"),
                    "{e}"
                );
            }
        }
    }
}
