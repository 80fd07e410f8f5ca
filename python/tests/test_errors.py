"""Errors arrive as the built-in exceptions Python users catch, with OSS's details and
without secrets."""

from __future__ import annotations

import json
import socket

import pytest
from conftest import MODEL_BUCKET, MODEL_MIB, MODEL_NAME, MODEL_SHARDS, shard_uri, start_server
from ossmc_testkit import TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET

import ossmodelconnector as omc
from ossmodelconnector import OssModelConnector
from ossmodelconnector import errors as errmod


def _assert_no_secret(exc: BaseException, *secrets: str) -> None:
    for text in (str(exc), repr(exc)):
        for secret in secrets:
            assert secret not in text, "a secret leaked into an error message"


def test_no_such_key(model_server, oss_env, tmp_config):
    connector = OssModelConnector(model_server.endpoint, config_path=tmp_config)
    with pytest.raises(FileNotFoundError) as info:
        connector.open(f"oss://{MODEL_BUCKET}/{MODEL_NAME}/missing.safetensors")
    e = info.value
    assert isinstance(e, omc.NoSuchKeyError) and isinstance(e, omc.OssModelConnectorError)
    assert e.http_status == 404
    assert e.code in ("NoSuchKey", None)  # a HEAD response has no body to carry the code
    assert e.request_id, "the request id of the failed request is kept"
    assert e.bucket == MODEL_BUCKET and e.key == f"{MODEL_NAME}/missing.safetensors"
    assert e.status == errmod.lib.OSSMC_NO_SUCH_KEY and e.status_name == "OSSMC_NO_SUCH_KEY"
    assert f"{MODEL_NAME}/missing.safetensors" in str(e)
    _assert_no_secret(e, TEST_ACCESS_KEY_SECRET)


def test_no_such_bucket(model_server, oss_env, tmp_config):
    connector = OssModelConnector(model_server.endpoint, config_path=tmp_config)
    with pytest.raises(FileNotFoundError) as info:
        connector.list("no-such-bucket", "")
    assert isinstance(info.value, omc.NoSuchBucketError)
    assert info.value.code == "NoSuchBucket" and info.value.http_status == 404
    assert info.value.request_id
    with pytest.raises(FileNotFoundError):
        connector.open("oss://no-such-bucket/some/key")


@pytest.mark.parametrize(
    "key_id, secret, code",
    [
        (TEST_ACCESS_KEY_ID, "WrongSecret-0123456789", "SignatureDoesNotMatch"),
        ("LTAI5tUnknownKeyId", TEST_ACCESS_KEY_SECRET, "InvalidAccessKeyId"),
    ],
)
def test_rejected_credentials(model_server, monkeypatch, tmp_config, key_id, secret, code):
    monkeypatch.setenv("OSS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", secret)
    monkeypatch.delenv("OSS_SESSION_TOKEN", raising=False)
    connector = OssModelConnector(model_server.endpoint, config_path=tmp_config)
    with pytest.raises(PermissionError) as info:
        connector.list(MODEL_BUCKET, "")
    e = info.value
    assert isinstance(e, omc.AccessDeniedError)
    assert e.code == code and e.http_status == 403 and e.request_id
    _assert_no_secret(e, secret, TEST_ACCESS_KEY_SECRET)


