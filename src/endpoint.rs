//! The OSS endpoint: scheme, host and port, the region an Alibaba Cloud host name implies,
//! and how a bucket goes into the URL (virtual-hosted `bucket.host` or path style `host/bucket`).

use std::net::IpAddr;

use crate::config::Addressing;
use crate::error::{Error, ErrorKind, Result};

/// URL scheme of the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// A parsed endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub scheme: Scheme,
    /// Lower-cased host name or IP address; an IPv6 address keeps its brackets (`[::1]`) so
    /// that the host can be put into URLs and `Host` headers as it is.
    pub host: String,
    /// The port, when the endpoint names one.
    pub port: Option<u16>,
    /// Region derived from `oss-<region>.aliyuncs.com` or `oss-<region>-internal.aliyuncs.com`.
    pub region: Option<String>,
}

impl Endpoint {
    /// Parses `http://host[:port]`, `https://host[:port]` or a bare `host[:port]` (meaning
    /// https). A trailing `/` is accepted; a path, query, or user name is not.
    pub(crate) fn parse(s: &str) -> Result<Endpoint> {
        let bad = |why: &str| {
            Error::new(
                ErrorKind::InvalidConfig,
                format!("invalid endpoint {s:?}: {why}"),
            )
        };
        let t = s.trim();
        let (scheme, rest) = match t.find("://") {
            Some(i) => match t[..i].to_ascii_lowercase().as_str() {
                "http" => (Scheme::Http, &t[i + 3..]),
                "https" => (Scheme::Https, &t[i + 3..]),
                _ => return Err(bad("the scheme must be http:// or https://")),
            },
            None => (Scheme::Https, t),
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() {
            return Err(bad("it has no host"));
        }
        if authority.contains(['/', '?', '#']) {
            return Err(bad(
                "an endpoint is scheme://host[:port], without a path or query",
            ));
        }
        if authority.contains('@') {
            return Err(bad(
                "user names and passwords do not belong in the endpoint",
            ));
        }
        let (host, port) = split_host_port(authority).map_err(|why| bad(&why))?;
        let host = host.to_ascii_lowercase();
        let region = oss_region_of(&host);
        Ok(Endpoint {
            scheme,
            host,
            port,
            region,
        })
    }

    /// True for an IP address or `localhost`, whose `bucket.host` names cannot resolve.
    pub(crate) fn is_ip_or_localhost(&self) -> bool {
        let bare = self.host.trim_start_matches('[').trim_end_matches(']');
        self.host == "localhost" || bare.parse::<IpAddr>().is_ok()
    }

    /// The addressing style to use: `configured`, or path style for an IP address or
    /// `localhost` and virtual-hosted otherwise.
    pub(crate) fn addressing(&self, configured: Option<Addressing>) -> Addressing {
        configured.unwrap_or(if self.is_ip_or_localhost() {
            Addressing::Path
        } else {
            Addressing::VirtualHosted
        })
    }

    /// The URL prefix of requests on `bucket` (`scheme://host[:port]`, plus `/bucket` in path
    /// style, or with `bucket.` before the host when virtual-hosted) and the matching `Host`
    /// header value (with the port when the endpoint names one). Append `/` + encoded key.
    pub(crate) fn base_url(
        &self,
        bucket: Option<&str>,
        addressing: Addressing,
    ) -> (String, String) {
        let host_port = match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        };
        let scheme = self.scheme.as_str();
        match (bucket, addressing) {
            (Some(b), Addressing::VirtualHosted) => {
                let host = format!("{b}.{host_port}");
                (format!("{scheme}://{host}"), host)
            }
            (Some(b), Addressing::Path) => (format!("{scheme}://{host_port}/{b}"), host_port),
            (None, _) => (format!("{scheme}://{host_port}"), host_port),
        }
    }
}

/// Splits `host[:port]` (or `[v6]:port`) and checks both parts.
fn split_host_port(authority: &str) -> std::result::Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or("an IPv6 address lacks its closing ]")?;
        let host = &authority[..end + 2];
        if host[1..host.len() - 1]
            .parse::<std::net::Ipv6Addr>()
            .is_err()
        {
            return Err(format!("{host} is not an IPv6 address"));
        }
        match &authority[end + 2..] {
            "" => (host, None),
            p => (
                host,
                Some(
                    p.strip_prefix(':')
                        .ok_or("unexpected text after the IPv6 address")?,
                ),
            ),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("it has no host".into());
    }
    if !host.starts_with('[') {
        let valid = host.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        });
        if !valid {
            return Err(format!("{host:?} is not a valid host name"));
        }
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|c| c.is_ascii_digit()) => Some(n),
            _ => {
                return Err(format!(
                    "the port {p:?} is not a number between 1 and 65535"
                ))
            }
        },
    };
    Ok((host, port))
}

