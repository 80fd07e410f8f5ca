//! The HTTP client: one shared ureq agent for every request the connector sends, request
//! building (URL, key and query encoding, signing with cached credentials), the retry policy
//! (capped exponential backoff with jitter), OSS error responses turned into [`Error`]s, and
//! one audit line per request.
//!
//! Callers describe an operation as a closure that performs one attempt ([`Client::call`]);
//! the closure decides whether a response it got is done, worth retrying (a short body, say)
//! or fatal, and [`Client::call`] owns backoff, attempt counting and cancellation. Error
//! responses never reach the closure: [`Exchange::send`] classifies them (retryable status,
//! expired credentials, clock skew) before handing back only successful responses.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) use crate::cancel::CancelToken;
use crate::clock::{ClockOffset, Correction};
use crate::config::{Addressing, Config, RetryConfig, SignatureVersion};
use crate::credentials::{CredentialsCache, CredentialsProvider};
use crate::deadline::{BodyDeadline, BodyTimeout};
use crate::endpoint::Endpoint;
use crate::error::{Error, ErrorKind, Result};
use crate::error_doc::{parse_error_xml, ErrorDoc};
use crate::logging::{Audit, AuditRecord};
use crate::protocol::Protocol;
use crate::signing::{self, SigningRequest};
use crate::signing_s3::{self, S3Request};
use crate::uri::{encode_key_path, encode_query_value};

/// The `User-Agent` of every request.
pub(crate) const USER_AGENT: &str = concat!("ossmc/", env!("CARGO_PKG_VERSION"));

/// Most bytes of an error body we read (OSS error documents are a few hundred bytes).
const MAX_ERROR_BODY: u64 = 64 * 1024;

/// One request as the operations describe it.
pub(crate) struct Request<'a> {
    /// Operation name for logs and the audit file (`GetObject`, `HeadObject`, ...).
    pub op: &'static str,
    pub method: &'static str,
    pub bucket: &'a str,
    /// Decoded key; `None` for bucket-level operations.
    pub key: Option<&'a str>,
    /// Decoded query names and values, in the order sent.
    pub query: Vec<(String, String)>,
    /// Extra headers, lower-case names (`range`, `if-match`, ...).
    pub headers: Vec<(String, String)>,
    /// The byte range, for the audit line.
    pub range: Option<(u64, u64)>,
}

/// A successful (2xx) response handed to an operation.
///
/// Its audit line is written when it is dropped, with the body bytes read through
/// [`Response::reader`], so every exit path of an operation records it exactly once.
pub(crate) struct Response<'r> {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    body: ureq::Body,
    pub request_id: String,
    started: Instant,
    /// Body bytes read so far, for the audit line.
    bytes: u64,
    /// Where the audit line goes, and the request it describes; `None` without an audit file.
    audit: Option<(&'r Audit, &'r Request<'r>)>,
}

impl Response<'_> {
    /// A header as text, if present and valid.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body length the server announced, if any.
    pub(crate) fn content_length(&self) -> Option<u64> {
        self.body.content_length()
    }

    /// The body, counting the bytes read for the audit line.
    pub(crate) fn reader(&mut self) -> BodyReader<'_> {
        let Response { body, bytes, .. } = self;
        BodyReader {
            inner: body.as_reader(),
            bytes,
        }
    }
}

impl Drop for Response<'_> {
    fn drop(&mut self) {
        if let Some((audit, req)) = self.audit {
            record(
                audit,
                req,
                self.status,
                self.bytes,
                self.started,
                &self.request_id,
            );
        }
    }
}

/// A response body being read; see [`Response::reader`].
pub(crate) struct BodyReader<'b> {
    inner: ureq::BodyReader<'b>,
    bytes: &'b mut u64,
}

impl Read for BodyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        *self.bytes += n as u64;
        Ok(n)
    }
}

/// What one attempt of an operation came to.
pub(crate) enum Attempt<T> {
    /// Finished.
    Done(T),
    /// Failed in a way another attempt may fix (after a backoff delay).
    Retry(Error),
    /// Failed in a way another attempt fixes at once (fresh credentials, clock corrected).
    RetryNow(Error),
    /// Failed after making progress the next attempt builds on (part of a listing arrived and
    /// is kept): retried after a short backoff, and the failed tries so far are forgiven, so
    /// only `retry.max_attempts` tries in a row without progress end the call.
    Progress(Error),
    /// Failed for good.
    Fail(Error),
}

