"""``zorgid ca rollover``: a new issuing CA for new certificates while the old one keeps
answering -- OCSP (``openssl ocsp``) and its own CRL (``openssl crl -verify``) for both
generations, before and after a restart; refusals; all or nothing."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

import issuer.ca.ceremony.rollback as rollback_module
import issuer.ca.ceremony.rollover as rollover_module
from hsm import KeySpec
from issuer.api.zorgid.v1.ca_pb2 import GetCaCertificatesRequest
from issuer.ca import (
    AlreadyExists,
    CaMaterial,
    CeremonyFailed,
    RolloverRefused,
    import_issuing_ca,
    load_ca_material,
    rollover_issuing_ca,
    run_ceremony,
)
from issuer.ca.ceremony import read_pem_file
from issuer.ca.material import check_keys
from issuer.cli import main as cli_main
from issuer.ocsp_service import OcspService
from issuer.ocsp_wiring import generation_routes
from issuer.server.ca_service import CaCertificateStore, CaServicer
from ocsp.front import CrlCache, Front
from ocsp.issuers import spki_sha256
from policies import default_policy
from policies.urls import for_generation, generation_url, served_paths
from tests.ca.conftest import VENV_BIN, CeremonySetup, openssl_verify, pkilint_cert, pkilint_pair
from tests.ca.test_external_root import external_sign, make_external_root
from tests.ocsp.conftest import TIMING, Issued, MovableClock, OcspEnv, Pki, serve_app
from tests.ocsp.helpers import http, openssl
from tests.store.dbfixtures import migrated, migrated_db  # noqa: F401 -- fixtures

PEM = serialization.Encoding.PEM


def _quiet(_: str) -> None:
    return None


def _ceremony(setup: CeremonySetup) -> datetime:
    start = datetime.now(UTC) - timedelta(hours=1)
    run_ceremony(setup.config, setup.hsm, out=_quiet, clock=lambda: start)
    return start


# -- the files, the record, the keys ------------------------------------------------------


def test_rollover_makes_generation_two_and_keeps_generation_one(setup: CeremonySetup) -> None:
    _ceremony(setup)
    ca = setup.data_dir / "ca"
    old = load_ca_material(setup.data_dir)
    old_pem = (ca / "issuing-ca.pem").read_bytes()
    lines: list[str] = []

    result = rollover_issuing_ca(setup.config, setup.hsm, out=lines.append)

    material = load_ca_material(setup.data_dir)
    assert result.generation == material.generation == 2
    assert (ca / "issuing-ca-g1.pem").read_bytes() == old_pem
    assert result.retired == ca / "issuing-ca-g1.pem"
    assert material.issuing_ca == result.issuing_ca != old.issuing_ca
    assert material.issuing_ca.subject == old.issuing_ca.subject  # same name, new key
    assert spki_sha256(material.issuing_ca) != spki_sha256(old.issuing_ca)
    assert [(g.generation, g.key_label) for g in material.generations()] == [
        (1, "issuing-ca"),
        (2, "issuing-ca-g2"),
    ]
    assert material.generations()[0].certificate == old.issuing_ca
    assert material.ocsp_responder_key_label == "ocsp-responder-g2"
    assert (ca / f"ocsp-responder-{old.ocsp_responder.serial_number:x}.pem").exists()
    for label in ("issuing-ca-g2", "ocsp-responder-g2"):
        attrs = setup.hsm.key_attributes(label)
        assert attrs.sensitive and not attrs.extractable
    assert setup.hsm.has_key("issuing-ca")  # the old key stays: its CRL and OCSP answers
    check_keys(material, setup.hsm)

    # both chains verify (openssl) and the new certificates lint clean (pkilint)
    for cert in ("issuing-ca.pem", "issuing-ca-g1.pem"):
        done = openssl_verify(ca / "root.pem", ca / cert)
        assert done.returncode == 0, done.stdout + done.stderr
    done = openssl_verify(ca / "root.pem", ca / "ocsp-responder.pem", ca / "issuing-ca.pem")
    assert done.returncode == 0, done.stdout + done.stderr
    for cert in ("issuing-ca.pem", "ocsp-responder.pem"):
        lint = pkilint_cert(ca / cert)
        assert lint.returncode == 0 and lint.stdout.strip() == "", lint.stdout
    pair = pkilint_pair(ca / "root.pem", ca / "issuing-ca.pem")
    assert pair.returncode == 0 and pair.stdout.strip() == "", pair.stdout

    record = json.loads((ca / "ceremony.json").read_text())
    assert record["issuing_ca"]["generation"] == 2
    assert record["issuing_ca"]["key_label"] == "issuing-ca-g2"
    [earlier] = record["earlier_issuing_cas"]
    assert earlier["generation"] == 1 and earlier["certificate"] == "issuing-ca-g1.pem"
    assert earlier["key_label"] == "issuing-ca"
    assert earlier["serial"] == f"{old.issuing_ca.serial_number:x}"
    event = record["events"][-1]
    assert event["event"] == "rollover" and event["generation"] == 2
    assert event["old_serial"] == f"{old.issuing_ca.serial_number:x}"
    assert event["new_serial"] == f"{result.issuing_ca.serial_number:x}"
    assert any("Restart 'zorgid serve'" in line for line in lines)

    # a second rollover: generation 3, with a chosen label; two retired generations
    third = rollover_issuing_ca(setup.config, setup.hsm, key_label="issuing-ca-2031", out=_quiet)
    material = load_ca_material(setup.data_dir)
    assert third.generation == 3 == material.generation
    assert [g.key_label for g in material.generations()] == [
        "issuing-ca",
        "issuing-ca-g2",
        "issuing-ca-2031",
    ]
    assert (ca / "issuing-ca-g2.pem").read_bytes() == result.issuing_ca.public_bytes(PEM)
    check_keys(material, setup.hsm)
    _paths_of_three_generations(material)


def _paths_of_three_generations(material: CaMaterial) -> None:
    """Each generation's caIssuers and CRL path is its own, and the HTTP front serves it."""
    policy = default_policy()
    paths = [served_paths(for_generation(policy, n).profile) for n in (1, 2, 3)]
    assert [p.crl for p in paths] == [
        "/crl/issuing-ca.crl",
        "/crl/issuing-ca-g2.crl",
        "/crl/issuing-ca-g3.crl",
    ]
    assert [p.ca_issuers for p in paths] == [
        "/ca/issuing-ca.cer",
        "/ca/issuing-ca-g2.cer",
        "/ca/issuing-ca-g3.cer",
    ]
    assert len({p.ocsp for p in paths}) == 1  # the OCSP URL is shared: the CertID names the CA
    routes = generation_routes(policy, material)
    der = serialization.Encoding.DER
    generations = material.generations()
    assert routes.crl_paths == {
        p.crl: spki_sha256(g.certificate) for p, g in zip(paths, generations, strict=True)
    }
    assert routes.ca_certificates == {
        p.ca_issuers: g.certificate.public_bytes(der)
        for p, g in zip(paths, generations, strict=True)
    }
    (cps, _type), *_ = (routes.documents or {}).values()
    assert b"Issuing CA generation 3 (current): certificate" in cps
    assert all(p.crl.encode() + b"\n" in cps for p in paths)  # each generation's CRL URL


