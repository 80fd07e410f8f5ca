"""Constants and helpers shared by the conformance test modules (the fixtures are in
conftest.py): the server's content, how to start it, and what listings and reads must return.

Expected bytes and listings come from ``ossmc_testkit``, the same pure functions the server
uses, so nothing is downloaded twice to be compared. A module with its own name rather than
``conftest`` so that test modules can import it whatever other conftest files pytest loads.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "testkit" / "python"))

from ossmc_testkit import (  # noqa: E402
    TEST_ACCESS_KEY_ID,
    TEST_ACCESS_KEY_SECRET,
    OssLocal,
    synthetic as syn,
)

#: The bucket every test uses. The osstorchconnector tests address it as
#: ``BUCKET.localhost``, which setup_hosts.sh maps to 127.0.0.1.
BUCKET = "ossmc-conformance"
REGION = "cn-hangzhou"
AK = TEST_ACCESS_KEY_ID
SK = TEST_ACCESS_KEY_SECRET
WRONG_SK = "NotTheSecret456"
#: The STS token of the token-checking server (with the characters that need encoding).
TOKEN = "CAISTestSecurityToken/Exa+mple=="

MODEL = "models/qwen"
SHARDS = 3
SHARD_MIB = 5
SHARD_SIZE = SHARD_MIB * 2**20
KEYS_PREFIX = "data/"
KEYS_COUNT = 300
#: A second key set, larger than one 1000-key page, for clients that page on their own.
MANY_PREFIX = "many/"
MANY_COUNT = 2500


def shard_keys() -> List[str]:
    """The keys of the synthetic model's shards."""
    return [syn.shard_key(MODEL, i, SHARDS) for i in range(1, SHARDS + 1)]


def synthetic_objects() -> Dict[str, int]:
    """Every synthetic object the server holds: key -> size."""
    objects = {k: SHARD_SIZE for k in shard_keys()}
    objects.update({syn.key_name(KEYS_PREFIX, i): syn.key_size(i) for i in range(KEYS_COUNT)})
    objects.update({syn.key_name(MANY_PREFIX, i): syn.key_size(i) for i in range(MANY_COUNT)})
    return objects


def key_of_set(i: int) -> Tuple[str, int]:
    """Key and size of the ``i``-th object of the synthetic key set."""
    return syn.key_name(KEYS_PREFIX, i), syn.key_size(i)


def expected_listing(
    objects: Dict[str, int], prefix: str = "", delimiter: str = ""
) -> Tuple[List[Tuple[str, int]], List[str]]:
    """What a listing of ``objects`` must return: ``(contents, common_prefixes)``, each in
    UTF-8 byte order, with keys under a delimiter rolled up as OSS does."""
    contents = []
    prefixes = set()
    for key, size in objects.items():
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix):]
        if delimiter and delimiter in rest:
            prefixes.add(prefix + rest[: rest.index(delimiter) + len(delimiter)])
        else:
            contents.append((key, size))
    contents.sort(key=lambda kv: kv[0].encode("utf-8"))
    return contents, sorted(prefixes, key=lambda p: p.encode("utf-8"))


def utf8_sorted(keys: Iterable[str]) -> List[str]:
    """``keys`` in UTF-8 byte order, the order of OSS listings."""
    return sorted(keys, key=lambda k: k.encode("utf-8"))


def expected_bytes(key: str, offset: int = 0, length: Optional[int] = None) -> bytes:
    """The synthetic content of ``key`` from ``offset`` (to the end when ``length`` is None)."""
    if length is None:
        length = synthetic_objects()[key] - offset
    return syn.fill(syn.seed(key), offset, length)


def crc64(data: bytes) -> int:
    """CRC-64/XZ (OSS's ``x-oss-hash-crc64ecma``) of ``data``, with oss2's implementation."""
    import oss2.utils

    c = oss2.utils.Crc64(0)
    c.update(data)
    return c.crc


def start_server(tmp_path_factory, *extra: str) -> OssLocal:
    """An oss-local with the shared bucket, model and key set, plus ``extra`` options."""
    root = tmp_path_factory.mktemp("oss-root")
    return OssLocal(
        [
            "--root", str(root),
            "--bucket", BUCKET,
            "--model", f"{BUCKET}/{MODEL}:{SHARDS}:{SHARD_MIB}",
            "--keys", f"{BUCKET}/{KEYS_PREFIX}:{KEYS_COUNT}",
            "--keys", f"{BUCKET}/{MANY_PREFIX}:{MANY_COUNT}",
            "--region", REGION,
            *extra,
        ]
    )


#: Keys that need encoding in a path or a query: space, unicode and ``+ % ? # = &``.
SPECIAL_KEYS = [
    "put/plain.bin",
    "put/with space.bin",
    "put/ünïcødé 文件.bin",
    "put/a+b%c?d#e=f&g.bin",
    "put/dir/nested/x~y_z-.bin",
    "put/trailing space ",
]
