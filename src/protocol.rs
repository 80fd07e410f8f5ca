//! The two wire protocols a connector can speak, OSS's own API and the S3 API (AWS S3, MinIO,
//! Ceph RGW, OSS's `s3.oss-<region>.aliyuncs.com` endpoints), and everything that differs
//! between them: the URI scheme, the bucket-name rules, the header prefix, the request-id
//! header, the headers a ranged GET or a HEAD carries, the whole-object checksum and its CRC
//! polynomial, where a HEAD error says what went wrong, and the default signing region.
//!
//! What they share (ListObjectsV2's parameters and response, ranged GETs, `If-Match`, the
//! `<Error>` document) stays where it is. Signing is chosen here too ([`Protocol::S3`] signs
//! with AWS Signature V4; see `signing`).

use crate::endpoint::Endpoint;
use crate::error::{Error, ErrorKind, Result};
use crate::error_doc::{decode_oss_err, ErrorDoc};

/// Which API a connector speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// Alibaba Cloud OSS's API (`oss://` URIs, `x-oss-*` headers, OSS V1/V4 signatures).
    #[default]
    Oss,
    /// The S3 API (`s3://` URIs, `x-amz-*` headers, AWS Signature V4).
    S3,
}

/// The CRC-64 an object's whole-object checksum uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum CrcKind {
    /// CRC-64/XZ (ECMA-182 polynomial, reflected): OSS's `x-oss-hash-crc64ecma`.
    #[default]
    Xz,
    /// CRC-64/NVME (reflected `0x9a6c9329ac4bc9b5`): S3's `x-amz-checksum-crc64nvme`.
    Nvme,
}

impl Protocol {
    /// The protocol for `endpoint`: `configured` if set, else S3 for a host that starts with
    /// `s3.` or `s3-` (`s3.us-west-2.amazonaws.com`, `s3.oss-cn-hangzhou.aliyuncs.com`),
    /// else OSS.
    pub(crate) fn for_endpoint(configured: Option<Protocol>, endpoint: &Endpoint) -> Protocol {
        configured.unwrap_or_else(|| {
            if endpoint.host.starts_with("s3.") || endpoint.host.starts_with("s3-") {
                Protocol::S3
            } else {
                Protocol::Oss
            }
        })
    }

