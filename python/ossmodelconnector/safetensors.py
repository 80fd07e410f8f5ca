"""Loading safetensors checkpoints from OSS straight into their final memory.

:func:`load` opens every shard first (the open order is the prefetch order), then reads
each shard whole into a memory mapping of its own, checks its header and yields
``(name, array)`` for each tensor, in file order. The arrays are views of that mapping:
no tensor is copied, no ``bytes`` object holds a shard, and no buffer is ever reused, so
an array stays valid for as long as it is referenced, after the iterator has moved on and
after the objects and the connector are closed. A shard's mapping is unmapped when the
last array built on it is gone.

numpy has no bfloat16 or float8 types: with ``framework="np"`` such tensors are yielded
as their raw bytes under a stand-in numpy dtype of the same width (see :data:`STAND_INS`);
with ``framework="pt"`` every dtype is torch's own.

Neither numpy nor torch is a dependency of the package: each is imported when
:func:`load` asks for it.
"""

from __future__ import annotations

import json
import mmap
import struct
import sys
from typing import Any, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple, Union

__all__ = ["load", "STAND_INS", "STAND_IN_KEY"]


class _Dtype(NamedTuple):
    """How one safetensors dtype is viewed."""

    #: Bits per element in the file.
    bits: int
    #: The numpy dtype the bytes are viewed as (little-endian, as the file); None: no view.
    numpy: Optional[str]
    #: The name of the ``torch`` attribute that is this dtype; None: no view.
    torch: Optional[str]


# Every dtype the safetensors format defines (safetensors 0.8: BOOL, F4, F6_E2M3, F6_E3M2,
# U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ, I16, U16, F16, BF16, I32,
# U32, F32, C64, F64, I64, U64).
_DTYPES: Dict[str, _Dtype] = {
    "BOOL": _Dtype(8, "?", "bool"),
    "U8": _Dtype(8, "u1", "uint8"),
    "I8": _Dtype(8, "i1", "int8"),
    "U16": _Dtype(16, "<u2", "uint16"),
    "I16": _Dtype(16, "<i2", "int16"),
    "F16": _Dtype(16, "<f2", "float16"),
    "BF16": _Dtype(16, "<u2", "bfloat16"),
    "U32": _Dtype(32, "<u4", "uint32"),
    "I32": _Dtype(32, "<i4", "int32"),
    "F32": _Dtype(32, "<f4", "float32"),
    "U64": _Dtype(64, "<u8", "uint64"),
    "I64": _Dtype(64, "<i8", "int64"),
    "F64": _Dtype(64, "<f8", "float64"),
    "C64": _Dtype(64, "<c8", "complex64"),
    "F8_E4M3": _Dtype(8, "u1", "float8_e4m3fn"),
    "F8_E5M2": _Dtype(8, "u1", "float8_e5m2"),
    "F8_E4M3FNUZ": _Dtype(8, "u1", "float8_e4m3fnuz"),
    "F8_E5M2FNUZ": _Dtype(8, "u1", "float8_e5m2fnuz"),
    "F8_E8M0": _Dtype(8, "u1", "float8_e8m0fnu"),
    # Two 4-bit values a byte, viewed as byte pairs along the last dimension (the layout
    # of torch.float4_e2m1fn_x2): a [..., 2k] tensor is yielded as [..., k] bytes.
    "F4": _Dtype(4, "u1", "float4_e2m1fn_x2"),
    # Four 6-bit values in three bytes: neither numpy nor torch has a view of them.
    "F6_E2M3": _Dtype(6, None, None),
    "F6_E3M2": _Dtype(6, None, None),
}

#: The safetensors dtypes numpy has no type for, and the numpy dtype their raw bytes are
#: yielded as with ``framework="np"``. Such an array's ``dtype.metadata[STAND_IN_KEY]`` is
#: the file's dtype, which tells a BF16 tensor from a U16 one; ``array.view(ml_dtypes.bfloat16)``
#: (or ``torch.from_numpy(array).view(torch.bfloat16)``) gives the real type.
STAND_INS: Dict[str, str] = {
    "BF16": "uint16",
    "F8_E4M3": "uint8",
    "F8_E5M2": "uint8",
    "F8_E4M3FNUZ": "uint8",
    "F8_E5M2FNUZ": "uint8",
    "F8_E8M0": "uint8",
    "F4": "uint8",
}

