"""Surviving device errors: injected at the module seam, and real ones underneath the layer."""

from __future__ import annotations

import multiprocessing
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11 import exceptions as p11e

from hsm import (
    Hsm,
    HsmEcPrivateKey,
    HsmOperationFailed,
    HsmPrivateKey,
    HsmUnavailable,
    KeySpec,
    TokenNotFound,
)
from tests.hsm.conftest import token_dir
from tests.softhsm import SoftHsmDir, SoftHsmToken

DATA = b"recovery"


def _sign_and_verify(key: HsmPrivateKey) -> None:
    assert isinstance(key, HsmEcPrivateKey)
    signature = key.sign(DATA, ec.ECDSA(hashes.SHA256()))
    key.public_key().verify(signature, DATA, ec.ECDSA(hashes.SHA256()))


@pytest.fixture
def no_hook(engine_hsm: Hsm) -> Iterator[None]:
    yield
    engine_hsm.set_fault_hook(None)


class FailTimes:
    """Fault hook: raise ``error`` on the next ``times`` calls of ``operation``."""

    def __init__(self, operation: str, error: type[Exception], times: int) -> None:
        self.operation, self.error, self.left = operation, error, times
        self.calls: list[str] = []

    def __call__(self, operation: str) -> None:
        self.calls.append(operation)
        if operation == self.operation and self.left > 0:
            self.left -= 1
            raise self.error()


@pytest.mark.parametrize(
    "error", [p11e.DeviceError, p11e.SessionHandleInvalid, p11e.DeviceRemoved, p11e.TokenNotPresent]
)
def test_injected_device_error_is_survived(
    engine_hsm: Hsm, hsm_keys: dict[KeySpec, HsmPrivateKey], no_hook: None, error: type[Exception]
) -> None:
    key = engine_hsm.get_ec_key(hsm_keys[KeySpec.EC_P256].label)
    before = engine_hsm.module.generation
    hook = FailTimes("sign", error, times=2)
    engine_hsm.set_fault_hook(hook)
    _sign_and_verify(key)
    assert hook.left == 0
    assert engine_hsm.module.generation == before + 2  # re-initialised once per failure
    assert hook.calls.count("login") == 2  # logged in again after each re-initialisation


def test_persistent_device_error_gives_unavailable_then_recovers(
    engine_hsm: Hsm, hsm_keys: dict[KeySpec, HsmPrivateKey], no_hook: None
) -> None:
    key = engine_hsm.get_ec_key(hsm_keys[KeySpec.EC_P256].label)
    engine_hsm.set_fault_hook(FailTimes("sign", p11e.DeviceError, times=10_000))
    with pytest.raises(HsmUnavailable, match="DeviceError"):
        key.sign(DATA, ec.ECDSA(hashes.SHA256()))
    engine_hsm.set_fault_hook(FailTimes("ping", p11e.DeviceError, times=10_000))
    assert not engine_hsm.healthy()
    engine_hsm.set_fault_hook(None)
    assert engine_hsm.healthy()
    _sign_and_verify(key)


def test_non_device_error_is_not_retried(
    engine_hsm: Hsm, hsm_keys: dict[KeySpec, HsmPrivateKey], no_hook: None
) -> None:
    hook = FailTimes("sign", p11e.MechanismInvalid, times=1)
    engine_hsm.set_fault_hook(hook)
    before = engine_hsm.module.generation
    with pytest.raises(HsmOperationFailed, match="MechanismInvalid"):
        engine_hsm.get_ec_key(key_id=b"ec-p256").sign(DATA, ec.ECDSA(hashes.SHA256()))
    assert engine_hsm.module.generation == before


def test_real_module_finalize_underneath_is_survived(
    engine_hsm: Hsm, second_hsm: Hsm, hsm_keys: dict[KeySpec, HsmPrivateKey]
) -> None:
    key = hsm_keys[KeySpec.EC_P384]
    _sign_and_verify(hsm_keys[KeySpec.EC_P256])
    # C_Finalize through the very pkcs11.lib object the layer uses: every
    # session of every token is gone and the module is uninitialised.
    engine_hsm.module.lib.finalize()
    _sign_and_verify(key)
    assert engine_hsm.healthy()
    assert second_hsm.healthy()  # the other token on the module recovered too


def test_real_session_close_underneath_is_survived(
    engine_hsm: Hsm, hsm_keys: dict[KeySpec, HsmPrivateKey]
) -> None:
    key = hsm_keys[KeySpec.EC_P256]
    _sign_and_verify(key)
    # C_Logout + C_CloseSession on the layer's own session, behind its back.
    engine_hsm._session.close()
    _sign_and_verify(key)


def test_real_module_reinitialize_underneath_is_survived(
    engine_hsm: Hsm, hsm_keys: dict[KeySpec, HsmPrivateKey]
) -> None:
    engine_hsm.module.lib.reinitialize()
    _sign_and_verify(hsm_keys[KeySpec.EC_P256])


