//! Forward proxies: which proxy (if any) the connector's requests go through, and the ureq
//! connector chain that sends them there.
//!
//! # Which proxy
//!
//! The configuration's `proxy` key wins over the environment: a URL there is the proxy for
//! every request, and `""` or `"none"` means no proxy whatever the environment says. Without
//! the key, the environment is read as curl reads it, by the endpoint's scheme:
//!
//! - `http://` endpoints: `http_proxy`, then `HTTP_PROXY`, then `all_proxy`, `ALL_PROXY`;
//! - `https://` endpoints: `https_proxy`, `HTTPS_PROXY`, then `all_proxy`, `ALL_PROXY`.
//!
//! Empty variables count as unset. `HTTP_PROXY` (upper case) is ignored when
//! `REQUEST_METHOD` is set, that is inside a CGI program, where any client can set it
//! through a `Proxy:` request header ("httpoxy"); curl ignores it always, Go's net/http
//! like ossmc only under CGI.
//!
//! `noProxy` in the configuration, else `no_proxy` / `NO_PROXY`, lists hosts reached
//! directly. Entries are separated by commas; as in curl, `example.com`, `.example.com` and
//! `*.example.com` all match `example.com` and every host under it (never `badexample.com`),
//! an IP address matches itself, and `*` alone matches every host. CIDR blocks and ports are
//! not supported: in the configuration they are an error, in the environment a warning.
//!
//! # How requests go through it
//!
//! Requests to an `http://` endpoint are sent to the proxy in absolute form
//! (`GET http://host/key HTTP/1.1`), as curl does: the proxy sees every request, with its
//! `Range`, `If-Match` and `Authorization` headers as ossmc wrote them, and can answer from a
//! cache or, for Dragonfly's dfdaemon, from peers. Requests to an `https://` endpoint go
//! through a `CONNECT` tunnel (ureq's own), so the proxy sees only the host and port and TLS
//! runs end to end.
//!
//! ureq 3 itself knows only `CONNECT` tunnels; the absolute form comes from
//! `ForwardConnector`, placed first in the connector chain, which opens the connection to
//! the proxy and rewrites each request line on its way out (`ForwardTransport`). It is
//! built on ureq's `unversioned::transport` API, which ureq may change in a minor release:
//! an update of ureq past the version in Cargo.lock must run `tests/proxy.rs`.
//!
//! # Secrets
//!
//! A proxy URL may hold a user name and password (`http://user:pass@host:3128`). They are
//! kept in a [`Secret`](crate::secret::Secret), and whatever is logged or put in an error
//! shows the URL with its user information replaced by `***` ([`redact`]). (ureq keeps its
//! own plain copy of them in the agent's proxy settings.)

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ChainedConnector, ConnectProxyConnector, ConnectionDetails, Connector, NextTimeout,
    RustlsConnector, TcpConnector, Transport,
};

use crate::endpoint::{Endpoint, Scheme};
use crate::error::{Error, ErrorKind, Result};
use crate::secret::Secret;

/// What the configuration says about proxies (the `proxy` key).
#[derive(Clone, PartialEq, Eq, Default)]
pub enum ProxySetting {
    /// No `proxy` key: the environment decides (`http_proxy`, `https_proxy`, ...).
    #[default]
    FromEnv,
    /// `"proxy": ""` or `"proxy": "none"`: no proxy, whatever the environment says.
    Off,
    /// `"proxy": "http://..."`: this proxy for every request.
    Url(ProxyUrl),
}

impl fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxySetting::FromEnv => f.write_str("FromEnv"),
            ProxySetting::Off => f.write_str("Off"),
            ProxySetting::Url(u) => write!(f, "Url({u})"),
        }
    }
}

impl ProxySetting {
    /// Parses the value of the `proxy` key; errors name the problem and show the value with
    /// any credentials redacted.
    pub fn parse(text: &str) -> std::result::Result<ProxySetting, String> {
        let t = text.trim();
        if t.is_empty() || t.eq_ignore_ascii_case("none") {
            return Ok(ProxySetting::Off);
        }
        ProxyUrl::parse(t).map(ProxySetting::Url)
    }
}

/// A validated proxy URL (`http://[user[:password]@]host[:port]` or `https://...`). Its
/// `Display` and `Debug` redact the user information.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    /// The URL as given, with a scheme (`http://` added when it had none).
    text: Secret,
    /// The URL with its user information replaced by `***`.
    shown: String,
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({})", self.shown)
    }
}

