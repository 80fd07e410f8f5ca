"""Objects opened with :meth:`OssModelConnector.open`: file-like readers over libossmc.

:class:`OssObject` is an :class:`io.RawIOBase`, so ``io.BufferedReader``, ``torch.load``,
``pickle.load`` and friends accept it. Reads copy libossmc's prefetched chunks into the
caller's buffer (``readinto``), and bytes nobody fetched yet are fetched straight into it (a
whole-shard ``readinto`` or ``read()`` loads the shard with no second copy), with the GIL
released meanwhile, so several threads read different objects in parallel. Waiting for data happens in short
bounded waits, so Ctrl-C raises ``KeyboardInterrupt`` promptly even on a stalled network.

Closing the object, or dropping the last reference to it, releases its prefetched memory at
once (the documented "destroy").
"""

from __future__ import annotations

import ctypes
import io
import mmap
import os
import platform
import threading
from typing import Any, Optional, Tuple

from . import errors
from ._native import ffi, lib

__all__ = ["OssObject", "open_text"]

# How long one native wait lasts before Python gets a chance to deliver a signal.
_WAIT_MS = 500

_WHENCE = {
    os.SEEK_SET: lib.OSSMC_SEEK_SET,
    os.SEEK_CUR: lib.OSSMC_SEEK_CUR,
    os.SEEK_END: lib.OSSMC_SEEK_END,
}


def _new_bytes(n: int) -> Tuple[bytes, Any]:
    """A new, not yet shared ``bytes`` of length ``n`` and a pointer to its storage.

    On CPython the object is allocated uninitialised, as C extensions do, so ``read()``
    fills it in place instead of reading into a temporary and copying. Elsewhere a
    bytearray is used (``read()`` then copies once).
    """
    if _BYTES_FROM_SIZE is not None:
        obj = _BYTES_FROM_SIZE(None, n)
        return obj, ffi.cast("char *", id(obj) + _BYTES_DATA_OFFSET)
    buf = bytearray(n)
    return buf, ffi.from_buffer(buf)  # type: ignore[return-value]


_BYTES_FROM_SIZE: Optional[Any]
if platform.python_implementation() == "CPython":
    _BYTES_FROM_SIZE = ctypes.pythonapi.PyBytes_FromStringAndSize
    _BYTES_FROM_SIZE.restype = ctypes.py_object
    _BYTES_FROM_SIZE.argtypes = (ctypes.c_void_p, ctypes.c_ssize_t)
    # offsetof(PyBytesObject, ob_sval): the basic size counts the one-byte array ob_sval[1].
    _BYTES_DATA_OFFSET = bytes.__basicsize__ - 1
else:  # pragma: no cover - other interpreters
    _BYTES_FROM_SIZE = None
    _BYTES_DATA_OFFSET = 0


def _writable_pointer(buf: Any) -> Tuple[Any, int]:
    """A ``char *`` to the writable memory of ``buf`` and its size in bytes, without copying.

    Accepts anything exporting a writable contiguous buffer (bytearray, memoryview, numpy
    array, mmap) and CPU torch tensors (which have no buffer interface).
    """
    try:
        cbuf = ffi.from_buffer(buf, require_writable=True)
        return cbuf, len(cbuf)
    except BufferError:
        # As FileIO.readinto: a read-only buffer (bytes) is a TypeError.
        raise TypeError(f"readinto() needs a writable buffer, and {type(buf).__name__} is read-only") from None
    except TypeError:
        data_ptr = getattr(buf, "data_ptr", None)
        if not callable(data_ptr):
            raise TypeError(
                f"readinto() needs a writable buffer (bytearray, memoryview, numpy array, tensor), "
                f"not {type(buf).__name__}"
            ) from None
    # A torch.Tensor, by duck typing: torch is not a dependency.
    if getattr(getattr(buf, "device", None), "type", "cpu") != "cpu":
        raise ValueError("readinto() needs a tensor in CPU memory (pinned or not), not one on a GPU")
    if not buf.is_contiguous():
        raise ValueError("readinto() needs a contiguous tensor")
    return ffi.cast("char *", data_ptr()), int(buf.numel()) * int(buf.element_size())


