//! Signature version 4: `Authorization: OSS4-HMAC-SHA256 Credential=…,Signature=…` and
//! presigned URLs with `x-oss-signature-version=OSS4-HMAC-SHA256`.
//!
//! ```text
//! CanonicalRequest = VERB \n URI \n Query \n Headers \n AdditionalHeaders \n HashedPayload
//! StringToSign     = "OSS4-HMAC-SHA256" \n x-oss-date \n scope \n hex(SHA256(CanonicalRequest))
//! SigningKey       = HMAC chain keyed by "aliyun_v4" + secret, over:
//!                    date, region, "oss", "aliyun_v4_request"
//! Signature        = hex(HMAC-SHA256(SigningKey, StringToSign))
//! ```
//! The canonical URI and query are rebuilt from the decoded path and query, never taken from
//! the wire, because clients encode differently (oss2 sends `/` as `%2F`, the v2 SDK does not)
//! and sign the same canonical form.

use hyper::HeaderMap;
use sha2::{Digest, Sha256};

use super::canonical::{
    constant_time_eq, header, header_str, hmac_sha256, spaced_hex, uri_encode, uri_encode_into,
    write_canonical_headers, Query,
};
use super::{
    check_access_key, check_not_expired, check_security_token, check_skew, mask_token,
    parse_iso8601_basic, token_header, AuthConfig, AuthRequest,
};
use crate::error::OssError;

/// The algorithm name, in the Authorization header, the presign parameters and the string
/// to sign.
const ALGORITHM: &str = "OSS4-HMAC-SHA256";
/// The product part of every OSS scope.
const PRODUCT: &str = "oss";
/// The last part of every scope, and the last step of the signing-key chain.
const TERMINATOR: &str = "aliyun_v4_request";
/// The only payload hash OSS accepts.
const UNSIGNED_PAYLOAD: &[u8] = b"UNSIGNED-PAYLOAD";
/// The longest a presigned URL may stay valid, per the OSS docs (7 days).
const MAX_PRESIGN_EXPIRES_SECS: i64 = 7 * 24 * 60 * 60;

/// The fields of `x-oss-credential` or of `Credential=` in the Authorization header.
struct Credential<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
}

/// Verifies `Authorization: OSS4-HMAC-SHA256 <fields>`.
pub(super) fn verify_header(
    cfg: &AuthConfig,
    req: &AuthRequest,
    query: &Query,
    fields: &str,
) -> Result<(), OssError> {
    let fields = AuthorizationFields::parse(fields)?;
    let credential = parse_credential(fields.credential)?;
    let additional = match fields.additional_headers {
        Some(list) => parse_additional_headers(list)?,
        None => Vec::new(),
    };
    check_access_key(cfg, credential.access_key_id)?;
    check_security_token(
        cfg,
        token_header(req.headers).as_deref(),
        query.single("x-oss-security-token")?,
    )?;
    let payload = hashed_payload(req.headers)?;
    let datetime = header_str(req.headers, "x-oss-date")?.ok_or_else(|| {
        OssError::access_denied(
            "OSS V4 authentication requires the x-oss-date header, and the request has none.",
        )
    })?;
    let request_secs = parse_iso8601_basic(&datetime).ok_or_else(|| {
        OssError::access_denied(format!(
            "The x-oss-date header {datetime:?} is not a time of the form YYYYMMDDTHHMMSSZ."
        ))
    })?;
    check_scope(cfg, &credential, &datetime)?;
    check_skew(&datetime, request_secs, req.now)?;

    let canonical_request = canonical_request(req, query, false, &additional, &payload);
    check_signature(
        cfg,
        &credential,
        &datetime,
        fields.signature,
        &canonical_request,
    )
}

