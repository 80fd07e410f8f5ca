//! The signing vectors of the protocol notes (section 2), captured from oss2 2.19.1 and
//! alibabacloud-oss-v2 1.4.1, verified end to end, plus tampered, stale, expired, malformed
//! and token variants. Requests are built from the printed HTTP text, the way the server
//! would see them: bucket from the virtual-hosted Host, key percent-decoded from the path.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::header::{HeaderName, HeaderValue};
use hyper::HeaderMap;

use super::canonical::decode;
use super::{verify, AuthConfig, AuthRequest};
use crate::error::OssError;

const AK: &str = "LTAI5tTestAccessKeyId";
const SECRET: &str = "TestAccessKeySecret123";
const TOKEN: &str = "CAISTestSecurityToken/Exa+mple==";
/// 2025-03-14 12:34:56 UTC, the clock the vectors were signed at.
const VECTOR_EPOCH: u64 = 1_741_955_696;

fn vector_now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(VECTOR_EPOCH)
}

fn config(token: Option<&str>) -> AuthConfig {
    AuthConfig {
        access_key_id: AK.to_string(),
        access_key_secret: SECRET.to_string(),
        security_token: token.map(str::to_string),
        region: "cn-hangzhou".to_string(),
        enabled: true,
    }
}

/// A request as the server sees it after routing.
#[derive(Clone)]
struct Wire {
    method: String,
    bucket: Option<String>,
    key: Option<String>,
    raw_query: String,
    headers: HeaderMap,
}

impl Wire {
    /// Parses `METHOD /path?query HTTP/1.1` and `Name: value` lines.
    fn http(text: &str) -> Wire {
        let mut lines = text.lines();
        let request_line = lines.next().unwrap();
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap().to_string();
        let target = parts.next().unwrap();
        let mut headers = HeaderMap::new();
        for line in lines.filter(|l| !l.trim().is_empty()) {
            let (name, value) = line.split_once(':').unwrap();
            headers.append(
                HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
                HeaderValue::from_str(value.trim()).unwrap(),
            );
        }
        Wire::route(method, target, headers)
    }

    /// A presigned GET of an `https://host/path?query` URL, with only a Host header.
    fn url(url: &str) -> Wire {
        let rest = url.strip_prefix("https://").unwrap();
        let (host, target) = rest.split_at(rest.find('/').unwrap());
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_str(host).unwrap());
        Wire::route("GET".to_string(), target, headers)
    }

    /// Virtual-hosted routing: the bucket is the Host's first label, the key the decoded
    /// path without its leading `/`.
    fn route(method: String, target: &str, headers: HeaderMap) -> Wire {
        let (path, raw_query) = target.split_once('?').unwrap_or((target, ""));
        let host = headers.get("host").unwrap().to_str().unwrap();
        let bucket = host.split('.').next().unwrap().to_string();
        let key = String::from_utf8(decode(&path[1..])).unwrap();
        Wire {
            method,
            bucket: Some(bucket),
            key: if key.is_empty() { None } else { Some(key) },
            raw_query: raw_query.to_string(),
            headers,
        }
    }

    fn verify_at(&self, cfg: &AuthConfig, now: SystemTime) -> Result<(), OssError> {
        verify(
            cfg,
            &AuthRequest {
                method: &self.method,
                bucket: self.bucket.as_deref(),
                key: self.key.as_deref(),
                raw_query: &self.raw_query,
                headers: &self.headers,
                now,
            },
        )
    }

    fn verify(&self, cfg: &AuthConfig) -> Result<(), OssError> {
        self.verify_at(cfg, vector_now())
    }

    fn set_header(mut self, name: &'static str, value: &str) -> Wire {
        self.headers
            .insert(name, HeaderValue::from_str(value).unwrap());
        self
    }

    fn remove_header(mut self, name: &'static str) -> Wire {
        self.headers.remove(name);
        self
    }

    fn with_query(mut self, raw_query: &str) -> Wire {
        self.raw_query = raw_query.to_string();
        self
    }

    fn with_key(mut self, key: &str) -> Wire {
        self.key = Some(key.to_string());
        self
    }
}

fn extra<'e>(err: &'e OssError, name: &str) -> Option<&'e str> {
    err.extra
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

#[track_caller]
fn assert_code(result: Result<(), OssError>, status: u16, code: &str) -> OssError {
    match result {
        Ok(()) => panic!("expected {code}, the request was accepted"),
        Err(e) => {
            assert_eq!((e.status, e.code), (status, code), "{}", e.message);
            e
        }
    }
}

#[track_caller]
fn assert_mismatch(result: Result<(), OssError>) -> OssError {
    assert_code(result, 403, "SignatureDoesNotMatch")
}

// ---- V1 vectors ----

const V1_A: &str = "GET /models%2Fqwen%2Fmodel-00001-of-00004.safetensors HTTP/1.1
Host: examplebucket.oss-cn-hangzhou.aliyuncs.com
x-oss-range-behavior: standard
range: bytes=0-1048575
date: Fri, 14 Mar 2025 12:34:56 GMT
authorization: OSS LTAI5tTestAccessKeyId:eBSyiw/GsmYgHNIbouwHPxF5XnA=";
const V1_A_STS: &str = "GET\n\n\nFri, 14 Mar 2025 12:34:56 GMT\nx-oss-range-behavior:standard\n/examplebucket/models/qwen/model-00001-of-00004.safetensors";

const V1_B: &str = "GET /?list-type=2&prefix=models%2Fqwen%2F&delimiter=&continuation-token=Cg5tb2RlbHMvcXdlbi9h%2B%2F%3D&start-after=&fetch-owner=false&max-keys=1000&encoding-type=url HTTP/1.1
Host: examplebucket.oss-cn-hangzhou.aliyuncs.com
x-oss-security-token: CAISTestSecurityToken/Exa+mple==
date: Fri, 14 Mar 2025 12:34:56 GMT
authorization: OSS LTAI5tTestAccessKeyId:uzX9vgi8FZi3C7Wwi5mvPB8GxD8=";
const V1_B_STS: &str = "GET\n\n\nFri, 14 Mar 2025 12:34:56 GMT\nx-oss-security-token:CAISTestSecurityToken/Exa+mple==\n/examplebucket/?continuation-token=Cg5tb2RlbHMvcXdlbi9h+/=";

