//! [`Connector`]: the public entry point. It owns the HTTP client and the prefetcher and
//! offers listing and opening objects.

use std::sync::{Arc, Mutex};

use crate::client::{Attempt, CancelToken, Client, Request};
use crate::config::Config;
use crate::credentials::CredentialsProvider;
use crate::endpoint::Endpoint;
use crate::error::{Error, ErrorKind, Result};
use crate::listing::{self, ObjectInfo, Page};
use crate::logging::{Audit, ConnectorLog, LogScope};
use crate::prefetch::{ObjectMeta, PrefetchStats, Prefetcher};
use crate::prepare::{PrepareOptions, PrepareReport};
use crate::protocol::Protocol;
use crate::proxy::ProxyRoute;
use crate::reader::ObjectReader;
use crate::uri::{parse_dir_uri, parse_object_uri, validate_key};

/// A connection to one OSS endpoint with one set of credentials. Cheap to clone (the clones
/// share everything); `Send + Sync`.
///
/// Dropping the last clone (and every [`ObjectReader`], which keep it alive) stops and joins
/// the prefetcher's threads.
#[derive(Clone)]
pub struct Connector {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) client: Arc<Client>,
    pub(crate) prefetcher: Prefetcher,
    endpoint: String,
    config: Config,
    /// Cancels the list and open calls in progress; replaced by a fresh token on interrupt.
    interrupt: Mutex<CancelToken>,
    /// Where this connector's log records go; calls on the caller's thread enter it.
    pub(crate) log: Arc<ConnectorLog>,
}

impl Connector {
    /// Creates a connector for `endpoint` (`https://oss-cn-hangzhou.aliyuncs.com`,
    /// `http://127.0.0.1:9000`, or a bare host meaning https). Opens its log file and audit
    /// file as configured; no request is sent yet. Each connector logs to its own `logPath`
    /// at its own `logLevel`: the records of its calls and of its threads alike.
    pub fn new(
        endpoint: &str,
        credentials: Arc<dyn CredentialsProvider>,
        config: Config,
    ) -> Result<Connector> {
        let ep = Endpoint::parse(endpoint)?;
        let connector_log = ConnectorLog::open(&config)?;
        let _scope = connector_log.enter();
        let audit = Audit::open(&config)?;
        let (route, warnings) = ProxyRoute::resolve(&config, &ep)?;
        for w in warnings {
            log::warn!("{w}");
        }
        let client = Arc::new(Client::new(ep, credentials, &config, Some(audit), &route));
        let protocol = client.protocol();
        let prefetcher = Prefetcher::new(
            Arc::clone(&client),
            &config.prefetch,
            Arc::clone(&connector_log),
        );
        log::info!(
            "connector for {endpoint} ({protocol}): {} requests in flight, {} MiB chunks, {} MiB memory limit, {}",
            config.prefetch.max_in_flight(),
            config.prefetch.chunk_size >> 20,
            config.prefetch.memory_limit >> 20,
            route.describe()
        );
        Ok(Connector {
            inner: Arc::new(Inner {
                client,
                prefetcher,
                endpoint: endpoint.to_owned(),
                config,
                interrupt: Mutex::new(CancelToken::new()),
                log: connector_log,
            }),
        })
    }

    /// The credentials a connector for `endpoint` uses when given none: for OSS the
    /// environment variables `OSS_ACCESS_KEY_ID`, `OSS_ACCESS_KEY_SECRET` and
    /// `OSS_SESSION_TOKEN` ([`crate::EnvProvider`]); for S3 the AWS environment variables, else
    /// the shared credentials file ([`crate::AwsProvider`]).
    pub fn default_credentials(
        endpoint: &str,
        config: &Config,
    ) -> Result<Arc<dyn CredentialsProvider>> {
        let ep = Endpoint::parse(endpoint)?;
        Ok(match Protocol::for_endpoint(config.protocol, &ep) {
            Protocol::Oss => Arc::new(crate::EnvProvider::new()),
            Protocol::S3 => Arc::new(crate::AwsProvider::new()),
        })
    }

    /// Makes the records of this thread this connector's until the guard is dropped.
    pub(crate) fn log_scope(&self) -> LogScope {
        self.inner.log.enter()
    }

