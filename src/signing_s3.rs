//! AWS Signature Version 4 for the S3 API (`AWS4-HMAC-SHA256`, service `s3`), as AWS
//! specifies it ("Signature Calculations for the Authorization Header: Transferring Payload
//! in a Single Chunk") and botocore's `S3SigV4Auth` computes it.
//!
//! It differs from OSS V4 (`signing`) in what it signs: the path exactly as sent (so
//! `/bucket/key` in path style and `/key` virtual-hosted, percent-encoded once), query values
//! written `name=` when empty, every header sent (ossmc sends only `host`, `range`,
//! `if-match` and the `x-amz-*` headers, so "every header" is what botocore signs too), and a
//! key chain that starts from `"AWS4" + secret` and ends in `s3/aws4_request`. GETs carry no
//! body and are sent with `x-amz-content-sha256: UNSIGNED-PAYLOAD`.

use std::time::SystemTime;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::credentials::Credentials;
use crate::error::Result;
use crate::signing::{cached_key, check_signable, hmac_sha256, v4_datetime};
use crate::uri::encode_query_value;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The payload hash of requests whose body is not signed (ossmc sends no bodies).
pub(crate) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// What an S3 signature covers.
pub(crate) struct S3Request<'a> {
    /// `GET`, `HEAD`...
    pub method: &'a str,
    /// The request path exactly as sent, percent-encoded (`/bucket/key` or `/key`).
    pub path: &'a str,
    /// Decoded names and values, exactly the parameters sent.
    pub query: &'a [(String, String)],
    /// Every header that will be sent (names in any case, `host` included), except those
    /// [`sign`] adds.
    pub headers: &'a [(String, String)],
}

/// Returns the headers to add to the request: `x-amz-date`, `x-amz-content-sha256`,
/// `x-amz-security-token` (when the credentials have one) and `authorization`. Zeroed when
/// dropped: the token is among them.
pub(crate) fn sign(
    region: &str,
    creds: &Credentials,
    now: SystemTime,
    req: &S3Request,
) -> Result<Zeroizing<Vec<(String, String)>>> {
    check_signable(now)?;
    Ok(Zeroizing::new(sign_with_payload(
        region,
        creds,
        now,
        req,
        UNSIGNED_PAYLOAD,
    )))
}

/// [`sign`] with a given payload hash (AWS's published examples hash an empty body).
fn sign_with_payload(
    region: &str,
    creds: &Credentials,
    now: SystemTime,
    req: &S3Request,
    payload_hash: &str,
) -> Vec<(String, String)> {
    let datetime = v4_datetime(now);
    let date = &datetime[..8];
    let mut added = Vec::with_capacity(4);
    added.push(("x-amz-date".to_owned(), datetime.clone()));
    added.push(("x-amz-content-sha256".to_owned(), payload_hash.to_owned()));
    if let Some(token) = &creds.security_token {
        added.push(("x-amz-security-token".to_owned(), token.expose().to_owned()));
    }
    let (canonical, signed_headers) = canonical_request(req, &added, payload_hash);
    let string_to_sign = string_to_sign(&datetime, region, &canonical);
    let key = cached_key(
        "s3",
        creds.access_key_secret.expose(),
        date,
        region,
        derive_key,
    );
    let signature = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()));
    added.push((
        "authorization".to_owned(),
        format!(
            "{ALGORITHM} Credential={}/{date}/{region}/s3/aws4_request, \
             SignedHeaders={signed_headers}, Signature={signature}",
            creds.access_key_id
        ),
    ));
    added
}

/// The canonical request and its signed-headers list. `added` are the headers [`sign`]
/// adds; they replace any header of the same name in `req.headers`.
pub(crate) fn canonical_request(
    req: &S3Request,
    added: &[(String, String)],
    payload_hash: &str,
) -> (String, String) {
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .filter(|(n, _)| !added.iter().any(|(a, _)| a == n))
        .chain(
            added
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone())),
        )
        .collect();
    headers.sort_by(|a, b| a.0.cmp(&b.0));

    let mut query: Vec<(String, String)> = req
        .query
        .iter()
        .map(|(n, v)| (encode_query_value(n), encode_query_value(v)))
        .collect();
    query.sort();

    let mut out = String::with_capacity(320);
    out.push_str(req.method);
    out.push('\n');
    out.push_str(if req.path.is_empty() { "/" } else { req.path });
    out.push('\n');
    for (i, (n, v)) in query.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(n);
        out.push('=');
        out.push_str(v);
    }
    out.push('\n');
    for (n, v) in &headers {
        out.push_str(n);
        out.push(':');
        // Trimmed, inner runs of spaces collapsed to one.
        let mut first = true;
        for word in v.split(' ').filter(|w| !w.is_empty()) {
            if !first {
                out.push(' ');
            }
            out.push_str(word);
            first = false;
        }
        out.push('\n');
    }
    out.push('\n');
    let signed: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    let signed = signed.join(";");
    out.push_str(&signed);
    out.push('\n');
    out.push_str(payload_hash);
    (out, signed)
}