/// V1-B as the v2 SDK sends it: other parameter order, signed Content-Type and Content-MD5,
/// and the token in the unsigned `security-token` header.
const V1_B_V2SDK: &str = "GET /?encoding-type=url&list-type=2&continuation-token=Cg5tb2RlbHMvcXdlbi9h%2B%2F%3D&max-keys=1000&prefix=models%2Fqwen%2F HTTP/1.1
Host: examplebucket.oss-cn-hangzhou.aliyuncs.com
Content-Type: application/octet-stream
Content-MD5: 1B2M2Y8AsgTpgAmY7PhCfg==
Date: Fri, 14 Mar 2025 12:34:56 GMT
security-token: CAISTestSecurityToken/Exa+mple==
Authorization: OSS LTAI5tTestAccessKeyId:fhU2bJkUoEqFfblWpjTBpbC+7cU=";
const V1_B_V2SDK_STS: &str = "GET\n1B2M2Y8AsgTpgAmY7PhCfg==\napplication/octet-stream\nFri, 14 Mar 2025 12:34:56 GMT\n/examplebucket/?continuation-token=Cg5tb2RlbHMvcXdlbi9h+/=";

const V1_C: &str = "GET /data%20set%2F%C3%BCn%C3%AFc%C3%B8d%C3%A9%20%E6%96%87%E4%BB%B6%2B100%25%3Fa%23b%3Dc.bin HTTP/1.1
Host: examplebucket.oss-cn-hangzhou.aliyuncs.com
date: Fri, 14 Mar 2025 12:34:56 GMT
authorization: OSS LTAI5tTestAccessKeyId:0ZYyA9/apGxmvNgrzaaGS56fjac=";
const V1_C_STS: &str =
    "GET\n\n\nFri, 14 Mar 2025 12:34:56 GMT\n/examplebucket/data set/ünïcødé 文件+100%?a#b=c.bin";

const V1_D: &str = "GET /?prefix=models%2Fqwen%2F&delimiter=%2F&marker=models%2Fqwen%2Fa&max-keys=100&encoding-type=url HTTP/1.1
Host: examplebucket.oss-cn-hangzhou.aliyuncs.com
date: Fri, 14 Mar 2025 12:34:56 GMT
authorization: OSS LTAI5tTestAccessKeyId:f+OWYT7FlZi3iz/1UUK+0n4h/6M=";
const V1_D_STS: &str = "GET\n\n\nFri, 14 Mar 2025 12:34:56 GMT\n/examplebucket/";

const V1_PRESIGN_C: &str = "https://examplebucket.oss-cn-hangzhou.aliyuncs.com/data%20set%2F%C3%BCn%C3%AFc%C3%B8d%C3%A9%20%E6%96%87%E4%BB%B6%2B100%25%3Fa%23b%3Dc.bin?OSSAccessKeyId=LTAI5tTestAccessKeyId&Expires=1741959296&Signature=Qqz5UCQVp2MYcVq09VCJOKb%2Fmwc%3D";
const V1_PRESIGN_C_STS: &str =
    "GET\n\n\n1741959296\n/examplebucket/data set/ünïcødé 文件+100%?a#b=c.bin";

const V1_PRESIGN_A_TOKEN: &str = "https://examplebucket.oss-cn-hangzhou.aliyuncs.com/models%2Fqwen%2Fmodel-00001-of-00004.safetensors?security-token=CAISTestSecurityToken%2FExa%2Bmple%3D%3D&OSSAccessKeyId=LTAI5tTestAccessKeyId&Expires=1741959296&Signature=0x2ZksgDjGmNNTV1CnXw8b6RoTc%3D";
const V1_PRESIGN_A_TOKEN_STS: &str = "GET\n\n\n1741959296\n/examplebucket/models/qwen/model-00001-of-00004.safetensors?security-token=CAISTestSecurityToken/Exa+mple==";

// ---- V4 vectors ----

const V4_A: &str = "GET /models%2Fqwen%2Fmodel-00001-of-00004.safetensors HTTP/1.1
Host: examplebucket.oss-cn-hangzhou.aliyuncs.com
x-oss-range-behavior: standard
range: bytes=0-1048575
x-oss-date: 20250314T123456Z
x-oss-content-sha256: UNSIGNED-PAYLOAD
authorization: OSS4-HMAC-SHA256 Credential=LTAI5tTestAccessKeyId/20250314/cn-hangzhou/oss/aliyun_v4_request, Signature=b8d39ff701143a3f4dd82358123d4a66a6cb063a954555aa02b3844c5f9cad51";
const V4_A_CANONICAL: &str = "GET\n/examplebucket/models/qwen/model-00001-of-00004.safetensors\n\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20250314T123456Z\nx-oss-range-behavior:standard\n\n\nUNSIGNED-PAYLOAD";
const V4_A_STS: &str = "OSS4-HMAC-SHA256\n20250314T123456Z\n20250314/cn-hangzhou/oss/aliyun_v4_request\n299f6111097b4b62ff378736c50e98b40a9342940f4f671db4955a2a190c9d21";

/// V4-A as the v2 SDK sends it: literal `/` in the path, an unsigned Date, `,` separators.
const V4_A_V2SDK: &str = "GET /models/qwen/model-00001-of-00004.safetensors HTTP/1.1
Host: examplebucket.oss-cn-hangzhou.aliyuncs.com
x-oss-range-behavior: standard
range: bytes=0-1048575
x-oss-date: 20250314T123456Z
Date: Fri, 14 Mar 2025 12:34:56 GMT
x-oss-content-sha256: UNSIGNED-PAYLOAD
authorization: OSS4-HMAC-SHA256 Credential=LTAI5tTestAccessKeyId/20250314/cn-hangzhou/oss/aliyun_v4_request,Signature=b8d39ff701143a3f4dd82358123d4a66a6cb063a954555aa02b3844c5f9cad51";

