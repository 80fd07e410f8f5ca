"""A real safetensors file, written by the test, loaded from oss://."""

from __future__ import annotations

import numpy as np
from safetensors.numpy import load, save_file

from ossmodelconnector import OssModelConnector


def test_safetensors_file_loads_from_oss(files_root, files_server, oss_env, tmp_config):
    rng = np.random.default_rng(7)
    tensors = {
        "model.embed_tokens.weight": rng.standard_normal((512, 256), dtype=np.float32),
        "model.layers.0.mlp.up_proj.weight": rng.standard_normal((256, 1024)).astype(np.float16),
        "model.layers.0.input_layernorm.weight": np.ones(256, dtype=np.float32),
        "lm_head.bias": np.arange(512, dtype=np.int64),
    }
    for shard in (1, 2):
        save_file(
            tensors, str(files_root / "files" / f"model-{shard:05d}-of-00002.safetensors"), metadata={"format": "np"}
        )

    connector = OssModelConnector(files_server.endpoint, config_path=tmp_config)
    objs = [connector.open(f"oss://files/model-{i:05d}-of-00002.safetensors") for i in (1, 2)]
    for obj in objs:
        loaded = load(obj.read())
        assert set(loaded) == set(tensors)
        for name, value in tensors.items():
            assert loaded[name].dtype == value.dtype and np.array_equal(loaded[name], value), name
        obj.close()


def test_safetensors_into_a_preallocated_buffer(files_root, files_server, oss_env, tmp_config):
    tensors = {"w": np.linspace(0, 1, 100_000, dtype=np.float32)}
    path = files_root / "files" / "one.safetensors"
    save_file(tensors, str(path))
    connector = OssModelConnector(files_server.endpoint, config_path=tmp_config)
    with connector.open("oss://files/one.safetensors") as obj:
        buf = np.empty(obj.size(), dtype=np.uint8)  # e.g. pinned host memory in real use
        assert obj.readinto(buf) == obj.size()
    assert np.array_equal(load(buf.tobytes())["w"], tensors["w"])
