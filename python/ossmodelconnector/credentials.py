"""Credentials providers written in Python, called by libossmc through a C callback.

Any object with ``get_credentials()`` works as ``cred_provider``: oss2's providers
(``oss2.credentials.EnvironmentVariableCredentialsProvider``...), alibabacloud-oss-v2's
(``alibabacloud_oss_v2.credentials.*``), or a class of your own. What ``get_credentials()``
returns needs the access key id, secret and (optionally) security token, either as oss2's
``get_access_key_id()`` / ``get_access_key_secret()`` / ``get_security_token()`` methods or
as alibabacloud-oss-v2's ``access_key_id`` / ``access_key_secret`` / ``security_token``
attributes, or as botocore's credentials (``get_frozen_credentials()``, whose ``access_key``,
``secret_key`` and ``token`` are read): so ``boto3.Session()`` itself is a provider for a
connector speaking the S3 API. An ``expiration`` attribute (a ``datetime`` or Unix seconds) is honoured:
libossmc asks again shortly before it.

libossmc calls the provider on first use, before cached credentials expire and after OSS
rejected them; possibly from one of its own threads. An exception raised by the provider is
raised again from the connector call that failed because of it, as a clean copy: the same
type and message, but not the original's traceback, chained exceptions or attributes, whose
frames and values hold the credentials the provider was handling. An exception that cannot
be copied that way becomes a :class:`~ossmodelconnector.errors.CredentialsProviderError`
naming its type and message.
"""

from __future__ import annotations

import datetime
import threading
from typing import Any, Optional, Tuple

from ._native import ffi, lib
from .errors import CredentialsProviderError

__all__ = ["CredentialsBridge", "CALLBACK"]


def _field(creds: Any, method: str, attribute: str) -> Any:
    getter = getattr(creds, method, None)
    if callable(getter):
        return getter()
    return getattr(creds, attribute, None)


def _encode(value: Any, what: str, required: bool) -> Optional[bytes]:
    # Strings are converted by helpers that return None rather than raise: the
    # UnicodeDecodeError or UnicodeEncodeError would carry the secret itself (as .object) to
    # whoever catches it, and raising ours inside their except block would chain them.
    if isinstance(value, bytes):
        value = _utf8_decoded(value)
        if value is None:
            raise ValueError(f"the credentials provider returned {_article(what)} {what} that is not valid UTF-8")
    if value is None or value == "":
        if required:
            raise ValueError(f"the credentials provider returned no {what}")
        return None
    if not isinstance(value, str):
        raise TypeError(f"the credentials provider returned a {type(value).__name__} as {what}, not a str")
    if "\0" in value:
        raise ValueError(f"the credentials provider returned a {what} containing a NUL character")
    encoded = _utf8_encoded(value)
    if encoded is None:
        raise ValueError(
            f"the credentials provider returned {_article(what)} {what} that is not valid UTF-8 "
            "(it holds a lone surrogate)"
        )
    return encoded


def _utf8_decoded(value: bytes) -> Optional[str]:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _utf8_encoded(value: str) -> Optional[bytes]:
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        return None


def _article(what: str) -> str:
    return "an" if what[:1] in "aeiou" else "a"


#: Argument types a message is made of; anything else in ``args`` is not copied.
_PLAIN_ARGS = (str, int, float, bool, type(None))

_PROVENANCE = (
    "raised by the credentials provider; its traceback was dropped because its frames hold credentials"
)


def _message(error: BaseException) -> str:
    try:
        return str(error)
    except BaseException:  # noqa: B902 - a broken __str__ must not hide the error itself
        return "<unprintable message>"


def _clean_copy(error: BaseException) -> BaseException:
    """A new exception of ``error``'s type and message with nothing else of it: no traceback
    (the provider's frames hold the secret and token as locals), no ``__context__`` or
    ``__cause__`` (their tracebacks would), no attributes (``UnicodeDecodeError.object`` is
    the undecodable secret). A type that cannot be rebuilt from plain arguments, and
    ``UnicodeError`` whose arguments are the data, become a ``CredentialsProviderError``."""
    kind = type(error)
    clean: Optional[BaseException] = None
    if not isinstance(error, UnicodeError) and all(isinstance(a, _PLAIN_ARGS) for a in error.args):
        try:
            clean = kind(*error.args)
        except BaseException:  # noqa: B902 - any constructor may refuse; nothing may reach C
            clean = None
        if clean is not None and (type(clean) is not kind or _message(clean) != _message(error)):
            clean = None
    if clean is None:
        clean = CredentialsProviderError(f"the credentials provider raised {kind.__qualname__}: {_message(error)}")
    clean.__traceback__ = clean.__context__ = clean.__cause__ = None
    clean.__suppress_context__ = True
    if hasattr(clean, "add_note"):  # Python 3.11+
        clean.add_note(_PROVENANCE)
    return clean


