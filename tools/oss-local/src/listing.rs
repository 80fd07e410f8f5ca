//! ListObjects (V1) and ListObjectsV2: request parameters, continuation tokens, and the
//! page walk over a bucket's sorted keys (protocol notes §3).
//!
//! The walk asks the bucket for "the first key at or after a bound" once per returned item,
//! so a page costs `max-keys` binary searches whatever the bucket size. A key that rolls up
//! into a common prefix moves the bound past every key of that prefix in one step (the
//! prefix with its last byte incremented), so a huge directory costs one search too.
//!
//! Paging resumes strictly after the last returned item (V1 `marker`, V2 `start-after`, or
//! the item inside a V2 token). A common prefix at or before that point is not returned
//! again, so resuming after a common prefix skips the whole prefix.

use base64::Engine as _;

use crate::error::OssError;
use crate::routing::Query;
use crate::store::Snapshot;

/// Default `max-keys`.
pub const DEFAULT_MAX_KEYS: usize = 100;
/// Largest `max-keys`.
pub const MAX_MAX_KEYS: usize = 1000;

/// Which listing API a request uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// A listing request's parameters, decoded and checked.
#[derive(Debug, Clone)]
pub struct Params {
    pub version: Version,
    pub prefix: String,
    pub delimiter: String,
    pub max_keys: usize,
    pub url_encoding: bool,
    /// V1 `marker`.
    pub marker: String,
    /// V2 `start-after`.
    pub start_after: String,
    /// V2 `continuation-token` as sent.
    pub token: Option<String>,
    /// Whether Contents carry an Owner (V1: always; V2: `fetch-owner=true`).
    pub owner: bool,
    /// Where the page starts: keys strictly after this (empty: from the beginning).
    pub after: String,
}

/// The continuation token for resuming after `item`: unpadded base64url, so only
/// `A-Z a-z 0-9 - _` (clients may send it without percent-encoding).
pub fn encode_token(item: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(item.as_bytes())
}

/// The item a token resumes after, or 400 `InvalidArgument` for a token this server did
/// not issue.
pub fn decode_token(token: &str) -> Result<String, OssError> {
    let bad = || {
        OssError::invalid_argument("The continuation token provided is incorrect.")
            .with("ContinuationToken", token)
    };
    if !token
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    {
        return Err(bad());
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    String::from_utf8(bytes).map_err(|_| bad())
}

impl Params {
    /// Reads and checks the listing parameters of `query`.
    pub fn from_query(q: &Query) -> Result<Params, OssError> {
        let version = match q.value("list-type") {
            None => Version::V1,
            Some("2") => Version::V2,
            Some(other) => {
                return Err(OssError::invalid_argument(format!(
                    "list-type {other:?} is not supported; use 2."
                )))
            }
        };
        let max_keys = match q.value("max-keys") {
            None => DEFAULT_MAX_KEYS,
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_MAX_KEYS).contains(n))
                .ok_or_else(|| {
                    OssError::invalid_argument(format!(
                        "max-keys must be an integer from 1 to {MAX_MAX_KEYS}."
                    ))
                    .with("ArgumentName", "max-keys")
                    .with("ArgumentValue", s)
                })?,
        };
        let url_encoding = match q.value("encoding-type") {
            None => false,
            Some(e) if e.eq_ignore_ascii_case("url") => true,
            Some(e) => {
                return Err(OssError::invalid_argument("encoding-type must be url.")
                    .with("ArgumentName", "encoding-type")
                    .with("ArgumentValue", e))
            }
        };
        let owner = match version {
            Version::V1 => true,
            Version::V2 => q
                .value("fetch-owner")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        };
        let text = |name: &str| q.value(name).unwrap_or("").to_owned();
        let mut p = Params {
            version,
            prefix: text("prefix"),
            delimiter: text("delimiter"),
            max_keys,
            url_encoding,
            marker: String::new(),
            start_after: String::new(),
            token: None,
            owner,
            after: String::new(),
        };
        for (name, value) in [("prefix", &p.prefix), ("delimiter", &p.delimiter)] {
            if value.len() > 1024 {
                return Err(OssError::invalid_argument(format!(
                    "{name} is longer than 1024 bytes."
                )));
            }
        }
        match version {
            Version::V1 => {
                p.marker = text("marker");
                p.after = p.marker.clone();
            }
            Version::V2 => {
                p.start_after = text("start-after");
                p.token = q.value("continuation-token").map(str::to_owned);
                // The token wins over start-after, as on S3.
                p.after = match &p.token {
                    Some(t) => decode_token(t)?,
                    None => p.start_after.clone(),
                };
            }
        }
        Ok(p)
    }
}

