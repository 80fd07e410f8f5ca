"""Run:ai model streamer 0.17 (``runai-model-streamer`` + ``runai-model-streamer-s3``), what
vLLM users pick (``--load-format runai_streamer``), through its native layer
``runai_model_streamer.libstreamer`` (C++ with the AWS CRT S3 client; OSS answers it through
its S3 API).

Its public classes (``SafetensorsStreamer``, ``FileStreamer``) import torch; the native layer
does not. It is imported without running the package's ``__init__``: a bare module object for
``runai_model_streamer`` with the package's path goes into ``sys.modules`` first. Settings are
environment variables read by the native library (set here before it loads):
``AWS_ENDPOINT_URL``, ``RUNAI_STREAMER_S3_USE_VIRTUAL_ADDRESSING=0`` (path style; its default is
virtual-hosted), dummy ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (the servers ignore the
signature), ``AWS_REGION``, ``AWS_EC2_METADATA_DISABLED=true``, and ``RUNAI_STREAMER_CONCURRENCY``
(worker threads; unset = its default, 8 for object storage) from ``options.concurrency``.

``runai_request(streamer, [s3://BUCKET/KEY], [ranges], offsets, sizes, destinations)`` submits
ranges of a file, each written straight into the caller's memory at the given address;
``runai_response`` blocks until one range is complete. So it reads whole shards (or whole
ranges), never into a small reused buffer: the ``chunk`` patterns are not run.

* ``shard-one``: one submission per shard (one range, the whole shard) into one shard-sized
  buffer; wait for it, check it, next shard.
* ``shard-all``: every shard submitted at once, one submission per shard, each into its own
  shard-sized buffer (destinations in flight may not overlap, so this pattern needs a buffer per
  shard: the caller's buffers are the whole model, counted as such), then each checked as its
  response arrives. One submission holding every shard was measured far slower (0.22 GB/s,
  16 CPU s for 2 GiB against 0.59 GB/s), so a user who wants everything in flight submits per
  shard, as here.
* ``random``: one submission (one range) per read, one at a time, into one buffer.
* ``dir`` (a directory on tmpfs): it loads into memory, so the directory is made as a user of it
  would: ``shard-all``'s submissions (every shard at once, each into its own buffer), and each
  shard's buffer written to its file (one ``write``) as soon as its response arrives, while the
  rest are still coming. The keys are given (it has no listing); the files are checked after
  the time ends (``Run.finish_directory``).

Every range is checked byte for byte once its response says it is complete (it has no earlier
point at which part of a range is known to have arrived).
"""

import ctypes
import importlib.util
import os
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import driver  # noqa: E402


def libstreamer():
    """``runai_model_streamer.libstreamer.libstreamer`` without the package ``__init__`` (torch)."""
    spec = importlib.util.find_spec("runai_model_streamer")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("runai-model-streamer is not installed (pip install --no-deps -r bench/requirements-nodeps.txt)")
    if "runai_model_streamer" not in sys.modules:
        pkg = types.ModuleType("runai_model_streamer")
        pkg.__path__ = list(spec.submodule_search_locations)
        sys.modules["runai_model_streamer"] = pkg
    from runai_model_streamer.libstreamer import libstreamer as ls  # noqa: PLC0415

    return ls


def environment(endpoint: str, key_id: str, secret: str, concurrency) -> dict:
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "RUNAI_STREAMER_S3_USE_VIRTUAL_ADDRESSING": "0",
        "AWS_ACCESS_KEY_ID": key_id,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    if concurrency:
        env["RUNAI_STREAMER_CONCURRENCY"] = str(int(concurrency))
    return env


def address(buf) -> int:
    return ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))


def body(run: driver.Run) -> None:
    p = run.p
    o = p["options"]
    os.environ.update(environment(p["endpoint"], p["access_key_id"], p["access_key_secret"], o.get("concurrency")))
    for name in ("RUNAI_STREAMER_CHUNK_BYTESIZE", "RUNAI_STREAMER_S3_MAX_INFLIGHT_MIB"):
        if o.get(name.lower()):
            os.environ[name] = str(o[name.lower()])
    ls = libstreamer()
    uris = [f"s3://{p['bucket']}/{key}" for key in run.keys]
    target = None
    if p["pattern"] == "dir":
        target = run.target_dir()
        bufs = [run.buffer(size) for size in run.sizes]
    elif p["pattern"] == "seq":
        if run.read_mode != "shard":
            raise ValueError("Run:ai writes whole ranges into the caller's memory: the chunk patterns are not run")
        count = len(uris) if run.open_mode == "all" else 1
        bufs = [run.buffer(max(run.sizes)) for _ in range(count)]
    else:
        bufs = [run.read_buffer()]
    addrs = [address(b) for b in bufs]
    run.start()
    st = ls.runai_start()
    try:
        def wait(expect_id):
            r = ls.runai_response(st)
            if r is None:
                raise RuntimeError("the streamer ended before the response")
            rc, sub, file_index, range_index, done = r
            if rc != 0:
                raise RuntimeError(f"response {rc}: {ls.runai_response_str(rc)}")
            if expect_id is not None and sub != expect_id:
                raise RuntimeError(f"response for submission {sub}, expected {expect_id}")
            return sub

        if p["pattern"] == "dir":
            subs = {ls.runai_request(st, [uri], [1], [0], [run.sizes[i]], [addrs[i]]): i
                    for i, uri in enumerate(uris)}
            for _ in uris:
                i = subs.pop(wait(None))
                with open(run.file_path(target, i), "wb") as f:
                    f.write(memoryview(bufs[i])[:run.sizes[i]])
        elif p["pattern"] == "seq" and run.open_mode == "one":
            for i, uri in enumerate(uris):
                if run.out_of_time():
                    break
                sub = ls.runai_request(st, [uri], [1], [0], [run.sizes[i]], [addrs[0]])
                wait(sub)
                run.got(i, 0, bufs[0], run.sizes[i])
        elif p["pattern"] == "seq":
            subs = {ls.runai_request(st, [uri], [1], [0], [run.sizes[i]], [addrs[i]]): i
                    for i, uri in enumerate(uris)}
            for _ in uris:
                if run.out_of_time():
                    break
                i = subs.pop(wait(None))
                run.got(i, 0, bufs[i], run.sizes[i])
        else:
            for i, off, n in p["reads"]:
                if run.out_of_time():
                    break
                sub = ls.runai_request(st, [uris[i]], [1], [off], [n], [addrs[0]])
                wait(sub)
                run.got(i, off, bufs[0], n)
        # Like the other contenders, the time ends with the last byte checked (or written), not
        # with the client's teardown.
        seconds = run.elapsed()
        if target is not None:
            run.end_window()
    finally:
        # The streamer must end before the buffers may go (its backend writes into them);
        # with a partial run this waits for the requests still in flight.
        ls.runai_end(st)
    concurrency = os.environ.get("RUNAI_STREAMER_CONCURRENCY")
    if target is not None:
        # Timed to the last file written (runai_end, the client's teardown, is not counted).
        run.finish_directory(target, concurrency=int(concurrency) if concurrency else None)
    run.finish(seconds=seconds, concurrency=int(concurrency) if concurrency else None)


driver.main(body)