def test_ca_service_hands_out_the_retired_issuing_cas(setup: CeremonySetup) -> None:
    """``GetCaCertificates``: the current hierarchy plus every retired issuing CA, oldest
    first, so a relying party can build the chain of a certificate issued before."""
    _ceremony(setup)
    store = CaCertificateStore(setup.data_dir / "ca")
    assert store.load().earlier_issuing_cas == ()
    g1 = load_ca_material(setup.data_dir).issuing_ca
    rollover_issuing_ca(setup.config, setup.hsm, out=lambda _: None)
    rollover_issuing_ca(setup.config, setup.hsm, out=lambda _: None)
    material = load_ca_material(setup.data_dir)
    der = serialization.Encoding.DER
    got = store.load()
    assert got.issuing_ca == material.issuing_ca.public_bytes(der)
    assert got.earlier_issuing_cas == tuple(
        g.certificate.public_bytes(der) for g in material.earlier
    )
    assert got.earlier_issuing_cas[0] == g1.public_bytes(der)
    answer = CaServicer(store).GetCaCertificates(GetCaCertificatesRequest(), None)  # type: ignore[arg-type]
    assert list(answer.earlier_issuing_ca_certificates) == list(got.earlier_issuing_cas)


def test_generation_url() -> None:
    assert generation_url("http://h/crl/issuing-ca.crl", 1) == "http://h/crl/issuing-ca.crl"
    assert generation_url("http://h/crl/issuing-ca.crl", 2) == "http://h/crl/issuing-ca-g2.crl"
    assert generation_url("http://h:8080/ca/ica.cer?x=1", 3) == "http://h:8080/ca/ica-g3.cer?x=1"
    assert generation_url("http://h/crl/current", 2) == "http://h/crl/current-g2"
    with pytest.raises(ValueError, match="generation 0"):
        for_generation(default_policy(), 0)


