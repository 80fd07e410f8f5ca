//! The OSS endpoint: scheme, host, port and the region derived from an Alibaba Cloud host name,
//! and how a bucket is placed in the URL (virtual-hosted or path style).

use crate::config::Addressing;
use crate::error::{Error, ErrorKind, Result};

/// URL scheme of the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

/// A parsed endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub scheme: Scheme,
    /// Lower-cased host; an IPv6 address keeps its brackets.
    pub host: String,
    pub port: Option<u16>,
    /// Region derived from `oss-<region>[-internal].aliyuncs.com`.
    pub region: Option<String>,
}

impl Endpoint {
    /// Parses `http://host[:port]`, `https://host[:port]` or a bare `host[:port]` (https).
    pub(crate) fn parse(s: &str) -> Result<Endpoint> {
        Err(Error::new(
            ErrorKind::InvalidConfig,
            format!("endpoint {s:?} not parsed yet"),
        ))
    }

    /// True for an IP address or `localhost`, where virtual-hosted names cannot resolve.
    pub(crate) fn is_ip_or_localhost(&self) -> bool {
        false
    }

    /// The URL prefix for a request on `bucket` and the `Host` header value.
    pub(crate) fn base_url(
        &self,
        bucket: Option<&str>,
        addressing: Addressing,
    ) -> (String, String) {
        let _ = (bucket, addressing);
        (String::new(), String::new())
    }
}
