//! Counters behind `GET /_stats`: requests by operation and by status, body bytes sent,
//! connections, and concurrent in-flight requests per operation (current and peak), so
//! tests can assert what a client did. `/_stats` requests themselves are never counted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// The operations counted separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    GetObject,
    HeadObject,
    GetObjectMeta,
    PutObject,
    DeleteObject,
    ListObjects,
    ListObjectsV2,
    ListBuckets,
    /// Anything else: unsupported operations and requests that could not be routed.
    Other,
}

impl Op {
    /// Every operation, in the order of the stats document.
    pub const ALL: [Op; 9] = [
        Op::GetObject,
        Op::HeadObject,
        Op::GetObjectMeta,
        Op::PutObject,
        Op::DeleteObject,
        Op::ListObjects,
        Op::ListObjectsV2,
        Op::ListBuckets,
        Op::Other,
    ];

    /// The operation's name in `/_stats`.
    pub fn name(self) -> &'static str {
        match self {
            Op::GetObject => "GetObject",
            Op::HeadObject => "HeadObject",
            Op::GetObjectMeta => "GetObjectMeta",
            Op::PutObject => "PutObject",
            Op::DeleteObject => "DeleteObject",
            Op::ListObjects => "ListObjects",
            Op::ListObjectsV2 => "ListObjectsV2",
            Op::ListBuckets => "ListBuckets",
            Op::Other => "Other",
        }
    }
}

#[derive(Default)]
struct OpCounters {
    requests: AtomicU64,
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
}

/// All counters of one server.
#[derive(Default)]
pub struct Stats {
    ops: [OpCounters; 9],
    status: Mutex<BTreeMap<u16, u64>>,
    bytes_sent: AtomicU64,
    open_connections: AtomicU64,
    peak_connections: AtomicU64,
    total_connections: AtomicU64,
    faults_fail: AtomicU64,
    faults_reset: AtomicU64,
    faults_corrupt: AtomicU64,
    faults_listing: AtomicU64,
    faults_absurd_date: AtomicU64,
    faults_stall: AtomicU64,
    /// Bodies paced by `--trickle-bytes-per-sec` and `--stall-after-headers`.
    pub slow_bodies: crate::slow_body::SlowBodyCounters,
}

/// Which fault was injected.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    Fail,
    Reset,
    Corrupt,
    /// Answered RequestTimeTooSkewed with an absurd `Date` (`--absurd-date-rate`).
    AbsurdDate,
    /// Never answered (`--stall-get-rate`).
    Stall,
}

fn raise_peak(peak: &AtomicU64, now: u64) {
    peak.fetch_max(now, Relaxed);
}

/// Counts one request of an operation as in flight until dropped (it travels with the
/// response body, so a streaming GET stays in flight until its last byte).
pub struct InFlight {
    stats: Arc<Stats>,
    op: Op,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.stats.ops[self.op as usize]
            .in_flight
            .fetch_sub(1, Relaxed);
    }
}

/// Counts one connection as open until dropped; see [`Stats::connection_opened`].
pub struct OpenConnection {
    stats: Arc<Stats>,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.stats.open_connections.fetch_sub(1, Relaxed);
    }
}

impl Stats {
    /// Starts an in-flight request of `op`.
    pub fn begin(self: &Arc<Self>, op: Op) -> InFlight {
        let c = &self.ops[op as usize];
        let now = c.in_flight.fetch_add(1, Relaxed) + 1;
        raise_peak(&c.peak_in_flight, now);
        InFlight {
            stats: self.clone(),
            op,
        }
    }

    /// Counts a finished request (its response status is known).
    pub fn record(&self, op: Op, status: u16) {
        self.ops[op as usize].requests.fetch_add(1, Relaxed);
        let mut s = self.status.lock().unwrap_or_else(|p| p.into_inner());
        *s.entry(status).or_insert(0) += 1;
    }

    /// Counts body bytes handed to a connection.
    pub fn add_bytes(&self, n: u64) {
        self.bytes_sent.fetch_add(n, Relaxed);
    }