# -- refusals and rollback ----------------------------------------------------------------


def test_rollover_refuses_labels_in_use(setup: CeremonySetup) -> None:
    _ceremony(setup)
    tokens, files = setup.token_state(), setup.data_state()
    with pytest.raises(AlreadyExists, match="'root-ca'"):
        rollover_issuing_ca(setup.config, setup.hsm, key_label="root-ca", out=_quiet)
    setup.hsm.generate_key("ocsp-responder-g2", KeySpec("ec-p256"))
    with pytest.raises(AlreadyExists, match="'ocsp-responder-g2'"):
        rollover_issuing_ca(setup.config, setup.hsm, out=_quiet)
    assert setup.token_state() == sorted([*tokens, "ocsp-responder-g2"])
    assert setup.data_state() == files


def test_rollover_with_an_external_root_is_refused(setup: CeremonySetup, tmp_path: Path) -> None:
    config = setup.rewrite(lambda doc: doc.__setitem__("root", {"mode": "external"}))
    first = run_ceremony(config, setup.hsm, out=_quiet)
    assert first.csr_path is not None
    root_key, root_cert = make_external_root(tmp_path / "extern")
    issued = external_sign(root_key, root_cert, first.csr_path, tmp_path / "extern" / "ica.pem")
    import_issuing_ca(
        config,
        setup.hsm,
        issuing_cert=read_pem_file(issued),
        root_cert=read_pem_file(root_cert),
        out=_quiet,
    )
    tokens, files = setup.token_state(), setup.data_state()
    with pytest.raises(RolloverRefused, match="supports only a self-signed root"):
        rollover_issuing_ca(config, setup.hsm, out=_quiet)
    assert setup.token_state() == tokens
    assert setup.data_state() == files


FAULTS = [
    ("generate", "issuing-ca-g2"),
    ("generate", "ocsp-responder-g2"),
    ("write_new", "issuing-ca-g1.pem"),
    ("write_new", "ocsp-responder-"),
    ("atomic_replace", "issuing-ca.pem"),
    ("atomic_replace", "ocsp-responder.pem"),
    ("atomic_replace", "ceremony.json"),
]


@pytest.mark.parametrize(("function", "target"), FAULTS)
def test_a_fault_at_any_step_leaves_the_old_state(
    setup: CeremonySetup, monkeypatch: pytest.MonkeyPatch, function: str, target: str
) -> None:
    _ceremony(setup)
    tokens, files = setup.token_state(), setup.data_state()
    real = getattr(rollback_module, function)
    fired: list[str] = []

    def faulty(*args: object) -> object:
        named = args[1] if function == "generate" else getattr(args[0], "name", "")
        if str(named).startswith(target) and not fired:  # once: the rollback itself writes
            fired.append(str(named))
            raise OSError(5, f"injected: {function} {named}")
        return real(*args)

    monkeypatch.setattr(rollback_module, function, faulty)
    with pytest.raises(CeremonyFailed, match="injected"):
        rollover_issuing_ca(setup.config, setup.hsm, out=_quiet)
    monkeypatch.undo()
    assert fired
    assert setup.token_state() == tokens
    assert setup.data_state() == files
    assert load_ca_material(setup.data_dir).generation == 1