const V4_A_PRIME: &str = "GET /models/qwen/model-00001-of-00004.safetensors HTTP/1.1
Host: examplebucket.oss-cn-hangzhou.aliyuncs.com
Range: bytes=0-1048575
x-oss-range-behavior: standard
x-oss-date: 20250314T123456Z
x-oss-content-sha256: UNSIGNED-PAYLOAD
Authorization: OSS4-HMAC-SHA256 Credential=LTAI5tTestAccessKeyId/20250314/cn-hangzhou/oss/aliyun_v4_request,AdditionalHeaders=host,Signature=55294f1bcafa67fd3f05c2f7ece69d86feeeac180c224cfd7245dbb0b0991424";
const V4_A_PRIME_CANONICAL: &str = "GET\n/examplebucket/models/qwen/model-00001-of-00004.safetensors\n\nhost:examplebucket.oss-cn-hangzhou.aliyuncs.com\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20250314T123456Z\nx-oss-range-behavior:standard\n\nhost\nUNSIGNED-PAYLOAD";
const V4_A_PRIME_STS: &str = "OSS4-HMAC-SHA256\n20250314T123456Z\n20250314/cn-hangzhou/oss/aliyun_v4_request\neb3f91de9406ea9ec02e5f11a3c4aaf2b69e30a1f2db7568a9bd35e63d742d2f";

const V4_B: &str = "GET /?list-type=2&prefix=models%2Fqwen%2F&delimiter=&continuation-token=Cg5tb2RlbHMvcXdlbi9h%2B%2F%3D&start-after=&fetch-owner=false&max-keys=1000&encoding-type=url HTTP/1.1
Host: examplebucket.oss-cn-hangzhou.aliyuncs.com
x-oss-security-token: CAISTestSecurityToken/Exa+mple==
x-oss-date: 20250314T123456Z
x-oss-content-sha256: UNSIGNED-PAYLOAD
authorization: OSS4-HMAC-SHA256 Credential=LTAI5tTestAccessKeyId/20250314/cn-hangzhou/oss/aliyun_v4_request, Signature=70ee30431cb01255afe8de00cdfac25ed4898115b9785bca5ffe88749abf4d4a";
const V4_B_CANONICAL: &str = "GET\n/examplebucket/\ncontinuation-token=Cg5tb2RlbHMvcXdlbi9h%2B%2F%3D&delimiter&encoding-type=url&fetch-owner=false&list-type=2&max-keys=1000&prefix=models%2Fqwen%2F&start-after\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20250314T123456Z\nx-oss-security-token:CAISTestSecurityToken/Exa+mple==\n\n\nUNSIGNED-PAYLOAD";
const V4_B_STS: &str = "OSS4-HMAC-SHA256\n20250314T123456Z\n20250314/cn-hangzhou/oss/aliyun_v4_request\n0b8cafdd69030dc83a5a77724f4f35452bfb5e735aea390b8b7909ccb75b0449";

const V4_B2: &str = "GET /?encoding-type=url&list-type=2&continuation-token=Cg5tb2RlbHMvcXdlbi9h%2B%2F%3D&max-keys=1000&prefix=models%2Fqwen%2F HTTP/1.1
Host: examplebucket.oss-cn-hangzhou.aliyuncs.com
Content-Type: application/octet-stream
Content-MD5: 1B2M2Y8AsgTpgAmY7PhCfg==
x-oss-date: 20250314T123456Z
Date: Fri, 14 Mar 2025 12:34:56 GMT
x-oss-security-token: CAISTestSecurityToken/Exa+mple==
x-oss-content-sha256: UNSIGNED-PAYLOAD
Authorization: OSS4-HMAC-SHA256 Credential=LTAI5tTestAccessKeyId/20250314/cn-hangzhou/oss/aliyun_v4_request,Signature=5267c8ad9bfca181900f76ee1e18893db90bb67252a8139c28524b1d64de7290";
const V4_B2_CANONICAL: &str = "GET\n/examplebucket/\ncontinuation-token=Cg5tb2RlbHMvcXdlbi9h%2B%2F%3D&encoding-type=url&list-type=2&max-keys=1000&prefix=models%2Fqwen%2F\ncontent-md5:1B2M2Y8AsgTpgAmY7PhCfg==\ncontent-type:application/octet-stream\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20250314T123456Z\nx-oss-security-token:CAISTestSecurityToken/Exa+mple==\n\n\nUNSIGNED-PAYLOAD";
const V4_B2_STS: &str = "OSS4-HMAC-SHA256\n20250314T123456Z\n20250314/cn-hangzhou/oss/aliyun_v4_request\n38228229b149e8843bf0f12a60da57bee8dce424eadeaf03e7f13920a12461e6";

const V4_C: &str = "GET /data%20set%2F%C3%BCn%C3%AFc%C3%B8d%C3%A9%20%E6%96%87%E4%BB%B6%2B100%25%3Fa%23b%3Dc.bin HTTP/1.1
Host: examplebucket.oss-cn-hangzhou.aliyuncs.com
x-oss-date: 20250314T123456Z
x-oss-content-sha256: UNSIGNED-PAYLOAD
authorization: OSS4-HMAC-SHA256 Credential=LTAI5tTestAccessKeyId/20250314/cn-hangzhou/oss/aliyun_v4_request, Signature=e212252a3dd9691c2fa5b037e65993a34199ff31d5947e303abdddeaf30386a7";
const V4_C_CANONICAL: &str = "GET\n/examplebucket/data%20set/%C3%BCn%C3%AFc%C3%B8d%C3%A9%20%E6%96%87%E4%BB%B6%2B100%25%3Fa%23b%3Dc.bin\n\nx-oss-content-sha256:UNSIGNED-PAYLOAD\nx-oss-date:20250314T123456Z\n\n\nUNSIGNED-PAYLOAD";
const V4_C_STS: &str = "OSS4-HMAC-SHA256\n20250314T123456Z\n20250314/cn-hangzhou/oss/aliyun_v4_request\n5734c20d91a669df4b7014452cec70df384c5a99619a5be703ca7a89cf638841";

/// V4-C with the v2 SDK's path (literal `/`), same signature.
const V4_C_V2SDK: &str = "GET /data%20set/%C3%BCn%C3%AFc%C3%B8d%C3%A9%20%E6%96%87%E4%BB%B6%2B100%25%3Fa%23b%3Dc.bin HTTP/1.1
Host: examplebucket.oss-cn-hangzhou.aliyuncs.com
x-oss-date: 20250314T123456Z
x-oss-content-sha256: UNSIGNED-PAYLOAD
authorization: OSS4-HMAC-SHA256 Credential=LTAI5tTestAccessKeyId/20250314/cn-hangzhou/oss/aliyun_v4_request,Signature=e212252a3dd9691c2fa5b037e65993a34199ff31d5947e303abdddeaf30386a7";

