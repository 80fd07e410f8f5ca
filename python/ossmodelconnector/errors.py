"""The exceptions ossmc raises, mapped from libossmc's status codes.

Every exception is an :class:`OssModelConnectorError` *and* the built-in exception Python
users already catch for that situation, so existing ``except`` clauses keep working:

==============================  ===================================  =========================
status                          class                                also a
==============================  ===================================  =========================
``OSSMC_NO_SUCH_BUCKET``        :class:`NoSuchBucketError`           ``FileNotFoundError``
``OSSMC_NO_SUCH_KEY``           :class:`NoSuchKeyError`              ``FileNotFoundError``
``OSSMC_ACCESS_DENIED``         :class:`AccessDeniedError`           ``PermissionError``
``OSSMC_INVALID_CREDENTIALS``   :class:`InvalidCredentialsError`     ``PermissionError``
``OSSMC_CREDENTIALS_CALLBACK``  :class:`CredentialsProviderError`    ``PermissionError``
``OSSMC_INVALID_ARGUMENT`` ...  :class:`InvalidArgumentError`        ``ValueError``
``OSSMC_INVALID_URI``           :class:`InvalidUriError`             ``ValueError``
``OSSMC_INVALID_CONFIG``        :class:`InvalidConfigError`          ``ValueError``
``OSSMC_NETWORK``               :class:`NetworkError`                ``ConnectionError``
``OSSMC_TIMEOUT``               :class:`RequestTimeoutError`         ``TimeoutError``
server, protocol, data, files   :class:`OssIOError` subclasses       ``OSError``
``OSSMC_INTERNAL``, ``PANIC``   :class:`InternalError`               ``RuntimeError``
==============================  ===================================  =========================

The table from status to class is built from the header's ``OSSMC_*`` constants at import:
a status this module has no class for still maps to the class of its family (the hundreds
digit: 1 argument, 2 configuration, 3 not found, 4 access, 5-7 I/O, 9 internal), so the
Rust and Python sides cannot drift apart.

Each exception carries what OSS said: :attr:`~OssModelConnectorError.code` (``NoSuchKey``),
:attr:`~OssModelConnectorError.request_id`, :attr:`~OssModelConnectorError.http_status`,
and the :attr:`~OssModelConnectorError.bucket` and :attr:`~OssModelConnectorError.key`
involved. Messages never contain the access key secret or the security token.
"""

from __future__ import annotations

import errno as _errno
from typing import Dict, Optional, Type

from ._native import ffi, lib

__all__ = [
    "OssModelConnectorError",
    "InvalidArgumentError",
    "InvalidUriError",
    "InvalidConfigError",
    "CredentialsError",
    "InvalidCredentialsError",
    "CredentialsProviderError",
    "NotFoundError",
    "NoSuchBucketError",
    "NoSuchKeyError",
    "AccessDeniedError",
    "OssIOError",
    "ObjectChangedError",
    "CorruptedDataError",
    "ServerError",
    "ProtocolError",
    "LocalFileError",
    "CancelledError",
    "NetworkError",
    "RequestTimeoutError",
    "InternalError",
    "exception_class_for_status",
]


class OssModelConnectorError(Exception):
    """Base class of every error raised by ossmodelconnector.

    Attributes are ``None`` when they do not apply (for example ``http_status`` when no
    response was received).
    """

    #: The libossmc status code (``OSSMC_*``), e.g. 301 for ``OSSMC_NO_SUCH_KEY``.
    status: Optional[int] = None
    #: The status code's name, e.g. ``"OSSMC_NO_SUCH_KEY"``.
    status_name: Optional[str] = None
    #: The OSS error code from the server, e.g. ``"NoSuchKey"`` or ``"SignatureDoesNotMatch"``.
    code: Optional[str] = None
    #: The ``x-oss-request-id`` of the failed response, to quote in support requests.
    request_id: Optional[str] = None
    #: The HTTP status of the failed response.
    http_status: Optional[int] = None
    #: The bucket of the failed operation.
    bucket: Optional[str] = None
    #: The object key of the failed operation.
    key: Optional[str] = None


