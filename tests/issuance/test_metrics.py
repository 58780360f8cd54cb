"""Issuances counted by outcome and ZID code family, each step timed, stale reservations
gauged (issue 21, metrics): a real cycle on SoftHSM, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pkcs11 import exceptions as p11e

from issuer.errors import ZorgIdError
from issuer.issuance.records import IssuanceRequest
from issuer.metrics import STALE_AFTER_SECONDS, Metrics, StaleReservations
from issuer.store.certificates import stale_reservation_count
from testkit.phone import Phone
from tests.issuance.conftest import MOBILE, World, attributes
from tests.scrape import labelled

OUTCOMES = "zorgid_issuance_total"
STEPS = "zorgid_issuance_step_seconds_count"


@pytest.fixture
def metered(world: World) -> Iterator[tuple[World, Metrics]]:
    metrics = Metrics()
    world.cycle.observer = metrics.issuance  # as issuer.wiring.issuance_runtime hands it in
    yield world, metrics
    world.ca.hsm.set_fault_hook(None)


def _by(metrics: Metrics, name: str) -> dict[frozenset[tuple[str, str]], float]:
    return labelled(
        {
            (s.name, frozenset(s.labels.items())): s.value
            for family in metrics.registry.collect()
            for s in family.samples
        },
        name,
    )


def _hsm_away(operation: str) -> None:
    if operation == "sign":
        raise p11e.DeviceError()


def test_issued_refused_and_failed_are_counted_and_each_step_timed(
    metered: tuple[World, Metrics], new_phone: Callable[..., Phone]
) -> None:
    world, metrics = metered
    issued = world.redeemer.redeem(world.enrol().token, new_phone().csr(), actor=MOBILE)
    assert not issued.replayed
    with pytest.raises(ZorgIdError) as refused:  # not a CSR: refused in step 1
        world.redeemer.redeem(world.enrol().token, b"\x30\x03\x02\x01\x01", actor=MOBILE)
    assert refused.value.code.startswith("ZID-12")
    csr = new_phone().csr()  # the phones' token is on the same module: before the fault
    world.ca.hsm.set_fault_hook(_hsm_away)  # the HSM gone at step 3's signature
    with pytest.raises(ZorgIdError) as failed:
        world.redeemer.redeem(world.enrol().token, csr, actor=MOBILE)
    world.ca.hsm.set_fault_hook(None)
    assert failed.value.code == "ZID-0004"

    assert _by(metrics, OUTCOMES) == {
        frozenset({("outcome", "issued"), ("family", "")}): 1.0,
        frozenset({("outcome", "refused"), ("family", "ZID-12xx")}): 1.0,
        frozenset({("outcome", "failed"), ("family", "ZID-00xx")}): 1.0,
    }
    # Each request is checked; two reserved, linted and signed; one got further.
    assert _by(metrics, STEPS) == {
        frozenset({("step", "check")}): 3.0,
        frozenset({("step", "reserve")}): 2.0,
        frozenset({("step", "lint")}): 2.0,
        frozenset({("step", "sign")}): 2.0,
        frozenset({("step", "verify")}): 1.0,
        frozenset({("step", "ocsp")}): 1.0,
        frozenset({("step", "store")}): 1.0,
    }


def test_a_reservation_left_reserved_shows_as_stale_until_it_is_finished(
    metered: tuple[World, Metrics], new_phone: Callable[..., Phone]
) -> None:
    world, metrics = metered
    engine = world.engine

    def read(older_than: float) -> StaleReservations:
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
        count, oldest = stale_reservation_count(engine, older_than=cutoff)
        return StaleReservations(count=count, oldest=oldest)

    metrics.watch_reservations(read)

    def gauges() -> tuple[float | None, float | None]:
        get = metrics.registry.get_sample_value
        return (
            get("zorgid_issuance_stale_reservations"),
            get("zorgid_issuance_stale_reservation_age_seconds"),
        )

    assert gauges() == (0.0, 0.0)
    # A crash after step 2: the intent is committed, nothing more (10 minutes ago).
    checked = world.cycle.step1_check_request(
        IssuanceRequest(attrs=attributes(), csr=new_phone().csr(), person_id="p", actor=MOBILE)
    )
    world.cycle.clock = lambda: datetime.now(UTC) - timedelta(minutes=10)
    world.cycle.step2_reserve_serial(checked)
    # A second one just now is not stale yet: an issuance takes milliseconds, not minutes.
    world.cycle.clock = lambda: datetime.now(UTC)
    world.cycle.step2_reserve_serial(checked)
    count, age = gauges()
    assert count == 1
    assert age is not None and 600 <= age < 600 + STALE_AFTER_SECONDS