const V4_PRESIGN_C: &str = "https://examplebucket.oss-cn-hangzhou.aliyuncs.com/data%20set%2F%C3%BCn%C3%AFc%C3%B8d%C3%A9%20%E6%96%87%E4%BB%B6%2B100%25%3Fa%23b%3Dc.bin?x-oss-date=20250314T123456Z&x-oss-expires=3600&x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-credential=LTAI5tTestAccessKeyId%2F20250314%2Fcn-hangzhou%2Foss%2Faliyun_v4_request&x-oss-signature=1b90262a7a55e0e1aaf1d2ec20bdf38cd6fadef1f28c958f3a30139ecce805b5";
const V4_PRESIGN_C_CANONICAL: &str = "GET\n/examplebucket/data%20set/%C3%BCn%C3%AFc%C3%B8d%C3%A9%20%E6%96%87%E4%BB%B6%2B100%25%3Fa%23b%3Dc.bin\nx-oss-credential=LTAI5tTestAccessKeyId%2F20250314%2Fcn-hangzhou%2Foss%2Faliyun_v4_request&x-oss-date=20250314T123456Z&x-oss-expires=3600&x-oss-signature-version=OSS4-HMAC-SHA256\n\n\nUNSIGNED-PAYLOAD";

const V4_PRESIGN_A_TOKEN: &str = "https://examplebucket.oss-cn-hangzhou.aliyuncs.com/models%2Fqwen%2Fmodel-00001-of-00004.safetensors?x-oss-security-token=CAISTestSecurityToken%2FExa%2Bmple%3D%3D&x-oss-date=20250314T123456Z&x-oss-expires=3600&x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-credential=LTAI5tTestAccessKeyId%2F20250314%2Fcn-hangzhou%2Foss%2Faliyun_v4_request&x-oss-signature=c6ade73bb3f61c5e36b8f1edd89d1c7c337b1acf10fda841452c854aad7526d3";
const V4_PRESIGN_A_TOKEN_CANONICAL: &str = "GET\n/examplebucket/models/qwen/model-00001-of-00004.safetensors\nx-oss-credential=LTAI5tTestAccessKeyId%2F20250314%2Fcn-hangzhou%2Foss%2Faliyun_v4_request&x-oss-date=20250314T123456Z&x-oss-expires=3600&x-oss-security-token=CAISTestSecurityToken%2FExa%2Bmple%3D%3D&x-oss-signature-version=OSS4-HMAC-SHA256\n\n\nUNSIGNED-PAYLOAD";

/// Each vector, whether it carries the token, and what a wrong secret must echo:
/// the V1 string to sign, or the V4 canonical request (token masked in both).
fn vectors() -> Vec<(&'static str, Wire, bool, String)> {
    let masked = |s: &str| {
        s.replace(TOKEN, "******")
            .replace("CAISTestSecurityToken%2FExa%2Bmple%3D%3D", "******")
    };
    vec![
        ("V1-A", Wire::http(V1_A), false, V1_A_STS.to_string()),
        ("V1-B", Wire::http(V1_B), true, masked(V1_B_STS)),
        (
            "V1-B v2 SDK",
            Wire::http(V1_B_V2SDK),
            true,
            V1_B_V2SDK_STS.to_string(),
        ),
        ("V1-C", Wire::http(V1_C), false, V1_C_STS.to_string()),
        ("V1-D", Wire::http(V1_D), false, V1_D_STS.to_string()),
        (
            "V1 presign C",
            Wire::url(V1_PRESIGN_C),
            false,
            V1_PRESIGN_C_STS.to_string(),
        ),
        (
            "V1 presign A+token",
            Wire::url(V1_PRESIGN_A_TOKEN),
            true,
            masked(V1_PRESIGN_A_TOKEN_STS),
        ),
        ("V4-A", Wire::http(V4_A), false, V4_A_CANONICAL.to_string()),
        (
            "V4-A v2 SDK",
            Wire::http(V4_A_V2SDK),
            false,
            V4_A_CANONICAL.to_string(),
        ),
        (
            "V4-A'",
            Wire::http(V4_A_PRIME),
            false,
            V4_A_PRIME_CANONICAL.to_string(),
        ),
        ("V4-B", Wire::http(V4_B), true, masked(V4_B_CANONICAL)),
        ("V4-B2", Wire::http(V4_B2), true, masked(V4_B2_CANONICAL)),
        ("V4-C", Wire::http(V4_C), false, V4_C_CANONICAL.to_string()),
        (
            "V4-C v2 SDK",
            Wire::http(V4_C_V2SDK),
            false,
            V4_C_CANONICAL.to_string(),
        ),
        (
            "V4 presign C",
            Wire::url(V4_PRESIGN_C),
            false,
            V4_PRESIGN_C_CANONICAL.to_string(),
        ),
        (
            "V4 presign A+token",
            Wire::url(V4_PRESIGN_A_TOKEN),
            true,
            masked(V4_PRESIGN_A_TOKEN_CANONICAL),
        ),
    ]
}

fn config_for(with_token: bool) -> AuthConfig {
    config(with_token.then_some(TOKEN))
}

#[test]
fn every_vector_verifies() {
    for (name, wire, token, _) in vectors() {
        if let Err(e) = wire.verify(&config_for(token)) {
            panic!("{name}: {} {}: {:?}", e.code, e.message, e.extra);
        }
    }
}

#[test]
fn disabled_auth_accepts_anything() {
    let mut cfg = config(None);
    cfg.enabled = false;
    let anonymous = Wire::http("GET /k HTTP/1.1\nHost: examplebucket.oss-cn-hangzhou.aliyuncs.com");
    assert!(anonymous.verify(&cfg).is_ok());
    assert!(Wire::http(V1_A).with_key("other").verify(&cfg).is_ok());
}