class InvalidArgumentError(OssModelConnectorError, ValueError):
    """An argument is invalid: bad bucket name, bad ``whence``, negative position..."""


class InvalidUriError(InvalidArgumentError):
    """A URI is not of the form ``oss://bucket/key``."""


class InvalidConfigError(OssModelConnectorError, ValueError):
    """The configuration file is invalid; the message names the field, line and column."""


class CredentialsError(OssModelConnectorError, PermissionError):
    """Credentials could not be obtained before any request was sent."""


class InvalidCredentialsError(CredentialsError):
    """Credentials are missing or malformed (environment variables, credentials file)."""


class CredentialsProviderError(CredentialsError):
    """The credentials provider gave nothing usable.

    When the provider raised an exception, a copy of it (same type and message, without the
    traceback and attributes that hold the credentials) is raised instead; an exception that
    cannot be copied that way is reported as this error, naming its type and message.
    """


class NotFoundError(OssModelConnectorError, FileNotFoundError):
    """The bucket or object does not exist."""


class NoSuchBucketError(NotFoundError):
    """The bucket does not exist (OSS ``NoSuchBucket``)."""


class NoSuchKeyError(NotFoundError):
    """The object does not exist (OSS ``NoSuchKey``)."""


class AccessDeniedError(OssModelConnectorError, PermissionError):
    """OSS refused the request: ``AccessDenied``, ``SignatureDoesNotMatch``,
    ``InvalidAccessKeyId``, an invalid or expired security token, or a skewed clock."""


class OssIOError(OssModelConnectorError, OSError):
    """A failure while talking to OSS or reading local files that is not a network error."""


class ObjectChangedError(OssIOError):
    """The object was replaced while it was being read."""


class CorruptedDataError(OssIOError):
    """Data failed its CRC-64 check, even after fetching it again."""


class ServerError(OssIOError):
    """OSS kept failing (HTTP 5xx or throttling) after all retries."""


class ProtocolError(OssIOError):
    """OSS answered with an unexpected error or an unreadable response."""


class LocalFileError(OssIOError):
    """A local file (credentials, configuration, log) could not be read or written."""


class CancelledError(OssIOError):
    """The operation was cancelled because its object or connector was closed."""


class NetworkError(OssModelConnectorError, ConnectionError):
    """The connection to OSS failed or broke, after all retries."""


class RequestTimeoutError(OssModelConnectorError, TimeoutError):
    """Connecting to OSS or waiting for its data timed out, after all retries."""


class InternalError(OssModelConnectorError, RuntimeError):
    """A bug in ossmc; please report it with the message."""


_CLASS_BY_NAME: Dict[str, Type[OssModelConnectorError]] = {
    "OSSMC_INVALID_ARGUMENT": InvalidArgumentError,
    "OSSMC_NULL_POINTER": InvalidArgumentError,
    "OSSMC_INVALID_UTF8": InvalidArgumentError,
    "OSSMC_INVALID_URI": InvalidUriError,
    "OSSMC_BUFFER_TOO_SMALL": InvalidArgumentError,
    "OSSMC_INVALID_CONFIG": InvalidConfigError,
    "OSSMC_INVALID_CREDENTIALS": InvalidCredentialsError,
    "OSSMC_CREDENTIALS_CALLBACK": CredentialsProviderError,
    "OSSMC_NO_SUCH_BUCKET": NoSuchBucketError,
    "OSSMC_NO_SUCH_KEY": NoSuchKeyError,
    "OSSMC_ACCESS_DENIED": AccessDeniedError,
    "OSSMC_OBJECT_CHANGED": ObjectChangedError,
    "OSSMC_CORRUPTED": CorruptedDataError,
    "OSSMC_SERVER_ERROR": ServerError,
    "OSSMC_PROTOCOL": ProtocolError,
    "OSSMC_NETWORK": NetworkError,
    "OSSMC_TIMEOUT": RequestTimeoutError,
    "OSSMC_IO": LocalFileError,
    "OSSMC_CANCELLED": CancelledError,
    "OSSMC_INTERNAL": InternalError,
    "OSSMC_PANIC": InternalError,
}

