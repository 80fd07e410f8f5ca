"""Binary objects behave as io.RawIOBase files and read into any writable buffer."""

from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest
from conftest import MODEL_MIB, MODEL_NAME, MODEL_SHARDS, shard_uri
from ossmc_testkit import fill, first_mismatch, seed, shard_key

import ossmodelconnector as omc
from ossmodelconnector import OssModelConnector

SIZE = MODEL_MIB * 1024 * 1024
KEY = shard_key(MODEL_NAME, 2, MODEL_SHARDS)
SEED = seed(KEY)


@pytest.fixture
def obj(model_server, oss_env, tmp_config):
    connector = OssModelConnector(model_server.endpoint, config_path=tmp_config)
    o = connector.open(shard_uri(2))
    yield o
    o.close()


def test_is_a_raw_binary_file(obj):
    assert isinstance(obj, io.RawIOBase) and isinstance(obj, omc.OssObject)
    assert obj.readable() and obj.seekable() and not obj.writable()
    assert not obj.closed
    assert obj.size() == SIZE and obj.name == shard_uri(2) and obj.mode == "rb"
    assert obj.key == KEY
    assert repr(obj) == f"<OssObject {shard_uri(2)!r} size={SIZE}>"
    with pytest.raises(OSError):
        obj.fileno()
    with pytest.raises(OSError):
        obj.write(b"x")


def test_seek_tell_and_whence(obj):
    assert obj.tell() == 0
    assert obj.seek(1000) == 1000 and obj.tell() == 1000
    assert obj.read(10) == fill(SEED, 1000, 10)
    assert obj.seek(-10, os.SEEK_CUR) == 1000
    assert obj.seek(-5, os.SEEK_END) == SIZE - 5
    assert obj.read() == fill(SEED, SIZE - 5, 5)
    assert obj.read() == b"" and obj.read(10) == b""
    assert obj.seek(SIZE + 100) == SIZE + 100, "seeking past the end is allowed"
    assert obj.read(10) == b"" and obj.readinto(bytearray(10)) == 0
    assert obj.seek(3, io.SEEK_SET) == 3


def test_read_sizes(obj):
    assert obj.read(0) == b""
    assert obj.read(7) == fill(SEED, 0, 7)
    obj.seek(SIZE - 3)
    assert obj.read(100) == fill(SEED, SIZE - 3, 3), "short read only at the end"
    obj.seek(5)
    data = obj.read(-1)
    assert len(data) == SIZE - 5 and first_mismatch(SEED, 5, data) is None
    obj.seek(SIZE - 2)
    assert obj.read(None) == fill(SEED, SIZE - 2, 2)
    obj.seek(0)
    assert obj.readall()[:16] == fill(SEED, 0, 16)


def test_readinto_various_buffers_without_copy(obj):
    ba = bytearray(1000)
    assert obj.readinto(ba) == 1000 and bytes(ba) == fill(SEED, 0, 1000)

    backing = bytearray(3000)
    view = memoryview(backing)[1000:2000]
    assert obj.readinto(view) == 1000
    assert bytes(backing[1000:2000]) == fill(SEED, 1000, 1000)
    assert backing[:1000] == bytearray(1000) and backing[2000:] == bytearray(1000)

    arr = np.zeros(250, dtype=np.float32)  # 1000 bytes
    assert obj.readinto(arr) == 1000
    assert arr.tobytes() == fill(SEED, 2000, 1000)

    big = np.empty((4, 1 << 18), dtype=np.uint8)  # 1 MiB, 2-D
    assert obj.readinto(big) == 1 << 20
    assert first_mismatch(SEED, 3000, big) is None

    class FakeCpuTensor:
        """What readinto uses of a torch.Tensor (torch itself is not needed here)."""

        class device:
            type = "cpu"

        def __init__(self, n):
            self.array = np.zeros(n, dtype=np.float16)

        def data_ptr(self):
            return self.array.ctypes.data

        def numel(self):
            return self.array.size

        def element_size(self):
            return self.array.itemsize

        def is_contiguous(self):
            return True

    t = FakeCpuTensor(500)
    assert obj.readinto(t) == 1000
    assert t.array.tobytes() == fill(SEED, 3000 + (1 << 20), 1000)

    with pytest.raises((TypeError, ValueError, BufferError)):
        obj.readinto(np.zeros(100, dtype=np.uint8)[::2])  # not contiguous
    assert obj.readinto(bytearray(0)) == 0


def test_buffered_reader_and_file_consumers(obj):
    buffered = io.BufferedReader(obj, buffer_size=1 << 16)
    assert buffered.read(5) == fill(SEED, 0, 5)
    assert buffered.peek(1)[:1] == fill(SEED, 5, 1)
    buffered.seek(SIZE - 10)
    assert buffered.read() == fill(SEED, SIZE - 10, 10)


def test_numpy_and_pickle_load_from_an_object(files_root, files_server, oss_env, tmp_config):
    # torch.load, numpy.load and pickle.load all need read/readinto/seek/tell of a file.
    array = np.arange(100_000, dtype=np.float64).reshape(100, 1000)
    with open(files_root / "files" / "array.npy", "wb") as f:
        np.save(f, array)
    (files_root / "files" / "obj.pkl").write_bytes(pickle.dumps({"weights": array, "name": "m"}))
    connector = OssModelConnector(files_server.endpoint, config_path=tmp_config)
    with connector.open("oss://files/array.npy") as f:
        assert np.array_equal(np.load(f), array)
    with connector.open("oss://files/obj.pkl") as f:
        loaded = pickle.load(io.BufferedReader(f))
    assert loaded["name"] == "m" and np.array_equal(loaded["weights"], array)


def test_context_manager_and_close_are_idempotent(model_server, oss_env, tmp_config):
    connector = OssModelConnector(model_server.endpoint, config_path=tmp_config)
    with connector.open(shard_uri(1)) as f:
        assert f.read(3) == fill(seed(shard_key(MODEL_NAME, 1, MODEL_SHARDS)), 0, 3)
    assert f.closed
    f.close()
    assert "closed" in repr(f)
    with connector:
        pass
    assert connector.closed
    connector.close()


def test_objects_outlive_their_connector_reference(model_server, oss_env, tmp_config):
    obj = OssModelConnector(model_server.endpoint, config_path=tmp_config).open(shard_uri(3))
    import gc

    gc.collect()
    data = obj.read(1 << 20)
    assert first_mismatch(seed(shard_key(MODEL_NAME, 3, MODEL_SHARDS)), 0, data) is None
    obj.close()


def test_read_at_does_not_move_the_position(obj):
    obj.seek(10)
    assert obj.read_at(1 << 20, 100) == fill(SEED, 1 << 20, 100)
    assert obj.tell() == 10
    assert obj.read_at(SIZE - 1, 100) == fill(SEED, SIZE - 1, 1)


def test_verified_once_read_through(model_server, oss_env, tmp_config):
    connector = OssModelConnector(model_server.endpoint, config_path=tmp_config)
    with connector.open(shard_uri(3)) as o:
        data = o.read()
        assert len(data) == SIZE
        assert o.verified is True, "read through: every byte checked against the CRC-64"
    with pytest.raises(ValueError):
        _ = o.verified
