"""Typed errors out of ``hsm``.

Every error says what was got, what was expected and what to do. None of
them ever carries a PIN: messages are built from labels, paths and PKCS#11
return-code names only, and the PIN is never held by any object that an
error could reference.
"""

from __future__ import annotations


class HsmError(Exception):
    """Base of every error this package raises."""


class InvalidUri(HsmError, ValueError):
    """A PKCS#11 URI (RFC 7512) that cannot be used as given."""


class PinSourceError(HsmError):
    """The PIN could not be read from its configured source (file or env var)."""


class PinIncorrect(HsmError):
    """The token refused the PIN (``CKR_PIN_INCORRECT`` and friends)."""


class TokenNotFound(HsmError):
    """No token with the wanted label is present in the module, even after a rescan."""


class KeyNotFound(HsmError, LookupError):
    """No private key with the wanted label/id on the token."""


class KeyExists(HsmError):
    """A key with that label (or id) already exists; generation refuses to shadow it."""


class HsmUnavailable(HsmError):
    """The token cannot be reached right now; retrying later may succeed.

    The server maps this to gRPC ``UNAVAILABLE`` and health ``NOT_SERVING``.
    """


class UnsupportedAlgorithm(HsmError):
    """A key type, curve, hash or padding this layer does not sign with."""


class KeyNotExportable(HsmError):
    """Private key material cannot leave the HSM (``CKA_EXTRACTABLE=false``)."""


class HsmOperationFailed(HsmError):
    """The token answered an operation with an error that retrying will not fix."""