/// One item of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<'a> {
    Key(&'a str),
    CommonPrefix(&'a str),
}

impl Item<'_> {
    /// The key or the common prefix.
    pub fn text(&self) -> &str {
        match self {
            Item::Key(k) | Item::CommonPrefix(k) => k,
        }
    }
}

/// A listing page.
#[derive(Debug, Default)]
pub struct Page<'a> {
    pub items: Vec<Item<'a>>,
    pub truncated: bool,
}

impl Page<'_> {
    /// The item to resume after (`NextMarker`, or the content of `NextContinuationToken`).
    pub fn next_after(&self) -> Option<&str> {
        self.truncated
            .then(|| self.items.last().map(Item::text))
            .flatten()
    }
}

/// Sets `bound` to the smallest byte string greater than every string that starts with `p`
/// (`p` is non-empty UTF-8, so its last byte is below 0xFF).
fn set_past_prefix(bound: &mut Vec<u8>, p: &str) {
    bound.clear();
    bound.extend_from_slice(p.as_bytes());
    if let Some(last) = bound.last_mut() {
        *last += 1;
    }
}

/// Sets `bound` to the smallest byte string greater than `s`.
fn set_just_after(bound: &mut Vec<u8>, s: &str) {
    bound.clear();
    bound.extend_from_slice(s.as_bytes());
    bound.push(0);
}

