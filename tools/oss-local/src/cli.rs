//! The command line: options, and parsing of the `--model` and `--keys` specifications.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use clap::Parser;

/// A local OSS-compatible server for tests and benchmarks (see README.md).
#[derive(Parser, Clone)]
#[command(name = "oss-local", version, about)]
pub struct Args {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on; 0 picks a free one (printed on the `listening on` line).
    #[arg(long, default_value_t = 0)]
    pub port: u16,

    /// Directory whose subdirectories are buckets and whose files are objects.
    #[arg(long)]
    pub root: Option<PathBuf>,

    /// Create an empty bucket (a directory under --root, or in memory without --root).
    #[arg(long = "bucket", value_name = "NAME")]
    pub buckets: Vec<String>,

    /// Serve a synthetic sharded model: BUCKET/NAME:SHARDS:MIB.
    #[arg(long = "model", value_name = "BUCKET/NAME:SHARDS:MIB")]
    pub models: Vec<ModelSpec>,

    /// Serve COUNT tiny synthetic objects under PREFIX: BUCKET/PREFIX:COUNT.
    #[arg(long = "keys", value_name = "BUCKET/PREFIX:COUNT")]
    pub keys: Vec<KeysSpec>,

    /// Access key id that requests must be signed with.
    #[arg(long)]
    pub access_key_id: String,

    /// Access key secret that requests must be signed with.
    #[arg(long)]
    pub access_key_secret: String,

    /// Security token that requests must carry (STS credentials).
    #[arg(long)]
    pub security_token: Option<String>,

    /// Region of the V4 signing scope.
    #[arg(long, default_value = "cn-hangzhou")]
    pub region: String,

    /// Accept every request without checking its signature.
    #[arg(long)]
    pub no_auth: bool,

    /// Host names that are the service itself, never `BUCKET.HOST` (repeatable).
    #[arg(long = "service-host", value_name = "HOST")]
    pub service_hosts: Vec<String>,

    /// Delay before the response headers of every object or listing request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,

    /// Per-connection bandwidth cap for response bodies, in MB/s (10^6 bytes); 0 = none.
    #[arg(long, default_value_t = 0.0)]
    pub rate_mbps: f64,

    /// Fraction of object/listing requests answered 503 SlowDown or 500 InternalError.
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub fail_rate: f64,

    /// Fraction of GetObject responses whose connection is dropped part-way through the body.
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub reset_rate: f64,

    /// Fraction of ListObjects/ListObjectsV2 responses whose connection is dropped part-way
    /// through the body.
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub list_reset_rate: f64,

    /// Drop the connection of every ListObjects/ListObjectsV2 response whose body is longer
    /// than this many bytes, after this many bytes.
    #[arg(long)]
    pub list_reset_after: Option<u64>,

    /// Send listing bodies chunked (no Content-Length) instead of in one piece.
    #[arg(long)]
    pub chunked_listings: bool,

    /// Fraction of GetObject responses with one body byte flipped (headers unchanged).
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub corrupt_rate: f64,

    /// Flip one body byte of each of the first N GetObject responses with a body, at a
    /// different place in each (no draw involved).
    #[arg(long, default_value_t = 0)]
    pub corrupt_first: u64,

    /// Answer listings with hostile responses of this kind (see README.md).
    #[arg(long, value_enum)]
    pub listing_fault: Option<crate::hostile_listing::Mode>,

    /// Fraction of listing requests that `--listing-fault` applies to.
    #[arg(long, default_value_t = 1.0, value_parser = parse_probability)]
    pub listing_fault_rate: f64,
    /// Send every GetObject and listing body at this many bytes per second (headers as usual).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub trickle_bytes_per_sec: Option<u64>,

    /// Send the headers of every GetObject and listing response, then nothing.
    #[arg(long)]
    pub stall_after_headers: bool,

    /// Seed of the fault decisions (see README.md for the scheme).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// A skewed or absurd server clock.
    #[command(flatten)]
    pub clock: crate::clock_faults::ClockArgs,

    /// Requests never answered.
    #[command(flatten)]
    pub stall: crate::stall::StallArgs,
    /// Hostile responses: lying headers, ignored ranges and conditions.
    #[command(flatten)]
    pub hostile: crate::hostile::HostileArgs,
}