#: The key of a stand-in dtype's ``metadata`` that names the file's dtype, e.g. ``"BF16"``.
STAND_IN_KEY = "safetensors_dtype"

_FRAMEWORKS = {"np": "np", "numpy": "np", "pt": "pt", "torch": "pt"}

# One parsed tensor: name, file dtype, shape, offset of its first byte in the shard, length.
_Entry = Tuple[str, str, Tuple[int, ...], int, int]
# Builds the array of one tensor on its shard's memory: (memory, URI, entry) -> array.
_Maker = Callable[[mmap.mmap, str, _Entry], Any]


def load(
    connector: Any, uri_or_uris: Union[str, Iterable[str]], framework: str = "np"
) -> Iterator[Tuple[str, Any]]:
    """Loads the tensors of safetensors shards on OSS, yielding ``(name, array)``.

    Every shard is opened before this function returns (so prefetching has started, in
    the given order, and an object that does not exist raises here). Iterating then reads
    the shards one after another, each whole and straight into a new anonymous memory
    mapping of its size, closes its object, checks its header and yields its tensors in
    the order of their data offsets. No copy is made and no buffer is reused: an array is
    a view of its shard's mapping and stays valid as long as it is referenced, after the
    iterator has moved on and after the objects and the connector are closed.

    Arrays are writable, as those of ``safetensors.numpy.load_file`` and torch tensors
    are; in a well-formed file tensors do not overlap, so writing into one changes no
    other.

    Closing the iterator (``close()``, or dropping it) before the end closes the objects
    not read yet.

    :param connector: an :class:`~ossmodelconnector.OssModelConnector`.
    :param uri_or_uris: one ``oss://bucket/key`` URI or an iterable of them, loaded in that
        order. A URI ending in ``.index.json`` (e.g. ``model.safetensors.index.json``)
        stands for the shards its ``weight_map`` names, relative to the index's folder, in
        sorted order (as transformers loads them); it is read when this function is called.
    :param framework: ``"np"`` (or ``"numpy"``): numpy arrays, with the stand-in dtypes of
        :data:`STAND_INS` for bfloat16 and float8 tensors, whose bytes are the file's;
        ``"pt"`` (or ``"torch"``): CPU torch tensors with torch's own dtypes
        (``torch.bfloat16``, ``torch.float8_e4m3fn``, ...), sharing the same memory.
    :raises ValueError: an unknown framework; while iterating, a malformed shard (the
        message names the URI and the problem; raised before any tensor of that shard is
        yielded), or a dtype the framework cannot view (6-bit floats; a float8 type an old
        torch lacks).
    :raises TypeError: a URI that is not a ``str``.
    :raises ImportError: the framework's package (numpy or torch) is not installed.
    :raises OSError: as :meth:`~ossmodelconnector.OssModelConnector.open` and
        ``OssObject.readinto`` (``FileNotFoundError`` for a missing shard, ...), or a
        shard shorter than its announced size.
    """
    maker = _maker(framework)
    uris = _shard_uris(connector, uri_or_uris)
    tensors = _load(connector, uris, maker)
    next(tensors)  # opens every shard: prefetching starts now, and open errors raise here
    return tensors


# -- shards ---------------------------------------------------------------------------------


def _shard_uris(connector: Any, uri_or_uris: Union[str, Iterable[str]]) -> List[str]:
    """The shard URIs to load, in order, with index URIs replaced by their shards."""
    uris = [uri_or_uris] if isinstance(uri_or_uris, str) else list(uri_or_uris)
    shards: List[str] = []
    for uri in uris:
        if not isinstance(uri, str):
            raise TypeError(f"a shard URI must be a str, not {type(uri).__name__}")
        if uri.endswith(".index.json"):
            shards.extend(_index_shards(connector, uri))
        else:
            shards.append(uri)
    return shards


