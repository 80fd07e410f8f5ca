//! The request pipeline: accept connections, and for each request resolve the target,
//! answer `/_stats`, authenticate, apply injected faults and latency, dispatch to the
//! operation's handler, and count the result.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use hyper::{HeaderMap, Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::auth::{self, AuthConfig, AuthRequest};
use crate::body::OssBody;
use crate::clock_faults::ClockFaults;
use crate::error::OssError;
use crate::faults::{Draw, FaultConfig, Throttle};
use crate::hostile::Hostile;
use crate::routing::{self, Query, Target};
use crate::stall::Stalls;
use crate::stats::{Fault, Op, OpenConnection, Stats};
use crate::store::{Bucket, Store};
use crate::{buckets, objects, response};

/// Everything the server shares between connections.
pub struct App {
    pub store: Store,
    pub auth: AuthConfig,
    pub faults: FaultConfig,
    pub stats: Arc<Stats>,
    pub service_hosts: Vec<String>,
    pub region: String,
    /// Number of the next request that faults apply to (see `faults`).
    fault_counter: AtomicU64,
    /// The server's clock, and absurd `Date`s (see `clock_faults`).
    pub clock: ClockFaults,
    /// Requests never answered (see `stall`).
    pub stalls: Stalls,
    /// Lying object responses (see `hostile`); none unless set with [`App::with_hostile`].
    pub hostile: Hostile,
}

impl App {
    /// Shared state for serving `store`.
    pub fn new(
        store: Store,
        auth: AuthConfig,
        faults: FaultConfig,
        service_hosts: Vec<String>,
        region: String,
    ) -> App {
        App {
            store,
            auth,
            faults,
            stats: Arc::new(Stats::default()),
            service_hosts,
            region,
            fault_counter: AtomicU64::new(0),
            clock: ClockFaults::default(),
            stalls: Stalls::default(),
            hostile: Hostile::default(),
        }
    }

    /// The same server, answering some object requests with lies.
    pub fn with_hostile(self, hostile: Hostile) -> App {
        App { hostile, ..self }
    }
}

/// Per-connection state.
pub struct Conn {
    pub throttle: Option<Arc<Throttle>>,
    counted: OnceLock<OpenConnection>,
}

/// What a handler knows about the request it answers.
pub struct Ctx {
    pub app: Arc<App>,
    pub conn: Arc<Conn>,
    pub request_id: String,
    pub host_id: String,
    pub method: Method,
    pub headers: HeaderMap,
    pub query: Query,
    pub draw: Draw,
}

impl Ctx {
    /// A request header as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Serves connections from `listener` until the future is dropped.
pub async fn serve(listener: TcpListener, app: Arc<App>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                log::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        tokio::spawn(async move {
            let throttle = (app.faults.rate_bytes_per_sec > 0.0)
                .then(|| Arc::new(Throttle::new(app.faults.rate_bytes_per_sec)));
            let conn = Arc::new(Conn {
                throttle,
                counted: OnceLock::new(),
            });
            let service =
                hyper::service::service_fn(move |req| handle(app.clone(), conn.clone(), req));
            let result = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = result {
                log::debug!("connection from {peer} ended: {e}");
            }
        });
    }
}

/// The operation a request performs.
fn classify(method: &Method, target: &Target, query: &Query) -> Op {
    match (target.bucket.is_some(), target.key.is_some(), method) {
        (false, _, &Method::GET) => Op::ListBuckets,
        (true, false, &Method::GET) if !buckets::unsupported_subresource(query) => {
            if query.value("list-type") == Some("2") {
                Op::ListObjectsV2
            } else {
                Op::ListObjects
            }
        }
        (true, true, &Method::GET) => Op::GetObject,
        (true, true, &Method::HEAD) if query.has("objectMeta") => Op::GetObjectMeta,
        (true, true, &Method::HEAD) => Op::HeadObject,
        (true, true, &Method::PUT) => Op::PutObject,
        (true, true, &Method::DELETE) => Op::DeleteObject,
        _ => Op::Other,
    }
}

