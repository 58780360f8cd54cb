"""The HSM's signature is checked (issue 16 item 8).

The attack: the issuing CA's key label points at another key of the token (here
the root's, same type, so the HSM signs without complaint). Before, the cycle
compared the linted TBS with itself and stored a certificate whose signature
does not verify under the issuing CA, as ``good``. Now step 3 verifies the
signature with the issuing CA certificate's public key: the reservation ends
``failed``, no certificate is stored, the audit log says why; and a runtime
whose configured keys (issuing CA, OCSP responder, audit) do not match their
certificate / public key refuses to start (ZID-0110).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from issuer.audit import verify_chain
from issuer.ca import load_ca_material
from issuer.config import load_config
from issuer.errors import ZorgIdError
from issuer.issuance.cycle import IssuanceCycle
from issuer.store.schema import audit_events, certificates, serial_reservations
from issuer.wiring import issuance_runtime
from tests.issuance.conftest import MOBILE, CaSetup, World
from tests.issuance.test_exactly_once import _csr


def _cycle_signing_with(world: World, label: str) -> IssuanceCycle:
    """The world's cycle, but its CA key found under another label of the same token."""
    return IssuanceCycle(
        engine=world.engine,
        policy=world.policy,
        policy_version=world.policy_version,
        ca_cert=world.ca.material.issuing_ca,
        ca_key=world.ca.hsm.get_key(label),
        audit=world.audit,
    )


def test_a_signature_that_does_not_verify_stores_nothing(world: World) -> None:
    from issuer.enrolment.redeem import Redeemer

    root_label = "root-ca"  # the dev ceremony's root key: P-384 like the issuing CA's
    redeemer = Redeemer(_cycle_signing_with(world, root_label))
    token = world.enrol().token
    with pytest.raises(ZorgIdError) as refused:
        redeemer.redeem(token, _csr(), actor=MOBILE)
    assert refused.value.code == "ZID-1250"
    with world.engine.connect() as conn:
        assert conn.execute(sa.select(certificates)).all() == []
        reservation = conn.execute(sa.select(serial_reservations)).one()
        events = conn.execute(
            sa.select(audit_events).where(audit_events.c.action == "certificate.signature_invalid")
        ).all()
    assert reservation.state == "failed"
    assert "ZID-1250" in (reservation.failure or "")
    assert len(events) == 1
    assert events[0].outcome == "failure"
    assert reservation.serial in events[0].subject
    assert json.loads(events[0].details)["serial"] == reservation.serial
    with world.engine.connect() as conn:
        verify_chain(conn, world.ca.material.audit_public_key)


def test_the_right_key_still_issues(world: World) -> None:
    """The check passes what it must: the configured key's certificates verify."""
    issued = world.redeemer.redeem(world.enrol().token, _csr(), actor=MOBILE).certificate
    issued.certificate.verify_directly_issued_by(world.ca.material.issuing_ca)
    assert issued.status == "good"


# -- the runtime refuses to start with a key that is not its certificate's ----------------


def _config_with_labels(world: World, tmp_path: Path, **labels: str) -> Path:
    """A copy of the ceremony's data directory whose record names other key labels."""
    data_dir = tmp_path / "data"
    shutil.copytree(world.ca.data_dir / "ca", data_dir / "ca")
    record_path = data_dir / "ca" / "ceremony.json"
    record = json.loads(record_path.read_text())
    for section, label in labels.items():
        record[section]["key_label"] = label
    record_path.write_text(json.dumps(record))
    token = world.ca.token
    config = tmp_path / "zorgid.toml"
    config.write_text(
        f'data_dir = "{data_dir}"\n\n'
        '[server]\nlisten = "127.0.0.1:0"\ndev_plaintext = true\n\n'
        f'[hsm]\ntoken = "{token.label}"\npin_source = "file:{token.pin_file}"\n\n'
        f'[database]\nurl = "{world.db.cli_url}"\n'
    )
    return config


@pytest.mark.parametrize(
    ("section", "other_label", "what"),
    [
        ("issuing_ca", "root-ca", "issuing CA"),
        ("ocsp_responder", "audit-checkpoint", "OCSP responder"),
        ("audit", "ocsp-responder", "audit"),
    ],
)
def test_the_runtime_refuses_a_key_that_is_not_its_certificate_s(
    world: World, tmp_path: Path, section: str, other_label: str, what: str
) -> None:
    config = load_config(_config_with_labels(world, tmp_path, **{section: other_label}))
    events_before = _count(world, audit_events)
    runtime = issuance_runtime(config, engine=world.engine)
    with pytest.raises(ZorgIdError) as refused:
        runtime.get()
    assert refused.value.code == "ZID-0110"
    assert what in refused.value.detail
    assert other_label in refused.value.detail
    assert _count(world, audit_events) == events_before  # refused before anything was written
    with pytest.raises(ZorgIdError) as at_start:  # and `zorgid serve`'s start check says so
        runtime.check_keys()
    assert at_start.value.code == "ZID-0110"


def _count(world: World, table: sa.Table) -> int:
    with world.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_the_runtime_starts_with_the_ceremony_s_own_keys(world: World, tmp_path: Path) -> None:
    config = load_config(_config_with_labels(world, tmp_path))
    assert load_ca_material(config.data_dir).issuing_ca_key_label == "issuing-ca"
    issuance = issuance_runtime(config, engine=world.engine).get()
    assert issuance.cycle.ca_cert == world.ca.material.issuing_ca


def test_ca_setup_keys_are_as_the_tests_assume(ca: CaSetup) -> None:
    """The labels above name real keys of the dev ceremony, of the types assumed."""
    issuing = ca.hsm.get_key(ca.material.issuing_ca_key_label).public_key()
    root = ca.hsm.get_key("root-ca").public_key()
    assert type(issuing) is type(root)
    assert issuing.key_size == root.key_size  # type: ignore[union-attr]
    assert issuing != root


def test_zorgid_serve_refuses_to_start(world: World, tmp_path: Path) -> None:
    """The real command: exit code 2 and the error code on stderr, before serving."""
    config = _config_with_labels(world, tmp_path, issuing_ca="root-ca")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "zorgid"), "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "not starting: ZID-0110" in done.stderr
    assert "serving" not in done.stderr


def test_the_ocsp_http_responder_refuses_a_responder_key_of_another_certificate(
    world: World, tmp_path: Path
) -> None:
    """``zorgid ocsp serve`` / ``make run``'s HTTP responder signs with the responder key
    too: it makes the same check before its first signature."""
    from issuer.ca import KeyMismatch
    from issuer.wiring import open_ocsp_runtime

    config = load_config(_config_with_labels(world, tmp_path, ocsp_responder="audit-checkpoint"))
    with pytest.raises(KeyMismatch, match="OCSP responder key 'audit-checkpoint'"):
        open_ocsp_runtime(config)