def _index_shards(connector: Any, uri: str) -> List[str]:
    """The shard URIs of the index at ``uri`` (its weight_map's files, sorted)."""
    with connector.open(uri) as f:
        data = f.read()
    try:
        index = json.loads(data.decode("utf-8"))
    except ValueError as e:
        raise ValueError(f"{uri}: not a safetensors index: {e}") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict):
        raise ValueError(f"{uri}: not a safetensors index: no weight_map object")
    files = set()
    for name, file in weight_map.items():
        if not isinstance(file, str) or not file:
            raise ValueError(f"{uri}: not a safetensors index: tensor {name!r} maps to {file!r}, not a file name")
        files.add(file)
    folder = uri[: uri.rfind("/")]
    return [f"{folder}/{file}" for file in sorted(files)]


def _object_size(obj: Any) -> int:
    """The size of ``obj`` (``size()`` is a method, as in Alibaba's package)."""
    return int(obj.size())


def _load(connector: Any, uris: List[str], maker: _Maker) -> Iterator[Tuple[str, Any]]:
    """The generator behind :func:`load`: yields once (a placeholder :func:`load` takes)
    after opening every shard, then the tensors."""
    objs: List[Any] = []
    try:
        for uri in uris:
            objs.append(connector.open(uri))
        yield "", None
        for uri, obj in zip(uris, objs):
            memory = _read_shard(obj, uri)
            obj.close()
            # Every array of the shard is built (and so checked) before the first is yielded.
            arrays = [(entry[0], maker(memory, uri, entry)) for entry in _parse_header(memory, uri)]
            # From here the arrays alone keep the shard's memory: once the caller has dropped
            # them all, it is unmapped before the next shard is read.
            del memory
            arrays.reverse()
            while arrays:
                yield arrays.pop()
    finally:
        for obj in objs:
            obj.close()


def _read_shard(obj: Any, uri: str) -> mmap.mmap:
    """The whole of ``obj``, read straight into a new private anonymous mapping."""
    size = _object_size(obj)
    if size < 8:
        raise ValueError(f"{uri}: not a safetensors file: {size} bytes, fewer than the 8 of the header length")
    # Private: ordinary anonymous memory (a shared anonymous mapping would be shmem).
    memory = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)
    madvise = getattr(memory, "madvise", None)
    huge = getattr(mmap, "MADV_HUGEPAGE", None)
    if madvise is not None and huge is not None:
        try:
            madvise(huge)  # fewer page faults while a multi-GB shard is written
        except OSError:
            pass
    n = obj.readinto(memory)
    if n != size:
        raise OSError(f"{uri}: read {n} bytes of the {size} the object has; it was cut short")
    return memory


# -- the header -----------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return type(value) is int  # not bool, which JSON true/false would give


