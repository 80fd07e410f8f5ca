"""A server that goes silent never holds the process: at exit, the ``atexit`` hook closes the
objects and frees the connector while their prefetch requests hang unanswered, and the
interpreter ends promptly instead of waiting out the read timeout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

from conftest import start_server

CHILD = textwrap.dedent(
    """
    import sys
    sys.path[:0] = {paths!r}
    from ossmodelconnector import OssModelConnector
    connector = OssModelConnector({endpoint!r}, config_path={config!r})
    objects = [connector.open(uri) for uri in {uris!r}]
    print("opened", flush=True)
    sys.stdin.readline()
    # Exits with the objects and the connector open: atexit closes them.
    """
)

# Far below the 30 s read timeout a stuck fetcher used to be joined for; generous for a
# loaded machine starting the interpreter's shutdown.
PROMPT_S = 8.0


def test_exit_is_prompt_while_prefetch_requests_hang(tmp_path):
    from ossmc_testkit import TEST_ACCESS_KEY_ID, TEST_ACCESS_KEY_SECRET, shard_key

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"logPath": str(tmp_path / "log"), "auditPath": str(tmp_path / "audit")}))
    with start_server(["--model", "silent/m:2:8", "--stall-get-rate", "1"]) as server:
        uris = [f"oss://silent/{shard_key('m', i, 2)}" for i in (1, 2)]
        paths = [p for p in sys.path if p]
        script = CHILD.format(paths=paths, endpoint=server.endpoint, config=str(config), uris=uris)
        env = dict(os.environ, OSS_ACCESS_KEY_ID=TEST_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET=TEST_ACCESS_KEY_SECRET)
        env.pop("OSS_SESSION_TOKEN", None)
        child = subprocess.Popen(
            [sys.executable, "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        try:
            assert child.stdout.readline().strip() == b"opened", child.stderr.read()
            # Both objects' prefetch requests reached the server and hang there.
            deadline = time.monotonic() + 60
            while server.stats()["faults"]["stall"] < 2:
                assert time.monotonic() < deadline, "no GetObject reached the server"
                time.sleep(0.01)
            started = time.monotonic()
            out, err = child.communicate(b"exit\n", timeout=60)
            took = time.monotonic() - started
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        assert child.returncode == 0, (out, err)
        assert took < PROMPT_S, f"the process took {took:.1f} s to exit"
