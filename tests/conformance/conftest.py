"""Fixtures of the conformance tests: Alibaba's own clients, unmodified, against oss-local.

Every test module gets its own oss-local (module-scoped fixtures) on 127.0.0.1 with a free
port, a temporary ``--root`` for the objects the tests upload, a synthetic sharded model and a
synthetic key set (see conformance_support.py).
"""

import pytest

from conformance_support import TOKEN, start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """oss-local checking signatures made with (AK, SK), without a security token."""
    with start_server(tmp_path_factory) as s:
        yield s


@pytest.fixture(scope="module")
def token_server(tmp_path_factory):
    """oss-local that also requires the security token TOKEN."""
    with start_server(tmp_path_factory, "--security-token", TOKEN) as s:
        yield s
