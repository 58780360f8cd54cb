"""The root's CRL (ARL): made at the ceremony, renewed by command, by cron and by the OCSP
process, once under the renewal lock, and read back by the HTTP front when it changes."""

from __future__ import annotations

import json
import logging
import stat
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID, SignatureAlgorithmOID

from issuer.arl_renewal import ArlRenewal
from issuer.audit import AuditLog
from issuer.ca import CeremonyConfigError, CeremonyError, load_ca_material, run_ceremony
from issuer.ca.ceremony.arl import renew_arl, renew_arl_if_due
from issuer.ca.ceremony.lock import LOCK_NAME, renewal_lock
from issuer.ca.published import ArlFile, root_paths
from tests.ca.conftest import VENV_BIN, CeremonySetup
from tests.store.dbfixtures import migrated, migrated_db  # noqa: F401 -- fixtures

ZORGID = str(VENV_BIN / "zorgid")


def _ceremony_ago(setup: CeremonySetup, days: float) -> datetime:
    """Run the ceremony *days* ago; now."""
    now = datetime.now(UTC)
    start = now - timedelta(days=days)
    run_ceremony(setup.config, setup.hsm, out=lambda _: None, clock=lambda: start)
    return now


def _arl(setup: CeremonySetup) -> x509.CertificateRevocationList:
    return x509.load_der_x509_crl((setup.data_dir / "ca" / "root.crl").read_bytes())


def _number(crl: x509.CertificateRevocationList) -> int:
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def _record(setup: CeremonySetup) -> dict[str, object]:
    return json.loads((setup.data_dir / "ca" / "ceremony.json").read_text())  # type: ignore[no-any-return]


def _files(setup: CeremonySetup) -> dict[str, str]:
    return {k: v for k, v in (setup.data_state() or {}).items() if not k.endswith(LOCK_NAME)}


def _openssl_crl_verifies(setup: CeremonySetup) -> str:
    ca = setup.data_dir / "ca"
    done = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", str(ca / "root.crl"), "-CAfile",
         str(ca / "root.pem"), "-verify", "-noout", "-text"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and "verify OK" in done.stderr, done.stdout + done.stderr
    return done.stdout