/// Per-call state shared by the attempts of one operation.
pub(crate) struct Exchange<'c> {
    client: &'c Client,
    credentials_refreshed: bool,
    clock_corrected: bool,
}

/// The shared HTTP client.
pub(crate) struct Client {
    agent: ureq::Agent,
    endpoint: Endpoint,
    protocol: Protocol,
    addressing: Addressing,
    region: String,
    signature_version: SignatureVersion,
    credentials: CredentialsCache,
    retry: RetryConfig,
    /// How long each response body may take after its headers.
    body_deadline: BodyDeadline,
    audit: Option<Audit>,
    /// The local clock's correction, learned from RequestTimeTooSkewed responses.
    clock: ClockOffset,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No credentials here: the cache is deliberately left out.
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            .field("addressing", &self.addressing)
            .field("region", &self.region)
            .field("signature_version", &self.signature_version)
            .finish()
    }
}

impl Client {
    /// Builds the client: one agent whose pool holds a connection for every request the
    /// prefetcher and the lister may have in flight.
    pub(crate) fn new(
        endpoint: Endpoint,
        provider: Arc<dyn CredentialsProvider>,
        config: &Config,
        audit: Option<Audit>,
        proxy: &crate::proxy::ProxyRoute,
    ) -> Client {
        let pool = config.prefetch.max_in_flight() + config.fast_list.max_in_flight();
        let agent_config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_idle_connections(pool.max(1))
            .max_idle_connections_per_host(pool.max(1))
            .timeout_connect(Some(config.connect_timeout))
            .timeout_per_read(Some(config.read_timeout))
            .timeout_recv_response(Some(config.read_timeout))
            .timeout_per_write(Some(config.read_timeout))
            .user_agent(USER_AGENT)
            // Requests are a few hundred bytes; bodies are read through the input buffer.
            .output_buffer_size(16 << 10);
        // The route's proxy (none unless configured or set in the environment), the
        // connector chain that sends plain-HTTP requests to it in absolute form, and every
        // connection wrapped so that cancelling an operation ends its socket waits at once
        // (see `transport`).
        let agent = proxy.agent(agent_config);
        let addressing = endpoint.addressing(config.addressing);
        let protocol = Protocol::for_endpoint(config.protocol, &endpoint);
        let region = config
            .region
            .clone()
            .or_else(|| protocol.region_of(&endpoint.host))
            .unwrap_or_else(|| protocol.fallback_region().to_owned());
        Client {
            agent,
            endpoint,
            protocol,
            addressing,
            region,
            signature_version: config.signature_version,
            credentials: CredentialsCache::new(provider),
            retry: config.retry.clone(),
            body_deadline: BodyDeadline::new(config),
            audit,
            clock: ClockOffset::new(),
        }
    }

    /// The connector is gone: its credentials provider is never asked again (threads still
    /// finishing a request fail it as cancelled). Waits for a call of the provider in
    /// progress.
    pub(crate) fn close(&self) {
        self.credentials.close();
    }

    /// The API the client speaks.
    pub(crate) fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The retry policy in use.
    pub(crate) fn retry_config(&self) -> &RetryConfig {
        &self.retry
    }

