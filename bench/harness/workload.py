"""The benchmark's workload: the synthetic sharded model and the random-read plan.

The model is ``SHARDS`` objects of ``MIB`` MiB named like a sharded safetensors checkpoint
(``ossmc_testkit.shard_key``), served by oss-local's ``--model`` option and written byte-identical
to tmpfs for nginx. The random pattern stands for safetensors tensors fetched lazily: reads of
1-16 MiB (uniform) at uniform offsets in uniformly chosen shards, until ``random_mib`` MiB are
planned, from a fixed seed so every contender and every run asks for the same bytes.

Access patterns (:data:`PATTERNS`): a sequential load is one of four, the cross product of
how each shard is read and how the shards are opened:

* read ``chunk``: ``readinto`` a reused ``--buffer-mib`` (4 MiB) buffer until the shard is
  done; ``shard``: ``readinto`` one pre-allocated buffer the size of a shard, looping until the
  shard is in it, as ``safetensors.load(obj.read())`` and tensor loaders read;
* open ``all``: open every shard first (the open order is the prefetch order), then read each;
  ``one``: open, read and close one shard at a time.

``random`` is the lazily fetched tensors pattern above.

``dir`` is not a read pattern but a destination: the whole model made into a directory on
tmpfs that any framework can load (``LLM(model=dir)``), one file per object named by its key
below the model's prefix (:meth:`Model.relative_paths`). Its time ends when every file is in
place; the files are checked byte for byte after that (``driver.Run.finish_directory``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import List, Tuple

from driver import syn

BUCKET = "bench"
MODEL = "model"
MIB = 1 << 20

#: pattern name -> (kind, read, open); kind is what drivers see as ``p["pattern"]``.
PATTERNS = {
    "chunk-all": ("seq", "chunk", "all"),
    "chunk-one": ("seq", "chunk", "one"),
    "shard-all": ("seq", "shard", "all"),
    "shard-one": ("seq", "shard", "one"),
    "random": ("random", None, None),
    "dir": ("dir", None, None),
}
SEQ_PATTERNS = [name for name, (kind, _, _) in PATTERNS.items() if kind == "seq"]
#: What a loader reads into memory (every pattern but ``dir``).
LOAD_PATTERNS = [name for name, (kind, _, _) in PATTERNS.items() if kind != "dir"]


def expand_patterns(spec: str) -> List[str]:
    """``--patterns`` value to pattern names: a comma list of names, ``seq`` (all four
    sequential ones), ``chunk``/``shard`` (both open patterns), ``all``/``one`` (both reads)."""
    out: List[str] = []
    for word in filter(None, (w.strip() for w in spec.split(","))):
        if word in PATTERNS:
            names = [word]
        elif word == "seq":
            names = SEQ_PATTERNS
        elif word in ("chunk", "shard"):
            names = [f"{word}-all", f"{word}-one"]
        elif word in ("all", "one"):
            names = [f"chunk-{word}", f"shard-{word}"]
        else:
            raise ValueError(f"unknown pattern {word!r} (one of {', '.join(PATTERNS)}, seq, chunk, shard, all, one)")
        out += [n for n in names if n not in out]
    return out


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

    @property
    def prefix(self) -> str:
        """The prefix every key starts with: what ``prepare_directory`` is given."""
        return MODEL + "/"

    def relative_paths(self) -> List[str]:
        """Each key below :attr:`prefix`: the file it becomes in a prepared directory."""
        return [k[len(self.prefix):] for k in self.keys]


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
