"""External root: the ceremony writes a CSR, an external CA (real ``openssl``) signs it, we import.

The external root here is an OpenSSL CA with a software key in a temp dir:
it stands for somebody else's root, whose key is none of our business.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from issuer.ca import (
    CaMaterialError,
    CeremonyFailed,
    ImportRefused,
    KeyMismatch,
    import_issuing_ca,
    load_ca_material,
    renew_ocsp,
    run_ceremony,
)
from tests.ca.conftest import VENV_BIN, CeremonySetup, openssl_verify, pkilint_cert, pkilint_pair

ROOT_CNF = """\
[req]
distinguished_name = dn
prompt = no
string_mask = utf8only
x509_extensions = v3_root
[dn]
C = NL
O = Extern Trust Anchor B.V.
CN = {cn}
[v3_root]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""

ISSUING_EXT = """\
[v3_issuing]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
certificatePolicies = 1.3.6.1.4.1.32473.528.1.2.1
authorityInfoAccess = OCSP;URI:http://ocsp.extern.example/, caIssuers;URI:http://pki.extern.example/root.cer
crlDistributionPoints = URI:http://pki.extern.example/root.crl
"""


def _run(*cmd: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{cmd}: {done.stderr}"


def make_external_root(where: Path, cn: str = "Extern Root CA") -> tuple[Path, Path]:
    """An OpenSSL self-signed P-384 root (key file, certificate)."""
    where.mkdir(parents=True, exist_ok=True)
    cnf = where / "root.cnf"
    cnf.write_text(ROOT_CNF.format(cn=cn))
    key, cert = where / "root.key", where / "root.pem"
    _run(
        "openssl",
        "req",
        "-x509",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-384",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(cert),
        "-days",
        "7300",
        "-sha384",
        "-config",
        str(cnf),
    )
    return key, cert


def external_sign(root_key: Path, root_cert: Path, csr: Path, out: Path, days: int = 3650) -> Path:
    """The external root operator: ``openssl x509 -req`` with the issuing CA profile."""
    ext = out.parent / "issuing.ext"
    ext.write_text(ISSUING_EXT)
    _run(
        "openssl",
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(root_cert),
        "-CAkey",
        str(root_key),
        "-CAcreateserial",
        "-out",
        str(out),
        "-days",
        str(days),
        "-sha384",
        "-extfile",
        str(ext),
        "-extensions",
        "v3_issuing",
    )
    return out


@pytest.fixture
def external(setup: CeremonySetup) -> CeremonySetup:
    """The example file switched to ``root.mode = "external"``."""
    setup.rewrite(lambda doc: doc.__setitem__("root", {"mode": "external"}))
    return setup


def test_external_root_csr_then_import(external: CeremonySetup, tmp_path: Path) -> None:
    setup = external
    lines: list[str] = []
    first = run_ceremony(setup.config, setup.hsm, out=lines.append)
    ca = setup.data_dir / "ca"
    assert first.state == "awaiting-issuing-ca-certificate"
    assert first.csr_path == ca / "issuing-ca.csr.pem"
    assert sorted(p.name for p in ca.iterdir()) == ["ceremony.json", "issuing-ca.csr.pem"]
    assert setup.token_state() == ["issuing-ca"]
    assert any("import-issuing" in line for line in lines)
    with pytest.raises(CaMaterialError, match="import-issuing"):
        load_ca_material(setup.data_dir)

    # the CSR verifies (openssl), carries the token key and the name from the file
    _run("openssl", "req", "-verify", "-noout", "-in", str(first.csr_path))
    csr = x509.load_pem_x509_csr(first.csr_path.read_bytes())
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert csr.public_key().public_bytes(*spki) == setup.hsm.get_key(
        "issuing-ca"
    ).public_key().public_bytes(*spki)
    assert csr.subject.rfc4514_string() == "CN=ZORG-ID Dev Mobile ID CA,O=ZORG-ID Ontwikkeling,C=NL"

    root_key, root_cert = make_external_root(tmp_path / "extern")
    issued = external_sign(root_key, root_cert, first.csr_path, tmp_path / "extern" / "issuing.pem")

    # step two through the real CLI
    done = subprocess.run(
        [
            str(VENV_BIN / "zorgid"),
            "ca",
            "import-issuing",
            "--config",
            str(setup.config_path),
            "--cert",
            str(issued),
            "--root",
            str(root_cert),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Ceremony complete" in done.stdout

    material = load_ca_material(setup.data_dir)
    assert (
        material.root.subject.rfc4514_string()
        == "CN=Extern Root CA,O=Extern Trust Anchor B.V.,C=NL"
    )
    assert material.root == x509.load_pem_x509_certificate(root_cert.read_bytes())
    assert sorted(setup.token_state()) == ["audit-checkpoint", "issuing-ca", "ocsp-responder"]
    for label in setup.token_state():
        attrs = setup.hsm.key_attributes(label)
        assert attrs.sensitive and not attrs.extractable
    for cert, untrusted in (
        (ca / "issuing-ca.pem", None),
        (ca / "ocsp-responder.pem", ca / "issuing-ca.pem"),
    ):
        verified = openssl_verify(ca / "root.pem", cert, untrusted)
        assert verified.returncode == 0, verified.stderr
        lint = pkilint_cert(cert)
        assert lint.returncode == 0 and lint.stdout.strip() == "", lint.stdout
    pair = pkilint_pair(ca / "issuing-ca.pem", ca / "ocsp-responder.pem")
    assert pair.returncode == 0 and pair.stdout.strip() == "", pair.stdout
    record = json.loads((ca / "ceremony.json").read_text())
    assert record["state"] == "complete"
    assert record["root"]["mode"] == "external" and record["root"]["key_label"] is None
    assert [e["event"] for e in record["events"]] == ["ceremony", "import-issuing-ca"]

    # the imported hierarchy renews like a self-signed one
    renew_ocsp(setup.config, setup.hsm, new_key=False, out=lambda _: None)
    verified = openssl_verify(ca / "root.pem", ca / "ocsp-responder.pem", ca / "issuing-ca.pem")
    assert verified.returncode == 0, verified.stderr


def test_import_refuses_a_certificate_for_another_key(
    external: CeremonySetup, tmp_path: Path
) -> None:
    setup = external
    run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    tokens, files = setup.token_state(), setup.data_state()

    # the root operator signs somebody else's CSR (same name, different key)
    other = tmp_path / "other"
    other.mkdir()
    _run(
        "openssl",
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-384",
        "-nodes",
        "-keyout",
        str(other / "k.pem"),
        "-out",
        str(other / "csr.pem"),
        "-subj",
        "/C=NL/O=ZORG-ID Ontwikkeling/CN=ZORG-ID Dev Mobile ID CA",
    )
    root_key, root_cert = make_external_root(tmp_path / "extern")
    wrong = external_sign(root_key, root_cert, other / "csr.pem", other / "issuing.pem")

    with pytest.raises(KeyMismatch, match=r"token key 'issuing-ca'") as caught:
        import_issuing_ca(
            setup.config,
            setup.hsm,
            issuing_cert=wrong.read_bytes(),
            root_cert=root_cert.read_bytes(),
            out=lambda _: None,
        )
    assert "issuing-ca.csr.pem" in str(caught.value)
    assert setup.token_state() == tokens
    assert setup.data_state() == files

    # the CLI says the same and exits 1
    done = subprocess.run(
        [
            str(VENV_BIN / "zorgid"),
            "ca",
            "import-issuing",
            "--config",
            str(setup.config_path),
            "--cert",
            str(wrong),
            "--root",
            str(root_cert),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "carries public key" in done.stderr
    assert setup.token_state() == tokens
    assert setup.data_state() == files


def test_import_refuses_a_certificate_from_another_root(
    external: CeremonySetup, tmp_path: Path
) -> None:
    setup = external
    first = run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    tokens, files = setup.token_state(), setup.data_state()
    key_a, cert_a = make_external_root(tmp_path / "a", "Root A")
    _, cert_b = make_external_root(tmp_path / "b", "Root B")
    assert first.csr_path is not None
    issued = external_sign(key_a, cert_a, first.csr_path, tmp_path / "a" / "issuing.pem")
    with pytest.raises(ImportRefused, match="not signed by the offered root"):
        import_issuing_ca(
            setup.config,
            setup.hsm,
            issuing_cert=issued.read_bytes(),
            root_cert=cert_b.read_bytes(),
            out=lambda _: None,
        )
    assert setup.token_state() == tokens
    assert setup.data_state() == files


def test_import_refuses_a_certificate_without_path_len_zero(
    external: CeremonySetup, tmp_path: Path
) -> None:
    setup = external
    first = run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    files = setup.data_state()
    key, cert = make_external_root(tmp_path / "x")
    assert first.csr_path is not None
    ext = tmp_path / "x" / "loose.ext"
    ext.write_text(ISSUING_EXT.replace("CA:TRUE, pathlen:0", "CA:TRUE"))
    _run(
        "openssl",
        "x509",
        "-req",
        "-in",
        str(first.csr_path),
        "-CA",
        str(cert),
        "-CAkey",
        str(key),
        "-CAcreateserial",
        "-out",
        str(tmp_path / "x" / "loose.pem"),
        "-days",
        "3650",
        "-extfile",
        str(ext),
        "-extensions",
        "v3_issuing",
    )
    with pytest.raises(ImportRefused, match="pathLenConstraint None, expected 0"):
        import_issuing_ca(
            setup.config,
            setup.hsm,
            issuing_cert=(tmp_path / "x" / "loose.pem").read_bytes(),
            root_cert=cert.read_bytes(),
            out=lambda _: None,
        )
    assert setup.data_state() == files


def test_import_is_refused_for_a_self_signed_ceremony(setup: CeremonySetup) -> None:
    run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    ca = setup.data_dir / "ca"
    with pytest.raises(ImportRefused, match="self-signed"):
        import_issuing_ca(
            setup.config,
            setup.hsm,
            issuing_cert=(ca / "issuing-ca.pem").read_bytes(),
            root_cert=(ca / "root.pem").read_bytes(),
            out=lambda _: None,
        )


def test_failed_import_keeps_the_first_step_and_removes_the_rest(
    external: CeremonySetup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure while finishing must not touch the issuing CA key made in step one."""
    import issuer.ca.ceremony.rollback as rollback_module

    setup = external
    first = run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    tokens, files = setup.token_state(), setup.data_state()
    assert first.csr_path is not None
    root_key, root_cert = make_external_root(tmp_path / "extern")
    issued = external_sign(root_key, root_cert, first.csr_path, tmp_path / "extern" / "issuing.pem")
    real = rollback_module.write_new

    def write(path: Path, data: bytes, journal: object) -> None:
        if path.name == "audit-checkpoint.pub.pem":
            raise OSError(28, "injected: No space left on device")
        real(path, data, journal)  # type: ignore[arg-type]

    monkeypatch.setattr(rollback_module, "write_new", write)
    with pytest.raises(CeremonyFailed, match="injected") as caught:
        import_issuing_ca(
            setup.config,
            setup.hsm,
            issuing_cert=issued.read_bytes(),
            root_cert=root_cert.read_bytes(),
            out=lambda _: None,
        )
    assert "'ocsp-responder'" in str(caught.value) and "'issuing-ca'" not in str(caught.value)
    assert setup.token_state() == tokens == ["issuing-ca"]
    assert setup.data_state() == files
    monkeypatch.undo()
    import_issuing_ca(
        setup.config,
        setup.hsm,
        issuing_cert=issued.read_bytes(),
        root_cert=root_cert.read_bytes(),
        out=lambda _: None,
    )
    load_ca_material(setup.data_dir)


def test_failed_first_step_removes_key_and_csr(
    external: CeremonySetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    import issuer.ca.ceremony.rollback as rollback_module

    setup = external
    real = rollback_module.write_new

    def write(path: Path, data: bytes, journal: object) -> None:
        if path.name == "ceremony.json":
            raise OSError(13, "injected: Permission denied")
        real(path, data, journal)  # type: ignore[arg-type]

    monkeypatch.setattr(rollback_module, "write_new", write)
    with pytest.raises(CeremonyFailed, match="injected"):
        run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    assert setup.token_state() == []
    assert setup.data_state() is None


INTERMEDIATE_EXT = """\
[v3_domain]
basicConstraints = critical, CA:TRUE, pathlen:{pathlen}
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
certificatePolicies = 1.3.6.1.4.1.32473.528.1.2.1
"""


def make_intermediate(
    root_key: Path, root_cert: Path, where: Path, pathlen: int = 0
) -> tuple[Path, Path]:
    """A domain CA under the external root (as PKIoverheid puts one between root and us)."""
    key, csr, cert = where / "domain.key", where / "domain.csr", where / "domain.pem"
    _run(
        "openssl",
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-384",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        "/C=NL/O=Extern Trust Anchor B.V./CN=Extern Domain CA",
    )
    ext = where / "domain.ext"
    ext.write_text(INTERMEDIATE_EXT.format(pathlen=pathlen))
    _run(
        "openssl",
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(root_cert),
        "-CAkey",
        str(root_key),
        "-CAcreateserial",
        "-out",
        str(cert),
        "-days",
        "5000",
        "-sha384",
        "-extfile",
        str(ext),
        "-extensions",
        "v3_domain",
    )
    return key, cert


def test_import_through_an_intermediate(external: CeremonySetup, tmp_path: Path) -> None:
    setup = external
    first = run_ceremony(setup.config, setup.hsm, out=lambda _: None)
    assert first.csr_path is not None
    ext_dir = tmp_path / "extern"
    root_key, root_cert = make_external_root(ext_dir)

    # pathLen 0 on the domain CA leaves no room for our issuing CA: refused, nothing changed
    tight = tmp_path / "tight"
    tight.mkdir()
    t_key, t_cert = make_intermediate(root_key, root_cert, tight, pathlen=0)
    t_issued = external_sign(t_key, t_cert, first.csr_path, tight / "issuing.pem")
    files = setup.data_state()
    with pytest.raises(ImportRefused, match="pathLenConstraint 0, but 1 CA"):
        import_issuing_ca(
            setup.config,
            setup.hsm,
            issuing_cert=t_issued.read_bytes(),
            root_cert=root_cert.read_bytes(),
            intermediates=t_cert.read_bytes(),
            out=lambda _: None,
        )
    # the intermediate left out: the issuing CA is not the root's
    with pytest.raises(ImportRefused, match="not signed by the offered root"):
        import_issuing_ca(
            setup.config,
            setup.hsm,
            issuing_cert=t_issued.read_bytes(),
            root_cert=root_cert.read_bytes(),
            out=lambda _: None,
        )
    assert setup.data_state() == files

    dom_key, dom_cert = make_intermediate(root_key, root_cert, ext_dir, pathlen=1)
    issued = external_sign(dom_key, dom_cert, first.csr_path, ext_dir / "issuing.pem")
    done = subprocess.run(
        [
            str(VENV_BIN / "zorgid"),
            "ca",
            "import-issuing",
            "--config",
            str(setup.config_path),
            "--cert",
            str(issued),
            "--root",
            str(root_cert),
            "--chain",
            str(dom_cert),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    material = load_ca_material(setup.data_dir)
    assert [c.subject.rfc4514_string() for c in material.chain()] == [
        "CN=ZORG-ID Dev Mobile ID CA,O=ZORG-ID Ontwikkeling,C=NL",
        "CN=Extern Domain CA,O=Extern Trust Anchor B.V.,C=NL",
        "CN=Extern Root CA,O=Extern Trust Anchor B.V.,C=NL",
    ]
    ca = setup.data_dir / "ca"
    untrusted = tmp_path / "untrusted.pem"
    untrusted.write_bytes(
        (ca / "issuing-ca.pem").read_bytes() + (ca / "intermediates.pem").read_bytes()
    )
    for cert in (ca / "issuing-ca.pem", ca / "ocsp-responder.pem"):
        verified = openssl_verify(ca / "root.pem", cert, untrusted)
        assert verified.returncode == 0, verified.stderr
    record = json.loads((ca / "ceremony.json").read_text())
    assert [e["subject"] for e in record["intermediates"]] == [
        "CN=Extern Domain CA,O=Extern Trust Anchor B.V.,C=NL"
    ]
