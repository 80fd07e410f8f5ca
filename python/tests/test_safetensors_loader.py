"""ossmodelconnector.safetensors.load against files the safetensors package wrote.

The shards are written with ``safetensors.numpy.save_file``; those with dtypes numpy lacks
(bfloat16, float8) are written as uint16/uint8 and get the real dtype patched into their
header, which the safetensors package itself then reads back as that dtype. The expected
arrays come from ``safetensors.numpy.load_file`` (of the unpatched twin, for the bytes of
patched files).
"""

from __future__ import annotations

import gc
import json
import mmap
import struct
import weakref
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest
from safetensors import deserialize, safe_open
from safetensors.numpy import load_file, save_file

from ossmodelconnector import OssModelConnector
from ossmodelconnector.safetensors import STAND_IN_KEY, STAND_INS, load

try:
    import torch
except ImportError:  # the framework="pt" tests skip
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

# The dtypes numpy lacks, patched into headers, and the numpy dtype their bytes are saved as.
PATCHED = {
    "bf16.weight": ("BF16", np.uint16),
    "fp8.e4m3": ("F8_E4M3", np.uint8),
    "fp8.e5m2": ("F8_E5M2", np.uint8),
    "fp8.e4m3fnuz": ("F8_E4M3FNUZ", np.uint8),
    "fp8.e5m2fnuz": ("F8_E5M2FNUZ", np.uint8),
    "fp8.e8m0": ("F8_E8M0", np.uint8),
}


# -- writing shards -------------------------------------------------------------------------


def plain_tensors(seed: int) -> Dict[str, np.ndarray]:
    """Tensors of every dtype numpy and safetensors share, and a scalar and an empty one."""
    rng = np.random.default_rng(seed)

    def ints(dtype: Any, shape: Tuple[int, ...]) -> np.ndarray:
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)

    return {
        "model.embed.f32": rng.standard_normal((64, 33), dtype=np.float32),
        "f64": rng.standard_normal((3, 5)),
        "f16": rng.standard_normal(77).astype(np.float16),
        "i64": ints(np.int64, (4, 4)),
        "i32": ints(np.int32, (9,)),
        "i16": ints(np.int16, (2, 3, 5)),
        "i8": ints(np.int8, (31,)),
        "u8": ints(np.uint8, (17,)),
        "u16": ints(np.uint16, (5, 2)),
        "u32": ints(np.uint32, (7,)),
        "u64": ints(np.uint64, (3,)),
        "bool": rng.integers(0, 2, 13).astype(bool),
        "c64": (rng.standard_normal(6) + 1j * rng.standard_normal(6)).astype(np.complex64),
        "scalar": np.array(seed + 0.5, dtype=np.float32),
        "empty": np.zeros((0, 8), dtype=np.float16),
    }


