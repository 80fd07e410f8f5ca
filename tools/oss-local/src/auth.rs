//! Request authentication: verifies the signature of every request the way OSS does, so that a
//! client which passes here signs correctly for real OSS, and the official clients pass too.
//!
//! Four forms are accepted (see the protocol notes, section 2):
//! - V1 header: `Authorization: OSS <AccessKeyId>:<base64 HMAC-SHA1>` ([`v1`]);
//! - V1 presigned URL: `OSSAccessKeyId`, `Expires`, `Signature` query parameters ([`v1`]);
//! - V4 header: `Authorization: OSS4-HMAC-SHA256 Credential=…,Signature=…` ([`v4`]);
//! - V4 presigned URL: `x-oss-signature-version=OSS4-HMAC-SHA256` and friends ([`v4`]).
//!
//! This module picks the form, and owns the rules common to all of them: the security token,
//! the clock, and the errors. Checks run in the order OSS is understood to apply them: shape
//! of the credentials (400), access key (403), security token, time, and the signature last.
//!
//! Choices where OSS's behaviour is not documented (each mirrors the closest S3 behaviour):
//! - Malformed presigned-URL parameters, like a malformed Authorization header, are 400
//!   `InvalidArgument`.
//! - A V4 scope whose date differs from `x-oss-date`, or whose region is not the server's, is
//!   400 `InvalidArgument` naming the expected value (S3 answers 400
//!   `AuthorizationHeaderMalformed`), rather than a bare `SignatureDoesNotMatch`.
//! - A token both in a header and in the query is 400 `InvalidArgument`.
//! - Echoed strings to sign have the security token masked: the rule that secrets never
//!   appear in error output wins over a byte-exact echo.

pub(crate) mod canonical;
mod v1;
mod v4;

#[cfg(test)]
mod tests;

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use hyper::HeaderMap;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::error::OssError;
use canonical::{constant_time_eq, header, header_str, uri_encode, Query};

/// The one set of credentials the server accepts, and where it runs.
#[derive(Clone)]
pub struct AuthConfig {
    /// The only access key id accepted; any other is `InvalidAccessKeyId`.
    pub access_key_id: String,
    /// The secret both signature versions are keyed with. Never logged or echoed.
    pub access_key_secret: String,
    /// With `Some`, every request must carry exactly this STS token; with `None`, none may.
    pub security_token: Option<String>,
    /// The region V4 scopes must name, e.g. `cn-hangzhou`.
    pub region: String,
    /// `false` (`--no-auth`) accepts every request without looking at it.
    pub enabled: bool,
}

impl fmt::Debug for AuthConfig {
    // Hand-written so that the secret and the token never reach a log through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"<redacted>")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<redacted>"),
            )
            .field("region", &self.region)
            .field("enabled", &self.enabled)
            .finish()
    }
}

/// What the verifier needs to know about one request, after the server has parsed it.
pub struct AuthRequest<'a> {
    /// The HTTP method as sent (`GET`, `HEAD`, ...).
    pub method: &'a str,
    /// The bucket, from the host or the first path segment; `None` for the service (`GET /`).
    pub bucket: Option<&'a str>,
    /// The decoded object key; `None` for bucket-level and service requests.
    pub key: Option<&'a str>,
    /// The query string as received, undecoded, without `?`.
    pub raw_query: &'a str,
    /// All request headers.
    pub headers: &'a HeaderMap,
    /// The server's clock for this request (a parameter so tests can pin it).
    pub now: SystemTime,
}

/// Verifies a request's credentials.
///
/// Returns `Ok(())` or the OSS error to answer with: `AccessDenied` (no credentials, bad date,
/// expired URL), `InvalidArgument` (malformed credentials), `InvalidAccessKeyId`,
/// `InvalidSecurityToken`, `RequestTimeTooSkewed` or `SignatureDoesNotMatch` (with
/// `StringToSign`, `SignatureProvided` and `OSSAccessKeyId`). Signatures may be reused freely:
/// clients share one signature among requests sent close together.
pub fn verify(cfg: &AuthConfig, req: &AuthRequest) -> Result<(), OssError> {
    if !cfg.enabled {
        return Ok(());
    }
    let query = Query::parse(req.raw_query);
    let authorization = header_str(req.headers, "authorization")?;
    let v1_query = query.contains("OSSAccessKeyId") || query.contains("Signature");
    let v4_query = query.contains("x-oss-signature-version")
        || query.contains("x-oss-credential")
        || query.contains("x-oss-signature");
    match (authorization, v1_query, v4_query) {
        (None, false, false) => Err(OssError::access_denied(
            "The request carries no credentials, and anonymous access is not allowed.",
        )),
        (Some(_), true, _) | (Some(_), _, true) | (None, true, true) => {
            Err(OssError::invalid_argument(
                "The request carries more than one kind of credentials; use either the \
                 Authorization header or a presigned URL.",
            ))
        }
        (None, true, false) => v1::verify_presigned(cfg, req, &query),
        (None, false, true) => v4::verify_presigned(cfg, req, &query),
        (Some(value), false, false) => {
            let (scheme, rest) = value.split_once(' ').unwrap_or((value.as_str(), ""));
            match scheme {
                "OSS" => v1::verify_header(cfg, req, &query, rest.trim_start()),
                "OSS4-HMAC-SHA256" => v4::verify_header(cfg, req, &query, rest.trim_start()),
                _ => Err(OssError::invalid_argument(format!(
                    "The Authorization header uses an unsupported scheme {scheme:?}; expected \
                     \"OSS\" or \"OSS4-HMAC-SHA256\"."
                ))),
            }
        }
    }
}