/// Verifies a V4 presigned URL: `x-oss-signature-version`, `x-oss-credential`, `x-oss-date`,
/// `x-oss-expires` (seconds after `x-oss-date`), optional `x-oss-additional-headers` and
/// `x-oss-security-token`, and `x-oss-signature`, the only parameter not signed.
pub(super) fn verify_presigned(
    cfg: &AuthConfig,
    req: &AuthRequest,
    query: &Query,
) -> Result<(), OssError> {
    let version = query.required_str("x-oss-signature-version")?;
    if version != ALGORITHM {
        return Err(OssError::invalid_argument(format!(
            "The x-oss-signature-version {version:?} is not supported; expected {ALGORITHM:?}."
        )));
    }
    let credential = parse_credential(query.required_str("x-oss-credential")?)?;
    let datetime = query.required_str("x-oss-date")?;
    let signed_secs = parse_iso8601_basic(datetime).ok_or_else(|| {
        OssError::invalid_argument(format!(
            "The x-oss-date parameter {datetime:?} is not a time of the form YYYYMMDDTHHMMSSZ."
        ))
    })?;
    let expires = query.required_str("x-oss-expires")?;
    let expires_secs = expires
        .parse::<i64>()
        .ok()
        .filter(|s| (1..=MAX_PRESIGN_EXPIRES_SECS).contains(s))
        .filter(|_| expires.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| {
            OssError::invalid_argument(format!(
                "The x-oss-expires parameter {expires:?} is not a number of seconds from 1 to \
                 {MAX_PRESIGN_EXPIRES_SECS}."
            ))
        })?;
    let additional = match query.single("x-oss-additional-headers")? {
        Some(list) => parse_additional_headers(std::str::from_utf8(list).map_err(|_| {
            OssError::invalid_argument("The x-oss-additional-headers parameter is not UTF-8.")
        })?)?,
        None => Vec::new(),
    };
    let signature = query.required_str("x-oss-signature")?;
    check_access_key(cfg, credential.access_key_id)?;
    check_security_token(
        cfg,
        token_header(req.headers).as_deref(),
        query.single("x-oss-security-token")?,
    )?;
    let payload = hashed_payload(req.headers)?;
    check_scope(cfg, &credential, datetime)?;
    check_not_expired(signed_secs + expires_secs, req.now)?;

    let canonical_request = canonical_request(req, query, true, &additional, &payload);
    check_signature(cfg, &credential, datetime, signature, &canonical_request)
}

/// The fields after the scheme of a V4 Authorization header.
struct AuthorizationFields<'a> {
    credential: &'a str,
    additional_headers: Option<&'a str>,
    signature: &'a str,
}

impl<'a> AuthorizationFields<'a> {
    /// Parses `Name=value` fields separated by `,` (the v2 SDK and the connector) or `, `
    /// (oss2), in any order. Unknown, repeated, empty or missing fields are errors.
    fn parse(text: &'a str) -> Result<AuthorizationFields<'a>, OssError> {
        let malformed = |why: &str| {
            OssError::invalid_argument(format!(
                "The OSS4-HMAC-SHA256 Authorization header is malformed: {why}."
            ))
        };
        let (mut credential, mut additional_headers, mut signature) = (None, None, None);
        for field in text.split(',') {
            let field = field.trim();
            let (name, value) = field
                .split_once('=')
                .ok_or_else(|| malformed(&format!("the field {field:?} is not Name=value")))?;
            let slot = match name {
                "Credential" => &mut credential,
                "AdditionalHeaders" => &mut additional_headers,
                "Signature" => &mut signature,
                _ => return Err(malformed(&format!("unknown field {name:?}"))),
            };
            if slot.is_some() {
                return Err(malformed(&format!("the field {name} appears twice")));
            }
            if value.is_empty() {
                return Err(malformed(&format!("the field {name} is empty")));
            }
            *slot = Some(value);
        }
        Ok(AuthorizationFields {
            credential: credential.ok_or_else(|| malformed("the Credential field is missing"))?,
            additional_headers,
            signature: signature.ok_or_else(|| malformed("the Signature field is missing"))?,
        })
    }
}

/// Parses `AccessKeyId/YYYYMMDD/region/oss/aliyun_v4_request`.
fn parse_credential(text: &str) -> Result<Credential<'_>, OssError> {
    let parts: Vec<&str> = text.split('/').collect();
    match parts.as_slice() {
        [access_key_id, date, region, PRODUCT, TERMINATOR]
            if !access_key_id.is_empty()
                && date.len() == 8
                && date.bytes().all(|b| b.is_ascii_digit())
                && !region.is_empty() =>
        {
            Ok(Credential {
                access_key_id,
                date,
                region,
            })
        }
        _ => Err(OssError::invalid_argument(format!(
            "The credential {text:?} is malformed; expected \
             AccessKeyId/YYYYMMDD/region/{PRODUCT}/{TERMINATOR}."
        ))),
    }
}