def test_invalid_or_expired_security_token(monkeypatch, tmp_config):
    with start_server(
        ["--model", f"{MODEL_BUCKET}/{MODEL_NAME}:{MODEL_SHARDS}:{MODEL_MIB}", "--security-token", "current-token"]
    ) as server:
        monkeypatch.setenv("OSS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID)
        monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", TEST_ACCESS_KEY_SECRET)
        monkeypatch.setenv("OSS_SESSION_TOKEN", "stale-token-from-yesterday")
        connector = OssModelConnector(server.endpoint, config_path=tmp_config)
        with pytest.raises(PermissionError) as info:
            connector.open(shard_uri(1))
        assert info.value.http_status == 403
        _assert_no_secret(info.value, "stale-token-from-yesterday", TEST_ACCESS_KEY_SECRET)


def test_expired_credentials_file_is_a_permission_error(model_server, no_oss_env, tmp_path, tmp_config):
    cred_path = tmp_path / "credentials"
    cred_path.write_text(
        json.dumps(
            {
                "AccessKeyId": TEST_ACCESS_KEY_ID,
                "AccessKeySecret": "SecretOfAnExpiredToken-987",
                "SecurityToken": "expired-token-abc",
                "Expiration": "2020-01-01T00:00:00Z",
            }
        )
    )
    connector = OssModelConnector(model_server.endpoint, cred_path=str(cred_path), config_path=tmp_config)
    with pytest.raises(PermissionError) as info:
        connector.open(shard_uri(1))
    _assert_no_secret(info.value, "SecretOfAnExpiredToken-987", "expired-token-abc")


@pytest.mark.parametrize(
    "uri",
    ["s3://bucket/key", "oss://", "oss://bucket", "oss://bucket/", "/local/path", "oss:///key", "oss://Bad_Bucket/k"],
)
def test_bad_uri_is_a_value_error(model_server, oss_env, tmp_config, uri):
    connector = OssModelConnector(model_server.endpoint, config_path=tmp_config)
    with pytest.raises(ValueError) as info:
        connector.open(uri)
    assert isinstance(info.value, omc.InvalidArgumentError)


def test_bad_arguments_are_value_or_type_errors(model_server, oss_env, tmp_config):
    connector = OssModelConnector(model_server.endpoint, config_path=tmp_config)
    with pytest.raises(ValueError):
        connector.list("Invalid Bucket!", "")
    with pytest.raises(ValueError, match="NUL"):
        connector.open("oss://bucket/a\0b")
    with pytest.raises(TypeError):
        connector.open(42)
    with connector.open(shard_uri(1)) as obj:
        with pytest.raises(ValueError):
            obj.seek(0, 7)
        with pytest.raises(ValueError):
            obj.seek(-1)
        with pytest.raises(TypeError):
            obj.readinto(b"read-only bytes")
        with pytest.raises(TypeError):
            obj.readinto(12)


def test_bad_endpoint_is_a_value_error(oss_env, tmp_config):
    with pytest.raises(ValueError):
        OssModelConnector("ftp://example.com", config_path=tmp_config)


def test_bad_config_names_line_and_column(tmp_path, oss_env):
    # The document's own example configuration lacks a comma after the "prefetch" block.
    config = tmp_path / "config.json"
    config.write_text('{\n    "logLevel": 1,\n    "prefetch": {\n        "vcpus": 24\n    }\n    "fastList": {}\n}\n')
    with pytest.raises(ValueError) as info:
        OssModelConnector("http://127.0.0.1:1", config_path=str(config))
    assert isinstance(info.value, omc.InvalidConfigError)
    message = str(info.value)
    assert "line 6" in message and "column" in message, message


def test_bad_config_value(tmp_path, oss_env):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"logLevel": 9}))
    with pytest.raises(ValueError, match="logLevel"):
        OssModelConnector("http://127.0.0.1:1", config_path=str(config))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_network_failure_is_a_connection_error(oss_env, tmp_config):
    connector = OssModelConnector(f"http://127.0.0.1:{_closed_port()}", config_path=tmp_config)
    with pytest.raises(ConnectionError) as info:
        connector.open("oss://bucket/key")
    assert isinstance(info.value, omc.NetworkError) and isinstance(info.value, OSError)
    assert info.value.http_status is None


def test_timeout_is_a_timeout_error(oss_env, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "logPath": str(tmp_path / "log"),
                "auditPath": str(tmp_path / "audit"),
                "timeouts": {"connectMs": 1000, "readMs": 300},
                "retry": {"maxAttempts": 1},
            }
        )
    )
    with start_server(["--model", f"{MODEL_BUCKET}/{MODEL_NAME}:1:1", "--latency-ms", "3000"]) as server:
        connector = OssModelConnector(server.endpoint, config_path=str(config))
        with pytest.raises(TimeoutError) as info:
            connector.list(MODEL_BUCKET, "")
        assert isinstance(info.value, omc.RequestTimeoutError)


def _listing(endpoint: str, config: str):
    connector = OssModelConnector(endpoint, config_path=config)
    try:
        return [(o.key, o.size) for o in connector.list("data", "set/")]
    finally:
        connector.close()