    /// Runs an operation: `attempt` performs one try (usually one request through
    /// [`Exchange::send`]); retryable failures are retried with capped exponential backoff
    /// and full jitter, at most `retry.max_attempts` tries in all, not counting the tries
    /// that ended in [`Attempt::Progress`].
    pub(crate) fn call<T>(
        &self,
        cancel: &CancelToken,
        attempt: impl FnMut(&mut Exchange<'_>) -> Attempt<T>,
    ) -> Result<T> {
        self.call_untagged(cancel, attempt)
            .map_err(|e| e.with_scheme(self.protocol.as_str()))
    }

    /// [`Client::call`] without naming the protocol's URI scheme in its errors.
    fn call_untagged<T>(
        &self,
        cancel: &CancelToken,
        mut attempt: impl FnMut(&mut Exchange<'_>) -> Attempt<T>,
    ) -> Result<T> {
        // Socket waits of this operation end soon after `cancel` is cancelled.
        let _watch = crate::transport::watch(cancel);
        let mut ex = Exchange {
            client: self,
            credentials_refreshed: false,
            clock_corrected: false,
        };
        let max = self.retry.max_attempts.max(1);
        let mut tries = 0u32;
        loop {
            if cancel.is_cancelled() {
                return Err(Error::new(
                    ErrorKind::Cancelled,
                    "the operation was cancelled",
                ));
            }
            tries += 1;
            let err = match attempt(&mut ex) {
                Attempt::Done(v) => return Ok(v),
                Attempt::Fail(e) => return Err(e),
                Attempt::RetryNow(e) => {
                    if tries >= max {
                        return Err(e);
                    }
                    log::info!("{e}; retrying at once");
                    continue;
                }
                Attempt::Retry(e) => e,
                Attempt::Progress(e) => {
                    // Each such try got further, so the call cannot loop forever.
                    tries = 0;
                    e
                }
            };
            if tries >= max {
                log::warn!("{err}; giving up after {tries} attempts");
                return Err(err);
            }
            let delay = self.backoff(tries);
            if tries == 0 {
                log::info!("{err}; continuing in {} ms", delay.as_millis());
            } else {
                log::info!(
                    "{err}; retrying in {} ms (attempt {} of {max})",
                    delay.as_millis(),
                    tries + 1
                );
            }
            if !cancel.sleep(delay) {
                return Err(Error::new(
                    ErrorKind::Cancelled,
                    "the operation was cancelled",
                ));
            }
        }
    }

    /// Full-jitter backoff: a random delay in [0, min(max_delay, base * 2^(n-1))], at least 1 ms.
    fn backoff(&self, failed_tries: u32) -> Duration {
        let exp = failed_tries.saturating_sub(1).min(20);
        let cap = self
            .retry
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.retry.max_delay);
        let nanos = cap.as_nanos().min(u128::from(u64::MAX)) as u64;
        Duration::from_nanos(fastrand::u64(0..=nanos)).max(Duration::from_millis(1))
    }

    /// Where `req` goes: its URL, the range of the URL that is the (encoded) path, and the
    /// `Host` header.
    fn target(&self, req: &Request<'_>) -> (String, std::ops::Range<usize>, String) {
        let (base, host) = self.endpoint.base_url(Some(req.bucket), self.addressing);
        let mut url = base;
        // Where the path starts in the URL, for the S3 signature (which signs it as sent).
        let path_start = url.find("://").map_or(0, |i| {
            url[i + 3..].find('/').map_or(url.len(), |j| i + 3 + j)
        });
        url.push('/');
        if let Some(key) = req.key {
            url.push_str(&encode_key_path(key));
        }
        let path_end = url.len();
        for (i, (name, value)) in req.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&encode_query_value(name));
            if !value.is_empty() {
                url.push('=');
                url.push_str(&encode_query_value(value));
            }
        }
        (url, path_start..path_end, host)
    }

    /// Sends one request and returns the raw response (any status) or a transport error.
    fn send_raw(&self, req: &Request<'_>) -> Result<(ureq::http::Response<ureq::Body>, Instant)> {
        let (url, path, host) = self.target(req);
        let extra = self.protocol.extra_headers(req.method, req.range.is_some());
        let mut headers: Vec<(String, String)> =
            Vec::with_capacity(req.headers.len() + extra.len() + 6);
        headers.push(("host".to_owned(), host));
        headers.extend(req.headers.iter().cloned());
        headers.extend(
            extra
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
        );
        let creds = self.credentials.current()?;
        let now = self.clock.now()?;
        let signed = match self.protocol {
            Protocol::Oss => signing::sign(
                self.signature_version,
                &self.region,
                &creds,
                now,
                &SigningRequest {
                    method: req.method,
                    bucket: Some(req.bucket),
                    key: req.key,
                    query: &req.query,
                    headers: &headers,
                },
            ),
            Protocol::S3 => signing_s3::sign(
                &self.region,
                &creds,
                now,
                &S3Request {
                    method: req.method,
                    path: &url[path],
                    query: &req.query,
                    headers: &headers,
                },
            ),
        }
        .map_err(|e| e.with_object(req.bucket, req.key))?;
        let mut builder = ureq::http::Request::builder().method(req.method).uri(&url);
        for (name, value) in headers.iter().chain(signed.iter()) {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = builder.body(()).map_err(|e| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("cannot build the {} request for {url}: {e}", req.op),
            )
            .with_object(req.bucket, req.key)
        })?;
        // The read timeout alone lets a trickling server hold the body open forever.
        let request = self
            .agent
            .configure_request(request)
            .timeout_recv_body(Some(self.body_deadline_of(req)))
            .build();
        log::debug!("{} {} {url}", req.op, req.method);
        let started = Instant::now();
        match self.agent.run(request) {
            Ok(resp) => Ok((resp, started)),
            Err(e) => {
                let err = transport_error(req, e);
                self.record(req, 0, 0, started, "");
                Err(err)
            }
        }
    }

    /// Writes the audit line of a request that got no successful response.
    fn record(
        &self,
        req: &Request<'_>,
        status: u16,
        bytes: u64,
        started: Instant,
        request_id: &str,
    ) {
        if let Some(audit) = &self.audit {
            record(audit, req, status, bytes, started, request_id);
        }
    }
}

