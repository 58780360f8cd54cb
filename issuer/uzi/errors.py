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

from issuer.errors import Code, ZorgIdError
from issuer.errors.uzi import UZI_ERROR_TABLE

__all__ = ["UZI_CODES", "UZI_ERROR_TABLE", "UziError"]

UZI_CODES: Final[frozenset[str]] = frozenset(row[0] for row in UZI_ERROR_TABLE)
"""The codes a :class:`UziError` may carry (``ZID-11nn``: 1101-1124, 1150, 1160-1162)."""

BAD_ENCODING: Final = Code.ZID_1101
BAD_UZI_NAME: Final = Code.ZID_1102
SUBJECT_SAN_MISMATCH: Final = Code.ZID_1103
CARD_TYPE_CA_MISMATCH: Final = Code.ZID_1104
SIGNATURE_CERTIFICATE: Final = Code.ZID_1105
ENCRYPTION_CERTIFICATE: Final = Code.ZID_1106
CARD_TYPE_REFUSED: Final = Code.ZID_1107
EXPIRED: Final = Code.ZID_1108
NOT_YET_VALID: Final = Code.ZID_1109
REVOKED: Final = Code.ZID_1110
REVOCATION_UNAVAILABLE: Final = Code.ZID_1111
UNKNOWN_CA: Final = Code.ZID_1112
INVALID_CHAIN: Final = Code.ZID_1113
BAD_SIGNATURE: Final = Code.ZID_1114
CHALLENGE_USED: Final = Code.ZID_1115
CHALLENGE_EXPIRED: Final = Code.ZID_1116
CHALLENGE_UNKNOWN: Final = Code.ZID_1117
OVERSIZE_CHAIN: Final = Code.ZID_1118
ROLE_REFUSED: Final = Code.ZID_1119
NOT_A_CARD_CERTIFICATE: Final = Code.ZID_1120
BAD_SUBJECT: Final = Code.ZID_1121
SESSION_UNKNOWN: Final = Code.ZID_1122
WEAK_ALGORITHM: Final = Code.ZID_1123
TRUST_SET_UNUSABLE: Final = Code.ZID_1124
REVOCATION_PENDING: Final = Code.ZID_1150
"""Hard mode, a verified card whose CRL is not cached yet: fetched in the background (issue 16)."""
DUPLICATE_EXTENSION: Final = Code.ZID_1160
BAD_NAME_ATTRIBUTE: Final = Code.ZID_1161
UNSUPPORTED_GENERAL_NAME: Final = Code.ZID_1162


class UziError(ZorgIdError):
    """A UZI-pas proof was refused; ``code`` is stable, ``detail`` says got/expected.

    ``spec`` is the catalogue entry (cause and solution in en and nl-NL),
    ``grpc_status`` the name of its canonical status. ``str(error)`` is
    ``"<code>: <English cause> <detail>"`` -- safe to log and to show.
    """

    def __init__(self, code: Code, detail: str = "") -> None:
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