#[test]
fn wrong_secret_fails_and_echoes_the_canonical_form() {
    for (name, wire, token, echoed) in vectors() {
        let mut cfg = config_for(token);
        cfg.access_key_secret = "AnotherSecret".to_string();
        let err = assert_mismatch(wire.verify(&cfg));
        assert_eq!(extra(&err, "OSSAccessKeyId"), Some(AK), "{name}");
        assert!(
            extra(&err, "SignatureProvided").is_some_and(|s| !s.is_empty()),
            "{name}"
        );
        let v4 = name.starts_with("V4");
        let field = if v4 {
            "CanonicalRequest"
        } else {
            "StringToSign"
        };
        assert_eq!(extra(&err, field), Some(echoed.as_str()), "{name}");
        assert_eq!(
            err.ec,
            if v4 { None } else { Some("0002-00000040") },
            "{name}"
        );
        // Neither the secret nor the token is ever echoed.
        for (_, value) in &err.extra {
            assert!(
                !value.contains("AnotherSecret") && !value.contains(TOKEN),
                "{name}"
            );
        }
    }
}

#[test]
fn v4_string_to_sign_is_echoed() {
    for (text, sts) in [
        (V4_A, V4_A_STS),
        (V4_A_PRIME, V4_A_PRIME_STS),
        (V4_B, V4_B_STS),
        (V4_B2, V4_B2_STS),
        (V4_C, V4_C_STS),
    ] {
        let token = text.contains("x-oss-security-token");
        let mut cfg = config_for(token);
        cfg.access_key_secret.push('x');
        let err = assert_mismatch(Wire::http(text).verify(&cfg));
        assert_eq!(extra(&err, "StringToSign"), Some(sts));
    }
}

#[test]
fn v1_mismatch_has_the_documented_extras() {
    let err = assert_mismatch(Wire::http(V1_A).with_key("other").verify(&config(None)));
    let names: Vec<&str> = err.extra.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "OSSAccessKeyId",
            "SignatureProvided",
            "StringToSign",
            "StringToSignBytes"
        ]
    );
    assert_eq!(
        extra(&err, "SignatureProvided"),
        Some("eBSyiw/GsmYgHNIbouwHPxF5XnA=")
    );
    assert!(extra(&err, "StringToSignBytes")
        .unwrap()
        .starts_with("47 45 54 0A 0A 0A 46 72"));
}

#[test]
fn tampered_headers_fail() {
    let cases: Vec<(&str, Wire)> = vec![
        (
            "V1-A range behavior",
            Wire::http(V1_A).set_header("x-oss-range-behavior", "legacy"),
        ),
        (
            "V1-A date",
            Wire::http(V1_A).set_header("date", "Fri, 14 Mar 2025 12:34:57 GMT"),
        ),
        (
            "V1-A added x-oss header",
            Wire::http(V1_A).set_header("x-oss-meta-a", "1"),
        ),
        (
            "V1-A content type",
            Wire::http(V1_A).set_header("content-type", "text/plain"),
        ),
        (
            "V1-B v2 md5",
            Wire::http(V1_B_V2SDK).set_header("content-md5", "AAAAAAAAAAAAAAAAAAAAAA=="),
        ),
        (
            "V4-A range behavior",
            Wire::http(V4_A).set_header("x-oss-range-behavior", "legacy"),
        ),
        (
            "V4-A date",
            Wire::http(V4_A).set_header("x-oss-date", "20250314T123457Z"),
        ),
        (
            "V4-A content type",
            Wire::http(V4_A).set_header("content-type", "text/plain"),
        ),
        (
            "V4-A' host",
            Wire::http(V4_A_PRIME)
                .set_header("host", "examplebucket.oss-cn-hangzhou.aliyuncs.com:80"),
        ),
        (
            "V4-B2 content type",
            Wire::http(V4_B2).set_header("content-type", "text/plain"),
        ),
        (
            "V4 presign C x-oss header",
            Wire::url(V4_PRESIGN_C).set_header("x-oss-range-behavior", "standard"),
        ),
        (
            "V1 presign C x-oss header",
            Wire::url(V1_PRESIGN_C).set_header("x-oss-range-behavior", "standard"),
        ),
    ];
    for (name, wire) in cases {
        let token = name.starts_with("V1-B") || name.starts_with("V4-B");
        let result = wire.verify(&config_for(token));
        assert!(
            matches!(&result, Err(e) if e.code == "SignatureDoesNotMatch"),
            "{name}: {:?}",
            result.err().map(|e| (e.code, e.message))
        );
    }
}

#[test]
fn unsigned_headers_may_change() {
    let cfg = config(None);
    assert!(Wire::http(V1_A)
        .set_header("range", "bytes=5-9")
        .verify(&cfg)
        .is_ok());
    assert!(Wire::http(V1_A)
        .set_header("user-agent", "x")
        .verify(&cfg)
        .is_ok());
    assert!(Wire::http(V4_A)
        .set_header("range", "bytes=5-9")
        .verify(&cfg)
        .is_ok());
    // Host is unsigned unless listed in AdditionalHeaders.
    assert!(Wire::http(V4_A)
        .set_header("host", "127.0.0.1:8080")
        .verify(&cfg)
        .is_ok());
    assert!(Wire::http(V4_A_V2SDK)
        .set_header("date", "Sat, 15 Mar 2025 00:00:00 GMT")
        .verify(&cfg)
        .is_ok());
}

#[test]
fn tampered_query_fails() {
    let with_token = config(Some(TOKEN));
    let no_token = config(None);
    // continuation-token is signed in V1 and everything is signed in V4.
    let v1b = Wire::http(V1_B);
    let other_token = v1b
        .raw_query
        .replace("Cg5tb2RlbHMvcXdlbi9h", "Cg5tb2RlbHMvcXdlbi9i");
    assert_mismatch(v1b.clone().with_query(&other_token).verify(&with_token));
    let v4b = Wire::http(V4_B);
    let q = v4b.raw_query.replace("max-keys=1000", "max-keys=999");
    assert_mismatch(v4b.clone().with_query(&q).verify(&with_token));
    let q = v4b
        .raw_query
        .replace("prefix=models%2Fqwen%2F", "prefix=models%2F");
    assert_mismatch(v4b.clone().with_query(&q).verify(&with_token));
    // A V1 sub-resource added to a signed request.
    assert_mismatch(Wire::http(V1_A).with_query("objectMeta").verify(&no_token));
    assert_mismatch(
        Wire::http(V1_A)
            .with_query("response-content-type=text%2Fplain")
            .verify(&no_token),
    );
    // Presigned URLs: the expiry and the path are signed.
    let url = V1_PRESIGN_C.replace("Expires=1741959296", "Expires=1741959297");
    assert_mismatch(Wire::url(&url).verify(&no_token));
    let url = V4_PRESIGN_C.replace("x-oss-expires=3600", "x-oss-expires=3601");
    assert_mismatch(Wire::url(&url).verify(&no_token));
    assert_mismatch(
        Wire::url(V4_PRESIGN_C)
            .with_query(&format!("{}&a=b", Wire::url(V4_PRESIGN_C).raw_query))
            .verify(&no_token),
    );
}

