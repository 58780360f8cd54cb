"""The engine's only door to PKCS#11.

Everything that touches a token -- loading the module, logging in, finding,
generating and using keys -- lives here, so that the rules that bite (one
login per process, one lock per loaded module, re-initialisation after a
device error) are kept in one place. This package knows nothing of X.509
and imports nothing of the project.

Usage::

    from hsm import Hsm, KeySpec
    hsm = Hsm.open("pkcs11:token=zorgid?module-path=/usr/lib/softhsm/libsofthsm2.so"
                   "&pin-source=file:/run/secrets/pin")
    key = hsm.get_key("issuing-ca")          # a cryptography private key
    cert = builder.sign(key, hashes.SHA384())
"""

import importlib
from typing import TYPE_CHECKING, Any

from hsm.errors import (
    HsmError,
    HsmOperationFailed,
    HsmUnavailable,
    InvalidUri,
    KeyExists,
    KeyNotExportable,
    KeyNotFound,
    PinIncorrect,
    PinSourceError,
    TokenNotFound,
    UnsupportedAlgorithm,
)
from hsm.spec import KeyKind, KeySpec
from hsm.uri import PinSource, Pkcs11Uri

if TYPE_CHECKING:
    from hsm.keys import HsmEcPrivateKey, HsmPrivateKey, HsmRsaPrivateKey
    from hsm.module import FaultHook, HsmObserver
    from hsm.objects import KeyAttributes
    from hsm.token import DEFAULT_MODULE, Hsm

# What needs the PKCS#11 library is imported on first use: a module that only reads a
# PIN source or a URI (the configuration, the gRPC front end) loads no PKCS#11.
_LAZY = {
    "HsmEcPrivateKey": "hsm.keys",
    "HsmPrivateKey": "hsm.keys",
    "HsmRsaPrivateKey": "hsm.keys",
    "FaultHook": "hsm.module",
    "HsmObserver": "hsm.module",
    "DEFAULT_MODULE": "hsm.token",
    "Hsm": "hsm.token",
    "KeyAttributes": "hsm.objects",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hsm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "DEFAULT_MODULE",
    "FaultHook",
    "Hsm",
    "HsmEcPrivateKey",
    "HsmError",
    "HsmObserver",
    "HsmOperationFailed",
    "HsmPrivateKey",
    "HsmRsaPrivateKey",
    "HsmUnavailable",
    "InvalidUri",
    "KeyAttributes",
    "KeyExists",
    "KeyKind",
    "KeyNotExportable",
    "KeyNotFound",
    "KeySpec",
    "PinIncorrect",
    "PinSource",
    "PinSourceError",
    "Pkcs11Uri",
    "TokenNotFound",
    "UnsupportedAlgorithm",
]
