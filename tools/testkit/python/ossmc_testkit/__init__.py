"""Test support shared by ossmc's Python tests and benchmarks: the Python twin of the Rust
crate ``ossmc-testkit``.

* :mod:`ossmc_testkit.synthetic`: the synthetic object bytes and key names that oss-local
  serves without storing them, so any range can be produced or verified on its own.
* :mod:`ossmc_testkit.oss_local`: :class:`OssLocal`, an oss-local server on 127.0.0.1 with a
  free port, stopped at the end of a ``with`` block.

Put ``tools/testkit/python`` on ``sys.path`` (a ``conftest.py`` does it) and
``import ossmc_testkit``.
"""

from .oss_local import (
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    OssLocal,
    OssLocalError,
    binary,
)
from .synthetic import (
    WORD_MULTIPLIER,
    fill,
    fill_into,
    first_mismatch,
    key_name,
    key_size,
    seed,
    shard_key,
    word,
)

__all__ = [
    "TEST_ACCESS_KEY_ID",
    "TEST_ACCESS_KEY_SECRET",
    "OssLocal",
    "OssLocalError",
    "binary",
    "WORD_MULTIPLIER",
    "fill",
    "fill_into",
    "first_mismatch",
    "key_name",
    "key_size",
    "seed",
    "shard_key",
    "word",
]
