//! Signature version 1: `Authorization: OSS <AccessKeyId>:<Signature>` and presigned URLs
//! with `OSSAccessKeyId`, `Expires` and `Signature`.
//!
//! ```text
//! StringToSign = VERB \n Content-MD5 \n Content-Type \n Date \n
//!                CanonicalizedOSSHeaders CanonicalizedResource
//! Signature    = base64(HMAC-SHA1(AccessKeySecret, StringToSign))
//! ```
//! The resource is `/bucket/key` with the decoded key, then `?` and the signed
//! sub-resources: only names on a fixed allow-list, sorted, values decoded.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hyper::HeaderMap;

use super::canonical::{
    constant_time_eq, header, header_str, hmac_sha1, spaced_hex, write_canonical_headers, Query,
};
use super::{
    check_access_key, check_not_expired, check_security_token, check_skew, mask_token,
    parse_http_date, parse_iso8601_basic, token_header, AuthConfig, AuthRequest,
};
use crate::error::OssError;

/// Query parameters that are part of the V1 canonical resource: oss2's `_subresource_key_set`
/// (2.19.1) plus `cloudboxes`, which only the v2 SDK signs. Sorted in byte order, for binary
/// search. Listing parameters are absent on purpose, except `continuation-token`, which both
/// SDKs sign.
#[rustfmt::skip]
const SUBRESOURCES: &[&str] = &[
    "accessPoint", "accessPointPolicy", "acl", "append", "asyncFetch", "bucketArchiveDirectRead",
    "bucketInfo", "callback", "callback-var", "cloudboxes", "cname", "comp", "continuation-token",
    "cors", "delete", "encryption", "endTime", "group", "httpsConfig", "inventory", "inventoryId",
    "lifecycle", "link", "live", "location", "logging", "metaQuery", "objectInfo", "objectMeta",
    "partNumber", "policy", "position", "publicAccessBlock", "qos", "qosInfo", "qosRequester",
    "redundancyTransition", "referer", "regionList", "replication", "replicationLocation",
    "replicationProgress", "requestPayment", "requesterQosInfo", "resourceGroup", "resourcePool",
    "resourcePoolBuckets", "resourcePoolInfo", "response-cache-control",
    "response-content-disposition", "response-content-encoding", "response-content-language",
    "response-content-type", "response-expires", "restore", "security-token", "sequential",
    "startTime", "stat", "status", "style", "styleName", "symlink", "tagging",
    "transferAcceleration", "uploadId", "uploads", "versionId", "versioning", "versions", "vod",
    "website", "worm", "wormExtend", "wormId", "x-oss-ac-forward-allow", "x-oss-ac-source-ip",
    "x-oss-ac-subnet-mask", "x-oss-ac-vpc-id", "x-oss-access-point-name", "x-oss-async-process",
    "x-oss-process", "x-oss-redundancy-transition-taskid", "x-oss-request-payer",
    "x-oss-target-redundancy-type", "x-oss-traffic-limit", "x-oss-write-get-object-response",
];

/// The diagnostic code OSS documents for a V1 signature mismatch.
const EC_SIGNATURE_MISMATCH: &str = "0002-00000040";

/// Verifies `Authorization: OSS <credentials>`, where `credentials` is `AccessKeyId:Signature`.
pub(super) fn verify_header(
    cfg: &AuthConfig,
    req: &AuthRequest,
    query: &Query,
    credentials: &str,
) -> Result<(), OssError> {
    let (access_key_id, signature) = credentials
        .split_once(':')
        .filter(|(id, sig)| !id.is_empty() && !sig.is_empty() && !id.contains(' '))
        .ok_or_else(|| {
            OssError::invalid_argument(
                "The Authorization header is malformed; expected \"OSS AccessKeyId:Signature\".",
            )
        })?;
    check_access_key(cfg, access_key_id)?;
    check_security_token(
        cfg,
        header_token(req.headers)?.as_deref(),
        query.single("security-token")?,
    )?;

    // Both SDKs put x-oss-date in the Date slot when they send it (an empty one falls back).
    let date = match header_str(req.headers, "x-oss-date")?.filter(|d| !d.is_empty()) {
        Some(d) => d,
        None => header_str(req.headers, "date")?
            .filter(|d| !d.is_empty())
            .ok_or_else(|| {
                OssError::access_denied(
                    "OSS authentication requires a valid Date; the request has neither a Date nor \
                 an x-oss-date header.",
                )
            })?,
    };
    let request_secs = parse_http_date(&date)
        .or_else(|| parse_iso8601_basic(&date))
        .ok_or_else(|| {
            OssError::access_denied(format!(
                "OSS authentication requires a valid Date; {date:?} is not an HTTP date."
            ))
        })?;
    check_skew(&date, request_secs, req.now)?;

    let string_to_sign = string_to_sign(req, query, date.as_bytes());
    check_signature(cfg, access_key_id, signature.as_bytes(), &string_to_sign)
}