/// Walks one page of `snap` for `p`.
pub fn list<'a>(snap: &'a Snapshot<'_>, p: &Params) -> Page<'a> {
    let prefix = p.prefix.as_str();
    // One bound buffer for the whole walk: a page moves it a thousand times.
    let mut bound: Vec<u8> = Vec::with_capacity(1100);
    if p.after.as_bytes() >= prefix.as_bytes() {
        set_just_after(&mut bound, &p.after);
    } else {
        bound.extend_from_slice(prefix.as_bytes());
    }
    let mut page = Page {
        items: Vec::with_capacity(p.max_keys.min(MAX_MAX_KEYS)),
        truncated: false,
    };
    // The key just returned, when the walk resumes right after it.
    let mut after_key: Option<&str> = None;
    loop {
        let next = match after_key {
            Some(k) => snap.first_after(k, &bound),
            None => snap.first_ge(&bound),
        };
        let Some(key) = next else { break };
        if !key.starts_with(prefix) {
            break;
        }
        let rolled = if p.delimiter.is_empty() {
            None
        } else {
            key[prefix.len()..]
                .find(p.delimiter.as_str())
                .map(|i| &key[..prefix.len() + i + p.delimiter.len()])
        };
        let item = match rolled {
            Some(cp) => {
                set_past_prefix(&mut bound, cp);
                after_key = None;
                if !p.after.is_empty() && cp.as_bytes() <= p.after.as_bytes() {
                    continue;
                }
                Item::CommonPrefix(cp)
            }
            None => {
                set_just_after(&mut bound, key);
                after_key = Some(key);
                Item::Key(key)
            }
        };
        if page.items.len() == p.max_keys {
            page.truncated = true;
            break;
        }
        page.items.push(item);
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Args;
    use crate::store::{Bucket, Store};
    use clap::Parser;
    use std::sync::Arc;

    fn bucket_with(keys: &[&str]) -> Arc<Bucket> {
        let args = Args::parse_from([
            "oss-local",
            "--bucket",
            "b01",
            "--access-key-id",
            "a",
            "--access-key-secret",
            "s",
        ]);
        let store = Store::from_args(&args).unwrap();
        let b = store.bucket("b01").unwrap().clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for k in keys {
            rt.block_on(b.put(
                k,
                vec![bytes::Bytes::from_static(b"x")],
                "text/plain".into(),
            ))
            .unwrap();
        }
        b
    }

    fn params(query: &str) -> Params {
        Params::from_query(&Query::parse(query).unwrap()).unwrap()
    }

    fn texts(page: &Page) -> Vec<String> {
        page.items
            .iter()
            .map(|i| match i {
                Item::Key(k) => k.to_string(),
                Item::CommonPrefix(p) => format!("P:{p}"),
            })
            .collect()
    }

    const KEYS: &[&str] = &[
        "Zebra.txt",
        "a/b/c.txt",
        "a/b/d.txt",
        "a/c.txt",
        "apple.txt",
        "ctl/\u{1}x",
        "data set/x",
        "plus/a+b",
        "éclair.txt",
    ];

    #[test]
    fn plain_listing_is_in_byte_order_and_pages() {
        let b = bucket_with(KEYS);
        let snap = b.snapshot("");
        let page = list(&snap, &params("list-type=2&max-keys=4"));
        assert_eq!(
            texts(&page),
            ["Zebra.txt", "a/b/c.txt", "a/b/d.txt", "a/c.txt"]
        );
        assert!(page.truncated);
        let token = encode_token(page.next_after().unwrap());
        let page2 = list(
            &snap,
            &params(&format!(
                "list-type=2&max-keys=10&continuation-token={token}"
            )),
        );
        assert_eq!(
            texts(&page2),
            [
                "apple.txt",
                "ctl/\u{1}x",
                "data set/x",
                "plus/a+b",
                "éclair.txt"
            ]
        );
        assert!(!page2.truncated);
        assert_eq!(page2.next_after(), None);
    }

    #[test]
    fn delimiter_rolls_up_and_resumes_after_prefixes() {
        let b = bucket_with(KEYS);
        let snap = b.snapshot("");
        let page = list(&snap, &params("delimiter=/&max-keys=2"));
        assert_eq!(texts(&page), ["Zebra.txt", "P:a/"]);
        assert_eq!(page.next_after(), Some("a/"));
        let page2 = list(&snap, &params("delimiter=/&max-keys=3&marker=a/"));
        assert_eq!(texts(&page2), ["apple.txt", "P:ctl/", "P:data set/"]);
        let page3 = list(&snap, &params("delimiter=/&prefix=a/&max-keys=100"));
        assert_eq!(texts(&page3), ["P:a/b/", "a/c.txt"]);
        assert!(!page3.truncated);
        // A marker inside a common prefix does not bring the prefix back.
        let page4 = list(&snap, &params("delimiter=/&marker=a/b/c.txt"));
        assert_eq!(texts(&page4)[0], "apple.txt");
    }

    #[test]
    fn exactly_full_page_is_not_truncated() {
        let b = bucket_with(&["x1", "x2", "y"]);
        let snap = b.snapshot("");
        let page = list(&snap, &params("prefix=x&max-keys=2"));
        assert_eq!(texts(&page), ["x1", "x2"]);
        assert!(!page.truncated);
    }

    #[test]
    fn start_after_and_prefix() {
        let b = bucket_with(KEYS);
        let snap = b.snapshot("");
        let page = list(
            &snap,
            &params("list-type=2&start-after=a/b/c.txt&prefix=a/"),
        );
        assert_eq!(texts(&page), ["a/b/d.txt", "a/c.txt"]);
        let page = list(&snap, &params("list-type=2&start-after=0&prefix=a/"));
        assert_eq!(texts(&page), ["a/b/c.txt", "a/b/d.txt", "a/c.txt"]);
    }

    #[test]
    fn parameters_are_checked() {
        let bad = |q: &str| {
            Params::from_query(&Query::parse(q).unwrap())
                .unwrap_err()
                .code
        };
        assert_eq!(bad("max-keys=0"), "InvalidArgument");
        assert_eq!(bad("max-keys=1001"), "InvalidArgument");
        assert_eq!(bad("max-keys=x"), "InvalidArgument");
        assert_eq!(bad("encoding-type=base64"), "InvalidArgument");
        assert_eq!(
            bad("list-type=2&continuation-token=abc%2B"),
            "InvalidArgument"
        );
        assert_eq!(bad("list-type=2&continuation-token=__8"), "InvalidArgument");
        assert!(Query::parse("list-type=2&continuation-token=%FF%FE").is_err());
        assert_eq!(bad("list-type=3"), "InvalidArgument");
        assert_eq!(
            params("max-keys=&delimiter=&start-after=").max_keys,
            DEFAULT_MAX_KEYS
        );
        assert!(params("").owner);
        assert!(!params("list-type=2").owner);
        assert!(params("list-type=2&fetch-owner=true").owner);
    }

    #[test]
    fn tokens_round_trip_and_use_safe_characters() {
        for item in ["models/qwen/", "ünïcødé/文件 1+x", "\u{1}", "a?b=c&d"] {
            let t = encode_token(item);
            assert!(
                t.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"-_".contains(&c)),
                "{t}"
            );
            assert_eq!(decode_token(&t).unwrap(), item);
        }
        assert_eq!(encode_token("models/qwen/"), "bW9kZWxzL3F3ZW4v");
    }
}
