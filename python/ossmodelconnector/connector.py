"""``OssModelConnector``: the documented entry point (list, FastList, open).

A connector wraps one native ``ossmc_connector``: its HTTP connection pool, credentials and
the open-order prefetcher shared by every object opened from it. It may be used from any
number of threads at once. Objects opened from it keep it alive.

Calls that block on the network (``list``, ``open``) run in a helper thread when called
from the main thread, which waits for it in a way Ctrl-C interrupts; a result nobody
waits for any more is released as soon as it arrives.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import weakref
from typing import Any, Callable, List, NamedTuple, Optional, TypeVar, Union

from . import errors
from ._native import ffi, lib
from .credentials import CALLBACK, CredentialsBridge
from .reader import OssObject, open_text

__all__ = ["OssModelConnector", "OssObjectInfo", "PrepareResult"]

_LOG = logging.getLogger("ossmodelconnector")

PathLike = Union[str, "os.PathLike[str]"]
T = TypeVar("T")


class OssObjectInfo:
    """One listed object: its key and its size in bytes."""

    __slots__ = ("key", "size")

    def __init__(self, key: str, size: int) -> None:
        #: The object's key (its name inside the bucket).
        self.key = key
        #: The object's size in bytes.
        self.size = size

    def __repr__(self) -> str:
        return f"OssObjectInfo(key={self.key!r}, size={self.size})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OssObjectInfo):
            return NotImplemented
        return self.key == other.key and self.size == other.size

    def __hash__(self) -> int:
        return hash((self.key, self.size))


class PrepareResult(NamedTuple):
    """What :meth:`OssModelConnector.prepare_directory` did."""

    #: Files the directory holds for the prefix now.
    files: int
    #: Of those, the ones fetched by this call.
    fetched: int
    #: Of those, the ones an earlier call left that still match their objects.
    kept: int
    #: Files removed because their objects are gone from the prefix.
    removed: int
    #: Bytes fetched into files by this call.
    bytes_fetched: int
    #: Bytes of all the files.
    bytes_total: int


_LIBC_HOOK_LOGGED = False

# Resolved once at import: a destructor run by the garbage collector must not look a
# function up on `lib` (see OssModelConnector.__init__).
_CONNECTOR_FREE = lib.ossmc_connector_free


def _c_string(value: Any, what: str) -> bytes:
    """UTF-8 bytes for a ``const char *`` argument; rejects what C would silently cut."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str):
        encoded = value.encode("utf-8")
    elif isinstance(value, bytes):
        encoded = value
    else:
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if b"\0" in encoded:
        raise ValueError(f"{what} must not contain NUL characters")
    return encoded


def _given(value: Optional[PathLike]) -> Optional[PathLike]:
    """``""`` means "not given", as in Alibaba's package."""
    if value is None or (isinstance(value, (str, bytes)) and len(value) == 0):
        return None
    return value


def _optional_path(value: Optional[PathLike], what: str) -> Any:
    if value is None:
        return ffi.NULL
    return _c_string(value, what)


def _interruptibly(handle: Any, call: Callable[[], T]) -> T:
    """Runs ``call``, a blocking libossmc call on the connector ``handle``, so that Ctrl-C
    interrupts it.

    Signals are only delivered to the main thread, and not while it is inside a C call. So
    on the main thread the call runs in a helper thread while the main thread waits on an
    event, which Ctrl-C interrupts. Then ``ossmc_connector_interrupt`` makes the call return
    ``OSSMC_CANCELLED`` before its next request or retry; the KeyboardInterrupt is raised at
    once, and whatever the helper still produces is unreferenced and so released.
    """
    if threading.current_thread() is not threading.main_thread():
        return call()
    outcome: List[Any] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as e:  # noqa: B902 - handed to the waiting thread
            outcome.append((False, e))
        finally:
            done.set()

    threading.Thread(target=run, name="ossmc-call", daemon=True).start()
    try:
        done.wait()
    except KeyboardInterrupt:
        lib.ossmc_connector_interrupt(handle)
        try:
            # Usually the call ends within milliseconds; one waiting for a response from a
            # stalled server ends at its read timeout, and is not waited for.
            done.wait(_CANCEL_GRACE_S)
        except KeyboardInterrupt:
            pass
        raise
    ok, value = outcome[0]
    if ok:
        return value
    raise value


