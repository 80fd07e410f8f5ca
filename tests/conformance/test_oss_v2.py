"""alibabacloud-oss-v2 1.4.1 (Alibaba's second-generation Python SDK) against oss-local.

The SDK signs with V4 by default. It uses path style for an IP endpoint and virtual-hosted
style for ``localhost`` unless ``use_path_style`` is set; both path-style variants run here.
Its paths keep ``/`` literal (oss2 sends ``%2F``), so this also covers the other encoding.
"""

import alibabacloud_oss_v2 as oss
import pytest

from conformance_support import (
    AK,
    BUCKET,
    KEYS_PREFIX,
    MANY_PREFIX,
    REGION,
    SHARD_SIZE,
    SK,
    SPECIAL_KEYS,
    TOKEN,
    WRONG_SK,
    crc64,
    expected_bytes,
    expected_listing,
    key_of_set,
    shard_keys,
    synthetic_objects,
    syn,
)


def make_client(server, *, style="ip", signature="v4", secret=SK, token=None):
    cfg = oss.config.load_default()
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(AK, secret, token)
    cfg.region = REGION
    if style == "ip":
        cfg.endpoint = server.endpoint  # http://127.0.0.1:PORT: path style by itself
    else:
        cfg.endpoint = f"http://localhost:{server.port}"
        cfg.use_path_style = True
    if signature != "v4":
        cfg.signature_version = signature
    cfg.retry_max_attempts = 1  # failures here are assertions, not weather
    return oss.Client(cfg)


@pytest.fixture(params=[("ip", "v4"), ("localhost", "v4"), ("ip", "v1")], ids=["ip-v4", "localhost-v4", "ip-v1"])
def client(request, server):
    style, signature = request.param
    return make_client(server, style=style, signature=signature)


def list_all(client, prefix, delimiter=None, limit=None):
    paginator = client.list_objects_v2_paginator()
    contents, prefixes, pages = [], [], 0
    request = oss.ListObjectsV2Request(bucket=BUCKET, prefix=prefix, delimiter=delimiter)
    kwargs = {"limit": limit} if limit else {}
    for page in paginator.iter_page(request, **kwargs):
        pages += 1
        contents += [(o.key, o.size) for o in page.contents or []]
        prefixes += [p.prefix for p in page.common_prefixes or []]
    return contents, prefixes, pages


def service_error(excinfo):
    err = excinfo.value.unwrap() if isinstance(excinfo.value, oss.exceptions.OperationError) else excinfo.value
    assert isinstance(err, oss.exceptions.ServiceError), repr(excinfo.value)
    return err


def test_paginator_with_full_pages(client):
    contents, _, pages = list_all(client, MANY_PREFIX, limit=1000)
    assert contents == expected_listing(synthetic_objects(), MANY_PREFIX)[0]
    assert pages == 3
    # Without max-keys the server's default page is 100 keys.
    _, _, pages = list_all(client, MANY_PREFIX)
    assert pages == 25


