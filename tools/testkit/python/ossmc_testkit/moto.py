"""moto (PyPI ``moto[server]``), an S3 implementation written by others, as a server for the S3
tests: the twin of ``tests/common/moto.rs``.

:class:`Moto` starts ``python -m moto.server`` on a free port of 127.0.0.1, waits for it by
polling (never a fixed sleep), hands out a boto3 client for it, and stops it at the end of a
``with`` block. moto checks no signatures, but treats a request without ``Authorization`` as
anonymous and refuses it, so plain HTTP tools need a dummy one.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any, Optional

__all__ = ["Moto", "moto_available", "crc64nvme", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY"]

#: Credentials for moto (it accepts any).
ACCESS_KEY_ID = "AKIDMOTOTEST"
#: See :data:`ACCESS_KEY_ID`.
SECRET_ACCESS_KEY = "moto/secret+key"

_POLY = 0x9A6C9329AC4BC9B5  # CRC-64/NVME, reflected
_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ _POLY if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc64nvme(data: bytes) -> int:
    """CRC-64/NVME of ``data`` (S3's ``x-amz-checksum-crc64nvme``), table-driven: fine for the
    few MiB the tests store with a checksum."""
    crc = 0xFFFFFFFFFFFFFFFF
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


def moto_available() -> Optional[str]:
    """None when moto's server can run here, else why not (for a skip). Under ``CI=true`` a
    missing moto raises instead: CI installs it (tools/setup.sh), so its tests must run."""
    try:
        import flask  # noqa: F401
        import moto.server  # noqa: F401
    except ImportError as e:
        why = f"moto[server] is not installed ({e}); tools/setup.sh installs it"
        if os.environ.get("CI") == "true":
            raise RuntimeError(why) from e
        return why
    return None


class Moto:
    """A moto server on 127.0.0.1; use as a context manager.

    ``authenticated_after``: moto checks signatures (recomputed with botocore) and IAM
    policies once that many requests were served without checks, which is how a test creates
    the IAM user, its key and policy, the bucket and the objects before checks begin
    (moto's ``INITIAL_NO_AUTH_ACTION_COUNT``). None: it never checks.
    """

    def __init__(self, authenticated_after: Optional[int] = None) -> None:
        self._env = dict(os.environ)
        if authenticated_after is not None:
            self._env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(authenticated_after)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        #: ``http://127.0.0.1:PORT``.
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._proc: Optional[subprocess.Popen] = None

    def __enter__(self) -> "Moto":
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self._env,
        )
        deadline = time.monotonic() + 60
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"moto exited with status {self._proc.returncode}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=5):
                    return self
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    self.__exit__(None, None, None)
                    raise RuntimeError("moto did not start within 60 s")
                time.sleep(0.05)

    def __exit__(self, *exc: Any) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def client(
        self,
        service: str = "s3",
        key_id: str = ACCESS_KEY_ID,
        secret: str = SECRET_ACCESS_KEY,
        token: Optional[str] = None,
    ) -> Any:
        """A boto3 client of ``service`` for this server (S3: path style)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            aws_session_token=token,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )

    def put(self, client: Any, bucket: str, key: str, data: bytes, checksum: bool) -> None:
        """Puts an object with boto3; with ``checksum``, stored with its CRC-64/NVME, which
        moto returns as ``x-amz-checksum-crc64nvme`` (botocore computes CRC64NVME only with
        awscrt installed, so the value is computed here and moto told the algorithm)."""
        if not checksum:
            client.put_object(Bucket=bucket, Key=key, Body=data)
            return
        value = base64.b64encode(crc64nvme(data).to_bytes(8, "big")).decode()

        def name_algorithm(request: Any, **_: Any) -> None:
            request.headers["x-amz-sdk-checksum-algorithm"] = "CRC64NVME"

        client.meta.events.register("before-sign.s3.PutObject", name_algorithm)
        try:
            client.put_object(Bucket=bucket, Key=key, Body=data, ChecksumCRC64NVME=value)
        finally:
            client.meta.events.unregister("before-sign.s3.PutObject", name_algorithm)