    /// The name used in the configuration and in messages (`oss`, `s3`).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Oss => "oss",
            Protocol::S3 => "s3",
        }
    }

    /// The URI scheme with its `://`.
    pub(crate) fn scheme(self) -> &'static str {
        match self {
            Protocol::Oss => "oss://",
            Protocol::S3 => "s3://",
        }
    }

    /// The CRC polynomial of this protocol's whole-object checksum.
    pub(crate) fn crc_kind(self) -> CrcKind {
        match self {
            Protocol::Oss => CrcKind::Xz,
            Protocol::S3 => CrcKind::Nvme,
        }
    }

    /// The region V4 signatures use when neither the configuration nor the endpoint names
    /// one.
    pub(crate) fn fallback_region(self) -> &'static str {
        match self {
            Protocol::Oss => "cn-hangzhou",
            Protocol::S3 => "us-east-1",
        }
    }

    /// The signing region `host` implies, if any.
    pub(crate) fn region_of(self, host: &str) -> Option<String> {
        match self {
            Protocol::Oss => crate::endpoint::oss_region_of(host),
            Protocol::S3 => s3_region_of(host),
        }
    }

    /// Checks a bucket name: OSS's rules, or S3's (which also allow `.`).
    pub(crate) fn validate_bucket(self, name: &str) -> Result<()> {
        match self {
            Protocol::Oss => crate::uri::validate_bucket_name(name),
            Protocol::S3 => crate::uri::validate_s3_bucket_name(name),
        }
    }

    /// The request id of a response, for errors and the audit file.
    pub(crate) fn request_id(self, headers: &ureq::http::HeaderMap) -> Option<&str> {
        let names: &[&str] = match self {
            Protocol::Oss => &["x-oss-request-id"],
            // AWS sends x-amz-request-id; moto and some others x-amzn-requestid.
            Protocol::S3 => &["x-amz-request-id", "x-amzn-requestid"],
        };
        names
            .iter()
            .find_map(|n| headers.get(*n).and_then(|v| v.to_str().ok()))
    }

    /// Headers every request of `method` carries in this protocol (besides signing):
    /// OSS's ranged GETs ask for standard range behaviour (a range past the end is an error,
    /// not the whole object); S3 HEADs ask for the object's checksum.
    pub(crate) fn extra_headers(
        self,
        method: &str,
        ranged: bool,
    ) -> &'static [(&'static str, &'static str)] {
        match (self, method) {
            (Protocol::Oss, "GET") if ranged => &[("x-oss-range-behavior", "standard")],
            (Protocol::S3, "HEAD") => &[("x-amz-checksum-mode", "ENABLED")],
            _ => &[],
        }
    }

    /// The whole-object CRC-64 a HEAD response announces, with its polynomial: OSS's
    /// `x-oss-hash-crc64ecma` (decimal CRC-64/XZ), or S3's `x-amz-checksum-crc64nvme` (base64
    /// of the big-endian CRC-64/NVME). `Ok(None)` when there is none (S3 objects uploaded
    /// without that checksum, or stored as a multipart composite); `Err` names a malformed
    /// one.
    pub(crate) fn object_crc(
        self,
        headers: &ureq::http::HeaderMap,
    ) -> std::result::Result<Option<(CrcKind, u64)>, String> {
        let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
        match self {
            Protocol::Oss => match get("x-oss-hash-crc64ecma") {
                None => Ok(None),
                Some(v) => v
                    .parse::<u64>()
                    .map(|c| Some((CrcKind::Xz, c)))
                    .map_err(|_| "has an invalid x-oss-hash-crc64ecma".to_owned()),
            },
            Protocol::S3 => {
                // A composite checksum (of parts, "...-N") does not cover the object's bytes
                // as one CRC: treat it as absent.
                let composite =
                    get("x-amz-checksum-type").is_some_and(|t| t.eq_ignore_ascii_case("COMPOSITE"));
                match get("x-amz-checksum-crc64nvme") {
                    None => Ok(None),
                    Some(v) if composite || v.contains('-') => Ok(None),
                    Some(v) => decode_crc64nvme(v)
                        .map(|c| Some((CrcKind::Nvme, c)))
                        .ok_or_else(|| "has an invalid x-amz-checksum-crc64nvme".to_owned()),
                }
            }
        }
    }

    /// The `<Error>` document of a HEAD error response, which has no body: OSS puts it in
    /// `x-oss-err`; S3 sends only the status.
    pub(crate) fn head_error_doc(self, headers: &ureq::http::HeaderMap) -> Option<ErrorDoc> {
        match self {
            Protocol::Oss => headers
                .get("x-oss-err")
                .and_then(|v| v.to_str().ok())
                .and_then(decode_oss_err),
            Protocol::S3 => None,
        }
    }

    /// OSS's diagnostic code header (`x-oss-ec`); S3 has none.
    pub(crate) fn ec_header(self) -> Option<&'static str> {
        match self {
            Protocol::Oss => Some("x-oss-ec"),
            Protocol::S3 => None,
        }
    }
}

impl std::str::FromStr for Protocol {
    type Err = Error;