fn host_id(headers: &HeaderMap, uri: &hyper::Uri) -> String {
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or("localhost");
    routing::strip_port(host).to_owned()
}

async fn handle(
    app: Arc<App>,
    conn: Arc<Conn>,
    req: Request<Incoming>,
) -> Result<response::Resp, Infallible> {
    let request_id = response::new_request_id();
    let (parts, body) = req.into_parts();
    let head = parts.method == Method::HEAD;
    let host_id = host_id(&parts.headers, &parts.uri);
    let raw_query = parts.uri.query().unwrap_or("");
    let host = parts
        .headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()));
    let exists = |b: &str| app.store.contains(b);
    let target = routing::resolve(host, parts.uri.path(), &exists, &app.service_hosts);

    if let Ok(t) = &target {
        if !t.virtual_hosted && t.bucket.as_deref() == Some("_stats") {
            return Ok(stats_endpoint(
                &app,
                &parts.method,
                t.key.as_deref(),
                raw_query,
                &request_id,
            ));
        }
    }
    conn.counted.get_or_init(|| app.stats.connection_opened());

    let query = Query::parse(raw_query);
    let (target, query) = match (target, query) {
        (Ok(t), Ok(q)) => (t, q),
        (Err(e), _) | (_, Err(e)) => {
            let _in_flight = app.stats.begin(Op::Other);
            app.stats.record(Op::Other, e.status);
            return Ok(response::error(&e, &request_id, &host_id, head));
        }
    };
    let op = classify(&parts.method, &target, &query);
    let in_flight = app.stats.begin(op);

    let auth_req = AuthRequest {
        method: parts.method.as_str(),
        bucket: target.bucket.as_deref(),
        key: target.key.as_deref(),
        raw_query,
        headers: &parts.headers,
        now: app.clock.now(),
    };
    let verdict = auth::verify(&app.auth, &auth_req);

    let draw = if app.faults.any() {
        app.faults
            .draw(app.fault_counter.fetch_add(1, Ordering::Relaxed))
    } else {
        Draw {
            fail: None,
            reset: None,
            list_reset: None,
            corrupt: None,
        }
    };
    let ctx = Ctx {
        app: app.clone(),
        conn,
        request_id,
        host_id,
        method: parts.method,
        headers: parts.headers,
        query,
        draw,
    };

    // Drawn for every authenticated GetObject, so the numbering does not depend on the rates.
    let get = verdict.is_ok() && op == Op::GetObject;
    let absurd = get && app.clock.draw_absurd();
    if get && app.stalls.draw() {
        app.stats.fault(Fault::Stall);
        Stalls::forever().await;
    }
    let result = match verdict {
        Err(e) => Err(e),
        Ok(()) if absurd => {
            app.stats.fault(Fault::AbsurdDate);
            Err(app.clock.absurd_error())
        }
        Ok(()) => {
            if !app.faults.latency.is_zero() {
                tokio::time::sleep(app.faults.latency).await;
            }
            match draw.error() {
                Some(e) => {
                    app.stats.fault(Fault::Fail);
                    Err(e)
                }
                None => dispatch(&ctx, op, &target, body).await,
            }
        }
    };
    let resp = match result {
        Ok(r) => r,
        Err(e) => {
            // Injected faults are expected; other server errors deserve attention.
            if e.status >= 500 && draw.fail.is_none() {
                log::warn!(
                    "{} {} -> {} {}: {}",
                    ctx.method,
                    target_text(&target),
                    e.status,
                    e.code,
                    e.message
                );
            }
            response::error(&e, &ctx.request_id, &ctx.host_id, head)
        }
    };
    log::debug!(
        "{} {} {} -> {} (request id {})",
        op.name(),
        ctx.method,
        target_text(&target),
        resp.status().as_u16(),
        ctx.request_id
    );
    app.stats.record(op, resp.status().as_u16());
    let mut resp = resp;
    if let Some(date) = app.clock.date(absurd) {
        response::set_header(&mut resp, "date", &date);
    }
    let resp = match resp.into_parts() {
        (parts, OssBody::Stream(s)) => {
            hyper::Response::from_parts(parts, OssBody::Stream(Box::new(s.hold(in_flight))))
        }
        (parts, body) => hyper::Response::from_parts(parts, body),
    };
    let (parts, body) = resp.into_parts();
    let body = app
        .faults
        .slow_bodies
        .pace(op, body, &app.stats.slow_bodies);
    Ok(hyper::Response::from_parts(parts, body))
}

