"""The issuance cycle: from verified attributes and a CSR to a stored certificate.

The steps, in this order, are those of ``docs/issuance-cycle.md`` and
ARCHITECTURE §5; each is one method named after its step so the document and
the code can be read side by side:

1. :meth:`IssuanceCycle.step1_check_request` -- CSR proof of possession, key
   type/size and weak keys (policy), attributes complete; and, inside step 2's
   transaction, :meth:`IssuanceCycle.step1_check_key_owner` (a key revoked
   for keyCompromise, or certified for another person, is refused).
2. :meth:`IssuanceCycle.step2_reserve_serial` -- draw a serial and COMMIT the
   reservation (the intent) before anything is signed.
3. :meth:`IssuanceCycle.step3_build_lint_sign` -- choose the validity (the
   policy's, capped at the notAfter of the UZI-pas the request was proven
   with), build the TBS from the
   profile and the verified attributes only, sign it with the throwaway lint
   key, fast-lint it, sign the same bytes with the HSM key and verify that
   signature over them with the issuing CA certificate's public key.
4. :meth:`IssuanceCycle.step4_store` -- store the certificate, finish the
   reservation, let the caller record its own change (the enrolment marks its
   token redeemed) and append the audit event: ONE transaction.

Between steps 3 and 4 :meth:`CertificateHooks.before_store` may hand in a
write of its own for step 4's transaction (the OCSP service pre-signs the first
response there, so it commits with the certificate); after the commit
:meth:`CertificateHooks.on_issued` is told. A crash anywhere leaves a
``reserved`` row that says what was intended; the serial is never drawn again
(primary key), so no serial is ever used twice.

Each request's outcome (issued, refused, failed) and each step's duration are told to
the cycle's :class:`~issuer.issuance.records.IssuanceObserver` (the engine's metrics).

What step 4's transaction holds and the group committers are in
:mod:`issuer.issuance.storing`; the types the cycle takes and gives in
:mod:`issuer.issuance.records`; the SQL in :mod:`issuer.store.issuance`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from hsm import HsmError, HsmUnavailable
from issuer.audit import AuditLog
from issuer.errors import Code, Status, ZorgIdError
from issuer.issuance.faults import crash_point
from issuer.issuance.records import (
    Actor,
    Begin,
    CaSigningKey,
    CertificateHooks,
    CheckedRequest,
    Finish,
    HealthReport,
    IssuanceObserver,
    IssuanceOutcome,
    IssuanceRequest,
    IssuanceStep,
    IssuedCertificate,
    NoHooks,
    NoObserver,
    Reservation,
    issuer_id,
)
from issuer.issuance.storing import Committers, abandon, refuse_barred, store_issued
from issuer.keys import WeakKeyError, spki_sha256
from issuer.lint import LintError, Presigner, SignatureInvalid
from issuer.profile import (
    CsrError,
    InvalidAttributesError,
    ProfileError,
    VerifiedAttributes,
    check_csr,
    draw_serial,
    signature_hash,
)
from issuer.profile.builder import for_usage
from issuer.profile.usage import CertificateUsage, check_card_key
from issuer.store import Connection, Engine, IntegrityError
from issuer.store import issuance as sql
from issuer.store.certificates import certificate_by_id
from issuer.store.transactions import write_transaction
from policies import Policy

_LOG = logging.getLogger(__name__)

SERIAL_DRAWS = 3
"""Redraws after a serial clash (probability ~2^-159 each): a clash twice means a broken RNG."""

_PROFILE_CODES = {
    "validity": Code.ZID_1206,
    "issuing CA validity": Code.ZID_1206,
    "UZI-pas validity": Code.ZID_1207,
}
"""Step 3's profile refusals that are not the attributes' (ZID-1204): the CA's or the card's
validity."""

_FAILURE_STATUSES = frozenset(
    {
        Status.UNKNOWN,
        Status.INTERNAL,
        Status.UNAVAILABLE,
        Status.DATA_LOSS,
        Status.DEADLINE_EXCEEDED,
    }
)
"""A ZID error with one of these statuses is the engine failing, not the request refused."""


def _outcome_of(exc: BaseException) -> tuple[IssuanceOutcome, str | None]:
    """How a request that raised *exc* ended, for the observer: refused or failed, and its code."""
    if isinstance(exc, ZorgIdError):
        return ("failed" if exc.spec.status in _FAILURE_STATUSES else "refused"), str(exc.code)
    return "failed", None


def _attrs_json(attrs: VerifiedAttributes) -> dict[str, str | None]:
    return {
        "uzi_number": attrs.uzi_number,
        "card_type": attrs.card_type,
        "subscriber_number": attrs.subscriber_number,
        "role": attrs.role,
        "agb_code": attrs.agb_code,
        "given_name": attrs.given_name,
        "surname": attrs.surname,
        "common_name": attrs.common_name,
        "title": attrs.title,
        "organization": attrs.organization,
    }


def _utc_now() -> datetime:
    return datetime.now(UTC)


class IssuanceCycle:
    """One issuing CA, one active policy; thread-safe (state lives in the database).

    ``ca_key`` signs (an HSM key: its module lock serialises signatures);
    ``policy_version`` is the number of ``policy`` in ``policy_versions``
    (see :func:`issuer.issuance.policy_record.record_active_policy`), written
    on every reservation and certificate.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        policy: Policy,
        policy_version: int,
        ca_cert: x509.Certificate,
        ca_key: CaSigningKey,
        audit: AuditLog,
        hooks: CertificateHooks | None = None,
        clock: Callable[[], datetime] = _utc_now,
        health: HealthReport | None = None,
        group_commit: bool = True,
        committers: Committers | None = None,
        observer: IssuanceObserver | None = None,
    ) -> None:
        self.engine = engine
        self.policy = policy
        self.policy_version = policy_version
        self.ca_cert = ca_cert
        self.ca_key = ca_key
        self.audit = audit
        self.hooks: CertificateHooks = hooks or NoHooks()
        self.observer: IssuanceObserver = observer or NoObserver()
        self.clock = clock
        self.issuer = issuer_id(ca_cert)
        self._ca_public_key = ca_cert.public_key()
        self._health = health
        self._hsm_down = False
        self._hash = signature_hash(policy)
        self._card_presigners: dict[CertificateUsage, Presigner] = {}
        # Step 2 and step 4 commit in groups (issuer/store/group_commit.py), each on
        # its own writer: a step-2 batch locks registrations, a step-4 batch the audit
        # head first (prologue), so the two never wait on each other in a cycle.
        self._reserve_writer: Callable[[Callable[[Connection], Any]], Any]
        self._store_writer: Callable[[Callable[[Connection], Any]], Any]
        if committers is not None:
            self._reserve_writer = committers.reserve.run
            self._store_writer = committers.store.run
        elif group_commit:
            made = Committers.for_engine(engine)
            self._reserve_writer = made.reserve.run
            self._store_writer = made.store.run
        else:
            self._reserve_writer = self._store_writer = self._direct

    @functools.cached_property
    def _presigner(self) -> Presigner:
        """Step 3's per-profile parts (TBS template, lint shape, lint key), made on the
        first request and kept with the policy and CA they belong to. Made then, not in
        ``__init__``: a profile the CA cannot sign still refuses each request (ZID-1204/
        1205) as it always did; a failed attempt is not kept."""
        return Presigner.for_profile(self.policy, self.ca_cert)

    def _presigner_for(self, usage: CertificateUsage) -> Presigner:
        """The mobile ID's :attr:`_presigner`, or a card usage's, made on its first request
        and kept likewise (a dict write of equal values is harmless under threads)."""
        if usage is CertificateUsage.MOBILE_ID:
            return self._presigner
        made = self._card_presigners.get(usage)
        if made is None:
            made = Presigner.for_profile(self.policy, self.ca_cert, usage)
            self._card_presigners[usage] = made
        return made

    def _direct(self, work: Callable[[Connection], Any]) -> Any:
        with write_transaction(self.engine) as conn:
            return work(conn)

    # -- the cycle -----------------------------------------------------------------

    def issue(self, request: IssuanceRequest, *, finish: Finish | None = None) -> IssuedCertificate:
        """Run steps 1-4 for *request*; raise :class:`ZorgIdError` on refusal."""
        checked = self.step1_check_request(request)
        return self.issue_checked(checked, finish=finish)

    def issue_checked(
        self,
        checked: CheckedRequest,
        *,
        finish: Finish | None = None,
        begin: Begin | None = None,
    ) -> IssuedCertificate:
        """Steps 2-4 for a request that passed step 1.

        ``begin`` runs first in step 2's transaction (the redeemer claims its
        token there: claim and intent commit together, one commit fewer);
        raising from it aborts before anything is reserved.
        """
        try:
            with self._timed("reserve"):
                reservation = self.step2_reserve_serial(checked, begin=begin)
        except Exception as exc:
            self.observer.outcome(*_outcome_of(exc))
            raise
        crash_point("after-reserve")
        try:
            signed = self.step3_build_lint_sign(checked, reservation)
            crash_point("after-sign")
            with self._timed("ocsp"):
                extra = self._before_store(reservation)
            with self._timed("store"):
                issued = self.step4_store(checked, reservation, signed, finish=finish, extra=extra)
        except BaseException as exc:
            self.observer.outcome(*_outcome_of(exc))
            self._abandon(reservation, exc, checked.request.actor)
            raise
        self.observer.outcome("issued", None)
        crash_point("after-store")
        try:
            self.hooks.on_issued(issued)
        except Exception:
            _LOG.exception(
                "on_issued hook failed for serial %s (certificate stays issued)", issued.serial
            )
        return issued

    def _before_store(self, reservation: Reservation) -> Finish | None:
        """The hooks' write for step 4 (the first OCSP response), or ``None`` if it failed.

        A failure here (e.g. the HSM refused the responder key) must not stop
        the issuance: the certificate is stored without a response and the
        OCSP refresher signs it at its next pass, as for a failed hook before.
        """
        try:
            return self.hooks.before_store(self.issuer, reservation.serial_hex)
        except Exception:
            _LOG.exception(
                "before_store hook failed for serial %s (issuing without its OCSP response)",
                reservation.serial_hex,
            )
            return None

    def step1_check_request(self, request: IssuanceRequest) -> CheckedRequest:
        """Step 1: proof of possession, key rules and weak keys, attributes issuable.

        The key-owner check needs the database and runs in step 2's
        transaction (:meth:`step1_check_key_owner`). A refusal here ends the request:
        the observer hears it (steps 2-4 are :meth:`issue_checked`'s).
        """
        try:
            with self._timed("check"):
                return self._check_request(request)
        except Exception as exc:
            self.observer.outcome(*_outcome_of(exc))
            raise

    def _check_request(self, request: IssuanceRequest) -> CheckedRequest:
        try:
            # A card certificate's key rules are its [smartcard] certificate's.
            _, key_rules = for_usage(request.attrs, self.policy, request.usage)
        except ProfileError as exc:
            raise ZorgIdError(Code.ZID_1204, str(exc)) from None
        try:
            public_key = check_csr(request.csr, key_rules)
            if request.usage.is_card:
                check_card_key(public_key, self.policy, request.usage)
        except WeakKeyError as exc:
            raise ZorgIdError(Code.ZID_1202, str(exc), metadata={"reason": exc.reason}) from None
        except CsrError as exc:
            raise ZorgIdError(exc.code, str(exc), metadata={"reason": exc.reason}) from None
        attrs = request.attrs
        if attrs.card_type not in self.policy.uzi.card_types:
            raise ZorgIdError(
                Code.ZID_1204,
                f"card type {attrs.card_type!r}; expected one of "
                f"{list(self.policy.uzi.card_types)} (policy uzi.card_types)",
            )
        if not self.policy.uzi.accepts_role(attrs.role):
            raise ZorgIdError(
                Code.ZID_1204,
                f"role {attrs.role!r}; expected one matching {list(self.policy.uzi.roles)}",
            )
        spki = spki_sha256(public_key)
        csr_sha = hashlib.sha256(request.csr).hexdigest()
        intent = json.dumps(
            {
                "attrs": _attrs_json(attrs),
                "spki_sha256": spki,
                "policy_version": self.policy_version,
                "policy_digest": self.policy.digest,
                "person_id": request.person_id,
                "registration_id": request.registration_id,
                **({"usage": request.usage.value} if request.usage.is_card else {}),
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        return CheckedRequest(
            request=request,
            public_key=public_key,
            spki_sha256=spki,
            csr_sha256=csr_sha,
            request_sha256=hashlib.sha256(intent.encode()).hexdigest(),
        )

    def step1_check_key_owner(self, conn: Connection, checked: CheckedRequest) -> None:
        """Step 1 (database part): refuse a barred key, or one certified for another person.

        A key revoked for keyCompromise (RFC 5280 §5.3.1) is barred forever,
        for anyone (ZID-1850): whoever holds the compromised private key could
        log in with any certificate for it. One phone key speaks for one
        person: a second person certifying the same key could log in as the
        first. Checked against mobile IDs and certificates (a mobile ID row is
        unique per key, which also stops two concurrent requests in step 4).
        """
        owners = sql.key_owners(conn, checked.spki_sha256)
        barred = [serial for (_, serial) in owners if serial is not None]
        if barred:
            refuse_barred(checked.spki_sha256, barred[0])
        others = {o for (o, _) in owners if o is not None and o != checked.request.person_id}
        if others:
            raise ZorgIdError(
                Code.ZID_1203,
                f"key spki_sha256={checked.spki_sha256} is certified for another person; "
                "expected a key new to this engine or this person's own",
            )

    def step2_reserve_serial(
        self, checked: CheckedRequest, *, begin: Begin | None = None
    ) -> Reservation:
        """Step 2: draw a serial and commit the intent before any signature.

        RFC 5280 §4.1.2.2 (positive, <= 20 octets, unique per issuer) with
        159 CSPRNG bits (:func:`issuer.profile.draw_serial`); the reservation's
        primary key (issuer, serial) makes reuse impossible across processes.
        """
        for _ in range(SERIAL_DRAWS):
            serial = draw_serial()
            now = self.clock()
            intent = sql.Intent(
                issuer=self.issuer,
                serial=format(serial, "x"),
                request_sha256=checked.request_sha256,
                policy_version=self.policy_version,
                registration_id=checked.request.registration_id,
                created_at=now,
            )

            def reserve(conn: Connection, intent: sql.Intent = intent) -> None:
                if begin is not None:
                    begin(conn)
                self.step1_check_key_owner(conn, checked)
                sql.insert_reservation(conn, intent)

            try:
                self._reserve_writer(reserve)
            except IntegrityError:
                # The only unique key here is (issuer, serial): drawn twice. The
                # whole transaction (and the caller's claim in it) rolled back.
                _LOG.warning("serial clash for %x: drawing again", serial)
                continue
            return Reservation(issuer=self.issuer, serial=serial, reserved_at=now)
        raise ZorgIdError(
            Code.ZID_0001, f"{SERIAL_DRAWS} serial draws all clashed; the CSPRNG is suspect"
        )

    def step3_build_lint_sign(
        self, checked: CheckedRequest, reservation: Reservation
    ) -> x509.Certificate:
        """Step 3: build once, lint-sign and lint, HSM-sign the same TBS, verify.

        Boulder's linting-before-issuance: the throwaway lint key signs first
        so the signature AlgorithmIdentifier inside the TBS is the final one;
        the fast lint is as strict as pkilint for the varying fields (the
        profile itself was pkilinted when the policy was activated). The HSM's
        signature is then verified over the linted bytes with the issuing CA
        certificate's public key (ARCHITECTURE §5 step 3): a key label naming
        another key of the token signs without complaint, and such a
        certificate must never be stored as ``good`` (ZID-1250; the
        reservation ends ``failed`` and the audit log says why).

        The validity is chosen here, once: ``request.card_not_after`` (the
        UZI-pas date the registration recorded, never anything the phone sent)
        caps the policy's notAfter, and a card expired by now is refused
        (ZID-1207) before anything is signed
        (:func:`issuer.profile.builder.validity_window`; the lint checks the
        same window).
        """
        request = checked.request
        try:
            with self._timed("lint"):
                builder, _linted = self._presigner_for(request.usage).build_and_lint(
                    request.attrs,
                    checked.public_key,
                    reservation.serial,
                    reservation.reserved_at,
                    request.card_not_after,
                )
        except LintError as exc:
            raise ZorgIdError(Code.ZID_1205, str(exc)) from None
        except ProfileError as exc:
            raise ZorgIdError(_PROFILE_CODES.get(exc.what, Code.ZID_1204), str(exc)) from None
        except InvalidAttributesError as exc:
            raise ZorgIdError(Code.ZID_1204, str(exc)) from None
        crash_point("after-lint")
        try:
            with self._timed("sign"):
                signed = builder.sign(self.ca_key, self._hash)
        except HsmUnavailable as exc:
            self._report_hsm(ok=False, why=str(exc))
            raise ZorgIdError(Code.ZID_0004, "the HSM is unavailable; retry later") from None
        except HsmError as exc:
            raise ZorgIdError(Code.ZID_0001, f"HSM signing failed: {type(exc).__name__}") from None
        self._report_hsm(ok=True, why="issuing CA key signs again")
        try:
            with self._timed("verify"):
                builder.verify(signed, self._ca_public_key, self._hash)
        except SignatureInvalid as exc:
            _LOG.error("serial %s: %s; nothing stored", reservation.serial_hex, exc)
            raise ZorgIdError(Code.ZID_1250, str(exc)) from None
        return signed

    def step4_store(
        self,
        checked: CheckedRequest,
        reservation: Reservation,
        signed: x509.Certificate,
        *,
        finish: Finish | None = None,
        extra: Finish | None = None,
    ) -> IssuedCertificate:
        """Step 4: certificate + reservation done + caller's change + audit, one transaction.

        ``extra`` (from :meth:`CertificateHooks.before_store`: the first OCSP
        response) is written in the same transaction, after the certificate row.

        Retried once when the transaction hits a unique key: the only one a
        correct run can hit is a mobile ID for this key inserted concurrently
        (same person, two registrations), which the retry then reads.
        """
        der = signed.public_bytes(serialization.Encoding.DER)
        try:
            return self._store_once(checked, reservation, signed, der, finish, extra)
        except IntegrityError:
            _LOG.info(
                "step 4 of serial %s met a concurrent insert: once more", reservation.serial_hex
            )
            return self._store_once(checked, reservation, signed, der, finish, extra)

    def _store_once(
        self,
        checked: CheckedRequest,
        reservation: Reservation,
        signed: x509.Certificate,
        der: bytes,
        finish: Finish | None,
        extra: Finish | None,
    ) -> IssuedCertificate:
        now = self.clock()
        stored: IssuedCertificate = self._store_writer(
            lambda conn: store_issued(
                conn,
                issuer=self.issuer,
                policy_version=self.policy_version,
                audit=self.audit,
                checked=checked,
                reservation=reservation,
                signed=signed,
                der=der,
                finish=finish,
                extra=extra,
                now=now,
            )
        )
        return stored

    # -- helpers -------------------------------------------------------------------

    @contextlib.contextmanager
    def _timed(self, step: IssuanceStep) -> Iterator[None]:
        """Tell the observer how long *step* took, whether it succeeded or raised."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.observer.step(step, time.perf_counter() - started)

    def _abandon(self, reservation: Reservation, exc: BaseException, actor: Actor) -> None:
        """Mark a reservation ``failed`` after a refusal or error in steps 3-4.

        Best effort: if this fails too (database down), the row stays
        ``reserved`` and shows up in ``zorgid issuance stale``; either way
        the serial is never drawn again.
        """
        reason = exc.code if isinstance(exc, ZorgIdError) else type(exc).__name__
        try:
            abandon(
                self.engine,
                self.audit,
                reservation,
                issuer=self.issuer,
                reason=reason,
                actor=actor,
                clock=self.clock,
            )
        except Exception:
            _LOG.exception("could not mark reservation %s failed", reservation.serial_hex)

    def _report_hsm(self, *, ok: bool, why: str) -> None:
        # Only a success while up is skipped (every signature): a failure is always told,
        # since health may have been set SERVING meanwhile by the runtime's probe.
        if ok and not self._hsm_down:
            return
        self._hsm_down = not ok
        if self._health is not None:
            self._health(ok, why)

    # -- reading ---------------------------------------------------------------------

    def load(self, certificate_id: str) -> IssuedCertificate | None:
        """A stored certificate by id (a WAL snapshot on SQLite, no write lock)."""
        row = certificate_by_id(self.engine, certificate_id)
        return None if row is None else IssuedCertificate.from_row(row)


__all__ = ["IssuanceCycle"]