/// Verifies a presigned URL: `OSSAccessKeyId`, `Expires` (absolute Unix seconds, which take
/// the Date slot of the string to sign) and `Signature`, plus `security-token` with STS.
pub(super) fn verify_presigned(
    cfg: &AuthConfig,
    req: &AuthRequest,
    query: &Query,
) -> Result<(), OssError> {
    let access_key_id = query.required_str("OSSAccessKeyId")?;
    let expires = query.required_str("Expires")?;
    let signature = query.single("Signature")?.ok_or_else(|| {
        OssError::invalid_argument("The presigned URL lacks the query parameter Signature.")
    })?;
    let expires_secs = expires
        .parse::<i64>()
        .ok()
        .filter(|_| expires.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            OssError::invalid_argument(format!(
                "The Expires parameter {expires:?} is not a number of seconds since the epoch."
            ))
        })?;
    check_access_key(cfg, access_key_id)?;
    check_security_token(
        cfg,
        header_token(req.headers)?.as_deref(),
        query.single("security-token")?,
    )?;
    check_not_expired(expires_secs, req.now)?;

    let string_to_sign = string_to_sign(req, query, expires.as_bytes());
    check_signature(cfg, access_key_id, signature, &string_to_sign)
}

/// The token from the headers: `x-oss-security-token` (signed), or the unsigned
/// `security-token` that the v2 SDK's V1 signer sends instead. Both at once must agree.
fn header_token(headers: &HeaderMap) -> Result<Option<Vec<u8>>, OssError> {
    match (token_header(headers), header(headers, "security-token")) {
        (Some(a), Some(b)) if a != b => Err(OssError::new(
            403,
            "InvalidSecurityToken",
            "The x-oss-security-token and security-token headers carry different tokens.",
        )),
        (a, b) => Ok(a.or(b)),
    }
}

/// Builds the V1 string to sign, with `date` in the Date slot.
fn string_to_sign(req: &AuthRequest, query: &Query, date: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(req.method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&header(req.headers, "content-md5").unwrap_or_default());
    out.push(b'\n');
    out.extend_from_slice(&header(req.headers, "content-type").unwrap_or_default());
    out.push(b'\n');
    out.extend_from_slice(date);
    out.push(b'\n');

    // CanonicalizedOSSHeaders: every x-oss-* header, names lower-case (HeaderMap's already
    // are) and sorted, values as received.
    write_canonical_headers(&mut out, req.headers, |n| n.starts_with("x-oss-"));

    // CanonicalizedResource.
    out.push(b'/');
    if let Some(bucket) = req.bucket {
        out.extend_from_slice(bucket.as_bytes());
        out.push(b'/');
        out.extend_from_slice(req.key.unwrap_or("").as_bytes());
    }
    let mut signed: Vec<(&[u8], &[u8])> = query
        .params()
        .iter()
        .filter(|p| is_subresource(&p.name))
        .map(|p| (p.name.as_slice(), p.value.as_slice()))
        .collect();
    // Stable, by name only, as oss2 sorts.
    signed.sort_by(|a, b| a.0.cmp(b.0));
    for (i, (name, value)) in signed.iter().enumerate() {
        out.push(if i == 0 { b'?' } else { b'&' });
        out.extend_from_slice(name);
        if !value.is_empty() {
            out.push(b'=');
            out.extend_from_slice(value);
        }
    }
    out
}

fn is_subresource(name: &[u8]) -> bool {
    SUBRESOURCES
        .binary_search_by(|s| s.as_bytes().cmp(name))
        .is_ok()
}

/// Compares the provided base64 signature with HMAC-SHA1 of the string to sign.
fn check_signature(
    cfg: &AuthConfig,
    access_key_id: &str,
    provided: &[u8],
    string_to_sign: &[u8],
) -> Result<(), OssError> {
    let expected = BASE64.encode(hmac_sha1(cfg.access_key_secret.as_bytes(), string_to_sign));
    if constant_time_eq(provided, expected.as_bytes()) {
        return Ok(());
    }
    let echoed = mask_token(cfg, string_to_sign);
    let echoed_bytes = spaced_hex(echoed.as_bytes());
    Err(OssError::new(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check \
         your key and signing method.",
    )
    .with("OSSAccessKeyId", access_key_id)
    .with("SignatureProvided", String::from_utf8_lossy(provided))
    .with("StringToSign", echoed)
    .with("StringToSignBytes", echoed_bytes)
    .with_ec(EC_SIGNATURE_MISMATCH))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subresource_list_is_sorted_and_complete() {
        assert!(
            SUBRESOURCES.windows(2).all(|w| w[0] < w[1]),
            "sorted, no duplicates"
        );
        assert_eq!(SUBRESOURCES.len(), 87);
        for name in [
            "continuation-token",
            "security-token",
            "objectMeta",
            "response-expires",
        ] {
            assert!(is_subresource(name.as_bytes()), "{name}");
        }
        for name in [
            "prefix",
            "list-type",
            "max-keys",
            "marker",
            "delimiter",
            "Signature",
        ] {
            assert!(!is_subresource(name.as_bytes()), "{name}");
        }
    }
}
