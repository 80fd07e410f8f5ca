#!/usr/bin/env python3
"""The README's main job in one command: load a sharded model from OSS through the Python API.

It starts a local OSS-compatible server (oss-local) serving a synthetic model of SHARDS
shards of MIB MiB (``demo/model/model-0000i-of-0000N.safetensors``), with freshly generated
random credentials written to a private temporary credentials file; then it runs the
documented example as written: open every shard (prefetching starts in open order) and read
them all with ``read(4 MiB)``, which is the timed load, reported in GB/s (10^9 bytes per
second, from the first open to the last byte); then ``seek(0)`` and read them again with
``readinto`` into one 4 MiB buffer, checking every byte against the synthetic content.

Usage: python3 python/demo.py [--shards 8] [--mib 256] [--oss-local PATH]

Needs the package (``pip install ./python``), numpy and tqdm (``python/requirements-demo.txt``)
and a built oss-local (``cargo build --release -p oss-local``).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import string
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# Python puts this script's folder first on sys.path, and that folder holds the package's
# sources (without the built library): drop it so that the installed package is imported.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(REPO / "tools" / "testkit" / "python"))

from ossmc_testkit import OssLocal, first_mismatch, seed, shard_key  # noqa: E402
from tqdm import tqdm  # noqa: E402

from ossmodelconnector import OssModelConnector  # noqa: E402

MiB = 1024 * 1024
BUCKET, NAME = "demo", "model"


def find_oss_local(explicit):
    """The oss-local binary: --oss-local, $OSS_LOCAL_BIN, else the release build."""
    if explicit:
        return Path(explicit)
    if os.environ.get("OSS_LOCAL_BIN"):
        return Path(os.environ["OSS_LOCAL_BIN"])
    target_dirs = [Path(os.environ["CARGO_TARGET_DIR"])] if os.environ.get("CARGO_TARGET_DIR") else []
    target_dirs.append(REPO / "target")
    for profile in ("release", "debug"):
        for d in target_dirs:
            candidate = d / profile / "oss-local"
            if candidate.is_file():
                if profile == "debug":
                    print(f"note: using the debug build {candidate}; a release build serves much faster")
                return candidate
    sys.exit("oss-local was not found: build it with `cargo build --release -p oss-local`")


def fresh_credentials():
    """A random access key pair, never used anywhere else."""
    alphabet = string.ascii_letters + string.digits
    key_id = "LTAI5t" + "".join(secrets.choice(alphabet) for _ in range(18))
    secret = "".join(secrets.choice(alphabet) for _ in range(30))
    return key_id, secret


def write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def main() -> int:
    """Runs the demo; returns the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shards", type=int, default=8, help="number of shards (default 8)")
    parser.add_argument("--mib", type=int, default=256, help="size of each shard in MiB (default 256)")
    parser.add_argument("--oss-local", help="path of the oss-local binary (default: target/release/oss-local)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ossmc-demo-"))
    try:
        status = run(args, workdir)
    finally:
        # The credentials were only ever meant for this run.
        (workdir / "credentials").unlink(missing_ok=True)
    if status == 0:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"logs kept in {workdir}")
    return status


def run(args, workdir: Path) -> int:
    """Starts oss-local, runs the documented example against it, verifies and times it."""
    shards, shard_size = args.shards, args.mib * MiB
    total = shards * shard_size
    key_id, secret = fresh_credentials()
    CRED_PATH = workdir / "credentials"
    write_private(CRED_PATH, json.dumps({"AccessKeyId": key_id, "AccessKeySecret": secret}))
    CONFIG_PATH = workdir / "config.json"
    CONFIG_PATH.write_text(
        json.dumps({"logLevel": 1, "logPath": str(workdir / "connector.log"), "auditPath": str(workdir / "audit.log")})
    )

    print(f"starting oss-local with a synthetic model of {shards} x {args.mib} MiB ...")
    server_log = open(workdir / "oss-local.log", "wb")
    with server_log, OssLocal(
        ["--model", f"{BUCKET}/{NAME}:{shards}:{args.mib}"],
        access_key_id=key_id,
        access_key_secret=secret,
        bin_path=find_oss_local(args.oss_local),
        stderr=server_log,
        start_timeout=600,
    ) as server:
        ENDPOINT = server.endpoint
        print(f"oss-local at {ENDPOINT}; fresh credentials in {CRED_PATH} (mode 0600, deleted at the end)")

        # --- the documented example, timed from the first open to the last byte read ---------
        connector = OssModelConnector(endpoint=ENDPOINT, cred_path=str(CRED_PATH), config_path=str(CONFIG_PATH))

        started = time.perf_counter()
        objs = []
        for i in tqdm(range(1, shards + 1), desc="open", unit="shard"):
            name = f"oss://{BUCKET}/{NAME}/model-{i:05d}-of-{shards:05d}.safetensors"
            obj = connector.open(name)
            objs.append(obj)

        # using read
        loaded = 0
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="load: read()") as bar:
            for i in range(0, shards):
                while True:
                    data = objs[i].read(4 * MiB)
                    if not data:
                        break
                    loaded += len(data)
                    bar.update(len(data))
        load_seconds = time.perf_counter() - started
        if loaded != total:
            print(f"FAILED: read() gave {loaded} bytes, expected {total}")
            return 1

        # or using readinto (recommended): here it reads everything again, checking every
        # byte against the synthetic model (not timed: the check costs more than the copy)
        buf = bytearray(4 * MiB)
        with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="verify: readinto()") as bar:
            for i in range(0, shards):
                key, offset = shard_key(NAME, i + 1, shards), 0
                objs[i].seek(0)
                while True:
                    n = objs[i].readinto(buf)
                    if n == 0:
                        break
                    bad = first_mismatch(seed(key), offset, memoryview(buf)[:n])
                    if bad is not None:
                        print(f"FAILED: oss://{BUCKET}/{key} byte {offset + bad} differs from the model")
                        return 1
                    offset += n
                    bar.update(n)
                if offset != shard_size:
                    print(f"FAILED: oss://{BUCKET}/{key} gave {offset} bytes, expected {shard_size}")
                    return 1
        # --------------------------------------------------------------------------------------

        for obj in objs:
            obj.close()

    gb = total / 1e9
    print(f"verified: all {total} bytes of the {shards} shards match the synthetic model")
    print(
        f"load: {gb:.2f} GB in {load_seconds:.2f} s = {gb / load_seconds:.2f} GB/s "
        "(first open to last byte, read(4 MiB) as in the document)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
