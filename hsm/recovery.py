"""Which PKCS#11 errors a fresh module, session and login may cure, and which mean a bad PIN.

:class:`hsm.Hsm` retries the first kind (re-initialising the module); the second
becomes :class:`~hsm.errors.PinIncorrect` at once: retrying a wrong PIN only brings
the token closer to locking.
"""

from __future__ import annotations

from pkcs11 import exceptions as p11e

__all__ = ["PIN_ERRORS", "RECOVERABLE", "is_recoverable", "rv_name"]

RECOVERABLE: tuple[type[Exception], ...] = (
    p11e.DeviceError,
    p11e.DeviceRemoved,
    p11e.DeviceMemory,
    p11e.SessionHandleInvalid,
    p11e.SessionClosed,
    p11e.TokenNotPresent,
    p11e.TokenNotRecognised,
    p11e.SlotIDInvalid,
    p11e.GeneralError,
    p11e.UserNotLoggedIn,
    p11e.ObjectHandleInvalid,
    p11e.KeyHandleInvalid,
)
"""PKCS#11 errors after which a fresh module/session/login may succeed."""

PIN_ERRORS: tuple[type[Exception], ...] = (
    p11e.PinIncorrect,
    p11e.PinInvalid,
    p11e.PinLenRange,
    p11e.PinExpired,
    p11e.PinLocked,
)


def is_recoverable(exc: BaseException) -> bool:
    if isinstance(exc, RECOVERABLE):
        return True
    # python-pkcs11 maps CKR_CRYPTOKI_NOT_INITIALIZED to a bare PKCS11Error.
    return type(exc) is p11e.PKCS11Error and "not initialized" in str(exc)


def rv_name(exc: BaseException) -> str:
    return type(exc).__name__
