"""Starting and stopping an ``oss-local`` server from a Python test or benchmark.

The twin of ``tools/testkit/src/oss_local.rs``. The binary is found through
``OSS_LOCAL_BIN``, else in the cargo target directory (``$CARGO_TARGET_DIR``, then
``<repo>/target``; debug before release); build it first with ``cargo build -p oss-local``.
The server picks a free port itself (``--port 0``) and names it on its first stdout line.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

__all__ = ["OssLocal", "OssLocalError", "binary", "TEST_ACCESS_KEY_ID", "TEST_ACCESS_KEY_SECRET"]

#: The credentials the servers started by :class:`OssLocal` accept unless told otherwise
#: (the same as the Rust test kit's).
TEST_ACCESS_KEY_ID = "LTAI5tTestAccessKeyId"
#: See :data:`TEST_ACCESS_KEY_ID`.
TEST_ACCESS_KEY_SECRET = "TestAccessKeySecret123"

# tools/testkit/python/ossmc_testkit/oss_local.py -> the repository root.
_REPO = Path(__file__).resolve().parents[4]


class OssLocalError(RuntimeError):
    """oss-local could not be found, did not start, or answered something unexpected."""


def binary() -> Path:
    """The path of the oss-local binary (see the module doc for the search order)."""
    env = os.environ.get("OSS_LOCAL_BIN")
    if env:
        return Path(env)
    dirs: List[Path] = []
    if os.environ.get("CARGO_TARGET_DIR"):
        dirs.append(Path(os.environ["CARGO_TARGET_DIR"]))
    dirs.append(_REPO / "target")
    for d in dirs:
        for profile in ("debug", "release"):
            candidate = d / profile / "oss-local"
            if candidate.is_file():
                return candidate
    searched = ", ".join(str(d / p / "oss-local") for d in dirs for p in ("debug", "release"))
    raise OssLocalError(
        f"the oss-local binary was not found (searched {searched}); "
        "run `cargo build -p oss-local` or set OSS_LOCAL_BIN"
    )


class OssLocal:
    """A running oss-local on 127.0.0.1, stopped by :meth:`close` or at the end of a
    ``with`` block.

    ``args`` are added after ``--host 127.0.0.1 --port 0`` and the credentials, for example
    ``["--model", "b/m:4:64", "--fail-rate", "0.05"]``. With ``raw=True`` exactly ``args``
    are passed. ``stderr`` is where the server's log goes (inherited by default).
    """

    def __init__(
        self,
        args: Sequence[str] = (),
        *,
        access_key_id: str = TEST_ACCESS_KEY_ID,
        access_key_secret: str = TEST_ACCESS_KEY_SECRET,
        raw: bool = False,
        bin_path: Optional[os.PathLike] = None,
        stderr: Any = None,
        start_timeout: float = 30.0,
    ) -> None:
        if raw:
            argv = list(args)
        else:
            argv = [
                "--host", "127.0.0.1", "--port", "0",
                "--access-key-id", access_key_id,
                "--access-key-secret", access_key_secret,
                *args,
            ]
        exe = Path(bin_path) if bin_path is not None else binary()
        self._proc: Optional[subprocess.Popen] = subprocess.Popen(
            [str(exe), *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
        try:
            line = self._first_line(start_timeout)
            prefix = "listening on "
            if not line.startswith(prefix):
                raise OssLocalError(f"oss-local did not start: its first stdout line was {line!r}")
            #: ``http://127.0.0.1:PORT``
            self.endpoint: str = line[len(prefix):].strip()
            try:
                #: The port the server listens on.
                self.port: int = int(self.endpoint.rsplit(":", 1)[1])
            except (IndexError, ValueError):
                raise OssLocalError(f"oss-local named no port in {line!r}") from None
            #: The host part of the endpoint (``127.0.0.1``).
            self.host: str = self.endpoint.split("://", 1)[-1].rsplit(":", 1)[0]
        except BaseException:
            self.close()
            raise
        # Keep reading stdout so that a chatty server never blocks on a full pipe.
        threading.Thread(target=self._drain, args=(self._proc.stdout,), daemon=True).start()

    def _first_line(self, timeout: float) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        data = b""
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0:
                raise OssLocalError(f"oss-local printed no listening line within {timeout:.0f} s")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                code = self._proc.wait()
                raise OssLocalError(f"oss-local exited with status {code} before listening (stdout: {data!r})")
            data += chunk
        return data.split(b"\n", 1)[0].decode("utf-8", "replace")

    @staticmethod
    def _drain(stream) -> None:
        try:
            while stream.read(65536):
                pass
        except (OSError, ValueError):
            pass

    @property
    def pid(self) -> int:
        """The server's process id."""
        if self._proc is None:
            raise OssLocalError("oss-local is not running")
        return self._proc.pid

    def request(self, method: str, path: str, headers: Optional[Dict[str, str]] = None, body: Optional[bytes] = None):
        """Sends one unsigned request on a fresh connection; returns ``(status, headers, body)``."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def stats(self) -> Dict[str, Any]:
        """The server's ``GET /_stats`` counters as a dict."""
        status, _, body = self.request("GET", "/_stats")
        if status != 200:
            raise OssLocalError(f"GET /_stats answered {status}: {body[:200]!r}")
        return json.loads(body)

    def close(self) -> None:
        """Stops the server (SIGTERM, then SIGKILL after 10 s) and reaps it. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> "OssLocal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        # A last resort for a test that forgot close(); never raise from a finalizer.
        try:
            self.close()
        except Exception:
            pass
