//! The crate's one error type.
//!
//! Every failure a user can see is an [`Error`]: a [`ErrorKind`] that says what class of
//! problem it is (the C ABI maps kinds to stable status codes, Python maps them to the
//! built-in exceptions), a sentence that names the problem, and whatever OSS told us
//! about it (HTTP status, OSS error code, request id) plus the bucket and key involved.
//!
//! Secrets never enter an `Error`: messages are built from names, paths, codes and
//! server-provided text only, and the server's `StringToSign` echo is not kept.

use std::fmt;
use std::sync::Arc;

/// The cause of an [`Error`], shared so that errors stay cheap to clone.
type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// What class of problem an [`Error`] is. Stable: the C status codes are derived from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A caller-supplied argument is invalid (bad URI, bad bucket name, bad whence...).
    InvalidArgument,
    /// The configuration file or a configuration value is invalid.
    InvalidConfig,
    /// Credentials are missing or malformed (before any request was sent).
    InvalidCredentials,
    /// The caller's credentials callback failed (C callback status, Python exception).
    CredentialsCallback,
    /// The bucket does not exist (NoSuchBucket).
    NoSuchBucket,
    /// The object does not exist (NoSuchKey).
    NoSuchKey,
    /// The server refused the request: AccessDenied, SignatureDoesNotMatch,
    /// InvalidAccessKeyId, InvalidSecurityToken, SecurityTokenExpired, RequestTimeTooSkewed.
    AccessDenied,
    /// The object changed while it was being read (PreconditionFailed on If-Match).
    ObjectChanged,
    /// The data failed its CRC-64 check even after fetching it again.
    Corrupted,
    /// The server kept failing (5xx, throttling) after all retries.
    ServerError,
    /// Any other error response from the server.
    Protocol,
    /// The connection failed or broke, after all retries.
    Network,
    /// A connect or read timeout, after all retries.
    Timeout,
    /// A local file could not be read or written (credentials, config, log).
    Io,
    /// The operation was cancelled (the object was closed or the connector dropped).
    Cancelled,
    /// A bug in ossmc (a panic caught at the C boundary, a broken invariant).
    Internal,
}

