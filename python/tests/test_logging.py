"""Each connector logs to its own ``logPath`` at its own ``logLevel``: a second connector in the
process does not share the first one's file or level."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import start_server
from ossmc_testkit import shard_key

from ossmodelconnector import OssModelConnector


def _connector(endpoint: str, tmp_path: Path, name: str, config: dict) -> OssModelConnector:
    path = tmp_path / f"{name}.json"
    path.write_text(
        json.dumps(
            {
                "logPath": str(tmp_path / f"{name}.log"),
                "auditPath": str(tmp_path / f"{name}-audit.log"),
                **config,
            }
        )
    )
    return OssModelConnector(endpoint, config_path=str(path))


def _work(connector: OssModelConnector, bucket: str, name: str) -> None:
    assert len(connector.list(bucket, f"{name}/")) == 2
    assert len(connector.list(bucket, f"{name}/", fast=True)) == 2
    for i in (1, 2):
        with connector.open(f"oss://{bucket}/{shard_key(name, i, 2)}") as obj:
            assert len(obj.read()) == 2 << 20


def test_each_connector_logs_to_its_own_file_at_its_own_level(oss_env, tmp_path):
    with start_server(["--model", "pylog-alpha/ma:2:2", "--model", "pylog-beta/mb:2:2"]) as server:
        a = _connector(server.endpoint, tmp_path, "a", {"logLevel": 1})
        # An unknown field: its warning belongs in B's log.
        b = _connector(server.endpoint, tmp_path, "b", {"logLevel": 0, "unknownForB": 1})
        _work(a, "pylog-alpha", "ma")
        _work(b, "pylog-beta", "mb")
        a.close()
        _work(b, "pylog-beta", "mb")
        b.close()

    a_log = (tmp_path / "a.log").read_text()
    b_log = (tmp_path / "b.log").read_text()
    assert "INFO  [ossmc::connector] connector for" in a_log
    assert "fast list of oss://pylog-alpha/ma/" in a_log
    assert " DEBUG " not in a_log, a_log
    assert "pylog-beta" not in a_log and "unknownForB" not in a_log, a_log

    assert "DEBUG [ossmc::prefetch] open oss://pylog-beta/mb/" in b_log, b_log
    # GetObject requests are sent by B's prefetch threads.
    assert any("DEBUG [ossmc::client] GetObject GET" in l and "/pylog-beta/" in l for l in b_log.splitlines()), b_log
    assert "fast list of oss://pylog-beta/mb/" in b_log
    assert 'unknown field "unknownForB" ignored' in b_log, b_log
    assert "pylog-alpha" not in b_log, b_log