/// Writes the audit line of a request.
fn record(
    audit: &Audit,
    req: &Request<'_>,
    status: u16,
    bytes: u64,
    started: Instant,
    request_id: &str,
) {
    audit.record(&AuditRecord {
        op: req.op,
        bucket: req.bucket,
        key: req.key.unwrap_or(""),
        range: req.range,
        http_status: status,
        bytes,
        millis: started.elapsed().as_millis() as u64,
        request_id,
    });
}

impl<'c> Exchange<'c> {
    /// Sends `req`. A 2xx response comes back as `Ok` (its audit line is written when it is
    /// dropped); anything else comes back as the attempt outcome it calls for (retry, retry at
    /// once after refreshing credentials or correcting the clock, or fail), with the audit
    /// line already written.
    pub(crate) fn send<'r, T>(
        &mut self,
        req: &'r Request<'r>,
    ) -> std::result::Result<Response<'r>, Attempt<T>>
    where
        'c: 'r,
    {
        let (resp, started) = match self.client.send_raw(req) {
            Ok(r) => r,
            Err(e) if is_retryable_kind(e.kind()) => return Err(Attempt::Retry(e)),
            Err(e) => return Err(Attempt::Fail(e)),
        };
        let (parts, body) = resp.into_parts();
        let status = parts.status.as_u16();
        let request_id = self
            .client
            .protocol
            .request_id(&parts.headers)
            .unwrap_or("")
            .to_owned();
        if (200..300).contains(&status) {
            return Ok(Response {
                status,
                headers: parts.headers,
                body,
                request_id,
                started,
                bytes: 0,
                audit: self.client.audit.as_ref().map(|a| (a, req)),
            });
        }
        let error = self
            .client
            .error_from_response(req, status, &parts.headers, body, &request_id);
        self.client.record(req, status, 0, started, &request_id);
        let code = error.code().unwrap_or("");
        match code {
            // OSS's codes, then S3's.
            "InvalidAccessKeyId"
            | "SecurityTokenExpired"
            | "InvalidSecurityToken"
            | "ExpiredToken"
            | "InvalidToken"
            | "TokenRefreshRequired"
                if !self.credentials_refreshed =>
            {
                self.credentials_refreshed = true;
                self.client.credentials.invalidate();
                log::info!("{error}; refreshing the credentials and retrying once");
                Err(Attempt::RetryNow(error))
            }
            "RequestTimeTooSkewed" if !self.clock_corrected => {
                self.clock_corrected = true;
                let date = parts.headers.get("date").and_then(|v| v.to_str().ok());
                match self.client.clock.learn(date) {
                    Correction::Learned { secs } => {
                        log::warn!(
                            "the local clock is {} s off the server's; correcting and retrying once",
                            -secs
                        );
                        Err(Attempt::RetryNow(error))
                    }
                    Correction::NoDate => Err(Attempt::RetryNow(error)),
                    Correction::TooFar(why) => Err(Attempt::Fail(
                        Error::from_oss(
                            status,
                            error.code().map(str::to_owned),
                            format!("{}: {why}", error.message()),
                            error.request_id().map(str::to_owned),
                        )
                        .with_object(req.bucket, req.key),
                    )),
                }
            }
            _ if is_retryable_status(status, code) => Err(Attempt::Retry(error)),
            _ => Err(Attempt::Fail(error)),
        }
    }

    /// The client the exchange sends through.
    pub(crate) fn client(&self) -> &Client {
        self.client
    }
}