impl ErrorKind {
    /// A short stable name, used in messages and by the C ABI's status names.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::InvalidConfig => "invalid config",
            ErrorKind::InvalidCredentials => "invalid credentials",
            ErrorKind::CredentialsCallback => "credentials callback failed",
            ErrorKind::NoSuchBucket => "no such bucket",
            ErrorKind::NoSuchKey => "no such key",
            ErrorKind::AccessDenied => "access denied",
            ErrorKind::ObjectChanged => "object changed",
            ErrorKind::Corrupted => "data corrupted",
            ErrorKind::ServerError => "server error",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::Network => "network error",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Io => "I/O error",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Internal => "internal error",
        }
    }

    /// The kind an OSS error code maps to, given the HTTP status it came with.
    pub fn from_oss_code(code: &str, http_status: u16) -> ErrorKind {
        match code {
            "NoSuchBucket" => ErrorKind::NoSuchBucket,
            "NoSuchKey" => ErrorKind::NoSuchKey,
            "AccessDenied"
            | "SignatureDoesNotMatch"
            | "InvalidAccessKeyId"
            | "InvalidSecurityToken"
            | "SecurityTokenExpired"
            | "RequestTimeTooSkewed"
            // S3's names for a bad or expired token.
            | "ExpiredToken"
            | "InvalidToken"
            | "TokenRefreshRequired" => ErrorKind::AccessDenied,
            "PreconditionFailed" => ErrorKind::ObjectChanged,
            "InvalidArgument" | "InvalidRange" | "InvalidObjectName" | "InvalidBucketName" => {
                ErrorKind::InvalidArgument
            }
            _ => match http_status {
                404 => ErrorKind::NoSuchKey,
                401 | 403 => ErrorKind::AccessDenied,
                412 => ErrorKind::ObjectChanged,
                500..=599 => ErrorKind::ServerError,
                _ => ErrorKind::Protocol,
            },
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An ossmc error: a kind, a message naming the problem, and the OSS details if any.
///
/// The details live behind one `Box` so that `Result<T, Error>` stays two words wide on
/// the hot paths that return it.
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    message: String,
    http_status: Option<u16>,
    code: Option<String>,
    request_id: Option<String>,
    bucket: Option<String>,
    key: Option<String>,
    /// What caused it (an I/O or HTTP error), for [`std::error::Error::source`].
    source: Option<Source>,
    /// The URI scheme the object is shown with (`oss`, or `s3` on an S3 connector).
    scheme: &'static str,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind` whose message is `message` (a sentence without a trailing dot).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error::from_inner(Inner {
            kind,
            message: message.into(),
            http_status: None,
            code: None,
            request_id: None,
            bucket: None,
            key: None,
            source: None,
            scheme: "oss",
        })
    }

    fn from_inner(inner: Inner) -> Error {
        Error {
            inner: Box::new(inner),
        }
    }

    /// An error built from an OSS error response.
    pub fn from_oss(
        http_status: u16,
        code: Option<String>,
        message: impl Into<String>,
        request_id: Option<String>,
    ) -> Error {
        let kind = ErrorKind::from_oss_code(code.as_deref().unwrap_or(""), http_status);
        Error::from_inner(Inner {
            kind,
            message: message.into(),
            http_status: Some(http_status),
            code,
            request_id,
            bucket: None,
            key: None,
            source: None,
            scheme: "oss",
        })
    }

    /// Attaches the HTTP status and request id of a response that was received but refused
    /// (a success status whose headers contradict what was asked for).
    pub(crate) fn with_response(mut self, http_status: u16, request_id: Option<&str>) -> Error {
        self.inner.http_status = Some(http_status);
        self.inner.request_id = request_id.map(str::to_owned);
        self
    }

    /// Attaches the bucket and key the failed operation was about.
    pub fn with_object(mut self, bucket: &str, key: Option<&str>) -> Error {
        self.inner.bucket = Some(bucket.to_owned());
        self.inner.key = key.map(str::to_owned);
        self
    }

    /// Shows the object as `scheme://bucket/key` (`s3` for a connector speaking the S3 API).
    pub(crate) fn with_scheme(mut self, scheme: &'static str) -> Error {
        self.inner.scheme = scheme;
        self
    }

    /// Chains the lower-level error that caused this one, for
    /// [`std::error::Error::source`]. `Display` shows the message only.
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Error {
        self.inner.source = Some(Arc::from(source.into()));
        self
    }

    /// The class of problem.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }
    /// The message, without the OSS details (see `Display` for the full sentence).
    pub fn message(&self) -> &str {
        &self.inner.message
    }
    /// The HTTP status of the failed response, if a response was received.
    pub fn http_status(&self) -> Option<u16> {
        self.inner.http_status
    }
    /// The OSS error code (`NoSuchKey`, `SignatureDoesNotMatch`...), if the server sent one.
    pub fn code(&self) -> Option<&str> {
        self.inner.code.as_deref()
    }
    /// The `x-oss-request-id` of the failed response, for support requests.
    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }
    /// The bucket of the failed operation.
    pub fn bucket(&self) -> Option<&str> {
        self.inner.bucket.as_deref()
    }
    /// The key of the failed operation.
    pub fn key(&self) -> Option<&str> {
        self.inner.key.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.inner.kind, self.inner.message)?;
        match (&self.inner.bucket, &self.inner.key) {
            (Some(b), Some(k)) => write!(f, " ({}://{b}/{k})", self.inner.scheme)?,
            (Some(b), None) => write!(f, " (bucket {b})")?,
            _ => {}
        }
        if let Some(code) = &self.inner.code {
            write!(f, " [{code}")?;
            if let Some(s) = self.inner.http_status {
                write!(f, ", HTTP {s}")?;
            }
            if let Some(r) = &self.inner.request_id {
                write!(f, ", request id {r}")?;
            }
            f.write_str("]")?;
        } else if let Some(s) = self.inner.http_status {
            write!(f, " [HTTP {s}")?;
            if let Some(r) = &self.inner.request_id {
                write!(f, ", request id {r}")?;
            }
            f.write_str("]")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("message", &self.inner.message)
            .field("http_status", &self.inner.http_status)
            .field("code", &self.inner.code)
            .field("request_id", &self.inner.request_id)
            .field("bucket", &self.inner.bucket)
            .field("key", &self.inner.key)
            .field("source", &self.inner.source)
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        use std::io::ErrorKind as Io;
        let kind = match e.inner.kind {
            ErrorKind::NoSuchBucket | ErrorKind::NoSuchKey => Io::NotFound,
            ErrorKind::AccessDenied => Io::PermissionDenied,
            ErrorKind::InvalidArgument | ErrorKind::InvalidConfig => Io::InvalidInput,
            ErrorKind::Timeout => Io::TimedOut,
            ErrorKind::Corrupted => Io::InvalidData,
            ErrorKind::Cancelled => Io::Interrupted,
            _ => Io::Other,
        };
        std::io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_reads_like_a_sentence_with_oss_details() {
        let e = Error::from_oss(
            404,
            Some("NoSuchKey".into()),
            "The specified key does not exist",
            Some("65F2F0A0E1B2C3D4E5F60718".into()),
        )
        .with_object("bkt", Some("a/b.bin"));
        assert_eq!(e.kind(), ErrorKind::NoSuchKey);
        assert_eq!(
            e.to_string(),
            "no such key: The specified key does not exist (oss://bkt/a/b.bin) \
             [NoSuchKey, HTTP 404, request id 65F2F0A0E1B2C3D4E5F60718]"
        );
    }

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(
            ErrorKind::from_oss_code("SignatureDoesNotMatch", 403),
            ErrorKind::AccessDenied
        );
        assert_eq!(
            ErrorKind::from_oss_code("PreconditionFailed", 412),
            ErrorKind::ObjectChanged
        );
        assert_eq!(
            ErrorKind::from_oss_code("SlowDown", 503),
            ErrorKind::ServerError
        );
        assert_eq!(ErrorKind::from_oss_code("", 404), ErrorKind::NoSuchKey);
    }

    #[test]
    fn causes_are_chained_not_repeated() {
        use std::error::Error as _;
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "peer reset");
        let e = Error::new(ErrorKind::Network, "GetObject request failed").with_source(io);
        assert_eq!(e.to_string(), "network error: GetObject request failed");
        let cause = e.source().expect("a source");
        assert_eq!(cause.to_string(), "peer reset");
        assert!(cause.downcast_ref::<std::io::Error>().is_some());
        // Clones share the cause.
        assert_eq!(e.clone().source().unwrap().to_string(), "peer reset");
        assert!(Error::new(ErrorKind::Internal, "x").source().is_none());
    }
}
