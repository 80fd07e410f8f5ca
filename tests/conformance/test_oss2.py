"""oss2 2.19.1 (Alibaba's Python SDK) against oss-local, with V1 and V4 signatures.

oss2 uses path style for an IP endpoint and encodes every ``/`` of a key as ``%2F``; its
V1 signer signs ``continuation-token``, so paging V2 listings also checks that part of the
server's V1 verification.
"""

import hashlib

import oss2
import pytest

from conformance_support import (
    AK,
    BUCKET,
    KEYS_COUNT,
    KEYS_PREFIX,
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

VERSIONS = ["v1", "v4"]


def make_auth(version, secret=SK, token=None):
    if token is not None:
        v = oss2.AUTH_VERSION_4 if version == "v4" else oss2.AUTH_VERSION_1
        return oss2.StsAuth(AK, secret, token, auth_version=v)
    if version == "v4":
        return oss2.AuthV4(AK, secret)
    return oss2.Auth(AK, secret)


def make_bucket(server, version, secret=SK, token=None, bucket=BUCKET):
    return oss2.Bucket(make_auth(version, secret, token), server.endpoint, bucket, region=REGION)


@pytest.fixture(params=VERSIONS)
def version(request):
    return request.param


@pytest.fixture
def bucket(server, version):
    return make_bucket(server, version)


def listed(iterator):
    """Splits an oss2 iterator's items into (key, size) pairs and common prefixes."""
    contents, prefixes = [], []
    for item in iterator:
        if item.is_prefix():
            prefixes.append(item.key)
        else:
            contents.append((item.key, item.size))
    return contents, prefixes


# ---- listing ----------------------------------------------------------------------------


@pytest.mark.parametrize("iterator", [oss2.ObjectIterator, oss2.ObjectIteratorV2])
def test_list_across_pages_returns_every_key_once_in_order(bucket, iterator):
    contents, prefixes = listed(iterator(bucket, prefix=KEYS_PREFIX, max_keys=7))
    want, _ = expected_listing(synthetic_objects(), KEYS_PREFIX)
    assert len(want) == KEYS_COUNT
    assert prefixes == []
    assert contents == want


def test_list_v1_first_page_is_truncated_with_next_marker(bucket):
    page = bucket.list_objects(prefix=KEYS_PREFIX, max_keys=7)
    want, _ = expected_listing(synthetic_objects(), KEYS_PREFIX)
    assert page.is_truncated is True
    assert [o.key for o in page.object_list] == [k for k, _ in want[:7]]
    assert page.next_marker == want[6][0]
    nxt = bucket.list_objects(prefix=KEYS_PREFIX, marker=page.next_marker, max_keys=7)
    assert [o.key for o in nxt.object_list] == [k for k, _ in want[7:14]]


def test_list_v2_first_page_is_truncated_with_a_token(bucket):
    page = bucket.list_objects_v2(prefix=KEYS_PREFIX, max_keys=7)
    want, _ = expected_listing(synthetic_objects(), KEYS_PREFIX)
    assert page.is_truncated is True
    assert page.next_continuation_token
    assert [o.key for o in page.object_list] == [k for k, _ in want[:7]]
    nxt = bucket.list_objects_v2(prefix=KEYS_PREFIX, continuation_token=page.next_continuation_token, max_keys=7)
    assert [o.key for o in nxt.object_list] == [k for k, _ in want[7:14]]
    after = bucket.list_objects_v2(prefix=KEYS_PREFIX, start_after=want[6][0], max_keys=7)
    assert [o.key for o in after.object_list] == [k for k, _ in want[7:14]]


@pytest.mark.parametrize("iterator", [oss2.ObjectIterator, oss2.ObjectIteratorV2])
@pytest.mark.parametrize("prefix", ["", KEYS_PREFIX, KEYS_PREFIX + "deep/", KEYS_PREFIX + "d0"])
def test_list_with_delimiter_rolls_up_common_prefixes(bucket, iterator, prefix):
    contents, prefixes = listed(iterator(bucket, prefix=prefix, delimiter="/", max_keys=3))
    want_contents, want_prefixes = expected_listing(synthetic_objects(), prefix, "/")
    if prefix == "":
        # Objects uploaded by other tests may add top-level prefixes (put/...).
        prefixes = [p for p in prefixes if p != "put/"]
    assert sorted(prefixes, key=str.encode) == want_prefixes
    assert len(prefixes) == len(set(prefixes))
    assert contents == want_contents


def test_list_items_have_oss_metadata(bucket):
    page = bucket.list_objects_v2(prefix=shard_keys()[0])
    assert [o.key for o in page.object_list] == [shard_keys()[0]]
    o = page.object_list[0]
    assert o.size == SHARD_SIZE
    assert o.etag and o.type and o.storage_class
    assert o.last_modified > 0


def test_list_of_unicode_keys_round_trips(bucket):
    prefix = KEYS_PREFIX + "ünïcødé/"
    contents, _ = listed(oss2.ObjectIteratorV2(bucket, prefix=prefix, max_keys=4))
    want, _ = expected_listing(synthetic_objects(), prefix)
    assert len(want) == KEYS_COUNT // 10
    assert contents == want


def test_prefix_with_space_and_plus(bucket):
    # oss2 sends a space in a query value as '+' (and '+' as %2B): the server must decode
    # the query as a form, or it looks for the wrong prefix (and V4 signatures differ).
    key, size = key_of_set(19)  # data/ünïcødé/文件 0000019+x.bin
    for prefix in [key[: key.index("+") + 1], key]:  # both hold the space and the '+'
        page = bucket.list_objects_v2(prefix=prefix)
        assert [(o.key, o.size) for o in page.object_list] == [(key, size)], prefix
        page = bucket.list_objects(prefix=prefix)
        assert [(o.key, o.size) for o in page.object_list] == [(key, size)], prefix


# ---- reading ----------------------------------------------------------------------------


@pytest.mark.parametrize("i", [0, 5, 8, 9, 19])
def test_get_small_key_is_byte_exact(bucket, i):
    key, size = key_of_set(i)
    result = bucket.get_object(key)
    assert result.status == 200
    assert result.read() == expected_bytes(key, 0, size)


def test_get_whole_shard_is_byte_exact_and_crc_checked(bucket):
    key = shard_keys()[1]
    result = bucket.get_object(key)  # enable_crc: oss2 compares x-oss-hash-crc64ecma at EOF
    data = result.read()
    assert len(data) == SHARD_SIZE
    assert syn.first_mismatch(syn.seed(key), 0, data) is None
    assert result.server_crc == crc64(data)


@pytest.mark.parametrize(
    "first,last",
    [(0, 0), (1, 1048576), (SHARD_SIZE - 10, SHARD_SIZE - 1), (123457, None), (None, 300)],
)
def test_ranged_get_is_byte_exact(bucket, first, last):
    key = shard_keys()[0]
    result = bucket.get_object(key, byte_range=(first, last))
    data = result.read()
    if first is None:  # suffix range: the last `last` bytes
        start, end = SHARD_SIZE - last, SHARD_SIZE - 1
    else:
        start, end = first, SHARD_SIZE - 1 if last is None else last
    assert result.status == 206
    assert result.headers["Content-Range"] == f"bytes {start}-{end}/{SHARD_SIZE}"
    assert len(data) == end - start + 1
    assert syn.first_mismatch(syn.seed(key), start, data) is None
    assert result.headers["x-oss-hash-crc64ecma"] == str(crc64(expected_bytes(key)))


def test_range_past_the_end_default_and_standard_behaviour(bucket):
    key = shard_keys()[0]
    # Default behaviour: a range ending past EOF is ignored and the whole object comes back.
    whole = bucket.get_object(key, byte_range=(SHARD_SIZE - 5, SHARD_SIZE + 100))
    assert whole.status == 200
    assert len(whole.read()) == SHARD_SIZE
    # Standard behaviour: clipped to the object.
    std = {"x-oss-range-behavior": "standard"}
    part = bucket.get_object(key, byte_range=(SHARD_SIZE - 5, SHARD_SIZE + 100), headers=std)
    assert part.status == 206
    assert part.headers["Content-Range"] == f"bytes {SHARD_SIZE - 5}-{SHARD_SIZE - 1}/{SHARD_SIZE}"
    assert part.read() == expected_bytes(key, SHARD_SIZE - 5, 5)
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bucket.get_object(key, byte_range=(SHARD_SIZE, SHARD_SIZE + 10), headers=std)
    assert e.value.status == 416
    assert e.value.code == "InvalidRange"


def test_head_and_object_meta(bucket):
    key = shard_keys()[2]
    head = bucket.head_object(key)
    assert head.content_length == SHARD_SIZE
    assert head.etag
    assert head.last_modified > 0
    assert head.headers["x-oss-hash-crc64ecma"] == str(crc64(expected_bytes(key)))
    assert head.headers.get("x-oss-request-id")
    meta = bucket.get_object_meta(key)
    assert meta.content_length == SHARD_SIZE
    assert meta.etag == head.etag
    got = bucket.get_object(key, byte_range=(0, 0))
    assert got.etag == head.etag
    got.read()


def test_missing_key_and_missing_bucket(server, bucket, version):
    with pytest.raises(oss2.exceptions.NoSuchKey) as e:
        bucket.get_object("no/such/key")
    assert e.value.status == 404
    assert e.value.request_id
    with pytest.raises(oss2.exceptions.NotFound) as e:
        bucket.head_object("no/such/key")
    assert e.value.status == 404
    with pytest.raises(oss2.exceptions.NoSuchBucket):
        make_bucket(server, version, bucket="no-such-bucket").get_object("x")


# ---- writing ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", SPECIAL_KEYS)
def test_put_then_get_head_and_list(bucket, version, key):
    key = key.replace("put/", f"put/{version}/", 1)
    data = syn.fill(syn.seed(key), 0, 1000 + len(key))
    put = bucket.put_object(key, data)  # oss2 checks the returned CRC against its own
    assert put.status == 200
    assert put.etag.upper() == hashlib.md5(data).hexdigest().upper()
    assert bucket.get_object(key).read() == data
    assert bucket.get_object(key, byte_range=(3, 9)).read() == data[3:10]
    head = bucket.head_object(key)
    assert head.content_length == len(data)
    assert head.etag == put.etag
    contents, _ = listed(oss2.ObjectIteratorV2(bucket, prefix=key))
    assert contents == [(key, len(data))]
    contents, _ = listed(oss2.ObjectIterator(bucket, prefix=key))
    assert contents == [(key, len(data))]


def test_put_overwrites_and_empty_object(bucket, version):
    key = f"put/{version}/overwrite.bin"
    bucket.put_object(key, b"first version")
    bucket.put_object(key, b"second")
    assert bucket.get_object(key).read() == b"second"
    empty = f"put/{version}/empty"
    bucket.put_object(empty, b"")
    assert bucket.get_object(empty).read() == b""
    assert bucket.head_object(empty).content_length == 0


# ---- credentials ------------------------------------------------------------------------


def test_wrong_secret_is_signature_does_not_match(server, version):
    bad = make_bucket(server, version, secret=WRONG_SK)
    key, _ = key_of_set(1)
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch) as e:
        bad.get_object(key)
    assert e.value.status == 403
    assert e.value.request_id
    assert WRONG_SK not in str(e.value.body) and SK not in str(e.value.body)
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch):
        bad.list_objects_v2(prefix=KEYS_PREFIX)
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bad.head_object(key)
    assert e.value.status == 403
    assert e.value.code == "SignatureDoesNotMatch"  # decoded from the x-oss-err header


