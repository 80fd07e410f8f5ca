"""The synthetic data that oss-local serves, as a pure function, in Python.

This is the twin of ``tools/testkit/src/synthetic.rs``; both must give the same bytes and
the same key names, and each side's tests assert the same known values.

* Object bytes (:func:`fill`): the byte at ``offset`` of the object named ``key`` is byte
  ``offset % 8`` (little-endian) of the 64-bit word ``w(i) = y ^ (y >> 31)`` where
  ``y = (seed(key) + i) * 0x9E3779B97F4A7C15 (mod 2**64)`` and ``i = offset // 8``;
  ``seed(key)`` is FNV-1a-64 of the key's UTF-8 bytes.
* Key names (:func:`key_name`, :func:`key_size`, :func:`shard_key`): the objects created by
  oss-local's ``--keys BUCKET/PREFIX:COUNT`` and ``--model BUCKET/NAME:SHARDS:MIB`` options.

Generation works on cache-sized blocks of words with numpy, so producing a range into an
existing buffer (:func:`fill_into`) or checking one (:func:`first_mismatch`) runs at a few
GB/s and never limits a test.
"""

from __future__ import annotations

import threading
from typing import Optional, Tuple, Union

import numpy as np

__all__ = [
    "WORD_MULTIPLIER",
    "seed",
    "word",
    "fill",
    "fill_into",
    "first_mismatch",
    "shard_key",
    "key_name",
    "key_size",
]

#: The multiplier of the word function: 2**64 / golden ratio, odd, so ``i -> i * K`` is a
#: bijection on 64-bit integers.
WORD_MULTIPLIER = 0x9E3779B97F4A7C15

_MASK = (1 << 64) - 1
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x00000100000001B3

# Words per block: 32 Ki words = 256 KiB, small enough that the three numpy passes over a
# block stay in the L2 cache.
_BLOCK_WORDS = 32 * 1024
# _STEPS[j] = j * K (mod 2**64): adding the block's first y turns it into the block's y
# values, so a block costs one add, one shift and one xor per word, and no multiply.
with np.errstate(over="ignore"):
    _STEPS = np.arange(_BLOCK_WORDS, dtype=np.uint64) * np.uint64(WORD_MULTIPLIER)

BytesLike = Union[bytes, bytearray, memoryview, np.ndarray]


def seed(key: str) -> int:
    """FNV-1a-64 of the key's UTF-8 bytes: the per-object seed of the byte function."""
    h = _FNV_OFFSET
    for b in key.encode("utf-8"):
        h = ((h ^ b) * _FNV_PRIME) & _MASK
    return h


def word(seed_value: int, i: int) -> int:
    """The 64-bit word at word index ``i`` of the object with seed ``seed_value``."""
    y = ((seed_value + i) * WORD_MULTIPLIER) & _MASK
    return y ^ (y >> 31)


def _words_block(seed_value: int, first_word: int, count: int, out: np.ndarray, tmp: np.ndarray) -> None:
    """Writes words ``first_word .. first_word + count`` into ``out[:count]`` (uint64)."""
    y0 = np.uint64(((seed_value + first_word) * WORD_MULTIPLIER) & _MASK)
    dst = out[:count]
    with np.errstate(over="ignore"):
        np.add(_STEPS[:count], y0, out=dst)
    np.right_shift(dst, np.uint64(31), out=tmp[:count])
    np.bitwise_xor(dst, tmp[:count], out=dst)


_local = threading.local()
# The largest fill() served from the per-thread buffer (which grows up to this size).
_FILL_CACHE_MAX = 16 << 20


def _scratch() -> Tuple[np.ndarray, np.ndarray]:
    """Two block-sized word buffers owned by the calling thread, reused across calls
    (allocating and first-touching 512 KiB per call would cost more than the work)."""
    bufs = getattr(_local, "bufs", None)
    if bufs is None:
        bufs = (np.empty(_BLOCK_WORDS, dtype="<u8"), np.empty(_BLOCK_WORDS, dtype="<u8"))
        _local.bufs = bufs
    return bufs