/// Parses the `;`-separated additional header names: lower-cased, and sorted here because
/// oss2 lists them sorted by first character only while signing them fully sorted.
fn parse_additional_headers(list: &str) -> Result<Vec<String>, OssError> {
    let mut names = Vec::new();
    for name in list.split(';') {
        if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace() || b == b':') {
            return Err(OssError::invalid_argument(format!(
                "The additional header list {list:?} is malformed; expected header names \
                 separated by \";\"."
            )));
        }
        names.push(name.to_ascii_lowercase());
    }
    names.sort_unstable();
    Ok(names)
}

/// The payload hash for the canonical request: `x-oss-content-sha256` when sent, which OSS
/// only accepts as `UNSIGNED-PAYLOAD`, else `UNSIGNED-PAYLOAD`.
fn hashed_payload(headers: &HeaderMap) -> Result<Vec<u8>, OssError> {
    match header(headers, "x-oss-content-sha256") {
        None => Ok(UNSIGNED_PAYLOAD.to_vec()),
        Some(value) if value == UNSIGNED_PAYLOAD => Ok(value),
        Some(_) => Err(OssError::invalid_argument(
            "The x-oss-content-sha256 header must be UNSIGNED-PAYLOAD; signed payloads are not \
             supported.",
        )),
    }
}

/// Requires the scope's date to be the date of `x-oss-date`, and its region to be the
/// server's.
fn check_scope(cfg: &AuthConfig, credential: &Credential, datetime: &str) -> Result<(), OssError> {
    let date = datetime.get(..8).unwrap_or(datetime);
    if credential.date != date {
        return Err(OssError::invalid_argument(format!(
            "The credential date {:?} is not the date of x-oss-date {datetime:?}.",
            credential.date
        )));
    }
    if credential.region != cfg.region {
        return Err(OssError::invalid_argument(format!(
            "The credential is scoped to region {:?}, but this endpoint serves region {:?}.",
            credential.region, cfg.region
        )));
    }
    Ok(())
}

/// Builds the canonical request. `presigned` leaves `x-oss-signature` out of the query.
fn canonical_request(
    req: &AuthRequest,
    query: &Query,
    presigned: bool,
    additional: &[String],
    payload: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(req.method.as_bytes());
    out.push(b'\n');

    // URI: "/bucket/key" encoded with "/" kept; "/" alone for the service.
    let mut path = Vec::with_capacity(64);
    path.push(b'/');
    if let Some(bucket) = req.bucket {
        path.extend_from_slice(bucket.as_bytes());
        path.push(b'/');
        path.extend_from_slice(req.key.unwrap_or("").as_bytes());
    }
    uri_encode_into(&path, true, &mut out);
    out.push(b'\n');

    // Query: every parameter re-encoded, sorted by encoded name (then value), bare name when
    // the value is empty.
    let mut params: Vec<(Vec<u8>, Vec<u8>)> = query
        .params()
        .iter()
        .filter(|p| !(presigned && p.name == b"x-oss-signature"))
        .map(|p| (uri_encode(&p.name, false), uri_encode(&p.value, false)))
        .collect();
    params.sort();
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(name);
        if !value.is_empty() {
            out.push(b'=');
            out.extend_from_slice(value);
        }
    }
    out.push(b'\n');

    // Headers: all x-oss-*, content-type and content-md5, and the additional ones present.
    write_canonical_headers(&mut out, req.headers, |n| {
        n.starts_with("x-oss-")
            || n == "content-type"
            || n == "content-md5"
            || additional.iter().any(|a| a == n)
    });
    out.push(b'\n');

    out.extend_from_slice(additional.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload);
    out
}

/// The signing key and the intermediate keys of its derivation:
/// `[k1 (date), k2 (region), k3 (product), SigningKey]`.
fn signing_key_chain(secret: &str, date: &str, region: &str) -> [[u8; 32]; 4] {
    let k1 = hmac_sha256(format!("aliyun_v4{secret}").as_bytes(), date.as_bytes());
    let k2 = hmac_sha256(&k1, region.as_bytes());
    let k3 = hmac_sha256(&k2, PRODUCT.as_bytes());
    let signing_key = hmac_sha256(&k3, TERMINATOR.as_bytes());
    [k1, k2, k3, signing_key]
}