impl ProxyUrl {
    /// Checks `text` is an `http://` or `https://` proxy URL without path, query or fragment.
    pub fn parse(text: &str) -> std::result::Result<ProxyUrl, String> {
        let shown = redact(text);
        let bad = |why: &str| {
            format!("proxy must be a URL such as \"http://proxy.example:3128\" ({why}), got \"{shown}\"")
        };
        let (scheme, rest) = match text.find("://") {
            Some(i) => (text[..i].to_ascii_lowercase(), &text[i + 3..]),
            None => ("http".to_owned(), text),
        };
        match scheme.as_str() {
            "http" | "https" => {}
            s if s.starts_with("socks") => {
                return Err(bad("SOCKS proxies are not supported; use an http:// proxy"))
            }
            _ => return Err(bad("the scheme must be http:// or https://")),
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if !(tail.is_empty() || tail == "/") {
            return Err(bad("a proxy URL has no path, query or fragment"));
        }
        let hostport = match authority.rfind('@') {
            Some(i) => &authority[i + 1..],
            None => authority,
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            match v6.find(']') {
                Some(i) => (&hostport[..i + 2], &v6[i + 1..]),
                None => return Err(bad("an IPv6 address must end with ']'")),
            }
        } else {
            match hostport.rfind(':') {
                Some(i) => (&hostport[..i], &hostport[i..]),
                None => (hostport, ""),
            }
        };
        if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(bad("the host is missing or invalid"));
        }
        if let Some(p) = port.strip_prefix(':') {
            if !matches!(p.parse::<u16>(), Ok(n) if n > 0) {
                return Err(bad("the port must be a number from 1 to 65535"));
            }
        } else if !port.is_empty() {
            return Err(bad("the host is missing or invalid"));
        }
        let full = format!("{scheme}://{authority}");
        // ureq's own parse (percent-decoding of the user information among others).
        ureq::Proxy::new(&full).map_err(|_| bad("it cannot be parsed"))?;
        Ok(ProxyUrl {
            shown: redact(&full),
            text: Secret::from(full),
        })
    }

    fn proxy(&self) -> ureq::Proxy {
        ureq::Proxy::new(self.text.expose()).expect("validated in ProxyUrl::parse")
    }
}

/// `text` (a URL, or `user:pass@host:port`) with everything before the last `@` of its
/// authority replaced by `***`, shortened to 100 characters: safe to log.
pub fn redact(text: &str) -> String {
    let (prefix, rest) = match text.find("://") {
        Some(i) => text.split_at(i + 3),
        None => ("", text),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let out = match authority.rfind('@') {
        Some(i) => format!("{prefix}***{}{tail}", &authority[i..]),
        None => text.to_owned(),
    };
    if out.chars().count() > 100 {
        format!("{}...", out.chars().take(100).collect::<String>())
    } else {
        out
    }
}

/// Parses a `noProxy` / `NO_PROXY` list into host patterns (lower case, without leading
/// `*.` or `.`; `*` for all). Returns the patterns and the entries it could not use.
pub fn parse_no_proxy(list: &str) -> (Vec<String>, Vec<String>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        match no_proxy_entry(entry) {
            Some(p) => ok.push(p),
            None => bad.push(entry.to_owned()),
        }
    }
    (ok, bad)
}

fn no_proxy_entry(entry: &str) -> Option<String> {
    if entry == "*" {
        return Some("*".to_owned());
    }
    let e = entry.to_ascii_lowercase();
    let e = e
        .strip_prefix("*.")
        .or_else(|| e.strip_prefix('.'))
        .unwrap_or(&e);
    let e = e.strip_suffix('.').unwrap_or(e);
    let e = e.trim_start_matches('[').trim_end_matches(']');
    if e.is_empty() {
        return None;
    }
    if e.parse::<std::net::Ipv6Addr>().is_ok() {
        return Some(format!("[{e}]"));
    }
    let hostname = e
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_');
    hostname.then(|| e.to_owned())
}

/// True when `host` (as in a URL: lower or upper case, IPv6 in brackets) matches one of the
/// patterns [`parse_no_proxy`] made.
pub fn no_proxy_matches(patterns: &[String], host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host);
    patterns.iter().any(|p| {
        p == "*"
            || host == p
            || (host.len() > p.len()
                && host.ends_with(p.as_str())
                && host.as_bytes()[host.len() - p.len() - 1] == b'.')
    })
}

