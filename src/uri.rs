//! `oss://bucket/key` URIs, bucket-name rules, and the percent-encoding OSS expects.

use crate::error::{Error, ErrorKind, Result};

/// Splits `oss://bucket/key` into (bucket, key).
pub fn parse_oss_uri(uri: &str) -> Result<(String, String)> {
    Err(Error::new(
        ErrorKind::InvalidArgument,
        format!("URI {uri:?} not parsed yet"),
    ))
}

/// Checks the OSS bucket-name rules.
pub fn validate_bucket_name(name: &str) -> Result<()> {
    let _ = name;
    Ok(())
}

/// Percent-encodes a key for the request path (keeps `/`).
pub(crate) fn encode_key_path(key: &str) -> String {
    key.to_owned()
}

/// Percent-encodes a query name or value (`/` encoded too).
pub(crate) fn encode_query_value(v: &str) -> String {
    v.to_owned()
}
