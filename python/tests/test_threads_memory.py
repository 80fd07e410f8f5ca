"""Parallel reads from Python threads, and memory released by close and by GC."""

from __future__ import annotations

import gc
import os
import threading
import time

import pytest
from conftest import start_server
from ossmc_testkit import first_mismatch, seed, shard_key

from ossmodelconnector import OssModelConnector

MiB = 1024 * 1024


def test_threads_read_different_objects_in_parallel(model_server, oss_env, tmp_config):
    from conftest import MODEL_NAME, MODEL_SHARDS, shard_uri

    connector = OssModelConnector(model_server.endpoint, config_path=tmp_config)
    failures = []

    def worker(i: int) -> None:
        key = shard_key(MODEL_NAME, i, MODEL_SHARDS)
        try:
            with connector.open(shard_uri(i)) as obj:
                buf = bytearray(3 * MiB + 17)  # odd size: reads straddle chunks
                offset = 0
                while True:
                    n = obj.readinto(buf)
                    if n == 0:
                        break
                    bad = first_mismatch(seed(key), offset, memoryview(buf)[:n])
                    if bad is not None:
                        failures.append(f"{key}: byte {offset + bad} differs")
                        return
                    offset += n
                if offset != obj.size():
                    failures.append(f"{key}: read {offset} of {obj.size()} bytes")
        except BaseException as e:  # noqa: B902 - reported by the assertion below
            failures.append(f"{key}: {e!r}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(1, MODEL_SHARDS + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_one_object_shared_between_threads_is_serialised(model_server, oss_env, tmp_config):
    from conftest import MODEL_NAME, MODEL_SHARDS, shard_uri

    connector = OssModelConnector(model_server.endpoint, config_path=tmp_config)
    obj = connector.open(shard_uri(4))
    got = []
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                pos = obj.tell()
                data = obj.read(MiB)
            if not data:
                return
            got.append((pos, data))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    key = shard_key(MODEL_NAME, 4, MODEL_SHARDS)
    assert sum(len(d) for _, d in got) == obj.size()
    for pos, data in got:
        assert first_mismatch(seed(key), pos, data) is None
    obj.close()


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


BIG_SHARDS, BIG_MIB = 4, 256


@pytest.fixture(scope="module")
def big_server():
    """oss-local with a 1 GiB model (a debug build needs a while to prepare it)."""
    with start_server(["--model", f"big/m:{BIG_SHARDS}:{BIG_MIB}"], start_timeout=300) as server:
        yield server


@pytest.mark.parametrize("release", ["close", "gc"])
def test_memory_returns_near_baseline_after_a_1_gib_load(big_server, oss_env, tmp_config, release):
    shards, mib = BIG_SHARDS, BIG_MIB
    connector = OssModelConnector(big_server.endpoint, config_path=tmp_config)
    buf = bytearray(4 * MiB)
    gc.collect()
    baseline = _rss_bytes()
    objs = [connector.open(f"oss://big/{shard_key('m', i, shards)}") for i in range(1, shards + 1)]
    peak = 0
    for i, obj in enumerate(objs, 1):
        key, offset = shard_key("m", i, shards), 0
        while True:
            n = obj.readinto(buf)
            if n == 0:
                break
            if offset % (64 * MiB) == 0:  # spot checks keep the test fast
                assert first_mismatch(seed(key), offset, memoryview(buf)[:n]) is None
            offset += n
            peak = max(peak, _rss_bytes())
        assert offset == mib * MiB
    if release == "close":
        for obj in objs:
            obj.close()
    else:
        del obj
        objs.clear()
        gc.collect()
    # Prefetched chunks are gone at once; spare buffers kept for the next load go back to the
    # system once the connector has been idle for about a second: wait for that, bounded.
    # What stays is allocator slack, bounded well below the prefetch window (peak growth)
    # and far below the 1 GiB that went through.
    growth_peak = peak - baseline
    deadline = time.monotonic() + 30
    while True:
        growth_after = _rss_bytes() - baseline
        if growth_after < 200 * MiB or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert growth_after < 200 * MiB, (
        f"RSS stayed {growth_after / MiB:.0f} MiB above its baseline after {release} "
        f"(peak {growth_peak / MiB:.0f} MiB above)"
    )