    fn from_str(s: &str) -> Result<Protocol> {
        match s.to_ascii_lowercase().as_str() {
            "oss" => Ok(Protocol::Oss),
            "s3" => Ok(Protocol::S3),
            _ => Err(Error::new(
                ErrorKind::InvalidConfig,
                format!("protocol must be \"oss\" or \"s3\", got {s:?}"),
            )),
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `x-amz-checksum-crc64nvme`: the base64 of the 8 big-endian bytes of the CRC.
fn decode_crc64nvme(v: &str) -> Option<u64> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(v).ok()?;
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// The region of the S3 endpoints that name one: `s3.<region>.amazonaws.com`,
/// `s3-<region>.amazonaws.com`, `s3.dualstack.<region>.amazonaws.com`, and OSS's
/// `s3.oss-<region>[-internal].aliyuncs.com` (whose S3 region is `oss-<region>`, as
/// Alibaba's S3 compatibility notes configure it).
fn s3_region_of(host: &str) -> Option<String> {
    let plausible = |r: &str| {
        !r.is_empty()
            && r.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    };
    if let Some(rest) = host.strip_suffix(".aliyuncs.com") {
        let name = rest.strip_prefix("s3.")?;
        let name = name.strip_suffix("-internal").unwrap_or(name);
        return (name.starts_with("oss-") && plausible(name)).then(|| name.to_owned());
    }
    let rest = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))?;
    let region = if let Some(r) = rest.strip_prefix("s3.dualstack.") {
        r
    } else if let Some(r) = rest.strip_prefix("s3.") {
        r
    } else {
        rest.strip_prefix("s3-")?
    };
    (plausible(region) && region != "external-1").then(|| region.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> ureq::http::HeaderMap {
        let mut h = ureq::http::HeaderMap::new();
        for (n, v) in pairs {
            h.insert(*n, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_endpoint_host_picks_the_protocol_unless_configured() {
        let p = |s: &str, c| Protocol::for_endpoint(c, &Endpoint::parse(s).unwrap());
        assert_eq!(p("s3.us-west-2.amazonaws.com", None), Protocol::S3);
        assert_eq!(
            p("https://s3.oss-cn-hangzhou.aliyuncs.com", None),
            Protocol::S3
        );
        assert_eq!(p("s3-eu-west-1.amazonaws.com", None), Protocol::S3);
        assert_eq!(p("oss-cn-hangzhou.aliyuncs.com", None), Protocol::Oss);
        assert_eq!(p("http://127.0.0.1:9000", None), Protocol::Oss);
        assert_eq!(p("http://127.0.0.1:9000", Some(Protocol::S3)), Protocol::S3);
        assert_eq!(p("s3.amazonaws.com", Some(Protocol::Oss)), Protocol::Oss);
        assert_eq!("S3".parse::<Protocol>().unwrap(), Protocol::S3);
        let e = "gcs".parse::<Protocol>().unwrap_err();
        assert_eq!(
            e.message(),
            "protocol must be \"oss\" or \"s3\", got \"gcs\""
        );
    }

    #[test]
    fn s3_regions_from_host_names() {
        let r = |h: &str| Protocol::S3.region_of(h);
        assert_eq!(
            r("s3.us-west-2.amazonaws.com").as_deref(),
            Some("us-west-2")
        );
        assert_eq!(
            r("s3-eu-west-1.amazonaws.com").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            r("s3.dualstack.ap-south-1.amazonaws.com").as_deref(),
            Some("ap-south-1")
        );
        assert_eq!(
            r("s3.cn-north-1.amazonaws.com.cn").as_deref(),
            Some("cn-north-1")
        );
        assert_eq!(
            r("s3.oss-cn-hangzhou.aliyuncs.com").as_deref(),
            Some("oss-cn-hangzhou")
        );
        assert_eq!(
            r("s3.oss-cn-beijing-internal.aliyuncs.com").as_deref(),
            Some("oss-cn-beijing")
        );
        assert_eq!(r("s3.amazonaws.com"), None);
        assert_eq!(r("s3-external-1.amazonaws.com"), None);
        assert_eq!(r("127.0.0.1"), None);
        assert_eq!(r("minio.example.com"), None);
        assert_eq!(Protocol::S3.fallback_region(), "us-east-1");
    }

    #[test]
    fn object_checksums_per_protocol() {
        // CRC-64/NVME of "123456789" is 0xae8b14860a799888 (its check value).
        let h = headers(&[("x-amz-checksum-crc64nvme", "rosUhgp5mIg=")]);
        assert_eq!(
            Protocol::S3.object_crc(&h).unwrap(),
            Some((CrcKind::Nvme, 0xae8b14860a799888))
        );
        assert_eq!(Protocol::Oss.object_crc(&h).unwrap(), None);
        let h = headers(&[
            ("x-amz-checksum-crc64nvme", "rosUhgp5mIg="),
            ("x-amz-checksum-type", "COMPOSITE"),
        ]);
        assert_eq!(Protocol::S3.object_crc(&h).unwrap(), None);
        let h = headers(&[("x-amz-checksum-crc64nvme", "not base64!")]);
        assert!(Protocol::S3.object_crc(&h).is_err());
        let h = headers(&[("x-amz-checksum-crc64nvme", "AAAA")]);
        assert!(Protocol::S3.object_crc(&h).is_err(), "3 bytes is no CRC-64");
        let h = headers(&[("x-oss-hash-crc64ecma", "11051210869376104954")]);
        assert_eq!(
            Protocol::Oss.object_crc(&h).unwrap(),
            Some((CrcKind::Xz, 11051210869376104954))
        );
        assert_eq!(Protocol::S3.object_crc(&h).unwrap(), None);
    }

    #[test]
    fn request_ids_and_extra_headers() {
        let h = headers(&[("x-amzn-requestid", "moto-1")]);
        assert_eq!(Protocol::S3.request_id(&h), Some("moto-1"));
        assert_eq!(Protocol::Oss.request_id(&h), None);
        let h = headers(&[("x-amz-request-id", "aws-1"), ("x-amzn-requestid", "x")]);
        assert_eq!(Protocol::S3.request_id(&h), Some("aws-1"));
        assert_eq!(
            Protocol::Oss.extra_headers("GET", true),
            &[("x-oss-range-behavior", "standard")]
        );
        assert!(Protocol::Oss.extra_headers("GET", false).is_empty());
        assert!(Protocol::S3.extra_headers("GET", true).is_empty());
        assert_eq!(
            Protocol::S3.extra_headers("HEAD", false),
            &[("x-amz-checksum-mode", "ENABLED")]
        );
    }
}
