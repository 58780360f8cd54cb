"""Refusals of UZI-pas verification: :class:`UziError`, a :class:`~issuer.errors.ZorgIdError`.

Every way a UZI-pas proof can fail has its own code (``ZID-11xx``), a gRPC
status, and a cause and a solution in English and Dutch that a portal can show
to the user as they are (architecture section 2, flow 7: the error overview).
The rows live in :mod:`issuer.errors.uzi` (pure data) and are merged into
the one engine-wide catalogue (:data:`issuer.errors.CATALOGUE`). Because
:class:`UziError` *is* a ``ZorgIdError``, the one interceptor
(:mod:`issuer.server.interceptors`) maps it to ``google.rpc.Status`` with
``ErrorInfo`` and ``LocalizedMessage`` like every other domain error (STYLE.md:
one typed error, mapped to gRPC in one place); servicers need no bridge.

The exception's ``detail`` adds what was got and what was expected; it never
contains secrets (nonces, session handles, PINs) -- only certificate facts,
which are public.
"""

from __future__ import annotations

from typing import Final

from issuer.errors import ZorgIdError
from issuer.errors.uzi import UZI_ERROR_TABLE

__all__ = ["UZI_CODES", "UZI_ERROR_TABLE", "UziError"]

UZI_CODES: Final[frozenset[str]] = frozenset(row[0] for row in UZI_ERROR_TABLE)
"""The codes a :class:`UziError` may carry (``ZID-11nn``: 1101-1124, 1150, 1160-1162)."""

BAD_ENCODING: Final = "ZID-1101"
BAD_UZI_NAME: Final = "ZID-1102"
SUBJECT_SAN_MISMATCH: Final = "ZID-1103"
CARD_TYPE_CA_MISMATCH: Final = "ZID-1104"
SIGNATURE_CERTIFICATE: Final = "ZID-1105"
ENCRYPTION_CERTIFICATE: Final = "ZID-1106"
CARD_TYPE_REFUSED: Final = "ZID-1107"
EXPIRED: Final = "ZID-1108"
NOT_YET_VALID: Final = "ZID-1109"
REVOKED: Final = "ZID-1110"
REVOCATION_UNAVAILABLE: Final = "ZID-1111"
UNKNOWN_CA: Final = "ZID-1112"
INVALID_CHAIN: Final = "ZID-1113"
BAD_SIGNATURE: Final = "ZID-1114"
CHALLENGE_USED: Final = "ZID-1115"
CHALLENGE_EXPIRED: Final = "ZID-1116"
CHALLENGE_UNKNOWN: Final = "ZID-1117"
OVERSIZE_CHAIN: Final = "ZID-1118"
ROLE_REFUSED: Final = "ZID-1119"
NOT_A_CARD_CERTIFICATE: Final = "ZID-1120"
BAD_SUBJECT: Final = "ZID-1121"
SESSION_UNKNOWN: Final = "ZID-1122"
WEAK_ALGORITHM: Final = "ZID-1123"
TRUST_SET_UNUSABLE: Final = "ZID-1124"
REVOCATION_PENDING: Final = "ZID-1150"
"""Hard mode, a verified card whose CRL is not cached yet: fetched in the background (issue 16)."""
DUPLICATE_EXTENSION: Final = "ZID-1160"
BAD_NAME_ATTRIBUTE: Final = "ZID-1161"
UNSUPPORTED_GENERAL_NAME: Final = "ZID-1162"


class UziError(ZorgIdError):
    """A UZI-pas proof was refused; ``code`` is stable, ``detail`` says got/expected.

    ``spec`` is the catalogue entry (cause and solution in en and nl-NL),
    ``grpc_status`` the name of its canonical status. ``str(error)`` is
    ``"<code>: <English cause> <detail>"`` -- safe to log and to show.
    """

    def __init__(self, code: str, detail: str = "") -> None:
        if code not in UZI_CODES:
            raise ValueError(
                f"unknown UZI error code {code!r}; expected one of "
                f"{min(UZI_CODES)}..{max(UZI_CODES)} (issuer/errors/uzi.py)"
            )
        super().__init__(code, detail)

    @property
    def grpc_status(self) -> str:
        """The status name (``INVALID_ARGUMENT``, ...) the interceptor sends."""
        return self.status.name

    def as_zorgid_error(self) -> ZorgIdError:
        """This error itself: a ``UziError`` already is the engine-wide error.

        Kept so that older callers (``raise e.as_zorgid_error() from e``) keep working.
        """
        return self