/// The string to sign for a canonical request made at `datetime` (`YYYYMMDDTHHMMSSZ`).
pub(crate) fn string_to_sign(datetime: &str, region: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{datetime}\n{}/{region}/s3/aws4_request\n{}",
        &datetime[..datetime.len().min(8)],
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// The key chain: k = HMAC("AWS4" + secret, date), then region, "s3", "aws4_request".
fn derive_key(secret: &str, date: &str, region: &str) -> [u8; 32] {
    let k1_key = Zeroizing::new(format!("AWS4{secret}"));
    let k1 = hmac_sha256(k1_key.as_bytes(), date.as_bytes());
    let k2 = hmac_sha256(&k1, region.as_bytes());
    let k3 = hmac_sha256(&k2, b"s3");
    hmac_sha256(&k3, b"aws4_request")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// The credentials and time of AWS's published S3 signing examples.
    const AK: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    /// SHA-256 of the empty body, which the examples sign instead of UNSIGNED-PAYLOAD.
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// 2013-05-24T00:00:00Z.
    fn example_time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_369_353_600)
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn signature_of(added: &[(String, String)]) -> (String, String) {
        let auth = &added.iter().find(|(n, _)| n == "authorization").unwrap().1;
        let signed = auth.split("SignedHeaders=").nth(1).unwrap();
        let signed = signed.split(',').next().unwrap().to_owned();
        let sig = auth.rsplit("Signature=").next().unwrap().to_owned();
        (signed, sig)
    }

    #[test]
    fn aws_example_get_object_with_range() {
        let headers = pairs(&[
            ("Host", "examplebucket.s3.amazonaws.com"),
            ("Range", "bytes=0-9"),
        ]);
        let req = S3Request {
            method: "GET",
            path: "/test.txt",
            query: &[],
            headers: &headers,
        };
        let creds = Credentials::new(AK, SECRET);
        let added = sign_with_payload("us-east-1", &creds, example_time(), &req, EMPTY_SHA256);
        let (canonical, _) = canonical_request(&req, &added[..2], EMPTY_SHA256);
        assert_eq!(
            canonical,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
             x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
             x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            string_to_sign("20130524T000000Z", "us-east-1", &canonical),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
             7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        );
        let (signed, sig) = signature_of(&added);
        assert_eq!(signed, "host;range;x-amz-content-sha256;x-amz-date");
        assert_eq!(
            sig,
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        let auth = &added.last().unwrap().1;
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature="
        ));
    }

    #[test]
    fn aws_example_list_objects() {
        let headers = pairs(&[("host", "examplebucket.s3.amazonaws.com")]);
        let query = pairs(&[("prefix", "J"), ("max-keys", "2")]);
        let req = S3Request {
            method: "GET",
            path: "/",
            query: &query,
            headers: &headers,
        };
        let creds = Credentials::new(AK, SECRET);
        let added = sign_with_payload("us-east-1", &creds, example_time(), &req, EMPTY_SHA256);
        let (canonical, _) = canonical_request(&req, &added[..2], EMPTY_SHA256);
        assert!(
            canonical.starts_with("GET\n/\nmax-keys=2&prefix=J\n"),
            "{canonical}"
        );
        assert_eq!(
            signature_of(&added).1,
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    #[test]
    fn aws_example_get_bucket_lifecycle_signs_an_empty_value_as_name_equals() {
        let headers = pairs(&[("host", "examplebucket.s3.amazonaws.com")]);
        let query = pairs(&[("lifecycle", "")]);
        let req = S3Request {
            method: "GET",
            path: "/",
            query: &query,
            headers: &headers,
        };
        let creds = Credentials::new(AK, SECRET);
        let added = sign_with_payload("us-east-1", &creds, example_time(), &req, EMPTY_SHA256);
        assert_eq!(
            signature_of(&added).1,
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        );
    }

    #[test]
    fn tokens_are_signed_and_never_in_the_authorization() {
        let headers = pairs(&[("host", "127.0.0.1:9000")]);
        let req = S3Request {
            method: "HEAD",
            path: "/bkt/a%20b.bin",
            query: &[],
            headers: &headers,
        };
        let creds = Credentials::new(AK, SECRET).with_security_token("TOKEN/+=");
        let added = sign("us-east-1", &creds, example_time(), &req).unwrap();
        assert!(added.contains(&("x-amz-security-token".to_owned(), "TOKEN/+=".to_owned())));
        assert!(added.contains(&(
            "x-amz-content-sha256".to_owned(),
            "UNSIGNED-PAYLOAD".to_owned()
        )));
        let (signed, _) = signature_of(&added);
        assert_eq!(
            signed,
            "host;x-amz-content-sha256;x-amz-date;x-amz-security-token"
        );
        let auth = &added.last().unwrap().1;
        assert!(!auth.contains("TOKEN") && !auth.contains(SECRET));
    }

    #[test]
    fn header_values_are_trimmed_and_spaces_collapsed() {
        let headers = pairs(&[("host", "h"), ("if-match", "  \"a  b\" ")]);
        let req = S3Request {
            method: "GET",
            path: "/k",
            query: &[],
            headers: &headers,
        };
        let (canonical, signed) = canonical_request(&req, &[], UNSIGNED_PAYLOAD);
        assert!(canonical.contains("\nif-match:\"a b\"\n"), "{canonical}");
        assert_eq!(signed, "host;if-match");
    }
}