def test_paginator_lists_every_key_once_in_order(client):
    contents, prefixes, pages = list_all(client, KEYS_PREFIX, limit=9)
    want, _ = expected_listing(synthetic_objects(), KEYS_PREFIX)
    assert prefixes == []
    assert contents == want
    assert pages == -(-len(want) // 9)


@pytest.mark.parametrize("prefix", ["", KEYS_PREFIX, KEYS_PREFIX + "ünïcødé/", "models/"])
def test_paginator_with_delimiter(client, prefix):
    contents, prefixes, _ = list_all(client, prefix, delimiter="/", limit=4)
    want_contents, want_prefixes = expected_listing(synthetic_objects(), prefix, "/")
    if prefix == "":
        prefixes = [p for p in prefixes if p != "put/"]
    assert contents == want_contents
    assert prefixes == want_prefixes


@pytest.mark.parametrize("i", [0, 9])
def test_get_small_key(client, i):
    key, size = key_of_set(i)
    result = client.get_object(oss.GetObjectRequest(bucket=BUCKET, key=key))
    assert result.status_code == 200
    assert result.body.read() == expected_bytes(key, 0, size)


def test_get_whole_shard(client):
    key = shard_keys()[0]
    result = client.get_object(oss.GetObjectRequest(bucket=BUCKET, key=key))
    data = result.body.read()
    assert result.content_length == SHARD_SIZE
    assert syn.first_mismatch(syn.seed(key), 0, data) is None
    assert int(result.hash_crc64) == crc64(data)


@pytest.mark.parametrize(
    "header,start,end",
    [
        ("bytes=0-0", 0, 0),
        ("bytes=7-1048582", 7, 1048582),
        (f"bytes={SHARD_SIZE - 3}-", SHARD_SIZE - 3, SHARD_SIZE - 1),
        ("bytes=-100", SHARD_SIZE - 100, SHARD_SIZE - 1),
        (f"bytes={SHARD_SIZE - 3}-{SHARD_SIZE + 50}", SHARD_SIZE - 3, SHARD_SIZE - 1),
    ],
)
def test_ranged_get_standard_behaviour(client, header, start, end):
    key = shard_keys()[1]
    result = client.get_object(
        oss.GetObjectRequest(bucket=BUCKET, key=key, range_header=header, range_behavior="standard")
    )
    data = result.body.read()
    assert result.status_code == 206
    assert result.content_range == f"bytes {start}-{end}/{SHARD_SIZE}"
    assert len(data) == end - start + 1
    assert syn.first_mismatch(syn.seed(key), start, data) is None


def test_head_object(client):
    key = shard_keys()[2]
    head = client.head_object(oss.HeadObjectRequest(bucket=BUCKET, key=key))
    assert head.content_length == SHARD_SIZE
    assert head.etag
    assert head.last_modified is not None
    assert int(head.hash_crc64) == crc64(expected_bytes(key))


def test_missing_key_is_no_such_key(client):
    with pytest.raises(oss.exceptions.OperationError) as e:
        client.get_object(oss.GetObjectRequest(bucket=BUCKET, key="no/such key"))
    err = service_error(e)
    assert err.status_code == 404
    assert err.code == "NoSuchKey"
    with pytest.raises(oss.exceptions.OperationError) as e:
        client.head_object(oss.HeadObjectRequest(bucket=BUCKET, key="no/such key"))
    err = service_error(e)
    assert err.status_code == 404
    assert err.code == "NoSuchKey"  # from the x-oss-err header: HEAD has no body


@pytest.mark.parametrize("key", SPECIAL_KEYS)
def test_put_then_get(client, request, key):
    tag = "-".join(request.node.callspec.params["client"])  # one key per client variant
    key = key.replace("put/", f"put/v2-{tag}/", 1)
    data = syn.fill(syn.seed(key), 0, 777)
    put = client.put_object(oss.PutObjectRequest(bucket=BUCKET, key=key, body=data))
    assert put.status_code == 200
    got = client.get_object(oss.GetObjectRequest(bucket=BUCKET, key=key))
    assert got.body.read() == data
    assert got.etag == put.etag
    contents, _, _ = list_all(client, key)
    assert contents == [(key, len(data))]


@pytest.mark.parametrize("signature", ["v4", "v1"])
def test_wrong_secret_is_signature_does_not_match(server, signature):
    bad = make_client(server, signature=signature, secret=WRONG_SK)
    with pytest.raises(oss.exceptions.OperationError) as e:
        bad.get_object(oss.GetObjectRequest(bucket=BUCKET, key=shard_keys()[0], range_header="bytes=0-9"))
    err = service_error(e)
    assert err.status_code == 403
    assert err.code == "SignatureDoesNotMatch"
    assert err.request_id
    with pytest.raises(oss.exceptions.OperationError) as e:
        list_all(bad, KEYS_PREFIX)
    assert service_error(e).code == "SignatureDoesNotMatch"


def test_security_token_v4(token_server):
    c = make_client(token_server, token=TOKEN)
    key = shard_keys()[0]
    result = c.get_object(oss.GetObjectRequest(bucket=BUCKET, key=key, range_header="bytes=100-2000000"))
    assert syn.first_mismatch(syn.seed(key), 100, result.body.read()) is None
    contents, _, _ = list_all(c, KEYS_PREFIX, limit=100)
    assert contents == expected_listing(synthetic_objects(), KEYS_PREFIX)[0]
    with pytest.raises(oss.exceptions.OperationError) as e:
        make_client(token_server).get_object(oss.GetObjectRequest(bucket=BUCKET, key=key))
    assert service_error(e).status_code == 403
