"""The examples of the OssModelConnector documentation, run as written.

Only the endpoint, the bucket and object names, and the configuration path differ from the
document; the lines that check the bytes against the synthetic model are additions.
"""

from __future__ import annotations

import sys

import pytest
from conftest import KEYS_BUCKET, KEYS_COUNT, KEYS_PREFIX, MODEL_BUCKET, MODEL_MIB, MODEL_NAME, MODEL_SHARDS
from ossmc_testkit import first_mismatch, key_name, key_size, seed, shard_key

SHARD_SIZE = MODEL_MIB * 1024 * 1024


def _check(key: str, offset: int, data) -> None:
    bad = first_mismatch(seed(key), offset, data)
    assert bad is None, f"{key}: byte {offset + bad} differs from the synthetic content"


def test_multi_shard_model_example(model_server, oss_env, tmp_config, capsys):
    ENDPOINT = model_server.endpoint
    CONFIG_PATH = tmp_config

    # --- from the document ("Example"), with 8 shards of the test model ---------------
    import oss2  # noqa: F401  (as in the document)
    from oss2.credentials import EnvironmentVariableCredentialsProvider

    from ossmodelconnector import OssModelConnector

    connector = OssModelConnector(
        endpoint=ENDPOINT, cred_provider=EnvironmentVariableCredentialsProvider(), config_path=CONFIG_PATH
    )

    objs = []
    for i in range(1, 9):  # 1-8
        name = f"oss://{MODEL_BUCKET}/{MODEL_NAME}/model-{i:05d}-of-{MODEL_SHARDS:05d}.safetensors"
        obj = connector.open(name)
        objs.append(obj)

    # using read
    for i in range(0, 8):  # 0-7
        key, offset = shard_key(MODEL_NAME, i + 1, MODEL_SHARDS), 0  # (check)
        while True:
            data = objs[i].read(4 * 1024 * 1024)
            if not data:
                print("read object done ", i + 1)
                break
            _check(key, offset, data)  # (check)
            offset += len(data)  # (check)
        assert offset == SHARD_SIZE  # (check)

    # or using readinto (recommended)
    buf = bytearray(4 * 1024 * 1024)
    for i in range(0, 8):  # 0-7
        key, offset = shard_key(MODEL_NAME, i + 1, MODEL_SHARDS), 0  # (check)
        objs[i].seek(0)
        while True:
            n = objs[i].readinto(buf)
            if n == 0:
                print("readinto object done ", i + 1)
                break
            _check(key, offset, memoryview(buf)[:n])  # (check)
            offset += n  # (check)
        assert offset == SHARD_SIZE  # (check)
    # --- end of the document's example --------------------------------------------------

    out = capsys.readouterr().out
    for i in range(1, 9):
        assert f"read object done  {i}\n" in out
        assert f"readinto object done  {i}\n" in out


def test_open_and_read_api_examples(model_server, oss_env, tmp_config):
    from oss2.credentials import EnvironmentVariableCredentialsProvider

    from ossmodelconnector import OssModelConnector

    connector = OssModelConnector(
        endpoint=model_server.endpoint,
        cred_provider=EnvironmentVariableCredentialsProvider(),
        config_path=tmp_config,
    )
    key = shard_key(MODEL_NAME, 3, MODEL_SHARDS)
    uri = f"oss://{MODEL_BUCKET}/{key}"

    # --- from the document ("Main APIs") ----------------------------------------------
    # open as binary mode
    obj = connector.open(uri)

    # read whole data
    data = obj.read()
    assert len(data) == SHARD_SIZE and isinstance(data, bytes)  # (check)
    _check(key, 0, data)  # (check)
    obj.seek(0)  # (added: the document reads on from where "read whole data" ended)

    # read a specified amount of data
    data = obj.read(4 * 1024 * 1024)
    _check(key, 0, data)  # (check)

    # read into buffer
    buf = bytearray(4 * 1024 * 1024)
    obj.readinto(buf)
    _check(key, 4 * 1024 * 1024, buf)  # (check)

    # seek to a position
    obj.seek(0)
    assert obj.tell() == 0  # (check)
    # --- end ------------------------------------------------------------------------------


