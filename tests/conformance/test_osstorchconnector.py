"""osstorchconnector 1.2.3's native reader (Alibaba's C++ loader core) against oss-local.

The connector always addresses ``BUCKET.<endpoint host>``, signs V4 with
``AdditionalHeaders=host``, sends ``x-oss-range-behavior: standard`` and lists with
ListObjectsV2 without ``encoding-type``. It needs ``BUCKET.localhost`` to resolve to
127.0.0.1: run ``tests/conformance/setup_hosts.sh`` (as root) first. Each check runs in a
subprocess (connector_probe.py) because the module crashes at interpreter exit.
"""

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conformance_support import (
    AK,
    BUCKET,
    KEYS_PREFIX,
    MANY_COUNT,
    MANY_PREFIX,
    REGION,
    REPO,
    SHARD_SIZE,
    SK,
    TOKEN,
    WRONG_SK,
    expected_listing,
    key_of_set,
    shard_keys,
    synthetic_objects,
)

PROBE = Path(__file__).with_name("connector_probe.py")


def _unavailable(reason):
    # CI sets up the hosts line and installs the package, so there a missing piece is a
    # failure, not a reason to skip.
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module", autouse=True)
def connector_ready():
    if importlib.util.find_spec("osstorchconnector") is None:
        _unavailable("osstorchconnector is not installed (pip install --no-deps osstorchconnector==1.2.3)")
    host = f"{BUCKET}.localhost"
    try:
        addrs = {a[4][0] for a in socket.getaddrinfo(host, None, socket.AF_INET)}
    except socket.gaierror:
        addrs = set()
    if "127.0.0.1" not in addrs:
        _unavailable(f"{host} does not resolve to 127.0.0.1; run tests/conformance/setup_hosts.sh as root")


def probe(server, tmp_path, secret=SK, token=None, **params):
    spec = {
        "endpoint": f"http://localhost:{server.port}",
        "region": REGION,
        "access_key_id": AK,
        "access_key_secret": secret,
        "security_token": token,
        "workdir": str(tmp_path),
        "bucket": BUCKET,
        "testkit": str(REPO / "tools" / "testkit" / "python"),
        **params,
    }
    proc = subprocess.run(
        [sys.executable, str(PROBE), json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = proc.stdout.strip().splitlines()
    assert lines, f"probe printed nothing (exit {proc.returncode}); stderr: {proc.stderr[-2000:]}"
    return json.loads(lines[-1])


@pytest.mark.parametrize("reader_type", [0, 1], ids=["dataset-reader", "checkpoint-reader"])
def test_read_shard_byte_exact(server, tmp_path, reader_type):
    key = shard_keys()[1]
    out = probe(server, tmp_path, action="read", key=key, size=SHARD_SIZE, reader_type=reader_type, chunk=3 * 2**20 + 5)
    assert "error" not in out, out
    assert out["length"] == SHARD_SIZE
    assert out["mismatch"] is None


@pytest.mark.parametrize("reader_type", [0, 1], ids=["dataset-reader", "checkpoint-reader"])
def test_read_key_with_space_plus_and_unicode(server, tmp_path, reader_type):
    key, size = key_of_set(9)  # data/ünïcødé/文件 0000009+x.bin
    assert " " in key and "+" in key and not key.isascii() and size > 0
    out = probe(server, tmp_path, action="read", key=key, size=size, reader_type=reader_type, chunk=4096)
    assert "error" not in out, out
    assert out["length"] == size
    assert out["mismatch"] is None


def test_stat_uses_object_meta(server, tmp_path):
    out = probe(server, tmp_path, action="stat", key=shard_keys()[2])
    assert out == {"size": SHARD_SIZE}
    key, size = key_of_set(19)
    assert probe(server, tmp_path, action="stat", key=key) == {"size": size}


def listed(out):
    """(key, size) pairs of a probe's listing; the connector names objects "/BUCKET/KEY"."""
    assert "error" not in out, out
    pairs = []
    for name, size in out["items"]:
        assert name.startswith(f"/{BUCKET}/"), name
        pairs.append((name[len(BUCKET) + 2 :], size))
    return pairs


def test_list_with_prefix(server, tmp_path):
    out = probe(server, tmp_path, action="list", prefix=KEYS_PREFIX)
    want, _ = expected_listing(synthetic_objects(), KEYS_PREFIX)
    # The connector drops empty objects (it takes them for directory markers).
    assert listed(out) == [(k, n) for k, n in want if n > 0]
    assert len(want) - len(listed(out)) == sum(1 for _, n in want if n == 0) > 0


def test_list_across_pages(server, tmp_path):
    # Three 1000-key pages: the connector sends the continuation token unencoded and signs
    # it that way, so the server's tokens must be made of unreserved characters only.
    out = probe(server, tmp_path, action="list", prefix=MANY_PREFIX)
    want, _ = expected_listing(synthetic_objects(), MANY_PREFIX)
    assert len(want) == MANY_COUNT
    assert listed(out) == [(k, n) for k, n in want if n > 0]


def test_list_model_prefix(server, tmp_path):
    out = probe(server, tmp_path, action="list", prefix="models/")
    assert listed(out) == [(k, SHARD_SIZE) for k in shard_keys()]


def test_security_token(token_server, tmp_path):
    key = shard_keys()[0]
    out = probe(token_server, tmp_path, token=TOKEN, action="read", key=key, size=SHARD_SIZE, reader_type=1, chunk=2**20)
    assert "error" not in out, out
    assert out["length"] == SHARD_SIZE and out["mismatch"] is None


def test_wrong_secret_fails(server, tmp_path):
    # The connector turns the 403 SignatureDoesNotMatch into errno 1 (EPERM).
    out = probe(server, tmp_path, secret=WRONG_SK, action="list", prefix=KEYS_PREFIX)
    assert "Operation not permitted" in out.get("error", ""), out
    out = probe(server, tmp_path, secret=WRONG_SK, action="read", key=shard_keys()[0], size=SHARD_SIZE, reader_type=0, chunk=2**20)
    assert "Operation not permitted" in out.get("error", ""), out
