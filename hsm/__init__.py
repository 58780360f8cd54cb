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
from hsm.keys import HsmEcPrivateKey, HsmPrivateKey, HsmRsaPrivateKey
from hsm.module import FaultHook
from hsm.spec import KeyKind, KeySpec
from hsm.token import DEFAULT_MODULE, Hsm, KeyAttributes
from hsm.uri import PinSource, Pkcs11Uri

__all__ = [
    "DEFAULT_MODULE",
    "FaultHook",
    "Hsm",
    "HsmEcPrivateKey",
    "HsmError",
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