class OssObject(io.RawIOBase):
    """A read-only, seekable binary file over one OSS object.

    Created by :meth:`OssModelConnector.open`; not meant to be constructed directly. One
    object may be used from any thread; calls on the same object are serialised.
    """

    def __init__(self, connector: Any, handle: Any, uri: str) -> None:
        """Wraps the native object ``handle`` (owned from now on) opened from ``uri``."""
        super().__init__()
        # The connector owns the credentials callback the object may still need: keep it alive.
        self._connector = connector
        self._handle: Any = handle
        self._lock = threading.Lock()
        self._out_n = ffi.new("size_t *")
        self._out_pos = ffi.new("uint64_t *")
        #: The URI the object was opened with, ``oss://bucket/key``.
        self.name = uri
        #: ``"rb"``: objects are read-only binary files.
        self.mode = "rb"
        _, _, rest = uri.partition("oss://")
        bucket, _, key = rest.partition("/")
        #: The bucket of the object.
        self.bucket = bucket
        #: The key of the object.
        self.key = key
        size = ffi.new("uint64_t *")
        errors.check(lib.ossmc_size(handle, size))
        self._size = int(size[0])

    # -- state ----------------------------------------------------------------------------

    def size(self) -> int:
        """The object's size in bytes (as of :meth:`OssModelConnector.open`). A method, as in
        Alibaba's package."""
        return self._size

    @property
    def verified(self) -> bool:
        """Whether every byte of the object has been checked: all of it was fetched and its
        CRC-64 equals the server's ``x-oss-hash-crc64ecma``. True once a read through to the
        end, :meth:`mmap` or :meth:`view` succeeded; False without a CRC header (nothing to
        check against) and for an object read at random that never had all its bytes
        fetched, whose bytes were checked only against the ETag from open."""
        with self._lock:
            handle = self._live()
            out = ffi.new("int32_t *")
            errors.check(lib.ossmc_verified(handle, out))
            return bool(out[0])

    # -- the whole object in memory -------------------------------------------------------

    def mmap(self) -> int:
        """Loads the whole object into memory and returns the address of its first byte, as
        Alibaba's package does: ``(ctypes.c_ubyte * obj.size()).from_address(obj.mmap())``.

        The memory is read-only, belongs to the object and stays valid until :meth:`close`
        (reading it after that crashes the process, as with any freed memory); later calls
        return the same address. Bytes not prefetched yet are fetched straight into it, with
        no second copy, and the object is verified as by a read through it. The position is
        neither used nor moved. For memory that outlives the object, use :meth:`view`.
        """
        with self._lock:
            handle = self._live()
            data = ffi.new("const uint8_t **")
            length = ffi.new("size_t *")
            while True:
                status = lib.ossmc_mmap_timeout(handle, _WAIT_MS, data, length)
                if status == 0:
                    return int(ffi.cast("uintptr_t", data[0]))
                if status != lib.OSSMC_AGAIN:
                    self._raise(status)

    def view(self) -> memoryview:
        """The whole object as a read-only ``memoryview`` over memory of its own: unlike
        :meth:`mmap`, it stays valid after :meth:`close`, for as long as the view or anything
        built on it (``numpy.frombuffer``, ``torch.frombuffer``) is referenced.

        Bytes not prefetched yet are fetched straight into it (no second copy), and the
        object is verified as by a read through it. The position is neither used nor moved.
        """
        size = self._size
        if size == 0:
            self._live()
            return memoryview(b"")
        # Private anonymous memory (a shared anonymous mapping would be shmem), page-aligned
        # and returned to the system when the last view of it is released.
        memory = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)
        ptr = ffi.from_buffer(memory)
        with self._lock:
            handle = self._live()
            out_n = self._out_n
            filled = 0
            while filled < size:
                status = lib.ossmc_read_at_timeout(handle, filled, ptr + filled, size - filled, _WAIT_MS, out_n)
                if status == lib.OSSMC_AGAIN:
                    continue
                if status != 0:
                    self._raise(status)
                if out_n[0] == 0:
                    raise errors.ProtocolError(
                        f"{self.name}: the object ended after {filled} of the {size} bytes announced at open"
                    )
                filled += out_n[0]
        del ptr
        return memoryview(memory).toreadonly()

    def _live(self) -> Any:
        handle = self._handle
        if handle is None:
            raise ValueError("I/O operation on closed file.")
        return handle

    def _raise(self, status: int) -> None:
        self._connector._raise_for_status(status)

    def readable(self) -> bool:
        """True: objects are readable (raises ValueError once closed)."""
        self._live()
        return True

    def seekable(self) -> bool:
        """True: objects are seekable (raises ValueError once closed)."""
        self._live()
        return True

    def writable(self) -> bool:
        """False: OSS objects are opened read-only."""
        self._live()
        return False

    def write(self, data: Any) -> int:
        """Always raises ``io.UnsupportedOperation``: OSS objects are opened read-only."""
        self._live()
        raise io.UnsupportedOperation("write: OSS objects are opened read-only")

    def close(self) -> None:
        """Closes the object and releases its prefetched memory now. Idempotent."""
        with self._lock:
            handle, self._handle = self._handle, None
            if handle is not None:
                ffi.release(handle)  # runs ossmc_close now, not at garbage collection
        super().close()

    def __repr__(self) -> str:
        state = "closed" if self._handle is None else f"size={self._size}"
        return f"<OssObject {self.name!r} {state}>"

    # -- reading --------------------------------------------------------------------------

    def _read_into_pointer(self, ptr: Any, length: int) -> int:
        """Reads up to ``length`` bytes into ``ptr``; fewer only at the end of the object."""
        with self._lock:
            handle = self._live()
            out_n = self._out_n
            total = 0
            while total < length:
                # Bounded waits: between them the interpreter runs signal handlers (Ctrl-C).
                status = lib.ossmc_read_timeout(handle, ptr + total, length - total, _WAIT_MS, out_n)
                if status == 0:
                    n = out_n[0]
                    if n == 0:
                        break
                    total += n
                elif status == lib.OSSMC_AGAIN:
                    continue
                elif total:
                    # Hand over what arrived; the next call meets the error again.
                    break
                else:
                    self._raise(status)
            return total

    def readinto(self, buffer: Any) -> int:
        """Reads into ``buffer`` (bytearray, memoryview, numpy array, CPU tensor...) with no
        intermediate copy. Returns the number of bytes read: ``len(buffer)`` in bytes, fewer
        only at the end of the object, 0 at the end."""
        ptr, length = _writable_pointer(buffer)
        if length == 0:
            self._live()
            return 0
        return self._read_into_pointer(ptr, length)

    def read(self, size: Optional[int] = -1) -> bytes:
        """Reads ``size`` bytes (fewer only at the end), or everything left if ``size`` is
        negative or None. Returns ``b""`` at the end of the object."""
        if size is None or size < 0:
            return self.readall()
        remaining = self._size - self.tell()
        size = max(0, min(size, remaining))
        if size == 0:
            return b""
        data, ptr = _new_bytes(size)
        n = self._read_into_pointer(ptr, size)
        return data if n == size and isinstance(data, bytes) else bytes(data[:n])

    def readall(self) -> bytes:
        """Reads everything from the current position to the end of the object."""
        remaining = self._size - self.tell()
        if remaining <= 0:
            return b""
        data, ptr = _new_bytes(remaining)
        n = self._read_into_pointer(ptr, remaining)
        return data if n == remaining and isinstance(data, bytes) else bytes(data[:n])

    def read_at(self, offset: int, size: int) -> bytes:
        """Reads ``size`` bytes at ``offset`` without using or moving the position (an
        extension: not part of the documented API)."""
        if offset < 0 or size < 0:
            raise ValueError("offset and size must not be negative")
        size = max(0, min(size, self._size - offset))
        if size == 0:
            return b""
        data, ptr = _new_bytes(size)
        with self._lock:
            handle = self._live()
            status = lib.ossmc_read_at(handle, offset, ptr, size, self._out_n)
            n = self._out_n[0]
        if status != 0:
            self._raise(status)
        return data if n == size and isinstance(data, bytes) else bytes(data[:n])

    # -- positioning ----------------------------------------------------------------------

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Moves the position like ``io.IOBase.seek`` and returns the new absolute position.
        Seeking past the end is allowed (reads then return nothing)."""
        native_whence = _WHENCE.get(whence)
        if native_whence is None:
            raise ValueError(f"invalid whence ({whence!r}, should be 0, 1 or 2)")
        with self._lock:
            handle = self._live()
            status = lib.ossmc_seek(handle, int(offset), native_whence, self._out_pos)
            pos = self._out_pos[0]
        if status != 0:
            self._raise(status)
        return int(pos)

    def tell(self) -> int:
        """The current position in bytes from the start of the object."""
        with self._lock:
            handle = self._live()
            status = lib.ossmc_tell(handle, self._out_pos)
            pos = self._out_pos[0]
        if status != 0:
            self._raise(status)
        return int(pos)


def open_text(raw: OssObject) -> io.TextIOWrapper:
    """The text-mode view of ``raw``: UTF-8, ``str`` results, lines and iteration."""
    buffered = io.BufferedReader(raw, buffer_size=1 << 20)
    text = io.TextIOWrapper(buffered, encoding="utf-8")
    text.mode = "r"  # type: ignore[misc]
    return text
