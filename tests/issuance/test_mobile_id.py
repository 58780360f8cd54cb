"""Step 4's mobile ID: made on a key's first certificate, reused by the same person's next,
and a key certified for another person while the request was signed is refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from issuer.errors import ZorgIdError
from issuer.issuance.records import Finish, IssuedCertificate
from issuer.store.repo import new_id
from issuer.store.schema import audit_events, certificates, mobile_ids, serial_reservations
from testkit.phone import Phone
from tests.issuance.conftest import MOBILE, World, attributes


def _count(world: World, table: sa.Table) -> int:
    with world.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_one_mobile_id_per_key_reused_by_the_same_person(
    world: World, new_phone: Callable[..., Phone]
) -> None:
    phone, other_phone = new_phone(), new_phone()
    first = world.redeemer.redeem(world.enrol().token, phone.csr(), actor=MOBILE)
    again = world.enrol(attributes(card_type="N"))
    second = world.redeemer.redeem(again.token, phone.csr(), actor=MOBILE)
    third = world.redeemer.redeem(
        world.enrol(attributes(card_type="N", uzi_number="900016528")).token,
        other_phone.csr(),
        actor=MOBILE,
    )
    made, reused, other = (r.certificate.mobile_id_id for r in (first, second, third))
    assert made is not None and reused == made
    assert other is not None and other != made
    with world.engine.connect() as conn:
        rows = conn.execute(sa.select(mobile_ids.c.id, mobile_ids.c.spki_sha256)).all()
    assert sorted(rows) == sorted([(made, phone.spki_sha256), (other, other_phone.spki_sha256)])
    # The stored rows and the audit events name the mobile ID that was used, also
    # when step 4 found the key's existing one (its draft was made with a new id).
    with world.engine.connect() as conn:
        stored = dict(conn.execute(sa.select(certificates.c.id, certificates.c.mobile_id_id)).all())
        events = [
            json.loads(d)
            for d in conn.execute(
                sa.select(audit_events.c.details).where(
                    audit_events.c.action == "certificate.issue"
                )
            ).scalars()
        ]
    named = {e["certificate_id"]: e["mobile_id_id"] for e in events}
    for redemption, expected in ((first, made), (second, made), (third, other)):
        cert_id = redemption.certificate.id
        assert stored[cert_id] == expected and named[cert_id] == expected


class _ClaimKeyFor:
    """before_store hook: another person's mobile ID for the key lands while step 3 ran."""

    def __init__(self, world: World, person_id: str, phone: Phone) -> None:
        self.world, self.person_id, self.phone = world, person_id, phone

    def before_store(self, issuer: str, serial: str) -> Finish | None:
        der = self.phone.spki_der
        with self.world.engine.begin() as conn:
            conn.execute(
                mobile_ids.insert().values(
                    id=new_id(),
                    person_id=self.person_id,
                    spki_sha256=self.phone.spki_sha256,
                    public_key=der,
                    created_at=datetime.now(UTC),
                )
            )
        return None

    def on_issued(self, cert: IssuedCertificate) -> None:
        return None

    def on_revoked(self, cert: IssuedCertificate) -> None:
        return None


def test_a_key_certified_for_another_person_meanwhile_is_refused_in_step_4(
    world: World, new_phone: Callable[..., Phone]
) -> None:
    phone = new_phone()
    other_person = world.enrol(attributes("900016529")).person_id
    world.cycle.hooks = _ClaimKeyFor(world, other_person, phone)
    with pytest.raises(ZorgIdError) as caught:
        world.redeemer.redeem(world.enrol().token, phone.csr(), actor=MOBILE)
    assert caught.value.code == "ZID-1203"
    assert _count(world, certificates) == 0
    with world.engine.connect() as conn:
        states = conn.execute(sa.select(serial_reservations.c.state)).scalars().all()
        owners = conn.execute(sa.select(mobile_ids.c.person_id)).scalars().all()
    assert states == ["failed"]
    assert owners == [other_person]