def test_unknown_access_key_is_rejected(server, version):
    auth = oss2.AuthV4("LTAI5tUnknownKeyId", SK) if version == "v4" else oss2.Auth("LTAI5tUnknownKeyId", SK)
    bad = oss2.Bucket(auth, server.endpoint, BUCKET, region=REGION)
    with pytest.raises(oss2.exceptions.ServerError) as e:
        bad.get_object(key_of_set(1)[0])
    assert e.value.status == 403
    assert e.value.code == "InvalidAccessKeyId"


def test_security_token_get_and_paged_list(token_server, version):
    b = make_bucket(token_server, version, token=TOKEN)
    key = shard_keys()[0]
    data = b.get_object(key, byte_range=(1000, 300000)).read()
    assert syn.first_mismatch(syn.seed(key), 1000, data) is None
    want, _ = expected_listing(synthetic_objects(), KEYS_PREFIX)
    contents, _ = listed(oss2.ObjectIteratorV2(b, prefix=KEYS_PREFIX, max_keys=50))
    assert contents == want
    contents, _ = listed(oss2.ObjectIterator(b, prefix=KEYS_PREFIX, max_keys=50))
    assert contents == want
    put_key = f"put/{version}/sts upload+1.bin"
    b.put_object(put_key, b"sts")
    assert b.get_object(put_key).read() == b"sts"


def test_missing_or_wrong_security_token_is_rejected(token_server, version):
    key = shard_keys()[0]
    with pytest.raises(oss2.exceptions.ServerError) as e:
        make_bucket(token_server, version).get_object(key)
    assert e.value.status == 403
    with pytest.raises(oss2.exceptions.ServerError) as e:
        make_bucket(token_server, version, token="CAISWrongToken").get_object(key)
    assert e.value.status == 403
    assert e.value.code == "InvalidSecurityToken"
    with pytest.raises(oss2.exceptions.SignatureDoesNotMatch):
        make_bucket(token_server, version, secret=WRONG_SK, token=TOKEN).get_object(key)
