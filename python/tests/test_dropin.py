"""Code written for Alibaba's ``ossmodelconnector`` runs unchanged: its constructor's
positional order and ``""`` defaults, ``close``, objects with ``key``, ``size()``,
``mmap()``, and the calls its docs and type stubs show, positional and keyword."""

from __future__ import annotations

import ctypes
import gc
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import MODEL_BUCKET, MODEL_MIB, shard_uri
from ossmc_testkit import TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, fill, seed, shard_key
from ossmodelconnector import OssModelConnector

SIZE = MODEL_MIB << 20


def _expected(i: int, offset: int = 0, length: int = SIZE) -> bytes:
    from conftest import MODEL_NAME, MODEL_SHARDS

    return fill(seed(shard_key(MODEL_NAME, i, MODEL_SHARDS)), offset, length)


@pytest.fixture
def cred_file(tmp_path: Path) -> str:
    path = tmp_path / "credentials"
    path.write_text(json.dumps({"AccessKeyId": TEST_ACCESS_KEY_ID, "AccessKeySecret": TEST_ACCESS_KEY_SECRET}))
    return str(path)


@pytest.fixture
def logged_config(tmp_path: Path) -> str:
    """A configuration whose effect is visible: the log goes to a file of the test's own."""
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {"logLevel": 0, "logPath": str(tmp_path / "mine.log"), "auditPath": str(tmp_path / "mine-audit.log")}
        )
    )
    return str(path)


def _config_was_used(config_path: str) -> bool:
    audit = Path(config_path).parent / "mine-audit.log"
    return audit.exists() and audit.stat().st_size > 0


def test_positional_endpoint_cred_path_config_path(model_server, no_oss_env, cred_file, logged_config):
    """``OssModelConnector(EP, CRED, CONF)``: the third positional argument is the config."""
    connector = OssModelConnector(model_server.endpoint, cred_file, logged_config)
    with connector.open(shard_uri(1)) as obj:
        assert obj.read(4096) == _expected(1, 0, 4096)
    connector.close()
    assert _config_was_used(logged_config)


def test_keyword_forms_from_the_docs(model_server, no_oss_env, cred_file, logged_config):
    from oss2.credentials import StaticCredentialsProvider

    provider = StaticCredentialsProvider(TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET)
    for connector in (
        OssModelConnector(endpoint=model_server.endpoint, cred_path=cred_file, config_path=logged_config),
        OssModelConnector(endpoint=model_server.endpoint, cred_provider=provider, config_path=logged_config),
        OssModelConnector(model_server.endpoint, cred_file, "", None),
        OssModelConnector(model_server.endpoint, "", logged_config, provider),
    ):
        assert connector.open(shard_uri(2)).read(10) == _expected(2, 0, 10)
        connector.close()
        connector.close()  # idempotent


def test_empty_strings_mean_not_given(model_server, oss_env):
    """``""`` for both paths: environment credentials and the default configuration."""
    connector = OssModelConnector(model_server.endpoint, "", "")
    assert connector.open(shard_uri(3)).read(10) == _expected(3, 0, 10)


def test_an_empty_endpoint_is_a_value_error():
    with pytest.raises(ValueError, match="endpoint"):
        OssModelConnector("")


def test_objects_have_key_size_method_and_the_stream_calls(model_server, oss_env, tmp_config):
    connector = OssModelConnector(model_server.endpoint, config_path=tmp_config)
    uri = shard_uri(4)
    with connector.open(uri) as obj:
        assert obj.key == uri.split("/", 3)[3]
        assert obj.size() == SIZE
        assert obj.tell() == 0
        assert obj.read(100) == _expected(4, 0, 100)
        assert obj.seek(-10, io.SEEK_END) == SIZE - 10
        assert obj.read() == _expected(4, SIZE - 10, 10)
        assert obj.seek(1000) == 1000 and obj.seek(24, io.SEEK_CUR) == 1024
        buf = bytearray(4096)
        assert obj.readinto(buf) == 4096 and bytes(buf) == _expected(4, 1024, 4096)
        obj.seek(0)
        line = obj.readline(64)
        want = _expected(4, 0, 64)
        expected_line = want[: want.index(b"\n") + 1] if b"\n" in want else want
        assert line == expected_line
    assert obj.closed
    with pytest.raises(ValueError):
        obj.read(1)
    listed = connector.list(MODEL_BUCKET, uri.split("/", 3)[3])
    assert [(o.key, o.size) for o in listed] == [(obj.key, SIZE)]


def test_mmap_returns_the_address_of_the_whole_object(model_server, oss_env, tmp_config):
    """As Alibaba's own hook uses it:
    ``memoryview((ctypes.c_ubyte * size).from_address(file.mmap()))``."""
    connector = OssModelConnector(model_server.endpoint, config_path=tmp_config)
    obj = connector.open(shard_uri(5))
    obj.read(10)
    address = obj.mmap()
    assert isinstance(address, int) and address != 0
    view = memoryview((ctypes.c_ubyte * obj.size()).from_address(address))
    assert bytes(view) == _expected(5)
    assert obj.mmap() == address, "later calls return the same memory"
    assert obj.tell() == 10, "the position is neither used nor moved"
    del view
    obj.close()


def test_view_outlives_the_object_and_the_connector(model_server, oss_env, tmp_config):
    connector = OssModelConnector(model_server.endpoint, config_path=tmp_config)
    obj = connector.open(shard_uri(6))
    view = obj.view()
    assert view.readonly and len(view) == SIZE
    array = np.frombuffer(view, dtype=np.uint8)
    obj.close()
    connector.close()
    del obj, connector, view
    gc.collect()
    assert array.tobytes() == _expected(6)
    with pytest.raises(ValueError):
        array[0] = 1  # read-only: weights are not written through by accident


def test_mmap_and_view_of_an_empty_object(files_root, files_server, oss_env, tmp_config):
    (files_root / "files" / "empty").write_bytes(b"")
    with OssModelConnector(files_server.endpoint, config_path=tmp_config) as connector:
        obj = connector.open("oss://files/empty")
        assert obj.size() == 0
        assert isinstance(obj.mmap(), int)
        assert bytes(obj.view()) == b""


def test_the_package_exports_what_code_imports(tmp_path):
    import ossmodelconnector

    assert ossmodelconnector.OssModelConnector is OssModelConnector
    assert os.path.basename(ossmodelconnector.__file__) == "__init__.py"