def test_a_failed_read_back_check_is_rolled_back(
    setup: CeremonySetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last step (the files read back, every key proven) fails: all undone."""
    _ceremony(setup)
    tokens, files = setup.token_state(), setup.data_state()

    def broken(*_: object) -> object:
        raise OSError(5, "injected: key check")

    monkeypatch.setattr(rollover_module, "check_keys", broken)
    with pytest.raises(CeremonyFailed, match="injected"):
        rollover_issuing_ca(setup.config, setup.hsm, out=_quiet)
    assert setup.token_state() == tokens
    assert setup.data_state() == files


def test_rollover_cli_subprocess(setup: CeremonySetup, capsys: pytest.CaptureFixture[str]) -> None:
    _ceremony(setup)
    done = subprocess.run(
        [str(VENV_BIN / "zorgid"), "ca", "rollover", "--config", str(setup.config_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Issuing CA generation 2 is current" in done.stdout
    assert "Restart" in done.stdout
    assert setup.token.pin not in done.stdout + done.stderr
    assert load_ca_material(setup.data_dir).generation == 2
    # the same label again: refused, exit 1, nothing changed
    files = setup.data_state()
    args = ["ca", "rollover", "--config", str(setup.config_path), "--key-label", "issuing-ca-g2"]
    assert cli_main(args) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert setup.data_state() == files


# -- OCSP and CRL of both generations, before and after a restart -------------------------


def _pki(setup: CeremonySetup, material: CaMaterial, generation: int, tmp: Path) -> Pki:
    """The hierarchy as one generation's certificates are checked: files for ``openssl``."""
    gen = next(g for g in material.generations() if g.generation == generation)
    only = dataclasses.replace(
        material, issuing_ca=gen.certificate, issuing_ca_key_label=gen.key_label
    )
    issuing_pem = tmp / f"g{generation}.pem"
    issuing_pem.write_bytes(gen.certificate.public_bytes(PEM))
    cafile = tmp / f"cafile-g{generation}.pem"
    cafile.write_bytes(material.root.public_bytes(PEM) + gen.certificate.public_bytes(PEM))
    return Pki(
        hsm=setup.hsm,
        material=only,
        issuer_id=spki_sha256(gen.certificate),
        issuing_pem=issuing_pem,
        cafile=cafile,
        token=setup.token,
        data_dir=setup.data_dir,
    )


def _service(setup: CeremonySetup, engine: sa.Engine, clock: MovableClock) -> OcspService:
    """What a process builds at start (``zorgid serve`` / ``zorgid ocsp serve``)."""
    material = load_ca_material(setup.data_dir)
    check_keys(material, setup.hsm)
    return OcspService.build(
        engine=engine,
        material=material,
        hsm=setup.hsm,
        policy=TIMING,
        # not the P-384 CA keys' own SHA-384: a retired CA must sign its answers with this
        signature_hash="sha256",
        clock=clock,
        cache_seconds=0,
    )


def _ocsp(pki: Pki, issued: Issued, port: int) -> tuple[str, bytes]:
    """``openssl ocsp`` over HTTP POST: the state it verified, and the response."""
    out = pki.cafile.parent / f"{issued.serial:x}.resp.der"
    done = openssl(
        "ocsp", "-sha256", "-issuer", str(pki.issuing_pem), "-cert", str(issued.pem),
        "-url", f"http://127.0.0.1:{port}/ocsp", "-CAfile", str(pki.cafile), "-no_nonce",
        "-respout", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Response verify OK" in done.stderr, done.stderr
    assert "WARNING" not in done.stdout + done.stderr
    state = done.stdout.split(f"{issued.pem}: ", 1)[1].split()[0]
    return state, out.read_bytes()


def _signed_by(response: bytes) -> bytes:
    basic = asn1_ocsp.OCSPResponse.load(response).basic_ocsp_response
    return bytes(basic["certs"][0].dump())


def _crl_serials(pki: Pki, port: int, path: str) -> set[int]:
    """GET the CRL at *path*, verify it with that generation's CA (openssl), its serials."""
    got = http(port, "GET", path)
    assert got.status == 200, path
    crl = pki.cafile.parent / f"crl-{pki.issuer_id[:8]}.der"
    crl.write_bytes(got.body)
    done = openssl("crl", "-inform", "DER", "-in", str(crl), "-CAfile", str(pki.cafile), "-text")
    assert done.returncode == 0, done.stderr
    assert "verify OK" in done.stderr + done.stdout, done.stderr
    return {
        int(line.split(":", 1)[1].strip(), 16)
        for line in done.stdout.splitlines()
        if line.strip().startswith("Serial Number:")
    }


def test_both_generations_answer_ocsp_and_crl_before_and_after_a_restart(
    setup: CeremonySetup,
    migrated: sa.Engine,  # noqa: F811
    tmp_path: Path,
) -> None:
    _ceremony(setup)
    clock = MovableClock()
    before = _service(setup, migrated, clock)
    g1 = _pki(setup, load_ca_material(setup.data_dir), 1, tmp_path)
    old = OcspEnv(pki=g1, engine=migrated, service=before, clock=clock, tmp=tmp_path).issue()
    old_kept = OcspEnv(pki=g1, engine=migrated, service=before, clock=clock, tmp=tmp_path).issue()

    rollover_issuing_ca(setup.config, setup.hsm, out=_quiet)
    # a process started before the rollover keeps its responder until it is restarted
    assert not before.use_responder(load_ca_material(setup.data_dir), setup.hsm)

    service = _service(setup, migrated, clock)  # the restart
    material = load_ca_material(setup.data_dir)
    g2 = _pki(setup, material, 2, tmp_path)
    envs = {
        1: OcspEnv(pki=g1, engine=migrated, service=service, clock=clock, tmp=tmp_path),
        2: OcspEnv(pki=g2, engine=migrated, service=service, clock=clock, tmp=tmp_path),
    }
    new = envs[2].issue()
    new_kept = envs[2].issue()
    policy = default_policy()
    crl = {n: served_paths(for_generation(policy, n).profile).crl for n in (1, 2)}

    def app(svc: OcspService) -> Front:
        return Front(
            svc.responder,
            routes=generation_routes(policy, load_ca_material(setup.data_dir)),
            crls=CrlCache(svc.crl_store.latest, ttl=0),
        )

    served, stop = serve_app(app(service))
    try:
        assert _ocsp(g1, old, served.port)[0] == "good"
        state, response = _ocsp(g2, new, served.port)
        assert state == "good"
        assert _signed_by(response) == material.ocsp_responder.public_bytes(
            serialization.Encoding.DER
        )
        envs[1].revoke(old)
        envs[2].revoke(new)
        state, response = _ocsp(g1, old, served.port)
        assert state == "revoked"
        # the retired CA signs its own answers (RFC 6960 §4.2.2.2)
        assert _signed_by(response) == g1.material.issuing_ca.public_bytes(
            serialization.Encoding.DER
        )
        # ... with the hash of its certificates and CRLs: one key, one hash
        signed = asn1_ocsp.OCSPResponse.load(response).basic_ocsp_response
        assert signed["signature_algorithm"]["algorithm"].native == "sha256_ecdsa"
        crl_der = http(served.port, "GET", crl[1]).body
        assert isinstance(x509.load_der_x509_crl(crl_der).signature_hash_algorithm, hashes.SHA256)
        assert _ocsp(g2, new, served.port)[0] == "revoked"
        assert _ocsp(g1, old_kept, served.port)[0] == "good"
        assert _crl_serials(g1, served.port, crl[1]) == {old.serial}
        assert _crl_serials(g2, served.port, crl[2]) == {new.serial}
    finally:
        stop()

    # restart again: new objects over the same data directory and database
    again = _service(setup, migrated, clock)
    for n in (1, 2):
        again.crls.publish(envs[n].pki.issuer_id)  # the restarted process signs both CRLs
    served, stop = serve_app(app(again))
    try:
        assert _ocsp(g1, old, served.port)[0] == "revoked"
        assert _ocsp(g2, new, served.port)[0] == "revoked"
        assert _ocsp(g1, old_kept, served.port)[0] == "good"
        assert _ocsp(g2, new_kept, served.port)[0] == "good"
        assert _crl_serials(g1, served.port, crl[1]) == {old.serial}
        assert _crl_serials(g2, served.port, crl[2]) == {new.serial}
        # caIssuers of each generation: its own certificate
        for n, pki in ((1, g1), (2, g2)):
            path = served_paths(for_generation(policy, n).profile).ca_issuers
            got = http(served.port, "GET", path)
            assert got.body == pki.material.issuing_ca.public_bytes(serialization.Encoding.DER)
    finally:
        stop()