/// Rejects any access key id but the configured one.
fn check_access_key(cfg: &AuthConfig, access_key_id: &str) -> Result<(), OssError> {
    if access_key_id == cfg.access_key_id {
        Ok(())
    } else {
        Err(OssError::new(
            403,
            "InvalidAccessKeyId",
            "The OSS Access Key Id you provided does not exist in our records.",
        )
        .with("OSSAccessKeyId", access_key_id))
    }
}

/// Applies the token rules to the token found in a header and the one found in the query:
/// at most one of them; with a configured token, exactly that one; without, none.
fn check_security_token(
    cfg: &AuthConfig,
    in_header: Option<&[u8]>,
    in_query: Option<&[u8]>,
) -> Result<(), OssError> {
    let provided = match (in_header, in_query) {
        (Some(_), Some(_)) => {
            return Err(OssError::invalid_argument(
                "The security token was given both in a header and in the query string; give \
                 it once.",
            ))
        }
        (one, None) | (None, one) => one,
    };
    match (cfg.security_token.as_deref(), provided) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(invalid_security_token(
            "The request carries a security token, but the access key is not a temporary \
             (STS) key.",
        )),
        (Some(_), None) => Err(invalid_security_token(
            "The access key is a temporary (STS) key, and the request carries no security \
             token.",
        )),
        (Some(expected), Some(token)) if constant_time_eq(token, expected.as_bytes()) => Ok(()),
        (Some(_), Some(_)) => Err(invalid_security_token(
            "The security token you provided is invalid or does not belong to the access key.",
        )),
    }
}

fn invalid_security_token(message: &str) -> OssError {
    OssError::new(403, "InvalidSecurityToken", message)
}

/// The most a header-signed request's time may differ from the server's, as on OSS.
const MAX_SKEW_SECS: i64 = 15 * 60;

/// Rejects a header-signed request dated more than 15 minutes from `now`. `sent` is the date
/// as the client wrote it, echoed in `RequestTime`.
fn check_skew(sent: &str, request_secs: i64, now: SystemTime) -> Result<(), OssError> {
    let now_secs = unix_secs(now);
    if (now_secs - request_secs).abs() <= MAX_SKEW_SECS {
        return Ok(());
    }
    Err(OssError::new(
        403,
        "RequestTimeTooSkewed",
        "The difference between the request time and the current time is too large.",
    )
    .with("RequestTime", sent)
    .with("ServerTime", iso8601(now_secs))
    .with(
        "MaxAllowedSkewMilliseconds",
        (MAX_SKEW_SECS * 1000).to_string(),
    ))
}

/// Rejects a presigned URL used after its expiry (`expires_secs`, inclusive).
fn check_not_expired(expires_secs: i64, now: SystemTime) -> Result<(), OssError> {
    let now_secs = unix_secs(now);
    if now_secs <= expires_secs {
        return Ok(());
    }
    Err(OssError::access_denied("Request has expired.")
        .with("Expires", iso8601(expires_secs))
        .with("ServerTime", iso8601(now_secs)))
}

/// Seconds since the Unix epoch (negative before it, which no real clock reports).
fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// `2025-03-14T12:34:56.000Z`, the form OSS uses for times in error bodies.
fn iso8601(secs: i64) -> String {
    match OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => secs.to_string(),
    }
}

/// Parses the V4 timestamp form `YYYYMMDDTHHMMSSZ` (UTC) to Unix seconds.
fn parse_iso8601_basic(text: &str) -> Option<i64> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    PrimitiveDateTime::parse(text, &format)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// Parses an HTTP date (IMF-fixdate, RFC 850 or asctime, as `Date` allows) to Unix seconds.
fn parse_http_date(text: &str) -> Option<i64> {
    httpdate::parse_http_date(text).ok().map(unix_secs)
}

/// Replaces the configured security token, raw and URI-encoded, in a string echoed to the
/// client, so the token never appears in an error body or a log that records one.
fn mask_token(cfg: &AuthConfig, text: &[u8]) -> String {
    let mut masked = String::from_utf8_lossy(text).into_owned();
    if let Some(token) = cfg.security_token.as_deref().filter(|t| !t.is_empty()) {
        masked = masked.replace(token, "******");
        if let Ok(encoded) = String::from_utf8(uri_encode(token.as_bytes(), false)) {
            masked = masked.replace(&encoded, "******");
        }
    }
    masked
}

/// The value of the `x-oss-security-token` header, the token's header in both versions.
fn token_header(headers: &HeaderMap) -> Option<Vec<u8>> {
    header(headers, "x-oss-security-token")
}
