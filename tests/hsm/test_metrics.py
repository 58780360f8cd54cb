"""HSM operation latency, errors and re-initialisations reach the engine's metrics through
the module's observer seam (issue 21, metrics): real SoftHSM, faults at the fault hook."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11 import exceptions as p11e

from hsm import Hsm, HsmOperationFailed, HsmPrivateKey, KeySpec
from issuer.metrics import Metrics
from tests.hsm.test_recovery import FailTimes

SECONDS_COUNT = "zorgid_hsm_operation_seconds_count"
ERRORS = "zorgid_hsm_errors_total"
REINITS = "zorgid_hsm_reinitializations_total"


@pytest.fixture
def metrics(engine_hsm: Hsm) -> Iterator[Metrics]:
    """A fresh registry observing the engine token's module (as ``issuer.wiring`` sets it)."""
    made = Metrics()
    engine_hsm.module.observer = made.hsm
    yield made
    engine_hsm.module.observer = None
    engine_hsm.set_fault_hook(None)


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def _errors(metrics: Metrics) -> dict[tuple[str, str], float]:
    return {
        (s.labels["operation"], s.labels["error"]): s.value
        for family in metrics.registry.collect()
        for s in family.samples
        if s.name == ERRORS
    }


def _sign(key: HsmPrivateKey) -> None:
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    key.sign(b"metrics", ec.ECDSA(hashes.SHA256()))


def test_a_signature_is_timed_and_nothing_else_moves(
    engine_hsm: Hsm, hsm_keys: dict[KeySpec, HsmPrivateKey], metrics: Metrics
) -> None:
    key = hsm_keys[KeySpec.EC_P256]
    _sign(key)
    _sign(key)
    assert _value(metrics, SECONDS_COUNT, operation="sign") == 2
    assert _value(metrics, "zorgid_hsm_operation_seconds_sum", operation="sign") > 0
    assert _errors(metrics) == {}
    assert _value(metrics, REINITS) == 0


def test_a_device_error_counts_an_error_and_a_reinitialisation(
    engine_hsm: Hsm, hsm_keys: dict[KeySpec, HsmPrivateKey], metrics: Metrics
) -> None:
    key = hsm_keys[KeySpec.EC_P256]
    generation = engine_hsm.module.generation
    engine_hsm.set_fault_hook(FailTimes("sign", p11e.DeviceError, times=1))
    _sign(key)  # survived: the second attempt signs
    assert engine_hsm.module.generation == generation + 1
    assert _errors(metrics) == {("sign", "DeviceError"): 1.0}
    assert _value(metrics, REINITS) == 1
    assert _value(metrics, SECONDS_COUNT, operation="sign") == 2  # each attempt timed


def test_an_error_retrying_cannot_fix_is_counted_without_a_reinitialisation(
    engine_hsm: Hsm, hsm_keys: dict[KeySpec, HsmPrivateKey], metrics: Metrics
) -> None:
    key = hsm_keys[KeySpec.EC_P256]
    engine_hsm.set_fault_hook(FailTimes("sign", p11e.MechanismInvalid, times=1))
    with pytest.raises(HsmOperationFailed):
        _sign(key)
    assert _errors(metrics) == {("sign", "MechanismInvalid"): 1.0}
    assert _value(metrics, REINITS) == 0


def test_a_failing_observer_never_fails_the_operation(
    engine_hsm: Hsm, hsm_keys: dict[KeySpec, HsmPrivateKey], metrics: Metrics
) -> None:
    class Broken:
        def observe(self, operation: str, seconds: float, error: str | None) -> None:
            raise RuntimeError("metrics broke")

        def reinitialized(self) -> None:
            raise RuntimeError("metrics broke")

    engine_hsm.module.observer = Broken()
    engine_hsm.set_fault_hook(FailTimes("sign", p11e.DeviceError, times=1))
    _sign(hsm_keys[KeySpec.EC_P256])
