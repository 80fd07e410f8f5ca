"""The benchmark's workload: the synthetic sharded model and the random-read plan.

The model is ``SHARDS`` objects of ``MIB`` MiB named like a sharded safetensors checkpoint
(``ossmc_testkit.shard_key``), served by oss-local's ``--model`` option and written byte-identical
to tmpfs for nginx. The random pattern stands for safetensors tensors fetched lazily: reads of
1-16 MiB (uniform) at uniform offsets in uniformly chosen shards, until ``random_mib`` MiB are
planned, from a fixed seed so every contender and every run asks for the same bytes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import List, Tuple

from driver import syn

BUCKET = "bench"
MODEL = "model"
MIB = 1 << 20


@dataclass(frozen=True)
class Model:
    """The synthetic model: ``shards`` objects of ``shard_bytes`` bytes each."""

    shards: int
    shard_bytes: int

    @property
    def keys(self) -> List[str]:
        return [syn.shard_key(MODEL, i, self.shards) for i in range(1, self.shards + 1)]

    @property
    def total_bytes(self) -> int:
        return self.shards * self.shard_bytes

    def oss_local_arg(self) -> str:
        """The ``--model`` value that makes oss-local serve exactly these objects."""
        return f"{BUCKET}/{MODEL}:{self.shards}:{self.shard_bytes // MIB}"

    def objects(self) -> List[dict]:
        return [{"key": k, "size": self.shard_bytes} for k in self.keys]


def random_reads(model: Model, total_bytes: int, seed: int = 20250314) -> List[Tuple[int, int, int]]:
    """``(shard_index, offset, length)`` reads of 1-16 MiB adding up to at least
    ``total_bytes`` (lengths are capped by the shard size)."""
    rng = random.Random(seed)
    reads: List[Tuple[int, int, int]] = []
    planned = 0
    while planned < total_bytes:
        length = min(rng.randint(1 * MIB, 16 * MIB), model.shard_bytes)
        shard = rng.randrange(model.shards)
        offset = rng.randrange(0, model.shard_bytes - length + 1)
        reads.append((shard, offset, length))
        planned += length
    return reads
