"""Every way of giving credentials: environment, credentials file, oss2's and
alibabacloud-oss-v2's providers, the document's custom provider, and providers that fail,
expire or are rejected."""

from __future__ import annotations

import datetime
import json
import threading
import time

import pytest
from conftest import MODEL_BUCKET, MODEL_MIB, MODEL_NAME, MODEL_SHARDS, shard_uri, start_server
from ossmc_testkit import TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, first_mismatch, seed, shard_key

from ossmodelconnector import OssModelConnector

TOKEN = "CAIS-test-security-token-0123456789"


def _read_some(connector: OssModelConnector, shard: int = 1) -> None:
    """Opens a shard and checks its first MiB, proving the credentials were accepted."""
    with connector.open(shard_uri(shard)) as obj:
        data = obj.read(1 << 20)
    assert first_mismatch(seed(shard_key(MODEL_NAME, shard, MODEL_SHARDS)), 0, data) is None


@pytest.fixture(scope="module")
def sts_server():
    """A server that also requires a security token (STS credentials)."""
    server = start_server(
        ["--model", f"{MODEL_BUCKET}/{MODEL_NAME}:{MODEL_SHARDS}:{MODEL_MIB}", "--security-token", TOKEN]
    )
    try:
        yield server
    finally:
        server.close()


def test_environment_variables_by_default(model_server, oss_env, tmp_config):
    _read_some(OssModelConnector(model_server.endpoint, config_path=tmp_config))


def test_environment_variables_with_session_token(sts_server, oss_env, monkeypatch, tmp_config):
    monkeypatch.setenv("OSS_SESSION_TOKEN", TOKEN)
    _read_some(OssModelConnector(sts_server.endpoint, config_path=tmp_config))


def test_missing_environment_credentials_are_a_permission_error(model_server, no_oss_env, tmp_config):
    connector = OssModelConnector(model_server.endpoint, config_path=tmp_config)
    with pytest.raises(PermissionError) as info:
        connector.open(shard_uri(1))
    assert "OSS_ACCESS_KEY_ID" in str(info.value) or "credential" in str(info.value).lower()


def test_credentials_file_as_documented(sts_server, no_oss_env, tmp_path, tmp_config):
    cred_path = tmp_path / "credentials"
    expiration = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    cred_path.write_text(
        json.dumps(
            {
                "AccessKeyId": TEST_ACCESS_KEY_ID,
                "AccessKeySecret": TEST_ACCESS_KEY_SECRET,
                "SecurityToken": TOKEN,
                "Expiration": expiration,
            }
        )
    )
    connector = OssModelConnector(endpoint=sts_server.endpoint, cred_path=str(cred_path), config_path=tmp_config)
    _read_some(connector)


def test_credentials_file_without_optional_fields(model_server, no_oss_env, tmp_path, tmp_config):
    cred_path = tmp_path / "credentials"
    cred_path.write_text(json.dumps({"AccessKeyId": TEST_ACCESS_KEY_ID, "AccessKeySecret": TEST_ACCESS_KEY_SECRET}))
    _read_some(OssModelConnector(model_server.endpoint, cred_path=cred_path, config_path=tmp_config))


def test_credentials_file_that_does_not_exist(model_server, no_oss_env, tmp_path, tmp_config):
    missing = tmp_path / "nope.json"
    with pytest.raises(OSError) as info:
        connector = OssModelConnector(model_server.endpoint, cred_path=str(missing), config_path=tmp_config)
        connector.open(shard_uri(1))
    assert str(missing) in str(info.value)


def test_oss2_environment_provider(model_server, oss_env, tmp_config):
    from oss2.credentials import EnvironmentVariableCredentialsProvider

    provider = EnvironmentVariableCredentialsProvider()
    _read_some(OssModelConnector(model_server.endpoint, cred_provider=provider, config_path=tmp_config))


def test_oss2_static_provider_with_token(sts_server, no_oss_env, tmp_config):
    from oss2.credentials import StaticCredentialsProvider

    provider = StaticCredentialsProvider(TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, TOKEN)
    _read_some(OssModelConnector(sts_server.endpoint, cred_provider=provider, config_path=tmp_config))


def test_documented_custom_provider(model_server, no_oss_env, tmp_config):
    ENDPOINT, CONFIG_PATH = model_server.endpoint, tmp_config
    # --- from the document ("user-custom credentials") ---------------------------------
    from oss2 import CredentialsProvider
    from oss2.credentials import Credentials

    from ossmodelconnector import OssModelConnector

    class CredentialProviderWrapper(CredentialsProvider):
        def get_credentials(self):
            return Credentials(TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET)

    credentials_provider = CredentialProviderWrapper()
    connector = OssModelConnector(endpoint=ENDPOINT, cred_provider=credentials_provider, config_path=CONFIG_PATH)
    # --- end ------------------------------------------------------------------------------
    _read_some(connector)


