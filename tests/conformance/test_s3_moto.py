"""S3 conformance: the same moto bucket (an S3 implementation written by others) read by
boto3, by Run:ai's model streamer (what vLLM ships) and by ossmc over the S3 API. All three
must see the same objects and the same bytes, and moto must answer the checks ossmc relies on
(CRC-64/NVME on HEAD, If-Match, ranges) the way S3 documents them, so moto is known to be an
honest stand-in for S3.

Skipped when moto[server] is not installed; the Run:ai part also when its streamer is not
(tools/setup.sh installs both).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

from conformance_support import REPO
from ossmc_testkit import synthetic as syn
from ossmc_testkit.moto import ACCESS_KEY_ID, SECRET_ACCESS_KEY, Moto, crc64nvme, moto_available

_why = moto_available()
pytestmark = pytest.mark.skipif(_why is not None, reason=_why or "")

BUCKET = "s3-conformance"
MIB = 1 << 20
#: (key, size, stored with its CRC-64/NVME)
OBJECTS: List[Tuple[str, int, bool]] = [
    (syn.shard_key("models/tiny", 1, 2), 3 * MIB + 7, True),
    (syn.shard_key("models/tiny", 2, 2), 2 * MIB, False),
    ("models/tiny/config dir/ünï+%.json", 513, True),
]


def data_of(key: str, size: int) -> bytes:
    return bytes(syn.fill(syn.seed(key), 0, size))


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    with Moto() as m:
        client = m.client()
        client.create_bucket(Bucket=BUCKET)
        for key, size, checksum in OBJECTS:
            m.put(client, BUCKET, key, data_of(key, size), checksum)
        yield m


def test_boto3_sees_what_was_stored_and_moto_answers_like_s3(moto: Moto) -> None:
    from botocore.exceptions import ClientError

    client = moto.client()
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix="models/tiny/", EncodingType="url")
    from urllib.parse import unquote

    got = sorted((unquote(o["Key"]), o["Size"]) for o in listed["Contents"])
    assert got == sorted((k, s) for k, s, _ in OBJECTS)
    for key, size, checksum in OBJECTS:
        data = data_of(key, size)
        assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == data
        part = client.get_object(Bucket=BUCKET, Key=key, Range="bytes=5-99")
        assert part["ContentRange"] == f"bytes 5-99/{size}"
        assert part["Body"].read() == data[5:100]
        head = client.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
        want = base64.b64encode(crc64nvme(data).to_bytes(8, "big")).decode() if checksum else None
        assert head.get("ChecksumCRC64NVME") == want, key
        # If-Match with another ETag: 412 PreconditionFailed, as S3 documents.
        with pytest.raises(ClientError) as e:
            client.get_object(Bucket=BUCKET, Key=key, IfMatch='"0123"', Range="bytes=0-9")
        assert e.value.response["Error"]["Code"] == "PreconditionFailed"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    with pytest.raises(ClientError) as e:
        client.get_object(Bucket=BUCKET, Key=OBJECTS[0][0], Range=f"bytes={OBJECTS[0][1]}-")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416


def test_runai_streamer_reads_the_same_bytes(moto: Moto, tmp_path: Path) -> None:
    import importlib.util

    if importlib.util.find_spec("runai_model_streamer") is None:
        pytest.skip("runai-model-streamer is not installed (tests/conformance/requirements-nodeps.txt)")
    objects = [[key, size, str(tmp_path / f"{i}.bin")] for i, (key, size, _) in enumerate(OBJECTS)]
    args = {
        "endpoint": moto.endpoint,
        "bucket": BUCKET,
        "access_key_id": ACCESS_KEY_ID,
        "secret_access_key": SECRET_ACCESS_KEY,
        "objects": objects,
    }
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("runai_probe.py")), json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no result from the probe: {proc.stdout[-2000:]} {proc.stderr[-2000:]}"
    assert json.loads(lines[-1]) == {"ok": True}, lines[-1]
    for key, size, out in objects:
        assert Path(out).read_bytes() == data_of(key, size), key


def test_ossmc_over_the_s3_api_reads_the_same_bytes(moto: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.environ.get("OSSMC_LIBRARY"):
        sys.path.insert(0, str(REPO / "python"))
    try:
        from ossmodelconnector import OssModelConnector
    except ImportError as e:  # pragma: no cover - depends on the environment
        pytest.skip(f"ossmodelconnector is not importable: {e}")
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "protocol": "s3",
                "logPath": str(tmp_path / "connector.log"),
                "auditPath": str(tmp_path / "audit.log"),
                "prefetch": {"chunkSize": MIB},
            }
        )
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    conn = OssModelConnector(moto.endpoint, config_path=str(config))
    listed = sorted((o.key, o.size) for o in conn.list(BUCKET, "models/tiny/"))
    assert listed == sorted((k, s) for k, s, _ in OBJECTS)
    readers = [conn.open(f"s3://{BUCKET}/{key}") for key, _, _ in OBJECTS]
    for (key, size, _), r in zip(OBJECTS, readers):
        with r:
            assert r.read() == data_of(key, size), key
