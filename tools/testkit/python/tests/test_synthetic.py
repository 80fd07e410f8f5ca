"""The Python synthetic functions against their definition and the Rust side's known values."""

import numpy as np
import pytest

from ossmc_testkit import synthetic as syn


def slow(seed, offset, length):
    """The definition, byte by byte, with Python integers."""
    return bytes(syn.word(seed, o // 8).to_bytes(8, "little")[o % 8] for o in range(offset, offset + length))


def test_known_values_shared_with_rust():
    # tools/testkit/src/synthetic.rs asserts the same numbers.
    assert syn.seed("") == 0xCBF29CE484222325
    assert syn.seed("a") == 0xAF63DC4C8601EC8C
    assert int.from_bytes(syn.fill(syn.seed("a"), 0, 8), "little") == syn.word(syn.seed("a"), 0)
    k = syn.WORD_MULTIPLIER
    assert syn.word(0, 1) == k ^ (k >> 31)
    assert syn.shard_key("qwen", 2, 38) == "qwen/model-00002-of-00038.safetensors"


def test_seed_hashes_utf8_bytes():
    # FNV-1a over the UTF-8 encoding, not over code points.
    h = 0xCBF29CE484222325
    for b in "ü".encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) % 2**64
    assert syn.seed("ü") == h
    assert syn.seed("ü") != syn.seed("u")


@pytest.mark.parametrize("offset", [0, 1, 7, 8, 9, 4095, 1 << 33])
@pytest.mark.parametrize("length", [0, 1, 3, 8, 15, 64, 1001])
def test_fill_matches_the_definition_at_any_alignment(offset, length):
    s = syn.seed("m/model-00001-of-00004.safetensors")
    assert syn.fill(s, offset, length) == slow(s, offset, length)


@pytest.mark.parametrize("offset", [0, 3, 8 * 32 * 1024 - 5])
def test_fill_is_continuous_across_internal_blocks(offset):
    s = syn.seed("k")
    length = 3 * 256 * 1024 + 11
    whole = syn.fill(s, offset, length)
    # Compare pieces around every block edge with the definition.
    for edge in range(0, offset + length, 256 * 1024):
        lo = max(offset, edge - 13)
        hi = min(offset + length, edge + 13)
        if lo < hi:
            assert whole[lo - offset : hi - offset] == slow(s, lo, hi - lo), f"edge {edge}"
    # And any sub-range equals a fill of that sub-range.
    assert whole[123457:400001] == syn.fill(s, offset + 123457, 400001 - 123457)


def test_fill_into_writes_numpy_arrays_and_bytearrays():
    s = syn.seed("x")
    arr = np.zeros(1000, dtype=np.uint8)
    syn.fill_into(s, 77, arr)
    ba = bytearray(1000)
    syn.fill_into(s, 77, ba)
    assert arr.tobytes() == bytes(ba) == syn.fill(s, 77, 1000)
    with pytest.raises(ValueError):
        syn.fill_into(s, 0, np.zeros((10, 10), dtype=np.uint8)[:, 1])


def test_mismatch_is_found_at_the_right_place():
    s = syn.seed("k")
    buf = bytearray(syn.fill(s, 5, 3_000_000))
    assert syn.first_mismatch(s, 5, buf) is None
    buf[2_500_001] ^= 1
    assert syn.first_mismatch(s, 5, buf) == 2_500_001
    assert syn.first_mismatch(s, 6, buf) is not None
    assert syn.first_mismatch(s, 0, b"") is None


def test_key_names_are_distinct_and_varied():
    names = {syn.key_name("p/", i) for i in range(10_000)}
    assert len(names) == 10_000
    assert any(not n.isascii() for n in names)
    assert syn.key_name("p/", 42) == "p/img/0000042.jpg"
    assert syn.key_name("p/", 45) == "p/d04/s06/f0000045.bin"
    assert syn.key_name("p/", 48) == "p/deep/a4/b0/c0/w0000048.txt"
    assert syn.key_name("p/", 49) == "p/ünïcødé/文件 0000049+x.bin"


def test_key_sizes_are_small_varied_and_sometimes_empty():
    sizes = [syn.key_size(i) for i in range(5000)]
    assert min(sizes) == 0 and max(sizes) < 4096
    assert syn.key_size(1) == 7919 % 4096
    assert len(set(sizes)) > 1000


def test_fill_results_do_not_share_the_reused_buffer():
    a = syn.fill(syn.seed("a"), 0, 4096)
    b = syn.fill(syn.seed("b"), 0, 4096)
    assert a != b
    assert a == slow(syn.seed("a"), 0, 4096)
    big = syn.fill(syn.seed("c"), 9, (16 << 20) + 3)  # past the per-thread buffer
    assert syn.first_mismatch(syn.seed("c"), 9, big) is None
    assert big[-3:] == slow(syn.seed("c"), 9 + (16 << 20), 3)
