"""The two servers every contender is run against, with the same bytes.

* :class:`OssLocalServer`: oss-local generating the synthetic model (``--model``, ``--no-auth``
  so that every client's signature is accepted), optionally shaped (``--rate-mbps`` per
  connection, ``--latency-ms`` before every response). Request counts and peaks come from
  ``GET /_stats``.
* :class:`NginxServer`: nginx sending the same shards from tmpfs with sendfile, a server that
  no contender wrote. The shards are written by ``bench/server``'s writer; the configuration
  differs from ``bench/server``'s in two ways the loaders need: a second ``server`` block answers
  virtual-hosted requests (``Host: BUCKET.localhost``, which osstorchconnector always sends),
  and requests are logged to a file so that they can be counted per run like ``/_stats`` does.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

from driver import REPO
from workload import BUCKET, Model

sys.path.insert(0, str(REPO / "bench" / "server"))
from bench_server import write_shards  # noqa: E402  (BUCKET there is "bench" too)

from ossmc_testkit import OssLocal  # noqa: E402

assert BUCKET == "bench", "bench/server writes shards under the bucket 'bench'"


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


class NginxServer:
    """nginx with a private prefix serving ``root`` (``root/BUCKET/KEY``) on 127.0.0.1."""

    name = "nginx"

    def __init__(self, root: Path, workdir: Path, workers: str = "auto") -> None:
        self.port = _free_port()
        self.prefix = workdir / "nginx"
        (self.prefix / "logs").mkdir(parents=True, exist_ok=True)
        self.access_log = self.prefix / "logs" / "access.log"
        conf = self.prefix / "nginx.conf"
        conf.write_text(
            f"""
worker_processes {workers};
pid {self.prefix}/nginx.pid;
error_log {self.prefix}/logs/error.log warn;
user root;
events {{ worker_connections 4096; }}
http {{
    log_format counted '$status $body_bytes_sent';
    access_log {self.access_log} counted;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path {self.prefix}/tmp_body;
    proxy_temp_path {self.prefix}/tmp_proxy;
    fastcgi_temp_path {self.prefix}/tmp_fastcgi;
    uwsgi_temp_path {self.prefix}/tmp_uwsgi;
    scgi_temp_path {self.prefix}/tmp_scgi;
    server {{
        listen 127.0.0.1:{self.port} default_server;
        root {root};
        location / {{ }}
    }}
    server {{
        listen 127.0.0.1:{self.port};
        server_name {BUCKET}.localhost;
        root {root / BUCKET};
        location / {{ }}
    }}
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

    def _count(self) -> int:
        try:
            with open(self.access_log, "rb") as f:
                return sum(1 for _ in f)
        except FileNotFoundError:
            return 0

    def reset(self) -> None:
        self._lines = self._count()

    def counters(self) -> Dict[str, Optional[int]]:
        # nginx writes its log line when a response ends; the driver has exited by now.
        return {"requests": self._count() - self._lines, "get_requests": None, "peak_in_flight": None,
                "peak_connections": None, "connections": None, "server_bytes": None}

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def write_model(root: Path, model: Model) -> None:
    """Writes the model's shards under ``root/BUCKET`` (tmpfs) for nginx."""
    write_shards(root, model.keys, model.shard_bytes)


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
    "find_oss_local",
    "write_model",
    "ensure_hosts_entry",
    "tmpfs_dir",
    "remove",
]