/// The proxy the connector's requests take, resolved from the configuration and the
/// environment once, when the connector is created.
#[derive(Clone, Default)]
pub(crate) struct ProxyRoute {
    /// The proxy, carrying the no-proxy rules; `None` = every request goes direct.
    proxy: Option<ureq::Proxy>,
    /// The proxy URL, redacted.
    shown: String,
    /// Where it came from (`config proxy`, `environment variable http_proxy`).
    source: String,
    /// The no-proxy patterns.
    no_proxy: Vec<String>,
}

impl fmt::Debug for ProxyRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl ProxyRoute {
    /// Every request goes direct.
    pub(crate) fn direct() -> ProxyRoute {
        ProxyRoute::default()
    }

    /// Resolves the route for requests to `endpoint` from `config` and the process
    /// environment. Returns the route and warnings (unusable `NO_PROXY` entries) to log.
    pub(crate) fn resolve(
        config: &crate::config::Config,
        endpoint: &Endpoint,
    ) -> Result<(ProxyRoute, Vec<String>)> {
        Self::resolve_with(config, endpoint, |name| std::env::var(name).ok())
    }

    fn resolve_with(
        config: &crate::config::Config,
        endpoint: &Endpoint,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(ProxyRoute, Vec<String>)> {
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let mut warnings = Vec::new();
        let (url, source) = match &config.proxy {
            ProxySetting::Off => return Ok((ProxyRoute::direct(), warnings)),
            ProxySetting::Url(u) => (u.clone(), "config proxy".to_owned()),
            ProxySetting::FromEnv => {
                let cgi = env("REQUEST_METHOD").is_some();
                let names: &[&str] = match endpoint.scheme {
                    Scheme::Http if cgi => &["http_proxy", "all_proxy", "ALL_PROXY"],
                    Scheme::Http => &["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"],
                    Scheme::Https => &["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"],
                };
                let Some((name, value)) = names.iter().find_map(|n| env(n).map(|v| (*n, v))) else {
                    return Ok((ProxyRoute::direct(), warnings));
                };
                let url = ProxyUrl::parse(value.trim()).map_err(|m| {
                    Error::new(
                        ErrorKind::InvalidConfig,
                        format!("environment variable {name}: {m}"),
                    )
                })?;
                (url, format!("environment variable {name}"))
            }
        };
        let no_proxy = match &config.no_proxy {
            // Parsed configurations hold normalized patterns; a Config built in code may not.
            Some(list) => {
                let (ok, bad) = parse_no_proxy(&list.join(","));
                for b in bad {
                    warnings.push(format!("noProxy entry {b:?} ignored"));
                }
                ok
            }
            None => match ["no_proxy", "NO_PROXY"]
                .iter()
                .find_map(|n| env(n).map(|v| (*n, v)))
            {
                Some((name, value)) => {
                    let (ok, bad) = parse_no_proxy(&value);
                    for b in bad {
                        warnings.push(format!(
                            "environment variable {name}: entry {b:?} ignored (only host names, \
                             domains, IP addresses and * are supported)"
                        ));
                    }
                    ok
                }
                None => Vec::new(),
            },
        };
        let mut builder_entries = Vec::new();
        for p in &no_proxy {
            // ureq's rules: an exact host, and ".p" for every host under it.
            builder_entries.push(p.clone());
            if p != "*" && !p.starts_with('[') {
                builder_entries.push(format!(".{p}"));
            }
        }
        let base = url.proxy();
        // Rebuilt through the builder to attach the no-proxy rules (Proxy::new has none).
        let mut b = ureq::Proxy::builder(base.protocol())
            .host(base.host().trim_start_matches('[').trim_end_matches(']'))
            .port(base.port());
        if let Some(u) = base.username() {
            b = b.username(u);
        }
        if let Some(p) = base.password() {
            b = b.password(p);
        }
        for e in &builder_entries {
            b = b.no_proxy(e);
        }
        let proxy = b.build().map_err(|_| {
            Error::new(
                ErrorKind::InvalidConfig,
                format!("{source}: cannot use proxy \"{url}\""),
            )
        })?;
        Ok((
            ProxyRoute {
                proxy: Some(proxy),
                shown: url.to_string(),
                source,
                no_proxy,
            },
            warnings,
        ))
    }

    /// One line for the connector log, credentials redacted.
    pub(crate) fn describe(&self) -> String {
        if self.proxy.is_none() {
            return "no proxy".to_owned();
        }
        let mut s = format!("proxy {} (from {})", self.shown, self.source);
        if !self.no_proxy.is_empty() {
            s.push_str(&format!("; direct for {}", self.no_proxy.join(", ")));
        }
        s
    }

    /// True when requests to `host` skip the proxy (or there is none).
    #[cfg(test)]
    fn is_direct(&self, host: &str) -> bool {
        self.proxy.is_none() || no_proxy_matches(&self.no_proxy, host)
    }

    /// Builds the agent: `config` plus this route's proxy, and a connector chain that sends
    /// requests to `http://` hosts through the proxy in absolute form.
    pub(crate) fn agent(
        &self,
        builder: ureq::config::ConfigBuilder<ureq::typestate::AgentScope>,
    ) -> ureq::Agent {
        let config = builder.proxy(self.proxy.clone()).build();
        let auth = self
            .proxy
            .as_ref()
            .filter(|p| p.username().is_some() || p.password().is_some())
            .map(|p| {
                let creds = format!(
                    "{}:{}",
                    p.username().unwrap_or_default(),
                    p.password().unwrap_or_default()
                );
                let header = format!(
                    "Proxy-Authorization: Basic {}\r\n",
                    base64::engine::general_purpose::STANDARD.encode(creds.as_bytes())
                );
                Arc::new(Secret::from(header))
            });
        let chain = ()
            .chain(ForwardConnector {
                auth,
                to_proxy: ().chain(TcpConnector::default()).chain(RustlsConnector::default()),
            })
            .chain(ConnectProxyConnector::default())
            .chain(TcpConnector::default())
            .chain(RustlsConnector::default())
            .chain(crate::transport::CancellableConnector);
        ureq::Agent::with_parts(config, chain, DefaultResolver::default())
    }
}

/// First in the connector chain: for an `http://` target that the configured proxy serves,
/// opens a connection to the proxy and wraps it in a [`ForwardTransport`]. Anything else
/// (no proxy, `NO_PROXY`, `https://` targets) passes to the rest of the chain: ureq's
/// `CONNECT` tunnel, plain TCP, TLS.
struct ForwardConnector {
    /// The `Proxy-Authorization` header line, when the proxy URL has credentials.
    auth: Option<Arc<Secret>>,
    /// Opens the connection to the proxy itself (TLS for an `https://` proxy).
    to_proxy: ToProxy,
}

type ToProxy = ChainedConnector<(), ChainedConnector<(), (), TcpConnector>, RustlsConnector>;

impl fmt::Debug for ForwardConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ForwardConnector")
    }
}

