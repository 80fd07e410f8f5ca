//! Loading a synthetic sharded model through ossmc's Rust API, against curl fetching the same
//! bytes from the same oss-local.
//!
//! ```text
//! cargo build --release -p oss-local -p ossmc-bench-core
//! target/release/core-load --shards 4 --mib 512 --in-flight 16            # signed (V4)
//! target/release/core-load --shards 4 --mib 512 --in-flight 16 --no-auth
//! target/release/core-load --shards 4 --mib 512 --in-flight 16 --rate-mbps 50
//! ```
//!
//! The orchestrating process starts oss-local (or uses `--endpoint`), then measures, each
//! `--repeat` times (best run kept):
//! 1. ossmc: a child process (so its peak RSS is its own) opens every shard, then reads them in
//!    order with 4 MiB `read` calls, like `readinto` from Python; reports GB/s, VmHWM and CPU.
//! 2. curl, one stream: one curl process fetching the shards one after the other.
//! 3. curl, N streams: N curl processes at once, process k fetching the k-th of N ranges of
//!    every shard (N = `--curl-streams`, default the in-flight count).
//!
//! With authentication on, curl uses V1 presigned URLs. A markdown row is appended to
//! `--results` (default `bench/RESULTS.md`).

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ossmc::{Config, Connector, Credentials, LogPath, StaticProvider};
use ossmc_testkit::oss_local::{OssLocal, TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET};
use ossmc_testkit::synthetic;

const BUCKET: &str = "bench";
const MODEL: &str = "model";

#[derive(Debug, Clone)]
struct Opts {
    shards: u32,
    mib: u64,
    in_flight: usize,
    chunk_mib: usize,
    memory_limit_mib: usize,
    rate_mbps: f64,
    latency_ms: u64,
    auth: bool,
    curl_streams: usize,
    repeat: usize,
    curl: bool,
    verify: bool,
    endpoint: Option<String>,
    results: String,
    child: bool,
}

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        shards: 4,
        mib: 512,
        in_flight: 16,
        chunk_mib: 8,
        memory_limit_mib: 2048,
        rate_mbps: 0.0,
        latency_ms: 0,
        auth: true,
        curl_streams: 0,
        repeat: 2,
        curl: true,
        verify: false,
        endpoint: None,
        results: "bench/RESULTS.md".into(),
        child: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        let num = |s: String, name: &str| {
            s.parse::<f64>()
                .map_err(|_| format!("{name}: not a number: {s}"))
        };
        match a.as_str() {
            "--shards" => o.shards = num(val(&a)?, &a)? as u32,
            "--mib" => o.mib = num(val(&a)?, &a)? as u64,
            "--in-flight" => o.in_flight = num(val(&a)?, &a)? as usize,
            "--chunk-mib" => o.chunk_mib = num(val(&a)?, &a)? as usize,
            "--memory-limit-mib" => o.memory_limit_mib = num(val(&a)?, &a)? as usize,
            "--rate-mbps" => o.rate_mbps = num(val(&a)?, &a)?,
            "--latency-ms" => o.latency_ms = num(val(&a)?, &a)? as u64,
            "--curl-streams" => o.curl_streams = num(val(&a)?, &a)? as usize,
            "--repeat" => o.repeat = num(val(&a)?, &a)? as usize,
            "--endpoint" => o.endpoint = Some(val(&a)?),
            "--results" => o.results = val(&a)?,
            "--no-auth" => o.auth = false,
            "--no-curl" => o.curl = false,
            "--verify" => o.verify = true,
            "--child" => o.child = true,
            "-h" | "--help" => {
                println!(
                    "{}",
                    include_str!("main.rs")
                        .lines()
                        .take_while(|l| l.starts_with("//!"))
                        .map(|l| l.trim_start_matches("//!").trim_start_matches(' '))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if o.curl_streams == 0 {
        o.curl_streams = o.in_flight;
    }
    Ok(o)
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("core-load: {e}");
            std::process::exit(2);
        }
    };
    if opts.child {
        child(&opts);
        return;
    }
    orchestrate(&opts);
}