def _parse_header(memory: mmap.mmap, uri: str) -> List[_Entry]:
    """The tensors of the shard in ``memory``, checked, in the order of their data offsets.

    :raises ValueError: the header is malformed (the message names ``uri`` and the problem).
    """

    def bad(problem: str) -> ValueError:
        return ValueError(f"{uri}: not a valid safetensors file: {problem}")

    size = len(memory)
    (header_len,) = struct.unpack_from("<Q", memory, 0)
    if header_len > size - 8:
        raise bad(f"the header length {header_len} goes past the end of the file ({size} bytes)")
    try:
        header = json.loads(memory[8 : 8 + header_len].decode("utf-8"))
    except ValueError as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise bad(f"the header is not UTF-8 JSON: {e}") from None
    if not isinstance(header, dict):
        raise bad(f"the header is a JSON {type(header).__name__}, not an object")
    data_start = 8 + header_len
    data_len = size - data_start
    entries: List[_Entry] = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict):
            raise bad(f"tensor {name!r}: expected an object, got {info!r}")
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        kind = _DTYPES.get(dtype) if isinstance(dtype, str) else None
        if kind is None:
            raise bad(f"tensor {name!r}: unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            raise bad(f"tensor {name!r}: shape {shape!r} is not a list of non-negative integers")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_int(o) for o in offsets)):
            raise bad(f"tensor {name!r}: data_offsets {offsets!r} is not a pair of integers")
        begin, end = offsets
        if not 0 <= begin <= end <= data_len:
            raise bad(f"tensor {name!r}: data_offsets [{begin}, {end}] are outside the data section ({data_len} bytes)")
        count = 1
        for d in shape:
            count *= d
        bits = count * kind.bits
        if bits % 8 != 0 or bits // 8 != end - begin:
            raise bad(
                f"tensor {name!r}: {end - begin} bytes of data for shape {shape} of {dtype} "
                f"({count} elements of {kind.bits} bits)"
            )
        entries.append((name, dtype, tuple(shape), data_start + begin, end - begin))
    entries.sort(key=lambda e: (e[3], e[4]))  # stable: header order among equal offsets
    return entries


# -- arrays ---------------------------------------------------------------------------------


def _view_shape(uri: str, entry: _Entry, framework: str) -> Tuple[int, ...]:
    """The shape of the view of ``entry``: its own, or for F4 its byte pairs along the last
    dimension; raises ValueError for what cannot be viewed."""
    name, dtype, shape, _, _ = entry
    if _DTYPES[dtype].bits >= 8:
        return shape
    if dtype == "F4" and shape and shape[-1] % 2 == 0:
        return shape[:-1] + (shape[-1] // 2,)
    what = f"4-bit values, shape {list(shape)}" if dtype == "F4" else "6-bit values packed four in three bytes"
    raise ValueError(f"{uri}: tensor {name!r} has dtype {dtype} ({what}), which framework={framework!r} cannot view")


def _maker(framework: str) -> _Maker:
    """The function building one array for ``framework`` (imports numpy or torch)."""
    kind = _FRAMEWORKS.get(framework) if isinstance(framework, str) else None
    if kind is None:
        raise ValueError(f"framework must be 'np' (numpy) or 'pt' (torch), not {framework!r}")
    return _numpy_maker() if kind == "np" else _torch_maker()


def _numpy_maker() -> _Maker:
    import numpy as np

    dtypes: Dict[str, Any] = {}
    for name, kind in _DTYPES.items():
        if kind.numpy is not None:
            meta = {STAND_IN_KEY: name} if name in STAND_INS else None
            dtypes[name] = np.dtype(kind.numpy, metadata=meta) if meta else np.dtype(kind.numpy)

    def make(memory: mmap.mmap, uri: str, entry: _Entry) -> Any:
        _, dtype, _, offset, length = entry
        shape = _view_shape(uri, entry, "np")
        np_dtype = dtypes[dtype]
        array = np.frombuffer(memory, dtype=np_dtype, count=length // np_dtype.itemsize, offset=offset)
        return array.reshape(shape)

    return make


def _torch_maker() -> _Maker:
    import torch

    if sys.byteorder != "little":
        raise ValueError("framework='pt' needs a little-endian machine (safetensors files are little-endian)")

    def make(memory: mmap.mmap, uri: str, entry: _Entry) -> Any:
        name, dtype, _, offset, length = entry
        shape = _view_shape(uri, entry, "pt")
        kind = _DTYPES[dtype]
        torch_dtype = getattr(torch, kind.torch, None) if kind.torch else None
        if torch_dtype is None:
            raise ValueError(
                f"{uri}: tensor {name!r} has dtype {dtype}, which torch {torch.__version__} has no dtype for"
            )
        if length == 0:  # torch.frombuffer refuses an empty view
            return torch.empty(shape, dtype=torch_dtype)
        count = length // (max(kind.bits, 8) // 8)
        return torch.frombuffer(memory, dtype=torch_dtype, count=count, offset=offset).reshape(shape)

    return make