#[test]
fn v1_unsigned_listing_parameters_may_change() {
    // ListObjects parameters other than continuation-token are not part of V1 signatures.
    let v1d = Wire::http(V1_D);
    let q = v1d.raw_query.replace("max-keys=100", "max-keys=5");
    assert!(v1d.with_query(&q).verify(&config(None)).is_ok());
}

#[test]
fn v4_query_encoding_does_not_matter() {
    // The canonical query is re-encoded from the decoded values: `/` sent raw, `~` and
    // upper/lower-case hex escapes all give the same canonical form.
    let v4b = Wire::http(V4_B);
    let q = v4b
        .raw_query
        .replace("prefix=models%2Fqwen%2F", "prefix=models/qwen%2f");
    assert!(v4b.with_query(&q).verify(&config(Some(TOKEN))).is_ok());
}

#[test]
fn tampered_keys_fail() {
    let no_token = config(None);
    for text in [V1_A, V1_C, V4_A, V4_A_PRIME, V4_C] {
        assert_mismatch(
            Wire::http(text)
                .with_key("models/qwen/other.safetensors")
                .verify(&no_token),
        );
    }
    for url in [V1_PRESIGN_C, V4_PRESIGN_C] {
        assert_mismatch(
            Wire::url(url)
                .with_key("data set/other.bin")
                .verify(&no_token),
        );
    }
    // Another bucket.
    let mut wire = Wire::http(V4_A);
    wire.bucket = Some("otherbucket".to_string());
    assert_mismatch(wire.verify(&no_token));
    let mut wire = Wire::http(V1_A);
    wire.bucket = Some("otherbucket".to_string());
    assert_mismatch(wire.verify(&no_token));
}

#[test]
fn tampered_signatures_fail() {
    let no_token = config(None);
    let v1 = Wire::http(V1_A).set_header(
        "authorization",
        "OSS LTAI5tTestAccessKeyId:eBSyiw/GsmYgHNIbouwHPxF5XnB=",
    );
    assert_mismatch(v1.verify(&no_token));
    let v4 = Wire::http(V4_A).set_header(
        "authorization",
        "OSS4-HMAC-SHA256 Credential=LTAI5tTestAccessKeyId/20250314/cn-hangzhou/oss/aliyun_v4_request, Signature=B8D39FF701143A3F4DD82358123D4A66A6CB063A954555AA02B3844C5F9CAD51",
    );
    assert_mismatch(v4.verify(&no_token));
    // Dropping AdditionalHeaders=host changes the canonical request.
    let v4 = Wire::http(V4_A_PRIME).set_header(
        "authorization",
        "OSS4-HMAC-SHA256 Credential=LTAI5tTestAccessKeyId/20250314/cn-hangzhou/oss/aliyun_v4_request,Signature=55294f1bcafa67fd3f05c2f7ece69d86feeeac180c224cfd7245dbb0b0991424",
    );
    assert_mismatch(v4.verify(&no_token));
}

#[test]
fn additional_headers_any_order_and_case() {
    // oss2's form: `, ` separators, Signature before AdditionalHeaders.
    let wire = Wire::http(V4_A_PRIME).set_header(
        "authorization",
        "OSS4-HMAC-SHA256 Credential=LTAI5tTestAccessKeyId/20250314/cn-hangzhou/oss/aliyun_v4_request, Signature=55294f1bcafa67fd3f05c2f7ece69d86feeeac180c224cfd7245dbb0b0991424, AdditionalHeaders=Host",
    );
    assert!(wire.verify(&config(None)).is_ok());
}

#[test]
fn no_credentials_is_access_denied() {
    let cfg = config(None);
    for text in [V1_A, V4_A] {
        let wire = Wire::http(text).remove_header("authorization");
        assert_code(wire.verify(&cfg), 403, "AccessDenied");
    }
}

#[test]
fn malformed_authorization_is_invalid_argument() {
    let cfg = config(None);
    let cred = "Credential=LTAI5tTestAccessKeyId/20250314/cn-hangzhou/oss/aliyun_v4_request";
    let sig = "Signature=b8d39ff701143a3f4dd82358123d4a66a6cb063a954555aa02b3844c5f9cad51";
    let bad = [
        "".to_string(),
        "Bearer abc".to_string(),
        "AWS LTAI5tTestAccessKeyId:eBSyiw/GsmYgHNIbouwHPxF5XnA=".to_string(),
        "OSS2 AccessKeyId:LTAI5tTestAccessKeyId,Signature:x".to_string(),
        "OSS".to_string(),
        "OSS LTAI5tTestAccessKeyId".to_string(),
        "OSS LTAI5tTestAccessKeyId:".to_string(),
        "OSS :eBSyiw/GsmYgHNIbouwHPxF5XnA=".to_string(),
        "OSS4-HMAC-SHA256".to_string(),
        format!("OSS4-HMAC-SHA256 {cred}"),
        format!("OSS4-HMAC-SHA256 {sig}"),
        format!("OSS4-HMAC-SHA256 {cred},AdditionalHeaders=,{sig}"),
        format!("OSS4-HMAC-SHA256 {cred},{sig},Unknown=1"),
        format!("OSS4-HMAC-SHA256 {cred},{sig},{sig}"),
        format!("OSS4-HMAC-SHA256 {cred}/extra,{sig}"),
        format!("OSS4-HMAC-SHA256 {},{sig}", cred.replace("/oss/", "/s3/")),
    ];
    for value in bad {
        let wire = Wire::http(V4_A).set_header("authorization", &value);
        let result = wire.verify(&cfg);
        assert!(
            matches!(&result, Err(e) if (e.status, e.code) == (400, "InvalidArgument")),
            "{value:?}: {:?}",
            result.err().map(|e| (e.code, e.message))
        );
    }
}