def _blocks(seed_value: int, offset: int, length: int):
    """Yields ``(position, bytes_view)`` pairs covering the object's bytes
    ``offset .. offset + length``; each view is only valid until the next one is produced."""
    if offset < 0 or length < 0:
        raise ValueError(f"offset and length must not be negative (got {offset} and {length})")
    words, tmp = _scratch()
    as_bytes = words.view(np.uint8)
    pos = 0
    while pos < length:
        start = offset + pos
        first_word = start // 8
        skip = start % 8
        count = min(_BLOCK_WORDS, (skip + length - pos + 7) // 8)
        _words_block(seed_value, first_word, count, words, tmp)
        n = min(count * 8 - skip, length - pos)
        yield pos, as_bytes[skip : skip + n]
        pos += n


def _as_bytes(buf: BytesLike) -> np.ndarray:
    """A flat uint8 view of ``buf`` without copying (a copy would lose writes)."""
    if isinstance(buf, np.ndarray):
        if not buf.flags.c_contiguous:
            raise ValueError("the buffer must be C-contiguous")
        return buf.reshape(-1).view(np.uint8)
    return np.frombuffer(buf, dtype=np.uint8)


def fill_into(seed_value: int, offset: int, buf: BytesLike) -> None:
    """Fills the writable buffer ``buf`` with the object's bytes starting at ``offset``."""
    dst = _as_bytes(buf)
    for pos, block in _blocks(seed_value, offset, dst.shape[0]):
        dst[pos : pos + block.shape[0]] = block


def fill(seed_value: int, offset: int, length: int) -> bytes:
    """The ``length`` bytes of the object with seed ``seed_value`` starting at ``offset``.

    Up to 16 MiB are generated in a buffer the calling thread keeps, so only the returned
    bytes are new memory (first-touching fresh pages costs more than generating them);
    :func:`fill_into` with a reused buffer avoids even that."""
    if length <= _FILL_CACHE_MAX:
        cache = getattr(_local, "fill_cache", None)
        if cache is None or cache.shape[0] < length:
            cache = np.empty(max(length, 1 << 20), dtype=np.uint8)
            _local.fill_cache = cache
        view = cache[:length]
        fill_into(seed_value, offset, view)
        return view.tobytes()
    out = np.empty(length, dtype=np.uint8)
    fill_into(seed_value, offset, out)
    return out.tobytes()


def first_mismatch(seed_value: int, offset: int, data: BytesLike) -> Optional[int]:
    """The index of the first byte of ``data`` (which should hold the object's bytes from
    ``offset``) that differs from the synthetic content, or ``None`` when all match."""
    got = _as_bytes(data)
    for pos, block in _blocks(seed_value, offset, got.shape[0]):
        n = block.shape[0]
        diff = got[pos : pos + n] != block
        if diff.any():
            return pos + int(np.argmax(diff))
    return None


def shard_key(name: str, index: int, shards: int) -> str:
    """The key of shard ``index`` (1-based) of a ``--model BUCKET/NAME:SHARDS:MIB`` model."""
    return f"{name}/model-{index:05d}-of-{shards:05d}.safetensors"


def key_name(prefix: str, i: int) -> str:
    """The ``i``-th key (0-based) of an ``--keys BUCKET/PREFIX:COUNT`` set.

    Shapes, by ``i % 10``: 0-4 one flat directory (``img/0000042.jpg``); 5-7 nested
    directories (``d17/s03/f0000045.bin``); 8 a deep tree (``deep/a3/b1/c4/w0000048.txt``);
    9 non-ASCII with a space and ``+`` (``ünïcødé/文件 0000049+x.bin``).
    """
    r = i % 10
    if r <= 4:
        return f"{prefix}img/{i:07d}.jpg"
    if r <= 7:
        return f"{prefix}d{(i // 10) % 97:02d}/s{(i // 7) % 13:02d}/f{i:07d}.bin"
    if r == 8:
        return f"{prefix}deep/a{(i // 10) % 5}/b{(i // 50) % 5}/c{(i // 250) % 5}/w{i:07d}.txt"
    return f"{prefix}ünïcødé/文件 {i:07d}+x.bin"


def key_size(i: int) -> int:
    """The size of the ``i``-th key of an ``--keys`` set: small, varied, sometimes empty."""
    return ((i * 7919) & _MASK) % 4096