    fn interrupt_token(&self) -> CancelToken {
        self.inner
            .interrupt
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Makes every `list` and `open` call in progress return an error of kind
    /// [`ErrorKind::Cancelled`]: a call waiting to retry stops at once, and a call with a
    /// request in flight stops when that request ends (within the read timeout), before any
    /// further request. Calls started afterwards are not affected.
    pub fn interrupt(&self) {
        let mut t = self
            .inner
            .interrupt
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        t.cancel();
        *t = CancelToken::new();
    }

    /// Lists every object of `bucket` whose key starts with `prefix`, in key order.
    pub fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>> {
        self.list_with_cancel(bucket, prefix, &self.interrupt_token())
    }

    /// [`Connector::list`], cancellable through `cancel`.
    pub fn list_with_cancel(
        &self,
        bucket: &str,
        prefix: &str,
        cancel: &CancelToken,
    ) -> Result<Vec<ObjectInfo>> {
        let _log = self.log_scope();
        self.protocol().validate_bucket(bucket)?;
        listing::list_all(&self.inner.client, cancel, bucket, prefix)
    }

    /// FastList: every object of `bucket` whose key starts with `prefix`, listed with up to
    /// `fastList.vcpus × fastList.workers` ListObjectsV2 requests at once over parts of the
    /// key space. The same objects as [`Connector::list`], each once; the order is not
    /// guaranteed (sort by key if it matters). A part that fails after retries fails the
    /// whole call.
    pub fn fast_list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>> {
        self.fast_list_with_cancel(bucket, prefix, &self.interrupt_token())
    }

    /// [`Connector::fast_list`], cancellable through `cancel`.
    pub fn fast_list_with_cancel(
        &self,
        bucket: &str,
        prefix: &str,
        cancel: &CancelToken,
    ) -> Result<Vec<ObjectInfo>> {
        let _log = self.log_scope();
        self.protocol().validate_bucket(bucket)?;
        let max_in_flight = self.inner.config.fast_list.max_in_flight();
        crate::fastlist::list(&self.inner.client, bucket, prefix, max_in_flight, cancel)
    }

    /// One ListObjectsV2 page: the building block of parallel listing.
    #[allow(clippy::too_many_arguments)]
    pub fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        continuation_token: Option<&str>,
        delimiter: Option<&str>,
        max_keys: u32,
        cancel: &CancelToken,
    ) -> Result<Page> {
        let _log = self.log_scope();
        self.protocol().validate_bucket(bucket)?;
        listing::list_page(
            &self.inner.client,
            cancel,
            bucket,
            prefix,
            start_after,
            continuation_token,
            delimiter,
            max_keys,
        )
    }

    /// The API this connector speaks (configuration `protocol`, or from the endpoint).
    pub fn protocol(&self) -> Protocol {
        self.inner.client.protocol()
    }

    /// Splits an object URI of this connector's protocol (`oss://bucket/key`, or
    /// `s3://bucket/key` on an S3 connector) into bucket and key.
    pub fn parse_uri(&self, uri: &str) -> Result<(String, String)> {
        parse_object_uri(uri, self.protocol())
    }

    /// Opens `oss://bucket/key` (`s3://bucket/key` on an S3 connector): checks that the object
    /// exists (a missing one fails here with [`ErrorKind::NoSuchKey`] or
    /// [`ErrorKind::NoSuchBucket`]) and starts prefetching it behind the objects opened before.
    pub fn open(&self, uri: &str) -> Result<ObjectReader> {
        let (bucket, key) = self.parse_uri(uri)?;
        self.open_object_with_cancel(&bucket, &key, &self.interrupt_token())
    }

    /// [`Connector::open`] with the bucket and key given separately.
    pub fn open_object(&self, bucket: &str, key: &str) -> Result<ObjectReader> {
        self.open_object_with_cancel(bucket, key, &self.interrupt_token())
    }

