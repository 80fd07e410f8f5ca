"""The two servers every contender is run against, with the same bytes.

* :class:`OssLocalServer`: oss-local generating the synthetic model (``--model``, ``--no-auth``
  so that every client's signature is accepted), optionally shaped (``--rate-mbps`` per
  connection, ``--latency-ms`` before every response). Request counts and peaks come from
  ``GET /_stats``.
* :class:`NginxServer`: nginx sending the same shards from tmpfs with sendfile, a server that
  no contender wrote; the shards are written by :func:`write_shards`. Optionally throttled:
  ``limit_rate`` per response (one response at a time per connection, so per connection) with
  ``sendfile_max_chunk 256k``, without which nginx sends the first 2 MiB of every response
  unthrottled and small ranged GETs never feel the cap. Its access log records, per response,
  the status, body bytes, end time and duration, and the connection, from which
  :meth:`NginxServer.counters` derives requests, bytes served, connections and the peak of
  requests in flight (to the millisecond) like oss-local's ``/_stats``. This is the one nginx
  launcher of the benchmarks: ``bench/server/bench_server.py`` (oss-local against nginx with
  curl) uses it too, without the two things only the loaders need: a second ``server`` block
  answering virtual-hosted requests (``Host: BUCKET.localhost``, which osstorchconnector always
  sends), and an access log so that requests can be counted per run like ``/_stats`` does.
  nginx has no ListObjectsV2: given a ``listing`` (:func:`listing_xml`), it answers every
  listing request on the bucket (``GET /BUCKET/?list-type=2...``, and ``GET /?...`` on the
  virtual host) with that static ListBucketResult, the one page OSS would send for the model's
  prefix (the bucket holds nothing else). That is what ``prepare_directory`` and an
  ossutil-style download list before fetching; one request of a few KiB per load.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional, Union
from xml.sax.saxutils import escape

from driver import REPO
from workload import BUCKET, Model

from ossmc_testkit import OssLocal, synthetic as syn


def find_oss_local(explicit: Optional[str] = None) -> Path:
    """A release oss-local: ``explicit``, ``$OSS_LOCAL_BIN``, ``$CARGO_TARGET_DIR/release``, then
    ``target/release``. A debug build would make the server the bottleneck."""
    candidates = [explicit, os.environ.get("OSS_LOCAL_BIN")]
    if os.environ.get("CARGO_TARGET_DIR"):
        candidates.append(str(Path(os.environ["CARGO_TARGET_DIR"]) / "release" / "oss-local"))
    candidates.append(str(REPO / "target" / "release" / "oss-local"))
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    raise SystemExit(
        "no release build of oss-local was found: run `cargo build --release -p oss-local` "
        "(bench/run does) or set OSS_LOCAL_BIN"
    )


class OssLocalServer:
    """oss-local serving the model on 127.0.0.1, path style and virtual-hosted alike."""

    name = "oss-local"

    def __init__(self, binary: Path, model: Model, rate_mbps: int = 0, latency_ms: int = 0) -> None:
        args = ["--no-auth", "--model", model.oss_local_arg(), "--region", "cn-hangzhou"]
        if rate_mbps:
            args += ["--rate-mbps", str(rate_mbps)]
        if latency_ms:
            args += ["--latency-ms", str(latency_ms)]
        self._server = OssLocal(args, bin_path=binary, stderr=subprocess.DEVNULL, start_timeout=120)
        self.endpoint = self._server.endpoint
        self.vhost_endpoint = f"http://localhost:{self._server.port}"
        self.pid = self._server.pid

    def reset(self) -> None:
        """Zeroes the counters before a contender runs."""
        self._server.request("GET", "/_stats?reset")

    def counters(self) -> Dict[str, Optional[int]]:
        s = self._server.stats()
        return {
            "requests": s.get("total_requests"),
            "get_requests": s.get("requests", {}).get("GetObject"),
            "peak_in_flight": s.get("in_flight", {}).get("GetObject", {}).get("peak"),
            "peak_connections": s.get("connections", {}).get("peak"),
            "connections": s.get("connections", {}).get("total"),
            "server_bytes": s.get("bytes_sent"),
        }

    def close(self) -> None:
        self._server.close()


def _free_port() -> int:
    # nginx needs a fixed port in its configuration; this one was free a moment ago.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> List[int]:
    """The processes whose parent is ``pid`` (nginx's workers)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


class NginxServer:
    """nginx with a private prefix serving ``root`` (``root/BUCKET/KEY``) on 127.0.0.1.

    ``count_requests`` logs one line per response to ``access_log`` so that :meth:`counters`
    can count a run's requests; a pure throughput measurement turns it off (no log at all).
    ``virtual_hosts`` adds the ``server`` block for ``Host: BUCKET.localhost``. ``rate_mbps``
    caps every response at that many MB/s (10^6 bytes)."""

    name = "nginx"

    def __init__(
        self,
        root: Path,
        workdir: Path,
        workers: Union[int, str] = "auto",
        *,
        count_requests: bool = True,
        virtual_hosts: bool = True,
        rate_mbps: int = 0,
        listing: Optional[str] = None,
    ) -> None:
        self.port = _free_port()
        self.rate_mbps = rate_mbps
        self.prefix = workdir / (f"nginx-{rate_mbps}mbps" if rate_mbps else "nginx")
        (self.prefix / "logs").mkdir(parents=True, exist_ok=True)
        self.access_log: Optional[Path] = self.prefix / "logs" / "access.log" if count_requests else None
        if self.access_log is not None:
            logging = f"""    log_format counted '$status $body_bytes_sent $msec $request_time $connection';
    access_log {self.access_log} counted;"""
        else:
            logging = "    access_log off;"
        # The bucket's "directory" answers listings (any query) with the static page, if any.
        path_list = vhost_list = ""
        if listing is not None:
            listing_dir = self.prefix / "listing"
            listing_dir.mkdir(exist_ok=True)
            (listing_dir / f"{BUCKET}.xml").write_text(listing)
            answer = f"root {listing_dir}; default_type application/xml; try_files /{BUCKET}.xml =404;"
            path_list = f"\n        location = /{BUCKET}/ {{ {answer} }}"
            vhost_list = f"\n        location = / {{ {answer} }}"
        if virtual_hosts:
            # The path-style server must stay the default for Host: 127.0.0.1 / localhost.
            servers = f"""    server {{
        listen 127.0.0.1:{self.port} default_server;
        root {root};
        location / {{ }}{path_list}
    }}
    server {{
        listen 127.0.0.1:{self.port};
        server_name {BUCKET}.localhost;
        root {root / BUCKET};
        location / {{ }}{vhost_list}
    }}"""
        else:
            servers = f"""    server {{
        listen 127.0.0.1:{self.port};
        root {root};
        location / {{ }}{path_list}
    }}"""
        # nginx's "m" is 2^20; the benchmark's MB is 10^6.
        throttle = (f"    limit_rate {rate_mbps * 1000 * 1000};\n    sendfile_max_chunk 256k;\n"
                    if rate_mbps else "")
        conf = self.prefix / "nginx.conf"
        conf.write_text(
            f"""
worker_processes {workers};
pid {self.prefix}/nginx.pid;
error_log {self.prefix}/logs/error.log warn;
user root;
events {{ worker_connections 4096; }}
http {{
{logging}
{throttle}    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path {self.prefix}/tmp_body;
    proxy_temp_path {self.prefix}/tmp_proxy;
    fastcgi_temp_path {self.prefix}/tmp_fastcgi;
    uwsgi_temp_path {self.prefix}/tmp_uwsgi;
    scgi_temp_path {self.prefix}/tmp_scgi;
{servers}
}}
"""
        )
        self.proc = subprocess.Popen(
            ["nginx", "-p", str(self.prefix), "-c", str(conf), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError(f"nginx did not start; see {self.prefix}/logs/error.log")
                time.sleep(0.05)
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.vhost_endpoint = f"http://localhost:{self.port}"
        self.pid = self.proc.pid
        self._lines = 0

    def pids(self) -> List[int]:
        """The master and its workers, for measuring the server's CPU time."""
        return [self.proc.pid, *_children(self.proc.pid)]

    def _lines_now(self) -> List[bytes]:
        if self.access_log is None:
            return []
        try:
            return self.access_log.read_bytes().splitlines()
        except FileNotFoundError:
            return []

    def reset(self) -> None:
        self._lines = len(self._lines_now())

    def counters(self) -> Dict[str, Optional[int]]:
        """Requests, body bytes served, connections and peak requests in flight since
        :meth:`reset`. nginx writes a line when a response ends; the driver has exited by now."""
        if self.access_log is None:
            return {"requests": None, "get_requests": None, "peak_in_flight": None, "peak_connections": None,
                    "connections": None, "server_bytes": None}
        # A response the client abandoned when it exited (a run stopped at its bound) is logged
        # once nginx notices, a moment later: wait until the log stops growing, so its line is
        # counted in this run and not the next.
        lines = self._lines_now()
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            time.sleep(0.05)
            again = self._lines_now()
            if len(again) == len(lines):
                break
            lines = again
        return access_log_counters(lines[self._lines:])

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: fast shutdown
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def access_log_counters(lines: List[bytes]) -> Dict[str, Optional[int]]:
    """Counters from access log lines ``status body_bytes end_msec duration_s connection``: the
    peak in flight is the most requests whose ``[end - duration, end]`` overlap, the peak of
    connections the most whose span from their first request's start to their last one's end
    overlap. Both at millisecond resolution: requests shorter than a millisecond (a 1 MiB GET
    from tmpfs) hardly ever overlap there, so for many short requests they undercount."""
    requests = []
    spans: Dict[bytes, List[int]] = {}
    sent = 0
    for line in lines:
        f = line.split()
        if len(f) < 5:
            continue
        sent += int(f[1])
        end = round(float(f[2]) * 1000)
        start = end - round(float(f[3]) * 1000)
        requests.append((start, end))
        span = spans.setdefault(f[4], [start, end])
        span[0], span[1] = min(span[0], start), max(span[1], end)

    def peak(intervals) -> int:
        # At equal times ends come first: back-to-back intervals are not two at once.
        events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
        most = cur = 0
        for _, d in events:
            cur += d
            most = max(most, cur)
        # Everything took under a millisecond: still, one was there.
        return max(most, 1) if intervals else 0

    return {"requests": len(requests), "get_requests": len(requests), "peak_in_flight": peak(requests),
            "peak_connections": peak(list(spans.values())), "connections": len(spans), "server_bytes": sent}


def write_shards(root: Path, keys: List[str], size: int) -> None:
    """Writes each key's synthetic bytes (``size`` of them) to ``root/BUCKET/KEY``."""
    buf = bytearray(8 << 20)
    for key in keys:
        path = root / BUCKET / key
        path.parent.mkdir(parents=True, exist_ok=True)
        s = syn.seed(key)
        with open(path, "wb") as f:
            for off in range(0, size, len(buf)):
                n = min(len(buf), size - off)
                view = memoryview(buf)[:n]
                syn.fill_into(s, off, view)
                f.write(view)


def write_model(root: Path, model: Model) -> None:
    """Writes the model's shards under ``root/BUCKET`` (tmpfs) for nginx."""
    write_shards(root, model.keys, model.shard_bytes)


def nginx_etag(path: Path) -> str:
    """The ETag nginx sends for a static file: hex modification time, hex size, quoted."""
    st = path.stat()
    return f'"{int(st.st_mtime):x}-{st.st_size:x}"'


def listing_xml(root: Path, keys: List[str], prefix: str = "") -> str:
    """The ListObjectsV2 page OSS would send for ``prefix`` in a bucket holding ``keys``
    (files under ``root/BUCKET``), in key order, with the ETags nginx sends for them, for
    :class:`NginxServer`'s static listing."""
    rows = []
    for key in sorted(k for k in keys if k.startswith(prefix)):
        path = root / BUCKET / key
        st = path.stat()
        modified = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(st.st_mtime))
        rows.append(
            f"<Contents><Key>{escape(key)}</Key><LastModified>{modified}</LastModified>"
            f"<ETag>{escape(nginx_etag(path))}</ETag><Type>Normal</Type><Size>{st.st_size}</Size>"
            "<StorageClass>Standard</StorageClass></Contents>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult>'
        f"<Name>{BUCKET}</Name><Prefix>{escape(prefix)}</Prefix><MaxKeys>1000</MaxKeys>"
        f"<KeyCount>{len(rows)}</KeyCount><IsTruncated>false</IsTruncated>{''.join(rows)}</ListBucketResult>\n"
    )


def ensure_hosts_entry() -> Optional[str]:
    """Maps ``BUCKET.localhost`` to 127.0.0.1 in /etc/hosts (osstorchconnector always addresses
    ``BUCKET.<endpoint host>``). Returns a problem sentence, or None when the entry is there."""
    line = f"127.0.0.1 {BUCKET}.localhost"
    hosts = Path("/etc/hosts")
    try:
        text = hosts.read_text()
        if line in text.splitlines():
            return None
        with open(hosts, "a") as f:
            if text and not text.endswith("\n"):
                f.write("\n")
            f.write(line + "\n")
        return None
    except OSError as e:
        return f"could not add '{line}' to /etc/hosts ({e}); osstorchconnector cannot reach the servers"


def tmpfs_dir() -> Path:
    return Path("/dev/shm") if Path("/dev/shm").is_dir() else Path("/tmp")


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


__all__: List[str] = [
    "OssLocalServer",
    "NginxServer",
    "access_log_counters",
    "find_oss_local",
    "write_model",
    "write_shards",
    "listing_xml",
    "nginx_etag",
    "ensure_hosts_entry",
    "tmpfs_dir",
    "remove",
]
