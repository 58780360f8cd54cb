"""Pre-signing: a response is signed when a certificate is issued or revoked, and
re-signed before ``nextUpdate`` (RFC 5019 §4, ARCHITECTURE.md §6).

Signing happens here and in on-demand answers only; serving a stored response
never touches the HSM. A pre-signed response carries one SingleResponse per
CertID algorithm in :data:`~ocsp.issuers.PRESIGNED_ALGORITHMS` (SHA-1 and
SHA-256), so one signature per certificate covers RFC 5019 clients (SHA-1) and
modern ones (SHA-256).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from hsm import HsmError
from ocsp.codec import ResponseSigner, SingleSpec, make_cert_id, whole_seconds
from ocsp.issuers import PRESIGNED_ALGORITHMS, IssuerIndex
from ocsp.model import CertStatus, OcspTiming, ResponseStore, StatusSource, StoredResponse

_LOG = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class RefreshReport:
    """What one :meth:`PreSigner.refresh_due` pass did."""

    signed: int
    kept_newer: int
    failed: int


class PreSigner:
    """Sign and store the response of one certificate; refresh all that are due."""

    def __init__(
        self,
        *,
        issuers: IssuerIndex,
        status: StatusSource,
        store: ResponseStore,
        signers: Mapping[str, ResponseSigner],
        timing: OcspTiming,
        clock: Clock = utc_now,
    ) -> None:
        """*signers*: by issuer id, who signs that CA's responses (its delegated responder,
        or a retired CA itself, RFC 6960 §4.2.2.2); one for every CA of *issuers*."""
        missing = {ca.issuer_id for ca in issuers.all()} - set(signers)
        if missing:
            raise ValueError(f"got no signer for issuer(s) {sorted(missing)}; expected one each")
        self._issuers = issuers
        self._status = status
        self._store = store
        self._signers = dict(signers)
        self._timing = timing
        self._clock = clock

    def signer_for(self, issuer_id: str) -> ResponseSigner:
        """The certificate and key *issuer_id*'s responses are signed with now."""
        return self._signers[issuer_id]

    def use_signer(self, issuer_id: str, signer: ResponseSigner) -> None:
        """Sign *issuer_id*'s responses from now on with *signer* (a renewed responder
        certificate).

        One dict assignment: a signature under way finishes with the signer it
        read, which is whole on its own (its certificate travels in the response).
        """
        self._signers[issuer_id] = signer

    def sign(
        self, issuer_id: str, serial: int, *, status: CertStatus | None = None
    ) -> StoredResponse:
        """:meth:`sign_with_status` without the status."""
        return self.sign_with_status(issuer_id, serial, status=status)[0]

    def sign_with_status(
        self,
        issuer_id: str,
        serial: int,
        *,
        status: CertStatus | None = None,
        read_at: datetime | None = None,
    ) -> tuple[StoredResponse, CertStatus]:
        """Sign a fresh response for *status* (default: the store's, read now); not stored.

        ``produced_at`` of the result is the precise moment *before* the status
        was read (the DER says the same, in whole seconds). The store keeps the
        response with the latest ``produced_at``, so a refresher that read
        ``good`` just before a revocation can never overwrite the ``revoked``
        response signed after it -- even within the same second.
        """
        ca = self._issuers.by_id(issuer_id)
        if status is None or read_at is None:
            read_at = self._clock()
        if status is None:
            status = self._status.lookup(issuer_id, serial)
        now = whole_seconds(read_at)
        validity = (
            self._timing.validity if status.state != "unknown" else self._timing.unknown_validity
        )
        next_update = now + validity
        signer = self._signers[issuer_id]
        if status.state == "good":
            # The answer of every newly issued certificate: from a template.
            der = signer.build_good(
                ca, PRESIGNED_ALGORITHMS, serial, at=now, next_update=next_update
            )
        else:
            singles = [
                SingleSpec(
                    cert_id_der=make_cert_id(ca, alg, serial),
                    status=status,
                    this_update=now,
                    next_update=next_update,
                )
                for alg in PRESIGNED_ALGORITHMS
            ]
            der = signer.build(singles, produced_at=now)
        stored = StoredResponse(
            der=der, this_update=now, next_update=next_update, produced_at=read_at
        )
        return stored, status

    def now(self) -> datetime:
        return self._clock()

    def presign(self, issuer_id: str, serial: int) -> StoredResponse:
        """Sign and store (the hook for issuance and revocation); returns what was signed.

        Call it after the certificate row (or its revocation) is committed: the
        status is read from the store, so a response can never say more than
        the store does.
        """
        response = self.sign(issuer_id, serial)
        self._store.put(issuer_id, serial, response)
        return response

    def refresh_due(
        self,
        *,
        limit: int = 1000,
        progress: Callable[[int, int], None] | None = None,
    ) -> RefreshReport:
        """Re-sign every response past its refresh point (and every missing one).

        Due means ``nextUpdate`` falls before ``now + validity·(1 - refresh_fraction)``,
        i.e. ``thisUpdate + validity·refresh_fraction`` has passed. One pass
        handles at most *limit* certificates; call again until ``signed == 0``.
        """
        now = self._clock()  # before the read: see sign_with_status on produced_at
        horizon = now + (self._timing.validity - self._timing.refresh_after)
        due = self._store.due(now=now, next_update_before=horizon, limit=limit)
        signed = kept = failed = 0
        for done, item in enumerate(due, start=1):
            try:
                response, _ = self.sign_with_status(
                    item.issuer_id, item.serial, status=item.status, read_at=now
                )
                if self._store.put(item.issuer_id, item.serial, response):
                    signed += 1
                else:
                    kept += 1
            except HsmError:
                raise  # the token is down: every other item would fail too; retry the pass later
            except Exception:
                # One bad row must not stop the refresh of the others; the
                # next pass retries it (it stays due).
                failed += 1
                _LOG.exception("OCSP refresh of serial %x failed", item.serial)
            if progress is not None:
                progress(done, len(due))
        return RefreshReport(signed=signed, kept_newer=kept, failed=failed)