impl Connector<()> for ForwardConnector {
    type Out = Box<dyn Transport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        _chained: Option<()>,
    ) -> std::result::Result<Option<Self::Out>, ureq::Error> {
        let Some(proxy) = details.config.proxy() else {
            return Ok(None);
        };
        let target = details.uri;
        if target.scheme_str() != Some("http") || proxy.is_no_proxy(target) {
            return Ok(None);
        }
        let Some(authority) = target.authority() else {
            return Ok(None);
        };
        let proxy_uri = proxy.uri();
        let proxy_addrs = details
            .resolver
            .resolve(proxy_uri, details.config, details.timeout)?;
        // The rest of the chain would see the proxy in the config and tunnel; TCP and TLS
        // alone ignore it.
        let proxy_details = ConnectionDetails {
            uri: proxy_uri,
            addrs: proxy_addrs,
            config: details.config,
            request_level: details.request_level,
            resolver: details.resolver,
            now: details.now,
            timeout: details.timeout,
            current_time: details.current_time.clone(),
            run_connector: details.run_connector.clone(),
            register_shutdown: details.register_shutdown.clone(),
        };
        let Some(inner) = self.to_proxy.connect(&proxy_details, None)? else {
            return Err(ureq::Error::ConnectProxyFailed(
                "no connection to the proxy".to_owned(),
            ));
        };
        let inner: Box<dyn Transport> = Box::new(inner);
        Ok(Some(Box::new(ForwardTransport {
            inner,
            origin: format!("http://{}", authority.as_str()),
            auth: self.auth.clone(),
            body_left: 0,
        })))
    }
}

