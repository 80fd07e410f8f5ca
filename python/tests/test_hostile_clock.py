"""A server that answers with an absurd ``Date`` (``Fri, 31 Dec 9999 23:59:59 GMT``) makes
``read`` raise a clear PermissionError naming that date, instead of hanging, and the
connector keeps working afterwards."""

from __future__ import annotations

import threading

from conftest import start_server
from ossmc_testkit import shard_key

import ossmodelconnector as omc
from ossmodelconnector import OssModelConnector

# Far beyond what failing takes; before the fix the read waited forever.
BOUND_S = 30.0


def test_an_absurd_date_fails_the_read_and_the_connector_stays_usable(oss_env, tmp_config):
    with start_server(["--model", "clock/m:2:8", "--absurd-date-rate", "1"]) as server:
        connector = OssModelConnector(server.endpoint, config_path=tmp_config)
        obj = connector.open(f"oss://clock/{shard_key('m', 1, 2)}")
        outcome = {}

        def read() -> None:
            try:
                outcome["data"] = obj.read()
            except Exception as e:  # noqa: BLE001 - the test inspects whatever came
                outcome["error"] = e

        t = threading.Thread(target=read, daemon=True)
        t.start()
        t.join(BOUND_S)
        assert not t.is_alive(), f"read() still blocked after {BOUND_S} s"
        e = outcome.get("error")
        assert isinstance(e, PermissionError) and isinstance(e, omc.AccessDeniedError), outcome
        assert e.code == "RequestTimeTooSkewed"
        assert "Date: Fri, 31 Dec 9999 23:59:59 GMT" in str(e)
        obj.close()
        # The absurd date was not learned: the next request is signed at the right time.
        other = connector.open(f"oss://clock/{shard_key('m', 2, 2)}")
        assert other.size() == 8 << 20
        other.close()
        assert server.stats()["faults"]["absurd_date"] >= 1
        connector.close()
