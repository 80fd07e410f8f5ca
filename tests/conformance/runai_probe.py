"""Reads whole objects with Run:ai's model streamer (its native layer) from an S3 endpoint, in
a process of its own (the native library reads its settings from the environment when it
loads), and writes each object's bytes to a file.

Run as ``python runai_probe.py '<json>'`` with fields endpoint, bucket, objects (list of
[key, size, output path]). Prints one JSON line: {"ok": true} or {"error": "..."}.
"""

import ctypes
import importlib.util
import json
import os
import sys
import types


def libstreamer():
    spec = importlib.util.find_spec("runai_model_streamer")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("runai-model-streamer is not installed")
    pkg = types.ModuleType("runai_model_streamer")
    pkg.__path__ = list(spec.submodule_search_locations)
    sys.modules["runai_model_streamer"] = pkg
    from runai_model_streamer.libstreamer import libstreamer as ls  # noqa: PLC0415

    return ls


def main() -> None:
    p = json.loads(sys.argv[1])
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": p["endpoint"],
            "RUNAI_STREAMER_S3_USE_VIRTUAL_ADDRESSING": "0",
            "AWS_ACCESS_KEY_ID": p["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": p["secret_access_key"],
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "RUNAI_STREAMER_CONCURRENCY": "2",
        }
    )
    ls = libstreamer()
    st = ls.runai_start()
    try:
        for key, size, out in p["objects"]:
            buf = bytearray(size)
            addr = ctypes.addressof((ctypes.c_char * size).from_buffer(buf))
            sub = ls.runai_request(st, [f"s3://{p['bucket']}/{key}"], [1], [0], [size], [addr])
            rc, got, _file, _range, _done = ls.runai_response(st)
            if rc != 0 or got != sub:
                raise RuntimeError(f"{key}: response {rc} ({ls.runai_response_str(rc)}) for {got}")
            with open(out, "wb") as f:
                f.write(buf)
        print(json.dumps({"ok": True}), flush=True)
    except Exception as e:  # noqa: BLE001 - reported to the test
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
    finally:
        ls.runai_end(st)
    os._exit(0)


if __name__ == "__main__":
    main()