def _expiration_seconds(creds: Any) -> int:
    """Unix seconds of the credentials' expiration, 0 when they do not expire."""
    value = getattr(creds, "expiration", None)
    if value is None:
        return 0
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:  # alibabacloud-oss-v2 documents naive values as UTC
            value = value.replace(tzinfo=datetime.timezone.utc)
        return int(value.timestamp())
    if isinstance(value, (int, float)):
        return int(value)
    raise TypeError(f"the credentials' expiration is a {type(value).__name__}, not a datetime or a number")


def _unpack(creds: Any) -> Tuple[bytes, bytes, Optional[bytes], int]:
    if creds is None:
        raise ValueError("the credentials provider's get_credentials() returned None")
    frozen = getattr(creds, "get_frozen_credentials", None)
    if callable(frozen):
        # botocore's (refreshable) credentials: one consistent snapshot of the three values.
        snap = frozen()
        key_id = _encode(getattr(snap, "access_key", None), "access key id", True)
        secret = _encode(getattr(snap, "secret_key", None), "access key secret", True)
        token = _encode(getattr(snap, "token", None), "security token", False)
        assert key_id is not None and secret is not None
        return key_id, secret, token, 0
    key_id = _encode(_field(creds, "get_access_key_id", "access_key_id"), "access key id", True)
    secret = _encode(_field(creds, "get_access_key_secret", "access_key_secret"), "access key secret", True)
    token = _encode(_field(creds, "get_security_token", "security_token"), "security token", False)
    assert key_id is not None and secret is not None
    return key_id, secret, token, _expiration_seconds(creds)


class CredentialsBridge:
    """Connects one Python provider to libossmc: the C callback's userdata points here.

    It outlives the native connector (the connector's destructor holds a reference), so the
    callback never sees a dangling handle.
    """

    def __init__(self, provider: Any) -> None:
        if not callable(getattr(provider, "get_credentials", None)):
            raise TypeError(f"cred_provider must have a get_credentials() method; got a {type(provider).__name__}")
        self.provider = provider
        self.handle = ffi.new_handle(self)
        self._lock = threading.Lock()
        # A clean copy of the provider's latest exception (see _clean_copy), never the
        # exception itself.
        self._error: Optional[BaseException] = None

    def fetch(self, sink: Any) -> int:
        """Runs the provider and hands its credentials to libossmc; never raises."""
        try:
            key_id, secret, token, expiration = _unpack(self.provider.get_credentials())
            status = lib.ossmc_credentials_sink_set(
                sink, key_id, secret, token if token is not None else ffi.NULL, expiration
            )
            if status != lib.OSSMC_OK:
                raise ValueError(
                    "libossmc rejected the credentials the provider returned "
                    f"(status {ffi.string(lib.ossmc_status_name(status)).decode()})"
                )
        except BaseException as e:  # noqa: B902 - even KeyboardInterrupt must not cross into C
            clean = _clean_copy(e)
            with self._lock:
                self._error = clean
            return int(lib.OSSMC_CREDENTIALS_CALLBACK)
        with self._lock:
            self._error = None
        return int(lib.OSSMC_OK)

    def pending_error(self) -> Optional[BaseException]:
        """A fresh clean copy of the exception of the provider's latest failed call, if its
        latest call failed (fresh, so that raising it never extends a kept traceback)."""
        with self._lock:
            error = self._error
        return None if error is None else _clean_copy(error)


def _callback(userdata: Any, sink: Any) -> int:
    return ffi.from_handle(userdata).fetch(sink)


#: The one C trampoline shared by every connector; userdata selects the bridge.
CALLBACK = ffi.callback("ossmc_credentials_callback", _callback, error=int(lib.OSSMC_CREDENTIALS_CALLBACK))