/// The region of `oss-<region>.aliyuncs.com` and `oss-<region>-internal.aliyuncs.com`.
/// Global hosts (`oss-accelerate[-overseas]`) have no region.
pub(crate) fn oss_region_of(host: &str) -> Option<String> {
    let name = host.strip_suffix(".aliyuncs.com")?.strip_prefix("oss-")?;
    let region = name.strip_suffix("-internal").unwrap_or(name);
    let plausible = !region.is_empty()
        && !region.contains('.')
        && region
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
    if !plausible || region.starts_with("accelerate") {
        return None;
    }
    Some(region.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(s: &str) -> Endpoint {
        Endpoint::parse(s).unwrap()
    }

    #[test]
    fn schemes_and_ports() {
        let e = ep("http://127.0.0.1:9000");
        assert_eq!(
            (e.scheme, e.host.as_str(), e.port),
            (Scheme::Http, "127.0.0.1", Some(9000))
        );
        let e = ep("oss-cn-hangzhou.aliyuncs.com");
        assert_eq!((e.scheme, e.port), (Scheme::Https, None));
        let e = ep("HTTPS://OSS-cn-Beijing.aliyuncs.com/");
        assert_eq!(
            (e.scheme, e.host.as_str()),
            (Scheme::Https, "oss-cn-beijing.aliyuncs.com")
        );
        let e = ep("http://[::1]:8080");
        assert_eq!((e.host.as_str(), e.port), ("[::1]", Some(8080)));
    }

    #[test]
    fn region_from_alibaba_hosts() {
        assert_eq!(
            ep("oss-cn-hangzhou.aliyuncs.com").region.as_deref(),
            Some("cn-hangzhou")
        );
        assert_eq!(
            ep("http://oss-cn-hangzhou-internal.aliyuncs.com")
                .region
                .as_deref(),
            Some("cn-hangzhou")
        );
        assert_eq!(
            ep("oss-ap-southeast-1.aliyuncs.com").region.as_deref(),
            Some("ap-southeast-1")
        );
        assert_eq!(ep("oss-accelerate.aliyuncs.com").region, None);
        assert_eq!(ep("localhost:9000").region, None);
        assert_eq!(ep("oss.example.com").region, None);
    }

    #[test]
    fn bad_endpoints_are_explained() {
        for (s, why) in [
            ("", "no host"),
            ("ftp://host", "http:// or https://"),
            ("http://", "no host"),
            ("http://host/path", "without a path"),
            ("http://host:0", "port \"0\""),
            ("http://host:99999", "port \"99999\""),
            ("http://host:", "port \"\""),
            ("http://user@host", "user names"),
            ("http://ho st", "not a valid host name"),
            ("http://[::1", "closing ]"),
        ] {
            let e = Endpoint::parse(s).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidConfig);
            assert!(e.message().contains(why), "{s}: {}", e.message());
            assert!(
                e.message().starts_with("invalid endpoint"),
                "{}",
                e.message()
            );
        }
    }

    #[test]
    fn addressing_defaults_to_path_style_for_ips_and_localhost() {
        assert_eq!(ep("http://127.0.0.1:1").addressing(None), Addressing::Path);
        assert_eq!(ep("http://[::1]:1").addressing(None), Addressing::Path);
        assert_eq!(ep("http://localhost:1").addressing(None), Addressing::Path);
        assert_eq!(
            ep("oss-cn-hangzhou.aliyuncs.com").addressing(None),
            Addressing::VirtualHosted
        );
        assert_eq!(
            ep("http://localhost:1").addressing(Some(Addressing::VirtualHosted)),
            Addressing::VirtualHosted
        );
        assert_eq!(
            ep("oss.test").addressing(Some(Addressing::Path)),
            Addressing::Path
        );
    }

    #[test]
    fn base_urls_and_host_headers() {
        let e = ep("http://127.0.0.1:9000");
        assert_eq!(
            e.base_url(Some("bkt"), Addressing::Path),
            (
                "http://127.0.0.1:9000/bkt".to_owned(),
                "127.0.0.1:9000".to_owned()
            )
        );
        let e = ep("oss-cn-hangzhou.aliyuncs.com");
        assert_eq!(
            e.base_url(Some("examplebucket"), Addressing::VirtualHosted),
            (
                "https://examplebucket.oss-cn-hangzhou.aliyuncs.com".to_owned(),
                "examplebucket.oss-cn-hangzhou.aliyuncs.com".to_owned()
            )
        );
        let e = ep("http://oss.test:8080");
        assert_eq!(
            e.base_url(Some("b01"), Addressing::VirtualHosted),
            (
                "http://b01.oss.test:8080".to_owned(),
                "b01.oss.test:8080".to_owned()
            )
        );
        assert_eq!(
            e.base_url(None, Addressing::VirtualHosted),
            (
                "http://oss.test:8080".to_owned(),
                "oss.test:8080".to_owned()
            )
        );
    }
}