    /// [`Connector::open_object`], cancellable through `cancel`.
    pub fn open_object_with_cancel(
        &self,
        bucket: &str,
        key: &str,
        cancel: &CancelToken,
    ) -> Result<ObjectReader> {
        let _log = self.log_scope();
        self.protocol().validate_bucket(bucket)?;
        validate_key(key)?;
        let meta = Arc::new(head_object(&self.inner.client, cancel, bucket, key)?);
        let id = self.inner.prefetcher.open(Arc::clone(&meta))?;
        Ok(ObjectReader::new(Arc::clone(&self.inner), id, meta))
    }

    /// Makes the local directory `dir` hold every object under `uri` (`oss://bucket/prefix`, or
    /// `s3://bucket/prefix` on an S3 connector),
    /// each in the file its key names below the prefix, so that any framework can load the
    /// directory. Keeps the files an earlier run wrote that still match their objects and
    /// fetches the rest at full speed, each straight into its file under a temporary name
    /// renamed when complete and verified. Keys that would leave `dir` are refused before
    /// anything is fetched. Cancelled by [`Connector::interrupt`].
    pub fn prepare_directory(
        &self,
        uri: &str,
        dir: &std::path::Path,
        options: &PrepareOptions,
    ) -> Result<PrepareReport> {
        let _log = self.log_scope();
        let (bucket, prefix) = parse_dir_uri(uri, self.protocol())?;
        crate::prepare::prepare_directory(
            self,
            &bucket,
            &prefix,
            dir,
            options,
            &self.interrupt_token(),
        )
        .map_err(|e| e.with_scheme(self.protocol().as_str()))
    }

    /// The prefetcher's gauges and counters (memory held, requests in flight, refetches...).
    pub fn prefetch_stats(&self) -> PrefetchStats {
        self.inner.prefetcher.stats()
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials are never shown: the client's Debug leaves them out.
        f.debug_struct("Connector")
            .field("endpoint", &self.inner.endpoint)
            .field("client", &self.inner.client)
            .field("config", &self.inner.config)
            .finish()
    }
}

/// The largest object OSS can hold: 10,000 parts of 5 GiB (48.8 TiB). A HEAD that reports
/// more is not believed.
pub(crate) const MAX_OBJECT_SIZE: u64 = 10_000 * (5 << 30);

/// HEADs an object: its size, ETag and CRC-64.
fn head_object(
    client: &Client,
    cancel: &CancelToken,
    bucket: &str,
    key: &str,
) -> Result<ObjectMeta> {
    let req = Request {
        op: "HeadObject",
        method: "HEAD",
        bucket,
        key: Some(key),
        query: Vec::new(),
        headers: Vec::new(),
        range: None,
    };
    client.call(cancel, |ex| {
        let resp = match ex.send(&req) {
            Ok(r) => r,
            Err(a) => return a,
        };
        let protocol = |what: &str| {
            Attempt::Fail(
                Error::new(
                    ErrorKind::Protocol,
                    format!(
                        "the HeadObject response {what} (request id {})",
                        resp.request_id
                    ),
                )
                .with_object(bucket, Some(key)),
            )
        };
        let size = match resp
            .header("content-length")
            .map(|v| v.trim().parse::<u64>())
        {
            Some(Ok(n)) if n <= MAX_OBJECT_SIZE => n,
            // Refused before any state is sized by it.
            Some(Ok(n)) => {
                return protocol(&format!(
                    "has Content-Length {n}, more than the largest object OSS can hold \
                     ({MAX_OBJECT_SIZE} bytes, 48.8 TiB)"
                ))
            }
            Some(Err(_)) => return protocol("has an invalid Content-Length"),
            None => return protocol("has no Content-Length"),
        };
        let etag = match resp.header("etag") {
            Some(e) if !e.trim().is_empty() => e.trim().to_owned(),
            _ => return protocol("has no ETag"),
        };
        let crc = match ex.client().protocol().object_crc(&resp.headers) {
            Ok(c) => c,
            Err(why) => return protocol(&why),
        };
        Attempt::Done(ObjectMeta {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            etag,
            size,
            crc64: crc.map(|(_, c)| c),
            crc_kind: crc.map_or_else(|| ex.client().protocol().crc_kind(), |(k, _)| k),
            scheme: ex.client().protocol().scheme(),
        })
    })
}