    /// Counts an injected fault.
    pub fn fault(&self, f: Fault) {
        match f {
            Fault::Fail => &self.faults_fail,
            Fault::Reset => &self.faults_reset,
            Fault::Corrupt => &self.faults_corrupt,
            Fault::AbsurdDate => &self.faults_absurd_date,
            Fault::Stall => &self.faults_stall,
        }
        .fetch_add(1, Relaxed);
    }

    /// Counts a hostile listing answer (`--listing-fault`).
    pub fn listing_fault(&self) {
        self.faults_listing.fetch_add(1, Relaxed);
    }

    /// Counts a connection as open. Called on a connection's first OSS request rather than
    /// at accept, so that connections used only for `/_stats` are not counted.
    pub fn connection_opened(self: &Arc<Self>) -> OpenConnection {
        let now = self.open_connections.fetch_add(1, Relaxed) + 1;
        raise_peak(&self.peak_connections, now);
        self.total_connections.fetch_add(1, Relaxed);
        OpenConnection {
            stats: self.clone(),
        }
    }

    /// Zeroes the counters; peaks restart from the current values.
    pub fn reset(&self) {
        for c in &self.ops {
            c.requests.store(0, Relaxed);
            c.peak_in_flight.store(c.in_flight.load(Relaxed), Relaxed);
        }
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.bytes_sent.store(0, Relaxed);
        self.peak_connections
            .store(self.open_connections.load(Relaxed), Relaxed);
        self.total_connections.store(0, Relaxed);
        self.faults_fail.store(0, Relaxed);
        self.faults_reset.store(0, Relaxed);
        self.faults_corrupt.store(0, Relaxed);
        self.faults_listing.store(0, Relaxed);
        self.faults_absurd_date.store(0, Relaxed);
        self.faults_stall.store(0, Relaxed);
        self.slow_bodies.reset();
    }

    /// The `/_stats` document.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{json, Map, Value};
        let mut requests = Map::new();
        let mut in_flight = Map::new();
        let mut total = 0;
        for op in Op::ALL {
            let c = &self.ops[op as usize];
            let n = c.requests.load(Relaxed);
            total += n;
            requests.insert(op.name().into(), n.into());
            in_flight.insert(
                op.name().into(),
                json!({"current": c.in_flight.load(Relaxed), "peak": c.peak_in_flight.load(Relaxed)}),
            );
        }
        let status: Map<String, Value> = self
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.to_string(), (*v).into()))
            .collect();
        let mut doc = json!({
            "requests": requests,
            "total_requests": total,
            "status": status,
            "bytes_sent": self.bytes_sent.load(Relaxed),
            "connections": {
                "open": self.open_connections.load(Relaxed),
                "peak": self.peak_connections.load(Relaxed),
                "total": self.total_connections.load(Relaxed),
            },
            "in_flight": in_flight,
            "faults": {
                "fail": self.faults_fail.load(Relaxed),
                "reset": self.faults_reset.load(Relaxed),
                "corrupt": self.faults_corrupt.load(Relaxed),
                "listing": self.faults_listing.load(Relaxed),
                "absurd_date": self.faults_absurd_date.load(Relaxed),
                "stall": self.faults_stall.load(Relaxed),
            },
        });
        self.slow_bodies.add_to(&mut doc);
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_peaks() {
        let s = Arc::new(Stats::default());
        let a = s.begin(Op::GetObject);
        let b = s.begin(Op::GetObject);
        drop(a);
        s.record(Op::GetObject, 206);
        s.record(Op::GetObject, 206);
        s.add_bytes(10);
        let j = s.to_json();
        assert_eq!(j["requests"]["GetObject"], 2);
        assert_eq!(j["status"]["206"], 2);
        assert_eq!(j["in_flight"]["GetObject"]["current"], 1);
        assert_eq!(j["in_flight"]["GetObject"]["peak"], 2);
        assert_eq!(j["bytes_sent"], 10);
        s.reset();
        let j = s.to_json();
        assert_eq!(j["requests"]["GetObject"], 0);
        assert_eq!(j["in_flight"]["GetObject"]["peak"], 1);
        drop(b);
        assert_eq!(s.to_json()["in_flight"]["GetObject"]["current"], 0);
    }
}