#[test]
fn unknown_access_key_is_rejected() {
    let cfg = config(None);
    let v1 = Wire::http(V1_A).set_header(
        "authorization",
        "OSS LTAI5tOtherKey:eBSyiw/GsmYgHNIbouwHPxF5XnA=",
    );
    let err = assert_code(v1.verify(&cfg), 403, "InvalidAccessKeyId");
    assert_eq!(extra(&err, "OSSAccessKeyId"), Some("LTAI5tOtherKey"));
    let v4 = Wire::http(V4_A).set_header(
        "authorization",
        "OSS4-HMAC-SHA256 Credential=LTAI5tOtherKey/20250314/cn-hangzhou/oss/aliyun_v4_request, Signature=b8d39ff701143a3f4dd82358123d4a66a6cb063a954555aa02b3844c5f9cad51",
    );
    assert_code(v4.verify(&cfg), 403, "InvalidAccessKeyId");
    let url = V1_PRESIGN_C.replace("OSSAccessKeyId=LTAI5t", "OSSAccessKeyId=LTAI6t");
    assert_code(Wire::url(&url).verify(&cfg), 403, "InvalidAccessKeyId");
    let url = V4_PRESIGN_C.replace("x-oss-credential=LTAI5t", "x-oss-credential=LTAI6t");
    assert_code(Wire::url(&url).verify(&cfg), 403, "InvalidAccessKeyId");
}

#[test]
fn clock_skew_over_fifteen_minutes_fails() {
    let cfg = config(None);
    let fifteen = Duration::from_secs(15 * 60);
    for text in [V1_A, V4_A, V4_A_PRIME] {
        let wire = Wire::http(text);
        // Exactly 15 minutes either way is still accepted; a second more is not.
        assert!(wire.verify_at(&cfg, vector_now() + fifteen).is_ok());
        assert!(wire.verify_at(&cfg, vector_now() - fifteen).is_ok());
        for now in [
            vector_now() + fifteen + Duration::from_secs(1),
            vector_now() - fifteen - Duration::from_secs(1),
        ] {
            let err = assert_code(wire.verify_at(&cfg, now), 403, "RequestTimeTooSkewed");
            assert!(extra(&err, "RequestTime").is_some() && extra(&err, "ServerTime").is_some());
        }
    }
    let err = assert_code(
        Wire::http(V4_A).verify_at(&cfg, vector_now() + Duration::from_secs(3600)),
        403,
        "RequestTimeTooSkewed",
    );
    assert_eq!(extra(&err, "RequestTime"), Some("20250314T123456Z"));
    assert_eq!(extra(&err, "ServerTime"), Some("2025-03-14T13:34:56.000Z"));
}

#[test]
fn signatures_may_be_reused() {
    let cfg = config(None);
    let wire = Wire::http(V4_A_PRIME);
    for later in [0, 3, 70, 600] {
        assert!(wire
            .verify_at(&cfg, vector_now() + Duration::from_secs(later))
            .is_ok());
    }
}

#[test]
fn v1_prefers_x_oss_date_and_requires_a_date() {
    let cfg = config(None);
    // With x-oss-date present, Date is not what is signed (nor checked for skew).
    let wire = Wire::http(V1_A).set_header("x-oss-date", "Fri, 14 Mar 2025 12:34:56 GMT");
    let err = assert_mismatch(wire.clone().verify(&cfg));
    assert!(extra(&err, "StringToSign")
        .unwrap()
        .starts_with("GET\n\n\nFri, 14 Mar 2025 12:34:56 GMT\nx-oss-date:"));
    let wire = wire.set_header("date", "Thu, 01 Jan 2015 00:00:00 GMT");
    assert_mismatch(wire.verify(&cfg));
    assert_code(
        Wire::http(V1_A).remove_header("date").verify(&cfg),
        403,
        "AccessDenied",
    );
    assert_code(
        Wire::http(V1_A)
            .set_header("date", "yesterday")
            .verify(&cfg),
        403,
        "AccessDenied",
    );
}

#[test]
fn v4_requires_x_oss_date_and_a_matching_scope() {
    let cfg = config(None);
    assert_code(
        Wire::http(V4_A).remove_header("x-oss-date").verify(&cfg),
        403,
        "AccessDenied",
    );
    assert_code(
        Wire::http(V4_A)
            .set_header("x-oss-date", "2025-03-14T12:34:56Z")
            .verify(&cfg),
        403,
        "AccessDenied",
    );
    // Scope date not the date of x-oss-date (x-oss-date one day later, clock pinned to it).
    let wire = Wire::http(V4_A).set_header("x-oss-date", "20250315T123456Z");
    let now = vector_now() + Duration::from_secs(86_400);
    assert_code(wire.verify_at(&cfg, now), 400, "InvalidArgument");
    // Wrong region.
    let mut other_region = config(None);
    other_region.region = "cn-beijing".to_string();
    let err = assert_code(
        Wire::http(V4_A).verify(&other_region),
        400,
        "InvalidArgument",
    );
    assert!(err.message.contains("cn-beijing") && err.message.contains("cn-hangzhou"));
    assert_code(
        Wire::url(V4_PRESIGN_C).verify(&other_region),
        400,
        "InvalidArgument",
    );
}

#[test]
fn v4_payload_must_be_unsigned() {
    let cfg = config(None);
    let sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert_code(
        Wire::http(V4_A)
            .set_header("x-oss-content-sha256", sha)
            .verify(&cfg),
        400,
        "InvalidArgument",
    );
    // Absent, it is UNSIGNED-PAYLOAD in the canonical request but no longer a signed header.
    assert_mismatch(
        Wire::http(V4_A)
            .remove_header("x-oss-content-sha256")
            .verify(&cfg),
    );
}

