//! Listing benchmark: the normal list, FastList, and oss2's sequential listing
//! (`oss2.ObjectIteratorV2`) of the same synthetic keys, side by side in one run.
//!
//! ```text
//! cargo build --release -p oss-local
//! cargo run --release --example list_bench -- --keys 1000000 --latency-ms 10
//! ```
//!
//! Starts oss-local with `--keys bkt/data/:N` (names from `ossmc_testkit::synthetic::key_name`:
//! a flat directory, nested and deep directories, non-ASCII names) and the given latency per
//! request, then times each lister from the call to the complete result. FastList runs
//! `--runs` times (each result is checked against the normal list: same keys, sizes and
//! ETags, each once); the best and the median are shown. Request counts and the most list
//! requests in flight come from oss-local's `/_stats`; CPU seconds of the lister's process
//! and of oss-local from `/proc` (the two share the machine's cores). Prints a markdown table;
//! each FastList run's seconds, requests and CPU seconds also go to stderr.

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use ossmc::{Config, Connector, Credentials, FastListConfig, LogPath, ObjectInfo, StaticProvider};
use ossmc_testkit::oss_local::{OssLocal, TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET};

const BUCKET: &str = "bkt";
const PREFIX: &str = "data/";

struct Opts {
    keys: u64,
    latency_ms: u64,
    vcpus: usize,
    workers: usize,
    runs: usize,
    oss2: bool,
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        keys: 1_000_000,
        latency_ms: 10,
        vcpus: 1,
        workers: 16,
        runs: 3,
        oss2: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--keys" => {
                o.keys = value("--keys")?
                    .parse()
                    .map_err(|e| format!("--keys: {e}"))?
            }
            "--latency-ms" => {
                o.latency_ms = value("--latency-ms")?
                    .parse()
                    .map_err(|e| format!("--latency-ms: {e}"))?
            }
            "--vcpus" => {
                o.vcpus = value("--vcpus")?
                    .parse()
                    .map_err(|e| format!("--vcpus: {e}"))?
            }
            "--workers" => {
                o.workers = value("--workers")?
                    .parse()
                    .map_err(|e| format!("--workers: {e}"))?
            }
            "--runs" => {
                o.runs = value("--runs")?
                    .parse()
                    .map_err(|e| format!("--runs: {e}"))?
            }
            "--no-oss2" => o.oss2 = false,
            "-h" | "--help" => {
                return Err(
                    "usage: list_bench [--keys N] [--latency-ms MS] [--vcpus V] [--workers W] \
                            [--runs R] [--no-oss2]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(o)
}

/// A number from the /_stats JSON at a dotted path.
fn stat(server: &OssLocal, path: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(&server.stats_json()).unwrap_or_default();
    let mut cur = &v;
    for part in path.split('.') {
        match cur.get(part) {
            Some(c) => cur = c,
            None => return 0,
        }
    }
    cur.as_u64().unwrap_or(0)
}

/// Zeroes the server's counters (peaks included).
fn reset_stats(server: &OssLocal) {
    use std::io::{Read, Write};
    if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", server.port)) {
        let _ = write!(
            s,
            "GET /_stats?reset HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        );
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }
}

struct Row {
    name: String,
    keys: usize,
    secs: f64,
    requests: u64,
    peak: u64,
    /// CPU seconds (user + system) of the lister's process and of oss-local.
    cpu: (f64, f64),
    note: String,
}

/// User + system CPU seconds of process `pid` ("self" for this one), from /proc.
fn cpu_secs(pid: &str) -> f64 {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let Some(rest) = text.rsplit_once(')').map(|(_, r)| r) else {
        return f64::NAN;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // Field 3 is f[0]; the kernel's clock tick is 100 Hz on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// The pid of our oss-local child.
fn server_pid() -> Option<String> {
    let me = std::process::id().to_string();
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let Some((head, rest)) = text.rsplit_once(')') else {
            continue;
        };
        let ppid = rest.split_whitespace().nth(1);
        if head.ends_with("(oss-local") && ppid == Some(me.as_str()) {
            return Some(name);
        }
    }
    None
}

/// CPU seconds of this process and of the server so far.
fn cpu_now(server: &Option<String>) -> (f64, f64) {
    (
        cpu_secs("self"),
        server.as_deref().map_or(f64::NAN, cpu_secs),
    )
}

fn cpu_since(server: &Option<String>, start: (f64, f64)) -> (f64, f64) {
    let now = cpu_now(server);
    (now.0 - start.0, now.1 - start.1)
}

fn summary(objects: &[ObjectInfo]) -> Vec<(&str, u64, &str)> {
    let mut v: Vec<(&str, u64, &str)> = objects
        .iter()
        .map(|o| (o.key.as_str(), o.size, o.etag.as_str()))
        .collect();
    v.sort_unstable();
    v
}

fn oss2_row(server: &OssLocal, spid: &Option<String>) -> Row {
    let script = format!(
        r#"
import json, time, oss2
auth = oss2.Auth({id:?}, {secret:?})
bucket = oss2.Bucket(auth, {endpoint:?}, {bucket:?})
t = time.perf_counter()
n = sum(1 for _ in oss2.ObjectIteratorV2(bucket, prefix={prefix:?}, max_keys=1000))
print(json.dumps({{"keys": n, "secs": time.perf_counter() - t, "cpu": time.process_time()}}))
"#,
        id = TEST_ACCESS_KEY_ID,
        secret = TEST_ACCESS_KEY_SECRET,
        endpoint = server.endpoint,
        bucket = BUCKET,
        prefix = PREFIX,
    );
    reset_stats(server);
    let server_cpu = spid.as_deref().map_or(f64::NAN, cpu_secs);
    let out = Command::new("python3").arg("-c").arg(&script).output();
    let server_cpu = spid.as_deref().map_or(f64::NAN, cpu_secs) - server_cpu;
    let (keys, secs, cpu, note) = match out {
        Ok(o) if o.status.success() => {
            let v: serde_json::Value =
                serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
            (
                v["keys"].as_u64().unwrap_or(0) as usize,
                v["secs"].as_f64().unwrap_or(f64::NAN),
                v["cpu"].as_f64().unwrap_or(f64::NAN),
                "one page after another".to_owned(),
            )
        }
        Ok(o) => (
            0,
            f64::NAN,
            f64::NAN,
            format!("failed: {}", String::from_utf8_lossy(&o.stderr).trim()),
        ),
        Err(e) => (0, f64::NAN, f64::NAN, format!("python3 not runnable: {e}")),
    };
    Row {
        name: "oss2 ObjectIteratorV2 (Python)".into(),
        keys,
        secs,
        requests: stat(server, "requests.ListObjectsV2"),
        peak: stat(server, "in_flight.ListObjectsV2.peak"),
        cpu: (cpu, server_cpu),
        note,
    }
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let keys_arg = format!("{BUCKET}/{PREFIX}:{}", o.keys);
    let latency = o.latency_ms.to_string();
    let server = OssLocal::start(&["--keys", &keys_arg, "--latency-ms", &latency]);
    let dir = std::env::temp_dir().join(format!("ossmc-list-bench-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        std::process::exit(1);
    }
    let config = Config {
        log_path: LogPath {
            path: dir.join("connector.log"),
            is_default: false,
        },
        audit_path: LogPath {
            path: dir.join("audit.log"),
            is_default: false,
        },
        fast_list: FastListConfig {
            vcpus: o.vcpus,
            workers: o.workers,
        },
        ..Config::default()
    };
    let in_flight = config.fast_list.max_in_flight();
    let creds = Credentials::new(TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET);
    let conn = match Connector::new(
        &server.endpoint,
        Arc::new(StaticProvider::new(creds)),
        config,
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot create the connector: {e}");
            std::process::exit(1);
        }
    };

    let spid = server_pid();
    let mut rows = Vec::new();
    reset_stats(&server);
    let c = cpu_now(&spid);
    let t = Instant::now();
    let normal = match conn.list(BUCKET, PREFIX) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("normal list failed: {e}");
            std::process::exit(1);
        }
    };
    rows.push(Row {
        name: "ossmc list (normal)".into(),
        keys: normal.len(),
        secs: t.elapsed().as_secs_f64(),
        requests: stat(&server, "requests.ListObjectsV2"),
        peak: stat(&server, "in_flight.ListObjectsV2.peak"),
        cpu: cpu_since(&spid, c),
        note: "one page after another".into(),
    });
    let expected = summary(&normal);

    let mut fast_times = Vec::new();
    let mut fast_requests = Vec::new();
    let mut fast_peak = 0;
    let mut fast_cpu = Vec::new();
    for run in 0..o.runs.max(1) {
        reset_stats(&server);
        let c = cpu_now(&spid);
        let t = Instant::now();
        let fast = match conn.fast_list(BUCKET, PREFIX) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("FastList run {run} failed: {e}");
                std::process::exit(1);
            }
        };
        let secs = t.elapsed().as_secs_f64();
        fast_cpu.push(cpu_since(&spid, c));
        fast_requests.push(stat(&server, "requests.ListObjectsV2"));
        fast_peak = fast_peak.max(stat(&server, "in_flight.ListObjectsV2.peak"));
        if summary(&fast) != expected {
            eprintln!("FastList run {run} differs from the normal list");
            std::process::exit(1);
        }
        fast_times.push(secs);
        eprintln!(
            "FastList run {run}: {secs:.3} s, {} requests, CPU s client {:.2} server {:.2}",
            fast_requests[run], fast_cpu[run].0, fast_cpu[run].1
        );
    }
    let mut sorted = fast_times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let best = fast_times.iter().position(|&t| t == sorted[0]).unwrap_or(0);
    let max_requests = fast_requests.iter().copied().max().unwrap_or(0);
    let budget = 1.3 * (normal.len() as f64 / 1000.0).ceil() + 4.0 * in_flight as f64;
    rows.push(Row {
        name: format!("ossmc FastList ({in_flight} in flight)"),
        keys: normal.len(),
        secs: sorted[0],
        requests: max_requests,
        peak: fast_peak,
        cpu: fast_cpu[best],
        note: format!(
            "best of {}; median {median:.3} s; requests per run {:?}; budget {budget:.0}; same set as normal: yes",
            sorted.len(),
            fast_requests
        ),
    });
    if o.oss2 {
        rows.push(oss2_row(&server, &spid));
    }

    let normal_secs = rows[0].secs;
    println!(
        "\n{} keys under `{PREFIX}`, oss-local `--latency-ms {}`; fastList = {} vcpus x {} workers\n",
        o.keys, o.latency_ms, o.vcpus, o.workers
    );
    println!(
        "| lister | keys | seconds | keys/s | x normal list | list requests | peak in flight | client CPU s | server CPU s | note |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in &rows {
        println!(
            "| {} | {} | {:.3} | {:.0} | {:.1} | {} | {} | {:.2} | {:.2} | {} |",
            r.name,
            r.keys,
            r.secs,
            r.keys as f64 / r.secs,
            normal_secs / r.secs,
            r.requests,
            r.peak,
            r.cpu.0,
            r.cpu.1,
            r.note
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
