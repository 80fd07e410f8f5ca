"""``prepare_directory``: a real directory any framework can load, fetched once, repaired on
the next run, never holding a complete-looking partial file, and confined to its folder."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, List

import numpy as np
import pytest

from conftest import start_server
from ossmodelconnector import OssModelConnector

safetensors_numpy = pytest.importorskip("safetensors.numpy")

BUCKET = "files"
PREFIX = "models/tiny"
MANIFEST = ".ossmc-manifest.json"


def _write_model(root: Path, shard_mib: float = 1.0) -> Dict[str, bytes]:
    """A transformers-style model folder in bucket ``files`` under ``models/tiny/``: config
    and tokenizer files, an index, three safetensors shards. Returns key -> bytes."""
    folder = root / BUCKET / PREFIX
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    n = int(shard_mib * (1 << 20)) // 4
    weight_map = {}
    for i in range(1, 4):
        name = f"model-{i:05d}-of-00003.safetensors"
        tensors = {
            f"layers.{i}.attn.weight": rng.standard_normal(n // 2, dtype=np.float32).reshape(-1, 64),
            f"layers.{i}.mlp.weight": rng.standard_normal(n // 2 - 64, dtype=np.float32),
            f"layers.{i}.norm.bias": np.arange(16, dtype=np.int64),
        }
        safetensors_numpy.save_file(tensors, str(folder / name))
        weight_map.update({t: name for t in tensors})
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map})
    )
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 64}))
    (folder / "generation_config.json").write_text(json.dumps({"do_sample": False}))
    (folder / "tokenizer.json").write_text(json.dumps({"version": "1.0", "vocab": list("abcdef")}))
    (folder / "tokenizer" / "extra").mkdir(parents=True)
    (folder / "tokenizer" / "extra" / "special_tokens_map.json").write_text("{}")
    (folder / "empty.txt").write_text("")
    return {
        f"{PREFIX}/{p.relative_to(folder).as_posix()}": p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _local_files(dst: Path) -> Dict[str, bytes]:
    """Every file under ``dst`` except the manifest, by path relative to ``dst``."""
    return {p.relative_to(dst).as_posix(): p.read_bytes() for p in sorted(dst.rglob("*")) if p.is_file()}


def _assert_exact(dst: Path, objects: Dict[str, bytes]) -> None:
    want = {k[len(PREFIX) + 1 :]: v for k, v in objects.items()}
    got = _local_files(dst)
    assert got.pop(MANIFEST, None) is not None, "the manifest is written"
    assert sorted(got) == sorted(want), "exactly the objects, nothing else (no temporary files)"
    for rel, data in want.items():
        assert got[rel] == data, rel


def _gets(server) -> int:
    return server.stats()["requests"]["GetObject"]


@pytest.fixture
def model(files_root: Path) -> Dict[str, bytes]:
    return _write_model(files_root)


@pytest.fixture
def connector(files_server, oss_env, tmp_config) -> Iterator[OssModelConnector]:
    c = OssModelConnector(files_server.endpoint, config_path=tmp_config)
    yield c
    c.close()


def test_the_directory_holds_every_object_and_frameworks_load_it(model, files_server, connector, tmp_path):
    dst = tmp_path / "shm" / "tiny"
    result = connector.prepare_directory(f"oss://{BUCKET}/{PREFIX}", str(dst), progress=False)
    _assert_exact(dst, model)
    assert result.files == len(model) and result.fetched == len(model) and result.kept == 0
    assert result.bytes_fetched == result.bytes_total == sum(len(v) for v in model.values())
    for i in range(1, 4):
        name = f"model-{i:05d}-of-00003.safetensors"
        want = safetensors_numpy.load(model[f"{PREFIX}/{name}"])
        got = safetensors_numpy.load_file(str(dst / name))
        assert sorted(got) == sorted(want)
        for k in want:
            assert got[k].dtype == want[k].dtype and np.array_equal(got[k], want[k]), k
    index = json.loads((dst / "model.safetensors.index.json").read_text())
    assert all((dst / shard).is_file() for shard in set(index["weight_map"].values()))


def test_a_second_run_fetches_nothing(model, files_server, connector, tmp_path):
    dst = tmp_path / "tiny"
    connector.prepare_directory(f"oss://{BUCKET}/{PREFIX}/", dst, progress=False)
    gets = _gets(files_server)
    again = connector.prepare_directory(f"oss://{BUCKET}/{PREFIX}/", dst, progress=False)
    assert _gets(files_server) == gets, "no object is fetched again"
    assert (again.fetched, again.kept, again.bytes_fetched) == (0, len(model), 0)
    _assert_exact(dst, model)


def test_truncated_edited_and_deleted_files_are_repaired(model, files_server, connector, tmp_path):
    dst = tmp_path / "tiny"
    connector.prepare_directory(f"oss://{BUCKET}/{PREFIX}", dst, progress=False)
    shard = dst / "model-00002-of-00003.safetensors"
    with open(shard, "r+b") as f:
        f.truncate(1000)
    edited = dst / "config.json"
    data = bytearray(edited.read_bytes())
    data[0] ^= 0x20  # same size, different bytes: only the CRC tells
    edited.write_bytes(bytes(data))
    os.utime(edited, ns=(0, 0))
    (dst / "tokenizer.json").unlink()
    gets = _gets(files_server)
    result = connector.prepare_directory(f"oss://{BUCKET}/{PREFIX}", dst, progress=False)
    assert result.fetched == 3 and result.kept == len(model) - 3
    assert _gets(files_server) - gets == 3
    _assert_exact(dst, model)


def test_files_of_objects_gone_from_the_prefix_are_removed(model, files_root, files_server, connector, tmp_path):
    dst = tmp_path / "tiny"
    connector.prepare_directory(f"oss://{BUCKET}/{PREFIX}", dst, progress=False)
    mine = dst / "notes.txt"
    mine.write_text("the user's own file")
    (files_root / BUCKET / PREFIX / "tokenizer" / "extra" / "special_tokens_map.json").unlink()
    del model[f"{PREFIX}/tokenizer/extra/special_tokens_map.json"]
    result = connector.prepare_directory(f"oss://{BUCKET}/{PREFIX}", dst, progress=False)
    assert result.removed == 1
    assert not (dst / "tokenizer").exists(), "directories left empty go too"
    assert mine.read_text() == "the user's own file", "files ossmc did not write are not touched"
    mine.unlink()
    _assert_exact(dst, model)


def test_libc_hook_is_accepted_and_does_the_same(model, connector, tmp_path):
    dst = tmp_path / "tiny"
    connector.prepare_directory(f"oss://{BUCKET}/{PREFIX}", str(dst), True)
    _assert_exact(dst, model)


def test_exact_bytes_under_failures_and_resets(files_root, oss_env, tmp_path):
    model = _write_model(files_root, shard_mib=6)
    config = tmp_path / "faulty.json"
    config.write_text(
        json.dumps(
            {
                "logPath": str(tmp_path / "connector.log"),
                "auditPath": str(tmp_path / "audit.log"),
                "retry": {"maxAttempts": 10, "baseDelayMs": 1, "maxDelayMs": 20},
                "prefetch": {"chunkSizeMiB": 1},
            }
        )
    )
    server = start_server(["--root", str(files_root), "--fail-rate", "0.05", "--reset-rate", "0.02", "--seed", "3"])
    try:
        with OssModelConnector(server.endpoint, config_path=str(config)) as c:
            c.prepare_directory(f"oss://{BUCKET}/{PREFIX}", tmp_path / "tiny", progress=False)
        failed = server.stats()
    finally:
        server.close()
    _assert_exact(tmp_path / "tiny", model)
    assert failed["total_requests"] > 0


_KILLED_RUN = textwrap.dedent(
    """
    import sys
    from ossmodelconnector import OssModelConnector
    endpoint, config, uri, dst = sys.argv[1:5]
    OssModelConnector(endpoint, config_path=config).prepare_directory(uri, dst, progress=False)
    """
)


def test_a_run_killed_halfway_leaves_no_complete_looking_file(files_root, oss_env, tmp_config, tmp_path):
    model = _write_model(files_root, shard_mib=8)
    # Slow enough that the run is surely killed while a shard is being written.
    server = start_server(["--root", str(files_root), "--rate-mbps", "20"])
    dst = tmp_path / "tiny"
    import ossmodelconnector

    # The child imports the same package as this test (installed, or the source tree).
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(ossmodelconnector.__file__)))
    run = subprocess.Popen(
        [sys.executable, "-c", _KILLED_RUN, server.endpoint, tmp_config, f"oss://{BUCKET}/{PREFIX}", str(dst)],
        env=env,
    )
    try:
        # Wait for a shard to be partly written, then kill the run without warning.
        deadline = time.monotonic() + 60
        while not any(p.name.endswith(".safetensors.ossmc-part") and p.stat().st_size > 0 for p in _walk(dst)):
            assert run.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no shard was being written within 60 s"
            time.sleep(0.01)
        run.send_signal(signal.SIGKILL)
        run.wait()
        want = {k[len(PREFIX) + 1 :]: v for k, v in model.items()}
        for p in _walk(dst):
            rel = p.relative_to(dst).as_posix()
            if p.name.startswith("."):
                continue  # hidden: the temporary files and the manifest
            assert p.read_bytes() == want[rel], f"{rel} has its final name but not its final bytes"
        assert any(p.name.endswith(".ossmc-part") for p in _walk(dst)), "the shard being written kept its hidden name"
    finally:
        run.kill()
        server.close()
    server = start_server(["--root", str(files_root)])
    try:
        with OssModelConnector(server.endpoint, config_path=tmp_config) as c:
            c.prepare_directory(f"oss://{BUCKET}/{PREFIX}", dst, progress=False)
    finally:
        server.close()
    _assert_exact(dst, model)


def _walk(root: Path) -> List[Path]:
    if not root.exists():
        return []
    return [p for p in root.rglob("*") if p.is_file()]


class _ListingOnly(http.server.BaseHTTPRequestHandler):
    """Answers every ListObjectsV2 with a fixed page of keys (signatures are not checked) and
    counts every other request."""

    keys: List[str] = []
    others: List[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        from urllib.parse import quote

        if "list-type=2" not in self.path:
            type(self).others.append(self.path)
            self.send_error(500)
            return
        contents = "".join(
            f"<Contents><Key>{quote(k, safe='')}</Key><LastModified>2025-03-14T12:00:00.000Z</LastModified>"
            f'<ETag>"E"</ETag><Size>1</Size><StorageClass>Standard</StorageClass></Contents>'
            for k in type(self).keys
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>files</Name>'
            "<Prefix>m%2F</Prefix><MaxKeys>1000</MaxKeys><EncodingType>url</EncodingType>"
            f"<IsTruncated>false</IsTruncated><KeyCount>{len(type(self).keys)}</KeyCount>{contents}"
            "</ListBucketResult>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-oss-request-id", "0" * 24)
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize(
    "hostile",
    ["m/../outside", "m/a/../../outside", "m/./x", "m/a//b", "m//abs", "m/a\\b", "m/a\0b", "m/..", "m/."],
)
def test_keys_that_would_leave_the_directory_are_refused_before_anything_is_fetched(
    hostile, oss_env, tmp_config, tmp_path
):
    _ListingOnly.keys = sorted(["m/config.json", "m/a..b", "m/..hidden", "m/...", hostile])
    _ListingOnly.others = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ListingOnly)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    dst = tmp_path / "work" / "dst"
    try:
        with OssModelConnector(f"http://127.0.0.1:{httpd.server_address[1]}", config_path=tmp_config) as c:
            # A NUL in a key is refused by the listing itself (no honest OSS sends one), the
            # rest by prepare_directory; either way the key is named and nothing is fetched.
            expected = OSError if "\0" in hostile else ValueError
            with pytest.raises(expected) as info:
                c.prepare_directory("oss://files/m", dst, progress=False)
    finally:
        httpd.shutdown()
        httpd.server_close()
    named = hostile.replace("\\", "\\\\").replace("\0", "\\0")
    assert f'"{named}"' in str(info.value)
    assert _ListingOnly.others == [], "nothing but the listing was requested"
    assert not (tmp_path / "work").exists(), "nothing was written"


def test_dotted_names_are_ordinary_names(files_root, files_server, connector, tmp_path):
    folder = files_root / BUCKET / "dots"
    folder.mkdir(parents=True)
    for name in ["a..b", "..hidden", "..."]:
        (folder / name).write_bytes(name.encode())
    connector.prepare_directory(f"oss://{BUCKET}/dots", tmp_path / "d", progress=False)
    for name in ["a..b", "..hidden", "..."]:
        assert (tmp_path / "d" / name).read_bytes() == name.encode()


def test_a_bad_uri_and_a_missing_bucket_are_clear_errors(connector, tmp_path):
    with pytest.raises(ValueError, match="oss://"):
        connector.prepare_directory("s3://files/models", tmp_path / "d", progress=False)
    with pytest.raises(FileNotFoundError):
        connector.prepare_directory("oss://no-such-bucket/models", tmp_path / "d", progress=False)
