"""A failing credentials provider must not leave the credentials it held within reach of the
exception the caller sees: not in traceback frames, chained exceptions or attributes (tools
that print or ship exceptions, such as error trackers, read all of them)."""

from __future__ import annotations

import sys
import types
import uuid
from typing import Any, Iterator, List

import pytest

from ossmodelconnector import OssModelConnector
from ossmodelconnector.errors import CredentialsProviderError

# Made at run time so that only the objects under test can hold it.
SECRET = "hygiene-secret-" + uuid.uuid4().hex
TOKEN = "hygiene-token-" + uuid.uuid4().hex
# Nothing listens here: the provider is asked before any connection is made.
ENDPOINT = "http://127.0.0.1:1"


def _reachable(exc: BaseException) -> Iterator[Any]:
    """Every exception, traceback frame local and attribute reachable from ``exc``."""
    seen: List[int] = []
    pending: List[Any] = [exc]
    while pending:
        e = pending.pop()
        if e is None or id(e) in seen:
            continue
        seen.append(id(e))
        yield e
        yield from e.args
        yield from vars(e).values()
        yield from getattr(e, "__notes__", [])
        tb = e.__traceback__
        while tb is not None:
            frame: types.FrameType = tb.tb_frame
            yield from frame.f_locals.values()
            tb = tb.tb_next
        pending += [e.__context__, e.__cause__]


def _assert_no_secrets(exc: BaseException) -> None:
    for value in _reachable(exc):
        for text in (repr(value), str(value)):
            assert SECRET not in text, f"the secret is reachable from the exception: {text[:200]}"
            assert TOKEN not in text, f"the token is reachable from the exception: {text[:200]}"


class _RaisesHoldingSecrets:
    """Raises after its frame came to hold the secret and the token."""

    def get_credentials(self):
        secret, token = SECRET, TOKEN
        raise LookupError(f"the vault is sealed ({len(secret) + len(token)} bytes withheld)")


def test_provider_exception_keeps_type_and_message_but_not_the_frames_holding_secrets(tmp_config):
    connector = OssModelConnector(ENDPOINT, cred_provider=_RaisesHoldingSecrets(), config_path=tmp_config)
    for attempt in range(2):  # the kept exception is raised again by later calls
        with pytest.raises(LookupError, match="the vault is sealed") as info:
            connector.list("models", "")
        _assert_no_secrets(info.value)
        assert info.value.__context__ is None and info.value.__cause__ is None
        if sys.version_info >= (3, 11):  # exception notes
            assert any("credentials provider" in note for note in info.value.__notes__)


class _ReturnsNonUtf8Secret:
    def __init__(self, form: str) -> None:
        self.form = form

    def get_credentials(self):
        # Made here: the test's own frame (in the traceback) must not hold it.
        secret = b"\xff" + SECRET.encode() if self.form == "bytes" else "\udcff" + SECRET
        return types.SimpleNamespace(access_key_id="LTAIhygiene", access_key_secret=secret, security_token=TOKEN)


@pytest.mark.parametrize("form", ["bytes", "str with a lone surrogate"])
def test_non_utf8_secret_is_a_clear_error_without_the_secret(form, tmp_config):
    connector = OssModelConnector(ENDPOINT, cred_provider=_ReturnsNonUtf8Secret(form), config_path=tmp_config)
    with pytest.raises(ValueError, match="access key secret that is not valid UTF-8") as info:
        connector.list("models", "")
    assert not isinstance(info.value, UnicodeError)
    _assert_no_secrets(info.value)


class _OddError(Exception):
    """An exception that cannot be built again from its message, and keeps the secret."""

    def __init__(self, reason: str, vault: Any) -> None:
        super().__init__(reason)
        self.vault = vault


class _RaisesUnrebuildable:
    def get_credentials(self):
        raise _OddError("the vault answered 503", {"secret": SECRET})


class _RebuildInterrupts(Exception):
    """An exception whose constructor, run again to copy it, raises KeyboardInterrupt."""

    built = 0

    def __init__(self, reason: str) -> None:
        type(self).built += 1
        if type(self).built > 1:
            raise KeyboardInterrupt
        super().__init__(reason)


class _RaisesRebuildInterrupts:
    def get_credentials(self):
        _RebuildInterrupts.built = 0
        raise _RebuildInterrupts("the vault is sealed")


class _RaisesUnicodeDecodeError:
    def get_credentials(self):
        return (b"\xff" + SECRET.encode()).decode("utf-8")


@pytest.mark.parametrize(
    "provider, kind",
    [
        (_RaisesUnrebuildable(), "_OddError"),
        (_RaisesUnicodeDecodeError(), "UnicodeDecodeError"),
        (_RaisesRebuildInterrupts(), "_RebuildInterrupts"),
    ],
)
def test_provider_exceptions_that_carry_secrets_become_a_provider_error_naming_them(provider, kind, tmp_config):
    connector = OssModelConnector(ENDPOINT, cred_provider=provider, config_path=tmp_config)
    with pytest.raises(CredentialsProviderError, match=f"the credentials provider raised {kind}: ") as info:
        connector.list("models", "")
    _assert_no_secrets(info.value)
