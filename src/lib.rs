//! ossmc: a model connector for Alibaba Cloud OSS.
//!
//! Module map (one concept per module):
//! - [`error`]: the crate's error type and its kinds.
//! - `config`: the JSON configuration and its defaults.
//! - [`protocol`]: what differs between the OSS API and the S3 API.
//! - `endpoint`, `uri`: where requests go, and `oss://bucket/key` (`s3://`) parsing.
//! - `credentials`: credential providers and the refreshing cache; [`aws_credentials`]: the
//!   AWS environment variables and shared credentials file, for S3.
//! - `signing`: OSS V1 and V4 request signatures, and AWS Signature V4 for S3.
//! - `logging`: each connector's log file (records routed to the connector they belong to)
//!   and its per-request audit file.
//! - `cancel`: the cancellation token of long blocking calls.
//! - `client`: the shared HTTP agent, retries, error responses, and the audit line of each
//!   request.
//! - `error_doc`: the `<Error>` documents of OSS and S3 error responses.
//! - `proxy`: forward proxies (`proxy`, `http_proxy`, `NO_PROXY`) and the connector chain
//!   that sends requests through them.
//! - `listing`: ListObjectsV2 page after page.
//! - `fastlist`: FastList, the parallel listing over parts of the key space.
//! - `prefetch`, `reader`: the open-order prefetcher and the object reader over it.
//! - `prepare`: `prepare_directory`, a local directory holding every object under a prefix.
//! - `connector`: the public entry point tying them together.
//! - [`ffi`]: the C ABI (`libossmc.so`, `include/ossmc.h`), converting and delegating only.

pub mod aws_credentials;
mod cancel;
pub(crate) mod client;
mod clock;
pub mod config;
mod connector;
pub mod credentials;
pub(crate) mod deadline;
pub(crate) mod endpoint;
pub mod error;
mod error_doc;
pub(crate) mod fastlist;
pub mod ffi;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub(crate) mod listing;
pub(crate) mod logging;
pub(crate) mod prefetch;
mod prepare;
pub mod protocol;
pub mod proxy;
mod reader;
pub mod secret;
pub(crate) mod signing;
mod signing_s3;
mod transport;
pub mod uri;

pub use aws_credentials::AwsProvider;
pub use cancel::CancelToken;
pub use config::{
    Addressing, Config, FastListConfig, LogPath, PrefetchConfig, RetryConfig, SignatureVersion,
};
pub use connector::Connector;
pub use credentials::{
    CallbackProvider, Credentials, CredentialsProvider, EnvProvider, FileProvider, StaticProvider,
};
pub use error::{Error, ErrorKind, Result};
pub use listing::{ObjectInfo, Page};
pub use prefetch::PrefetchStats;
pub use prepare::{PrepareOptions, PrepareReport};
pub use protocol::Protocol;
pub use reader::ObjectReader;
pub use secret::Secret;
pub use uri::{
    parse_dir_uri, parse_object_uri, parse_oss_uri, validate_bucket_name, validate_s3_bucket_name,
};