_CLASS_BY_FAMILY: Dict[int, Type[OssModelConnectorError]] = {
    1: InvalidArgumentError,
    2: InvalidConfigError,
    3: NotFoundError,
    4: AccessDeniedError,
    5: OssIOError,
    6: OssIOError,
    7: OssIOError,
    9: InternalError,
}


def _errno_for(exc: OSError) -> Optional[int]:
    if isinstance(exc, FileNotFoundError):
        return _errno.ENOENT
    if isinstance(exc, PermissionError):
        return _errno.EACCES
    if isinstance(exc, TimeoutError):
        return _errno.ETIMEDOUT
    if isinstance(exc, ConnectionError):
        return _errno.ECONNRESET
    return None


# Names in the header that are constants but not error statuses.
_NOT_ERRORS = ("OSSMC_OK", "OSSMC_AGAIN", "OSSMC_ABI_VERSION")
# Families of constants that are arguments (seek origins, prepare_directory flags).
_NOT_STATUS_PREFIXES = ("OSSMC_SEEK_", "OSSMC_PREPARE_")


def _status_constants() -> Dict[int, str]:
    """Every error status the header declares, by value."""
    found = {}
    for name in dir(lib):
        if not name.startswith("OSSMC_") or name in _NOT_ERRORS or name.startswith(_NOT_STATUS_PREFIXES):
            continue
        value = getattr(lib, name)
        if isinstance(value, int):
            found[value] = name
    return found


def _class_for(status: int, name: Optional[str]) -> Type[OssModelConnectorError]:
    if name is not None and name in _CLASS_BY_NAME:
        return _CLASS_BY_NAME[name]
    return _CLASS_BY_FAMILY.get(status // 100, OssIOError)


#: Status code -> exception class, generated from the header's constants.
STATUS_NAMES: Dict[int, str] = _status_constants()
EXCEPTIONS_BY_STATUS: Dict[int, Type[OssModelConnectorError]] = {
    status: _class_for(status, name) for status, name in STATUS_NAMES.items()
}


def exception_class_for_status(status: int) -> Type[OssModelConnectorError]:
    """The exception class raised for the libossmc status code ``status``."""
    cls = EXCEPTIONS_BY_STATUS.get(status)
    if cls is None:
        cls = _class_for(status, None)
    return cls


def _text(ptr, length) -> Optional[str]:
    if ptr == ffi.NULL or length == 0:
        return None
    return ffi.unpack(ptr, length).decode("utf-8", "replace")


def error_from_last(status: int) -> OssModelConnectorError:
    """Builds the exception for a call that just returned ``status`` on this thread, from
    libossmc's thread-local last-error detail."""
    detail = ffi.new("ossmc_error_detail *")
    message = None
    if lib.ossmc_last_error(detail) == lib.OSSMC_OK and detail.status == status:
        message = _text(detail.message, detail.message_len)
        code = _text(detail.oss_code, detail.oss_code_len)
        request_id = _text(detail.request_id, detail.request_id_len)
        http_status = int(detail.http_status) or None
        bucket = _text(detail.bucket, detail.bucket_len)
        key = _text(detail.key, detail.key_len)
    else:
        code = request_id = http_status = bucket = key = None
    name = STATUS_NAMES.get(status) or ffi.string(lib.ossmc_status_name(status)).decode("ascii", "replace")
    exc = exception_class_for_status(status)(message or f"libossmc call failed with status {name} ({status})")
    exc.status = status
    exc.status_name = name
    exc.code = code
    exc.request_id = request_id
    exc.http_status = http_status
    exc.bucket = bucket
    exc.key = key
    if isinstance(exc, OSError):
        # OSError users sometimes test errno rather than the class.
        exc.errno = _errno_for(exc)
    return exc


def check(status: int) -> None:
    """Raises the mapped exception unless ``status`` is ``OSSMC_OK``."""
    if status != 0:
        raise error_from_last(status)
