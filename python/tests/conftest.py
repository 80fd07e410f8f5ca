"""Fixtures for the ossmodelconnector tests: oss-local servers, credentials, configuration.

Every test talks to its own oss-local on 127.0.0.1 (a free port), started through the shared
Python test kit ``tools/testkit/python/ossmc_testkit``. The package under test is the
installed one (``pip install ./python``); with ``OSSMC_LIBRARY`` set to a built
``libossmc.so`` the source tree's package is used instead, for development.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "testkit" / "python"))
if os.environ.get("OSSMC_LIBRARY"):
    sys.path.insert(0, str(REPO / "python"))

from ossmc_testkit import TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, OssLocal  # noqa: E402

#: The synthetic model every read test uses: BUCKET/NAME with SHARDS shards of MIB MiB.
MODEL_BUCKET = "models"
MODEL_NAME = "qwen"
MODEL_SHARDS = 8
MODEL_MIB = 16
#: A set of small synthetic objects for listing tests.
KEYS_BUCKET = "data"
KEYS_PREFIX = "set/"
KEYS_COUNT = 2500

_ENV_NAMES = ("OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET", "OSS_SESSION_TOKEN")


@pytest.fixture
def tmp_config(tmp_path: Path) -> str:
    """A configuration file keeping logs in the test's folder, with few retries so that
    failure tests finish quickly."""
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "logLevel": 1,
                "logPath": str(tmp_path / "connector.log"),
                "auditPath": str(tmp_path / "audit.log"),
                "retry": {"maxAttempts": 2, "baseDelayMs": 10, "maxDelayMs": 50},
            }
        )
    )
    return str(path)


@pytest.fixture
def oss_env(monkeypatch: pytest.MonkeyPatch) -> Dict[str, str]:
    """The test credentials in the environment variables the connector reads by default."""
    monkeypatch.setenv("OSS_ACCESS_KEY_ID", TEST_ACCESS_KEY_ID)
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", TEST_ACCESS_KEY_SECRET)
    monkeypatch.delenv("OSS_SESSION_TOKEN", raising=False)
    return {"OSS_ACCESS_KEY_ID": TEST_ACCESS_KEY_ID, "OSS_ACCESS_KEY_SECRET": TEST_ACCESS_KEY_SECRET}


@pytest.fixture
def no_oss_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No credentials in the environment."""
    for name in _ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def start_server(args: List[str], **kwargs) -> OssLocal:
    """An oss-local with the test credentials and ``args``."""
    return OssLocal(args, **kwargs)


@pytest.fixture(scope="module")
def model_server() -> Iterator[OssLocal]:
    """oss-local serving the synthetic model and the key set (shared by a module's tests,
    which only read)."""
    server = start_server(
        [
            "--model",
            f"{MODEL_BUCKET}/{MODEL_NAME}:{MODEL_SHARDS}:{MODEL_MIB}",
            "--keys",
            f"{KEYS_BUCKET}/{KEYS_PREFIX}:{KEYS_COUNT}",
        ]
    )
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def files_root(tmp_path: Path) -> Path:
    """A folder served by :func:`files_server`: each subfolder is a bucket."""
    root = tmp_path / "root"
    (root / "files").mkdir(parents=True)
    return root


@pytest.fixture
def files_server(files_root: Path) -> Iterator[OssLocal]:
    """oss-local serving the files the test wrote under ``files_root`` (bucket ``files``)."""
    server = start_server(["--root", str(files_root)])
    try:
        yield server
    finally:
        server.close()


def shard_uri(i: int) -> str:
    """The URI of shard ``i`` (1-based) of the test model."""
    from ossmc_testkit import shard_key

    return f"oss://{MODEL_BUCKET}/{shard_key(MODEL_NAME, i, MODEL_SHARDS)}"