def patched_tensors(seed: int) -> Dict[str, np.ndarray]:
    """The raw bytes of the tensors of :data:`PATCHED` (bfloat16: the high halves of float32
    values), and a float32 one."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((16, 24), dtype=np.float32)
    tensors = {"bf16.weight": (values.view(np.uint32) >> 16).astype(np.uint16)}
    for name in PATCHED:
        if name != "bf16.weight":
            tensors[name] = rng.integers(0, 256, (8, 6), dtype=np.uint8)
    tensors["norm.f32"] = rng.standard_normal(24, dtype=np.float32)
    return tensors


def file_bytes(header: Any, data: bytes) -> bytes:
    """A safetensors file with this header (any JSON) and data section."""
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def header_of(data: bytes) -> Dict[str, Any]:
    (n,) = struct.unpack_from("<Q", data, 0)
    return json.loads(data[8 : 8 + n])


def save_patched(path: Path, raw: Path, tensors: Dict[str, np.ndarray], dtypes: Dict[str, str]) -> None:
    """Saves ``tensors`` to ``raw`` with safetensors, and to ``path`` the same file with the
    dtypes of ``dtypes`` patched in and the header's entries in reverse order (so that the
    header order is not the data order)."""
    save_file(tensors, str(raw))
    data = raw.read_bytes()
    header = header_of(data)
    (n,) = struct.unpack_from("<Q", data, 0)
    for name, dtype in dtypes.items():
        header[name]["dtype"] = dtype
    path.write_bytes(file_bytes(dict(reversed(list(header.items()))), data[8 + n :]))
    # The safetensors package itself reads the patched file, with the patched dtypes.
    with safe_open(str(path), framework="np") as f:
        assert {k: f.get_slice(k).get_dtype() for k in dtypes} == dtypes


def data_order(path: Path) -> List[str]:
    """The tensor names of a shard in the order of their data."""
    header = header_of(path.read_bytes())
    header.pop("__metadata__", None)
    return sorted(header, key=lambda k: tuple(header[k]["data_offsets"]))


# -- recording what load does ---------------------------------------------------------------


class RecordedObject:
    """An opened object that logs its reads and closes."""

    def __init__(self, inner: Any, uri: str, recorder: "Recorder") -> None:
        self.inner, self.uri, self.recorder = inner, uri, recorder

    def size(self) -> int:
        return self.inner.size()

    @property
    def closed(self) -> bool:
        return self.inner.closed

    def readinto(self, buf: Any) -> int:
        self.recorder.on_read(self.uri)
        self.recorder.events.append(("readinto", self.uri, len(memoryview(buf))))
        return self.inner.readinto(buf)

    def read(self, size: int = -1) -> bytes:
        self.recorder.events.append(("read", self.uri, size))
        return self.inner.read(size)

    def close(self) -> None:
        if not self.inner.closed:
            self.recorder.events.append(("close", self.uri))
        self.inner.close()

    def __enter__(self) -> "RecordedObject":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Recorder:
    """A connector that logs what is opened, read and closed through it."""

    def __init__(self, connector: OssModelConnector) -> None:
        self.connector = connector
        self.events: List[Tuple[Any, ...]] = []
        self.objects: List[RecordedObject] = []
        self.on_read = lambda uri: None

    def open(self, uri: str) -> RecordedObject:
        obj = RecordedObject(self.connector.open(uri), uri, self)
        self.events.append(("open", uri))
        self.objects.append(obj)
        return obj

    def all_closed(self) -> bool:
        return all(obj.closed for obj in self.objects)


@pytest.fixture
def connector(files_server, oss_env, tmp_config) -> OssModelConnector:
    return OssModelConnector(files_server.endpoint, config_path=tmp_config)


def mapping_of(array: np.ndarray) -> Any:
    """The object whose memory ``array`` views (through its bases)."""
    base: Any = array
    while isinstance(base, np.ndarray):
        base = base.base
    return base.obj if isinstance(base, memoryview) else base


def assert_same(got: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert got.dtype == expected.dtype, what
    assert got.shape == expected.shape, what
    assert got.tobytes() == expected.tobytes(), what


# -- the tests ------------------------------------------------------------------------------


def test_yields_what_safetensors_numpy_loads_in_file_order(files_root, tmp_path, connector):
    plain = files_root / "files" / "plain.safetensors"
    save_file(plain_tensors(1), str(plain), metadata={"format": "np"})
    patched, raw = files_root / "files" / "patched.safetensors", tmp_path / "patched.raw"
    save_patched(patched, raw, patched_tensors(2), {k: v[0] for k, v in PATCHED.items()})

    got = list(load(connector, ["oss://files/plain.safetensors", "oss://files/patched.safetensors"]))

    assert [name for name, _ in got] == data_order(plain) + data_order(patched)
    expected_plain, expected_raw = load_file(str(plain)), load_file(str(raw))
    for i, (name, array) in enumerate(got):
        assert isinstance(array, np.ndarray) and array.flags.writeable, name
        if i < len(expected_plain):
            assert_same(array, expected_plain[name], name)
            assert array.dtype.metadata is None, name
        elif name in PATCHED:
            dtype, stand_in = PATCHED[name]
            assert_same(array, expected_raw[name], name)
            assert array.dtype == stand_in and np.dtype(STAND_INS[dtype]) == stand_in, name
            assert array.dtype.metadata == {STAND_IN_KEY: dtype}, name
        else:
            assert_same(array, expected_raw[name], name)
            assert array.dtype.metadata is None, name
    # The stand-in holds bfloat16's bytes: widened to float32 they are the values it was cut from.
    bf16 = dict(got)["bf16.weight"]
    values = np.random.default_rng(2).standard_normal((16, 24), dtype=np.float32)
    widened = (bf16.astype(np.uint32) << 16).view(np.float32)
    assert np.array_equal(widened, (values.view(np.uint32) & 0xFFFF0000).view(np.float32))
    assert np.allclose(widened, values, rtol=2**-7)
    assert dict(got)["model.embed.f32"].dtype == np.float32


def test_arrays_outlive_the_iterator_the_objects_and_the_connector(files_root, connector):
    # Three shards with the same names and different values: a reused buffer would show.
    paths = []
    for i in (1, 2, 3):
        paths.append(files_root / "files" / f"model-{i:05d}-of-00003.safetensors")
        save_file(plain_tensors(10 + i), str(paths[-1]))
    uris = [f"oss://files/{p.name}" for p in paths]
    recorder = Recorder(connector)

    got: List[Tuple[int, str, np.ndarray]] = []
    it = load(recorder, uris)
    shard_of_name_count: Dict[str, int] = {}
    for name, array in it:
        shard = shard_of_name_count.get(name, 0)
        shard_of_name_count[name] = shard + 1
        got.append((shard, name, array))
    assert recorder.all_closed()
    connector.close()
    objects = recorder.objects
    del it, recorder, connector
    gc.collect()
    assert all(obj.closed for obj in objects)

    expected = [load_file(str(p)) for p in paths]
    assert len(got) == sum(len(e) for e in expected)
    for shard, name, array in got:
        assert_same(array, expected[shard][name], f"shard {shard + 1}: {name}")

    # One private mapping per shard, of the shard's size; no memory shared across tensors.
    mappings = {shard: mapping_of(array) for shard, _, array in got}
    for shard, m in mappings.items():
        assert isinstance(m, mmap.mmap) and len(m) == paths[shard].stat().st_size
    assert len({id(m) for m in mappings.values()}) == 3
    for shard, name, array in got:
        assert mapping_of(array) is mappings[shard], name
    sized = [(shard, name, array) for shard, name, array in got if array.size]
    for i, (s1, n1, a1) in enumerate(sized):
        for s2, n2, a2 in sized[i + 1 :]:
            assert not np.may_share_memory(a1, a2), (s1, n1, s2, n2)

    # The mappings are released with the last array built on them.
    refs = [weakref.ref(m) for m in mappings.values()]
    del mappings, m, array, a1, a2, sized
    got.clear()
    gc.collect()
    assert [r() for r in refs] == [None, None, None]


def test_a_shard_is_released_before_the_next_is_read_once_its_arrays_are_gone(files_root, connector):
    for i in (1, 2, 3):
        save_file(plain_tensors(i), str(files_root / "files" / f"s{i}.safetensors"))
    recorder = Recorder(connector)
    refs: List[weakref.ref] = []
    alive_at_read: List[int] = []
    recorder.on_read = lambda uri: alive_at_read.append(sum(r() is not None for r in refs))
    for _name, array in load(recorder, [f"oss://files/s{i}.safetensors" for i in (1, 2, 3)]):
        m = mapping_of(array)
        if not refs or refs[-1]() is not m:  # the first tensor of a shard (ids may be reused)
            refs.append(weakref.ref(m))
        del array, m  # the caller keeps nothing
    assert alive_at_read == [0, 0, 0]
    assert len(refs) == 3


def test_every_shard_is_opened_first_then_read_whole_with_readinto(files_root, connector):
    sizes = {}
    for i in (1, 2, 3):
        path = files_root / "files" / f"m{i}.safetensors"
        save_file(plain_tensors(i), str(path))
        sizes[f"oss://files/m{i}.safetensors"] = path.stat().st_size
    uris = list(sizes)
    recorder = Recorder(connector)

    it = load(recorder, uris)
    assert recorder.events == [("open", u) for u in uris]  # before the first next()
    names = [name for name, _ in it]

    assert len(names) == 3 * len(plain_tensors(0))
    expected = [("open", u) for u in uris]
    for u in uris:
        expected += [("readinto", u, sizes[u]), ("close", u)]
    assert recorder.events == expected  # one whole-object readinto a shard, never read()


def test_an_index_stands_for_its_shards_in_sorted_order(files_root, connector):
    folder = files_root / "files" / "qwen"
    folder.mkdir()
    weight_map = {}
    for i in (1, 2):
        name = f"model-{i:05d}-of-00002.safetensors"
        tensors = {f"layers.{i}.{k}": v for k, v in plain_tensors(i).items()}
        save_file(tensors, str(folder / name))
        weight_map.update({k: name for k in tensors})
    # The shard listed first is the second: the shards still load in sorted order.
    weight_map = dict(sorted(weight_map.items(), key=lambda kv: kv[1], reverse=True))
    index = {"metadata": {"total_size": 0}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    recorder = Recorder(connector)

    got = list(load(recorder, "oss://files/qwen/model.safetensors.index.json"))

    shards = [f"oss://files/qwen/model-{i:05d}-of-00002.safetensors" for i in (1, 2)]
    opens = [e[1] for e in recorder.events if e[0] == "open"]
    assert opens == ["oss://files/qwen/model.safetensors.index.json"] + shards
    files = [folder / f"model-{i:05d}-of-00002.safetensors" for i in (1, 2)]
    assert [n for n, _ in got] == [n for f in files for n in data_order(f)]
    expected = {k: v for f in files for k, v in load_file(str(f)).items()}
    for name, array in got:
        assert_same(array, expected[name], name)
    assert recorder.all_closed()


def test_shards_of_several_chunks_load_whole_and_intact(files_root, connector):
    # 20 MiB shards: several 8 MiB chunks each, partly prefetched, partly fetched into place.
    paths = []
    for i in (1, 2, 3):
        rng = np.random.default_rng(100 + i)
        tensors = {"big": rng.standard_normal((5, 1024, 1024), dtype=np.float32), "small": np.arange(i)}
        paths.append(files_root / "files" / f"big{i}.safetensors")
        save_file(tensors, str(paths[-1]))
    got = list(load(connector, [f"oss://files/{p.name}" for p in paths]))
    assert [n for n, _ in got] == [n for p in paths for n in data_order(p)]
    for i, path in enumerate(paths):
        expected = load_file(str(path))
        for name, array in got[2 * i : 2 * i + 2]:
            assert_same(array, expected[name], f"{path.name}: {name}")


def test_a_single_uri_string_loads_one_shard(files_root, connector):
    save_file({"w": np.arange(10, dtype=np.int32)}, str(files_root / "files" / "one.safetensors"))
    got = dict(load(connector, "oss://files/one.safetensors"))
    assert list(got) == ["w"] and np.array_equal(got["w"], np.arange(10))


def one(dtype: Any, shape: Any, offsets: Any) -> Dict[str, Any]:
    """A header of one tensor ``t``."""
    return {"t": {"dtype": dtype, "shape": shape, "data_offsets": offsets}}


MALFORMED: Dict[str, Tuple[bytes, str]] = {
    "short": (b"\x01\x02\x03", "3 bytes, fewer than the 8"),
    "empty": (b"", "0 bytes, fewer than the 8"),
    "header-too-long": (struct.pack("<Q", 1000) + b"{}", "header length 1000 goes past the end"),
    "header-huge": (struct.pack("<Q", 2**64 - 1) + b"{}" + bytes(6), "goes past the end"),
    "not-json": (struct.pack("<Q", 9) + b"{not json", "not UTF-8 JSON"),
    "not-utf8": (struct.pack("<Q", 2) + b"\xff\xfe", "not UTF-8 JSON"),
    "array": (file_bytes([1, 2], b""), "a JSON list, not an object"),
    "entry-not-object": (file_bytes({"t": 5}, b""), "tensor 't': expected an object"),
    "unknown-dtype": (file_bytes(one("F12", [1], [0, 2]), bytes(2)), "unknown dtype 'F12'"),
    "negative-shape": (file_bytes(one("U8", [-1], [0, 0]), b""), "shape [-1]"),
    "bool-shape": (file_bytes(one("U8", [True], [0, 1]), bytes(1)), "shape [True]"),
    "offsets-not-pair": (file_bytes(one("U8", [1], [0]), bytes(1)), "not a pair"),
    "offsets-past-end": (file_bytes(one("F32", [2], [0, 8]), bytes(4)), "[0, 8] are outside the data section (4 "),
    "offsets-reversed": (file_bytes(one("U8", [0], [4, 0]), bytes(8)), "outside"),
    "length-mismatch": (file_bytes(one("F32", [3], [0, 8]), bytes(8)), "8 bytes of data for shape [3] of F32"),
}


def test_malformed_shards_raise_value_error_naming_the_uri(files_root, connector):
    good = files_root / "files" / "good.safetensors"
    save_file({"a": np.ones(3, dtype=np.float32)}, str(good))
    for case, (data, message) in MALFORMED.items():
        (files_root / "files" / f"{case}.safetensors").write_bytes(data)
        uri = f"oss://files/{case}.safetensors"
        recorder = Recorder(connector)
        it = load(recorder, ["oss://files/good.safetensors", uri, "oss://files/good.safetensors"])
        assert next(it)[0] == "a"  # the good shard before comes out whole
        with pytest.raises(ValueError) as e:
            next(it)
        assert str(e.value).startswith(uri + ": "), case
        assert message in str(e.value), (case, str(e.value))
        assert recorder.all_closed(), case  # the shard after it too
        with pytest.raises(StopIteration):
            next(it)


def test_the_malformed_cases_are_malformed_for_safetensors_too():
    for case, (data, _) in MALFORMED.items():
        with pytest.raises(Exception):  # noqa: B017 - whichever the package raises
            deserialize(data)
            pytest.fail(f"safetensors accepts {case}")


def test_packed_sub_byte_dtypes(files_root, connector):
    # F4: two values a byte, viewed as byte pairs along the last dimension; F6: no view.
    f4 = file_bytes({"q": {"dtype": "F4", "shape": [3, 4], "data_offsets": [0, 6]}}, bytes(range(6)))
    f4_odd = file_bytes({"q": {"dtype": "F4", "shape": [2, 3], "data_offsets": [0, 3]}}, bytes(3))
    f6 = file_bytes({"q": {"dtype": "F6_E2M3", "shape": [4], "data_offsets": [0, 3]}}, bytes(3))
    for name, data in (("f4", f4), ("f4odd", f4_odd), ("f6", f6)):
        deserialize(data)  # valid files for the safetensors package
        (files_root / "files" / f"{name}.safetensors").write_bytes(data)

    (name, array), = load(connector, "oss://files/f4.safetensors")
    assert array.shape == (3, 2) and array.dtype == np.uint8 and array.dtype.metadata == {STAND_IN_KEY: "F4"}
    assert array.tobytes() == bytes(range(6))
    for case in ("f4odd", "f6"):
        uri = f"oss://files/{case}.safetensors"
        with pytest.raises(ValueError, match=f"^{uri}: tensor 'q' has dtype F.*cannot view"):
            list(load(connector, uri))


def test_abandoned_iteration_closes_the_objects(files_root, connector):
    for i in (1, 2, 3):
        save_file(plain_tensors(i), str(files_root / "files" / f"a{i}.safetensors"))
    uris = [f"oss://files/a{i}.safetensors" for i in (1, 2, 3)]

    # Closed after the first tensor.
    recorder = Recorder(connector)
    it = load(recorder, uris)
    name, array = next(it)
    assert [obj.closed for obj in recorder.objects] == [True, False, False]
    it.close()
    assert recorder.all_closed()
    assert array.shape == plain_tensors(1)[name].shape  # still valid

    # Dropped after the first tensor, or before any.
    for take in (1, 0):
        recorder = Recorder(connector)
        it = load(recorder, uris)
        for _ in range(take):
            next(it)
        assert len(recorder.objects) == 3 and not recorder.objects[-1].closed
        del it
        gc.collect()
        assert recorder.all_closed(), take

    # Closed before any tensor.
    recorder = Recorder(connector)
    load(recorder, uris).close()
    assert len(recorder.objects) == 3 and recorder.all_closed()


def test_a_missing_shard_raises_from_load_and_closes_the_others(files_root, connector):
    save_file({"a": np.ones(3, dtype=np.float32)}, str(files_root / "files" / "here.safetensors"))
    recorder = Recorder(connector)
    with pytest.raises(FileNotFoundError):
        load(recorder, ["oss://files/here.safetensors", "oss://files/missing.safetensors"])
    assert len(recorder.objects) == 1 and recorder.all_closed()


def test_bad_arguments(connector):
    recorder = Recorder(connector)
    with pytest.raises(ValueError, match="framework must be 'np'.*not 'jax'"):
        load(recorder, "oss://files/x.safetensors", framework="jax")
    with pytest.raises(TypeError, match="must be a str"):
        load(recorder, [b"oss://files/x.safetensors"])
    assert recorder.events == []
    assert list(load(recorder, [])) == []


def test_a_bad_index_raises_value_error(files_root, connector):
    for name, text in (("a.index.json", "[]"), ("b.index.json", '{"weight_map": {"t": 3}}'), ("c.index.json", "{")):
        (files_root / "files" / name).write_text(text)
        with pytest.raises(ValueError, match=f"^oss://files/{name}: not a safetensors index"):
            load(connector, f"oss://files/{name}")


# -- framework="pt" -------------------------------------------------------------------------


def torch_plain_tensors(seed: int) -> Dict[str, np.ndarray]:
    """:func:`plain_tensors` less the unsigned types an old torch (before 2.3) lacks."""
    unsigned = ("u16", "u32", "u64")
    return {k: v for k, v in plain_tensors(seed).items() if k not in unsigned or hasattr(torch, "uint64")}


def _torch_bytes(t: Any) -> bytes:
    return t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""


def _address_range(m: mmap.mmap) -> Tuple[int, int]:
    import ctypes

    start = ctypes.addressof(ctypes.c_char.from_buffer(m))
    return start, start + len(m)


@needs_torch
def test_pt_yields_torch_tensors_of_the_real_dtypes_on_the_same_memory(files_root, tmp_path, connector):
    from safetensors.torch import load_file as torch_load_file

    plain = files_root / "files" / "plain.safetensors"
    save_file(torch_plain_tensors(1), str(plain))
    patched = files_root / "files" / "patched.safetensors"
    basic = {k: v[0] for k, v in PATCHED.items() if v[0] in ("BF16", "F8_E4M3", "F8_E5M2")}
    tensors = {k: v for k, v in patched_tensors(2).items() if k in basic or k == "norm.f32"}
    save_patched(patched, tmp_path / "patched.raw", tensors, basic)
    recorder = Recorder(connector)

    got = list(load(recorder, ["oss://files/plain.safetensors", "oss://files/patched.safetensors"], framework="pt"))

    assert [n for n, _ in got] == data_order(plain) + data_order(patched)
    expected = {**torch_load_file(str(plain)), **torch_load_file(str(patched))}
    real = {"bf16.weight": torch.bfloat16, "fp8.e4m3": torch.float8_e4m3fn, "fp8.e5m2": torch.float8_e5m2}
    for name, t in got:
        assert isinstance(t, torch.Tensor) and t.device.type == "cpu", name
        assert t.dtype == expected[name].dtype and t.shape == expected[name].shape, name
        if name in real:
            assert t.dtype == real[name], name
        assert _torch_bytes(t) == _torch_bytes(expected[name]), name
    assert recorder.all_closed()
    connector.close()
    del recorder, connector
    gc.collect()
    for name, t in got:  # still valid
        assert _torch_bytes(t) == _torch_bytes(expected[name]), name


@needs_torch
def test_pt_tensors_view_the_shard_memory_without_copies(files_root, connector, monkeypatch):
    import ossmodelconnector.safetensors as st

    for i in (1, 2):
        save_file(torch_plain_tensors(i), str(files_root / "files" / f"p{i}.safetensors"))
    mappings: List[mmap.mmap] = []
    read_shard = st._read_shard

    def spy(obj: Any, uri: str) -> mmap.mmap:
        mappings.append(read_shard(obj, uri))
        return mappings[-1]

    monkeypatch.setattr(st, "_read_shard", spy)
    uris = ["oss://files/p1.safetensors", "oss://files/p2.safetensors"]
    got = [t for _, t in load(connector, uris, framework="pt")]
    ranges = [_address_range(m) for m in mappings]
    n = len(torch_plain_tensors(0))
    for i, t in enumerate(got):
        if t.numel():
            start, end = ranges[i // n]
            assert start <= t.data_ptr() and t.data_ptr() + t.numel() * t.element_size() <= end


@needs_torch
def test_pt_has_torch_own_type_for_every_float8_variant_and_f4(files_root, tmp_path, connector):
    real = {
        "BF16": "bfloat16",
        "F8_E4M3": "float8_e4m3fn",
        "F8_E5M2": "float8_e5m2",
        "F8_E4M3FNUZ": "float8_e4m3fnuz",
        "F8_E5M2FNUZ": "float8_e5m2fnuz",
        "F8_E8M0": "float8_e8m0fnu",
    }
    dtypes = {k: v[0] for k, v in PATCHED.items() if hasattr(torch, real[v[0]])}
    tensors = {k: v for k, v in patched_tensors(3).items() if k in dtypes}
    raw = tmp_path / "all.raw"
    save_patched(files_root / "files" / "all.safetensors", raw, tensors, dtypes)
    expected = load_file(str(raw))
    got = dict(load(connector, "oss://files/all.safetensors", framework="pt"))
    assert set(got) == set(dtypes)
    for name, t in got.items():
        assert t.dtype == getattr(torch, real[dtypes[name]]) and tuple(t.shape) == expected[name].shape, name
        assert _torch_bytes(t) == expected[name].tobytes(), name

    if hasattr(torch, "float4_e2m1fn_x2"):
        data = bytes(range(6))
        f4 = file_bytes({"q": {"dtype": "F4", "shape": [3, 4], "data_offsets": [0, 6]}}, data)
        (files_root / "files" / "f4.safetensors").write_bytes(f4)
        (name, t), = load(connector, "oss://files/f4.safetensors", framework="pt")
        assert t.dtype == torch.float4_e2m1fn_x2 and tuple(t.shape) == (3, 2)
        assert _torch_bytes(t) == data
