"""The moto helper's CRC-64/NVME: the check value and S3's base64 form."""

import base64

from ossmc_testkit.moto import crc64nvme


def test_crc64nvme_check_value_and_header_form():
    assert crc64nvme(b"") == 0
    assert crc64nvme(b"123456789") == 0xAE8B14860A799888
    assert base64.b64encode(crc64nvme(b"123456789").to_bytes(8, "big")) == b"rosUhgp5mIg="