def _pkilint_arl(path: Path) -> str:
    done = subprocess.run(
        [str(VENV_BIN / "lint_crl"), "lint", "-t", "ARL", "-p", "PKIX", "-s", "WARNING",
         "--document-format", "DER", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_the_ceremony_makes_a_root_crl_that_openssl_and_pkilint_accept(
    setup: CeremonySetup,
) -> None:
    run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    ca = setup.data_dir / "ca"
    material = load_ca_material(setup.data_dir)
    crl = _arl(setup)
    assert stat.S_IMODE((ca / "root.crl").stat().st_mode) == 0o644  # public, like root.pem
    assert crl.issuer == material.root.subject
    assert crl.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA384  # P-384 root
    assert crl.is_signature_valid(material.root.public_key())
    assert _number(crl) == 1
    assert len(crl) == 0  # no issuing CA revoked
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = material.root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == timedelta(days=30)  # the default
    _openssl_crl_verifies(setup)
    assert _pkilint_arl(ca / "root.crl") == ""
    section = _record(setup)["root_crl"]
    assert section == {
        "file": "root.crl",
        "number": 1,
        "this_update": crl.last_update_utc.isoformat(),
        "next_update": crl.next_update_utc.isoformat(),
        "next_update_days": 30,
        "sha256": section["sha256"],  # type: ignore[index]
        "revoked": [],
    }


def test_crl_next_update_days_is_checked_and_used(setup: CeremonySetup, tmp_path: Path) -> None:
    for bad, problem in (
        (0, "root.crl_next_update_days: got 0, expected a whole number of days from 1 to 366"),
        (367, "root.crl_next_update_days: got 367"),
        ("30", "root.crl_next_update_days: expected a int, got str"),
    ):
        with pytest.raises(CeremonyConfigError) as caught:
            setup.rewrite(lambda d, bad=bad: d["root"].__setitem__("crl_next_update_days", bad))
        assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems
    config = setup.rewrite(lambda d: d["root"].__setitem__("crl_next_update_days", 90))
    assert config.root.crl_next_update_days == 90
    run_ceremony(config, setup.hsm, out=lambda _: None)
    crl = _arl(setup)
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - crl.last_update_utc == timedelta(days=90)


def test_external_root_takes_no_crl_settings_and_renews_nothing(setup: CeremonySetup) -> None:
    with pytest.raises(CeremonyConfigError) as caught:
        setup.rewrite(
            lambda d: d.__setitem__("root", {"mode": "external", "crl_next_update_days": 30})
        )
    assert any(p.startswith("root.crl_next_update_days: not used") for p in caught.value.problems)
    setup.rewrite(lambda d: d.__setitem__("root", {"mode": "external"}))
    done = subprocess.run(
        [ZORGID, "ca", "renew-arl", "--config", str(setup.config_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "published by the root's operator" in done.stderr, done.stderr


def test_renew_arl_numbers_up_keeps_revoked_entries_and_verifies(setup: CeremonySetup) -> None:
    run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    ca = setup.data_dir / "ca"
    # an issuing CA the root revoked, recorded (by hand until a command records it)
    record = _record(setup)
    revoked_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    record["root_crl"]["revoked"] = [  # type: ignore[index]
        {"serial": "5eed", "revoked_at": revoked_at.isoformat(), "reason": "cACompromise"}
    ]
    (ca / "ceremony.json").write_text(json.dumps(record))
    result = renew_arl(setup.data_dir, setup.hsm, out=lambda _: None, reason="test")
    crl = _arl(setup)
    assert result.number == _number(crl) == 2 and result.previous_number == 1
    entry = crl.get_revoked_certificate_by_serial_number(0x5EED)
    assert entry is not None and entry.revocation_date_utc == revoked_at
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == (
        x509.ReasonFlags.ca_compromise
    )
    assert "Serial Number: 5EED" in _openssl_crl_verifies(setup)
    assert _pkilint_arl(ca / "root.crl") == ""
    after = _record(setup)
    assert after["root_crl"]["number"] == 2  # type: ignore[index]
    assert after["root_crl"]["revoked"] == record["root_crl"]["revoked"]  # type: ignore[index]
    assert after["events"][-1]["event"] == "renew-arl"  # type: ignore[index]
    # numbers never go back, even when the record lags behind the file
    after["root_crl"]["number"] = 1  # type: ignore[index]
    (ca / "ceremony.json").write_text(json.dumps(after))
    assert renew_arl(setup.data_dir, setup.hsm, out=lambda _: None).number == 3


def test_a_failed_renewal_changes_nothing(
    setup: CeremonySetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    before = _files(setup)
    import issuer.ca.ceremony.rollback as rollback_module

    real = rollback_module.atomic_replace

    def fail_on_record(path: Path, data: bytes) -> None:
        if path.name == "ceremony.json":
            raise OSError("disk full")
        real(path, data)

    monkeypatch.setattr(rollback_module, "atomic_replace", fail_on_record)
    with pytest.raises(CeremonyError, match="disk full"):
        renew_arl(setup.data_dir, setup.hsm, out=lambda _: None)
    assert _files(setup) == before  # root.crl restored


def test_if_due_renews_once_and_opens_the_token_only_when_due(
    setup: CeremonySetup, caplog: pytest.LogCaptureFixture
) -> None:
    now = _ceremony_ago(setup, days=15)  # 15 of 30 days left: not below a third
    opened: list[int] = []

    def open_hsm() -> object:
        opened.append(1)
        return setup.hsm

    files = _files(setup)
    lines: list[str] = []
    got = renew_arl_if_due(setup.data_dir, open_hsm, out=lines.append, clock=lambda: now)  # type: ignore[arg-type]
    assert got is None and opened == [] and _files(setup) == files
    assert lines[-1].endswith("renews below 10.0 days): not due")

    later = now + timedelta(days=6)  # 9 days left: due
    old = _arl(setup)
    with caplog.at_level(logging.INFO, logger="issuer.ca.ceremony.arl"):
        result = renew_arl_if_due(setup.data_dir, open_hsm, out=lambda _: None, clock=lambda: later)  # type: ignore[arg-type]
    assert result is not None and opened == [1] and result.number == 2
    new = _arl(setup)
    assert new.next_update_utc == later.replace(microsecond=0) + timedelta(days=30)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
        f"root CRL (ARL) renewed: number 1 nextUpdate {old.next_update_utc.isoformat()} -> "  # type: ignore[union-attr]
        f"number 2 nextUpdate {new.next_update_utc.isoformat()}"  # type: ignore[union-attr]
    ]
    assert (
        renew_arl_if_due(setup.data_dir, open_hsm, out=lambda _: None, clock=lambda: later) is None
    )  # type: ignore[arg-type]
    assert opened == [1]
    # an explicit threshold: 30 days left is below 31
    assert renew_arl_if_due(
        setup.data_dir, open_hsm, renew_before=timedelta(days=31), out=lambda _: None,
        clock=lambda: later,
    ) is not None  # type: ignore[arg-type]  # fmt: skip


def _waiters(path: Path) -> int:
    """Processes blocked on the flock of *path* (``/proc/locks`` lists them with ``->``)."""
    inode = path.stat().st_ino
    return sum(
        1
        for line in Path("/proc/locks").read_text().splitlines()
        if "->" in line and line.split()[-3].endswith(f":{inode}")
    )


def _race(
    setup: CeremonySetup, *args: str, other: tuple[str, ...] | None = None
) -> list[subprocess.CompletedProcess[str]]:
    """Start two runs of ``zorgid ca ARGS`` (the second ``zorgid ca OTHER`` if given) while
    the test holds the renewal lock; release it once both wait on it, so both find the
    renewal due at the same moment."""
    lock = setup.data_dir / "ca" / LOCK_NAME
    with renewal_lock(setup.data_dir / "ca"):
        procs = [
            subprocess.Popen(
                [ZORGID, "ca", *command, "--config", str(setup.config_path)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for command in (args, other or args)
        ]
        deadline = time.monotonic() + 60
        while _waiters(lock) < 2:  # wait for a state, not for a time
            assert time.monotonic() < deadline, "the runs never waited on the renewal lock"
            ended = [p for p in procs if p.poll() is not None]
            if ended:  # ran without waiting for the lock; the other may wait on it: stop it
                for p in procs:
                    p.kill()
                raise AssertionError(
                    f"zorgid ca {' '.join(ended[0].args[2:-2])} ran without taking the "
                    f"renewal lock: {[p.communicate() for p in procs]}"
                )
            time.sleep(0.02)
    done = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return done


def test_two_concurrent_renew_arl_if_due_renew_once(setup: CeremonySetup) -> None:
    _ceremony_ago(setup, days=25)  # 5 days left, renews below 10: due until renewed
    runs = _race(setup, "renew-arl", "--if-due")
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    outs = sorted(r.stdout for r in runs)
    assert sum("Root CRL (ARL) renewed: number 2" in o for o in outs) == 1, outs
    assert sum("not due" in o for o in outs) == 1, outs
    assert _number(_arl(setup)) == 2
    events = [e["event"] for e in _record(setup)["events"]]  # type: ignore[attr-defined]
    assert events.count("renew-arl") == 1


def test_two_concurrent_renew_ocsp_if_due_renew_once(setup: CeremonySetup) -> None:
    _ceremony_ago(setup, days=25)  # 5 days left, renews below 10: due until renewed
    serial = load_ca_material(setup.data_dir).ocsp_responder.serial_number
    runs = _race(setup, "renew-ocsp", "--if-due")
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    outs = [r.stdout for r in runs]
    assert sum("OCSP responder renewed" in o for o in outs) == 1, outs
    assert sum("not due" in o for o in outs) == 1, outs
    assert load_ca_material(setup.data_dir).ocsp_responder.serial_number != serial
    events = [e["event"] for e in _record(setup)["events"]]  # type: ignore[attr-defined]
    assert events.count("renew-ocsp") == 1


def test_renew_ocsp_and_renew_arl_at_once_both_land_in_the_record(setup: CeremonySetup) -> None:
    """Plain ``renew-ocsp`` holds the renewal lock too: run beside ``renew-arl``, neither
    replaces ceremony.json with a copy that lacks the other's change."""
    _ceremony_ago(setup, days=1)
    serial = load_ca_material(setup.data_dir).ocsp_responder.serial_number
    runs = _race(setup, "renew-ocsp", other=("renew-arl",))
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    events = [e["event"] for e in _record(setup)["events"]]  # type: ignore[attr-defined]
    assert events.count("renew-ocsp") == 1 and events.count("renew-arl") == 1, events
    assert load_ca_material(setup.data_dir).ocsp_responder.serial_number != serial
    assert _number(_arl(setup)) == 2


def _root_crl_events(engine: sa.Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT details FROM audit_events WHERE action = 'ca.root_crl.renewed'")
        ).all()
    return [json.loads(row[0]) for row in rows]


def _renewal(setup: CeremonySetup, engine: sa.Engine, clock: Callable[[], datetime]) -> ArlRenewal:
    material = load_ca_material(setup.data_dir)
    return ArlRenewal(
        data_dir=setup.data_dir,
        engine=engine,
        hsm=setup.hsm,
        audit=AuditLog(signer=setup.hsm.get_key(material.audit_key_label)),
        clock=clock,
    )


def test_ocsp_process_renews_when_due_with_an_audit_event(
    setup: CeremonySetup,
    migrated: sa.Engine,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = _ceremony_ago(setup, days=25)  # 5 days left
    served = ArlFile(setup.data_dir / "ca")
    first = served.get()
    assert first is not None and first.number == 1
    old = _arl(setup)
    renewal = _renewal(setup, migrated, lambda: now)
    with caplog.at_level(logging.INFO):
        result = renewal.run_once()
    assert result is not None and result.number == 2
    new = _arl(setup)
    assert _root_crl_events(migrated) == [
        {
            "old_number": 1,
            "old_next_update": old.next_update_utc.isoformat(),  # type: ignore[union-attr]
            "new_number": 2,
            "new_next_update": new.next_update_utc.isoformat(),  # type: ignore[union-attr]
            "file": "root.crl",
        }
    ]
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert [line for line in info if "root CRL" in line] == [
        f"root CRL (ARL) renewed: number 1 nextUpdate {old.next_update_utc.isoformat()} -> "  # type: ignore[union-attr]
        f"number 2 nextUpdate {new.next_update_utc.isoformat()}"  # type: ignore[union-attr]
    ]
    # the HTTP front's reader follows the file
    again = served.get()
    assert again is not None and again.number == 2
    assert again.der == new.public_bytes(Encoding.DER)
    files = _files(setup)
    assert renewal.run_once() is None  # not due any more
    assert _files(setup) == files and len(_root_crl_events(migrated)) == 1


def test_ocsp_process_without_the_root_key_leaves_it_to_the_command(
    setup: CeremonySetup,
    migrated: sa.Engine,  # noqa: F811
) -> None:
    now = _ceremony_ago(setup, days=29)
    setup.hsm.destroy_key("root-ca")  # the root key kept offline, as in production
    files = _files(setup)
    assert _renewal(setup, migrated, lambda: now).run_once() is None
    assert _files(setup) == files and _root_crl_events(migrated) == []


def test_root_paths_of_several_issuing_ca_generations(setup: CeremonySetup) -> None:
    run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    first = load_ca_material(setup.data_dir).issuing_ca
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "generation 2")])
    second = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(datetime.now(UTC))
        .not_valid_after(datetime.now(UTC) + timedelta(days=1))
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier("http://pki.zorgid.example/ocsp"),
                    ),
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier("http://pki.zorgid.example/ca/root-2.cer"),
                    ),
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)
                    for url in (
                        "http://pki.zorgid.example/crl/root.crl",
                        "http://mirror.zorgid.example/arl",
                    )
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    paths = root_paths([first, second])
    assert paths.crl == ("/crl/root.crl", "/arl")
    assert paths.certificate == ("/ca/root.cer", "/ca/root-2.cer")
    assert root_paths([]).crl == ()
