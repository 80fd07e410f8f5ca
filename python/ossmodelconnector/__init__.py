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
:func:`ossmodelconnector.safetensors.load` loads safetensors shards straight into numpy
arrays or torch tensors.
"""

from . import errors as _errors
from ._native import VERSION as _VERSION, ffi as _ffi, lib as _lib
from .connector import OssModelConnector, OssObjectInfo, PrepareResult

# The exception classes, exactly as errors.__all__ lists them (a star import, rather than
# assigning globals, keeps them visible to type checkers).
from .errors import *  # noqa: F403
from .reader import OssObject

# The submodule, so that ossmodelconnector.safetensors.load works after importing the package
# (it imports numpy or torch only when called). Not in __all__: a star import must not bind a
# name that hides the safetensors package.
from . import safetensors

#: The version of this package: the ossmc crate's (Cargo.toml), its one source.
__version__ = _VERSION
#: The version of the loaded libossmc, e.g. ``"0.1.0"``; import checks it is ``__version__``.
library_version = _ffi.string(_lib.ossmc_version()).decode("ascii")

# errors.__all__ also names exception_class_for_status, the bindings' map from a status code to
# its class: it stays in ossmodelconnector.errors, out of the package's namespace.
del exception_class_for_status  # noqa: F821  (bound by the star import)

__all__ = ["OssModelConnector", "OssObjectInfo", "OssObject", "PrepareResult"]
__all__ += [name for name in _errors.__all__ if name != "exception_class_for_status"]
__all__ += ["__version__", "library_version"]