/// Builds the string to sign from the canonical request and compares signatures.
fn check_signature(
    cfg: &AuthConfig,
    credential: &Credential,
    datetime: &str,
    provided: &str,
    canonical_request: &[u8],
) -> Result<(), OssError> {
    let scope = format!(
        "{}/{}/{PRODUCT}/{TERMINATOR}",
        credential.date, credential.region
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{datetime}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request))
    );
    let [_, _, _, signing_key] =
        signing_key_chain(&cfg.access_key_secret, credential.date, credential.region);
    let expected = hex::encode(hmac_sha256(&signing_key, string_to_sign.as_bytes()));
    if constant_time_eq(provided.as_bytes(), expected.as_bytes()) {
        return Ok(());
    }
    // The string to sign holds only a hash; the canonical request may hold the token.
    Err(OssError::new(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check \
         your key and signing method.",
    )
    .with("OSSAccessKeyId", credential.access_key_id)
    .with("SignatureProvided", provided)
    .with("StringToSignBytes", spaced_hex(string_to_sign.as_bytes()))
    .with("StringToSign", string_to_sign)
    .with("CanonicalRequest", mask_token(cfg, canonical_request)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_key_chain_matches_the_documented_values() {
        let [k1, k2, k3, signing_key] =
            signing_key_chain("TestAccessKeySecret123", "20250314", "cn-hangzhou");
        assert_eq!(
            hex::encode(k1),
            "e790cc6e01dac6700dc3167855f7bc00642ed14f7a0c8b6d99f5b262b1bf367a"
        );
        assert_eq!(
            hex::encode(k2),
            "65f350fbe80ce7137b9547ad74db239a84111792704a555848782eb1fab99feb"
        );
        assert_eq!(
            hex::encode(k3),
            "36aab58ef11f9faa816ba164100eadf8a7cda01f733f01a37ba518162ef008b9"
        );
        assert_eq!(
            hex::encode(signing_key),
            "9b18a02825278f664a9c175cc59cdb7aa1f59f5370f67e7a0c12a2f289eed0a5"
        );
    }

    #[test]
    fn authorization_fields_in_any_order_and_separator() {
        let oss2 = "Credential=AK/20250314/r/oss/aliyun_v4_request, Signature=ab, \
                    AdditionalHeaders=host";
        let f = AuthorizationFields::parse(oss2).unwrap();
        assert_eq!(
            (f.credential, f.signature, f.additional_headers),
            ("AK/20250314/r/oss/aliyun_v4_request", "ab", Some("host"))
        );
        let v2 = "Credential=AK/20250314/r/oss/aliyun_v4_request,Signature=ab";
        let f = AuthorizationFields::parse(v2).unwrap();
        assert_eq!((f.signature, f.additional_headers), ("ab", None));
    }

    #[test]
    fn malformed_authorization_fields_are_rejected() {
        for bad in [
            "Credential=AK/20250314/r/oss/aliyun_v4_request",
            "Signature=ab",
            "Credential=AK/20250314/r/oss/aliyun_v4_request,AdditionalHeaders=,Signature=ab",
            "Credential=AK/20250314/r/oss/aliyun_v4_request,Signature=ab,Signature=ab",
            "Credential=AK/20250314/r/oss/aliyun_v4_request,Signature=ab,Extra=1",
            "Credential=AK/20250314/r/oss/aliyun_v4_request,Signature=ab,",
            "Credential=AK/20250314/r/oss/aliyun_v4_request Signature=ab",
            "",
        ] {
            let err = AuthorizationFields::parse(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad}"));
            assert_eq!(err.code, "InvalidArgument", "{bad}");
        }
    }

    #[test]
    fn credentials_must_have_five_parts_and_the_oss_product() {
        assert!(parse_credential("AK/20250314/cn-hangzhou/oss/aliyun_v4_request").is_ok());
        for bad in [
            "AK/20250314/cn-hangzhou/oss",
            "AK/20250314/cn-hangzhou/s3/aliyun_v4_request",
            "AK/20250314/cn-hangzhou/oss/aws4_request",
            "AK/2025031/cn-hangzhou/oss/aliyun_v4_request",
            "/20250314/cn-hangzhou/oss/aliyun_v4_request",
            "AK/20250314//oss/aliyun_v4_request",
            "AK/20250314/cn-hangzhou/oss/aliyun_v4_request/x",
        ] {
            assert_eq!(
                parse_credential(bad).err().map(|e| e.code),
                Some("InvalidArgument")
            );
        }
    }

    #[test]
    fn additional_headers_are_lowercased_and_sorted() {
        assert_eq!(
            parse_additional_headers("Range;host").unwrap(),
            vec!["host", "range"]
        );
        for bad in ["", ";", "host;", "ho st"] {
            assert!(parse_additional_headers(bad).is_err(), "{bad:?}");
        }
    }
}