/// A connection to a forward proxy for one `http://` origin: each request line leaves as
/// `METHOD http://origin/path HTTP/1.1` (plus `Proxy-Authorization` when the proxy URL has
/// credentials); everything else passes unchanged, both ways.
struct ForwardTransport {
    inner: Box<dyn Transport>,
    /// `http://host[:port]` of the target.
    origin: String,
    auth: Option<Arc<Secret>>,
    /// Bytes of a request body still to pass before the next request line.
    body_left: u64,
}

impl fmt::Debug for ForwardTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForwardTransport")
            .field("origin", &self.origin)
            .finish()
    }
}

/// The request head in `out` rewritten for a forward proxy, and the length of the body that
/// follows it; `None` when `out` does not start with an origin-form request line.
fn rewrite_head(out: &[u8], origin: &str, auth: Option<&str>) -> Option<(Vec<u8>, u64)> {
    let line_end = out.windows(2).position(|w| w == b"\r\n")?;
    let line = &out[..line_end];
    let sp = line.iter().position(|&c| c == b' ')?;
    let (method, target) = (&line[..sp], &line[sp + 1..]);
    if method.is_empty() || !method.iter().all(u8::is_ascii_uppercase) || !target.starts_with(b"/")
    {
        return None;
    }
    let mut head = Vec::with_capacity(out.len() + origin.len() + 128);
    head.extend_from_slice(method);
    head.push(b' ');
    head.extend_from_slice(origin.as_bytes());
    head.extend_from_slice(target);
    head.extend_from_slice(b"\r\n");
    if let Some(a) = auth {
        head.extend_from_slice(a.as_bytes());
    }
    head.extend_from_slice(&out[line_end + 2..]);
    // The body length, if the head is complete and declares one (ossmc sends none).
    let headers_end = out.windows(4).position(|w| w == b"\r\n\r\n");
    let body = headers_end.map_or(0, |end| {
        let sent_body = (out.len() - (end + 4)) as u64;
        let declared = std::str::from_utf8(&out[line_end + 2..end])
            .ok()
            .and_then(|h| {
                h.split("\r\n").find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.trim()
                        .eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<u64>().ok())
                        .flatten()
                })
            })
            .unwrap_or(0);
        declared.saturating_sub(sent_body)
    });
    Some((head, body))
}