def test_listing_pages_that_break_off_are_continued_exactly(oss_env, tmp_config):
    # Half of the listing responses break off part-way through a chunked body, and the test
    # configuration allows 2 tries per request: 20 pages used to end in a NetworkError.
    keys = ["--keys", "data/set/:20000"]
    with start_server(keys) as clean:
        want = _listing(clean.endpoint, tmp_config)
    assert len(want) == 20000
    faults = ["--chunked-listings", "--list-reset-rate", "0.5", "--seed", "2"]
    with start_server(keys + faults) as server:
        assert _listing(server.endpoint, tmp_config) == want
        assert server.stats()["faults"]["reset"] >= 10


def test_a_listing_that_gets_no_further_says_how_far_it_got(oss_env, tmp_config):
    # Every listing response breaks off, so the last page never arrives whole.
    with start_server(["--keys", "data/set/:40", "--chunked-listings", "--list-reset-rate", "1"]) as server:
        connector = OssModelConnector(server.endpoint, config_path=tmp_config)
        with pytest.raises(ConnectionError) as info:
            connector.list("data", "set/")
        e = info.value
        assert isinstance(e, omc.NetworkError)
        assert "ListObjectsV2 response body broke off after" in str(e)
        assert "bytes (length not announced)" in str(e) and " of 0 bytes" not in str(e)
        assert e.bucket == "data"


def test_a_listing_with_a_nul_key_raises_a_protocol_error(oss_env, tmp_config):
    # A key with NUL would reach Python cut at the NUL through the C API: the listing is
    # refused instead, the normal one and FastList alike.
    with start_server(["--keys", "data/set/:40", "--listing-fault", "nul-key"]) as server:
        connector = OssModelConnector(server.endpoint, config_path=tmp_config)
        for fast in (False, True):
            with pytest.raises(OSError) as info:
                connector.list("data", "set/", fast=fast)
            e = info.value
            assert isinstance(e, omc.ProtocolError)
            assert "which contains NUL" in str(e) and "oss://data/set/" in str(e)
            assert e.bucket == "data"
        assert server.stats()["faults"]["listing"] >= 2
        connector.close()


def test_use_after_close_is_a_value_error(model_server, oss_env, tmp_config):
    connector = OssModelConnector(model_server.endpoint, config_path=tmp_config)
    obj = connector.open(shard_uri(1))
    obj.close()
    for call in (obj.read, obj.tell, lambda: obj.readinto(bytearray(4)), lambda: obj.seek(0)):
        with pytest.raises(ValueError, match="closed"):
            call()
    connector.close()
    with pytest.raises(ValueError, match="closed"):
        connector.open(shard_uri(1))


def test_every_status_maps_to_the_expected_builtin():
    lib = errmod.lib
    expected = {
        "OSSMC_NO_SUCH_KEY": FileNotFoundError,
        "OSSMC_NO_SUCH_BUCKET": FileNotFoundError,
        "OSSMC_ACCESS_DENIED": PermissionError,
        "OSSMC_INVALID_CREDENTIALS": PermissionError,
        "OSSMC_INVALID_ARGUMENT": ValueError,
        "OSSMC_INVALID_URI": ValueError,
        "OSSMC_INVALID_CONFIG": ValueError,
        "OSSMC_NETWORK": ConnectionError,
        "OSSMC_TIMEOUT": TimeoutError,
        "OSSMC_SERVER_ERROR": OSError,
        "OSSMC_CORRUPTED": OSError,
        "OSSMC_IO": OSError,
        "OSSMC_PANIC": RuntimeError,
    }
    for name, builtin in expected.items():
        cls = errmod.exception_class_for_status(getattr(lib, name))
        assert issubclass(cls, builtin) and issubclass(cls, omc.OssModelConnectorError), name
    # Every status the header declares maps to a class, and the library knows its name.
    assert set(errmod.STATUS_NAMES.values()) >= set(expected)
    for status, name in errmod.STATUS_NAMES.items():
        assert errmod.ffi.string(lib.ossmc_status_name(status)).decode() == name
        assert issubclass(errmod.exception_class_for_status(status), omc.OssModelConnectorError)
    # A status added later still lands in its family.
    assert issubclass(errmod.exception_class_for_status(399), FileNotFoundError)
    assert issubclass(errmod.exception_class_for_status(499), PermissionError)