impl Client {
    /// The deadline of `req`'s response body: sized by its range, fixed for other bodies.
    fn body_deadline_of(&self, req: &Request<'_>) -> Duration {
        let size = req
            .range
            .map(|(a, b)| b.saturating_sub(a).saturating_add(1));
        self.body_deadline.for_body(size)
    }

    /// An error while reading `req`'s response body (after the headers arrived): `got` bytes
    /// had arrived of the `want` announced (`None`: no length was announced, as with a chunked
    /// body).
    pub(crate) fn body_error(
        &self,
        req: &Request<'_>,
        e: &std::io::Error,
        got: u64,
        want: Option<u64>,
    ) -> Error {
        body_error(req, e, got, want, self.body_deadline_of(req))
    }

    /// Turns an error response into an [`Error`]: the OSS error document from the body, or
    /// (HEAD) from the base64 `x-oss-err` header, or just the status and request id.
    fn error_from_response(
        &self,
        req: &Request<'_>,
        status: u16,
        headers: &ureq::http::HeaderMap,
        mut body: ureq::Body,
        request_id: &str,
    ) -> Error {
        let mut doc: Option<ErrorDoc> = None;
        // Why the error document is missing, when its body broke off or ran out of time.
        let mut body_failure: Option<String> = None;
        if req.method == "HEAD" {
            doc = self.protocol.head_error_doc(headers);
        } else {
            let mut text = Vec::new();
            match body.as_reader().take(MAX_ERROR_BODY).read_to_end(&mut text) {
                Ok(_) => doc = parse_error_xml(&String::from_utf8_lossy(&text)),
                Err(e) => {
                    let why = match BodyTimeout::of(&e) {
                        Some(BodyTimeout::Stalled) => "it stalled".to_owned(),
                        Some(BodyTimeout::TooSlow) => format!(
                            "it arrived too slowly, {} bytes within {:.1} s",
                            text.len(),
                            self.body_deadline_of(req).as_secs_f64()
                        ),
                        None => format!("it broke off: {e}"),
                    };
                    body_failure = Some(why);
                }
            }
        }
        let doc = doc.unwrap_or_default();
        let request_id = doc
            .request_id
            .filter(|r| !r.is_empty())
            .or_else(|| (!request_id.is_empty()).then(|| request_id.to_owned()));
        let ec = doc.ec.or_else(|| {
            headers
                .get(self.protocol.ec_header()?)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        });
        let mut message = match doc.message.filter(|m| !m.is_empty()) {
            Some(m) => format!("{} failed: {}", req.op, m.trim_end_matches('.')),
            None => format!(
                "{} failed with HTTP {status} {}",
                req.op,
                ureq::http::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("")
            )
            .trim_end()
            .to_owned(),
        };
        if let Some(ec) = ec {
            message.push_str(&format!(" (EC {ec})"));
        }
        if let Some(why) = body_failure {
            message.push_str(&format!(" (no error document: {why})"));
        }
        let code = doc.code.filter(|c| !c.is_empty()).or_else(|| match status {
            // A HEAD without x-oss-err: name the likely code so the kind is right.
            404 if req.key.is_some() => Some("NoSuchKey".to_owned()),
            404 => Some("NoSuchBucket".to_owned()),
            412 => Some("PreconditionFailed".to_owned()),
            _ => None,
        });
        Error::from_oss(status, code, message, request_id).with_object(req.bucket, req.key)
    }
}

/// Whether an error response is worth another attempt.
fn is_retryable_status(status: u16, code: &str) -> bool {
    matches!(
        code,
        "RequestTimeout"
            | "SlowDown"
            | "RequestLimitExceeded"
            | "Throttling"
            | "ServiceUnavailable"
            | "InternalError"
            | "TotalQpsLimitExceeded"
            | "DownloadTrafficRateLimitExceeded"
            | "ActiveRequestLimitExceeded"
            | "RequestTimeTooSkewed"
    ) || status >= 500
        || status == 408
        || status == 429
}

fn is_retryable_kind(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::Network | ErrorKind::Timeout)
}

