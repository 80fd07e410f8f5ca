"""Servers that keep a request alive without delivering end in TimeoutError: a body trickled
below the minimum rate misses its deadline, and a body that never comes after the headers
times out at the read timeout."""

from __future__ import annotations

import json
import time

import pytest
from conftest import MODEL_BUCKET, MODEL_NAME, start_server

import ossmodelconnector as omc
from ossmodelconnector import OssModelConnector

#: What each attempt must stay within, with the defaults and timeouts.readMs = 2000.
ATTEMPT_BOUND_S = 15
ATTEMPTS = 2


@pytest.fixture
def slow_config(tmp_path) -> str:
    """The default minimum rate, a 2 s read timeout, two attempts, one 64 KiB request at a time."""
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {
                "logPath": str(tmp_path / "connector.log"),
                "auditPath": str(tmp_path / "audit.log"),
                "timeouts": {"readMs": 2000},
                "retry": {"maxAttempts": ATTEMPTS, "baseDelayMs": 10, "maxDelayMs": 50},
                "prefetch": {"vcpus": 1, "workers": 1, "chunkSize": 65536},
            }
        )
    )
    return str(path)


def test_a_trickled_range_is_a_timeout_error(oss_env, slow_config):
    args = ["--model", f"{MODEL_BUCKET}/{MODEL_NAME}:1:1", "--trickle-bytes-per-sec", "256"]
    with start_server(args) as server:
        # Closed here, not left to the garbage collector: see the note at the end.
        with OssModelConnector(server.endpoint, config_path=slow_config) as connector:
            reader = connector.open(f"oss://{MODEL_BUCKET}/{MODEL_NAME}/model-00001-of-00001.safetensors")
            started = time.monotonic()
            # At 256 B/s these 64 KiB would take over four minutes per attempt.
            with pytest.raises(TimeoutError) as info:
                reader.read(65536)
            took = time.monotonic() - started
            reader.close()
        assert isinstance(info.value, omc.RequestTimeoutError)
        assert "arrived too slowly" in str(info.value)
        assert took < ATTEMPT_BOUND_S * ATTEMPTS, took
        assert server.stats()["faults"]["trickle"] >= ATTEMPTS


def test_a_stall_after_the_headers_is_a_timeout_error(oss_env, slow_config):
    with start_server(["--keys", "data/set/:10", "--stall-after-headers"]) as server:
        with OssModelConnector(server.endpoint, config_path=slow_config) as connector:
            with pytest.raises(TimeoutError) as info:
                connector.list("data", "set/")
        assert isinstance(info.value, omc.RequestTimeoutError)
        assert "stalled after 0 " in str(info.value)
        assert server.stats()["faults"]["stall_after_headers"] == ATTEMPTS


# Note: both tests close their reader and connector themselves. Left to the garbage collector,
# a native handle's finalizer can run on the thread of a later call while that thread holds
# cffi's type-parsing lock (in ffi.new), and the finalizer's lib attribute lookup then waits
# on the same lock forever.