def test_list_example(model_server, oss_env, tmp_config, capsys):
    from oss2.credentials import EnvironmentVariableCredentialsProvider

    from ossmodelconnector import OssModelConnector

    connector = OssModelConnector(
        endpoint=model_server.endpoint,
        cred_provider=EnvironmentVariableCredentialsProvider(),
        config_path=tmp_config,
    )
    prefix = KEYS_PREFIX + "img/"  # the flat directory of the key set

    # --- from the document ("List objects") -------------------------------------------
    objs = connector.list(KEYS_BUCKET, prefix)
    for obj in objs:
        print(obj.key)
        print(obj.size)
    # --- end ------------------------------------------------------------------------------

    expected = sorted(
        (key_name(KEYS_PREFIX, i), key_size(i))
        for i in range(KEYS_COUNT)
        if key_name(KEYS_PREFIX, i).startswith(prefix)
    )
    assert [(o.key, o.size) for o in objs] == expected
    printed = capsys.readouterr().out.splitlines()
    assert printed[:2] == [expected[0][0], str(expected[0][1])]


def test_list_whole_key_set_is_complete_and_ordered(model_server, oss_env, tmp_config):
    from ossmodelconnector import OssModelConnector

    connector = OssModelConnector(endpoint=model_server.endpoint, config_path=tmp_config)
    objs = connector.list(KEYS_BUCKET, KEYS_PREFIX)
    expected = sorted((key_name(KEYS_PREFIX, i), key_size(i)) for i in range(KEYS_COUNT))
    got = [(o.key, o.size) for o in objs]
    assert got == expected, "listing differs (non-ASCII keys and keys with spaces/+ included)"
    assert repr(objs[0]) == f"OssObjectInfo(key={expected[0][0]!r}, size={expected[0][1]})"


def test_fast_list_example_matches_normal_list(model_server, oss_env, tmp_config):
    from ossmodelconnector import OssModelConnector

    connector = OssModelConnector(endpoint=model_server.endpoint, config_path=tmp_config)
    normal = connector.list(KEYS_BUCKET, KEYS_PREFIX)

    # --- from the document: FastList by passing True in the third parameter -------------
    objs = connector.list(KEYS_BUCKET, KEYS_PREFIX, True)
    # --- end ------------------------------------------------------------------------------

    assert sorted(objs, key=lambda o: o.key) == normal
    assert len(objs) == KEYS_COUNT


def test_list_of_model_prefix(model_server, oss_env, tmp_config):
    from ossmodelconnector import OssModelConnector

    connector = OssModelConnector(endpoint=model_server.endpoint, config_path=tmp_config)
    objs = connector.list(MODEL_BUCKET, MODEL_NAME + "/")
    assert [o.key for o in objs] == [shard_key(MODEL_NAME, i, MODEL_SHARDS) for i in range(1, MODEL_SHARDS + 1)]
    assert all(o.size == SHARD_SIZE for o in objs)
    assert connector.list(MODEL_BUCKET, "no-such-prefix/") == []


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-v"]))


def test_the_second_loop_of_the_example_is_prefetched(oss_env, tmp_config):
    """The example reads every shard with ``read``, then ``seek(0)`` and reads each again with
    ``readinto``: the second pass must be recognised as sequential at once and prefetched
    again in open order, not fetched one request at a time. (A little latency per request,
    so that requests in flight overlap even on a busy machine.)"""
    from conftest import start_server

    from ossmodelconnector import OssModelConnector

    shards, mib = 8, 32
    server = start_server(["--model", f"twice/m:{shards}:{mib}", "--latency-ms", "5"])
    try:
        connector = OssModelConnector(endpoint=server.endpoint, config_path=tmp_config)
        keys = [shard_key("m", i, shards) for i in range(1, shards + 1)]
        objs = [connector.open(f"oss://twice/{k}") for k in keys]
        for obj in objs:
            while obj.read(4 * 1024 * 1024):
                pass
        status, _, _ = server.request("POST", "/_stats/reset")
        assert status == 200
        buf = bytearray(4 * 1024 * 1024)
        for key, obj in zip(keys, objs):
            obj.seek(0)
            offset = 0
            while True:
                n = obj.readinto(buf)
                if n == 0:
                    break
                _check(key, offset, memoryview(buf)[:n])
                offset += n
            assert offset == mib << 20
        stats = server.stats()
        peak = stats["in_flight"]["GetObject"]["peak"]
        assert peak >= 8, f"the second pass had at most {peak} GETs in flight: {stats}"
        # Fetched once more, not chunk by chunk twice: about the model's size in bytes.
        assert stats["bytes_sent"] <= shards * (mib << 20) * 1.1, stats
        connector.close()
    finally:
        server.close()