#[test]
fn presigned_urls_expire() {
    let cfg = config(None);
    let with_token = config(Some(TOKEN));
    let hour = Duration::from_secs(3600);
    for (url, cfg) in [
        (V1_PRESIGN_C, &cfg),
        (V1_PRESIGN_A_TOKEN, &with_token),
        (V4_PRESIGN_C, &cfg),
        (V4_PRESIGN_A_TOKEN, &with_token),
    ] {
        let wire = Wire::url(url);
        assert!(wire.verify_at(cfg, vector_now() + hour).is_ok(), "{url}");
        let err = assert_code(
            wire.verify_at(cfg, vector_now() + hour + Duration::from_secs(1)),
            403,
            "AccessDenied",
        );
        assert_eq!(err.message, "Request has expired.");
        assert_eq!(extra(&err, "Expires"), Some("2025-03-14T13:34:56.000Z"));
    }
}

#[test]
fn malformed_presigned_urls_are_invalid_argument() {
    let cfg = config(None);
    for url in [
        V1_PRESIGN_C.replace("&Expires=1741959296", ""),
        V1_PRESIGN_C.replace("Expires=1741959296", "Expires=soon"),
        V1_PRESIGN_C.replace("&Signature=", "&Sig="),
        V1_PRESIGN_C.replace("OSSAccessKeyId=LTAI5tTestAccessKeyId&", ""),
        V4_PRESIGN_C.replace("x-oss-expires=3600", "x-oss-expires=604801"),
        V4_PRESIGN_C.replace("x-oss-expires=3600", "x-oss-expires=0"),
        V4_PRESIGN_C.replace(
            "x-oss-signature-version=OSS4-HMAC-SHA256",
            "x-oss-signature-version=OSS2",
        ),
        V4_PRESIGN_C.replace("x-oss-date=20250314T123456Z&", ""),
        V4_PRESIGN_C.replace("&x-oss-signature=", "&x-oss-sig="),
        V4_PRESIGN_C.replace("x-oss-date=", "x-oss-additional-headers=&x-oss-date="),
        format!("{V4_PRESIGN_C}&x-oss-signature=00"),
        format!("{V1_PRESIGN_C}&x-oss-signature-version=OSS4-HMAC-SHA256"),
    ] {
        let result = Wire::url(&url).verify(&cfg);
        assert!(
            matches!(&result, Err(e) if (e.status, e.code) == (400, "InvalidArgument")),
            "{url}: {:?}",
            result.err().map(|e| (e.code, e.message))
        );
    }
    // A header signature and a presigned URL at once.
    let wire = Wire::url(V4_PRESIGN_C).set_header(
        "authorization",
        "OSS LTAI5tTestAccessKeyId:eBSyiw/GsmYgHNIbouwHPxF5XnA=",
    );
    assert_code(wire.verify(&cfg), 400, "InvalidArgument");
}

#[test]
fn security_token_rules() {
    let with_token = config(Some(TOKEN));
    let no_token = config(None);
    let other = config(Some("CAISAnotherToken"));
    // A token the server does not expect, or not the one it expects.
    for (name, wire) in [
        ("V1-B", Wire::http(V1_B)),
        ("V1-B v2", Wire::http(V1_B_V2SDK)),
        ("V4-B", Wire::http(V4_B)),
        ("V4-B2", Wire::http(V4_B2)),
        ("V1 presign", Wire::url(V1_PRESIGN_A_TOKEN)),
        ("V4 presign", Wire::url(V4_PRESIGN_A_TOKEN)),
    ] {
        let err = assert_code(wire.verify(&no_token), 403, "InvalidSecurityToken");
        assert!(!err.message.contains(TOKEN), "{name}");
        assert_code(wire.verify(&other), 403, "InvalidSecurityToken");
    }
    // The server expects a token and the request has none.
    for wire in [
        Wire::http(V1_A),
        Wire::http(V4_A),
        Wire::url(V1_PRESIGN_C),
        Wire::url(V4_PRESIGN_C),
    ] {
        assert_code(wire.verify(&with_token), 403, "InvalidSecurityToken");
    }
    // Token in a header and in the query at once.
    let wire = Wire::url(V4_PRESIGN_A_TOKEN).set_header("x-oss-security-token", TOKEN);
    assert_code(wire.verify(&with_token), 400, "InvalidArgument");
    let wire = Wire::url(V1_PRESIGN_A_TOKEN).set_header("x-oss-security-token", TOKEN);
    assert_code(wire.verify(&with_token), 400, "InvalidArgument");
    let wire = Wire::url(V1_PRESIGN_A_TOKEN).set_header("security-token", TOKEN);
    assert_code(wire.verify(&with_token), 400, "InvalidArgument");
    let v4b = Wire::http(V4_B);
    let q = format!(
        "{}&x-oss-security-token=CAISTestSecurityToken%2FExa%2Bmple%3D%3D",
        v4b.raw_query
    );
    assert_code(
        v4b.with_query(&q).verify(&with_token),
        400,
        "InvalidArgument",
    );
    // The v2 SDK's V1 quirk: the unsigned `security-token` header carries the token, but a
    // different token there is still rejected.
    let wire = Wire::http(V1_B_V2SDK).set_header("security-token", "CAISAnotherToken");
    assert_code(wire.verify(&with_token), 403, "InvalidSecurityToken");
    // The unsigned header is not a V4 token source: V4 needs the signed header.
    let wire = Wire::http(V4_A).set_header("security-token", TOKEN);
    assert_code(wire.verify(&with_token), 403, "InvalidSecurityToken");
}

#[test]
fn debug_output_hides_the_secret_and_token() {
    let shown = format!("{:?}", config(Some(TOKEN)));
    assert!(shown.contains(AK));
    assert!(!shown.contains(SECRET) && !shown.contains(TOKEN), "{shown}");
}

#[test]
fn service_and_path_style_requests_sign_the_same_resource() {
    // A path-style request for the same object sends another path and Host, yet signs
    // /bucket/key: what the server passes in is the routed bucket and key.
    let mut wire = Wire::http(V4_A_V2SDK).set_header("host", "127.0.0.1:9000");
    wire.bucket = Some("examplebucket".to_string());
    assert!(wire.verify(&config(None)).is_ok());
    // GET / of the service signs "/": a bucket-less request must not verify as a bucket's.
    let mut wire = Wire::http(V1_D);
    wire.bucket = None;
    let err = assert_mismatch(wire.verify(&config(None)));
    assert_eq!(
        extra(&err, "StringToSign"),
        Some("GET\n\n\nFri, 14 Mar 2025 12:34:56 GMT\n/")
    );
}
