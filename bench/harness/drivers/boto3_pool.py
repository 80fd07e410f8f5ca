"""boto3 / s3transfer: what an S3 user would point at an OSS-compatible endpoint.

Sequential patterns: s3transfer's download with
``TransferConfig(multipart_chunksize=part, max_concurrency=streams)`` (a HEAD, then parallel
ranged GETs) into a seekable sink that checks every write at its offset. Read ``chunk``: the
sink keeps nothing (a stand-in for the reused buffer: s3transfer hands it its own buffers);
read ``shard``: the sink copies each write into one shard-sized buffer, then checks it there.
Open ``one``: ``download_fileobj`` per object, in order; open ``all``: every object's download
submitted to one ``TransferManager`` at once (the transfers share ``streams`` threads and run
ahead like a prefetch), then each waited for in order. Whole-shard reads with every shard in
flight would need a buffer per shard, so ``shard-all`` is not run.
Random pattern: one ``get_object(Range=...)`` per read, ``streams`` at a time.
Path-style addressing; the server ignores the S3 signature (oss-local ``--no-auth``, nginx).
"""

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import driver  # noqa: E402


class CheckingSink:
    """A write-only seekable file that verifies what s3transfer writes and where."""

    def __init__(self, run, obj, buf=None):
        self.run, self.obj, self.pos = run, obj, 0
        self.buf = memoryview(buf) if buf is not None else None
        self.spans = []

    def seek(self, pos, whence=0):
        if whence == 0:
            self.pos = pos
        elif whence == 1:
            self.pos += pos
        else:
            raise OSError("seek from the end is not supported by this sink")
        return self.pos

    def tell(self):
        return self.pos

    def seekable(self):
        return True

    def writable(self):
        return True

    def write(self, data):
        n = len(data)
        if self.buf is not None:
            self.buf[self.pos:self.pos + n] = data
            self.run.got(self.obj, self.pos, self.buf[self.pos:self.pos + n])
        else:
            self.run.got(self.obj, self.pos, data)
        self.spans.append((self.pos, n))
        self.pos += n
        return n

    def covered_exactly(self, size):
        end = 0
        for off, n in sorted(self.spans):
            if off != end:
                return False
            end = off + n
        return end == size


def body(run: driver.Run) -> None:
    import boto3
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    p = run.p
    threads = int(p["streams"])
    if p["pattern"] == "seq" and run.read_mode == "shard" and run.open_mode == "all":
        raise ValueError("boto3: whole-shard reads of every shard at once are not run (a buffer per shard)")
    buf = run.read_buffer() if p["pattern"] == "seq" and run.read_mode == "shard" else None
    run.start()
    s3 = boto3.client(
        "s3",
        endpoint_url=p["endpoint"],
        region_name="us-east-1",
        aws_access_key_id=p["access_key_id"],
        aws_secret_access_key=p["access_key_secret"],
        config=Config(
            s3={"addressing_style": "path"},
            max_pool_connections=threads,
            retries={"max_attempts": 1},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )
    if p["pattern"] == "seq":
        cfg = TransferConfig(
            multipart_threshold=int(p["part"]),
            multipart_chunksize=int(p["part"]),
            max_concurrency=threads,
            use_threads=True,
        )

        def check(i, sink):
            if not sink.covered_exactly(run.sizes[i]):
                run.problem(f"{run.keys[i]}: the writes did not cover the object exactly once")

        if run.open_mode == "one":
            for i, key in enumerate(run.keys):
                if run.out_of_time():
                    break
                sink = CheckingSink(run, i, buf)
                s3.download_fileobj(p["bucket"], key, sink, Config=cfg)
                check(i, sink)
        else:
            from s3transfer.manager import TransferManager

            with TransferManager(s3, cfg) as manager:
                sinks = [CheckingSink(run, i) for i in range(len(run.keys))]
                futures = [manager.download(p["bucket"], key, sink) for key, sink in zip(run.keys, sinks)]
                for i, (future, sink) in enumerate(zip(futures, sinks)):
                    if run.out_of_time():
                        for f in futures[i:]:
                            f.cancel()
                        break
                    future.result()
                    check(i, sink)
    else:
        def fetch(r):
            i, off, n = r
            if run.out_of_time():
                return
            body = s3.get_object(Bucket=p["bucket"], Key=run.keys[i], Range=f"bytes={off}-{off + n - 1}")["Body"]
            data = body.read()
            if len(data) != n:
                run.problem(f"{run.keys[i]}: range at {off} gave {len(data)} bytes, asked {n}")
            run.got(i, off, data)

        with ThreadPoolExecutor(threads) as pool:
            for f in [pool.submit(fetch, r) for r in p["reads"]]:
                f.result()
    run.finish()


driver.main(body)