def test_alibabacloud_oss_v2_providers(sts_server, monkeypatch, tmp_config):
    import alibabacloud_oss_v2 as oss

    static = oss.credentials.StaticCredentialsProvider(TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, TOKEN)
    _read_some(OssModelConnector(sts_server.endpoint, cred_provider=static, config_path=tmp_config))

    monkeypatch.setenv("OSS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID)
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", TEST_ACCESS_KEY_SECRET)
    monkeypatch.setenv("OSS_SESSION_TOKEN", TOKEN)
    env = oss.credentials.EnvironmentVariableCredentialsProvider()
    _read_some(OssModelConnector(sts_server.endpoint, cred_provider=env, config_path=tmp_config), shard=2)


class _Failing:
    def get_credentials(self):
        raise LookupError("the vault is sealed")


def test_exception_raised_by_the_provider_reaches_the_caller(model_server, tmp_config):
    connector = OssModelConnector(model_server.endpoint, cred_provider=_Failing(), config_path=tmp_config)
    with pytest.raises(LookupError, match="the vault is sealed"):
        connector.open(shard_uri(1))
    with pytest.raises(LookupError, match="the vault is sealed"):
        connector.list(MODEL_BUCKET, "")


def test_provider_returning_nothing_usable(model_server, tmp_config):
    class ReturnsNone:
        def get_credentials(self):
            return None

    connector = OssModelConnector(model_server.endpoint, cred_provider=ReturnsNone(), config_path=tmp_config)
    with pytest.raises(ValueError, match="returned None"):
        connector.open(shard_uri(1))


def test_object_without_get_credentials_is_refused():
    with pytest.raises(TypeError, match="get_credentials"):
        OssModelConnector("http://127.0.0.1:1", cred_provider=object())


def test_with_both_cred_path_and_provider_the_provider_is_used(model_server, tmp_config, tmp_path, caplog):
    """As in Alibaba's package: the provider wins; the file is never read."""
    from oss2.credentials import StaticCredentialsProvider

    provider = StaticCredentialsProvider(TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET)
    missing = tmp_path / "no-such-credentials.json"
    with caplog.at_level("WARNING", logger="ossmodelconnector"):
        connector = OssModelConnector(model_server.endpoint, str(missing), tmp_config, provider)
    _read_some(connector)
    assert "using cred_provider" in caplog.text


class _Counting:
    """Hands out the bad credentials first, then the good ones; counts calls."""

    def __init__(self, bad_key_id: str):
        self.calls = 0
        self.bad_key_id = bad_key_id
        self.lock = threading.Lock()

    def get_credentials(self):
        from oss2.credentials import Credentials

        with self.lock:
            self.calls += 1
            first = self.calls == 1
        return Credentials(self.bad_key_id if first else TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET)


def test_provider_is_asked_again_after_rejected_credentials(model_server, tmp_config):
    provider = _Counting(bad_key_id="LTAI5tRevokedKeyId")
    connector = OssModelConnector(model_server.endpoint, cred_provider=provider, config_path=tmp_config)
    # The first attempt uses the rejected key; ossmc asks the provider again, either within
    # the same call (then it succeeds) or on the next one.
    try:
        _read_some(connector)
    except PermissionError as e:
        assert e.code == "InvalidAccessKeyId"
        _read_some(connector)
    assert provider.calls >= 2


def test_provider_is_asked_again_before_expiration(model_server, tmp_config):
    import alibabacloud_oss_v2 as oss

    calls = []

    class ShortLived:
        def get_credentials(self):
            calls.append(1)
            # Expiring within the 5-minute refresh margin: every use asks again.
            soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
            return oss.credentials.Credentials(TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, None, soon)

    connector = OssModelConnector(model_server.endpoint, cred_provider=ShortLived(), config_path=tmp_config)
    _read_some(connector, 1)
    first = len(calls)
    # ossmc re-asks a provider whose credentials expire soon at most once a second.
    time.sleep(1.2)
    _read_some(connector, 2)
    assert first >= 1 and len(calls) > first


def test_provider_called_from_native_threads_while_reading_in_parallel(model_server, tmp_config):
    from oss2.credentials import StaticCredentialsProvider

    connector = OssModelConnector(
        model_server.endpoint,
        cred_provider=StaticCredentialsProvider(TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET),
        config_path=tmp_config,
    )
    errors = []

    def worker(i):
        try:
            _read_some(connector, i)
        except BaseException as e:  # noqa: B902 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