impl fmt::Debug for Args {
    // Written by hand so that the secret and the token never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Args")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("root", &self.root)
            .field("buckets", &self.buckets)
            .field("models", &self.models)
            .field("keys", &self.keys)
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("no_auth", &self.no_auth)
            .field("latency_ms", &self.latency_ms)
            .field("rate_mbps", &self.rate_mbps)
            .field("fail_rate", &self.fail_rate)
            .field("reset_rate", &self.reset_rate)
            .field("list_reset_rate", &self.list_reset_rate)
            .field("list_reset_after", &self.list_reset_after)
            .field("chunked_listings", &self.chunked_listings)
            .field("corrupt_rate", &self.corrupt_rate)
            .field("corrupt_first", &self.corrupt_first)
            .field("listing_fault", &self.listing_fault)
            .field("listing_fault_rate", &self.listing_fault_rate)
            .field("trickle_bytes_per_sec", &self.trickle_bytes_per_sec)
            .field("stall_after_headers", &self.stall_after_headers)
            .field("seed", &self.seed)
            .field("clock", &self.clock)
            .field("stall", &self.stall)
            .field("hostile", &self.hostile)
            .finish_non_exhaustive()
    }
}

pub fn parse_probability(s: &str) -> Result<f64, String> {
    let p: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!("{p} is not a probability between 0 and 1"))
    }
}

/// `--model BUCKET/NAME:SHARDS:MIB`
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    pub bucket: String,
    pub name: String,
    pub shards: u32,
    pub mib: u64,
}

impl FromStr for ModelSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (path, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("model {s:?} is not BUCKET/NAME:SHARDS:MIB"))?;
        let (bucket, name) = path
            .split_once('/')
            .filter(|(b, n)| !b.is_empty() && !n.is_empty())
            .ok_or_else(|| format!("model {s:?} does not start with BUCKET/NAME"))?;
        let (shards, mib) = rest
            .split_once(':')
            .ok_or_else(|| format!("model {s:?} lacks :SHARDS:MIB"))?;
        let shards: u32 = shards.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
            format!("model {s:?}: shard count {shards:?} is not a positive integer")
        })?;
        let mib: u64 = mib
            .parse()
            .map_err(|_| format!("model {s:?}: size {mib:?} is not a whole number of MiB"))?;
        Ok(ModelSpec {
            bucket: bucket.to_owned(),
            name: name.to_owned(),
            shards,
            mib,
        })
    }
}

/// `--keys BUCKET/PREFIX:COUNT` (PREFIX may be empty: `BUCKET/:COUNT`).
#[derive(Debug, Clone, PartialEq)]
pub struct KeysSpec {
    pub bucket: String,
    pub prefix: String,
    pub count: u64,
}

impl FromStr for KeysSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (path, count) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("keys {s:?} is not BUCKET/PREFIX:COUNT"))?;
        let (bucket, prefix) = path
            .split_once('/')
            .filter(|(b, _)| !b.is_empty())
            .ok_or_else(|| format!("keys {s:?} does not start with BUCKET/"))?;
        let count: u64 = count
            .parse()
            .map_err(|_| format!("keys {s:?}: count {count:?} is not a whole number"))?;
        Ok(KeysSpec {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            count,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_spec_parses() {
        let m: ModelSpec = "b/qwen/7b:4:64".parse().unwrap();
        assert_eq!(
            m,
            ModelSpec {
                bucket: "b".into(),
                name: "qwen/7b".into(),
                shards: 4,
                mib: 64
            }
        );
        assert!("b/m:0:64".parse::<ModelSpec>().is_err());
        assert!("b:4:64".parse::<ModelSpec>().is_err());
        assert!("b/m:4".parse::<ModelSpec>().is_err());
    }

    #[test]
    fn keys_spec_parses() {
        let k: KeysSpec = "b/p/:1000".parse().unwrap();
        assert_eq!(
            k,
            KeysSpec {
                bucket: "b".into(),
                prefix: "p/".into(),
                count: 1000
            }
        );
        let k: KeysSpec = "b/:3".parse().unwrap();
        assert_eq!(k.prefix, "");
        assert!("b/p".parse::<KeysSpec>().is_err());
        assert!("/p:3".parse::<KeysSpec>().is_err());
    }

    #[test]
    fn probabilities_are_checked() {
        assert!(parse_probability("0.5").is_ok());
        assert!(parse_probability("1.5").is_err());
        assert!(parse_probability("x").is_err());
    }
}
