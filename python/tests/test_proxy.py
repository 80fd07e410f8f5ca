"""Proxies through the Python API: the configuration's ``proxy`` and ``noProxy`` keys and the
``http_proxy`` / ``NO_PROXY`` environment variables, with a real tinyproxy (installed by
tools/setup.sh) whose own log shows the requests it carried.

Skipped when tinyproxy is not installed, except under CI, where that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator, List

import pytest
from conftest import start_server
from ossmc_testkit import first_mismatch, seed

import ossmodelconnector as omc
from ossmodelconnector import OssModelConnector

PROXY_VARS = (
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
)


def _tinyproxy() -> str:
    found = shutil.which("tinyproxy") or next(
        (p for p in ("/usr/bin/tinyproxy", "/usr/sbin/tinyproxy") if os.path.isfile(p)), None
    )
    if found is None:
        assert not os.environ.get("CI"), "tinyproxy is not installed, and CI is set: tools/setup.sh installs it"
        pytest.skip("tinyproxy is not installed (tools/setup.sh installs it)")
    return found


class TinyProxy:
    def __init__(self, binary: str, folder: Path) -> None:
        for _ in range(5):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
            self.log = folder / f"tinyproxy-{self.port}.log"
            conf = folder / f"tinyproxy-{self.port}.conf"
            conf.write_text(
                f"Port {self.port}\nListen 127.0.0.1\nTimeout 60\nLogFile \"{self.log}\"\n"
                "LogLevel Connect\nMaxClients 64\nAllow 127.0.0.1\n"
            )
            self.proc = subprocess.Popen(
                [binary, "-d", "-c", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 20
            while self.proc.poll() is None and time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return
                except OSError:
                    time.sleep(0.02)
            self.close()
        raise RuntimeError("tinyproxy could not be started")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests(self) -> List[str]:
        if not self.log.exists():
            return []
        return [
            line.split("): ", 1)[1]
            for line in self.log.read_text().splitlines()
            if " Request (" in line and "): " in line
        ]

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def tinyproxy(tmp_path: Path) -> Iterator[TinyProxy]:
    tp = TinyProxy(_tinyproxy(), tmp_path)
    try:
        yield tp
    finally:
        tp.close()


@pytest.fixture
def server() -> Iterator:
    s = start_server(["--model", "proxied/m:2:3"])
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def clean_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


def _config(tmp_path: Path, name: str, **extra) -> str:
    path = tmp_path / f"{name}.json"
    body = {
        "logLevel": 1,
        "logPath": str(tmp_path / f"{name}.log"),
        "auditPath": str(tmp_path / f"{name}-audit.log"),
        "retry": {"maxAttempts": 2, "baseDelayMs": 10, "maxDelayMs": 50},
    }
    body.update(extra)
    path.write_text(json.dumps(body))
    return str(path)


def _load(connector: OssModelConnector) -> List[str]:
    keys = [o.key for o in connector.list("proxied")]
    assert len(keys) == 2
    for key in keys:
        with connector.open(f"oss://proxied/{key}") as f:
            data = f.read()
        assert len(data) == 3 << 20
        assert first_mismatch(seed(key), 0, data) is None, key
    return keys


def test_config_proxy_carries_every_load(server, tinyproxy, oss_env, clean_proxy_env, tmp_path):
    cfg = _config(tmp_path, "cfg", proxy=tinyproxy.url)
    keys = _load(OssModelConnector(server.endpoint, config_path=cfg))
    seen = tinyproxy.requests()
    for key in keys:
        assert any(r.startswith(f"HEAD {server.endpoint}/proxied/{key} ") for r in seen), seen
        assert any(r.startswith(f"GET {server.endpoint}/proxied/{key} ") for r in seen), seen
    assert f"proxy {tinyproxy.url} (from config proxy)" in (tmp_path / "cfg.log").read_text()


def test_environment_variables_and_their_precedence(
    server, tinyproxy, oss_env, clean_proxy_env, monkeypatch, tmp_path
):
    monkeypatch.setenv("http_proxy", tinyproxy.url)
    _load(OssModelConnector(server.endpoint, config_path=_config(tmp_path, "env")))
    carried = len(tinyproxy.requests())
    assert carried >= 5, tinyproxy.requests()
    assert "(from environment variable http_proxy)" in (tmp_path / "env.log").read_text()

    # NO_PROXY sends the requests direct.
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    _load(OssModelConnector(server.endpoint, config_path=_config(tmp_path, "noproxy")))
    assert len(tinyproxy.requests()) == carried
    monkeypatch.delenv("NO_PROXY")

    # "proxy": "none" in the configuration wins over the environment.
    _load(OssModelConnector(server.endpoint, config_path=_config(tmp_path, "none", proxy="none")))
    assert len(tinyproxy.requests()) == carried
    assert "no proxy" in (tmp_path / "none.log").read_text()

    # So does noProxy over NO_PROXY: the environment says bypass, the configuration does not.
    monkeypatch.setenv("no_proxy", "*")
    cfg = _config(tmp_path, "cfgnp", noProxy=["example.com"])
    _load(OssModelConnector(server.endpoint, config_path=cfg))
    assert len(tinyproxy.requests()) > carried


def test_bad_proxy_settings_name_the_problem_and_hide_the_password(
    server, oss_env, clean_proxy_env, monkeypatch, tmp_path
):
    cfg = _config(tmp_path, "bad", proxy="socks5://user:hunter2@127.0.0.1:1080")
    with pytest.raises(omc.InvalidConfigError) as e:
        OssModelConnector(server.endpoint, config_path=cfg)
    assert "SOCKS proxies are not supported" in str(e.value)
    assert "hunter2" not in str(e.value) and "***@127.0.0.1:1080" in str(e.value)

    monkeypatch.setenv("http_proxy", "http://user:hunter2@127.0.0.1:notaport")
    with pytest.raises(omc.InvalidConfigError) as e:
        OssModelConnector(server.endpoint, config_path=_config(tmp_path, "envbad"))
    assert "environment variable http_proxy: proxy must be a URL" in str(e.value)
    assert "the port must be a number from 1 to 65535" in str(e.value)
    assert "hunter2" not in str(e.value)
