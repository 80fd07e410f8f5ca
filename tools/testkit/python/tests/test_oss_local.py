"""The launcher against a real oss-local, and the Python synthetic functions against the
bytes and key names the Rust side serves (so both twins agree end to end)."""

import http.client
import os
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

from ossmc_testkit import OssLocal, OssLocalError, synthetic as syn

BUCKET = "testkit"
MODEL = "m"
SHARDS = 2
MIB = 3
PREFIX = "k/"
COUNT = 120


@pytest.fixture(scope="module")
def server():
    with OssLocal(["--no-auth", "--model", f"{BUCKET}/{MODEL}:{SHARDS}:{MIB}", "--keys", f"{BUCKET}/{PREFIX}:{COUNT}"]) as s:
        yield s


def get(server, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def test_endpoint_names_the_loopback_port(server):
    assert server.endpoint == f"http://127.0.0.1:{server.port}"
    assert 0 < server.port < 65536
    assert isinstance(server.stats(), dict)


@pytest.mark.parametrize("offset,length", [(0, 1), (1, 4096), (5, 1000003), (3 * 2**20 - 7, 7)])
def test_ranges_served_by_rust_match_python_fill(server, offset, length):
    key = syn.shard_key(MODEL, 2, SHARDS)
    path = f"/{BUCKET}/" + urllib.parse.quote(key)
    status, headers, body = get(server, path, {"Range": f"bytes={offset}-{offset + length - 1}"})
    assert status == 206, body[:300]
    assert len(body) == length
    assert syn.first_mismatch(syn.seed(key), offset, body) is None


def test_key_names_and_sizes_served_by_rust_match_python(server):
    status, _, body = get(server, f"/{BUCKET}/?list-type=2&max-keys=1000&prefix=" + urllib.parse.quote(PREFIX, safe=""))
    assert status == 200, body[:300]
    root = ET.fromstring(body)
    assert root.findtext("IsTruncated") == "false"
    got = [(c.findtext("Key"), int(c.findtext("Size"))) for c in root.iter("Contents")]
    want = sorted(((syn.key_name(PREFIX, i), syn.key_size(i)) for i in range(COUNT)), key=lambda kv: kv[0].encode())
    assert got == want


def test_a_small_key_has_synthetic_content(server):
    i = 49  # a non-ASCII name with a space and '+'
    key = syn.key_name(PREFIX, i)
    status, _, body = get(server, f"/{BUCKET}/" + urllib.parse.quote(key, safe=""))
    assert status == 200
    assert body == syn.fill(syn.seed(key), 0, syn.key_size(i))


def test_close_stops_the_process():
    s = OssLocal(["--no-auth"])
    pid = s.pid
    s.close()
    s.close()  # idempotent
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_server_that_cannot_start_raises():
    with open(os.devnull, "w") as devnull, pytest.raises(OssLocalError):
        OssLocal(["--no-such-option"], stderr=devnull)