fn target_text(t: &Target) -> String {
    format!(
        "/{}/{}",
        t.bucket.as_deref().unwrap_or(""),
        t.key.as_deref().unwrap_or("")
    )
}

fn bucket<'a>(ctx: &'a Ctx, target: &Target) -> Result<&'a Arc<Bucket>, OssError> {
    let name = target.bucket.as_deref().unwrap_or("");
    ctx.app
        .store
        .bucket(name)
        .ok_or_else(|| OssError::no_such_bucket(name))
}

async fn dispatch(
    ctx: &Ctx,
    op: Op,
    target: &Target,
    body: Incoming,
) -> Result<response::Resp, OssError> {
    let key = target.key.as_deref().unwrap_or("");
    match op {
        Op::ListBuckets => Ok(buckets::list_buckets(ctx)),
        Op::ListObjects | Op::ListObjectsV2 => {
            buckets::list_objects(ctx, bucket(ctx, target)?).await
        }
        Op::GetObject => objects::get(ctx, bucket(ctx, target)?, key, false).await,
        Op::HeadObject | Op::GetObjectMeta => {
            objects::get(ctx, bucket(ctx, target)?, key, true).await
        }
        Op::PutObject => objects::put(ctx, bucket(ctx, target)?, key, body).await,
        Op::DeleteObject => objects::delete(ctx, bucket(ctx, target)?, key),
        Op::Other => Err(unsupported(ctx, target)),
    }
}

/// The error for a request no handler takes.
fn unsupported(ctx: &Ctx, target: &Target) -> OssError {
    let known = [
        Method::GET,
        Method::HEAD,
        Method::PUT,
        Method::POST,
        Method::DELETE,
    ];
    if !known.contains(&ctx.method) {
        return OssError::method_not_allowed(ctx.method.as_str());
    }
    if target.bucket.is_some()
        && ctx
            .app
            .store
            .bucket(target.bucket.as_deref().unwrap_or(""))
            .is_none()
    {
        return OssError::no_such_bucket(target.bucket.as_deref().unwrap_or(""));
    }
    OssError::not_implemented(format!(
        "oss-local does not implement {} on {}.",
        ctx.method,
        if target.key.is_some() {
            "objects"
        } else if target.bucket.is_some() {
            "buckets"
        } else {
            "the service"
        }
    ))
}

/// `GET /_stats` (JSON), `GET /_stats?reset` and `POST /_stats/reset` (zero the counters).
fn stats_endpoint(
    app: &App,
    method: &Method,
    sub: Option<&str>,
    raw_query: &str,
    request_id: &str,
) -> response::Resp {
    let reset = match (method, sub) {
        (&Method::GET, None) => raw_query
            .split('&')
            .any(|p| p == "reset" || p.starts_with("reset=")),
        (&Method::POST, Some("reset")) => true,
        _ => {
            let e = OssError::invalid_argument(
                "Use GET /_stats, GET /_stats?reset or POST /_stats/reset.",
            );
            return response::error(&e, request_id, "localhost", *method == Method::HEAD);
        }
    };
    let mut json = app.stats.to_json();
    app.hostile.add_counts(&mut json["faults"]);
    let json = json.to_string();
    if reset {
        app.stats.reset();
        app.hostile.reset();
    }
    let len = json.len();
    let mut r = response::base(200, request_id, OssBody::full(json));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(len));
    r
}
