"""Drives osstorchconnector's native module (``oss_connector``) for one check, in a process
of its own, and prints one JSON line with the outcome.

Run as ``python connector_probe.py '<json>'``. The module segfaults at interpreter exit and
can spin on a live iterator at shutdown, so this process deletes what it made and leaves with
``os._exit``. Torch is not needed: the native module is imported from the package folder.

JSON fields: endpoint, region, access_key_id, access_key_secret, security_token (optional),
workdir, bucket, action ("read", "list" or "stat"), and for "read": key, size, reader_type
(0 = dataset reader, 1 = checkpoint reader), chunk; for "list": prefix; for "stat": key.
"""

import importlib.util
import json
import os
import sys
import uuid
from pathlib import Path


def connector_module():
    spec = importlib.util.find_spec("osstorchconnector")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("osstorchconnector is not installed")
    sys.path.insert(0, str(Path(spec.submodule_search_locations[0]) / "_oss_connector"))
    import oss_connector  # noqa: PLC0415 (only importable after the path is set)

    return oss_connector


def write_files(p, workdir: Path):
    creds = {"AccessKeyId": p["access_key_id"], "AccessKeySecret": p["access_key_secret"]}
    if p.get("security_token"):
        creds["SecurityToken"] = p["security_token"]
    cred_path = workdir / "credentials.json"
    cred_path.write_text(json.dumps(creds))
    config_path = workdir / "config.json"
    config_path.write_text(json.dumps({"logLevel": 1, "logPath": str(workdir / "connector.log"), "auditPath": ""}))
    return cred_path, config_path


def run(p):
    sys.path.insert(0, p["testkit"])
    from ossmc_testkit import synthetic as syn  # noqa: PLC0415

    workdir = Path(p["workdir"])
    cred_path, config_path = write_files(p, workdir)
    oc = connector_module()
    ds = oc.new_oss_dataset(p["endpoint"], str(cred_path), None, str(config_path), str(uuid.uuid4()), 0, 1, p["region"])
    try:
        if p["action"] == "read":
            obj = ds.open_ro(p["bucket"], p["key"], p["size"], p["reader_type"], "")
            try:
                data = bytearray()
                while True:
                    chunk = obj.read(p["chunk"])
                    if not chunk:
                        break
                    data += chunk
            finally:
                del obj
            return {
                "length": len(data),
                "mismatch": syn.first_mismatch(syn.seed(p["key"]), 0, data),
            }
        if p["action"] == "list":
            it = ds.list(p["bucket"], p["prefix"])
            try:
                # The connector names listed objects "/BUCKET/KEY".
                items = [[o.key, o.size] for o in it]
            finally:
                del it
            return {"items": items}
        if p["action"] == "stat":
            obj = ds.stat(p["bucket"], p["key"])
            try:
                return {"size": obj.size}
            finally:
                del obj
        raise ValueError(f"unknown action {p['action']!r}")
    finally:
        del ds


def main():
    p = json.loads(sys.argv[1])
    try:
        out = run(p)
    except Exception as e:  # reported to the test, which decides
        out = {"error": f"{type(e).__name__}: {e}"}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