def test_token_gone_gives_unavailable_and_recovers_when_back(
    softhsm_dir: SoftHsmDir,
    fresh_token: SoftHsmToken,
    hsm_keys: dict[KeySpec, HsmPrivateKey],
) -> None:
    hsm = Hsm.open(fresh_token.uri)
    hsm.generate_key("vanishing", KeySpec.EC_P256)
    key = hsm.get_ec_key("vanishing")
    _sign_and_verify(key)
    where = token_dir(softhsm_dir, fresh_token.label)
    away = softhsm_dir.root / "removed-token"
    shutil.move(where, away)
    try:
        with pytest.raises(HsmUnavailable, match=fresh_token.label):
            key.sign(DATA, ec.ECDSA(hashes.SHA256()))
        assert not hsm.healthy()
    finally:
        shutil.move(away, where)
    assert hsm.healthy()
    _sign_and_verify(key)
    _sign_and_verify(hsm_keys[KeySpec.EC_P256])  # the other token never noticed


def test_token_initialised_after_module_load_is_found(
    engine_hsm: Hsm, softhsm_dir: SoftHsmDir
) -> None:
    assert engine_hsm.healthy()  # the module is loaded and initialised
    late = softhsm_dir.init_token("hsm-late")  # made by softhsm2-util now
    hsm = Hsm.open(late.uri)
    _sign_and_verify(hsm.generate_key("late-key", KeySpec.EC_P256))
    assert engine_hsm.healthy()
    hsm.close()


def test_unknown_token_is_token_not_found(engine_token: SoftHsmToken) -> None:
    with pytest.raises(TokenNotFound, match="no-such-token"):
        Hsm.open(
            module_path=engine_token.module,
            token_label="no-such-token",
            pin_source=f"file:{engine_token.pin_file}",
        )


def test_open_is_shared_and_logs_in_once(engine_hsm: Hsm, engine_token: SoftHsmToken) -> None:
    again = Hsm.open(
        module_path=engine_token.module,
        token_label=engine_token.label,
        pin_source=str(engine_token.pin_file),
    )
    assert again is engine_hsm


def test_open_during_device_failure_is_unavailable_then_works(
    engine_hsm: Hsm, fresh_token: SoftHsmToken, no_hook: None
) -> None:
    engine_hsm.set_fault_hook(FailTimes("find-token", p11e.DeviceError, times=10_000))
    with pytest.raises(HsmUnavailable, match=fresh_token.label):
        Hsm.open(fresh_token.uri)
    engine_hsm.set_fault_hook(FailTimes("login", p11e.DeviceError, times=1))
    assert Hsm.open(fresh_token.uri).healthy()  # one failure: recovered inside open()


def test_concurrent_open_shares_one_handle(fresh_token: SoftHsmToken) -> None:
    barrier = threading.Barrier(8)

    def open_one(_: int) -> Hsm:
        barrier.wait()
        return Hsm.open(fresh_token.uri)

    with ThreadPoolExecutor(max_workers=8) as pool:
        opened = list(pool.map(open_one, range(8)))
    assert all(h is opened[0] for h in opened)


def _sign_in_child(key: HsmEcPrivateKey, conn: Connection) -> None:
    try:
        signature = key.sign(DATA, ec.ECDSA(hashes.SHA256()))
        conn.send((signature, key.hsm.module.generation))
    except BaseException as exc:
        conn.send(repr(exc))
    finally:
        conn.close()


def test_forked_child_reinitialises_and_signs(
    engine_hsm: Hsm, hsm_keys: dict[KeySpec, HsmPrivateKey]
) -> None:
    key = engine_hsm.get_ec_key(hsm_keys[KeySpec.EC_P256].label)
    _sign_and_verify(key)  # the parent is logged in and has a live session
    before = engine_hsm.module.generation
    parent_end, child_end = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(
        target=_sign_in_child, args=(key, child_end)
    )
    child.start()
    got = parent_end.recv()
    child.join(timeout=30)
    assert child.exitcode == 0
    assert isinstance(got, tuple), got
    signature, child_generation = got
    # fork hook (+1) and the child's own C_Finalize/C_Initialize before first use (+1)
    assert child_generation == before + 2
    key.public_key().verify(signature, DATA, ec.ECDSA(hashes.SHA256()))
    assert engine_hsm.module.generation == before
    _sign_and_verify(key)  # the parent's session is untouched


def test_generate_interrupted_after_keypair_returns_the_new_key(
    fresh_token: SoftHsmToken, engine_hsm: Hsm, no_hook: None
) -> None:
    hsm = Hsm.open(fresh_token.uri)
    engine_hsm.set_fault_hook(FailTimes("generate-readback", p11e.DeviceError, times=1))
    key = hsm.generate_key("interrupted", KeySpec.EC_P256)
    assert hsm.list_keys() == ["interrupted"]  # exactly one pair, not KeyExists
    _sign_and_verify(key)


def test_destroy_interrupted_after_private_finishes_the_public(
    fresh_token: SoftHsmToken, engine_hsm: Hsm, no_hook: None
) -> None:
    hsm = Hsm.open(fresh_token.uri)
    key = hsm.generate_key("doomed", KeySpec.EC_P256)
    engine_hsm.set_fault_hook(FailTimes("destroy-public", p11e.SessionHandleInvalid, times=1))
    hsm.destroy_key("doomed")
    assert not hsm.has_key("doomed")
    # The public half went too: a new pair may reuse the id.
    hsm.generate_key("doomed", KeySpec.EC_P256, key_id=key.key_id)
