"""ossmodelconnector: load large models from Alibaba Cloud OSS as fast as the network allows.

The API is the documented OssModelConnector one::

    from ossmodelconnector import OssModelConnector

    connector = OssModelConnector(endpoint=ENDPOINT, cred_path=CRED_PATH, config_path=CONFIG_PATH)
    objs = [connector.open(f"oss://bucket/model-{i:05d}-of-00038.safetensors") for i in range(1, 39)]
    buf = bytearray(4 * 1024 * 1024)
    for obj in objs:
        while obj.readinto(buf):
            ...

Opening starts prefetching in open order; reading copies from memory. See
:class:`OssModelConnector`, :class:`OssObject` and :mod:`ossmodelconnector.errors`.
"""

from ._native import ffi as _ffi, lib as _lib
from .connector import OssModelConnector, OssObjectInfo
from .errors import (
    AccessDeniedError,
    CancelledError,
    CorruptedDataError,
    CredentialsError,
    CredentialsProviderError,
    InternalError,
    InvalidArgumentError,
    InvalidConfigError,
    InvalidCredentialsError,
    InvalidUriError,
    LocalFileError,
    NetworkError,
    NoSuchBucketError,
    NoSuchKeyError,
    NotFoundError,
    ObjectChangedError,
    OssIOError,
    OssModelConnectorError,
    ProtocolError,
    RequestTimeoutError,
    ServerError,
)
from .reader import OssObject

#: The version of this package.
__version__ = "0.1.0"
#: The version of the loaded libossmc, e.g. ``"0.1.0"``.
library_version = _ffi.string(_lib.ossmc_version()).decode("ascii")

__all__ = [
    "OssModelConnector",
    "OssObjectInfo",
    "OssObject",
    "OssModelConnectorError",
    "InvalidArgumentError",
    "InvalidUriError",
    "InvalidConfigError",
    "CredentialsError",
    "InvalidCredentialsError",
    "CredentialsProviderError",
    "NotFoundError",
    "NoSuchBucketError",
    "NoSuchKeyError",
    "AccessDeniedError",
    "OssIOError",
    "ObjectChangedError",
    "CorruptedDataError",
    "ServerError",
    "ProtocolError",
    "LocalFileError",
    "CancelledError",
    "NetworkError",
    "RequestTimeoutError",
    "InternalError",
    "__version__",
    "library_version",
]