/// Bytes of a `/proc/self/status` field, in KiB.
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// User + system CPU seconds of this process.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// The ossmc measurement, in its own process: prints one JSON line.
fn child(o: &Opts) {
    let endpoint = o.endpoint.clone().expect("--child needs --endpoint");
    let tmp = std::env::temp_dir();
    let mut cfg = Config {
        log_level: 2,
        log_path: LogPath {
            path: tmp.join(format!("core-load-{}.log", std::process::id())),
            is_default: false,
        },
        audit_path: LogPath {
            path: "/dev/null".into(),
            is_default: false,
        },
        ..Config::default()
    };
    cfg.prefetch.vcpus = 1;
    cfg.prefetch.workers = o.in_flight;
    cfg.prefetch.chunk_size = o.chunk_mib << 20;
    cfg.prefetch.memory_limit = o.memory_limit_mib << 20;
    let creds = Arc::new(StaticProvider::new(Credentials::new(
        TEST_ACCESS_KEY_ID,
        TEST_ACCESS_KEY_SECRET,
    )));
    let conn = Connector::new(&endpoint, creds, cfg).unwrap_or_else(|e| panic!("connector: {e}"));
    let cpu0 = cpu_secs();
    let t0 = Instant::now();
    let mut readers: Vec<_> = (1..=o.shards)
        .map(|i| {
            conn.open(&format!(
                "oss://{BUCKET}/{}",
                synthetic::shard_key(MODEL, i, o.shards)
            ))
            .unwrap_or_else(|e| panic!("open: {e}"))
        })
        .collect();
    let open_secs = t0.elapsed().as_secs_f64();
    let mut buf = vec![0u8; 4 << 20];
    let mut first_byte_secs = None;
    let mut total = 0u64;
    for r in readers.iter_mut() {
        let seed = synthetic::seed(r.key());
        let mut at = 0u64;
        loop {
            let n = r.read(&mut buf).unwrap_or_else(|e| panic!("read: {e}"));
            if n == 0 {
                break;
            }
            first_byte_secs.get_or_insert_with(|| t0.elapsed().as_secs_f64());
            if o.verify {
                if let Some(p) = synthetic::first_mismatch(seed, at, &buf[..n]) {
                    panic!("{}: wrong byte at {}", r.key(), at + p as u64);
                }
            }
            at += n as u64;
        }
        assert_eq!(at, r.size());
        total += at;
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu0;
    let stats = conn.prefetch_stats();
    drop(readers);
    drop(conn);
    let _ = std::fs::remove_file(tmp.join(format!("core-load-{}.log", std::process::id())));
    println!(
        "{}",
        serde_json::json!({
            "bytes": total,
            "secs": secs,
            "open_secs": open_secs,
            "first_byte_secs": first_byte_secs,
            "cpu_secs": cpu,
            "vmhwm_kib": status_kib("VmHWM:"),
            "peak_bytes_held": stats.peak_bytes_held,
            "peak_requests_in_flight": stats.peak_requests_in_flight,
            "chunks_refetched": stats.chunks_refetched,
        })
    );
}

struct Measured {
    gbps: f64,
    rss_mib: f64,
    cpu_secs: f64,
    peak_held_mib: f64,
}

fn run_ossmc(o: &Opts, endpoint: &str) -> Measured {
    let exe = std::env::current_exe().expect("current exe");
    let mut cmd = Command::new(exe);
    cmd.arg("--child").arg("--endpoint").arg(endpoint);
    for (k, v) in [
        ("--shards", o.shards.to_string()),
        ("--in-flight", o.in_flight.to_string()),
        ("--chunk-mib", o.chunk_mib.to_string()),
        ("--memory-limit-mib", o.memory_limit_mib.to_string()),
    ] {
        cmd.arg(k).arg(v);
    }
    if o.verify {
        cmd.arg("--verify");
    }
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .expect("run the ossmc child");
    assert!(out.status.success(), "the ossmc child failed");
    let line = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(line.trim()).expect("child JSON");
    let bytes = v["bytes"].as_f64().unwrap_or(0.0);
    let secs = v["secs"].as_f64().unwrap_or(f64::INFINITY);
    Measured {
        gbps: bytes / secs / 1e9,
        rss_mib: v["vmhwm_kib"].as_f64().unwrap_or(0.0) / 1024.0,
        cpu_secs: v["cpu_secs"].as_f64().unwrap_or(0.0),
        peak_held_mib: v["peak_bytes_held"].as_f64().unwrap_or(0.0) / 1048576.0,
    }
}

/// The URL curl fetches for `key`: plain, or V1-presigned when the server checks signatures.
fn curl_url(o: &Opts, endpoint: &str, key: &str) -> String {
    let path_key = percent_encoding::utf8_percent_encode(key, KEY_SET).to_string();
    let base = format!("{endpoint}/{BUCKET}/{path_key}");
    if !o.auth {
        return base;
    }
    use base64::Engine as _;
    use hmac::Mac as _;
    let expires = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let sts = format!("GET\n\n\n{expires}\n/{BUCKET}/{key}");
    let mut mac =
        hmac::Hmac::<sha1::Sha1>::new_from_slice(TEST_ACCESS_KEY_SECRET.as_bytes()).unwrap();
    mac.update(sts.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let sig = percent_encoding::utf8_percent_encode(&sig, percent_encoding::NON_ALPHANUMERIC);
    format!("{base}?OSSAccessKeyId={TEST_ACCESS_KEY_ID}&Expires={expires}&Signature={sig}")
}

const KEY_SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// The (url, byte range) fetches of one curl process, in order.
type CurlJob = Vec<(String, Option<(u64, u64)>)>;

/// One curl process per entry of `jobs` (each a list of (url, range)), all at once; GB/s.
fn run_curl(jobs: Vec<CurlJob>, total: u64) -> f64 {
    let t0 = Instant::now();
    let children: Vec<_> = jobs
        .into_iter()
        .map(|list| {
            let mut cmd = Command::new("curl");
            for (i, (url, range)) in list.iter().enumerate() {
                if i > 0 {
                    cmd.arg("--next");
                }
                cmd.args(["-s", "-f", "-o", "/dev/null"]);
                if let Some((a, b)) = range {
                    cmd.arg("-r").arg(format!("{a}-{b}"));
                }
                cmd.arg(url);
            }
            cmd.spawn().expect("spawn curl")
        })
        .collect();
    for mut c in children {
        let st = c.wait().expect("wait curl");
        assert!(st.success(), "curl failed: {st}");
    }
    total as f64 / t0.elapsed().as_secs_f64() / 1e9
}

fn orchestrate(o: &Opts) {
    let model = format!("{BUCKET}/{MODEL}:{}:{}", o.shards, o.mib);
    let rate = o.rate_mbps.to_string();
    let latency = o.latency_ms.to_string();
    let mut args: Vec<&str> = vec![
        "--model",
        &model,
        "--rate-mbps",
        &rate,
        "--latency-ms",
        &latency,
    ];
    if !o.auth {
        args.push("--no-auth");
    }
    let server = match &o.endpoint {
        Some(_) => None,
        None => Some(OssLocal::start(&args)),
    };
    let endpoint = o
        .endpoint
        .clone()
        .or_else(|| server.as_ref().map(|s| s.endpoint.clone()))
        .expect("endpoint");
    let total = u64::from(o.shards) * (o.mib << 20);
    let keys: Vec<String> = (1..=o.shards)
        .map(|i| synthetic::shard_key(MODEL, i, o.shards))
        .collect();
    eprintln!(
        "core-load: {} x {} MiB at {endpoint} ({}), {} in flight, {} MiB chunks, {} MiB limit, rate {} MB/s/conn",
        o.shards,
        o.mib,
        if o.auth { "signed V4" } else { "no auth" },
        o.in_flight,
        o.chunk_mib,
        o.memory_limit_mib,
        o.rate_mbps
    );
    let mut best: Option<Measured> = None;
    let mut curl1 = 0.0f64;
    let mut curln = 0.0f64;
    for round in 0..o.repeat.max(1) {
        let m = run_ossmc(o, &endpoint);
        eprintln!(
            "  round {round}: ossmc {:.3} GB/s, peak RSS {:.0} MiB, CPU {:.2} s, peak held {:.0} MiB",
            m.gbps, m.rss_mib, m.cpu_secs, m.peak_held_mib
        );
        if best.as_ref().is_none_or(|b| m.gbps > b.gbps) {
            best = Some(m);
        }
        if o.curl {
            let single: Vec<_> = keys
                .iter()
                .map(|k| (curl_url(o, &endpoint, k), None))
                .collect();
            let c1 = run_curl(vec![single], total);
            let n = o.curl_streams.max(1) as u64;
            let size = o.mib << 20;
            let jobs: Vec<Vec<_>> = (0..n)
                .map(|k| {
                    let a = size * k / n;
                    let b = size * (k + 1) / n - 1;
                    keys.iter()
                        .map(|key| (curl_url(o, &endpoint, key), Some((a, b))))
                        .collect()
                })
                .collect();
            let cn = run_curl(jobs, total);
            eprintln!("  round {round}: curl 1 stream {c1:.3} GB/s, curl {n} streams {cn:.3} GB/s");
            curl1 = curl1.max(c1);
            curln = curln.max(cn);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let best = best.expect("one round");
    let reference = curl1.max(curln);
    let ratio = if reference > 0.0 {
        best.gbps / reference
    } else {
        f64::NAN
    };
    println!(
        "ossmc {:.3} GB/s | curl 1 stream {:.3} GB/s | curl {} streams {:.3} GB/s | ossmc/best curl {:.0}% | ossmc peak RSS {:.0} MiB (limit {} MiB) | ossmc CPU {:.2} s",
        best.gbps,
        curl1,
        o.curl_streams,
        curln,
        ratio * 100.0,
        best.rss_mib,
        o.memory_limit_mib,
        best.cpu_secs
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let row = format!(
        "| {} | {} x {} MiB | {} | {} | {} | {} | {:.3} | {:.3} | {:.3} ({}) | {:.0}% | {:.0} ({}) | {:.2} | {:.1} |",
        format_utc(now),
        o.shards,
        o.mib,
        if o.auth { "V4" } else { "none" },
        if o.rate_mbps > 0.0 { o.rate_mbps.to_string() } else { "-".into() },
        o.in_flight,
        o.chunk_mib,
        best.gbps,
        curl1,
        curln,
        o.curl_streams,
        ratio * 100.0,
        best.rss_mib,
        o.memory_limit_mib,
        best.cpu_secs,
        load_average()
    );
    if let Err(e) = record_row(&o.results, &row) {
        eprintln!("core-load: cannot update {}: {e}", o.results);
    }
    drop(server);
}

const BEGIN: &str = "<!-- core-load:begin -->";
const END: &str = "<!-- core-load:end -->";

/// Adds `row` to the core-load section of the results file (between its markers, created
/// at the end of the file if missing), keeping the other sections as they are.
fn record_row(path: &str, row: &str) -> std::io::Result<()> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let header = "## Core load: Rust API against curl\n\n\
        Rows from `target/release/core-load` (`bench/core-load`; command in its doc comment): \
        4 x 512 MiB synthetic shards from a release oss-local on 127.0.0.1, opened first and then \
        read in order with 4 MiB reads; curl fetches the same bytes to /dev/null (one stream, and \
        N parallel ranged streams). Best of the rounds of each. GB = 10^9 bytes. CPU is the ossmc \
        process's user + system time for the load. The load average shows how busy the 2-CPU \
        machine was with other work.\n\n\
        | date (UTC) | model | auth | rate MB/s/conn | in flight | chunk MiB | ossmc GB/s | curl 1 GB/s | \
        curl N GB/s (N) | ossmc / best curl | ossmc peak RSS MiB (limit) | ossmc CPU s | load avg |\n\
        |---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    let out = match (text.find(BEGIN), text.find(END)) {
        (Some(b), Some(e)) if b < e => {
            format!("{}{row}\n{}", &text[..e], &text[e..])
        }
        _ => {
            let mut t = text;
            if !t.is_empty() && !t.ends_with('\n') {
                t.push('\n');
            }
            format!("{t}\n{BEGIN}\n{header}{row}\n{END}\n")
        }
    };
    std::fs::write(path, out)
}

/// The 1-minute load average.
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

/// `YYYY-MM-DD HH:MM` for a Unix time (civil-from-days, proleptic Gregorian).
fn format_utc(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60
    )
}