# How long Ctrl-C waits for an interrupted list/open to wind down before raising.
_CANCEL_GRACE_S = 0.5

# A provider's failure comes back as one of these (the callback's own status, or the core's
# "no usable credentials").
_CREDENTIALS_STATUSES = (lib.OSSMC_CREDENTIALS_CALLBACK, lib.OSSMC_INVALID_CREDENTIALS)

# Live connectors and objects, closed at interpreter exit so that no native thread calls a
# Python credentials provider while the interpreter is shutting down.
_LIVE_CONNECTORS: "weakref.WeakSet[OssModelConnector]" = weakref.WeakSet()


class OssModelConnector:
    """Read-only access to OSS, built for loading large models fast.

    The signature is that of Alibaba's ``ossmodelconnector``, positional order included::

        OssModelConnector(endpoint, cred_path="", config_path="", cred_provider=None)

    :param endpoint: the OSS endpoint, e.g. ``"https://oss-cn-hangzhou.aliyuncs.com"``,
        ``"oss-cn-hangzhou-internal.aliyuncs.com"`` (https) or ``"http://127.0.0.1:9000"``.
    :param cred_path: a JSON credentials file (``AccessKeyId``, ``AccessKeySecret``, optional
        ``SecurityToken`` and ``Expiration``), re-read when it changes or expires. ``""`` or
        None: not given.
    :param config_path: a JSON configuration file (log level and paths, prefetch and FastList
        concurrency); defaults apply when it is ``""`` or None.
    :param cred_provider: an object with ``get_credentials()``, such as oss2's or
        alibabacloud-oss-v2's providers; called again when credentials expire or are rejected.
        When both it and ``cred_path`` are given, the provider is used (as Alibaba's package
        does) and a warning is logged.

    With neither ``cred_path`` nor ``cred_provider``, credentials come from the environment
    variables ``OSS_ACCESS_KEY_ID``, ``OSS_ACCESS_KEY_SECRET`` and ``OSS_SESSION_TOKEN``
    (Alibaba's package raises ValueError there instead).

    S3-compatible stores (AWS S3, MinIO, Ceph RGW, OSS's ``s3.oss-<region>.aliyuncs.com``):
    an endpoint whose host starts with ``s3.``, or ``"protocol": "s3"`` in the configuration,
    makes the connector speak the S3 API and take ``s3://bucket/key`` URIs. Its default
    credentials are then ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and
    ``AWS_SESSION_TOKEN``, else the shared credentials file (``AWS_SHARED_CREDENTIALS_FILE`` or
    ``~/.aws/credentials``, profile ``AWS_PROFILE`` or ``default``); ``cred_provider`` may be
    a ``boto3.Session()``.

    :raises ValueError: an empty or malformed endpoint, or a malformed configuration (the
        message gives the line and column of a JSON error).
    :raises PermissionError: credentials are missing or malformed.
    :raises OSError: a credentials or configuration file cannot be read.
    """

    def __init__(
        self,
        endpoint: str,
        cred_path: Optional[PathLike] = "",
        config_path: Optional[PathLike] = "",
        cred_provider: Optional[Any] = None,
    ) -> None:
        self._handle: Any = None
        self._bridge: Optional[CredentialsBridge] = None
        if not endpoint:
            raise ValueError("endpoint must be non-empty")
        cred_path = _given(cred_path)
        config_path = _given(config_path)
        if cred_path is not None and cred_provider is not None:
            _LOG.warning("both cred_path and cred_provider were given; using cred_provider")
            cred_path = None
        #: The endpoint the connector was created with.
        self.endpoint = endpoint
        c_endpoint = _c_string(endpoint, "endpoint")
        c_config = _optional_path(config_path, "config_path")
        out = ffi.new("ossmc_connector **")
        if cred_provider is not None:
            bridge = CredentialsBridge(cred_provider)
            status = lib.ossmc_connector_new_with_callback(c_endpoint, CALLBACK, bridge.handle, c_config, out)
            self._bridge = bridge
        else:
            bridge = None
            c_cred = _optional_path(cred_path, "cred_path")
            status = lib.ossmc_connector_new(c_endpoint, c_cred, c_config, out)
        if status != 0:
            self._raise_for_status(status)

        def free(
            handle: Any,
            _keep_alive: Optional[CredentialsBridge] = bridge,
            _free: Any = _CONNECTOR_FREE,
        ) -> None:
            # _keep_alive: the callback's userdata must outlive the native connector.
            # _free: bound now, not looked up on `lib` when the garbage collector runs this,
            # which can be inside another cffi call holding the lock such a lookup takes.
            _free(handle)

        self._handle = ffi.gc(out[0], free)
        self._objects: "weakref.WeakSet[OssObject]" = weakref.WeakSet()
        self._objects_lock = threading.Lock()
        _LIVE_CONNECTORS.add(self)

    # -- errors ---------------------------------------------------------------------------

    def _raise_for_status(self, status: int) -> None:
        """Raises the exception for ``status``, which a libossmc call on this thread just
        returned; (a clean copy of) a credentials provider's own exception wins over the
        generic one."""
        exc = errors.error_from_last(status)
        if status in _CREDENTIALS_STATUSES and self._bridge is not None:
            pending = self._bridge.pending_error()
            if pending is not None:
                raise pending
        raise exc

    def _live(self) -> Any:
        handle = self._handle
        if handle is None:
            raise ValueError("the connector is closed")
        return handle

    # -- the documented API ---------------------------------------------------------------

    def list(self, bucket: str, prefix: str = "", fast: bool = False) -> List[OssObjectInfo]:
        """Lists the objects of ``bucket`` whose keys start with ``prefix``.

        Returns a list of :class:`OssObjectInfo` (``.key``, ``.size``) in key order. With
        ``fast=True`` the listing runs as parallel FastList requests, much faster for
        millions of keys; the order is then unspecified (sort by ``key`` if needed).

        :raises FileNotFoundError: the bucket does not exist.
        :raises PermissionError: OSS refused the credentials.
        :raises ValueError: an invalid bucket name.
        :raises ProtocolError: (an ``OSError``) the server's listing cannot be right: a key
            with NUL or out of order, a continuation token that goes round in circles.
        """
        c_bucket = _c_string(bucket, "bucket")
        c_prefix = _c_string(prefix if prefix is not None else "", "prefix")
        handle = self._live()
        return _interruptibly(handle, lambda: self._list(handle, c_bucket, c_prefix, 1 if fast else 0))

    def _list(self, handle: Any, bucket: bytes, prefix: bytes, fast: int) -> List[OssObjectInfo]:
        out = ffi.new("ossmc_listing **")
        status = lib.ossmc_list(handle, bucket, prefix, fast, out)
        if status != 0:
            self._raise_for_status(status)
        listing = ffi.gc(out[0], lib.ossmc_list_free)
        try:
            count = ffi.new("size_t *")
            errors.check(lib.ossmc_list_len(listing, count))
            key = ffi.new("const char **")
            key_len = ffi.new("size_t *")
            size = ffi.new("uint64_t *")
            get = lib.ossmc_list_get
            unpack = ffi.unpack
            result: List[OssObjectInfo] = []
            append = result.append
            for i in range(count[0]):
                status = get(listing, i, key, key_len, size)
                if status != 0:
                    errors.check(status)
                append(OssObjectInfo(unpack(key[0], key_len[0]).decode("utf-8"), size[0]))
            return result
        finally:
            ffi.release(listing)

    def open(self, uri: str, binary: bool = True) -> Any:
        """Opens the object at ``uri`` (``oss://bucket/key``, or ``s3://bucket/key`` on a
        connector speaking the S3 API) for reading and starts
        prefetching it, after the objects opened before it.

        Open every shard of a model first, then read them one after another: the prefetcher
        keeps the network busy in open order while you read.

        :param binary: True (default) returns an :class:`OssObject` (a raw binary file);
            False returns a UTF-8 text file (``io.TextIOWrapper``) with ``str`` results,
            ``readline``, ``readlines`` and line iteration.
        :raises FileNotFoundError: the bucket or the object does not exist.
        :raises PermissionError: OSS refused the credentials.
        :raises ValueError: ``uri`` is not ``oss://bucket/key`` (``s3://`` for S3).
        """
        c_uri = _c_string(uri, "uri")
        handle = self._live()
        if not isinstance(uri, str):
            uri = c_uri.decode("utf-8", "replace")
        raw = _interruptibly(handle, lambda: self._open(handle, c_uri, uri))
        return raw if binary else open_text(raw)

    def _open(self, handle: Any, c_uri: bytes, uri: str) -> OssObject:
        out = ffi.new("ossmc_object **")
        status = lib.ossmc_open(handle, c_uri, out)
        if status != 0:
            self._raise_for_status(status)
        obj = OssObject(self, ffi.gc(out[0], lib.ossmc_close), uri)
        with self._objects_lock:
            self._objects.add(obj)
        return obj

    def prepare_directory(
        self, uri: str, dir: PathLike, libc_hook: bool = False, progress: Optional[bool] = None
    ) -> "PrepareResult":
        """Makes the local directory ``dir`` hold every object under ``uri``
        (``oss://bucket/prefix``), each in the file its key names below the prefix, so that
        vLLM, transformers or any other framework can load ``dir`` as it is
        (``LLM(model=dir)``, ``AutoModelForCausalLM.from_pretrained(dir)``). On tmpfs such as
        ``/dev/shm`` the directory lives in memory.

        Objects are fetched at full speed, each straight into its file under a hidden
        temporary name, renamed only when complete and verified (CRC-64 when the server
        sends it, the size always). Running it again fetches only what is missing or no
        longer matches its object (``dir/.ossmc-manifest.json`` records what was fetched).
        Keys that would leave ``dir`` (``..``, empty segments, NUL, backslash) are refused
        before anything is fetched.

        Unlike Alibaba's package, no hook is installed: ``dir`` is a real directory, which
        also serves readers hooks miss (safetensors' own mmap, C++ loaders, ``os.stat``).
        ``libc_hook=True`` is accepted for compatibility and does the same.

        :param progress: draw a progress line (files, bytes, GB/s) on stderr: True, False, or
            None (the default) for "when stderr is a terminal".
        :returns: a :class:`PrepareResult` saying how many files were fetched and kept.
        :raises FileNotFoundError: the bucket does not exist.
        :raises ValueError: ``uri`` is not ``oss://bucket[/prefix]``, or a key cannot be a
            file inside ``dir`` (the message names it).
        :raises OSError: a file cannot be written; other failures name the object's key.
        """
        global _LIBC_HOOK_LOGGED
        if libc_hook and not _LIBC_HOOK_LOGGED:
            _LIBC_HOOK_LOGGED = True
            _LOG.info(
                "prepare_directory(libc_hook=True): the directory is made real, so no libc hook is needed or installed"
            )
        c_uri = _c_string(uri, "uri")
        c_dir = _c_string(dir, "dir")
        if progress is None:
            progress = bool(getattr(sys.stderr, "isatty", lambda: False)())
        flags = lib.OSSMC_PREPARE_PROGRESS_ON if progress else lib.OSSMC_PREPARE_PROGRESS_OFF
        handle = self._live()

        def run() -> PrepareResult:
            out = ffi.new("ossmc_prepare_result *")
            status = lib.ossmc_prepare_directory(handle, c_uri, c_dir, flags, out)
            if status != 0:
                self._raise_for_status(status)
            return PrepareResult(
                files=out.files,
                fetched=out.fetched,
                kept=out.kept,
                removed=out.removed,
                bytes_fetched=out.bytes_fetched,
                bytes_total=out.bytes_total,
            )

        return _interruptibly(handle, run)

    # -- lifetime -------------------------------------------------------------------------

    def close(self) -> None:
        """Releases the connector. Objects already opened stay readable; ``list`` and
        ``open`` raise ValueError afterwards. Idempotent; also done by garbage collection."""
        # Dropping the reference frees the native connector at once, unless a list or open
        # on another thread still uses it: then it is freed when that call returns.
        self._handle = None

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._handle is None

    def __enter__(self) -> "OssModelConnector":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " closed" if self._handle is None else ""
        return f"<OssModelConnector endpoint={self.endpoint!r}{state}>"

    def _close_everything(self) -> None:
        with self._objects_lock:
            objects = list(self._objects)
        for obj in objects:
            obj.close()
        self.close()


@atexit.register
def _close_all_at_exit() -> None:
    for connector in list(_LIVE_CONNECTORS):
        connector._close_everything()