/// A transport-level failure (no HTTP response) as an [`Error`].
fn transport_error(req: &Request<'_>, e: ureq::Error) -> Error {
    let kind = match &e {
        ureq::Error::Timeout(_) => ErrorKind::Timeout,
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => ErrorKind::Timeout,
        ureq::Error::BadUri(_) => ErrorKind::InvalidArgument,
        _ => ErrorKind::Network,
    };
    Error::new(kind, format!("{} request failed: {e}", req.op))
        .with_object(req.bucket, req.key)
        .with_source(e)
}

/// See [`Client::body_error`]; `deadline` is the body's deadline, for the message.
fn body_error(
    req: &Request<'_>,
    e: &std::io::Error,
    got: u64,
    want: Option<u64>,
    deadline: Duration,
) -> Error {
    let of = match want {
        Some(want) => format!("{got} of {want} bytes"),
        None => format!("{got} bytes (length not announced)"),
    };
    let (kind, message) = match BodyTimeout::of(e) {
        Some(BodyTimeout::Stalled) => (
            ErrorKind::Timeout,
            format!(
                "{} response body stalled after {of}: no byte arrived within the read timeout \
                 (timeouts.readMs)",
                req.op
            ),
        ),
        Some(BodyTimeout::TooSlow) => (
            ErrorKind::Timeout,
            format!(
                "{} response body arrived too slowly: {of} within its deadline of {:.1} s \
                 (timeouts.readMs plus its size at timeouts.minRateBps)",
                req.op,
                deadline.as_secs_f64()
            ),
        ),
        None => (
            ErrorKind::Network,
            format!("{} response body broke off after {of}: {e}", req.op),
        ),
    };
    // io::Error is not Clone: chain a copy that keeps its kind and text.
    Error::new(kind, message)
        .with_object(req.bucket, req.key)
        .with_source(std::io::Error::new(e.kind(), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_classification() {
        assert!(is_retryable_status(503, "SlowDown"));
        assert!(is_retryable_status(500, ""));
        assert!(is_retryable_status(400, "RequestTimeout"));
        assert!(!is_retryable_status(404, "NoSuchKey"));
        assert!(!is_retryable_status(403, "AccessDenied"));
        assert!(!is_retryable_status(412, "PreconditionFailed"));
    }

    fn request(op: &'static str, key: Option<&'static str>) -> Request<'static> {
        Request {
            op,
            method: "GET",
            bucket: "bkt",
            key,
            query: Vec::new(),
            headers: Vec::new(),
            range: None,
        }
    }

    #[test]
    fn broken_bodies_say_what_arrived_of_what() {
        let reset = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "Peer disconnected");
        let deadline = Duration::from_millis(2500);
        let e = body_error(
            &request("GetObject", Some("k")),
            &reset,
            100,
            Some(4096),
            deadline,
        );
        assert_eq!(e.kind(), ErrorKind::Network);
        assert_eq!(
            e.message(),
            "GetObject response body broke off after 100 of 4096 bytes: Peer disconnected"
        );
        assert_eq!(e.key(), Some("k"));
        // A chunked body announces no length: no "of 0 bytes".
        let e = body_error(
            &request("ListObjectsV2", None),
            &reset,
            52147,
            None,
            deadline,
        );
        assert_eq!(
            e.message(),
            "ListObjectsV2 response body broke off after 52147 bytes (length not announced): \
             Peer disconnected"
        );
        assert_eq!(e.bucket(), Some("bkt"));
        // ureq's timeouts arrive wrapped, as errors of kind Other: still timeouts.
        let stalled = std::io::Error::other(ureq::Error::Timeout(ureq::Timeout::PerRead));
        let e = body_error(
            &request("ListObjectsV2", None),
            &stalled,
            0,
            Some(10),
            deadline,
        );
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert_eq!(
            e.message(),
            "ListObjectsV2 response body stalled after 0 of 10 bytes: no byte arrived within \
             the read timeout (timeouts.readMs)"
        );
        let slow = std::io::Error::other(ureq::Error::Timeout(ureq::Timeout::RecvBody));
        let e = body_error(
            &request("GetObject", Some("k")),
            &slow,
            640,
            Some(65536),
            deadline,
        );
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert_eq!(
            e.message(),
            "GetObject response body arrived too slowly: 640 of 65536 bytes within its deadline \
             of 2.5 s (timeouts.readMs plus its size at timeouts.minRateBps)"
        );
    }

    fn test_client(max_attempts: u32) -> Client {
        let mut config = Config::default();
        config.retry.max_attempts = max_attempts;
        config.retry.base_delay = Duration::from_millis(1);
        config.retry.max_delay = Duration::from_millis(1);
        let provider = Arc::new(crate::credentials::StaticProvider::new(
            crate::credentials::Credentials::new("id", "secret"),
        ));
        Client::new(
            Endpoint::parse("http://127.0.0.1:9").unwrap(),
            provider,
            &config,
            None,
            &crate::proxy::ProxyRoute::direct(),
        )
    }

    #[test]
    fn s3_paths_and_regions_follow_the_addressing() {
        let provider = Arc::new(crate::credentials::StaticProvider::new(
            crate::credentials::Credentials::new("id", "secret"),
        ));
        let client = |endpoint: &str, addressing: Option<Addressing>| {
            let config = Config {
                addressing,
                protocol: Some(Protocol::S3),
                ..Config::default()
            };
            Client::new(
                Endpoint::parse(endpoint).unwrap(),
                provider.clone(),
                &config,
                None,
                &crate::proxy::ProxyRoute::direct(),
            )
        };
        let mut req = request("GetObject", Some("dir/a b+ü.bin"));
        req.query = vec![("versionId".into(), "v 1".into())];
        // Virtual-hosted: the bucket is in the host, the path is the key alone.
        let c = client("https://s3.us-west-2.amazonaws.com", None);
        assert_eq!(c.region, "us-west-2");
        let (url, path, host) = c.target(&req);
        assert_eq!(
            url,
            "https://bkt.s3.us-west-2.amazonaws.com/dir/a%20b%2B%C3%BC.bin?versionId=v%201"
        );
        assert_eq!(&url[path], "/dir/a%20b%2B%C3%BC.bin");
        assert_eq!(host, "bkt.s3.us-west-2.amazonaws.com");
        // Path style: the bucket leads the path.
        let c = client("http://127.0.0.1:9000", None);
        assert_eq!(c.region, "us-east-1");
        let (url, path, host) = c.target(&req);
        assert_eq!(&url[path], "/bkt/dir/a%20b%2B%C3%BC.bin");
        assert_eq!(host, "127.0.0.1:9000");
        let c = client(
            "https://s3.oss-cn-hangzhou.aliyuncs.com",
            Some(Addressing::Path),
        );
        assert_eq!(c.region, "oss-cn-hangzhou");
        let list = request("ListObjectsV2", None);
        let (url, path, _) = c.target(&list);
        assert_eq!(&url[path], "/bkt/");
        let c = client("https://s3.oss-cn-hangzhou.aliyuncs.com", None);
        let (url, path, host) = c.target(&list);
        assert_eq!(
            (&url[path], host.as_str()),
            ("/", "bkt.s3.oss-cn-hangzhou.aliyuncs.com")
        );
    }

    #[test]
    fn tries_that_make_progress_are_not_counted() {
        let client = test_client(3);
        let cancel = CancelToken::new();
        let failure = || Error::new(ErrorKind::Network, "broke off");
        // Two failures, progress, two failures, progress, two failures, done: never three
        // failures in a row, so the call succeeds.
        let script = "RRPRRPRRD";
        let mut tries = script.chars();
        let got = client.call(&cancel, |_| match tries.next() {
            Some('R') => Attempt::Retry(failure()),
            Some('P') => Attempt::Progress(failure()),
            _ => Attempt::Done(7),
        });
        assert_eq!(got.unwrap(), 7);
        assert_eq!(tries.next(), None);
        // Three failures in a row after progress end the call.
        let mut n = 0;
        let got: Result<()> = client.call(&cancel, |_| {
            n += 1;
            if n == 1 {
                Attempt::Progress(failure())
            } else {
                Attempt::Retry(failure())
            }
        });
        assert_eq!(got.unwrap_err().message(), "broke off");
        assert_eq!(n, 4);
        // And without progress, retry.max_attempts tries in all.
        let mut n = 0;
        let got: Result<()> = client.call(&cancel, |_| {
            n += 1;
            Attempt::Retry(failure())
        });
        assert!(got.is_err());
        assert_eq!(n, 3);
    }
}
