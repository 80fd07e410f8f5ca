//! `oss-local`: a local server that speaks enough of the Alibaba Cloud OSS protocol for
//! ossmc's tests, demos and benchmarks, and for the official clients (oss2,
//! alibabacloud-oss-v2, osstorchconnector) to run against it unmodified.
//!
//! ```text
//! oss-local [--host 127.0.0.1] [--port 0] [--root DIR] [--bucket NAME]...
//!           [--model BUCKET/NAME:SHARDS:MIB]... [--keys BUCKET/PREFIX:COUNT]...
//!           --access-key-id ID --access-key-secret SECRET [--security-token TOKEN]
//!           [--region cn-hangzhou] [--no-auth] [--service-host HOST]...
//!           [--latency-ms N] [--rate-mbps N] [--fail-rate P] [--reset-rate P] [--corrupt-rate P] [--corrupt-first N] [--seed N]
//!           [--list-reset-rate P] [--list-reset-after BYTES] [--chunked-listings]
//!           [--skew-date-secs N] [--absurd-date-rate P] [--stall-get-rate P]
//! ```
//!
//! When ready it prints one line, `listening on http://HOST:PORT`, on stdout; logs go to
//! stderr (`RUST_LOG`, default `info`). SIGINT or SIGTERM stops it with status 0.
//!
//! Objects:
//! - `--root DIR`: every subdirectory is a bucket, files are objects (key = relative path).
//!   Uploads are written there atomically. Without `--root`, uploads live in memory.
//! - `--bucket NAME`: an empty bucket.
//! - `--model BUCKET/NAME:SHARDS:MIB`: shards `NAME/model-0000i-of-0000N.safetensors` of MIB
//!   MiB each, generated while sent (`ossmc_testkit::synthetic`); their CRC-64 is computed
//!   at startup.
//! - `--keys BUCKET/PREFIX:COUNT`: COUNT tiny synthetic objects named
//!   `synthetic::key_name(PREFIX, i)`, for listing.
//!
//! Operations: GetObject (ranges in both range modes, conditions), HeadObject,
//! GetObjectMeta, PutObject, DeleteObject, ListObjects, ListObjectsV2, ListBuckets; the
//! rest is 501 NotImplemented or 405 MethodNotAllowed. Both virtual-hosted
//! (`BUCKET.HOST`) and path-style (`/BUCKET/KEY`) addressing.
//!
//! `GET /_stats` (path style, no authentication, never faulted or counted) returns JSON:
//! ```text
//! {"requests": {"GetObject": n, "HeadObject": n, "GetObjectMeta": n, "PutObject": n,
//!               "DeleteObject": n, "ListObjects": n, "ListObjectsV2": n, "ListBuckets": n, "Other": n},
//!  "total_requests": n, "status": {"200": n, "206": n, ...}, "bytes_sent": n,
//!  "connections": {"open": n, "peak": n, "total": n},
//!  "in_flight": {"GetObject": {"current": n, "peak": n}, ...},
//!  "faults": {"fail": n, "reset": n, "corrupt": n, "listing": n, "absurd_date": n, "stall": n,
//!             "trickle": n, "stall_after_headers": n, ...}}
//! ```
//! `bytes_sent` counts response body bytes handed to connections; a connection counts once
//! it has carried an OSS request. `GET /_stats?reset` and `POST /_stats/reset` return the
//! counters and then zero them (peaks restart from the current values).
//!
//! Faults are reproducible from `--seed`; the scheme is described in `faults.rs` and
//! README.md.

mod auth;
mod body;
mod buckets;
mod bufpool;
mod cli;
mod clock_faults;
mod dirstore;
mod error;
mod faults;
mod generate;
mod hostile;
mod hostile_listing;
mod listing;
mod listing_xml;
mod objects;
mod range;
mod response;
mod routing;
mod server;
mod slow_body;
mod stall;
mod stats;
mod store;
mod synth;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let args = cli::Args::parse();
    if let Err(e) = run(args) {
        log::error!("{e}");
        std::process::exit(1);
    }
}

fn run(args: cli::Args) -> Result<(), String> {
    let started = std::time::Instant::now();
    let store = store::Store::from_args(&args)?;
    log::info!("objects ready in {:.2} s", started.elapsed().as_secs_f64());
    let auth = auth::AuthConfig {
        access_key_id: args.access_key_id.clone(),
        access_key_secret: args.access_key_secret.clone(),
        security_token: args.security_token.clone(),
        region: args.region.clone(),
        enabled: !args.no_auth,
    };
    let faults = faults::FaultConfig {
        fail_rate: args.fail_rate,
        reset_rate: args.reset_rate,
        list_reset_rate: args.list_reset_rate,
        chunked_listings: args.chunked_listings,
        list_reset_after: args.list_reset_after,
        corrupt_rate: args.corrupt_rate,
        corrupt_first: Arc::new(faults::CorruptFirst::new(args.corrupt_first)),
        seed: args.seed,
        latency: Duration::from_millis(args.latency_ms),
        rate_bytes_per_sec: args.rate_mbps * 1e6,
        hostile_listing: Arc::new(hostile_listing::HostileListing::new(
            args.listing_fault,
            args.listing_fault_rate,
            args.seed,
        )),
        slow_bodies: slow_body::SlowBodies {
            trickle_bytes_per_sec: args.trickle_bytes_per_sec,
            stall_after_headers: args.stall_after_headers,
        },
    };
    let hostile = hostile::Hostile::new(args.hostile.clone(), args.seed);
    let mut app = server::App::new(
        store,
        auth,
        faults,
        args.service_hosts.clone(),
        args.region.clone(),
    )
    .with_hostile(hostile);
    app.clock = clock_faults::ClockFaults::new(&args.clock, args.seed);
    app.stalls = stall::Stalls::new(&args.stall, args.seed);
    let app = Arc::new(app);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
            .await
            .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("cannot read the listening address: {e}"))?;
        // Handlers go in before the line is printed: whoever reads the line may signal
        // at once, and a signal that arrives earlier would kill the process uncleanly.
        let signals = ShutdownSignals::install()
            .map_err(|e| format!("cannot install signal handlers: {e}"))?;
        let host = if addr.is_ipv6() {
            format!("[{}]", addr.ip())
        } else {
            addr.ip().to_string()
        };
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on http://{host}:{}", addr.port())
                .and_then(|()| out.flush())
                .map_err(|e| format!("cannot write to stdout: {e}"))?;
        }
        // `Args`' Debug leaves out the secret and the token.
        log::info!("listening on {addr} ({args:?})");
        tokio::select! {
            () = server::serve(listener, app) => {}
            name = signals.recv() => log::info!("{name} received, stopping"),
        }
        Ok::<(), String>(())
    })?;
    // Streams still in progress are cut; nothing is left to flush.
    runtime.shutdown_timeout(Duration::from_millis(100));
    Ok(())
}

/// SIGINT and SIGTERM, caught from the moment `install` returns.
struct ShutdownSignals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    /// The name of the first signal received.
    async fn recv(mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}
