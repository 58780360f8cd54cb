"""Issue 16 item 6 in the cycle: a key revoked for keyCompromise while a request for it is
signed is refused in step 4 too, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from issuer.enrolment.redeem import Redemption
from issuer.errors import ZorgIdError
from issuer.issuance import certificates as certs
from issuer.issuance.records import (
    Actor,
    CheckedRequest,
    Finish,
    IssuanceRequest,
    IssuedCertificate,
)
from issuer.store.schema import certificates, serial_reservations
from testkit.phone import Phone
from tests.issuance.conftest import MOBILE, World, attributes

OPERATOR = Actor(role="operator", identity="CN=operator")


class _CompromisedMeanwhile:
    """before_store hook: the operator revokes the key's first certificate while step 3 ran."""

    def __init__(self, world: World, certificate_id: str) -> None:
        self.world, self.certificate_id = world, certificate_id

    def before_store(self, issuer: str, serial: str) -> Finish | None:
        certs.revoke(
            self.world.engine,
            self.world.audit,
            certificate_id=self.certificate_id,
            reason="keyCompromise",
            actor=OPERATOR,
        )
        return None

    def on_issued(self, cert: IssuedCertificate) -> None:
        return None

    def on_revoked(self, cert: IssuedCertificate) -> None:
        return None


def test_a_key_compromised_while_signing_is_refused_in_step_4(
    world: World, new_phone: Callable[..., Phone]
) -> None:
    phone = new_phone()
    first = world.redeemer.redeem(world.enrol().token, phone.csr(), actor=MOBILE)
    world.cycle.hooks = _CompromisedMeanwhile(world, first.certificate.id)
    with pytest.raises(ZorgIdError) as caught:
        world.redeemer.redeem(world.enrol().token, phone.csr(), actor=MOBILE)
    assert caught.value.code == "ZID-1850"
    with world.engine.connect() as conn:
        statuses = (
            conn.execute(
                sa.select(certificates.c.status).where(
                    certificates.c.spki_sha256 == phone.spki_sha256
                )
            )
            .scalars()
            .all()
        )
        states = (
            conn.execute(
                sa.select(serial_reservations.c.state).order_by(serial_reservations.c.created_at)
            )
            .scalars()
            .all()
        )
    assert statuses == ["revoked"]
    assert states == ["issued", "failed"]


def _certified_then_compromised(world: World, phone: Phone) -> Redemption:
    """A redemption for ``phone``'s key, whose certificate is then revoked for keyCompromise."""
    first = world.redeemer.redeem(world.enrol().token, phone.csr(), actor=MOBILE)
    certs.revoke(
        world.engine,
        world.audit,
        certificate_id=first.certificate.id,
        reason="keyCompromise",
        actor=OPERATOR,
    )
    return first


def test_step_1_refuses_a_compromised_key_before_anything_is_reserved(
    world: World, new_phone: Callable[..., Phone]
) -> None:
    phone = new_phone()
    _certified_then_compromised(world, phone)
    with pytest.raises(ZorgIdError) as caught:
        world.redeemer.redeem(world.enrol().token, phone.csr(), actor=MOBILE)
    assert caught.value.code == "ZID-1850"
    with world.engine.connect() as conn:
        reserved = conn.execute(
            sa.select(sa.func.count()).select_from(serial_reservations)
        ).scalar_one()
    assert reserved == 1


def test_a_reissue_without_csr_for_a_compromised_key_is_refused(
    world: World, new_phone: Callable[..., Phone]
) -> None:
    """The path of RegisterAttributes (flow 5): ``issue_checked`` with the stored key."""
    phone = new_phone()
    first = _certified_then_compromised(world, phone)
    request = IssuanceRequest(
        attrs=attributes(card_type="N"),
        csr=b"",
        person_id=str(first.certificate.person_id),
        actor=MOBILE,
    )
    checked = CheckedRequest(
        request=request,
        public_key=phone.key.public_key(),
        spki_sha256=phone.spki_sha256,
        csr_sha256=hashlib.sha256(b"").hexdigest(),
        request_sha256=hashlib.sha256(b"reissue").hexdigest(),
    )
    with pytest.raises(ZorgIdError) as caught:
        world.cycle.issue_checked(checked)
    assert caught.value.code == "ZID-1850"