impl Transport for ForwardTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(
        &mut self,
        amount: usize,
        timeout: NextTimeout,
    ) -> std::result::Result<(), ureq::Error> {
        if self.body_left > 0 {
            self.body_left = self.body_left.saturating_sub(amount as u64);
            return self.inner.transmit_output(amount, timeout);
        }
        let out = &self.inner.buffers().output()[..amount];
        let auth = self.auth.as_deref().map(Secret::expose);
        let Some((head, body)) = rewrite_head(out, &self.origin, auth) else {
            return self.inner.transmit_output(amount, timeout);
        };
        self.body_left = body;
        // The rewritten head is longer than the buffer held: send it in buffer-sized parts.
        let mut sent = 0;
        while sent < head.len() {
            let buf = self.inner.buffers().output();
            let n = buf.len().min(head.len() - sent);
            buf[..n].copy_from_slice(&head[sent..sent + n]);
            self.inner.transmit_output(n, timeout)?;
            sent += n;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> std::result::Result<bool, ureq::Error> {
        self.inner.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn ep(s: &str) -> Endpoint {
        Endpoint::parse(s).unwrap()
    }

    fn route(config: &Config, endpoint: &str, env: &[(&str, &str)]) -> Result<ProxyRoute> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ProxyRoute::resolve_with(config, &ep(endpoint), |n| {
            env.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())
        })
        .map(|(r, _)| r)
    }

    #[test]
    fn settings_parse() {
        assert_eq!(ProxySetting::parse("").unwrap(), ProxySetting::Off);
        assert_eq!(ProxySetting::parse("None").unwrap(), ProxySetting::Off);
        let ProxySetting::Url(u) = ProxySetting::parse("proxy.corp:3128").unwrap() else {
            panic!()
        };
        assert_eq!(u.to_string(), "http://proxy.corp:3128");
        let ProxySetting::Url(u) = ProxySetting::parse("http://al:s3cr%40t@[::1]:8080/").unwrap()
        else {
            panic!()
        };
        assert_eq!(u.to_string(), "http://***@[::1]:8080");
        assert_eq!(
            format!("{:?}", ProxySetting::Url(u)),
            "Url(http://***@[::1]:8080)"
        );
    }

    #[test]
    fn bad_urls_name_the_problem_without_the_password() {
        for (text, why) in [
            ("ftp://u:pw@h:1", "the scheme must be http:// or https://"),
            (
                "socks5://u:pw@h:1080",
                "SOCKS proxies are not supported; use an http:// proxy",
            ),
            (
                "http://u:pw@h:1/path",
                "a proxy URL has no path, query or fragment",
            ),
            (
                "http://u:pw@h:0",
                "the port must be a number from 1 to 65535",
            ),
            (
                "http://u:pw@h:99999",
                "the port must be a number from 1 to 65535",
            ),
            (
                "http://u:pw@h:x",
                "the port must be a number from 1 to 65535",
            ),
            ("http://u:pw@:8080", "the host is missing or invalid"),
            ("http://u:pw@[::1:8080", "an IPv6 address must end with ']'"),
        ] {
            let e = ProxyUrl::parse(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
            assert!(!e.contains("pw"), "{text}: {e}");
            assert!(e.contains("***@"), "{text}: {e}");
        }
    }

    #[test]
    fn redaction() {
        assert_eq!(redact("http://u:p@h:1"), "http://***@h:1");
        assert_eq!(redact("u:p@h:1"), "***@h:1");
        assert_eq!(redact("http://u:p@x@h:1/a@b"), "http://***@h:1/a@b");
        assert_eq!(redact("http://h:1"), "http://h:1");
    }

    #[test]
    fn no_proxy_follows_curl() {
        let (p, bad) =
            parse_no_proxy(" example.com, .corp.net,*.Internal ,10.0.0.1,::1,,10.0.0.0/8,h:80");
        assert_eq!(
            p,
            ["example.com", "corp.net", "internal", "10.0.0.1", "[::1]"]
        );
        assert_eq!(bad, ["10.0.0.0/8", "h:80"]);
        for (host, hit) in [
            ("example.com", true),
            ("EXAMPLE.com", true),
            ("a.b.example.com", true),
            ("badexample.com", false),
            ("example.com.evil", false),
            ("corp.net", true),
            ("x.corp.net", true),
            ("svc.internal", true),
            ("10.0.0.1", true),
            ("10.0.0.10", false),
            ("[::1]", true),
            ("oss-cn-hangzhou.aliyuncs.com", false),
        ] {
            assert_eq!(no_proxy_matches(&p, host), hit, "{host}");
        }
        assert!(no_proxy_matches(&["*".to_owned()], "anything"));
    }

    #[test]
    fn precedence_config_then_lowercase_then_uppercase() {
        let c = Config::default();
        let r = route(&c, "http://h", &[]).unwrap();
        assert_eq!(r.describe(), "no proxy");
        let r = route(
            &c,
            "http://h",
            &[
                ("HTTP_PROXY", "http://up:1"),
                ("http_proxy", "http://low:1"),
            ],
        )
        .unwrap();
        assert_eq!(
            r.describe(),
            "proxy http://low:1 (from environment variable http_proxy)"
        );
        let r = route(
            &c,
            "http://h",
            &[("HTTP_PROXY", "http://up:1"), ("http_proxy", " ")],
        )
        .unwrap();
        assert_eq!(
            r.describe(),
            "proxy http://up:1 (from environment variable HTTP_PROXY)"
        );
        // httpoxy: inside a CGI program the upper-case name is not trusted.
        let r = route(
            &c,
            "http://h",
            &[("HTTP_PROXY", "http://up:1"), ("REQUEST_METHOD", "GET")],
        )
        .unwrap();
        assert_eq!(r.describe(), "no proxy");
        // The scheme of the endpoint picks the variable; all_proxy is the fallback.
        let env = [("http_proxy", "http://a:1"), ("ALL_PROXY", "http://all:1")];
        assert_eq!(
            route(&c, "https://h", &env).unwrap().describe(),
            "proxy http://all:1 (from environment variable ALL_PROXY)"
        );
        let env = [
            ("HTTPS_PROXY", "https://u:pw@s:1"),
            ("NO_PROXY", "localhost,.svc,10.0.0.0/8"),
        ];
        let r = route(&c, "https://h", &env).unwrap();
        assert_eq!(r.describe(), "proxy https://***@s:1 (from environment variable HTTPS_PROXY); direct for localhost, svc");
        assert!(r.is_direct("a.svc") && r.is_direct("localhost") && !r.is_direct("h"));
        assert!(!format!("{r:?}").contains("pw"));
        // The config wins over the environment, both ways.
        let c = Config {
            proxy: ProxySetting::Off,
            ..Config::default()
        };
        assert_eq!(
            route(&c, "http://h", &[("http_proxy", "http://a:1")])
                .unwrap()
                .describe(),
            "no proxy"
        );
        let (c, _) =
            Config::from_json_str(r#"{"proxy": "http://cfg:2", "noProxy": ["x.org"]}"#).unwrap();
        let r = route(
            &c,
            "http://h",
            &[("http_proxy", "http://a:1"), ("no_proxy", "*")],
        )
        .unwrap();
        assert_eq!(
            r.describe(),
            "proxy http://cfg:2 (from config proxy); direct for x.org"
        );
        assert!(!r.is_direct("h") && r.is_direct("www.x.org"));
    }

    #[test]
    fn bad_environment_values_are_config_errors() {
        let e = route(
            &Config::default(),
            "http://h",
            &[("http_proxy", "ftp://u:pw@h")],
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        assert!(
            e.message()
                .starts_with("environment variable http_proxy: proxy must be a URL"),
            "{}",
            e.message()
        );
        assert!(!e.message().contains("pw"));
    }

    #[test]
    fn config_keys_are_validated() {
        for (text, msg) in [
            (
                r#"{"proxy": 5}"#,
                r#"proxy must be a string (a URL such as "http://proxy.example:3128", or "none"), got 5"#,
            ),
            (
                r#"{"proxy": "gopher://u:pw@h"}"#,
                r#"proxy must be a URL such as "http://proxy.example:3128" (the scheme must be http:// or https://), got "gopher://***@h""#,
            ),
            (
                r#"{"noProxy": "a.com, 10.0.0.0/8"}"#,
                r#"noProxy entry "10.0.0.0/8" is not a host name, domain, IP address or * (CIDR blocks and ports are not supported)"#,
            ),
            (
                r#"{"noProxy": [1]}"#,
                "noProxy entries must be strings, got 1",
            ),
            (
                r#"{"noProxy": 1}"#,
                "noProxy must be a string of comma-separated hosts or an array of hosts, got 1",
            ),
        ] {
            let e = Config::from_json_str(text).unwrap_err();
            assert_eq!(e.message(), format!("config: {msg}"), "{text}");
        }
        let (c, _) =
            Config::from_json_str(r#"{"proxy": "none", "noProxy": "a.com,.b.org"}"#).unwrap();
        assert_eq!(c.proxy, ProxySetting::Off);
        assert_eq!(
            c.no_proxy,
            Some(vec!["a.com".to_owned(), "b.org".to_owned()])
        );
        assert!(!format!(
            "{:?}",
            Config::from_json_str(r#"{"proxy": "http://u:pw@h:1"}"#)
                .unwrap()
                .0
        )
        .contains("pw"));
    }

    #[test]
    fn request_lines_are_rewritten_to_absolute_form() {
        let head = b"GET /b/k%20x?x=1 HTTP/1.1\r\nhost: h:9\r\nrange: bytes=0-9\r\n\r\n";
        let (out, body) = rewrite_head(
            head,
            "http://h:9",
            Some("Proxy-Authorization: Basic eDp5\r\n"),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET http://h:9/b/k%20x?x=1 HTTP/1.1\r\nProxy-Authorization: Basic eDp5\r\nhost: h:9\r\nrange: bytes=0-9\r\n\r\n"
        );
        assert_eq!(body, 0);
        let (_, body) = rewrite_head(
            b"PUT /k HTTP/1.1\r\ncontent-length: 10\r\n\r\nabcd",
            "http://h",
            None,
        )
        .unwrap();
        assert_eq!(body, 6);
        assert!(rewrite_head(b"abcdef", "http://h", None).is_none());
        assert!(rewrite_head(b"GET http://h/k HTTP/1.1\r\n\r\n", "http://h", None).is_none());
    }
}
